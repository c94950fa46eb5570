/* main.c — chatctl, the chatd admin CLI: global options, the command
 * tables, dispatch and help.
 *
 * Commands are rows ({name, args, summary, usage, run, subs, opts}); a group
 * ("user") dispatches to its own table, defined with its handlers in
 * cmd_<group>.c.  Global options (--url, --token, --json, …) are accepted
 * before the command and after it. */
#ifdef HAVE_CONFIG_H
#include <config.h> /* autoconf's, for PACKAGE_VERSION */
#endif

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chatctl.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#ifndef CHATD_SYSCONFDIR
#define CHATD_SYSCONFDIR "/usr/local/etc"
#endif

static const struct opt global_opts[] = {
	{ "--url", 0, OPT_VALUE },
	{ "--cacert", 0, OPT_VALUE },
	{ "--token", 0, OPT_VALUE },
	{ "--ctl-config", 0, OPT_VALUE },
	{ "--config", 'c', OPT_VALUE },
	{ "--json", 0, 0 },
	{ "--timeout", 0, OPT_VALUE },
	{ "--help", 'h', 0 },
	{ NULL, 0, 0 },
};

static const struct opt version_opt[] = {
	{ "--version", 'V', 0 },
	{ NULL, 0, 0 },
};

#define EXIT_HELP \
	"Exit status: 0 success; 1 the server said no (not found, conflict, invalid\n" \
	"rules, …) or a local failure; 2 bad usage; 3 cannot reach the server (refused,\n" \
	"timed out, not an HTTP answer); 4 unauthorized: no token, a bad or expired one\n" \
	"(401), or a role too low for the command (403).\n"

#define SERVER_HELP \
	"Server options (also accepted before the command):\n" \
	"  --url URL          admin API: http://HOST:PORT, https://HOST:PORT or\n" \
	"                     unix:/PATH/TO/SOCKET\n" \
	"  --cacert FILE      https: the CA (or the server's own certificate) to\n" \
	"                     trust instead of the system's CAs\n" \
	"  --token TOKEN      a JWT with the moderator or admin role\n" \
	"  --json             print the server's JSON unchanged instead of a table\n" \
	"  --timeout SECONDS  wait at most this long for an answer (default 30)\n" \
	"  --ctl-config FILE  chatctl's own settings file (url =, token =, cacert =,\n" \
	"                     timeout =)\n" \
	"  -c, --config FILE  a chatd.conf: the URL defaults to its admin.host/port\n" \
	"Without flags: $CHATCTL_URL, $CHATCTL_TOKEN and $CHATCTL_CACERT, then the settings file\n" \
	"(~/.config/chatctl.conf), then " CTL_DEFAULT_URL ".\n"

static const char usage_main[] =
	"Usage: chatctl [OPTIONS] COMMAND [ARGS...]\n"
	"\n"
	"chatctl runs a chatd server and its moderation: it talks to the admin API\n"
	"(JSON over HTTP on admin.host:admin.port) with a moderator or admin token,\n"
	"and mints tokens, backs up the SQLite store and tests rules locally.\n"
	"\n"
	"Commands:\n";

static const char usage_main_tail[] =
	"\n"
	"Options:\n"
	"  --url URL          admin API address: http://HOST:PORT, https://HOST:PORT\n"
	"                     or unix:/PATH (default " CTL_DEFAULT_URL ")\n"
	"  --cacert FILE      https: trust this CA (or the server's own certificate)\n"
	"                     instead of the system's CAs\n"
	"  --token TOKEN      admin or moderator JWT\n"
	"  --json             machine-readable output: the server's JSON unchanged\n"
	"  --timeout SECONDS  how long to wait for an answer, 1..3600 (default 30)\n"
	"  --ctl-config FILE  chatctl settings file (default ~/.config/chatctl.conf)\n"
	"  -c, --config FILE  the server's chatd.conf (token mint --local, backup,\n"
	"                     rules test; else $CHATD_CONF, ./chatd.conf,\n"
	"                     " CHATD_SYSCONFDIR "/chatd.conf)\n"
	"  -h, --help         show this help\n"
	"  -V, --version      print the version and exit\n"
	"\n"
	"Address and token, first found wins: the flags; $CHATCTL_URL and\n"
	"$CHATCTL_TOKEN; the settings file, lines 'url = …', 'token = …',\n"
	"'timeout = SECONDS' (keep it chmod 600); with -c, the URL from the chatd\n"
	"config's admin section; the default URL.  The CA file likewise: --cacert,\n"
	"$CHATCTL_CACERT, 'cacert = …', with -c and admin.tls_cert that certificate.\n"
	"\n"
	"The first admin token is signed locally from the server's key:\n"
	"  chatctl token mint root --role admin --local -c /etc/chatd/chatd.conf\n"
	"\n"
	"Examples:\n"
	"  export CHATCTL_TOKEN=$(chatctl token mint root --role admin --local -c chatd.conf)\n"
	"  chatctl status\n"
	"  chatctl reports list\n"
	"  chatctl reports resolve 12 --action ban --note 'spam links'\n"
	"  chatctl --json audit verify\n"
	"\n"
	"Run 'chatctl help COMMAND' (or 'chatctl COMMAND --help') for details.\n"
	EXIT_HELP;

