/* bridge.h — the two queues between the gateway thread (lws) and the core
 * thread (libevent).  Ownership of every item, and of everything it points
 * to, passes with the push: no object is touched by both threads.
 *
 * A queue calls its wake function (set once, before any push) when a push
 * finds it empty; the consumer then drains the whole list at once, so
 * wake-ups coalesce under load. */
#ifndef CHATD_BRIDGE_H
#define CHATD_BRIDGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "frame.h"

#define BRIDGE_USER_MAX 64

struct bq_node {
	struct bq_node *next;
};

struct bridge_queue {
	pthread_mutex_t lock;
	struct bq_node *head, *tail;
	size_t len;                  /* items queued (for metrics) */
	void (*wake)(void *arg);
	void *wake_arg;
};

int bq_init(struct bridge_queue *q, void (*wake)(void *), void *arg);
void bq_destroy(struct bridge_queue *q);
/* Push one node (ownership passes). */
void bq_push(struct bridge_queue *q, struct bq_node *n);
/* Take everything queued, oldest first (NULL when empty). */
struct bq_node *bq_drain(struct bridge_queue *q);
/* Items queued now (any thread). */
size_t bq_len(struct bridge_queue *q);

/* An HTTP request under /media/ travelling between the threads (gw_media.c,
 * media_http.c).  The gateway fills the request part and pushes it; the
 * core fills the reply part of the same item and pushes it back.  Every
 * string is owned by the item (freed by bridge_http_free). */
enum bridge_http_phase {
	BHTTP_BEGIN,    /* the request's start: the core asks http_begin */
	BHTTP_PUT_DONE, /* a PUT body is in its file (ok) or the transfer failed */
};

struct bridge_http {
	uint64_t req;            /* the gateway's request id */
	enum bridge_http_phase phase;
	/* request (gateway → core) */
	char *method;            /* "GET", "HEAD" or "PUT" */
	char *path;              /* "/media/…", no query */
	char *query;             /* "" when none */
	int64_t content_length;  /* -1: none declared */
	bool ok;                 /* BHTTP_PUT_DONE */
	uint64_t upload;         /* BHTTP_PUT_DONE; in the BEGIN reply: the token */
	/* reply (core → gateway): struct chatd_media_http_reply, copied */
	int status;              /* 0: go ahead (BEGIN only); else an HTTP status */
	char *file;
	char *content_type;
	int64_t size;
	char *error;
	char *message;
};

/* A small authenticated JSON POST (POST /telemetry) the gateway has read
 * and checked the token of; the core decides and fills the reply part of
 * the same item, which goes back (gw_post.c, telemetry.c).  Strings are
 * owned by the item (bridge_post_free). */
struct bridge_post {
	uint64_t req;            /* the gateway's request id */
	char user[BRIDGE_USER_MAX + 1];
	int64_t iat;             /* the token's iat, 0 if absent */
	char *body;              /* NUL-terminated, body_len bytes */
	size_t body_len;
	/* reply (core → gateway) */
	int status;              /* an HTTP status */
	char *reply;             /* JSON body, or NULL for none */
	int64_t retry_after_ms;  /* 429 */
};

/* gateway → core */
enum bridge_in_kind {
	BIN_OPEN,       /* a session authenticated */
	BIN_CLOSE,      /* an authenticated session closed */
	BIN_CMD,        /* a decoded command of an authenticated session */
	BIN_GW_DONE,    /* the gateway finished shutting down */
	BIN_HTTP,       /* a media HTTP request (http, owned) */
	BIN_POST,       /* an authenticated JSON POST (post, owned) */
	BIN_REFRESH,    /* an authenticated session took a new token (auth frame) */
};

struct bridge_in {
	struct bq_node node;
	enum bridge_in_kind kind;
	uint64_t session;
	char user[BRIDGE_USER_MAX + 1];
	json_t *msg;            /* BIN_CMD: the frame, owned */
	int64_t iat;            /* BIN_OPEN, BIN_REFRESH: the token's iat (s since the epoch), 0 if absent */
	uint64_t trace;         /* log trace id of the frame it came from (0: none) */
	struct bridge_http *http; /* BIN_HTTP: owned */
	struct bridge_post *post; /* BIN_POST: owned */
};

/* core → gateway */
enum bridge_out_kind {
	BOUT_FRAME,     /* queue `frame` on each of sessions[] */
	BOUT_CLOSE,     /* send `frame` (if any), then close with code */
	BOUT_SHUTDOWN,  /* close every session with 1001 and stop */
	BOUT_READY,     /* readiness of storage changed: code = 1 ready, 0 not */
	BOUT_HTTP,      /* the core's answer to a BIN_HTTP item (http, owned) */
	BOUT_POST,      /* the core's answer to a BIN_POST item (post, owned) */
};

struct bridge_out {
	struct bq_node node;
	enum bridge_out_kind kind;
	chatd_frame *frame;     /* one reference owned by the item (may be NULL) */
	struct bridge_http *http; /* BOUT_HTTP: owned */
	struct bridge_post *post; /* BOUT_POST: owned */
	int code;
	size_t n;
	uint64_t sessions[];
};

/* The item's trace is the calling thread's log trace id (log.h). */
struct bridge_in *bridge_in_new(enum bridge_in_kind kind, uint64_t session,
				const char *user, json_t *msg);
void bridge_in_free(struct bridge_in *in);
/* A zeroed item (content_length -1); NULL on ENOMEM. */
struct bridge_http *bridge_http_new(uint64_t req, enum bridge_http_phase phase);
/* Free the reply strings only (the core reuses the item for its answer). */
void bridge_http_clear_reply(struct bridge_http *h);
void bridge_http_free(struct bridge_http *h);
void bridge_post_free(struct bridge_post *p);
/* Takes a new reference on frame. n sessions are copied. */
struct bridge_out *bridge_out_new(enum bridge_out_kind kind, chatd_frame *frame,
				  const uint64_t *sessions, size_t n, int code);
void bridge_out_free(struct bridge_out *out);
/* Grow out (n unchanged) to hold at least cap sessions; returns the new
 * pointer or NULL (out untouched). */
struct bridge_out *bridge_out_reserve(struct bridge_out *out, size_t cap);

#endif
