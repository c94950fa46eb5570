/* sqlite_ops_mod.c — the moderation ops of ABI 1.1 (audit log, moderation
 * queue, message visibility, sanctions, user_seen): input checks and copies
 * (core thread), exec (worker thread), completion (core thread).
 *
 * Writes go to the writer like append (group commit: the callback runs only
 * once the batch is committed); lists go to the reader.  Choices the
 * interface leaves open:
 *   - fields without "NULL: none" in storage.h are required; free text
 *     (reasons, notes, details) may be empty (the core files queue items
 *     with reason "") but not over SQLITE_NOTE_MAX (CHATD_ERR_TOO_LARGE);
 *     actors are user ids, "rule:NAME" or "system"/"moderation", so they get
 *     SQLITE_ACTOR_MAX, a little over CHATD_ID_MAX;
 *   - audit_append checks the hashes' form (64 lowercase hex digits, a zero
 *     prev_hash for id 1) and that prev_hash is the stored hash of entry
 *     id - 1 (else EXISTS: another node wrote there); computing the chain
 *     is the core's;
 *   - audit_list with newest: the last `limit` entries above after_id;
 *   - mod_item_add refuses a status other than "open" and resolution
 *     fields that are set; mod_item_list with id > 0 ignores the filters
 *     and after_id and gives CHATD_ERR_NOT_FOUND when there is no such item;
 *   - sanction_lift with no active sanction of that kind is CHATD_OK (the
 *     core lifts in memory first and logs any failure of the write);
 *   - sanction_list_active is ordered by user_id, kind, until. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

static const char *const item_kinds[] = { "report", "flag", "hold", "appeal", NULL };
static const char *const item_statuses[] = { "open", "actioned", "dismissed", NULL };
static const char *const closed_statuses[] = { "actioned", "dismissed", NULL };
/* "revoke": a token revocation (the core's; created_at is revoked_before). */
static const char *const sanction_kinds[] = { "ban", "shadow", "block", "revoke", NULL };

/* NULL or at most SQLITE_NOTE_MAX bytes. */
static bool text_fits(const char *s)
{
	return !s || strnlen(s, SQLITE_NOTE_MAX + 1) <= SQLITE_NOTE_MAX;
}

/* Exactly SQLITE_HASH_HEX lowercase hex digits. */
static bool valid_hash(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < SQLITE_HASH_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[SQLITE_HASH_HEX] == '\0';
}

static bool all_zero_hash(const char *s)
{
	return strspn(s, "0") == SQLITE_HASH_HEX;
}

/* A step that writes one row, or none on a constraint: the status, and the
 * extended code of a failure in *ext. */
static int step_write(struct sqlite_conn *c, sqlite3_stmt *st, int *ext)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	*ext = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(c->db);
	return rc == SQLITE_DONE ? CHATD_OK : sqlite_db_status(rc);
}

/* ---- completions shared by the ops --------------------------------- */

/* Ops that answer with a status only start with this. */
struct op_status {
	struct sqlite_req base;
	chatd_status_cb cb;
	void *arg;
};

static void status_complete(struct sqlite_req *r)
{
	struct op_status *o = (struct op_status *)r;
	o->cb(o->arg, r->status);
}

/* Ops that answer with an id start with this. */
struct op_id {
	struct sqlite_req base;
	chatd_id_cb cb;
	void *arg;
	int64_t id;   /* set by exec on success (and on EXISTS where it says so) */
};

static void id_complete(struct sqlite_req *r)
{
	struct op_id *o = (struct op_id *)r;
	bool ok = r->status == CHATD_OK || r->status == CHATD_ERR_EXISTS;
	o->cb(o->arg, r->status, ok ? o->id : 0);
}

/* ---- audit_append -------------------------------------------------- */

struct op_audit_append {
	struct op_status s;
	struct chatd_audit_entry e;   /* strings in the arena */
};

