/* test_mod_dupe.c — unit tests for near-duplicate detection (mod_dupe.c:
 * simhash fingerprints and the per-user rings behind similar()).  Time is
 * simulated. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "unit.h"
#include "chatd/status.h"
#include "mod_dupe.h"

/* ---- near duplicates ---- */

static const char *LONG_MSG =
	"Hey everyone, check out my new crypto trading channel, we have daily "
	"signals and huge profits guaranteed, join now at the link in my bio";

static int dupe(struct mod_dupe *d, const char *u, const char *t, int64_t now)
{
	return mod_dupe_check_and_add(d, u, t, strlen(t), now);
}

static void test_dupe_variants(void)
{
	struct mod_dupe_config cfg;
	mod_dupe_config_default(&cfg);
	struct mod_dupe *d = mod_dupe_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(dupe(d, "alice", LONG_MSG, 0), 0);
	CU_ASSERT_EQUAL(dupe(d, "alice", LONG_MSG, 1), 1);
	CU_ASSERT_EQUAL(dupe(d, "alice",
		"HEY   everyone!!! check out my new crypto trading channel... we "
		"have daily signals; huge profits guaranteed, join NOW at\tthe "
		"link in my bio!!!", 2), 2);
	/* One word changed in a long message. */
	CU_ASSERT_EQUAL(dupe(d, "alice",
		"Hey everyone, check out my new crypto trading channel, we have "
		"daily signals and massive profits guaranteed, join now at the "
		"link in my bio", 3), 3);
	/* A different message. */
	CU_ASSERT_EQUAL(dupe(d, "alice",
		"I think we should meet on Thursday to discuss the quarterly "
		"planning, does that work for you?", 4), 0);
	/* Per-user separation. */
	CU_ASSERT_EQUAL(dupe(d, "bob", LONG_MSG, 5), 0);
	CU_ASSERT_EQUAL(mod_dupe_user_count(d), 2);
	/* Normalization gives exactly equal fingerprints. */
	CU_ASSERT_EQUAL(mod_dupe_simhash("Hello, World!", 13),
			mod_dupe_simhash("  hello world ", 14));
	CU_ASSERT_NOT_EQUAL(mod_dupe_simhash("hello world", 11),
			    mod_dupe_simhash("goodbye moon", 12));
	/* Short and multibyte texts. */
	CU_ASSERT_EQUAL(dupe(d, "carol", "ok", 0), 0);
	CU_ASSERT_EQUAL(dupe(d, "carol", "OK!", 1), 1);
	CU_ASSERT_EQUAL(dupe(d, "carol", "привет мир", 2), 0);
	CU_ASSERT_EQUAL(dupe(d, "carol", "привет   мир!", 3), 1);
	CU_ASSERT_EQUAL(mod_dupe_check_and_add(d, "carol", NULL, 0, 4), 0);
	CU_ASSERT_EQUAL(mod_dupe_check_and_add(d, "carol", NULL, 1, 4),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_dupe_check_and_add(d, NULL, "x", 1, 4),
			CHATD_ERR_INVALID);
	mod_dupe_free(d);
}

static void test_dupe_ttl_ring_bound(void)
{
	struct mod_dupe_config cfg;
	mod_dupe_config_default(&cfg);
	cfg.ttl_ms = 1000;
	cfg.ring_size = 3;
	cfg.max_users = 10;
	struct mod_dupe *d = mod_dupe_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(dupe(d, "u", "buy cheap followers", 0), 0);
	CU_ASSERT_EQUAL(dupe(d, "u", "buy cheap followers", 999), 1);
	/* At 1000 the first has aged out, the second has not. */
	CU_ASSERT_EQUAL(dupe(d, "u", "buy cheap followers", 1000), 2 - 1);
	CU_ASSERT_EQUAL(dupe(d, "u", "buy cheap followers", 5000), 0);
	/* Ring of 3: never more than 3 matches. */
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(dupe(d, "v", "same thing again", 6000 + i),
				i < 3 ? i : 3);
	/* Ring forgets: after 3 other messages, the first is gone. */
	CU_ASSERT_EQUAL(dupe(d, "w", "first message here", 0), 0);
	CU_ASSERT_EQUAL(dupe(d, "w", "completely unrelated one", 1), 0);
	CU_ASSERT_EQUAL(dupe(d, "w", "another different topic", 2), 0);
	CU_ASSERT_EQUAL(dupe(d, "w", "the weather is nice today", 3), 0);
	CU_ASSERT_EQUAL(dupe(d, "w", "first message here", 4), 0);
	/* User bound with LRU eviction. */
	char user[16];
	for (int i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		CU_ASSERT_EQUAL(dupe(d, user, "hello there", 7000), 0);
		CU_ASSERT(mod_dupe_user_count(d) <= 10);
	}
	CU_ASSERT_EQUAL(dupe(d, "user99", "hello there", 7001), 1);
	CU_ASSERT_EQUAL(dupe(d, "user0", "hello there", 7001), 0);
	cfg.ring_size = 0;
	CU_ASSERT_PTR_NULL(mod_dupe_new(&cfg));
	mod_dupe_free(d);
}

