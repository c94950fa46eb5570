/* chatctl.c — the chatd admin CLI.
 *
 * Commands are rows of tables ({name, summary, usage, handler}); a command
 * with subcommands ("token") dispatches through its own table, so adding
 * `status`, `reports`, `user …` later is adding rows.
 *
 * Exit status: 0 success, 1 runtime failure (config invalid, key unreadable,
 * signing failed), 2 usage error. */
#ifdef HAVE_CONFIG_H
#include <config.h> /* autoconf's, for PACKAGE_VERSION */
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chatd/status.h"
#include "../core/auth.h"
#include "../core/config.h" /* by path: "config.h" alone may find autoconf's */

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#ifndef CHATD_SYSCONFDIR
#define CHATD_SYSCONFDIR "/usr/local/etc"
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define TTL_MAX 31536000        /* one year */
#define KEY_FILE_MAX (64 * 1024)

/* Options shared by every command. */
struct ctl {
	const char *config_path; /* from -c/--config; NULL = default search */
};

struct cmd {
	const char *name;
	const char *args;        /* shown after the name in lists, e.g. "USER" */
	const char *summary;     /* one line for the command list */
	const char *usage;       /* full help text */
	int (*handler)(struct ctl *ctl, const struct cmd *self, int argc, char **argv);
	const struct cmd *subs;  /* subcommand table or NULL; ends with name NULL */
};

/* ---- help texts ---------------------------------------------------------- */

#define CONFIG_HELP \
	"Configuration file: --config FILE, else $CHATD_CONF, else ./chatd.conf,\n" \
	"else " CHATD_SYSCONFDIR "/chatd.conf.  It is the server's own chatd.conf\n" \
	"(a Lua table); chatctl reads its auth section.\n"

static const char usage_main[] =
	"Usage: chatctl [-c FILE] COMMAND [ARGS...]\n"
	"\n"
	"chatctl administers a chatd chat server.\n"
	"\n"
	"Commands:\n"
	"%s"
	"\n"
	"Options:\n"
	"  -c, --config FILE  configuration file (see below)\n"
	"  -h, --help         show this help\n"
	"  -V, --version      print the version and exit\n"
	"\n"
	CONFIG_HELP
	"\n"
	"Example:\n"
	"  chatctl token mint alice\n"
	"\n"
	"Run 'chatctl help COMMAND' (or 'chatctl COMMAND --help') for details.\n"
	"Exit status: 0 success, 1 failure (e.g. invalid configuration), 2 bad usage.\n";

static const char usage_help[] =
	"Usage: chatctl help [COMMAND [SUBCOMMAND]]\n"
	"\n"
	"Show help for chatctl or for one command, e.g. 'chatctl help token mint'.\n";

static const char usage_token[] =
	"Usage: chatctl token SUBCOMMAND [ARGS...]\n"
	"\n"
	"Manage access tokens: the signed JWTs clients present to chatd to log in.\n"
	"\n"
	"Subcommands:\n"
	"%s"
	"\n"
	"Run 'chatctl token SUBCOMMAND --help' for details.\n";

