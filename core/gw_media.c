/* gw_media.c — see gw_media.h.  Gateway thread only (gw_media_free: after
 * the thread is joined).
 *
 * lws facts this relies on (libwebsockets 4.1.6, checked in its source and
 * by the integration tests):
 * - A request answered later: LWS_CALLBACK_HTTP returns 0 having written
 *   nothing; once the answer is there, lws_callback_on_writable gives
 *   LWS_CALLBACK_HTTP_WRITEABLE, where the reply is written.
 * - lws_rx_flow_control(wsi, 0) stops reading the socket, but the bytes
 *   read with the headers are still passed as LWS_CALLBACK_HTTP_BODY: at
 *   most one read, kept here (bounded by PENDING_MAX) until the verdict.
 * - An h1 connection under rx flow control gets no HTTP_WRITEABLE at all
 *   (rops_handle_POLLIN_h1 returns before POLLOUT): reading is re-enabled
 *   before asking for WRITEABLE.
 * - lws_http_transaction_completed rebinds the protocol: HTTP_DROP_PROTOCOL
 *   comes (the request is released there) and the per-session data is freed
 *   and zeroed again, so nothing may touch pss or the request after it.
 * - A request that follows a body on a kept-alive connection, when its
 *   bytes came in the same read (pipelining, or a client that sends on
 *   while lws discards a body), is parsed from lws's buffered input, and
 *   lws_http_action's buflist loop hands the start of its body over twice
 *   (and can leave the connection spinning).  So a PUT never keeps its
 *   connection: every PUT reply says "Connection: close" and the connection
 *   is closed once the reply is written and the body read (R_DRAIN reads
 *   and drops what is left, so a client that sends its whole body before
 *   it reads still gets the status).
 * - Downloads are written here, not with lws_serve_http_file: that opens
 *   the file again by name, and a file GC re-seals (renames over) between
 *   our look at its first bytes and lws's open would be sent raw.  One
 *   descriptor, headers from HTTP_WRITEABLE, then one lws_write of at most
 *   SEALED_PIECE per HTTP_WRITEABLE, the last with LWS_WRITE_HTTP_FINAL,
 *   then lws_http_transaction_completed (HEAD: right after the headers).
 * - The query reaches us split at '&' and ';' into fragments, each
 *   %-decoded and '+' read as a space; it is re-joined with '&'. */
#include "gw_media.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include "core_metrics.h"
#include "file_crypt.h"
#include "hmap.h"
#include "log.h"
#include "media_parse.h"

#define QUERY_MAX 4096
#define PENDING_MAX 65536            /* body bytes kept while the core decides */
#define CORE_WAIT_S 30               /* the core's answer, at most */
/* Body bytes left after an error reply are read and dropped up to this
 * many, so the client (which sends its whole body before it reads) sees the
 * status; beyond it the connection is closed (the client then gets a reset
 * instead).  Covers media_local's default max_size (10 MiB). */
#define DISCARD_MAX (32 * 1024 * 1024)
#define BODY_IDLE_S 10               /* between body chunks (lws's own is 10 s too) */
#define MAX_AGE_S 3600               /* Cache-Control of downloads */
#define SEALED_PIECE (16 * 1024)     /* file bytes per lws_write */

enum req_state {
	R_WAIT_VERDICT,   /* the core is asked (http_begin) */
	R_RECEIVING,      /* PUT: body bytes go to the file */
	R_WAIT_FINAL,     /* PUT: the body is in its file; put-done is with the core */
	R_REPLY,          /* a status is to be written */
	R_FILE,           /* GET/HEAD: the file is to be sent */
	R_STREAM,         /* GET: the file is being sent (decrypted when sealed) */
	R_DRAIN,          /* PUT replied: drop the rest of the body, then close */
};

