/* cmd_status.c — `chatctl status` (GET /v1/status) and `chatctl plugins`
 * (GET /v1/plugins). */
#include <string.h>

#include "chatctl.h"
#include "table.h"

static const char usage_status[] =
	"Usage: chatctl status [--json]\n"
	"\n"
	"Show the server's state: version, node id, uptime, current connections,\n"
	"messages accepted per second (over the last minute), the plugins loaded\n"
	"with their versions, storage health and the rule set's version.\n"
	"Needs a moderator or admin token.  GET /v1/status.\n";

static const char usage_plugins[] =
	"Usage: chatctl plugins [--json]\n"
	"\n"
	"List the plugins the server loaded: kind, name, version and description\n"
	"(--json adds each file's path).  GET /v1/plugins.\n";

static void plugin_table(json_t *list, bool with_desc)
{
	static const char *const head[] = { "KIND", "NAME", "VERSION", "DESCRIPTION" };
	struct table t;
	table_init(&t, with_desc ? 4 : 3, head);
	t.maxw[3] = 70;
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p) {
		const char *row[4] = {
			json_string_value(json_object_get(p, "kind")),
			json_string_value(json_object_get(p, "name")),
			json_string_value(json_object_get(p, "version")),
			json_string_value(json_object_get(p, "description")),
		};
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

static int show_status(json_t *j, void *arg)
{
	(void)arg;
	char buf[256], a[64], b[64];
	fmt_json(json_object_get(j, "version"), buf, sizeof buf);
	kv_line(stdout, "version", buf);
	fmt_json(json_object_get(j, "node_id"), buf, sizeof buf);
	kv_line(stdout, "node", buf);
	json_t *up = json_object_get(j, "uptime_s");
	if (json_is_integer(up) || json_is_real(up)) {
		fmt_span((int64_t)(json_number_value(up) * 1000), a, sizeof a);
		fmt_time(json_integer_value(json_object_get(j, "started_at")), b, sizeof b);
		snprintf(buf, sizeof buf, "%s (since %s)", a, b);
		kv_line(stdout, "uptime", buf);
	}
	json_t *conns = json_object_get(j, "connections");
	if (!conns)
		conns = json_object_get(j, "sessions");
	fmt_json(conns, buf, sizeof buf);
	kv_line(stdout, "connections", buf);
	json_t *rate = json_object_get(j, "messages_per_s");
	if (rate) {
		snprintf(buf, sizeof buf, "%.2f", json_number_value(rate));
		kv_line(stdout, "messages/s", buf);
	}
	json_t *st = json_object_get(j, "storage");
	bool ready = json_is_object(st) ? json_is_true(json_object_get(st, "ready"))
		     : json_is_true(json_object_get(j, "storage_ready"));
	const char *splug = json_string_value(json_object_get(st, "plugin"));
	snprintf(buf, sizeof buf, "%s%s%s", splug ? splug : "", splug ? ", " : "",
		 ready ? "ready" : "NOT READY");
	kv_line(stdout, "storage", buf);
	json_t *rv = json_object_get(j, "rules_version");
	if (rv) {
		fmt_json(rv, a, sizeof a);
		snprintf(buf, sizeof buf, "version %s", a);
		kv_line(stdout, "rules", buf);
	}
	json_t *plugins = json_object_get(j, "plugins");
	if (json_is_array(plugins) && json_array_size(plugins)) {
		fputc('\n', stdout);
		plugin_table(plugins, false);
	}
	return 0;
}

static int run_status(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	return api_show(ctl, "GET", "/v1/status", NULL, show_status, NULL);
}

static int show_plugins(json_t *j, void *arg)
{
	(void)arg;
	plugin_table(json_object_get(j, "plugins"), true);
	return 0;
}

static int run_plugins(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	return api_show(ctl, "GET", "/v1/plugins", NULL, show_plugins, NULL);
}

const struct cmd cmd_status_cmd = {
	.name = "status", .args = "", .summary = "uptime, version, connections, messages/s, "
	"plugins, storage", .usage = usage_status, .run = run_status, .flags = CMD_SERVER,
};

const struct cmd cmd_plugins_cmd = {
	.name = "plugins", .args = "", .summary = "the plugins loaded, with versions",
	.usage = usage_plugins, .run = run_plugins, .flags = CMD_SERVER,
};
