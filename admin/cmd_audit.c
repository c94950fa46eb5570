/* cmd_audit.c — `chatctl audit tail [-n N] [-f]` (GET /v1/audit) and
 * `chatctl audit verify` (GET /v1/audit/verify). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chatctl.h"
#include "table.h"

#define PAGE_MAX 1000

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* One entry per line: "#ID TIME ACTOR EVENT SUBJECT DETAIL", or its JSON. */
static void print_entry(json_t *e, bool json)
{
	if (json) {
		char *s = json_dumps(e, JSON_COMPACT);
		if (s)
			printf("%s\n", s);
		free(s);
		return;
	}
	char t[40], detail[1024], line[2048], clean[2400];
	fmt_time(json_integer_value(json_object_get(e, "ts")), t, sizeof t);
	json_t *d = json_object_get(e, "detail");
	if (json_is_object(d) && json_object_size(d))
		fmt_json(d, detail, sizeof detail);
	else
		detail[0] = '\0';
	const char *actor = json_string_value(json_object_get(e, "actor"));
	const char *event = json_string_value(json_object_get(e, "event"));
	const char *subject = json_string_value(json_object_get(e, "subject"));
	snprintf(line, sizeof line, "#%lld %s %s %s %s %s",
		 (long long)json_integer_value(json_object_get(e, "id")), t,
		 actor && *actor ? actor : "-", event && *event ? event : "-",
		 subject && *subject ? subject : "-", detail);
	fmt_clean(line, 400, clean, sizeof clean);
	size_t n = strlen(clean);
	while (n > 0 && clean[n - 1] == ' ')
		clean[--n] = '\0';
	printf("%s\n", clean);
}

/* Prints a page's entries; *last gets the highest id seen. */
static int print_page(json_t *j, bool json, long long *last)
{
	json_t *entries = json_object_get(j, "entries");
	if (!json_is_array(entries)) {
		fprintf(stderr, "chatctl: the server's answer has no entries\n");
		return EXIT_RUNTIME;
	}
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		long long id = (long long)json_integer_value(json_object_get(e, "id"));
		if (id <= *last)
			continue;
		print_entry(e, json);
		*last = id;
	}
	return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (!stop_requested && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int run_tail(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	long long n = 20, interval_ms = 1000;
	const char *ns = args_get(&a, "--lines"), *is = args_get(&a, "--interval");
	if (ns && !args_int(ns, 1, PAGE_MAX, &n))
		return ctl_usage_error(self, "--lines: 1..%d", PAGE_MAX);
	if (is) {
		int64_t ms;
		if (!args_duration_ms(is, &ms) || ms < 100 || ms > 60000)
			return ctl_usage_error(self, "--interval: 100ms to 60s");
		interval_ms = ms;
	}
	bool follow = args_has(&a, "--follow");
	char path[128];
	snprintf(path, sizeof path, "/v1/audit?newest=1&limit=%lld", n);
	struct http_response raw;
	json_t *j = NULL;
	rc = api_call(ctl, "GET", path, NULL, &j, &raw);
	if (rc)
		return rc;
	long long last = 0;
	if (ctl->json && !follow)
		rc = api_print_raw(&raw);
	else
		rc = print_page(j, ctl->json, &last);
	json_decref(j);
	http_response_free(&raw);
	if (rc || !follow)
		return rc;

	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop_requested) {
		sleep_ms((long)interval_ms);
		if (stop_requested)
			break;
		/* Page through everything new, a page at a time. */
		for (;;) {
			snprintf(path, sizeof path, "/v1/audit?after=%lld&limit=%d", last, PAGE_MAX);
			rc = api_call(ctl, "GET", path, NULL, &j, NULL);
			if (rc)
				return stop_requested ? 0 : rc;
			size_t got = json_array_size(json_object_get(j, "entries"));
			rc = print_page(j, ctl->json, &last);
			json_decref(j);
			if (rc)
				return rc;
			if (got < PAGE_MAX || stop_requested)
				break;
		}
	}
	return 0;
}

static int show_verify(json_t *j, void *arg)
{
	(void)arg;
	json_int_t n = json_integer_value(json_object_get(j, "entries"));
	if (json_is_true(json_object_get(j, "ok"))) {
		printf("audit log ok: %lld entr%s, every hash checks out\n", (long long)n,
		       n == 1 ? "y" : "ies");
		return 0;
	}
	char reason[512];
	fmt_clean(json_string_value(json_object_get(j, "reason")), 300, reason, sizeof reason);
	printf("audit log BROKEN at entry %lld: %s\n",
	       (long long)json_integer_value(json_object_get(j, "first_bad_id")), reason);
	printf("An entry was changed or removed after it was written.  Compare with a backup;\n"
	       "see docs/operations.md, Moderation.\n");
	return EXIT_RUNTIME;
}

static int run_verify(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	if (!ctl->json)
		return api_show(ctl, "GET", "/v1/audit/verify", NULL, show_verify, NULL);
	/* --json: the server's answer as is, and still the exit status. */
	struct http_response raw;
	json_t *j = NULL;
	rc = api_call(ctl, "GET", "/v1/audit/verify", NULL, &j, &raw);
	if (rc)
		return rc;
	rc = api_print_raw(&raw);
	if (!rc && !json_is_true(json_object_get(j, "ok")))
		rc = EXIT_RUNTIME;
	json_decref(j);
	http_response_free(&raw);
	return rc;
}

static const struct opt tail_opts[] = {
	{ "--lines", 'n', OPT_VALUE },
	{ "--follow", 'f', 0 },
	{ "--interval", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static const char usage_tail[] =
	"Usage: chatctl audit tail [-n N] [-f] [--interval D]\n"
	"\n"
	"Print the last N audit entries, oldest first, one per line:\n"
	"  #ID TIME ACTOR EVENT SUBJECT DETAIL\n"
	"ACTOR is the staff user (token sub) or rule:NAME for a rule's verdict.\n"
	"\n"
	"Options:\n"
	"  -n, --lines N    how many, 1..1000 (default 20)\n"
	"  -f, --follow     keep polling and print new entries as they are written,\n"
	"                   until interrupted (Ctrl-C: exit 0)\n"
	"  --interval D     time between polls with -f (default 1s; 100ms..60s)\n"
	"  --json           without -f: the server's JSON; with -f: one entry per\n"
	"                   line (JSON Lines)\n";

static const char usage_verify[] =
	"Usage: chatctl audit verify\n"
	"\n"
	"Walk the whole audit log and check every entry's hash and its link to the\n"
	"one before.  Prints 'audit log ok' and exits 0, or names the first entry\n"
	"that was changed or removed and exits 1.  Run it regularly and after\n"
	"restoring a backup.\n";

const struct cmd cmds_audit[] = {
	{ .name = "tail", .args = "", .summary = "the latest entries; -f to follow",
	  .usage = usage_tail, .run = run_tail, .opts = tail_opts, .flags = CMD_SERVER },
	{ .name = "verify", .args = "", .summary = "check the hash chain", .usage = usage_verify,
	  .run = run_verify, .flags = CMD_SERVER },
	{ .name = NULL },
};
