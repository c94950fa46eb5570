/* test_lua_host.c — the moderation Lua rule host: verdict chain, observe mode,
 * budget/memory containment with both fail modes, reload, sandbox surface.
 * Fixtures live in tests/unit/lua_rules/ (path from $CHATD_SRCDIR, default "."). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua_host.h"
#include "unit.h"

/* Declared here until unit.h lists it (unit.h is not this module's file). */
void unit_register_lua_host(void);
/* More tests of this suite, in test_lua_helpers.c and test_rules_test.c. */
void unit_add_lua_helper_tests(CU_pSuite s);
void unit_add_rules_test_tests(CU_pSuite s);

static char path_buf[LUA_HOST_MAX_RULES][512];

static const char *fixture(size_t slot, const char *name)
{
	const char *src = getenv("CHATD_SRCDIR");
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/tests/unit/lua_rules/%s",
	         src && *src ? src : ".", name);
	return path_buf[slot];
}

/* Loads a NULL-terminated list of fixture names; returns lua_host_load_rules' rc. */
static int load(struct lua_host *h, char *err, size_t errlen, const char *first, ...)
{
	const char *paths[LUA_HOST_MAX_RULES];
	size_t n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *f = first; f && n < LUA_HOST_MAX_RULES; f = va_arg(ap, const char *)) {
		paths[n] = fixture(n, f);
		n++;
	}
	va_end(ap);
	return lua_host_load_rules(h, paths, n, err, errlen);
}