struct gw_media_req {
	uint32_t magic;
	uint64_t id;
	struct gw_media *m;
	struct lws *wsi;
	struct gw_media_pss *pss;
	enum req_state state;
	bool put, head;
	int64_t content_length;      /* -1: none declared */
	int64_t body_seen;           /* every body byte lws passed us */
	bool body_complete;          /* HTTP_BODY_COMPLETION came */
	/* the core's answer */
	int status;
	char *error, *message;
	char *file, *content_type;
	int64_t size;
	uint64_t upload;
	bool upload_open;            /* a PUT the plugin allowed, not yet reported */
	/* PUT */
	int fd;                      /* -1: none */
	bool created;                /* we created file (remove it on failure) */
	int64_t received;
	unsigned char *pending;      /* body bytes that came before the verdict */
	size_t pending_len;
	/* GET/HEAD (fd is the file; fc set when it is sealed) */
	struct fc_reader *fc;
	unsigned char *plain;        /* LWS_PRE + one chunk */
	size_t plain_cap, plain_len, plain_off;
	int64_t sent, total;
};

struct gw_media {
	struct bridge_queue *to_core;
	const struct enc_keyring *kr;
	struct core_metrics *metrics;
	struct hmap reqs;            /* id → struct gw_media_req* */
	uint64_t next_id;
};

struct gw_media *gw_media_new(struct bridge_queue *to_core, const struct enc_keyring *kr,
			      struct core_metrics *metrics)
{
	struct gw_media *m = calloc(1, sizeof *m);
	if (!m || hmap_init(&m->reqs) < 0) {
		free(m);
		return NULL;
	}
	m->to_core = to_core;
	m->kr = kr;
	m->metrics = metrics;
	return m;
}

size_t gw_media_pending(const struct gw_media *m)
{
	return m->reqs.count;
}

bool gw_media_owns(const void *pss)
{
	const struct gw_media_pss *p = pss;
	return p && p->magic == GW_MEDIA_MAGIC && p->req;
}

/* ---- to the core ---------------------------------------------------------- */

static void push(struct gw_media *m, struct bridge_http *h)
{
	struct bridge_in *in = bridge_in_new(BIN_HTTP, 0, NULL, NULL);
	if (!in) {
		log_error("gateway", "media.nomem", "request %" PRIu64 ": item dropped", h->req);
		bridge_http_free(h);
		return;
	}
	in->http = h;
	bq_push(m->to_core, &in->node);
}

/* Tell the core how a PUT the plugin allowed ended. */
static void report_put(struct gw_media *m, uint64_t id, uint64_t upload, bool ok)
{
	struct bridge_http *h = bridge_http_new(id, BHTTP_PUT_DONE);
	if (!h) {
		log_error("gateway", "media.nomem", "request %" PRIu64 ": put-done lost", id);
		return;
	}
	h->upload = upload;
	h->ok = ok;
	push(m, h);
}

/* ---- the request's life ------------------------------------------------- */

static void close_file(struct gw_media_req *r, bool remove)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (remove && r->created && r->file && unlink(r->file) < 0 && errno != ENOENT)
		log_warn("gateway", "media.unlink", "cannot remove %s: %s", r->file, strerror(errno));
	if (remove)
		r->created = false;
}

/* The PUT ends without a body in its file: remove what was written and let
 * the plugin forget the upload. */
static void abandon_upload(struct gw_media_req *r)
{
	close_file(r, true);
	if (r->upload_open) {
		r->upload_open = false;
		report_put(r->m, r->id, r->upload, false);
	}
}

static void req_free(struct gw_media_req *r)
{
	fc_close(r->fc);
	if (r->plain && r->plain_len)
		OPENSSL_cleanse(r->plain + LWS_PRE, r->plain_len);
	free(r->plain);
	free(r->error);
	free(r->message);
	free(r->file);
	free(r->content_type);
	free(r->pending);
	r->magic = 0;
	free(r);
}

/* The transaction is over (completed, or the connection closed). */
static void req_release(struct gw_media_req *r)
{
	abandon_upload(r); /* a no-op once the upload was reported */
	hmap_del64(&r->m->reqs, r->id);
	if (r->pss && r->pss->req == r)
		r->pss->req = NULL;
	req_free(r);
}

/* Ask for HTTP_WRITEABLE (which needs reading on: see the top). */
static void want_write(struct gw_media_req *r)
{
	lws_rx_flow_control(r->wsi, 1);
	lws_callback_on_writable(r->wsi);
}

static void set_reply(struct gw_media_req *r, int status, const char *error, const char *message)
{
	free(r->error);
	free(r->message);
	r->status = status;
	r->error = error ? strdup(error) : NULL;
	r->message = message ? strdup(message) : NULL;
	r->state = R_REPLY;
	want_write(r);
}

