/* cmd_rules.c — `chatctl rules list|reload|test|dry-run`.  list, reload and
 * dry-run ask the server (GET /v1/rules, POST /v1/rules/reload, POST
 * /v1/rules/dry-run); test runs locally through the very code of `chatd
 * rules test` (core/rules_cli.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chatctl.h"
#include "table.h"
#include "prom.h"
#include "rules_cli.h"

/* ---- list ---- */

static const char *str_or(json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : def;
}

/* "reject 3, rewrite 1": the verdicts other than allow that a rule gave. */
static long long hits(json_t *verdicts, char *buf, size_t n)
{
	long long total = 0;
	size_t o = 0;
	const char *k;
	json_t *v;
	buf[0] = '\0';
	json_object_foreach(verdicts, k, v) {
		long long c = (long long)json_integer_value(v);
		if (strcmp(k, "allow") == 0 || c == 0)
			continue;
		total += c;
		if (o < n)
			o += (size_t)snprintf(buf + o, n - o, "%s%s %lld", o ? ", " : "", k, c);
	}
	return total;
}

/* A latency figure in µs as text ("85µs", "1.2ms"). */
static void fmt_us(json_t *v, char *buf, size_t n)
{
	if (!json_is_number(v)) {
		snprintf(buf, n, "-");
		return;
	}
	double us = json_number_value(v);
	if (us < 1000)
		snprintf(buf, n, "%.0fus", us);
	else
		snprintf(buf, n, "%.1fms", us / 1000.0);
}

/* The rule's latency: "avg / p99", from whichever fields the server has. */
static void latency(json_t *r, char *buf, size_t n)
{
	json_t *l = json_object_get(r, "latency_us");
	if (!json_is_object(l))
		l = json_object_get(r, "latency");
	char a[32], b[32];
	if (json_is_object(l)) {
		json_t *avg = json_object_get(l, "avg");
		if (!avg)
			avg = json_object_get(l, "mean");
		json_t *p99 = json_object_get(l, "p99");
		fmt_us(avg ? avg : json_object_get(l, "p50"), a, sizeof a);
		fmt_us(p99 ? p99 : json_object_get(l, "max"), b, sizeof b);
		snprintf(buf, n, "%s / %s", a, b);
		return;
	}
	json_t *avg = json_object_get(r, "avg_us"), *p99 = json_object_get(r, "p99_us");
	if (avg || p99) {
		fmt_us(avg, a, sizeof a);
		fmt_us(p99, b, sizeof b);
		snprintf(buf, n, "%s / %s", a, b);
		return;
	}
	json_t *tot = json_object_get(r, "time_us");
	json_int_t calls = json_integer_value(json_object_get(r, "calls"));
	if (json_is_number(tot) && calls > 0) {
		json_t *avgv = json_real(json_number_value(tot) / (double)calls);
		fmt_us(avgv, a, sizeof a);
		json_decref(avgv);
		snprintf(buf, n, "%s / -", a);
		return;
	}
	snprintf(buf, n, "-");
}

