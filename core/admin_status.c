/* admin_status.c — GET /v1/status, /v1/plugins, /v1/metrics, and the
 * accepted-send counter behind status' messages_per_s. */
#include <stdio.h>
#include <string.h>
#include "admin.h"
#include "host_api.h"
#include "sessions.h"

void admin_note_send(struct core *c)
{
	if (!c->admin)
		return;
	struct admin_rate *r = &c->admin->rate;
	int64_t s = mod_now_ms() / 1000;
	size_t i = (size_t)(s % ADMIN_RATE_WINDOW);
	if (r->second[i] != s) {
		r->second[i] = s;
		r->count[i] = 0;
	}
	r->count[i]++;
}

/* Sends of the last ADMIN_RATE_WINDOW seconds (this one included) per
 * second. */
static double send_rate(const struct admin *a)
{
	int64_t now = mod_now_ms() / 1000;
	uint64_t total = 0;
	for (size_t i = 0; i < ADMIN_RATE_WINDOW; i++)
		if (a->rate.second[i] > now - ADMIN_RATE_WINDOW && a->rate.second[i] <= now)
			total += a->rate.count[i];
	return (double)total / ADMIN_RATE_WINDOW;
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
		json_object_set_new(o, "messages_per_s", json_real(a ? send_rate(a) : 0.0));
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
