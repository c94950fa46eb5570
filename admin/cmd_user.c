/* cmd_user.c — `chatctl user show|ban|unban|shadowban|unshadowban|mute|
 * unmute|kick|revoke USER` (/v1/users/USER…).  mute is the `block`
 * sanction, shadowban the `shadow` one. */
#include <string.h>

#include "chatctl.h"
#include "table.h"
#include "../core/auth.h"

static void sanctions_table(json_t *list)
{
	if (!json_array_size(list)) {
		printf("no active sanctions\n");
		return;
	}
	static const char *const head[] = { "KIND", "UNTIL", "REASON" };
	struct table t;
	table_init(&t, 3, head);
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s) {
		char until[40];
		json_int_t u = json_integer_value(json_object_get(s, "until"));
		if (u > 0)
			fmt_time(u, until, sizeof until);
		else
			snprintf(until, sizeof until, "permanent");
		const char *kind = json_string_value(json_object_get(s, "kind"));
		const char *row[3] = { kind && strcmp(kind, "block") == 0 ? "mute (block)" : kind,
				       until, json_string_value(json_object_get(s, "reason")) };
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

static bool valid_user(const struct cmd *self, const char *u, int *rc)
{
	if (auth_user_id_valid(u))
		return true;
	*rc = ctl_usage_error(self, "invalid USER '%s': 1 to 64 characters of A-Z a-z 0-9 . _ @ -",
			      u);
	return false;
}

/* ---- show ---- */

static int show_user(json_t *j, void *arg)
{
	(void)arg;
	char buf[256], t[40];
	fmt_json(json_object_get(j, "user_id"), buf, sizeof buf);
	kv_line(stdout, "user", buf);
	fmt_json(json_object_get(j, "log_id"), buf, sizeof buf);
	kv_line(stdout, "log id", buf);  /* the "user" of their log lines */
	json_int_t n = json_integer_value(json_object_get(j, "sessions"));
	snprintf(buf, sizeof buf, "%s (%lld session%s on this node)",
		 json_is_true(json_object_get(j, "online")) ? "yes" : "no", (long long)n,
		 n == 1 ? "" : "s");
	kv_line(stdout, "online", buf);
	fmt_time(json_integer_value(json_object_get(j, "first_seen")), t, sizeof t);
	kv_line(stdout, "first seen", json_integer_value(json_object_get(j, "first_seen")) > 0
		? t : "never");
	json_int_t rb = json_integer_value(json_object_get(j, "revoked_before"));
	fmt_time(rb, t, sizeof t);
	snprintf(buf, sizeof buf, "tokens issued before %s are refused", t);
	kv_line(stdout, "revoked", rb > 0 ? buf : "-");
	printf("\n");
	sanctions_table(json_object_get(j, "sanctions"));
	return 0;
}

static int run_show(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0 || !valid_user(self, a.pos[0], &rc))
		return rc;
	char path[256];
	api_path(path, sizeof path, "/v1/users/%s", a.pos[0]);
	return api_show(ctl, "GET", path, NULL, show_user, NULL);
}

/* ---- sanctions ---- */

struct said {
	const char *user;
	const char *what;
};

static int show_sanctioned(json_t *j, void *arg)
{
	struct said *s = arg;
	char line[200];
	fmt_clean(s->user, 64, line, sizeof line);
	printf("%s: %s\n", line, s->what);
	sanctions_table(json_object_get(j, "sanctions"));
	return 0;
}

/* The sanction kind and what to say, by command name. */
static const char *kind_of(const char *cmd, const char **said)
{
	static const char *const map[][3] = {
		{ "ban", "ban", "banned" },
		{ "unban", "ban", "ban lifted" },
		{ "shadowban", "shadow", "shadow-banned" },
		{ "unshadowban", "shadow", "shadow ban lifted" },
		{ "mute", "block", "muted" },
		{ "unmute", "block", "mute lifted" },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(cmd, map[i][0]) == 0) {
			*said = map[i][2];
			return map[i][1];
		}
	return NULL;
}

static int run_sanction(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0 || !valid_user(self, a.pos[0], &rc))
		return rc;
	const char *said = "";
	const char *kind = kind_of(self->name, &said);
	bool lift = strncmp(self->name, "un", 2) == 0;
	char path[256];
	struct said s = { a.pos[0], said };
	if (lift) {
		char p[64];
		snprintf(p, sizeof p, "/v1/users/%%s/sanctions/%s", kind);
		api_path(path, sizeof path, p, a.pos[0]);
		return api_show(ctl, "DELETE", path, NULL, show_sanctioned, &s);
	}
	int64_t dur = 0;
	const char *d = args_get(&a, "--duration");
	if (d && !args_duration_ms(d, &dur))
		return ctl_usage_error(self, "--duration '%s': e.g. 90s, 30m, 12h, 7d", d);
	if (strcmp(kind, "block") == 0 && !d)
		return ctl_usage_error(self, "mute needs --duration");
	const char *reason = args_get(&a, "--reason");
	if (reason && strlen(reason) > 1000)
		return ctl_usage_error(self, "--reason: at most 1000 bytes");
	json_t *body = json_pack("{s:s}", "kind", kind);
	if (dur)
		json_object_set_new(body, "duration_ms", json_integer(dur));
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	api_path(path, sizeof path, "/v1/users/%s/sanctions", a.pos[0]);
	rc = api_show(ctl, "POST", path, body, show_sanctioned, &s);
	json_decref(body);
	return rc;
}

