/* bus_redis — the bus of a cluster, on Redis (docs/scaling.md, "Bus").
 *
 * Two connections: one for commands, one subscribed.  Topics:
 *   "node.<id>", "cluster.<x>"  PUBLISH on channel <prefix><topic>; each
 *       node subscribes to node.<self> and the cluster topics it wants
 *       (pub/sub: at most once, in order per publisher connection).
 *   anything else (events)      one script: XADD to the stream
 *       <prefix><stream> (MAXLEN ~ stream_maxlen) with fields topic, node,
 *       ts, payload, and PUBLISH on <prefix><topic> for other subscribers.
 *   "*"  subscribes with PSUBSCRIBE <prefix>*.
 *
 * Redis down: every publish fails at once (CHATD_ERR_UNAVAILABLE, counted
 * by the plugin's publish_failed_total and by the core); events are
 * dropped, not buffered (decision 0: a consumer that must not miss a
 * message reads storage; clients recover by sync).  Both connections come
 * back with backoff and the subscriptions are made again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"
#include "bus_redis_scripts.h"
#include "../redis_common/rconn.h"

#define TOPIC_MAX 200

struct sub {
	struct sub *next;
	char *topic;
	chatd_bus_handler fn;
	void *arg;
};

struct bus {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	char *prefix, *stream_key;
	char node[65];
	char maxlen[24];
	struct rconn *cmd, *sub;
	struct sub *subs;
	bool stopping;
	chatd_metric_id m_published, m_failed, m_events, m_events_dropped, m_received;
};

static bool is_event(const char *topic)
{
	return strncmp(topic, "node.", 5) != 0 && strncmp(topic, "cluster.", 8) != 0;
}

static void on_reply(void *arg, redisReply *r)
{
	struct bus *b = arg;
	if (r && r->type != REDIS_REPLY_ERROR)
		return;
	b->host->metric_add(b->h, b->m_failed, 1);
	if (r)
		b->host->log(b->h, CHATD_LOG_WARN, "bus.redis_error", "%s", r->str);
}

static int publish(void *inst, const char *topic, const char *payload, size_t len)
{
	struct bus *b = inst;
	size_t tl = strlen(topic);
	if (tl == 0 || tl > TOPIC_MAX)
		return CHATD_ERR_INVALID;
	char channel[TOPIC_MAX + 128];
	snprintf(channel, sizeof channel, "%s%s", b->prefix, topic);
	int st;
	if (!is_event(topic)) {
		const char *argv[] = { "PUBLISH", channel, payload };
		size_t lens[] = { 7, strlen(channel), len };
		st = rconn_cmd(b->cmd, on_reply, b, 3, argv, lens);
	} else {
		char ts[24];
		snprintf(ts, sizeof ts, "%lld", (long long)b->host->now_ms());
		const char *argv[] = { "EVAL", BR_LUA_EVENT, "1", b->stream_key, b->maxlen, channel,
				       topic, b->node, ts, payload };
		size_t lens[10];
		for (int i = 0; i < 9; i++)
			lens[i] = strlen(argv[i]);
		lens[9] = len;
		st = rconn_cmd(b->cmd, on_reply, b, 10, argv, lens);
		b->host->metric_add(b->h, st == CHATD_OK ? b->m_events : b->m_events_dropped, 1);
	}
	b->host->metric_add(b->h, st == CHATD_OK ? b->m_published : b->m_failed, 1);
	return st;
}

/* ---- subscriptions ---- */

static void dispatch(struct bus *b, bool pattern, const char *channel, const char *payload,
		     size_t len)
{
	size_t pl = strlen(b->prefix);
	if (strncmp(channel, b->prefix, pl) != 0)
		return;
	const char *topic = channel + pl;
	b->host->metric_add(b->h, b->m_received, 1);
	for (struct sub *s = b->subs; s; s = s->next)
		if (pattern ? strcmp(s->topic, "*") == 0 : strcmp(s->topic, topic) == 0)
			s->fn(s->arg, topic, payload, len);
}

