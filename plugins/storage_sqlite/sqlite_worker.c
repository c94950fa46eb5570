/* sqlite_worker.c — arenas, statement cache, the completion outbox and the
 * writer/reader threads of the sqlite storage plugin. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sqlite_worker.h"

/* ---- arena -------------------------------------------------------- */

struct sqlite_arena_block {
	struct sqlite_arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_BLOCK 4096
#define ARENA_ALIGN (sizeof(max_align_t))

void *sqlite_arena_alloc(struct sqlite_arena *a, size_t size)
{
	size = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (size == 0)
		size = ARENA_ALIGN;
	struct sqlite_arena_block *b = a->head;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
		if (cap > SIZE_MAX - sizeof(*b))
			return NULL;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		/* A big one-off block goes behind the current one so the
		 * current block's free space stays usable. */
		if (a->head && cap > ARENA_BLOCK) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *sqlite_arena_strndup(struct sqlite_arena *a, const char *s, size_t n, bool *oom)
{
	if (!s)
		return NULL;
	char *d = sqlite_arena_alloc(a, n + 1);
	if (!d) {
		*oom = true;
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *sqlite_arena_strdup(struct sqlite_arena *a, const char *s, bool *oom)
{
	return s ? sqlite_arena_strndup(a, s, strlen(s), oom) : NULL;
}

void sqlite_arena_free(struct sqlite_arena *a)
{
	struct sqlite_arena_block *b = a->head;
	a->head = NULL;
	while (b) {
		struct sqlite_arena_block *n = b->next;
		free(b);
		b = n;
	}
}

/* ---- connection --------------------------------------------------- */

sqlite3_stmt *sqlite_conn_stmt(struct sqlite_conn *c, const char *sql)
{
	for (size_t i = 0; i < c->n_cache; i++) {
		if (c->cache[i].sql == sql) {
			sqlite3_stmt *st = c->cache[i].stmt;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	}
	if (c->n_cache == SQLITE_STMT_CACHE)
		return NULL;   /* a bug: raise SQLITE_STMT_CACHE */
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		return NULL;
	c->cache[c->n_cache].sql = sql;
	c->cache[c->n_cache].stmt = st;
	c->n_cache++;
	return st;
}

/* Reset every cached statement so none holds the transaction open. */
static void conn_reset_all(struct sqlite_conn *c)
{
	for (size_t i = 0; i < c->n_cache; i++)
		sqlite3_reset(c->cache[i].stmt);
}

void sqlite_conn_close(struct sqlite_conn *c)
{
	for (size_t i = 0; i < c->n_cache; i++)
		sqlite3_finalize(c->cache[i].stmt);
	c->n_cache = 0;
	if (c->db)
		sqlite3_close_v2(c->db);
	c->db = NULL;
}

static bool conn_exec(struct sqlite_conn *c, const char *sql)
{
	return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* ---- requests ----------------------------------------------------- */

struct sqlite_req *sqlite_req_new(size_t size, const struct sqlite_req_type *type)
{
	struct sqlite_arena a = { 0 };
	struct sqlite_req *r = sqlite_arena_alloc(&a, size);
	if (!r) {
		sqlite_arena_free(&a);
		return NULL;
	}
	r->type = type;
	r->arena = a;
	return r;
}

void sqlite_req_free(struct sqlite_req *r)
{
	if (!r)
		return;
	/* The arena holds r itself: copy its head out before freeing. */
	struct sqlite_arena a = r->arena;
	sqlite_arena_free(&a);
}

static void req_list_free(struct sqlite_req *r)
{
	while (r) {
		struct sqlite_req *n = r->next;
		sqlite_req_free(r);
		r = n;
	}
}

/* ---- outbox ------------------------------------------------------- */

struct sqlite_outbox {
	pthread_mutex_t mu;
	struct sqlite_req *head, *tail;   /* guarded by mu */
	bool scheduled;                   /* a drain task is posted */
	bool closed;
	int refs;                         /* owner + posted task */
	const struct chatd_host *host;
	chatd_plugin_handle *h;
};

struct sqlite_outbox *sqlite_outbox_new(const struct chatd_host *host, chatd_plugin_handle *h)
{
	struct sqlite_outbox *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return NULL;
	if (pthread_mutex_init(&ob->mu, NULL) != 0) {
		free(ob);
		return NULL;
	}
	ob->refs = 1;
	ob->host = host;
	ob->h = h;
	return ob;
}

static void outbox_release(struct sqlite_outbox *ob, bool last)
{
	if (last) {
		pthread_mutex_destroy(&ob->mu);
		free(ob);
	}
}

/* Core thread: the posted task. */
static void outbox_drain(void *arg)
{
	struct sqlite_outbox *ob = arg;
	pthread_mutex_lock(&ob->mu);
	struct sqlite_req *r = ob->head;
	ob->head = ob->tail = NULL;
	ob->scheduled = false;
	pthread_mutex_unlock(&ob->mu);

	while (r) {
		struct sqlite_req *n = r->next;
		r->type->complete(r);
		sqlite_req_free(r);
		r = n;
	}

	pthread_mutex_lock(&ob->mu);
	bool last = --ob->refs == 0;
	pthread_mutex_unlock(&ob->mu);
	outbox_release(ob, last);
}

/* Worker thread: hand a finished request to the core thread. */
static void outbox_push(struct sqlite_outbox *ob, struct sqlite_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&ob->mu);
	if (ob->tail)
		ob->tail->next = r;
	else
		ob->head = r;
	ob->tail = r;
	bool post = !ob->scheduled;
	if (post) {
		ob->scheduled = true;
		ob->refs++;
	}
	pthread_mutex_unlock(&ob->mu);
	if (!post)
		return;
	/* post_to_core only fails on OOM: retry a while; if it never works
	 * the request stays queued for the next push, or is freed at close. */
	for (int i = 0; i < 200; i++) {
		if (ob->host->post_to_core(ob->h, outbox_drain, ob) == CHATD_OK)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
	pthread_mutex_lock(&ob->mu);
	ob->scheduled = false;
	ob->refs--;   /* the owner still holds one */
	pthread_mutex_unlock(&ob->mu);
}

void sqlite_outbox_close(struct sqlite_outbox *ob)
{
	if (!ob)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->closed = true;
	struct sqlite_req *r = ob->head;
	ob->head = ob->tail = NULL;
	bool last = --ob->refs == 0;
	pthread_mutex_unlock(&ob->mu);
	req_list_free(r);
	outbox_release(ob, last);
}

/* ---- threads ------------------------------------------------------ */

static void post_all(struct sqlite_worker *w, struct sqlite_req *r, int force_status)
{
	while (r) {
		struct sqlite_req *n = r->next;
		if (force_status)
			r->status = force_status;
		outbox_push(w->outbox, r);
		r = n;
	}
}

static int64_t monotonic_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#define TRUNCATE_TRY_MS   1000    /* retries of one truncation */
#define TRUNCATE_RETRY_MS 10000   /* after a failed one, between tries */

/* After a purge: copy every WAL frame into the database file and truncate
 * the WAL, so that no old image of a page (in the WAL, or in the database
 * file before the checkpoint) keeps erased content; with secure_delete the
 * new images hold zeros where it was.  It needs every reader on the newest
 * snapshot: SQLite waits for them through the busy handler
 * (busy_timeout_ms; the plugin's reader holds a snapshot for one request
 * only).  It cannot run while the checkpointer thread runs a checkpoint
 * (SQLITE_BUSY at once, no busy handler): that is retried here for up to
 * TRUNCATE_TRY_MS.  Meanwhile no write is committed (this is the writer
 * thread).  false: not done (a reader outside the plugin kept an old
 * snapshot past the busy timeout, or an I/O error); the caller tries again
 * later. */
static bool wal_truncate(struct sqlite_conn *c)
{
	int64_t t0 = monotonic_ms();
	for (;;) {
		int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
						   NULL);
		if (rc == SQLITE_OK)
			return true;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			return false;
		if (monotonic_ms() - t0 >= TRUNCATE_TRY_MS)
			return false;
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
}

/* After a commit: the truncation a purge asked for.  A failed one is tried
 * again after a commit TRUNCATE_RETRY_MS later (or the next purge), not
 * after every commit: each try may wait up to the busy timeout. */
static void wal_truncate_pending(struct sqlite_conn *c)
{
	if (!c->wal_truncate || monotonic_ms() < c->wal_truncate_after)
		return;
	if (wal_truncate(c))
		c->wal_truncate = false;
	else
		c->wal_truncate_after = monotonic_ms() + TRUNCATE_RETRY_MS;
}

/* Run one batch of writes in one transaction, a savepoint per request, and
 * post the completions only once COMMIT has returned. */
static void writer_run(struct sqlite_worker *w, struct sqlite_req *batch)
{
	struct sqlite_conn *c = &w->conn;
	while (batch) {
		if (!conn_exec(c, "BEGIN IMMEDIATE")) {
			post_all(w, batch, CHATD_ERR_IO);
			return;
		}
		struct sqlite_req *done = NULL, *done_tail = NULL;
		size_t n_done = 0;
		sqlite3_int64 rows = 0;
		bool aborted = false;
		while (batch && !aborted) {
			struct sqlite_req *r = batch;
			batch = r->next;
			r->next = NULL;
			if (!conn_exec(c, "SAVEPOINT req")) {
				r->status = CHATD_ERR_IO;
			} else {
				sqlite3_int64 before = sqlite3_total_changes64(c->db);
				r->status = r->type->exec(c, r);
				conn_reset_all(c);
				if (r->status < 0)
					conn_exec(c, "ROLLBACK TO req");
				else
					rows += sqlite3_total_changes64(c->db) - before;
				conn_exec(c, "RELEASE req");
			}
			if (done_tail)
				done_tail->next = r;
			else
				done = r;
			done_tail = r;
			n_done++;
			/* Some engine errors (I/O, full disk) roll back the whole
			 * transaction: nothing in it is durable, so none of it
			 * may be acknowledged.  The rest gets a new one. */
			if (sqlite3_get_autocommit(c->db))
				aborted = true;
		}
		if (aborted) {
			post_all(w, done, CHATD_ERR_IO);
			continue;
		}
		if (!conn_exec(c, "COMMIT")) {
			conn_exec(c, "ROLLBACK");
			post_all(w, done, CHATD_ERR_IO);
			continue;
		}
		atomic_fetch_add(&w->commits, 1);
		atomic_fetch_add(&w->committed_reqs, n_done);
		atomic_fetch_add(&w->rows_written, (uint_least64_t)rows);
		/* Before the completions: a purge's callback runs once its
		 * content is gone from the files (or the truncation failed and
		 * will be tried again after the next commit). */
		wal_truncate_pending(c);
		post_all(w, done, 0);
	}
}

/* One read transaction per request: a consistent snapshot for ops that
 * read several tables. */
static void reader_run(struct sqlite_worker *w, struct sqlite_req *r)
{
	struct sqlite_conn *c = &w->conn;
	if (!conn_exec(c, "BEGIN")) {
		r->status = CHATD_ERR_IO;
	} else {
		r->status = r->type->exec(c, r);
		conn_reset_all(c);
		if (!conn_exec(c, "COMMIT"))
			conn_exec(c, "ROLLBACK");
	}
	outbox_push(w->outbox, r);
}

static void *worker_main(void *arg)
{
	struct sqlite_worker *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		struct sqlite_req *batch = w->head, *last = w->head;
		if (w->role == SQLITE_WORKER_READER && w->stopping) {
			/* Reads not started are dropped at shutdown. */
			w->head = w->tail = NULL;
			pthread_mutex_unlock(&w->mu);
			req_list_free(batch);
			break;
		}
		int max = w->role == SQLITE_WORKER_WRITER ? w->batch_max : 1;
		for (int i = 1; i < max && last->next; i++)
			last = last->next;
		w->head = last->next;
		if (!w->head)
			w->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&w->mu);

		if (w->role == SQLITE_WORKER_WRITER)
			writer_run(w, batch);
		else
			reader_run(w, batch);
	}
	atomic_store(&w->alive, false);
	return NULL;
}

int sqlite_worker_start(struct sqlite_worker *w, enum sqlite_worker_role role, sqlite3 *db,
			struct sqlite_outbox *ob, int batch_max)
{
	memset(w, 0, sizeof(*w));
	w->role = role;
	w->outbox = ob;
	w->batch_max = batch_max > 0 ? batch_max : 1;
	atomic_init(&w->alive, true);
	atomic_init(&w->commits, 0);
	atomic_init(&w->committed_reqs, 0);
	atomic_init(&w->rows_written, 0);
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return CHATD_ERR_NOMEM;
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		return CHATD_ERR_NOMEM;
	}
	w->conn.db = db;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		w->conn.db = NULL;
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		return CHATD_ERR_NOMEM;
	}
	w->started = true;
	return CHATD_OK;
}

int sqlite_worker_submit(struct sqlite_worker *w, struct sqlite_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->stopping || !atomic_load(&w->alive)) {
		pthread_mutex_unlock(&w->mu);
		return CHATD_ERR_SHUTDOWN;
	}
	if (w->tail)
		w->tail->next = r;
	else
		w->head = r;
	w->tail = r;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return CHATD_OK;
}

void sqlite_worker_stop(struct sqlite_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	sqlite_conn_close(&w->conn);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	w->started = false;
}