static const char usage_token_mint[] =
	"Usage: chatctl token mint USER [--role ROLE]... [--ttl SECONDS] [-c FILE]\n"
	"\n"
	"Print a signed access token (a JWT) for USER on standard output, followed\n"
	"by a newline.  A client logs in to chatd with it, in one of three ways:\n"
	"  the header      Authorization: Bearer TOKEN\n"
	"  the URL         ws://HOST:PORT/ws?access_token=TOKEN\n"
	"  a first frame   {\"type\":\"auth\",\"token\":\"TOKEN\"}\n"
	"Anyone holding the token is USER until it expires: keep it secret.\n"
	"\n"
	"The token carries sub (USER), iat (now), exp (now + TTL) and, with\n"
	"--role, roles.  It is signed as the configuration's auth section says:\n"
	"  auth.algorithm = \"HS256\" (default)  with the shared secret auth.secret\n"
	"  auth.algorithm = \"RS256\" or \"ES256\" with the PEM private key in\n"
	"                                      auth.private_key_file (the server\n"
	"                                      itself only needs auth.public_key_file)\n"
	"For example:\n"
	"  auth = { algorithm = \"HS256\", secret = os.getenv(\"CHATD_JWT_SECRET\") }\n"
	"\n"
	"Arguments and options:\n"
	"  USER               the user id: 1 to 64 characters of A-Z a-z 0-9 . _ @ -\n"
	"  --role ROLE        grant ROLE: moderator or admin; repeat to grant both\n"
	"  --ttl SECONDS      lifetime in seconds, 1 to 31536000 (a year); default\n"
	"                     auth.default_ttl_s from the configuration (86400, one\n"
	"                     day, unless set)\n"
	"  -c, --config FILE  configuration file (see below)\n"
	"  -h, --help         show this help\n"
	"\n"
	CONFIG_HELP
	"\n"
	"Examples:\n"
	"  chatctl token mint alice\n"
	"  chatctl token mint bob --role moderator --ttl 3600 -c /etc/chatd.conf\n"
	"  TOKEN=$(chatctl token mint alice) || exit 1\n"
	"\n"
	"Exit status: 0 token printed, 1 configuration or key problem, 2 bad usage.\n";

/* ---- small helpers ------------------------------------------------------- */

static void print_any_usage(FILE *f, const struct cmd *c);

/* One line per command; a group is listed as its subcommands ("token mint"). */
static void print_cmd_list(FILE *f, const struct cmd *table, const char *prefix)
{
	char name[64], shown[96];
	for (const struct cmd *c = table; c->name; c++) {
		snprintf(name, sizeof name, "%s%s", prefix, c->name);
		if (c->subs) {
			size_t n = strlen(name);
			if (n + 2 < sizeof name) {
				name[n] = ' ';
				name[n + 1] = '\0';
			}
			print_cmd_list(f, c->subs, name);
		} else {
			snprintf(shown, sizeof shown, "%s%s%s", name, c->args[0] ? " " : "", c->args);
			fprintf(f, "  %-22s %s\n", shown, c->summary);
		}
	}
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* Option with a value: "--name V", "--name=V" (and short "-c V").  Returns
 * true if argv[*i] is this option; *val is NULL when the value is missing. */
static bool take_opt(int argc, char **argv, int *i, const char *longname, const char *shortname,
		     const char **val)
{
	const char *a = argv[*i];
	size_t ln = strlen(longname);
	if (strncmp(a, longname, ln) == 0 && a[ln] == '=') {
		*val = a + ln + 1;
		return true;
	}
	if (strcmp(a, longname) == 0 || (shortname && strcmp(a, shortname) == 0)) {
		*val = (*i + 1 < argc) ? argv[++*i] : NULL;
		return true;
	}
	return false;
}

static int usage_error(const char *cmdpath, const char *fmt, const char *arg)
{
	fprintf(stderr, "chatctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'chatctl %s--help'.\n", cmdpath);
	return EXIT_USAGE;
}

/* Where the configuration comes from; see CONFIG_HELP. */
static const char *config_path(const struct ctl *ctl)
{
	if (ctl->config_path)
		return ctl->config_path;
	const char *env = getenv("CHATD_CONF");
	if (env && *env)
		return env;
	if (access("chatd.conf", F_OK) == 0)
		return "chatd.conf";
	return CHATD_SYSCONFDIR "/chatd.conf";
}

/* Load and check the configuration; prints every problem.  NULL on failure. */
static struct chatd_config *load_config(const struct ctl *ctl)
{
	const char *path = config_path(ctl);
	if (access(path, R_OK) != 0) {
		int e = errno;
		fprintf(stderr, "chatctl: cannot read configuration %s: %s\n", path, strerror(e));
		if (!ctl->config_path && !(getenv("CHATD_CONF") && *getenv("CHATD_CONF")))
			fprintf(stderr, "chatctl: looked for ./chatd.conf and %s; "
				"use --config FILE or set CHATD_CONF\n",
				CHATD_SYSCONFDIR "/chatd.conf");
		return NULL;
	}
	struct chatd_config *cfg = NULL;
	struct cfg_errors errs = { 0 };
	int st = cfg_load_file(path, &cfg, &errs);
	if (st != CHATD_OK || !cfg) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		fprintf(stderr, "chatctl: %s: configuration is invalid (%zu error%s; %s)\n", path,
			errs.n, errs.n == 1 ? "" : "s", chatd_strerror(st));
		cfg_errors_clear(&errs);
		if (cfg)
			cfg_free(cfg);
		return NULL;
	}
	cfg_errors_clear(&errs);
	return cfg;
}

