/* storage_sqlite.c — the "sqlite" storage plugin: descriptor, options,
 * init/fini and the ops table.
 *
 * One writer thread with its own connection commits writes in groups (one
 * transaction, one fsync for up to batch_max requests); one reader thread
 * with another connection serves reads, so they never wait behind an fsync
 * (WAL lets them run beside the writer).  Completions come back to the core
 * thread through the outbox (sqlite_worker.c). */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/host.h"
#include "chatd/storage.h"
#include "sqlite_ops.h"
#include "sqlite_ckpt.h"
#include "sqlite_worker.h"

#define STORAGE_MAGIC 0x53514c54u   /* "SQLT" */

struct sqlite_storage {
	uint32_t magic;
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	struct sqlite_outbox *outbox;
	struct sqlite_worker writer, reader;
	struct sqlite_ckpt *ckpt;
	bool stopping;

	chatd_timer_id metrics_timer;
	chatd_metric_id m_commits, m_writes, m_rows;
	uint64_t flushed_commits, flushed_writes, flushed_rows;
};

static const struct chatd_option sqlite_options[] = {
	{ .key = "path", .type = CHATD_OPT_STRING, .def = "chatd.db",
	  .help = "database file (created if missing)" },
	{ .key = "synchronous", .type = CHATD_OPT_STRING, .def = "full",
	  .help = "\"full\" (fsync every commit) or \"normal\" (may lose the last "
		  "commits on power loss, never corrupts)" },
	{ .key = "batch_max", .type = CHATD_OPT_INT, .def = "256", .min = 1, .max = 10000,
	  .help = "most writes committed in one transaction" },
	{ .key = "busy_timeout_ms", .type = CHATD_OPT_INT, .def = "5000", .min = 0, .max = 600000,
	  .help = "how long a connection waits for a lock" },
	{ .key = "max_db_bytes", .type = CHATD_OPT_INT, .def = "0", .min = 0,
	  .max = INT64_MAX / 2,
	  .help = "cap on the database file's size (0: none); writes beyond it are "
		  "refused as unavailable, as on a full disk" },
	{ .key = NULL },
};

static struct sqlite_storage *storage_of(void *inst)
{
	struct sqlite_storage *s = inst;
	assert(s && s->magic == STORAGE_MAGIC);
	return s;
}

/* ---- metrics: counted by the writer, published from the core thread -- */

static void metrics_flush(void *arg)
{
	struct sqlite_storage *s = arg;
	uint64_t c = atomic_load(&s->writer.commits);
	uint64_t w = atomic_load(&s->writer.committed_reqs);
	uint64_t rows = atomic_load(&s->writer.rows_written);
	if (s->m_commits && c != s->flushed_commits)
		s->host->metric_add(s->h, s->m_commits, (int64_t)(c - s->flushed_commits));
	if (s->m_writes && w != s->flushed_writes)
		s->host->metric_add(s->h, s->m_writes, (int64_t)(w - s->flushed_writes));
	if (s->m_rows && rows != s->flushed_rows)
		s->host->metric_add(s->h, s->m_rows, (int64_t)(rows - s->flushed_rows));
	s->flushed_commits = c;
	s->flushed_writes = w;
	s->flushed_rows = rows;
}

/* ---- opening ------------------------------------------------------ */

static int pragma(struct sqlite_storage *s, sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return CHATD_OK;
	s->host->log(s->h, CHATD_LOG_ERROR, "sqlite.pragma_failed", "%s: %s", sql,
		     sqlite3_errmsg(db));
	return CHATD_ERR_IO;
}

