/* mod_counter.c — fixed-window counters in a string-keyed hash table with
 * an LRU list.  See mod_counter.h for the contract. */
#include "mod_counter.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/status.h"

/* How many LRU-tail entries to inspect for an expired counter. */
#define EVICT_SCAN 16

struct centry {
	struct centry *hnext;
	struct centry *prev, *next;     /* LRU: head = most recent */
	uint64_t hash;
	int64_t value;
	int64_t expires_ms;             /* window end, exclusive */
	char key[];
};

struct mod_counter {
	struct centry **slots;
	size_t nslots;
	size_t count, max_keys;
	struct centry *head, *tail;
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

struct mod_counter *mod_counter_new(size_t max_keys)
{
	if (max_keys == 0 || max_keys > (size_t)1 << 24)
		return NULL;
	struct mod_counter *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	size_t n = 16;
	while (n < max_keys)
		n <<= 1;
	c->slots = calloc(n, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	c->nslots = n;
	c->max_keys = max_keys;
	return c;
}

void mod_counter_free(struct mod_counter *c)
{
	if (!c)
		return;
	struct centry *e = c->head;
	while (e) {
		struct centry *nx = e->next;
		free(e);
		e = nx;
	}
	free(c->slots);
	free(c);
}

static void lru_unlink(struct mod_counter *c, struct centry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_head(struct mod_counter *c, struct centry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_remove(struct mod_counter *c, struct centry *e)
{
	struct centry **pp = &c->slots[e->hash & (c->nslots - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(c, e);
	c->count--;
	free(e);
}

static bool key_ok(const char *key, size_t *klen)
{
	if (!key)
		return false;
	*klen = strnlen(key, MOD_COUNTER_KEY_MAX + 1);
	return *klen <= MOD_COUNTER_KEY_MAX;
}

static struct centry *find(const struct mod_counter *c, const char *key,
			   size_t klen, uint64_t *hash_out)
{
	uint64_t h = key_hash(key, klen);
	if (hash_out)
		*hash_out = h;
	for (struct centry *e = c->slots[h & (c->nslots - 1)]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void evict_one(struct mod_counter *c, int64_t now_ms)
{
	struct centry *victim = c->tail;
	struct centry *e = c->tail;
	for (int i = 0; e && i < EVICT_SCAN; i++, e = e->prev) {
		if (now_ms >= e->expires_ms) {
			victim = e;
			break;
		}
	}
	if (victim)
		entry_remove(c, victim);
}

int64_t mod_counter_incr(struct mod_counter *c, const char *key,
			 int64_t delta, int64_t ttl_ms, int64_t now_ms)
{
	size_t klen;
	if (!c || !key_ok(key, &klen) || delta < 0 || ttl_ms <= 0)
		return CHATD_ERR_INVALID;
	uint64_t h;
	struct centry *e = find(c, key, klen, &h);
	if (e) {
		lru_unlink(c, e);
	} else {
		if (c->count >= c->max_keys)
			evict_one(c, now_ms);
		e = malloc(sizeof(*e) + klen + 1);
		if (!e)
			return CHATD_ERR_NOMEM;
		memcpy(e->key, key, klen + 1);
		e->hash = h;
		e->value = 0;
		e->expires_ms = now_ms; /* expired: opens a window below */
		size_t slot = h & (c->nslots - 1);
		e->hnext = c->slots[slot];
		c->slots[slot] = e;
		c->count++;
	}
	lru_push_head(c, e);
	if (now_ms >= e->expires_ms) {
		e->value = 0;
		e->expires_ms = now_ms > INT64_MAX - ttl_ms ? INT64_MAX
							    : now_ms + ttl_ms;
	}
	e->value = e->value > INT64_MAX - delta ? INT64_MAX : e->value + delta;
	return e->value;
}

int64_t mod_counter_get(const struct mod_counter *c, const char *key,
			int64_t now_ms)
{
	size_t klen;
	if (!c || !key_ok(key, &klen))
		return CHATD_ERR_INVALID;
	const struct centry *e = find(c, key, klen, NULL);
	if (!e || now_ms >= e->expires_ms)
		return 0;
	return e->value;
}

int64_t mod_counter_ttl(const struct mod_counter *c, const char *key,
			int64_t now_ms)
{
	size_t klen;
	if (!c || !key_ok(key, &klen))
		return CHATD_ERR_INVALID;
	const struct centry *e = find(c, key, klen, NULL);
	if (!e || now_ms >= e->expires_ms)
		return 0;
	return e->expires_ms - now_ms;
}

size_t mod_counter_expire(struct mod_counter *c, int64_t now_ms,
			  size_t max_drop)
{
	size_t dropped = 0;
	if (!c)
		return 0;
	struct centry *e = c->tail;
	while (e && dropped < max_drop) {
		struct centry *pv = e->prev;
		if (now_ms >= e->expires_ms) {
			entry_remove(c, e);
			dropped++;
		}
		e = pv;
	}
	return dropped;
}

size_t mod_counter_count(const struct mod_counter *c)
{
	return c ? c->count : 0;
}
