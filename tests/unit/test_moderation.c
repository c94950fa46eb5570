/* test_moderation.c — unit tests for the moderation building blocks:
 * token buckets, TTL counters, the PCRE2 cache,
 * the audit hash chain, the helpers' env and the sanctions table.  Time is
 * simulated everywhere.  Near-duplicate detection: test_mod_dupe.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <CUnit/CUnit.h>

#include "unit.h"
#include "chatd/status.h"
#include "mod_limiter.h"
#include "mod_counter.h"
#include "mod_regex.h"
#include "mod_auditchain.h"
#include "mod_env.h"
#include "mod_sanctions.h"

void unit_register_moderation(void);

/* ---- token bucket ---- */

static void test_limiter_burst_refill(void)
{
	struct mod_limiter *l = mod_limiter_new(16);
	int64_t ra = 123;
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	/* 2 tokens/s, burst 3: three at once, the fourth waits 500 ms. */
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_TRUE(mod_limiter_take(l, "u1", 2, 3, 1000, &ra));
		CU_ASSERT_EQUAL(ra, 0);
	}
	CU_ASSERT_FALSE(mod_limiter_take(l, "u1", 2, 3, 1000, &ra));
	CU_ASSERT_EQUAL(ra, 500);
	CU_ASSERT_FALSE(mod_limiter_take(l, "u1", 2, 3, 1200, &ra));
	CU_ASSERT_EQUAL(ra, 300);
	CU_ASSERT_FALSE(mod_limiter_take(l, "u1", 2, 3, 1499, &ra));
	CU_ASSERT_EQUAL(ra, 1);
	CU_ASSERT_TRUE(mod_limiter_take(l, "u1", 2, 3, 1500, &ra));
	CU_ASSERT_FALSE(mod_limiter_take(l, "u1", 2, 3, 1500, &ra));
	CU_ASSERT_EQUAL(ra, 500);
	/* A long idle refills to burst, not beyond. */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_TRUE(mod_limiter_take(l, "u1", 2, 3, 100000, &ra));
	CU_ASSERT_FALSE(mod_limiter_take(l, "u1", 2, 3, 100000, &ra));
	/* Time going backwards adds nothing. */
	CU_ASSERT_FALSE(mod_limiter_take(l, "u1", 2, 3, 50, &ra));
	/* Another key is independent. */
	CU_ASSERT_TRUE(mod_limiter_take(l, "u2", 2, 3, 100000, &ra));
	mod_limiter_free(l);
}

static void test_limiter_retry_exact(void)
{
	struct mod_limiter *l = mod_limiter_new(4);
	int64_t ra;
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	/* rate 3/s: awkward 333.33 ms period; retry_after must always lead
	 * to an allowed take, and one ms earlier must be refused. */
	int64_t now = 0;
	CU_ASSERT_TRUE(mod_limiter_take(l, "k", 3, 1, now, &ra));
	for (int i = 0; i < 50; i++) {
		CU_ASSERT_FALSE(mod_limiter_take(l, "k", 3, 1, now, &ra));
		CU_ASSERT(ra >= 1 && ra <= 334);
		int64_t ra2;
		if (ra > 1)
			CU_ASSERT_FALSE(mod_limiter_take(l, "k", 3, 1,
							 now + ra - 1, &ra2));
		now += ra;
		CU_ASSERT_TRUE(mod_limiter_take(l, "k", 3, 1, now, &ra2));
	}
	/* 50 tokens at 3/s need about 16.67 s. */
	CU_ASSERT(now >= 16666 && now <= 16700);
	/* Bad arguments. */
	CU_ASSERT_FALSE(mod_limiter_take(l, "k", 0, 1, now, &ra));
	CU_ASSERT_EQUAL(ra, -1);
	CU_ASSERT_FALSE(mod_limiter_take(l, "k", 1, 0.5, now, &ra));
	CU_ASSERT_EQUAL(ra, -1);
	CU_ASSERT_FALSE(mod_limiter_take(l, NULL, 1, 1, now, &ra));
	CU_ASSERT_EQUAL(ra, -1);
	char big[MOD_LIMITER_KEY_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_FALSE(mod_limiter_take(l, big, 1, 1, now, &ra));
	CU_ASSERT_EQUAL(ra, -1);
	CU_ASSERT_PTR_NULL(mod_limiter_new(0));
	mod_limiter_free(l);
}

static void test_limiter_many_keys_eviction(void)
{
	struct mod_limiter *l = mod_limiter_new(100);
	char key[32];
	int64_t ra;
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "ip:%d", i);
		CU_ASSERT_TRUE(mod_limiter_take(l, key, 1, 1, 0, &ra));
		CU_ASSERT(mod_limiter_count(l) <= 100);
	}
	CU_ASSERT_EQUAL(mod_limiter_count(l), 100);
	CU_ASSERT_EQUAL(mod_limiter_evictions(l), 9900);
	/* The most recent keys are still limited... */
	CU_ASSERT_FALSE(mod_limiter_take(l, "ip:9999", 1, 1, 0, &ra));
	CU_ASSERT_EQUAL(ra, 1000);
	mod_limiter_free(l);
	/* A refilled (full) bucket near the LRU tail is evicted before a
	 * drained one, so churning keys cannot reset a limited key. */
	l = mod_limiter_new(3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_TRUE(mod_limiter_take(l, "slow", 0.001, 1, 0, &ra));
	CU_ASSERT_TRUE(mod_limiter_take(l, "fast", 1000, 1, 0, &ra));
	CU_ASSERT_TRUE(mod_limiter_take(l, "x", 0.001, 1, 0, &ra));
	CU_ASSERT_TRUE(mod_limiter_take(l, "new", 1, 1, 10, &ra));
	CU_ASSERT_EQUAL(mod_limiter_count(l), 3);
	CU_ASSERT_FALSE(mod_limiter_take(l, "slow", 0.001, 1, 10, &ra));
	CU_ASSERT(ra > 900000);
	mod_limiter_free(l);
}

