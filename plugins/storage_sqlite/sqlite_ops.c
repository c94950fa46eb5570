/* sqlite_ops.c — the SQL of each storage op: input checks and copies (core
 * thread), exec (worker thread), completion (core thread). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include "sqlite_ops.h"

/* ---- helpers ------------------------------------------------------ */

/* 1..max bytes. */
static bool valid_str(const char *s, size_t max)
{
	if (!s)
		return false;
	size_t n = strnlen(s, max + 1);
	return n >= 1 && n <= max;
}

/* "<prefix>" + 16 lowercase hex digits from getrandom(). */
static int make_id(char out[18], char prefix)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[8];
	ssize_t n;
	do {
		n = getrandom(b, sizeof(b), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return CHATD_ERR_IO;
	out[0] = prefix;
	for (size_t i = 0; i < sizeof(b); i++) {
		out[1 + 2 * i] = hex[b[i] >> 4];
		out[2 + 2 * i] = hex[b[i] & 15];
	}
	out[17] = '\0';
	return CHATD_OK;
}

static int db_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM: return CHATD_ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return CHATD_ERR_UNAVAILABLE;
	case SQLITE_TOOBIG: return CHATD_ERR_TOO_LARGE;
	default: return CHATD_ERR_IO;
	}
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	/* Inputs live in the request's arena for the whole exec. */
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(struct sqlite_req *r, sqlite3_stmt *st, int i, bool *oom)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return NULL;
	return sqlite_arena_strndup(&r->arena, (const char *)t,
				    (size_t)sqlite3_column_bytes(st, i), oom);
}

/* Make room for one more element of a growing array kept in the arena. */
static bool grow(struct sqlite_req *r, void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / elem)
		return false;
	void *p = sqlite_arena_alloc(&r->arena, ncap * elem);
	if (!p)
		return false;
	if (n)
		memcpy(p, *arr, n * elem);
	*arr = p;
	*cap = ncap;
	return true;
}

/* ---- shared SQL and row readers ------------------------------------- */

/* The conversation from the viewpoint of member m (m's columns may be NULL). */
#define CONV_COLS \
	"c.id, c.kind, c.title, c.last_seq, c.member_count, c.created_at, " \
	"c.last_activity, c.locked, c.typing, c.receipts, m.role, m.last_read_seq, " \
	"m.muted_until, CASE WHEN c.kind = 'direct' AND m.user_id IS NOT NULL THEN " \
	"(SELECT p.user_id FROM members p WHERE p.conversation_id = c.id " \
	"AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1) END"

static const char SQL_CONV_VIEW[] =
	"SELECT " CONV_COLS " FROM conversations c JOIN members m "
	"ON m.conversation_id = c.id AND m.user_id = ?2 WHERE c.id = ?1";
static const char SQL_CONV_ANON[] =
	"SELECT " CONV_COLS " FROM conversations c LEFT JOIN members m ON 0 WHERE c.id = ?1";
static const char SQL_CONV_LIST[] =
	"SELECT " CONV_COLS " FROM members m JOIN conversations c ON c.id = m.conversation_id "
	"WHERE m.user_id = ?1 ORDER BY c.last_activity DESC, c.rowid DESC";

#define MSG_COLS \
	"m.conversation_id, m.seq, m.message_id, m.sender_id, m.client_message_id, m.text, " \
	"m.media_id, m.reply_to, m.created_at, m.edited_at, m.deleted"
#define NOT_HIDDEN \
	"NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?4 " \
	"AND h.conversation_id = m.conversation_id AND h.seq = m.seq)"

/* ?1 conversation, ?2 after, ?3 before (exclusive), ?4 viewer, ?5 limit. */
static const char SQL_MSGS_ASC[] =
	"SELECT " MSG_COLS " FROM messages m WHERE m.conversation_id = ?1 AND m.seq > ?2 "
	"AND m.seq < ?3 AND " NOT_HIDDEN " ORDER BY m.seq ASC LIMIT ?5";
static const char SQL_MSGS_DESC[] =
	"SELECT " MSG_COLS " FROM messages m WHERE m.conversation_id = ?1 AND m.seq > ?2 "
	"AND m.seq < ?3 AND " NOT_HIDDEN " ORDER BY m.seq DESC LIMIT ?5";

static const char SQL_DUP[] =
	"SELECT seq, message_id, created_at FROM messages "
	"WHERE conversation_id = ?1 AND sender_id = ?2 AND client_message_id = ?3";
static const char SQL_MEMBER[] =
	"SELECT user_id, role, joined_at, muted_until, last_read_seq FROM members "
	"WHERE conversation_id = ?1 AND user_id = ?2";
