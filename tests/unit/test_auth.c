/* test_auth.c — JWT verification and minting, including the libjwt 1.10
 * traps (alg none, alg confusion, unchecked exp).  RSA and EC key pairs are
 * generated at test time with the openssl command line tool, so the test
 * needs no libcrypto symbols of its own. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jwt.h>

#include "unit.h"
#include "auth.h"
#include "chatd/status.h"

#define NOW 1700000000LL
#define SECRET "0123456789abcdef-test-secret"
#define SECRET2 "another-secret-of-sufficient-length"

/* ---- helpers ------------------------------------------------------------ */

static struct auth_verifier *verifier(const char *alg, const char *key, int64_t leeway)
{
	struct auth_verifier *v = NULL;
	char err[256] = "";
	int st = auth_verifier_new(alg, key, key ? strlen(key) : 0, leeway, &v, err, sizeof err);
	CU_ASSERT_EQUAL(st, CHATD_OK);
	if (st != CHATD_OK)
		fprintf(stderr, "auth_verifier_new(%s): %s\n", alg, err);
	return v;
}

/* A token signed by libjwt itself with arbitrary claims (a JSON object). */
static char *libjwt_token(jwt_alg_t alg, const char *key, const char *claims_json)
{
	jwt_t *jwt = NULL;
	char *tok = NULL;
	if (jwt_new(&jwt) != 0)
		return NULL;
	if (jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0) == 0 &&
	    jwt_add_grants_json(jwt, claims_json) == 0)
		tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	return tok;
}

