/* pg_ops_media.c — media metadata rows (user shard), and the two ops that
 * also look at messages on every shard: media_access and media_orphans.
 * Choices the interface leaves open are storage_sqlite's
 * (sqlite_ops_media.c): every input over its limit is INVALID; put only
 * inserts pending rows; ready overwrites; orphans count a reference from
 * any message, deleted or not, until purge_deleted erases its media_id. */
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"
#include "pg_sql.h"

static bool valid_hash(const char *s)
{
	if (!store_valid_str(s, PG_MEDIA_HASH_MAX))
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static void read_media(const PGresult *r, int row, struct chatd_media_row *m)
{
	m->media_id = pg_val(r, row, 0);
	m->owner_id = pg_val(r, row, 1);
	m->mime = pg_val(r, row, 2);
	m->name = pg_val(r, row, 3);
	m->size = pg_i64(r, row, 4);
	m->hash = pg_val(r, row, 5);
	m->thumbnail = pg_bool(r, row, 6);
	m->created_at = pg_i64(r, row, 7);
	m->ready_at = pg_i64(r, row, 8);
}

/* One query on the user shard with `id` as its first parameter. */
static struct pg_query *user_query(struct pg_op *op, int stmt, const char *id)
{
	struct pg_query *q = pg_op_query(op, PG_USER_SHARD, stmt);
	pg_q_str(q, id);
	return q;
}

/* ---- put, ready ---------------------------------------------------- */

static int put_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	o->cb(o->arg, pg_affected(done->res) == 1 ? CHATD_OK : CHATD_ERR_EXISTS);
	return PG_STEP_DONE;
}

static const struct pg_op_type put_type = { "media_put", put_step, pg_fail_status };

int pg_media_put(void *inst, const struct chatd_media_row *row, chatd_status_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!row || !cb || !store_valid_str(row->media_id, PG_MEDIA_ID_MAX) ||
	    !store_valid_str(row->owner_id, CHATD_ID_MAX) || !store_valid_str(row->mime, PG_MIME_MAX) ||
	    (row->name && strnlen(row->name, PG_MEDIA_NAME_MAX + 1) > PG_MEDIA_NAME_MAX) ||
	    row->size < 0 || row->created_at < 0 || row->hash || row->thumbnail ||
	    row->ready_at != 0)
		return CHATD_ERR_INVALID;
	struct pg_op_status *o = PG_OP_NEW(s, struct pg_op_status, &put_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = user_query(&o->base, PG_MEDIA_PUT, row->media_id);
	pg_q_str(q, row->owner_id);
	pg_q_str(q, row->mime);
	pg_q_str(q, row->name);
	pg_q_i64(q, row->size);
	pg_q_i64(q, row->created_at);
	return pg_op_start(&o->base);
}

static int ready_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	o->cb(o->arg, pg_affected(done->res) > 0 ? CHATD_OK : CHATD_ERR_NOT_FOUND);
	return PG_STEP_DONE;
}

static const struct pg_op_type ready_type = { "media_ready", ready_step, pg_fail_status };

int pg_media_ready(void *inst, const char *media_id, const char *hash, bool thumbnail,
		   int64_t ts, chatd_status_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	/* ts >= 1: ready_at 0 means "not ready". */
	if (!cb || !store_valid_str(media_id, PG_MEDIA_ID_MAX) || !valid_hash(hash) || ts < 1)
		return CHATD_ERR_INVALID;
	struct pg_op_status *o = PG_OP_NEW(s, struct pg_op_status, &ready_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = user_query(&o->base, PG_MEDIA_READY, media_id);
	pg_q_str(q, hash);
	pg_q_bool(q, thumbnail);
	pg_q_i64(q, ts);
	return pg_op_start(&o->base);
}

/* ---- get ----------------------------------------------------------- */

struct op_get {
	struct pg_op base;
	chatd_media_row_cb cb;
	void *arg;
};

static void get_fail(struct pg_op *op, int status)
{
	struct op_get *o = (struct op_get *)op;
	o->cb(o->arg, status, NULL);
}

static int get_step(struct pg_op *op, struct pg_query *done)
{
	struct op_get *o = (struct op_get *)op;
	if (PQntuples(done->res) != 1) {
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, NULL);
		return PG_STEP_DONE;
	}
	struct chatd_media_row m = { 0 };
	read_media(done->res, 0, &m);
	o->cb(o->arg, CHATD_OK, &m);
	return PG_STEP_DONE;
}

