/* pg_ops_conv.c — conversation ops: create (direct, group), conv_get,
 * members_get, conv_change, cursors_advance.
 *
 * A direct conversation is found by its pair: the pair's row in
 * direct_pairs (user shard) names the conversation, wherever it lives.
 * Creation claims the pair first (the first claim wins, from any node),
 * then creates the conversation on its shard if it is not there yet; a
 * claim whose creation was interrupted is completed by the next create of
 * the same pair.  Choices the interface leaves open are storage_sqlite's
 * (sqlite_ops_conv.c, sqlite_ops_group.c). */
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"
#include "pg_sql.h"


/* The conversation as viewer sees it (NULL: nobody). */
static void view_query(struct pg_op *op, size_t shard, const char *cid, const char *viewer)
{
	struct pg_query *q = pg_op_query(op, shard, viewer ? PG_CONV_VIEW : PG_CONV_ANON);
	pg_q_str(q, cid);
	if (viewer)
		pg_q_str(q, viewer);
}

/* ---- creation ------------------------------------------------------ */

struct op_create {
	struct pg_op base;
	bool direct;
	char *owner, *peer, *title, *key;
	const char **members;
	size_t n_members;
	int64_t ts;
	char cid[18];
	chatd_conv_cb cb;
	void *arg;
};

static void create_fail(struct pg_op *op, int status)
{
	struct op_create *o = (struct op_create *)op;
	o->cb(o->arg, status, NULL, false);
}

static void create_queries(struct op_create *o, const char *cid)
{
	struct pg_store *s = o->base.s;
	size_t shard = pg_shard_of(s, cid);
	struct pg_query *q = pg_op_query(&o->base, shard, PG_CONV_CREATE);
	pg_q_str(q, cid);
	pg_q_str(q, o->direct ? "direct" : "group");
	pg_q_str(q, o->direct ? NULL : o->title);
	pg_q_str(q, o->key);
	pg_q_i64(q, o->ts);
	pg_q_str(q, o->owner);
	pg_q_str(q, o->direct ? "member" : "owner");
	if (o->direct)
		pg_q_text_array(q, (const char *const *)&o->peer, 1);
	else
		pg_q_text_array(q, o->members, o->n_members);
	view_query(&o->base, shard, cid, o->owner);
}

/* Stages: direct 0 = the claim, then 1 = create + view; group 1.. =
 * create + view, again with a new id after a collision (at most 3). */
static int create_step(struct pg_op *op, struct pg_query *done)
{
	struct op_create *o = (struct op_create *)op;
	if (op->stage == 0) {
		const char *cid = pg_val(done->res, 0, 0);
		if (!cid || strlen(cid) >= sizeof o->cid) {
			o->cb(o->arg, CHATD_ERR_INTERNAL, NULL, false);
			return PG_STEP_DONE;
		}
		strcpy(o->cid, cid);
		op->stage = 1;
		create_queries(o, o->cid);
		return pg_op_continue(op);
	}
	bool created = pg_bool(done->res, 0, 0);
	const PGresult *view = done->op_next->res;
	if (!created && !o->direct) {
		/* A group's fresh random id was taken: astronomically rare. */
		int st = op->stage < 3 ? store_make_id(o->cid, 'c') : CHATD_ERR_INTERNAL;
		if (st < 0) {
			o->cb(o->arg, st, NULL, false);
			return PG_STEP_DONE;
		}
		op->stage++;
		create_queries(o, o->cid);
		return pg_op_continue(op);
	}
	if (PQntuples(view) != 1) {
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, NULL, false);
		return PG_STEP_DONE;
	}
	struct chatd_conversation conv = { 0 };
	pg_read_conv(view, 0, 0, &conv);
	o->cb(o->arg, CHATD_OK, &conv, created);
	return PG_STEP_DONE;
}

static const struct pg_op_type create_type = { "conv_create", create_step, create_fail };

