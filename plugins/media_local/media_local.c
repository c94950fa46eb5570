/* media_local.c — the "local" media plugin: uploads on local disk, served
 * through HMAC-signed expiring URLs.  This file: options, init/fini, and
 * the ops that answer the core's commands (upload_begin, check_send,
 * lookup, urls).  See media_local.h for the rest.
 *
 * Metadata lives in storage (media_* ops), files under `dir`
 * (media_store.h).  Choices the interface leaves open:
 *   - upload_begin answers every refusal through cb with a message for the
 *     client, and returns a negative status only for bad arguments or OOM;
 *     the checks run in this order: type, size, name, then quota and rate
 *     (one storage read: the quota is checked, not reserved, so uploads
 *     begun at the same instant may pass it together);
 *   - rate_limited's retry_after_ms is the whole window (60 s): storage
 *     gives the count in the window, not when its oldest upload leaves it;
 *   - download URLs expire download_url_ttl_s from now rounded up to the
 *     minute, so the URLs of a media repeat for a minute and caches work;
 *   - check_send and lookup answer NOT_FOUND for an id we could never
 *     have made. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "media_local.h"
#include "media_thumb.h"

#define DEFAULT_TYPES "image/jpeg,image/png,image/webp,image/gif,application/pdf,text/plain," \
		      "audio/mpeg,audio/ogg,video/mp4"

static const struct chatd_option options[] = {
	{ .key = "dir", .type = CHATD_OPT_STRING, .def = "media",
	  .help = "directory of the media files (created at start, relative to the working "
		  "directory); keep it outside the web root: files are served only through "
		  "signed URLs" },
	{ .key = "secret", .type = CHATD_OPT_STRING, .secret = true,
	  .help = "HMAC key of the media URLs, at least 32 characters; unset: a random key "
		  "per start (URLs die on restart, and nodes cannot share URLs)" },
	{ .key = "max_size", .type = CHATD_OPT_INT, .def = "10485760", .min = 1,
	  .max = 17179869184LL, .help = "largest upload in bytes" },
	{ .key = "allowed_types", .type = CHATD_OPT_STRING, .def = DEFAULT_TYPES,
	  .help = "accepted media types, comma separated; each must be one of the default "
		  "list (the types whose content media_local can check)" },
	{ .key = "upload_url_ttl_s", .type = CHATD_OPT_INT, .def = "600", .min = 10, .max = 86400,
	  .help = "how long an upload URL is valid" },
	{ .key = "download_url_ttl_s", .type = CHATD_OPT_INT, .def = "3600", .min = 10,
	  .max = 604800, .help = "how long a download URL is valid (rounded up to the minute)" },
	{ .key = "orphan_ttl_s", .type = CHATD_OPT_INT, .def = "86400", .min = 60,
	  .max = 31536000, .help = "uploads no message refers to are removed after this long "
				   "(at least upload_url_ttl_s)" },
	{ .key = "gc_interval_s", .type = CHATD_OPT_INT, .def = "600", .min = 1, .max = 86400,
	  .help = "how often orphans and abandoned uploads are removed" },
	{ .key = "quota_bytes", .type = CHATD_OPT_INT, .def = "104857600", .min = 1,
	  .max = 1LL << 50, .help = "total bytes of one user's media (pending uploads count)" },
	{ .key = "uploads_per_minute", .type = CHATD_OPT_INT, .def = "20", .min = 1,
	  .max = 1000000, .help = "uploads one user may begin per minute" },
	{ .key = "thumbnail_size", .type = CHATD_OPT_INT, .def = "256", .min = 0, .max = 4096,
	  .help = "longer side of JPEG/PNG/WebP thumbnails in pixels; 0: no thumbnails" },
	{ .key = NULL },
};

struct media_local *media_of(void *inst)
{
	struct media_local *ml = inst;
	assert(ml && ml->magic == MEDIA_MAGIC);
	return ml;
}

/* ---- storage requests ---------------------------------------------- */

void *media_req_new(struct media_local *ml, size_t size)
{
	struct media_req *r = calloc(1, size);
	if (!r)
		return NULL;
	r->ml = ml;
	r->next = ml->reqs;
	r->prevp = &ml->reqs;
	if (ml->reqs)
		ml->reqs->prevp = &r->next;
	ml->reqs = r;
	return r;
}