/* Read a whole (small) file into a NUL-terminated malloc'd buffer. */
static char *read_small_file(const char *path, size_t *len, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "chatctl: cannot open %s %s: %s\n", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > KEY_FILE_MAX) {
		fprintf(stderr, "chatctl: %s %s is not a regular file of 1..%d bytes\n", what, path,
			KEY_FILE_MAX);
		close(fd);
		return NULL;
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size + 1);
	if (!buf) {
		fprintf(stderr, "chatctl: out of memory\n");
		close(fd);
		return NULL;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "chatctl: cannot read %s %s: %s\n", what, path,
				r < 0 ? strerror(errno) : "file shrank while reading");
			close(fd);
			explicit_bzero(buf, size);
			free(buf);
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[size] = '\0';
	*len = size;
	return buf;
}

/* ---- token mint ---------------------------------------------------------- */

/* Check the minted token with the server's own verification key, so a key
 * pair mismatch is caught here rather than as refused logins.  Returns 0,
 * or 1 after printing why. */
static int check_minted(const struct chatd_config *cfg, const char *alg, const char *secret,
			size_t secretlen, const char *tok, int64_t now)
{
	char *pub = NULL;
	size_t publen = 0;
	const char *key = secret;
	size_t keylen = secretlen;
	if (strcmp(alg, "HS256") != 0) {
		if (!cfg->auth_public_key_file)
			return 0;
		pub = read_small_file(cfg->auth_public_key_file, &publen, "auth.public_key_file");
		if (!pub) {
			fprintf(stderr, "chatctl: warning: token not checked against the public key\n");
			return 0;
		}
		key = pub;
		keylen = publen;
	}
	struct auth_verifier *v = NULL;
	char err[256];
	int rc = 0;
	if (auth_verifier_new(alg, key, keylen, cfg->auth_leeway_s, &v, err, sizeof err) != CHATD_OK) {
		fprintf(stderr, "chatctl: the server could not use this key: %s\n", err);
		rc = 1;
	} else {
		struct auth_claims claims;
		enum auth_result r = auth_verify(v, tok, now, &claims);
		if (r != AUTH_OK) {
			fprintf(stderr, "chatctl: the server would refuse this token (%s)%s\n",
				auth_result_str(r),
				pub ? "; does auth.private_key_file match auth.public_key_file?" : "");
			rc = 1;
		}
	}
	auth_verifier_free(v);
	free(pub);
	return rc;
}