static const char SQL_MEMBERS_PAGE[] =
	"SELECT user_id, role, joined_at, muted_until, last_read_seq FROM members "
	"WHERE conversation_id = ?1 ORDER BY joined_at, user_id LIMIT ?2 OFFSET ?3";
static const char SQL_CONV_EXISTS[] = "SELECT 1 FROM conversations WHERE id = ?1";

static bool read_conv(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_conversation *c = out;
	bool oom = false;
	c->conversation_id = col_text(r, st, 0, &oom);
	c->kind = col_text(r, st, 1, &oom);
	c->title = col_text(r, st, 2, &oom);
	c->last_seq = sqlite3_column_int64(st, 3);
	c->member_count = sqlite3_column_int64(st, 4);
	c->created_at = sqlite3_column_int64(st, 5);
	c->last_activity = sqlite3_column_int64(st, 6);
	c->locked = sqlite3_column_int(st, 7) != 0;
	c->typing = sqlite3_column_int(st, 8) != 0;
	c->receipts = sqlite3_column_int(st, 9) != 0;
	c->role = col_text(r, st, 10, &oom);
	c->read_seq = sqlite3_column_int64(st, 11);
	c->muted_until = sqlite3_column_int64(st, 12);
	c->peer_id = col_text(r, st, 13, &oom);
	return !oom;
}

static bool read_msg(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_message *m = out;
	bool oom = false;
	m->conversation_id = col_text(r, st, 0, &oom);
	m->seq = sqlite3_column_int64(st, 1);
	m->message_id = col_text(r, st, 2, &oom);
	m->sender_id = col_text(r, st, 3, &oom);
	m->client_message_id = col_text(r, st, 4, &oom);
	m->deleted = sqlite3_column_int(st, 10) != 0;
	m->text = m->deleted ? NULL : col_text(r, st, 5, &oom);
	m->media_id = col_text(r, st, 6, &oom);
	m->reply_to = sqlite3_column_int64(st, 7);
	m->ts = sqlite3_column_int64(st, 8);
	m->edited_at = sqlite3_column_int64(st, 9);
	return !oom;
}

static bool read_member(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_member *m = out;
	bool oom = false;
	m->user_id = col_text(r, st, 0, &oom);
	m->role = col_text(r, st, 1, &oom);
	m->joined_at = sqlite3_column_int64(st, 2);
	m->muted_until = sqlite3_column_int64(st, 3);
	m->read_seq = sqlite3_column_int64(st, 4);
	return !oom;
}

typedef bool (*row_reader)(struct sqlite_req *r, sqlite3_stmt *st, void *out);

/* Step a bound statement to its end, appending each row (decoded by fn
 * into an element of `elem` bytes) to the arena array *arr of *n.  At most
 * `max` rows are kept; *more (if given) says another row existed.  Resets
 * st.  Returns CHATD_OK or an error. */
static int read_rows(struct sqlite_req *r, sqlite3_stmt *st, size_t max, size_t elem,
		     row_reader fn, void **arr, size_t *n, bool *more)
{
	size_t cap = *n;
	int status = CHATD_OK, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == max) {
			if (more)
				*more = true;
			break;
		}
		if (!grow(r, arr, &cap, *n, elem) || !fn(r, st, (char *)*arr + *n * elem)) {
			status = CHATD_ERR_NOMEM;
			break;
		}
		(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		status = db_status(rc);
	sqlite3_reset(st);
	return status;
}

/* Load conversation `cid` as seen by `viewer` (NULL: nobody).  Returns
 * CHATD_OK, CHATD_ERR_NOT_FOUND (no such conversation, or viewer not a
 * member) or an error. */
static int load_conv(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		     const char *viewer, struct chatd_conversation *out)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, viewer ? SQL_CONV_VIEW : SQL_CONV_ANON);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, cid);
	if (viewer)
		bind_text(st, 2, viewer);
	int rc = sqlite3_step(st);
	int status;
	if (rc == SQLITE_ROW)
		status = read_conv(r, st, out) ? CHATD_OK : CHATD_ERR_NOMEM;
	else if (rc == SQLITE_DONE)
		status = CHATD_ERR_NOT_FOUND;
	else
		status = db_status(rc);
	sqlite3_reset(st);
	return status;
}