static void test_limiter_burst_change(void)
{
	struct mod_limiter *l = mod_limiter_new(4);
	int64_t ra;
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	/* A burst lowered by a later call clamps the bucket at once. */
	for (int i = 0; i < 5; i++)
		CU_ASSERT_TRUE(mod_limiter_take(l, "k", 1, 10, 0, &ra));
	CU_ASSERT_TRUE(mod_limiter_take(l, "k", 1, 2, 0, &ra));   /* 5 left -> 2 -> 1 */
	CU_ASSERT_TRUE(mod_limiter_take(l, "k", 1, 2, 0, &ra));
	CU_ASSERT_FALSE(mod_limiter_take(l, "k", 1, 2, 0, &ra));
	CU_ASSERT_EQUAL(ra, 1000);
	/* Fractional rates: 0.5/s needs 2 s per token. */
	CU_ASSERT_TRUE(mod_limiter_take(l, "half", 0.5, 1, 0, &ra));
	CU_ASSERT_FALSE(mod_limiter_take(l, "half", 0.5, 1, 1999, &ra));
	CU_ASSERT_EQUAL(ra, 1);
	CU_ASSERT_TRUE(mod_limiter_take(l, "half", 0.5, 1, 2000, &ra));
	/* The longest key is accepted, one more byte is not. */
	char key[MOD_LIMITER_KEY_MAX + 2];
	memset(key, 'k', MOD_LIMITER_KEY_MAX);
	key[MOD_LIMITER_KEY_MAX] = '\0';
	CU_ASSERT_TRUE(mod_limiter_take(l, key, 1, 1, 0, &ra));
	key[MOD_LIMITER_KEY_MAX] = 'k';
	key[MOD_LIMITER_KEY_MAX + 1] = '\0';
	CU_ASSERT_FALSE(mod_limiter_take(l, key, 1, 1, 0, &ra));
	CU_ASSERT_EQUAL(ra, -1);
	mod_limiter_free(l);
}

/* ---- TTL counters ---- */

static void test_counter_window(void)
{
	struct mod_counter *c = mod_counter_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(mod_counter_get(c, "a", 0), 0);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "a", 1, 1000, 0), 1);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "a", 2, 1000, 500), 3);
	CU_ASSERT_EQUAL(mod_counter_get(c, "a", 999), 3);
	CU_ASSERT_EQUAL(mod_counter_ttl(c, "a", 400), 600);
	/* Fixed window: ends at 1000 regardless of the later increment. */
	CU_ASSERT_EQUAL(mod_counter_get(c, "a", 1000), 0);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "a", 1, 1000, 1000), 1);
	CU_ASSERT_EQUAL(mod_counter_ttl(c, "a", 1000), 1000);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "b", 0, 50, 1000), 0);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "a", -1, 1000, 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "a", 1, 0, 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_counter_incr(c, NULL, 1, 1, 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "s", INT64_MAX, 10, 0), INT64_MAX);
	CU_ASSERT_EQUAL(mod_counter_incr(c, "s", 5, 10, 1), INT64_MAX);
	mod_counter_free(c);
}

