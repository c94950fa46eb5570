/* main.c — chatd: parse the command line, read the config, start the core
 * and the gateway, and exit with the core's status.  The only place that
 * exits the process. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "core_loop.h"
#include "gateway.h"
#include "loader.h"
#include "log.h"
#include "rules_cli.h"
#include "tls.h"

/* The fallback secret of chatd.conf.sample, known to everyone. */
#define SAMPLE_SECRET "dev-secret-change-me-please"

#ifndef CHATD_SYSCONFDIR
#define CHATD_SYSCONFDIR "/usr/local/etc"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: chatd [-c FILE]\n"
		"       chatd --check-config FILE\n"
		"       chatd --list-plugins [-c FILE | DIR]\n"
		"       chatd rules test [-c FILE] [--rule NAME]... CASES.jsonl...\n"
		"\n"
		"chatd is a real-time chat server: clients connect over WebSocket at /ws.\n"
		"It runs in the foreground and logs JSON lines to stderr, or to log.file.\n"
		"Signals: SIGTERM or SIGINT stop it cleanly (sessions closed with 1001,\n"
		"queued writes committed, exit 0); SIGHUP reopens log.file (logrotate).\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE      the config file (a Lua table; see chatd.conf.sample).\n"
		"                         Default: $CHATD_CONF, else ./chatd.conf, else\n"
		"                         " CHATD_SYSCONFDIR "/chatd.conf\n"
		"      --check-config FILE  validate FILE and the plugins it names, then exit:\n"
		"                         0 when valid, 1 with every problem listed\n"
		"      --list-plugins     list the plugins in the plugin directory (from -c's\n"
		"                         plugin_dir, the DIR given, or " CHATD_PLUGIN_DIR ")\n"
		"  -h, --help             this text\n"
		"  -V, --version          the version and plugin ABI\n"
		"\n"
		"Rule authors: `chatd rules test --help` runs rules over sample messages.\n"
		"Get a token for a user with: chatctl token mint alice -c FILE\n"
		"Environment: CHATD_CONF (see -c); CHATD_CONFIG_DEADLINE_MS raises the\n"
		"config file's 250 ms wall-clock limit (for valgrind and other slow\n"
		"wrappers; docs/configuration.md, The sandbox).\n"
		"Docs: README.md, docs/operations.md, docs/configuration.md, docs/protocol.md\n");
}

static const char *default_config(void)
{
	const char *env = getenv("CHATD_CONF");
	if (env && *env)
		return env;
	if (access("chatd.conf", R_OK) == 0)
		return "chatd.conf";
	return CHATD_SYSCONFDIR "/chatd.conf";
}

/* The TLS files the config names: readable, PEM, key matching the
 * certificate.  Problems go to stderr like config errors; returns the
 * number of problems. */
static int check_tls(const char *path, const struct chatd_config *cfg)
{
	struct cfg_errors errs = { 0 };
	int n = tls_check_config(cfg, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "chatd: %s: %s\n", path, errs.msgs[i]);
	if (n && errs.n == 0)
		fprintf(stderr, "chatd: %s: the TLS files cannot be checked\n", path);
	cfg_errors_clear(&errs);
	return n;
}

static struct chatd_config *load_config(const char *path)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors errs = { 0 };
	if (cfg_load_file(path, &cfg, &errs) != CHATD_OK) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "chatd: %s\n", errs.msgs[i]);
		if (errs.n == 0)
			fprintf(stderr, "chatd: %s: cannot load the config\n", path);
		cfg_errors_clear(&errs);
		return NULL;
	}
	cfg_errors_clear(&errs);
	return cfg;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_LIST };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, OPT_CHECK },
		{ "list-plugins", no_argument, NULL, OPT_LIST },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc >= 2 && strcmp(argv[1], "rules") == 0)
		return rules_cli(argc - 1, argv + 1);
	const char *config_path = NULL, *check_path = NULL;
	bool list = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case OPT_CHECK:
			check_path = optarg;
			break;
		case OPT_LIST:
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("chatd %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, CHATD_ABI_MAJOR,
			       CHATD_ABI_MINOR);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (list) {
		const char *dir = CHATD_PLUGIN_DIR;
		struct chatd_config *cfg = NULL;
		if (optind < argc) {
			dir = argv[optind];
		} else if (config_path) {
			if (!(cfg = load_config(config_path)))
				return 1;
			dir = cfg->plugin_dir;
		}
		int n = loader_list(dir);
		cfg_free(cfg);
		return n < 0 ? 1 : 0;
	}
	if (optind < argc) {
		fprintf(stderr, "chatd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check_path) {
		struct chatd_config *cfg = load_config(check_path);
		if (!cfg)
			return 1;
		char lerr[512];
		int rc = 0;
		if (log_check_path(cfg->log_file, lerr, sizeof lerr) < 0) {
			fprintf(stderr, "chatd: %s: %s\n", check_path, lerr);
			rc = -1;
		}
		if (check_tls(check_path, cfg))
			rc = -1;
		if (core_check_config(cfg) < 0)
			rc = -1;
		if (rc == 0)
			printf("%s: ok\n", check_path);
		cfg_free(cfg);
		return rc == 0 ? 0 : 1;
	}

	if (!config_path)
		config_path = default_config();
	struct chatd_config *cfg = load_config(config_path);
	if (!cfg)
		return 1;
	if (check_tls(config_path, cfg)) {
		cfg_free(cfg);
		return 1;
	}
	log_set_level((enum log_level)log_level_parse(cfg->log_level));
	char lerr[512] = "out of memory";
	if (log_set_user_hash_key(cfg->log_user_hash_key) < 0 ||
	    log_open(cfg->log_file, lerr, sizeof lerr) < 0) {
		/* Like any config error: said on stderr, exit 1, nothing started. */
		fprintf(stderr, "chatd: %s: %s\n", config_path, lerr);
		cfg_free(cfg);
		return 1;
	}
	if (cfg->auth_secret && strcmp(cfg->auth_secret, SAMPLE_SECRET) == 0)
		log_warn("core", "auth.sample_secret",
			 "auth.secret is the sample's public fallback: anyone can mint tokens; "
			 "set CHATD_JWT_SECRET or auth.secret");
	signal(SIGPIPE, SIG_IGN);

	struct core core;
	int rc = 1;
	struct gateway *gw = NULL;
	if (core_init(&core, cfg) < 0) {
		log_error("core", "init.failed", "cannot create the event loop");
		goto out;
	}
	if (core_load_plugins(&core) < 0)
		goto out;
	gw = gateway_new(&core);
	if (!gw)
		goto out;
	core_set_gateway(&core, gw);
	if (gateway_start(gw) < 0) {
		log_error("core", "init.failed", "cannot start the gateway thread");
		goto out;
	}
	log_info("core", "listen.ok", "chatd %s node %s listening on %s:%d (%s://%s:%d/ws)",
		 PACKAGE_VERSION, cfg->node_id, cfg->listen_host, gateway_port(gw),
		 cfg->tls_cert ? "wss" : "ws", cfg->listen_host, gateway_port(gw));
	rc = core_run(&core);
out:
	gateway_free(gw);
	core_destroy(&core);
	cfg_free(cfg);
	log_close();
	return rc;
}
