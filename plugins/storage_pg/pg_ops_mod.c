/* pg_ops_mod.c — moderation ops on the user shard: audit log, moderation
 * queue, sanctions, users.  Choices the interface leaves open are
 * storage_sqlite's (sqlite_ops_mod.c): required fields, TOO_LARGE above
 * PG_NOTE_MAX, the hash form checked (not the chain: the core's). */
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"
#include "pg_sql.h"

static const char *const item_kinds[] = { "report", "flag", "hold", "appeal", NULL };
static const char *const item_statuses[] = { "open", "actioned", "dismissed", NULL };
static const char *const closed_statuses[] = { "actioned", "dismissed", NULL };
static const char *const sanction_kinds[] = { "ban", "shadow", "block", "revoke", NULL };

void pg_fail_status(struct pg_op *op, int status)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	o->cb(o->arg, status);
}

void pg_fail_id(struct pg_op *op, int status)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	o->cb(o->arg, status, 0);
}

static bool text_fits(const char *s)
{
	return !s || strnlen(s, PG_NOTE_MAX + 1) <= PG_NOTE_MAX;
}

static bool valid_hash(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < PG_HASH_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[PG_HASH_HEX] == '\0';
}

static struct pg_op_status *status_op(struct pg_store *s, const struct pg_op_type *t,
				      chatd_status_cb cb, void *arg)
{
	struct pg_op_status *o = PG_OP_NEW(s, struct pg_op_status, t);
	if (o) {
		o->cb = cb;
		o->arg = arg;
	}
	return o;
}

static struct pg_op_id *id_op(struct pg_store *s, const struct pg_op_type *t, chatd_id_cb cb,
			      void *arg)
{
	struct pg_op_id *o = PG_OP_NEW(s, struct pg_op_id, t);
	if (o) {
		o->cb = cb;
		o->arg = arg;
	}
	return o;
}

/* ---- audit log ----------------------------------------------------- */

static int audit_append_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	/* Nothing inserted: the id is taken or the entry does not extend the
	 * stored chain (pg_sql.c). */
	o->cb(o->arg, pg_affected(done->res) == 1 ? CHATD_OK : CHATD_ERR_EXISTS);
	return PG_STEP_DONE;
}

static const struct pg_op_type audit_append_type = {
	"audit_append", audit_append_step, pg_fail_status,
};

int pg_audit_append(void *inst, const struct chatd_audit_entry *e, chatd_status_cb cb,
		    void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!e || !cb || e->id < 1 || e->ts < 0 || !store_valid_str(e->actor, PG_ACTOR_MAX) ||
	    !store_valid_str(e->event, PG_TOKEN_MAX) || !e->subject ||
	    strnlen(e->subject, PG_SUBJECT_MAX + 1) > PG_SUBJECT_MAX || !e->detail ||
	    !valid_hash(e->prev_hash) || !valid_hash(e->hash) ||
	    (e->id == 1 && strspn(e->prev_hash, "0") != PG_HASH_HEX))
		return CHATD_ERR_INVALID;
	if (!text_fits(e->detail))
		return CHATD_ERR_TOO_LARGE;
	struct pg_op_status *o = status_op(s, &audit_append_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_AUDIT_INSERT);
	pg_q_i64(q, e->id);
	pg_q_i64(q, e->ts);
	pg_q_str(q, e->actor);
	pg_q_str(q, e->event);
	pg_q_str(q, e->subject);
	pg_q_str(q, e->detail);
	pg_q_str(q, e->prev_hash);
	pg_q_str(q, e->hash);
	return pg_op_start(&o->base);
}

struct op_audit_list {
	struct pg_op base;
	bool newest;
	chatd_audit_list_cb cb;
	void *arg;
};

static void audit_list_fail(struct pg_op *op, int status)
{
	struct op_audit_list *o = (struct op_audit_list *)op;
	o->cb(o->arg, status, NULL, 0);
}

