/* pg_conn.c — one shard's connection (see pg_conn.h).
 *
 * States: DOWN (waiting to reconnect), CONNECTING (PQconnectPoll),
 * SETUP (connected; the statements are being prepared in the first batch,
 * queries already queue behind it), READY.  In SETUP and READY the socket
 * is always watched for reading, and for writing while libpq has unsent
 * bytes (PQflush returned 1).
 *
 * Results come in pipeline order: for each query one result then NULL;
 * for each batch's sync one PGRES_PIPELINE_SYNC.  A batch is resolved at
 * its sync: without an error every query is done; with one, PostgreSQL
 * rolled the whole transaction back (pg_conn.h says what happens then). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "pg_conn.h"
#include "pg_sql.h"

enum pg_state { PG_DOWN, PG_CONNECTING, PG_SETUP, PG_READY };

struct pg_batch {
	struct pg_batch *next;
	struct pg_query *head, *tail;  /* linked by next */
	struct pg_query *cur;          /* the query whose result comes next; NULL: the sync */
	bool cur_answered;             /* cur's result came (its NULL has not) */
	bool failed;                   /* a statement of the batch failed */
	bool setup;                    /* the set-up batch: its queries are malloc'ed */
	int64_t sent_ms;
};

struct pg_conn {
	struct pg_store *s;
	size_t index;
	char *dsn;
	char label[192];
	PGconn *pg;
	enum pg_state state;
	chatd_io_id io;
	int io_fd;
	unsigned io_events;
	struct pg_query *pend_head, *pend_tail;
	struct pg_batch *fly_head, *fly_tail;
	int n_fly;
	chatd_timer_id flush_timer;
	int64_t backoff_ms, retry_at, connect_started;
	bool down_logged;              /* the outage was logged (once per outage) */
};

