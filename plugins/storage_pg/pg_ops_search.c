/* pg_ops_search.c — the ops over the messages of every shard, merged by
 * time (ABI 1.4): search and messages_latest.
 *
 * Both order messages newest first by (created_at, conversation_id, seq),
 * all descending: a total order, the same on every shard.  Each shard
 * concerned answers with its own first k + 1 rows in that order, where k
 * is what the op keeps (limit; for a search page also the rows it skips);
 * the merge keeps the first k of them all.  That is exact: a row some
 * shard left out has k + 1 rows of that shard before it, and more than k
 * rows in all means more exist.  A search of one conversation asks its
 * shard only; a search of all the viewer's conversations asks every shard
 * (one that holds none of them answers nothing, from the members index). */
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"
#include "pg_sql.h"

/* A row of one shard's result: a message in the MSG_COLS order. */
struct row {
	const PGresult *r;
	int i;
};

/* The order of both ops: newest by ts (created_at); ties: conversation id,
 * then seq, the larger first (the interface's order for messages_latest,
 * and a total order for search, the same on every shard). */
static int newest_first(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int64_t tx = pg_i64(x->r, x->i, 8), ty = pg_i64(y->r, y->i, 8);
	if (tx != ty)
		return tx > ty ? -1 : 1;
	int c = strcmp(pg_val(x->r, x->i, 0), pg_val(y->r, y->i, 0));
	if (c)
		return -c;
	int64_t sx = pg_i64(x->r, x->i, 1), sy = pg_i64(y->r, y->i, 1);
	return sx > sy ? -1 : sx < sy;
}

/* Every row of the step's results, merged newest first (in the arena);
 * NULL with *n > 0 on OOM. */
static struct row *merge(struct pg_op *op, struct pg_query *done, size_t *n)
{
	*n = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		*n += (size_t)PQntuples(q->res);
	struct row *rows = *n ? pg_alloc(&op->arena, *n * sizeof(*rows)) : NULL;
	if (!rows)
		return NULL;
	size_t k = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		for (int i = 0; i < PQntuples(q->res); i++)
			rows[k++] = (struct row){ q->res, i };
	qsort(rows, *n, sizeof(*rows), newest_first);
	return rows;
}

/* ---- search -------------------------------------------------------- */

/* The cursor: the ts of the last hit given << TIE_BITS | how many hits
 * created in that millisecond were given so far (the hit order is total,
 * so the next page skips that many of them).  At most 2^53 (the protocol
 * carries it as a JSON integer) while ts < 2^42 (year 2109).  A tie count
 * of 0 means "below that millisecond": used when more than TIE_MAX hits
 * share one, which then skips the rest of them. */
#define TIE_BITS 11
#define TIE_MAX ((1 << TIE_BITS) - 1)

/* chatd_search's columns: the message (PG_MSG_NCOLS), then the marked
 * text the snippet is cut from. */
#define SEARCH_MARKED_COL PG_MSG_NCOLS

struct op_search {
	struct pg_op base;
	int limit;
	int64_t ts;                    /* hits created at or before it */
	int skip;                      /* ... less this many created at ts */
	chatd_search_cb cb;
	void *arg;
};

static void search_fail(struct pg_op *op, int status)
{
	struct op_search *o = (struct op_search *)op;
	o->cb(o->arg, status, NULL, 0, 0);
}

static int search_step(struct pg_op *op, struct pg_query *done)
{
	struct op_search *o = (struct op_search *)op;
	size_t n;
	struct row *rows = merge(op, done, &n);
	if (n && !rows) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, 0);
		return PG_STEP_DONE;
	}
	/* Hits of ts's millisecond that earlier pages gave: first in order. */
	size_t skipped = 0;
	while (skipped < n && skipped < (size_t)o->skip &&
	       pg_i64(rows[skipped].r, rows[skipped].i, 8) == o->ts)
		skipped++;
	size_t left = n - skipped;
	size_t take = left < (size_t)o->limit ? left : (size_t)o->limit;
	struct chatd_search_hit *hits = take ? pg_alloc(&op->arena, take * sizeof(*hits)) : NULL;
	if (take && !hits) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, 0);
		return PG_STEP_DONE;
	}
	for (size_t i = 0; i < take; i++) {
		const struct row *w = &rows[skipped + i];
		pg_read_msg(w->r, w->i, 0, &hits[i].msg);
		/* Set for every row but a shard's last, which is never among
		 * the hits given (see the top of this file). */
		const char *marked = pg_val(w->r, w->i, SEARCH_MARKED_COL);
		size_t cap = pg_snippet_cap(hits[i].msg.text, marked);
		char *snippet = pg_alloc(&op->arena, cap);
		if (!snippet || pg_snippet(hits[i].msg.text, marked, snippet, cap) < 0) {
			o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, 0);
			return PG_STEP_DONE;
		}
		hits[i].snippet = snippet;
	}
	/* Each hit's cursor: its ts and how many of its millisecond were
	 * given up to it, counting those skipped. */
	size_t tie = 0;
	for (size_t i = 0; i < take; i++) {
		int64_t ts = hits[i].msg.ts;
		if (i > 0 && ts == hits[i - 1].msg.ts)
			tie++;
		else
			tie = ts == o->ts ? skipped + 1 : 1;
		hits[i].cursor = (int64_t)(((uint64_t)ts << TIE_BITS) |
					   (tie <= TIE_MAX ? tie : 0));
	}
	o->cb(o->arg, CHATD_OK, hits, take, left > take && take ? hits[take - 1].cursor : 0);
	return PG_STEP_DONE;
}

