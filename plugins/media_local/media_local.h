/* media_local.h — the media_local plugin's instance and the pieces its
 * files share (core thread only, except where media_worker.h says).
 *
 *   media_local.c   options, init/fini, upload_begin, check_send, lookup, urls
 *   media_http.c    http_begin, http_put_done and the upload pipeline
 *   media_gc.c      the periodic removal of orphans and stale uploads
 *   media_reseal.c  the background re-encryption of media (GC's last step)
 *   media_sign.c, media_path.c, media_magic.c    pure helpers
 *   media_store.c, media_thumb.c, media_worker.c  files, libvips, the thread
 *   media_plugin.c  the exported descriptor (left out of the unit tests,
 *                   which link the rest next to storage_sqlite's)
 *
 * Storage callbacks: every storage request carries a struct media_req
 * kept on the instance's list; fini frees the ones still out.  Storage
 * never calls back after the core unloads it, which it does after this
 * plugin (core_loop.c: storage stops last) — the same as fanout_online. */
#ifndef MEDIA_LOCAL_H
#define MEDIA_LOCAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "chatd/chatd.h"
#include "media_magic.h"
#include "media_path.h"
#include "media_sign.h"
#include "media_store.h"
#include "media_worker.h"

#define MEDIA_MAGIC 0x4d44494cu              /* "MDIL" */
#define MEDIA_NAME_MAX 255                   /* bytes of a client's file name */
#define MEDIA_URL_MAX (MEDIA_PATH_MAX + 128)
#define MEDIA_RATE_WINDOW_MS 60000
#define MEDIA_GC_BATCH 100                   /* orphans per storage read */
#define MEDIA_GC_BATCHES 10                  /* reads per GC run at most */
#define MEDIA_RESEAL_BATCH 100               /* files re-encrypted per GC run at most */
#define ENC_KEY_ID_MAX_PLUGIN 32             /* a key id's bytes (host.h: 33 with NUL) */

/* An upload between http_begin (PUT) and its final reply. */
struct media_upload {
	struct media_upload *next;
	uint64_t token;
	char media_id[MEDIA_ID_MAX + 1];
	char part[PATH_MAX];
	enum media_type type;
	int64_t size;
	int64_t started_ms;
	bool processing;                     /* the body is in; being checked */
	char hash[MEDIA_HASH_HEX + 1];       /* once checked */
	bool placed;                         /* the content has its final name */
	bool thumb;                          /* a thumbnail exists */
	bool thumb_made;                     /* we made it (for the counter) */
	chatd_media_http_cb cb;              /* http_put_done's */
	void *arg;
};

/* A content whose row is on its way to "ready": GC must not remove its
 * file meanwhile (see media_gc.c). */
struct media_inflight {
	struct media_inflight *next;
	char hash[MEDIA_HASH_HEX + 1];
	int count;
};

struct media_req;

struct media_local {
	uint32_t magic;
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	const struct chatd_storage_ops *st;
	void *st_inst;

	/* options */
	char dir[PATH_MAX - 128];            /* room for the layout's names */
	unsigned char key[MEDIA_KEY_MAX];
	size_t keylen;
	bool allowed[MEDIA_T_COUNT];
	int64_t max_size, quota, per_minute, thumb_size;
	int64_t upload_ttl_ms, download_ttl_ms, orphan_ttl_ms, gc_interval_ms;
	bool thumbs;                         /* libvips is up and thumb_size > 0 */

	struct media_worker *worker;
	struct media_req *reqs;              /* storage requests out */
	struct media_upload *uploads;
	uint64_t next_token;
	struct media_inflight *inflight;

	chatd_timer_id gc_timer;
	struct media_gc *gc;                 /* the run in progress, if any */
	bool reseal_complete;                /* media_reseal.c: nothing left to re-seal */

	chatd_metric_id m_started, m_completed, m_refused, m_bytes, m_gc_removed, m_thumbnails;
	chatd_metric_id m_resealed;
};

/* ---- storage requests (media_local.c) ------------------------------- */

/* The head of every storage request's callback state: the op's own struct
 * starts with it and holds only inline data. */
struct media_req {
	struct media_req *next, **prevp;
	struct media_local *ml;
};

/* A zeroed request of `size` bytes (>= sizeof(struct media_req), the head
 * first) on ml's list; NULL on OOM. */
void *media_req_new(struct media_local *ml, size_t size);
/* Unlink and free. */
void media_req_free(void *req);

/* ---- shared helpers ------------------------------------------------- */

/* The instance behind an op's inst (asserts the magic number). */
struct media_local *media_of(void *inst);
void media_inflight_add(struct media_local *ml, const char *hash);
void media_inflight_del(struct media_local *ml, const char *hash);
bool media_inflight_has(const struct media_local *ml, const char *hash);
struct media_upload *media_upload_find(struct media_local *ml, uint64_t token);
void media_upload_free(struct media_local *ml, struct media_upload *u);
void media_http_free_all(struct media_local *ml);

/* ---- the ops of media_http.c ---------------------------------------- */

int media_http_begin(void *inst, const struct chatd_media_http_req *r, chatd_media_http_cb cb,
		     void *arg);
int media_http_put_done(void *inst, uint64_t upload, bool ok, chatd_media_http_cb cb, void *arg);

/* ---- media_gc.c ----------------------------------------------------- */

/* The GC timer's task (arg: the instance); also callable directly. */
void media_gc_run(void *arg);
/* End the run in progress (log its summary). */
void media_gc_finish(struct media_local *ml);

/* ---- media_reseal.c ------------------------------------------------- */

/* GC's last step: queue a re-seal pass on the worker when encryption is
 * active and files may be left; true when queued (its completion then
 * calls media_gc_finish), false when there is nothing to do. */
bool media_reseal_start(struct media_local *ml);

/* fini: forget the run in progress (its storage requests are freed with
 * the others). */
void media_gc_free(struct media_local *ml);

/* The descriptor (media_local.c); media_plugin.c exports it. */
extern const struct chatd_plugin media_local_plugin;

#endif
