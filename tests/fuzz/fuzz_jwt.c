/* fuzz_jwt.c — libFuzzer target for core/auth.c auth_verify with fixed
 * HS256, RS256 and ES256 verifiers (keys made once, at the first input).
 *
 * The first byte picks a mode and a verifier; the rest is:
 *   mode 0  the token itself, verified by all three verifiers;
 *   mode 1  "<header JSON>\n<claims JSON>", base64url-encoded and signed
 *           here with the picked verifier's own key, then verified (this
 *           drives the claim checks, which no random token reaches), and
 *           re-encoded variants of it (padding, the standard alphabet,
 *           flipped unused bits, trailing bytes) are verified too;
 *   mode 2  the same, but "signed" the ways an attacker can: alg none with
 *           no signature, HMAC keyed with a public key's PEM (alg
 *           confusion), HMAC with another secret, RS256/ES256 with another
 *           key pair, or the real key over other bytes.
 * Oracle (abort on breach): a token auth_verify accepts must be three
 * base64url segments in canonical form whose header's alg is exactly the
 * verifier's, whose signature OpenSSL verifies with the verifier's key over
 * the first two segments as given, and whose claims are sane (valid sub,
 * integer exp still in the future).  Mode 2 tokens must never be accepted. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include "auth.h"
#include "fuzz_b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_S 1700000000
#define TOKEN_MAX 9000
#define SECRET "fuzz-hs256-secret-0123456789abcdef"

enum { V_HS, V_RS, V_ES, V_N };
static const char *const alg_names[V_N] = { "HS256", "RS256", "ES256" };

struct keyset {
	struct auth_verifier *v[V_N];
	EVP_PKEY *rsa, *ec;          /* the verifiers' key pairs */
	EVP_PKEY *rsa2, *ec2;        /* other key pairs (forgeries) */
	char *rsa_pub, *ec_pub;      /* PEM text */
};
static struct keyset ks;

static char *pub_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out = NULL;
	if (b && PEM_write_bio_PUBKEY(b, k)) {
		long n = BIO_get_mem_data(b, &p);
		out = n > 0 ? strndup(p, (size_t)n) : NULL;
	}
	BIO_free(b);
	return out;
}

static void init_keys(void)
{
	char err[256];
	ks.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ks.rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ks.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ks.ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!ks.rsa || !ks.rsa2 || !ks.ec || !ks.ec2)
		abort();
	ks.rsa_pub = pub_pem(ks.rsa);
	ks.ec_pub = pub_pem(ks.ec);
	if (!ks.rsa_pub || !ks.ec_pub ||
	    auth_verifier_new("HS256", SECRET, strlen(SECRET), 0, &ks.v[V_HS], err, sizeof err) ||
	    auth_verifier_new("RS256", ks.rsa_pub, strlen(ks.rsa_pub), 0, &ks.v[V_RS], err,
			      sizeof err) ||
	    auth_verifier_new("ES256", ks.ec_pub, strlen(ks.ec_pub), 0, &ks.v[V_ES], err,
			      sizeof err)) {
		fprintf(stderr, "fuzz_jwt: setup failed: %s\n", err);
		abort();
	}
}

/* ---- signing and verifying with OpenSSL directly ------------------------- */

static size_t hmac_sha256(const void *key, size_t klen, const char *msg, size_t n,
			  unsigned char out[64])
{
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, n, out, &len))
		abort();
	return len;
}

/* An RS256 or ES256 (raw r||s) signature of msg; its length, 0 on failure. */
static size_t pkey_sign(EVP_PKEY *k, bool ec, const char *msg, size_t n, unsigned char *out,
			size_t cap)
{
	unsigned char der[512];
	size_t dlen = sizeof der;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
		  EVP_DigestSign(md, der, &dlen, (const unsigned char *)msg, n) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return 0;
	if (!ec) {
		if (dlen > cap)
			return 0;
		memcpy(out, der, dlen);
		return dlen;
	}
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (!s || cap < 64) {
		ECDSA_SIG_free(s);
		return 0;
	}
	const BIGNUM *r, *sv;
	ECDSA_SIG_get0(s, &r, &sv);
	ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(sv, out + 32, 32) == 32;
	ECDSA_SIG_free(s);
	return ok ? 64 : 0;
}