static void test_counter_expiry_bound(void)
{
	struct mod_counter *c = mod_counter_new(50);
	char key[32];
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CU_ASSERT_EQUAL(mod_counter_incr(c, key, 1, 60000, i), 1);
		CU_ASSERT(mod_counter_count(c) <= 50);
	}
	CU_ASSERT_EQUAL(mod_counter_count(c), 50);
	CU_ASSERT_EQUAL(mod_counter_get(c, "k999", 1000), 1);
	CU_ASSERT_EQUAL(mod_counter_get(c, "k0", 1000), 0);   /* evicted */
	/* An expired counter is evicted before a live LRU one. */
	struct mod_counter *c2 = mod_counter_new(5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	mod_counter_incr(c2, "a", 1, 60000, 0);     /* LRU tail, live */
	mod_counter_incr(c2, "b", 1, 60000, 0);
	mod_counter_incr(c2, "short", 1, 10, 0);    /* expires at 10 */
	mod_counter_incr(c2, "d", 1, 60000, 0);
	mod_counter_incr(c2, "e", 1, 60000, 0);
	CU_ASSERT_EQUAL(mod_counter_incr(c2, "f", 1, 60000, 100), 1);
	CU_ASSERT_EQUAL(mod_counter_count(c2), 5);
	CU_ASSERT_EQUAL(mod_counter_get(c2, "a", 100), 1);
	CU_ASSERT_EQUAL(mod_counter_get(c2, "short", 5), 0); /* gone */
	/* No expired one: the LRU tail ("a") goes. */
	mod_counter_incr(c2, "g", 1, 60000, 100);
	CU_ASSERT_EQUAL(mod_counter_get(c2, "a", 100), 0);
	CU_ASSERT_EQUAL(mod_counter_get(c2, "b", 100), 1);
	mod_counter_free(c2);
	/* Sweep: everything is expired far in the future. */
	CU_ASSERT_EQUAL(mod_counter_expire(c, 10000000, 10), 10);
	CU_ASSERT_EQUAL(mod_counter_count(c), 40);
	CU_ASSERT_EQUAL(mod_counter_expire(c, 10000000, 1000), 40);
	CU_ASSERT_EQUAL(mod_counter_count(c), 0);
	mod_counter_free(c);
}

