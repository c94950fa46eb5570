/* auth.c — see auth.h.
 *
 * libjwt 1.10 traps this file works around (DEPENDENCIES.md §7):
 *   - jwt_decode verifies with whatever alg the token header names: an
 *     alg:none token passes with a NULL key, and an HS256 token HMAC-signed
 *     with an RSA public key's PEM text passes when that PEM is the key.
 *     So the key is never NULL/empty, the header's alg is checked against
 *     the configured one before decoding (and "none" in any case refused),
 *     and jwt_get_alg() is checked again after decoding.
 *   - exp/nbf are never checked by libjwt: exp is required and checked here.
 *   - RS256/ES256 verification costs ~0.7 ms (the PEM is re-parsed on every
 *     call); the header pre-check keeps a wrong-alg token from paying it.
 *   - jwt_decode accepts an RS256/ES256 signature with '=' padding (found by
 *     tests/fuzz/fuzz_jwt.c): the same signature then has several spellings.
 *     A token is therefore refused unless it is exactly three segments of
 *     canonical base64url (RFC 7515: no padding, unused bits zero), so each
 *     signed token has one accepted spelling.
 */
#include "auth.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>

#include "chatd/status.h"
#include "config.h"

/* Longest token accepted; longer ones are refused before any decoding. */
#define AUTH_TOKEN_MAX 8192
/* Largest accepted leeway: a year. */
#define AUTH_LEEWAY_MAX 31536000
/* An HS256 secret shorter than this is refused (config enforces it too). */
#define AUTH_SECRET_MIN 16
#define AUTH_VERIFIER_MAGIC 0x41555448u /* "AUTH" */

struct auth_verifier {
	uint32_t magic;
	jwt_alg_t alg;
	char alg_name[8];        /* "HS256" | "RS256" | "ES256" */
	unsigned char *key;      /* owned copy, NUL-terminated, wiped on free */
	size_t keylen;
	int64_t leeway_s;
};

/* Map a configured algorithm name to libjwt's enum; only the three we
 * support, spelled exactly. */
static jwt_alg_t alg_from_name(const char *alg)
{
	if (!alg)
		return JWT_ALG_INVAL;
	if (strcmp(alg, "HS256") == 0)
		return JWT_ALG_HS256;
	if (strcmp(alg, "RS256") == 0)
		return JWT_ALG_RS256;
	if (strcmp(alg, "ES256") == 0)
		return JWT_ALG_ES256;
	return JWT_ALG_INVAL;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (!err || errlen == 0)
		return;
	size_t n = strlen(msg);
	if (n >= errlen)
		n = errlen - 1;
	memcpy(err, msg, n);
	err[n] = '\0';
}

/* Key sanity for alg; returns NULL if fine, else a reason. */
static const char *key_problem(jwt_alg_t alg, const char *key, size_t keylen, bool want_private)
{
	if (!key || keylen == 0)
		return "key is empty";
	if (keylen > INT_MAX)
		return "key is too long";
	if (alg == JWT_ALG_HS256) {
		if (keylen < AUTH_SECRET_MIN)
			return "HS256 secret must be at least 16 bytes";
		/* An HS256 secret that is a PEM key is the alg-confusion setup
		 * (HMAC keyed with a public key): refuse the configuration. */
		if (memmem(key, keylen, "-----BEGIN", 10))
			return "HS256 secret looks like a PEM key; use RS256/ES256 for key pairs";
		return NULL;
	}
	if (!memmem(key, keylen, "-----BEGIN ", 11))
		return "key is not PEM text (no -----BEGIN line)";
	bool is_private = memmem(key, keylen, "PRIVATE KEY-----", 16) != NULL;
	if (want_private && !is_private)
		return "signing needs a PEM private key";
	if (!want_private && is_private)
		return "verification needs the PEM public key, not the private key";
	return NULL;
}

int auth_verifier_new(const char *alg, const char *key, size_t keylen, int64_t leeway_s,
		      struct auth_verifier **out, char *err, size_t errlen)
{
	if (!out) {
		set_err(err, errlen, "no output pointer");
		return CHATD_ERR_INVALID;
	}
	*out = NULL;
	jwt_alg_t a = alg_from_name(alg);
	if (a == JWT_ALG_INVAL) {
		set_err(err, errlen, "algorithm must be HS256, RS256 or ES256");
		return CHATD_ERR_INVALID;
	}
	const char *why = key_problem(a, key, keylen, false);
	if (why) {
		set_err(err, errlen, why);
		return CHATD_ERR_INVALID;
	}
	if (leeway_s < 0 || leeway_s > AUTH_LEEWAY_MAX) {
		set_err(err, errlen, "leeway must be 0..31536000 seconds");
		return CHATD_ERR_INVALID;
	}
	struct auth_verifier *v = calloc(1, sizeof *v);
	if (!v) {
		set_err(err, errlen, "out of memory");
		return CHATD_ERR_NOMEM;
	}
	v->key = malloc(keylen + 1);
	if (!v->key) {
		free(v);
		set_err(err, errlen, "out of memory");
		return CHATD_ERR_NOMEM;
	}
	memcpy(v->key, key, keylen);
	v->key[keylen] = '\0';
	v->keylen = keylen;
	v->alg = a;
	memcpy(v->alg_name, alg, strlen(alg) + 1); /* 5 chars, checked above */
	v->leeway_s = leeway_s;
	v->magic = AUTH_VERIFIER_MAGIC;
	*out = v;
	return CHATD_OK;
}