static void conn_lost(struct pg_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_flush(struct pg_conn *c);

const char *pg_conn_label(const struct pg_conn *c)
{
	return c->label;
}

bool pg_conn_accepting(const struct pg_conn *c)
{
	return c->state == PG_SETUP || c->state == PG_READY;
}

bool pg_conn_ready(const struct pg_conn *c)
{
	return c->state == PG_READY;
}

/* libpq messages end with a newline; logs want one line. */
static void one_line(char *buf, size_t len, const char *msg)
{
	snprintf(buf, len, "%s", msg && *msg ? msg : "(no message)");
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

/* Server notices ("relation already exists, skipping", ...) go to the log
 * at debug level, not to stderr (libpq's default). */
static void on_notice(void *arg, const char *message)
{
	struct pg_conn *c = arg;
	char msg[512];
	one_line(msg, sizeof msg, message);
	c->s->host->log(c->s->h, CHATD_LOG_DEBUG, "pg.notice", "shard %zu: %s", c->index, msg);
}

/* ---- the socket watch ---------------------------------------------- */

static void on_io(void *arg, int fd, unsigned ready);

static void watch(struct pg_conn *c, unsigned events)
{
	int fd = c->pg ? PQsocket(c->pg) : -1;
	if (c->io && fd != c->io_fd) {
		c->s->host->io_remove(c->s->h, c->io);
		c->io = 0;
	}
	if (fd < 0)
		return;
	if (!c->io) {
		c->io = c->s->host->io_add(c->s->h, fd, events, on_io, c);
		c->io_fd = fd;
		c->io_events = events;
		return;
	}
	if (events != c->io_events) {
		c->s->host->io_set(c->s->h, c->io, events);
		c->io_events = events;
	}
}

static void unwatch(struct pg_conn *c)
{
	if (c->io)
		c->s->host->io_remove(c->s->h, c->io);
	c->io = 0;
	c->io_fd = -1;
	c->io_events = 0;
}

/* ---- failing and finishing queries ---------------------------------- */

static void free_batch(struct pg_batch *b)
{
	if (b->setup) {
		struct pg_query *q = b->head;
		while (q) {
			struct pg_query *n = q->next;
			if (q->res)
				PQclear(q->res);
			free(q);
			q = n;
		}
	}
	free(b);
}

/* Complete every query of the list with `status` (their writes may have
 * committed or not: the caller cannot know, so it is never success). */
static void fail_list(struct pg_query *q, int status)
{
	while (q) {
		struct pg_query *n = q->next;
		if (q->res) {
			PQclear(q->res);
			q->res = NULL;
		}
		q->next = NULL;
		q->status = status;
		pg_query_done(q);
		q = n;
	}
}

static void schedule_retry(struct pg_conn *c)
{
	struct pg_store *s = c->s;
	/* Jitter: a random delay in [backoff/2, backoff], so nodes that lost
	 * the same server do not all come back in the same millisecond. */
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint32_t)pg_mono_ms();
	int64_t half = c->backoff_ms / 2;
	int64_t delay = half + (half > 0 ? (int64_t)(r % (uint32_t)(half + 1)) : 0);
	c->retry_at = pg_mono_ms() + delay;
	c->backoff_ms *= 2;
	if (c->backoff_ms > s->reconnect_max_ms)
		c->backoff_ms = s->reconnect_max_ms;
}

/* Close the connection, fail everything queued or in flight with
 * UNAVAILABLE and schedule a reconnection. */
static void conn_lost(struct pg_conn *c, const char *fmt, ...)
{
	struct pg_store *s = c->s;
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	bool was_up = c->state == PG_READY || c->state == PG_SETUP;
	if (was_up || !c->down_logged)
		s->host->log(s->h, CHATD_LOG_WARN, was_up ? "pg.lost" : "pg.connect_failed",
			     "shard %zu (%s): %s; reconnecting", c->index, c->label, why);
	c->down_logged = true;
	unwatch(c);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	c->state = PG_DOWN;
	if (c->flush_timer) {
		s->host->timer_cancel(s->h, c->flush_timer);
		c->flush_timer = 0;
	}
	schedule_retry(c);
	/* Detach first: completions may submit (refused now: DOWN). */
	struct pg_batch *b = c->fly_head;
	struct pg_query *p = c->pend_head;
	c->fly_head = c->fly_tail = NULL;
	c->pend_head = c->pend_tail = NULL;
	c->n_fly = 0;
	int64_t n = 0;
	while (b) {
		struct pg_batch *nb = b->next;
		if (!b->setup) {
			for (struct pg_query *q = b->head; q; q = q->next)
				n++;
			fail_list(b->head, CHATD_ERR_UNAVAILABLE);
			b->head = NULL;
		}
		free_batch(b);
		b = nb;
	}
	for (struct pg_query *q = p; q; q = q->next)
		n++;
	fail_list(p, CHATD_ERR_UNAVAILABLE);
	pg_metric(s, s->m_unavailable, n);
}

/* SQLSTATE classes that mean "try again": the transaction lost a race. */
static bool retryable(const char *state)
{
	return state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/* A failed statement's SQLSTATE as a chatd status. */
static int map_state(const char *state)
{
	if (!state)
		return CHATD_ERR_IO;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57", 2) == 0 || strncmp(state, "40", 2) == 0 ||
	    strcmp(state, "55P03") == 0)   /* connection, resources, shutdown, lock timeout */
		return CHATD_ERR_UNAVAILABLE;
	if (strncmp(state, "22", 2) == 0)
		return CHATD_ERR_INVALID;
	if (strncmp(state, "23", 2) == 0)
		return CHATD_ERR_EXISTS;
	return CHATD_ERR_IO;
}

/* Put queries back at the head of the queue, in order, each to run in a
 * batch of its own. */
static void requeue_solo(struct pg_conn *c, struct pg_query *head, struct pg_query *tail)
{
	if (!head)
		return;
	for (struct pg_query *q = head; q; q = q->next)
		q->solo = true;
	tail->next = c->pend_head;
	c->pend_head = head;
	if (!c->pend_tail)
		c->pend_tail = tail;
}

static void setup_done(struct pg_conn *c, struct pg_batch *b)
{
	struct pg_store *s = c->s;
	char msg[512] = "";
	for (struct pg_query *q = b->head; q; q = q->next) {
		ExecStatusType st = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			one_line(msg, sizeof msg, q->res ? PQresultErrorMessage(q->res) : "no result");
			break;
		}
		if (q->stmt == PG_SCHEMA_CHECK && pg_i64(q->res, 0, 0) != PG_SCHEMA_VERSION) {
			snprintf(msg, sizeof msg, "schema version is %lld, this chatd needs %d",
				 (long long)pg_i64(q->res, 0, 0), PG_SCHEMA_VERSION);
			break;
		}
	}
	free_batch(b);
	if (msg[0]) {
		s->host->log(s->h, CHATD_LOG_ERROR, "pg.setup_failed", "shard %zu (%s): %s",
			     c->index, c->label, msg);
		conn_lost(c, "set-up failed");
		return;
	}
	c->state = PG_READY;
	c->backoff_ms = s->reconnect_min_ms;
	c->down_logged = false;
	s->host->log(s->h, CHATD_LOG_INFO, "pg.reconnected", "shard %zu (%s): connected again",
		     c->index, c->label);
}