static const struct pg_op_type get_type = { "media_get", get_step, get_fail };

int pg_media_get(void *inst, const char *media_id, chatd_media_row_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(media_id, PG_MEDIA_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_get *o = PG_OP_NEW(s, struct op_get, &get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	user_query(&o->base, PG_MEDIA_GET, media_id);
	return pg_op_start(&o->base);
}

/* ---- usage --------------------------------------------------------- */

struct op_usage {
	struct pg_op base;
	chatd_media_usage_cb cb;
	void *arg;
};

static void usage_fail(struct pg_op *op, int status)
{
	struct op_usage *o = (struct op_usage *)op;
	o->cb(o->arg, status, 0, 0);
}

static int usage_step(struct pg_op *op, struct pg_query *done)
{
	struct op_usage *o = (struct op_usage *)op;
	o->cb(o->arg, CHATD_OK, pg_i64(done->res, 0, 0), pg_i64(done->res, 0, 1));
	return PG_STEP_DONE;
}

static const struct pg_op_type usage_type = { "media_usage", usage_step, usage_fail };

int pg_media_usage(void *inst, const char *owner_id, int64_t since, chatd_media_usage_cb cb,
		   void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(owner_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_usage *o = PG_OP_NEW(s, struct op_usage, &usage_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = user_query(&o->base, PG_MEDIA_USAGE, owner_id);
	pg_q_i64(q, since);
	return pg_op_start(&o->base);
}

/* ---- access: the owner (user shard) or a message (any shard) -------- */

static int access_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	int64_t yes = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		yes |= pg_bool(q->res, 0, 0);
	o->cb(o->arg, CHATD_OK, yes);
	return PG_STEP_DONE;
}

static const struct pg_op_type access_type = { "media_access", access_step, pg_fail_id };

int pg_media_access(void *inst, const char *media_id, const char *user_id, chatd_id_cb cb,
		    void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(media_id, PG_MEDIA_ID_MAX) || !store_valid_str(user_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct pg_op_id *o = PG_OP_NEW(s, struct pg_op_id, &access_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = user_query(&o->base, PG_MEDIA_OWNER, media_id);
	pg_q_str(q, user_id);
	for (size_t i = 0; i < s->n_shards; i++) {
		q = pg_op_query(&o->base, i, PG_MEDIA_MSG_ACCESS);
		pg_q_str(q, media_id);
		pg_q_str(q, user_id);
	}
	return pg_op_start(&o->base);
}

/* ---- orphans ------------------------------------------------------- */

/* One shard: one query.  Several: candidates in (created_at, media_id)
 * order from the user shard, a batch at a time, minus those a message on
 * any shard refers to, until `limit` rows or no more candidates. */
struct op_orphans {
	struct pg_op base;
	int64_t before;
	int limit;
	struct chatd_media_row *rows;  /* copies in the arena */
	size_t n;
	struct chatd_media_row *cand;  /* the batch being checked (copies) */
	size_t n_cand;
	int64_t after_created;
	const char *after_id;
	chatd_media_rows_cb cb;
	void *arg;
};

static void orphans_fail(struct pg_op *op, int status)
{
	struct op_orphans *o = (struct op_orphans *)op;
	o->cb(o->arg, status, NULL, 0);
}

static void candidates_query(struct op_orphans *o)
{
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_MEDIA_CANDIDATES);
	pg_q_i64(q, o->before);
	pg_q_i64(q, o->after_created);
	pg_q_str(q, o->after_id);
	pg_q_int(q, o->limit);
}

static bool copy_row(struct pg_op *op, struct chatd_media_row *d, const struct chatd_media_row *m)
{
	*d = *m;
	d->media_id = pg_op_strdup(op, m->media_id);
	d->owner_id = pg_op_strdup(op, m->owner_id);
	d->mime = pg_op_strdup(op, m->mime);
	d->name = pg_op_strdup(op, m->name);
	d->hash = pg_op_strdup(op, m->hash);
	return !op->oom;
}

static int orphans_step(struct pg_op *op, struct pg_query *done)
{
	struct op_orphans *o = (struct op_orphans *)op;
	if (done->stmt == PG_MEDIA_ORPHANS) {
		size_t n = (size_t)PQntuples(done->res);
		struct chatd_media_row *m = n ? pg_alloc(&op->arena, n * sizeof(*m)) : NULL;
		if (n && !m) {
			o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0);
			return PG_STEP_DONE;
		}
		for (size_t i = 0; i < n; i++)
			read_media(done->res, (int)i, &m[i]);
		o->cb(o->arg, CHATD_OK, m, n);
		return PG_STEP_DONE;
	}
	if (done->stmt == PG_MEDIA_CANDIDATES) {
		const PGresult *r = done->res;
		o->n_cand = (size_t)PQntuples(r);
		if (o->n_cand == 0) {
			o->cb(o->arg, CHATD_OK, o->rows, o->n);
			return PG_STEP_DONE;
		}
		o->cand = pg_alloc(&op->arena, o->n_cand * sizeof(*o->cand));
		const char **ids = malloc(o->n_cand * sizeof(*ids));
		if (!o->cand || !ids) {
			free(ids);
			o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0);
			return PG_STEP_DONE;
		}
		for (size_t i = 0; i < o->n_cand; i++) {
			struct chatd_media_row m;
			read_media(r, (int)i, &m);
			copy_row(op, &o->cand[i], &m);
			ids[i] = m.media_id;
		}
		for (size_t sh = 0; sh < op->s->n_shards; sh++) {
			struct pg_query *q = pg_op_query(op, sh, PG_MEDIA_REFERENCED);
			pg_q_text_array(q, ids, o->n_cand);
		}
		free(ids);
		return pg_op_continue(op);
	}
	/* PG_MEDIA_REFERENCED from every shard: keep the others. */
	for (size_t i = 0; i < o->n_cand && o->n < (size_t)o->limit; i++) {
		bool used = false;
		for (struct pg_query *q = done; q && !used; q = q->op_next)
			for (int k = 0; k < PQntuples(q->res) && !used; k++)
				used = strcmp(pg_val(q->res, k, 0), o->cand[i].media_id) == 0;
		if (!used)
			o->rows[o->n++] = o->cand[i];
	}
	bool full_batch = o->n_cand == (size_t)o->limit;
	if (o->n == (size_t)o->limit || !full_batch) {
		o->cb(o->arg, CHATD_OK, o->rows, o->n);
		return PG_STEP_DONE;
	}
	o->after_created = o->cand[o->n_cand - 1].created_at;
	o->after_id = o->cand[o->n_cand - 1].media_id;
	candidates_query(o);
	return pg_op_continue(op);
}

static const struct pg_op_type orphans_type = { "media_orphans", orphans_step, orphans_fail };

int pg_media_orphans(void *inst, int64_t before, int limit, chatd_media_rows_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || limit < 1 || limit > PG_LIST_MAX)
		return CHATD_ERR_INVALID;
	struct op_orphans *o = PG_OP_NEW(s, struct op_orphans, &orphans_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->before = before;
	o->limit = limit;
	o->cb = cb;
	o->arg = arg;
	if (s->n_shards == 1) {
		struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_MEDIA_ORPHANS);
		pg_q_i64(q, before);
		pg_q_int(q, limit);
	} else {
		o->rows = pg_alloc(&o->base.arena, (size_t)limit * sizeof(*o->rows));
		if (!o->rows)
			o->base.oom = true;
		o->after_created = -1;
		o->after_id = "";
		candidates_query(o);
	}
	return pg_op_start(&o->base);
}

/* ---- remove -------------------------------------------------------- */

static int remove_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	if (!pg_bool(done->res, 0, 0))
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, 0);
	else
		o->cb(o->arg, CHATD_OK, pg_i64(done->res, 0, 1));
	return PG_STEP_DONE;
}

static const struct pg_op_type remove_type = { "media_remove", remove_step, pg_fail_id };

int pg_media_remove(void *inst, const char *media_id, chatd_id_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(media_id, PG_MEDIA_ID_MAX))
		return CHATD_ERR_INVALID;
	struct pg_op_id *o = PG_OP_NEW(s, struct pg_op_id, &remove_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	user_query(&o->base, PG_MEDIA_REMOVE, media_id);
	return pg_op_start(&o->base);
}
