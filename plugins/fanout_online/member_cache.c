/* member_cache.c — see member_cache.h.  Open addressing would save a few
 * pointers; a chained table with a FIFO for eviction is simpler to get
 * right and the lists dominate the memory anyway. */
#include "member_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;          /* bucket chain */
	struct entry *older, *newer; /* insertion order, for eviction */
	size_t n;
	char **users;                /* n pointers followed by the strings: one block */
	char conv[];
};

struct member_cache {
	struct entry **buckets;
	size_t n_buckets, count, max;
	struct entry *oldest, *newest;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct member_cache *member_cache_new(size_t max_entries)
{
	struct member_cache *mc = calloc(1, sizeof *mc);
	if (!mc)
		return NULL;
	mc->n_buckets = 1;
	while (mc->n_buckets < max_entries)
		mc->n_buckets *= 2;
	mc->buckets = calloc(mc->n_buckets, sizeof *mc->buckets);
	if (!mc->buckets) {
		free(mc);
		return NULL;
	}
	mc->max = max_entries;
	return mc;
}

static struct entry **slot(struct member_cache *mc, const char *conv)
{
	struct entry **pp = &mc->buckets[hash(conv) & (mc->n_buckets - 1)];
	while (*pp && strcmp((*pp)->conv, conv) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void unlink_entry(struct member_cache *mc, struct entry **pp)
{
	struct entry *e = *pp;
	*pp = e->next;
	if (e->older)
		e->older->newer = e->newer;
	else
		mc->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		mc->newest = e->older;
	free(e->users);
	free(e);
	mc->count--;
}

void member_cache_drop(struct member_cache *mc, const char *conv)
{
	struct entry **pp = slot(mc, conv);
	if (*pp)
		unlink_entry(mc, pp);
}

const char *const *member_cache_get(struct member_cache *mc, const char *conv, size_t *n)
{
	struct entry *e = *slot(mc, conv);
	if (!e)
		return NULL;
	*n = e->n;
	return (const char *const *)e->users;
}

int member_cache_put(struct member_cache *mc, const char *conv, const char *const *users,
		     size_t n)
{
	member_cache_drop(mc, conv);
	if (mc->count >= mc->max && mc->oldest)
		member_cache_drop(mc, mc->oldest->conv);
	size_t bytes = n * sizeof(char *);
	for (size_t i = 0; i < n; i++)
		bytes += strlen(users[i]) + 1;
	size_t clen = strlen(conv);
	struct entry *e = malloc(sizeof *e + clen + 1);
	char **block = malloc(bytes ? bytes : 1);
	if (!e || !block) {
		free(e);
		free(block);
		return -1;
	}
	char *p = (char *)(block + n);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(users[i]) + 1;
		memcpy(p, users[i], l);
		block[i] = p;
		p += l;
	}
	memcpy(e->conv, conv, clen + 1);
	e->users = block;
	e->n = n;
	struct entry **pp = slot(mc, conv);
	e->next = NULL;
	*pp = e;
	e->older = mc->newest;
	e->newer = NULL;
	if (mc->newest)
		mc->newest->newer = e;
	else
		mc->oldest = e;
	mc->newest = e;
	mc->count++;
	return 0;
}

void member_cache_free(struct member_cache *mc)
{
	if (!mc)
		return;
	while (mc->oldest)
		member_cache_drop(mc, mc->oldest->conv);
	free(mc->buckets);
	free(mc);
}