static int open_db(struct sqlite_storage *s, const char *path, bool writer, bool sync_full,
		   int64_t busy_ms, int64_t max_bytes, sqlite3 **out)
{
	sqlite3 *db = NULL;
	/* NOMUTEX: each connection is used by one thread at a time (here,
	 * then only by its worker). */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		s->host->log(s->h, CHATD_LOG_ERROR, "sqlite.open_failed", "%s: %s", path,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close_v2(db);
		return rc == SQLITE_NOMEM ? CHATD_ERR_NOMEM : CHATD_ERR_IO;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)busy_ms);
	int st = CHATD_OK;
	if (writer) {
		sqlite3_stmt *q = NULL;
		bool wal = false;
		if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW) {
			const unsigned char *m = sqlite3_column_text(q, 0);
			wal = m && strcmp((const char *)m, "wal") == 0;
		}
		sqlite3_finalize(q);
		if (!wal) {
			s->host->log(s->h, CHATD_LOG_ERROR, "sqlite.wal_failed",
				     "%s: cannot switch to WAL mode: %s", path, sqlite3_errmsg(db));
			st = CHATD_ERR_IO;
		}
	}
	if (st == CHATD_OK)
		st = pragma(s, db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
	if (st == CHATD_OK)
		st = pragma(s, db, "PRAGMA foreign_keys=ON");
	/* Freed cell space and pages are zeroed, so content erased by
	 * purge_deleted leaves no copy in the pages written after it (the
	 * WAL is then truncated: sqlite_worker.c).  Costs little: appends
	 * rarely free anything. */
	if (st == CHATD_OK && writer)
		st = pragma(s, db, "PRAGMA secure_delete=ON");
	if (st == CHATD_OK && !writer)
		st = pragma(s, db, "PRAGMA query_only=1");
	/* A per-connection cap: past it SQLite answers SQLITE_FULL, exactly
	 * as on a full disk (the writer then refuses the batch; nothing of
	 * it is acknowledged). */
	if (st == CHATD_OK && writer && max_bytes > 0) {
		char sql[64];
		int64_t page = 4096;
		sqlite3_stmt *q = NULL;
		if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0)
			page = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		int64_t pages = max_bytes / page > 0 ? max_bytes / page : 1;
		snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", (long long)pages);
		st = pragma(s, db, sql);
	}
	if (st < 0) {
		sqlite3_close_v2(db);
		return st;
	}
	*out = db;
	return CHATD_OK;
}

/* ---- init / fini -------------------------------------------------- */

static void sqlite_fini(void *inst);

static int sqlite_init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	const char *path = NULL, *sync = NULL;
	int64_t batch_max = 0, busy_ms = 0, max_bytes = 0;
	if (host->config_string(h, "path", &path) < 0 || !path || !*path) {
		host->log(h, CHATD_LOG_ERROR, "sqlite.bad_option", "path is not set");
		return CHATD_ERR_INVALID;
	}
	if (host->config_string(h, "synchronous", &sync) < 0 || !sync ||
	    (strcmp(sync, "full") != 0 && strcmp(sync, "normal") != 0)) {
		host->log(h, CHATD_LOG_ERROR, "sqlite.bad_option",
			  "synchronous must be \"full\" or \"normal\", not \"%s\"", sync ? sync : "");
		return CHATD_ERR_INVALID;
	}
	if (host->config_int(h, "batch_max", &batch_max) < 0 || batch_max < 1 || batch_max > 10000) {
		host->log(h, CHATD_LOG_ERROR, "sqlite.bad_option", "batch_max must be 1..10000");
		return CHATD_ERR_INVALID;
	}
	if (host->config_int(h, "busy_timeout_ms", &busy_ms) < 0 || busy_ms < 0 || busy_ms > INT_MAX) {
		host->log(h, CHATD_LOG_ERROR, "sqlite.bad_option", "busy_timeout_ms out of range");
		return CHATD_ERR_INVALID;
	}
	if (host->config_int(h, "max_db_bytes", &max_bytes) < 0 || max_bytes < 0) {
		host->log(h, CHATD_LOG_ERROR, "sqlite.bad_option", "max_db_bytes out of range");
		return CHATD_ERR_INVALID;
	}
	bool sync_full = strcmp(sync, "full") == 0;

	struct sqlite_storage *s = calloc(1, sizeof(*s));
	if (!s)
		return CHATD_ERR_NOMEM;
	s->magic = STORAGE_MAGIC;
	s->host = host;
	s->h = h;

	sqlite3 *wdb = NULL, *rdb = NULL;
	int st = open_db(s, path, true, sync_full, busy_ms, max_bytes, &wdb);
	if (st < 0)
		goto fail;
	int found = 0;
	char err[256];
	st = sqlite_schema_apply(wdb, &found, err, sizeof(err));
	if (st == CHATD_ERR_ABI) {
		host->log(h, CHATD_LOG_ERROR, "sqlite.schema_too_new", "%s: %s", path, err);
		goto fail;
	} else if (st < 0) {
		host->log(h, CHATD_LOG_ERROR, "sqlite.schema_failed", "%s: %s", path, err);
		goto fail;
	}
	if (found != SQLITE_SCHEMA_VERSION)
		host->log(h, CHATD_LOG_INFO, "sqlite.migrated", "%s: schema %d -> %d", path,
			  found, SQLITE_SCHEMA_VERSION);
	if ((st = open_db(s, path, false, sync_full, busy_ms, 0, &rdb)) < 0)
		goto fail;
	/* Before the writer thread owns wdb: the hook is set on it here. */
	sqlite3 *cdb = NULL;
	if ((st = open_db(s, path, true, sync_full, busy_ms, max_bytes, &cdb)) < 0 ||
	    (st = sqlite_ckpt_start(&s->ckpt, cdb, wdb)) < 0)
		goto fail;

	st = CHATD_ERR_NOMEM;
	if (!(s->outbox = sqlite_outbox_new(host, h)))
		goto fail;
	if ((st = sqlite_worker_start(&s->writer, SQLITE_WORKER_WRITER, wdb, s->outbox,
				      (int)batch_max)) < 0)
		goto fail;
	wdb = NULL;
	if ((st = sqlite_worker_start(&s->reader, SQLITE_WORKER_READER, rdb, s->outbox, 1)) < 0)
		goto fail;
	rdb = NULL;

	s->m_commits = host->metric_counter(h, "commits", "write transactions committed");
	s->m_writes = host->metric_counter(h, "writes", "write requests committed");
	s->m_rows = host->metric_counter(h, "rows_written",
					 "rows inserted, updated or deleted by committed writes");
	s->metrics_timer = host->timer_add(h, 1000, true, metrics_flush, s);
	host->log(h, CHATD_LOG_INFO, "sqlite.opened", "%s (synchronous=%s, batch_max=%lld)",
		  path, sync, (long long)batch_max);
	*instance = s;
	return CHATD_OK;

