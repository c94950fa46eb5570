/* media_sign.c — HMAC-SHA256 URL signatures (see media_sign.h). */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "chatd/status.h"
#include "media_sign.h"

/* The signed bytes: method "\n" path "\n" exp.  Returns their length, or
 * 0 when an input is bad. */
static size_t signed_text(char *buf, size_t cap, const char *method, const char *path,
			  int64_t exp)
{
	if (!method || !*method || !path || !*path || exp < 0 ||
	    strnlen(path, MEDIA_PATH_MAX + 1) > MEDIA_PATH_MAX || strnlen(method, 9) > 8)
		return 0;
	int n = snprintf(buf, cap, "%s\n%s\n%lld", method, path, (long long)exp);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool mac(const unsigned char *key, size_t keylen, const char *method, const char *path,
		int64_t exp, unsigned char out[32])
{
	char text[MEDIA_PATH_MAX + 64];
	size_t len = signed_text(text, sizeof(text), method, path, exp);
	unsigned int outlen = 0;
	if (!key || keylen == 0 || keylen > MEDIA_KEY_MAX || len == 0)
		return false;
	return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)text, len, out,
		    &outlen) != NULL && outlen == 32;
}

int media_sign(const unsigned char *key, size_t keylen, const char *method, const char *path,
	       int64_t exp, char hex[MEDIA_SIG_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char m[32];
	if (!mac(key, keylen, method, path, exp, m))
		return CHATD_ERR_INVALID;
	for (size_t i = 0; i < sizeof(m); i++) {
		hex[2 * i] = digits[m[i] >> 4];
		hex[2 * i + 1] = digits[m[i] & 15];
	}
	hex[MEDIA_SIG_HEX] = '\0';
	return CHATD_OK;
}

int media_sign_url(const unsigned char *key, size_t keylen, const char *method, const char *path,
		   int64_t exp, char *url, size_t cap)
{
	char sig[MEDIA_SIG_HEX + 1];
	int st = media_sign(key, keylen, method, path, exp, sig);
	if (st < 0)
		return st;
	int n = snprintf(url, cap, "%s?exp=%lld&sig=%s", path, (long long)exp, sig);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			url[0] = '\0';
		return CHATD_ERR_TOO_LARGE;
	}
	return CHATD_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;   /* uppercase too: we never write it */
}

enum media_sig_check media_sign_check(const unsigned char *key, size_t keylen,
				      const char *method, const char *path, int64_t exp,
				      const char *sig, int64_t now)
{
	unsigned char want[32], got[32];
	if (!sig || strnlen(sig, MEDIA_SIG_HEX + 1) != MEDIA_SIG_HEX ||
	    !mac(key, keylen, method, path, exp, want))
		return MEDIA_SIG_BAD;
	for (size_t i = 0; i < sizeof(got); i++) {
		int hi = hexval(sig[2 * i]), lo = hexval(sig[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return MEDIA_SIG_BAD;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	/* Constant time: how much of a guess matched must not show. */
	if (CRYPTO_memcmp(want, got, sizeof(want)) != 0)
		return MEDIA_SIG_BAD;
	return now > exp ? MEDIA_SIG_EXPIRED : MEDIA_SIG_OK;
}
