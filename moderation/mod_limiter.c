/* mod_limiter.c — token buckets in a mod_keytab (string keys, LRU).
 * See mod_limiter.h for the contract. */
#include "mod_limiter.h"
#include "mod_keytab.h"
#include "mod_sync.h"

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
	/* Cluster sharing (mod_sync.h): tokens taken here not yet sent, sent
	 * in the round in flight, and the key's cluster total as last seen
	 * (-1: never). */
	int64_t pending, inflight, seen_total;
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
	b->pending = b->inflight = 0;
	b->seen_total = -1;
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
		b->pending++;
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

int mod_limiter_sync_begin(struct mod_limiter *lim, int64_t now_ms, int64_t active_ms,
			   size_t max, const char *prefix, struct mod_sync_batch *out)
{
	size_t plen = strlen(prefix);
	char key[MOD_LIMITER_KEY_MAX + 64];
	if (plen >= 64)
		return -1;
	/* Most recently used first: stop at the first bucket idle longer than
	 * active_ms (its tokens are back, nothing to learn or tell). */
	for (struct mod_keytab_node *n = lim->tab.head; n && max; n = n->next, max--) {
		struct bucket *b = (struct bucket *)n;
		if (now_ms - b->last_ms > active_ms && b->pending == 0)
			break;
		if (b->inflight)
			continue; /* already in this round */
		/* A cluster key lives as long as a full refill takes. */
		double refill = b->burst / b->rate_per_ms;
		int64_t ttl = refill > 86400000.0 ? 86400000 : (int64_t)refill + active_ms;
		memcpy(key, prefix, plen);
		memcpy(key + plen, b->key, strlen(b->key) + 1);
		if (mod_sync_batch_add(out, key, b->pending, ttl < 1000 ? 1000 : ttl) < 0)
			return -1;
		b->inflight = b->pending;
		b->pending = 0;
	}
	return 0;
}

void mod_limiter_sync_end(struct mod_limiter *lim, const struct mod_sync_batch *batch,
			  size_t plen, const int64_t *totals)
{
	for (size_t i = 0; i < batch->n; i++) {
		const char *key = batch->keys[i] + plen;
		size_t klen = strlen(key);
		struct bucket *b = (struct bucket *)mod_keytab_find(&lim->tab, key, klen, NULL);
		if (!b)
			continue; /* evicted meanwhile */
		int64_t sent = b->inflight;
		b->inflight = 0;
		if (!totals) { /* the round failed: send it again next time */
			b->pending += sent;
			continue;
		}
		int64_t t = totals[i];
		int64_t others = b->seen_total < 0 ? t - sent : t - b->seen_total - sent;
		if (b->seen_total >= 0 && t < b->seen_total + sent)
			others = t - sent; /* the cluster key expired and began again */
		b->seen_total = t;
		if (others > 0) {
			b->tokens -= (double)others;
			if (b->tokens < -b->burst) /* a debt of one burst at most */
				b->tokens = -b->burst;
		}
	}
}

size_t mod_limiter_count(const struct mod_limiter *lim)
{
	return lim ? lim->tab.count : 0;
}

uint64_t mod_limiter_evictions(const struct mod_limiter *lim)
{
	return lim ? lim->evictions : 0;
}
