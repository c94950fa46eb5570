/* hmap.c — see hmap.h.  FNV-1a hashing; the table doubles at load 1. */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

int hmap_init(struct hmap *m)
{
	m->n_buckets = 64;
	m->count = 0;
	m->buckets = calloc(m->n_buckets, sizeof *m->buckets);
	return m->buckets ? 0 : -1;
}

void hmap_destroy(struct hmap *m)
{
	if (!m->buckets)
		return;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct hmap_entry *e = m->buckets[i];
		while (e) {
			struct hmap_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->count = 0;
}

static struct hmap_entry **find(const struct hmap *m, const void *key, size_t klen, uint64_t h)
{
	struct hmap_entry **pp = &m->buckets[h & (m->n_buckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
			return pp;
	return pp;
}

void *hmap_get(const struct hmap *m, const void *key, size_t klen)
{
	struct hmap_entry **pp = find(m, key, klen, hash_bytes(key, klen));
	return *pp ? (*pp)->value : NULL;
}

static void grow(struct hmap *m)
{
	size_t nb = m->n_buckets * 2;
	struct hmap_entry **b = calloc(nb, sizeof *b);
	if (!b)
		return; /* keep working at a higher load */
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct hmap_entry *e = m->buckets[i];
		while (e) {
			struct hmap_entry *next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
}

int hmap_put(struct hmap *m, const void *key, size_t klen, void *value)
{
	uint64_t h = hash_bytes(key, klen);
	struct hmap_entry **pp = find(m, key, klen, h);
	if (*pp) {
		(*pp)->value = value;
		return 0;
	}
	struct hmap_entry *e = malloc(sizeof *e + klen + 1);
	if (!e)
		return -1;
	e->next = NULL;
	e->hash = h;
	e->value = value;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	*pp = e;
	if (++m->count > m->n_buckets)
		grow(m);
	return 0;
}

void *hmap_del(struct hmap *m, const void *key, size_t klen)
{
	struct hmap_entry **pp = find(m, key, klen, hash_bytes(key, klen));
	struct hmap_entry *e = *pp;
	if (!e)
		return NULL;
	void *v = e->value;
	*pp = e->next;
	free(e);
	m->count--;
	return v;
}

struct hmap_entry *hmap_first(const struct hmap *m, size_t *it)
{
	for (*it = 0; *it < m->n_buckets; (*it)++)
		if (m->buckets[*it])
			return m->buckets[*it];
	return NULL;
}

struct hmap_entry *hmap_next(const struct hmap *m, struct hmap_entry *e, size_t *it)
{
	if (e->next)
		return e->next;
	for ((*it)++; *it < m->n_buckets; (*it)++)
		if (m->buckets[*it])
			return m->buckets[*it];
	return NULL;
}
