/* mod_auditchain.c — SHA-256 chain over audit entries.  See the header. */
#include "mod_auditchain.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "chatd/status.h"

static const unsigned char genesis[MOD_AUDIT_HASH_LEN];

int mod_audit_hash(const unsigned char prev[MOD_AUDIT_HASH_LEN],
		   const unsigned char *entry, size_t len,
		   unsigned char out[MOD_AUDIT_HASH_LEN])
{
	if (!out || (!entry && len > 0))
		return CHATD_ERR_INVALID;
	unsigned char p[MOD_AUDIT_HASH_LEN];
	/* Copy first so out may alias prev. */
	memcpy(p, prev ? prev : genesis, sizeof(p));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return CHATD_ERR_INTERNAL;
	unsigned int olen = 0;
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, p, sizeof(p)) == 1 &&
		 (len == 0 || EVP_DigestUpdate(ctx, entry, len) == 1) &&
		 EVP_DigestFinal_ex(ctx, out, &olen) == 1 &&
		 olen == MOD_AUDIT_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? CHATD_OK : CHATD_ERR_INTERNAL;
}

int mod_audit_sha256(const unsigned char *data, size_t len,
		     unsigned char out[MOD_AUDIT_HASH_LEN])
{
	if (!out || (!data && len > 0))
		return CHATD_ERR_INVALID;
	unsigned int olen = 0;
	static const unsigned char empty[1];
	if (EVP_Digest(len ? data : empty, len, out, &olen, EVP_sha256(),
		       NULL) != 1 || olen != MOD_AUDIT_HASH_LEN)
		return CHATD_ERR_INTERNAL;
	return CHATD_OK;
}

int mod_audit_verify(const struct mod_audit_entry *entries, size_t n,
		     size_t *first_bad)
{
	size_t dummy;
	if (!first_bad)
		first_bad = &dummy;
	*first_bad = n;
	if (!entries && n > 0)
		return CHATD_ERR_INVALID;
	const unsigned char *expect_prev = genesis;
	for (size_t i = 0; i < n; i++) {
		const struct mod_audit_entry *e = &entries[i];
		unsigned char h[MOD_AUDIT_HASH_LEN];
		if (CRYPTO_memcmp(e->prev, expect_prev, MOD_AUDIT_HASH_LEN) ||
		    (!e->data && e->len > 0)) {
			*first_bad = i;
			return CHATD_ERR_INVALID;
		}
		if (mod_audit_hash(e->prev, e->data, e->len, h) != CHATD_OK) {
			*first_bad = i;
			return CHATD_ERR_INTERNAL;
		}
		if (CRYPTO_memcmp(h, e->hash, MOD_AUDIT_HASH_LEN)) {
			*first_bad = i;
			return CHATD_ERR_INVALID;
		}
		expect_prev = e->hash;
	}
	return CHATD_OK;
}

int mod_audit_hex_encode(const unsigned char *in, size_t len,
			 char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	if (!out || (!in && len > 0))
		return CHATD_ERR_INVALID;
	if (len > (SIZE_MAX - 1) / 2 || outlen < 2 * len + 1)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
	return CHATD_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mod_audit_hex_decode(const char *hex, size_t hexlen,
			 unsigned char *out, size_t outlen, size_t *written)
{
	if (written)
		*written = 0;
	if ((!hex && hexlen > 0) || (!out && outlen > 0) || hexlen % 2)
		return CHATD_ERR_INVALID;
	if (hexlen / 2 > outlen)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return CHATD_ERR_INVALID;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	if (written)
		*written = hexlen / 2;
	return CHATD_OK;
}
