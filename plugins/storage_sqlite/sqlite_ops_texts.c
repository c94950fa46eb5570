/* sqlite_ops_texts.c — rewriting stored texts (ABI 1.5): texts_scan (a
 * reader), text_replace and texts_compact (writers).
 *
 * The only stored copy of message text is messages.text (edits overwrite
 * it; there is no edit history).  The scan walks the primary key
 * (conversation_id, seq); its cursor is "SEQ:CONVERSATION_ID" of the last
 * row given.  text_replace is an UPDATE guarded by the old text, so a
 * concurrent edit wins and the replace answers CONFLICT; it leaves
 * edited_at alone, and the search trigger (schema 6) moves the index to
 * the new text like any change of text.
 *
 * Erasing the old bytes: the writer runs with secure_delete (freed space
 * zeroed), but FTS5 keeps the words of replaced texts in old segments
 * until they merge, and old page images stay in the WAL and in the
 * database file until a checkpoint.  texts_compact does what
 * purge_deleted does after an erase: an FTS5 'optimize' (O(index size))
 * and a TRUNCATE checkpoint after the commit (sqlite_worker.c).  It is a
 * separate op so that a long rewrite pays for that once, not per batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* ---- texts_scan ---------------------------------------------------- */

struct op_scan {
	struct sqlite_req base;
	char *after_cid;               /* NULL: from the start */
	int64_t after_seq;
	int limit;
	chatd_texts_cb cb;
	void *arg;
	struct chatd_stored_text *rows;
	size_t n;
	char next[CHATD_TEXTS_CURSOR_MAX + 1];
};

static const char SQL_SCAN_FIRST[] =
	"SELECT conversation_id, seq, sender_id, text FROM messages WHERE text IS NOT NULL "
	"ORDER BY conversation_id, seq LIMIT ?3";
static const char SQL_SCAN_AFTER[] =
	"SELECT conversation_id, seq, sender_id, text FROM messages WHERE text IS NOT NULL "
	"AND (conversation_id, seq) > (?1, ?2) ORDER BY conversation_id, seq LIMIT ?3";

static bool read_text_row(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_stored_text *t = out;
	bool oom = false;
	t->conversation_id = sqlite_col_text(r, st, 0, &oom);
	t->seq = sqlite3_column_int64(st, 1);
	t->sender_id = sqlite_col_text(r, st, 2, &oom);
	t->text = sqlite_col_text(r, st, 3, &oom);
	return !oom;
}

static int scan_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_scan *o = (struct op_scan *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, o->after_cid ? SQL_SCAN_AFTER : SQL_SCAN_FIRST);
	if (!st)
		return CHATD_ERR_INTERNAL;
	if (o->after_cid) {
		sqlite_bind_str(st, 1, o->after_cid);
		sqlite3_bind_int64(st, 2, o->after_seq);
	}
	sqlite3_bind_int(st, 3, o->limit);
	int status = sqlite_read_rows(r, st, (size_t)o->limit, sizeof *o->rows, read_text_row,
				      (void **)&o->rows, &o->n, NULL);
	if (status != CHATD_OK)
		return status;
	/* LIMIT counts only rows with text: fewer than asked is the end. */
	if (o->n == (size_t)o->limit) {
		const struct chatd_stored_text *last = &o->rows[o->n - 1];
		snprintf(o->next, sizeof o->next, "%lld:%s", (long long)last->seq,
			 last->conversation_id);
	}
	return CHATD_OK;
}

static void scan_complete(struct sqlite_req *r)
{
	struct op_scan *o = (struct op_scan *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->rows : NULL, ok ? o->n : 0,
	      ok && o->next[0] ? o->next : NULL);
}

static const struct sqlite_req_type scan_type = { "texts_scan", scan_exec, scan_complete };

