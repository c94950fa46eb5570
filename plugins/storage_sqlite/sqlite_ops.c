/* sqlite_ops.c — the message ops (precheck, append, history,
 * messages_latest, sync): input checks and copies (core thread), exec
 * (worker thread), completion (core thread).  Conversation ops are in
 * sqlite_ops_conv.c, moderation ops in sqlite_ops_mod.c, group management
 * in sqlite_ops_group.c, edits and deletes in sqlite_ops_msg.c, shared
 * pieces in sqlite_rows.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* ---- precheck ------------------------------------------------------ */

struct op_precheck {
	struct sqlite_req base;
	char *cid, *sender, *cmid;
	chatd_precheck_cb cb;
	void *arg;
	bool has_dup, has_conv;
	struct chatd_send_result dup;
	struct chatd_conversation conv;
	struct chatd_member self;
};

static int precheck_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_precheck *o = (struct op_precheck *)r;
	int st = sqlite_find_dup(c, r, o->cid, o->sender, o->cmid, &o->dup, &o->has_dup);
	if (st < 0)
		return st;
	st = sqlite_load_conv(c, r, o->cid, o->sender, &o->conv);
	if (st == CHATD_ERR_NOT_FOUND)
		return CHATD_OK;
	if (st < 0)
		return st;
	st = sqlite_load_member(c, r, o->cid, o->sender, &o->self);
	if (st == CHATD_ERR_NOT_FOUND)
		return CHATD_OK;   /* cannot happen inside one snapshot */
	if (st < 0)
		return st;
	o->has_conv = true;
	return CHATD_OK;
}

static void precheck_complete(struct sqlite_req *r)
{
	struct op_precheck *o = (struct op_precheck *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok && o->has_dup ? &o->dup : NULL,
	      ok && o->has_conv ? &o->conv : NULL, ok && o->has_conv ? &o->self : NULL);
}

static const struct sqlite_req_type precheck_type = {
	"precheck", precheck_exec, precheck_complete,
};

