/* test_rules_test.c — rules_test_run (`chatd rules test`) over small JSONL
 * inputs: passing and failing cases, bad lines, sanctions applied by rules
 * and by hand, dt/ts, the JSON output, I/O errors.  Added to the
 * "lua_host" suite by unit_register_lua_host(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <jansson.h>

#include "lua_host.h"
#include "mod_env.h"
#include "mod_sanctions.h"
#include "rules_test.h"
#include "unit.h"

void unit_add_rules_test_tests(CU_pSuite s);

static char rt_buf[4][512];

static const char *rfx(size_t slot, const char *name)
{
	const char *src = getenv("CHATD_SRCDIR");
	snprintf(rt_buf[slot], sizeof(rt_buf[slot]), "%s/tests/unit/lua_rules/%s",
	         src && *src ? src : ".", name);
	return rt_buf[slot];
}

struct rig {
	struct mod_env *env;
	struct mod_sanctions *sanctions;
	struct lua_host *h;
};

static void rig_up(struct rig *r, const char *const *rules, size_t n)
{
	r->env = mod_env_new(NULL);
	r->sanctions = mod_sanctions_new(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->env);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->sanctions);
	struct lua_host_opts o = { .env = r->env };
	rules_test_callbacks(&o.cb, r->sanctions);
	char err[512];
	r->h = lua_host_new(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->h);
	const char *paths[4];
	for (size_t i = 0; i < n && i < 4; i++)
		paths[i] = rfx(i, rules[i]);
	int rc = lua_host_load_rules(r->h, paths, n, err, sizeof(err));
	if (rc)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static void rig_down(struct rig *r)
{
	lua_host_free(r->h);
	mod_sanctions_free(r->sanctions);
	mod_env_free(r->env);
}

/* Runs cases through the rig; returns the output (malloc'd) and *rc. */
static char *run(struct rig *r, const char *cases, bool json, int *nf, int *rc)
{
	FILE *in = fmemopen((void *)cases, strlen(cases), "r");
	char *out = NULL;
	size_t outlen = 0;
	FILE *o = open_memstream(&out, &outlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	*rc = rules_test_run(r->h, r->sanctions, in, "cases.jsonl", o, json, nf);
	fclose(in);
	fclose(o);
	return out;
}

/* The output line of case line `line` (table mode), copied. */
static const char *row(const char *out, int line)
{
	static char buf[1024];
	char pfx[16];
	snprintf(pfx, sizeof(pfx), "%-5d ", line);
	for (const char *p = out; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (strncmp(p, pfx, strlen(pfx)) == 0) {
			snprintf(buf, sizeof(buf), "%.*s", (int)l, p);
			return buf;
		}
		p = nl ? nl + 1 : NULL;
	}
	return "";
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char CASES[] =
	"{\"text\":\"hello\",\"expect\":\"allow\"}\n"                                /* 1 */
	"{\"text\":\"darn it\",\"expect\":\"reject:profanity\"}\n"                   /* 2 */
	"{\"text\":\"HELLO\",\"expect\":\"rewrite\",\"expect_text\":\"hello\"}\n"    /* 3 */
	"{\"text\":\"hello\",\"expect\":\"reject\"}\n"                               /* 4 FAIL */
	"this is not json\n"                                                        /* 5 FAIL */
	"\n"                                                                        /* 6 skip */
	"# a comment\n"                                                             /* 7 skip */
	"{\"text\":\"x\",\"expect\":\"bogus\"}\n"                                    /* 8 FAIL */
	"{\"text\":\"x\",\"expect\":\"allow\",\"extra\":1}\n"                        /* 9 FAIL */
	"{\"sender\":\"bob\",\"text\":\"sanction shadow 5000\",\"expect\":\"shadow\"}\n" /* 10 */
	"{\"sender\":\"bob\",\"text\":\"hi\",\"expect\":\"shadow\"}\n"               /* 11 */
	"{\"sender\":\"bob\",\"text\":\"hi\",\"dt\":5000,\"expect\":\"allow\"}\n"    /* 12 */
	"{\"sender\":\"carol\",\"text\":\"sanction ban 0\",\"expect\":\"flag\"}\n"   /* 13 */
	"{\"sender\":\"carol\",\"text\":\"hi\",\"expect\":\"reject:banned\"}\n"      /* 14 */
	"{\"hook\":\"on_join\",\"sender\":\"carol\",\"expect\":\"reject:banned\"}\n" /* 15 */
	"{\"hook\":\"on_nothing\",\"expect\":\"allow\"}\n"                           /* 16 FAIL */
	"{\"text\":\"HELLO\",\"expect\":\"rewrite\",\"expect_text\":\"HELLO\"}\n"    /* 17 FAIL */
	"{\"text\":\"x\",\"ts\":\"soon\",\"expect\":\"allow\"}\n"                    /* 18 FAIL */
	"[1,2]\n"                                                                   /* 19 FAIL */
	"{\"text\":\"hi\",\"expect\":\"allow\"}";                                    /* 20, no \n */

static void test_table(void)
{
	static const char *const rules[] = { "badword.lua", "shout.lua", "sanctioner.lua" };
	struct rig r;
	rig_up(&r, rules, 3);
	int nf = -1, rc = -1;
	char *out = run(&r, CASES, false, &nf, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(nf, 8);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n18 cases, 10 passed, 8 failed\n"));
	CU_ASSERT_EQUAL(strncmp(out, "line  hook", 10), 0);
	CU_ASSERT(ends_with(row(out, 1), "PASS"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 2), "reject:profanity"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 2), "badword"));
	CU_ASSERT(ends_with(row(out, 2), "PASS"));
	CU_ASSERT(ends_with(row(out, 3), "PASS"));
	CU_ASSERT(ends_with(row(out, 4), "FAIL"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 4), "allow"));
	CU_ASSERT(ends_with(row(out, 5), "FAIL"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 5), "bad JSON"));
	CU_ASSERT_STRING_EQUAL(row(out, 6), "");
	CU_ASSERT_STRING_EQUAL(row(out, 7), "");
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 8), "'expect' must be"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 9), "unknown field 'extra'"));
	/* Sanctions from rules hold for later cases, and expire. */
	CU_ASSERT(ends_with(row(out, 10), "PASS"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 10), "sanction:shadow"));
	CU_ASSERT(ends_with(row(out, 11), "PASS"));
	CU_ASSERT(ends_with(row(out, 12), "PASS"));
	CU_ASSERT(ends_with(row(out, 13), "PASS"));
	CU_ASSERT(ends_with(row(out, 14), "PASS"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 14), "sanction:ban"));
	CU_ASSERT(ends_with(row(out, 15), "PASS"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 16), "unknown hook 'on_nothing'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 17), "text \"hello\" != expected \"HELLO\""));
	CU_ASSERT(ends_with(row(out, 17), "FAIL"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 18), "'ts' must be an integer"));
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 19), "must be a JSON object"));
	CU_ASSERT(ends_with(row(out, 20), "PASS"));
	/* The sanctions are in the caller's table (carol's ban is permanent;
	 * bob's shadow, set by line 10 at TS0 + 4000, lasted 5 s). */
	int64_t until = -1;
	CU_ASSERT_STRING_EQUAL(mod_sanctions_blocking(r.sanctions, "carol", RULES_TEST_TS0 + 1e9,
	                                              &until), "ban");
	CU_ASSERT_EQUAL(until, 0);
	CU_ASSERT_TRUE(mod_sanctions_shadowed(r.sanctions, "bob", RULES_TEST_TS0 + 8999));
	CU_ASSERT_FALSE(mod_sanctions_shadowed(r.sanctions, "bob", RULES_TEST_TS0 + 9000));
	free(out);
	rig_down(&r);
}