static int cmd_group(struct ctl *ctl, const struct cmd *self, int argc, char **argv);
static int cmd_help(struct ctl *ctl, const struct cmd *self, int argc, char **argv);

static const struct cmd top_cmds[] = {
	{ .name = "status", .impl = &cmd_status_cmd },
	{ .name = "plugins", .impl = &cmd_plugins_cmd },
	{ .name = "metrics", .impl = &cmd_metrics_cmd },
	{ .name = "token", .args = "", .summary = "mint access tokens",
	  .usage = "Access tokens: the signed JWTs clients and staff present to chatd.",
	  .run = cmd_group, .subs = cmds_token },
	{ .name = "reports", .args = "", .summary = "the moderation queue",
	  .usage = "The moderation queue: reports filed by users, messages flagged or held by\n"
		   "the rules, and appeals.  Each item has an ID; resolve it with an action.",
	  .run = cmd_group, .subs = cmds_reports },
	{ .name = "queue", .args = "", .summary = "held messages",
	  .usage = "Held messages: a rule held them until a moderator decides.",
	  .run = cmd_group, .subs = cmds_queue },
	{ .name = "user", .args = "", .summary = "users' sessions and sanctions",
	  .usage = "A user's sessions and sanctions.", .run = cmd_group, .subs = cmds_user },
	{ .name = "message", .args = "", .summary = "messages",
	  .usage = "Messages, named by conversation and seq.", .run = cmd_group,
	  .subs = cmds_message },
	{ .name = "conv", .args = "", .summary = "conversations",
	  .usage = "Conversations: their settings and members (never their messages).",
	  .run = cmd_group, .subs = cmds_conv },
	{ .name = "appeals", .args = "", .summary = "appeals against sanctions",
	  .usage = "Appeals: sanctioned users ask for the sanction to be lifted.",
	  .run = cmd_group, .subs = cmds_appeals },
	{ .name = "audit", .args = "", .summary = "the audit log",
	  .usage = "The audit log: every staff action and rule verdict, each entry\n"
		   "hash-chained to the one before.", .run = cmd_group, .subs = cmds_audit },
	{ .name = "rules", .args = "", .summary = "moderation rules",
	  .usage = "The Lua moderation rules (docs/lua-rules.md).", .run = cmd_group,
	  .subs = cmds_rules },
	{ .name = "encryption", .args = "", .summary = "encryption at rest: keys, re-encryption",
	  .usage = "Encryption at rest of message text (docs/operations.md): the keys in use\n"
		   "and the job that re-seals stored texts with the active key.",
	  .run = cmd_group, .subs = cmds_encryption },
	{ .name = "backup", .impl = &cmd_backup_cmd },
	{ .name = "help", .args = "[COMMAND]", .summary = "show help for a command",
	  .usage = "Usage: chatctl help [COMMAND [SUBCOMMAND]]\n\nShow help for chatctl or "
		   "for one command, e.g. 'chatctl help user ban'.\n", .run = cmd_help },
	{ .name = NULL },
};

static const struct cmd *resolve(const struct cmd *c)
{
	return c && c->impl ? c->impl : c;
}

static char g_path[96];   /* "user ban": the command being run, for messages */

const char *ctl_cmd_path(const struct cmd *c)
{
	return g_path[0] ? g_path : c->name;
}

/* ---- help ---- */