static int cmd_token_mint(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	static const char where[] = "token mint ";
	const char *user = NULL;
	const char *ttl_arg = NULL;
	bool want_admin = false, want_moderator = false;
	bool opts_done = false;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		if (!opts_done && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "--") == 0) {
				opts_done = true;
			} else if (is_help(a)) {
				print_any_usage(stdout, self);
				return 0;
			} else if (take_opt(argc, argv, &i, "--role", NULL, &val)) {
				if (!val)
					return usage_error(where, "%s needs a value", "--role");
				if (strcmp(val, "admin") == 0)
					want_admin = true;
				else if (strcmp(val, "moderator") == 0)
					want_moderator = true;
				else
					return usage_error(where,
							   "unknown role '%s' (moderator or admin)",
							   val);
			} else if (take_opt(argc, argv, &i, "--ttl", NULL, &val)) {
				if (!val)
					return usage_error(where, "%s needs a value", "--ttl");
				ttl_arg = val;
			} else if (take_opt(argc, argv, &i, "--config", "-c", &val)) {
				if (!val || !*val)
					return usage_error(where, "%s needs a file name", "--config");
				ctl->config_path = val;
			} else {
				return usage_error(where, "unknown option '%s'", a);
			}
			continue;
		}
		if (user)
			return usage_error(where, "one USER only; '%s' is extra", a);
		user = a;
	}
	if (!user)
		return usage_error(where, "%s", "missing USER");
	if (!auth_user_id_valid(user))
		return usage_error(where,
				   "invalid USER '%s': use 1 to 64 characters of A-Z a-z 0-9 . _ @ -",
				   user);
	int64_t ttl = 0;
	if (ttl_arg) {
		char *end = NULL;
		errno = 0;
		long long t = strtoll(ttl_arg, &end, 10);
		if (errno || end == ttl_arg || *end || t < 1 || t > TTL_MAX)
			return usage_error(where, "--ttl '%s': give whole seconds, 1 to 31536000",
					   ttl_arg);
		ttl = t;
	}

	struct chatd_config *cfg = load_config(ctl);
	if (!cfg)
		return EXIT_RUNTIME;
	int rc = EXIT_RUNTIME;
	char *keybuf = NULL, *tok = NULL;
	size_t keylen = 0;
	const char *key = NULL;
	const char *alg = cfg->auth_algorithm ? cfg->auth_algorithm : "HS256";

	if (!ttl_arg) {
		ttl = cfg->auth_default_ttl_s;
		if (ttl < 1 || ttl > TTL_MAX) {
			fprintf(stderr, "chatctl: auth.default_ttl_s = %lld is outside 1..%d; "
				"pass --ttl\n", (long long)ttl, TTL_MAX);
			goto out;
		}
	}
	if (strcmp(alg, "HS256") == 0) {
		if (!cfg->auth_secret || !*cfg->auth_secret) {
			fprintf(stderr, "chatctl: auth.secret is not set; HS256 tokens are signed "
				"with it\n");
			goto out;
		}
		key = cfg->auth_secret;
		keylen = strlen(key);
	} else if (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0) {
		if (!cfg->auth_private_key_file || !*cfg->auth_private_key_file) {
			fprintf(stderr,
				"chatctl: auth.private_key_file is not set: minting %s tokens needs "
				"the PEM private key matching auth.public_key_file.\n"
				"chatctl: set auth.private_key_file in the configuration (on the "
				"machine that mints tokens only).\n", alg);
			goto out;
		}
		keybuf = read_small_file(cfg->auth_private_key_file, &keylen, "auth.private_key_file");
		if (!keybuf)
			goto out;
		key = keybuf;
	} else {
		fprintf(stderr, "chatctl: auth.algorithm '%s' is not HS256, RS256 or ES256\n", alg);
		goto out;
	}

	const char *roles[3];
	size_t nroles = 0;
	if (want_moderator)
		roles[nroles++] = "moderator";
	if (want_admin)
		roles[nroles++] = "admin";
	roles[nroles] = NULL;

	int64_t now = (int64_t)time(NULL);
	int st = auth_mint(alg, key, keylen, user, now, ttl, roles, &tok);
	if (st != CHATD_OK || !tok) {
		fprintf(stderr, "chatctl: cannot sign a %s token: %s%s\n", alg, chatd_strerror(st),
			keybuf ? " (is auth.private_key_file a PEM private key of that type?)" :
				 " (auth.secret must be at least 16 bytes)");
		goto out;
	}
	if (check_minted(cfg, alg, key, keylen, tok, now) != 0)
		goto out;
	if (printf("%s\n", tok) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "chatctl: cannot write the token: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (tok) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	if (keybuf) {
		explicit_bzero(keybuf, keylen);
		free(keybuf);
	}
	cfg_free(cfg);
	return rc;
}