int sqlite_op_precheck_new(const char *conversation_id, const char *sender_id,
			   const char *client_message_id, chatd_precheck_cb cb, void *arg,
			   struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || !store_valid_str(sender_id, CHATD_ID_MAX) ||
	    !store_valid_str(client_message_id, CHATD_CMID_MAX))
		return CHATD_ERR_INVALID;
	struct op_precheck *o = (struct op_precheck *)sqlite_req_new(sizeof(*o), &precheck_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->sender = sqlite_arena_strdup(&o->base.arena, sender_id, &oom);
	o->cmid = sqlite_arena_strdup(&o->base.arena, client_message_id, &oom);
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- append -------------------------------------------------------- */

struct op_append {
	struct sqlite_req base;
	struct chatd_send_req req;      /* strings in the arena */
	chatd_send_cb cb;
	void *arg;
	char mid[CHATD_ID_MAX + 24];  /* "m" + conversation id + "-" + seq */
	struct chatd_send_result res;
};

/* RETURNING gives the row after the update: inbox is not changed by it,
 * so it is the conversation's current inbox state. */
static const char SQL_BUMP[] =
	"UPDATE conversations SET last_seq = last_seq + 1, last_activity = ?2 "
	"WHERE id = ?1 RETURNING last_seq, inbox";
static const char SQL_MSG_INSERT[] =
	"INSERT INTO messages(conversation_id, seq, message_id, sender_id, client_message_id, "
	"text, media_id, reply_to, created_at, visibility, moderation) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SQL_READ_ADVANCE[] =
	"UPDATE members SET last_read_seq = MAX(last_read_seq, ?3) "
	"WHERE conversation_id = ?1 AND user_id = ?2";
/* Fan-out on write: every member's inbox row for the conversation points
 * at the new message.  The first such append creates the rows (from
 * members); later ones update them in place (one range of the primary
 * key); members added meanwhile get theirs from conv_change. */
static const char SQL_INBOX_FILL[] =
	"INSERT INTO inbox(conversation_id, user_id, last_seq, ts) "
	"SELECT conversation_id, user_id, ?2, ?3 FROM members WHERE conversation_id = ?1 "
	"ON CONFLICT(conversation_id, user_id) DO UPDATE SET last_seq = excluded.last_seq, "
	"ts = excluded.ts";
static const char SQL_INBOX_BUMP[] =
	"UPDATE inbox SET last_seq = ?2, ts = ?3 WHERE conversation_id = ?1";
static const char SQL_INBOX_DROP[] = "DELETE FROM inbox WHERE conversation_id = ?1";
static const char SQL_CONV_INBOX[] = "UPDATE conversations SET inbox = ?2 WHERE id = ?1";

/* The inbox side of an append of seq: with inbox, set every member's row
 * (and mark the conversation, once); without, drop the rows an earlier
 * append wrote (once, when the conversation switches strategy). */
static int append_inbox(struct sqlite_conn *c, const struct chatd_send_req *q, int64_t seq,
			bool had_inbox)
{
	sqlite3_stmt *st;
	int status;
	if (q->inbox) {
		if (!(st = sqlite_conn_stmt(c, had_inbox ? SQL_INBOX_BUMP : SQL_INBOX_FILL)))
			return CHATD_ERR_INTERNAL;
		sqlite_bind_str(st, 1, q->conversation_id);
		sqlite3_bind_int64(st, 2, seq);
		sqlite3_bind_int64(st, 3, q->ts);
		if ((status = sqlite_step_done(st)) < 0 || had_inbox)
			return status;
	} else {
		if (!had_inbox)
			return CHATD_OK;
		if (!(st = sqlite_conn_stmt(c, SQL_INBOX_DROP)))
			return CHATD_ERR_INTERNAL;
		sqlite_bind_str(st, 1, q->conversation_id);
		if ((status = sqlite_step_done(st)) < 0)
			return status;
	}
	if (!(st = sqlite_conn_stmt(c, SQL_CONV_INBOX)))
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, q->conversation_id);
	sqlite3_bind_int(st, 2, q->inbox ? 1 : 0);
	return sqlite_step_done(st);
}

static int append_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_append *o = (struct op_append *)r;
	const struct chatd_send_req *q = &o->req;
	bool found;
	/* The duplicate check comes first (protocol: a resend gets its ack
	 * even if the sender lost the right to send since). */
	int status = sqlite_find_dup(c, r, q->conversation_id, q->sender_id, q->client_message_id,
			      &o->res, &found);
	if (status < 0 || found)
		return status;
	struct chatd_member self;
	status = sqlite_load_member(c, r, q->conversation_id, q->sender_id, &self);
	if (status < 0)
		return status;

	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_BUMP);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, q->conversation_id);
	sqlite3_bind_int64(st, 2, q->ts);
	int rc = sqlite3_step(st);
	int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	bool had_inbox = rc == SQLITE_ROW && sqlite3_column_int(st, 1) != 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);

	/* The message id is derived from (conversation, seq), unique by the
	 * primary key: a random id needed a UNIQUE index whose random
	 * inserts cost ~30 % of append throughput (bench/storage_bench). */
	snprintf(o->mid, sizeof o->mid, "m%s-%lld", q->conversation_id + 1, (long long)seq);
	st = sqlite_conn_stmt(c, SQL_MSG_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, q->conversation_id);
	sqlite3_bind_int64(st, 2, seq);
	sqlite_bind_str(st, 3, o->mid);
	sqlite_bind_str(st, 4, q->sender_id);
	sqlite_bind_str(st, 5, q->client_message_id);
	sqlite_bind_str(st, 6, q->text);
	sqlite_bind_str(st, 7, q->media_id);
	sqlite3_bind_int64(st, 8, q->reply_to);
	sqlite3_bind_int64(st, 9, q->ts);
	sqlite_bind_str(st, 10, q->visibility);
	sqlite_bind_str(st, 11, q->moderation);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if (sqlite3_extended_errcode(c->db) != SQLITE_CONSTRAINT_UNIQUE)
			return sqlite_db_status(rc);
		/* The UNIQUE(conversation, sender, cmid) backstop: report the
		 * existing row (the savepoint undoes the seq bump). */
		if ((status = sqlite_find_dup(c, r, q->conversation_id, q->sender_id,
				       q->client_message_id, &o->res, &found)) < 0)
			return status;
		return found ? CHATD_ERR_EXISTS : sqlite_db_status(rc);
	}

	st = sqlite_conn_stmt(c, SQL_READ_ADVANCE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, q->conversation_id);
	sqlite_bind_str(st, 2, q->sender_id);
	sqlite3_bind_int64(st, 3, seq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sqlite_db_status(rc);
	if ((status = append_inbox(c, q, seq, had_inbox)) < 0)
		return status;

	o->res.seq = seq;
	o->res.message_id = o->mid;
	o->res.ts = q->ts;
	o->res.duplicate = false;
	return CHATD_OK;
}

