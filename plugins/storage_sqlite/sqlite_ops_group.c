/* sqlite_ops_group.c — group management ops of ABI 1.2 (conv_change,
 * members_get): input checks and copies (core thread), exec (worker
 * thread), completion (core thread).
 *
 * conv_change goes to the writer: it runs inside the batch transaction in
 * a savepoint of its own, so an error (EXISTS, TOO_LARGE, CONFLICT, ...)
 * undoes everything it did.  Choices the interface leaves open:
 *   - checks run in this order: the conversation exists, the actor is a
 *     member (NOT_FOUND), the conversation is a group (INVALID), the
 *     actor's role is still actor_role (CONFLICT), then the kind's own;
 *   - ADD: a user equal to the actor anywhere in users is INVALID (like
 *     users[0] == actor for the other kinds); EXISTS is checked before
 *     TOO_LARGE; a new member's read cursor starts at history_from (0, or
 *     the last seq with history_from_join), so what they cannot see is
 *     not unread;
 *   - REMOVE and ROLE of the owner are INVALID: ownership changes only
 *     when the owner leaves (MUTE of the owner is left to the core);
 *   - LEAVE takes no users, or users[0] == actor;
 *   - SETTINGS that changes nothing is OK;
 *   - members_get accepts viewer NULL like conv_get (no membership check,
 *     role/read_seq unset), and lists a user given twice twice. */
#include <stdlib.h>
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"


/* ---- conv_change --------------------------------------------------- */

struct op_change {
	struct sqlite_req base;
	int kind;
	char *cid, *actor, *actor_role, *target_role, *role;
	char *title;                  /* with title_set: the new title, NULL clears */
	bool title_set;
	char **users;                 /* ADD: without duplicates, in the order given */
	size_t n_users;
	int64_t muted_until, max_members, ts;
	bool history_from_join;
	int locked, typing, receipts;
	chatd_conv_change_cb cb;
	void *arg;
	/* results */
	struct chatd_conversation conv;
	const char *one;              /* the single user of the result */
	char *new_owner;
	struct chatd_conv_change_result res;
};

static const char SQL_CHANGE_CONV[] = "SELECT kind, last_seq FROM conversations WHERE id = ?1";
static const char SQL_MEMBER_ADD[] =
	"INSERT INTO members(conversation_id, user_id, role, joined_at, history_from, "
	"last_read_seq) VALUES(?1, ?2, 'member', ?3, ?4, ?4)";
static const char SQL_MEMBER_DEL[] =
	"DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2";
static const char SQL_INBOX_DEL_ONE[] =
	"DELETE FROM inbox WHERE conversation_id = ?1 AND user_id = ?2";
/* A member added to a conversation that fans out on write gets its inbox
 * row at once (appends only update the rows that exist). */
static const char SQL_INBOX_ADD_ONE[] =
	"INSERT OR IGNORE INTO inbox(conversation_id, user_id, last_seq, ts) "
	"SELECT id, ?2, last_seq, ?3 FROM conversations WHERE id = ?1 AND inbox = 1";
static const char SQL_COUNT_ADD[] =
	"UPDATE conversations SET member_count = member_count + ?2 WHERE id = ?1 "
	"RETURNING member_count";
static const char SQL_SET_ROLE[] =
	"UPDATE members SET role = ?3 WHERE conversation_id = ?1 AND user_id = ?2";
static const char SQL_SET_MUTE[] =
	"UPDATE members SET muted_until = ?3 WHERE conversation_id = ?1 AND user_id = ?2";
/* The longest-standing admin, else the longest-standing member of any
 * role.  ?2: the owner who leaves. */
static const char SQL_NEXT_OWNER[] =
	"SELECT user_id FROM members WHERE conversation_id = ?1 AND user_id <> ?2 "
	"ORDER BY role = 'admin' DESC, joined_at, user_id LIMIT 1";
/* ?2 title given (then ?3, NULL clears); ?4..?6 < 0: unchanged. */
static const char SQL_SETTINGS[] =
	"UPDATE conversations SET title = CASE WHEN ?2 THEN ?3 ELSE title END, "
	"locked = CASE WHEN ?4 < 0 THEN locked ELSE ?4 END, "
	"typing = CASE WHEN ?5 < 0 THEN typing ELSE ?5 END, "
	"receipts = CASE WHEN ?6 < 0 THEN receipts ELSE ?6 END WHERE id = ?1";

/* Statement with (?1 conversation, ?2 user[, ?3 text or int]). */
static int run_cu(struct sqlite_conn *c, const char *sql, const char *cid, const char *user)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, sql);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	sqlite_bind_str(st, 2, user);
	return sqlite_step_done(st);
}

