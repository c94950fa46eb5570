/* sqlite_ops_notify.c — notification mutes (ABI 1.4): notify_mute_set (a
 * writer) and notify_targets (a reader) over members.notify_muted_until
 * (schema 7). */
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* ---- notify_mute_set ----------------------------------------------- */

struct op_mute {
	struct sqlite_req base;
	char *cid, *user;
	int64_t until;
	chatd_status_cb cb;
	void *arg;
};

static const char SQL_MUTE[] =
	"UPDATE members SET notify_muted_until = ?3 WHERE conversation_id = ?1 AND user_id = ?2";

static int mute_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_mute *o = (struct op_mute *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MUTE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite_bind_str(st, 2, o->user);
	sqlite3_bind_int64(st, 3, o->until);
	int status = sqlite_step_done(st);
	if (status == CHATD_OK && sqlite3_changes(c->db) == 0)
		return CHATD_ERR_NOT_FOUND;
	return status;
}

static void mute_complete(struct sqlite_req *r)
{
	struct op_mute *o = (struct op_mute *)r;
	o->cb(o->arg, r->status);
}

static const struct sqlite_req_type mute_type = {
	"notify_mute_set", mute_exec, mute_complete,
};

int sqlite_op_notify_mute_new(const char *conversation_id, const char *user_id,
			      int64_t muted_until, chatd_status_cb cb, void *arg,
			      struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    !store_valid_str(user_id, CHATD_ID_MAX) || muted_until < 0)
		return CHATD_ERR_INVALID;
	struct op_mute *o = OP_NEW(struct op_mute, &mute_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->user = sqlite_arena_strdup(&o->base.arena, user_id, &oom);
	o->until = muted_until;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- notify_targets ------------------------------------------------ */

struct op_targets {
	struct sqlite_req base;
	char *cid, *exclude;
	int64_t now;
	size_t max;
	chatd_users_cb cb;
	void *arg;
	const char **users;
	size_t n;
};

static const char SQL_TARGETS[] =
	"SELECT user_id FROM members WHERE conversation_id = ?1 AND user_id <> ?2 "
	"AND notify_muted_until <= ?3 ORDER BY user_id LIMIT ?4";

static bool read_user(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	bool oom = false;
	*(const char **)out = sqlite_col_text(r, st, 0, &oom);
	return !oom;
}

static int targets_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_targets *o = (struct op_targets *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_TARGETS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite_bind_str(st, 2, o->exclude ? o->exclude : "");
	sqlite3_bind_int64(st, 3, o->now);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)o->max + 1);   /* one more tells too many */
	bool more = false;
	int status = sqlite_read_rows(r, st, o->max, sizeof(*o->users), read_user,
				      (void **)&o->users, &o->n, &more);
	return status == CHATD_OK && more ? CHATD_ERR_TOO_LARGE : status;
}

static void targets_complete(struct sqlite_req *r)
{
	struct op_targets *o = (struct op_targets *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? (const char *const *)o->users : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type targets_type = {
	"notify_targets", targets_exec, targets_complete,
};

int sqlite_op_notify_targets_new(const char *conversation_id, const char *exclude, int64_t now,
				 size_t max, chatd_users_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb || max < 1 || max > SQLITE_MEMBERS_MAX * 100 ||
	    !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    (exclude && !store_valid_str(exclude, CHATD_ID_MAX)))
		return CHATD_ERR_INVALID;
	struct op_targets *o = OP_NEW(struct op_targets, &targets_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->exclude = sqlite_arena_strdup(&o->base.arena, exclude, &oom);
	o->now = now;
	o->max = max;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}
