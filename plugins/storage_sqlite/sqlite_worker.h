/* sqlite_worker.h — request objects, worker threads and the completion
 * outbox of the sqlite storage plugin.
 *
 * A request (struct sqlite_req) owns everything it needs through its arena:
 * copied inputs, results, and the request struct itself.  Its life:
 *   core thread:   built by an op, handed to sqlite_worker_submit()
 *   worker thread: type->exec() runs against the worker's connection
 *   core thread:   type->complete() calls the user callback exactly once,
 *                  then the request (and its arena) is freed.
 * A request never points at the plugin instance, so a completion that runs
 * after fini is harmless. */
#ifndef SQLITE_WORKER_H
#define SQLITE_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sqlite3.h>
#include "chatd/host.h"

/* ---- arena: many small allocations freed at once ------------------ */

struct sqlite_arena_block;
struct sqlite_arena {
	struct sqlite_arena_block *head;
};

/* Zeroed memory valid until sqlite_arena_free(); NULL on OOM. */
void *sqlite_arena_alloc(struct sqlite_arena *a, size_t size);
/* Copy of s (NULL stays NULL); sets *oom on allocation failure. */
char *sqlite_arena_strdup(struct sqlite_arena *a, const char *s, bool *oom);
/* Copy of n bytes of s plus a NUL. */
char *sqlite_arena_strndup(struct sqlite_arena *a, const char *s, size_t n, bool *oom);
void sqlite_arena_free(struct sqlite_arena *a);

/* ---- one connection with its prepared-statement cache ------------- */

#define SQLITE_STMT_CACHE 96

struct sqlite_conn {
	sqlite3 *db;
	struct {
		const char *sql;       /* static string: cached by pointer */
		sqlite3_stmt *stmt;
	} cache[SQLITE_STMT_CACHE];
	size_t n_cache;
	/* Writer: an exec erased content (purge_deleted); once the batch is
	 * committed, truncate the WAL so no old page image keeps it.  Stays
	 * set until a truncation succeeds; after a failure the next try waits
	 * for a commit at or after wal_truncate_after (CLOCK_MONOTONIC ms),
	 * unless an exec sets that back to 0. */
	bool wal_truncate;
	int64_t wal_truncate_after;
};

/* A reset statement for `sql` (a string literal), prepared once per
 * connection.  NULL on error (sqlite3_errmsg(c->db) says why). */
sqlite3_stmt *sqlite_conn_stmt(struct sqlite_conn *c, const char *sql);
/* Finalize every cached statement and close the database. */
void sqlite_conn_close(struct sqlite_conn *c);

/* ---- requests ----------------------------------------------------- */

struct sqlite_req;
struct sqlite_req_type {
	const char *name;
	/* Worker thread.  Returns CHATD_OK or a negative status.  For the
	 * writer it runs inside the batch transaction and a savepoint of its
	 * own: a failure undoes only this request's changes. */
	int (*exec)(struct sqlite_conn *c, struct sqlite_req *r);
	/* Core thread: call the user callback with r->status and results. */
	void (*complete)(struct sqlite_req *r);
};

struct sqlite_req {
	struct sqlite_req *next;
	const struct sqlite_req_type *type;
	int status;
	struct sqlite_arena arena;   /* owns this struct too */
};

/* Allocate a request of `size` bytes (>= sizeof(struct sqlite_req), the
 * base first) in a fresh arena.  NULL on OOM. */
struct sqlite_req *sqlite_req_new(size_t size, const struct sqlite_req_type *type);
/* Free the request and everything in its arena; no callback. */
void sqlite_req_free(struct sqlite_req *r);

/* A new request of type T (its struct sqlite_req first); NULL on OOM. */
#define OP_NEW(T, type) ((T *)sqlite_req_new(sizeof(T), (type)))

/* The end of an op constructor: r (filled, its strings copied into its
 * arena) goes to *out, or is freed when a copy failed (oom). */
static inline int sqlite_op_out(struct sqlite_req *r, bool oom, struct sqlite_req **out)
{
	if (oom) {
		sqlite_req_free(r);
		return CHATD_ERR_NOMEM;
	}
	*out = r;
	return CHATD_OK;
}

/* ---- outbox: completions going back to the core thread ------------ */

/* Worker threads push finished requests; one posted task (at most one in
 * flight) drains them on the core thread.  Refcounted so a task the host
 * runs after fini finds a valid, closed outbox. */
struct sqlite_outbox;

struct sqlite_outbox *sqlite_outbox_new(const struct chatd_host *host, chatd_plugin_handle *h);
/* Core thread, after every worker is joined: drop (free, no callback) the
 * pending completions and release the owner's reference. */
void sqlite_outbox_close(struct sqlite_outbox *ob);

/* ---- worker thread ------------------------------------------------ */

enum sqlite_worker_role {
	SQLITE_WORKER_WRITER,   /* group commit; drains its queue on stop */
	SQLITE_WORKER_READER,   /* one read transaction per request; drops queue on stop */
};

struct sqlite_worker {
	enum sqlite_worker_role role;
	struct sqlite_conn conn;           /* used only by the thread once started */
	struct sqlite_outbox *outbox;
	int batch_max;

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sqlite_req *head, *tail;    /* guarded by mu */
	bool stopping;                     /* guarded by mu */
	atomic_bool alive;

	/* Statistics (writer): transactions committed, requests in them,
	 * rows they inserted, updated or deleted (sqlite3_total_changes64()
	 * of the requests that were kept, so savepoints rolled back do not
	 * count). */
	atomic_uint_least64_t commits;
	atomic_uint_least64_t committed_reqs;
	atomic_uint_least64_t rows_written;
};

/* Initialise and start the thread; `db` passes to the worker (it closes
 * it).  Returns CHATD_OK or a negative status (db then still the caller's). */
int sqlite_worker_start(struct sqlite_worker *w, enum sqlite_worker_role role, sqlite3 *db,
			struct sqlite_outbox *ob, int batch_max);
/* Core thread.  Queue r; ownership passes to the worker.  CHATD_ERR_SHUTDOWN
 * (r untouched, still the caller's) once stopping. */
int sqlite_worker_submit(struct sqlite_worker *w, struct sqlite_req *r);
/* Stop, join, close the connection.  The writer first commits everything
 * queued; the reader drops what it has not started. */
void sqlite_worker_stop(struct sqlite_worker *w);

#endif
