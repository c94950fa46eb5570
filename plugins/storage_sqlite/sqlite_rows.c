/* sqlite_rows.c — what the storage ops share: input checks, ids, binding,
 * row readers into the request's arena, and the loads several ops use
 * (a conversation as seen by a member, a duplicate, a membership, a page
 * of messages, one message).  See sqlite_rows.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "sqlite_rows.h"

/* ---- helpers ------------------------------------------------------ */

int sqlite_db_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM: return CHATD_ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return CHATD_ERR_UNAVAILABLE;
	case SQLITE_TOOBIG: return CHATD_ERR_TOO_LARGE;
	default: return CHATD_ERR_IO;
	}
}

int sqlite_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? CHATD_OK : sqlite_db_status(rc);
}

void sqlite_bind_str(sqlite3_stmt *st, int i, const char *s)
{
	/* Inputs live in the request's arena for the whole exec. */
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

char *sqlite_col_text(struct sqlite_req *r, sqlite3_stmt *st, int i, bool *oom)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return NULL;
	return sqlite_arena_strndup(&r->arena, (const char *)t,
				    (size_t)sqlite3_column_bytes(st, i), oom);
}

/* Make room for one more element of a growing array kept in the arena. */
bool sqlite_grow(struct sqlite_req *r, void **arr, size_t *cap, size_t n, size_t elem)
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

/* The conversation from the viewpoint of member m (m's columns may be NULL).
 * Column 14, m.history_from, is not part of struct chatd_conversation:
 * sync reads it (SQLITE_CONV_COL_HISTORY_FROM). */
#define CONV_COLS \
	"c.id, c.kind, c.title, c.last_seq, c.member_count, c.created_at, " \
	"c.last_activity, c.locked, c.typing, c.receipts, m.role, m.last_read_seq, " \
	"m.muted_until, CASE WHEN c.kind = 'direct' AND m.user_id IS NOT NULL THEN " \
	"(SELECT p.user_id FROM members p WHERE p.conversation_id = c.id " \
	"AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1) END, m.history_from"

static const char SQL_CONV_VIEW[] =
	"SELECT " CONV_COLS " FROM conversations c JOIN members m "
	"ON m.conversation_id = c.id AND m.user_id = ?2 WHERE c.id = ?1";
static const char SQL_CONV_ANON[] =
	"SELECT " CONV_COLS " FROM conversations c LEFT JOIN members m ON 0 WHERE c.id = ?1";
const char sqlite_sql_conv_list[] =
	"SELECT " CONV_COLS " FROM members m JOIN conversations c ON c.id = m.conversation_id "
	"WHERE m.user_id = ?1 ORDER BY c.last_activity DESC, c.rowid DESC";

#define MSG_COLS SQLITE_MSG_COLS
#define MSG_FROM SQLITE_MSG_FROM
#define VISIBLE SQLITE_MSG_VISIBLE

/* ?1 conversation, ?2 after, ?3 before (exclusive), ?4 viewer, ?5 limit. */
static const char SQL_MSGS_ASC[] =
	"SELECT " MSG_COLS " FROM " MSG_FROM " WHERE m.conversation_id = ?1 AND m.seq > ?2 "
	"AND m.seq < ?3 AND " VISIBLE " ORDER BY m.seq ASC LIMIT ?5";
static const char SQL_MSGS_DESC[] =
	"SELECT " MSG_COLS " FROM " MSG_FROM " WHERE m.conversation_id = ?1 AND m.seq > ?2 "
	"AND m.seq < ?3 AND " VISIBLE " ORDER BY m.seq DESC LIMIT ?5";
/* ?1 limit: every conversation's messages, the newest first.  No index on
 * created_at (the send path would pay for it): a scan, for admin tools. */
static const char SQL_MSGS_LATEST[] =
	"SELECT " MSG_COLS " FROM " MSG_FROM " ORDER BY m.created_at DESC, "
	"m.conversation_id DESC, m.seq DESC LIMIT ?1";
static const char SQL_MSG_ONE[] =
	"SELECT " MSG_COLS " FROM " MSG_FROM " WHERE m.conversation_id = ?1 AND m.seq = ?2";

static const char SQL_DUP[] =
	"SELECT seq, message_id, created_at FROM messages "
	"WHERE conversation_id = ?1 AND sender_id = ?2 AND client_message_id = ?3";
static const char SQL_MEMBER[] =
	"SELECT user_id, role, joined_at, muted_until, last_read_seq FROM members "
	"WHERE conversation_id = ?1 AND user_id = ?2";
