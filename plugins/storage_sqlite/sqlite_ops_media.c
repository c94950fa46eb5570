/* sqlite_ops_media.c — media metadata rows (ABI 1.3): input checks and
 * copies (core thread), exec (worker thread), completion (core thread).
 *
 * put, ready and remove go to the writer (durable before the callback);
 * get, usage, access and orphans to the reader.  Choices the interface
 * leaves open:
 *   - every input over its limit (sqlite_ops.h) is INVALID, not TOO_LARGE;
 *   - put inserts a pending row: a row with hash, thumbnail or ready_at
 *     set is INVALID (ready is media_ready's);
 *   - ready on a row already ready overwrites hash, thumbnail and ready_at;
 *   - access through a message also needs the user to be able to see it:
 *     not deleted for everyone, "normal" unless the user sent it, and after
 *     the user's history_from (a member added without history cannot reach
 *     older media); deleted-for-me does not matter (the user's choice);
 *   - orphans counts a reference from any message, deleted or not, until
 *     purge_deleted erases its media_id. */
#include <string.h>
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* 1..SQLITE_MEDIA_HASH_MAX lowercase hex digits. */
static bool valid_hash(const char *s)
{
	if (!store_valid_str(s, SQLITE_MEDIA_HASH_MAX))
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

#define MEDIA_COLS "media_id, owner_id, mime, name, size, hash, thumbnail, created_at, ready_at"

static bool read_media(struct sqlite_req *r, sqlite3_stmt *st, void *out)
{
	struct chatd_media_row *m = out;
	bool oom = false;
	m->media_id = sqlite_col_text(r, st, 0, &oom);
	m->owner_id = sqlite_col_text(r, st, 1, &oom);
	m->mime = sqlite_col_text(r, st, 2, &oom);
	m->name = sqlite_col_text(r, st, 3, &oom);
	m->size = sqlite3_column_int64(st, 4);
	m->hash = sqlite_col_text(r, st, 5, &oom);
	m->thumbnail = sqlite3_column_int(st, 6) != 0;
	m->created_at = sqlite3_column_int64(st, 7);
	m->ready_at = sqlite3_column_int64(st, 8);
	return !oom;
}

/* ---- completions --------------------------------------------------- */

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

struct op_id {
	struct sqlite_req base;
	chatd_id_cb cb;
	void *arg;
	int64_t id;
};

static void id_complete(struct sqlite_req *r)
{
	struct op_id *o = (struct op_id *)r;
	o->cb(o->arg, r->status, r->status == CHATD_OK ? o->id : 0);
}

/* ---- media_put ----------------------------------------------------- */

struct op_put {
	struct op_status s;
	struct chatd_media_row row;   /* strings in the arena */
};

static const char SQL_PUT[] =
	"INSERT INTO media(media_id, owner_id, mime, name, size, created_at) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6)";

static int put_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	const struct chatd_media_row *m = &((struct op_put *)r)->row;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_PUT);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, m->media_id);
	sqlite_bind_str(st, 2, m->owner_id);
	sqlite_bind_str(st, 3, m->mime);
	sqlite_bind_str(st, 4, m->name);
	sqlite3_bind_int64(st, 5, m->size);
	sqlite3_bind_int64(st, 6, m->created_at);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return CHATD_OK;
	if (sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		return CHATD_ERR_EXISTS;
	return sqlite_db_status(rc);
}

static const struct sqlite_req_type put_type = { "media_put", put_exec, status_complete };

int sqlite_op_media_put_new(const struct chatd_media_row *row, chatd_status_cb cb, void *arg,
			    struct sqlite_req **out)
{
	if (!row || !cb || !store_valid_str(row->media_id, SQLITE_MEDIA_ID_MAX) ||
	    !store_valid_str(row->owner_id, CHATD_ID_MAX) ||
	    !store_valid_str(row->mime, SQLITE_MIME_MAX) ||
	    (row->name && strnlen(row->name, SQLITE_MEDIA_NAME_MAX + 1) > SQLITE_MEDIA_NAME_MAX) ||
	    row->size < 0 || row->created_at < 0 ||
	    row->hash || row->thumbnail || row->ready_at != 0)
		return CHATD_ERR_INVALID;
	struct op_put *o = OP_NEW(struct op_put, &put_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct sqlite_arena *a = &o->s.base.arena;
	bool oom = false;
	o->row.media_id = sqlite_arena_strdup(a, row->media_id, &oom);
	o->row.owner_id = sqlite_arena_strdup(a, row->owner_id, &oom);
	o->row.mime = sqlite_arena_strdup(a, row->mime, &oom);
	o->row.name = sqlite_arena_strdup(a, row->name, &oom);
	o->row.size = row->size;
	o->row.created_at = row->created_at;
	o->s.cb = cb;
	o->s.arg = arg;
	return sqlite_op_out(&o->s.base, oom, out);
}

/* ---- media_get ----------------------------------------------------- */

struct op_get {
	struct sqlite_req base;
	char *media_id;
	chatd_media_row_cb cb;
	void *arg;
	struct chatd_media_row row;
};

static const char SQL_GET[] = "SELECT " MEDIA_COLS " FROM media WHERE media_id = ?1";

static int get_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_get *o = (struct op_get *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_GET);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->media_id);
	int rc = sqlite3_step(st);
	int status;
	if (rc == SQLITE_ROW)
		status = read_media(r, st, &o->row) ? CHATD_OK : CHATD_ERR_NOMEM;
	else
		status = rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : sqlite_db_status(rc);
	sqlite3_reset(st);
	return status;
}