static void test_counter_keys_ttl(void)
{
	struct mod_counter *c = mod_counter_new(4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	char key[MOD_COUNTER_KEY_MAX + 2];
	memset(key, 'k', MOD_COUNTER_KEY_MAX);
	key[MOD_COUNTER_KEY_MAX] = '\0';
	CU_ASSERT_EQUAL(mod_counter_incr(c, key, 1, 100, 0), 1);
	CU_ASSERT_EQUAL(mod_counter_get(c, key, 50), 1);
	key[MOD_COUNTER_KEY_MAX] = 'k';
	key[MOD_COUNTER_KEY_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(mod_counter_incr(c, key, 1, 100, 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_counter_get(c, key, 0), CHATD_ERR_INVALID);
	/* A window far in the future does not overflow. */
	CU_ASSERT_EQUAL(mod_counter_incr(c, "late", 1, INT64_MAX, INT64_MAX - 5), 1);
	CU_ASSERT_EQUAL(mod_counter_get(c, "late", INT64_MAX - 1), 1);
	CU_ASSERT_EQUAL(mod_counter_ttl(c, "late", INT64_MAX - 5), 5);
	/* Absent keys. */
	CU_ASSERT_EQUAL(mod_counter_ttl(c, "none", 0), 0);
	CU_ASSERT_EQUAL(mod_counter_expire(c, 0, 10), 0);
	mod_counter_free(c);
	CU_ASSERT_PTR_NULL(mod_counter_new(0));
}


/* ---- regex cache ---- */

static void test_regex_cache_captures(void)
{
	struct mod_regex_cache *c = mod_regex_cache_new(2, NULL);
	struct mod_regex *a = NULL, *b = NULL, *x = NULL;
	char err[256];
	size_t ov[8];
	struct mod_regex_stats st;
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "(\\w+)@(\\w+)\\.com", 0,
						&a, err, sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_compile(c, "(\\w+)@(\\w+)\\.com", 0, &b,
					  err, sizeof(err)), CHATD_OK);
	CU_ASSERT_PTR_EQUAL(a, b);
	mod_regex_cache_stats(c, &st);
	CU_ASSERT_EQUAL(st.hits, 1);
	CU_ASSERT_EQUAL(st.misses, 1);
	CU_ASSERT_EQUAL(mod_regex_capture_count(a), 2);
	const char *s = "mail bob@example.com now";
	CU_ASSERT_EQUAL(mod_regex_match(a, s, strlen(s), ov, 4), 3);
	CU_ASSERT_EQUAL(ov[0], 5);
	CU_ASSERT_EQUAL(ov[1], 20);
	CU_ASSERT_EQUAL(ov[2], 5);
	CU_ASSERT_EQUAL(ov[3], 8);
	CU_ASSERT_EQUAL(ov[4], 9);
	CU_ASSERT_EQUAL(ov[5], 16);
	CU_ASSERT_EQUAL(ov[6], MOD_REGEX_UNSET);
	CU_ASSERT_EQUAL(mod_regex_match(a, "nothing", 7, ov, 4), 0);
	CU_ASSERT_EQUAL(mod_regex_match(a, s, strlen(s), NULL, 0), 3);
	/* Same pattern, other flags: a different entry. */
	CU_ASSERT_EQUAL(mod_regex_compile(c, "(\\w+)@(\\w+)\\.com",
					  MOD_REGEX_CASELESS, &x, err,
					  sizeof(err)), CHATD_OK);
	CU_ASSERT_PTR_NOT_EQUAL(a, x);
	mod_regex_release(x);
	/* Unset optional group. */
	CU_ASSERT_EQUAL(mod_regex_compile(c, "a(b)?(c)", 0, &x, err,
					  sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_match(x, "ac", 2, ov, 3), 3);
	CU_ASSERT_EQUAL(ov[2], MOD_REGEX_UNSET);
	CU_ASSERT_EQUAL(ov[4], 1);
	mod_regex_release(x);
	/* Bound: two entries; the first was evicted but our handle works. */
	mod_regex_cache_stats(c, &st);
	CU_ASSERT_EQUAL(st.entries, 2);
	CU_ASSERT(st.evictions >= 1);
	CU_ASSERT_EQUAL(mod_regex_match(a, s, strlen(s), ov, 1), 3);
	mod_regex_cache_free(c);
	/* Handles outlive the cache. */
	CU_ASSERT_EQUAL(mod_regex_match(b, s, strlen(s), ov, 1), 3);
	mod_regex_release(a);
	mod_regex_release(b);
}

static void test_regex_errors_utf8(void)
{
	struct mod_regex_cache *c = mod_regex_cache_new(8, NULL);
	struct mod_regex *rx = NULL;
	char err[256];
	size_t ov[4];
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(mod_regex_compile(c, "abc(def", 0, &rx, err,
					  sizeof(err)), CHATD_ERR_INVALID);
	CU_ASSERT_PTR_NULL(rx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "offset 7:"));
	CU_ASSERT_EQUAL(mod_regex_compile(c, "a[z-a]", 0, &rx, err,
					  sizeof(err)), CHATD_ERR_INVALID);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "offset "));
	CU_ASSERT_EQUAL(mod_regex_compile(c, "x", 0x100, &rx, err,
					  sizeof(err)), CHATD_ERR_INVALID);
	/* Invalid UTF-8 in the pattern is refused at compile time. */
	CU_ASSERT_EQUAL(mod_regex_compile(c, "\xff", 0, &rx, err,
					  sizeof(err)), CHATD_ERR_INVALID);
	/* UTF-8 subject: offsets are bytes, \w and . see characters. */
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "(\\w+)\\s(.)", 0, &rx,
						err, sizeof(err)), CHATD_OK);
	const char *s = "→ привет ж!";   /* → is 3 bytes, Cyrillic 2 each */
	CU_ASSERT_EQUAL(mod_regex_match(rx, s, strlen(s), ov, 2), 3);
	CU_ASSERT_EQUAL(ov[0], 4);
	CU_ASSERT_EQUAL(ov[1], 19);
	CU_ASSERT_EQUAL(ov[2], 4);
	CU_ASSERT_EQUAL(ov[3], 16);
	mod_regex_release(rx);
	/* Caseless with Unicode case folding. */
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "spam|ПРИВЕТ",
						MOD_REGEX_CASELESS, &rx, err,
						sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_match(rx, "SpAm", 4, ov, 1), 1);
	CU_ASSERT_EQUAL(mod_regex_match(rx, s, strlen(s), ov, 1), 1);
	mod_regex_release(rx);
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "spam", 0, &rx, err,
						sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_match(rx, "SpAm", 4, ov, 1), 0);
	mod_regex_release(rx);
	mod_regex_cache_free(c);
}

static void test_regex_catastrophic(void)
{
	struct mod_regex_cache *c = mod_regex_cache_new(8, NULL);
	struct mod_regex *rx = NULL;
	char err[256], subj[64];
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "(a+)+$", 0, &rx, err,
						sizeof(err)), CHATD_OK);
	memset(subj, 'a', sizeof(subj) - 2);
	subj[sizeof(subj) - 2] = 'b';
	subj[sizeof(subj) - 1] = '\0';
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = mod_regex_match(rx, subj, strlen(subj), NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CU_ASSERT_EQUAL(rc, CHATD_ERR_TOO_LARGE);
	CU_ASSERT(ms < 500.0);
	/* Still usable afterwards on a benign subject. */
	CU_ASSERT_EQUAL(mod_regex_match(rx, "aaa", 3, NULL, 0), 2);
	mod_regex_release(rx);
	mod_regex_cache_free(c);
}

