/* bridge.c — see bridge.h. */
#include "bridge.h"

#include <stdlib.h>
#include <string.h>
#include "log.h"

int bq_init(struct bridge_queue *q, void (*wake)(void *), void *arg)
{
	q->head = q->tail = NULL;
	q->len = 0;
	q->wake = wake;
	q->wake_arg = arg;
	return pthread_mutex_init(&q->lock, NULL) == 0 ? 0 : -1;
}

void bq_destroy(struct bridge_queue *q)
{
	pthread_mutex_destroy(&q->lock);
}

void bq_push(struct bridge_queue *q, struct bq_node *n)
{
	n->next = NULL;
	pthread_mutex_lock(&q->lock);
	int was_empty = q->head == NULL;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->len++;
	pthread_mutex_unlock(&q->lock);
	/* Waking outside the lock: the consumer takes the lock to drain. */
	if (was_empty && q->wake)
		q->wake(q->wake_arg);
}

struct bq_node *bq_drain(struct bridge_queue *q)
{
	pthread_mutex_lock(&q->lock);
	struct bq_node *all = q->head;
	q->head = q->tail = NULL;
	q->len = 0;
	pthread_mutex_unlock(&q->lock);
	return all;
}

size_t bq_len(struct bridge_queue *q)
{
	pthread_mutex_lock(&q->lock);
	size_t n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

struct bridge_in *bridge_in_new(enum bridge_in_kind kind, uint64_t session,
				const char *user, json_t *msg)
{
	struct bridge_in *in = calloc(1, sizeof *in);
	if (!in)
		return NULL;
	in->kind = kind;
	in->session = session;
	in->trace = log_ctx_trace();
	if (user) {
		size_t n = strnlen(user, BRIDGE_USER_MAX);
		memcpy(in->user, user, n);
		in->user[n] = '\0';
	}
	in->msg = msg;
	return in;
}

void bridge_in_free(struct bridge_in *in)
{
	if (!in)
		return;
	if (in->msg)
		json_decref(in->msg);
	bridge_http_free(in->http);
	bridge_post_free(in->post);
	free(in);
}

struct bridge_http *bridge_http_new(uint64_t req, enum bridge_http_phase phase)
{
	struct bridge_http *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->req = req;
	h->phase = phase;
	h->content_length = -1;
	return h;
}

void bridge_http_clear_reply(struct bridge_http *h)
{
	free(h->file);
	free(h->content_type);
	free(h->error);
	free(h->message);
	h->file = h->content_type = h->error = h->message = NULL;
}

void bridge_http_free(struct bridge_http *h)
{
	if (!h)
		return;
	bridge_http_clear_reply(h);
	free(h->method);
	free(h->path);
	free(h->query);
	free(h);
}

void bridge_post_free(struct bridge_post *p)
{
	if (!p)
		return;
	free(p->body);
	free(p->reply);
	free(p);
}

struct bridge_out *bridge_out_new(enum bridge_out_kind kind, chatd_frame *frame,
				  const uint64_t *sessions, size_t n, int code)
{
	if (n > (SIZE_MAX - sizeof(struct bridge_out)) / sizeof(uint64_t))
		return NULL;
	struct bridge_out *out = malloc(sizeof *out + n * sizeof(uint64_t));
	if (!out)
		return NULL;
	out->node.next = NULL;
	out->kind = kind;
	out->frame = frame;
	out->http = NULL;
	out->post = NULL;
	if (frame)
		frame_ref(frame);
	out->code = code;
	out->n = n;
	if (n)
		memcpy(out->sessions, sessions, n * sizeof(uint64_t));
	return out;
}

void bridge_out_free(struct bridge_out *out)
{
	if (!out)
		return;
	frame_unref(out->frame);
	bridge_http_free(out->http);
	bridge_post_free(out->post);
	free(out);
}

struct bridge_out *bridge_out_reserve(struct bridge_out *out, size_t cap)
{
	if (cap > (SIZE_MAX - sizeof(struct bridge_out)) / sizeof(uint64_t))
		return NULL;
	return realloc(out, sizeof *out + cap * sizeof(uint64_t));
}