static void get_complete(struct sqlite_req *r)
{
	struct op_get *o = (struct op_get *)r;
	o->cb(o->arg, r->status, r->status == CHATD_OK ? &o->row : NULL);
}

static const struct sqlite_req_type get_type = { "media_get", get_exec, get_complete };

int sqlite_op_media_get_new(const char *media_id, chatd_media_row_cb cb, void *arg,
			    struct sqlite_req **out)
{
	if (!cb || !store_valid_str(media_id, SQLITE_MEDIA_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_get *o = OP_NEW(struct op_get, &get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->media_id = sqlite_arena_strdup(&o->base.arena, media_id, &oom);
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- media_ready --------------------------------------------------- */

struct op_ready {
	struct op_status s;
	char *media_id, *hash;
	bool thumbnail;
	int64_t ts;
};

static const char SQL_READY[] =
	"UPDATE media SET hash = ?2, thumbnail = ?3, ready_at = ?4 WHERE media_id = ?1";

static int ready_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_ready *o = (struct op_ready *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_READY);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->media_id);
	sqlite_bind_str(st, 2, o->hash);
	sqlite3_bind_int(st, 3, o->thumbnail ? 1 : 0);
	sqlite3_bind_int64(st, 4, o->ts);
	int status = sqlite_step_done(st);
	if (status == CHATD_OK && sqlite3_changes(c->db) == 0)
		return CHATD_ERR_NOT_FOUND;
	return status;
}

static const struct sqlite_req_type ready_type = { "media_ready", ready_exec, status_complete };

int sqlite_op_media_ready_new(const char *media_id, const char *hash, bool thumbnail, int64_t ts,
			      chatd_status_cb cb, void *arg, struct sqlite_req **out)
{
	/* ts >= 1: ready_at 0 means "not ready". */
	if (!cb || !store_valid_str(media_id, SQLITE_MEDIA_ID_MAX) || !valid_hash(hash) || ts < 1)
		return CHATD_ERR_INVALID;
	struct op_ready *o = OP_NEW(struct op_ready, &ready_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->media_id = sqlite_arena_strdup(&o->s.base.arena, media_id, &oom);
	o->hash = sqlite_arena_strdup(&o->s.base.arena, hash, &oom);
	o->thumbnail = thumbnail;
	o->ts = ts;
	o->s.cb = cb;
	o->s.arg = arg;
	return sqlite_op_out(&o->s.base, oom, out);
}

/* ---- media_usage --------------------------------------------------- */

struct op_usage {
	struct sqlite_req base;
	char *owner;
	int64_t since;
	chatd_media_usage_cb cb;
	void *arg;
	int64_t bytes, count;
};

/* Served by media_by_owner alone. */
static const char SQL_USAGE[] =
	"SELECT COALESCE(SUM(size), 0), COALESCE(SUM(created_at >= ?2), 0) FROM media "
	"WHERE owner_id = ?1";

static int usage_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_usage *o = (struct op_usage *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_USAGE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->owner);
	sqlite3_bind_int64(st, 2, o->since);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		o->bytes = sqlite3_column_int64(st, 0);
		o->count = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? CHATD_OK : sqlite_db_status(rc);
}

static void usage_complete(struct sqlite_req *r)
{
	struct op_usage *o = (struct op_usage *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->bytes : 0, ok ? o->count : 0);
}

static const struct sqlite_req_type usage_type = { "media_usage", usage_exec, usage_complete };

int sqlite_op_media_usage_new(const char *owner_id, int64_t since, chatd_media_usage_cb cb,
			      void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(owner_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_usage *o = OP_NEW(struct op_usage, &usage_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->owner = sqlite_arena_strdup(&o->base.arena, owner_id, &oom);
	o->since = since;
	o->cb = cb;
	o->arg = arg;
	return sqlite_op_out(&o->base, oom, out);
}

/* ---- media_access -------------------------------------------------- */

struct op_access {
	struct op_id i;
	char *media_id, *user;
};

/* The owner, or a member who can see a message carrying it (see the top
 * of the file).  Through messages_media, then the member's primary key. */
static const char SQL_ACCESS[] =
	"SELECT EXISTS (SELECT 1 FROM media WHERE media_id = ?1 AND owner_id = ?2) "
	"OR EXISTS (SELECT 1 FROM messages m JOIN members b "
	"ON b.conversation_id = m.conversation_id AND b.user_id = ?2 "
	"WHERE m.media_id = ?1 AND m.deleted = 0 AND m.seq > b.history_from "
	"AND (m.visibility = 'normal' OR m.sender_id = ?2))";

static int access_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_access *o = (struct op_access *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_ACCESS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->media_id);
	sqlite_bind_str(st, 2, o->user);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		o->i.id = sqlite3_column_int(st, 0) ? 1 : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? CHATD_OK : sqlite_db_status(rc);
}

static const struct sqlite_req_type access_type = { "media_access", access_exec, id_complete };

int sqlite_op_media_access_new(const char *media_id, const char *user_id, chatd_id_cb cb,
			       void *arg, struct sqlite_req **out)
{
	if (!cb || !store_valid_str(media_id, SQLITE_MEDIA_ID_MAX) ||
	    !store_valid_str(user_id, CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_access *o = OP_NEW(struct op_access, &access_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->media_id = sqlite_arena_strdup(&o->i.base.arena, media_id, &oom);
	o->user = sqlite_arena_strdup(&o->i.base.arena, user_id, &oom);
	o->i.cb = cb;
	o->i.arg = arg;
	return sqlite_op_out(&o->i.base, oom, out);
}

/* ---- media_orphans ------------------------------------------------- */

struct op_orphans {
	struct sqlite_req base;
	int64_t before;
	int limit;
	chatd_media_rows_cb cb;
	void *arg;
	struct chatd_media_row *rows;
	size_t n;
};

/* Oldest first through media_by_created; each candidate is one probe of
 * messages_media. */
static const char SQL_ORPHANS[] =
	"SELECT " MEDIA_COLS " FROM media d WHERE d.created_at < ?1 AND NOT EXISTS "
	"(SELECT 1 FROM messages m WHERE m.media_id = d.media_id) "
	"ORDER BY d.created_at, d.media_id LIMIT ?2";

static int orphans_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_orphans *o = (struct op_orphans *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_ORPHANS);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, o->before);
	sqlite3_bind_int64(st, 2, o->limit);
	return sqlite_read_rows(r, st, (size_t)o->limit, sizeof(*o->rows), read_media,
				(void **)&o->rows, &o->n, NULL);
}

static void orphans_complete(struct sqlite_req *r)
{
	struct op_orphans *o = (struct op_orphans *)r;
	bool ok = r->status == CHATD_OK;
	o->cb(o->arg, r->status, ok ? o->rows : NULL, ok ? o->n : 0);
}

static const struct sqlite_req_type orphans_type = {
	"media_orphans", orphans_exec, orphans_complete,
};

int sqlite_op_media_orphans_new(int64_t before, int limit, chatd_media_rows_cb cb, void *arg,
				struct sqlite_req **out)
{
	if (!cb || limit < 1 || limit > SQLITE_LIST_MAX)
		return CHATD_ERR_INVALID;
	struct op_orphans *o = OP_NEW(struct op_orphans, &orphans_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->before = before;
	o->limit = limit;
	o->cb = cb;
	o->arg = arg;
	*out = &o->base;
	return CHATD_OK;
}

/* ---- media_remove -------------------------------------------------- */

struct op_remove {
	struct op_id i;
	char *media_id;
};

/* RETURNING gives the hash of the row removed (NULL while pending). */
static const char SQL_REMOVE[] = "DELETE FROM media WHERE media_id = ?1 RETURNING hash";
static const char SQL_SHARING[] = "SELECT COUNT(*) FROM media WHERE hash = ?1";

static int remove_exec(struct sqlite_conn *c, struct sqlite_req *r)
{
	struct op_remove *o = (struct op_remove *)r;
	sqlite3_stmt *st = sqlite_conn_stmt(c, SQL_REMOVE);
	if (!st)
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, o->media_id);
	int rc = sqlite3_step(st);
	bool oom = false;
	char *hash = NULL;
	if (rc == SQLITE_ROW) {
		hash = sqlite_col_text(r, st, 0, &oom);
		rc = sqlite3_step(st);   /* runs the statement to its end */
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return CHATD_ERR_NOT_FOUND;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sqlite_db_status(rc);
	if (oom)
		return CHATD_ERR_NOMEM;
	o->i.id = 0;
	if (!hash)
		return CHATD_OK;
	if (!(st = sqlite_conn_stmt(c, SQL_SHARING)))
		return CHATD_ERR_INTERNAL;
	sqlite_bind_str(st, 1, hash);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		o->i.id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? CHATD_OK : sqlite_db_status(rc);
}

static const struct sqlite_req_type remove_type = { "media_remove", remove_exec, id_complete };

int sqlite_op_media_remove_new(const char *media_id, chatd_id_cb cb, void *arg,
			       struct sqlite_req **out)
{
	if (!cb || !store_valid_str(media_id, SQLITE_MEDIA_ID_MAX))
		return CHATD_ERR_INVALID;
	struct op_remove *o = OP_NEW(struct op_remove, &remove_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	bool oom = false;
	o->media_id = sqlite_arena_strdup(&o->i.base.arena, media_id, &oom);
	o->i.cb = cb;
	o->i.arg = arg;
	return sqlite_op_out(&o->i.base, oom, out);
}
