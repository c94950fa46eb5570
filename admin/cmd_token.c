/* cmd_token.c — `chatctl token mint`: on the server (POST /v1/tokens, an
 * admin token needed) or locally from the chatd config's auth section
 * (--local; how the first admin token is made). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chatctl.h"
#include "chatd/status.h"
#include "../core/auth.h"
#include "../core/config.h" /* by path: "config.h" alone may find autoconf's */

#define TTL_MAX 31536000        /* one year */
#define KEY_FILE_MAX (64 * 1024)

static const char usage_mint[] =
	"Usage: chatctl token mint USER [--role ROLE]... [--ttl DURATION] [--local] [-c FILE]\n"
	"\n"
	"Print a signed access token (a JWT) for USER on standard output, followed\n"
	"by a newline.  A client logs in to chatd with it, in one of three ways:\n"
	"  the header      Authorization: Bearer TOKEN\n"
	"  the URL         ws://HOST:PORT/ws?access_token=TOKEN\n"
	"  a first frame   {\"type\":\"auth\",\"token\":\"TOKEN\"}\n"
	"Staff tokens (--role moderator or admin) are what chatctl itself sends.\n"
	"Anyone holding the token is USER until it expires: keep it secret.\n"
	"\n"
	"Where it is signed:\n"
	"  on the server   when chatctl has a token (--token, CHATCTL_TOKEN or the\n"
	"                  settings file): POST /v1/tokens signs it with the server's\n"
	"                  key.  That needs an admin token; a moderator's is refused\n"
	"                  (exit 4).  Default lifetime there: one hour.\n"
	"  locally         with --local or -c FILE (or when no token is at hand):\n"
	"                  chatctl reads the server's chatd.conf and signs as its\n"
	"                  auth section says, then checks the token as the server\n"
	"                  would.  This is how the first admin token is made:\n"
	"                    chatctl token mint root --role admin --local -c chatd.conf\n"
	"                  auth.algorithm HS256 (default) signs with auth.secret;\n"
	"                  RS256/ES256 need the PEM private key in\n"
	"                  auth.private_key_file (the server needs only\n"
	"                  auth.public_key_file).  Default lifetime:\n"
	"                  auth.default_ttl_s (one day unless set).\n"
	"\n"
	"The token carries sub (USER), iat (now), exp (now + TTL) and, with --role,\n"
	"roles.  `chatctl user revoke USER` invalidates every token USER got before.\n"
	"\n"
	"Arguments and options:\n"
	"  USER               the user id: 1 to 64 characters of A-Z a-z 0-9 . _ @ -\n"
	"  --role ROLE        grant ROLE: moderator or admin; repeat to grant both\n"
	"  --ttl DURATION     lifetime: seconds, or with a unit (90m, 12h, 7d),\n"
	"                     1 s to 365 d\n"
	"  --local            sign locally from the chatd config, not on the server\n"
	"  -c, --config FILE  the server's chatd.conf (implies --local); else\n"
	"                     $CHATD_CONF, ./chatd.conf, then the system one\n"
	"  --json             print {\"token\":…,\"exp\":…} instead of the bare token\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  chatctl token mint alice -c /etc/chatd/chatd.conf\n"
	"  chatctl token mint bob --role moderator --ttl 8h\n"
	"  TOKEN=$(chatctl token mint alice --local) || exit 1\n";

static const struct opt mint_opts[] = {
	{ "--role", 0, OPT_VALUE | OPT_REPEAT },
	{ "--ttl", 0, OPT_VALUE },
	{ "--local", 0, 0 },
	{ NULL, 0, 0 },
};

/* Check the minted token with the server's own verification key, so a key
 * pair mismatch is caught here rather than as refused logins.  Returns 0,
 * or 1 after printing why. */
