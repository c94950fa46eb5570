/* test_lua_helpers.c — the rule host's C-backed helpers seen from Lua
 * (limit, counter, strike, similar, re.*, list, audit, sanction, config,
 * account_age_ms, now), per-rule specs (options, mode override, lists dir),
 * reject's retry_after_ms, the new ctx fields and on_verdict.
 * Added to the "lua_host" suite by unit_register_lua_host().
 * Fixtures: tests/unit/lua_rules/ (path from $CHATD_SRCDIR, default "."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <jansson.h>

#include "lua_host.h"
#include "mod_env.h"
#include "unit.h"

void unit_add_lua_helper_tests(CU_pSuite s);

#define T0 1764000000000LL

static char fx_buf[8][512];

static const char *fx(size_t slot, const char *name)
{
	const char *src = getenv("CHATD_SRCDIR");
	snprintf(fx_buf[slot], sizeof(fx_buf[slot]), "%s/tests/unit/lua_rules/%s",
	         src && *src ? src : ".", name);
	return fx_buf[slot];
}

/* What the callbacks saw. */
struct rec {
	struct lua_host *h;
	int audits, sanctions;
	char a_rule[64], a_event[64], a_fields[2048];
	char s_rule[64], s_user[64], s_kind[16], s_reason[256];
	int64_t s_dur, s_now;
	int s_ret;
};

static int64_t rec_audit(void *ud, const char *rule, const char *event, const char *fields)
{
	struct rec *r = ud;
	r->audits++;
	snprintf(r->a_rule, sizeof(r->a_rule), "%s", rule);
	snprintf(r->a_event, sizeof(r->a_event), "%s", event);
	snprintf(r->a_fields, sizeof(r->a_fields), "%s", fields);
	return 100 + r->audits;
}

static int rec_sanction(void *ud, const char *rule, const char *user, const char *kind,
                        int64_t dur, const char *reason)
{
	struct rec *r = ud;
	r->sanctions++;
	snprintf(r->s_rule, sizeof(r->s_rule), "%s", rule);
	snprintf(r->s_user, sizeof(r->s_user), "%s", user);
	snprintf(r->s_kind, sizeof(r->s_kind), "%s", kind);
	snprintf(r->s_reason, sizeof(r->s_reason), "%s", reason);
	r->s_dur = dur;
	r->s_now = lua_host_now(r->h);
	return r->s_ret;
}

