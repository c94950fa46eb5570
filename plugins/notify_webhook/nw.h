/* nw.h — notify_webhook's state, shared by the plugin (core thread:
 * notify_webhook.c) and its worker thread (nw_worker.c).  Everything under
 * `mu` is shared; counters are atomics flushed to the host's metrics by a
 * core timer. */
#ifndef NW_H
#define NW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "chatd/chatd.h"
#include "nw_http.h"

enum nw_preview { NW_PREVIEW_FULL, NW_PREVIEW_TRUNCATED, NW_PREVIEW_NONE };

/* One message waiting in a recipient's batch (strings in one block). */
struct nw_item {
	struct nw_item *next;
	char *conversation_id, *sender_id, *message_id, *text;  /* text NULL: none */
	bool media, truncated;
	int64_t seq, ts;
};

/* A recipient's batch, or (delivery != NULL) a batch being retried. */
struct nw_batch {
	struct nw_batch *next;
	char recipient[CHATD_ID_MAX + 1];
	struct nw_item *items, **tail;
	size_t n;
	int64_t due_ms;           /* monotonic: send (or retry) at */
	char *body;               /* the JSON once built (kept across retries) */
	char delivery[40];        /* id, the same on every retry */
	int attempts;
};

struct nw {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	struct nw_url url;
	char *secret;
	enum nw_preview preview;
	int64_t preview_chars, window_ms, batch_max, timeout_ms, max_attempts, backoff_ms,
		queue_max;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct nw_batch *open;     /* collecting, one per recipient */
	struct nw_batch *retry;    /* failed, waiting for their next attempt */
	size_t queued;             /* messages in open + retry */
	bool stop;
	pthread_t worker;
	bool started;

	/* counters (worker and core), flushed by the metrics timer */
	atomic_uint_fast64_t c_queued, c_sent, c_failed, c_dropped, c_overflow;
	uint64_t f_queued, f_sent, f_failed, f_dropped, f_overflow;
	chatd_metric_id m_queued, m_sent, m_failed, m_dropped, m_overflow;
	chatd_timer_id timer;
};

/* Core thread: queue m for its recipient.  CHATD_OK, or
 * CHATD_ERR_TOO_LARGE when queue_max messages already wait (counted). */
int nw_enqueue(struct nw *w, const struct chatd_notify_msg *m);
/* Start / stop the worker (stop drops what still waits, counted). */
int nw_worker_start(struct nw *w);
void nw_worker_stop(struct nw *w);
/* The JSON body of a batch (malloc'd) and its signature header value
 * "t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>". */
char *nw_body(const struct nw_batch *b, int64_t sent_at_ms);
int nw_sign(const char *secret, int64_t t, const char *body, char *out, size_t outlen);
void nw_batch_free(struct nw_batch *b);

#endif