static char *b64url(const char *in)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(in);
	char *out = malloc(n / 3 * 4 + 5);
	if (!out)
		return NULL;
	size_t o = 0, i = 0;
	const unsigned char *s = (const unsigned char *)in;
	for (; i + 2 < n; i += 3) {
		uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		out[o++] = tbl[w >> 18 & 63];
		out[o++] = tbl[w >> 12 & 63];
		out[o++] = tbl[w >> 6 & 63];
		out[o++] = tbl[w & 63];
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)s[i] << 16;
		out[o++] = tbl[w >> 18 & 63];
		out[o++] = tbl[w >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		out[o++] = tbl[w >> 18 & 63];
		out[o++] = tbl[w >> 12 & 63];
		out[o++] = tbl[w >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

/* "b64(header).b64(payload).sig" by hand; sig may be "". */
static char *hand_token(const char *header, const char *payload, const char *sig)
{
	char *h = b64url(header), *p = b64url(payload);
	char *t = NULL;
	if (h && p) {
		size_t n = strlen(h) + strlen(p) + strlen(sig) + 3;
		t = malloc(n);
		if (t)
			snprintf(t, n, "%s.%s.%s", h, p, sig);
	}
	free(h);
	free(p);
	return t;
}

static enum auth_result verify(struct auth_verifier *v, const char *tok, int64_t now)
{
	struct auth_claims c;
	if (!v || !tok)
		return (enum auth_result)-1;
	return auth_verify(v, tok, now, &c);
}

/* ---- key pairs, generated once per run ---------------------------------- */

static char keydir[64];
static char *rsa_priv, *rsa_pub, *ec_priv, *ec_pub;
static int keys_state; /* 0 not tried, 1 ready, -1 failed */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(16384);
	size_t n = buf ? fread(buf, 1, 16383, f) : 0;
	fclose(f);
	if (!buf || n == 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int run(const char *fmt, const char *a, const char *b)
{
	char cmd[512];
	int n = snprintf(cmd, sizeof cmd, fmt, a, b);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

static bool keys_ready(void)
{
	if (keys_state)
		return keys_state > 0;
	keys_state = -1;
	strcpy(keydir, "/tmp/chatd-test-auth-XXXXXX");
	if (!mkdtemp(keydir)) {
		keydir[0] = '\0';
		return false;
	}
	if (run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/rsa.pem%s",
		keydir, " 2>/dev/null") ||
	    run("openssl pkey -in %s/rsa.pem -pubout -out %s/rsa.pub 2>/dev/null", keydir, keydir) ||
	    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/ec.pem%s",
		keydir, " 2>/dev/null") ||
	    run("openssl pkey -in %s/ec.pem -pubout -out %s/ec.pub 2>/dev/null", keydir, keydir))
		return false;
	char path[128];
	snprintf(path, sizeof path, "%s/rsa.pem", keydir);
	rsa_priv = slurp(path);
	snprintf(path, sizeof path, "%s/rsa.pub", keydir);
	rsa_pub = slurp(path);
	snprintf(path, sizeof path, "%s/ec.pem", keydir);
	ec_priv = slurp(path);
	snprintf(path, sizeof path, "%s/ec.pub", keydir);
	ec_pub = slurp(path);
	if (!rsa_priv || !rsa_pub || !ec_priv || !ec_pub)
		return false;
	keys_state = 1;
	return true;
}

static int suite_cleanup(void)
{
	if (keydir[0]) {
		static const char *const names[] = { "rsa.pem", "rsa.pub", "ec.pem", "ec.pub" };
		char path[128];
		for (size_t i = 0; i < 4; i++) {
			snprintf(path, sizeof path, "%s/%s", keydir, names[i]);
			unlink(path);
		}
		rmdir(keydir);
		keydir[0] = '\0';
	}
	free(rsa_priv);
	free(rsa_pub);
	free(ec_priv);
	free(ec_pub);
	rsa_priv = rsa_pub = ec_priv = ec_pub = NULL;
	keys_state = 0;
	return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_hs256_valid(void)
{
	static const char *const roles[] = { "admin", NULL };
	char *tok = NULL;
	CU_ASSERT_EQUAL_FATAL(auth_mint("HS256", SECRET, strlen(SECRET), "alice@example.org",
					NOW, 3600, roles, &tok), CHATD_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	struct auth_claims c;
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW, &c), AUTH_OK);
	CU_ASSERT_STRING_EQUAL(c.sub, "alice@example.org");
	CU_ASSERT_EQUAL(c.exp, NOW + 3600);
	CU_ASSERT_EQUAL(c.iat, NOW);
	CU_ASSERT_TRUE(c.role_admin);
	CU_ASSERT_FALSE(c.role_moderator);
	CU_ASSERT_STRING_EQUAL(c.jti, "");
	CU_ASSERT_STRING_EQUAL(c.name, "");
	/* Without roles: no role flags. */
	free(tok);
	tok = NULL;
	CU_ASSERT_EQUAL_FATAL(auth_mint("HS256", SECRET, strlen(SECRET), "bob", NOW, 60, NULL, &tok),
			      CHATD_OK);
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW + 59, &c), AUTH_OK);
	CU_ASSERT_FALSE(c.role_admin || c.role_moderator);
	free(tok);
	auth_verifier_free(v);
}

