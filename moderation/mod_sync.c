/* mod_sync.c — see mod_sync.h. */
#include "mod_sync.h"

#include <stdlib.h>
#include <string.h>

int mod_sync_batch_add(struct mod_sync_batch *b, const char *key, int64_t delta,
		       int64_t ttl_ms)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char **k = realloc(b->keys, cap * sizeof *k);
		if (!k)
			return -1;
		b->keys = k;
		int64_t *d = realloc(b->deltas, cap * sizeof *d);
		if (!d)
			return -1;
		b->deltas = d;
		int64_t *t = realloc(b->ttl_ms, cap * sizeof *t);
		if (!t)
			return -1;
		b->ttl_ms = t;
		b->cap = cap;
	}
	char *copy = strdup(key);
	if (!copy)
		return -1;
	b->keys[b->n] = copy;
	b->deltas[b->n] = delta;
	b->ttl_ms[b->n] = ttl_ms;
	b->n++;
	return 0;
}

void mod_sync_batch_clear(struct mod_sync_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->keys[i]);
	free(b->keys);
	free(b->deltas);
	free(b->ttl_ms);
	memset(b, 0, sizeof *b);
}
