/* sqlite_ops_msg.c — message ops of ABI 1.2 (message_get, message_edit,
 * message_delete, message_hide, purge_deleted): input checks and copies
 * (core thread), exec (worker thread), completion (core thread).
 *
 * message_get goes to the reader, the rest to the writer.  Delete for
 * everyone only marks the row (deleted, deleted_at); every read leaves
 * its content out from then on (sqlite_read_msg), and purge_deleted erases
 * it for real: the columns become NULL on a connection with secure_delete
 * (freed space is zeroed), and the writer truncates the WAL after the
 * commit (sqlite_worker.c), so no old page image keeps the bytes.  When
 * that truncation cannot be done (a reader outside the plugin holds an old
 * snapshot past busy_timeout_ms) the purge still answers with its count,
 * and the truncation is tried again after later commits and by the next
 * purge_deleted, which the core runs periodically.
 * Choices the interface leaves open:
 *   - edit: NOT_FOUND, then FORBIDDEN (not the sender's), then INVALID
 *     (deleted); the text may be empty (as in append) but not NULL;
 *   - a read of a deleted message also leaves out its provenance
 *     (moderation), which may quote the text;
 *   - hide does not check that user_id is a member (the core does). */
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* Ops that answer with a message start with this. */
struct op_msg {
	struct sqlite_req base;
	char *cid;
	int64_t seq;
	chatd_message_cb cb;
	void *arg;
	struct chatd_message msg;
};

static void msg_complete(struct sqlite_req *r)
{
	struct op_msg *o = (struct op_msg *)r;
	o->cb(o->arg, r->status, r->status == CHATD_OK ? &o->msg : NULL);
}

/* Fill the common part; CHATD_OK or CHATD_ERR_NOMEM (o freed). */
static int msg_init(struct op_msg *o, const char *cid, int64_t seq, chatd_message_cb cb,
		    void *arg)
{
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, cid, &oom);
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->seq = seq;
	o->cb = cb;
	o->arg = arg;
	return CHATD_OK;
}

static const char SQL_MSG_STATE[] =
	"SELECT sender_id, deleted FROM messages WHERE conversation_id = ?1 AND seq = ?2";

/* ---- message_get --------------------------------------------------- */

struct op_msg_get {
	struct sqlite_req base;
	char *cid;
	int64_t seq;
	chatd_message_role_cb cb;
	void *arg;
	struct chatd_message msg;
	const char *sender_role;
};

static int msg_get_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_msg_get *o = (struct op_msg_get *)r;
	int status = sqlite_load_msg(c, r, o->cid, o->seq, &o->msg);
	if (status < 0)
		return status;
	struct chatd_member m;
	status = sqlite_load_member(c, r, o->cid, o->msg.sender_id, &m);
	if (status == CHATD_OK)
		o->sender_role = m.role;
	return status == CHATD_ERR_NOT_FOUND ? CHATD_OK : status;
}

static void msg_get_complete(struct sqlite_req *r)
{
	struct op_msg_get *o = (struct op_msg_get *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? &o->msg : NULL, ok ? o->sender_role : NULL);
}

static const struct sqlite_req_type msg_get_type = {
	"message_get", msg_get_exec, msg_get_complete,
};