/* "SEQ:CID" with SEQ >= 1 and a valid conversation id. */
static bool parse_cursor(const char *s, int64_t *seq, const char **cid)
{
	if (strlen(s) > CHATD_TEXTS_CURSOR_MAX || s[0] < '1' || s[0] > '9')
		return false;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (*end != ':' || v < 1 || end - s > 19)
		return false;
	*seq = v;
	*cid = end + 1;
	return store_valid_str(*cid, CHATD_ID_MAX);
}

int sqlite_op_texts_scan_new(const char *after, int limit, chatd_texts_cb cb, void *arg,
			     struct sqlite_req **out)
{
	if (!cb || limit < 1 || limit > CHATD_TEXTS_SCAN_MAX)
		return CHATD_ERR_INVALID;
	int64_t seq = 0;
	const char *cid = NULL;
	if (after && after[0] && !parse_cursor(after, &seq, &cid))
		return CHATD_ERR_INVALID;
	struct op_scan *o = OP_NEW(struct op_scan, &scan_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	if (cid)
		o->after_cid = sqlite_arena_strdup(&o->base.arena, cid, &oom);
	o->after_seq = seq;
	o->limit = limit;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- text_replace -------------------------------------------------- */

struct op_replace {
	struct sqlite_req base;
	char *cid, *expected, *text;
	int64_t seq;
	chatd_status_cb cb;
	void *arg;
};

static const char SQL_REPLACE[] =
	"UPDATE messages SET text = ?4 WHERE conversation_id = ?1 AND seq = ?2 AND text = ?3";
static const char SQL_EXISTS[] =
	"SELECT 1 FROM messages WHERE conversation_id = ?1 AND seq = ?2";

static int replace_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_replace *o = (struct op_replace *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_REPLACE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite3_bind_int64(st, 2, o->seq);
	sqlite_bind_str(st, 3, o->expected);
	sqlite_bind_str(st, 4, o->text);
	int status = sqlite_step_done(st);
	if (status < 0 || sqlite3_changes64(c->db) == 1)
		return status;
	st = sqlite_conn_stmt(c, SQL_EXISTS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->cid);
	sqlite3_bind_int64(st, 2, o->seq);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return CHATD_ERR_CONFLICT;
	return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
}

static void status_complete(struct sqlite_req *r)
{
	struct op_replace *o = (struct op_replace *)r;
	o->cb(o->arg, r->status);
}

static const struct sqlite_req_type replace_type = {
	"text_replace", replace_exec, status_complete,
};

/* A sealed text is longer than its plaintext (base64 plus nonce and tag). */
#define REPLACE_TEXT_MAX (2 * SQLITE_TEXT_MAX)

int sqlite_op_text_replace_new(const char *conversation_id, int64_t seq, const char *expected,
			       const char *text, chatd_status_cb cb, void *arg,
			       struct sqlite_req **out)
{
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1 || !expected ||
	    !text || strlen(expected) > REPLACE_TEXT_MAX || strlen(text) > REPLACE_TEXT_MAX)
		return CHATD_ERR_INVALID;
	struct op_replace *o = OP_NEW(struct op_replace, &replace_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->cid = sqlite_arena_strdup(&o->base.arena, conversation_id, &oom);
	o->expected = sqlite_arena_strdup(&o->base.arena, expected, &oom);
	o->text = sqlite_arena_strdup(&o->base.arena, text, &oom);
	o->seq = seq;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- texts_compact ------------------------------------------------- */

static int compact_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	(void)r;
	if (sqlite3_exec(c->db, "INSERT INTO messages_fts(messages_fts) VALUES ('optimize')",
			 NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_db_status(sqlite3_errcode(c->db));
	c->wal_truncate = true;
	c->wal_truncate_after = 0;
	return CHATD_OK;
}

static const struct sqlite_req_type compact_type = {
	"texts_compact", compact_exec, status_complete,
};

int sqlite_op_texts_compact_new(chatd_status_cb cb, void *arg, struct sqlite_req **out)
{
	if (!cb)
		return CHATD_ERR_INVALID;
	/* struct op_replace: only base, cb and arg are used (status_complete). */
	struct op_replace *o = OP_NEW(struct op_replace, &compact_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}