static struct lua_host *host(enum lua_fail_mode fm)
{
	char err[256] = "";
	struct lua_host_opts o = { .mem_cap = 4u << 20, .insn_budget = 1000000, .fail_mode = fm };
	struct lua_host *h = lua_host_new(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	return h;
}

static struct lua_msg_ctx msg(const char *text)
{
	struct lua_msg_ctx c = {
		.sender_id = "u1", .conversation_id = "c1", .conversation_kind = "group",
		.member_count = 3, .text = text, .client_message_id = "cm1",
		.ts = 1700000000000, .account_created_at = 0,
	};
	return c;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void run_text(struct lua_host *h, const char *text, struct lua_decision *d)
{
	struct lua_msg_ctx c = msg(text);
	CU_ASSERT_EQUAL(lua_host_run(h, LUA_HOOK_MESSAGE, &c, d), 0);
}

static void test_no_set_and_allow(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	run_text(h, "hi", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	CU_ASSERT_EQUAL(d.version, 0);
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "allow.lua", "badword.lua", NULL), 0);
	CU_ASSERT_EQUAL(lua_host_version(h), 1);
	run_text(h, "hello there", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	CU_ASSERT_STRING_EQUAL(d.rule, "");
	CU_ASSERT_PTR_NULL(d.text);
	CU_ASSERT_EQUAL(d.version, 1);
	CU_ASSERT_EQUAL(d.failures, 0);
	struct lua_msg_ctx c = msg("x");
	CU_ASSERT_EQUAL(lua_host_run(h, LUA_HOOK_JOIN, &c, &d), 0);       /* nil = allow */
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	CU_ASSERT_EQUAL(lua_host_run(h, LUA_HOOK_CONNECT, &c, &d), 0);    /* no rule */
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_reject_provenance(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "allow.lua", "badword.lua",
	                           "flagger.lua", NULL), 0);
	run_text(h, "what a darn day", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
	CU_ASSERT_STRING_EQUAL(d.code, "profanity");
	CU_ASSERT_STRING_EQUAL(d.reason, "contains 'darn'");
	CU_ASSERT_STRING_EQUAL(d.rule, "badword");
	CU_ASSERT_EQUAL(d.nflags, 0);                /* flagger never ran */
	CU_ASSERT_EQUAL(d.version, 1);
	struct lua_rule_stats st[8];
	CU_ASSERT_EQUAL(lua_host_stats(h, st, 8), 3);
	CU_ASSERT_EQUAL(st[1].verdicts[LUA_VERDICT_REJECT], 1);
	CU_ASSERT_EQUAL(st[2].calls, 0);
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_rewrite_and_flags(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "shout.lua", "flagger.lua",
	                           "flagger2.lua", "badword.lua", NULL), 0);
	run_text(h, "HELLO WORLD", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REWRITE);
	CU_ASSERT_STRING_EQUAL(d.rule, "shout");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d.text);
	CU_ASSERT_STRING_EQUAL(d.text, "hello world");
	CU_ASSERT_EQUAL(d.text_len, 11);
	CU_ASSERT_EQUAL_FATAL(d.nflags, 2);
	CU_ASSERT_STRING_EQUAL(d.flags[0], "saw:hello world");   /* later rule saw rewrite */
	CU_ASSERT_STRING_EQUAL(d.flags[1], "len:11");
	lua_decision_clear(&d);
	CU_ASSERT_PTR_NULL(d.text);
	/* rewrite then a terminal verdict on the rewritten text */
	run_text(h, "DARN IT", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
	CU_ASSERT_STRING_EQUAL(d.rule, "badword");
	CU_ASSERT_PTR_NOT_NULL(d.text);
	CU_ASSERT_EQUAL(d.nflags, 2);
	lua_decision_clear(&d);
	run_text(h, "quiet", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_FLAG);
	CU_ASSERT_STRING_EQUAL(d.rule, "flagger");
	CU_ASSERT_PTR_NULL(d.text);
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_shadow_hold_terminal(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "gate.lua", "flagger.lua", NULL), 0);
	run_text(h, "buy spam", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_SHADOW);
	CU_ASSERT_STRING_EQUAL(d.rule, "gate");
	CU_ASSERT_STRING_EQUAL(d.reason, "");
	CU_ASSERT_EQUAL(d.nflags, 0);
	run_text(h, "please review", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_HOLD);
	CU_ASSERT_STRING_EQUAL(d.reason, "needs review");
	CU_ASSERT_EQUAL(d.nflags, 0);
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_observe_mode(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "observe.lua", "allow.lua", NULL), 0);
	run_text(h, "one", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	run_text(h, "two", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	struct lua_rule_stats st[4];
	CU_ASSERT_EQUAL_FATAL(lua_host_stats(h, st, 4), 2);
	CU_ASSERT_STRING_EQUAL(st[0].name, "observer");
	CU_ASSERT_EQUAL(st[0].mode, LUA_RULE_OBSERVE);
	CU_ASSERT_EQUAL(st[0].verdicts[LUA_VERDICT_REJECT], 2);
	CU_ASSERT_EQUAL(st[1].verdicts[LUA_VERDICT_ALLOW], 2);
	struct lua_observe_sample s[LUA_HOST_SAMPLES];
	CU_ASSERT_EQUAL_FATAL(lua_host_samples(h, s, LUA_HOST_SAMPLES), 2);
	CU_ASSERT_STRING_EQUAL(s[1].rule, "observer");
	CU_ASSERT_EQUAL(s[1].verdict, LUA_VERDICT_REJECT);
	CU_ASSERT_STRING_EQUAL(s[1].code, "observed");
	CU_ASSERT_STRING_EQUAL(s[1].reason, "would reject two");
	lua_decision_clear(&d);
	lua_host_free(h);
}

/* Runs a runaway fixture in both fail modes, timing each run. */
static void runaway(const char *fixture_name, const char *rule)
{
	for (int fm = LUA_FAIL_OPEN; fm <= LUA_FAIL_CLOSED; fm++) {
		struct lua_host *h = host((enum lua_fail_mode)fm);
		struct lua_decision d;
		char err[256];
		CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), fixture_name, "flagger.lua", NULL), 0);
		for (int round = 0; round < 2; round++) {
			double t0 = now_s();
			run_text(h, "hi", &d);
			CU_ASSERT(now_s() - t0 < 1.0);
			CU_ASSERT_EQUAL(d.failures, 1);
			if (fm == LUA_FAIL_OPEN) {
				CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_FLAG);   /* skipped, chain went on */
				CU_ASSERT_EQUAL(d.nflags, 1);
			} else {
				CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
				CU_ASSERT_STRING_EQUAL(d.code, "unavailable");
				CU_ASSERT_STRING_EQUAL(d.rule, rule);
			}
			lua_decision_clear(&d);
		}
		struct lua_rule_stats st[2];
		CU_ASSERT_EQUAL(lua_host_stats(h, st, 2), 2);
		CU_ASSERT_EQUAL(st[0].failures, 2);
		CU_ASSERT(st[0].last_error[0] != '\0');
		/* the state is still usable: reload the good rule into a fresh set, and
		 * also check the failing set kept running the healthy rule above */
		CU_ASSERT_EQUAL(load(h, err, sizeof(err), "flagger.lua", NULL), 0);
		run_text(h, "ok", &d);
		CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_FLAG);
		CU_ASSERT_EQUAL(d.failures, 0);
		lua_decision_clear(&d);
		lua_host_free(h);
	}
}

static void test_infinite_loop(void) { runaway("loop.lua", "loop"); }
static void test_pcall_loop(void) { runaway("pcall_loop.lua", "pcall_loop"); }