static struct lua_host *mk(struct mod_env *env, struct rec *r, enum lua_fail_mode fm)
{
	char err[256] = "";
	struct lua_host_opts o = { .mem_cap = 8u << 20, .insn_budget = 10000000, .fail_mode = fm,
	                           .env = env };
	if (r) {
		memset(r, 0, sizeof(*r));
		o.cb = (struct lua_host_callbacks){ r, rec_audit, rec_sanction };
	}
	struct lua_host *h = lua_host_new(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	if (r)
		r->h = h;
	return h;
}

static int load1(struct lua_host *h, const char *name, int mode, const char *opts,
                 const char *lists, char *err, size_t errlen)
{
	struct lua_rule_spec sp = { fx(0, name), mode, opts, lists };
	return lua_host_load_specs(h, &sp, 1, err, errlen);
}

/* Runs on_message with command cmd; returns the first flag ("" if none),
 * copied to a static buffer; *d keeps the decision (cleared here first). */
static const char *cmd(struct lua_host *h, int64_t ts, const char *c, const char *text,
                       const char *a1, const char *a2, struct lua_decision *d)
{
	static char out[LUA_HOST_REASON_MAX];
	struct lua_msg_ctx x = {
		.sender_id = "u1", .conversation_id = "c1", .conversation_kind = "group",
		.member_count = 3, .text = text, .ts = ts, .reason = c, .title = a1,
		.target_user_id = a2,
	};
	lua_decision_clear(d);
	CU_ASSERT_EQUAL(lua_host_run(h, LUA_HOOK_MESSAGE, &x, d), 0);
	snprintf(out, sizeof(out), "%s", d->nflags ? d->flags[0] : "");
	return out;
}

/* Last error of rule i. */
static const char *last_error(struct lua_host *h, size_t i)
{
	static struct lua_rule_stats st[8];
	size_t n = lua_host_stats(h, st, 8);
	return i < n ? st[i].last_error : "";
}

static void test_limit(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, "{\"rate\": 2, \"burst\": 2}", NULL,
	                            err, sizeof(err)), 0);
	/* 2/s, burst 2: two at once, then the third waits 500 ms. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "limit", NULL, "k1", NULL, &d), "true,0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "limit", NULL, "k1", NULL, &d), "true,0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "limit", NULL, "k1", NULL, &d), "false,500");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 499, "limit", NULL, "k1", NULL, &d), "false,1");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 500, "limit", NULL, "k1", NULL, &d), "true,0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 500, "limit", NULL, "k2", NULL, &d), "true,0");
	/* A reload keeps the buckets (the env outlives rule sets). */
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, "{\"rate\": 2, \"burst\": 2}", NULL,
	                            err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(lua_host_version(h), 2);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 500, "limit", NULL, "k1", NULL, &d), "false,500");
	/* Another rule using the same key has its own bucket. */
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1,
	                            "{\"name\": \"other\", \"rate\": 2, \"burst\": 2}", NULL,
	                            err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 500, "limit", NULL, "k1", NULL, &d), "true,0");
	/* Bad arguments are rule failures. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "limit_bad", NULL, NULL, NULL, &d), "");
	CU_ASSERT_EQUAL(d.failures, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "rate_per_s must be > 0"));
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "key_nul", NULL, NULL, NULL, &d), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "NUL"));
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_counter_strikes(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, "{\"ttl\": 1000}", NULL, err,
	                            sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "get", NULL, "c", NULL, &d), "0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "incr", NULL, "c", "2", &d), "2");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 10, "incr1", NULL, "c", NULL, &d), "3");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 999, "get", NULL, "c", NULL, &d), "3");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 1000, "get", NULL, "c", NULL, &d), "0");  /* window over */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "key_max", NULL, NULL, NULL, &d), "1");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "key_long", NULL, NULL, NULL, &d), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "longer than 1024"));
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "incr", NULL, "c", "-1", &d), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "delta"));
	/* Strikes: shared by every rule, default n 1, fixed window. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "strikes", NULL, "bob", NULL, &d), "0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "strike", NULL, "bob", NULL, &d), "1");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "strike", NULL, "bob", "2", &d), "3");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 999, "strikes", NULL, "bob", NULL, &d), "3");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 1000, "strikes", NULL, "bob", NULL, &d), "0");
	/* Counters are per rule, strikes are not; a counter key cannot forge a strike. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 2000, "incr", NULL, "strike\x1f" "carol", "5", &d), "5");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 2000, "strike", NULL, "carol", NULL, &d), "1");
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, "{\"name\": \"two\", \"ttl\": 1000}",
	                            NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 2000, "get", NULL, "strike\x1f" "carol", NULL, &d), "0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 2000, "strikes", NULL, "carol", NULL, &d), "1");
	/* Observe mode: strike() only looks. */
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", LUA_RULE_OBSERVE, "{\"ttl\": 1000}", NULL,
	                            err, sizeof(err)), 0);
	cmd(h, T0 + 2000, "strike", NULL, "carol", "4", &d);
	struct lua_observe_sample smp[LUA_HOST_SAMPLES];
	size_t ns = lua_host_samples(h, smp, LUA_HOST_SAMPLES);
	CU_ASSERT_FATAL(ns >= 1);
	CU_ASSERT_STRING_EQUAL(smp[ns - 1].reason, "5");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 2000, "strikes", NULL, "carol", NULL, &d), "");
	ns = lua_host_samples(h, smp, LUA_HOST_SAMPLES);
	CU_ASSERT_STRING_EQUAL(smp[ns - 1].reason, "1");
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_similar_age_now(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, NULL, NULL, err, sizeof(err)), 0);
	const char *spam = "Check out my new crypto channel, huge profits, join now at the link";
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "similar", spam, NULL, NULL, &d), "0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 1, "similar", spam, NULL, NULL, &d), "1");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 2, "similar",
	                           "CHECK out my new crypto channel!!! huge profits, join now "
	                           "at the link", NULL, NULL, &d), "2");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 3, "similar", "lunch on thursday?", NULL, NULL, &d),
	                       "0");
	/* account_age_ms: nil when unknown. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "age", NULL, NULL, NULL, &d), "nil");
	struct lua_msg_ctx x = { .sender_id = "u1", .ts = T0, .reason = "age",
	                         .account_created_at = T0 - 5000 };
	lua_decision_clear(&d);
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_STRING_EQUAL(d.flags[0], "5000");
	/* now(): the hook's ts; during load, the wall clock. */
	CU_ASSERT_STRING_EQUAL(cmd(h, 42, "now", NULL, NULL, NULL, &d), "42");
	long long loaded = atoll(cmd(h, T0, "loaded_at", NULL, NULL, NULL, &d));
	CU_ASSERT(loaded > 1600000000000LL);
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_regex(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	CU_ASSERT_EQUAL_FATAL(load1(h, "re.lua", -1, NULL, NULL, err, sizeof(err)), 0);
	const char *mail = "mail bob@example.com now";
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "find", mail, NULL, NULL, &d), "6,20,bob,example");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "find", mail, "7", NULL, &d), "7,20,ob,example");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "find", mail, "-4", NULL, &d), "nil");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "find", mail, "100", NULL, &d), "nil");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "find", "no address", NULL, NULL, &d), "nil");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "match", mail, NULL, NULL, &d), "bob,example");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "match0", "oh HECK no", NULL, NULL, &d), "HECK");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "opt", "xac", NULL, NULL, &d), "false,c");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "opt", "abc", NULL, NULL, &d), "b,c");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "test", "Darn", NULL, NULL, &d), "true");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "test", "fine", NULL, NULL, &d), "false");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "mask", "darn it, heck!", NULL, NULL, &d),
	                       "**** it, ****!,2");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "mask", "nothing", NULL, NULL, &d), "nothing,0");
	/* Masks count code points: 6 Cyrillic letters are 12 bytes. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "maskcyr", "ПРИВЕТ мир, привет", NULL, NULL, &d),
	                       "****** мир, ******,2");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "maskcyr", "привет", "•", NULL, &d), "••••••,1");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "maskcyr", "привет", "ab", NULL, &d), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "one UTF-8 character"));
	/* Functional forms through the cache, with flags. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "ffind", "say HELLO", "(h)ello", "i", &d), "5,9,H");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "ffind", "say HELLO", "(h)ello", NULL, &d), "nil");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "fmatch", "a\nb", "^b$", "m", &d), "b");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "fmatch", "a\nb", "a.b", "s", &d), "a\nb");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "ftest", "abc", "B", "i", &d), "true");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "fmask", "a1b22c", "\\d+", NULL, &d), "a#b##c,2");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "fmask", "abc", "x*", NULL, &d), "abc,0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "tostring", NULL, NULL, NULL, &d),
	                       "regex: (\\w+)@(\\w+)\\.com");
	/* Errors at hook time are rule failures: bad pattern, bad flag, limits,
	 * invalid UTF-8, init inside a character. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "ftest", "x", "abc(", NULL, &d), "");
	CU_ASSERT_EQUAL(d.failures, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "bad pattern \"abc(\": offset 4:"));
	cmd(h, T0, "ftest", "x", "x", "q", &d);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "unknown flag 'q'"));
	char subj[64];
	memset(subj, 'a', 40);
	strcpy(subj + 40, "b");
	cmd(h, T0, "ftest", subj, "(a+)+$", NULL, &d);
	CU_ASSERT_EQUAL(d.failures, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "match limit exceeded"));
	cmd(h, T0, "test", "ok \xff", NULL, NULL, &d);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "not valid UTF-8 (byte 4)"));
	cmd(h, T0, "find", "привет bob@x.com", "2", NULL, &d);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "inside a UTF-8 character"));
	/* Handles dropped at hook time are collected: more than the live cap. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "many", NULL, NULL, NULL, &d), "5000");
	CU_ASSERT_EQUAL(d.failures, 0);
	/* Still healthy after all that. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "test", "heck", NULL, NULL, &d), "true");
	/* The functional forms compile through the cache: a repeat is a hit. */
	struct mod_regex_stats rs0, rs1;
	cmd(h, T0, "ftest", "abc", "b+", NULL, &d);
	mod_regex_cache_stats(mod_env_regex(env), &rs0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "ftest", "abc", "b+", NULL, &d), "true");
	mod_regex_cache_stats(mod_env_regex(env), &rs1);
	CU_ASSERT_EQUAL(rs1.hits, rs0.hits + 1);
	CU_ASSERT_EQUAL(rs1.misses, rs0.misses);
	CU_ASSERT(rs1.entries <= 1024);
	/* A bad pattern at the top fails the load, naming file, line and offset. */
	CU_ASSERT_EQUAL(load1(h, "re_bad.lua", -1, NULL, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "re_bad.lua:3: re: bad pattern \"abc(def\": offset 7:"));
	CU_ASSERT_EQUAL(lua_host_version(h), 1);
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_list(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512], dir[600];
	/* Default lists dir: the rule file's directory + /lists. */
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, NULL, NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "words", NULL, NULL, NULL, &d), "alpha,beta,gamma");
	/* At hook time list() is an error. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "list", NULL, NULL, NULL, &d), "");
	CU_ASSERT_EQUAL(d.failures, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "only available while the rule file loads"));
	/* A spec's lists_dir. */
	snprintf(dir, sizeof(dir), "%s", fx(1, "lists2"));
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, NULL, dir, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "words", NULL, NULL, NULL, &d), "other");
	/* Bad names, missing files and bad content fail the load. */
	CU_ASSERT_EQUAL(load1(h, "list_bad.lua", -1, "{\"list\": \"../words\"}", NULL, err,
	                      sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "list_bad.lua:2: list: name must match"));
	CU_ASSERT_EQUAL(load1(h, "list_bad.lua", -1, "{\"list\": \"nope\"}", NULL, err,
	                      sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "list 'nope':"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
	CU_ASSERT_EQUAL(load1(h, "list_bad.lua", -1, "{\"list\": \"badutf8\"}", NULL, err,
	                      sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2 is not valid UTF-8"));
	CU_ASSERT_EQUAL(lua_host_version(h), 2);
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_audit_sanction(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct rec r;
	struct lua_host *h = mk(env, &r, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, NULL, NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "audit", "hi \"you\"", NULL, NULL, &d), "101");
	CU_ASSERT_EQUAL(r.audits, 1);
	CU_ASSERT_STRING_EQUAL(r.a_rule, "helpers");
	CU_ASSERT_STRING_EQUAL(r.a_event, "test.event");
	CU_ASSERT_STRING_EQUAL(r.a_fields, "{\"b\":true,\"f\":1.5,\"n\":3,\"s\":\"hi \\\"you\\\"\"}");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "audit_nil", NULL, NULL, NULL, &d), "102");
	CU_ASSERT_STRING_EQUAL(r.a_fields, "{}");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "audit_bad", NULL, NULL, NULL, &d), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "field 't' must be a string, number or boolean"));
	cmd(h, T0, "audit_badname", NULL, NULL, NULL, &d);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "event must match"));
	CU_ASSERT_EQUAL(r.audits, 2);
	/* sanction: arguments, the caller's answer, the time the callback sees. */
	CU_ASSERT_STRING_EQUAL(cmd(h, T0 + 7, "sanction", "too spammy", "bob", "shadow", &d),
	                       "true");
	CU_ASSERT_EQUAL(r.sanctions, 1);
	CU_ASSERT_STRING_EQUAL(r.s_rule, "helpers");
	CU_ASSERT_STRING_EQUAL(r.s_user, "bob");
	CU_ASSERT_STRING_EQUAL(r.s_kind, "shadow");
	CU_ASSERT_STRING_EQUAL(r.s_reason, "too spammy");
	CU_ASSERT_EQUAL(r.s_dur, 60000);
	CU_ASSERT_EQUAL(r.s_now, T0 + 7);
	r.s_ret = -1;
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "sanction", "x", "bob", "ban", &d), "false");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "sanction_bad", NULL, "bob", NULL, &d), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "invalid option 'mute'"));
	CU_ASSERT_EQUAL(r.sanctions, 2);
	/* Observe mode: sanction() is not applied. */
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", LUA_RULE_OBSERVE, NULL, NULL, err,
	                            sizeof(err)), 0);
	cmd(h, T0, "sanction", "x", "bob", "ban", &d);
	CU_ASSERT_EQUAL(r.sanctions, 2);
	lua_decision_clear(&d);
	lua_host_free(h);
	/* No callbacks: no-ops (0 / false). */
	h = mk(env, NULL, LUA_FAIL_OPEN);
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, NULL, NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "audit", "x", NULL, NULL, &d), "0");
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "sanction", "x", "bob", "ban", &d), "false");
	CU_ASSERT_EQUAL(d.failures, 0);
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_no_env(void)
{
	struct lua_host *h = mk(NULL, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	/* re.compile at the top needs the env: the load fails. */
	CU_ASSERT_EQUAL(load1(h, "re.lua", -1, NULL, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "helper unavailable"));
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, NULL, NULL, err, sizeof(err)), 0);
	static const char *const need[] = { "limit", "get", "strike", "similar", NULL };
	for (const char *const *c = need; *c; c++) {
		CU_ASSERT_STRING_EQUAL(cmd(h, T0, *c, "t", "k", "1", &d), "");
		CU_ASSERT_EQUAL(d.failures, 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "helper unavailable"));
	}
	/* Helpers that need no env still work. */
	CU_ASSERT_STRING_EQUAL(cmd(h, 9, "now", NULL, NULL, NULL, &d), "9");
	lua_decision_clear(&d);
	lua_host_free(h);
}

