/* sqlite_search.c — full-text search (ABI 1.4) over the FTS5 index of
 * schema 6 (messages_fts, see sqlite_schema.c): the query's terms become an
 * FTS5 expression in which every word is a quoted string, so nothing the
 * user typed is FTS5 syntax; visibility is history's, in SQL. */
#include <stdio.h>
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* Append s (n bytes) to out at *at, failing when cap is reached. */
static bool put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	if (n >= cap - *at)
		return false;
	memcpy(out + *at, s, n);
	*at += n;
	out[*at] = '\0';
	return true;
}

int sqlite_search_expr(const struct chatd_search_term *terms, size_t n, char *out, size_t cap)
{
	size_t at = 0;
	if (cap == 0 || n == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct chatd_search_term *t = &terms[i];
		if (t->n_words == 0 || !t->words)
			return -1;
		if (i && !put(out, cap, &at, " AND ", 5))
			return -1;
		if (!put(out, cap, &at, "\"", 1))
			return -1;
		for (size_t w = 0; w < t->n_words; w++) {
			const char *word = t->words[w];
			if (!word || !*word || strlen(word) > CHATD_SEARCH_WORD_MAX)
				return -1;
			if (w && !put(out, cap, &at, " ", 1))
				return -1;
			/* The core's words have no quote; double one anyway
			 * (FTS5's escape inside a string). */
			for (const char *p = word; *p; p++)
				if (!put(out, cap, &at, p, 1) ||
				    (*p == '"' && !put(out, cap, &at, "\"", 1)))
					return -1;
		}
		if (!put(out, cap, &at, "\"", 1) || (t->prefix && !put(out, cap, &at, " *", 2)))
			return -1;
	}
	return (int)at;
}

/* ?1 expression, ?2 limit + 1, ?3 before (rowid), ?4 viewer, ?5
 * conversation (NULL: all).  The FTS table drives (rowids descending, the
 * bound pushed into it); each hit is checked against the viewer's
 * membership, history_from and history's visibility. */
static const char SQL_SEARCH[] =
	"SELECT " SQLITE_MSG_COLS ", "
	"snippet(messages_fts, 0, char(2), char(3), '…', 12), f.rowid "
	"FROM messages_fts f "
	"CROSS JOIN search_rows s ON s.id = f.rowid "
	"CROSS JOIN members b ON b.conversation_id = s.conversation_id AND b.user_id = ?4 "
	"CROSS JOIN " SQLITE_MSG_FROM " "
	"WHERE messages_fts MATCH ?1 AND f.rowid < ?3 "
	"AND (?5 IS NULL OR s.conversation_id = ?5) "
	"AND m.conversation_id = s.conversation_id AND m.seq = s.seq "
	"AND m.seq > b.history_from AND m.deleted = 0 AND " SQLITE_MSG_VISIBLE " "
	"ORDER BY f.rowid DESC LIMIT ?2";

#define EXPR_MAX (CHATD_SEARCH_TERMS_MAX * (CHATD_SEARCH_WORD_MAX * 2 + 12) + 1)

struct op_search {
	struct sqlite_req base;
	char *viewer, *cid;
	char expr[EXPR_MAX];
	int64_t before;
	int limit;
	chatd_search_cb cb;
	void *arg;
	struct chatd_search_hit *hits;
	size_t n;
	int64_t next;
};

static bool read_hit(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_search_hit *h = out;
	if (!sqlite_read_msg(r, st, &h->msg))
		return false;
	bool oom = false;
	h->snippet = sqlite_col_text(r, st, 16, &oom);
	if (!h->snippet && !oom)
		h->snippet = "";
	h->cursor = sqlite3_column_int64(st, 17);
	return !oom;
}

static int search_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_search *o = (struct op_search *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_SEARCH);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, o->expr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)o->limit + 1);
	sqlite3_bind_int64(st, 3, o->before > 0 ? o->before : INT64_MAX);
	sqlite_bind_str(st, 4, o->viewer);
	sqlite_bind_str(st, 5, o->cid);
	bool more = false;
	int status = sqlite_read_rows(r, st, (size_t)o->limit, sizeof(*o->hits), read_hit,
				      (void **)&o->hits, &o->n, &more);
	o->next = status == CHATD_OK && more && o->n ? o->hits[o->n - 1].cursor : 0;
	return status;
}

static void search_complete(struct sqlite_req *r)
{
	struct op_search *o = (struct op_search *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->hits : NULL, ok ? o->n : 0, ok ? o->next : 0);
}

static const struct sqlite_req_type search_type = {
	"search", search_exec, search_complete,
};

int sqlite_op_search_new(const struct chatd_search_req *req, chatd_search_cb cb, void *arg,
			 struct sqlite_req **out)
{
	if (!req || !cb || !sqlite_valid_str(req->viewer, CHATD_ID_MAX) ||
	    (req->conversation_id && !sqlite_valid_str(req->conversation_id, CHATD_ID_MAX)) ||
	    !req->terms || req->n_terms < 1 || req->n_terms > CHATD_SEARCH_TERMS_MAX ||
	    req->limit < 1)
		return CHATD_ERR_INVALID;
	size_t words = 0;
	for (size_t i = 0; i < req->n_terms; i++)
		words += req->terms[i].n_words;
	if (words > CHATD_SEARCH_TERMS_MAX)
		return CHATD_ERR_INVALID;
	struct op_search *o = (struct op_search *)sqlite_req_new(sizeof(*o), &search_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	if (sqlite_search_expr(req->terms, req->n_terms, o->expr, sizeof o->expr) < 0) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_INVALID;
	}
	bool oom = false;
	o->viewer = sqlite_arena_strdup(&o->base.arena, req->viewer, &oom);
	o->cid = sqlite_arena_strdup(&o->base.arena, req->conversation_id, &oom);
	if (oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->before = req->before;
	o->limit = req->limit > CHATD_SEARCH_LIMIT_MAX ? CHATD_SEARCH_LIMIT_MAX : req->limit;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}