static bool pkey_verify(EVP_PKEY *k, bool ec, const char *msg, size_t n,
			const unsigned char *sig, size_t slen)
{
	unsigned char der[256];
	const unsigned char *vs = sig;
	size_t vlen = slen;
	if (ec) {
		if (slen != 64)
			return false;
		ECDSA_SIG *s = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
		if (!s || !r || !sv || !ECDSA_SIG_set0(s, r, sv))
			abort();
		unsigned char *p = der;
		int dl = i2d_ECDSA_SIG(s, NULL);
		if (dl <= 0 || (size_t)dl > sizeof der)
			abort();
		vlen = (size_t)i2d_ECDSA_SIG(s, &p);
		ECDSA_SIG_free(s);
		vs = der;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
		  EVP_DigestVerify(md, vs, vlen, (const unsigned char *)msg, n) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* ---- the oracle ----------------------------------------------------------- */

static void breach(int which, const char *why, const char *tok)
{
	size_t n = strlen(tok);
	fprintf(stderr, "fuzz_jwt: %s verifier accepted a token it must refuse (%s): %.200s … "
		"%s\n", alg_names[which], why, tok, tok + (n > 60 ? n - 60 : 0));
	abort();
}

/* tok was accepted by verifier `which`: check everything independently. */
static void check_accepted(int which, const char *tok, const struct auth_claims *c)
{
	const char *d1 = strchr(tok, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		breach(which, "not three segments", tok);
	unsigned char hdr[TOKEN_MAX], sig[TOKEN_MAX];
	long hl = fuzz_b64url_decode(tok, (size_t)(d1 - tok), hdr, sizeof hdr);
	long sl = fuzz_b64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
	if (hl < 0 || sl < 0 ||
	    fuzz_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), hdr + hl, sizeof hdr - (size_t)hl) < 0)
		breach(which, "a segment is not canonical base64url", tok);
	json_t *h = json_loadb((const char *)hdr, (size_t)hl, 0, NULL);
	const char *alg = json_string_value(json_object_get(h, "alg"));
	if (!alg || strcmp(alg, alg_names[which]) != 0) {
		json_decref(h);
		breach(which, "header alg is not the verifier's", tok);
	}
	json_decref(h);
	const char *msg = tok;
	size_t mlen = (size_t)(d2 - tok);
	bool ok;
	if (which == V_HS) {
		unsigned char mac[64];
		size_t n = hmac_sha256(SECRET, strlen(SECRET), msg, mlen, mac);
		ok = (size_t)sl == n && memcmp(mac, sig, n) == 0;
	} else {
		ok = pkey_verify(which == V_RS ? ks.rsa : ks.ec, which == V_ES, msg, mlen, sig,
				 (size_t)sl);
	}
	if (!ok)
		breach(which, "OpenSSL says the signature is not the key's", tok);
	if (!auth_user_id_valid(c->sub) || c->exp <= NOW_S)
		breach(which, "claims not sane", tok);
}

static void verify_all(const char *tok, bool must_refuse)
{
	for (int i = 0; i < V_N; i++) {
		struct auth_claims c;
		if (auth_verify(ks.v[i], tok, NOW_S, &c) != AUTH_OK)
			continue;
		if (must_refuse)
			breach(i, "forged", tok);
		check_accepted(i, tok, &c);
	}
}

/* ---- building tokens ------------------------------------------------------ */

/* tok = b64(header) "." b64(claims) "." — returns the signing input length,
 * or 0 when it does not fit. */
static size_t signing_input(const uint8_t *p, size_t n, char *tok, size_t cap)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t hl = nl ? (size_t)(nl - p) : n;
	size_t cl = nl ? n - hl - 1 : 0;
	size_t a = fuzz_b64url_encode(p, hl, tok, cap);
	if (!a || a + 2 >= cap)
		return 0;
	tok[a++] = '.';
	size_t b = fuzz_b64url_encode(nl ? nl + 1 : p + n, cl, tok + a, cap - a);
	if (!b && cl)
		return 0;
	return a + b;
}

