/* mod_limiter.c — token buckets in a mod_keytab (string keys, LRU).
 * See mod_limiter.h for the contract. */
#include "mod_limiter.h"
#include "mod_keytab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Floating refill accumulates rounding error; tolerate it so that a bucket
 * that should hold exactly one token is not refused by 1e-15. */
#define TOKEN_EPS 1e-9
/* How many LRU-tail entries to inspect for a full (stateless) bucket. */
#define EVICT_SCAN 8

struct bucket {
	struct mod_keytab_node node;    /* first: the table's link */
	double tokens;
	double rate_per_ms;
	double burst;
	int64_t last_ms;
	char key[];                     /* NUL-terminated copy */
};

struct mod_limiter {
	struct mod_keytab tab;
	uint64_t evictions;
};

struct mod_limiter *mod_limiter_new(size_t max_keys)
{
	struct mod_limiter *lim = calloc(1, sizeof(*lim));
	if (!lim)
		return NULL;
	if (mod_keytab_init(&lim->tab, max_keys) < 0) {
		free(lim);
		return NULL;
	}
	return lim;
}

static void bucket_free(struct mod_keytab_node *n)
{
	free(n);
}

void mod_limiter_free(struct mod_limiter *lim)
{
	if (!lim)
		return;
	mod_keytab_destroy(&lim->tab, bucket_free);
	free(lim);
}

static bool bucket_full(const struct mod_keytab_node *n, void *arg)
{
	const struct bucket *b = (const struct bucket *)n;
	int64_t now_ms = *(const int64_t *)arg;
	double el = now_ms > b->last_ms ? (double)(now_ms - b->last_ms) : 0.0;
	return b->tokens + el * b->rate_per_ms >= b->burst - TOKEN_EPS;
}

static struct bucket *bucket_get(struct mod_limiter *lim, const char *key,
				 size_t klen, double burst, int64_t now_ms)
{
	uint64_t h;
	struct mod_keytab_node *n = mod_keytab_find(&lim->tab, key, klen, &h);
	if (n) {
		mod_keytab_touch(&lim->tab, n);
		return (struct bucket *)n;
	}
	if (lim->tab.count >= lim->tab.max_keys) {
		/* Make room: prefer a full bucket near the LRU tail (forgetting
		 * it loses no state), else the least recent. */
		struct mod_keytab_node *v = mod_keytab_victim(&lim->tab, EVICT_SCAN, bucket_full,
							      &now_ms);
		if (v) {
			mod_keytab_remove(&lim->tab, v);
			free(v);
			lim->evictions++;
		}
	}
	struct bucket *b = malloc(sizeof(*b) + klen + 1);
	if (!b)
		return NULL;
	memcpy(b->key, key, klen + 1);
	b->node.key = b->key;
	b->tokens = burst;
	b->last_ms = now_ms;
	mod_keytab_insert(&lim->tab, &b->node, h);
	return b;
}

bool mod_limiter_take(struct mod_limiter *lim, const char *key,
		      double rate_per_s, double burst, int64_t now_ms,
		      int64_t *retry_after_ms)
{
	int64_t dummy;
	if (!retry_after_ms)
		retry_after_ms = &dummy;
	*retry_after_ms = -1;
	if (!lim || !key || !isfinite(rate_per_s) || rate_per_s <= 0 ||
	    !isfinite(burst) || burst < 1)
		return false;
	size_t klen = strnlen(key, MOD_LIMITER_KEY_MAX + 1);
	if (klen > MOD_LIMITER_KEY_MAX)
		return false;
	struct bucket *b = bucket_get(lim, key, klen, burst, now_ms);
	if (!b)
		return false;
	b->rate_per_ms = rate_per_s / 1000.0;
	b->burst = burst;
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->rate_per_ms;
		b->last_ms = now_ms;
	}
	if (b->tokens > burst)
		b->tokens = burst;
	if (b->tokens >= 1.0 - TOKEN_EPS) {
		b->tokens -= 1.0;
		if (b->tokens < 0)
			b->tokens = 0;
		*retry_after_ms = 0;
		return true;
	}
	double wait = (1.0 - b->tokens) / b->rate_per_ms;
	double w = ceil(wait - TOKEN_EPS);
	if (w < 1)
		w = 1;
	/* Guarantee that a retry at now + w succeeds despite rounding. */
	if (b->tokens + w * b->rate_per_ms < 1.0 - TOKEN_EPS)
		w += 1;
	*retry_after_ms = w > 9.0e15 ? INT64_MAX : (int64_t)w;
	return false;
}

size_t mod_limiter_count(const struct mod_limiter *lim)
{
	return lim ? lim->tab.count : 0;
}

uint64_t mod_limiter_evictions(const struct mod_limiter *lim)
{
	return lim ? lim->evictions : 0;
}