void auth_verifier_free(struct auth_verifier *v)
{
	if (!v)
		return;
	if (v->key) {
		explicit_bzero(v->key, v->keylen);
		free(v->key);
	}
	v->magic = 0;
	free(v);
}

bool auth_exp_ok(const struct auth_verifier *v, int64_t exp, int64_t now_s)
{
	if (!v || v->magic != AUTH_VERIFIER_MAGIC)
		return false;
	int64_t until;
	if (__builtin_add_overflow(exp, v->leeway_s, &until))
		return true; /* exp near INT64_MAX: far future */
	return until > now_s;
}

const char *auth_result_str(enum auth_result r)
{
	switch (r) {
	case AUTH_OK: return "ok";
	case AUTH_MALFORMED: return "malformed token or bad signature";
	case AUTH_BAD_ALG: return "algorithm not allowed";
	case AUTH_EXPIRED: return "token expired";
	case AUTH_MISSING_EXP: return "token has no valid exp";
	case AUTH_BAD_SUB: return "token has no valid sub";
	}
	return "unknown auth result";
}

bool auth_user_id_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = 0;
	for (; s[n]; n++) {
		if (n >= AUTH_USER_MAX)
			return false;
		unsigned char c = (unsigned char)s[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '-';
		if (!ok)
			return false;
	}
	return n >= 1;
}

/* Decode base64url (no padding; '=' padding tolerated at the end) of
 * in[0..inlen) into out (outcap bytes).  Returns the decoded length or -1. */
static long b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap)
{
	while (inlen > 0 && in[inlen - 1] == '=')
		inlen--;
	if (inlen % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		int d;
		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '-')
			d = 62;
		else if (c == '_')
			d = 63;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outcap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (long)o;
}

/* Check the header before libjwt sees the token: it must be a JSON object
 * without duplicate keys whose "alg" is exactly the configured algorithm.
 * "none" in any spelling is refused by name. */
static enum auth_result precheck_header(const struct auth_verifier *v, const char *token,
					size_t tlen)
{
	const char *dot = memchr(token, '.', tlen);
	if (!dot || dot == token)
		return AUTH_MALFORMED;
	size_t hlen = (size_t)(dot - token);
	unsigned char buf[AUTH_TOKEN_MAX / 4 * 3 + 4];
	long n = b64url_decode(token, hlen, buf, sizeof buf);
	if (n <= 0)
		return AUTH_MALFORMED;
	json_error_t jerr;
	json_t *hdr = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	if (!hdr)
		return AUTH_MALFORMED;
	enum auth_result r = AUTH_OK;
	json_t *alg = json_is_object(hdr) ? json_object_get(hdr, "alg") : NULL;
	if (!json_is_object(hdr)) {
		r = AUTH_MALFORMED;
	} else if (!json_is_string(alg)) {
		r = AUTH_BAD_ALG;
	} else {
		const char *a = json_string_value(alg);
		size_t alen = json_string_length(alg);
		if (alen == 4 && strncasecmp(a, "none", 4) == 0)
			r = AUTH_BAD_ALG;
		else if (alen != strlen(v->alg_name) || memcmp(a, v->alg_name, alen) != 0)
			r = AUTH_BAD_ALG;
	}
	json_decref(hdr);
	return r;
}

/* Is s[0..n) canonical base64url: n > 0, not 1 mod 4, only the 64
 * characters, and the unused low bits of the last character zero? */
static bool b64url_canonical(const char *s, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	if (n == 0 || n % 4 == 1)
		return false;
	int last = 0;
	for (size_t i = 0; i < n; i++) {
		const char *d = s[i] ? memchr(tbl, s[i], 64) : NULL;
		if (!d)
			return false;
		last = (int)(d - tbl);
	}
	/* 2 characters carry 12 bits for 8 (4 unused), 3 carry 18 for 16 (2). */
	int unused = n % 4 == 2 ? 0x0f : n % 4 == 3 ? 0x03 : 0;
	return (last & unused) == 0;
}