static int check_minted(const struct chatd_config *cfg, const char *alg, const char *secret,
			size_t secretlen, const char *tok, int64_t now)
{
	char *pub = NULL;
	size_t publen = 0;
	const char *key = secret;
	size_t keylen = secretlen;
	if (strcmp(alg, "HS256") != 0) {
		if (!cfg->auth_public_key_file)
			return 0;
		pub = ctl_read_file(cfg->auth_public_key_file, KEY_FILE_MAX, &publen,
				    "auth.public_key_file");
		if (!pub) {
			fprintf(stderr, "chatctl: warning: token not checked against the public key\n");
			return 0;
		}
		key = pub;
		keylen = publen;
	}
	struct auth_verifier *v = NULL;
	char err[256];
	int rc = 0;
	if (auth_verifier_new(alg, key, keylen, cfg->auth_leeway_s, &v, err, sizeof err) != CHATD_OK) {
		fprintf(stderr, "chatctl: the server could not use this key: %s\n", err);
		rc = 1;
	} else {
		struct auth_claims claims;
		enum auth_result r = auth_verify(v, tok, now, &claims);
		if (r != AUTH_OK) {
			fprintf(stderr, "chatctl: the server would refuse this token (%s)%s\n",
				auth_result_str(r),
				pub ? "; does auth.private_key_file match auth.public_key_file?" : "");
			rc = 1;
		}
	}
	auth_verifier_free(v);
	free(pub);
	return rc;
}

