/* test_mod_sync.c — limiters and counters shared by several nodes
 * (moderation/mod_sync.h): two tables play two nodes against an in-memory
 * cluster counter store with the bus's counters_add semantics (add, create
 * with a lifetime, return totals), in simulated time. */
#include <stdlib.h>
#include <string.h>
#include "mod_counter.h"
#include "mod_limiter.h"
#include "mod_sync.h"
#include "unit.h"

#define STORE_MAX 64

struct store {
	size_t n;
	char *keys[STORE_MAX];
	int64_t vals[STORE_MAX], expires[STORE_MAX];
};

/* counters_add: totals[i] after adding deltas[i] to keys[i]. */
static void store_add(struct store *s, const struct mod_sync_batch *b, int64_t now,
		      int64_t *totals)
{
	for (size_t i = 0; i < b->n; i++) {
		size_t j = 0;
		while (j < s->n && strcmp(s->keys[j], b->keys[i]) != 0)
			j++;
		if (j == s->n) {
			CU_ASSERT_FATAL(s->n < STORE_MAX);
			s->keys[s->n++] = strdup(b->keys[i]);
			s->vals[j] = 0;
			s->expires[j] = now + b->ttl_ms[i];
		} else if (now >= s->expires[j]) {
			s->vals[j] = 0;
			s->expires[j] = now + b->ttl_ms[i];
		}
		s->vals[j] += b->deltas[i];
		totals[i] = s->vals[j];
	}
}

static void store_free(struct store *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->keys[i]);
}

static void limiter_round(struct mod_limiter *l, struct store *s, int64_t now)
{
	struct mod_sync_batch b = { 0 };
	CU_ASSERT_EQUAL(mod_limiter_sync_begin(l, now, 1000, 1024, "l:", &b), 0);
	int64_t *t = calloc(b.n ? b.n : 1, sizeof *t);
	store_add(s, &b, now, t);
	mod_limiter_sync_end(l, &b, 2, t);
	free(t);
	mod_sync_batch_clear(&b);
}

/* Two nodes, each 4 sends/s (under the 5/s limit alone) for 10 s: shared,
 * they get about what one user may send in 10 s (burst 10 + 50), not 80. */
static void test_limiter_shared_by_two_nodes(void)
{
	struct mod_limiter *a = mod_limiter_new(100), *b = mod_limiter_new(100);
	struct store s = { 0 };
	int ok_a = 0, ok_b = 0;
	for (int64_t t = 0; t < 10000; t += 25) {
		if (t % 250 == 0)
			ok_a += mod_limiter_take(a, "u1", 5, 10, t, NULL);
		if (t % 250 == 125)
			ok_b += mod_limiter_take(b, "u1", 5, 10, t, NULL);
		if (t % 100 == 0) {
			limiter_round(a, &s, t);
			limiter_round(b, &s, t + 1);
		}
	}
	int total = ok_a + ok_b;
	CU_ASSERT(total <= 62);   /* 10 + 5/s * 10 s, one round of lag */
	CU_ASSERT(total >= 50);
	CU_ASSERT(ok_a > 15 && ok_b > 15); /* both nodes keep sending */

	/* Alone (no rounds), each node would have let all 40 through. */
	struct mod_limiter *c = mod_limiter_new(100);
	int alone = 0;
	for (int64_t t = 0; t < 10000; t += 250)
		alone += mod_limiter_take(c, "u1", 5, 10, t, NULL);
	CU_ASSERT_EQUAL(alone, 40);
	mod_limiter_free(a);
	mod_limiter_free(b);
	mod_limiter_free(c);
	store_free(&s);
}

static void test_limiter_failed_round_is_sent_again(void)
{
	struct mod_limiter *a = mod_limiter_new(10), *b = mod_limiter_new(10);
	struct store s = { 0 };
	for (int i = 0; i < 10; i++)
		CU_ASSERT_TRUE(mod_limiter_take(a, "k", 1, 10, 0, NULL));
	struct mod_sync_batch bt = { 0 };
	CU_ASSERT_EQUAL(mod_limiter_sync_begin(a, 0, 1000, 1024, "l:", &bt), 0);
	CU_ASSERT_EQUAL(bt.n, 1);
	CU_ASSERT_STRING_EQUAL(bt.keys[0], "l:k");
	CU_ASSERT_EQUAL(bt.deltas[0], 10);
	CU_ASSERT(bt.ttl_ms[0] >= 10000);
	mod_limiter_sync_end(a, &bt, 2, NULL); /* lost */
	mod_sync_batch_clear(&bt);
	limiter_round(a, &s, 1);                /* sends the 10 again */
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_EQUAL(s.vals[0], 10);
	/* Node b learns of them and is out of tokens too. */
	CU_ASSERT_TRUE(mod_limiter_take(b, "k", 1, 10, 2, NULL));
	limiter_round(b, &s, 3);
	int64_t ra = 0;
	CU_ASSERT_FALSE(mod_limiter_take(b, "k", 1, 10, 4, &ra));
	CU_ASSERT(ra > 1000);
	mod_limiter_free(a);
	mod_limiter_free(b);
	store_free(&s);
}

static void counter_round(struct mod_counter *c, struct store *s, int64_t now, bool fail)
{
	struct mod_sync_batch b = { 0 };
	CU_ASSERT_EQUAL(mod_counter_sync_begin(c, now, 1024, "c:", &b), 0);
	int64_t *t = calloc(b.n ? b.n : 1, sizeof *t);
	if (!fail)
		store_add(s, &b, now, t);
	mod_counter_sync_end(c, &b, 2, fail ? NULL : t, now);
	free(t);
	mod_sync_batch_clear(&b);
}

static void test_counter_shared_by_two_nodes(void)
{
	struct mod_counter *a = mod_counter_new(10), *b = mod_counter_new(10);
	struct store s = { 0 };
	for (int i = 0; i < 5; i++) {
		mod_counter_incr(a, "links", 1, 60000, 0);
		mod_counter_incr(b, "links", 1, 60000, 0);
	}
	counter_round(a, &s, 10, true); /* a failed round changes nothing */
	CU_ASSERT_EQUAL(mod_counter_get(a, "links", 10), 5);
	counter_round(a, &s, 10, false);
	counter_round(b, &s, 11, false);
	counter_round(a, &s, 12, false);
	CU_ASSERT_EQUAL(mod_counter_get(a, "links", 20), 10);
	CU_ASSERT_EQUAL(mod_counter_get(b, "links", 20), 10);
	CU_ASSERT_EQUAL(mod_counter_incr(b, "links", 2, 60000, 30), 12);
	counter_round(b, &s, 31, false);
	counter_round(a, &s, 32, false);
	CU_ASSERT_EQUAL(mod_counter_get(a, "links", 40), 12);
	CU_ASSERT_EQUAL(s.vals[0], 12);
	/* Past the window nothing is sent and the value is 0 again. */
	counter_round(a, &s, 60000, false);
	CU_ASSERT_EQUAL(mod_counter_get(a, "links", 60000), 0);
	mod_counter_free(a);
	mod_counter_free(b);
	store_free(&s);
}

void unit_register_mod_sync(void)
{
	CU_pSuite s = CU_add_suite("mod_sync", NULL, NULL);
	CU_add_test(s, "a limiter shared by two nodes", test_limiter_shared_by_two_nodes);
	CU_add_test(s, "a failed round is sent again", test_limiter_failed_round_is_sent_again);
	CU_add_test(s, "a counter shared by two nodes", test_counter_shared_by_two_nodes);
}