/* member_count += delta; *count gets the new value. */
static int count_add(struct sqlite_conn *c, const char *cid, int64_t delta, int64_t *count)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_COUNT_ADD);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	sqlite3_bind_int64(st, 2, delta);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && count)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? CHATD_OK : rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND
							     : sqlite_db_status(rc);
}

/* A member leaves or is removed: the row, its inbox row, the count. */
static int drop_member(struct sqlite_conn *c, const char *cid, const char *user)
{
	int status = run_cu(c, SQL_MEMBER_DEL, cid, user);
	if (status == CHATD_OK)
		status = run_cu(c, SQL_INBOX_DEL_ONE, cid, user);
	if (status == CHATD_OK)
		status = count_add(c, cid, -1, NULL);
	return status;
}

static int change_add(struct sqlite_conn *c, struct op_change *o, int64_t last_seq)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MEMBER_ADD);
	if (!st)
		return CHATD_ERR_INTERNAL;
	int64_t from = o->history_from_join ? last_seq : 0;
	for (size_t i = 0; i < o->n_users; i++) {
		sqlite_bind_str(st, 1, o->cid);
		sqlite_bind_str(st, 2, o->users[i]);
		sqlite3_bind_int64(st, 3, o->ts);
		sqlite3_bind_int64(st, 4, from);
		int rc = sqlite3_step(st);
		int ext = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(c->db);
		sqlite3_reset(st);
		if (ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
			/* The savepoint undoes the ones inserted before. */
			o->one = o->users[i];
			return CHATD_ERR_EXISTS;
		}
		if (rc != SQLITE_DONE)
			return sqlite_db_status(rc);
	}
	if (!(st = sqlite_conn_stmt(c, SQL_INBOX_ADD_ONE)))
		return CHATD_ERR_INTERNAL;
	for (size_t i = 0; i < o->n_users; i++) {
		sqlite_bind_str(st, 1, o->cid);
		sqlite_bind_str(st, 2, o->users[i]);
		sqlite3_bind_int64(st, 3, o->ts);
		int status = sqlite_step_done(st);
		if (status < 0)
			return status;
	}
	int64_t count = 0;
	int status = count_add(c, o->cid, (int64_t)o->n_users, &count);
	if (status < 0)
		return status;
	if (o->max_members > 0 && count > o->max_members)
		return CHATD_ERR_TOO_LARGE;
	o->res.users = (const char *const *)o->users;
	o->res.n_users = o->n_users;
	return CHATD_OK;
}

static int change_leave(struct sqlite_conn *c, struct sqlite_req *r, struct op_change *o,
			const struct chatd_member *self)
{
	if (strcmp(self->role, "owner") == 0) {
		sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_NEXT_OWNER);
		if (!st)
			return CHATD_ERR_INTERNAL;
		sqlite_bind_str(st, 1, o->cid);
		sqlite_bind_str(st, 2, o->actor);
		bool oom = false;
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			o->new_owner = sqlite_col_text(r, st, 0, &oom);
		sqlite3_reset(st);
		if (oom)
			return CHATD_ERR_NOMEM;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sqlite_db_status(rc);
		if (o->new_owner) {
			if (!(st = sqlite_conn_stmt(c, SQL_SET_ROLE)))
				return CHATD_ERR_INTERNAL;
			sqlite_bind_str(st, 1, o->cid);
			sqlite_bind_str(st, 2, o->new_owner);
			sqlite_bind_str(st, 3, "owner");
			int status = sqlite_step_done(st);
			if (status < 0)
				return status;
		}
	}
	/* The last member may leave: the conversation stays, empty. */
	o->one = o->actor;
	return drop_member(c, o->cid, o->actor);
}

/* REMOVE, ROLE, MUTE: users[0] as the target. */
static int change_target(struct sqlite_conn *c, struct sqlite_req *r, struct op_change *o)
{
	struct chatd_member target;
	int status = sqlite_load_member(c, r, o->cid, o->users[0], &target);
	if (status < 0)
		return status;
	if (o->target_role && strcmp(o->target_role, target.role) != 0)
		return CHATD_ERR_CONFLICT;
	o->one = o->users[0];
	sqlite3_stmt *st;
	switch (o->kind) {
	case CHATD_CHANGE_REMOVE:
		if (strcmp(target.role, "owner") == 0)
			return CHATD_ERR_INVALID;
		return drop_member(c, o->cid, o->users[0]);
	case CHATD_CHANGE_ROLE:
		if (strcmp(target.role, "owner") == 0)
			return CHATD_ERR_INVALID;
		if (!(st = sqlite_conn_stmt(c, SQL_SET_ROLE)))
			return CHATD_ERR_INTERNAL;
		sqlite_bind_str(st, 3, o->role);
		break;
	default: /* CHATD_CHANGE_MUTE */
		if (!(st = sqlite_conn_stmt(c, SQL_SET_MUTE)))
			return CHATD_ERR_INTERNAL;
		sqlite3_bind_int64(st, 3, o->muted_until);
		break;
	}
	sqlite_bind_str(st, 1, o->cid);
	sqlite_bind_str(st, 2, o->users[0]);
	return sqlite_step_done(st);
}