static int show_rules(json_t *j, void *arg)
{
	(void)arg;
	char v[32], fm[32], ft[32];
	fmt_json(json_object_get(j, "version"), v, sizeof v);
	fmt_json(json_object_get(j, "fail_mode"), fm, sizeof fm);
	fmt_json(json_object_get(j, "failures_total"), ft, sizeof ft);
	printf("rule set version %s, fail mode %s, %s failure%s in total\n\n", v, fm, ft,
	       strcmp(ft, "1") ? "s" : "");
	/* The latency column only when the server measures rules one by one. */
	size_t i;
	json_t *r;
	bool lat_col = false;
	json_array_foreach(json_object_get(j, "rules"), i, r) {
		char lat[80];
		latency(r, lat, sizeof lat);
		lat_col = lat_col || strcmp(lat, "-") != 0;
	}
	static const char *const head[] = { "RULE", "MODE", "CALLS", "HITS", "VERDICTS",
					    "FAILURES", "LAST_ERROR", "LATENCY avg/p99" };
	struct table t;
	table_init(&t, lat_col ? 8 : 7, head);
	t.right = 1u << 2 | 1u << 3 | 1u << 5;
	t.maxw[4] = 40;
	t.maxw[6] = 50;
	json_array_foreach(json_object_get(j, "rules"), i, r) {
		char calls[32], nh[32], hv[256], lat[80], fails[32];
		fmt_json(json_object_get(r, "calls"), calls, sizeof calls);
		snprintf(nh, sizeof nh, "%lld", hits(json_object_get(r, "verdicts"), hv, sizeof hv));
		latency(r, lat, sizeof lat);
		fmt_json(json_object_get(r, "failures"), fails, sizeof fails);
		const char *row[8] = { json_string_value(json_object_get(r, "name")),
				       json_string_value(json_object_get(r, "mode")), calls, nh, hv,
				       fails, json_string_value(json_object_get(r, "last_error")),
				       lat };
		table_add(&t, row);
	}
	if (t.nrows)
		table_print(&t, stdout);
	else
		printf("no rules loaded (moderation.rules is empty)\n");
	table_free(&t);
	json_t *samples = json_object_get(j, "samples");
	if (json_array_size(samples)) {
		printf("\nrecent observe-mode verdicts:\n");
		json_t *s;
		json_array_foreach(samples, i, s) {
			char line[600], clean[700];
			snprintf(line, sizeof line, "  %s %s %s %s %s", str_or(s, "rule", "?"),
				 str_or(s, "hook", "?"), str_or(s, "verdict", "?"),
				 str_or(s, "code", ""), str_or(s, "reason", ""));
			fmt_clean(line, 200, clean, sizeof clean);
			printf("%s\n", clean);
		}
	}
	return 0;
}

static int run_list(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	rc = api_show(ctl, "GET", "/v1/rules", NULL, show_rules, NULL);
	if (rc || ctl->json)
		return rc;
	/* Per-call latency of the whole rule set, from the moderate stage of the
	 * send pipeline (GET /metrics), when the server has it. */
	struct prom p;
	if (metrics_fetch(ctl, &p) == 0) {
		char buf[160];
		metrics_rule_latency(&p, buf, sizeof buf);
		printf("\nlatency of the rules per message (moderate stage): %s\n", buf);
		prom_free(&p);
	}
	return 0;
}

/* ---- reload ---- */

static int show_reloaded(json_t *j, void *arg)
{
	(void)arg;
	char v[32];
	fmt_json(json_object_get(j, "version"), v, sizeof v);
	printf("rules reloaded: version %s is running\n", v);
	return 0;
}

static int run_reload(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	return api_show(ctl, "POST", "/v1/rules/reload", NULL, show_reloaded, NULL);
}

/* ---- test (local) ---- */

static int run_test(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, ARGS_MAX_POS);
	if (rc >= 0)
		return rc;
	/* The chatd config as chatctl finds it (-c, $CHATD_CONF, ./chatd.conf,
	 * the system one), when there is one. */
	const char *cfg = ctl_chatd_config_path(ctl);
	if (!ctl->config_path && access(cfg, R_OK) != 0)
		cfg = NULL;
	int nrules = 0;
	const char *const *rules = args_all(&a, "--rule", &nrules);
	const char *dir = args_get(&a, "--rules-dir");
	char **av = calloc((size_t)(8 + 2 * nrules + a.npos), sizeof *av);
	if (!av) {
		fprintf(stderr, "chatctl: out of memory\n");
		return EXIT_RUNTIME;
	}
	/* Hand over to the code of `chatd rules test`, options first. */
	int n = 0;
	av[n++] = "rules";
	av[n++] = "test";
	if (cfg) {
		av[n++] = "-c";
		av[n++] = (char *)cfg;
	}
	if (dir) {
		av[n++] = "--rules-dir";
		av[n++] = (char *)dir;
	}
	for (int i = 0; i < nrules; i++) {
		av[n++] = "--rule";
		av[n++] = (char *)rules[i];
	}
	if (ctl->json)
		av[n++] = "--json";
	av[n++] = "--";
	for (int i = 0; i < a.npos; i++)
		av[n++] = (char *)a.pos[i];
	av[n] = NULL;
	rc = rules_cli(n, av);
	free(av);
	fflush(stdout);
	return rc;
}

/* ---- dry-run ---- */