/* Find the stored result of (cid, sender, cmid).  CHATD_OK with *found. */
static int find_dup(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		    const char *sender, const char *cmid, struct chatd_send_result *res,
		    bool *found)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_DUP);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, cid);
	bind_text(st, 2, sender);
	bind_text(st, 3, cmid);
	int rc = sqlite3_step(st);
	int status = CHATD_OK;
	*found = false;
	if (rc == SQLITE_ROW) {
		bool oom = false;
		res->seq = sqlite3_column_int64(st, 0);
		res->message_id = col_text(r, st, 1, &oom);
		res->ts = sqlite3_column_int64(st, 2);
		res->duplicate = true;
		*found = true;
		if (oom)
			status = CHATD_ERR_NOMEM;
	} else if (rc != SQLITE_DONE) {
		status = db_status(rc);
	}
	sqlite3_reset(st);
	return status;
}

/* Member row of user in cid.  CHATD_OK, CHATD_ERR_NOT_FOUND or an error. */
static int load_member(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		       const char *user, struct chatd_member *out)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MEMBER);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, cid);
	bind_text(st, 2, user);
	int rc = sqlite3_step(st);
	int status;
	if (rc == SQLITE_ROW)
		status = read_member(r, st, out) ? CHATD_OK : CHATD_ERR_NOMEM;
	else if (rc == SQLITE_DONE)
		status = CHATD_ERR_NOT_FOUND;
	else
		status = db_status(rc);
	sqlite3_reset(st);
	return status;
}

/* Messages of cid in (after, before) not hidden from viewer, ascending,
 * at most `take`; *more when a further one exists in that range (the
 * direction decides which end is kept). */
static int load_msgs(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		     const char *viewer, int64_t after, int64_t before, bool latest,
		     size_t take, struct chatd_message **out, size_t *n, bool *more)
{
	*out = NULL;
	*n = 0;
	*more = false;
	sqlite3_stmt *st = sqlite_conn_stmt(c, latest ? SQL_MSGS_DESC : SQL_MSGS_ASC);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, cid);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, before);
	bind_text(st, 4, viewer);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)take + 1);   /* one more tells has_more */
	int status = read_rows(r, st, take, sizeof(**out), read_msg, (void **)out, n, more);
	if (status == CHATD_OK && latest) {
		for (size_t i = 0; i < *n / 2; i++) {
			struct chatd_message t = (*out)[i];
			(*out)[i] = (*out)[*n - 1 - i];
			(*out)[*n - 1 - i] = t;
		}
	}
	return status;
}

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
	int st = find_dup(c, r, o->cid, o->sender, o->cmid, &o->dup, &o->has_dup);
	if (st < 0)
		return st;
	st = load_conv(c, r, o->cid, o->sender, &o->conv);
	if (st == CHATD_ERR_NOT_FOUND)
		return CHATD_OK;
	if (st < 0)
		return st;
	st = load_member(c, r, o->cid, o->sender, &o->self);
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
	if (!cb || !valid_str(conversation_id, CHATD_ID_MAX) || !valid_str(sender_id, CHATD_ID_MAX) ||
	    !valid_str(client_message_id, CHATD_CMID_MAX))
		return CHATD_ERR_INVALID;
	struct op_precheck *o = (struct op_precheck *)sqlite_req_new(sizeof(*o), &precheck_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->sender = sqlite_arena_strdup(&o->base.arena, sender_id, &oom);
	o->cmid = sqlite_arena_strdup(&o->base.arena, client_message_id, &oom);
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
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

static const char SQL_BUMP[] =
	"UPDATE conversations SET last_seq = last_seq + 1, last_activity = ?2 "
	"WHERE id = ?1 RETURNING last_seq";
static const char SQL_MSG_INSERT[] =
	"INSERT INTO messages(conversation_id, seq, message_id, sender_id, client_message_id, "
	"text, media_id, reply_to, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_READ_ADVANCE[] =
	"UPDATE members SET last_read_seq = MAX(last_read_seq, ?3) "
	"WHERE conversation_id = ?1 AND user_id = ?2";

static int append_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_append *o = (struct op_append *)r;
	const struct chatd_send_req *q = &o->req;
	bool found;
	/* The duplicate check comes first (protocol: a resend gets its ack
	 * even if the sender lost the right to send since). */
	int status = find_dup(c, r, q->conversation_id, q->sender_id, q->client_message_id,
			      &o->res, &found);
	if (status < 0 || found)
		return status;
	struct chatd_member self;
	status = load_member(c, r, q->conversation_id, q->sender_id, &self);
	if (status < 0)
		return status;

	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_BUMP);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, q->conversation_id);
	sqlite3_bind_int64(st, 2, q->ts);
	int rc = sqlite3_step(st);
	int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : db_status(rc);

	/* The message id is derived from (conversation, seq), unique by the
	 * primary key: a random id needed a UNIQUE index whose random
	 * inserts cost ~30 % of append throughput (bench/storage_bench). */
	snprintf(o->mid, sizeof o->mid, "m%s-%lld", q->conversation_id + 1, (long long)seq);
	st = sqlite_conn_stmt(c, SQL_MSG_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, q->conversation_id);
	sqlite3_bind_int64(st, 2, seq);
	bind_text(st, 3, o->mid);
	bind_text(st, 4, q->sender_id);
	bind_text(st, 5, q->client_message_id);
	bind_text(st, 6, q->text);
	bind_text(st, 7, q->media_id);
	sqlite3_bind_int64(st, 8, q->reply_to);
	sqlite3_bind_int64(st, 9, q->ts);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if (sqlite3_extended_errcode(c->db) != SQLITE_CONSTRAINT_UNIQUE)
			return db_status(rc);
		/* The UNIQUE(conversation, sender, cmid) backstop: report the
		 * existing row (the savepoint undoes the seq bump). */
		if ((status = find_dup(c, r, q->conversation_id, q->sender_id,
				       q->client_message_id, &o->res, &found)) < 0)
			return status;
		return found ? CHATD_ERR_EXISTS : db_status(rc);
	}

	st = sqlite_conn_stmt(c, SQL_READ_ADVANCE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, q->conversation_id);
	bind_text(st, 2, q->sender_id);
	sqlite3_bind_int64(st, 3, seq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_status(rc);

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
	if (!req || !cb || !valid_str(req->conversation_id, CHATD_ID_MAX) ||
	    !valid_str(req->sender_id, CHATD_ID_MAX) ||
	    !valid_str(req->client_message_id, CHATD_CMID_MAX) ||
	    (req->media_id && !valid_str(req->media_id, SQLITE_MEDIA_ID_MAX)) ||
	    (!req->text && !req->media_id) || req->reply_to < 0 || req->ts < 0)
		return CHATD_ERR_INVALID;
	if (req->text && strnlen(req->text, SQLITE_TEXT_MAX + 1) > SQLITE_TEXT_MAX)
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
	o->req.reply_to = req->reply_to;
	o->req.ts = req->ts;
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}

