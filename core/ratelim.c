/* ratelim.c — see ratelim.h. */
#include "ratelim.h"

#include <stdlib.h>
#include <string.h>
#include "hmap.h"

struct bucket {
	double tokens;
	int64_t at_ms;
};

struct ratelim {
	double per_s, burst;
	size_t max_keys;
	struct hmap keys;       /* key → struct bucket* */
};

struct ratelim *ratelim_new(double per_s, double burst, size_t max_keys)
{
	if (!(per_s > 0) || !(burst >= 1) || max_keys == 0)
		return NULL;
	struct ratelim *r = calloc(1, sizeof *r);
	if (!r || hmap_init(&r->keys) < 0) {
		free(r);
		return NULL;
	}
	r->per_s = per_s;
	r->burst = burst;
	r->max_keys = max_keys;
	return r;
}

void ratelim_free(struct ratelim *r)
{
	if (!r)
		return;
	size_t it;
	for (struct hmap_entry *e = hmap_first(&r->keys, &it); e; e = hmap_next(&r->keys, e, &it))
		free(e->value);
	hmap_destroy(&r->keys);
	free(r);
}

size_t ratelim_count(const struct ratelim *r)
{
	return r->keys.count;
}

static double refill(const struct ratelim *r, const struct bucket *b, int64_t now_ms)
{
	double t = b->tokens;
	if (now_ms > b->at_ms)
		t += (double)(now_ms - b->at_ms) * r->per_s / 1000.0;
	return t > r->burst ? r->burst : t;
}

/* Drop every entry whose bucket is full again (hmap_next may not follow a
 * removed entry: collect first, then remove). */
static void prune(struct ratelim *r, int64_t now_ms)
{
	size_t n = 0, it;
	struct hmap_entry *e;
	char **dead = malloc(r->keys.count * sizeof *dead);
	if (!dead)
		return;
	for (e = hmap_first(&r->keys, &it); e; e = hmap_next(&r->keys, e, &it))
		if (refill(r, e->value, now_ms) >= r->burst)
			dead[n++] = e->key;
	for (size_t i = 0; i < n; i++) {
		/* dead[i] points into its entry: take the value before the key dies */
		size_t len = strlen(dead[i]);
		char key[RATELIM_KEY_MAX + 1];
		memcpy(key, dead[i], len + 1);
		dead[i] = NULL;
		free(hmap_del(&r->keys, key, len));
	}
	free(dead);
}

int64_t ratelim_take(struct ratelim *r, const char *key, int64_t now_ms)
{
	size_t len = strlen(key);
	if (len > RATELIM_KEY_MAX)
		return 1000;
	struct bucket *b = hmap_get(&r->keys, key, len);
	if (!b) {
		if (r->keys.count >= r->max_keys)
			prune(r, now_ms);
		if (r->keys.count >= r->max_keys)
			return 1000;
		b = malloc(sizeof *b);
		if (!b || hmap_put(&r->keys, key, len, b) < 0) {
			free(b);
			return 1000;
		}
		b->tokens = r->burst;
		b->at_ms = now_ms;
	}
	b->tokens = refill(r, b, now_ms);
	if (now_ms > b->at_ms)
		b->at_ms = now_ms;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	/* rounded up: the token is surely back by then */
	return (int64_t)((1.0 - b->tokens) * 1000.0 / r->per_s) + 1;
}
