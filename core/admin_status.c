/* admin_status.c — GET /v1/status, /v1/plugins, /v1/metrics.  Status'
 * messages_per_s is read off the metrics registry's accepted-send counter
 * (chatd_messages_accepted_total), sampled once a second: the sends of the
 * last 60 s, divided by 60. */
#include <stdio.h>
#include <string.h>
#include <event2/event.h>
#include "admin.h"
#include "core_metrics.h"
#include "host_api.h"
#include "sessions.h"

#define RATE_SPAN_NS (60 * 1000000000ull)

static uint64_t accepted(const struct core *c)
{
	return c->metrics ? metric_count(c->metrics->accepted) : 0;
}

static void on_sample(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct admin *a = arg;
	rate_window_sample(&a->sends, metrics_now_ns(), accepted(a->c));
}

int admin_rate_start(struct admin *a)
{
	rate_window_init(&a->sends, metrics_now_ns(), accepted(a->c));
	a->sends_ev = event_new(a->c->base, -1, EV_PERSIST, on_sample, a);
	struct timeval second = { 1, 0 };
	return a->sends_ev && event_add(a->sends_ev, &second) == 0 ? 0 : -1;
}

void admin_rate_stop(struct admin *a)
{
	if (a->sends_ev)
		event_free(a->sends_ev);
	a->sends_ev = NULL;
}

/* [{kind, name, version (, description, path)}] of the loaded plugins. */
static json_t *plugins_json(struct core *c, bool full)
{
	json_t *a = json_array();
	for (int k = 0; a && k < CFG_N_KINDS; k++) {
		const struct loaded_plugin *lp = c->plugins[k].lp;
		if (!lp || !c->plugins[k].handle)
			continue;
		const struct chatd_plugin *d = lp->desc;
		json_t *o = json_pack("{s:s, s:s, s:s}", "kind", cfg_kind_name(d->kind), "name",
				      d->name ? d->name : "", "version", d->version ? d->version : "");
		if (o && full) {
			json_object_set_new(o, "description",
					    json_string(d->description ? d->description : ""));
			json_object_set_new(o, "path", json_string(lp->path ? lp->path : ""));
		}
		json_array_append_new(a, o);
	}
	return a;
}

void admin_get_status(struct admin_req *r)
{
	struct core *c = r->core;
	struct admin *a = c->admin;
	int64_t now = mod_now_ms();
	int64_t started = a ? a->started_at : now;
	const char *storage = c->cfg->plugin_name[CHATD_KIND_STORAGE - 1];
	json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:I}", "version", PACKAGE_VERSION, "node_id",
			      c->cfg->node_id, "sessions", (json_int_t)sessions_count(&c->sessions),
			      "storage_ready", c->storage_ready, "rules_version",
			      (json_int_t)moderation_rules_version(c));
	if (o) {
		json_object_set_new(o, "started_at", json_integer(started));
		json_object_set_new(o, "uptime_s", json_integer((now - started) / 1000));
		json_object_set_new(o, "connections",
				    json_integer((json_int_t)sessions_count(&c->sessions)));
		json_object_set_new(o, "messages_per_s",
				    json_real(a ? rate_window_per_s(&a->sends, metrics_now_ns(),
								    accepted(c), RATE_SPAN_NS)
					      : 0.0));
		json_object_set_new(o, "plugins", plugins_json(c, false));
		json_object_set_new(o, "storage", json_pack("{s:b, s:s}", "ready", c->storage_ready,
							    "plugin", storage ? storage : ""));
	}
	admin_reply(r, o ? 200 : 500, o);
}

void admin_get_plugins(struct admin_req *r)
{
	admin_reply(r, 200, json_pack("{s:o}", "plugins", plugins_json(r->core, true)));
}

/* Every plugin's counters, "<kind>_<name>.<counter>": value. */
void admin_get_metrics(struct admin_req *r)
{
	struct core *c = r->core;
	json_t *m = json_object();
	for (int k = 0; m && k < CFG_N_KINDS; k++) {
		const struct chatd_plugin_handle *h = c->plugins[k].handle;
		for (size_t i = 0; h && i < h->n_metrics; i++) {
			char key[sizeof h->section + sizeof h->metrics[i].name + 1];
			snprintf(key, sizeof key, "%s.%s", h->section, h->metrics[i].name);
			json_object_set_new(m, key, json_integer(h->metrics[i].value));
		}
	}
	admin_reply(r, 200, m ? json_pack("{s:o}", "metrics", m) : NULL);
}
