/* rules_cli.c — `chatd rules test`: run moderation rules over JSONL files of
 * sample messages with expected verdicts, without a server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "lua_host.h"
#include "mod_env.h"
#include "mod_sanctions.h"
#include "mod_compile.h"
#include "rules_cli.h"
#include "rules_test.h"

#ifndef CHATD_RULES_DIR
#define CHATD_RULES_DIR "/usr/local/share/chatd/rules"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: chatd rules test [-c FILE] [--rules-dir DIR] [--rule NAME]... [--json]\n"
		"                        CASES.jsonl...\n"
		"\n"
		"Runs moderation rules over sample messages, no server needed.  Each line of\n"
		"CASES.jsonl is one case, run in order with a fresh rule state per file:\n"
		"  {\"sender\":\"alice\",\"text\":\"hi\",\"expect\":\"allow\"}\n"
		"  {\"text\":\"spam spam\",\"dt\":100,\"expect\":\"reject:rate_limited\"}\n"
		"Fields: hook (default on_message), sender, conversation, kind, members, text,\n"
		"ts or dt (ms after the previous case; default 1000), account_created_at,\n"
		"seq, target, reason, expect (allow | reject | reject:CODE | shadow | hold |\n"
		"flag | rewrite), expect_text.  Sanctions a rule applies hold for later cases,\n"
		"as on the server.  See docs/lua-rules.md.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   take the rule list, modes, options and rules_dir from\n"
		"                      FILE's moderation section\n"
		"      --rules-dir DIR where <name>.lua and lists/ live (default: the\n"
		"                      config's, else " CHATD_RULES_DIR ")\n"
		"      --rule NAME     run this rule (repeatable, in order) instead of the\n"
		"                      config's list; options from the config when it has them\n"
		"      --json          one JSON object per case instead of a table\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0 every case passed, 1 a case failed, 2 bad usage or rules\n"
		"that do not load.\n");
}

static struct chatd_config *load(const char *path)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors errs = { 0 };
	/* No file: the defaults, with the keys a config must have. */
	static const char minimal[] = "plugins = { storage = 'x', presence = 'x', bus = 'x', "
				      "fanout = 'x' } auth = { secret = '0123456789abcdef' }";
	int st = path ? cfg_load_file(path, &cfg, &errs)
		      : cfg_load_string(minimal, strlen(minimal), "<defaults>", &cfg, &errs);
	if (st != CHATD_OK) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "chatd: %s\n", errs.msgs[i]);
		cfg_errors_clear(&errs);
		return NULL;
	}
	cfg_errors_clear(&errs);
	return cfg;
}

static int test_file(const struct chatd_config *cfg, const char *path, bool json_out,
		     int *failed)
{
	/* Fresh state per file: limiter buckets, strikes and sanctions. */
	struct mod_env *env = mod_env_new(NULL);
	struct mod_sanctions *sanctions = mod_sanctions_new(0);
	struct lua_host *h = NULL;
	char err[1024];
	int rc = 2;
	if (!env || !sanctions) {
		fprintf(stderr, "chatd: out of memory\n");
		goto out;
	}
	struct lua_host_opts o;
	moderation_host_opts(cfg, &o);
	o.env = env;
	rules_test_callbacks(&o.cb, sanctions);
	if (!(h = lua_host_new(&o, err, sizeof err)) ||
	    moderation_compile(cfg, h, err, sizeof err) < 0) {
		fprintf(stderr, "chatd: rules: %s\n", err);
		goto out;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		goto out;
	}
	int nf = 0;
	int st = rules_test_run(h, sanctions, f, path, stdout, json_out, &nf);
	fclose(f);
	if (st < 0) {
		fprintf(stderr, "chatd: %s: read error\n", path);
		goto out;
	}
	*failed += nf;
	rc = 0;
out:
	lua_host_free(h);
	mod_sanctions_free(sanctions);
	mod_env_free(env);
	return rc;
}

int rules_cli(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "test") != 0) {
		usage(argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		      ? stdout : stderr);
		return argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		       ? 0 : 2;
	}
	argc--;
	argv++;
	enum { OPT_DIR = 256, OPT_RULE, OPT_JSON };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "rules-dir", required_argument, NULL, OPT_DIR },
		{ "rule", required_argument, NULL, OPT_RULE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *dir = NULL;
	char *names[64];
	size_t n_names = 0;
	bool json_out = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case OPT_DIR: dir = optarg; break;
		case OPT_RULE:
			if (n_names == sizeof names / sizeof names[0]) {
				fprintf(stderr, "chatd: at most 64 --rule\n");
				return 2;
			}
			names[n_names++] = optarg;
			break;
		case OPT_JSON: json_out = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "chatd: rules test: no CASES.jsonl given\n");
		usage(stderr);
		return 2;
	}
	struct chatd_config *cfg = load(config);
	if (!cfg)
		return 2;
	if ((n_names && moderation_select_rules(cfg, (const char *const *)names, n_names) < 0) ||
	    (dir && !(free(cfg->mod_rules_dir), cfg->mod_rules_dir = strdup(dir)))) {
		fprintf(stderr, "chatd: out of memory\n");
		cfg_free(cfg);
		return 2;
	}
	if (cfg->n_mod_rules == 0) {
		fprintf(stderr, "chatd: rules test: no rules: give --rule NAME or a config with "
			"moderation.rules\n");
		cfg_free(cfg);
		return 2;
	}
	int failed = 0, rc = 0;
	for (int i = optind; i < argc && rc == 0; i++)
		rc = test_file(cfg, argv[i], json_out, &failed);
	cfg_free(cfg);
	return rc ? rc : failed ? 1 : 0;
}