static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct bus *b = privdata;
	redisReply *r = reply;
	if (!r || b->stopping || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = r->element[0]->str;
	if (strcmp(kind, "message") == 0 && r->elements == 3 &&
	    r->element[1]->type == REDIS_REPLY_STRING && r->element[2]->type == REDIS_REPLY_STRING)
		dispatch(b, false, r->element[1]->str, r->element[2]->str, r->element[2]->len);
	else if (strcmp(kind, "pmessage") == 0 && r->elements == 4 &&
		 r->element[2]->type == REDIS_REPLY_STRING &&
		 r->element[3]->type == REDIS_REPLY_STRING)
		dispatch(b, true, r->element[2]->str, r->element[3]->str, r->element[3]->len);
}

static int send_subscribe(struct bus *b, const char *topic)
{
	char channel[TOPIC_MAX + 128];
	bool all = strcmp(topic, "*") == 0;
	snprintf(channel, sizeof channel, "%s%s", b->prefix, all ? "*" : topic);
	const char *argv[] = { all ? "PSUBSCRIBE" : "SUBSCRIBE", channel };
	size_t lens[] = { strlen(argv[0]), strlen(channel) };
	return rconn_subscribe(b->sub, on_message, b, 2, argv, lens);
}

static int subscribe(void *inst, const char *topic, chatd_bus_handler fn, void *arg)
{
	struct bus *b = inst;
	if (!topic || !*topic || strlen(topic) > TOPIC_MAX || !fn)
		return CHATD_ERR_INVALID;
	struct sub *s = calloc(1, sizeof *s);
	if (!s || !(s->topic = strdup(topic))) {
		free(s);
		return CHATD_ERR_NOMEM;
	}
	s->fn = fn;
	s->arg = arg;
	s->next = b->subs;
	b->subs = s;
	/* Not connected yet: on_sub_state subscribes everything. */
	if (rconn_up(b->sub) && send_subscribe(b, topic) != CHATD_OK)
		b->host->log(b->h, CHATD_LOG_WARN, "bus.subscribe_failed",
			     "%s: retried when Redis is back", topic);
	return CHATD_OK;
}

static void on_sub_state(void *arg, bool up)
{
	struct bus *b = arg;
	if (!up || b->stopping)
		return;
	for (struct sub *s = b->subs; s; s = s->next) {
		bool dup = false;
		for (struct sub *t = b->subs; t != s && !dup; t = t->next)
			dup = strcmp(t->topic, s->topic) == 0;
		if (!dup && send_subscribe(b, s->topic) != CHATD_OK)
			b->host->log(b->h, CHATD_LOG_WARN, "bus.subscribe_failed", "%s", s->topic);
	}
}

/* ---- cluster-wide counters ---- */

struct ctr_req {
	void (*cb)(void *arg, int status, const int64_t *totals, size_t n);
	void *arg;
	size_t n;
};

static void on_counters(void *arg, redisReply *r)
{
	struct ctr_req *q = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != q->n) {
		q->cb(q->arg, r ? CHATD_ERR_IO : CHATD_ERR_UNAVAILABLE, NULL, 0);
		free(q);
		return;
	}
	int64_t small[64] = { 0 };
	int64_t *t = q->n <= 64 ? small : calloc(q->n, sizeof *t);
	if (!t) {
		q->cb(q->arg, CHATD_ERR_NOMEM, NULL, 0);
	} else {
		for (size_t i = 0; i < q->n; i++)
			t[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer
									  : 0;
		q->cb(q->arg, CHATD_OK, t, q->n);
		if (t != small)
			free(t);
	}
	free(q);
}