static void append_sig(char *tok, size_t len, size_t cap, const unsigned char *sig, size_t sl)
{
	tok[len++] = '.';
	tok[len] = '\0';
	if (sl && !fuzz_b64url_encode(sig, sl, tok + len, cap - len))
		tok[len] = '\0';
}

/* Other spellings of the same signature bytes, or trailing bytes: the
 * oracle refuses any that is accepted, since a token has one encoding. */
static void variants(const char *tok)
{
	char v[TOKEN_MAX + 4];
	size_t n = strlen(tok);
	const char *sig = strrchr(tok, '.') + 1;
	size_t at = (size_t)(sig - tok), sl = n - at;
	static const char *const tails[] = { "=", "==", "\n", " ", ".", "A" };
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		snprintf(v, sizeof v, "%s%s", tok, tails[i]);
		verify_all(v, false);
	}
	memcpy(v, tok, n + 1);
	bool swapped = false;
	for (size_t i = at; i < n; i++) {
		if (v[i] == '-' || v[i] == '_') {
			v[i] = v[i] == '-' ? '+' : '/';
			swapped = true;
		}
	}
	if (swapped)
		verify_all(v, false);
	if (sl % 4 != 0) {
		/* The last character holds 2 or 4 unused low bits: set one. */
		static const char a64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		const char *d = memchr(a64, tok[n - 1], 64);
		memcpy(v, tok, n + 1);
		v[n - 1] = d ? a64[(d - a64) ^ 1] : v[n - 1];
		if (v[n - 1] != tok[n - 1])
			verify_all(v, false);
	}
}

static void signed_token(int which, const uint8_t *p, size_t n)
{
	char tok[TOKEN_MAX];
	size_t len = signing_input(p, n, tok, sizeof tok - 400);
	if (!len)
		return;
	unsigned char sig[512];
	size_t sl = which == V_HS ? hmac_sha256(SECRET, strlen(SECRET), tok, len, sig)
		    : pkey_sign(which == V_RS ? ks.rsa : ks.ec, which == V_ES, tok, len, sig,
				sizeof sig);
	if (!sl)
		abort();
	append_sig(tok, len, sizeof tok, sig, sl);
	verify_all(tok, false);
	variants(tok);
}

static void forged_token(unsigned how, const uint8_t *p, size_t n)
{
	char tok[TOKEN_MAX];
	size_t len = signing_input(p, n, tok, sizeof tok - 400);
	if (!len)
		return;
	unsigned char sig[512];
	size_t sl = 0;
	switch (how % 7) {
	case 0: /* alg none: no signature at all */
		break;
	case 1: /* HMAC keyed with the RSA public key's PEM */
		sl = hmac_sha256(ks.rsa_pub, strlen(ks.rsa_pub), tok, len, sig);
		break;
	case 2: /* HMAC keyed with the EC public key's PEM */
		sl = hmac_sha256(ks.ec_pub, strlen(ks.ec_pub), tok, len, sig);
		break;
	case 3: /* another secret */
		sl = hmac_sha256(SECRET "x", strlen(SECRET) + 1, tok, len, sig);
		break;
	case 4: /* another RSA key */
		sl = pkey_sign(ks.rsa2, false, tok, len, sig, sizeof sig);
		break;
	case 5: /* another EC key */
		sl = pkey_sign(ks.ec2, true, tok, len, sig, sizeof sig);
		break;
	case 6: /* the real HS256 key, over other bytes */
		sl = hmac_sha256(SECRET, strlen(SECRET), tok, len - 1, sig);
		break;
	}
	append_sig(tok, len, sizeof tok, sig, sl);
	verify_all(tok, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ks.v[V_HS])
		init_keys();
	if (size < 1 || size > TOKEN_MAX - 1)
		return 0;
	unsigned mode = data[0] % 3, which = (data[0] / 3u) % V_N;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	if (mode == 0) {
		char tok[TOKEN_MAX];
		memcpy(tok, p, n);
		tok[n] = '\0';
		verify_all(tok, false);
	} else if (mode == 1) {
		signed_token((int)which, p, n);
	} else {
		forged_token(data[0] / 9u, p, n);
	}
	return 0;
}
