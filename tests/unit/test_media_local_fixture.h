/* test_media_local_fixture.h — media_local running on the stub host over a
 * real storage_sqlite store, with its files in the suite's temporary
 * directory; every op called synchronously (the loop runs until the
 * callback has copied its results).  Used by test_media_local_flow.c and
 * test_media_local_gc.c. */
#ifndef CHATD_TEST_MEDIA_LOCAL_FIXTURE_H
#define CHATD_TEST_MEDIA_LOCAL_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chatd/chatd.h"
#include "sqlite_fixture.h"
#include "../../plugins/media_local/media_local.h"

#define MFX_SECRET "0123456789abcdef0123456789abcdef-test"
#define MFX_UNSET "<unset>"              /* a kv value: leave the key unset */

struct mfx {
	struct store st;
	struct media_local *ml;
	char dir[512];                   /* the media directory */
};

struct up_out {
	int status;
	char id[80], url[512], message[200];
	int64_t expires_at, retry_after_ms;
	bool has_id, has_url, has_message;
};

struct http_out {
	int calls;                       /* callbacks seen (must end at 1) */
	int status;
	char file[PATH_MAX], content_type[64], error[48], message[160];
	bool has_file, has_error;
	int64_t size;
	uint64_t upload;
};

struct ref_out {
	int status;
	bool has_ref, thumbnail;
	char id[80], mime[64];
	int64_t size;
};

/* CUnit suite init/clean: sqlite_suite_init's directory, removed whole. */
int mfx_suite_init(void);
int mfx_suite_clean(void);

/* Stub host with storage_sqlite on g_dir/db and media_local on
 * g_dir/<dir>, with kv (key, value, …, NULL; may be NULL) over the
 * defaults (secret MFX_SECRET; "secret", MFX_UNSET leaves it unset).  Returns media_local's init status (the
 * store is up whatever it is; mfx_down cleans up). */
int mfx_up(struct mfx *f, const char *db, const char *dir, const char *const *kv);
void mfx_down(struct mfx *f);

int mfx_begin(struct mfx *f, const char *user, const char *mime, int64_t size,
	      const char *name, struct up_out *o);
/* http_begin on a URL ("/path?query"); content_length -1: unknown. */
int mfx_http(struct mfx *f, const char *method, const char *url, int64_t content_length,
	     struct http_out *o);
int mfx_put_done(struct mfx *f, uint64_t token, bool ok, struct http_out *o);
/* The gateway's part of a PUT: write data into o->file (O_EXCL, 0600). */
void mfx_write(const struct http_out *o, const void *data, size_t len);
/* begin, PUT, write, put_done: the final HTTP status (201 when stored),
 * or -1 when a step before put_done failed.  id (80 bytes) gets the id. */
int mfx_upload(struct mfx *f, const char *user, const char *mime, const void *data,
	       size_t len, char *id);
int mfx_check_send(struct mfx *f, const char *id, const char *user, struct ref_out *o);
int mfx_lookup(struct mfx *f, const char *id, const char *user, struct ref_out *o);
/* A signed URL made with MFX_SECRET (for expired or odd ones). */
void mfx_sign(const char *method, const char *path, int64_t exp, char *url, size_t cap);
/* An image made with libvips: PNG (with alpha when bands == 4) or JPEG;
 * *len bytes at the returned pointer (g_free it). */
void *mfx_image(const char *fmt, int width, int height, int bands, size_t *len);
/* Files under dir (recursively) whose name ends with suffix ("" = all). */
int mfx_count_files(const char *dir, const char *suffix);

#endif
