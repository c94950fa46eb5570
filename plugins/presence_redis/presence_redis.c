/* presence_redis — presence shared by every node through Redis (ABI 1.4:
 * locate and session_up_ready).  Keys, channel and scripts:
 * presence_scripts.h; the whole design: docs/scaling.md, "Presence".
 *
 * This node keeps a count of sessions per local user.  A user's first
 * session here adds this node to the user's sorted set in Redis (score:
 * expiry); a heartbeat every ttl_ms/3 refreshes every local user's entry
 * and the node's liveness, and sweeps nodes whose liveness expired (their
 * users go offline).  So a node that dies stops being located within
 * ttl_ms, and its users are reported offline within about 4/3 ttl_ms.
 *
 * Debounce: when a user's last session here closes, the entry is removed
 * offline_delay_ms later unless a session comes back; a user who moves to
 * another node within that time is never reported offline anywhere.
 *
 * Status changes are published on a channel by the scripts (only on a
 * real change cluster-wide) and reported through watch on every node.
 *
 * Redis down: local counts stay; session_up_ready, locate and the writes
 * fail (counted; the core delivers locally and clients recover by sync);
 * query answers from the local count; on reconnect every local user is
 * registered again, and removals that failed are sent again (a user
 * stays in the local table until Redis confirms the removal). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"
#include "presence_scripts.h"
#include "../common/user_table.h"
#include "../redis_common/rconn.h"

#define USER_MAX 64
#define CHUNK 500                 /* users per heartbeat script */

struct presence;

struct local_user {
	struct ut_entry link;         /* first: the table's view of it */
	struct presence *p;
	unsigned sessions;
	chatd_timer_id offline_timer; /* entry removal pending, 0: none */
	bool down_pending;            /* its removal failed: retried on reconnect */
	int64_t last_seen;
	char user[USER_MAX + 1];
};

struct presence {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	char node[USER_MAX + 1];
	char *prefix;
	char channel[256];
	int64_t ttl_ms, offline_delay_ms;
	struct rconn *cmd, *sub;
	struct user_table users;
	chatd_timer_id heartbeat;
	chatd_presence_change_fn watch_fn;
	void *watch_arg;
	bool stopping;
	chatd_metric_id m_changes, m_errors, m_locates, m_reregistered;
};

/* ---- the local table ---- */

static struct local_user *find(struct presence *p, const char *user)
{
	return (struct local_user *)ut_find(&p->users, user);
}

static void forget(struct presence *p, struct local_user *e)
{
	ut_remove(&p->users, &e->link);
	free(e);
}

/* ---- scripts ---- */

static void count_error(struct presence *p, redisReply *r, const char *what)
{
	p->host->metric_add(p->h, p->m_errors, 1);
	if (r && r->type == REDIS_REPLY_ERROR)
		p->host->log(p->h, CHATD_LOG_WARN, "presence.redis_error", "%s: %s", what, r->str);
}

static bool reply_ok(redisReply *r)
{
	return r && r->type != REDIS_REPLY_ERROR;
}

