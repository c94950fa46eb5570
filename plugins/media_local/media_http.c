/* media_http.c — HTTP under /media/: what the gateway should do with a
 * request (http_begin), and the pipeline of a PUT's body (http_put_done):
 *
 *   http_begin(PUT)  signature, row pending, no other PUT → a part file
 *   put_done(ok)     worker: size, content type, SHA-256, fsync   (check)
 *                    worker: final name (or dedupe), thumbnail     (place)
 *                    storage: media_ready                          → 201
 *
 * Replies (status, error):
 *   404 not_found          bad path; no such media; not ready (GET); no thumbnail
 *   400 bad_request        a query we never write (another key, a key twice)
 *   403 forbidden          signature missing, wrong (method, path, tampered) or expired
 *   405 method_not_allowed not GET, HEAD or PUT; PUT on a thumbnail
 *   409 already_uploaded   PUT on a media that is ready
 *   409 upload_in_progress PUT while another PUT of it is under way
 *   400 bad_size           Content-Length (or the body) is not the declared size
 *   415 type_mismatch      the content is not of the declared type
 *   415 type_not_allowed   the declared type is no longer in allowed_types
 *   201 (no error)         stored and ready
 *   500 internal / 503 unavailable   disk or storage trouble (logged) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "media_local.h"
#include "media_thumb.h"

static void reply(chatd_media_http_cb cb, void *arg, int status, const char *error,
		  const char *message)
{
	struct chatd_media_http_reply r = { .status = status, .error = error, .message = message };
	cb(arg, &r);
}

/* ---- uploads in progress ------------------------------------------- */

struct media_upload *media_upload_find(struct media_local *ml, uint64_t token)
{
	for (struct media_upload *u = ml->uploads; u; u = u->next)
		if (u->token == token)
			return u;
	return NULL;
}

static struct media_upload *upload_of_media(struct media_local *ml, const char *media_id)
{
	for (struct media_upload *u = ml->uploads; u; u = u->next)
		if (strcmp(u->media_id, media_id) == 0)
			return u;
	return NULL;
}

void media_upload_free(struct media_local *ml, struct media_upload *u)
{
	for (struct media_upload **p = &ml->uploads; *p; p = &(*p)->next) {
		if (*p == u) {
			*p = u->next;
			break;
		}
	}
	free(u);
}

/* fini: the uploads still open can never finish; their part files go. */
void media_http_free_all(struct media_local *ml)
{
	while (ml->uploads) {
		struct media_upload *u = ml->uploads;
		if (!u->placed)
			unlink(u->part);
		media_upload_free(ml, u);
	}
}

/* Answer put_done's callback and forget the upload. */
static void upload_reply(struct media_local *ml, struct media_upload *u, int status,
			 const char *error, const char *message)
{
	chatd_media_http_cb cb = u->cb;
	void *arg = u->arg;
	media_upload_free(ml, u);
	reply(cb, arg, status, error, message);
}

/* ---- http_begin ---------------------------------------------------- */

struct begin_http {
	struct media_req r;
	chatd_media_http_cb cb;
	void *arg;
	bool put, thumb;
	char id[MEDIA_ID_MAX + 1];
	int64_t content_length;
};