static void append_complete(struct sqlite_req *r)
{
	struct op_append *o = (struct op_append *)r;
	/* EXISTS is internal: the backstop found the original row. */
	if (r->status == CHATD_ERR_EXISTS)
		r->status = CHATD_OK;
	o->cb(o->arg, r->status, r->status == CHATD_OK ? &o->res : NULL);
}

static const struct sqlite_req_type append_type = {
	"append", append_exec, append_complete,
};

int sqlite_op_append_new(const struct chatd_send_req *req, chatd_send_cb cb, void *arg,
			 struct sqlite_req **out)
{
	if (!req || !cb || !store_valid_str(req->conversation_id, CHATD_ID_MAX) ||
	    !store_valid_str(req->sender_id, CHATD_ID_MAX) ||
	    !store_valid_str(req->client_message_id, CHATD_CMID_MAX) ||
	    (req->media_id && !store_valid_str(req->media_id, SQLITE_MEDIA_ID_MAX)) ||
	    (!req->text && !req->media_id) || req->reply_to < 0 || req->ts < 0 ||
	    (req->visibility && !store_valid_visibility(req->visibility)))
		return CHATD_ERR_INVALID;
	if ((req->text && strnlen(req->text, SQLITE_TEXT_MAX + 1) > SQLITE_TEXT_MAX) ||
	    (req->moderation && strnlen(req->moderation, SQLITE_NOTE_MAX + 1) > SQLITE_NOTE_MAX))
		return CHATD_ERR_TOO_LARGE;
	struct op_append *o = (struct op_append *)sqlite_req_new(sizeof(*o), &append_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->base.arena;
	bool oom = false;
	o->req.conversation_id = sqlite_arena_strdup(a, req->conversation_id, &oom);
	o->req.sender_id = sqlite_arena_strdup(a, req->sender_id, &oom);
	o->req.client_message_id = sqlite_arena_strdup(a, req->client_message_id, &oom);
	o->req.text = sqlite_arena_strdup(a, req->text, &oom);
	o->req.media_id = sqlite_arena_strdup(a, req->media_id, &oom);
	/* NULL is stored as "normal" (the column is NOT NULL). */
	o->req.visibility = req->visibility ? sqlite_arena_strdup(a, req->visibility, &oom)
					    : CHATD_VIS_NORMAL;
	o->req.moderation = sqlite_arena_strdup(a, req->moderation, &oom);
	o->req.reply_to = req->reply_to;
	o->req.ts = req->ts;
	o->req.inbox = req->inbox;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- history ------------------------------------------------------- */

/* A row when the conversation exists: the viewer's history_from (NULL
 * when ?2 is NULL or not a member). */
static const char SQL_HISTORY_FROM[] =
	"SELECT (SELECT history_from FROM members WHERE conversation_id = ?1 AND user_id = ?2) "
	"FROM conversations WHERE id = ?1";

struct op_history {
	struct sqlite_req base;
	char *cid, *viewer;
	int64_t before, after;
	int limit;
	chatd_history_cb cb;
	void *arg;
	struct chatd_message *msgs;
	size_t n;
	bool has_more;
};

static int history_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_history *o = (struct op_history *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_HISTORY_FROM);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite_bind_str(st, 2, o->viewer);
	int rc = sqlite3_step(st);
	int64_t from = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
	/* With `after`, the first `limit` above it; else the latest below
	 * `before`.  A viewer added with history from join sees nothing up
	 * to history_from: a bound in the range (not a filter) so the scan
	 * stops there. */
	bool latest = o->after < 0;
	int64_t after = latest ? 0 : o->after;
	if (after < from)
		after = from;
	return sqlite_load_msgs(c, r, o->cid, o->viewer, after,
			 o->before > 0 ? o->before : INT64_MAX,
			 latest, (size_t)o->limit, &o->msgs, &o->n, &o->has_more);
}

static void history_complete(struct sqlite_req *r)
{
	struct op_history *o = (struct op_history *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->msgs : NULL, ok ? o->n : 0, ok && o->has_more);
}

static const struct sqlite_req_type history_type = {
	"history", history_exec, history_complete,
};

int sqlite_op_history_new(const struct chatd_history_req *req, chatd_history_cb cb, void *arg,
			  struct sqlite_req **out)
{
	if (!req || !cb || !store_valid_str(req->conversation_id, CHATD_ID_MAX) ||
	    (req->user_id && !store_valid_str(req->user_id, CHATD_ID_MAX)) ||
	    req->limit < 1)
		return CHATD_ERR_INVALID;
	struct op_history *o = (struct op_history *)sqlite_req_new(sizeof(*o), &history_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, req->conversation_id, &oom);
	o->viewer = sqlite_arena_strdup(&o->base.arena, req->user_id, &oom);
	o->before = req->before;
	o->after = req->after;
	o->limit = req->limit > SQLITE_HISTORY_MAX ? SQLITE_HISTORY_MAX : req->limit;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- messages_latest (ABI 1.4) -------------------------------------- */

struct op_latest {
	struct sqlite_req base;
	int limit;
	chatd_history_cb cb;
	void *arg;
	struct chatd_message *msgs;
	size_t n;
	bool has_more;
};

static int latest_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_latest *o = (struct op_latest *)r;
	return sqlite_load_latest(c, r, (size_t)o->limit, &o->msgs, &o->n, &o->has_more);
}

static void latest_complete(struct sqlite_req *r)
{
	struct op_latest *o = (struct op_latest *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->msgs : NULL, ok ? o->n : 0, ok && o->has_more);
}

static const struct sqlite_req_type latest_type = {
	"messages_latest", latest_exec, latest_complete,
};

int sqlite_op_messages_latest_new(int limit, chatd_history_cb cb, void *arg,
				  struct sqlite_req **out)
{
	if (!cb || limit < 1)
		return CHATD_ERR_INVALID;
	struct op_latest *o = (struct op_latest *)sqlite_req_new(sizeof(*o), &latest_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->limit = limit > SQLITE_HISTORY_MAX ? SQLITE_HISTORY_MAX : limit;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}

/* ---- sync ---------------------------------------------------------- */

/* A conversation of the user and their history_from in it. */
struct sync_row {
	struct chatd_conversation conv;
	int64_t history_from;
};

static bool read_sync_row(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct sync_row *row = out;
	row->history_from = sqlite3_column_int64(st, SQLITE_CONV_COL_HISTORY_FROM);
	return sqlite_read_conv(r, st, &row->conv);
}

struct op_sync {
	struct sqlite_req base;
	char *user;
	struct chatd_cursor *cursors;   /* sorted by conversation_id */
	size_t n_cursors;
	int per_conv, total;
	chatd_sync_cb cb;
	void *arg;
	struct sync_row *convs;
	struct chatd_sync_conv *items;
	size_t n;
	bool has_more;
};

static int cursor_cmp(const void *a, const void *b)
{
	return strcmp(((const struct chatd_cursor *)a)->conversation_id,
		      ((const struct chatd_cursor *)b)->conversation_id);
}

/* Messages after this seq: the cursor, else the read cursor; never at or
 * below history_from. */
static int64_t sync_cursor(const struct op_sync *o, const struct sync_row *row)
{
	int64_t after = row->conv.read_seq;
	if (o->n_cursors) {
		struct chatd_cursor key = { .conversation_id = row->conv.conversation_id };
		const struct chatd_cursor *cur = bsearch(&key, o->cursors, o->n_cursors,
							 sizeof(key), cursor_cmp);
		if (cur && cur->seq > 0)
			after = cur->seq;
	}
	return after > row->history_from ? after : row->history_from;
}

static int sync_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_sync *o = (struct op_sync *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, sqlite_sql_conv_list);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->user);
	size_t n = 0;
	int status = sqlite_read_rows(r, st, SIZE_MAX, sizeof(*o->convs), read_sync_row,
				      (void **)&o->convs, &n, NULL);
	if (status < 0)
		return status;
	if (n) {
		o->items = sqlite_arena_alloc(&r->arena, n * sizeof(*o->items));
		if (!o->items)
			return CHATD_ERR_NOMEM;
	}
	size_t left = (size_t)o->total;
	for (size_t i = 0; i < n; i++) {
		struct chatd_sync_conv *it = &o->items[i];
		struct chatd_message *msgs;
		size_t take = left < (size_t)o->per_conv ? left : (size_t)o->per_conv;
		it->conv = &o->convs[i].conv;
		/* With nothing left (take 0) this still asks for one row, so
		 * has_more is set only where messages were really left out. */
		status = sqlite_load_msgs(c, r, o->convs[i].conv.conversation_id, o->user,
				   sync_cursor(o, &o->convs[i]), INT64_MAX, false, take,
				   &msgs, &it->n_messages, &it->has_more);
		if (status < 0)
			return status;
		it->messages = msgs;
		left -= it->n_messages;
		/* Top level (protocol "Precise rules"): only the total cap
		 * counts; a conversation cut at per_conv is told by its own
		 * has_more. */
		if (it->has_more && take < (size_t)o->per_conv)
			o->has_more = true;
	}
	o->n = n;
	return CHATD_OK;
}

