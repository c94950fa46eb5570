/* nw_worker.c — notify_webhook's batching, payload, signature and
 * delivery with retries, on its own thread so that a slow or hanging
 * receiver never holds the core. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include "nw.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nw_batch_free(struct nw_batch *b)
{
	while (b && b->items) {
		struct nw_item *it = b->items;
		b->items = it->next;
		free(it);
	}
	if (b)
		free(b->body);
	free(b);
}

/* Bytes of the first `chars` code points of s (whole sequences only). */
static size_t prefix_bytes(const char *s, int64_t chars, bool *cut)
{
	size_t i = 0;
	int64_t n = 0;
	while (s[i]) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (n == chars) {
				*cut = true;
				return i;
			}
			n++;
		}
		i++;
	}
	*cut = false;
	return i;
}

static char *dup_or_null(char **at, const char *s, size_t n)
{
	if (!s)
		return NULL;
	char *r = *at;
	memcpy(r, s, n);
	r[n] = '\0';
	*at += n + 1;
	return r;
}

/* ---- core thread ----------------------------------------------------- */

int nw_enqueue(struct nw *w, const struct chatd_notify_msg *m)
{
	if (!m->recipient || strlen(m->recipient) > CHATD_ID_MAX || !m->conversation_id ||
	    !m->sender_id || !m->message_id)
		return CHATD_ERR_INVALID;
	bool cut = false;
	size_t tn = 0;
	const char *text = w->preview == NW_PREVIEW_NONE ? NULL : m->text;
	if (text)
		tn = w->preview == NW_PREVIEW_FULL ? strlen(text)
						   : prefix_bytes(text, w->preview_chars, &cut);
	size_t cl = strlen(m->conversation_id), sl = strlen(m->sender_id),
	       ml = strlen(m->message_id);
	struct nw_item *it = malloc(sizeof *it + cl + sl + ml + tn + 4);
	if (!it)
		return CHATD_ERR_NOMEM;
	char *at = (char *)(it + 1);
	it->next = NULL;
	it->conversation_id = dup_or_null(&at, m->conversation_id, cl);
	it->sender_id = dup_or_null(&at, m->sender_id, sl);
	it->message_id = dup_or_null(&at, m->message_id, ml);
	it->text = dup_or_null(&at, text, tn);
	it->truncated = cut;
	it->media = m->media_mime != NULL;
	it->seq = m->seq;
	it->ts = m->ts;

	pthread_mutex_lock(&w->mu);
	if (w->queued >= (size_t)w->queue_max) {
		pthread_mutex_unlock(&w->mu);
		free(it);
		atomic_fetch_add(&w->c_overflow, 1);
		return CHATD_ERR_TOO_LARGE;
	}
	struct nw_batch *b = w->open;
	while (b && strcmp(b->recipient, m->recipient) != 0)
		b = b->next;
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b) {
			pthread_mutex_unlock(&w->mu);
			free(it);
			return CHATD_ERR_NOMEM;
		}
		snprintf(b->recipient, sizeof b->recipient, "%s", m->recipient);
		b->tail = &b->items;
		b->due_ms = mono_ms() + w->window_ms;
		b->next = w->open;
		w->open = b;
	}
	*b->tail = it;
	b->tail = &it->next;
	b->n++;
	w->queued++;
	if ((int64_t)b->n >= w->batch_max)
		b->due_ms = 0;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	atomic_fetch_add(&w->c_queued, 1);
	return CHATD_OK;
}

/* ---- payload and signature ------------------------------------------- */

char *nw_body(const struct nw_batch *b, int64_t sent_at_ms)
{
	json_t *msgs = json_array();
	for (const struct nw_item *it = b->items; msgs && it; it = it->next) {
		json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I}", "conversation_id",
				      it->conversation_id, "seq", (json_int_t)it->seq, "message_id",
				      it->message_id, "sender_id", it->sender_id, "ts",
				      (json_int_t)it->ts);
		if (o && it->text)
			json_object_set_new(o, "text", json_string(it->text));
		if (o && it->truncated)
			json_object_set_new(o, "truncated", json_true());
		if (o && it->media)
			json_object_set_new(o, "media", json_true());
		json_array_append_new(msgs, o);
	}
	json_t *root = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "type", "chatd.notification",
				 "delivery_id", b->delivery, "recipient", b->recipient,
				 "created_at", (json_int_t)sent_at_ms, "count", (json_int_t)b->n,
				 "messages", msgs);
	char *s = root ? json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(root);
	return s;
}

