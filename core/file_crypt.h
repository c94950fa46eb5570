/* file_crypt.h — encryption at rest of files (media): the sealed-file
 * format, AES-256-GCM in fixed chunks, streamed (decision 61).
 *
 * Layout (integers big-endian):
 *   magic     "\x01" "CMF1"           5 bytes; no accepted media type starts
 *                                     with 0x01 (media_local refuses text
 *                                     that does), so sealed == this prefix
 *   kid_len   1 byte, 1..ENC_KEY_ID_MAX, then the key id
 *   chunk     u32, FC_CHUNK_MIN..FC_CHUNK_MAX plaintext bytes per chunk
 *   size      u64, the plaintext's length
 *   prefix    4 random bytes: chunk nonces are prefix || u64 chunk index
 *   wrap      12-byte nonce || the file's random 32-byte data key sealed
 *             with the key ring's key || 16-byte tag; AAD "chatd.file.v1"
 *             NUL context NUL and every header byte before the wrap
 *   chunks    n = max(1, ceil(size / chunk)); each is its ciphertext (chunk
 *             bytes, the last one the rest) and a 16-byte tag; AAD the whole
 *             header, u64 index and one byte 1 for the last chunk, else 0
 * The file is exactly header + size + 16 n bytes.  `context` is the file's
 * base name, so a sealed file moved or copied over another name, a header
 * byte changed (key id, size), chunks reordered, dropped or appended, all
 * fail to open or to read.
 *
 * Pure (no globals, no logging); every object is used by one thread at a
 * time; any thread. */
#ifndef CHATD_FILE_CRYPT_H
#define CHATD_FILE_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "enc.h"

#define FC_MAGIC "\x01" "CMF1"
#define FC_MAGIC_LEN 5
#define FC_CHUNK_DEFAULT (64 * 1024)
#define FC_CHUNK_MIN 16
#define FC_CHUNK_MAX (4 * 1024 * 1024)
#define FC_TAG_LEN 16
#define FC_HEADER_MAX (FC_MAGIC_LEN + 1 + ENC_KEY_ID_MAX + 4 + 8 + 4 + 12 + ENC_KEY_LEN + 16)

/* True when the first n bytes of a file (n >= FC_MAGIC_LEN) say sealed. */
bool fc_is_sealed(const unsigned char *head, size_t n);

/* Seal the file src with key k into dst atomically: a temporary file next
 * to dst is written, fsynced and renamed over dst, and dst's directory
 * fsynced.  src may be dst (re-sealing in place).  The context is dst's
 * base name.  A src that is sealed already is decrypted as it is read
 * (opened with kr, context src's base name): re-sealing under another
 * key, never sealing twice.  chunk: plaintext bytes per chunk (0 =
 * FC_CHUNK_DEFAULT).  src must not change meanwhile.  Returns CHATD_OK;
 * CHATD_ERR_IO, CHATD_ERR_INVALID (a sealed src that does not open or
 * fails authentication), CHATD_ERR_NOT_FOUND (a sealed src's key is not
 * in kr), CHATD_ERR_NOMEM, CHATD_ERR_INTERNAL, all with err set. */
int fc_seal_file(const struct enc_key *k, const struct enc_keyring *kr, const char *src,
		 const char *dst, uint32_t chunk, char *err, size_t errlen);

/* The key id of the sealed file at path into key_id (ENC_KEY_ID_MAX + 1
 * bytes).  CHATD_OK; CHATD_ERR_NOT_FOUND when the file is not sealed (a
 * plaintext file); CHATD_ERR_INVALID when its header is malformed;
 * CHATD_ERR_IO when it cannot be read. */
int fc_file_key_id(const char *path, char *key_id);

struct fc_reader;

/* Open a sealed file for reading: fd (borrowed; the reader uses pread, so
 * its offset does not matter) must stay open until fc_close.  context: the
 * base name the file was sealed under.  Checks the header and the file's
 * size, and unwraps the data key.  Returns CHATD_OK; CHATD_ERR_NOT_FOUND
 * when the key id is not in kr (key_id, ENC_KEY_ID_MAX + 1 bytes, gets it
 * when not NULL); CHATD_ERR_INVALID when malformed, the wrong size, or
 * the wrap fails authentication (tampered header, wrong key, moved file);
 * CHATD_ERR_IO; CHATD_ERR_NOMEM. */
int fc_open(const struct enc_keyring *kr, int fd, const char *context, struct fc_reader **out,
	    char *key_id);

/* The plaintext's length, and its chunk size. */
int64_t fc_plain_size(const struct fc_reader *r);
uint32_t fc_chunk_size(const struct fc_reader *r);

/* The next chunk's plaintext into out (fc_chunk_size bytes of room);
 * *len its length.  CHATD_OK with *len > 0, or *len == 0 at the end;
 * CHATD_ERR_INVALID when the chunk fails authentication (nothing usable
 * in out; the reader stays failed); CHATD_ERR_IO. */
int fc_read(struct fc_reader *r, unsigned char *out, size_t *len);

/* Frees r (and wipes its key).  NULL is fine. */
void fc_close(struct fc_reader *r);

#endif