static void sync_complete(struct sqlite_req *r)
{
	struct op_sync *o = (struct op_sync *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->items : NULL, ok ? o->n : 0, ok && o->has_more);
}

static const struct sqlite_req_type sync_type = {
	"sync", sync_exec, sync_complete,
};

int sqlite_op_sync_new(const char *user_id, const struct chatd_cursor *cursors, size_t n_cursors,
		       int per_conv, int total, chatd_sync_cb cb, void *arg,
		       struct sqlite_req **out)
{
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) || (n_cursors && !cursors) ||
	    per_conv < 1 || per_conv > SQLITE_PER_CONV_MAX || total < 1 || total > SQLITE_TOTAL_MAX)
		return CHATD_ERR_INVALID;
	if (n_cursors > SQLITE_CURSORS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_cursors; i++)
		if (!store_valid_str(cursors[i].conversation_id, CHATD_ID_MAX) || cursors[i].seq < 0)
			return CHATD_ERR_INVALID;
	struct op_sync *o = (struct op_sync *)sqlite_req_new(sizeof(*o), &sync_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->base.arena;
	bool oom = false;
	o->user = sqlite_arena_strdup(a, user_id, &oom);
	if (n_cursors) {
		o->cursors = sqlite_arena_alloc(a, n_cursors * sizeof(*o->cursors));
		oom = oom || !o->cursors;
		for (size_t i = 0; !oom && i < n_cursors; i++) {
			o->cursors[i].conversation_id =
				sqlite_arena_strdup(a, cursors[i].conversation_id, &oom);
			o->cursors[i].seq = cursors[i].seq;
		}
	}
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	if (n_cursors)
		qsort(o->cursors, n_cursors, sizeof(*o->cursors), cursor_cmp);
	o->n_cursors = n_cursors;
	o->per_conv = per_conv;
	o->total = total;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}
