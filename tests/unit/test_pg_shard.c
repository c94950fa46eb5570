/* test_pg_shard.c — storage_pg's shard map: the hash that places stored
 * data (pinned values: they must never change; the same values are in
 * tests/integration/21_storage_pg.py and docs/scaling.md), the DSN list
 * and the DSN labels logs show (never a password). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"
#include "../../plugins/storage_pg/pg_store.h"

static const struct {
	const char *id;
	uint64_t fnv;
	int32_t s2, s3, s4, s16;
} ref[] = {
	{ "c0000000000000000", 0x61305fa7482c5872ULL, 0, 0, 0, 14 },
	{ "c0123456789abcdef", 0x61b35d277f407002ULL, 1, 1, 1, 1 },
	{ "cffffffffffffffff", 0x33070a156c7d6752ULL, 0, 2, 2, 4 },
	{ "cdeadbeefcafef00d", 0xd66450882d5a3bb1ULL, 1, 2, 2, 10 },
};

static void test_reference_values(void)
{
	CU_ASSERT_EQUAL(pg_fnv1a64(""), 14695981039346656037ULL);
	for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
		uint64_t h = pg_fnv1a64(ref[i].id);
		CU_ASSERT_EQUAL(h, ref[i].fnv);
		CU_ASSERT_EQUAL(pg_jump_hash(h, 1), 0);
		CU_ASSERT_EQUAL(pg_jump_hash(h, 2), ref[i].s2);
		CU_ASSERT_EQUAL(pg_jump_hash(h, 3), ref[i].s3);
		CU_ASSERT_EQUAL(pg_jump_hash(h, 4), ref[i].s4);
		CU_ASSERT_EQUAL(pg_jump_hash(h, 16), ref[i].s16);
	}
}

/* One shard more moves about 1/n of the conversations, all to the new one;
 * and the shards are about equally loaded. */
static void test_growth_and_balance(void)
{
	int moved = 0, count[4] = { 0 };
	char id[32];
	for (int i = 0; i < 8000; i++) {
		snprintf(id, sizeof id, "c%016x", i * 7919);
		uint64_t h = pg_fnv1a64(id);
		int32_t a = pg_jump_hash(h, 3), b = pg_jump_hash(h, 4);
		CU_ASSERT(b == a || b == 3);
		moved += a != b;
		count[b]++;
	}
	CU_ASSERT(moved > 1600 && moved < 2400);
	for (int k = 0; k < 4; k++)
		CU_ASSERT(count[k] > 1700 && count[k] < 2300);
}

static void test_split(void)
{
	char *out[4];
	int n = pg_split_dsns("  host=a dbname=x \n\n# a comment\n\thost=b dbname=y\r\n", out, 4);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(out[0], "host=a dbname=x");
	CU_ASSERT_STRING_EQUAL(out[1], "host=b dbname=y");
	free(out[0]);
	free(out[1]);
	CU_ASSERT_EQUAL(pg_split_dsns("", out, 4), 0);
	CU_ASSERT_EQUAL(pg_split_dsns(" \n # only\n", out, 4), 0);
	CU_ASSERT_EQUAL(pg_split_dsns("a\nb\nc", out, 2), -2);   /* nothing left allocated */
	n = pg_split_dsns("postgresql://u@h:5/d", out, 1);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(out[0], "postgresql://u@h:5/d");
	free(out[0]);
}

static void test_label_hides_the_password(void)
{
	char buf[192];
	pg_dsn_label("host=db1 port=6432 user=chat password=s3cret dbname=chatd", buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "chat@db1:6432/chatd");
	pg_dsn_label("postgresql://chat:s3cret@db2:5433/main?sslmode=require", buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "chat@db2:5433/main");
	CU_ASSERT_PTR_NULL(strstr(buf, "s3cret"));
	pg_dsn_label("this is = not a DSN '", buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "(unparsable DSN)");
}

void unit_register_pg_shard(void)
{
	CU_pSuite s = CU_add_suite("storage_pg shard map", NULL, NULL);
	CU_add_test(s, "pinned hash values", test_reference_values);
	CU_add_test(s, "growth moves 1/n, balance", test_growth_and_balance);
	CU_add_test(s, "DSN list", test_split);
	CU_add_test(s, "DSN label without password", test_label_hides_the_password);
}