int pg_conv_create_direct(void *inst, const char *user_a, const char *user_b, int64_t ts,
			  chatd_conv_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(user_a, CHATD_ID_MAX) || !store_valid_str(user_b, CHATD_ID_MAX) ||
	    strcmp(user_a, user_b) == 0 || ts < 0 ||
	    /* '\n' separates the pair in the key. */
	    strchr(user_a, '\n') || strchr(user_b, '\n'))
		return CHATD_ERR_INVALID;
	struct op_create *o = PG_OP_NEW(s, struct op_create, &create_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_op *op = &o->base;
	o->direct = true;
	o->owner = pg_op_strdup(op, user_a);
	o->peer = pg_op_strdup(op, user_b);
	bool lt = strcmp(user_a, user_b) < 0;
	size_t la = strlen(user_a), lb = strlen(user_b);
	o->key = pg_alloc(&op->arena, la + lb + 2);
	if (!o->key) {
		pg_op_free(op);
		return CHATD_ERR_NOMEM;
	}
	strcpy(o->key, lt ? user_a : user_b);
	strcat(o->key, "\n");
	strcat(o->key, lt ? user_b : user_a);
	o->ts = ts;
	o->cb = cb;
	o->arg = arg;
	int st = store_make_id(o->cid, 'c');
	if (st < 0) {
		pg_op_free(op);
		return st;
	}
	struct pg_query *q = pg_op_query(op, PG_USER_SHARD, PG_DIRECT_CLAIM);
	pg_q_str(q, o->key);
	pg_q_str(q, o->cid);
	return pg_op_start(op);
}

int pg_conv_create_group(void *inst, const char *owner, const char *title,
			 const char *const *members, size_t n_members, int64_t ts,
			 chatd_conv_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(owner, CHATD_ID_MAX) || (n_members && !members) || ts < 0 ||
	    (title && strnlen(title, PG_TITLE_MAX + 1) > PG_TITLE_MAX))
		return CHATD_ERR_INVALID;
	if (n_members > PG_MEMBERS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_members; i++)
		if (!store_valid_str(members[i], CHATD_ID_MAX))
			return CHATD_ERR_INVALID;
	struct op_create *o = PG_OP_NEW(s, struct op_create, &create_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_op *op = &o->base;
	o->owner = pg_op_strdup(op, owner);
	o->title = pg_op_strdup(op, title);
	o->ts = ts;
	o->cb = cb;
	o->arg = arg;
	/* The owner and duplicates among members are skipped by the insert. */
	o->members = n_members ? pg_alloc(&op->arena, n_members * sizeof(*o->members)) : NULL;
	if (n_members && !o->members)
		op->oom = true;
	for (size_t i = 0; o->members && i < n_members; i++)
		o->members[i] = pg_op_strdup(op, members[i]);
	o->n_members = n_members;
	op->stage = 1;
	int st = store_make_id(o->cid, 'c');
	if (st < 0) {
		pg_op_free(op);
		return st;
	}
	create_queries(o, o->cid);
	return pg_op_start(op);
}

/* ---- conv_get and members_get --------------------------------------- */

struct op_get {
	struct pg_op base;
	chatd_conv_get_cb cb;
	void *arg;
};

static void get_fail(struct pg_op *op, int status)
{
	struct op_get *o = (struct op_get *)op;
	o->cb(o->arg, status, NULL, NULL, 0);
}

/* The view, then (optionally) member rows. */
static int get_step(struct pg_op *op, struct pg_query *done)
{
	struct op_get *o = (struct op_get *)op;
	if (PQntuples(done->res) != 1) {
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, NULL, NULL, 0);
		return PG_STEP_DONE;
	}
	struct chatd_conversation conv = { 0 };
	pg_read_conv(done->res, 0, 0, &conv);
	const PGresult *r = done->op_next ? done->op_next->res : NULL;
	size_t n = r ? (size_t)PQntuples(r) : 0;
	struct chatd_member *m = n ? pg_alloc(&op->arena, n * sizeof(*m)) : NULL;
	if (n && !m) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, NULL, 0);
		return PG_STEP_DONE;
	}
	for (size_t i = 0; i < n; i++)
		pg_read_member(r, (int)i, 0, &m[i]);
	o->cb(o->arg, CHATD_OK, &conv, m, n);
	return PG_STEP_DONE;
}

static const struct pg_op_type get_type = { "conv_get", get_step, get_fail };
static const struct pg_op_type members_get_type = { "members_get", get_step, get_fail };