static const struct pg_op_type search_type = { "search", search_step, search_fail };

int pg_search(void *inst, const struct chatd_search_req *req, chatd_search_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!req || !cb || !store_valid_str(req->viewer, CHATD_ID_MAX) ||
	    (req->conversation_id && !store_valid_str(req->conversation_id, CHATD_ID_MAX)) ||
	    !req->terms || req->n_terms < 1 || req->n_terms > CHATD_SEARCH_TERMS_MAX ||
	    req->limit < 1)
		return CHATD_ERR_INVALID;
	size_t words = 0;
	for (size_t i = 0; i < req->n_terms; i++)
		words += req->terms[i].n_words;
	char terms[PG_SEARCH_TERMS_LIT], prefix[PG_SEARCH_PREFIX_LIT];
	if (words > CHATD_SEARCH_TERMS_MAX ||
	    pg_search_terms(req->terms, req->n_terms, terms, sizeof terms, prefix,
			    sizeof prefix) < 0)
		return CHATD_ERR_INVALID;
	struct op_search *o = PG_OP_NEW(s, struct op_search, &search_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->limit = req->limit > CHATD_SEARCH_LIMIT_MAX ? CHATD_SEARCH_LIMIT_MAX : req->limit;
	o->ts = INT64_MAX;
	if (req->before > 0) {
		o->ts = req->before >> TIE_BITS;
		o->skip = (int)(req->before & TIE_MAX);
		if (o->skip == 0)
			o->ts--;   /* below that millisecond */
	}
	o->cb = cb;
	o->arg = arg;
	size_t first = 0, end = s->n_shards;
	if (req->conversation_id) {
		first = pg_shard_of(s, req->conversation_id);
		end = first + 1;
	}
	for (size_t sh = first; sh < end; sh++) {
		struct pg_query *q = pg_op_query(&o->base, sh, PG_SEARCH);
		pg_q_str(q, req->viewer);
		pg_q_str(q, req->conversation_id);
		pg_q_str(q, terms);
		pg_q_str(q, prefix);
		pg_q_i64(q, o->ts);
		pg_q_int(q, o->skip);
		pg_q_int(q, o->limit);
	}
	return pg_op_start(&o->base);
}

/* ---- messages_latest ----------------------------------------------- */

struct op_latest {
	struct pg_op base;
	int limit;
	chatd_history_cb cb;
	void *arg;
};

static void latest_fail(struct pg_op *op, int status)
{
	struct op_latest *o = (struct op_latest *)op;
	o->cb(o->arg, status, NULL, 0, false);
}

static int latest_step(struct pg_op *op, struct pg_query *done)
{
	struct op_latest *o = (struct op_latest *)op;
	size_t n;
	struct row *rows = merge(op, done, &n);
	size_t take = n < (size_t)o->limit ? n : (size_t)o->limit;
	struct chatd_message *msgs = take ? pg_alloc(&op->arena, take * sizeof(*msgs)) : NULL;
	if ((n && !rows) || (take && !msgs)) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, false);
		return PG_STEP_DONE;
	}
	/* The newest `take`, handed over oldest first. */
	for (size_t i = 0; i < take; i++)
		pg_read_msg(rows[i].r, rows[i].i, 0, &msgs[take - 1 - i]);
	o->cb(o->arg, CHATD_OK, msgs, take, n > take);
	return PG_STEP_DONE;
}

static const struct pg_op_type latest_type = { "messages_latest", latest_step, latest_fail };

int pg_messages_latest(void *inst, int limit, chatd_history_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || limit < 1)
		return CHATD_ERR_INVALID;
	struct op_latest *o = PG_OP_NEW(s, struct op_latest, &latest_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->limit = limit > PG_HISTORY_MAX ? PG_HISTORY_MAX : limit;
	o->cb = cb;
	o->arg = arg;
	for (size_t sh = 0; sh < s->n_shards; sh++) {
		struct pg_query *q = pg_op_query(&o->base, sh, PG_MSGS_LATEST);
		pg_q_int(q, o->limit + 1);   /* one more tells has_more */
	}
	return pg_op_start(&o->base);
}