static void begin_put(struct media_local *ml, struct begin_http *b,
		      const struct chatd_media_row *row)
{
	char msg[96];
	if (row->ready_at != 0) {
		reply(b->cb, b->arg, 409, "already_uploaded", "already uploaded");
		return;
	}
	if (upload_of_media(ml, b->id)) {
		reply(b->cb, b->arg, 409, "upload_in_progress", "another upload of it is under way");
		return;
	}
	if (b->content_length >= 0 && b->content_length != row->size) {
		snprintf(msg, sizeof(msg), "the body must be exactly %lld bytes",
			 (long long)row->size);
		reply(b->cb, b->arg, 400, "bad_size", msg);
		return;
	}
	enum media_type t = media_type_of(row->mime);
	if (t == MEDIA_T_NONE || !ml->allowed[t]) {
		reply(b->cb, b->arg, 415, "type_not_allowed", "this media type is no longer accepted");
		return;
	}
	struct media_upload *u = calloc(1, sizeof(*u));
	if (!u || media_store_part_path(ml->dir, b->id, u->part, sizeof(u->part)) != CHATD_OK) {
		free(u);
		reply(b->cb, b->arg, 503, "unavailable", "try again later");
		return;
	}
	u->token = ++ml->next_token;
	snprintf(u->media_id, sizeof(u->media_id), "%s", b->id);
	u->type = t;
	u->size = row->size;
	u->started_ms = ml->host->now_ms();
	u->next = ml->uploads;
	ml->uploads = u;
	struct chatd_media_http_reply r = {
		.status = 0, .file = u->part, .size = u->size, .upload = u->token,
	};
	b->cb(b->arg, &r);
}

static void begin_get(struct media_local *ml, struct begin_http *b,
		      const struct chatd_media_row *row)
{
	char path[PATH_MAX];
	struct stat st;
	if (row->ready_at == 0 || !row->hash) {
		reply(b->cb, b->arg, 404, "not_found", "the upload is not complete");
		return;
	}
	if (b->thumb && !row->thumbnail) {
		reply(b->cb, b->arg, 404, "not_found", "no thumbnail");
		return;
	}
	if (media_store_file_path(ml->dir, row->hash, b->thumb, path, sizeof(path)) != CHATD_OK ||
	    stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		ml->host->log(ml->h, CHATD_LOG_ERROR, "media.file_missing",
			      "media %s: %s is missing", b->id, path);
		reply(b->cb, b->arg, 404, "not_found", "no such media");
		return;
	}
	struct chatd_media_http_reply r = {
		.status = 0, .file = path, .size = (int64_t)st.st_size,
		.content_type = b->thumb ? "image/jpeg" : row->mime,
	};
	b->cb(b->arg, &r);
}

static void begin_get_cb(void *arg, int status, const struct chatd_media_row *row)
{
	struct begin_http *b = arg;
	struct media_local *ml = b->r.ml;
	if (status == CHATD_ERR_NOT_FOUND)
		reply(b->cb, b->arg, 404, "not_found", "no such media");
	else if (status != CHATD_OK)
		reply(b->cb, b->arg, 503, "unavailable", "try again later");
	else if (b->put)
		begin_put(ml, b, row);
	else
		begin_get(ml, b, row);
	media_req_free(b);
}

int media_http_begin(void *inst, const struct chatd_media_http_req *r, chatd_media_http_cb cb,
		     void *arg)
{
	struct media_local *ml = media_of(inst);
	if (!r || !cb || !r->method || !r->path)
		return CHATD_ERR_INVALID;
	bool put = strcmp(r->method, "PUT") == 0;
	if (!put && strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		reply(cb, arg, 405, "method_not_allowed", "GET, HEAD or PUT");
		return CHATD_OK;
	}
	char id[MEDIA_ID_MAX + 1], sig[MEDIA_SIG_HEX + 1];
	bool thumb;
	int64_t exp;
	if (media_path_parse(r->path, id, &thumb) != CHATD_OK) {
		reply(cb, arg, 404, "not_found", "no such media");
		return CHATD_OK;
	}
	if (put && thumb) {
		reply(cb, arg, 405, "method_not_allowed", "thumbnails are made, not uploaded");
		return CHATD_OK;
	}
	int q = media_query_parse(r->query ? r->query : "", &exp, sig);
	if (q == CHATD_ERR_INVALID) {
		reply(cb, arg, 400, "bad_request", "malformed query");
		return CHATD_OK;
	}
	/* A HEAD is a GET without the body: the GET signature opens it. */
	if (q != CHATD_OK || media_sign_check(ml->key, ml->keylen, put ? "PUT" : "GET", r->path,
					      exp, sig, ml->host->now_ms()) != MEDIA_SIG_OK) {
		reply(cb, arg, 403, "forbidden", "invalid or expired URL");
		return CHATD_OK;
	}
	struct begin_http *b = media_req_new(ml, sizeof(*b));
	if (!b)
		return CHATD_ERR_NOMEM;
	b->cb = cb;
	b->arg = arg;
	b->put = put;
	b->thumb = thumb;
	b->content_length = r->content_length;
	snprintf(b->id, sizeof(b->id), "%s", id);
	int st = ml->st->media_get(ml->st_inst, id, begin_get_cb, b);
	if (st != CHATD_OK)
		media_req_free(b);
	return st;
}

