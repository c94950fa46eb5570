/* sqlite_ops_conv.c — the conversation ops (create direct or group, list,
 * get with a page of members): input checks and copies (core thread), exec
 * (worker thread), completion (core thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* ---- conversation creation ----------------------------------------- */

struct op_create {
	struct sqlite_req base;
	bool direct;
	char *owner, *peer;           /* direct: owner = user_a, peer = user_b */
	char *title;
	char **members;
	size_t n_members;
	int64_t ts;
	chatd_conv_cb cb;
	void *arg;
	char cid[18];
	struct chatd_conversation conv;
	bool created;
};

static const char SQL_DIRECT_FIND[] = "SELECT id FROM conversations WHERE direct_key = ?1";
static const char SQL_CONV_INSERT[] =
	"INSERT INTO conversations(id, kind, title, direct_key, created_at, last_activity) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?5)";
static const char SQL_MEMBER_INSERT[] =
	"INSERT OR IGNORE INTO members(conversation_id, user_id, role, joined_at) "
	"VALUES(?1, ?2, ?3, ?4)";
static const char SQL_MEMBER_COUNT[] =
	"UPDATE conversations SET member_count = "
	"(SELECT COUNT(*) FROM members WHERE conversation_id = ?1) WHERE id = ?1";

static int add_member(struct sqlite_conn *c, const char *cid, const char *user,
		      const char *role, int64_t ts)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MEMBER_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	sqlite_bind_str(st, 2, user);
	sqlite_bind_str(st, 3, role);
	sqlite3_bind_int64(st, 4, ts);
	return sqlite_step_done(st);
}

static int create_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_create *o = (struct op_create *)r;
	char *key = NULL;
	int status;
	if (o->direct) {
		/* The sorted pair identifies a direct conversation. */
		bool oom = false;
		bool lt = strcmp(o->owner, o->peer) < 0;
		size_t la = strlen(o->owner), lb = strlen(o->peer);
		key = sqlite_arena_alloc(&r->arena, la + lb + 2);
		if (!key)
			return CHATD_ERR_NOMEM;
		strcpy(key, lt ? o->owner : o->peer);
		strcat(key, "\n");
		strcat(key, lt ? o->peer : o->owner);
		sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_DIRECT_FIND);
		if (!st)
			return CHATD_ERR_INTERNAL;
		sqlite_bind_str(st, 1, key);
		int rc = sqlite3_step(st);
		char *found = rc == SQLITE_ROW ? sqlite_col_text(r, st, 0, &oom) : NULL;
		sqlite3_reset(st);
		if (oom)
			return CHATD_ERR_NOMEM;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sqlite_db_status(rc);
		if (found) {
			o->created = false;
			return sqlite_load_conv(c, r, found, o->owner, &o->conv);
		}
	}
	/* A conversation id collision is astronomically rare; retry anyway. */
	for (int attempt = 0;; attempt++) {
		if ((status = store_make_id(o->cid, 'c')) < 0)
			return status;
		sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_CONV_INSERT);
		if (!st)
			return CHATD_ERR_INTERNAL;
		sqlite_bind_str(st, 1, o->cid);
		sqlite_bind_str(st, 2, o->direct ? "direct" : "group");
		sqlite_bind_str(st, 3, o->direct ? NULL : o->title);
		sqlite_bind_str(st, 4, key);
		sqlite3_bind_int64(st, 5, o->ts);
		status = sqlite_step_done(st);
		if (status == CHATD_OK)
			break;
		if (sqlite3_extended_errcode(c->db) != SQLITE_CONSTRAINT_PRIMARYKEY || attempt == 3)
			return status;
	}
	status = add_member(c, o->cid, o->owner, o->direct ? "member" : "owner", o->ts);
	if (status == CHATD_OK && o->direct)
		status = add_member(c, o->cid, o->peer, "member", o->ts);
	for (size_t i = 0; status == CHATD_OK && i < o->n_members; i++)
		status = add_member(c, o->cid, o->members[i], "member", o->ts);
	if (status < 0)
		return status;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MEMBER_COUNT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	if ((status = sqlite_step_done(st)) < 0)
		return status;
	o->created = true;
	return sqlite_load_conv(c, r, o->cid, o->owner, &o->conv);
}

static void create_complete(struct sqlite_req *r)
{
	struct op_create *o = (struct op_create *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? &o->conv : NULL, ok && o->created);
}

static const struct sqlite_req_type create_type = {
	"conv_create", create_exec, create_complete,
};

