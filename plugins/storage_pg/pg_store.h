/* pg_store.h — what the parts of the storage_pg plugin share: the store,
 * op requests and their queries, per-op arenas, row readers and the shard
 * map.
 *
 * An op (struct pg_op) is built on the core thread by a storage op: it
 * checks and copies its inputs into its arena, adds one or more queries
 * (struct pg_query: a prepared statement, a shard, text parameters) and
 * starts.  Each query goes to its shard's connection (pg_conn.c), which
 * sends it in a pipelined batch; when every query of the step has its
 * result, the op's step function reads them and either finishes (calls the
 * user callback) or adds the queries of a next step.  Everything runs on
 * the core thread; results (PGresult) live until the step function
 * returns, so callbacks may be handed pointers into them. */
#ifndef PG_STORE_H
#define PG_STORE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "chatd/host.h"
#include "chatd/storage.h"
#include "../common/storage_checks.h"

/* ---- limits of inputs (bytes unless said), as storage_sqlite's ------ */

#define PG_TEXT_MAX        (256 * 1024)
#define PG_MEDIA_ID_MAX    128
#define PG_TITLE_MAX       1024
#define PG_MEMBERS_MAX     10000    /* members given to group creation */
#define PG_CURSORS_MAX     100000   /* sync cursors */
#define PG_PER_CONV_MAX    10000
#define PG_TOTAL_MAX       100000
#define PG_PAGE_MAX        10000    /* conv_get member_limit */
#define PG_HISTORY_MAX     200
#define PG_NOTE_MAX        (64 * 1024)
#define PG_ACTOR_MAX       (CHATD_ID_MAX + 16)
#define PG_TOKEN_MAX       64
#define PG_SUBJECT_MAX     512
#define PG_KEY_MAX         512
#define PG_LIST_MAX        1000
#define PG_HASH_HEX        64
#define PG_CHANGE_USERS_MAX 1000
#define PG_MIME_MAX        255
#define PG_MEDIA_NAME_MAX  1024
#define PG_MEDIA_HASH_MAX  128
#define PG_CURSOR_BATCH_MAX 10000   /* cursors_advance */

#define PG_SHARDS_MAX      64
#define PG_PARAMS_MAX      16

/* ---- the store --------------------------------------------------- */

struct pg_conn;

struct pg_store {
	uint32_t magic;
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	struct pg_conn *shards[PG_SHARDS_MAX];
	size_t n_shards;
	/* options */
	int batch_max, pipeline_depth;
	int64_t op_timeout_ms, connect_timeout_ms, reconnect_min_ms, reconnect_max_ms;
	bool stopping;                 /* fini runs: completions are dropped */
	chatd_timer_id tick;
	chatd_metric_id m_queries, m_batches, m_errors, m_retries, m_reruns, m_reconnects,
			m_timeouts, m_unavailable;
};

#define PG_STORE_MAGIC 0x50475354u   /* "PGST" */

static inline struct pg_store *pg_store_of(void *inst)
{
	struct pg_store *s = inst;
	assert(s && s->magic == PG_STORE_MAGIC);
	return s;
}

static inline void pg_metric(struct pg_store *s, chatd_metric_id id, int64_t n)
{
	if (id)
		s->host->metric_add(s->h, id, n);
}

/* CLOCK_MONOTONIC milliseconds. */
int64_t pg_mono_ms(void);

/* ---- arenas ------------------------------------------------------ */

struct pg_block;
struct pg_arena {
	struct pg_block *head;
};

/* Zeroed memory valid until pg_arena_free(); NULL on OOM. */
void *pg_alloc(struct pg_arena *a, size_t size);
void pg_arena_free(struct pg_arena *a);

/* ---- ops and queries --------------------------------------------- */

struct pg_op;

struct pg_query {
	struct pg_query *next;         /* in a connection's pending list or batch */
	struct pg_query *op_next;      /* in its op's step */
	struct pg_op *op;
	size_t shard;
	int stmt;                      /* enum pg_stmt */
	int nparams;
	const char *params[PG_PARAMS_MAX];
	PGresult *res;                 /* once answered; cleared after the step */
	int status;                    /* CHATD_OK, or why it failed */
	bool solo;                     /* re-run in a batch of its own */
	int retries;                   /* deadlock / serialization re-runs */
};

enum { PG_STEP_DONE = 0, PG_STEP_MORE = 1 };