static void test_optional_claims(void)
{
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	struct auth_claims c;
	char *tok = libjwt_token(JWT_ALG_HS256, SECRET,
				 "{\"sub\":\"carol\",\"exp\":1700003600,\"jti\":\"t-42\","
				 "\"name\":\"Carol \\u00e9\",\"roles\":[\"moderator\",\"superuser\",7]}");
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW, &c), AUTH_OK);
	CU_ASSERT_STRING_EQUAL(c.jti, "t-42");
	CU_ASSERT_STRING_EQUAL(c.name, "Carol \xC3\xA9");
	CU_ASSERT_TRUE(c.role_moderator);
	CU_ASSERT_FALSE(c.role_admin);
	CU_ASSERT_EQUAL(c.iat, 0);
	free(tok);

	/* roles not an array: no roles, token still fine. */
	tok = libjwt_token(JWT_ALG_HS256, SECRET,
			   "{\"sub\":\"carol\",\"exp\":1700003600,\"roles\":\"admin\"}");
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW, &c), AUTH_OK);
	CU_ASSERT_FALSE(c.role_admin);
	free(tok);

	/* A long name is cut at a code point boundary within 128 bytes. */
	char claims[1024];
	char name[301];
	for (int i = 0; i < 300; i += 2)
		memcpy(name + i, "\xC3\xA9", 2);
	name[300] = '\0';
	snprintf(claims, sizeof claims, "{\"sub\":\"d\",\"exp\":1700003600,\"name\":\"%s\"}", name);
	tok = libjwt_token(JWT_ALG_HS256, SECRET, claims);
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW, &c), AUTH_OK);
	CU_ASSERT_EQUAL(strlen(c.name), 128);
	free(tok);

	/* A jti too long to store is refused, never truncated. */
	char jti[200];
	memset(jti, 'j', 199);
	jti[199] = '\0';
	snprintf(claims, sizeof claims, "{\"sub\":\"d\",\"exp\":1700003600,\"jti\":\"%s\"}", jti);
	tok = libjwt_token(JWT_ALG_HS256, SECRET, claims);
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW, &c), AUTH_MALFORMED);
	free(tok);

	/* iat of the wrong type is malformed. */
	tok = libjwt_token(JWT_ALG_HS256, SECRET, "{\"sub\":\"d\",\"exp\":1700003600,\"iat\":\"x\"}");
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW, &c), AUTH_MALFORMED);
	free(tok);
	auth_verifier_free(v);
}

static void test_bad_signature(void)
{
	char *tok = NULL;
	CU_ASSERT_EQUAL_FATAL(auth_mint("HS256", SECRET2, strlen(SECRET2), "alice", NOW, 3600,
					NULL, &tok), CHATD_OK);
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	CU_ASSERT_EQUAL(verify(v, tok, NOW), AUTH_MALFORMED);
	/* Flip one character of the signature. */
	size_t n = strlen(tok);
	tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
	struct auth_verifier *v2 = verifier("HS256", SECRET2, 0);
	CU_ASSERT_EQUAL(verify(v2, tok, NOW), AUTH_MALFORMED);
	free(tok);
	auth_verifier_free(v);
	auth_verifier_free(v2);
}

static void test_tampered_payload(void)
{
	char *tok = NULL;
	CU_ASSERT_EQUAL_FATAL(auth_mint("HS256", SECRET, strlen(SECRET), "alice", NOW, 3600,
					NULL, &tok), CHATD_OK);
	/* Keep header and signature, swap in a payload claiming admin. */
	char *d1 = strchr(tok, '.');
	char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(d2);
	char *p = b64url("{\"exp\":1700003600,\"iat\":1700000000,\"roles\":[\"admin\"],"
			 "\"sub\":\"alice\"}");
	char forged[2048];
	snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - tok), tok, p, d2);
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	CU_ASSERT_EQUAL(verify(v, tok, NOW), AUTH_OK);
	CU_ASSERT_EQUAL(verify(v, forged, NOW), AUTH_MALFORMED);
	free(p);
	free(tok);
	auth_verifier_free(v);
}

static void test_alg_none(void)
{
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	char *p = b64url("{\"sub\":\"alice\",\"exp\":1700003600}");
	char tok[512];
	snprintf(tok, sizeof tok, "eyJhbGciOiJub25lIn0.%s.", p);
	CU_ASSERT_EQUAL(verify(v, tok, NOW), AUTH_BAD_ALG);
	free(p);
	static const char *const headers[] = {
		"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"NONE\"}", "{\"alg\":\"None\"}",
		"{\"alg\":\"nOnE\"}",
	};
	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
		char *t = hand_token(headers[i], "{\"sub\":\"alice\",\"exp\":1700003600}", "");
		CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_BAD_ALG);
		free(t);
		t = hand_token(headers[i], "{\"sub\":\"alice\",\"exp\":1700003600}", "c2lnbmF0dXJl");
		CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_BAD_ALG);
		free(t);
	}
	/* Missing alg, and an alg that is not a string. */
	char *t = hand_token("{\"typ\":\"JWT\"}", "{\"sub\":\"alice\",\"exp\":1700003600}", "");
	CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_BAD_ALG);
	free(t);
	t = hand_token("{\"alg\":null}", "{\"sub\":\"alice\",\"exp\":1700003600}", "");
	CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_BAD_ALG);
	free(t);
	auth_verifier_free(v);
}

