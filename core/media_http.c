/* media_http.c — the core's side of HTTP under /media/.
 *
 * The gateway moves bytes; every decision is the media plugin's.  Each
 * request item comes in (BIN_HTTP), the plugin is asked (http_begin, or
 * http_put_done once a PUT body is in its file), and its answer is copied
 * into the same item, which goes back to the gateway (BOUT_HTTP).  Without
 * a media plugin every request is 404. */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "pipeline.h"

struct http_call {
	struct core *core;
	struct bridge_http *h;
};

static void push_reply(struct core *c, struct bridge_http *h)
{
	struct bridge_out *o = bridge_out_new(BOUT_HTTP, NULL, NULL, 0, 0);
	if (!o) {
		/* The gateway's request then ends on its timeout. */
		log_error("media", "http.nomem", "request %llu: reply dropped",
			  (unsigned long long)h->req);
		bridge_http_free(h);
		return;
	}
	o->http = h;
	core_push_out(c, o);
}

static void reply_status(struct core *c, struct bridge_http *h, int status, const char *error,
			 const char *message)
{
	bridge_http_clear_reply(h);
	h->status = status;
	h->error = strdup(error);
	h->message = strdup(message);
	push_reply(c, h);
}

/* A status an op returned (cb not called) as an HTTP reply. */
static void reply_op_status(struct core *c, struct bridge_http *h, int st)
{
	switch (st) {
	case CHATD_ERR_NOT_FOUND:
		reply_status(c, h, 404, "not_found", "no such media");
		break;
	case CHATD_ERR_FORBIDDEN:
		reply_status(c, h, 403, "forbidden", "not allowed");
		break;
	case CHATD_ERR_INVALID:
		reply_status(c, h, 400, "bad_request", "invalid request");
		break;
	case CHATD_ERR_TOO_LARGE:
		reply_status(c, h, 413, "too_large", "over a limit");
		break;
	case CHATD_ERR_RATE_LIMITED:
		reply_status(c, h, 429, "rate_limited", "too many requests; retry later");
		break;
	case CHATD_ERR_UNAVAILABLE:
	case CHATD_ERR_IO:
	case CHATD_ERR_SHUTDOWN:
		reply_status(c, h, 503, "unavailable", "media is unavailable; retry");
		break;
	default:
		log_error("media", "http.error", "request %llu: %s", (unsigned long long)h->req,
			  chatd_strerror(st));
		reply_status(c, h, 500, "internal", "internal error");
		break;
	}
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The plugin's answer: copied (r is borrowed), checked, sent back. */
static void on_reply(void *arg, const struct chatd_media_http_reply *r)
{
	struct http_call *k = arg;
	struct core *c = k->core;
	struct bridge_http *h = k->h;
	free(k);
	if (h->phase == BHTTP_PUT_DONE && !h->ok) {
		/* The client is gone: nobody to answer. */
		bridge_http_free(h);
		return;
	}
	bool go = r && r->status == 0 && h->phase == BHTTP_BEGIN && r->file && r->file[0] &&
		  r->size >= 0 && (strcmp(h->method, "PUT") == 0 || r->content_type);
	if (!r || (r->status == 0 && !go) || (r->status != 0 && (r->status < 100 || r->status > 599))) {
		log_error("media", "http.bad_reply", "request %llu (%s %s): the media plugin gave "
			  "an unusable reply (status %d)", (unsigned long long)h->req, h->method,
			  h->path, r ? r->status : -1);
		reply_status(c, h, 500, "internal", "internal error");
		return;
	}
	bridge_http_clear_reply(h);
	h->status = r->status;
	h->size = r->size;
	h->upload = r->upload;
	h->file = dup_opt(r->file);
	h->content_type = dup_opt(r->content_type);
	h->error = dup_opt(r->error);
	h->message = dup_opt(r->message);
	if ((r->file && !h->file) || (r->content_type && !h->content_type) ||
	    (r->error && !h->error) || (r->message && !h->message)) {
		/* A go-ahead the gateway cannot act on: still pass the token
		 * back (as a 500) so an upload is reported done. */
		reply_status(c, h, 500, "internal", "out of memory");
		return;
	}
	push_reply(c, h);
}

void media_http_handle(struct core *c, struct bridge_http *h)
{
	if (!c->media) {
		if (h->phase == BHTTP_BEGIN)
			reply_status(c, h, 404, "not_found", "media is not enabled on this server");
		else
			bridge_http_free(h);
		return;
	}
	if (h->phase == BHTTP_BEGIN && c->shutting_down) {
		reply_status(c, h, 503, "unavailable", "the server is shutting down");
		return;
	}
	struct http_call *k = malloc(sizeof *k);
	if (!k) {
		if (h->phase == BHTTP_BEGIN || h->ok)
			reply_status(c, h, 500, "internal", "out of memory");
		else
			bridge_http_free(h);
		return;
	}
	k->core = c;
	k->h = h;
	int st;
	if (h->phase == BHTTP_BEGIN) {
		struct chatd_media_http_req r = {
			.method = h->method,
			.path = h->path,
			.query = h->query ? h->query : "",
			.content_length = h->content_length,
		};
		st = c->media->http_begin(c->media_inst, &r, on_reply, k);
	} else {
		st = c->media->http_put_done(c->media_inst, h->upload, h->ok, on_reply, k);
	}
	if (st == CHATD_OK)
		return; /* on_reply has run or will run; k and h are its */
	free(k);
	if (h->phase == BHTTP_PUT_DONE && !h->ok) {
		bridge_http_free(h);
		return;
	}
	reply_op_status(c, h, st);
}