/* ---- history ------------------------------------------------------- */

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
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_CONV_EXISTS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, o->cid);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : db_status(rc);
	/* With `after`, the first `limit` above it; else the latest below
	 * `before`. */
	bool latest = o->after < 0;
	return load_msgs(c, r, o->cid, o->viewer, latest ? 0 : o->after,
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
	if (!req || !cb || !valid_str(req->conversation_id, CHATD_ID_MAX) ||
	    (req->user_id && !valid_str(req->user_id, CHATD_ID_MAX)) ||
	    req->limit < 1)
		return CHATD_ERR_INVALID;
	struct op_history *o = (struct op_history *)sqlite_req_new(sizeof(*o), &history_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, req->conversation_id, &oom);
	o->viewer = sqlite_arena_strdup(&o->base.arena, req->user_id, &oom);
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->before = req->before;
	o->after = req->after;
	o->limit = req->limit > SQLITE_HISTORY_MAX ? SQLITE_HISTORY_MAX : req->limit;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}

/* ---- sync ---------------------------------------------------------- */

struct op_sync {
	struct sqlite_req base;
	char *user;
	struct chatd_cursor *cursors;   /* sorted by conversation_id */
	size_t n_cursors;
	int per_conv, total;
	chatd_sync_cb cb;
	void *arg;
	struct chatd_conversation *convs;
	struct chatd_sync_conv *items;
	size_t n;
	bool has_more;
};

static int cursor_cmp(const void *a, const void *b)
{
	return strcmp(((const struct chatd_cursor *)a)->conversation_id,
		      ((const struct chatd_cursor *)b)->conversation_id);
}

static int64_t sync_cursor(const struct op_sync *o, const struct chatd_conversation *conv)
{
	if (o->n_cursors) {
		struct chatd_cursor key = { .conversation_id = conv->conversation_id };
		const struct chatd_cursor *cur = bsearch(&key, o->cursors, o->n_cursors,
							 sizeof(key), cursor_cmp);
		if (cur && cur->seq > 0)
			return cur->seq;
	}
	return conv->read_seq;
}

