/* rconn.c — see rconn.h. */
#include "rconn.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCHDOG_MS 100

struct req {
	struct req *next, *prev;
	struct rconn *rc;
	rconn_reply_fn fn;
	void *arg;
	int64_t sent_ms;
};

struct rconn {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	char *name, *addr, *password;
	int port;
	int64_t timeout_ms;
	rconn_state_fn on_state;
	void *arg;
	redisAsyncContext *ac;
	chatd_io_id io;
	unsigned events;
	bool up, freeing;
	unsigned attempt;
	chatd_timer_id retry_timer, watchdog, drop_timer;
	struct req *oldest, *newest;   /* timed commands in flight, FIFO */
};

static void log_rc(struct rconn *rc, int level, const char *event, const char *what)
{
	rc->host->log(rc->h, level, event, "redis %s connection to %s:%d: %s", rc->name, rc->addr,
		      rc->port, what);
}

/* ---- the event adapter ---- */

static void io_fire(void *arg, int fd, unsigned ready)
{
	(void)fd;
	struct rconn *rc = arg;
	redisAsyncContext *ac = rc->ac;
	if (ac && (ready & CHATD_IO_READ))
		redisAsyncHandleRead(ac);
	if (ac && rc->ac == ac && (ready & CHATD_IO_WRITE))
		redisAsyncHandleWrite(ac);
}

static void ev_update(struct rconn *rc, unsigned events)
{
	rc->events = events;
	if (rc->io)
		(void)rc->host->io_set(rc->h, rc->io, events);
}

static void ev_add_read(void *p) { struct rconn *rc = p; ev_update(rc, rc->events | CHATD_IO_READ); }
static void ev_del_read(void *p) { struct rconn *rc = p; ev_update(rc, rc->events & ~CHATD_IO_READ); }
static void ev_add_write(void *p) { struct rconn *rc = p; ev_update(rc, rc->events | CHATD_IO_WRITE); }
static void ev_del_write(void *p) { struct rconn *rc = p; ev_update(rc, rc->events & ~CHATD_IO_WRITE); }

static void ev_cleanup(void *p)
{
	struct rconn *rc = p;
	if (rc->io)
		rc->host->io_remove(rc->h, rc->io);
	rc->io = 0;
	rc->events = 0;
}

/* ---- connecting ---- */

static void connect_now(void *arg);

static void set_state(struct rconn *rc, bool up)
{
	if (rc->up == up)
		return;
	rc->up = up;
	if (rc->on_state)
		rc->on_state(rc->arg, up);
}

static void schedule_retry(struct rconn *rc)
{
	if (rc->freeing || rc->retry_timer)
		return;
	uint64_t d = BACKOFF_MIN_MS;
	for (unsigned i = 0; i < rc->attempt && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	d = d / 2 + (uint64_t)random() % (d / 2 + 1);
	rc->attempt++;
	rc->retry_timer = rc->host->timer_add(rc->h, d, false, connect_now, rc);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn *rc = ac->data;
	(void)status;
	rc->ac = NULL;
	if (rc->freeing)
		return;
	log_rc(rc, CHATD_LOG_WARN, "redis.disconnected", ac->errstr[0] ? ac->errstr : "closed");
	set_state(rc, false);
	schedule_retry(rc);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *rc = ac->data;
	if (status == REDIS_OK)
		return; /* up once the probe's PONG comes */
	rc->ac = NULL; /* hiredis frees it after this returns */
	if (rc->freeing)
		return;
	if (rc->attempt <= 1)
		log_rc(rc, CHATD_LOG_WARN, "redis.connect_failed", ac->errstr);
	set_state(rc, false);
	schedule_retry(rc);
}

static void drop_later(void *arg);

static void on_probe(void *arg, redisReply *r)
{
	struct rconn *rc = arg;
	if (!r)
		return; /* the disconnect path retries */
	if (r->type == REDIS_REPLY_ERROR) {
		/* NOAUTH, a wrong password, LOADING: drop it and retry later */
		if (rc->attempt <= 1)
			log_rc(rc, CHATD_LOG_WARN, "redis.refused", r->str);
		if (!rc->drop_timer)
			rc->drop_timer = rc->host->timer_add(rc->h, 0, false, drop_later, rc);
		return;
	}
	if (rc->attempt > 1 || !rc->up)
		log_rc(rc, CHATD_LOG_INFO, "redis.connected", "up");
	rc->attempt = 0;
	set_state(rc, true);
}

static int send_timed(struct rconn *rc, rconn_reply_fn fn, void *arg, int argc,
		      const char **argv, const size_t *argvlen);

static void ignore_reply(void *arg, redisReply *r)
{
	(void)arg;
	(void)r; /* an AUTH error shows in the probe that follows */
}

static void connect_now(void *arg)
{
	struct rconn *rc = arg;
	rc->retry_timer = 0;
	if (rc->freeing || rc->ac)
		return;
	redisAsyncContext *ac = redisAsyncConnect(rc->addr, rc->port);
	if (!ac) {
		schedule_retry(rc);
		return;
	}
	if (ac->err) {
		if (rc->attempt <= 1)
			log_rc(rc, CHATD_LOG_WARN, "redis.connect_failed", ac->errstr);
		redisAsyncFree(ac);
		schedule_retry(rc);
		return;
	}
	ac->data = rc;
	ac->ev.data = rc;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	rc->events = 0;
	rc->io = rc->host->io_add(rc->h, ac->c.fd, 0, io_fire, rc);
	if (!rc->io) {
		ac->ev.cleanup = NULL;
		redisAsyncFree(ac);
		schedule_retry(rc);
		return;
	}
	rc->ac = ac;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (rc->password && *rc->password) {
		const char *auth[] = { "AUTH", rc->password };
		size_t alen[] = { 4, strlen(rc->password) };
		(void)send_timed(rc, ignore_reply, rc, 2, auth, alen);
	}
	/* The connect completes on the first write: a probe says when. */
	const char *ping = "PING";
	size_t plen = 4;
	(void)send_timed(rc, on_probe, rc, 1, &ping, &plen);
}

/* ---- commands ---- */

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct req *q = privdata;
	struct rconn *rc = q->rc;
	if (q->prev)
		q->prev->next = q->next;
	else
		rc->oldest = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		rc->newest = q->prev;
	q->fn(q->arg, reply);
	free(q);
}