static int show_dryrun(json_t *j, void *arg)
{
	const char *conv = arg;
	char wb[512] = "";
	size_t o = 0;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(j, "would"), k, v)
		if (o < sizeof wb)
			o += (size_t)snprintf(wb + o, sizeof wb - o, "%s%s %lld", o ? ", " : "", k,
					      (long long)json_integer_value(v));
	char c[140], rl[600] = "", rc[700];
	size_t ro = 0, i;
	json_t *name;
	json_array_foreach(json_object_get(j, "rules"), i, name)
		if (ro < sizeof rl && json_is_string(name))
			ro += (size_t)snprintf(rl + ro, sizeof rl - ro, "%s%s", ro ? ", " : "",
					       json_string_value(name));
	char where[160] = "(the latest of all conversations)";
	if (conv) {
		fmt_clean(conv, 64, c, sizeof c);
		snprintf(where, sizeof where, "of %s", c);
	}
	fmt_clean(rl, 300, rc, sizeof rc);
	json_int_t nm = json_integer_value(json_object_get(j, "messages"));
	printf("replayed %lld message%s %s through %s: %s\n", (long long)nm, nm == 1 ? "" : "s",
	       where, ro ? rc : "no rules", o ? wb : "nothing");
	json_int_t changed = json_integer_value(json_object_get(j, "changed_total"));
	printf("%lld would be decided differently than they were\n", (long long)changed);
	json_t *list = json_object_get(j, "changed");
	if (!json_array_size(list))
		return 0;
	printf("\n");
	static const char *const head[] = { "CONV", "SEQ", "SENDER", "WAS", "WOULD", "RULE",
					    "CODE", "REASON", "TEXT" };
	struct table t;
	table_init(&t, 9, head);
	t.right = 1u << 1;
	t.maxw[0] = 24;
	t.maxw[7] = 30;
	t.maxw[8] = 40;
	json_t *m;
	json_array_foreach(list, i, m) {
		char seq[32];
		fmt_json(json_object_get(m, "seq"), seq, sizeof seq);
		const char *mc = json_string_value(json_object_get(m, "conversation_id"));
		const char *row[9] = {
			mc ? mc : conv, seq, json_string_value(json_object_get(m, "sender_id")),
			json_string_value(json_object_get(m, "was")),
			json_string_value(json_object_get(m, "would")),
			json_string_value(json_object_get(m, "rule")),
			json_string_value(json_object_get(m, "code")),
			json_string_value(json_object_get(m, "reason")),
			json_string_value(json_object_get(m, "text")),
		};
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
	if (changed > (json_int_t)json_array_size(list))
		printf("(%lld more not listed)\n", (long long)(changed - (json_int_t)json_array_size(list)));
	return 0;
}

static bool valid_rule_name(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int run_dryrun(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0)
		return rc;
	const char *ruleset = a.pos[0];
	long long last = 0;
	const char *ls = args_get(&a, "--last");
	if (!ls)
		return ctl_usage_error(self, "--last N is required");
	if (!args_int(ls, 1, 100000, &last))
		return ctl_usage_error(self, "--last: a number of messages, 1 or more");
	const char *conv = args_get(&a, "--conv");
	if (conv && (!*conv || strlen(conv) > 64))
		return ctl_usage_error(self, "--conv: a conversation id of 1 to 64 characters");
	json_t *body = json_pack("{s:I}", "limit", (json_int_t)last);
	if (conv)
		json_object_set_new(body, "conversation_id", json_string(conv));
	json_t *names = NULL;
	if (strcmp(ruleset, "config") != 0) {
		names = json_array();
		const char *p = ruleset;
		while (*p) {
			size_t n = strcspn(p, ",");
			if (!valid_rule_name(p, n)) {
				json_decref(names);
				json_decref(body);
				return ctl_usage_error(self, "RULESET: 'config' or rule names "
						       "[a-z0-9_] separated by commas");
			}
			json_array_append_new(names, json_stringn(p, n));
			p += n;
			if (*p)
				p++;
		}
		json_object_set(body, "rules", names);
	}
	struct http_response raw;
	json_t *j = NULL;
	rc = api_call(ctl, "POST", "/v1/rules/dry-run", body, &j, &raw);
	json_decref(body);
	if (rc) {
		json_decref(names);
		return rc;
	}
	/* A server that ignores "rules" would replay its config's list instead:
	 * say so rather than show results for another rule set. */
	if (names && !json_equal(json_object_get(j, "rules"), names)) {
		fprintf(stderr, "chatctl: this server cannot replay a chosen rule set (it replays "
			"the rules its config file lists); use RULESET 'config'\n");
		rc = EXIT_RUNTIME;
	} else {
		rc = ctl->json ? api_print_raw(&raw) : show_dryrun(j, (void *)conv);
	}
	json_decref(names);
	json_decref(j);
	http_response_free(&raw);
	return rc;
}