static int change_settings(struct sqlite_conn *c, struct op_change *o)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_SETTINGS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite3_bind_int(st, 2, o->title_set ? 1 : 0);
	sqlite_bind_str(st, 3, o->title);
	sqlite3_bind_int(st, 4, o->locked);
	sqlite3_bind_int(st, 5, o->typing);
	sqlite3_bind_int(st, 6, o->receipts);
	return sqlite_step_done(st);
}

static int change_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_change *o = (struct op_change *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_CHANGE_CONV);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	int rc = sqlite3_step(st);
	bool direct = false;
	int64_t last_seq = 0;
	if (rc == SQLITE_ROW) {
		const unsigned char *kind = sqlite3_column_text(st, 0);
		direct = kind && strcmp((const char *)kind, "direct") == 0;
		last_seq = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
	struct chatd_member self;
	int status = sqlite_load_member(c, r, o->cid, o->actor, &self);
	if (status < 0)
		return status;
	if (direct)
		return CHATD_ERR_INVALID;   /* membership and roles are fixed */
	if (o->actor_role && strcmp(o->actor_role, self.role) != 0)
		return CHATD_ERR_CONFLICT;

	switch (o->kind) {
	case CHATD_CHANGE_ADD:
		status = change_add(c, o, last_seq);
		break;
	case CHATD_CHANGE_LEAVE:
		status = change_leave(c, r, o, &self);
		break;
	case CHATD_CHANGE_SETTINGS:
		status = change_settings(c, o);
		break;
	default:
		status = change_target(c, r, o);
		break;
	}
	if (status < 0)
		return status;
	if (o->one) {
		o->res.users = &o->one;
		o->res.n_users = 1;
	}
	o->res.new_owner = o->new_owner;
	/* After LEAVE the actor is no member: the conversation as nobody
	 * sees it (role NULL). */
	status = sqlite_load_conv(c, r, o->cid, o->kind == CHATD_CHANGE_LEAVE ? NULL : o->actor,
				  &o->conv);
	o->res.conv = &o->conv;
	return status;
}

static void change_complete(struct sqlite_req *r)
{
	struct op_change *o = (struct op_change *)r;
	if (r->status == CHATD_ERR_EXISTS) {
		struct chatd_conv_change_result res = { .users = &o->one, .n_users = 1 };
		o->cb(o->arg, r->status, &res);
		return;
	}
	o->cb(o->arg, r->status, r->status == CHATD_OK ? &o->res : NULL);
}

static const struct sqlite_req_type change_type = {
	"conv_change", change_exec, change_complete,
};

struct str_at {
	const char *s;
	size_t i;
};

static int str_at_cmp(const void *a, const void *b)
{
	const struct str_at *x = a, *y = b;
	int d = strcmp(x->s, y->s);
	return d ? d : (x->i > y->i) - (x->i < y->i);
}

/* Copy users into o->users, keeping the first of each duplicate, in the
 * order given.  CHATD_OK or CHATD_ERR_NOMEM. */
static int copy_unique(struct op_change *o, const char *const *users, size_t n)
{
	struct str_at *v = malloc(n * sizeof(*v));
	bool *dup = calloc(n, sizeof(*dup));
	o->users = sqlite_arena_alloc(&o->base.arena, n * sizeof(*o->users));
	bool oom = !v || !dup || !o->users;
	if (!oom) {
		for (size_t i = 0; i < n; i++)
			v[i] = (struct str_at){ users[i], i };
		qsort(v, n, sizeof(*v), str_at_cmp);
		for (size_t i = 1; i < n; i++)
			if (strcmp(v[i].s, v[i - 1].s) == 0)
				dup[v[i].i] = true;
		for (size_t i = 0; i < n && !oom; i++)
			if (!dup[i])
				o->users[o->n_users++] = sqlite_arena_strdup(&o->base.arena, users[i],
									     &oom);
	}
	free(v);
	free(dup);
	return oom ? CHATD_ERR_NOMEM : CHATD_OK;
}