int pg_conv_get(void *inst, const char *conversation_id, const char *viewer,
		size_t member_offset, size_t member_limit, chatd_conv_get_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    (viewer && !store_valid_str(viewer, CHATD_ID_MAX)))
		return CHATD_ERR_INVALID;
	if (member_limit > PG_PAGE_MAX)
		return CHATD_ERR_TOO_LARGE;
	struct op_get *o = PG_OP_NEW(s, struct op_get, &get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	size_t shard = pg_shard_of(s, conversation_id);
	view_query(&o->base, shard, conversation_id, viewer);
	if (member_limit > 0) {
		struct pg_query *q = pg_op_query(&o->base, shard, PG_MEMBERS_PAGE);
		pg_q_str(q, conversation_id);
		pg_q_i64(q, (int64_t)member_limit);
		pg_q_i64(q, member_offset > INT64_MAX ? INT64_MAX : (int64_t)member_offset);
	}
	return pg_op_start(&o->base);
}

int pg_members_get(void *inst, const char *conversation_id, const char *viewer,
		   const char *const *users, size_t n_users, chatd_conv_get_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    (viewer && !store_valid_str(viewer, CHATD_ID_MAX)) || (n_users && !users))
		return CHATD_ERR_INVALID;
	if (n_users > PG_CHANGE_USERS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_users; i++)
		if (!store_valid_str(users[i], CHATD_ID_MAX))
			return CHATD_ERR_INVALID;
	struct op_get *o = PG_OP_NEW(s, struct op_get, &members_get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	size_t shard = pg_shard_of(s, conversation_id);
	view_query(&o->base, shard, conversation_id, viewer);
	if (n_users > 0) {
		struct pg_query *q = pg_op_query(&o->base, shard, PG_MEMBERS_OF);
		pg_q_str(q, conversation_id);
		pg_q_text_array(q, users, n_users);
	}
	return pg_op_start(&o->base);
}

/* ---- conv_change --------------------------------------------------- */

struct op_change {
	struct pg_op base;
	int kind;
	const char **users;            /* ADD: without duplicates, in the order given */
	size_t n_users;
	chatd_conv_change_cb cb;
	void *arg;
};

static void change_fail(struct pg_op *op, int status)
{
	struct op_change *o = (struct op_change *)op;
	o->cb(o->arg, status, NULL);
}

static int change_step(struct pg_op *op, struct pg_query *done)
{
	struct op_change *o = (struct op_change *)op;
	const PGresult *r = done->res;
	if (PQntuples(r) != 1) {
		o->cb(o->arg, CHATD_ERR_INTERNAL, NULL);
		return PG_STEP_DONE;
	}
	int status = (int)pg_i64(r, 0, 0);
	const char *one = pg_val(r, 0, 1);
	if (status == CHATD_ERR_EXISTS) {
		struct chatd_conv_change_result res = { .users = &one, .n_users = one ? 1 : 0 };
		o->cb(o->arg, status, &res);
		return PG_STEP_DONE;
	}
	if (status < 0) {
		o->cb(o->arg, status, NULL);
		return PG_STEP_DONE;
	}
	const PGresult *view = done->op_next->res;
	if (PQntuples(view) != 1) {
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, NULL);
		return PG_STEP_DONE;
	}
	struct chatd_conversation conv = { 0 };
	pg_read_conv(view, 0, 0, &conv);
	struct chatd_conv_change_result res = { .conv = &conv, .new_owner = pg_val(r, 0, 2) };
	if (o->kind == CHATD_CHANGE_ADD) {
		res.users = o->users;
		res.n_users = o->n_users;
	} else if (one) {
		res.users = &one;
		res.n_users = 1;
	}
	o->cb(o->arg, CHATD_OK, &res);
	return PG_STEP_DONE;
}

static const struct pg_op_type change_type = { "conv_change", change_step, change_fail };

/* users without duplicates (the first of each kept, in order), into the
 * op's arena.  At most PG_CHANGE_USERS_MAX: quadratic is fine. */
static void copy_unique(struct op_change *o, const char *const *users, size_t n)
{
	o->users = pg_alloc(&o->base.arena, n * sizeof(*o->users));
	if (!o->users) {
		o->base.oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < o->n_users && !seen; j++)
			seen = strcmp(o->users[j], users[i]) == 0;
		if (!seen)
			o->users[o->n_users++] = pg_op_strdup(&o->base, users[i]);
	}
}