/* ---- tables ---- */

static const struct opt test_opts[] = {
	{ "--rules-dir", 0, OPT_VALUE },
	{ "--rule", 0, OPT_VALUE | OPT_REPEAT },
	{ NULL, 0, 0 },
};

static const struct opt dryrun_opts[] = {
	{ "--last", 0, OPT_VALUE },
	{ "--conv", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static const char usage_list[] =
	"Usage: chatctl rules list\n"
	"\n"
	"The rules running now, in order, with what each did since the server\n"
	"started: calls, hits (verdicts other than allow, broken down by verdict;\n"
	"for observe-mode rules what they would have done), latency per call\n"
	"(average / 99th percentile), failures and the last error.  Then the\n"
	"recent observe-mode samples.  GET /v1/rules.\n";

static const char usage_reload[] =
	"Usage: chatctl rules reload\n"
	"\n"
	"Make the server re-read moderation.rules and rules_dir from its config file\n"
	"and compile every rule.  All or nothing: when one fails to compile, the\n"
	"error (file and line) is printed, nothing changes and the running version\n"
	"is named; exit 1.  Needs the admin role.  POST /v1/rules/reload.\n";

static const char usage_test[] =
	"Usage: chatctl rules test CASES.jsonl... [-c FILE] [--rules-dir DIR] [--rule NAME]...\n"
	"\n"
	"Run rules over sample messages on this machine, no server involved (the\n"
	"same code as `chatd rules test`).  Each line of CASES.jsonl is a case:\n"
	"  {\"sender\":\"alice\",\"text\":\"hi\",\"expect\":\"allow\"}\n"
	"  {\"text\":\"spam spam\",\"dt\":100,\"expect\":\"reject:rate_limited\"}\n"
	"Fields and expectations are described in docs/lua-rules.md.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   the rule list, modes, options and rules_dir from FILE's\n"
	"                      moderation section (default: the chatd config as\n"
	"                      chatctl finds it, when there is one)\n"
	"  --rules-dir DIR     where <name>.lua and lists/ live\n"
	"  --rule NAME         run this rule (repeatable) instead of the config's list\n"
	"  --json              one JSON object per case\n"
	"\n"
	"Exit status here: 0 every case passed, 1 a case failed, 2 bad usage or\n"
	"rules that do not load.\n";

static const char usage_dryrun[] =
	"Usage: chatctl rules dry-run RULESET --last N [--conv CONV]\n"
	"\n"
	"Replay the latest N stored messages (of CONV, or the latest overall) through\n"
	"a candidate rule set on the server, without changing anything live (no\n"
	"audit entries, no sanctions, live limiters untouched), and show which\n"
	"messages would have been decided differently.  Needs the admin role.\n"
	"\n"
	"RULESET is 'config' for the rules the server's config file lists now (edit\n"
	"the file, dry-run, then `rules reload`), or rule names from rules_dir\n"
	"separated by commas (e.g. wordfilter,spam): exactly those, in that order,\n"
	"with the modes and options the config file gives them.\n"
	"\n"
	"The server refuses the whole set (exit 1) when a named rule has no file in\n"
	"rules_dir or does not compile (file and line).\n"
	"\n"
	"Options:\n"
	"  --last N     how many messages (the server replays at most 200)\n"
	"  --conv CONV  only this conversation (default: the latest of all of them)\n";

const struct cmd cmds_rules[] = {
	{ .name = "list", .args = "", .summary = "rules with hits, latency, failures",
	  .usage = usage_list, .run = run_list, .flags = CMD_SERVER },
	{ .name = "reload", .args = "", .summary = "recompile the config's rules (all or none)",
	  .usage = usage_reload, .run = run_reload, .flags = CMD_SERVER },
	{ .name = "test", .args = "FILE...", .summary = "run rules over case files, locally",
	  .usage = usage_test, .run = run_test, .opts = test_opts },
	{ .name = "dry-run", .args = "RULESET --last N", .summary = "replay stored messages "
	  "through rules", .usage = usage_dryrun, .run = run_dryrun, .opts = dryrun_opts,
	  .flags = CMD_SERVER },
	{ .name = NULL },
};