static int audit_list_step(struct pg_op *op, struct pg_query *done)
{
	struct op_audit_list *o = (struct op_audit_list *)op;
	const PGresult *r = done->res;
	size_t n = (size_t)PQntuples(r);
	struct chatd_audit_entry *e = n ? pg_alloc(&op->arena, n * sizeof(*e)) : NULL;
	if (n && !e) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0);
		return PG_STEP_DONE;
	}
	for (size_t i = 0; i < n; i++) {
		/* newest: read descending, answered ascending. */
		struct chatd_audit_entry *x = &e[o->newest ? n - 1 - i : i];
		int row = (int)i;
		x->id = pg_i64(r, row, 0);
		x->ts = pg_i64(r, row, 1);
		x->actor = pg_val(r, row, 2);
		x->event = pg_val(r, row, 3);
		x->subject = pg_val(r, row, 4);
		x->detail = pg_val(r, row, 5);
		x->prev_hash = pg_val(r, row, 6);
		x->hash = pg_val(r, row, 7);
	}
	o->cb(o->arg, CHATD_OK, e, n);
	return PG_STEP_DONE;
}

static const struct pg_op_type audit_list_type = {
	"audit_list", audit_list_step, audit_list_fail,
};

int pg_audit_list(void *inst, int64_t after_id, int limit, bool newest,
		  chatd_audit_list_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || after_id < 0 || limit < 1 || limit > PG_LIST_MAX)
		return CHATD_ERR_INVALID;
	struct op_audit_list *o = PG_OP_NEW(s, struct op_audit_list, &audit_list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->newest = newest;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD,
					 newest ? PG_AUDIT_NEWEST : PG_AUDIT_ASC);
	pg_q_i64(q, after_id);
	pg_q_int(q, limit);
	return pg_op_start(&o->base);
}

/* ---- moderation queue ---------------------------------------------- */

static int item_add_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	int status = PQntuples(done->res) == 1 ? (int)pg_i64(done->res, 0, 0) : CHATD_ERR_INTERNAL;
	o->cb(o->arg, status, status == CHATD_OK || status == CHATD_ERR_EXISTS
		      ? pg_i64(done->res, 0, 1) : 0);
	return PG_STEP_DONE;
}

static const struct pg_op_type item_add_type = { "mod_item_add", item_add_step, pg_fail_id };

int pg_mod_item_add(void *inst, const struct chatd_mod_item *it, chatd_id_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!it || !cb || !store_one_of(it->kind, item_kinds) ||
	    (it->status && strcmp(it->status, "open") != 0) ||
	    (it->conversation_id && !store_valid_str(it->conversation_id, CHATD_ID_MAX)) ||
	    it->seq < 0 || (it->seq > 0 && !it->conversation_id) ||
	    !store_valid_str(it->subject_id, CHATD_ID_MAX) ||
	    !store_valid_str(it->filed_by, PG_ACTOR_MAX) || !it->reason ||
	    (it->dedupe_key && !store_valid_str(it->dedupe_key, PG_KEY_MAX)) ||
	    it->created_at < 0 ||
	    it->actor || it->action || it->resolution_note || it->resolved_at != 0)
		return CHATD_ERR_INVALID;
	if (!text_fits(it->reason) || !text_fits(it->note) || !text_fits(it->detail))
		return CHATD_ERR_TOO_LARGE;
	struct pg_op_id *o = id_op(s, &item_add_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_ITEM_ADD);
	pg_q_str(q, it->kind);
	pg_q_str(q, it->conversation_id);
	pg_q_i64(q, it->seq);
	pg_q_str(q, it->subject_id);
	pg_q_str(q, it->filed_by);
	pg_q_str(q, it->reason);
	pg_q_str(q, it->note);
	pg_q_str(q, it->detail);
	pg_q_str(q, it->dedupe_key);
	pg_q_i64(q, it->created_at);
	return pg_op_start(&o->base);
}

struct op_item_list {
	struct pg_op base;
	bool one;
	chatd_mod_items_cb cb;
	void *arg;
};

static void item_list_fail(struct pg_op *op, int status)
{
	struct op_item_list *o = (struct op_item_list *)op;
	o->cb(o->arg, status, NULL, 0);
}

