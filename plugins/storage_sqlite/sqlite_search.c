/* sqlite_search.c — full-text search (ABI 1.4) over the FTS5 index of
 * schema 6 (messages_fts, see sqlite_schema.c): the query's terms become an
 * FTS5 expression in which every word is a quoted string, so nothing the
 * user typed is FTS5 syntax; visibility is history's, in SQL. */
#include <stdio.h>
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* The query is sqlite_sql_search (sqlite_search_sql.c). */

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
	sqlite3_stmt *st = sqlite_conn_stmt(c, sqlite_sql_search);
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
	if (!req || !cb || !store_valid_str(req->viewer, CHATD_ID_MAX) ||
	    (req->conversation_id && !store_valid_str(req->conversation_id, CHATD_ID_MAX)) ||
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
	o->before = req->before;
	o->limit = req->limit > CHATD_SEARCH_LIMIT_MAX ? CHATD_SEARCH_LIMIT_MAX : req->limit;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}