/* ---- put_done: check, place, ready --------------------------------- */

struct check_job {
	struct media_job j;
	uint64_t token;
	bool keyed;                          /* encrypted: a keyed name */
	unsigned char key[MEDIA_KEY_MAX];
	size_t keylen;
	char part[PATH_MAX];
	enum media_type type;
	int64_t size;
	enum media_check res;
	char hash[MEDIA_HASH_HEX + 1];
	char err[256];
};

struct place_job {
	struct media_job j;
	uint64_t token;
	char dir[PATH_MAX];
	char part[PATH_MAX];
	char hash[MEDIA_HASH_HEX + 1];
	int thumb_size;                      /* 0: no thumbnail wanted */
	const struct chatd_host *host;       /* set: seal (host->file_seal) */
	chatd_plugin_handle *h;
	int status;
	bool existed, thumb, thumb_made;
	char err[256], thumb_err[256];
};

struct ready_req {
	struct media_req r;
	uint64_t token;
};

static void ready_cb(void *arg, int status)
{
	struct ready_req *q = arg;
	struct media_local *ml = q->r.ml;
	struct media_upload *u = media_upload_find(ml, q->token);
	media_req_free(q);
	if (!u)
		return;
	media_inflight_del(ml, u->hash);
	if (status == CHATD_OK) {
		ml->host->metric_add(ml->h, ml->m_completed, 1);
		ml->host->metric_add(ml->h, ml->m_bytes, u->size);
		if (u->thumb_made)
			ml->host->metric_add(ml->h, ml->m_thumbnails, 1);
		upload_reply(ml, u, 201, NULL, NULL);
	} else if (status == CHATD_ERR_NOT_FOUND) {
		/* The row went (GC) while the body came: the file stays
		 * unreferenced under its hash until the same content is
		 * uploaded and removed again. */
		ml->host->log(ml->h, CHATD_LOG_WARN, "media.row_gone",
			      "media %s was removed during its upload", u->media_id);
		upload_reply(ml, u, 404, "not_found", "the upload expired");
	} else {
		ml->host->log(ml->h, CHATD_LOG_ERROR, "media.ready_failed", "media %s: %s",
			      u->media_id, chatd_strerror(status));
		upload_reply(ml, u, 503, "unavailable", "try again later");
	}
}

/* Encrypted: seal the checked upload into its final name, and the
 * thumbnail (made from the plaintext first) into its own; the plaintext
 * part file goes.  The host seals atomically, so a final name only ever
 * holds a whole sealed file. */