/* The batch's sync came: resolve it. */
static void batch_done(struct pg_conn *c, struct pg_batch *b)
{
	struct pg_store *s = c->s;
	if (b->setup) {
		setup_done(c, b);
		return;
	}
	if (!b->failed) {
		pg_metric(s, s->m_batches, 1);
		struct pg_query *q = b->head;
		b->head = NULL;
		free_batch(b);
		while (q) {
			struct pg_query *n = q->next;
			q->next = NULL;
			q->status = CHATD_OK;
			pg_query_done(q);
			q = n;
		}
		return;
	}
	/* Rolled back.  The failing statement gets its error, unless it lost
	 * a race (deadlock, serialization): then it runs again like the
	 * others, alone. */
	struct pg_query *again = NULL, *again_tail = NULL, *failed = NULL, *failed_tail = NULL;
	struct pg_query *q = b->head;
	b->head = NULL;
	free_batch(b);
	while (q) {
		struct pg_query *n = q->next;
		q->next = NULL;
		ExecStatusType st = q->res ? PQresultStatus(q->res) : PGRES_PIPELINE_ABORTED;
		bool culprit = st == PGRES_FATAL_ERROR;
		const char *state = culprit ? PQresultErrorField(q->res, PG_DIAG_SQLSTATE) : NULL;
		if (culprit && !(retryable(state) && q->retries < 3)) {
			/* The primary message only: DETAIL may quote stored values. */
			char msg[512];
			one_line(msg, sizeof msg, PQresultErrorField(q->res, PG_DIAG_MESSAGE_PRIMARY));
			s->host->log(s->h, CHATD_LOG_ERROR, "pg.query_failed",
				     "shard %zu: %s (%s): SQLSTATE %s: %s", c->index, q->op->type->name,
				     pg_stmt_name(q->stmt), state ? state : "?", msg);
			pg_metric(s, s->m_errors, 1);
			q->status = map_state(state);
			PQclear(q->res);
			q->res = NULL;
			if (failed_tail)
				failed_tail->next = q;
			else
				failed = q;
			failed_tail = q;
		} else {
			if (culprit) {
				q->retries++;
				pg_metric(s, s->m_retries, 1);
			} else {
				pg_metric(s, s->m_reruns, 1);
			}
			if (q->res)
				PQclear(q->res);
			q->res = NULL;
			if (again_tail)
				again_tail->next = q;
			else
				again = q;
			again_tail = q;
		}
		q = n;
	}
	requeue_solo(c, again, again_tail);
	while (failed) {
		struct pg_query *n = failed->next;
		failed->next = NULL;
		pg_query_done(failed);
		failed = n;
	}
}

/* ---- reading -------------------------------------------------------- */

static void conn_read(struct pg_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		char msg[512];
		one_line(msg, sizeof msg, PQerrorMessage(c->pg));
		conn_lost(c, "%s", msg);
		return;
	}
	int nulls = 0;
	while (c->fly_head && !PQisBusy(c->pg)) {
		struct pg_batch *b = c->fly_head;
		PGresult *r = PQgetResult(c->pg);
		if (!r) {
			if (b->cur && b->cur_answered) {
				b->cur = b->cur->next;
				b->cur_answered = false;
				continue;
			}
			/* A NULL we did not expect: skip one (what follows may
			 * already be buffered, and no socket event would come
			 * for it); two in a row mean nothing more for now. */
			if (++nulls == 2)
				break;
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			if (b->cur) {
				conn_lost(c, "protocol: sync before every result of the batch");
				return;
			}
			c->fly_head = b->next;
			if (!c->fly_head)
				c->fly_tail = NULL;
			c->n_fly--;
			enum pg_state before = c->state;
			batch_done(c, b);
			if (c->state != before && c->state == PG_DOWN)
				return;   /* the set-up failed: lost */
			if (!c->pg)
				return;
			continue;
		}
		if (!b->cur || b->cur_answered) {
			PQclear(r);   /* a second result for one query: not ours */
			if (!b->cur) {
				conn_lost(c, "protocol: a result after the batch's last query");
				return;
			}
			continue;
		}
		b->cur->res = r;
		b->cur_answered = true;
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
			b->failed = true;
	}
	if (c->pg && PQstatus(c->pg) == CONNECTION_BAD)
		conn_lost(c, "connection closed");
}

