/* admin_tokens.c — POST /v1/tokens: an admin mints a token signed with the
 * server's auth key (auth.secret for HS256, auth.private_key_file for
 * RS256/ES256).  The token itself is never logged or audited. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"
#include "log.h"

#define KEY_FILE_MAX 65536

/* The PEM text of path (malloc'd, NUL-terminated) or NULL with err set. */
static char *read_key(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot read auth.private_key_file %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	char *buf = malloc(KEY_FILE_MAX);
	size_t n = buf ? fread(buf, 1, KEY_FILE_MAX - 1, f) : 0;
	fclose(f);
	if (!buf || n == 0) {
		free(buf);
		snprintf(err, errlen, "auth.private_key_file %s is empty or unreadable", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

void admin_post_token(struct admin_req *r)
{
	struct core *c = r->core;
	const struct chatd_config *cfg = c->cfg;
	struct admin_token_args args;
	const char *bad = admin_parse_token(r->body, &args);
	if (bad) {
		admin_error(r, 400, "bad_request", bad);
		return;
	}
	const char *sub = args.sub;
	const char *const *roles = args.roles;
	const char *alg = cfg->auth_algorithm;
	char *pem = NULL;
	const char *key;
	size_t keylen;
	if (strcmp(alg, "HS256") == 0) {
		key = cfg->auth_secret ? cfg->auth_secret : "";
		keylen = strlen(key);
	} else {
		if (!cfg->auth_private_key_file || !*cfg->auth_private_key_file) {
			char m[256];
			snprintf(m, sizeof m, "auth.algorithm is %s and the server has no private key "
				 "(auth.private_key_file is not set): it can only verify tokens. Mint "
				 "them where the private key is (chatctl token mint --local)", alg);
			admin_error(r, 400, "no_signing_key", m);
			return;
		}
		char err[512];
		if (!(pem = read_key(cfg->auth_private_key_file, &keylen, err, sizeof err))) {
			log_error("admin", "token.key", "%s", err);
			admin_error(r, 500, "internal", err);
			return;
		}
		key = pem;
	}
	int64_t ttl_s = args.ttl_s;
	/* A token made right after the user's revoke must pass it: iat is in
	 * whole seconds, so it is dated at the first second that does. */
	int64_t now_s = mod_now_ms() / 1000, rb = moderation_revoked_before(c, sub);
	if (rb > 0 && now_s * 1000 < rb)
		now_s = rb / 1000 + (rb % 1000 != 0);
	char *tok = NULL;
	int st = auth_mint(alg, key, keylen, sub, now_s, ttl_s, roles, &tok);
	free(pem);
	if (st != CHATD_OK) {
		char m[160];
		snprintf(m, sizeof m, "cannot sign with the configured %s key (%s): check "
			 "auth.private_key_file", alg, chatd_strerror(st));
		admin_error(r, 500, "internal", m);
		return;
	}
	json_t *rl = json_array();
	for (size_t i = 0; roles[i]; i++)
		json_array_append_new(rl, json_string(roles[i]));
	audit_record(c, r->claims.sub, "token.mint", sub,
		     json_pack("{s:o, s:I, s:I}", "roles", rl, "iat", (json_int_t)now_s, "exp",
			       (json_int_t)(now_s + ttl_s)));
	char by[LOG_USER_HASH_LEN + 1];
	log_user_hash(r->claims.sub, by);
	log_user(LOG_INFO, "admin", "token.minted", sub, "ttl %lld s, by %s", (long long)ttl_s, by);
	admin_reply(r, 200, json_pack("{s:s, s:I}", "token", tok, "exp",
				      (json_int_t)(now_s + ttl_s)));
	free(tok);
}