int sqlite_op_message_get_new(const char *conversation_id, int64_t seq,
			      chatd_message_role_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1)
		return CHATD_ERR_INVALID;
	struct op_msg_get *o = OP_NEW(struct op_msg_get, &msg_get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->seq = seq;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- message_edit -------------------------------------------------- */

struct op_edit {
	struct op_msg m;
	char *editor, *text, *moderation, *visibility;
	int64_t ts;
};

/* NULL moderation or visibility: the stored one stays. */
static const char SQL_EDIT[] =
	"UPDATE messages SET text = ?3, edited_at = ?4, moderation = COALESCE(?5, moderation), "
	"visibility = COALESCE(?6, visibility) WHERE conversation_id = ?1 AND seq = ?2";

static int edit_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_edit *o = (struct op_edit *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MSG_STATE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->m.cid);
	sqlite3_bind_int64(st, 2, o->m.seq);
	int rc = sqlite3_step(st);
	int status = CHATD_OK;
	if (rc == SQLITE_ROW) {
		const unsigned char *sender = sqlite3_column_text(st, 0);
		if (!sender || strcmp((const char *)sender, o->editor) != 0)
			status = CHATD_ERR_FORBIDDEN;
		else if (sqlite3_column_int(st, 1) != 0)
			status = CHATD_ERR_INVALID;   /* deleted for everyone */
	} else {
		status = rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
	}
	sqlite3_reset(st);
	if (status < 0)
		return status;
	if (!(st = sqlite_conn_stmt(c, SQL_EDIT)))
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->m.cid);
	sqlite3_bind_int64(st, 2, o->m.seq);
	sqlite_bind_str(st, 3, o->text);
	sqlite3_bind_int64(st, 4, o->ts);
	sqlite_bind_str(st, 5, o->moderation);
	sqlite_bind_str(st, 6, o->visibility);
	if ((status = sqlite_step_done(st)) < 0)
		return status;
	return sqlite_load_msg(c, r, o->m.cid, o->m.seq, &o->m.msg);
}

static const struct sqlite_req_type edit_type = {
	"message_edit", edit_exec, msg_complete,
};

int sqlite_op_message_edit_new(const struct chatd_message_edit *e, chatd_message_cb cb,
			       void *arg, struct sqlite_req **out)
{
	if (!e || !cb || !store_valid_str(e->conversation_id, CHATD_ID_MAX) || e->seq < 1 ||
	    !store_valid_str(e->editor, CHATD_ID_MAX) || !e->text || e->ts < 0 ||
	    (e->visibility && !store_valid_visibility(e->visibility)))
		return CHATD_ERR_INVALID;
	if (strnlen(e->text, SQLITE_TEXT_MAX + 1) > SQLITE_TEXT_MAX ||
	    (e->moderation && strnlen(e->moderation, SQLITE_NOTE_MAX + 1) > SQLITE_NOTE_MAX))
		return CHATD_ERR_TOO_LARGE;
	struct op_edit *o = OP_NEW(struct op_edit, &edit_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->m.base.arena;
	bool oom = false;
	o->editor = sqlite_arena_strdup(a, e->editor, &oom);
	o->text = sqlite_arena_strdup(a, e->text, &oom);
	o->moderation = sqlite_arena_strdup(a, e->moderation, &oom);
	o->visibility = sqlite_arena_strdup(a, e->visibility, &oom);
	if (oom) {
		sqlite_req_free(&o->m.base);
		return CHATD_ERR_NOMEM;
	}
	o->ts = e->ts;
	int st = msg_init(&o->m, e->conversation_id, e->seq, cb, arg);
	if (st == CHATD_OK)
		*out = &o->m.base;
	return st;
}

/* ---- message_delete ------------------------------------------------ */

struct op_delete {
	struct op_msg m;
	int64_t ts;
};

/* Only a message not deleted yet: deleting again keeps the first time. */
static const char SQL_DELETE[] =
	"UPDATE messages SET deleted = 1, deleted_at = ?3 "
	"WHERE conversation_id = ?1 AND seq = ?2 AND deleted = 0";

static int delete_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_delete *o = (struct op_delete *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_DELETE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->m.cid);
	sqlite3_bind_int64(st, 2, o->m.seq);
	sqlite3_bind_int64(st, 3, o->ts);
	int status = sqlite_step_done(st);
	if (status < 0)
		return status;
	/* NOT_FOUND when there is no such message at all. */
	return sqlite_load_msg(c, r, o->m.cid, o->m.seq, &o->m.msg);
}

static const struct sqlite_req_type delete_type = {
	"message_delete", delete_exec, msg_complete,
};

