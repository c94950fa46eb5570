/* presence_local — in-process presence for a single node.
 *
 * A user is online while at least one of their sessions lives on this
 * node; last_seen is the time their last session closed.  Entries of
 * offline users are kept (for last_seen) in a small chained hash table.
 *
 * Debounce: when the last session closes the user stays online for
 * offline_delay_ms; a session that comes back within it (a reconnect, a
 * device swap) changes nothing and nobody is told.  Dead connections are
 * the gateway's job: it drops a session that stops answering pings
 * (server.idle_timeout_s), which ends here as a session_down. */
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"

struct presence;

struct user_entry {
	struct user_entry *next;
	struct presence *p;
	unsigned sessions;
	bool online;                 /* the status as published */
	chatd_timer_id offline_timer; /* pending offline, 0: none */
	int64_t last_seen;
	char user[];
};

struct presence {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	struct user_entry **buckets;
	size_t n_buckets;
	size_t count;
	int64_t offline_delay_ms;
	chatd_presence_change_fn watch_fn;
	void *watch_arg;
	chatd_metric_id m_changes;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct user_entry **slot(struct presence *p, const char *user)
{
	struct user_entry **pp = &p->buckets[hash(user) & (p->n_buckets - 1)];
	while (*pp && strcmp((*pp)->user, user) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct presence *p)
{
	size_t nb = p->n_buckets * 2;
	struct user_entry **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < p->n_buckets; i++)
		for (struct user_entry *e = p->buckets[i], *next; e; e = next) {
			next = e->next;
			size_t k = hash(e->user) & (nb - 1);
			e->next = b[k];
			b[k] = e;
		}
	free(p->buckets);
	p->buckets = b;
	p->n_buckets = nb;
}

static void publish(struct presence *p, const struct user_entry *e)
{
	p->host->metric_add(p->h, p->m_changes, 1);
	if (p->watch_fn)
		p->watch_fn(p->watch_arg, e->user, e->online, e->online ? 0 : e->last_seen);
}

static void offline_due(void *arg)
{
	struct user_entry *e = arg;
	e->offline_timer = 0;
	if (e->sessions > 0 || !e->online)
		return;
	e->online = false;
	publish(e->p, e);
}

static int session_up(void *inst, const char *user_id, uint64_t session_id)
{
	(void)session_id;
	struct presence *p = inst;
	struct user_entry **pp = slot(p, user_id);
	if (!*pp) {
		size_t n = strlen(user_id);
		struct user_entry *e = calloc(1, sizeof *e + n + 1);
		if (!e)
			return CHATD_ERR_NOMEM;
		memcpy(e->user, user_id, n + 1);
		e->p = p;
		*pp = e;
		if (++p->count > p->n_buckets)
			grow(p);
		pp = slot(p, user_id);
	}
	struct user_entry *e = *pp;
	if (e->sessions++ == 0) {
		if (e->offline_timer) {
			/* Back within the debounce: nobody was told it left. */
			p->host->timer_cancel(p->h, e->offline_timer);
			e->offline_timer = 0;
		} else if (!e->online) {
			e->online = true;
			publish(p, e);
		}
	}
	return CHATD_OK;
}

static int session_down(void *inst, const char *user_id, uint64_t session_id)
{
	(void)session_id;
	struct presence *p = inst;
	struct user_entry *e = *slot(p, user_id);
	if (!e || e->sessions == 0)
		return CHATD_ERR_NOT_FOUND;
	if (--e->sessions > 0)
		return CHATD_OK;
	e->last_seen = p->host->now_ms();
	if (p->offline_delay_ms > 0) {
		e->offline_timer = p->host->timer_add(p->h, (uint64_t)p->offline_delay_ms, false,
						      offline_due, e);
		if (e->offline_timer)
			return CHATD_OK;
	}
	offline_due(e);
	return CHATD_OK;
}

static int query(void *inst, const char *user_id, chatd_presence_cb cb, void *arg)
{
	struct presence *p = inst;
	struct user_entry *e = *slot(p, user_id);
	cb(arg, CHATD_OK, e && e->online, e ? e->last_seen : 0);
	return CHATD_OK;
}

static int watch(void *inst, chatd_presence_change_fn fn, void *arg)
{
	struct presence *p = inst;
	p->watch_fn = fn;
	p->watch_arg = arg;
	return CHATD_OK;
}

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	struct presence *p = calloc(1, sizeof *p);
	if (!p)
		return CHATD_ERR_NOMEM;
	p->host = host;
	p->h = h;
	if (host->config_int(h, "offline_delay_ms", &p->offline_delay_ms) != CHATD_OK)
		p->offline_delay_ms = 1000;
	p->m_changes = host->metric_counter(h, "status_changes",
					    "online/offline changes published");
	p->n_buckets = 256;
	p->buckets = calloc(p->n_buckets, sizeof *p->buckets);
	if (!p->buckets) {
		free(p);
		return CHATD_ERR_NOMEM;
	}
	*instance = p;
	return CHATD_OK;
}

static void fini(void *instance)
{
	struct presence *p = instance;
	for (size_t i = 0; i < p->n_buckets; i++)
		for (struct user_entry *e = p->buckets[i], *next; e; e = next) {
			next = e->next;
			if (e->offline_timer)
				p->host->timer_cancel(p->h, e->offline_timer);
			free(e);
		}
	free(p->buckets);
	free(p);
}

static const struct chatd_presence_ops ops = {
	.struct_size = sizeof(struct chatd_presence_ops),
	.session_up = session_up,
	.session_down = session_down,
	.query = query,
	.watch = watch,
};

static const struct chatd_option options[] = {
	{ .key = "offline_delay_ms", .type = CHATD_OPT_INT, .def = "1000", .min = 0, .max = 1900,
	  .help = "a user whose last session closed is shown offline this much later, unless a "
		  "session comes back meanwhile (then nobody is told anything)" },
	{ .key = NULL },
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_PRESENCE,
	.name = "local",
	.version = "1.1.0",
	.description = "in-process presence for one node",
	.options = options,
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
