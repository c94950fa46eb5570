/* pg_ops_sync.c — the ops over all of a user's conversations: conv_list
 * and sync.  Every shard answers for the conversations it holds; the
 * answers are merged here, most recently active first (ties: created
 * later first), and sync's caps are applied again over the merged list.
 *
 * Why sync's caps hold after the merge: each shard's chatd_sync applies
 * the total cap over its own conversations in the same order, so before
 * any conversation it has counted at most what the merged list counts
 * before it (the merged list also counts the other shards' messages).  A
 * shard's take is therefore never below the merged take, and it fetched
 * take + 1 rows: enough to keep the merged take and know has_more. */
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"
#include "pg_sql.h"

/* A conversation of the merged list. */
struct entry {
	struct chatd_conversation conv;
	int64_t created_seq;
	const PGresult *r;             /* sync: the shard's result */
	int first_msg, n_msgs;         /* sync: its 'm' rows */
};

/* Most recently active first; then created later first; then by id (the
 * order of two shards' conversations created in the same millisecond). */
static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->conv.last_activity != y->conv.last_activity)
		return x->conv.last_activity > y->conv.last_activity ? -1 : 1;
	if (x->conv.created_at != y->conv.created_at)
		return x->conv.created_at > y->conv.created_at ? -1 : 1;
	if (x->created_seq != y->created_seq)
		return x->created_seq > y->created_seq ? -1 : 1;
	return -strcmp(x->conv.conversation_id, y->conv.conversation_id);
}

/* ---- conv_list ----------------------------------------------------- */

struct op_list {
	struct pg_op base;
	chatd_conv_list_cb cb;
	void *arg;
};

static void list_fail(struct pg_op *op, int status)
{
	struct op_list *o = (struct op_list *)op;
	o->cb(o->arg, status, NULL, 0);
}

static int list_step(struct pg_op *op, struct pg_query *done)
{
	struct op_list *o = (struct op_list *)op;
	size_t n = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		n += (size_t)PQntuples(q->res);
	struct entry *e = n ? pg_alloc(&op->arena, n * sizeof(*e)) : NULL;
	struct chatd_conversation *items = n ? pg_alloc(&op->arena, n * sizeof(*items)) : NULL;
	if (n && (!e || !items)) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0);
		return PG_STEP_DONE;
	}
	size_t k = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		for (int i = 0; i < PQntuples(q->res); i++, k++) {
			pg_read_conv(q->res, i, 0, &e[k].conv);
			e[k].created_seq = pg_i64(q->res, i, 15);
		}
	if (n > 1)
		qsort(e, n, sizeof(*e), entry_cmp);
	for (size_t i = 0; i < n; i++)
		items[i] = e[i].conv;
	o->cb(o->arg, CHATD_OK, items, n);
	return PG_STEP_DONE;
}

static const struct pg_op_type list_type = { "conv_list", list_step, list_fail };

