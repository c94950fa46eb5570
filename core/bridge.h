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

/* gateway → core */
enum bridge_in_kind {
	BIN_OPEN,       /* a session authenticated */
	BIN_CLOSE,      /* an authenticated session closed */
	BIN_CMD,        /* a decoded command of an authenticated session */
	BIN_GW_DONE,    /* the gateway finished shutting down */
};

struct bridge_in {
	struct bq_node node;
	enum bridge_in_kind kind;
	uint64_t session;
	char user[BRIDGE_USER_MAX + 1];
	json_t *msg;            /* BIN_CMD: the frame, owned */
};

/* core → gateway */
enum bridge_out_kind {
	BOUT_FRAME,     /* queue `frame` on each of sessions[] */
	BOUT_CLOSE,     /* send `frame` (if any), then close with code */
	BOUT_SHUTDOWN,  /* close every session with 1001 and stop */
	BOUT_READY,     /* readiness of storage changed: code = 1 ready, 0 not */
};

struct bridge_out {
	struct bq_node node;
	enum bridge_out_kind kind;
	chatd_frame *frame;     /* one reference owned by the item (may be NULL) */
	int code;
	size_t n;
	uint64_t sessions[];
};

struct bridge_in *bridge_in_new(enum bridge_in_kind kind, uint64_t session,
				const char *user, json_t *msg);
void bridge_in_free(struct bridge_in *in);
/* Takes a new reference on frame. n sessions are copied. */
struct bridge_out *bridge_out_new(enum bridge_out_kind kind, chatd_frame *frame,
				  const uint64_t *sessions, size_t n, int code);
void bridge_out_free(struct bridge_out *out);
/* Grow out (n unchanged) to hold at least cap sessions; returns the new
 * pointer or NULL (out untouched). */
struct bridge_out *bridge_out_reserve(struct bridge_out *out, size_t cap);

#endif