int pg_conv_change(void *inst, const struct chatd_conv_change *ch, chatd_conv_change_cb cb,
		   void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb)
		return CHATD_ERR_INVALID;
	int st = store_check_conv_change(ch, PG_CHANGE_USERS_MAX, PG_TITLE_MAX);
	if (st != CHATD_OK)
		return st;
	struct op_change *o = PG_OP_NEW(s, struct op_change, &change_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_op *op = &o->base;
	o->kind = ch->kind;
	o->cb = cb;
	o->arg = arg;
	if (ch->kind == CHATD_CHANGE_ADD)
		copy_unique(o, ch->users, ch->n_users);
	bool targeted = store_change_targets_member(ch->kind);
	size_t shard = pg_shard_of(s, ch->conversation_id);
	struct pg_query *q = pg_op_query(op, shard, PG_CONV_CHANGE);
	pg_q_int(q, ch->kind);
	pg_q_str(q, ch->conversation_id);
	pg_q_str(q, ch->actor);
	pg_q_str(q, ch->actor_role);
	if (ch->kind == CHATD_CHANGE_ADD)
		pg_q_text_array(q, o->users ? o->users : (const char **)ch->users, o->n_users);
	else if (targeted)
		pg_q_text_array(q, ch->users, 1);
	else
		pg_q_text_array(q, NULL, 0);
	pg_q_str(q, targeted ? ch->target_role : NULL);
	pg_q_str(q, ch->kind == CHATD_CHANGE_ROLE ? ch->role : NULL);
	pg_q_i64(q, ch->muted_until);
	pg_q_i64(q, ch->max_members);
	pg_q_bool(q, ch->history_from_join);
	bool settings = ch->kind == CHATD_CHANGE_SETTINGS;
	pg_q_bool(q, settings && ch->title != NULL);
	/* "" clears: stored as NULL, like a group created without one. */
	pg_q_str(q, settings && ch->title && *ch->title ? ch->title : NULL);
	pg_q_int(q, settings ? ch->locked : -1);
	pg_q_int(q, settings ? ch->typing : -1);
	pg_q_int(q, settings ? ch->receipts : -1);
	pg_q_i64(q, ch->ts);
	/* After LEAVE the actor is no member: the conversation as nobody
	 * sees it (role NULL). */
	view_query(op, shard, ch->conversation_id,
		   ch->kind == CHATD_CHANGE_LEAVE ? NULL : ch->actor);
	return pg_op_start(op);
}

/* ---- cursors_advance: one statement per shard concerned ------------- */

static int cursors_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	int64_t moved = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		moved += pg_affected(q->res);
	o->cb(o->arg, CHATD_OK, moved);
	return PG_STEP_DONE;
}

static const struct pg_op_type cursors_type = { "cursors_advance", cursors_step, pg_fail_id };

int pg_cursors_advance(void *inst, const struct chatd_read_cursor *c, size_t n,
		       chatd_id_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !c || n < 1 || n > PG_CURSOR_BATCH_MAX)
		return CHATD_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (!store_valid_str(c[i].conversation_id, CHATD_ID_MAX) ||
		    !store_valid_str(c[i].user_id, CHATD_ID_MAX) || c[i].seq < 0)
			return CHATD_ERR_INVALID;
	struct pg_op_id *o = PG_OP_NEW(s, struct pg_op_id, &cursors_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	const char **cids = malloc(n * sizeof(*cids));
	const char **uids = malloc(n * sizeof(*uids));
	int64_t *seqs = malloc(n * sizeof(*seqs));
	if (!cids || !uids || !seqs) {
		free(cids);
		free(uids);
		free(seqs);
		pg_op_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	for (size_t sh = 0; sh < s->n_shards; sh++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (pg_shard_of(s, c[i].conversation_id) == sh) {
				cids[m] = c[i].conversation_id;
				uids[m] = c[i].user_id;
				seqs[m++] = c[i].seq;
			}
		if (!m)
			continue;
		struct pg_query *q = pg_op_query(&o->base, sh, PG_CURSORS);
		pg_q_text_array(q, cids, m);
		pg_q_text_array(q, uids, m);
		pg_q_i64_array(q, seqs, m);
	}
	free(cids);
	free(uids);
	free(seqs);
	return pg_op_start(&o->base);
}