/* EVAL script with the given arguments (numbers as decimal text). */
static int eval(struct presence *p, const char *script, const char *const *args, size_t nargs,
		rconn_reply_fn fn, void *arg)
{
	size_t argc = 3 + nargs;
	const char *small[16];
	size_t small_len[16];
	const char **argv = argc <= 16 ? small : malloc(argc * sizeof *argv);
	size_t *lens = argc <= 16 ? small_len : malloc(argc * sizeof *lens);
	int st = CHATD_ERR_NOMEM;
	if (argv && lens) {
		argv[0] = "EVAL";
		argv[1] = script;
		argv[2] = "0";
		for (size_t i = 0; i < nargs; i++)
			argv[3 + i] = args[i];
		for (size_t i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		st = rconn_cmd(p->cmd, fn, arg, (int)argc, argv, lens);
	}
	if (argv != small)
		free(argv);
	if (lens != small_len)
		free(lens);
	return st;
}

static void on_write(void *arg, redisReply *r)
{
	struct presence *p = arg;
	if (!reply_ok(r))
		count_error(p, r, "update");
}

/* Add or refresh this node's entries of users[0..n) (n may be 0: liveness
 * only).  done(arg, reply) or on_write when NULL. */
static int send_up(struct presence *p, const char *const *users, size_t n, rconn_reply_fn done,
		   void *arg)
{
	char now[24], exp[24], ttl[24];
	int64_t t = p->host->now_ms();
	snprintf(now, sizeof now, "%lld", (long long)t);
	snprintf(exp, sizeof exp, "%lld", (long long)(t + p->ttl_ms));
	snprintf(ttl, sizeof ttl, "%lld", (long long)p->ttl_ms);
	const char *fixed[5] = { p->prefix, p->node, now, exp, ttl };
	const char **args = malloc((5 + n) * sizeof *args);
	if (!args)
		return CHATD_ERR_NOMEM;
	memcpy(args, fixed, sizeof fixed);
	memcpy(args + 5, users, n * sizeof *users);
	int st = eval(p, PR_LUA_UP, args, 5 + n, done ? done : on_write, done ? arg : p);
	free(args);
	return st;
}

struct down_req {
	struct presence *p;
	char user[USER_MAX + 1];
};

/* The entry of a user with no session here is gone from Redis: forget the
 * user, unless a session came back meanwhile. */
static void on_down(void *arg, redisReply *r)
{
	struct down_req *q = arg;
	struct presence *p = q->p;
	struct local_user *e = p->stopping ? NULL : find(p, q->user);
	if (!reply_ok(r)) {
		count_error(p, r, "session_down");
	} else if (e && e->down_pending && e->sessions == 0 && !e->offline_timer) {
		forget(p, e);
	}
	free(q);
}

/* Remove e's entry; e stays (down_pending) until Redis confirms, so a
 * failure is retried by register_all. */
static void send_down(struct presence *p, struct local_user *e)
{
	e->down_pending = true;
	struct down_req *q = calloc(1, sizeof *q);
	if (!q)
		return;
	q->p = p;
	strcpy(q->user, e->user);
	char now[24], ls[24];
	snprintf(now, sizeof now, "%lld", (long long)p->host->now_ms());
	snprintf(ls, sizeof ls, "%lld", (long long)e->last_seen);
	const char *args[] = { p->prefix, p->node, now, ls, e->user };
	if (eval(p, PR_LUA_DOWN, args, 5, on_down, q) != CHATD_OK) {
		p->host->metric_add(p->h, p->m_errors, 1);
		free(q);
	}
}

/* Every local user's entry (and the liveness), in chunks; then the sweep
 * of dead nodes. */
struct register_pass {
	struct presence *p;
	const char *chunk[CHUNK];
	size_t n;
	bool sent;
};

static void register_one(void *arg, struct ut_entry *link)
{
	struct register_pass *r = arg;
	struct local_user *e = (struct local_user *)link;
	if (e->down_pending && e->sessions == 0 && !e->offline_timer) {
		send_down(r->p, e); /* a removal that failed */
		return;
	}
	r->chunk[r->n++] = e->user;
	if (r->n == CHUNK) {
		(void)send_up(r->p, r->chunk, r->n, NULL, NULL);
		r->n = 0;
		r->sent = true;
	}
}

static void register_all(struct presence *p)
{
	struct register_pass r = { .p = p };
	ut_each(&p->users, register_one, &r);
	if (r.n || !r.sent)
		(void)send_up(p, r.chunk, r.n, NULL, NULL);
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)p->host->now_ms());
	const char *args[] = { p->prefix, now, "" };
	(void)eval(p, PR_LUA_LEAVE, args, 3, on_write, p);
}

static void on_heartbeat(void *arg)
{
	struct presence *p = arg;
	if (rconn_up(p->cmd))
		register_all(p);
}

static void on_cmd_state(void *arg, bool up)
{
	struct presence *p = arg;
	if (up && !p->stopping) {
		p->host->metric_add(p->h, p->m_reregistered, (int64_t)p->users.count);
		register_all(p);
	}
}

/* ---- watch: the status channel ---- */

static void report(struct presence *p, const char *msg, size_t len)
{
	char buf[USER_MAX + 32];
	if (len < 3 || len >= sizeof buf)
		return;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	bool online = buf[0] == '1';
	char *user = buf + 2, *sp = strchr(user, ' ');
	int64_t ls = 0;
	if (sp) {
		*sp = '\0';
		ls = strtoll(sp + 1, NULL, 10);
	}
	p->host->metric_add(p->h, p->m_changes, 1);
	if (p->watch_fn && *user)
		p->watch_fn(p->watch_arg, user, online, online ? 0 : ls);
}

static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct presence *p = privdata;
	redisReply *r = reply;
	if (!r || p->stopping || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	report(p, r->element[2]->str, r->element[2]->len);
}