static void test_regex_match_at_flags(void)
{
	struct mod_regex_cache *c = mod_regex_cache_new(8, NULL);
	struct mod_regex *rx = NULL;
	char err[256];
	size_t ov[4];
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "\\b(\\w)", 0, &rx, err, sizeof(err)),
			      CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_regex_pattern(rx), "\\b(\\w)");
	const char *s = "ab cd";
	CU_ASSERT_EQUAL(mod_regex_match_at(rx, s, 5, 0, ov, 2), 2);
	CU_ASSERT_EQUAL(ov[0], 0);
	/* From offset 1, \b still sees "a" before it: the next word starts at 3. */
	CU_ASSERT_EQUAL(mod_regex_match_at(rx, s, 5, 1, ov, 2), 2);
	CU_ASSERT_EQUAL(ov[0], 3);
	CU_ASSERT_EQUAL(ov[2], 3);
	CU_ASSERT_EQUAL(mod_regex_match_at(rx, s, 5, 5, ov, 2), 0);
	CU_ASSERT_EQUAL(mod_regex_match_at(rx, s, 5, 6, ov, 2), CHATD_ERR_INVALID);
	mod_regex_release(rx);
	/* Multiline and dotall. */
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "^b$", MOD_REGEX_MULTILINE, &rx, err,
						sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_match(rx, "a\nb\nc", 5, ov, 1), 1);
	CU_ASSERT_EQUAL(ov[0], 2);
	mod_regex_release(rx);
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "^b$", 0, &rx, err, sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_match(rx, "a\nb\nc", 5, ov, 1), 0);
	mod_regex_release(rx);
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "a.c", MOD_REGEX_DOTALL, &rx, err,
						sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_match(rx, "a\nc", 3, ov, 1), 1);
	mod_regex_release(rx);
	CU_ASSERT_EQUAL_FATAL(mod_regex_compile(c, "a.c", 0, &rx, err, sizeof(err)), CHATD_OK);
	CU_ASSERT_EQUAL(mod_regex_match(rx, "a\nc", 3, ov, 1), 0);
	mod_regex_release(rx);
	/* Longest pattern accepted, one byte more refused. */
	char *pat = malloc(MOD_REGEX_PATTERN_MAX + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pat);
	memset(pat, 'a', MOD_REGEX_PATTERN_MAX);
	pat[MOD_REGEX_PATTERN_MAX] = '\0';
	CU_ASSERT_EQUAL(mod_regex_compile(c, pat, 0, &rx, err, sizeof(err)), CHATD_OK);
	mod_regex_release(rx);
	pat[MOD_REGEX_PATTERN_MAX] = 'a';
	pat[MOD_REGEX_PATTERN_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(mod_regex_compile(c, pat, 0, &rx, err, sizeof(err)),
			CHATD_ERR_TOO_LARGE);
	CU_ASSERT_PTR_NULL(rx);
	free(pat);
	/* Bad limits and sizes. */
	struct mod_regex_limits lim = { 0, 1, 1 };
	CU_ASSERT_PTR_NULL(mod_regex_cache_new(8, &lim));
	CU_ASSERT_PTR_NULL(mod_regex_cache_new(0, NULL));
	CU_ASSERT_PTR_NULL(mod_regex_cache_new(65537, NULL));
	mod_regex_cache_free(c);
}

/* ---- helpers' env ---- */

static void test_env(void)
{
	struct mod_env *e = mod_env_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(mod_env_limiter(e));
	CU_ASSERT_PTR_NOT_NULL(mod_env_counter(e));
	CU_ASSERT_PTR_NOT_NULL(mod_env_regex(e));
	CU_ASSERT_PTR_NOT_NULL(mod_env_dupe(e));
	CU_ASSERT_EQUAL(mod_counter_incr(mod_env_counter(e), "a", 1, 10, 0), 1);
	CU_ASSERT_EQUAL(mod_counter_incr(mod_env_counter(e), "b", 1, 1000, 0), 1);
	CU_ASSERT_EQUAL(mod_env_sweep(e, 100, 10), 1);
	CU_ASSERT_EQUAL(mod_counter_count(mod_env_counter(e)), 1);
	mod_env_free(e);
	mod_env_free(NULL);
	/* Sizes: zero fields take defaults; a bad size is refused. */
	struct mod_env_config cfg = { .limiter_keys = 2, .regex_entries = 1 };
	e = mod_env_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	int64_t ra;
	CU_ASSERT_TRUE(mod_limiter_take(mod_env_limiter(e), "x", 1, 1, 0, &ra));
	CU_ASSERT_TRUE(mod_limiter_take(mod_env_limiter(e), "y", 1, 1, 0, &ra));
	CU_ASSERT_TRUE(mod_limiter_take(mod_env_limiter(e), "z", 1, 1, 0, &ra));
	CU_ASSERT_EQUAL(mod_limiter_count(mod_env_limiter(e)), 2);
	mod_env_free(e);
	cfg.regex_entries = 100000;
	CU_ASSERT_PTR_NULL(mod_env_new(&cfg));
	cfg.regex_entries = 0;
	cfg.dupe.ring_size = MOD_DUPE_RING_MAX + 1;
	CU_ASSERT_PTR_NULL(mod_env_new(&cfg));
	struct mod_env_config def;
	mod_env_config_default(&def);
	CU_ASSERT(def.limiter_keys > 0 && def.counter_keys > 0 && def.regex_entries > 0);
	CU_ASSERT_EQUAL(def.regex_limits.match_limit, 100000);
}

