/* hmap.h — a small chained hash map from byte-string keys to pointers.
 * The map copies keys; values are borrowed (the caller owns them).
 * Single-threaded: each map belongs to one thread. */
#ifndef CHATD_HMAP_H
#define CHATD_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_entry {
	struct hmap_entry *next;
	uint64_t hash;
	void *value;
	size_t klen;
	char key[];             /* NUL-terminated copy */
};

struct hmap {
	struct hmap_entry **buckets;
	size_t n_buckets;       /* power of two */
	size_t count;
};

int hmap_init(struct hmap *m);
/* Frees the entries, not the values. */
void hmap_destroy(struct hmap *m);
void *hmap_get(const struct hmap *m, const void *key, size_t klen);
/* Insert or replace; returns 0, or -1 on ENOMEM. */
int hmap_put(struct hmap *m, const void *key, size_t klen, void *value);
/* Remove; returns the old value or NULL. */
void *hmap_del(struct hmap *m, const void *key, size_t klen);

/* Conveniences for NUL-terminated and u64 keys. */
static inline void *hmap_gets(const struct hmap *m, const char *k);
static inline void *hmap_get64(const struct hmap *m, uint64_t k)
{
	return hmap_get(m, &k, sizeof k);
}
static inline int hmap_put64(struct hmap *m, uint64_t k, void *v)
{
	return hmap_put(m, &k, sizeof k, v);
}
static inline void *hmap_del64(struct hmap *m, uint64_t k)
{
	return hmap_del(m, &k, sizeof k);
}

/* Iterate: for (e = hmap_first(m, &i); e; e = hmap_next(m, e, &i)).  The
 * current entry may not be removed during iteration. */
struct hmap_entry *hmap_first(const struct hmap *m, size_t *it);
struct hmap_entry *hmap_next(const struct hmap *m, struct hmap_entry *e, size_t *it);

#include <string.h>
static inline void *hmap_gets(const struct hmap *m, const char *k)
{
	return hmap_get(m, k, strlen(k));
}

#endif