struct pg_op_type {
	const char *name;
	/* Every query of the step succeeded (their results in `done`, in the
	 * order they were added).  Read them, then finish (call the user
	 * callback, return PG_STEP_DONE) or add the next step's queries and
	 * return pg_op_continue(op). */
	int (*step)(struct pg_op *op, struct pg_query *done);
	/* Call the user callback with `status` (< 0) and no results. */
	void (*fail)(struct pg_op *op, int status);
};

struct pg_op {
	const struct pg_op_type *type;
	struct pg_store *s;
	struct pg_arena arena;         /* owns this struct too */
	struct pg_query *head, *tail;  /* the current step's queries */
	int outstanding;
	bool oom;                      /* a parameter could not be copied */
	int stage;                     /* free for the op's own use */
};

/* A new op of `size` bytes (>= sizeof(struct pg_op), the base first) in a
 * fresh arena.  NULL on OOM. */
struct pg_op *pg_op_new(struct pg_store *s, size_t size, const struct pg_op_type *type);
#define PG_OP_NEW(s, T, type) ((T *)pg_op_new((s), sizeof(T), (type)))
void pg_op_free(struct pg_op *op);

/* Copies into the op's arena; NULL stays NULL.  A failure sets op->oom. */
char *pg_op_strdup(struct pg_op *op, const char *str);
/* Add a query of the next step on `shard`; NULL (and op->oom) on OOM. */
struct pg_query *pg_op_query(struct pg_op *op, size_t shard, int stmt);
/* Parameters, in order.  Strings are copied (NULL: SQL NULL). */
void pg_q_str(struct pg_query *q, const char *v);
void pg_q_i64(struct pg_query *q, int64_t v);
void pg_q_int(struct pg_query *q, int v);
void pg_q_bool(struct pg_query *q, bool v);
/* Array literals: text[] of v[0..n) and bigint[] of v[0..n). */
void pg_q_text_array(struct pg_query *q, const char *const *v, size_t n);
void pg_q_i64_array(struct pg_query *q, const int64_t *v, size_t n);

/* From the storage op itself: send the queries added.  CHATD_OK, or a
 * negative status (the op is freed, its callback never called). */
int pg_op_start(struct pg_op *op);
/* From a step function: send the queries added and return PG_STEP_MORE;
 * when that fails, call the op's fail and return PG_STEP_DONE. */
int pg_op_continue(struct pg_op *op);
/* From a connection: q has its result (q->status OK) or failed for good. */
void pg_query_done(struct pg_query *q);

/* ---- results ----------------------------------------------------- */

/* The value of (row, col) as text, or NULL when SQL NULL.  Valid until the
 * step returns. */
const char *pg_val(const PGresult *r, int row, int col);
int64_t pg_i64(const PGresult *r, int row, int col);   /* 0 when NULL */
bool pg_bool(const PGresult *r, int row, int col);     /* false when NULL */
/* Rows affected by an INSERT/UPDATE/DELETE. */
int64_t pg_affected(const PGresult *r);

/* Column lists (pg_sql.h) read into the ABI structs; strings point into r. */
#define PG_CONV_NCOLS 16   /* the view, then history_from (14) and created_seq (15) */
#define PG_MSG_NCOLS 16
#define PG_MEMBER_NCOLS 5
void pg_read_conv(const PGresult *r, int row, int col, struct chatd_conversation *c);
void pg_read_msg(const PGresult *r, int row, int col, struct chatd_message *m);
void pg_read_member(const PGresult *r, int row, int col, struct chatd_member *m);

/* ---- checks and ids: ../common/storage_checks.h (shared with
 * storage_sqlite) ---------------------------------------------------- */

/* ---- shard map (pg_shard.c) -------------------------------------- */

/* The shard of a conversation: jump consistent hash of FNV-1a 64 of its
 * id bytes over n shards.  Never change it: data is placed by it. */
uint64_t pg_fnv1a64(const char *s);
int32_t pg_jump_hash(uint64_t key, int32_t buckets);
size_t pg_shard_of(const struct pg_store *s, const char *conversation_id);
/* Users, sanctions, audit, moderation queue, media, direct pairs. */
#define PG_USER_SHARD 0

/* Split `list` (one DSN per line; blank lines and lines starting with '#'
 * ignored; surrounding blanks trimmed) into at most max malloc'ed strings
 * in out[].  Returns the count (>= 0), or -1 on OOM, -2 when more than
 * max. */
int pg_split_dsns(const char *list, char **out, int max);
/* "user@host:port/dbname" of a DSN, never its password: into buf. */
void pg_dsn_label(const char *dsn, char *buf, size_t len);

#endif