static int print_token(const struct ctl *ctl, const char *tok, int64_t exp)
{
	int ok;
	if (ctl->json) {
		json_t *j = json_pack("{s:s, s:I}", "token", tok, "exp", (json_int_t)exp);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		ok = s && printf("%s\n", s) >= 0;
		if (s) {
			explicit_bzero(s, strlen(s));
			free(s);
		}
		json_decref(j);
	} else {
		ok = printf("%s\n", tok) >= 0;
	}
	if (!ok || fflush(stdout) != 0) {
		fprintf(stderr, "chatctl: cannot write the token: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	return 0;
}

static int mint_local(struct ctl *ctl, const char *user, int64_t ttl, bool ttl_given,
		      const char *const *roles)
{
	struct chatd_config *cfg = ctl_load_chatd_config(ctl);
	if (!cfg)
		return EXIT_RUNTIME;
	int rc = EXIT_RUNTIME;
	char *keybuf = NULL, *tok = NULL;
	size_t keylen = 0;
	const char *key = NULL;
	const char *alg = cfg->auth_algorithm ? cfg->auth_algorithm : "HS256";

	if (!ttl_given) {
		ttl = cfg->auth_default_ttl_s;
		if (ttl < 1 || ttl > TTL_MAX) {
			fprintf(stderr, "chatctl: auth.default_ttl_s = %lld is outside 1..%d; "
				"pass --ttl\n", (long long)ttl, TTL_MAX);
			goto out;
		}
	}
	if (strcmp(alg, "HS256") == 0) {
		if (!cfg->auth_secret || !*cfg->auth_secret) {
			fprintf(stderr, "chatctl: auth.secret is not set; HS256 tokens are signed "
				"with it\n");
			goto out;
		}
		key = cfg->auth_secret;
		keylen = strlen(key);
	} else if (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0) {
		if (!cfg->auth_private_key_file || !*cfg->auth_private_key_file) {
			fprintf(stderr,
				"chatctl: auth.private_key_file is not set: minting %s tokens needs "
				"the PEM private key matching auth.public_key_file.\n"
				"chatctl: set auth.private_key_file in the configuration (on the "
				"machine that mints tokens only).\n", alg);
			goto out;
		}
		keybuf = ctl_read_file(cfg->auth_private_key_file, KEY_FILE_MAX, &keylen,
				       "auth.private_key_file");
		if (!keybuf)
			goto out;
		key = keybuf;
	} else {
		fprintf(stderr, "chatctl: auth.algorithm '%s' is not HS256, RS256 or ES256\n", alg);
		goto out;
	}
	int64_t now = (int64_t)time(NULL);
	int st = auth_mint(alg, key, keylen, user, now, ttl, roles, &tok);
	if (st != CHATD_OK || !tok) {
		fprintf(stderr, "chatctl: cannot sign a %s token: %s%s\n", alg, chatd_strerror(st),
			keybuf ? " (is auth.private_key_file a PEM private key of that type?)" :
				 " (auth.secret must be at least 16 bytes)");
		goto out;
	}
	if (check_minted(cfg, alg, key, keylen, tok, now) != 0)
		goto out;
	rc = print_token(ctl, tok, now + ttl);
out:
	if (tok) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	if (keybuf) {
		explicit_bzero(keybuf, keylen);
		free(keybuf);
	}
	cfg_free(cfg);
	return rc;
}

static int mint_server(struct ctl *ctl, const char *user, int64_t ttl, bool ttl_given,
		       const char *const *roles)
{
	json_t *body = json_pack("{s:s}", "sub", user);
	if (body && roles[0]) {
		json_t *rl = json_array();
		for (size_t i = 0; roles[i]; i++)
			json_array_append_new(rl, json_string(roles[i]));
		json_object_set_new(body, "roles", rl);
	}
	if (body && ttl_given)
		json_object_set_new(body, "ttl_s", json_integer(ttl));
	if (!body) {
		fprintf(stderr, "chatctl: out of memory\n");
		return EXIT_RUNTIME;
	}
	struct http_response raw;
	json_t *res = NULL;
	int rc = api_call(ctl, "POST", "/v1/tokens", body, &res, &raw);
	json_decref(body);
	if (rc)
		return rc;
	const char *tok = json_string_value(json_object_get(res, "token"));
	json_t *exp = json_object_get(res, "exp");
	if (!tok) {
		fprintf(stderr, "chatctl: the server's answer has no token\n");
		rc = EXIT_RUNTIME;
	} else if (ctl->json) {
		rc = api_print_raw(&raw);
	} else {
		rc = print_token(ctl, tok, json_integer_value(exp));
	}
	if (raw.body)
		explicit_bzero(raw.body, raw.body_len);
	http_response_free(&raw);
	json_decref(res);
	return rc;
}

static int run_mint(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse(ctl, self, argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (a.npos == 0)
		return ctl_usage_error(self, "missing USER");
	if (a.npos > 1)
		return ctl_usage_error(self, "one USER only; '%s' is extra", a.pos[1]);
	const char *user = a.pos[0];
	if (!auth_user_id_valid(user))
		return ctl_usage_error(self, "invalid USER '%s': use 1 to 64 characters of "
				       "A-Z a-z 0-9 . _ @ -", user);
	bool want_admin = false, want_moderator = false;
	int nr = 0;
	const char *const *rv = args_all(&a, "--role", &nr);
	for (int i = 0; i < nr; i++) {
		/* "--role admin,moderator" works too. */
		char buf[64];
		snprintf(buf, sizeof buf, "%s", rv[i]);
		for (char *save = NULL, *r = strtok_r(buf, ",", &save); r;
		     r = strtok_r(NULL, ",", &save)) {
			if (strcmp(r, "admin") == 0)
				want_admin = true;
			else if (strcmp(r, "moderator") == 0)
				want_moderator = true;
			else
				return ctl_usage_error(self, "unknown role '%s' (moderator or admin)",
						       r);
		}
	}
	int64_t ttl = 0;
	const char *ttl_arg = args_get(&a, "--ttl");
	if (ttl_arg) {
		int64_t ms = 0;
		if (!args_duration_ms(ttl_arg, &ms) || ms % 1000 || ms / 1000 > TTL_MAX)
			return ctl_usage_error(self, "--ttl '%s': whole seconds (or 90m, 12h, 7d), "
					       "1 s to 365 d", ttl_arg);
		ttl = ms / 1000;
	}
	const char *roles[3];
	size_t n = 0;
	if (want_moderator)
		roles[n++] = "moderator";
	if (want_admin)
		roles[n++] = "admin";
	roles[n] = NULL;

	bool local = args_has(&a, "--local") || ctl->config_path;
	if (!local) {
		rc = ctl_resolve(ctl);
		if (rc)
			return rc;
		local = ctl->token == NULL;
	}
	return local ? mint_local(ctl, user, ttl, ttl_arg != NULL, roles)
		     : mint_server(ctl, user, ttl, ttl_arg != NULL, roles);
}

const struct cmd cmds_token[] = {
	{ .name = "mint", .args = "USER", .summary = "print a signed access token for USER",
	  .usage = usage_mint, .run = run_mint, .opts = mint_opts, .flags = CMD_SERVER },
	{ .name = NULL },
};
