/* pg_ops_texts.c — rewriting stored texts (ABI 1.5): texts_scan walks the
 * shards one after the other, each along its messages' primary key; the
 * cursor is "SHARD:SEQ:CONVERSATION_ID" of the last row given, or
 * "SHARD:0:" for the start of a shard (a batch that ends a shard ends
 * there, possibly short or empty, and the next starts the next shard).
 * text_replace is a compare and swap on the conversation's shard.
 *
 * No texts_compact: an UPDATE leaves the old row version (with the old
 * text) in the table until VACUUM reclaims it, and its bytes may stay in
 * free space until overwritten; autovacuum does the first, VACUUM FULL
 * (or pg_repack) rewrites the table for the second.  docs/operations.md
 * says so in the key rotation procedure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"
#include "pg_sql.h"

/* A sealed text is longer than its plaintext (base64 plus nonce and tag). */
#define REPLACE_TEXT_MAX (2 * PG_TEXT_MAX)

/* ---- texts_scan ---------------------------------------------------- */

struct op_scan {
	struct pg_op base;
	size_t shard;
	int limit;
	chatd_texts_cb cb;
	void *arg;
};

static void scan_fail(struct pg_op *op, int status)
{
	struct op_scan *o = (struct op_scan *)op;
	o->cb(o->arg, status, NULL, 0, NULL);
}

static int scan_step(struct pg_op *op, struct pg_query *done)
{
	struct op_scan *o = (struct op_scan *)op;
	size_t n = (size_t)PQntuples(done->res);
	struct chatd_stored_text *rows = n ? pg_alloc(&op->arena, n * sizeof(*rows)) : NULL;
	if (n && !rows) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, NULL);
		return PG_STEP_DONE;
	}
	for (size_t i = 0; i < n; i++) {
		rows[i].conversation_id = pg_val(done->res, (int)i, 0);
		rows[i].seq = pg_i64(done->res, (int)i, 1);
		rows[i].sender_id = pg_val(done->res, (int)i, 2);
		rows[i].text = pg_val(done->res, (int)i, 3);
	}
	char next[CHATD_TEXTS_CURSOR_MAX + 1];
	const char *np = next;
	if (n == (size_t)o->limit)
		snprintf(next, sizeof next, "%zu:%lld:%s", o->shard, (long long)rows[n - 1].seq,
			 rows[n - 1].conversation_id);
	else if (o->shard + 1 < op->s->n_shards)
		snprintf(next, sizeof next, "%zu:0:", o->shard + 1);
	else
		np = NULL;
	o->cb(o->arg, CHATD_OK, rows, n, np);
	return PG_STEP_DONE;
}

static const struct pg_op_type scan_type = { "texts_scan", scan_step, scan_fail };

/* "SHARD:SEQ:CID": SEQ 0 with an empty CID (a shard's start) or SEQ >= 1
 * with a valid id. */
static bool parse_cursor(const char *s, size_t n_shards, size_t *shard, int64_t *seq,
			 const char **cid)
{
	if (strlen(s) > CHATD_TEXTS_CURSOR_MAX || s[0] < '0' || s[0] > '9')
		return false;
	char *end = NULL;
	unsigned long long sh = strtoull(s, &end, 10);
	if (*end != ':' || sh >= n_shards || end - s > 6)
		return false;
	const char *p = end + 1;
	if (p[0] < '0' || p[0] > '9')
		return false;
	long long v = strtoll(p, &end, 10);
	if (*end != ':' || v < 0 || end - p > 19)
		return false;
	*shard = (size_t)sh;
	*seq = v;
	*cid = end + 1;
	return v == 0 ? (*cid)[0] == '\0' : store_valid_str(*cid, CHATD_ID_MAX);
}

int pg_texts_scan(void *inst, const char *after, int limit, chatd_texts_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || limit < 1 || limit > CHATD_TEXTS_SCAN_MAX)
		return CHATD_ERR_INVALID;
	size_t shard = 0;
	int64_t seq = 0;
	const char *cid = "";
	if (after && after[0] && !parse_cursor(after, s->n_shards, &shard, &seq, &cid))
		return CHATD_ERR_INVALID;
	struct op_scan *o = PG_OP_NEW(s, struct op_scan, &scan_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->shard = shard;
	o->limit = limit;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, shard, PG_TEXTS_SCAN);
	pg_q_str(q, cid);
	pg_q_i64(q, seq);
	pg_q_int(q, limit);
	return pg_op_start(&o->base);
}

/* ---- text_replace -------------------------------------------------- */

static int replace_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	int st = CHATD_ERR_INTERNAL;
	if (PQntuples(done->res) == 1)
		st = pg_i64(done->res, 0, 0) == 1 ? CHATD_OK
		     : pg_i64(done->res, 0, 1) == 1 ? CHATD_ERR_CONFLICT : CHATD_ERR_NOT_FOUND;
	o->cb(o->arg, st);
	return PG_STEP_DONE;
}

static const struct pg_op_type replace_type = { "text_replace", replace_step, pg_fail_status };

int pg_text_replace(void *inst, const char *conversation_id, int64_t seq, const char *expected,
		    const char *text, chatd_status_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1 || !expected ||
	    !text || strlen(expected) > REPLACE_TEXT_MAX || strlen(text) > REPLACE_TEXT_MAX)
		return CHATD_ERR_INVALID;
	struct pg_op_status *o = PG_OP_NEW(s, struct pg_op_status, &replace_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, pg_shard_of(s, conversation_id),
					 PG_TEXT_REPLACE);
	pg_q_str(q, conversation_id);
	pg_q_i64(q, seq);
	pg_q_str(q, expected);
	pg_q_str(q, text);
	return pg_op_start(&o->base);
}