/* Inserts nothing unless the entry extends the stored chain. */
static const char SQL_AUDIT_INSERT[] =
	"INSERT INTO audit_log(id, ts, actor, event, subject, detail, prev_hash, hash) "
	"SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE ?1 = 1 OR EXISTS "
	"(SELECT 1 FROM audit_log WHERE id = ?1 - 1 AND hash = ?7)";

static int audit_append_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	const struct chatd_audit_entry *e = &((struct op_audit_append *)r)->e;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_AUDIT_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int64(st, 2, e->ts);
	sqlite_bind_str(st, 3, e->actor);
	sqlite_bind_str(st, 4, e->event);
	sqlite_bind_str(st, 5, e->subject);
	sqlite_bind_str(st, 6, e->detail);
	sqlite_bind_str(st, 7, e->prev_hash);
	sqlite_bind_str(st, 8, e->hash);
	int ext, status = step_write(c, st, &ext);
	/* The log is append-only: an id already there is never replaced. */
	if (ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return CHATD_ERR_EXISTS;
	if (status == CHATD_OK && sqlite3_changes(c->db) == 0)
		return CHATD_ERR_EXISTS;   /* prev_hash is not the stored tail */
	return status;
}

static const struct sqlite_req_type audit_append_type = {
	"audit_append", audit_append_exec, status_complete,
};

int sqlite_op_audit_append_new(const struct chatd_audit_entry *e, chatd_status_cb cb, void *arg,
			       struct sqlite_req **out)
{
	if (!e || !cb || e->id < 1 || e->ts < 0 || !store_valid_str(e->actor, SQLITE_ACTOR_MAX) ||
	    !store_valid_str(e->event, SQLITE_TOKEN_MAX) || !e->subject ||
	    strnlen(e->subject, SQLITE_SUBJECT_MAX + 1) > SQLITE_SUBJECT_MAX || !e->detail ||
	    !valid_hash(e->prev_hash) || !valid_hash(e->hash) ||
	    (e->id == 1 && !all_zero_hash(e->prev_hash)))
		return CHATD_ERR_INVALID;
	if (!text_fits(e->detail))
		return CHATD_ERR_TOO_LARGE;
	struct op_audit_append *o = OP_NEW(struct op_audit_append, &audit_append_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->s.base.arena;
	bool oom = false;
	o->e.id = e->id;
	o->e.ts = e->ts;
	o->e.actor = sqlite_arena_strdup(a, e->actor, &oom);
	o->e.event = sqlite_arena_strdup(a, e->event, &oom);
	o->e.subject = sqlite_arena_strdup(a, e->subject, &oom);
	o->e.detail = sqlite_arena_strdup(a, e->detail, &oom);
	o->e.prev_hash = sqlite_arena_strdup(a, e->prev_hash, &oom);
	o->e.hash = sqlite_arena_strdup(a, e->hash, &oom);
	o->s.cb = cb;
	o->s.arg = arg;
	return sqlite_op_out(&o->s.base, oom, out);
}

/* ---- audit_list ---------------------------------------------------- */

struct op_audit_list {
	struct sqlite_req base;
	int64_t after_id;
	int limit;
	bool newest;
	chatd_audit_list_cb cb;
	void *arg;
	struct chatd_audit_entry *items;
	size_t n;
};

#define AUDIT_COLS "id, ts, actor, event, subject, detail, prev_hash, hash"
/* ?1 after_id, ?2 limit. */
static const char SQL_AUDIT_ASC[] =
	"SELECT " AUDIT_COLS " FROM audit_log WHERE id > ?1 ORDER BY id ASC LIMIT ?2";
static const char SQL_AUDIT_NEWEST[] =
	"SELECT " AUDIT_COLS " FROM audit_log WHERE id > ?1 ORDER BY id DESC LIMIT ?2";

static bool read_audit(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_audit_entry *e = out;
	bool oom = false;
	e->id = sqlite3_column_int64(st, 0);
	e->ts = sqlite3_column_int64(st, 1);
	e->actor = sqlite_col_text(r, st, 2, &oom);
	e->event = sqlite_col_text(r, st, 3, &oom);
	e->subject = sqlite_col_text(r, st, 4, &oom);
	e->detail = sqlite_col_text(r, st, 5, &oom);
	e->prev_hash = sqlite_col_text(r, st, 6, &oom);
	e->hash = sqlite_col_text(r, st, 7, &oom);
	return !oom;
}

static int audit_list_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_audit_list *o = (struct op_audit_list *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, o->newest ? SQL_AUDIT_NEWEST : SQL_AUDIT_ASC);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, o->after_id);
	sqlite3_bind_int64(st, 2, o->limit);
	int status = sqlite_read_rows(r, st, (size_t)o->limit, sizeof(*o->items), read_audit,
				      (void **)&o->items, &o->n, NULL);
	if (status == CHATD_OK && o->newest) {
		for (size_t i = 0; i < o->n / 2; i++) {
			struct chatd_audit_entry t = o->items[i];
			o->items[i] = o->items[o->n - 1 - i];
			o->items[o->n - 1 - i] = t;
		}
	}
	return status;
}