/* ---- kick, revoke ---- */

static int show_closed(json_t *j, void *arg)
{
	struct said *s = arg;
	char u[200], t[40];
	fmt_clean(s->user, 64, u, sizeof u);
	json_int_t n = json_integer_value(json_object_get(j, "closed"));
	json_int_t rb = json_integer_value(json_object_get(j, "revoked_before"));
	if (rb > 0) {
		fmt_time(rb, t, sizeof t);
		printf("%s: tokens issued before %s are refused from now on\n", u, t);
	}
	printf("%s: %lld session%s closed\n", u, (long long)n, n == 1 ? "" : "s");
	return 0;
}

static int run_close(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0 || !valid_user(self, a.pos[0], &rc))
		return rc;
	char path[256], p[64];
	snprintf(p, sizeof p, "/v1/users/%%s/%s", self->name);
	api_path(path, sizeof path, p, a.pos[0]);
	struct said s = { a.pos[0], NULL };
	return api_show(ctl, "POST", path, NULL, show_closed, &s);
}

static const struct opt sanction_opts[] = {
	{ "--duration", 0, OPT_VALUE },
	{ "--reason", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static const char usage_show[] =
	"Usage: chatctl user show USER\n"
	"\n"
	"Show a user: online or not (sessions on this node), when first seen, active\n"
	"sanctions, whether their older tokens are revoked, and their log id (the\n"
	"hashed id their log lines carry as \"user\": grep the log for it).\n";

static const char usage_ban[] =
	"Usage: chatctl user ban USER [--duration D] [--reason TEXT]\n"
	"\n"
	"Ban USER: their open sessions are closed at once (error `revoked`, close code\n"
	"4403) and new ones are refused until the ban ends or is lifted.  Without\n"
	"--duration the ban is permanent.  Banned users can still appeal.\n"
	"\n"
	"Options:\n"
	"  --duration D   90s, 30m, 12h, 7d, 2w (a bare number is seconds)\n"
	"  --reason TEXT  recorded with the sanction and in the audit log\n";

static const char usage_unban[] =
	"Usage: chatctl user unban USER\n\nLift USER's ban.\n";

static const char usage_shadowban[] =
	"Usage: chatctl user shadowban USER [--duration D] [--reason TEXT]\n"
	"\n"
	"Shadow-ban USER: their messages are stored and acknowledged but reach only\n"
	"themselves.  Permanent without --duration.\n";

static const char usage_unshadowban[] =
	"Usage: chatctl user unshadowban USER\n\nLift USER's shadow ban.\n";

static const char usage_mute[] =
	"Usage: chatctl user mute USER --duration D [--reason TEXT]\n"
	"\n"
	"Mute USER for a while (the `block` sanction): their sends are refused with\n"
	"`rejected` (reason blocked); they stay connected and can read.\n";

static const char usage_unmute[] =
	"Usage: chatctl user unmute USER\n\nLift USER's mute.\n";

static const char usage_kick[] =
	"Usage: chatctl user kick USER\n"
	"\n"
	"Close every session of USER now (error `revoked`, close code 4403) without\n"
	"a sanction: they may reconnect at once.\n";

static const char usage_revoke[] =
	"Usage: chatctl user revoke USER\n"
	"\n"
	"Invalidate every token USER was issued before now and close all their\n"
	"sessions at once (error `revoked`, close 4403).  Tokens issued afterwards\n"
	"work.  Use it when a token leaked or a device was lost.  Survives restarts.\n";

const struct cmd cmds_user[] = {
	{ .name = "show", .args = "USER", .summary = "sessions, sanctions, revocation",
	  .usage = usage_show, .run = run_show, .flags = CMD_SERVER },
	{ .name = "ban", .args = "USER", .summary = "disconnect and refuse USER",
	  .usage = usage_ban, .run = run_sanction, .opts = sanction_opts, .flags = CMD_SERVER },
	{ .name = "unban", .args = "USER", .summary = "lift a ban", .usage = usage_unban,
	  .run = run_sanction, .flags = CMD_SERVER },
	{ .name = "shadowban", .args = "USER", .summary = "USER's messages reach only USER",
	  .usage = usage_shadowban, .run = run_sanction, .opts = sanction_opts,
	  .flags = CMD_SERVER },
	{ .name = "unshadowban", .args = "USER", .summary = "lift a shadow ban",
	  .usage = usage_unshadowban, .run = run_sanction, .flags = CMD_SERVER },
	{ .name = "mute", .args = "USER --duration D", .summary = "USER cannot send for a while",
	  .usage = usage_mute, .run = run_sanction, .opts = sanction_opts, .flags = CMD_SERVER },
	{ .name = "unmute", .args = "USER", .summary = "lift a mute", .usage = usage_unmute,
	  .run = run_sanction, .flags = CMD_SERVER },
	{ .name = "kick", .args = "USER", .summary = "close USER's sessions (no sanction)",
	  .usage = usage_kick, .run = run_close, .flags = CMD_SERVER },
	{ .name = "revoke", .args = "USER", .summary = "refuse USER's existing tokens, disconnect",
	  .usage = usage_revoke, .run = run_close, .flags = CMD_SERVER },
	{ .name = NULL },
};