/* header.payload.signature, each segment canonical base64url. */
static bool token_shape_ok(const char *token, size_t tlen)
{
	const char *d1 = memchr(token, '.', tlen);
	const char *d2 = d1 ? memchr(d1 + 1, '.', tlen - (size_t)(d1 + 1 - token)) : NULL;
	if (!d2)
		return false;
	const char *sig = d2 + 1, *end = token + tlen;
	return b64url_canonical(token, (size_t)(d1 - token)) &&
	       b64url_canonical(d1 + 1, (size_t)(d2 - d1 - 1)) &&
	       b64url_canonical(sig, (size_t)(end - sig));
}

/* Copy src into dst (cap bytes incl. NUL), cutting at a UTF-8 code point
 * boundary if it does not fit. */
static void copy_trunc_utf8(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* roles: absent or not an array = no roles; unknown role names ignored. */
static void read_roles(json_t *roles, struct auth_claims *c)
{
	size_t i;
	json_t *el;
	if (!json_is_array(roles))
		return;
	json_array_foreach(roles, i, el) {
		const char *s = json_string_value(el);
		if (!s)
			continue;
		if (strcmp(s, "admin") == 0)
			c->role_admin = true;
		else if (strcmp(s, "moderator") == 0)
			c->role_moderator = true;
	}
}

/* A JSON string without embedded NULs, or NULL. */
static const char *plain_string(json_t *j)
{
	const char *s = json_string_value(j);
	if (s && strlen(s) != json_string_length(j))
		return NULL;
	return s;
}

/* The claims are read from libjwt's grants as one JSON object rather than
 * with jwt_get_grant_int(): in 1.10.2 that returns without setting errno
 * for a grant of the wrong type ("exp":"1700003600" or 1.5 came back as 0
 * with errno 0), so the type of each claim is checked here. */
static enum auth_result check_claims(const struct auth_verifier *v, jwt_t *jwt, int64_t now_s,
				     struct auth_claims *c)
{
	char *js = jwt_get_grants_json(jwt, NULL);
	if (!js)
		return AUTH_MALFORMED;
	json_error_t jerr;
	json_t *g = json_loads(js, 0, &jerr);
	free(js);
	if (!json_is_object(g)) {
		json_decref(g);
		return AUTH_MALFORMED;
	}
	enum auth_result r = AUTH_OK;
	json_t *exp = json_object_get(g, "exp");
	json_t *iat = json_object_get(g, "iat");
	json_t *jti = json_object_get(g, "jti");
	const char *sub = plain_string(json_object_get(g, "sub"));
	const char *jtis = plain_string(jti);

	if (!json_is_integer(exp)) {
		r = AUTH_MISSING_EXP;   /* absent, or a string, real, null, … */
	} else if (!sub || !auth_user_id_valid(sub)) {
		r = AUTH_BAD_SUB;
	} else if (iat && !json_is_integer(iat)) {
		r = AUTH_MALFORMED;
	} else if (jti && (!jtis || strlen(jtis) >= sizeof c->jti)) {
		/* A jti is compared for revocation: never truncated. */
		r = AUTH_MALFORMED;
	} else if (!auth_exp_ok(v, (int64_t)json_integer_value(exp), now_s)) {
		r = AUTH_EXPIRED;
	} else {
		memcpy(c->sub, sub, strlen(sub) + 1); /* <= AUTH_USER_MAX, checked */
		c->exp = (int64_t)json_integer_value(exp);
		c->iat = iat ? (int64_t)json_integer_value(iat) : 0;
		if (jtis)
			memcpy(c->jti, jtis, strlen(jtis) + 1);
		const char *name = plain_string(json_object_get(g, "name"));
		if (name)
			copy_trunc_utf8(c->name, sizeof c->name, name);
		read_roles(json_object_get(g, "roles"), c);
	}
	json_decref(g);
	return r;
}

enum auth_result auth_verify(const struct auth_verifier *v, const char *token,
			     int64_t now_s, struct auth_claims *claims)
{
	if (claims)
		memset(claims, 0, sizeof *claims);
	if (!v || v->magic != AUTH_VERIFIER_MAGIC || !token || !claims)
		return AUTH_MALFORMED;
	size_t tlen = strnlen(token, AUTH_TOKEN_MAX + 1);
	if (tlen == 0 || tlen > AUTH_TOKEN_MAX)
		return AUTH_MALFORMED;

	enum auth_result r = precheck_header(v, token, tlen);
	if (r != AUTH_OK)
		return r;
	if (!token_shape_ok(token, tlen))
		return AUTH_MALFORMED;

	jwt_t *jwt = NULL;
	/* v->key is never NULL and keylen never 0 (checked at creation). */
	if (jwt_decode(&jwt, token, v->key, (int)v->keylen) != 0 || !jwt) {
		if (jwt)
			jwt_free(jwt);
		return AUTH_MALFORMED;
	}
	if (jwt_get_alg(jwt) != v->alg) {
		r = AUTH_BAD_ALG;
	} else {
		struct auth_claims tmp;
		memset(&tmp, 0, sizeof tmp);
		r = check_claims(v, jwt, now_s, &tmp);
		if (r == AUTH_OK)
			*claims = tmp;
	}
	jwt_free(jwt);
	return r;
}

/* {"roles":[...]} for jwt_add_grants_json; NULL on a bad role or NOMEM. */
static char *roles_json(const char *const *roles, int *st)
{
	json_t *arr = json_array();
	json_t *obj = json_object();
	char *out = NULL;
	*st = CHATD_ERR_NOMEM;
	if (!arr || !obj)
		goto done;
	for (size_t i = 0; roles[i]; i++) {
		if (!auth_user_id_valid(roles[i])) { /* same charset, sane length */
			*st = CHATD_ERR_INVALID;
			goto done;
		}
		if (json_array_append_new(arr, json_string(roles[i])) != 0)
			goto done;
	}
	if (json_object_set(obj, "roles", arr) != 0)
		goto done;
	out = json_dumps(obj, JSON_COMPACT);
	if (out)
		*st = CHATD_OK;
done:
	json_decref(arr);
	json_decref(obj);
	return out;
}

int auth_mint(const char *alg, const char *key, size_t keylen, const char *sub,
	      int64_t now_s, int64_t ttl_s, const char *const *roles, char **out)
{
	if (!out)
		return CHATD_ERR_INVALID;
	*out = NULL;
	jwt_alg_t a = alg_from_name(alg);
	if (a == JWT_ALG_INVAL || key_problem(a, key, keylen, a != JWT_ALG_HS256))
		return CHATD_ERR_INVALID;
	if (!auth_user_id_valid(sub) || ttl_s <= 0 || now_s < 0)
		return CHATD_ERR_INVALID;
	int64_t exp;
	if (__builtin_add_overflow(now_s, ttl_s, &exp) || exp > LONG_MAX)
		return CHATD_ERR_INVALID;

	jwt_t *jwt = NULL;
	if (jwt_new(&jwt) != 0 || !jwt)
		return CHATD_ERR_NOMEM;
	int st = CHATD_ERR_INVALID;
	if (jwt_set_alg(jwt, a, (const unsigned char *)key, (int)keylen) != 0)
		goto done;
	if (jwt_add_grant(jwt, "sub", sub) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now_s) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)exp) != 0) {
		st = CHATD_ERR_NOMEM;
		goto done;
	}
	if (roles && roles[0]) {
		char *js = roles_json(roles, &st);
		if (!js)
			goto done;
		int rc = jwt_add_grants_json(jwt, js);
		free(js);
		if (rc != 0) {
			st = CHATD_ERR_INTERNAL;
			goto done;
		}
	}
	/* libjwt 1.10 has no allocator hooks and no jwt_free_str: the string
	 * comes from malloc and is released with free(), as auth.h promises.
	 * Signing fails here (EINVAL) when the PEM does not parse or does not
	 * match alg. */
	char *tok = jwt_encode_str(jwt);
	if (!tok) {
		st = errno == ENOMEM ? CHATD_ERR_NOMEM : CHATD_ERR_INVALID;
		goto done;
	}
	*out = tok;
	st = CHATD_OK;
done:
	jwt_free(jwt);
	return st;
}

int auth_verifier_from_config(const struct chatd_config *cfg, struct auth_verifier **out,
			      char *err, size_t errlen)
{
	if (strcmp(cfg->auth_algorithm, "HS256") == 0) {
		const char *k = cfg->auth_secret ? cfg->auth_secret : "";
		return auth_verifier_new(cfg->auth_algorithm, k, strlen(k), cfg->auth_leeway_s, out,
					 err, errlen);
	}
	FILE *f = fopen(cfg->auth_public_key_file, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot read auth.public_key_file %s: %s",
			 cfg->auth_public_key_file, strerror(errno));
		return CHATD_ERR_INVALID;
	}
	char *buf = malloc(65536);
	size_t n = buf ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	if (!buf || n == 0) {
		free(buf);
		snprintf(err, errlen, "auth.public_key_file %s is empty", cfg->auth_public_key_file);
		return CHATD_ERR_INVALID;
	}
	buf[n] = '\0';
	int st = auth_verifier_new(cfg->auth_algorithm, buf, n, cfg->auth_leeway_s, out, err, errlen);
	free(buf);
	return st;
}
