/* enc.h — encryption at rest of message text: a key ring and the sealed
 * (stored) form of one text, AES-256-GCM through OpenSSL.
 *
 * Sealed form, all ASCII after the first byte:
 *   "\x01" "ce1:" KEYID ":" BASE64(nonce[12] || ciphertext || tag[16]), padded
 * U+0001 never begins a client's text (the core refuses it), so a stored
 * text is sealed exactly when its first byte is 0x01, and rows stored before
 * encryption was turned on read as they are.  The AAD binds the ciphertext
 * to where it belongs: "chatd.msg.v1" NUL conversation_id NUL sender_id NUL
 * KEYID, so a sealed text moved to another conversation or sender (or
 * relabelled with another key id) fails to open.
 *
 * Pure functions (no state, no logging), core thread or any thread. */
#ifndef CHATD_ENC_H
#define CHATD_ENC_H

#include <stdbool.h>
#include <stddef.h>

#define ENC_KEY_LEN 32
#define ENC_KEY_ID_MAX 32        /* bytes, [A-Za-z0-9_-] */
#define ENC_MARK '\x01'
#define ENC_PREFIX "\x01" "ce1:"

struct enc_key {
	char id[ENC_KEY_ID_MAX + 1];
	unsigned char key[ENC_KEY_LEN];
};

/* Keys by id; active (may be NULL: decrypt only) points into keys. */
struct enc_keyring {
	struct enc_key *keys;
	size_t n;
	const struct enc_key *active;
};

/* A key id: 1..ENC_KEY_ID_MAX bytes of [A-Za-z0-9_-]. */
bool enc_key_id_ok(const char *s, size_t len);

/* Parses key material: 64 hex digits, or base64 (standard or URL-safe,
 * padding optional) of exactly 32 bytes, or "env:NAME" (the environment
 * variable NAME holds one of those).  On failure returns false with a short
 * reason in why (never the key). */
bool enc_key_parse(const char *text, unsigned char out[ENC_KEY_LEN], char *why, size_t whylen);

const struct enc_key *enc_key_find(const struct enc_keyring *kr, const char *id, size_t len);

/* True when the stored text s is in sealed form (its first byte). */
static inline bool enc_is_sealed(const char *s) { return s && s[0] == ENC_MARK; }

/* Seals plain with key k; *out (owned by the caller, free()) is the sealed
 * form.  Returns CHATD_OK, CHATD_ERR_NOMEM or CHATD_ERR_INTERNAL. */
int enc_seal(const struct enc_key *k, const char *conversation_id, const char *sender_id,
	     const char *plain, char **out);

/* Opens a sealed text.  *out (owned, free()) is the plaintext.  Returns
 * CHATD_OK; CHATD_ERR_NOT_FOUND when its key id is not in the ring
 * (key_id, at least ENC_KEY_ID_MAX + 1 bytes, gets the id when not NULL);
 * CHATD_ERR_INVALID when it is not well formed or fails authentication
 * (tampered, wrong key, or bound to another conversation or sender). */
int enc_open(const struct enc_keyring *kr, const char *conversation_id, const char *sender_id,
	     const char *sealed, char **out, char *key_id);

/* The key id of a sealed text into key_id (ENC_KEY_ID_MAX + 1 bytes);
 * false when s is not sealed or malformed. */
bool enc_sealed_key_id(const char *s, char *key_id);

#endif