static int sync_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_sync *o = (struct op_sync *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_CONV_LIST);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, o->user);
	size_t n = 0;
	int status = read_rows(r, st, SIZE_MAX, sizeof(*o->convs), read_conv, (void **)&o->convs,
			       &n, NULL);
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
		it->conv = &o->convs[i];
		/* With nothing left (take 0) this still asks for one row, so
		 * has_more is set only where messages were really left out. */
		status = load_msgs(c, r, o->convs[i].conversation_id, o->user,
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
	if (!cb || !valid_str(user_id, CHATD_ID_MAX) || (n_cursors && !cursors) ||
	    per_conv < 1 || per_conv > SQLITE_PER_CONV_MAX || total < 1 || total > SQLITE_TOTAL_MAX)
		return CHATD_ERR_INVALID;
	if (n_cursors > SQLITE_CURSORS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_cursors; i++)
		if (!valid_str(cursors[i].conversation_id, CHATD_ID_MAX) || cursors[i].seq < 0)
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

static int step_done(struct sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? CHATD_OK : db_status(rc);
}

static int add_member(struct sqlite_conn *c, const char *cid, const char *user,
		      const char *role, int64_t ts)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MEMBER_INSERT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, cid);
	bind_text(st, 2, user);
	bind_text(st, 3, role);
	sqlite3_bind_int64(st, 4, ts);
	return step_done(st);
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
		bind_text(st, 1, key);
		int rc = sqlite3_step(st);
		char *found = rc == SQLITE_ROW ? col_text(r, st, 0, &oom) : NULL;
		sqlite3_reset(st);
		if (oom)
			return CHATD_ERR_NOMEM;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return db_status(rc);
		if (found) {
			o->created = false;
			return load_conv(c, r, found, o->owner, &o->conv);
		}
	}
	/* A conversation id collision is astronomically rare; retry anyway. */
	for (int attempt = 0;; attempt++) {
		if ((status = make_id(o->cid, 'c')) < 0)
			return status;
		sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_CONV_INSERT);
		if (!st)
			return CHATD_ERR_INTERNAL;
		bind_text(st, 1, o->cid);
		bind_text(st, 2, o->direct ? "direct" : "group");
		bind_text(st, 3, o->direct ? NULL : o->title);
		bind_text(st, 4, key);
		sqlite3_bind_int64(st, 5, o->ts);
		status = step_done(st);
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
	bind_text(st, 1, o->cid);
	if ((status = step_done(st)) < 0)
		return status;
	o->created = true;
	return load_conv(c, r, o->cid, o->owner, &o->conv);
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
	if (!cb || !valid_str(user_a, CHATD_ID_MAX) || !valid_str(user_b, CHATD_ID_MAX) ||
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
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->ts = ts;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}

int sqlite_op_group_new(const char *owner, const char *title, const char *const *members,
			size_t n_members, int64_t ts, chatd_conv_cb cb, void *arg,
			struct sqlite_req **out)
{
	if (!cb || !valid_str(owner, CHATD_ID_MAX) || (n_members && !members) || ts < 0 ||
	    (title && strnlen(title, SQLITE_TITLE_MAX + 1) > SQLITE_TITLE_MAX))
		return CHATD_ERR_INVALID;
	if (n_members > SQLITE_MEMBERS_MAX)
		return CHATD_ERR_TOO_LARGE;
	for (size_t i = 0; i < n_members; i++)
		if (!valid_str(members[i], CHATD_ID_MAX))
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
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->n_members = n_members;
	o->ts = ts;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
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
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_CONV_LIST);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, o->user);
	return read_rows(r, st, SIZE_MAX, sizeof(*o->items), read_conv, (void **)&o->items, &o->n,
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
	if (!cb || !valid_str(user_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_list *o = (struct op_list *)sqlite_req_new(sizeof(*o), &list_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->user = sqlite_arena_strdup(&o->base.arena, user_id, &oom);
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
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
	int status = load_conv(c, r, o->cid, o->viewer, &o->conv);
	if (status < 0 || o->limit == 0)
		return status;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MEMBERS_PAGE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	bind_text(st, 1, o->cid);
	sqlite3_bind_int64(st, 2, o->limit);
	sqlite3_bind_int64(st, 3, o->offset);
	return read_rows(r, st, SIZE_MAX, sizeof(*o->members), read_member, (void **)&o->members,
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
	if (!cb || !valid_str(conversation_id, CHATD_ID_MAX) ||
	    (viewer && !valid_str(viewer, CHATD_ID_MAX)))
		return CHATD_ERR_INVALID;
	if (member_limit > SQLITE_PAGE_MAX)
		return CHATD_ERR_TOO_LARGE;
	struct op_get *o = (struct op_get *)sqlite_req_new(sizeof(*o), &get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->viewer = sqlite_arena_strdup(&o->base.arena, viewer, &oom);
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->offset = member_offset > INT64_MAX ? INT64_MAX : (int64_t)member_offset;
	o->limit = (int64_t)member_limit;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}
