/* pg_ops_notify.c — notification mutes (ABI 1.4): notify_mute_set (one
 * UPDATE) and notify_targets (one SELECT) over members.notify_muted_until
 * (schema 2), on the conversation's shard; storage_sqlite's semantics. */
#include "pg_ops.h"
#include "pg_sql.h"

/* ---- notify_mute_set ----------------------------------------------- */

static int mute_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	o->cb(o->arg, pg_affected(done->res) > 0 ? CHATD_OK : CHATD_ERR_NOT_FOUND);
	return PG_STEP_DONE;
}

static const struct pg_op_type mute_type = { "notify_mute_set", mute_step, pg_fail_status };

int pg_notify_mute_set(void *inst, const char *conversation_id, const char *user_id,
		       int64_t muted_until, chatd_status_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    !store_valid_str(user_id, CHATD_ID_MAX) || muted_until < 0)
		return CHATD_ERR_INVALID;
	struct pg_op_status *o = PG_OP_NEW(s, struct pg_op_status, &mute_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, pg_shard_of(s, conversation_id),
					 PG_NOTIFY_MUTE);
	pg_q_str(q, conversation_id);
	pg_q_str(q, user_id);
	pg_q_i64(q, muted_until);
	return pg_op_start(&o->base);
}

/* ---- notify_targets ------------------------------------------------ */

struct op_targets {
	struct pg_op base;
	size_t max;
	chatd_users_cb cb;
	void *arg;
};

static void targets_fail(struct pg_op *op, int status)
{
	struct op_targets *o = (struct op_targets *)op;
	o->cb(o->arg, status, NULL, 0);
}

static int targets_step(struct pg_op *op, struct pg_query *done)
{
	struct op_targets *o = (struct op_targets *)op;
	size_t n = (size_t)PQntuples(done->res);
	if (n > o->max) {   /* one more than max was asked for: too many */
		o->cb(o->arg, CHATD_ERR_TOO_LARGE, NULL, 0);
		return PG_STEP_DONE;
	}
	const char **users = n ? pg_alloc(&op->arena, n * sizeof(*users)) : NULL;
	if (n && !users) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0);
		return PG_STEP_DONE;
	}
	for (size_t i = 0; i < n; i++)
		users[i] = pg_val(done->res, (int)i, 0);
	o->cb(o->arg, CHATD_OK, users, n);
	return PG_STEP_DONE;
}

static const struct pg_op_type targets_type = { "notify_targets", targets_step, targets_fail };

int pg_notify_targets(void *inst, const char *conversation_id, const char *exclude, int64_t now,
		      size_t max, chatd_users_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || max < 1 || max > (size_t)PG_MEMBERS_MAX * 100 ||
	    !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    (exclude && !store_valid_str(exclude, CHATD_ID_MAX)))
		return CHATD_ERR_INVALID;
	struct op_targets *o = PG_OP_NEW(s, struct op_targets, &targets_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->max = max;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, pg_shard_of(s, conversation_id),
					 PG_NOTIFY_TARGETS);
	pg_q_str(q, conversation_id);
	pg_q_str(q, exclude ? exclude : "");
	pg_q_i64(q, now);
	pg_q_i64(q, (int64_t)max + 1);
	return pg_op_start(&o->base);
}
