/* enc.c — see enc.h.  AES-256-GCM, 96-bit random nonces (RAND_bytes), the
 * 128-bit tag appended to the ciphertext. */
#include "enc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "chatd/status.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define AAD_LABEL "chatd.msg.v1"
#define PREFIX_LEN (sizeof ENC_PREFIX - 1)

bool enc_key_id_ok(const char *s, size_t len)
{
	if (len == 0 || len > ENC_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static int b64_val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decodes base64 (either alphabet, padding optional) of len bytes into out
 * (cap bytes).  Returns the decoded length or -1. */
static long b64_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
	while (len && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)       /* non-canonical trailing bits */
		return -1;
	return (long)n;
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static void set_why(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
}

bool enc_key_parse(const char *text, unsigned char out[ENC_KEY_LEN], char *why, size_t whylen)
{
	if (!text) {
		set_why(why, whylen, "no key");
		return false;
	}
	if (strncmp(text, "env:", 4) == 0) {
		const char *v = getenv(text + 4);
		if (!v || !*v) {
			set_why(why, whylen, "the environment variable is not set");
			return false;
		}
		if (strncmp(v, "env:", 4) == 0) {
			set_why(why, whylen, "the environment variable names another one");
			return false;
		}
		return enc_key_parse(v, out, why, whylen);
	}
	size_t len = strlen(text);
	if (len == 2 * ENC_KEY_LEN) {
		bool hex = true;
		for (size_t i = 0; i < len && hex; i++)
			hex = hex_val(text[i]) >= 0;
		if (hex) {
			for (size_t i = 0; i < ENC_KEY_LEN; i++)
				out[i] = (unsigned char)(hex_val(text[2 * i]) << 4 | hex_val(text[2 * i + 1]));
			return true;
		}
	}
	unsigned char buf[ENC_KEY_LEN + 3];
	long n = len <= 48 ? b64_decode(text, len, buf, sizeof buf) : -1;
	if (n != ENC_KEY_LEN) {
		set_why(why, whylen, "a key must be 32 bytes: 64 hex digits or 44 base64 characters");
		OPENSSL_cleanse(buf, sizeof buf);
		return false;
	}
	memcpy(out, buf, ENC_KEY_LEN);
	OPENSSL_cleanse(buf, sizeof buf);
	return true;
}

const struct enc_key *enc_key_find(const struct enc_keyring *kr, const char *id, size_t len)
{
	for (size_t i = 0; kr && i < kr->n; i++)
		if (strlen(kr->keys[i].id) == len && memcmp(kr->keys[i].id, id, len) == 0)
			return &kr->keys[i];
	return NULL;
}

/* "chatd.msg.v1" NUL conv NUL sender NUL keyid, into a new buffer. */
static unsigned char *aad_build(const char *conv, const char *sender, const char *kid, size_t *len)
{
	size_t lc = strlen(conv), ls = strlen(sender), lk = strlen(kid);
	size_t n = sizeof AAD_LABEL + lc + 1 + ls + 1 + lk;
	unsigned char *a = malloc(n);
	if (!a)
		return NULL;
	size_t o = 0;
	memcpy(a, AAD_LABEL, sizeof AAD_LABEL);        /* with its NUL */
	o += sizeof AAD_LABEL;
	memcpy(a + o, conv, lc + 1);
	o += lc + 1;
	memcpy(a + o, sender, ls + 1);
	o += ls + 1;
	memcpy(a + o, kid, lk);
	*len = n;
	return a;
}

/* One GCM pass.  enc: in → out, tag written; !enc: tag checked.  Returns
 * the output length or -1. */
static int gcm(bool enc, const unsigned char *key, const unsigned char *nonce,
	       const unsigned char *aad, size_t aad_len, const unsigned char *in, size_t in_len,
	       unsigned char *out, unsigned char *tag)
{
	if (in_len > INT32_MAX || aad_len > INT32_MAX)
		return -1;
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	if (!x)
		return -1;
	int len = 0, total = -1;
	if (EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(x, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(x, NULL, &len, aad, (int)aad_len) != 1 ||
	    EVP_CipherUpdate(x, out, &len, in, (int)in_len) != 1)
		goto done;
	total = len;
	if (!enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1) {
		total = -1;
		goto done;
	}
	if (EVP_CipherFinal_ex(x, out + total, &len) != 1) {
		total = -1;
		goto done;
	}
	total += len;
	if (enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
		total = -1;
done:
	EVP_CIPHER_CTX_free(x);
	return total;
}

int enc_seal(const struct enc_key *k, const char *conversation_id, const char *sender_id,
	     const char *plain, char **out)
{
	*out = NULL;
	if (!k || !conversation_id || !sender_id || !plain)
		return CHATD_ERR_INVALID;
	size_t pl = strlen(plain);
	if (pl > (1u << 30))
		return CHATD_ERR_TOO_LARGE;
	size_t raw_len = NONCE_LEN + pl + TAG_LEN;
	unsigned char *raw = malloc(raw_len);
	size_t aad_len = 0;
	unsigned char *aad = aad_build(conversation_id, sender_id, k->id, &aad_len);
	size_t idl = strlen(k->id);
	size_t cap = PREFIX_LEN + idl + 1 + 4 * ((raw_len + 2) / 3) + 1;
	char *s = malloc(cap);
	int st = CHATD_ERR_NOMEM;
	if (!raw || !aad || !s)
		goto fail;
	st = CHATD_ERR_INTERNAL;
	if (RAND_bytes(raw, NONCE_LEN) != 1)
		goto fail;
	if (gcm(true, k->key, raw, aad, aad_len, (const unsigned char *)plain, pl, raw + NONCE_LEN,
		raw + NONCE_LEN + pl) != (int)pl)
		goto fail;
	memcpy(s, ENC_PREFIX, PREFIX_LEN);
	memcpy(s + PREFIX_LEN, k->id, idl);
	s[PREFIX_LEN + idl] = ':';
	EVP_EncodeBlock((unsigned char *)s + PREFIX_LEN + idl + 1, raw, (int)raw_len);
	free(raw);
	free(aad);
	*out = s;
	return CHATD_OK;
fail:
	free(raw);
	free(aad);
	free(s);
	return st;
}

/* Splits a sealed text: key id [*kid, *kid_len), base64 body at *body. */
static bool split(const char *s, const char **kid, size_t *kid_len, const char **body)
{
	if (!s || strncmp(s, ENC_PREFIX, PREFIX_LEN) != 0)
		return false;
	const char *id = s + PREFIX_LEN;
	const char *colon = strchr(id, ':');
	if (!colon || !enc_key_id_ok(id, (size_t)(colon - id)))
		return false;
	*kid = id;
	*kid_len = (size_t)(colon - id);
	*body = colon + 1;
	return true;
}

bool enc_sealed_key_id(const char *s, char *key_id)
{
	const char *kid, *body;
	size_t kl;
	if (!split(s, &kid, &kl, &body))
		return false;
	memcpy(key_id, kid, kl);
	key_id[kl] = '\0';
	return true;
}

int enc_open(const struct enc_keyring *kr, const char *conversation_id, const char *sender_id,
	     const char *sealed, char **out, char *key_id)
{
	*out = NULL;
	const char *kid, *body;
	size_t kl;
	if (!conversation_id || !sender_id || !split(sealed, &kid, &kl, &body))
		return CHATD_ERR_INVALID;
	if (key_id) {
		memcpy(key_id, kid, kl);
		key_id[kl] = '\0';
	}
	const struct enc_key *k = enc_key_find(kr, kid, kl);
	if (!k)
		return CHATD_ERR_NOT_FOUND;
	size_t bl = strlen(body);
	size_t cap = bl / 4 * 3 + 3;
	unsigned char *raw = malloc(cap);
	if (!raw)
		return CHATD_ERR_NOMEM;
	long n = b64_decode(body, bl, raw, cap);
	if (n < NONCE_LEN + TAG_LEN) {
		free(raw);
		return CHATD_ERR_INVALID;
	}
	size_t ct_len = (size_t)n - NONCE_LEN - TAG_LEN;
	size_t aad_len = 0;
	unsigned char *aad = aad_build(conversation_id, sender_id, k->id, &aad_len);
	char *plain = malloc(ct_len + 1);
	if (!aad || !plain) {
		free(raw);
		free(aad);
		free(plain);
		return CHATD_ERR_NOMEM;
	}
	int got = gcm(false, k->key, raw, aad, aad_len, raw + NONCE_LEN, ct_len,
		      (unsigned char *)plain, raw + NONCE_LEN + ct_len);
	free(raw);
	free(aad);
	/* A NUL inside would truncate silently: not a text we sealed. */
	if (got != (int)ct_len || memchr(plain, '\0', ct_len)) {
		OPENSSL_cleanse(plain, ct_len);
		free(plain);
		return CHATD_ERR_INVALID;
	}
	plain[ct_len] = '\0';
	*out = plain;
	return CHATD_OK;
}