static void test_config_specs(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	const char *opts = "{\"words\": [\"a\", \"b\"], \"nested\": {\"deep\": {\"x\": 1}}, "
	                   "\"n\": 2.5, \"flag\": true, \"nul\": null}";
	CU_ASSERT_EQUAL_FATAL(load1(h, "helpers.lua", -1, opts, NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cmd(h, T0, "config", NULL, NULL, NULL, &d),
	                       "false,false,false,false|flag n nested words|2|a+b|integer|2.5|"
	                       "true|nil|a+b");
	/* Bad options fail the load and name the file. */
	CU_ASSERT_EQUAL(load1(h, "helpers.lua", -1, "{\"a\": ", NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "helpers.lua: options: line 1"));
	CU_ASSERT_EQUAL(load1(h, "helpers.lua", -1, "[1]", NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "options must be a JSON object"));
	CU_ASSERT_EQUAL(load1(h, "helpers.lua", -1, "{\"a\": [1, null]}", NULL, err,
	                      sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "null inside an array"));
	CU_ASSERT_EQUAL(load1(h, "helpers.lua", -1, "{\"name\": \"a\\u0001b\"}", NULL, err,
	                      sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "control characters"));
	CU_ASSERT_EQUAL(load1(h, "helpers.lua", 7, NULL, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid mode 7"));
	CU_ASSERT_EQUAL(lua_host_version(h), 1);
	/* Mode override, both ways, in one all-or-nothing set. */
	struct lua_rule_spec sp[2] = {
		{ fx(0, "observe.lua"), LUA_RULE_ENFORCE, NULL, NULL },
		{ fx(1, "badword.lua"), LUA_RULE_OBSERVE, NULL, NULL },
	};
	CU_ASSERT_EQUAL_FATAL(lua_host_load_specs(h, sp, 2, err, sizeof(err)), 0);
	struct lua_rule_stats st[2];
	CU_ASSERT_EQUAL(lua_host_stats(h, st, 2), 2);
	CU_ASSERT_EQUAL(st[0].mode, LUA_RULE_ENFORCE);
	CU_ASSERT_EQUAL(st[1].mode, LUA_RULE_OBSERVE);
	struct lua_msg_ctx x = { .sender_id = "u1", .text = "darn", .ts = T0 };
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
	CU_ASSERT_STRING_EQUAL(d.rule, "observer");
	sp[1].mode = -1;
	sp[0].mode = -1;
	CU_ASSERT_EQUAL_FATAL(lua_host_load_specs(h, sp, 2, err, sizeof(err)), 0);
	lua_decision_clear(&d);
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_STRING_EQUAL(d.rule, "badword");
	/* A failing spec in the middle keeps the old set. */
	sp[1].options_json = "nope";
	CU_ASSERT_EQUAL(lua_host_load_specs(h, sp, 2, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(lua_host_version(h), 3);
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_ctx_fields_and_retry(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_OPEN);
	struct lua_decision d = { 0 };
	char err[512];
	struct lua_rule_spec sp[2] = { { fx(0, "retry.lua"), -1, NULL, NULL },
	                               { fx(1, "helpers.lua"), -1, NULL, NULL } };
	CU_ASSERT_EQUAL_FATAL(lua_host_load_specs(h, sp, 2, err, sizeof(err)), 0);
	struct lua_msg_ctx x = { .sender_id = "u1", .text = "slow", .ts = T0 };
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
	CU_ASSERT_STRING_EQUAL(d.code, "rate_limited");
	CU_ASSERT_EQUAL(d.retry_after_ms, 1234);
	lua_decision_clear(&d);
	x.text = "slowbad";
	x.reason = "now";
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_EQUAL(d.failures, 1);
	CU_ASSERT_EQUAL(d.retry_after_ms, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_error(h, 0), "retry_after_ms must be >= 0"));
	struct lua_msg_ctx r = { .sender_id = "rep", .ts = T0, .seq = 42, .target_user_id = "bad",
	                         .reason = "abuse" };
	lua_decision_clear(&d);
	lua_host_run(h, LUA_HOOK_REPORT, &r, &d);
	CU_ASSERT_STRING_EQUAL(d.flags[0], "on_report|42|nil|bad|abuse");
	struct lua_msg_ctx c = { .sender_id = "u1", .ts = T0, .title = "My group" };
	lua_decision_clear(&d);
	lua_host_run(h, LUA_HOOK_CONV_CREATE, &c, &d);
	CU_ASSERT_STRING_EQUAL(d.flags[0], "on_conversation_create|0|My group|nil|nil");
	struct lua_msg_ctx j = { .sender_id = "admin", .ts = T0, .target_user_id = "newbie" };
	lua_decision_clear(&d);
	lua_host_run(h, LUA_HOOK_JOIN, &j, &d);
	CU_ASSERT_STRING_EQUAL(d.flags[0], "on_join|0|nil|newbie|nil");
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_on_verdict(void)
{
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct rec r;
	struct lua_host *h = mk(env, &r, LUA_FAIL_CLOSED);
	struct lua_decision d = { 0 };
	char err[512];
	/* A rule with only on_verdict loads; it runs after rewrite + flag. */
	struct lua_rule_spec sp[4] = {
		{ fx(0, "verdict_log.lua"), -1, NULL, NULL },
		{ fx(1, "shout.lua"), -1, NULL, NULL },
		{ fx(2, "flagger.lua"), -1, NULL, NULL },
		{ fx(3, "retry.lua"), -1, NULL, NULL },
	};
	CU_ASSERT_EQUAL_FATAL(lua_host_load_specs(h, sp, 4, err, sizeof(err)), 0);
	struct lua_msg_ctx x = { .sender_id = "u1", .text = "LOUD", .ts = T0 };
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REWRITE);
	CU_ASSERT_EQUAL(d.failures, 0);
	CU_ASSERT_EQUAL_FATAL(r.audits, 1);
	CU_ASSERT_STRING_EQUAL(r.a_rule, "verdict_log");
	json_error_t je;
	json_t *f = json_loads(r.a_fields, 0, &je);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "kind")), "rewrite");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "rule")), "shout");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "hook")), "on_message");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "text")), "loud");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "ctext")), "LOUD");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "flag1")), "saw:loud");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(f, "nflags")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(f, "version")), 1);
	CU_ASSERT(json_is_true(json_object_get(f, "ro")));
	json_decref(f);
	/* A terminal verdict: code, reason and retry_after_ms reach v. */
	lua_decision_clear(&d);
	x.text = "slow";
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_REJECT);
	CU_ASSERT_STRING_EQUAL(d.code, "rate_limited");   /* on_verdict's reject ignored */
	CU_ASSERT_EQUAL(r.audits, 2);
	f = json_loads(r.a_fields, 0, &je);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "code")), "rate_limited");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "reason")), "wait");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "text")), "(nil)");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(f, "ra")), 1234);
	json_decref(f);
	/* allow: no on_verdict call. */
	lua_decision_clear(&d);
	CU_ASSERT_EQUAL(lua_host_run(h, LUA_HOOK_JOIN, &x, &d), 0);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	CU_ASSERT_EQUAL(r.audits, 2);
	/* A failing on_verdict is contained, even in fail-closed mode. */
	struct lua_rule_spec sp2[2] = { { fx(0, "verdict_err.lua"), -1, NULL, NULL },
	                                { fx(1, "verdict_log.lua"), LUA_RULE_OBSERVE, NULL, NULL } };
	CU_ASSERT_EQUAL_FATAL(lua_host_load_specs(h, sp2, 2, err, sizeof(err)), 0);
	lua_decision_clear(&d);
	x.text = "hi";
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_FLAG);
	CU_ASSERT_STRING_EQUAL(d.flags[0], "seen");
	CU_ASSERT_EQUAL(d.failures, 0);
	struct lua_rule_stats st[2];
	lua_host_stats(h, st, 2);
	CU_ASSERT_EQUAL(st[0].failures, 1);
	CU_ASSERT_EQUAL(st[0].calls, 2);                 /* on_message + on_verdict */
	CU_ASSERT_PTR_NOT_NULL(strstr(st[0].last_error, "verdict_err.lua:5: verdict hook broke"));
	CU_ASSERT_EQUAL(st[1].calls, 0);                 /* observe mode: not called */
	CU_ASSERT_EQUAL(r.audits, 2);
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