fail:
	sqlite3_close_v2(wdb);
	sqlite3_close_v2(rdb);
	sqlite_fini(s);
	return st;
}

static void sqlite_fini(void *inst)
{
	if (!inst)
		return;
	struct sqlite_storage *s = storage_of(inst);
	s->stopping = true;
	/* The writer commits everything queued before it exits. */
	sqlite_worker_stop(&s->writer);
	sqlite_worker_stop(&s->reader);
	sqlite_ckpt_stop(s->ckpt);
	/* Completions not yet delivered are dropped (freed, no callback). */
	sqlite_outbox_close(s->outbox);
	if (s->metrics_timer)
		s->host->timer_cancel(s->h, s->metrics_timer);
	metrics_flush(s);
	s->magic = 0;
	free(s);
}

/* ---- ops ---------------------------------------------------------- */

/* Hand a built request to a worker; on refusal it is freed, no callback. */
static int submit(struct sqlite_storage *s, struct sqlite_worker *w, int st, struct sqlite_req *r)
{
	if (st < 0)
		return st;
	if (s->stopping) {
		sqlite_req_free(r);
		return CHATD_ERR_SHUTDOWN;
	}
	st = sqlite_worker_submit(w, r);
	if (st < 0)
		sqlite_req_free(r);
	return st;
}