/* ---- command tables and dispatch ----------------------------------------- */

static int dispatch(struct ctl *ctl, const struct cmd *table, const char *path, int argc,
		    char **argv);
static int cmd_group(struct ctl *ctl, const struct cmd *self, int argc, char **argv);
static int cmd_help(struct ctl *ctl, const struct cmd *self, int argc, char **argv);

static const struct cmd token_cmds[] = {
	{ "mint", "USER", "print a signed access token for USER", usage_token_mint,
	  cmd_token_mint, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};

static const struct cmd top_cmds[] = {
	{ "token", "", "manage access tokens", usage_token, cmd_group, token_cmds },
	{ "help", "[COMMAND]", "show help for a command", usage_help, cmd_help, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};

static const struct cmd *find_cmd(const struct cmd *table, const char *name)
{
	for (const struct cmd *c = table; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_group_usage(FILE *f, const struct cmd *self)
{
	/* A group's usage has one %s: its subcommand list. */
	char list[1024];
	FILE *m = fmemopen(list, sizeof list, "w");
	if (m) {
		print_cmd_list(m, self->subs, "");
		fclose(m);
	} else {
		list[0] = '\0';
	}
	fprintf(f, self->usage, list);
}

static void print_main_usage(FILE *f)
{
	char list[2048];
	FILE *m = fmemopen(list, sizeof list, "w");
	if (m) {
		print_cmd_list(m, top_cmds, "");
		fclose(m);
	} else {
		list[0] = '\0';
	}
	fprintf(f, usage_main, list);
}

/* Leaves' usage texts are plain; groups' have a %s for their command list. */
static void print_any_usage(FILE *f, const struct cmd *c)
{
	if (c->subs)
		print_group_usage(f, c);
	else
		fputs(c->usage, f);
}

static int cmd_group(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	if (argc == 0) {
		print_group_usage(stderr, self);
		return EXIT_USAGE;
	}
	if (is_help(argv[0])) {
		print_group_usage(stdout, self);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof path, "%s ", self->name);
	return dispatch(ctl, self->subs, path, argc, argv);
}

static int cmd_help(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	(void)ctl;
	(void)self;
	const struct cmd *table = top_cmds, *c = NULL;
	for (int i = 0; i < argc; i++) {
		if (!table) {
			fprintf(stderr, "chatctl: '%s' has no subcommand '%s'\n", c->name, argv[i]);
			return EXIT_USAGE;
		}
		c = find_cmd(table, argv[i]);
		if (!c) {
			fprintf(stderr, "chatctl: no command '%s'; try 'chatctl help'\n", argv[i]);
			return EXIT_USAGE;
		}
		table = c->subs;
	}
	if (!c)
		print_main_usage(stdout);
	else
		print_any_usage(stdout, c);
	return 0;
}

/* Run argv[0] from table with the rest of argv.  path ("" or "token ")
 * names the position for messages. */
static int dispatch(struct ctl *ctl, const struct cmd *table, const char *path, int argc,
		    char **argv)
{
	const struct cmd *c = find_cmd(table, argv[0]);
	if (!c) {
		fprintf(stderr, "chatctl: unknown command '%s%s'\n\nCommands:\n", path, argv[0]);
		print_cmd_list(stderr, table, path);
		fprintf(stderr, "\nTry 'chatctl %s--help'.\n", path);
		return EXIT_USAGE;
	}
	return c->handler(ctl, c, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	int i = 1;

	/* Global options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *val = NULL;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (is_help(a)) {
			print_main_usage(stdout);
			return 0;
		}
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("chatctl (chatd) %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (take_opt(argc, argv, &i, "--config", "-c", &val)) {
			if (!val || !*val)
				return usage_error("", "%s needs a file name", "--config");
			ctl.config_path = val;
			continue;
		}
		return usage_error("", "unknown option '%s'", a);
	}
	if (i >= argc) {
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	return dispatch(&ctl, top_cmds, "", argc - i, argv + i);
}