static int counters_add(void *inst, const char *const *keys, const int64_t *deltas,
			const int64_t *ttl_ms, size_t n,
			void (*cb)(void *arg, int status, const int64_t *totals, size_t n),
			void *arg)
{
	struct bus *b = inst;
	if (n == 0 || n > 1024 || !cb)
		return CHATD_ERR_INVALID;
	if (!rconn_up(b->cmd))
		return CHATD_ERR_UNAVAILABLE;
	size_t argc = 5 + 3 * n;
	const char **argv = calloc(argc, sizeof *argv);
	size_t *lens = calloc(argc, sizeof *lens);
	char (*nums)[24] = calloc(2 * n + 1, sizeof *nums);
	struct ctr_req *q = calloc(1, sizeof *q);
	int st = CHATD_ERR_NOMEM;
	if (!argv || !lens || !nums || !q)
		goto out;
	argv[0] = "EVAL";
	argv[1] = BR_LUA_COUNTERS;
	argv[2] = "0";
	argv[3] = b->prefix;
	snprintf(nums[2 * n], sizeof nums[0], "%zu", n);
	argv[4] = nums[2 * n];
	for (size_t i = 0; i < n; i++) {
		argv[5 + i] = keys[i];
		snprintf(nums[i], sizeof nums[0], "%lld", (long long)deltas[i]);
		snprintf(nums[n + i], sizeof nums[0], "%lld", (long long)ttl_ms[i]);
		argv[5 + n + i] = nums[i];
		argv[5 + 2 * n + i] = nums[n + i];
	}
	for (size_t i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	q->cb = cb;
	q->arg = arg;
	q->n = n;
	st = rconn_cmd(b->cmd, on_counters, q, (int)argc, argv, lens);
	if (st == CHATD_OK)
		q = NULL;
out:
	free(q);
	free(nums);
	free(lens);
	free(argv);
	return st;
}

/* ---- life ---- */

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	if (host->struct_size < offsetof(struct chatd_host, io_remove) + sizeof host->io_remove)
		return CHATD_ERR_INVALID;
	struct bus *b = calloc(1, sizeof *b);
	if (!b)
		return CHATD_ERR_NOMEM;
	b->host = host;
	b->h = h;
	struct rconn_opts o = { .name = "bus", .arg = b };
	const char *prefix, *stream = "events";
	int64_t maxlen = 100000;
	rconn_opts_from_config(host, h, &o, &prefix);
	(void)host->config_string(h, "stream", &stream);
	(void)host->config_int(h, "stream_maxlen", &maxlen);
	snprintf(b->node, sizeof b->node, "%s", host->node_id(h));
	snprintf(b->maxlen, sizeof b->maxlen, "%lld", (long long)maxlen);
	b->prefix = strdup(prefix);
	b->stream_key = malloc(strlen(prefix) + strlen(stream) + 1);
	if (b->stream_key)
		sprintf(b->stream_key, "%s%s", prefix, stream);
	b->m_published = host->metric_counter(h, "published_total", "publishes sent to Redis");
	b->m_failed = host->metric_counter(h, "publish_failed_total",
					   "publishes that failed (Redis unreachable, timeout, "
					   "error reply)");
	b->m_events = host->metric_counter(h, "events_total", "events appended to the stream");
	b->m_events_dropped = host->metric_counter(h, "events_dropped_total",
						   "events dropped while Redis was unreachable");
	b->m_received = host->metric_counter(h, "received_total",
					     "messages received from subscriptions");
	if (b->prefix && b->stream_key)
		b->cmd = rconn_new(host, h, &o);
	o.name = "bus-sub";
	o.on_state = on_sub_state;
	if (b->cmd)
		b->sub = rconn_new(host, h, &o);
	if (!b->sub) {
		rconn_free(b->cmd);
		free(b->prefix);
		free(b->stream_key);
		free(b);
		return CHATD_ERR_NOMEM;
	}
	*instance = b;
	return CHATD_OK;
}

static void fini(void *instance)
{
	struct bus *b = instance;
	b->stopping = true;
	rconn_free(b->sub);
	rconn_free(b->cmd);
	while (b->subs) {
		struct sub *s = b->subs;
		b->subs = s->next;
		free(s->topic);
		free(s);
	}
	free(b->prefix);
	free(b->stream_key);
	free(b);
}

static const struct chatd_bus_ops ops = {
	.struct_size = sizeof(struct chatd_bus_ops),
	.publish = publish,
	.subscribe = subscribe,
	.counters_add = counters_add,
};

static const struct chatd_option options[] = {
	RCONN_OPTIONS,
	{ .key = "stream", .type = CHATD_OPT_STRING, .def = "events",
	  .help = "the events stream's key (after the prefix)" },
	{ .key = "stream_maxlen", .type = CHATD_OPT_INT, .def = "100000", .min = 1,
	  .max = INT64_MAX, .help = "the stream is trimmed to about this many entries" },
	{ .key = NULL },
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_BUS,
	.name = "redis",
	.version = "1.0.0",
	.description = "the bus of a cluster: Redis pub/sub between nodes, a Redis Stream of "
		       "events",
	.options = options,
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