static void test_alg_confusion(void)
{
	if (!keys_ready()) {
		CU_FAIL("could not generate keys with the openssl tool");
		return;
	}
	/* An HS256 token HMAC-signed with the RSA public key's PEM text. */
	char *tok = libjwt_token(JWT_ALG_HS256, rsa_pub,
				 "{\"sub\":\"mallory\",\"exp\":1700003600,\"roles\":[\"admin\"]}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	/* The trap is real: libjwt alone accepts it. */
	jwt_t *jwt = NULL;
	int rc = jwt_decode(&jwt, tok, (const unsigned char *)rsa_pub, (int)strlen(rsa_pub));
	CU_ASSERT_EQUAL(rc, 0);
	jwt_free(jwt);
	/* We refuse it. */
	struct auth_verifier *v = verifier("RS256", rsa_pub, 0);
	CU_ASSERT_EQUAL(verify(v, tok, NOW), AUTH_BAD_ALG);
	free(tok);
	auth_verifier_free(v);
}

static void test_expiry_and_leeway(void)
{
	struct auth_verifier *v0 = verifier("HS256", SECRET, 0);
	struct auth_verifier *v30 = verifier("HS256", SECRET, 30);
	char *tok = NULL;
	CU_ASSERT_EQUAL_FATAL(auth_mint("HS256", SECRET, strlen(SECRET), "alice", NOW, 100, NULL,
					&tok), CHATD_OK);
	/* exp = NOW + 100 */
	CU_ASSERT_EQUAL(verify(v0, tok, NOW + 99), AUTH_OK);
	CU_ASSERT_EQUAL(verify(v0, tok, NOW + 100), AUTH_EXPIRED);
	CU_ASSERT_EQUAL(verify(v0, tok, NOW + 5000), AUTH_EXPIRED);
	CU_ASSERT_EQUAL(verify(v30, tok, NOW + 100), AUTH_OK);
	CU_ASSERT_EQUAL(verify(v30, tok, NOW + 129), AUTH_OK);
	CU_ASSERT_EQUAL(verify(v30, tok, NOW + 130), AUTH_EXPIRED);
	CU_ASSERT_TRUE(auth_exp_ok(v30, NOW, NOW + 29));
	CU_ASSERT_FALSE(auth_exp_ok(v30, NOW, NOW + 30));
	CU_ASSERT_FALSE(auth_exp_ok(v0, NOW, NOW));
	CU_ASSERT_TRUE(auth_exp_ok(v30, INT64_MAX, NOW)); /* no overflow */
	CU_ASSERT_FALSE(auth_exp_ok(NULL, NOW + 10, NOW));
	free(tok);
	auth_verifier_free(v0);
	auth_verifier_free(v30);
}

static void test_exp_missing_or_wrong_type(void)
{
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	static const struct { const char *claims; enum auth_result want; } cases[] = {
		{ "{\"sub\":\"alice\"}", AUTH_MISSING_EXP },
		{ "{\"sub\":\"alice\",\"exp\":\"1700003600\"}", AUTH_MISSING_EXP },
		{ "{\"sub\":\"alice\",\"exp\":1700003600.5}", AUTH_MISSING_EXP },
		{ "{\"sub\":\"alice\",\"exp\":null}", AUTH_MISSING_EXP },
		{ "{\"sub\":\"alice\",\"exp\":[1700003600]}", AUTH_MISSING_EXP },
		{ "{\"sub\":\"alice\",\"exp\":1700003600}", AUTH_OK },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *tok = libjwt_token(JWT_ALG_HS256, SECRET, cases[i].claims);
		CU_ASSERT_PTR_NOT_NULL(tok);
		enum auth_result r = verify(v, tok, NOW);
		CU_ASSERT_EQUAL(r, cases[i].want);
		if (r != cases[i].want)
			fprintf(stderr, "\n  %s -> %s\n", cases[i].claims, auth_result_str(r));
		free(tok);
	}
	auth_verifier_free(v);
}

static void test_bad_sub(void)
{
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	char s64[65], s65[66];
	memset(s64, 'a', 64);
	s64[64] = '\0';
	memset(s65, 'a', 65);
	s65[65] = '\0';
	char c64[200], c65[200];
	snprintf(c64, sizeof c64, "{\"sub\":\"%s\",\"exp\":1700003600}", s64);
	snprintf(c65, sizeof c65, "{\"sub\":\"%s\",\"exp\":1700003600}", s65);
	const struct { const char *claims; enum auth_result want; } cases[] = {
		{ "{\"exp\":1700003600}", AUTH_BAD_SUB },
		{ "{\"sub\":\"\",\"exp\":1700003600}", AUTH_BAD_SUB },
		{ "{\"sub\":\"al ice\",\"exp\":1700003600}", AUTH_BAD_SUB },
		{ "{\"sub\":\"alice/..\",\"exp\":1700003600}", AUTH_BAD_SUB },
		{ "{\"sub\":\"al\\u00e9\",\"exp\":1700003600}", AUTH_BAD_SUB },
		{ "{\"sub\":42,\"exp\":1700003600}", AUTH_BAD_SUB },
		{ c65, AUTH_BAD_SUB },
		{ c64, AUTH_OK },
		{ "{\"sub\":\"A.z_0@9-x\",\"exp\":1700003600}", AUTH_OK },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *tok = libjwt_token(JWT_ALG_HS256, SECRET, cases[i].claims);
		CU_ASSERT_PTR_NOT_NULL(tok);
		enum auth_result r = verify(v, tok, NOW);
		CU_ASSERT_EQUAL(r, cases[i].want);
		if (r != cases[i].want)
			fprintf(stderr, "\n  %s -> %s\n", cases[i].claims, auth_result_str(r));
		free(tok);
	}
	auth_verifier_free(v);
}

static void test_user_id_valid(void)
{
	CU_ASSERT_TRUE(auth_user_id_valid("a"));
	CU_ASSERT_TRUE(auth_user_id_valid("Alice.B_c-d@e.org"));
	CU_ASSERT_FALSE(auth_user_id_valid(NULL));
	CU_ASSERT_FALSE(auth_user_id_valid(""));
	CU_ASSERT_FALSE(auth_user_id_valid("a b"));
	CU_ASSERT_FALSE(auth_user_id_valid("a\tb"));
	CU_ASSERT_FALSE(auth_user_id_valid("a+b"));
	CU_ASSERT_FALSE(auth_user_id_valid("caf\xC3\xA9"));
	char s[80];
	memset(s, 'x', sizeof s);
	s[64] = '\0';
	CU_ASSERT_TRUE(auth_user_id_valid(s));
	s[64] = 'x';
	s[65] = '\0';
	CU_ASSERT_FALSE(auth_user_id_valid(s));
}

static void roundtrip(const char *alg, const char *priv, const char *pub)
{
	static const char *const roles[] = { "moderator", "admin", NULL };
	char *tok = NULL;
	int st = auth_mint(alg, priv, strlen(priv), "dave", NOW, 600, roles, &tok);
	CU_ASSERT_EQUAL_FATAL(st, CHATD_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	struct auth_verifier *v = verifier(alg, pub, 0);
	struct auth_claims c;
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW, &c), AUTH_OK);
	CU_ASSERT_STRING_EQUAL(c.sub, "dave");
	CU_ASSERT_TRUE(c.role_admin && c.role_moderator);
	CU_ASSERT_EQUAL(auth_verify(v, tok, NOW + 600, &c), AUTH_EXPIRED);
	/* Same token against an HS256 verifier: wrong algorithm. */
	struct auth_verifier *hs = verifier("HS256", SECRET, 0);
	CU_ASSERT_EQUAL(verify(hs, tok, NOW), AUTH_BAD_ALG);
	auth_verifier_free(hs);
	free(tok);
	auth_verifier_free(v);
}