/* ---- writing -------------------------------------------------------- */

static void update_watch(struct pg_conn *c)
{
	int f = PQflush(c->pg);
	if (f < 0) {
		char msg[512];
		one_line(msg, sizeof msg, PQerrorMessage(c->pg));
		conn_lost(c, "write: %s", msg);
		return;
	}
	watch(c, CHATD_IO_READ | (f == 1 ? CHATD_IO_WRITE : 0));
}

static void flush_task(void *arg)
{
	struct pg_conn *c = arg;
	c->flush_timer = 0;
	conn_flush(c);
}

static void schedule_flush(struct pg_conn *c)
{
	if (c->flush_timer)
		return;
	/* At the end of this loop pass: what the pass queued goes in one batch. */
	c->flush_timer = c->s->host->timer_add(c->s->h, 0, false, flush_task, c);
	if (!c->flush_timer)
		conn_flush(c);
}

/* Send queued queries in batches while fewer than pipeline_depth are in
 * flight (all of them when the store is stopping). */
static void conn_flush(struct pg_conn *c)
{
	struct pg_store *s = c->s;
	if (!pg_conn_accepting(c))
		return;
	while (c->pend_head && (c->n_fly < s->pipeline_depth || s->stopping)) {
		struct pg_batch *b = calloc(1, sizeof *b);
		if (!b) {
			conn_lost(c, "out of memory");
			return;
		}
		int n = 0;
		while (c->pend_head && n < s->batch_max) {
			struct pg_query *q = c->pend_head;
			if (q->solo && n > 0)
				break;
			c->pend_head = q->next;
			if (!c->pend_head)
				c->pend_tail = NULL;
			q->next = NULL;
			if (b->tail)
				b->tail->next = q;
			else
				b->head = q;
			b->tail = q;
			n++;
			if (q->solo)
				break;
		}
		b->cur = b->head;
		b->sent_ms = pg_mono_ms();
		if (c->fly_tail)
			c->fly_tail->next = b;
		else
			c->fly_head = b;
		c->fly_tail = b;
		c->n_fly++;
		for (struct pg_query *q = b->head; q; q = q->next) {
			if (!PQsendQueryPrepared(c->pg, pg_stmt_name(q->stmt), q->nparams, q->params,
						 NULL, NULL, 0)) {
				char msg[512];
				one_line(msg, sizeof msg, PQerrorMessage(c->pg));
				conn_lost(c, "send: %s", msg);
				return;
			}
		}
		if (!PQpipelineSync(c->pg)) {
			char msg[512];
			one_line(msg, sizeof msg, PQerrorMessage(c->pg));
			conn_lost(c, "sync: %s", msg);
			return;
		}
		pg_metric(s, s->m_queries, n);
	}
	update_watch(c);
}

void pg_conn_submit(struct pg_conn *c, struct pg_query *q)
{
	q->next = NULL;
	q->res = NULL;
	q->status = CHATD_OK;
	if (c->pend_tail)
		c->pend_tail->next = q;
	else
		c->pend_head = q;
	c->pend_tail = q;
	schedule_flush(c);
}

/* ---- connecting ------------------------------------------------------ */

static const char *const conn_keys[] = { "connect_timeout", "application_name", "dbname", NULL };

/* Prepare every statement and check the schema version, as the first
 * batch of a new connection. */
static int send_setup(struct pg_conn *c)
{
	struct pg_batch *b = calloc(1, sizeof *b);
	if (!b)
		return CHATD_ERR_NOMEM;
	b->setup = true;
	for (int i = 0; i <= PG_STMT_COUNT; i++) {
		struct pg_query *q = calloc(1, sizeof *q);
		if (!q) {
			free_batch(b);
			return CHATD_ERR_NOMEM;
		}
		q->stmt = i < PG_STMT_COUNT ? -1 : PG_SCHEMA_CHECK;   /* -1: a prepare */
		if (b->tail)
			b->tail->next = q;
		else
			b->head = q;
		b->tail = q;
		int ok = i < PG_STMT_COUNT
			? PQsendPrepare(c->pg, pg_stmt_name(i), pg_stmt_sql(i), 0, NULL)
			: PQsendQueryPrepared(c->pg, pg_stmt_name(PG_SCHEMA_CHECK), 0, NULL, NULL,
					      NULL, 0);
		if (!ok) {
			free_batch(b);
			return CHATD_ERR_IO;
		}
	}
	if (!PQpipelineSync(c->pg)) {
		free_batch(b);
		return CHATD_ERR_IO;
	}
	b->cur = b->head;
	b->sent_ms = pg_mono_ms();
	/* In front of everything: nothing was in flight. */
	c->fly_head = c->fly_tail = b;
	c->n_fly = 1;
	return CHATD_OK;
}