static void on_sub_state(void *arg, bool up)
{
	struct presence *p = arg;
	if (!up || p->stopping)
		return;
	const char *argv[] = { "SUBSCRIBE", p->channel };
	size_t lens[] = { 9, strlen(p->channel) };
	if (rconn_subscribe(p->sub, on_message, p, 2, argv, lens) != CHATD_OK)
		p->host->log(p->h, CHATD_LOG_WARN, "presence.subscribe_failed",
			     "cannot subscribe to %s: status changes of other nodes are missed",
			     p->channel);
}

/* ---- ops ---- */

struct up_req {
	struct presence *p;
	chatd_presence_ready_fn ready;
	void *arg;
	char user[USER_MAX + 1];
};

static void on_up(void *arg, redisReply *r)
{
	struct up_req *q = arg;
	int st = CHATD_OK;
	if (!reply_ok(r)) {
		count_error(q->p, r, "session_up");
		st = CHATD_ERR_UNAVAILABLE;
	}
	if (q->ready)
		q->ready(q->arg, q->user, st);
	free(q);
}

static int up(struct presence *p, const char *user_id, chatd_presence_ready_fn ready, void *arg)
{
	if (strlen(user_id) > USER_MAX)
		return CHATD_ERR_INVALID;
	struct local_user *e = find(p, user_id);
	if (!e) {
		e = calloc(1, sizeof *e);
		if (!e)
			return CHATD_ERR_NOMEM;
		strcpy(e->user, user_id);
		e->link.user = e->user;
		e->p = p;
		ut_add(&p->users, &e->link);
	}
	e->sessions++;
	e->down_pending = false;
	if (e->offline_timer) {
		/* Back within the debounce: the entry is still there. */
		p->host->timer_cancel(p->h, e->offline_timer);
		e->offline_timer = 0;
	}
	struct up_req *q = calloc(1, sizeof *q);
	if (!q)
		return CHATD_ERR_NOMEM;
	q->p = p;
	q->ready = ready;
	q->arg = arg;
	strcpy(q->user, user_id);
	const char *u = e->user;
	int st = send_up(p, &u, 1, on_up, q);
	if (st != CHATD_OK) {
		free(q);
		p->host->metric_add(p->h, p->m_errors, 1);
	}
	return st;
}

static int session_up(void *inst, const char *user_id, uint64_t session_id)
{
	(void)session_id;
	int st = up(inst, user_id, NULL, NULL);
	/* Counted locally either way; Redis gets it on reconnect. */
	return st == CHATD_ERR_UNAVAILABLE ? CHATD_OK : st;
}

static int session_up_ready(void *inst, const char *user_id, uint64_t session_id,
			    chatd_presence_ready_fn ready, void *arg)
{
	(void)session_id;
	return up(inst, user_id, ready, arg);
}

static void offline_due(void *arg)
{
	struct local_user *e = arg;
	struct presence *p = e->p;
	e->offline_timer = 0;
	if (e->sessions > 0)
		return;
	send_down(p, e);
}

static int session_down(void *inst, const char *user_id, uint64_t session_id)
{
	(void)session_id;
	struct presence *p = inst;
	struct local_user *e = strlen(user_id) <= USER_MAX ? find(p, user_id) : NULL;
	if (!e || e->sessions == 0)
		return CHATD_ERR_NOT_FOUND;
	if (--e->sessions > 0)
		return CHATD_OK;
	e->last_seen = p->host->now_ms();
	if (p->offline_delay_ms > 0 && !p->stopping) {
		e->offline_timer = p->host->timer_add(p->h, (uint64_t)p->offline_delay_ms, false,
						      offline_due, e);
		if (e->offline_timer)
			return CHATD_OK;
	}
	offline_due(e);
	return CHATD_OK;
}

struct query_req {
	struct presence *p;
	chatd_presence_cb cb;
	void *arg;
};

static void on_query(void *arg, redisReply *r)
{
	struct query_req *q = arg;
	if (!reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		count_error(q->p, r, "query");
		q->cb(q->arg, CHATD_ERR_UNAVAILABLE, false, 0);
	} else {
		bool online = r->element[0]->type == REDIS_REPLY_INTEGER &&
			      r->element[0]->integer > 0;
		int64_t ls = r->element[1]->type == REDIS_REPLY_STRING
				     ? strtoll(r->element[1]->str, NULL, 10)
				     : 0;
		q->cb(q->arg, CHATD_OK, online, ls);
	}
	free(q);
}

