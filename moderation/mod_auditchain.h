/* mod_auditchain.h — the audit log's SHA-256 hash chain.
 *
 * Entry i stores prev = hash of entry i-1 (all zeros for entry 0, the
 * genesis) and hash = SHA-256(prev || entry bytes).  Rewriting, removing or
 * reordering any stored entry breaks the chain from that entry on, which
 * mod_audit_verify() (and `chatctl audit verify`) reports.
 *
 * Canonical bytes are the CALLER's business: the bytes hashed must be a
 * deterministic serialization of the entry (fixed field order, no
 * whitespace or float formatting that could vary between writers and
 * verifiers, e.g. length-prefixed fields).  Hashing a re-encoded JSON
 * object whose key order can change will report false tampering.
 *
 * Uses OpenSSL libcrypto's EVP API.  Thread-safe (no shared state).
 * Ownership: every buffer is borrowed for the call. */
#ifndef CHATD_MOD_AUDITCHAIN_H
#define CHATD_MOD_AUDITCHAIN_H

#include <stddef.h>

#define MOD_AUDIT_HASH_LEN 32
#define MOD_AUDIT_HEX_LEN (2 * MOD_AUDIT_HASH_LEN) /* without the NUL */

struct mod_audit_entry {
	const unsigned char *data;      /* canonical entry bytes, borrowed */
	size_t len;
	unsigned char prev[MOD_AUDIT_HASH_LEN]; /* stored link to entry i-1 */
	unsigned char hash[MOD_AUDIT_HASH_LEN]; /* stored hash of this entry */
};

/* out = SHA-256(prev[32] || entry[0..len)).  prev NULL means the genesis
 * (32 zero bytes); entry may be NULL when len == 0.  out may alias prev.
 * Returns CHATD_OK, CHATD_ERR_INVALID, or CHATD_ERR_INTERNAL (libcrypto). */
int mod_audit_hash(const unsigned char prev[MOD_AUDIT_HASH_LEN],
		   const unsigned char *entry, size_t len,
		   unsigned char out[MOD_AUDIT_HASH_LEN]);

/* Plain SHA-256 of data (for test vectors and content digests). */
int mod_audit_sha256(const unsigned char *data, size_t len,
		     unsigned char out[MOD_AUDIT_HASH_LEN]);

/* Check entries[0..n): entry i's prev must equal entry i-1's stored hash
 * (zeros for i = 0) and its stored hash must equal mod_audit_hash(prev,
 * data).  Returns CHATD_OK with *first_bad = n when the chain holds;
 * CHATD_ERR_INVALID with *first_bad = index of the first entry that fails
 * either test; CHATD_ERR_INVALID with *first_bad = n on a bad argument;
 * CHATD_ERR_INTERNAL (libcrypto failure, *first_bad = the entry). */
int mod_audit_verify(const struct mod_audit_entry *entries, size_t n,
		     size_t *first_bad);

/* Lowercase hex of in[0..len) into out; needs outlen >= 2 * len + 1 and
 * NUL-terminates.  Returns CHATD_OK or CHATD_ERR_TOO_LARGE/INVALID. */
int mod_audit_hex_encode(const unsigned char *in, size_t len,
			 char *out, size_t outlen);

/* Decode hexlen hex digits (either case, even count) into out[0..outlen);
 * *written (may be NULL) = bytes written.  Returns CHATD_OK,
 * CHATD_ERR_INVALID (odd length, non-hex digit) or CHATD_ERR_TOO_LARGE
 * (out too small). */
int mod_audit_hex_decode(const char *hex, size_t hexlen,
			 unsigned char *out, size_t outlen, size_t *written);

#endif