const char sqlite_sql_members_page[] =
	"SELECT user_id, role, joined_at, muted_until, last_read_seq FROM members "
	"WHERE conversation_id = ?1 ORDER BY joined_at, user_id LIMIT ?2 OFFSET ?3";

bool sqlite_read_conv(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_conversation *c = out;
	bool oom = false;
	c->conversation_id = sqlite_col_text(r, st, 0, &oom);
	c->kind = sqlite_col_text(r, st, 1, &oom);
	c->title = sqlite_col_text(r, st, 2, &oom);
	c->last_seq = sqlite3_column_int64(st, 3);
	c->member_count = sqlite3_column_int64(st, 4);
	c->created_at = sqlite3_column_int64(st, 5);
	c->last_activity = sqlite3_column_int64(st, 6);
	c->locked = sqlite3_column_int(st, 7) != 0;
	c->typing = sqlite3_column_int(st, 8) != 0;
	c->receipts = sqlite3_column_int(st, 9) != 0;
	c->role = sqlite_col_text(r, st, 10, &oom);
	c->read_seq = sqlite3_column_int64(st, 11);
	c->muted_until = sqlite3_column_int64(st, 12);
	c->peer_id = sqlite_col_text(r, st, 13, &oom);
	return !oom;
}

bool sqlite_read_msg(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_message *m = out;
	bool oom = false;
	m->conversation_id = sqlite_col_text(r, st, 0, &oom);
	m->seq = sqlite3_column_int64(st, 1);
	m->message_id = sqlite_col_text(r, st, 2, &oom);
	m->sender_id = sqlite_col_text(r, st, 3, &oom);
	m->client_message_id = sqlite_col_text(r, st, 4, &oom);
	m->deleted = sqlite3_column_int(st, 10) != 0;
	/* Deleted for everyone: the row keeps its content until
	 * purge_deleted, but no reader gets any of it (provenance neither:
	 * it may quote the text). */
	m->text = m->deleted ? NULL : sqlite_col_text(r, st, 5, &oom);
	m->media_id = m->deleted ? NULL : sqlite_col_text(r, st, 6, &oom);
	m->reply_to = sqlite3_column_int64(st, 7);
	m->ts = sqlite3_column_int64(st, 8);
	m->edited_at = sqlite3_column_int64(st, 9);
	m->visibility = sqlite_col_text(r, st, 11, &oom);
	if (!m->visibility && !oom)
		m->visibility = CHATD_VIS_NORMAL;   /* NOT NULL in the schema; be safe */
	m->moderation = m->deleted ? NULL : sqlite_col_text(r, st, 12, &oom);
	/* The media columns are NULL without a row (LEFT JOIN); a deleted
	 * message shows no media at all. */
	m->media_mime = m->media_id ? sqlite_col_text(r, st, 13, &oom) : NULL;
	m->media_size = m->media_mime ? sqlite3_column_int64(st, 14) : 0;
	m->media_thumbnail = m->media_mime && sqlite3_column_int(st, 15) != 0;
	return !oom;
}

bool sqlite_read_member(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_member *m = out;
	bool oom = false;
	m->user_id = sqlite_col_text(r, st, 0, &oom);
	m->role = sqlite_col_text(r, st, 1, &oom);
	m->joined_at = sqlite3_column_int64(st, 2);
	m->muted_until = sqlite3_column_int64(st, 3);
	m->read_seq = sqlite3_column_int64(st, 4);
	return !oom;
}

/* Step a bound statement to its end, appending each row (decoded by fn
 * into an element of `elem` bytes) to the arena array *arr of *n.  At most
 * `max` rows are kept; *more (if given) says another row existed.  Resets
 * st.  Returns CHATD_OK or an error. */
int sqlite_read_rows(struct sqlite_req *r, sqlite3_stmt *st, size_t max, size_t elem,
		     sqlite_row_reader fn, void **arr, size_t *n, bool *more)
{
	size_t cap = *n;
	int status = CHATD_OK, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == max) {
			if (more)
				*more = true;
			break;
		}
		if (!sqlite_grow(r, arr, &cap, *n, elem) || !fn(r, st, (char *)*arr + *n * elem)) {
			status = CHATD_ERR_NOMEM;
			break;
		}
		(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		status = sqlite_db_status(rc);
	sqlite3_reset(st);
	return status;
}

/* Step a bound statement expected to give at most one row and read it
 * into out.  CHATD_OK, CHATD_ERR_NOT_FOUND (no row) or an error. */
