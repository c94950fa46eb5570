/* sqlite_ops_cursor.c — read cursors moved forward in batches (ABI 1.3):
 * input checks and copies (core thread), exec (writer thread), completion
 * (core thread).
 *
 * The whole batch is one request, so it runs in one savepoint of the
 * writer's batch transaction (sqlite_worker.c): either every cursor of it
 * is written or, on an error, none.  A cursor only moves forward: the
 * UPDATE matches the row only when the stored cursor is below the new seq,
 * so sqlite3_changes() counts exactly the cursors that moved; rows of
 * users who are not members do not exist and are left alone. */
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* Cursors per cursors_advance call (INVALID above). */
#define SQLITE_CURSOR_BATCH_MAX 10000

struct op_cursors {
	struct sqlite_req base;
	struct chatd_read_cursor *cur;   /* arena copies */
	size_t n;
	chatd_id_cb cb;
	void *arg;
	int64_t moved;
};

static const char SQL_CURSOR_ADVANCE[] =
	"UPDATE members SET last_read_seq = ?3 "
	"WHERE conversation_id = ?1 AND user_id = ?2 AND last_read_seq < ?3";

static int cursors_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_cursors *o = (struct op_cursors *)r;
	o->moved = 0;
	for (size_t i = 0; i < o->n; i++) {
		sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_CURSOR_ADVANCE);
		if (!st)
			return CHATD_ERR_INTERNAL;
		sqlite_bind_str(st, 1, o->cur[i].conversation_id);
		sqlite_bind_str(st, 2, o->cur[i].user_id);
		sqlite3_bind_int64(st, 3, o->cur[i].seq);
		int status = sqlite_step_done(st);
		if (status < 0)
			return status;   /* the savepoint undoes the cursors written so far */
		o->moved += sqlite3_changes(c->db);
	}
	return CHATD_OK;
}

static void cursors_complete(struct sqlite_req *r)
{
	struct op_cursors *o = (struct op_cursors *)r;
	o->cb(o->arg, r->status, r->status == CHATD_OK ? o->moved : 0);
}

static const struct sqlite_req_type cursors_type = {
	"cursors_advance", cursors_exec, cursors_complete,
};

int sqlite_op_cursors_advance_new(const struct chatd_read_cursor *c, size_t n, chatd_id_cb cb,
				  void *arg, struct sqlite_req **out)
{
	if (!cb || !c || n < 1 || n > SQLITE_CURSOR_BATCH_MAX)
		return CHATD_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (!store_valid_str(c[i].conversation_id, CHATD_ID_MAX) ||
		    !store_valid_str(c[i].user_id, CHATD_ID_MAX) || c[i].seq < 0)
			return CHATD_ERR_INVALID;
	struct op_cursors *o = (struct op_cursors *)sqlite_req_new(sizeof *o, &cursors_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->base.arena;
	bool oom = false;
	o->cur = sqlite_arena_alloc(a, n * sizeof *o->cur);
	for (size_t i = 0; o->cur && !oom && i < n; i++) {
		o->cur[i].conversation_id = sqlite_arena_strdup(a, c[i].conversation_id, &oom);
		o->cur[i].user_id = sqlite_arena_strdup(a, c[i].user_id, &oom);
		o->cur[i].seq = c[i].seq;
	}
	if (!o->cur || oom) {
		sqlite_req_free(&o->base);
		return CHATD_ERR_NOMEM;
	}
	o->n = n;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}