/* A PUT fails on our side (size, disk): reply status and end the upload. */
static void fail_put(struct gw_media_req *r, int status, const char *error, const char *message)
{
	abandon_upload(r);
	set_reply(r, status, error, message);
}

/* ---- writing replies ---------------------------------------------------- */

static char *reply_body(const struct gw_media_req *r)
{
	json_t *o;
	if (r->status < 300) {
		o = json_pack("{s:b}", "ok", 1);
		if (o && r->message)
			json_object_set_new(o, "message", json_string(r->message));
	} else {
		o = json_pack("{s:s, s:s}", "error", r->error ? r->error : "error", "message",
			      r->message ? r->message : "");
	}
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Write the status reply.  Returns what the callback returns. */
static int write_reply(struct gw_media_req *r)
{
	struct lws *wsi = r->wsi;
	char *body = reply_body(r);
	if (!body)
		return -1;
	size_t blen = strlen(body);
	unsigned char *buf = malloc(LWS_PRE + 1024 + blen);
	if (!buf) {
		free(body);
		return -1;
	}
	unsigned char *start = buf + LWS_PRE, *p = start, *end = start + 1024 - 1;
	static const char nostore[] = "no-store", close_[] = "close";
	int rc = 0;
	if (lws_add_http_common_headers(wsi, (unsigned)r->status, "application/json",
					(lws_filepos_t)blen, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)nostore, sizeof nostore - 1, &p,
					 end) ||
	    (r->put && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
						    (const unsigned char *)close_,
						    sizeof close_ - 1, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end)) {
		rc = -1;
	} else if (!r->head) {
		memcpy(start, body, blen);
		if (lws_write(wsi, start, blen, LWS_WRITE_HTTP_FINAL) < 0)
			rc = -1;
	}
	free(buf);
	free(body);
	if (rc < 0)
		return -1;
	if (r->put) {
		/* Closing: lws first flushes what it still holds of the reply. */
		int64_t left = r->content_length - r->body_seen;
		if (r->content_length < 0 || left <= 0 || left > DISCARD_MAX)
			return -1;
		r->state = R_DRAIN;
		return 0;
	}
	if (lws_http_transaction_completed(wsi))
		return -1;
	/* r is released (HTTP_DROP_PROTOCOL); reading resumes for the next
	 * request. */
	lws_rx_flow_control(wsi, 1);
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* A sealed download failed: log and count it. */
static void sealed_failed(struct gw_media_req *r, const char *what, int st)
{
	log_error("gateway", "media.decrypt_failed", "request %" PRIu64 ": %s: %s: %s", r->id,
		  r->file, what, chatd_strerror(st));
	cm_media_decrypt_failed(r->m->metrics);
}

/* A file that cannot be served: 500 before any byte. */
static int file_error(struct gw_media_req *r)
{
	r->status = 500;
	free(r->error);
	free(r->message);
	r->error = strdup("internal");
	r->message = strdup("cannot read the file");
	return write_reply(r);
}

/* GET/HEAD: open the file once and send what that descriptor holds, so a
 * file re-sealed (renamed over) meanwhile is never read half old, half
 * new.  A sealed file is decrypted as it goes (gw_media.h); headers carry
 * the plaintext's length.  Returns what the callback returns. */
static int send_file(struct gw_media_req *r)
{
	struct lws *wsi = r->wsi;
	unsigned char head[FC_MAGIC_LEN];
	struct stat st;
	r->fd = open(r->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_error("gateway", "media.open", "request %" PRIu64 ": %s: %s", r->id, r->file,
			  r->fd < 0 ? strerror(errno) : "not a regular file");
		return file_error(r);
	}
	ssize_t hn = pread(r->fd, head, sizeof head, 0);
	uint32_t chunk = 64 * 1024;
	if (hn == (ssize_t)sizeof head && fc_is_sealed(head, sizeof head)) {
		char kid[ENC_KEY_ID_MAX + 1] = "";
		int fs = fc_open(r->m->kr, r->fd, base_name(r->file), &r->fc, kid);
		if (fs != CHATD_OK) {
			sealed_failed(r, fs == CHATD_ERR_NOT_FOUND ? "its key is not configured"
								   : "cannot open it", fs);
			if (fs == CHATD_ERR_NOT_FOUND)
				log_error("gateway", "media.key_missing",
					  "%s is sealed with key \"%s\"", r->file, kid);
			return file_error(r);
		}
		r->total = fc_plain_size(r->fc);
		chunk = fc_chunk_size(r->fc);
	} else {
		r->total = (int64_t)st.st_size;
	}
	r->plain = malloc(LWS_PRE + chunk);
	r->plain_cap = chunk;
	unsigned char hdr[LWS_PRE + 1024];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = start + 1024 - 1;
	char cc[64];
	int ccn = snprintf(cc, sizeof cc, "private, max-age=%d", MAX_AGE_S);
	static const char nosniff[] = "nosniff";
	if (!r->plain ||
	    lws_add_http_common_headers(wsi, HTTP_STATUS_OK, r->content_type ? r->content_type
	    : "application/octet-stream", (lws_filepos_t)r->total, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)cc, ccn, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
					(const unsigned char *)nosniff, sizeof nosniff - 1, &p,
					end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (r->head || r->total == 0)
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	r->state = R_STREAM;
	lws_callback_on_writable(wsi);
	return 0;
}

/* The next piece of a plaintext file into r->plain. */
static int read_plain(struct gw_media_req *r, size_t *n)
{
	int64_t left = r->total - r->sent;
	size_t want = left < (int64_t)r->plain_cap ? (size_t)left : r->plain_cap;
	ssize_t got;
	do {
		got = pread(r->fd, r->plain + LWS_PRE, want, (off_t)r->sent);
	} while (got < 0 && errno == EINTR);
	*n = got > 0 ? (size_t)got : 0;
	return got > 0 ? CHATD_OK : CHATD_ERR_IO;
}

/* R_STREAM: the next piece; a sealed chunk is authenticated whole before
 * any of it is sent.  Returns what the callback returns. */
static int stream_file(struct gw_media_req *r)
{
	struct lws *wsi = r->wsi;
	if (r->plain_off == r->plain_len) {
		size_t n = 0;
		int st = r->fc ? fc_read(r->fc, r->plain + LWS_PRE, &n) : read_plain(r, &n);
		if (st != CHATD_OK || n == 0) {
			if (r->fc)
				sealed_failed(r, st != CHATD_OK ? "a chunk fails authentication; "
					      "connection closed" : "shorter than its header says",
					      st != CHATD_OK ? st : CHATD_ERR_INVALID);
			else
				log_error("gateway", "media.read", "request %" PRIu64 ": %s: "
					  "read failed or the file shrank; connection closed",
					  r->id, r->file);
			return -1;
		}
		r->plain_len = n;
		r->plain_off = 0;
	}
	size_t w = r->plain_len - r->plain_off;
	if (w > SEALED_PIECE)
		w = SEALED_PIECE;
	bool final = r->sent + (int64_t)w >= r->total;
	/* lws may use the LWS_PRE bytes before the piece: those were sent. */
	if (lws_write(wsi, r->plain + LWS_PRE + r->plain_off, w,
		      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
		return -1;
	r->plain_off += w;
	r->sent += (int64_t)w;
	if (final)
		return lws_http_transaction_completed(wsi) ? -1 : 0; /* releases r */
	lws_callback_on_writable(wsi);
	return 0;
}

/* ---- PUT body ------------------------------------------------------------ */

static bool write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Body bytes for the file.  False when the PUT failed (reply set). */
static bool take_body(struct gw_media_req *r, const unsigned char *in, size_t len)
{
	if ((int64_t)len > r->size - r->received) {
		fail_put(r, 400, "bad_size", "the body is longer than the declared size");
		return false;
	}
	if (!write_all(r->fd, in, len)) {
		log_error("gateway", "media.write", "%s: %s", r->file, strerror(errno));
		fail_put(r, 500, "internal", "cannot store the upload");
		return false;
	}
	r->received += (int64_t)len;
	return true;
}

/* The whole body came: hand the file to the core. */
static void body_done(struct gw_media_req *r)
{
	if (r->received != r->size) {
		fail_put(r, 400, "bad_size", "the body is shorter than the declared size");
		return;
	}
	/* No fsync here: the plugin checks the file and makes it durable
	 * before it calls the media ready (off this thread). */
	if (close(r->fd) < 0) {
		r->fd = -1;
		log_error("gateway", "media.write", "%s: %s", r->file, strerror(errno));
		fail_put(r, 500, "internal", "cannot store the upload");
		return;
	}
	r->fd = -1;
	r->created = false; /* the plugin's now */
	r->upload_open = false;
	r->state = R_WAIT_FINAL;
	lws_rx_flow_control(r->wsi, 0);
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, CORE_WAIT_S);
	report_put(r->m, r->id, r->upload, true);
}

/* The plugin allowed the PUT: create the file and start receiving. */
static void start_put(struct gw_media_req *r)
{
	r->upload_open = true;
	if (r->content_length != r->size) {
		fail_put(r, 400, "bad_size",
			 r->content_length < 0 ? "Content-Length is required"
					       : "Content-Length is not the declared size");
		return;
	}
	r->fd = open(r->file, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (r->fd < 0) {
		int e = errno;
		log_warn("gateway", "media.create", "%s: %s", r->file, strerror(e));
		if (e == EEXIST)
			fail_put(r, 409, "upload_in_progress", "another upload of it is under way");
		else
			fail_put(r, 500, "internal", "cannot store the upload");
		return;
	}
	r->created = true;
	r->state = R_RECEIVING;
	bool ok = !r->pending_len || take_body(r, r->pending, r->pending_len);
	free(r->pending);
	r->pending = NULL;
	r->pending_len = 0;
	if (!ok)
		return;
	if (r->body_complete) {
		body_done(r);
		return;
	}
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_IDLE_S);
	lws_rx_flow_control(r->wsi, 1);
}

/* ---- lws callbacks ------------------------------------------------------- */

/* A reply written right away, from LWS_CALLBACK_HTTP (no request kept).
 * With a body coming (put: PUT or POST) the connection is then closed
 * without reading it (content_length -1 below): these are rare refusals. */
static int reply_now(struct lws *wsi, bool head, bool put, int status, const char *error,
		     const char *message)
{
	struct gw_media_req tmp = {
		.wsi = wsi, .status = status, .head = head, .put = put,
		.error = (char *)error, .message = (char *)message, .content_length = -1,
	};
	return write_reply(&tmp);
}

/* The query, fragments re-joined with '&' (empty ones dropped).  False
 * when too long. */
static bool copy_query(struct lws *wsi, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0;; i++) {
		char frag[QUERY_MAX];
		int len = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len < 0) /* no such fragment, or one over the buffer */
			return lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) <
			       (int)sizeof frag;
		if (!media_query_append(out, cap, &n, frag, (size_t)len))
			return false;
	}
}

