/* pg_conn.h — one connection to one shard, driven without a thread of its
 * own: libpq non-blocking in pipeline mode, its socket watched on the core
 * loop (host io_add).
 *
 * Queries queue until the end of the loop pass, then go out in batches of
 * up to batch_max, each closed by one PQpipelineSync: one batch is one
 * transaction, so one commit (group commit).  At most pipeline_depth
 * batches are in flight; under load the queue grows and batches with it.
 * A query's result counts only once its batch's sync arrived without an
 * error.  When a statement fails, PostgreSQL rolls the whole batch back:
 * the failing query gets its error and every other query of the batch is
 * sent again in a batch of its own (so one op's failure never undoes
 * another's write); a deadlock or serialization failure is retried the
 * same way (3 times).
 *
 * Connection loss (a read, write or protocol error, or a batch older than
 * op_timeout_ms): every query in flight or queued fails with
 * CHATD_ERR_UNAVAILABLE — its write may or may not have committed, never
 * reported as done — and reconnection starts, with an exponential,
 * jittered backoff between reconnect_min_ms and reconnect_max_ms.  While
 * not connected, new queries are refused (UNAVAILABLE). */
#ifndef PG_CONN_H
#define PG_CONN_H

#include "pg_store.h"

/* Blocking, at start-up: connect to `dsn`, apply (or with migrate false,
 * only check) the schema, prepare every statement, then switch to
 * non-blocking pipeline mode and watch the socket.  CHATD_OK with *out,
 * or a negative status after logging why (CHATD_ERR_ABI: the database's
 * schema is newer than this plugin). */
int pg_conn_open(struct pg_store *s, size_t index, const char *dsn, bool migrate,
		 struct pg_conn **out);
/* Fini: send what is queued, wait (at most op_timeout_ms) for every batch
 * in flight, drop completions (s->stopping is set), close, free. */
void pg_conn_close(struct pg_conn *c);

/* Queries are accepted (connected, or finishing the set-up of a new
 * connection). */
bool pg_conn_accepting(const struct pg_conn *c);
/* Connected and set up: what health() reports. */
bool pg_conn_ready(const struct pg_conn *c);
/* Queue q (the connection must be accepting). */
void pg_conn_submit(struct pg_conn *c, struct pg_query *q);
/* Periodic (the store's tick): timeouts, reconnection. */
void pg_conn_tick(struct pg_conn *c);
/* "user@host:port/dbname", for logs. */
const char *pg_conn_label(const struct pg_conn *c);

#endif
