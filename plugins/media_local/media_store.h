/* media_store.h — the files of media_local (worker thread, except the path
 * builders, which run anywhere).
 *
 * Layout under the media directory `dir` (directories mode 0700):
 *   tmp/<id>.<16 hex>.part   an upload being received (the gateway writes it)
 *   <h0h1>/<hash>            a content: one file per distinct content,
 *                            hash = its SHA-256 in lowercase hex, h0h1 = the
 *                            first two digits
 *   <h0h1>/<hash>.thumb      its thumbnail (JPEG), when one was made
 *   tmp/<id>.<16 hex>.thumb.part   a thumbnail being made (encrypted mode)
 * Contents are checked and fsynced before they get their final name, so a
 * file under its hash is always whole.
 *
 * With encryption at rest (the host's file_seal_key is set; decision 61)
 * contents and thumbnails are sealed by the host (core/file_crypt.h) into
 * their final names, and the name is not the plaintext's SHA-256 (which
 * would let anyone holding a known file confirm it is stored) but
 * HMAC-SHA-256 keyed with the plugin's secret over "chatd.media.name.v1"
 * NUL and the content (media_store_check_keyed).  Files stored before
 * keep their SHA-256 names (the rows hold the names). */
#ifndef MEDIA_STORE_H
#define MEDIA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "media_magic.h"

#define MEDIA_HASH_HEX 64

/* Create dir and dir/tmp (and parents) if missing; both must be writable
 * directories.  CHATD_OK or CHATD_ERR_IO with err set. */
int media_store_init(const char *dir, char *err, size_t errlen);

/* out = dir/tmp/<id>.<16 random hex>.part.  CHATD_OK, CHATD_ERR_TOO_LARGE
 * (cap), CHATD_ERR_IO (no randomness). */
int media_store_part_path(const char *dir, const char *id, char *out, size_t cap);
/* out = dir/<h0h1>/<hash>, with ".thumb" for the thumbnail. */
int media_store_file_path(const char *dir, const char *hash, bool thumb, char *out, size_t cap);

enum media_check {
	MEDIA_CHECK_OK = 0,
	MEDIA_CHECK_MISMATCH,         /* the content is not of its declared type */
	MEDIA_CHECK_SIZE,             /* the file does not have the declared size */
	MEDIA_CHECK_IO,               /* it could not be read */
};

/* Read the whole upload at `part`: it must be a regular file of `size`
 * bytes whose content matches `type`.  OK: hash set, the file fsynced and
 * kept; otherwise the file is removed.  err says why (not for OK). */
enum media_check media_store_check(const char *part, enum media_type type, int64_t size,
				   char hash[MEDIA_HASH_HEX + 1], char *err, size_t errlen);

/* The same, but hash = HMAC-SHA-256(name_key, "chatd.media.name.v1" NUL
 * content) when name_key is not NULL (see the top). */
enum media_check media_store_check_keyed(const char *part, enum media_type type, int64_t size,
					 const unsigned char *name_key, size_t keylen,
					 char hash[MEDIA_HASH_HEX + 1], char *err, size_t errlen);

/* Create dir/<h0h1> if missing.  CHATD_OK or CHATD_ERR_IO (err set). */
int media_store_subdir(const char *dir, const char *hash, char *err, size_t errlen);

/* Give the checked upload `part` its final name dir/<h0h1>/<hash>.  When
 * that file exists already (same content), part is removed instead and
 * *existed set.  CHATD_OK or CHATD_ERR_IO (err set; part left in place). */
int media_store_place(const char *dir, const char *part, const char *hash, bool *existed,
		      char *err, size_t errlen);

/* Remove the content of hash and its thumbnail (absent ones are fine).
 * Returns how many files went. */
int media_store_unlink(const char *dir, const char *hash);

/* Remove the *.part files of dir/tmp last modified before cutoff_ms (ms
 * since the epoch), except those whose full paths are in keep.  Returns
 * how many went. */
int media_store_sweep(const char *dir, int64_t cutoff_ms, const char *const *keep, size_t n_keep);

/* A regular file is at path. */
bool media_store_exists(const char *path);

#endif