static void test_rs256_roundtrip(void)
{
	if (!keys_ready()) {
		CU_FAIL("could not generate keys with the openssl tool");
		return;
	}
	roundtrip("RS256", rsa_priv, rsa_pub);
}

static void test_es256_roundtrip(void)
{
	if (!keys_ready()) {
		CU_FAIL("could not generate keys with the openssl tool");
		return;
	}
	roundtrip("ES256", ec_priv, ec_pub);
	/* An ES256 token is refused by an RS256 verifier. */
	char *tok = NULL;
	CU_ASSERT_EQUAL_FATAL(auth_mint("ES256", ec_priv, strlen(ec_priv), "dave", NOW, 600,
					NULL, &tok), CHATD_OK);
	struct auth_verifier *rs = verifier("RS256", rsa_pub, 0);
	CU_ASSERT_EQUAL(verify(rs, tok, NOW), AUTH_BAD_ALG);
	free(tok);
	auth_verifier_free(rs);
	/* Minting RS256 with an EC key fails cleanly. */
	tok = NULL;
	CU_ASSERT_NOT_EQUAL(auth_mint("RS256", ec_priv, strlen(ec_priv), "dave", NOW, 600, NULL,
				      &tok), CHATD_OK);
	CU_ASSERT_PTR_NULL(tok);
}