static int op_precheck(void *inst, const char *conversation_id, const char *sender_id,
		       const char *client_message_id, chatd_precheck_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_precheck_new(conversation_id, sender_id, client_message_id, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_append(void *inst, const struct chatd_send_req *req, chatd_send_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_append_new(req, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_history(void *inst, const struct chatd_history_req *req, chatd_history_cb cb,
		      void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_history_new(req, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_messages_latest(void *inst, int limit, chatd_history_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_messages_latest_new(limit, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_search(void *inst, const struct chatd_search_req *req, chatd_search_cb cb,
		     void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_search_new(req, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_notify_mute_set(void *inst, const char *conversation_id, const char *user_id,
			      int64_t muted_until, chatd_status_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_notify_mute_new(conversation_id, user_id, muted_until, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_notify_targets(void *inst, const char *conversation_id, const char *exclude,
			     int64_t now, size_t max, chatd_users_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_notify_targets_new(conversation_id, exclude, now, max, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_sync(void *inst, const char *user_id, const struct chatd_cursor *cursors,
		   size_t n_cursors, int per_conv, int total, chatd_sync_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_sync_new(user_id, cursors, n_cursors, per_conv, total, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_direct(void *inst, const char *user_a, const char *user_b, int64_t ts,
		     chatd_conv_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_direct_new(user_a, user_b, ts, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_group(void *inst, const char *owner, const char *title,
		    const char *const *members, size_t n_members, int64_t ts,
		    chatd_conv_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_group_new(owner, title, members, n_members, ts, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_conv_list(void *inst, const char *user_id, chatd_conv_list_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_conv_list_new(user_id, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_conv_get(void *inst, const char *conversation_id, const char *viewer,
		       size_t member_offset, size_t member_limit, chatd_conv_get_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_conv_get_new(conversation_id, viewer, member_offset, member_limit,
					cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

/* ---- ABI 1.1: moderation (sqlite_ops_mod.c) ------------------------ */

static int op_audit_append(void *inst, const struct chatd_audit_entry *e, chatd_status_cb cb,
			   void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_audit_append_new(e, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_audit_list(void *inst, int64_t after_id, int limit, bool newest,
			 chatd_audit_list_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_audit_list_new(after_id, limit, newest, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_mod_item_add(void *inst, const struct chatd_mod_item *it, chatd_id_cb cb,
			   void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_mod_item_add_new(it, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_mod_item_list(void *inst, int64_t id, const char *status, const char *kind,
			    int64_t after_id, int limit, chatd_mod_items_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_mod_item_list_new(id, status, kind, after_id, limit, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_mod_item_resolve(void *inst, int64_t id, const char *status, const char *action,
			       const char *actor, const char *note, int64_t ts,
			       chatd_status_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_mod_item_resolve_new(id, status, action, actor, note, ts, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_set_visibility(void *inst, const char *conversation_id, int64_t seq,
			     const char *visibility, chatd_message_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_set_visibility_new(conversation_id, seq, visibility, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_sanction_add(void *inst, const struct chatd_sanction *sanction, chatd_id_cb cb,
			   void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_sanction_add_new(sanction, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_sanction_lift(void *inst, const char *user_id, const char *kind, int64_t ts,
			    chatd_status_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_sanction_lift_new(user_id, kind, ts, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_sanction_list_active(void *inst, int64_t now, chatd_sanctions_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_sanction_list_new(now, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_user_seen(void *inst, const char *user_id, int64_t ts, chatd_id_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_user_seen_new(user_id, ts, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_user_first_seen(void *inst, const char *user_id, chatd_id_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_user_first_seen_new(user_id, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

/* ---- ABI 1.2: groups (sqlite_ops_group.c), messages (sqlite_ops_msg.c) */

static int op_conv_change(void *inst, const struct chatd_conv_change *ch,
			  chatd_conv_change_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_conv_change_new(ch, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_members_get(void *inst, const char *conversation_id, const char *viewer,
			  const char *const *users, size_t n_users, chatd_conv_get_cb cb,
			  void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_members_get_new(conversation_id, viewer, users, n_users, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_message_get(void *inst, const char *conversation_id, int64_t seq,
			  chatd_message_role_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_message_get_new(conversation_id, seq, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_message_edit(void *inst, const struct chatd_message_edit *e,
			   chatd_message_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_message_edit_new(e, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_message_delete(void *inst, const char *conversation_id, int64_t seq, int64_t ts,
			     chatd_message_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_message_delete_new(conversation_id, seq, ts, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_message_hide(void *inst, const char *user_id, const char *conversation_id,
			   int64_t seq, chatd_status_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_message_hide_new(user_id, conversation_id, seq, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_purge_deleted(void *inst, int64_t before, chatd_id_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_purge_deleted_new(before, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

/* ---- ABI 1.5: rewriting stored texts (sqlite_ops_texts.c) ---------- */

static int op_texts_scan(void *inst, const char *after, int limit, chatd_texts_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_texts_scan_new(after, limit, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_text_replace(void *inst, const char *conversation_id, int64_t seq,
			   const char *expected, const char *text, chatd_status_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_text_replace_new(conversation_id, seq, expected, text, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_texts_compact(void *inst, chatd_status_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_texts_compact_new(cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

/* ---- ABI 1.3: read cursors (sqlite_ops_cursor.c), media (sqlite_ops_media.c) */

static int op_cursors_advance(void *inst, const struct chatd_read_cursor *c, size_t n,
			      chatd_id_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_cursors_advance_new(c, n, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_media_put(void *inst, const struct chatd_media_row *row, chatd_status_cb cb,
			void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_media_put_new(row, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_media_get(void *inst, const char *media_id, chatd_media_row_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_media_get_new(media_id, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_media_ready(void *inst, const char *media_id, const char *hash, bool thumbnail,
			  int64_t ts, chatd_status_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_media_ready_new(media_id, hash, thumbnail, ts, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_media_usage(void *inst, const char *owner_id, int64_t since,
			  chatd_media_usage_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_media_usage_new(owner_id, since, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_media_access(void *inst, const char *media_id, const char *user_id,
			   chatd_id_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_media_access_new(media_id, user_id, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_media_orphans(void *inst, int64_t before, int limit, chatd_media_rows_cb cb,
			    void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_media_orphans_new(before, limit, cb, arg, &r);
	return submit(s, &s->reader, st, r);
}

static int op_media_remove(void *inst, const char *media_id, chatd_id_cb cb, void *arg)
{
	struct sqlite_storage *s = storage_of(inst);
	struct sqlite_req *r = NULL;
	int st = sqlite_op_media_remove_new(media_id, cb, arg, &r);
	return submit(s, &s->writer, st, r);
}

static int op_health(void *inst)
{
	struct sqlite_storage *s = storage_of(inst);
	if (s->stopping)
		return CHATD_ERR_SHUTDOWN;
	if (!atomic_load(&s->writer.alive) || !atomic_load(&s->reader.alive))
		return CHATD_ERR_UNAVAILABLE;
	return CHATD_OK;
}

static const struct chatd_storage_ops sqlite_ops = {
	.struct_size = sizeof(struct chatd_storage_ops),
	.precheck = op_precheck,
	.append = op_append,
	.history = op_history,
	.sync = op_sync,
	.conv_create_direct = op_direct,
	.conv_create_group = op_group,
	.conv_list = op_conv_list,
	.conv_get = op_conv_get,
	.health = op_health,
	.audit_append = op_audit_append,
	.audit_list = op_audit_list,
	.mod_item_add = op_mod_item_add,
	.mod_item_list = op_mod_item_list,
	.mod_item_resolve = op_mod_item_resolve,
	.message_set_visibility = op_set_visibility,
	.sanction_add = op_sanction_add,
	.sanction_lift = op_sanction_lift,
	.sanction_list_active = op_sanction_list_active,
	.user_seen = op_user_seen,
	.conv_change = op_conv_change,
	.members_get = op_members_get,
	.message_get = op_message_get,
	.message_edit = op_message_edit,
	.message_delete = op_message_delete,
	.message_hide = op_message_hide,
	.purge_deleted = op_purge_deleted,
	.cursors_advance = op_cursors_advance,
	.media_put = op_media_put,
	.media_get = op_media_get,
	.media_ready = op_media_ready,
	.media_usage = op_media_usage,
	.media_access = op_media_access,
	.media_orphans = op_media_orphans,
	.media_remove = op_media_remove,
	.user_first_seen = op_user_first_seen,
	.messages_latest = op_messages_latest,
	.search = op_search,
	.notify_mute_set = op_notify_mute_set,
	.notify_targets = op_notify_targets,
	.texts_scan = op_texts_scan,
	.text_replace = op_text_replace,
	.texts_compact = op_texts_compact,
};

static const struct chatd_plugin sqlite_plugin = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_STORAGE,
	.name = "sqlite",
	.version = "1.5.0",
	.description = "SQLite storage (WAL, group commit on a writer thread, separate reader)",
	.options = sqlite_options,
	.init = sqlite_init,
	.fini = sqlite_fini,
	.ops = &sqlite_ops,
};

CHATD_PLUGIN_EXPORT(sqlite_plugin)