static int query(void *inst, const char *user_id, chatd_presence_cb cb, void *arg)
{
	struct presence *p = inst;
	if (strlen(user_id) > USER_MAX)
		return CHATD_ERR_INVALID;
	if (rconn_up(p->cmd)) {
		struct query_req *q = calloc(1, sizeof *q);
		if (!q)
			return CHATD_ERR_NOMEM;
		q->p = p;
		q->cb = cb;
		q->arg = arg;
		char now[24];
		snprintf(now, sizeof now, "%lld", (long long)p->host->now_ms());
		const char *args[] = { p->prefix, now, user_id };
		if (eval(p, PR_LUA_QUERY, args, 3, on_query, q) == CHATD_OK)
			return CHATD_OK;
		free(q);
	}
	/* Redis unreachable: what this node knows. */
	struct local_user *e = find(p, user_id);
	cb(arg, CHATD_OK, e && (e->sessions > 0 || e->offline_timer), 0);
	return CHATD_OK;
}

static int watch(void *inst, chatd_presence_change_fn fn, void *arg)
{
	struct presence *p = inst;
	p->watch_fn = fn;
	p->watch_arg = arg;
	return CHATD_OK;
}

struct locate_req {
	struct presence *p;
	chatd_presence_locate_cb cb;
	void *arg;
	size_t n;
};

static void on_locate(void *arg, redisReply *r)
{
	struct locate_req *q = arg;
	struct presence *p = q->p;
	if (!reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != q->n) {
		count_error(p, r, "locate");
		q->cb(q->arg, r ? CHATD_ERR_IO : CHATD_ERR_UNAVAILABLE, NULL, 0);
		free(q);
		return;
	}
	struct chatd_presence_loc *locs = calloc(q->n, sizeof *locs);
	size_t total = 0;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ARRAY)
			total += r->element[i]->elements;
	const char **nodes = calloc(total ? total : 1, sizeof *nodes);
	if (!locs || !nodes) {
		q->cb(q->arg, CHATD_ERR_NOMEM, NULL, 0);
	} else {
		size_t k = 0;
		for (size_t i = 0; i < q->n; i++) {
			redisReply *a = r->element[i];
			locs[i].nodes = nodes + k;
			for (size_t j = 0; a->type == REDIS_REPLY_ARRAY && j < a->elements; j++)
				if (a->element[j]->type == REDIS_REPLY_STRING)
					nodes[k++] = a->element[j]->str;
			locs[i].n_nodes = (size_t)(nodes + k - locs[i].nodes);
		}
		/* user ids: the caller's, which it kept alive for the call */
		q->cb(q->arg, CHATD_OK, locs, q->n);
	}
	free(locs);
	free(nodes);
	free(q);
}

static int locate(void *inst, const char *const *users, size_t n, chatd_presence_locate_cb cb,
		  void *arg)
{
	struct presence *p = inst;
	if (n == 0 || n > 1024)
		return CHATD_ERR_INVALID;
	if (!rconn_up(p->cmd)) {
		p->host->metric_add(p->h, p->m_errors, 1);
		return CHATD_ERR_UNAVAILABLE;
	}
	struct locate_req *q = calloc(1, sizeof *q);
	const char **args = malloc((2 + n) * sizeof *args);
	if (!q || !args) {
		free(q);
		free(args);
		return CHATD_ERR_NOMEM;
	}
	q->p = p;
	q->cb = cb;
	q->arg = arg;
	q->n = n;
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)p->host->now_ms());
	args[0] = p->prefix;
	args[1] = now;
	memcpy(args + 2, users, n * sizeof *users);
	int st = eval(p, PR_LUA_LOCATE, args, 2 + n, on_locate, q);
	free(args);
	if (st != CHATD_OK)
		free(q);
	else
		p->host->metric_add(p->h, p->m_locates, 1);
	return st;
}

