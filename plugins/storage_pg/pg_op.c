/* pg_op.c — ops and their queries (see pg_store.h): arenas, parameters as
 * text, sending a step to the shards' connections, and advancing an op
 * when every query of its step has its result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include "pg_conn.h"
#include "pg_store.h"

int64_t pg_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- arena ------------------------------------------------------- */

struct pg_block {
	struct pg_block *next;
	size_t used, cap;
	_Alignas(max_align_t) unsigned char data[];
};

#define PG_BLOCK_MIN 2048

void *pg_alloc(struct pg_arena *a, size_t size)
{
	size_t need = (size + (_Alignof(max_align_t) - 1)) & ~(size_t)(_Alignof(max_align_t) - 1);
	if (need < size)
		return NULL;
	struct pg_block *b = a->head;
	if (!b || b->cap - b->used < need) {
		size_t cap = need > PG_BLOCK_MIN ? need : PG_BLOCK_MIN;
		if (cap > SIZE_MAX - sizeof(*b))
			return NULL;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += need;
	memset(p, 0, size);
	return p;
}

void pg_arena_free(struct pg_arena *a)
{
	struct pg_block *b = a->head;
	while (b) {
		struct pg_block *n = b->next;
		free(b);
		b = n;
	}
	a->head = NULL;
}

/* ---- ops --------------------------------------------------------- */

struct pg_op *pg_op_new(struct pg_store *s, size_t size, const struct pg_op_type *type)
{
	struct pg_arena a = { 0 };
	struct pg_op *op = pg_alloc(&a, size);
	if (!op) {
		pg_arena_free(&a);
		return NULL;
	}
	op->arena = a;
	op->type = type;
	op->s = s;
	return op;
}

void pg_op_free(struct pg_op *op)
{
	for (struct pg_query *q = op->head; q; q = q->op_next)
		if (q->res)
			PQclear(q->res);
	struct pg_arena a = op->arena;   /* the op lives in it */
	pg_arena_free(&a);
}

char *pg_op_strdup(struct pg_op *op, const char *str)
{
	if (!str)
		return NULL;
	size_t n = strlen(str);
	char *p = pg_alloc(&op->arena, n + 1);
	if (!p) {
		op->oom = true;
		return NULL;
	}
	memcpy(p, str, n + 1);
	return p;
}

struct pg_query *pg_op_query(struct pg_op *op, size_t shard, int stmt)
{
	struct pg_query *q = pg_alloc(&op->arena, sizeof(*q));
	if (!q) {
		op->oom = true;
		return NULL;
	}
	q->op = op;
	q->shard = shard;
	q->stmt = stmt;
	if (op->tail)
		op->tail->op_next = q;
	else
		op->head = q;
	op->tail = q;
	return q;
}

static void add_param(struct pg_query *q, const char *v)
{
	if (q->nparams >= PG_PARAMS_MAX) {
		q->op->oom = true;   /* a bug: caught as NOMEM, never sent */
		return;
	}
	q->params[q->nparams++] = v;
}

void pg_q_str(struct pg_query *q, const char *v)
{
	if (!q)
		return;
	char *c = v ? pg_op_strdup(q->op, v) : NULL;
	add_param(q, c);
}

void pg_q_i64(struct pg_query *q, int64_t v)
{
	if (!q)
		return;
	char buf[24];
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	add_param(q, pg_op_strdup(q->op, buf));
}

void pg_q_int(struct pg_query *q, int v)
{
	pg_q_i64(q, v);
}

void pg_q_bool(struct pg_query *q, bool v)
{
	if (q)
		add_param(q, v ? "t" : "f");
}

/* {"a","b"}: every element quoted, with " and \ escaped. */
void pg_q_text_array(struct pg_query *q, const char *const *v, size_t n)
{
	if (!q)
		return;
	size_t len = 3;
	for (size_t i = 0; i < n; i++)
		len += 2 * strlen(v[i]) + 3;
	char *p = pg_alloc(&q->op->arena, len);
	if (!p) {
		q->op->oom = true;
		add_param(q, NULL);
		return;
	}
	size_t o = 0;
	p[o++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			p[o++] = ',';
		p[o++] = '"';
		for (const char *c = v[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				p[o++] = '\\';
			p[o++] = *c;
		}
		p[o++] = '"';
	}
	p[o++] = '}';
	p[o] = '\0';
	add_param(q, p);
}

void pg_q_i64_array(struct pg_query *q, const int64_t *v, size_t n)
{
	if (!q)
		return;
	char *p = pg_alloc(&q->op->arena, 3 + n * 21);
	if (!p) {
		q->op->oom = true;
		add_param(q, NULL);
		return;
	}
	size_t o = 0;
	p[o++] = '{';
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(p + o, "%s%lld", i ? "," : "", (long long)v[i]);
	p[o++] = '}';
	p[o] = '\0';
	add_param(q, p);
}

/* Send the step's queries, all or none: every shard they go to must be
 * accepting, checked first (nothing changes in between: one thread). */
static int send_step(struct pg_op *op)
{
	if (op->oom)
		return CHATD_ERR_NOMEM;
	if (!op->head)
		return CHATD_ERR_INTERNAL;
	struct pg_store *s = op->s;
	if (s->stopping)
		return CHATD_ERR_SHUTDOWN;
	for (struct pg_query *q = op->head; q; q = q->op_next)
		if (q->shard >= s->n_shards || !pg_conn_accepting(s->shards[q->shard])) {
			pg_metric(s, s->m_unavailable, 1);
			return CHATD_ERR_UNAVAILABLE;
		}
	op->outstanding = 0;
	for (struct pg_query *q = op->head; q; q = q->op_next)
		op->outstanding++;
	/* Count first: a submit never completes a query before it returns. */
	for (struct pg_query *q = op->head; q; q = q->op_next)
		pg_conn_submit(s->shards[q->shard], q);
	return CHATD_OK;
}

int pg_op_start(struct pg_op *op)
{
	int st = send_step(op);
	if (st < 0)
		pg_op_free(op);
	return st;
}

int pg_op_continue(struct pg_op *op)
{
	int st = send_step(op);
	if (st == CHATD_OK)
		return PG_STEP_MORE;
	op->type->fail(op, st);
	return PG_STEP_DONE;
}

void pg_query_done(struct pg_query *q)
{
	struct pg_op *op = q->op;
	if (--op->outstanding > 0)
		return;
	struct pg_query *done = op->head;
	op->head = op->tail = NULL;
	int st = CHATD_OK;
	for (struct pg_query *d = done; d; d = d->op_next)
		if (d->status < 0) {
			st = d->status;
			break;
		}
	int r = PG_STEP_DONE;
	if (op->s->stopping)
		r = PG_STEP_DONE;         /* completions are dropped at fini */
	else if (st < 0)
		op->type->fail(op, st);
	else
		r = op->type->step(op, done);
	for (struct pg_query *d = done; d; d = d->op_next)
		if (d->res) {
			PQclear(d->res);
			d->res = NULL;
		}
	if (r == PG_STEP_DONE)
		pg_op_free(op);
}

/* ---- results ----------------------------------------------------- */

const char *pg_val(const PGresult *r, int row, int col)
{
	if (!r || row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
	const char *v = pg_val(r, row, col);
	return v ? strtoll(v, NULL, 10) : 0;
}

bool pg_bool(const PGresult *r, int row, int col)
{
	const char *v = pg_val(r, row, col);
	return v && v[0] == 't';
}

int64_t pg_affected(const PGresult *r)
{
	const char *n = r ? PQcmdTuples((PGresult *)r) : NULL;
	return n && *n ? strtoll(n, NULL, 10) : 0;
}

void pg_read_conv(const PGresult *r, int row, int col, struct chatd_conversation *c)
{
	c->conversation_id = pg_val(r, row, col + 0);
	c->kind = pg_val(r, row, col + 1);
	c->title = pg_val(r, row, col + 2);
	c->last_seq = pg_i64(r, row, col + 3);
	c->member_count = pg_i64(r, row, col + 4);
	c->created_at = pg_i64(r, row, col + 5);
	c->last_activity = pg_i64(r, row, col + 6);
	c->locked = pg_bool(r, row, col + 7);
	c->typing = pg_bool(r, row, col + 8);
	c->receipts = pg_bool(r, row, col + 9);
	c->role = pg_val(r, row, col + 10);
	c->read_seq = pg_i64(r, row, col + 11);
	c->muted_until = pg_i64(r, row, col + 12);
	c->peer_id = pg_val(r, row, col + 13);
}

void pg_read_msg(const PGresult *r, int row, int col, struct chatd_message *m)
{
	m->conversation_id = pg_val(r, row, col + 0);
	m->seq = pg_i64(r, row, col + 1);
	m->message_id = pg_val(r, row, col + 2);
	m->sender_id = pg_val(r, row, col + 3);
	m->client_message_id = pg_val(r, row, col + 4);
	m->deleted = pg_bool(r, row, col + 10);
	/* Deleted for everyone: the content stays stored until
	 * purge_deleted, but no reader gets any of it. */
	m->text = m->deleted ? NULL : pg_val(r, row, col + 5);
	m->media_id = m->deleted ? NULL : pg_val(r, row, col + 6);
	m->reply_to = pg_i64(r, row, col + 7);
	m->ts = pg_i64(r, row, col + 8);
	m->edited_at = pg_i64(r, row, col + 9);
	m->visibility = pg_val(r, row, col + 11);
	if (!m->visibility)
		m->visibility = CHATD_VIS_NORMAL;
	m->moderation = m->deleted ? NULL : pg_val(r, row, col + 12);
	m->media_mime = m->media_id ? pg_val(r, row, col + 13) : NULL;
	m->media_size = m->media_mime ? pg_i64(r, row, col + 14) : 0;
	m->media_thumbnail = m->media_mime && pg_bool(r, row, col + 15);
}

void pg_read_member(const PGresult *r, int row, int col, struct chatd_member *m)
{
	m->user_id = pg_val(r, row, col + 0);
	m->role = pg_val(r, row, col + 1);
	m->joined_at = pg_i64(r, row, col + 2);
	m->muted_until = pg_i64(r, row, col + 3);
	m->read_seq = pg_i64(r, row, col + 4);
}