static int item_list_step(struct pg_op *op, struct pg_query *done)
{
	struct op_item_list *o = (struct op_item_list *)op;
	const PGresult *r = done->res;
	size_t n = (size_t)PQntuples(r);
	if (o->one && n == 0) {
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, NULL, 0);
		return PG_STEP_DONE;
	}
	struct chatd_mod_item *it = n ? pg_alloc(&op->arena, n * sizeof(*it)) : NULL;
	if (n && !it) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0);
		return PG_STEP_DONE;
	}
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		it[i].id = pg_i64(r, row, 0);
		it[i].kind = pg_val(r, row, 1);
		it[i].status = pg_val(r, row, 2);
		it[i].conversation_id = pg_val(r, row, 3);
		it[i].seq = pg_i64(r, row, 4);
		it[i].subject_id = pg_val(r, row, 5);
		it[i].filed_by = pg_val(r, row, 6);
		it[i].reason = pg_val(r, row, 7);
		it[i].note = pg_val(r, row, 8);
		it[i].detail = pg_val(r, row, 9);
		it[i].dedupe_key = pg_val(r, row, 10);
		it[i].created_at = pg_i64(r, row, 11);
		it[i].actor = pg_val(r, row, 12);
		it[i].action = pg_val(r, row, 13);
		it[i].resolution_note = pg_val(r, row, 14);
		it[i].resolved_at = pg_i64(r, row, 15);
	}
	o->cb(o->arg, CHATD_OK, it, n);
	return PG_STEP_DONE;
}

static const struct pg_op_type item_list_type = {
	"mod_item_list", item_list_step, item_list_fail,
};

int pg_mod_item_list(void *inst, int64_t id, const char *status, const char *kind,
		     int64_t after_id, int limit, chatd_mod_items_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || id < 0 || after_id < 0 || limit < 1 || limit > PG_LIST_MAX ||
	    (status && !store_one_of(status, item_statuses)) || (kind && !store_one_of(kind, item_kinds)))
		return CHATD_ERR_INVALID;
	struct op_item_list *o = PG_OP_NEW(s, struct op_item_list, &item_list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->one = id > 0;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, id > 0 ? PG_ITEM_ONE : PG_ITEMS);
	if (id > 0) {
		pg_q_i64(q, id);
	} else {
		pg_q_i64(q, after_id);
		pg_q_int(q, limit);
		pg_q_str(q, status);
		pg_q_str(q, kind);
	}
	return pg_op_start(&o->base);
}

static int item_resolve_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	const PGresult *r = done->res;
	int status = pg_i64(r, 0, 0) > 0 ? CHATD_OK
		   : pg_bool(r, 0, 1) ? CHATD_ERR_EXISTS : CHATD_ERR_NOT_FOUND;
	o->cb(o->arg, status);
	return PG_STEP_DONE;
}

static const struct pg_op_type item_resolve_type = {
	"mod_item_resolve", item_resolve_step, pg_fail_status,
};

int pg_mod_item_resolve(void *inst, int64_t id, const char *status, const char *action,
			const char *actor, const char *note, int64_t ts, chatd_status_cb cb,
			void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || id < 1 || !store_one_of(status, closed_statuses) ||
	    !store_valid_str(action, PG_TOKEN_MAX) || !store_valid_str(actor, PG_ACTOR_MAX) || ts < 0)
		return CHATD_ERR_INVALID;
	if (!text_fits(note))
		return CHATD_ERR_TOO_LARGE;
	struct pg_op_status *o = status_op(s, &item_resolve_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_ITEM_RESOLVE);
	pg_q_i64(q, id);
	pg_q_str(q, status);
	pg_q_str(q, action);
	pg_q_str(q, actor);
	pg_q_str(q, note);
	pg_q_i64(q, ts);
	return pg_op_start(&o->base);
}

/* ---- sanctions ----------------------------------------------------- */

static int sanction_add_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	o->cb(o->arg, CHATD_OK, pg_i64(done->res, 0, 0));
	return PG_STEP_DONE;
}

static const struct pg_op_type sanction_add_type = {
	"sanction_add", sanction_add_step, pg_fail_id,
};

int pg_sanction_add(void *inst, const struct chatd_sanction *sa, chatd_id_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!sa || !cb || !store_valid_str(sa->user_id, CHATD_ID_MAX) ||
	    !store_one_of(sa->kind, sanction_kinds) || sa->until < 0 || !sa->reason ||
	    !store_valid_str(sa->actor, PG_ACTOR_MAX) || sa->created_at < 0 || sa->lifted_at != 0)
		return CHATD_ERR_INVALID;
	if (!text_fits(sa->reason))
		return CHATD_ERR_TOO_LARGE;
	struct pg_op_id *o = id_op(s, &sanction_add_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_SANCTION_ADD);
	pg_q_str(q, sa->user_id);
	pg_q_str(q, sa->kind);
	pg_q_i64(q, sa->until);
	pg_q_str(q, sa->reason);
	pg_q_str(q, sa->actor);
	pg_q_i64(q, sa->created_at);
	return pg_op_start(&o->base);
}

