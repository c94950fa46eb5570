/* bus_local — the in-process bus of a single node.
 *
 * publish() copies the event and delivers it to matching subscribers from
 * a task on the core loop, never inside publish (so a subscriber cannot
 * re-enter the publisher).  Undelivered events stay on a list so fini can
 * orphan them; their tasks then only free them.  With no subscriber an event costs nothing. */
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"

struct sub {
	struct sub *next;
	char *topic;
	chatd_bus_handler fn;
	void *arg;
};

struct bus {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	struct sub *subs;
	/* events posted and not yet delivered: fini frees them */
	struct event *pending;
	chatd_metric_id m_published;
};

struct event {
	struct event *next, **prevp;
	struct bus *bus;
	char *topic;
	size_t len;
	char payload[];
};

static void deliver(void *arg)
{
	struct event *e = arg;
	struct bus *b = e->bus;
	if (!b) { /* the bus was stopped: fini orphaned this event */
		free(e->topic);
		free(e);
		return;
	}
	*e->prevp = e->next;
	if (e->next)
		e->next->prevp = e->prevp;
	for (struct sub *s = b->subs; s; s = s->next)
		if (strcmp(s->topic, "*") == 0 || strcmp(s->topic, e->topic) == 0)
			s->fn(s->arg, e->topic, e->payload, e->len);
	free(e->topic);
	free(e);
}

static int publish(void *inst, const char *topic, const char *payload, size_t len)
{
	struct bus *b = inst;
	b->host->metric_add(b->h, b->m_published, 1);
	bool wanted = false;
	for (struct sub *s = b->subs; s && !wanted; s = s->next)
		wanted = strcmp(s->topic, "*") == 0 || strcmp(s->topic, topic) == 0;
	if (!wanted)
		return CHATD_OK;
	struct event *e = malloc(sizeof *e + len + 1);
	if (!e)
		return CHATD_ERR_NOMEM;
	e->topic = strdup(topic);
	if (!e->topic) {
		free(e);
		return CHATD_ERR_NOMEM;
	}
	e->bus = b;
	e->len = len;
	memcpy(e->payload, payload, len);
	e->payload[len] = '\0';
	e->next = b->pending;
	e->prevp = &b->pending;
	if (b->pending)
		b->pending->prevp = &e->next;
	b->pending = e;
	if (b->host->post_to_core(b->h, deliver, e) != CHATD_OK) {
		b->pending = e->next;
		if (e->next)
			e->next->prevp = &b->pending;
		free(e->topic);
		free(e);
		return CHATD_ERR_NOMEM;
	}
	return CHATD_OK;
}

static int subscribe(void *inst, const char *topic, chatd_bus_handler fn, void *arg)
{
	struct bus *b = inst;
	struct sub *s = calloc(1, sizeof *s);
	if (!s || !(s->topic = strdup(topic))) {
		free(s);
		return CHATD_ERR_NOMEM;
	}
	s->fn = fn;
	s->arg = arg;
	s->next = b->subs;
	b->subs = s;
	return CHATD_OK;
}

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	struct bus *b = calloc(1, sizeof *b);
	if (!b)
		return CHATD_ERR_NOMEM;
	b->host = host;
	b->h = h;
	b->m_published = host->metric_counter(h, "events_published_total",
					      "events published on the local bus");
	*instance = b;
	return CHATD_OK;
}

static void fini(void *instance)
{
	struct bus *b = instance;
	/* Undelivered events: their tasks still run after fini (host.h);
	 * orphan them so the task only frees them. */
	for (struct event *e = b->pending; e; e = e->next)
		e->bus = NULL;
	b->pending = NULL;
	while (b->subs) {
		struct sub *s = b->subs;
		b->subs = s->next;
		free(s->topic);
		free(s);
	}
	free(b);
}

static const struct chatd_bus_ops ops = {
	.struct_size = sizeof(struct chatd_bus_ops),
	.publish = publish,
	.subscribe = subscribe,
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_BUS,
	.name = "local",
	.version = "1.0.0",
	.description = "in-process event bus for one node",
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