int sqlite_op_conv_change_new(const struct chatd_conv_change *ch, chatd_conv_change_cb cb,
			      void *arg, struct sqlite_req **out)
{
	if (!cb)
		return CHATD_ERR_INVALID;
	int st = store_check_conv_change(ch, SQLITE_CHANGE_USERS_MAX, SQLITE_TITLE_MAX);
	if (st != CHATD_OK)
		return st;

	struct op_change *o = (struct op_change *)sqlite_req_new(sizeof(*o), &change_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->base.arena;
	bool oom = false;
	o->kind = ch->kind;
	o->cid = sqlite_arena_strdup(a, ch->conversation_id, &oom);
	o->actor = sqlite_arena_strdup(a, ch->actor, &oom);
	o->actor_role = sqlite_arena_strdup(a, ch->actor_role, &oom);
	o->ts = ch->ts;
	switch (ch->kind) {
	case CHATD_CHANGE_ADD:
		if (!oom && copy_unique(o, ch->users, ch->n_users) < 0)
			oom = true;
		o->max_members = ch->max_members;
		o->history_from_join = ch->history_from_join;
		break;
	case CHATD_CHANGE_REMOVE:
	case CHATD_CHANGE_ROLE:
	case CHATD_CHANGE_MUTE:
		o->users = sqlite_arena_alloc(a, sizeof(*o->users));
		oom = oom || !o->users;
		if (!oom) {
			o->users[0] = sqlite_arena_strdup(a, ch->users[0], &oom);
			o->n_users = 1;
		}
		o->target_role = sqlite_arena_strdup(a, ch->target_role, &oom);
		o->role = ch->kind == CHATD_CHANGE_ROLE ? sqlite_arena_strdup(a, ch->role, &oom)
							: NULL;
		o->muted_until = ch->muted_until;
		break;
	case CHATD_CHANGE_SETTINGS:
		/* "" clears: stored as NULL, like a group created without one. */
		o->title_set = ch->title != NULL;
		o->title = ch->title && *ch->title ? sqlite_arena_strdup(a, ch->title, &oom) : NULL;
		o->locked = ch->locked;
		o->typing = ch->typing;
		o->receipts = ch->receipts;
		break;
	default:
		break;
	}
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- members_get --------------------------------------------------- */

struct op_members_get {
	struct sqlite_req base;
	char *cid, *viewer;
	char **users;
	size_t n_users;
	chatd_conv_get_cb cb;
	void *arg;
	struct chatd_conversation conv;
	struct chatd_member *members;
	size_t n;
};

static int members_get_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_members_get *o = (struct op_members_get *)r;
	int status = sqlite_load_conv(c, r, o->cid, o->viewer, &o->conv);
	if (status < 0 || o->n_users == 0)
		return status;
	o->members = sqlite_arena_alloc(&r->arena, o->n_users * sizeof(*o->members));
	if (!o->members)
		return CHATD_ERR_NOMEM;
	for (size_t i = 0; i < o->n_users; i++) {
		status = sqlite_load_member(c, r, o->cid, o->users[i], &o->members[o->n]);
		if (status == CHATD_OK)
			o->n++;
		else if (status != CHATD_ERR_NOT_FOUND)
			return status;
	}
	return CHATD_OK;
}

static void members_get_complete(struct sqlite_req *r)
{
	struct op_members_get *o = (struct op_members_get *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? &o->conv : NULL, ok ? o->members : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type members_get_type = {
	"members_get", members_get_exec, members_get_complete,
};

int sqlite_op_members_get_new(const char *conversation_id, const char *viewer,
			      const char *const *users, size_t n_users, chatd_conv_get_cb cb,
			      void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    (viewer && !store_valid_str(viewer, CHATD_ID_MAX)) || (n_users && !users))
		return CHATD_ERR_INVALID;
	if (n_users > SQLITE_CHANGE_USERS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_users; i++)
		if (!store_valid_str(users[i], CHATD_ID_MAX))
			return CHATD_ERR_INVALID;
	struct op_members_get *o =
		(struct op_members_get *)sqlite_req_new(sizeof(*o), &members_get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->base.arena;
	bool oom = false;
	o->cid = sqlite_arena_strdup(a, conversation_id, &oom);
	o->viewer = sqlite_arena_strdup(a, viewer, &oom);
	if (n_users) {
		o->users = sqlite_arena_alloc(a, n_users * sizeof(*o->users));
		oom = oom || !o->users;
	}
	for (size_t i = 0; !oom && i < n_users; i++)
		o->users[i] = sqlite_arena_strdup(a, users[i], &oom);
	o->n_users = n_users;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}