static void print_cmd_list(FILE *f, const struct cmd *table, const char *prefix)
{
	char name[128], shown[192];
	for (const struct cmd *c0 = table; c0->name; c0++) {
		const struct cmd *c = resolve(c0);
		snprintf(name, sizeof name, "%s%s", prefix, c0->name);
		if (c->subs) {
			char p[130];
			snprintf(p, sizeof p, "%s ", name);
			print_cmd_list(f, c->subs, p);
		} else {
			snprintf(shown, sizeof shown, "%s%s%s", name, c->args[0] ? " " : "", c->args);
			fprintf(f, "  %-34s %s\n", shown, c->summary);
		}
	}
}

static void print_main_help(FILE *f)
{
	fputs(usage_main, f);
	print_cmd_list(f, top_cmds, "");
	fputs(usage_main_tail, f);
}

void ctl_print_help(FILE *f, const struct cmd *c)
{
	if (c->subs) {
		fprintf(f, "Usage: chatctl %s SUBCOMMAND [ARGS...]\n\n%s\n\nSubcommands:\n",
			g_path[0] ? g_path : c->name, c->usage);
		char prefix[sizeof g_path + 2];
		snprintf(prefix, sizeof prefix, "%s ", g_path[0] ? g_path : c->name);
		print_cmd_list(f, c->subs, prefix);
		fprintf(f, "\nRun 'chatctl %s SUBCOMMAND --help' for details.\n",
			g_path[0] ? g_path : c->name);
		return;
	}
	fputs(c->usage, f);
	if (c->flags & CMD_SERVER)
		fprintf(f, "\n%s", SERVER_HELP);
	fprintf(f, "\n%s", EXIT_HELP);
}