int pg_conv_list(void *inst, const char *user_id, chatd_conv_list_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_list *o = PG_OP_NEW(s, struct op_list, &list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	for (size_t i = 0; i < s->n_shards; i++) {
		struct pg_query *q = pg_op_query(&o->base, i, PG_CONV_LIST);
		pg_q_str(q, user_id);
	}
	return pg_op_start(&o->base);
}

/* ---- sync ---------------------------------------------------------- */

struct op_sync {
	struct pg_op base;
	int per_conv, total;
	chatd_sync_cb cb;
	void *arg;
};

static void sync_fail(struct pg_op *op, int status)
{
	struct op_sync *o = (struct op_sync *)op;
	o->cb(o->arg, status, NULL, 0, false);
}

/* Columns of chatd_sync's rows: kind, take, the conversation (from 2),
 * the message (from 18). */
#define SYNC_CONV_COL 2
#define SYNC_MSG_COL (2 + PG_CONV_NCOLS)

static int sync_step(struct pg_op *op, struct pg_query *done)
{
	struct op_sync *o = (struct op_sync *)op;
	size_t n = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		for (int i = 0; i < PQntuples(q->res); i++)
			n += pg_val(q->res, i, 0) && pg_val(q->res, i, 0)[0] == 'c';
	struct entry *e = n ? pg_alloc(&op->arena, n * sizeof(*e)) : NULL;
	struct chatd_sync_conv *items = n ? pg_alloc(&op->arena, n * sizeof(*items)) : NULL;
	if (n && (!e || !items)) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, false);
		return PG_STEP_DONE;
	}
	size_t k = 0;
	for (struct pg_query *q = done; q; q = q->op_next) {
		const PGresult *r = q->res;
		for (int i = 0; i < PQntuples(r); i++) {
			const char *kind = pg_val(r, i, 0);
			if (kind && kind[0] == 'c') {
				pg_read_conv(r, i, SYNC_CONV_COL, &e[k].conv);
				e[k].created_seq = pg_i64(r, i, SYNC_CONV_COL + 15);
				e[k].r = r;
				e[k].first_msg = i + 1;
				e[k].n_msgs = 0;
				k++;
			} else if (k > 0 && e[k - 1].r == r) {
				e[k - 1].n_msgs++;
			}
		}
	}
	if (n > 1)
		qsort(e, n, sizeof(*e), entry_cmp);
	size_t left = (size_t)o->total;
	bool top_more = false;
	for (size_t i = 0; i < n; i++) {
		size_t take = left < (size_t)o->per_conv ? left : (size_t)o->per_conv;
		size_t fetched = (size_t)e[i].n_msgs;
		size_t keep = fetched < take ? fetched : take;
		struct chatd_message *msgs = keep ? pg_alloc(&op->arena, keep * sizeof(*msgs)) : NULL;
		if (keep && !msgs) {
			o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, false);
			return PG_STEP_DONE;
		}
		for (size_t j = 0; j < keep; j++)
			pg_read_msg(e[i].r, e[i].first_msg + (int)j, SYNC_MSG_COL, &msgs[j]);
		items[i].conv = &e[i].conv;
		items[i].messages = msgs;
		items[i].n_messages = keep;
		items[i].has_more = fetched > take;
		left -= keep;
		/* Top level (protocol "Precise rules"): only the total cap counts. */
		if (items[i].has_more && take < (size_t)o->per_conv)
			top_more = true;
	}
	o->cb(o->arg, CHATD_OK, items, n, top_more);
	return PG_STEP_DONE;
}

static const struct pg_op_type sync_type = { "sync", sync_step, sync_fail };

int pg_sync(void *inst, const char *user_id, const struct chatd_cursor *cursors,
	    size_t n_cursors, int per_conv, int total, chatd_sync_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) || (n_cursors && !cursors) ||
	    per_conv < 1 || per_conv > PG_PER_CONV_MAX || total < 1 || total > PG_TOTAL_MAX)
		return CHATD_ERR_INVALID;
	if (n_cursors > PG_CURSORS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_cursors; i++)
		if (!store_valid_str(cursors[i].conversation_id, CHATD_ID_MAX) || cursors[i].seq < 0)
			return CHATD_ERR_INVALID;
	struct op_sync *o = PG_OP_NEW(s, struct op_sync, &sync_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->per_conv = per_conv;
	o->total = total;
	o->cb = cb;
	o->arg = arg;
	/* Each shard gets the cursors of the conversations it may hold. */
	const char **cids = n_cursors ? malloc(n_cursors * sizeof(*cids)) : NULL;
	int64_t *seqs = n_cursors ? malloc(n_cursors * sizeof(*seqs)) : NULL;
	if (n_cursors && (!cids || !seqs)) {
		free(cids);
		free(seqs);
		pg_op_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	for (size_t sh = 0; sh < s->n_shards; sh++) {
		size_t m = 0;
		for (size_t i = 0; i < n_cursors; i++)
			if (pg_shard_of(s, cursors[i].conversation_id) == sh) {
				cids[m] = cursors[i].conversation_id;
				seqs[m++] = cursors[i].seq;
			}
		struct pg_query *q = pg_op_query(&o->base, sh, PG_SYNC);
		pg_q_str(q, user_id);
		pg_q_text_array(q, cids, m);
		pg_q_i64_array(q, seqs, m);
		pg_q_int(q, per_conv);
		pg_q_int(q, total);
	}
	free(cids);
	free(seqs);
	return pg_op_start(&o->base);
}