/* One spelling per signed token: padding, the standard alphabet or set
 * unused bits in any segment are refused (libjwt itself accepted an
 * ES256 signature with '=' padding: found by tests/fuzz/fuzz_jwt.c). */
static void respellings_refused(const char *alg, const char *priv, const char *pub)
{
	char *tok = NULL;
	CU_ASSERT_EQUAL_FATAL(auth_mint(alg, priv, strlen(priv), "dave", NOW, 600, NULL, &tok),
			      CHATD_OK);
	struct auth_verifier *v = verifier(alg, pub, 0);
	CU_ASSERT_EQUAL(verify(v, tok, NOW), AUTH_OK);
	size_t n = strlen(tok);
	char *t = malloc(n + 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	static const char *const tails[] = { "=", "==", " ", ".", "\n" };
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		snprintf(t, n + 3, "%s%s", tok, tails[i]);
		CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_MALFORMED);
	}
	/* The signature's last character with an unused bit set. */
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *sig = strrchr(tok, '.') + 1;
	size_t sl = strlen(sig);
	if (sl % 4 != 0) {
		memcpy(t, tok, n + 1);
		t[n - 1] = tbl[(strchr(tbl, tok[n - 1]) - tbl) ^ 1];
		CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_MALFORMED);
	}
	/* '-' and '_' of the signature in the standard alphabet. */
	memcpy(t, tok, n + 1);
	bool changed = false;
	for (char *p = t + (sig - tok); *p; p++) {
		if (*p == '-' || *p == '_') {
			*p = *p == '-' ? '+' : '/';
			changed = true;
		}
	}
	if (changed)
		CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_MALFORMED);
	/* Padding on the header segment (the signature covers it: refused
	 * either way, but as malformed before any crypto). */
	const char *d1 = strchr(tok, '.');
	snprintf(t, n + 3, "%.*s=%s", (int)(d1 - tok), tok, d1);
	CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_MALFORMED);
	free(t);
	free(tok);
	auth_verifier_free(v);
}

static void test_one_spelling(void)
{
	respellings_refused("HS256", SECRET, SECRET);
	if (!keys_ready()) {
		CU_FAIL("could not generate keys with the openssl tool");
		return;
	}
	/* Several mints, so that signatures with '-' / '_' and with every
	 * length mod 4 come up. */
	for (int i = 0; i < 4; i++) {
		respellings_refused("RS256", rsa_priv, rsa_pub);
		respellings_refused("ES256", ec_priv, ec_pub);
	}
}