void media_req_free(void *req)
{
	struct media_req *r = req;
	if (!r)
		return;
	*r->prevp = r->next;
	if (r->next)
		r->next->prevp = r->prevp;
	free(r);
}

/* ---- in-flight contents -------------------------------------------- */

void media_inflight_add(struct media_local *ml, const char *hash)
{
	for (struct media_inflight *f = ml->inflight; f; f = f->next) {
		if (strcmp(f->hash, hash) == 0) {
			f->count++;
			return;
		}
	}
	struct media_inflight *f = calloc(1, sizeof(*f));
	if (!f)
		return;   /* GC may then remove a file a ready row needs: logged at ready */
	snprintf(f->hash, sizeof(f->hash), "%s", hash);
	f->count = 1;
	f->next = ml->inflight;
	ml->inflight = f;
}

void media_inflight_del(struct media_local *ml, const char *hash)
{
	for (struct media_inflight **p = &ml->inflight; *p; p = &(*p)->next) {
		struct media_inflight *f = *p;
		if (strcmp(f->hash, hash) == 0) {
			if (--f->count == 0) {
				*p = f->next;
				free(f);
			}
			return;
		}
	}
}

bool media_inflight_has(const struct media_local *ml, const char *hash)
{
	for (const struct media_inflight *f = ml->inflight; f; f = f->next)
		if (strcmp(f->hash, hash) == 0)
			return true;
	return false;
}

/* ---- upload_begin -------------------------------------------------- */

struct begin_req {
	struct media_req r;
	chatd_media_upload_cb cb;
	void *arg;
	char user[CHATD_ID_MAX + 1];
	enum media_type type;
	char name[MEDIA_NAME_MAX + 1];
	bool has_name;
	int64_t size;
	char id[MEDIA_ID_MAX + 1];
};

static void refuse(struct media_local *ml, chatd_media_upload_cb cb, void *arg, int status,
		   int64_t retry_after_ms, const char *message)
{
	struct chatd_media_upload u = { .retry_after_ms = retry_after_ms, .message = message };
	ml->host->metric_add(ml->h, ml->m_refused, 1);
	cb(arg, status, &u);
}