static void test_memory_bomb(void)
{
	runaway("membomb.lua", "membomb");
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "membomb.lua", "badword.lua", NULL), 0);
	size_t base = lua_host_mem_used(h);
	for (int i = 0; i < 3; i++) {
		run_text(h, "darn", &d);
		CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);   /* later rule still works */
		CU_ASSERT_EQUAL(d.failures, 1);
	}
	CU_ASSERT(lua_host_mem_used(h) < base + (1u << 20));  /* GC reclaimed the bomb */
	struct lua_rule_stats st[2];
	lua_host_stats(h, st, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(st[0].last_error, "out of memory"));
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_error_line(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "errorer.lua", "writer.lua", NULL), 0);
	run_text(h, "x", &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	CU_ASSERT_EQUAL(d.failures, 2);
	struct lua_rule_stats st[2];
	lua_host_stats(h, st, 2);
	CU_ASSERT_STRING_EQUAL(st[0].last_error, "errorer.lua:5: boom");
	CU_ASSERT_EQUAL(st[0].last_error_line, 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(st[1].last_error, "read-only"));   /* ctx write */
	CU_ASSERT_EQUAL(st[1].last_error_line, 5);
	char lines[LUA_HOST_LOG_LINES][LUA_HOST_REASON_MAX];
	size_t n = lua_host_log_lines(h, lines, LUA_HOST_LOG_LINES);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(strncmp(lines[0], "errorer error: ", 15), 0);
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_load_errors_keep_old_set(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "badword.lua", NULL), 0);
	CU_ASSERT_EQUAL(load(h, err, sizeof(err), "allow.lua", "syntax.lua", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tests/unit/lua_rules/syntax.lua:4:"));
	CU_ASSERT_EQUAL(lua_host_version(h), 1);
	run_text(h, "badword", &d);                     /* old set still active */
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
	CU_ASSERT_EQUAL(d.version, 1);
	double t0 = now_s();
	CU_ASSERT_EQUAL(load(h, err, sizeof(err), "toploop.lua", NULL), -1);
	CU_ASSERT(now_s() - t0 < 1.0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "toploop.lua:2: instruction budget exceeded"));
	CU_ASSERT_EQUAL(load(h, err, sizeof(err), "noname.lua", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "noname.lua: "));
	CU_ASSERT_EQUAL(load(h, err, sizeof(err), "badword.lua", "badword.lua", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "duplicate"));
	CU_ASSERT_EQUAL(load(h, err, sizeof(err), "missing.lua", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing.lua"));
	CU_ASSERT_EQUAL(lua_host_version(h), 1);
	/* reload succeeds: version increments, stats reset */
	CU_ASSERT_EQUAL(load(h, err, sizeof(err), "badword.lua", NULL), 0);
	CU_ASSERT_EQUAL(lua_host_version(h), 2);
	struct lua_rule_stats st[1];
	lua_host_stats(h, st, 1);
	CU_ASSERT_EQUAL(st[0].calls, 0);
	run_text(h, "fine", &d);
	CU_ASSERT_EQUAL(d.version, 2);
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_sandbox_and_context(void)
{
	struct lua_host *h = host(LUA_FAIL_CLOSED);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "sandbox.lua", "peer.lua", NULL), 0);
	run_text(h, "hello", &d);
	CU_ASSERT_EQUAL(d.failures, 0);
	CU_ASSERT_EQUAL_FATAL(d.kind, LUA_VERDICT_FLAG);
	CU_ASSERT_EQUAL_FATAL(d.nflags, 2);
	CU_ASSERT_STRING_EQUAL(d.flags[0], "sandbox ok");
	CU_ASSERT_STRING_EQUAL(d.flags[1], "u1|c1|group|cm1|3|1700000000000|0|hello|nil");
	char lines[LUA_HOST_LOG_LINES][LUA_HOST_REASON_MAX];
	CU_ASSERT_EQUAL_FATAL(lua_host_log_lines(h, lines, LUA_HOST_LOG_LINES), 1);
	CU_ASSERT_STRING_EQUAL(lines[0], "peer info: peer saw u1");
	lua_decision_clear(&d);
	/* hooks other than on_message, and account_created_at */
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "joiner.lua", NULL), 0);
	struct lua_msg_ctx c = msg(NULL);
	c.account_created_at = c.ts - 1000;
	CU_ASSERT_EQUAL(lua_host_run(h, LUA_HOOK_JOIN, &c, &d), 0);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
	CU_ASSERT_STRING_EQUAL(d.code, "too_new");
	c.account_created_at = 0;
	CU_ASSERT_EQUAL(lua_host_run(h, LUA_HOOK_JOIN, &c, &d), 0);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_bad_opts(void)
{
	char err[128] = "";
	struct lua_host_opts o = { .mem_cap = 1000 };
	CU_ASSERT_PTR_NULL(lua_host_new(&o, err, sizeof(err)));
	CU_ASSERT(err[0] != '\0');
	struct lua_host *h = lua_host_new(NULL, err, sizeof(err));     /* defaults */
	CU_ASSERT_PTR_NOT_NULL(h);
	lua_host_free(h);
}