int gw_media_http(struct gw_media *m, struct lws *wsi, void *pss, const char *path,
		  bool stopping)
{
	bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
	bool head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
	bool put = lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0;
	if (!get && !head && !put)
		return reply_now(wsi, false, lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0,
				 405, "method_not_allowed", "use GET, HEAD or PUT");
	if (stopping)
		return reply_now(wsi, head, put, 503, "unavailable", "the server is shutting down");
	char query[QUERY_MAX];
	if (!copy_query(wsi, query, sizeof query))
		return reply_now(wsi, head, put, 414, "bad_request", "the query is too long");
	int64_t clen = -1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
		char cl[32];
		if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
		    !media_parse_content_length(cl, &clen))
			return reply_now(wsi, head, put, 400, "bad_request", "bad Content-Length");
	}
	struct gw_media_req *r = calloc(1, sizeof *r);
	struct bridge_http *h = bridge_http_new(0, BHTTP_BEGIN);
	if (!r || !h)
		goto nomem;
	r->magic = GW_MEDIA_MAGIC;
	r->id = ++m->next_id;
	r->m = m;
	r->wsi = wsi;
	r->pss = pss;
	r->fd = -1;
	r->put = put;
	r->head = head;
	r->content_length = put ? clen : -1;
	r->state = R_WAIT_VERDICT;
	h->req = r->id;
	h->method = strdup(put ? "PUT" : head ? "HEAD" : "GET");
	h->path = strdup(path);
	h->query = strdup(query);
	h->content_length = r->content_length;
	if (!h->method || !h->path || !h->query || hmap_put64(&m->reqs, r->id, r) < 0)
		goto nomem;
	r->pss->magic = GW_MEDIA_MAGIC;
	r->pss->req = r;
	/* Nothing more is read until the core answers. */
	lws_rx_flow_control(wsi, 0);
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, CORE_WAIT_S);
	push(m, h);
	return 0;