static void place_sealed(struct place_job *p)
{
	char final[PATH_MAX], tdst[PATH_MAX], ttmp[PATH_MAX];
	size_t pl = strlen(p->part);
	p->status = CHATD_ERR_IO;
	if (media_store_subdir(p->dir, p->hash, p->err, sizeof(p->err)) != CHATD_OK)
		return;
	if (media_store_file_path(p->dir, p->hash, false, final, sizeof(final)) != CHATD_OK ||
	    media_store_file_path(p->dir, p->hash, true, tdst, sizeof(tdst)) != CHATD_OK ||
	    pl < 5 || snprintf(ttmp, sizeof(ttmp), "%.*s.thumb.part", (int)(pl - 5), p->part) >=
	    (int)sizeof(ttmp)) {
		snprintf(p->err, sizeof(p->err), "path too long");
		return;
	}
	if (media_store_exists(final)) {
		p->existed = true;
	} else {
		int st = p->host->file_seal(p->h, p->part, final);
		if (st != CHATD_OK) {
			snprintf(p->err, sizeof(p->err), "sealing %.64s: %s", p->hash,
				 chatd_strerror(st));
			return;
		}
	}
	p->status = CHATD_OK;
	if (p->thumb_size > 0 && !media_store_exists(tdst)) {
		if (media_thumb_make(p->part, ttmp, p->thumb_size, p->thumb_err,
				     sizeof(p->thumb_err)) == CHATD_OK) {
			int st = p->host->file_seal(p->h, ttmp, tdst);
			if (st == CHATD_OK)
				p->thumb_made = true;
			else
				snprintf(p->thumb_err, sizeof(p->thumb_err), "sealing: %s",
					 chatd_strerror(st));
		}
		unlink(ttmp);
	}
	p->thumb = p->thumb_size > 0 && media_store_exists(tdst);
	unlink(p->part);
}

static void place_run(struct media_job *j)
{
	struct place_job *p = (struct place_job *)j;
	if (p->host) {
		place_sealed(p);
		return;
	}
	p->status = media_store_place(p->dir, p->part, p->hash, &p->existed, p->err,
				      sizeof(p->err));
	if (p->status != CHATD_OK || p->thumb_size <= 0)
		return;
	char src[PATH_MAX], dst[PATH_MAX];
	if (media_store_file_path(p->dir, p->hash, false, src, sizeof(src)) != CHATD_OK ||
	    media_store_file_path(p->dir, p->hash, true, dst, sizeof(dst)) != CHATD_OK)
		return;
	if (!media_store_exists(dst) &&
	    media_thumb_make(src, dst, p->thumb_size, p->thumb_err, sizeof(p->thumb_err)) ==
	    CHATD_OK)
		p->thumb_made = true;
	p->thumb = media_store_exists(dst);
}

static void place_done(struct media_job *j, void *inst)
{
	struct place_job *p = (struct place_job *)j;
	struct media_local *ml = inst;
	struct media_upload *u = ml ? media_upload_find(ml, p->token) : NULL;
	if (!u) {
		free(p);
		return;
	}
	if (p->status != CHATD_OK) {
		ml->host->log(ml->h, CHATD_LOG_ERROR, "media.store_failed", "media %s: %s",
			      u->media_id, p->err);
		media_inflight_del(ml, u->hash);
		unlink(u->part);
		upload_reply(ml, u, 500, "internal", "cannot store the file");
		free(p);
		return;
	}
	u->placed = true;
	u->thumb = p->thumb;
	u->thumb_made = p->thumb_made;
	if (p->thumb_err[0])
		ml->host->log(ml->h, CHATD_LOG_WARN, "media.thumbnail_failed",
			      "media %s: no thumbnail: %s", u->media_id, p->thumb_err);
	free(p);
	struct ready_req *q = media_req_new(ml, sizeof(*q));
	if (q)
		q->token = u->token;
	int st = q ? ml->st->media_ready(ml->st_inst, u->media_id, u->hash, u->thumb,
					 ml->host->now_ms(), ready_cb, q)
		   : CHATD_ERR_NOMEM;
	if (st != CHATD_OK) {
		media_req_free(q);
		media_inflight_del(ml, u->hash);
		upload_reply(ml, u, 503, "unavailable", "try again later");
	}
}

static void check_run(struct media_job *j)
{
	struct check_job *c = (struct check_job *)j;
	c->res = media_store_check_keyed(c->part, c->type, c->size, c->keyed ? c->key : NULL,
					 c->keylen, c->hash, c->err, sizeof(c->err));
	OPENSSL_cleanse(c->key, sizeof(c->key));
}