static void test_overlong_token(void)
{
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	/* Validly signed but over 8 KiB: refused before decoding. */
	size_t nlen = 7000;
	char *claims = malloc(nlen + 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(claims);
	int n = snprintf(claims, nlen + 100, "{\"sub\":\"alice\",\"exp\":1700003600,\"name\":\"");
	memset(claims + n, 'n', nlen);
	strcpy(claims + n + nlen, "\"}");
	char *tok = libjwt_token(JWT_ALG_HS256, SECRET, claims);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_TRUE(strlen(tok) > 8192);
	CU_ASSERT_EQUAL(verify(v, tok, NOW), AUTH_MALFORMED);
	free(tok);
	/* The same shape just under the limit is fine. */
	strcpy(claims + n + 5000, "\"}");
	tok = libjwt_token(JWT_ALG_HS256, SECRET, claims);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_TRUE(strlen(tok) <= 8192);
	CU_ASSERT_EQUAL(verify(v, tok, NOW), AUTH_OK);
	free(tok);
	free(claims);
	auth_verifier_free(v);
}

static void test_garbage(void)
{
	struct auth_verifier *v = verifier("HS256", SECRET, 0);
	static const char *const toks[] = {
		"", "abc", ".", "..", "a.b.c", "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9..",
		"!!!.abc.def", "e30.e30.", /* {} header */
	};
	for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
		enum auth_result r = verify(v, toks[i], NOW);
		CU_ASSERT_NOT_EQUAL(r, AUTH_OK);
	}
	CU_ASSERT_EQUAL(verify(v, "abc", NOW), AUTH_MALFORMED);
	CU_ASSERT_EQUAL(verify(v, "!!!.abc.def", NOW), AUTH_MALFORMED);
	/* Header not JSON, header an array, duplicate alg keys. */
	char *t = hand_token("not json", "{}", "x");
	CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_MALFORMED);
	free(t);
	t = hand_token("[\"HS256\"]", "{}", "x");
	CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_MALFORMED);
	free(t);
	t = hand_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}", "x");
	CU_ASSERT_EQUAL(verify(v, t, NOW), AUTH_MALFORMED);
	free(t);
	/* NULL arguments. */
	struct auth_claims c;
	CU_ASSERT_EQUAL(auth_verify(v, NULL, NOW, &c), AUTH_MALFORMED);
	CU_ASSERT_EQUAL(auth_verify(NULL, "a.b.c", NOW, &c), AUTH_MALFORMED);
	auth_verifier_free(v);
}