nomem:
	bridge_http_free(h);
	free(r);
	return reply_now(wsi, head, put, 500, "internal", "out of memory");
}

int gw_media_callback(struct gw_media *m, struct lws *wsi, enum lws_callback_reasons reason,
		      void *pss, void *in, size_t len)
{
	(void)m;
	struct gw_media_req *r = ((struct gw_media_pss *)pss)->req;
	switch (reason) {
	case LWS_CALLBACK_HTTP_BODY:
		r->body_seen += (int64_t)len;
		if (r->state == R_WAIT_VERDICT) {
			if (r->pending_len + len > PENDING_MAX) {
				log_warn("gateway", "media.pending", "request %" PRIu64 ": body "
					 "before the verdict over %d bytes", r->id, PENDING_MAX);
				return -1;
			}
			unsigned char *nb = realloc(r->pending, r->pending_len + len + 1);
			if (!nb)
				return -1;
			r->pending = nb;
			if (len)
				memcpy(r->pending + r->pending_len, in, len);
			r->pending_len += len;
		} else if (r->state == R_RECEIVING) {
			take_body(r, in, len);
		}
		return 0; /* other states: dropped */

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->state == R_DRAIN)
			return -1; /* the reply is out, the body read: close */
		if (r->state == R_WAIT_VERDICT) {
			r->body_complete = true;
			/* lws cleared its timeout: the wait stays bounded */
			lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, CORE_WAIT_S);
		} else if (r->state == R_RECEIVING)
			body_done(r);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (r->state == R_REPLY)
			return write_reply(r);
		if (r->state == R_FILE)
			return send_file(r);
		if (r->state == R_STREAM)
			return stream_file(r);
		return 0;

	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		req_release(r);
		return 0;

	default:
		return 0;
	}
}