static void check_done(struct media_job *j, void *inst)
{
	struct check_job *c = (struct check_job *)j;
	struct media_local *ml = inst;
	struct media_upload *u = ml ? media_upload_find(ml, c->token) : NULL;
	if (!u) {
		free(c);
		return;
	}
	char msg[96];
	switch (c->res) {
	case MEDIA_CHECK_OK:
		break;
	case MEDIA_CHECK_MISMATCH:
		ml->host->metric_add(ml->h, ml->m_refused, 1);
		snprintf(msg, sizeof(msg), "the content is not %s", media_type_mime(u->type));
		upload_reply(ml, u, 415, "type_mismatch", msg);
		free(c);
		return;
	case MEDIA_CHECK_SIZE:
		snprintf(msg, sizeof(msg), "the body must be exactly %lld bytes", (long long)u->size);
		upload_reply(ml, u, 400, "bad_size", msg);
		free(c);
		return;
	default:
		ml->host->log(ml->h, CHATD_LOG_ERROR, "media.check_failed", "media %s: %s",
			      u->media_id, c->err);
		upload_reply(ml, u, 500, "internal", "cannot read the upload");
		free(c);
		return;
	}
	snprintf(u->hash, sizeof(u->hash), "%s", c->hash);
	free(c);
	/* From here until media_ready answers, GC keeps this content's file
	 * (media_gc.c). */
	media_inflight_add(ml, u->hash);
	struct place_job *p = calloc(1, sizeof(*p));
	if (!p) {
		media_inflight_del(ml, u->hash);
		upload_reply(ml, u, 503, "unavailable", "try again later");
		return;
	}
	p->j.run = place_run;
	p->j.done = place_done;
	p->token = u->token;
	snprintf(p->dir, sizeof(p->dir), "%s", ml->dir);
	snprintf(p->part, sizeof(p->part), "%s", u->part);
	snprintf(p->hash, sizeof(p->hash), "%s", u->hash);
	p->thumb_size = ml->thumbs && media_type_thumbnailable(u->type) ? (int)ml->thumb_size : 0;
	if (ml->host->file_seal_key(ml->h)) {
		p->host = ml->host;
		p->h = ml->h;
	}
	if (media_worker_submit(ml->worker, &p->j) != CHATD_OK) {
		free(p);
		media_inflight_del(ml, u->hash);
		upload_reply(ml, u, 503, "unavailable", "try again later");
	}
}

int media_http_put_done(void *inst, uint64_t upload, bool ok, chatd_media_http_cb cb, void *arg)
{
	struct media_local *ml = media_of(inst);
	if (!cb)
		return CHATD_ERR_INVALID;
	struct media_upload *u = media_upload_find(ml, upload);
	if (!u)
		return CHATD_ERR_NOT_FOUND;
	if (u->processing)
		return CHATD_ERR_CONFLICT;
	u->cb = cb;
	u->arg = arg;
	if (!ok) {
		/* The gateway removed the file; be sure. */
		unlink(u->part);
		upload_reply(ml, u, 400, "upload_failed", "the upload did not complete");
		return CHATD_OK;
	}
	struct check_job *c = calloc(1, sizeof(*c));
	if (!c)
		return CHATD_ERR_NOMEM;
	c->j.run = check_run;
	c->j.done = check_done;
	c->token = u->token;
	snprintf(c->part, sizeof(c->part), "%s", u->part);
	c->type = u->type;
	c->size = u->size;
	if (ml->host->file_seal_key(ml->h)) {
		c->keyed = true;
		memcpy(c->key, ml->key, ml->keylen);
		c->keylen = ml->keylen;
	}
	if (media_worker_submit(ml->worker, &c->j) != CHATD_OK) {
		free(c);
		return CHATD_ERR_SHUTDOWN;
	}
	u->processing = true;
	return CHATD_OK;
}