static void test_verifier_refusals(void)
{
	struct auth_verifier *v = (struct auth_verifier *)1;
	char err[128];
	err[0] = '\0';
	CU_ASSERT_EQUAL(auth_verifier_new("HS256", NULL, 0, 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT_TRUE(err[0] != '\0');
	CU_ASSERT_EQUAL(auth_verifier_new("HS256", "", 0, 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(auth_verifier_new("HS256", "short", 5, 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(auth_verifier_new("none", SECRET, strlen(SECRET), 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(auth_verifier_new("HS512", SECRET, strlen(SECRET), 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(auth_verifier_new("hs256", SECRET, strlen(SECRET), 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(auth_verifier_new(NULL, SECRET, strlen(SECRET), 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(auth_verifier_new("HS256", SECRET, strlen(SECRET), -1, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(auth_verifier_new("RS256", SECRET, strlen(SECRET), 0, &v, err, sizeof err),
			CHATD_ERR_INVALID);
	/* A tiny err buffer is still terminated. */
	char tiny[4];
	CU_ASSERT_EQUAL(auth_verifier_new("x", SECRET, strlen(SECRET), 0, &v, tiny, sizeof tiny),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(strlen(tiny), 3);
	if (keys_ready()) {
		/* HS256 keyed with a PEM: the alg-confusion setup, refused. */
		CU_ASSERT_EQUAL(auth_verifier_new("HS256", rsa_pub, strlen(rsa_pub), 0, &v, err,
						  sizeof err), CHATD_ERR_INVALID);
		/* A private key where the public one belongs. */
		CU_ASSERT_EQUAL(auth_verifier_new("RS256", rsa_priv, strlen(rsa_priv), 0, &v, err,
						  sizeof err), CHATD_ERR_INVALID);
	}
	CU_ASSERT_PTR_NULL(v);
	auth_verifier_free(NULL);
}

static void test_mint_refusals(void)
{
	char *tok = (char *)1;
	CU_ASSERT_NOT_EQUAL(auth_mint("HS256", SECRET, strlen(SECRET), "a b", NOW, 60, NULL, &tok),
			    CHATD_OK);
	CU_ASSERT_PTR_NULL(tok);
	CU_ASSERT_NOT_EQUAL(auth_mint("HS256", SECRET, strlen(SECRET), NULL, NOW, 60, NULL, &tok),
			    CHATD_OK);
	CU_ASSERT_NOT_EQUAL(auth_mint("HS256", SECRET, strlen(SECRET), "a", NOW, 0, NULL, &tok),
			    CHATD_OK);
	CU_ASSERT_NOT_EQUAL(auth_mint("HS256", SECRET, strlen(SECRET), "a", NOW, INT64_MAX, NULL,
				      &tok), CHATD_OK);
	CU_ASSERT_NOT_EQUAL(auth_mint("HS256", "", 0, "a", NOW, 60, NULL, &tok), CHATD_OK);
	CU_ASSERT_NOT_EQUAL(auth_mint("none", SECRET, strlen(SECRET), "a", NOW, 60, NULL, &tok),
			    CHATD_OK);
	static const char *const bad_roles[] = { "ad min", NULL };
	CU_ASSERT_NOT_EQUAL(auth_mint("HS256", SECRET, strlen(SECRET), "a", NOW, 60, bad_roles,
				      &tok), CHATD_OK);
	if (keys_ready())
		CU_ASSERT_NOT_EQUAL(auth_mint("RS256", rsa_pub, strlen(rsa_pub), "a", NOW, 60, NULL,
					      &tok), CHATD_OK);
	CU_ASSERT_PTR_NULL(tok);
	CU_ASSERT_STRING_EQUAL(auth_result_str(AUTH_OK), "ok");
	CU_ASSERT_PTR_NOT_NULL(auth_result_str(AUTH_BAD_SUB));
	CU_ASSERT_PTR_NOT_NULL(auth_result_str((enum auth_result)99));
}

void unit_register_auth(void)
{
	CU_pSuite s = CU_add_suite("auth", NULL, suite_cleanup);
	if (!s)
		return;
	CU_add_test(s, "HS256 valid token and claims", test_hs256_valid);
	CU_add_test(s, "optional claims: name, jti, iat, roles", test_optional_claims);
	CU_add_test(s, "bad signature is MALFORMED", test_bad_signature);
	CU_add_test(s, "tampered payload is MALFORMED", test_tampered_payload);
	CU_add_test(s, "alg none (any case) is BAD_ALG", test_alg_none);
	CU_add_test(s, "alg confusion HS256-with-RSA-public-key refused", test_alg_confusion);
	CU_add_test(s, "exp and leeway", test_expiry_and_leeway);
	CU_add_test(s, "exp missing or not an integer", test_exp_missing_or_wrong_type);
	CU_add_test(s, "bad sub", test_bad_sub);
	CU_add_test(s, "auth_user_id_valid", test_user_id_valid);
	CU_add_test(s, "RS256 round trip; refused by HS256 verifier", test_rs256_roundtrip);
	CU_add_test(s, "ES256 round trip; cross-alg refusals", test_es256_roundtrip);
	CU_add_test(s, "token over 8 KiB refused", test_overlong_token);
	CU_add_test(s, "one spelling per token (no padding, canonical base64url)",
		    test_one_spelling);
	CU_add_test(s, "garbage tokens", test_garbage);
	CU_add_test(s, "verifier refuses bad configuration", test_verifier_refusals);
	CU_add_test(s, "mint refuses bad input", test_mint_refusals);
}