static int send_timed(struct rconn *rc, rconn_reply_fn fn, void *arg, int argc,
		      const char **argv, const size_t *argvlen)
{
	struct req *q = calloc(1, sizeof *q);
	if (!q)
		return CHATD_ERR_NOMEM;
	q->rc = rc;
	q->fn = fn;
	q->arg = arg;
	q->sent_ms = rc->host->now_ms();
	if (redisAsyncCommandArgv(rc->ac, on_reply, q, argc, argv, argvlen) != REDIS_OK) {
		free(q);
		return CHATD_ERR_UNAVAILABLE;
	}
	q->prev = rc->newest;
	if (rc->newest)
		rc->newest->next = q;
	else
		rc->oldest = q;
	rc->newest = q;
	return CHATD_OK;
}

int rconn_cmd(struct rconn *rc, rconn_reply_fn fn, void *arg, int argc, const char **argv,
	      const size_t *argvlen)
{
	if (!rc->ac || !rc->up)
		return CHATD_ERR_UNAVAILABLE;
	return send_timed(rc, fn, arg, argc, argv, argvlen);
}

int rconn_subscribe(struct rconn *rc, redisCallbackFn *fn, void *privdata, int argc,
		    const char **argv, const size_t *argvlen)
{
	if (!rc->ac || !rc->up)
		return CHATD_ERR_UNAVAILABLE;
	return redisAsyncCommandArgv(rc->ac, fn, privdata, argc, argv, argvlen) == REDIS_OK
		       ? CHATD_OK
		       : CHATD_ERR_UNAVAILABLE;
}

bool rconn_up(const struct rconn *rc)
{
	return rc && rc->ac && rc->up;
}

/* Drop the connection (every pending callback gets NULL), reconnect
 * with backoff.  Never from inside a hiredis callback. */
static void drop(struct rconn *rc)
{
	/* Down before the pending callbacks run (a command they send is
	 * refused at once). */
	set_state(rc, false);
	redisAsyncContext *ac = rc->ac;
	rc->ac = NULL;
	redisAsyncFree(ac); /* callbacks get NULL; on_disconnect if it was connected */
	schedule_retry(rc);
}

static void drop_later(void *arg)
{
	struct rconn *rc = arg;
	rc->drop_timer = 0;
	if (rc->ac && !rc->up)
		drop(rc);
}

/* A hung server answers nothing: drop the connection. */
static void watchdog(void *arg)
{
	struct rconn *rc = arg;
	if (!rc->ac || !rc->oldest ||
	    rc->host->now_ms() - rc->oldest->sent_ms <= rc->timeout_ms)
		return;
	log_rc(rc, CHATD_LOG_WARN, "redis.timeout", "no answer in time; reconnecting");
	drop(rc);
}

struct rconn *rconn_new(const struct chatd_host *host, chatd_plugin_handle *h,
			const struct rconn_opts *o)
{
	struct rconn *rc = calloc(1, sizeof *rc);
	if (!rc)
		return NULL;
	rc->host = host;
	rc->h = h;
	rc->name = strdup(o->name);
	rc->addr = strdup(o->host);
	rc->password = o->password ? strdup(o->password) : NULL;
	rc->port = o->port;
	rc->timeout_ms = o->timeout_ms;
	rc->on_state = o->on_state;
	rc->arg = o->arg;
	rc->watchdog = host->timer_add(h, WATCHDOG_MS, true, watchdog, rc);
	if (!rc->name || !rc->addr || !rc->watchdog || (o->password && !rc->password)) {
		if (rc->watchdog)
			host->timer_cancel(h, rc->watchdog);
		free(rc->name);
		free(rc->addr);
		free(rc->password);
		free(rc);
		return NULL;
	}
	connect_now(rc);
	return rc;
}

void rconn_free(struct rconn *rc)
{
	if (!rc)
		return;
	rc->freeing = true;
	if (rc->retry_timer)
		rc->host->timer_cancel(rc->h, rc->retry_timer);
	if (rc->drop_timer)
		rc->host->timer_cancel(rc->h, rc->drop_timer);
	rc->host->timer_cancel(rc->h, rc->watchdog);
	redisAsyncContext *ac = rc->ac;
	rc->up = false;
	rc->ac = NULL;
	if (ac)
		redisAsyncFree(ac); /* callbacks get NULL; a command they send is refused */
	free(rc->name);
	free(rc->addr);
	free(rc->password);
	free(rc);
}

void rconn_opts_from_config(const struct chatd_host *host, chatd_plugin_handle *h,
			    struct rconn_opts *o, const char **prefix)
{
	int64_t port = 6379, timeout = 1000;
	o->host = "127.0.0.1";
	o->password = NULL;
	*prefix = "chatd:";
	(void)host->config_string(h, "host", &o->host);
	(void)host->config_string(h, "password", &o->password);
	(void)host->config_string(h, "prefix", prefix);
	(void)host->config_int(h, "port", &port);
	(void)host->config_int(h, "timeout_ms", &timeout);
	o->port = (int)port;
	o->timeout_ms = timeout;
}