static int load_one(struct sqlite_req *r, sqlite3_stmt *st, sqlite_row_reader read, void *out)
{
	int rc = sqlite3_step(st);
	int status;
	if (rc == SQLITE_ROW)
		status = read(r, st, out) ? CHATD_OK : CHATD_ERR_NOMEM;
	else if (rc == SQLITE_DONE)
		status = CHATD_ERR_NOT_FOUND;
	else
		status = sqlite_db_status(rc);
	sqlite3_reset(st);
	return status;
}

/* Load conversation `cid` as seen by `viewer` (NULL: nobody).  Returns
 * CHATD_OK, CHATD_ERR_NOT_FOUND (no such conversation, or viewer not a
 * member) or an error. */
int sqlite_load_conv(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		     const char *viewer, struct chatd_conversation *out)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, viewer ? SQL_CONV_VIEW : SQL_CONV_ANON);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	if (viewer)
		sqlite_bind_str(st, 2, viewer);
	return load_one(r, st, sqlite_read_conv, out);
}

/* Find the stored result of (cid, sender, cmid).  CHATD_OK with *found. */
int sqlite_find_dup(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		    const char *sender, const char *cmid, struct chatd_send_result *res,
		    bool *found)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_DUP);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	sqlite_bind_str(st, 2, sender);
	sqlite_bind_str(st, 3, cmid);
	int rc = sqlite3_step(st);
	int status = CHATD_OK;
	*found = false;
	if (rc == SQLITE_ROW) {
		bool oom = false;
		res->seq = sqlite3_column_int64(st, 0);
		res->message_id = sqlite_col_text(r, st, 1, &oom);
		res->ts = sqlite3_column_int64(st, 2);
		res->duplicate = true;
		*found = true;
		if (oom)
			status = CHATD_ERR_NOMEM;
	} else if (rc != SQLITE_DONE) {
		status = sqlite_db_status(rc);
	}
	sqlite3_reset(st);
	return status;
}

/* Member row of user in cid.  CHATD_OK, CHATD_ERR_NOT_FOUND or an error. */
int sqlite_load_member(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		       const char *user, struct chatd_member *out)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MEMBER);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	sqlite_bind_str(st, 2, user);
	return load_one(r, st, sqlite_read_member, out);
}

/* Messages of cid in (after, before) that viewer may see (VISIBLE),
 * ascending, at most `take`; *more when a further one exists in that range
 * (the direction decides which end is kept). */
int sqlite_load_msgs(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		     const char *viewer, int64_t after, int64_t before, bool latest,
		     size_t take, struct chatd_message **out, size_t *n, bool *more)
{
	*out = NULL;
	*n = 0;
	*more = false;
	sqlite3_stmt *st = sqlite_conn_stmt(c, latest ? SQL_MSGS_DESC : SQL_MSGS_ASC);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, before);
	sqlite_bind_str(st, 4, viewer);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)take + 1);   /* one more tells has_more */
	int status = sqlite_read_rows(r, st, take, sizeof(**out), sqlite_read_msg, (void **)out, n, more);
	if (status == CHATD_OK && latest) {
		for (size_t i = 0; i < *n / 2; i++) {
			struct chatd_message t = (*out)[i];
			(*out)[i] = (*out)[*n - 1 - i];
			(*out)[*n - 1 - i] = t;
		}
	}
	return status;
}

int sqlite_load_latest(struct sqlite_conn *c, struct sqlite_req *r, size_t take,
		       struct chatd_message **out, size_t *n, bool *more)
{
	*out = NULL;
	*n = 0;
	*more = false;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MSGS_LATEST);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)take + 1);   /* one more tells has_more */
	int status = sqlite_read_rows(r, st, take, sizeof(**out), sqlite_read_msg, (void **)out, n,
				      more);
	for (size_t i = 0; status == CHATD_OK && i < *n / 2; i++) {
		struct chatd_message t = (*out)[i];
		(*out)[i] = (*out)[*n - 1 - i];
		(*out)[*n - 1 - i] = t;
	}
	return status;
}

/* Message (cid, seq) whoever sent it.  CHATD_OK, CHATD_ERR_NOT_FOUND or an
 * error. */
int sqlite_load_msg(struct sqlite_conn *c, struct sqlite_req *r, const char *cid, int64_t seq,
		    struct chatd_message *out)
{
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_MSG_ONE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, cid);
	sqlite3_bind_int64(st, 2, seq);
	return load_one(r, st, sqlite_read_msg, out);
}