static void test_json_ts_and_hand_sanctions(void)
{
	static const char *const rules[] = { "errorer.lua", "badword.lua" };
	struct rig r;
	rig_up(&r, rules, 2);
	/* A sanction set by hand, like the server's table. */
	CU_ASSERT_EQUAL(mod_sanctions_set(r.sanctions, "mallory", "block", RULES_TEST_TS0 + 1500),
	                0);
	const char *cases =
		"{\"sender\":\"mallory\",\"text\":\"hi\",\"expect\":\"reject:blocked\"}\n"
		"{\"sender\":\"mallory\",\"text\":\"hi\",\"dt\":1499,\"expect\":\"reject\"}\n"
		"{\"sender\":\"mallory\",\"text\":\"hi\",\"dt\":1,\"expect\":\"allow\"}\n"
		"{\"text\":\"fine\",\"ts\":5,\"expect\":\"allow\"}\n"
		"{\"text\":\"darn\",\"expect\":\"hold\"}\n";
	int nf = -1, rc = -1;
	char *out = run(&r, cases, true, &nf, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(nf, 1);
	/* One JSON object per case, then the summary. */
	json_t *lines[8] = { 0 };
	size_t n = 0;
	for (char *p = out; *p && n < 8;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		json_error_t je;
		lines[n] = json_loads(p, 0, &je);
		CU_ASSERT_PTR_NOT_NULL(lines[n]);
		n++;
		p = nl ? nl + 1 : p + strlen(p);
	}
	CU_ASSERT_EQUAL_FATAL(n, 6);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(lines[i]);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(lines[0], "got")),
	                       "reject:blocked");
	CU_ASSERT(json_is_true(json_object_get(lines[0], "pass")));
	CU_ASSERT(json_is_true(json_object_get(lines[1], "pass")));       /* 1499 ms later */
	CU_ASSERT(json_is_true(json_object_get(lines[2], "pass")));       /* the block ended */
	/* The failing rule is reported in every case it ran. */
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(lines[2], "reason")),
	                              "[rule errorer failed: errorer.lua:5: boom]"));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(lines[3], "line")), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(lines[3], "text")), "fine");
	CU_ASSERT(json_is_false(json_object_get(lines[4], "pass")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(lines[4], "got")),
	                       "reject:profanity");
	json_t *sum = json_object_get(lines[5], "summary");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(sum, "cases")), 5);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(sum, "passed")), 4);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(sum, "failed")), 1);
	for (size_t i = 0; i < n; i++)
		json_decref(lines[i]);
	free(out);
	rig_down(&r);
}