static void test_shipped_rules_load(void)
{
	/* The rules shipped in moderation/rules load with default options and
	 * let a plain message through. */
	struct mod_env *env = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	struct lua_host *h = mk(env, NULL, LUA_FAIL_CLOSED);
	const char *src = getenv("CHATD_SRCDIR");
	static const char *const names[] = { "ratelimit", "spam", "wordfilter", "audit" };
	char paths[4][512];
	struct lua_rule_spec sp[4];
	for (int i = 0; i < 4; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/moderation/rules/%s.lua",
		         src && *src ? src : ".", names[i]);
		sp[i] = (struct lua_rule_spec){ paths[i], -1, "{}", NULL };
	}
	char err[512] = "";
	int rc = lua_host_load_specs(h, sp, 4, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "\nshipped rules: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	struct lua_decision d = { 0 };
	struct lua_msg_ctx x = { .sender_id = "alice", .conversation_id = "c1",
	                         .conversation_kind = "group", .member_count = 3,
	                         .text = "hello there", .ts = T0 };
	lua_host_run(h, LUA_HOOK_MESSAGE, &x, &d);
	CU_ASSERT_EQUAL(d.kind, LUA_VERDICT_ALLOW);
	CU_ASSERT_EQUAL(d.failures, 0);
	lua_decision_clear(&d);
	lua_host_free(h);
	mod_env_free(env);
}

void unit_add_lua_helper_tests(CU_pSuite s)
{
	CU_add_test(s, "helpers: limit", test_limit);
	CU_add_test(s, "helpers: counter and strikes", test_counter_strikes);
	CU_add_test(s, "helpers: similar, account age, now", test_similar_age_now);
	CU_add_test(s, "helpers: re", test_regex);
	CU_add_test(s, "helpers: list", test_list);
	CU_add_test(s, "helpers: audit and sanction callbacks", test_audit_sanction);
	CU_add_test(s, "helpers: no env", test_no_env);
	CU_add_test(s, "specs: config, options, mode override", test_config_specs);
	CU_add_test(s, "ctx fields and retry_after_ms", test_ctx_fields_and_retry);
	CU_add_test(s, "on_verdict", test_on_verdict);
	CU_add_test(s, "shipped rules load", test_shipped_rules_load);
}