int ctl_usage_error(const struct cmd *self, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("chatctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	const char *path = ctl_cmd_path(self);
	fprintf(stderr, "\nTry 'chatctl %s%s--help'.\n", path, *path ? " " : "");
	return EXIT_USAGE;
}

/* ---- options ---- */

static int apply_globals(struct ctl *ctl, const struct args *a, const struct cmd *self)
{
	const char *v;
	if ((v = args_get(a, "--url")))
		ctl->url_flag = v;
	if ((v = args_get(a, "--token")))
		ctl->token_flag = v;
	if ((v = args_get(a, "--cacert"))) {
		if (!*v)
			return ctl_usage_error(self, "--cacert needs a file name");
		ctl->cacert_flag = v;
	}
	if ((v = args_get(a, "--ctl-config"))) {
		if (!*v)
			return ctl_usage_error(self, "--ctl-config needs a file name");
		ctl->ctlconf_flag = v;
	}
	if ((v = args_get(a, "--config"))) {
		if (!*v)
			return ctl_usage_error(self, "--config needs a file name");
		ctl->config_path = v;
	}
	if (args_has(a, "--json"))
		ctl->json = true;
	if ((v = args_get(a, "--timeout"))) {
		long long t;
		if (!args_int(v, 1, 3600, &t))
			return ctl_usage_error(self, "--timeout '%s': whole seconds, 1..3600", v);
		ctl->timeout_ms = (int)t * 1000;
	}
	return -1;
}

int ctl_parse(struct ctl *ctl, const struct cmd *self, int argc, char **argv, struct args *a)
{
	const struct opt *lists[2] = { global_opts, self->opts };
	char err[200];
	if (args_parse(lists, self->opts ? 2 : 1, argc, argv, a, err, sizeof err) < 0)
		return ctl_usage_error(self, "%s", err);
	if (args_has(a, "--help")) {
		ctl_print_help(stdout, self);
		return 0;
	}
	return apply_globals(ctl, a, self);
}

int ctl_parse_pos(struct ctl *ctl, const struct cmd *self, int argc, char **argv,
		  struct args *a, int min, int max)
{
	int rc = ctl_parse(ctl, self, argc, argv, a);
	if (rc >= 0)
		return rc;
	if (a->npos < min)
		return ctl_usage_error(self, "missing argument%s: %s %s", max > 1 ? "s" : "",
				       self->name, self->args);
	if (a->npos > max)
		return ctl_usage_error(self, "unexpected argument '%s'", a->pos[max]);
	return -1;
}

/* ---- dispatch ---- */

static const struct cmd *find_cmd(const struct cmd *table, const char *name)
{
	for (const struct cmd *c = table; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return resolve(c);
	return NULL;
}

static int dispatch(struct ctl *ctl, const struct cmd *table, int argc, char **argv)
{
	const struct cmd *c = find_cmd(table, argv[0]);
	if (!c) {
		fprintf(stderr, "chatctl: unknown command '%s%s%s'\n\nCommands:\n", g_path,
			g_path[0] ? " " : "", argv[0]);
		char prefix[100];
		snprintf(prefix, sizeof prefix, "%s%s", g_path, g_path[0] ? " " : "");
		print_cmd_list(stderr, table, prefix);
		fprintf(stderr, "\nTry 'chatctl %s%s--help'.\n", g_path, g_path[0] ? " " : "");
		return EXIT_USAGE;
	}
	size_t n = strlen(g_path);
	snprintf(g_path + n, sizeof g_path - n, "%s%s", n ? " " : "", c->name);
	return c->run(ctl, c, argc - 1, argv + 1);
}

/* Index of the first word of argv[i..] that is neither a global option
 * nor an option's value; *help set when -h/--help is among them. */
static int skip_globals(int argc, char **argv, int i, bool *help)
{
	while (i < argc && argv[i][0] == '-' && argv[i][1]) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			*help = true;
		bool takes_value = false;
		for (const struct opt *o = global_opts; o->lng; o++)
			if ((strcmp(argv[i], o->lng) == 0 ||
			     (o->shrt && argv[i][1] == o->shrt && argv[i][2] == '\0')) &&
			    (o->flags & OPT_VALUE))
				takes_value = true;
		i += takes_value ? 2 : 1;
	}
	return i > argc ? argc : i;
}

static int cmd_group(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	/* Global options may come between the group and its subcommand. */
	bool help = false;
	int i = skip_globals(argc, argv, 0, &help);
	if (help) {
		ctl_print_help(stdout, self);
		return 0;
	}
	if (i >= argc) {
		if (argc > 0)
			return ctl_usage_error(self, "missing SUBCOMMAND");
		ctl_print_help(stderr, self);
		return EXIT_USAGE;
	}
	/* Move the subcommand first: its parser takes the options anywhere. */
	char *sub = argv[i];
	memmove(argv + 1, argv, (size_t)i * sizeof *argv);
	argv[0] = sub;
	return dispatch(ctl, self->subs, argc, argv);
}

static int cmd_help(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	(void)ctl;
	(void)self;
	if (argc > 0 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0)) {
		ctl_print_help(stdout, self);
		return 0;
	}
	const struct cmd *table = top_cmds, *c = NULL;
	g_path[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (!table) {
			fprintf(stderr, "chatctl: '%s' has no subcommand '%s'\n", g_path, argv[i]);
			return EXIT_USAGE;
		}
		c = find_cmd(table, argv[i]);
		if (!c) {
			fprintf(stderr, "chatctl: no command '%s'; try 'chatctl help'\n", argv[i]);
			return EXIT_USAGE;
		}
		size_t n = strlen(g_path);
		snprintf(g_path + n, sizeof g_path - n, "%s%s", n ? " " : "", c->name);
		table = c->subs;
	}
	if (!c)
		print_main_help(stdout);
	else
		ctl_print_help(stdout, c);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	/* Leading global options: everything up to the first word that is not
	 * an option or an option's value. */
	bool help = false;
	int i = skip_globals(argc, argv, 1, &help);
	struct args a;
	const struct opt *lists[2] = { global_opts, version_opt };
	char err[200];
	static const struct cmd main_cmd = { .name = "" };
	int nopt = i - 1;
	if (nopt > 0 && strcmp(argv[i - 1], "--") == 0)
		nopt--;
	if (args_parse(lists, 2, nopt, argv + 1, &a, err, sizeof err) < 0 || a.npos > 0) {
		fprintf(stderr, "chatctl: %s\nTry 'chatctl --help'.\n",
			a.npos > 0 ? "unexpected argument" : err);
		return EXIT_USAGE;
	}
	if (args_has(&a, "--help")) {
		print_main_help(stdout);
		return 0;
	}
	if (args_has(&a, "--version")) {
		printf("chatctl (chatd) %s\n", PACKAGE_VERSION);
		return 0;
	}
	g_path[0] = '\0';
	int rc = apply_globals(&ctl, &a, &main_cmd);
	if (rc >= 0)
		return rc;
	if (i >= argc) {
		print_main_help(stderr);
		return EXIT_USAGE;
	}
	rc = dispatch(&ctl, top_cmds, argc - i, argv + i);
	ctl_release(&ctl);
	return rc;
}