static void test_long_line_and_io_error(void)
{
	static const char *const rules[] = { "allow.lua" };
	struct rig r;
	rig_up(&r, rules, 1);
	/* A line over the limit is one failed case; the next line still runs. */
	size_t big = RULES_TEST_LINE_MAX + 100;
	char *cases = malloc(big + 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cases);
	memset(cases, ' ', big);
	strcpy(cases + big, "\n{\"expect\":\"allow\"}\n");
	int nf = -1, rc = -1;
	char *out = run(&r, cases, false, &nf, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(nf, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(row(out, 1), "line longer than"));
	CU_ASSERT(ends_with(row(out, 2), "PASS"));
	free(out);
	free(cases);
	/* A stream that cannot be read: -1, reported. */
	FILE *wo = fopen("/dev/null", "w");
	char *o2 = NULL;
	size_t l2 = 0;
	FILE *o = open_memstream(&o2, &l2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(rules_test_run(r.h, r.sanctions, wo, "w.jsonl", o, false, &nf), -1);
	fclose(wo);
	fclose(o);
	CU_ASSERT_PTR_NOT_NULL(strstr(o2, "w.jsonl:1: read error"));
	free(o2);
	rig_down(&r);
}

void unit_add_rules_test_tests(CU_pSuite s)
{
	CU_add_test(s, "rules_test: table, failures, sanctions", test_table);
	CU_add_test(s, "rules_test: json, ts/dt, hand sanctions", test_json_ts_and_hand_sanctions);
	CU_add_test(s, "rules_test: long line, I/O error", test_long_line_and_io_error);
}
