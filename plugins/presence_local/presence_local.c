/* presence_local — in-process presence for a single node.
 *
 * A user is online while at least one of their sessions lives on this
 * node; last_seen is the time their last session closed.  Entries of
 * offline users are kept (for last_seen) in a user_table.
 *
 * Debounce: when the last session closes the user stays online for
 * offline_delay_ms; a session that comes back within it (a reconnect, a
 * device swap) changes nothing and nobody is told.  Dead connections are
 * the gateway's job: it drops a session that stops answering pings
 * (server.idle_timeout_s), which ends here as a session_down. */
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"
#include "../common/user_table.h"

struct presence;

struct user_entry {
	struct ut_entry link;         /* first: the table's view of it */
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
	struct user_table users;
	int64_t offline_delay_ms;
	chatd_presence_change_fn watch_fn;
	void *watch_arg;
	chatd_metric_id m_changes;
};

static struct user_entry *find(struct presence *p, const char *user)
{
	return (struct user_entry *)ut_find(&p->users, user);
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
	struct user_entry *e = find(p, user_id);
	if (!e) {
		size_t n = strlen(user_id);
		e = calloc(1, sizeof *e + n + 1);
		if (!e)
			return CHATD_ERR_NOMEM;
		memcpy(e->user, user_id, n + 1);
		e->link.user = e->user;
		e->p = p;
		ut_add(&p->users, &e->link);
	}
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
	struct user_entry *e = find(p, user_id);
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
	struct user_entry *e = find(p, user_id);
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
	if (ut_init(&p->users) != CHATD_OK) {
		free(p);
		return CHATD_ERR_NOMEM;
	}
	*instance = p;
	return CHATD_OK;
}

static void free_entry(void *arg, struct ut_entry *link)
{
	struct presence *p = arg;
	struct user_entry *e = (struct user_entry *)link;
	if (e->offline_timer)
		p->host->timer_cancel(p->h, e->offline_timer);
	free(e);
}

static void fini(void *instance)
{
	struct presence *p = instance;
	ut_each(&p->users, free_entry, p);
	ut_fini(&p->users);
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