/* Every hook call is timed (on_verdict too): count == calls, the sum and
 * max are consistent, and a set loaded anew starts from zero. */
static void test_call_latency(void)
{
	struct lua_host *h = host(LUA_FAIL_OPEN);
	struct lua_decision d;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "allow.lua", "badword.lua",
	                           "verdict_log.lua", NULL), 0);
	run_text(h, "fine", &d);
	lua_decision_clear(&d);
	run_text(h, "darn", &d);                     /* a reject: on_verdict runs */
	lua_decision_clear(&d);
	struct lua_rule_stats st[8];
	CU_ASSERT_EQUAL_FATAL(lua_host_stats(h, st, 8), 3);
	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(lua_rule_latency_count(&st[i].lat), st[i].calls);
		CU_ASSERT(st[i].lat.max_ns <= st[i].lat.sum_ns);
		CU_ASSERT(st[i].lat.max_ns > 0);
	}
	CU_ASSERT_EQUAL(st[0].calls, 2);
	CU_ASSERT_EQUAL(st[2].calls, 1);             /* on_verdict only */
	CU_ASSERT_EQUAL_FATAL(load(h, err, sizeof(err), "allow.lua", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(lua_host_stats(h, st, 8), 1);
	CU_ASSERT_EQUAL(lua_rule_latency_count(&st[0].lat), 0);
	CU_ASSERT_EQUAL(st[0].lat.sum_ns, 0);
	lua_host_free(h);
}

/* Buckets, merge and the quantile estimate on known numbers. */
static void test_latency_histogram(void)
{
	struct lua_rule_latency l = { 0 };
	CU_ASSERT_EQUAL(lua_rule_latency_quantile(&l, 0.5), 0);
	for (int i = 0; i < 90; i++)
		lua_rule_latency_add(&l, 800);            /* bucket 0: <= 1 µs */
	for (int i = 0; i < 10; i++)
		lua_rule_latency_add(&l, 40000);          /* (25, 50] µs */
	CU_ASSERT_EQUAL(lua_rule_latency_count(&l), 100);
	CU_ASSERT_EQUAL(l.buckets[0], 90);
	CU_ASSERT_EQUAL(l.buckets[5], 10);
	CU_ASSERT_EQUAL(l.sum_ns, 90 * 800 + 10 * 40000);
	CU_ASSERT_EQUAL(l.max_ns, 40000);
	/* p50: rank 50 of the 90 in [0, 1000] -> 1000 * 50/90; p99: rank 99,
	 * the 9th of 10 in (25000, 40000] (capped at max). */
	CU_ASSERT_DOUBLE_EQUAL(lua_rule_latency_quantile(&l, 0.5), 1000.0 * 50 / 90, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(lua_rule_latency_quantile(&l, 0.99), 25000 + 15000 * 0.9, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(lua_rule_latency_quantile(&l, 1), 40000, 1e-6);
	/* beyond the last bound: the +Inf bucket, estimated up to max */
	struct lua_rule_latency big = { 0 };
	lua_rule_latency_add(&big, 3000000000ull);
	CU_ASSERT_EQUAL(big.buckets[LUA_HOST_LAT_BUCKETS], 1);
	CU_ASSERT_DOUBLE_EQUAL(lua_rule_latency_quantile(&big, 0.99), 3e9, 1);
	lua_rule_latency_merge(&l, &big);
	CU_ASSERT_EQUAL(lua_rule_latency_count(&l), 101);
	CU_ASSERT_EQUAL(l.max_ns, 3000000000ull);
	CU_ASSERT_EQUAL(l.buckets[LUA_HOST_LAT_BUCKETS], 1);
}

void unit_register_lua_host(void)
{
	CU_pSuite s = CU_add_suite("lua_host", NULL, NULL);
	CU_add_test(s, "no set / allow", test_no_set_and_allow);
	CU_add_test(s, "reject with provenance", test_reject_provenance);
	CU_add_test(s, "rewrite and flags", test_rewrite_and_flags);
	CU_add_test(s, "shadow and hold are terminal", test_shadow_hold_terminal);
	CU_add_test(s, "observe mode", test_observe_mode);
	CU_add_test(s, "infinite loop", test_infinite_loop);
	CU_add_test(s, "pcall loop", test_pcall_loop);
	CU_add_test(s, "memory bomb", test_memory_bomb);
	CU_add_test(s, "error line and read-only ctx", test_error_line);
	CU_add_test(s, "load errors keep old set", test_load_errors_keep_old_set);
	CU_add_test(s, "sandbox surface and context", test_sandbox_and_context);
	CU_add_test(s, "bad options", test_bad_opts);
	CU_add_test(s, "call latency per rule", test_call_latency);
	CU_add_test(s, "latency histogram", test_latency_histogram);
	unit_add_lua_helper_tests(s);
	unit_add_rules_test_tests(s);
}