/* ---- sanctions ---- */

struct seen {
	int n;
	char users[8][32], kinds[8][8];
	int64_t until[8];
	int stop_after;
};

static int see(void *ud, const char *user, const char *kind, int64_t until)
{
	struct seen *s = ud;
	if (s->n < 8) {
		snprintf(s->users[s->n], sizeof(s->users[0]), "%s", user);
		snprintf(s->kinds[s->n], sizeof(s->kinds[0]), "%s", kind);
		s->until[s->n] = until;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_sanctions_reasons(void)
{
	struct mod_sanctions *t = mod_sanctions_new(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "ban"), "");
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "alice", "ban", 0, "spam"), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "alice", "block", 100, NULL), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "ban"), "spam");
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "block"), "");
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "shadow"), "");
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "exile"), "");
	/* Replaced with the sanction; gone with it (lift, expiry). */
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "alice", "ban", 0, "abuse"), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "ban"), "abuse");
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "alice", "ban", 0), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "ban"), "");
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "alice", "block", 100, "cool down"), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_expire(t, 100), 1);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "block"), "");
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "alice", "ban", 0, "again"), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_lift(t, "alice", "ban"), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "alice", "ban"), "");
	/* Too long: refused, the old sanction and reason untouched. */
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "bob", "shadow", 0, "first"), CHATD_OK);
	char *big = malloc(MOD_SANCTIONS_REASON_MAX + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'r', MOD_SANCTIONS_REASON_MAX + 1);
	big[MOD_SANCTIONS_REASON_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "bob", "shadow", 5, big), CHATD_ERR_INVALID);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_reason(t, "bob", "shadow"), "first");
	CU_ASSERT_TRUE(mod_sanctions_shadowed(t, "bob", 1 << 30));
	big[MOD_SANCTIONS_REASON_MAX] = '\0';
	CU_ASSERT_EQUAL(mod_sanctions_set_reason(t, "bob", "shadow", 0, big), CHATD_OK);
	CU_ASSERT_EQUAL(strlen(mod_sanctions_reason(t, "bob", "shadow")), MOD_SANCTIONS_REASON_MAX);
	free(big);
	mod_sanctions_free(t);          /* frees the reasons still held */
}

static void test_sanctions_basic(void)
{
	struct mod_sanctions *t = mod_sanctions_new(0);
	int64_t until = -1;
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NULL(mod_sanctions_blocking(t, "alice", 0, &until));
	CU_ASSERT_EQUAL(until, 0);
	CU_ASSERT_FALSE(mod_sanctions_shadowed(t, "alice", 0));
	/* A block until 1000; a ban wins over a block. */
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "alice", "block", 1000), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_blocking(t, "alice", 999, &until), "block");
	CU_ASSERT_EQUAL(until, 1000);
	CU_ASSERT_PTR_NULL(mod_sanctions_blocking(t, "alice", 1000, &until));
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "alice", "ban", 0), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_blocking(t, "alice", 500, &until), "ban");
	CU_ASSERT_EQUAL(until, 0);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_blocking(t, "alice", 1 << 30, NULL), "ban");
	CU_ASSERT_FALSE(mod_sanctions_shadowed(t, "alice", 0));
	/* Lift one kind; the other stays. */
	CU_ASSERT_EQUAL(mod_sanctions_lift(t, "alice", "ban"), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_lift(t, "alice", "ban"), CHATD_ERR_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_blocking(t, "alice", 10, &until), "block");
	/* Shadow: not blocking; set again replaces the end. */
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "bob", "shadow", 2000), CHATD_OK);
	CU_ASSERT_TRUE(mod_sanctions_shadowed(t, "bob", 1999));
	CU_ASSERT_FALSE(mod_sanctions_shadowed(t, "bob", 2000));
	CU_ASSERT_PTR_NULL(mod_sanctions_blocking(t, "bob", 0, &until));
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "bob", "shadow", 0), CHATD_OK);
	CU_ASSERT_TRUE(mod_sanctions_shadowed(t, "bob", 1 << 30));
	CU_ASSERT_EQUAL(mod_sanctions_last_now(t), 1 << 30);
	/* Bad input. */
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "bob", "mute", 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "", "ban", 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, NULL, "ban", 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "bob", "ban", -1), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_sanctions_lift(t, "bob", NULL), CHATD_ERR_INVALID);
	char big[MOD_SANCTIONS_USER_MAX + 2];
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(mod_sanctions_set(t, big, "ban", 0), CHATD_ERR_INVALID);
	CU_ASSERT_PTR_NULL(mod_sanctions_blocking(t, big, 0, NULL));
	big[MOD_SANCTIONS_USER_MAX] = '\0';
	CU_ASSERT_EQUAL(mod_sanctions_set(t, big, "ban", 0), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(mod_sanctions_blocking(t, big, 0, NULL), "ban");
	CU_ASSERT_EQUAL(mod_sanctions_count(t), 3);
	mod_sanctions_free(t);
	mod_sanctions_free(NULL);
}

