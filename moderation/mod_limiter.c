/* mod_limiter.c — token buckets in a string-keyed hash table with an LRU
 * list.  See mod_limiter.h for the contract. */
#include "mod_limiter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Floating refill accumulates rounding error; tolerate it so that a bucket
 * that should hold exactly one token is not refused by 1e-15. */
#define TOKEN_EPS 1e-9
/* How many LRU-tail entries to inspect for a full (stateless) bucket. */
#define EVICT_SCAN 8

struct bucket {
	struct bucket *hnext;           /* hash chain */
	struct bucket *prev, *next;     /* LRU list: head = most recent */
	uint64_t hash;
	double tokens;
	double rate_per_ms;
	double burst;
	int64_t last_ms;
	char key[];                     /* NUL-terminated copy */
};

struct mod_limiter {
	struct bucket **slots;
	size_t nslots;                  /* power of two */
	size_t count, max_keys;
	struct bucket *head, *tail;
	uint64_t evictions;
};

static uint64_t key_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct mod_limiter *mod_limiter_new(size_t max_keys)
{
	if (max_keys == 0 || max_keys > (size_t)1 << 24)
		return NULL;
	struct mod_limiter *lim = calloc(1, sizeof(*lim));
	if (!lim)
		return NULL;
	size_t n = 16;
	while (n < max_keys)
		n <<= 1;
	lim->slots = calloc(n, sizeof(*lim->slots));
	if (!lim->slots) {
		free(lim);
		return NULL;
	}
	lim->nslots = n;
	lim->max_keys = max_keys;
	return lim;
}

void mod_limiter_free(struct mod_limiter *lim)
{
	if (!lim)
		return;
	struct bucket *b = lim->head;
	while (b) {
		struct bucket *nx = b->next;
		free(b);
		b = nx;
	}
	free(lim->slots);
	free(lim);
}

static void lru_unlink(struct mod_limiter *lim, struct bucket *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		lim->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		lim->tail = b->prev;
	b->prev = b->next = NULL;
}

static void lru_push_head(struct mod_limiter *lim, struct bucket *b)
{
	b->prev = NULL;
	b->next = lim->head;
	if (lim->head)
		lim->head->prev = b;
	lim->head = b;
	if (!lim->tail)
		lim->tail = b;
}

static void bucket_remove(struct mod_limiter *lim, struct bucket *b)
{
	struct bucket **pp = &lim->slots[b->hash & (lim->nslots - 1)];
	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
	lru_unlink(lim, b);
	lim->count--;
	free(b);
}

static bool bucket_full(const struct bucket *b, int64_t now_ms)
{
	double el = now_ms > b->last_ms ? (double)(now_ms - b->last_ms) : 0.0;
	return b->tokens + el * b->rate_per_ms >= b->burst - TOKEN_EPS;
}

/* Make room for one bucket: prefer a full bucket near the LRU tail. */
static void evict_one(struct mod_limiter *lim, int64_t now_ms)
{
	struct bucket *victim = lim->tail;
	struct bucket *b = lim->tail;
	for (int i = 0; b && i < EVICT_SCAN; i++, b = b->prev) {
		if (bucket_full(b, now_ms)) {
			victim = b;
			break;
		}
	}
	if (victim) {
		bucket_remove(lim, victim);
		lim->evictions++;
	}
}

static struct bucket *bucket_get(struct mod_limiter *lim, const char *key,
				 size_t klen, double burst, int64_t now_ms)
{
	uint64_t h = key_hash(key, klen);
	size_t slot = h & (lim->nslots - 1);
	for (struct bucket *b = lim->slots[slot]; b; b = b->hnext) {
		if (b->hash == h && strcmp(b->key, key) == 0) {
			lru_unlink(lim, b);
			lru_push_head(lim, b);
			return b;
		}
	}
	if (lim->count >= lim->max_keys)
		evict_one(lim, now_ms);
	struct bucket *b = malloc(sizeof(*b) + klen + 1);
	if (!b)
		return NULL;
	memcpy(b->key, key, klen + 1);
	b->hash = h;
	b->tokens = burst;
	b->last_ms = now_ms;
	b->hnext = lim->slots[slot];
	lim->slots[slot] = b;
	lru_push_head(lim, b);
	lim->count++;
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
	return lim ? lim->count : 0;
}

uint64_t mod_limiter_evictions(const struct mod_limiter *lim)
{
	return lim ? lim->evictions : 0;
}