int sqlite_op_direct_new(const char *user_a, const char *user_b, int64_t ts,
			 chatd_conv_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(user_a, CHATD_ID_MAX) || !store_valid_str(user_b, CHATD_ID_MAX) ||
	    strcmp(user_a, user_b) == 0 || ts < 0 ||
	    /* '\n' separates the pair in direct_key. */
	    strchr(user_a, '\n') || strchr(user_b, '\n'))
		return CHATD_ERR_INVALID;
	struct op_create *o = (struct op_create *)sqlite_req_new(sizeof(*o), &create_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->direct = true;
	o->owner = sqlite_arena_strdup(&o->base.arena, user_a, &oom);
	o->peer = sqlite_arena_strdup(&o->base.arena, user_b, &oom);
	o->ts = ts;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

int sqlite_op_group_new(const char *owner, const char *title, const char *const *members,
			size_t n_members, int64_t ts, chatd_conv_cb cb, void *arg,
			struct sqlite_req **out)
{
	if (!cb || !store_valid_str(owner, CHATD_ID_MAX) || (n_members && !members) || ts < 0 ||
	    (title && strnlen(title, SQLITE_TITLE_MAX + 1) > SQLITE_TITLE_MAX))
		return CHATD_ERR_INVALID;
	if (n_members > SQLITE_MEMBERS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_members; i++)
		if (!store_valid_str(members[i], CHATD_ID_MAX))
			return CHATD_ERR_INVALID;
	struct op_create *o = (struct op_create *)sqlite_req_new(sizeof(*o), &create_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->base.arena;
	bool oom = false;
	o->owner = sqlite_arena_strdup(a, owner, &oom);
	o->title = sqlite_arena_strdup(a, title, &oom);
	if (n_members) {
		o->members = sqlite_arena_alloc(a, n_members * sizeof(*o->members));
		oom = oom || !o->members;
	}
	/* The owner and duplicates are skipped by INSERT OR IGNORE on the
	 * members primary key; the owner is inserted first. */
	for (size_t i = 0; !oom && i < n_members; i++)
		o->members[i] = sqlite_arena_strdup(a, members[i], &oom);
	o->n_members = n_members;
	o->ts = ts;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- conv_list ----------------------------------------------------- */

struct op_list {
	struct sqlite_req base;
	char *user;
	chatd_conv_list_cb cb;
	void *arg;
	struct chatd_conversation *items;
	size_t n;
};

static int list_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_list *o = (struct op_list *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, sqlite_sql_conv_list);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->user);
	return sqlite_read_rows(r, st, SIZE_MAX, sizeof(*o->items), sqlite_read_conv, (void **)&o->items, &o->n,
			 NULL);
}

static void list_complete(struct sqlite_req *r)
{
	struct op_list *o = (struct op_list *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->items : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type list_type = {
	"conv_list", list_exec, list_complete,
};

int sqlite_op_conv_list_new(const char *user_id, chatd_conv_list_cb cb, void *arg,
			    struct sqlite_req **out)
{
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_list *o = (struct op_list *)sqlite_req_new(sizeof(*o), &list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->user = sqlite_arena_strdup(&o->base.arena, user_id, &oom);
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- conv_get ------------------------------------------------------ */

struct op_get {
	struct sqlite_req base;
	char *cid, *viewer;
	int64_t offset, limit;
	chatd_conv_get_cb cb;
	void *arg;
	struct chatd_conversation conv;
	struct chatd_member *members;
	size_t n;
};

static int get_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_get *o = (struct op_get *)r;
	int status = sqlite_load_conv(c, r, o->cid, o->viewer, &o->conv);
	if (status < 0 || o->limit == 0)
		return status;
	sqlite3_stmt *st = sqlite_conn_stmt(c, sqlite_sql_members_page);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite3_bind_int64(st, 2, o->limit);
	sqlite3_bind_int64(st, 3, o->offset);
	return sqlite_read_rows(r, st, SIZE_MAX, sizeof(*o->members), sqlite_read_member, (void **)&o->members,
			 &o->n, NULL);
}

static void get_complete(struct sqlite_req *r)
{
	struct op_get *o = (struct op_get *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? &o->conv : NULL, ok ? o->members : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type get_type = {
	"conv_get", get_exec, get_complete,
};

int sqlite_op_conv_get_new(const char *conversation_id, const char *viewer, size_t member_offset,
			   size_t member_limit, chatd_conv_get_cb cb, void *arg,
			   struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    (viewer && !store_valid_str(viewer, CHATD_ID_MAX)))
		return CHATD_ERR_INVALID;
	if (member_limit > SQLITE_PAGE_MAX)
		return CHATD_ERR_TOO_LARGE;
	struct op_get *o = (struct op_get *)sqlite_req_new(sizeof(*o), &get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->viewer = sqlite_arena_strdup(&o->base.arena, viewer, &oom);
	o->offset = member_offset > INT64_MAX ? INT64_MAX : (int64_t)member_offset;
	o->limit = (int64_t)member_limit;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}
