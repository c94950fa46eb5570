/* test_member_cache.c — fanout_online's member list cache. */
#include <stdio.h>
#include <string.h>
#include "../../plugins/fanout_online/member_cache.h"
#include "unit.h"

static void test_put_get_drop(void)
{
	struct member_cache *mc = member_cache_new(4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
	size_t n = 99;
	CU_ASSERT_PTR_NULL(member_cache_get(mc, "c1", &n));
	const char *users[] = { "alice", "bob", "carol" };
	CU_ASSERT_EQUAL(member_cache_put(mc, "c1", users, 3), 0);
	const char *const *got = member_cache_get(mc, "c1", &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(got[2], "carol");
	CU_ASSERT_PTR_NOT_EQUAL(got[0], users[0]); /* a copy */
	/* Replace. */
	CU_ASSERT_EQUAL(member_cache_put(mc, "c1", users, 1), 0);
	got = member_cache_get(mc, "c1", &n);
	CU_ASSERT_EQUAL(n, 1);
	member_cache_drop(mc, "c1");
	CU_ASSERT_PTR_NULL(member_cache_get(mc, "c1", &n));
	member_cache_drop(mc, "never");
	/* An empty list is a valid entry. */
	CU_ASSERT_EQUAL(member_cache_put(mc, "empty", users, 0), 0);
	CU_ASSERT_PTR_NOT_NULL(member_cache_get(mc, "empty", &n));
	CU_ASSERT_EQUAL(n, 0);
	member_cache_free(mc);
}

static void test_eviction_oldest_first(void)
{
	struct member_cache *mc = member_cache_new(3);
	const char *users[] = { "u" };
	char conv[16];
	for (int i = 0; i < 5; i++) {
		snprintf(conv, sizeof conv, "c%d", i);
		CU_ASSERT_EQUAL(member_cache_put(mc, conv, users, 1), 0);
	}
	size_t n;
	CU_ASSERT_PTR_NULL(member_cache_get(mc, "c0", &n));
	CU_ASSERT_PTR_NULL(member_cache_get(mc, "c1", &n));
	CU_ASSERT_PTR_NOT_NULL(member_cache_get(mc, "c2", &n));
	CU_ASSERT_PTR_NOT_NULL(member_cache_get(mc, "c4", &n));
	/* Dropping from the middle keeps the order list sound. */
	member_cache_drop(mc, "c3");
	CU_ASSERT_EQUAL(member_cache_put(mc, "c5", users, 1), 0);
	CU_ASSERT_EQUAL(member_cache_put(mc, "c6", users, 1), 0);
	CU_ASSERT_PTR_NULL(member_cache_get(mc, "c2", &n));
	CU_ASSERT_PTR_NOT_NULL(member_cache_get(mc, "c6", &n));
	member_cache_free(mc);
}

void unit_register_member_cache(void)
{
	CU_pSuite s = CU_add_suite("member_cache", NULL, NULL);
	CU_add_test(s, "put, get, replace, drop", test_put_get_drop);
	CU_add_test(s, "eviction oldest first", test_eviction_oldest_first);
}