static void connected(struct pg_conn *c)
{
	struct pg_store *s = c->s;
	PQsetNoticeProcessor(c->pg, on_notice, c);
	if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg) ||
	    send_setup(c) != CHATD_OK) {
		char msg[512];
		one_line(msg, sizeof msg, PQerrorMessage(c->pg));
		conn_lost(c, "set-up: %s", msg);
		return;
	}
	c->state = PG_SETUP;
	pg_metric(s, s->m_reconnects, 1);
	update_watch(c);
}

static void connect_poll(struct pg_conn *c)
{
	PostgresPollingStatusType p = PQconnectPoll(c->pg);
	switch (p) {
	case PGRES_POLLING_READING:
		watch(c, CHATD_IO_READ);
		break;
	case PGRES_POLLING_WRITING:
		watch(c, CHATD_IO_WRITE);
		break;
	case PGRES_POLLING_OK:
		connected(c);
		break;
	default: {
		char msg[512];
		one_line(msg, sizeof msg, PQerrorMessage(c->pg));
		conn_lost(c, "%s", msg);
		break;
	}
	}
}

static void connect_start(struct pg_conn *c)
{
	char timeout[24];
	snprintf(timeout, sizeof timeout, "%lld",
		 (long long)((c->s->connect_timeout_ms + 999) / 1000));
	const char *vals[] = { timeout, "chatd", c->dsn, NULL };
	c->pg = PQconnectStartParams(conn_keys, vals, 1);
	c->connect_started = pg_mono_ms();
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	c->state = PG_CONNECTING;
	watch(c, CHATD_IO_WRITE);
}

static void on_io(void *arg, int fd, unsigned ready)
{
	struct pg_conn *c = arg;
	(void)fd;
	switch (c->state) {
	case PG_CONNECTING:
		connect_poll(c);
		return;
	case PG_SETUP:
	case PG_READY:
		if (ready & CHATD_IO_READ)
			conn_read(c);
		if (c->pg)
			conn_flush(c);   /* more may go now; also writes what waited */
		return;
	default:
		unwatch(c);
		return;
	}
}

void pg_conn_tick(struct pg_conn *c)
{
	struct pg_store *s = c->s;
	int64_t now = pg_mono_ms();
	switch (c->state) {
	case PG_DOWN:
		if (now >= c->retry_at && !s->stopping)
			connect_start(c);
		break;
	case PG_CONNECTING:
		if (now - c->connect_started > s->connect_timeout_ms)
			conn_lost(c, "connect timed out after %lld ms", (long long)s->connect_timeout_ms);
		break;
	default:
		if (c->fly_head && now - c->fly_head->sent_ms > s->op_timeout_ms) {
			pg_metric(s, s->m_timeouts, 1);
			s->host->log(s->h, CHATD_LOG_WARN, "pg.timeout",
				     "shard %zu (%s): no answer for %lld ms", c->index, c->label,
				     (long long)(now - c->fly_head->sent_ms));
			conn_lost(c, "timed out");
		}
		break;
	}
}

/* ---- start-up and shutdown ------------------------------------------ */

static int prepare_all(struct pg_conn *c, char *err, size_t errlen)
{
	for (int i = 0; i < PG_STMT_COUNT; i++) {
		PGresult *r = PQprepare(c->pg, pg_stmt_name(i), pg_stmt_sql(i), 0, NULL);
		if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
			char msg[400];
			one_line(msg, sizeof msg, r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
			snprintf(err, errlen, "prepare %s: %.400s", pg_stmt_name(i), msg);
			PQclear(r);
			return CHATD_ERR_INTERNAL;
		}
		PQclear(r);
	}
	return CHATD_OK;
}