int nw_sign(const char *secret, int64_t t, const char *body, char *out, size_t outlen)
{
	char ts[24];
	int tl = snprintf(ts, sizeof ts, "%" PRId64 ".", t);
	size_t bl = strlen(body);
	unsigned char *msg = malloc((size_t)tl + bl);
	if (!msg)
		return -1;
	memcpy(msg, ts, (size_t)tl);
	memcpy(msg + tl, body, bl);
	unsigned char mac[32];
	unsigned int maclen = 0;
	unsigned char *ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)tl + bl,
				 mac, &maclen);
	free(msg);
	if (!ok || maclen != 32 || outlen < 24 + 4 + 64 + 1)
		return -1;
	int n = snprintf(out, outlen, "t=%" PRId64 ",v1=", t);
	for (unsigned i = 0; i < 32; i++)
		n += snprintf(out + n, outlen - (size_t)n, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof mac);
	return 0;
}

/* ---- the worker ------------------------------------------------------ */

static void new_delivery_id(char out[40])
{
	unsigned char r[16];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		memset(r, 0, sizeof r);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* One attempt: true when the receiver answered 2xx. */
static bool attempt(struct nw *w, struct nw_batch *b)
{
	if (!b->body) {
		new_delivery_id(b->delivery);
		b->body = nw_body(b, wall_ms());
		if (!b->body)
			return false;
	}
	char sig[128], headers[256], err[160];
	int64_t t = wall_ms() / 1000;
	if (nw_sign(w->secret, t, b->body, sig, sizeof sig) < 0)
		return false;
	snprintf(headers, sizeof headers,
		 "X-Chatd-Signature: %s\r\nX-Chatd-Delivery: %s\r\nX-Chatd-Attempt: %d\r\n", sig,
		 b->delivery, b->attempts + 1);
	int status = nw_http_post(&w->url, headers, b->body, strlen(b->body), (int)w->timeout_ms,
				  err, sizeof err);
	if (status >= 200 && status < 300)
		return true;
	if (status > 0)
		snprintf(err, sizeof err, "HTTP %d", status);
	/* The host's log is for the core thread; the worker counts only.
	 * The status is kept for nothing else. */
	(void)err;
	return false;
}

/* Take the due batches off a list into *out. */
static void take_due(struct nw_batch **list, int64_t now, struct nw_batch **out)
{
	for (struct nw_batch **pp = list; *pp;) {
		struct nw_batch *b = *pp;
		if (b->due_ms <= now) {
			*pp = b->next;
			b->next = *out;
			*out = b;
		} else {
			pp = &b->next;
		}
	}
}

static int64_t next_due(const struct nw *w)
{
	int64_t d = INT64_MAX;
	for (const struct nw_batch *b = w->open; b; b = b->next)
		d = b->due_ms < d ? b->due_ms : d;
	for (const struct nw_batch *b = w->retry; b; b = b->next)
		d = b->due_ms < d ? b->due_ms : d;
	return d;
}

static void *worker_main(void *arg)
{
	struct nw *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		int64_t now = mono_ms(), due = next_due(w);
		if (due > now) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait = due == INT64_MAX ? 60000 : due - now;
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
			continue;
		}
		struct nw_batch *work = NULL;
		take_due(&w->open, now, &work);
		take_due(&w->retry, now, &work);
		pthread_mutex_unlock(&w->mu);
		while (work) {
			struct nw_batch *b = work;
			work = b->next;
			bool ok = attempt(w, b);
			b->attempts++;
			pthread_mutex_lock(&w->mu);
			if (ok || b->attempts >= w->max_attempts || w->stop) {
				w->queued -= b->n;
				pthread_mutex_unlock(&w->mu);
				atomic_fetch_add(ok ? &w->c_sent : &w->c_dropped, 1);
				if (!ok)
					atomic_fetch_add(&w->c_failed, 1);
				nw_batch_free(b);
				continue;
			}
			/* backoff, backoff*2, *4 … capped at a minute */
			int64_t delay = w->backoff_ms;
			for (int i = 1; i < b->attempts && delay < 60000; i++)
				delay *= 2;
			b->due_ms = mono_ms() + (delay < 60000 ? delay : 60000);
			b->next = w->retry;
			w->retry = b;
			pthread_mutex_unlock(&w->mu);
			atomic_fetch_add(&w->c_failed, 1);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int nw_worker_start(struct nw *w)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0 || pthread_mutex_init(&w->mu, NULL) != 0)
		return CHATD_ERR_INTERNAL;
	if (pthread_create(&w->worker, NULL, worker_main, w) != 0)
		return CHATD_ERR_INTERNAL;
	w->started = true;
	return CHATD_OK;
}

void nw_worker_stop(struct nw *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->worker, NULL);
	w->started = false;
	struct nw_batch *lists[2] = { w->open, w->retry };
	for (int i = 0; i < 2; i++)
		while (lists[i]) {
			struct nw_batch *b = lists[i];
			lists[i] = b->next;
			atomic_fetch_add(&w->c_dropped, 1);
			nw_batch_free(b);
		}
	w->open = w->retry = NULL;
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}