/* "f" + 32 random lowercase hex digits: 128 bits, never guessed. */
static int new_media_id(char out[MEDIA_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	ssize_t n;
	do {
		n = getrandom(b, sizeof(b), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return CHATD_ERR_IO;
	out[0] = 'f';
	for (size_t i = 0; i < sizeof(b); i++) {
		out[1 + 2 * i] = hex[b[i] >> 4];
		out[2 + 2 * i] = hex[b[i] & 15];
	}
	out[1 + 2 * sizeof(b)] = '\0';
	return CHATD_OK;
}

static void begin_put_cb(void *arg, int status)
{
	struct begin_req *b = arg;
	struct media_local *ml = b->r.ml;
	if (status != CHATD_OK) {
		/* No user id above debug: log lines carry hashed ids only. */
		ml->host->log(ml->h, CHATD_LOG_WARN, "media.put_failed", "an upload was refused: %s",
			      chatd_strerror(status));
		ml->host->log(ml->h, CHATD_LOG_DEBUG, "media.put_failed.detail",
			      "the uploader was %s", b->user);
		refuse(ml, b->cb, b->arg, CHATD_ERR_UNAVAILABLE, 0, "media storage unavailable");
		media_req_free(b);
		return;
	}
	char path[MEDIA_PATH_MAX], url[MEDIA_URL_MAX];
	int64_t exp = ml->host->now_ms() + ml->upload_ttl_ms;
	snprintf(path, sizeof(path), "/media/%s", b->id);
	if (media_sign_url(ml->key, ml->keylen, "PUT", path, exp, url, sizeof(url)) != CHATD_OK) {
		refuse(ml, b->cb, b->arg, CHATD_ERR_UNAVAILABLE, 0, "cannot sign the upload URL");
		media_req_free(b);
		return;
	}
	struct chatd_media_upload u = { .media_id = b->id, .upload_url = url, .expires_at = exp };
	ml->host->metric_add(ml->h, ml->m_started, 1);
	b->cb(b->arg, CHATD_OK, &u);
	media_req_free(b);
}

static void begin_usage_cb(void *arg, int status, int64_t bytes, int64_t count)
{
	struct begin_req *b = arg;
	struct media_local *ml = b->r.ml;
	char msg[160];
	if (status != CHATD_OK) {
		refuse(ml, b->cb, b->arg, CHATD_ERR_UNAVAILABLE, 0, "media storage unavailable");
		media_req_free(b);
		return;
	}
	if (bytes > ml->quota - b->size) {
		snprintf(msg, sizeof(msg), "upload quota exceeded: %lld of %lld bytes used",
			 (long long)bytes, (long long)ml->quota);
		refuse(ml, b->cb, b->arg, CHATD_ERR_TOO_LARGE, 0, msg);
		media_req_free(b);
		return;
	}
	if (count >= ml->per_minute) {
		snprintf(msg, sizeof(msg), "too many uploads: at most %lld per minute",
			 (long long)ml->per_minute);
		refuse(ml, b->cb, b->arg, CHATD_ERR_RATE_LIMITED, MEDIA_RATE_WINDOW_MS, msg);
		media_req_free(b);
		return;
	}
	int st = new_media_id(b->id);
	struct chatd_media_row row = {
		.media_id = b->id, .owner_id = b->user, .mime = media_type_mime(b->type),
		.name = b->has_name ? b->name : NULL, .size = b->size,
		.created_at = ml->host->now_ms(),
	};
	if (st == CHATD_OK)
		st = ml->st->media_put(ml->st_inst, &row, begin_put_cb, b);
	if (st != CHATD_OK) {
		refuse(ml, b->cb, b->arg, CHATD_ERR_UNAVAILABLE, 0, "media storage unavailable");
		media_req_free(b);
	}
}

static int upload_begin(void *inst, const char *user_id, const char *mime, int64_t size,
			const char *name, chatd_media_upload_cb cb, void *arg)
{
	struct media_local *ml = media_of(inst);
	if (!cb || !user_id || !*user_id || strnlen(user_id, CHATD_ID_MAX + 1) > CHATD_ID_MAX)
		return CHATD_ERR_INVALID;
	char msg[160];
	enum media_type t = media_type_of(mime);
	if (t == MEDIA_T_NONE || !ml->allowed[t]) {
		snprintf(msg, sizeof(msg), "media type not allowed: %.64s", mime ? mime : "(none)");
		refuse(ml, cb, arg, CHATD_ERR_INVALID, 0, msg);
		return CHATD_OK;
	}
	if (size < 1) {
		refuse(ml, cb, arg, CHATD_ERR_INVALID, 0, "size must be at least 1 byte");
		return CHATD_OK;
	}
	if (size > ml->max_size) {
		snprintf(msg, sizeof(msg), "file too large: %lld bytes, the maximum is %lld",
			 (long long)size, (long long)ml->max_size);
		refuse(ml, cb, arg, CHATD_ERR_TOO_LARGE, 0, msg);
		return CHATD_OK;
	}
	if (name && strnlen(name, MEDIA_NAME_MAX + 1) > MEDIA_NAME_MAX) {
		snprintf(msg, sizeof(msg), "name too long: at most %d bytes", MEDIA_NAME_MAX);
		refuse(ml, cb, arg, CHATD_ERR_INVALID, 0, msg);
		return CHATD_OK;
	}
	struct begin_req *b = media_req_new(ml, sizeof(*b));
	if (!b)
		return CHATD_ERR_NOMEM;
	b->cb = cb;
	b->arg = arg;
	snprintf(b->user, sizeof(b->user), "%s", user_id);
	b->type = t;
	b->has_name = name != NULL;
	snprintf(b->name, sizeof(b->name), "%s", name ? name : "");
	b->size = size;
	int st = ml->st->media_usage(ml->st_inst, user_id,
				     ml->host->now_ms() - MEDIA_RATE_WINDOW_MS, begin_usage_cb, b);
	if (st != CHATD_OK) {
		media_req_free(b);
		return st;
	}
	return CHATD_OK;
}

/* ---- check_send, lookup -------------------------------------------- */

struct ref_req {
	struct media_req r;
	chatd_media_ref_cb cb;
	void *arg;
	bool lookup;
	char id[MEDIA_ID_MAX + 1];
	char user[CHATD_ID_MAX + 1];
	char mime[64];
	int64_t size;
	bool thumb, ready;
};

static void ref_answer(struct ref_req *q, int status)
{
	struct chatd_media_ref m = {
		.media_id = q->id, .mime = q->mime, .size = q->size, .thumbnail = q->thumb,
	};
	q->cb(q->arg, status, status == CHATD_OK ? &m : NULL);
	media_req_free(q);
}

static void ref_access_cb(void *arg, int status, int64_t yes)
{
	struct ref_req *q = arg;
	if (status != CHATD_OK)
		ref_answer(q, status);
	else
		ref_answer(q, yes == 1 && q->ready ? CHATD_OK : CHATD_ERR_NOT_FOUND);
}

static void ref_get_cb(void *arg, int status, const struct chatd_media_row *row)
{
	struct ref_req *q = arg;
	struct media_local *ml = q->r.ml;
	if (status != CHATD_OK) {
		ref_answer(q, status);
		return;
	}
	snprintf(q->mime, sizeof(q->mime), "%s", row->mime);
	q->size = row->size;
	q->thumb = row->thumbnail;
	q->ready = row->ready_at != 0;
	if (strcmp(row->owner_id, q->user) == 0) {
		ref_answer(q, q->ready ? CHATD_OK : CHATD_ERR_INVALID);
		return;
	}
	/* Someone else's: never for a send; for a lookup, when a message
	 * they can see carries it. */
	if (!q->lookup) {
		ref_answer(q, CHATD_ERR_NOT_FOUND);
		return;
	}
	int st = ml->st->media_access(ml->st_inst, q->id, q->user, ref_access_cb, q);
	if (st != CHATD_OK)
		ref_answer(q, st);
}

static int ref_start(void *inst, const char *media_id, const char *user_id, bool lookup,
		     chatd_media_ref_cb cb, void *arg)
{
	struct media_local *ml = media_of(inst);
	if (!cb || !user_id || !*user_id || strnlen(user_id, CHATD_ID_MAX + 1) > CHATD_ID_MAX)
		return CHATD_ERR_INVALID;
	if (!media_id_valid(media_id)) {
		cb(arg, CHATD_ERR_NOT_FOUND, NULL);
		return CHATD_OK;
	}
	struct ref_req *q = media_req_new(ml, sizeof(*q));
	if (!q)
		return CHATD_ERR_NOMEM;
	q->cb = cb;
	q->arg = arg;
	q->lookup = lookup;
	snprintf(q->id, sizeof(q->id), "%s", media_id);
	snprintf(q->user, sizeof(q->user), "%s", user_id);
	int st = ml->st->media_get(ml->st_inst, media_id, ref_get_cb, q);
	if (st != CHATD_OK)
		media_req_free(q);
	return st;
}

static int check_send(void *inst, const char *media_id, const char *user_id,
		      chatd_media_ref_cb cb, void *arg)
{
	return ref_start(inst, media_id, user_id, false, cb, arg);
}

static int lookup(void *inst, const char *media_id, const char *user_id, chatd_media_ref_cb cb,
		  void *arg)
{
	return ref_start(inst, media_id, user_id, true, cb, arg);
}

/* ---- urls ---------------------------------------------------------- */

static int urls(void *inst, const struct chatd_media_ref *m, char *url, size_t url_cap,
		char *thumb, size_t thumb_cap)
{
	struct media_local *ml = media_of(inst);
	if (!m || !url || !thumb || !media_id_valid(m->media_id))
		return CHATD_ERR_INVALID;
	int64_t exp = ml->host->now_ms() + ml->download_ttl_ms;
	exp = (exp + 59999) / 60000 * 60000;
	char path[MEDIA_PATH_MAX];
	snprintf(path, sizeof(path), "/media/%s", m->media_id);
	int st = media_sign_url(ml->key, ml->keylen, "GET", path, exp, url, url_cap);
	if (st != CHATD_OK)
		return st;
	if (thumb_cap == 0)
		return CHATD_ERR_TOO_LARGE;
	thumb[0] = '\0';
	if (!m->thumbnail)
		return CHATD_OK;
	snprintf(path, sizeof(path), "/media/%s/thumb", m->media_id);
	return media_sign_url(ml->key, ml->keylen, "GET", path, exp, thumb, thumb_cap);
}

/* ---- init / fini --------------------------------------------------- */

static void media_fini(void *inst);

/* Fill ml->allowed from the comma list; false (err set) on an unknown or
 * empty list. */
static bool parse_types(struct media_local *ml, const char *list, char *err, size_t errlen)
{
	bool any = false;
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == 0)
			break;
		char one[64];
		snprintf(one, sizeof(one), "%.*s", (int)(n < 63 ? n : 63), p);
		enum media_type t = n < 63 ? media_type_of(one) : MEDIA_T_NONE;
		if (t == MEDIA_T_NONE) {
			snprintf(err, errlen, "allowed_types: \"%s\" is not a type media_local can "
				 "check (%s)", one, DEFAULT_TYPES);
			return false;
		}
		ml->allowed[t] = any = true;
		p += n;
		while (*p && *p != ',')
			p++;
	}
	if (!any)
		snprintf(err, errlen, "allowed_types: empty");
	return any;
}

static int read_options(struct media_local *ml, char *err, size_t errlen)
{
	const struct chatd_host *H = ml->host;
	const char *dir = NULL, *secret = NULL, *types = NULL;
	int64_t up, down, orphan, gc;
	if (H->config_string(ml->h, "dir", &dir) != CHATD_OK ||
	    H->config_string(ml->h, "allowed_types", &types) != CHATD_OK ||
	    H->config_int(ml->h, "max_size", &ml->max_size) != CHATD_OK ||
	    H->config_int(ml->h, "upload_url_ttl_s", &up) != CHATD_OK ||
	    H->config_int(ml->h, "download_url_ttl_s", &down) != CHATD_OK ||
	    H->config_int(ml->h, "orphan_ttl_s", &orphan) != CHATD_OK ||
	    H->config_int(ml->h, "gc_interval_s", &gc) != CHATD_OK ||
	    H->config_int(ml->h, "quota_bytes", &ml->quota) != CHATD_OK ||
	    H->config_int(ml->h, "uploads_per_minute", &ml->per_minute) != CHATD_OK ||
	    H->config_int(ml->h, "thumbnail_size", &ml->thumb_size) != CHATD_OK) {
		snprintf(err, errlen, "cannot read the options");
		return CHATD_ERR_INVALID;
	}
	if (!*dir || strlen(dir) >= sizeof(ml->dir)) {
		snprintf(err, errlen, "dir: empty or too long");
		return CHATD_ERR_INVALID;
	}
	snprintf(ml->dir, sizeof(ml->dir), "%s", dir);
	if (!parse_types(ml, types, err, errlen))
		return CHATD_ERR_INVALID;
	if (orphan < up) {
		snprintf(err, errlen, "orphan_ttl_s (%lld) is below upload_url_ttl_s (%lld): "
			 "uploads would be removed before they could complete",
			 (long long)orphan, (long long)up);
		return CHATD_ERR_INVALID;
	}
	ml->upload_ttl_ms = up * 1000;
	ml->download_ttl_ms = down * 1000;
	ml->orphan_ttl_ms = orphan * 1000;
	ml->gc_interval_ms = gc * 1000;
	if (H->config_string(ml->h, "secret", &secret) == CHATD_OK) {
		size_t n = strlen(secret);
		if (n < MEDIA_KEY_MIN || n > MEDIA_KEY_MAX) {
			snprintf(err, errlen, "secret: %zu characters; it needs %d to %d", n,
				 MEDIA_KEY_MIN, MEDIA_KEY_MAX);
			return CHATD_ERR_INVALID;
		}
		memcpy(ml->key, secret, n);
		ml->keylen = n;
	}
	return CHATD_OK;
}

static int random_key(struct media_local *ml)
{
	ssize_t n;
	do {
		n = getrandom(ml->key, 32, 0);
	} while (n < 0 && errno == EINTR);
	if (n != 32)
		return CHATD_ERR_IO;
	ml->keylen = 32;
	ml->host->log(ml->h, CHATD_LOG_WARN, "media.secret_random",
		      "no secret configured: URLs are signed with a random key, so they stop "
		      "working at restart and other nodes cannot check them");
	return CHATD_OK;
}

/* The storage plugin must have every media op (ABI 1.3). */
static bool storage_has_media(const struct chatd_storage_ops *st)
{
	return st && st->struct_size >= offsetof(struct chatd_storage_ops, media_remove) +
					  sizeof(st->media_remove) &&
	       st->media_put && st->media_get && st->media_ready && st->media_usage &&
	       st->media_access && st->media_orphans && st->media_remove;
}

static int media_init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	struct media_local *ml = calloc(1, sizeof(*ml));
	if (!ml)
		return CHATD_ERR_NOMEM;
	ml->magic = MEDIA_MAGIC;
	ml->host = host;
	ml->h = h;
	char err[512] = "";
	int st = read_options(ml, err, sizeof(err));
	if (st == CHATD_OK) {
		host->storage(h, &ml->st, &ml->st_inst);
		if (!storage_has_media(ml->st)) {
			snprintf(err, sizeof(err), "the storage plugin has no media ops (ABI < 1.3)");
			st = CHATD_ERR_ABI;
		}
	}
	if (st == CHATD_OK)
		st = media_store_init(ml->dir, err, sizeof(err));
	if (st == CHATD_OK && ml->keylen == 0)
		st = random_key(ml);
	if (st == CHATD_OK && ml->thumb_size > 0) {
		int t = media_thumb_start(err, sizeof(err));
		ml->thumbs = t == CHATD_OK;
		if (t == CHATD_ERR_UNAVAILABLE) {
			host->log(h, CHATD_LOG_WARN, "media.thumbnails_unavailable",
				  "no thumbnails: %s", err);
			err[0] = '\0';
		} else {
			st = t;
		}
	}
	if (st == CHATD_OK)
		st = media_worker_start(host, h, ml, &ml->worker);
	if (st != CHATD_OK) {
		if (err[0])
			host->log(h, CHATD_LOG_ERROR, "media.init_failed", "%s", err);
		media_fini(ml);
		return st;
	}
	ml->m_started = host->metric_counter(h, "uploads_started", "uploads begun");
	ml->m_completed = host->metric_counter(h, "uploads_completed", "uploads stored and ready");
	ml->m_refused = host->metric_counter(h, "uploads_refused",
					     "uploads refused (type, size, quota, rate, content)");
	ml->m_bytes = host->metric_counter(h, "bytes_stored", "bytes of completed uploads");
	ml->m_gc_removed = host->metric_counter(h, "gc_removed", "orphan uploads removed");
	ml->m_thumbnails = host->metric_counter(h, "thumbnails", "thumbnails made");
	ml->m_resealed = host->metric_counter(h, "files_resealed",
					      "files re-encrypted with the active key by GC "
					      "(older key, or plaintext from before encryption)");
	ml->gc_timer = host->timer_add(h, (uint64_t)ml->gc_interval_ms, true, media_gc_run, ml);
	if (!ml->gc_timer) {
		host->log(h, CHATD_LOG_ERROR, "media.init_failed", "cannot add the GC timer");
		media_fini(ml);
		return CHATD_ERR_NOMEM;
	}
	host->log(h, CHATD_LOG_INFO, "media.started",
		  "dir %s, max_size %lld, thumbnails %s", ml->dir, (long long)ml->max_size,
		  ml->thumbs ? "on" : "off");
	*instance = ml;
	return CHATD_OK;
}

static void media_fini(void *inst)
{
	struct media_local *ml = media_of(inst);
	if (ml->gc_timer)
		ml->host->timer_cancel(ml->h, ml->gc_timer);
	/* First the thread: the jobs it had not run are dropped now. */
	media_worker_stop(ml->worker);
	while (ml->reqs)
		media_req_free(ml->reqs);
	media_gc_free(ml);
	media_http_free_all(ml);
	while (ml->inflight) {
		struct media_inflight *f = ml->inflight;
		ml->inflight = f->next;
		free(f);
	}
	if (ml->thumbs)
		media_thumb_stop();
	ml->magic = 0;
	free(ml);
}

static const struct chatd_media_ops ops = {
	.struct_size = sizeof(struct chatd_media_ops),
	.upload_begin = upload_begin,
	.check_send = check_send,
	.lookup = lookup,
	.urls = urls,
	.http_begin = media_http_begin,
	.http_put_done = media_http_put_done,
};

const struct chatd_plugin media_local_plugin = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_MEDIA,
	.name = "local",
	.version = "1.0.0",
	.description = "uploads on local disk with HMAC-signed expiring URLs",
	.options = options,
	.init = media_init,
	.fini = media_fini,
	.ops = &ops,
};