int pg_conn_open(struct pg_store *s, size_t index, const char *dsn, bool migrate,
		 struct pg_conn **out)
{
	struct pg_conn *c = calloc(1, sizeof *c);
	if (!c || !(c->dsn = strdup(dsn))) {
		free(c);
		return CHATD_ERR_NOMEM;
	}
	c->s = s;
	c->index = index;
	c->io_fd = -1;
	c->backoff_ms = s->reconnect_min_ms;
	pg_dsn_label(dsn, c->label, sizeof c->label);
	char timeout[24];
	snprintf(timeout, sizeof timeout, "%lld", (long long)((s->connect_timeout_ms + 999) / 1000));
	const char *vals[] = { timeout, "chatd", c->dsn, NULL };
	c->pg = PQconnectdbParams(conn_keys, vals, 1);
	int st = CHATD_OK;
	char err[512] = "";
	if (!c->pg) {
		st = CHATD_ERR_NOMEM;
		snprintf(err, sizeof err, "out of memory");
	} else if (PQstatus(c->pg) != CONNECTION_OK) {
		one_line(err, sizeof err, PQerrorMessage(c->pg));
		s->host->log(s->h, CHATD_LOG_ERROR, "pg.connect_failed", "shard %zu (%s): %s",
			     index, c->label, err);
		st = CHATD_ERR_UNAVAILABLE;
	}
	if (st == CHATD_OK) {
		PQsetNoticeProcessor(c->pg, on_notice, c);
		int found = 0;
		st = pg_schema_apply(c->pg, migrate, PG_SCHEMA_VERSION, &found, err, sizeof err);
		if (st == CHATD_ERR_ABI)
			s->host->log(s->h, CHATD_LOG_ERROR, "pg.schema_too_new", "shard %zu (%s): %s",
				     index, c->label, err);
		else if (st < 0)
			s->host->log(s->h, CHATD_LOG_ERROR, "pg.schema_failed", "shard %zu (%s): %s",
				     index, c->label, err);
		else if (found != PG_SCHEMA_VERSION)
			s->host->log(s->h, CHATD_LOG_INFO, "pg.migrated", "shard %zu (%s): schema %d -> %d",
				     index, c->label, found, PG_SCHEMA_VERSION);
	}
	if (st == CHATD_OK && (st = prepare_all(c, err, sizeof err)) < 0)
		s->host->log(s->h, CHATD_LOG_ERROR, "pg.prepare_failed", "shard %zu (%s): %s",
			     index, c->label, err);
	if (st == CHATD_OK && (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg))) {
		one_line(err, sizeof err, PQerrorMessage(c->pg));
		s->host->log(s->h, CHATD_LOG_ERROR, "pg.connect_failed", "shard %zu (%s): %s",
			     index, c->label, err);
		st = CHATD_ERR_IO;
	}
	if (st == CHATD_OK) {
		watch(c, CHATD_IO_READ);
		if (!c->io)
			st = CHATD_ERR_NOMEM;
	}
	if (st < 0) {
		unwatch(c);
		if (c->pg)
			PQfinish(c->pg);
		free(c->dsn);
		free(c);
		return st;
	}
	c->state = PG_READY;
	s->host->log(s->h, CHATD_LOG_INFO, "pg.connected", "shard %zu (%s): connected, schema %d",
		     index, c->label, PG_SCHEMA_VERSION);
	*out = c;
	return CHATD_OK;
}

void pg_conn_close(struct pg_conn *c)
{
	struct pg_store *s = c->s;
	if (c->flush_timer) {
		s->host->timer_cancel(s->h, c->flush_timer);
		c->flush_timer = 0;
	}
	if (pg_conn_accepting(c)) {
		/* Everything queued goes out now; then wait for every batch in
		 * flight, so writes queued before fini are committed. */
		conn_flush(c);
		int64_t deadline = pg_mono_ms() + s->op_timeout_ms;
		while (c->pg && c->fly_head) {
			int64_t left = deadline - pg_mono_ms();
			if (left <= 0) {
				s->host->log(s->h, CHATD_LOG_WARN, "pg.close_timeout",
					     "shard %zu (%s): batches still unanswered at shutdown",
					     c->index, c->label);
				break;
			}
			struct pollfd p = { .fd = PQsocket(c->pg),
					    .events = POLLIN | (c->io_events & CHATD_IO_WRITE ? POLLOUT : 0) };
			int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
			if (n < 0 && errno != EINTR)
				break;
			if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)))
				conn_read(c);
			if (c->pg)
				conn_flush(c);
		}
	}
	/* What is left (no answer in time, or queued while down) fails;
	 * s->stopping drops the completions. */
	if (c->pg || c->fly_head || c->pend_head) {
		bool logged = c->down_logged;
		c->down_logged = true;   /* no "lost" line for a shutdown */
		if (c->state == PG_READY || c->state == PG_SETUP)
			c->state = PG_CONNECTING;
		conn_lost(c, "closing");
		c->down_logged = logged;
	}
	unwatch(c);
	if (c->pg)
		PQfinish(c->pg);
	free(c->dsn);
	free(c);
}