static void test_sanctions_expire_list_bound(void)
{
	struct mod_sanctions *t = mod_sanctions_new(3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "a", "ban", 100), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "a", "shadow", 0), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "b", "block", 50), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "c", "shadow", 0), CHATD_OK);
	/* Full of active sanctions: a fourth user is refused, never evicted. */
	mod_sanctions_expire(t, 10);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "d", "ban", 0), CHATD_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(mod_sanctions_count(t), 3);
	/* Listing: most recently set user first, kinds ban, shadow, block. */
	struct seen s = { 0 };
	CU_ASSERT_EQUAL(mod_sanctions_foreach(t, NULL, 10, see, &s), 4);
	CU_ASSERT_EQUAL_FATAL(s.n, 4);
	CU_ASSERT_STRING_EQUAL(s.users[0], "c");
	CU_ASSERT_STRING_EQUAL(s.users[1], "b");
	CU_ASSERT_STRING_EQUAL(s.kinds[1], "block");
	CU_ASSERT_EQUAL(s.until[1], 50);
	CU_ASSERT_STRING_EQUAL(s.users[2], "a");
	CU_ASSERT_STRING_EQUAL(s.kinds[2], "ban");
	CU_ASSERT_STRING_EQUAL(s.kinds[3], "shadow");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(mod_sanctions_foreach(t, "a", 10, see, &s), 2);
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	CU_ASSERT_EQUAL(mod_sanctions_foreach(t, NULL, 10, see, &s), 1);
	/* Listing skips ended ones; the now also lets a new user take the place
	 * of an all-expired one (b's block ended at 50). */
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(mod_sanctions_foreach(t, NULL, 60, see, &s), 3);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "d", "ban", 0), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_count(t), 3);
	CU_ASSERT_PTR_NULL(mod_sanctions_blocking(t, "b", 0, NULL));
	/* Expire drops ended sanctions and users left with none. */
	CU_ASSERT_EQUAL(mod_sanctions_expire(t, 100), 1);    /* a's ban */
	CU_ASSERT_EQUAL(mod_sanctions_count(t), 3);          /* a keeps its shadow */
	CU_ASSERT_EQUAL(mod_sanctions_lift(t, "a", "shadow"), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_count(t), 2);
	CU_ASSERT_EQUAL(mod_sanctions_set(t, "e", "block", 200), CHATD_OK);
	CU_ASSERT_EQUAL(mod_sanctions_expire(t, 200), 1);
	CU_ASSERT_EQUAL(mod_sanctions_count(t), 2);
	CU_ASSERT_PTR_NULL(mod_sanctions_new(((size_t)1 << 24) + 1));
	mod_sanctions_free(t);
}

/* ---- audit hash chain ---- */

static void test_audit_vectors_hex(void)
{
	unsigned char h[32], back[32];
	char hex[65];
	size_t w;
	CU_ASSERT_EQUAL(mod_audit_sha256((const unsigned char *)"abc", 3, h),
			CHATD_OK);
	CU_ASSERT_EQUAL(mod_audit_hex_encode(h, 32, hex, sizeof(hex)), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223"
				    "b00361a396177a9cb410ff61f20015ad");
	CU_ASSERT_EQUAL(mod_audit_sha256(NULL, 0, h), CHATD_OK);
	mod_audit_hex_encode(h, 32, hex, sizeof(hex));
	CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				    "27ae41e4649b934ca495991b7852b855");
	/* Chain hash = SHA-256(32 zero bytes || "abc"). */
	unsigned char buf[35] = {0};
	memcpy(buf + 32, "abc", 3);
	unsigned char want[32];
	mod_audit_sha256(buf, sizeof(buf), want);
	CU_ASSERT_EQUAL(mod_audit_hash(NULL, (const unsigned char *)"abc", 3, h),
			CHATD_OK);
	CU_ASSERT_EQUAL(memcmp(h, want, 32), 0);
	/* Hex round trip, upper case accepted, errors. */
	CU_ASSERT_EQUAL(mod_audit_hex_decode(hex, 64, back, 32, &w), CHATD_OK);
	CU_ASSERT_EQUAL(w, 32);
	char up[65];
	for (int i = 0; i < 65; i++)
		up[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 32)
							  : hex[i];
	CU_ASSERT_EQUAL(mod_audit_hex_decode(up, 64, h, 32, &w), CHATD_OK);
	CU_ASSERT_EQUAL(memcmp(h, back, 32), 0);
	mod_audit_hex_encode(back, 32, up, sizeof(up));
	CU_ASSERT_STRING_EQUAL(up, hex);
	CU_ASSERT_EQUAL(mod_audit_hex_decode("abc", 3, h, 32, &w),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_audit_hex_decode("zz", 2, h, 32, &w),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_audit_hex_decode(hex, 64, h, 31, &w),
			CHATD_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(mod_audit_hex_encode(h, 32, hex, 64),
			CHATD_ERR_TOO_LARGE);
}