/* ---- the core's answers ---------------------------------------------------- */

static void take_strings(struct gw_media_req *r, struct bridge_http *h)
{
	free(r->error);
	free(r->message);
	free(r->file);
	free(r->content_type);
	r->error = h->error;
	r->message = h->message;
	r->file = h->file;
	r->content_type = h->content_type;
	h->error = h->message = h->file = h->content_type = NULL;
	r->status = h->status;
	r->size = h->size;
}

void gw_media_reply(struct gw_media *m, struct bridge_http *h)
{
	struct gw_media_req *r = hmap_get64(&m->reqs, h->req);
	bool put_allowed = h->phase == BHTTP_BEGIN && h->method && strcmp(h->method, "PUT") == 0 &&
			   (h->status == 0 || h->upload != 0);
	if (!r || (h->phase == BHTTP_BEGIN && r->state != R_WAIT_VERDICT) ||
	    (h->phase == BHTTP_PUT_DONE && r->state != R_WAIT_FINAL)) {
		/* The client is gone: an upload the plugin allowed must end. */
		if (put_allowed)
			report_put(m, h->req, h->upload, false);
		bridge_http_free(h);
		return;
	}
	take_strings(r, h);
	if (h->phase == BHTTP_PUT_DONE) {
		r->state = R_REPLY;
		want_write(r);
	} else if (r->status != 0) {
		if (put_allowed) /* allowed, then failed in the core: end it */
			report_put(m, r->id, h->upload, false);
		r->state = R_REPLY;
		want_write(r);
	} else if (r->put) {
		r->upload = h->upload;
		start_put(r);
	} else {
		r->state = R_FILE;
		want_write(r);
	}
	bridge_http_free(h);
}

void gw_media_free(struct gw_media *m)
{
	if (!m)
		return;
	/* Requests lws did not close (it closes every one on destroy). */
	size_t it;
	struct hmap_entry *e;
	while ((e = hmap_first(&m->reqs, &it)) != NULL) {
		struct gw_media_req *r = e->value;
		r->pss = NULL;
		req_release(r);
	}
	hmap_destroy(&m->reqs);
	free(m);
}
