/* cmd_conv.c — `chatctl conv show|lock|unlock CONV` and `chatctl message
 * delete CONV SEQ` (/v1/conversations/CONV…). */
#include <string.h>

#include "chatctl.h"
#include "table.h"

#define CONV_ID_MAX 64

static bool valid_conv(const struct cmd *self, const char *c, int *rc)
{
	size_t n = strlen(c);
	if (n > 0 && n <= CONV_ID_MAX)
		return true;
	*rc = ctl_usage_error(self, "CONV: a conversation id of 1 to %d characters", CONV_ID_MAX);
	return false;
}

static int show_conv(json_t *j, void *arg)
{
	(void)arg;
	json_t *c = json_object_get(j, "conversation");
	char buf[1024];
	static const char *const keys[][2] = {
		{ "conversation_id", "conversation" }, { "kind", "kind" }, { "title", "title" },
		{ "member_count", "members" }, { "last_seq", "last seq" },
		{ "created_by", "created by" },
	};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		json_t *v = json_object_get(c, keys[k][0]);
		if (!v)
			continue;
		fmt_json(v, buf, sizeof buf);
		kv_line(stdout, keys[k][1], buf);
	}
	static const char *const times[][2] = { { "created_at", "created" },
						{ "last_activity", "last activity" } };
	for (size_t k = 0; k < 2; k++) {
		json_t *v = json_object_get(c, times[k][0]);
		if (json_is_integer(v)) {
			fmt_time(json_integer_value(v), buf, sizeof buf);
			kv_line(stdout, times[k][1], buf);
		}
	}
	json_t *settings = json_object_get(c, "settings");
	if (json_is_object(settings)) {
		const char *k;
		json_t *v;
		json_object_foreach(settings, k, v) {
			char key[64], val[256];
			snprintf(key, sizeof key, "settings.%s", k);
			fmt_json(v, val, sizeof val);
			kv_line(stdout, key, val);
		}
	}
	json_t *members = json_object_get(j, "members");
	if (!json_is_array(members))
		return 0;
	printf("\n");
	static const char *const head[] = { "MEMBER", "ROLE", "JOINED", "MUTED_UNTIL" };
	struct table t;
	table_init(&t, 4, head);
	size_t i;
	json_t *m;
	json_array_foreach(members, i, m) {
		char mu[40], jo[40];
		fmt_time(json_integer_value(json_object_get(m, "muted_until")), mu, sizeof mu);
		fmt_time(json_integer_value(json_object_get(m, "joined_at")), jo, sizeof jo);
		const char *row[4] = { json_string_value(json_object_get(m, "user_id")),
				       json_string_value(json_object_get(m, "role")), jo, mu };
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
	return 0;
}

static int run_show(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0 || !valid_conv(self, a.pos[0], &rc))
		return rc;
	char path[320];
	api_path(path, sizeof path, "/v1/conversations/%s", a.pos[0]);
	return api_show(ctl, "GET", path, NULL, show_conv, NULL);
}

static int show_lock(json_t *j, void *arg)
{
	char c[200];
	fmt_clean(arg, 64, c, sizeof c);
	printf("%s: %s\n", c, json_is_true(json_object_get(j, "locked")) ? "locked" : "unlocked");
	return 0;
}

static int run_lock(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0 || !valid_conv(self, a.pos[0], &rc))
		return rc;
	char path[320], p[64];
	snprintf(p, sizeof p, "/v1/conversations/%%s/%s", self->name);
	api_path(path, sizeof path, p, a.pos[0]);
	return api_show(ctl, "POST", path, NULL, show_lock, (void *)a.pos[0]);
}

static int show_deleted(json_t *j, void *arg)
{
	(void)j;
	printf("%s\n", (const char *)arg);
	return 0;
}

static int run_delete(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 2, 2);
	if (rc >= 0 || !valid_conv(self, a.pos[0], &rc))
		return rc;
	long long seq;
	if (!args_int(a.pos[1], 1, INT64_MAX, &seq))
		return ctl_usage_error(self, "SEQ: a message number (1 or more), not '%s'", a.pos[1]);
	char path[320], tail[40];
	api_path(path, sizeof path, "/v1/conversations/%s/messages/", a.pos[0]);
	snprintf(tail, sizeof tail, "%lld", seq);
	strncat(path, tail, sizeof path - strlen(path) - 1);
	char said[200], c[140];
	fmt_clean(a.pos[0], 64, c, sizeof c);
	snprintf(said, sizeof said, "%s seq %lld: deleted for everyone", c, seq);
	return api_show(ctl, "DELETE", path, NULL, show_deleted, said);
}

static const char usage_show[] =
	"Usage: chatctl conv show CONV\n"
	"\n"
	"Show a conversation: kind, title, member count, last seq, settings (locked,\n"
	"…) and its members with their roles.  No message content.\n";

static const char usage_lock[] =
	"Usage: chatctl conv lock CONV\n"
	"\n"
	"Lock a conversation (settings.locked): members are told (conv.event\n"
	"settings_changed, by you); only its owner and admins can send until it is\n"
	"unlocked.\n";

static const char usage_unlock[] =
	"Usage: chatctl conv unlock CONV\n\nUnlock a conversation locked with `conv lock`.\n";

static const char usage_delete[] =
	"Usage: chatctl message delete CONV SEQ\n"
	"\n"
	"Delete message SEQ of CONV for everyone, as staff: members' clients get a\n"
	"message_update (deleted).  Its content stays for review until retention\n"
	"purges it (docs/operations.md, Retention).\n";

const struct cmd cmds_conv[] = {
	{ .name = "show", .args = "CONV", .summary = "settings and members", .usage = usage_show,
	  .run = run_show, .flags = CMD_SERVER },
	{ .name = "lock", .args = "CONV", .summary = "only the owner and admins may send", .usage = usage_lock,
	  .run = run_lock, .flags = CMD_SERVER },
	{ .name = "unlock", .args = "CONV", .summary = "undo lock", .usage = usage_unlock,
	  .run = run_lock, .flags = CMD_SERVER },
	{ .name = NULL },
};

const struct cmd cmds_message[] = {
	{ .name = "delete", .args = "CONV SEQ", .summary = "delete a message for everyone",
	  .usage = usage_delete, .run = run_delete, .flags = CMD_SERVER },
	{ .name = NULL },
};