/* None active is fine: afterwards there is none either way. */
static int ok_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	(void)done;
	o->cb(o->arg, CHATD_OK);
	return PG_STEP_DONE;
}

static const struct pg_op_type sanction_lift_type = { "sanction_lift", ok_step, pg_fail_status };

int pg_sanction_lift(void *inst, const char *user_id, const char *kind, int64_t ts,
		     chatd_status_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) || !store_one_of(kind, sanction_kinds) ||
	    ts < 0)
		return CHATD_ERR_INVALID;
	struct pg_op_status *o = status_op(s, &sanction_lift_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_SANCTION_LIFT);
	pg_q_i64(q, ts);
	pg_q_str(q, user_id);
	pg_q_str(q, kind);
	return pg_op_start(&o->base);
}

struct op_sanctions {
	struct pg_op base;
	chatd_sanctions_cb cb;
	void *arg;
};

static void sanctions_fail(struct pg_op *op, int status)
{
	struct op_sanctions *o = (struct op_sanctions *)op;
	o->cb(o->arg, status, NULL, 0);
}

static int sanctions_step(struct pg_op *op, struct pg_query *done)
{
	struct op_sanctions *o = (struct op_sanctions *)op;
	const PGresult *r = done->res;
	size_t n = (size_t)PQntuples(r);
	struct chatd_sanction *sa = n ? pg_alloc(&op->arena, n * sizeof(*sa)) : NULL;
	if (n && !sa) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0);
		return PG_STEP_DONE;
	}
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		sa[i].id = pg_i64(r, row, 0);
		sa[i].user_id = pg_val(r, row, 1);
		sa[i].kind = pg_val(r, row, 2);
		sa[i].until = pg_i64(r, row, 3);
		sa[i].reason = pg_val(r, row, 4);
		sa[i].actor = pg_val(r, row, 5);
		sa[i].created_at = pg_i64(r, row, 6);
		sa[i].lifted_at = pg_i64(r, row, 7);
	}
	o->cb(o->arg, CHATD_OK, sa, n);
	return PG_STEP_DONE;
}

static const struct pg_op_type sanctions_type = {
	"sanction_list_active", sanctions_step, sanctions_fail,
};

int pg_sanction_list_active(void *inst, int64_t now, chatd_sanctions_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || now < 0)
		return CHATD_ERR_INVALID;
	struct op_sanctions *o = PG_OP_NEW(s, struct op_sanctions, &sanctions_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_SANCTIONS_ACTIVE);
	pg_q_i64(q, now);
	return pg_op_start(&o->base);
}

/* ---- users --------------------------------------------------------- */

/* The first column of the only row, or NOT_FOUND. */
static int first_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	if (PQntuples(done->res) != 1 || !pg_val(done->res, 0, 0))
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, 0);
	else
		o->cb(o->arg, CHATD_OK, pg_i64(done->res, 0, 0));
	return PG_STEP_DONE;
}

static const struct pg_op_type user_seen_type = { "user_seen", first_step, pg_fail_id };
static const struct pg_op_type user_first_type = { "user_first_seen", first_step, pg_fail_id };

int pg_user_seen(void *inst, const char *user_id, int64_t ts, chatd_id_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) || ts < 0)
		return CHATD_ERR_INVALID;
	struct pg_op_id *o = id_op(s, &user_seen_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_USER_SEEN);
	pg_q_str(q, user_id);
	pg_q_i64(q, ts);
	return pg_op_start(&o->base);
}

int pg_user_first_seen(void *inst, const char *user_id, chatd_id_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct pg_op_id *o = id_op(s, &user_first_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_query *q = pg_op_query(&o->base, PG_USER_SHARD, PG_USER_FIRST);
	pg_q_str(q, user_id);
	return pg_op_start(&o->base);
}