/* The plain simhash the bit-sliced one in mod_dupe.c must equal: the same
 * normalization (lower case, punctuation dropped, runs of space collapsed),
 * 3-byte shingles, FNV-1a + splitmix64, and a ±1 vote per bit. */
static uint64_t ref_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void ref_vote(int32_t votes[64], const unsigned char *sh, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= sh[i];
		h *= 1099511628211ULL;
	}
	h = ref_mix(h);
	for (int b = 0; b < 64; b++)
		votes[b] += (h >> b) & 1 ? 1 : -1;
}

static uint64_t ref_simhash(const char *text, size_t len)
{
	int32_t votes[64] = { 0 };
	unsigned char win[MOD_DUPE_SHINGLE];
	size_t have = 0;
	bool pending_space = false, any = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == ' ' || (c >= '\t' && c <= '\r') || c == 0) {
			pending_space = have > 0;
			continue;
		}
		if ((c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
		    (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e))
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		for (int k = pending_space ? 0 : 1; k < 2; k++) {
			if (have >= MOD_DUPE_SHINGLE)
				memmove(win, win + 1, MOD_DUPE_SHINGLE - 1);
			win[have >= MOD_DUPE_SHINGLE ? MOD_DUPE_SHINGLE - 1 : have] = k ? c : ' ';
			if (++have >= MOD_DUPE_SHINGLE) {
				ref_vote(votes, win, MOD_DUPE_SHINGLE);
				any = true;
			}
		}
		pending_space = false;
	}
	if (have == 0)
		return 0;
	if (!any)
		ref_vote(votes, win, have);
	uint64_t fp = 0;
	for (int b = 0; b < 64; b++)
		if (votes[b] > 0)
			fp |= (uint64_t)1 << b;
	return fp;
}

/* Random texts of 0..3000 bytes (past 255 shingles, where the byte
 * counters are emptied) from letters, both cases, digits, spaces, tabs,
 * punctuation and UTF-8 bytes: the fingerprints must be identical. */
static void test_dupe_simhash_equals_reference(void)
{
	static const char alpha[] = "aaabbcdeeefghiijklmnoopqrstuuvwxyzAZMQ0129  \t\n.,!?-'\xc3\xa9\xe2\x82\xac";
	char buf[3001];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned mismatches = 0;
	for (int t = 0; t < 4000; t++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t len = t < 3000 ? (size_t)t : (size_t)((seed >> 33) % 3001);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[i] = alpha[(seed >> 33) % (sizeof alpha - 1)];
		}
		if (mod_dupe_simhash(buf, len) != ref_simhash(buf, len))
			mismatches++;
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	/* A long repetition: one shingle voted thousands of times. */
	memset(buf, 'z', 3000);
	CU_ASSERT_EQUAL(mod_dupe_simhash(buf, 3000), ref_simhash(buf, 3000));
}

static void test_dupe_limits(void)
{
	struct mod_dupe_config cfg;
	mod_dupe_config_default(&cfg);
	struct mod_dupe *d = mod_dupe_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	char user[MOD_DUPE_USER_MAX + 2];
	memset(user, 'u', MOD_DUPE_USER_MAX);
	user[MOD_DUPE_USER_MAX] = '\0';
	CU_ASSERT_EQUAL(dupe(d, user, "hello", 0), 0);
	user[MOD_DUPE_USER_MAX] = 'u';
	user[MOD_DUPE_USER_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(dupe(d, user, "hello", 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(mod_dupe_check_and_add(d, "u", "x", MOD_DUPE_TEXT_MAX + 1, 0),
			CHATD_ERR_TOO_LARGE);
	/* Punctuation-only texts all share fingerprint 0. */
	CU_ASSERT_EQUAL(mod_dupe_simhash("!!!", 3), 0);
	CU_ASSERT_EQUAL(dupe(d, "p", "...", 0), 0);
	CU_ASSERT_EQUAL(dupe(d, "p", "?!", 1), 1);
	CU_ASSERT_EQUAL(mod_dupe_distance(0, ~0ULL), 64);
	CU_ASSERT_EQUAL(mod_dupe_distance(5, 4), 1);
	/* Distance 0: only identical normalized texts match. */
	cfg.max_distance = 0;
	struct mod_dupe *z = mod_dupe_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(z);
	CU_ASSERT_EQUAL(dupe(z, "a", LONG_MSG, 0), 0);
	CU_ASSERT_EQUAL(dupe(z, "a", LONG_MSG, 1), 1);
	CU_ASSERT_EQUAL(dupe(z, "a",
		"Hey everyone, check out my new crypto trading channel, we have "
		"daily signals and massive profits guaranteed, join now at the "
		"link in my bio", 2), 0);
	mod_dupe_free(z);
	cfg.max_distance = 33;
	CU_ASSERT_PTR_NULL(mod_dupe_new(&cfg));
	mod_dupe_free(d);
}

void unit_register_mod_dupe(void)
{
	CU_pSuite s = CU_add_suite("mod_dupe", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "dupe variants", test_dupe_variants);
	CU_add_test(s, "dupe ttl/ring/bound", test_dupe_ttl_ring_bound);
	CU_add_test(s, "dupe limits/distance", test_dupe_limits);
	CU_add_test(s, "dupe simhash equals the plain reference", test_dupe_simhash_equals_reference);
}