#define NAUDIT 100

static void build_chain(struct mod_audit_entry *e, char (*bodies)[48])
{
	for (size_t i = 0; i < NAUDIT; i++) {
		int n = snprintf(bodies[i], 48, "seq=%zu;action=mute;target=u%zu",
				 i, i * 7);
		e[i].data = (const unsigned char *)bodies[i];
		e[i].len = (size_t)n;
		if (i == 0)
			memset(e[i].prev, 0, 32);
		else
			memcpy(e[i].prev, e[i - 1].hash, 32);
		CU_ASSERT_EQUAL(mod_audit_hash(e[i].prev, e[i].data, e[i].len,
					       e[i].hash), CHATD_OK);
	}
}

static void test_audit_chain(void)
{
	static struct mod_audit_entry e[NAUDIT];
	static char bodies[NAUDIT][48];
	size_t bad = 999;
	build_chain(e, bodies);
	CU_ASSERT_EQUAL(mod_audit_verify(e, NAUDIT, &bad), CHATD_OK);
	CU_ASSERT_EQUAL(bad, NAUDIT);
	CU_ASSERT_EQUAL(mod_audit_verify(e, 0, &bad), CHATD_OK);
	/* Tamper with entry 42's data. */
	bodies[42][10] ^= 1;
	CU_ASSERT_EQUAL(mod_audit_verify(e, NAUDIT, &bad), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(bad, 42);
	bodies[42][10] ^= 1;
	CU_ASSERT_EQUAL(mod_audit_verify(e, NAUDIT, &bad), CHATD_OK);
	/* Break a prev link. */
	e[77].prev[5] ^= 0x80;
	CU_ASSERT_EQUAL(mod_audit_verify(e, NAUDIT, &bad), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(bad, 77);
	e[77].prev[5] ^= 0x80;
	/* Re-hashing a tampered entry consistently is caught at the next. */
	bodies[10][0] = 'X';
	mod_audit_hash(e[10].prev, e[10].data, e[10].len, e[10].hash);
	CU_ASSERT_EQUAL(mod_audit_verify(e, NAUDIT, &bad), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(bad, 11);
	/* A genesis entry with a non-zero prev. */
	build_chain(e, bodies);
	e[0].prev[0] = 1;
	CU_ASSERT_EQUAL(mod_audit_verify(e, NAUDIT, &bad), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(mod_audit_verify(NULL, 3, &bad), CHATD_ERR_INVALID);
}

void unit_register_moderation(void)
{
	CU_pSuite s = CU_add_suite("moderation", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "limiter burst/refill", test_limiter_burst_refill);
	CU_add_test(s, "limiter retry_after exact", test_limiter_retry_exact);
	CU_add_test(s, "limiter many keys/eviction",
		    test_limiter_many_keys_eviction);
	CU_add_test(s, "limiter burst change/key size", test_limiter_burst_change);
	CU_add_test(s, "counter window", test_counter_window);
	CU_add_test(s, "counter expiry/bound", test_counter_expiry_bound);
	CU_add_test(s, "counter key size/ttl edges", test_counter_keys_ttl);
	CU_add_test(s, "regex cache/captures", test_regex_cache_captures);
	CU_add_test(s, "regex errors/utf8/caseless", test_regex_errors_utf8);
	CU_add_test(s, "regex catastrophic", test_regex_catastrophic);
	CU_add_test(s, "regex match_at/flags/limits", test_regex_match_at_flags);
	CU_add_test(s, "env", test_env);
	CU_add_test(s, "sanctions set/lift/blocking/shadow", test_sanctions_basic);
	CU_add_test(s, "sanctions expire/list/bound", test_sanctions_expire_list_bound);
	CU_add_test(s, "sanctions keep their reasons", test_sanctions_reasons);
	CU_add_test(s, "audit vectors/hex", test_audit_vectors_hex);
	CU_add_test(s, "audit chain verify", test_audit_chain);
}
