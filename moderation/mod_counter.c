/* mod_counter.c — fixed-window counters in a mod_keytab (string keys, LRU).
 * See mod_counter.h for the contract. */
#include "mod_counter.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/status.h"
#include "mod_keytab.h"
#include "mod_sync.h"

/* How many LRU-tail entries to inspect for an expired counter. */
#define EVICT_SCAN 16

struct centry {
	struct mod_keytab_node node;    /* first: the table's link */
	int64_t value;
	int64_t expires_ms;             /* window end, exclusive */
	/* Cluster sharing (mod_sync.h): added here and not yet sent; sent in
	 * the round in flight. */
	int64_t pending, inflight;
	char key[];
};

struct mod_counter {
	struct mod_keytab tab;
};

struct mod_counter *mod_counter_new(size_t max_keys)
{
	struct mod_counter *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (mod_keytab_init(&c->tab, max_keys) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void centry_free(struct mod_keytab_node *n)
{
	free(n);
}

void mod_counter_free(struct mod_counter *c)
{
	if (!c)
		return;
	mod_keytab_destroy(&c->tab, centry_free);
	free(c);
}

static void entry_remove(struct mod_counter *c, struct centry *e)
{
	mod_keytab_remove(&c->tab, &e->node);
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
	return (struct centry *)mod_keytab_find(&c->tab, key, klen, hash_out);
}

static bool expired(const struct mod_keytab_node *n, void *arg)
{
	return *(const int64_t *)arg >= ((const struct centry *)n)->expires_ms;
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
		mod_keytab_touch(&c->tab, &e->node);
	} else {
		if (c->tab.count >= c->tab.max_keys) {
			/* Prefer an expired counter near the LRU tail. */
			struct mod_keytab_node *v =
				mod_keytab_victim(&c->tab, EVICT_SCAN, expired, &now_ms);
			if (v)
				entry_remove(c, (struct centry *)v);
		}
		e = malloc(sizeof(*e) + klen + 1);
		if (!e)
			return CHATD_ERR_NOMEM;
		memcpy(e->key, key, klen + 1);
		e->node.key = e->key;
		e->value = 0;
		e->pending = e->inflight = 0;
		e->expires_ms = now_ms; /* expired: opens a window below */
		mod_keytab_insert(&c->tab, &e->node, h);
	}
	if (now_ms >= e->expires_ms) {
		e->value = 0;
		e->pending = 0;
		e->expires_ms = now_ms > INT64_MAX - ttl_ms ? INT64_MAX
							    : now_ms + ttl_ms;
	}
	e->value = e->value > INT64_MAX - delta ? INT64_MAX : e->value + delta;
	e->pending = e->pending > INT64_MAX - delta ? INT64_MAX : e->pending + delta;
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
	struct mod_keytab_node *n = c->tab.tail;
	while (n && dropped < max_drop) {
		struct mod_keytab_node *pv = n->prev;
		if (expired(n, &now_ms)) {
			entry_remove(c, (struct centry *)n);
			dropped++;
		}
		n = pv;
	}
	return dropped;
}

int mod_counter_sync_begin(struct mod_counter *c, int64_t now_ms, size_t max,
			   const char *prefix, struct mod_sync_batch *out)
{
	size_t plen = strlen(prefix);
	char key[MOD_COUNTER_KEY_MAX + 64];
	if (plen >= 64)
		return -1;
	/* The most recently incremented first; every open window is shared. */
	for (struct mod_keytab_node *n = c->tab.head; n && max; n = n->next, max--) {
		struct centry *e = (struct centry *)n;
		if (now_ms >= e->expires_ms || e->inflight)
			continue;
		memcpy(key, prefix, plen);
		memcpy(key + plen, e->key, strlen(e->key) + 1);
		if (mod_sync_batch_add(out, key, e->pending, e->expires_ms - now_ms) < 0)
			return -1;
		e->inflight = e->pending;
		e->pending = 0;
	}
	return 0;
}

void mod_counter_sync_end(struct mod_counter *c, const struct mod_sync_batch *batch,
			  size_t plen, const int64_t *totals, int64_t now_ms)
{
	for (size_t i = 0; i < batch->n; i++) {
		const char *key = batch->keys[i] + plen;
		struct centry *e = find(c, key, strlen(key), NULL);
		if (!e)
			continue;
		int64_t sent = e->inflight;
		e->inflight = 0;
		if (now_ms >= e->expires_ms)
			continue; /* the window ended meanwhile */
		if (!totals) {
			e->pending += sent;
			continue;
		}
		/* The cluster's count, plus what was added here since. */
		int64_t v = totals[i] > INT64_MAX - e->pending ? INT64_MAX
							       : totals[i] + e->pending;
		if (v > e->value)
			e->value = v;
	}
}

size_t mod_counter_count(const struct mod_counter *c)
{
	return c ? c->tab.count : 0;
}