int sqlite_op_message_delete_new(const char *conversation_id, int64_t seq, int64_t ts,
				 chatd_message_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1 || ts < 0)
		return CHATD_ERR_INVALID;
	struct op_delete *o = OP_NEW(struct op_delete, &delete_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->ts = ts;
	int st = msg_init(&o->m, conversation_id, seq, cb, arg);
	if (st == CHATD_OK)
		*out = &o->m.base;
	return st;
}

/* ---- message_hide -------------------------------------------------- */

struct op_hide {
	struct sqlite_req base;
	char *user, *cid;
	int64_t seq;
	chatd_status_cb cb;
	void *arg;
};

static const char SQL_MSG_EXISTS[] =
	"SELECT 1 FROM messages WHERE conversation_id = ?1 AND seq = ?2";
static const char SQL_HIDE[] =
	"INSERT OR IGNORE INTO hidden_messages(user_id, conversation_id, seq) VALUES(?1, ?2, ?3)";

static int hide_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_hide *o = (struct op_hide *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MSG_EXISTS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite3_bind_int64(st, 2, o->seq);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
	if (!(st = sqlite_conn_stmt(c, SQL_HIDE)))
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->user);
	sqlite_bind_str(st, 2, o->cid);
	sqlite3_bind_int64(st, 3, o->seq);
	return sqlite_step_done(st);
}

static void hide_complete(struct sqlite_req *r)
{
	struct op_hide *o = (struct op_hide *)r;
	o->cb(o->arg, r->status);
}

static const struct sqlite_req_type hide_type = {
	"message_hide", hide_exec, hide_complete,
};

int sqlite_op_message_hide_new(const char *user_id, const char *conversation_id, int64_t seq,
			       chatd_status_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) ||
	    !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1)
		return CHATD_ERR_INVALID;
	struct op_hide *o = OP_NEW(struct op_hide, &hide_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->user = sqlite_arena_strdup(&o->base.arena, user_id, &oom);
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->seq = seq;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- purge_deleted ------------------------------------------------- */

struct op_purge {
	struct sqlite_req base;
	int64_t before;
	chatd_id_cb cb;
	void *arg;
	int64_t count;
};

/* The WHERE repeats the partial index messages_purge's own, so that index
 * serves it: only deleted rows that still hold something. */
static const char SQL_PURGE[] =
	"UPDATE messages SET text = NULL, media_id = NULL, moderation = NULL "
	"WHERE deleted = 1 AND deleted_at <= ?1 AND "
	"(text IS NOT NULL OR media_id IS NOT NULL OR moderation IS NOT NULL)";

static int purge_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_purge *o = (struct op_purge *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_PURGE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, o->before);
	int status = sqlite_step_done(st);
	if (status < 0)
		return status;
	o->count = sqlite3_changes64(c->db);
	/* The search index (schema 6) dropped these messages' words when they
	 * were deleted, but FTS5 keeps the old segments until they merge:
	 * rewrite the index so the words leave the file too.  O(index size),
	 * and only when something was erased (retention runs rarely). */
	if (o->count > 0 &&
	    sqlite3_exec(c->db, "INSERT INTO messages_fts(messages_fts) VALUES ('optimize')",
			 NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_db_status(sqlite3_errcode(c->db));
	/* Truncate the WAL after the commit, now: also when a truncation
	 * after an earlier purge failed and waits for its retry. */
	if (o->count > 0 || c->wal_truncate) {
		c->wal_truncate = true;
		c->wal_truncate_after = 0;
	}
	return CHATD_OK;
}

static void purge_complete(struct sqlite_req *r)
{
	struct op_purge *o = (struct op_purge *)r;
	o->cb(o->arg, r->status, r->status == CHATD_OK ? o->count : 0);
}

static const struct sqlite_req_type purge_type = {
	"purge_deleted", purge_exec, purge_complete,
};

int sqlite_op_purge_deleted_new(int64_t before, chatd_id_cb cb, void *arg,
				struct sqlite_req **out)
{
	if (!cb || before < 0)
		return CHATD_ERR_INVALID;
	struct op_purge *o = OP_NEW(struct op_purge, &purge_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->before = before;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}