static void audit_list_complete(struct sqlite_req *r)
{
	struct op_audit_list *o = (struct op_audit_list *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->items : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type audit_list_type = {
	"audit_list", audit_list_exec, audit_list_complete,
};

int sqlite_op_audit_list_new(int64_t after_id, int limit, bool newest, chatd_audit_list_cb cb,
			     void *arg, struct sqlite_req **out)
{
	if (!cb || after_id < 0 || limit < 1 || limit > SQLITE_LIST_MAX)
		return CHATD_ERR_INVALID;
	struct op_audit_list *o = OP_NEW(struct op_audit_list, &audit_list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->after_id = after_id;
	o->limit = limit;
	o->newest = newest;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}

/* ---- mod_item_add -------------------------------------------------- */

struct op_item_add {
	struct op_id i;
	struct chatd_mod_item it;   /* strings in the arena */
};

static const char SQL_ITEM_INSERT[] =
	"INSERT INTO mod_items(kind, status, conversation_id, seq, subject_id, filed_by, reason, "
	"note, detail, dedupe_key, created_at) "
	"VALUES(?1, 'open', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_ITEM_BY_KEY[] = "SELECT id FROM mod_items WHERE dedupe_key = ?1";

static int item_add_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_item_add *o = (struct op_item_add *)r;
	const struct chatd_mod_item *it = &o->it;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_ITEM_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, it->kind);
	sqlite_bind_str(st, 2, it->conversation_id);
	sqlite3_bind_int64(st, 3, it->seq);
	sqlite_bind_str(st, 4, it->subject_id);
	sqlite_bind_str(st, 5, it->filed_by);
	sqlite_bind_str(st, 6, it->reason);
	sqlite_bind_str(st, 7, it->note);
	sqlite_bind_str(st, 8, it->detail);
	sqlite_bind_str(st, 9, it->dedupe_key);
	sqlite3_bind_int64(st, 10, it->created_at);
	int ext, status = step_write(c, st, &ext);
	if (status == CHATD_OK) {
		o->i.id = sqlite3_last_insert_rowid(c->db);
		return CHATD_OK;
	}
	if (ext != SQLITE_CONSTRAINT_UNIQUE || !it->dedupe_key)
		return status;
	/* The key is taken (maybe earlier in this very batch): name the item
	 * that holds it. */
	if (!(st = sqlite_conn_stmt(c, SQL_ITEM_BY_KEY)))
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, it->dedupe_key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		o->i.id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return CHATD_ERR_EXISTS;
	return rc == SQLITE_DONE ? status : sqlite_db_status(rc);
}

static const struct sqlite_req_type item_add_type = {
	"mod_item_add", item_add_exec, id_complete,
};

int sqlite_op_mod_item_add_new(const struct chatd_mod_item *it, chatd_id_cb cb, void *arg,
			       struct sqlite_req **out)
{
	if (!it || !cb || !store_one_of(it->kind, item_kinds) ||
	    (it->status && strcmp(it->status, "open") != 0) ||
	    (it->conversation_id && !store_valid_str(it->conversation_id, CHATD_ID_MAX)) ||
	    it->seq < 0 || (it->seq > 0 && !it->conversation_id) ||
	    !store_valid_str(it->subject_id, CHATD_ID_MAX) ||
	    !store_valid_str(it->filed_by, SQLITE_ACTOR_MAX) || !it->reason ||
	    (it->dedupe_key && !store_valid_str(it->dedupe_key, SQLITE_KEY_MAX)) ||
	    it->created_at < 0 ||
	    /* A new item is open: resolving is mod_item_resolve's. */
	    it->actor || it->action || it->resolution_note || it->resolved_at != 0)
		return CHATD_ERR_INVALID;
	if (!text_fits(it->reason) || !text_fits(it->note) || !text_fits(it->detail))
		return CHATD_ERR_TOO_LARGE;
	struct op_item_add *o = OP_NEW(struct op_item_add, &item_add_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->i.base.arena;
	bool oom = false;
	o->it.kind = sqlite_arena_strdup(a, it->kind, &oom);
	o->it.conversation_id = sqlite_arena_strdup(a, it->conversation_id, &oom);
	o->it.seq = it->seq;
	o->it.subject_id = sqlite_arena_strdup(a, it->subject_id, &oom);
	o->it.filed_by = sqlite_arena_strdup(a, it->filed_by, &oom);
	o->it.reason = sqlite_arena_strdup(a, it->reason, &oom);
	o->it.note = sqlite_arena_strdup(a, it->note, &oom);
	o->it.detail = sqlite_arena_strdup(a, it->detail, &oom);
	o->it.dedupe_key = sqlite_arena_strdup(a, it->dedupe_key, &oom);
	o->it.created_at = it->created_at;
	o->i.cb = cb;
	o->i.arg = arg;
	return sqlite_op_out(&o->i.base, oom, out);
}

/* ---- mod_item_list ------------------------------------------------- */

struct op_item_list {
	struct sqlite_req base;
	int64_t id, after_id;
	char *status, *kind;
	int limit;
	chatd_mod_items_cb cb;
	void *arg;
	struct chatd_mod_item *items;
	size_t n;
};

#define ITEM_COLS \
	"id, kind, status, conversation_id, seq, subject_id, filed_by, reason, note, detail, " \
	"dedupe_key, created_at, actor, action, resolution_note, resolved_at"
/* ?1 after_id, ?2 limit, ?3 status, ?4 kind; by status: mod_items_by_status. */
static const char SQL_ITEM_ONE[] = "SELECT " ITEM_COLS " FROM mod_items WHERE id = ?1";
static const char SQL_ITEMS_ALL[] =
	"SELECT " ITEM_COLS " FROM mod_items WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char SQL_ITEMS_STATUS[] =
	"SELECT " ITEM_COLS " FROM mod_items WHERE status = ?3 AND id > ?1 ORDER BY id LIMIT ?2";
static const char SQL_ITEMS_KIND[] =
	"SELECT " ITEM_COLS " FROM mod_items WHERE kind = ?4 AND id > ?1 ORDER BY id LIMIT ?2";
static const char SQL_ITEMS_BOTH[] =
	"SELECT " ITEM_COLS " FROM mod_items WHERE status = ?3 AND kind = ?4 AND id > ?1 "
	"ORDER BY id LIMIT ?2";

static bool read_item(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_mod_item *it = out;
	bool oom = false;
	it->id = sqlite3_column_int64(st, 0);
	it->kind = sqlite_col_text(r, st, 1, &oom);
	it->status = sqlite_col_text(r, st, 2, &oom);
	it->conversation_id = sqlite_col_text(r, st, 3, &oom);
	it->seq = sqlite3_column_int64(st, 4);
	it->subject_id = sqlite_col_text(r, st, 5, &oom);
	it->filed_by = sqlite_col_text(r, st, 6, &oom);
	it->reason = sqlite_col_text(r, st, 7, &oom);
	it->note = sqlite_col_text(r, st, 8, &oom);
	it->detail = sqlite_col_text(r, st, 9, &oom);
	it->dedupe_key = sqlite_col_text(r, st, 10, &oom);
	it->created_at = sqlite3_column_int64(st, 11);
	it->actor = sqlite_col_text(r, st, 12, &oom);
	it->action = sqlite_col_text(r, st, 13, &oom);
	it->resolution_note = sqlite_col_text(r, st, 14, &oom);
	it->resolved_at = sqlite3_column_int64(st, 15);
	return !oom;
}

static int item_list_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_item_list *o = (struct op_item_list *)r;
	const char *sql = o->id > 0 ? SQL_ITEM_ONE
			: o->status && o->kind ? SQL_ITEMS_BOTH
			: o->status ? SQL_ITEMS_STATUS
			: o->kind ? SQL_ITEMS_KIND : SQL_ITEMS_ALL;
	sqlite3_stmt *st = sqlite_conn_stmt(c, sql);
	if (!st)
		return CHATD_ERR_INTERNAL;
	if (o->id > 0) {
		sqlite3_bind_int64(st, 1, o->id);
	} else {
		sqlite3_bind_int64(st, 1, o->after_id);
		sqlite3_bind_int64(st, 2, o->limit);
		if (o->status)
			sqlite_bind_str(st, 3, o->status);
		if (o->kind)
			sqlite_bind_str(st, 4, o->kind);
	}
	int status = sqlite_read_rows(r, st, (size_t)o->limit, sizeof(*o->items), read_item,
				      (void **)&o->items, &o->n, NULL);
	if (status == CHATD_OK && o->id > 0 && o->n == 0)
		return CHATD_ERR_NOT_FOUND;
	return status;
}

static void item_list_complete(struct sqlite_req *r)
{
	struct op_item_list *o = (struct op_item_list *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->items : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type item_list_type = {
	"mod_item_list", item_list_exec, item_list_complete,
};

int sqlite_op_mod_item_list_new(int64_t id, const char *status, const char *kind,
				int64_t after_id, int limit, chatd_mod_items_cb cb, void *arg,
				struct sqlite_req **out)
{
	if (!cb || id < 0 || after_id < 0 || limit < 1 || limit > SQLITE_LIST_MAX ||
	    (status && !store_one_of(status, item_statuses)) ||
	    (kind && !store_one_of(kind, item_kinds)))
		return CHATD_ERR_INVALID;
	struct op_item_list *o = OP_NEW(struct op_item_list, &item_list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->status = sqlite_arena_strdup(&o->base.arena, status, &oom);
	o->kind = sqlite_arena_strdup(&o->base.arena, kind, &oom);
	o->id = id;
	o->after_id = after_id;
	o->limit = limit;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- mod_item_resolve ---------------------------------------------- */

struct op_item_resolve {
	struct op_status s;
	int64_t id, ts;
	char *status, *action, *actor, *note;
};

static const char SQL_ITEM_RESOLVE[] =
	"UPDATE mod_items SET status = ?2, action = ?3, actor = ?4, resolution_note = ?5, "
	"resolved_at = ?6 WHERE id = ?1 AND status = 'open'";
static const char SQL_ITEM_EXISTS[] = "SELECT 1 FROM mod_items WHERE id = ?1";

static int item_resolve_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_item_resolve *o = (struct op_item_resolve *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_ITEM_RESOLVE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, o->id);
	sqlite_bind_str(st, 2, o->status);
	sqlite_bind_str(st, 3, o->action);
	sqlite_bind_str(st, 4, o->actor);
	sqlite_bind_str(st, 5, o->note);
	sqlite3_bind_int64(st, 6, o->ts);
	int status = sqlite_step_done(st);
	if (status < 0 || sqlite3_changes(c->db) > 0)
		return status;
	/* Nothing open with that id: closed already, or none at all. */
	if (!(st = sqlite_conn_stmt(c, SQL_ITEM_EXISTS)))
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, o->id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return CHATD_ERR_EXISTS;
	return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
}

static const struct sqlite_req_type item_resolve_type = {
	"mod_item_resolve", item_resolve_exec, status_complete,
};

int sqlite_op_mod_item_resolve_new(int64_t id, const char *status, const char *action,
				   const char *actor, const char *note, int64_t ts,
				   chatd_status_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb || id < 1 || !store_one_of(status, closed_statuses) ||
	    !store_valid_str(action, SQLITE_TOKEN_MAX) ||
	    !store_valid_str(actor, SQLITE_ACTOR_MAX) || ts < 0)
		return CHATD_ERR_INVALID;
	if (!text_fits(note))
		return CHATD_ERR_TOO_LARGE;
	struct op_item_resolve *o = OP_NEW(struct op_item_resolve, &item_resolve_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->s.base.arena;
	bool oom = false;
	o->status = sqlite_arena_strdup(a, status, &oom);
	o->action = sqlite_arena_strdup(a, action, &oom);
	o->actor = sqlite_arena_strdup(a, actor, &oom);
	o->note = sqlite_arena_strdup(a, note, &oom);
	o->id = id;
	o->ts = ts;
	o->s.cb = cb;
	o->s.arg = arg;
	return sqlite_op_out(&o->s.base, oom, out);
}

/* ---- message_set_visibility ---------------------------------------- */

struct op_set_vis {
	struct sqlite_req base;
	char *cid, *visibility;
	int64_t seq;
	chatd_message_cb cb;
	void *arg;
	struct chatd_message msg;
};

static const char SQL_SET_VIS[] =
	"UPDATE messages SET visibility = ?3 WHERE conversation_id = ?1 AND seq = ?2";

static int set_vis_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_set_vis *o = (struct op_set_vis *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_SET_VIS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite3_bind_int64(st, 2, o->seq);
	sqlite_bind_str(st, 3, o->visibility);
	int status = sqlite_step_done(st);
	if (status < 0)
		return status;
	if (sqlite3_changes(c->db) == 0)
		return CHATD_ERR_NOT_FOUND;
	return sqlite_load_msg(c, r, o->cid, o->seq, &o->msg);
}

static void set_vis_complete(struct sqlite_req *r)
{
	struct op_set_vis *o = (struct op_set_vis *)r;
	o->cb(o->arg, r->status, r->status == CHATD_OK ? &o->msg : NULL);
}

static const struct sqlite_req_type set_vis_type = {
	"message_set_visibility", set_vis_exec, set_vis_complete,
};

int sqlite_op_set_visibility_new(const char *conversation_id, int64_t seq,
				 const char *visibility, chatd_message_cb cb, void *arg,
				 struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1 ||
	    !store_valid_visibility(visibility))
		return CHATD_ERR_INVALID;
	struct op_set_vis *o = OP_NEW(struct op_set_vis, &set_vis_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->visibility = sqlite_arena_strdup(&o->base.arena, visibility, &oom);
	o->seq = seq;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- sanction_add -------------------------------------------------- */

struct op_sanction_add {
	struct op_id i;
	struct chatd_sanction s;   /* strings in the arena */
};

static const char SQL_SANCTION_INSERT[] =
	"INSERT INTO sanctions(user_id, kind, until, reason, actor, created_at) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6)";

static int sanction_add_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_sanction_add *o = (struct op_sanction_add *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_SANCTION_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->s.user_id);
	sqlite_bind_str(st, 2, o->s.kind);
	sqlite3_bind_int64(st, 3, o->s.until);
	sqlite_bind_str(st, 4, o->s.reason);
	sqlite_bind_str(st, 5, o->s.actor);
	sqlite3_bind_int64(st, 6, o->s.created_at);
	int status = sqlite_step_done(st);
	if (status == CHATD_OK)
		o->i.id = sqlite3_last_insert_rowid(c->db);
	return status;
}

static const struct sqlite_req_type sanction_add_type = {
	"sanction_add", sanction_add_exec, id_complete,
};

int sqlite_op_sanction_add_new(const struct chatd_sanction *s, chatd_id_cb cb, void *arg,
			       struct sqlite_req **out)
{
	if (!s || !cb || !store_valid_str(s->user_id, CHATD_ID_MAX) ||
	    !store_one_of(s->kind, sanction_kinds) || s->until < 0 || !s->reason ||
	    !store_valid_str(s->actor, SQLITE_ACTOR_MAX) || s->created_at < 0 ||
	    s->lifted_at != 0)
		return CHATD_ERR_INVALID;
	if (!text_fits(s->reason))
		return CHATD_ERR_TOO_LARGE;
	struct op_sanction_add *o = OP_NEW(struct op_sanction_add, &sanction_add_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->i.base.arena;
	bool oom = false;
	o->s.user_id = sqlite_arena_strdup(a, s->user_id, &oom);
	o->s.kind = sqlite_arena_strdup(a, s->kind, &oom);
	o->s.reason = sqlite_arena_strdup(a, s->reason, &oom);
	o->s.actor = sqlite_arena_strdup(a, s->actor, &oom);
	o->s.until = s->until;
	o->s.created_at = s->created_at;
	o->i.cb = cb;
	o->i.arg = arg;
	return sqlite_op_out(&o->i.base, oom, out);
}

/* ---- sanction_lift ------------------------------------------------- */

struct op_sanction_lift {
	struct op_status s;
	char *user, *kind;
	int64_t ts;
};

/* Active at ts: not lifted, and permanent or not expired yet. */
#define SANCTION_ACTIVE "lifted_at = 0 AND (until = 0 OR until > ?1)"
static const char SQL_SANCTION_LIFT[] =
	"UPDATE sanctions SET lifted_at = ?1 WHERE user_id = ?2 AND kind = ?3 AND "
	SANCTION_ACTIVE;

static int sanction_lift_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_sanction_lift *o = (struct op_sanction_lift *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_SANCTION_LIFT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, o->ts);
	sqlite_bind_str(st, 2, o->user);
	sqlite_bind_str(st, 3, o->kind);
	/* None active is fine: afterwards there is none either way. */
	return sqlite_step_done(st);
}

static const struct sqlite_req_type sanction_lift_type = {
	"sanction_lift", sanction_lift_exec, status_complete,
};

int sqlite_op_sanction_lift_new(const char *user_id, const char *kind, int64_t ts,
				chatd_status_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) ||
	    !store_one_of(kind, sanction_kinds) || ts < 0)
		return CHATD_ERR_INVALID;
	struct op_sanction_lift *o = OP_NEW(struct op_sanction_lift, &sanction_lift_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->user = sqlite_arena_strdup(&o->s.base.arena, user_id, &oom);
	o->kind = sqlite_arena_strdup(&o->s.base.arena, kind, &oom);
	o->ts = ts;
	o->s.cb = cb;
	o->s.arg = arg;
	return sqlite_op_out(&o->s.base, oom, out);
}

/* ---- sanction_list_active ------------------------------------------ */

struct op_sanction_list {
	struct sqlite_req base;
	int64_t now;
	chatd_sanctions_cb cb;
	void *arg;
	struct chatd_sanction *items;
	size_t n;
};

static const char SQL_SANCTIONS_ACTIVE[] =
	"SELECT id, user_id, kind, until, reason, actor, created_at, lifted_at FROM sanctions "
	"WHERE " SANCTION_ACTIVE " ORDER BY user_id, kind, until";   /* sanctions_active */

static bool read_sanction(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_sanction *s = out;
	bool oom = false;
	s->id = sqlite3_column_int64(st, 0);
	s->user_id = sqlite_col_text(r, st, 1, &oom);
	s->kind = sqlite_col_text(r, st, 2, &oom);
	s->until = sqlite3_column_int64(st, 3);
	s->reason = sqlite_col_text(r, st, 4, &oom);
	s->actor = sqlite_col_text(r, st, 5, &oom);
	s->created_at = sqlite3_column_int64(st, 6);
	s->lifted_at = sqlite3_column_int64(st, 7);
	return !oom;
}

static int sanction_list_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_sanction_list *o = (struct op_sanction_list *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_SANCTIONS_ACTIVE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, o->now);
	return sqlite_read_rows(r, st, SIZE_MAX, sizeof(*o->items), read_sanction,
				(void **)&o->items, &o->n, NULL);
}

static void sanction_list_complete(struct sqlite_req *r)
{
	struct op_sanction_list *o = (struct op_sanction_list *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->items : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type sanction_list_type = {
	"sanction_list_active", sanction_list_exec, sanction_list_complete,
};

int sqlite_op_sanction_list_new(int64_t now, chatd_sanctions_cb cb, void *arg,
				struct sqlite_req **out)
{
	if (!cb || now < 0)
		return CHATD_ERR_INVALID;
	struct op_sanction_list *o = OP_NEW(struct op_sanction_list, &sanction_list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->now = now;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}

/* ---- user_seen ----------------------------------------------------- */

struct op_user_seen {
	struct op_id i;
	char *user;
	int64_t ts;
};

static const char SQL_USER_INSERT[] =
	"INSERT INTO users(user_id, first_seen) VALUES(?1, ?2) ON CONFLICT(user_id) DO NOTHING";
static const char SQL_USER_FIRST[] = "SELECT first_seen FROM users WHERE user_id = ?1";

static int user_seen_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_user_seen *o = (struct op_user_seen *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_USER_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->user);
	sqlite3_bind_int64(st, 2, o->ts);
	int status = sqlite_step_done(st);
	if (status < 0)
		return status;
	if (!(st = sqlite_conn_stmt(c, SQL_USER_FIRST)))
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->user);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		o->i.id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return CHATD_OK;
	return rc == SQLITE_DONE ? CHATD_ERR_INTERNAL : sqlite_db_status(rc);
}

static const struct sqlite_req_type user_seen_type = {
	"user_seen", user_seen_exec, id_complete,
};

int sqlite_op_user_seen_new(const char *user_id, int64_t ts, chatd_id_cb cb, void *arg,
			    struct sqlite_req **out)
{
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) || ts < 0)
		return CHATD_ERR_INVALID;
	struct op_user_seen *o = OP_NEW(struct op_user_seen, &user_seen_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->user = sqlite_arena_strdup(&o->i.base.arena, user_id, &oom);
	o->ts = ts;
	o->i.cb = cb;
	o->i.arg = arg;
	return sqlite_op_out(&o->i.base, oom, out);
}

/* ---- user_first_seen (ABI 1.3) ------------------------------------- */

struct op_user_first {
	struct op_id i;
	char *user;
};

static int user_first_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_user_first *o = (struct op_user_first *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_USER_FIRST);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->user);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		o->i.id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return CHATD_OK;
	return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
}

static const struct sqlite_req_type user_first_type = {
	"user_first_seen", user_first_exec, id_complete,
};

int sqlite_op_user_first_seen_new(const char *user_id, chatd_id_cb cb, void *arg,
				  struct sqlite_req **out)
{
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_user_first *o = OP_NEW(struct op_user_first, &user_first_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->user = sqlite_arena_strdup(&o->i.base.arena, user_id, &oom);
	o->i.cb = cb;
	o->i.arg = arg;
	return sqlite_op_out(&o->i.base, oom, out);
}