/* ---- life ---- */

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	if (host->struct_size < offsetof(struct chatd_host, io_remove) + sizeof host->io_remove)
		return CHATD_ERR_INVALID;
	struct presence *p = calloc(1, sizeof *p);
	if (!p)
		return CHATD_ERR_NOMEM;
	p->host = host;
	p->h = h;
	struct rconn_opts o = { .name = "presence", .on_state = on_cmd_state, .arg = p };
	const char *prefix;
	rconn_opts_from_config(host, h, &o, &prefix);
	p->ttl_ms = 15000;
	p->offline_delay_ms = 1000;
	(void)host->config_int(h, "ttl_ms", &p->ttl_ms);
	(void)host->config_int(h, "offline_delay_ms", &p->offline_delay_ms);
	snprintf(p->node, sizeof p->node, "%s", host->node_id(h));
	p->prefix = strdup(prefix);
	snprintf(p->channel, sizeof p->channel, "%spresence", prefix);
	bool table = ut_init(&p->users) == CHATD_OK;
	p->m_changes = host->metric_counter(h, "status_changes_total",
					    "online/offline changes received from the cluster");
	p->m_errors = host->metric_counter(h, "redis_errors_total",
					   "presence operations that failed on Redis (unreachable, "
					   "timeout, error reply)");
	p->m_locates = host->metric_counter(h, "locates_total", "batched locate calls sent");
	p->m_reregistered = host->metric_counter(h, "reregistered_users_total",
						 "local users registered again after Redis came back");
	if (p->prefix && table)
		p->cmd = rconn_new(host, h, &o);
	o.name = "presence-sub";
	o.on_state = on_sub_state;
	if (p->cmd)
		p->sub = rconn_new(host, h, &o);
	uint64_t hb = (uint64_t)(p->ttl_ms / 3 > 0 ? p->ttl_ms / 3 : 1);
	if (p->sub)
		p->heartbeat = host->timer_add(h, hb, true, on_heartbeat, p);
	if (!p->heartbeat) {
		rconn_free(p->sub);
		rconn_free(p->cmd);
		ut_fini(&p->users);
		free(p->prefix);
		free(p);
		return CHATD_ERR_NOMEM;
	}
	*instance = p;
	return CHATD_OK;
}

/* Drain: this node's entries go now, with a short blocking connection of
 * its own (the async one cannot be waited for here). */
static void leave(struct presence *p)
{
	struct rconn_opts o;
	const char *prefix;
	rconn_opts_from_config(p->host, p->h, &o, &prefix);
	struct timeval tv = { .tv_sec = o.timeout_ms / 1000,
			      .tv_usec = (o.timeout_ms % 1000) * 1000 };
	redisContext *rc = redisConnectWithTimeout(o.host, o.port, tv);
	if (!rc || rc->err) {
		p->host->log(p->h, CHATD_LOG_WARN, "presence.leave_failed",
			     "cannot reach Redis: this node's entries expire within ttl_ms");
		if (rc)
			redisFree(rc);
		return;
	}
	(void)redisSetTimeout(rc, tv);
	if (o.password && *o.password) {
		redisReply *a = redisCommand(rc, "AUTH %s", o.password);
		if (a)
			freeReplyObject(a);
	}
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)p->host->now_ms());
	redisReply *r = redisCommand(rc, "EVAL %s 0 %s %s %s", PR_LUA_LEAVE, p->prefix, now,
				     p->node);
	if (r && r->type == REDIS_REPLY_INTEGER)
		p->host->log(p->h, CHATD_LOG_INFO, "presence.left",
			     "node %s left presence (%lld entries removed)", p->node,
			     (long long)r->integer);
	else
		p->host->log(p->h, CHATD_LOG_WARN, "presence.leave_failed", "%s",
			     r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
	if (r)
		freeReplyObject(r);
	redisFree(rc);
}

static void free_entry(void *arg, struct ut_entry *link)
{
	struct presence *p = arg;
	struct local_user *e = (struct local_user *)link;
	if (e->offline_timer)
		p->host->timer_cancel(p->h, e->offline_timer);
	free(e);
}

static void fini(void *instance)
{
	struct presence *p = instance;
	p->stopping = true;
	p->host->timer_cancel(p->h, p->heartbeat);
	/* Pending callbacks run now (NULL replies): ready and locate get an
	 * error, exactly once. */
	rconn_free(p->sub);
	rconn_free(p->cmd);
	leave(p);
	ut_each(&p->users, free_entry, p);
	ut_fini(&p->users);
	free(p->prefix);
	free(p);
}

static const struct chatd_presence_ops ops = {
	.struct_size = sizeof(struct chatd_presence_ops),
	.session_up = session_up,
	.session_down = session_down,
	.query = query,
	.watch = watch,
	.locate = locate,
	.session_up_ready = session_up_ready,
};

static const struct chatd_option options[] = {
	RCONN_OPTIONS,
	{ .key = "ttl_ms", .type = CHATD_OPT_INT, .def = "15000", .min = 300, .max = 600000,
	  .help = "a node's entries live this long without a heartbeat (sent every ttl_ms/3): "
		  "a dead node's users stop being located within it" },
	{ .key = "offline_delay_ms", .type = CHATD_OPT_INT, .def = "1000", .min = 0, .max = 1900,
	  .help = "a user whose last session here closed leaves this node's entry this much "
		  "later, unless a session comes back (nobody is told anything then)" },
	{ .key = NULL },
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_PRESENCE,
	.name = "redis",
	.version = "1.0.0",
	.description = "presence shared by every node through Redis",
	.options = options,
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
