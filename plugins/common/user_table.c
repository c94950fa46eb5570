/* user_table.c — see user_table.h. */
#include "user_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/status.h"

#define UT_FIRST_BUCKETS 256

/* FNV-1a, 64 bits. */
static uint64_t ut_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct ut_entry **ut_slot(const struct user_table *t, const char *user)
{
	struct ut_entry **pp = &t->buckets[ut_hash(user) & (t->n_buckets - 1)];
	while (*pp && strcmp((*pp)->user, user) != 0)
		pp = &(*pp)->next;
	return pp;
}

int ut_init(struct user_table *t)
{
	t->count = 0;
	t->n_buckets = UT_FIRST_BUCKETS;
	t->buckets = calloc(t->n_buckets, sizeof *t->buckets);
	return t->buckets ? CHATD_OK : CHATD_ERR_NOMEM;
}

void ut_fini(struct user_table *t)
{
	free(t->buckets);
	memset(t, 0, sizeof *t);
}

struct ut_entry *ut_find(const struct user_table *t, const char *user)
{
	return *ut_slot(t, user);
}

static void ut_grow(struct user_table *t)
{
	size_t nb = t->n_buckets * 2;
	struct ut_entry **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < t->n_buckets; i++)
		for (struct ut_entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			size_t k = ut_hash(e->user) & (nb - 1);
			e->next = b[k];
			b[k] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = nb;
}

void ut_add(struct user_table *t, struct ut_entry *e)
{
	struct ut_entry **pp = &t->buckets[ut_hash(e->user) & (t->n_buckets - 1)];
	e->next = *pp;
	*pp = e;
	if (++t->count > t->n_buckets)
		ut_grow(t);
}

void ut_remove(struct user_table *t, struct ut_entry *e)
{
	struct ut_entry **pp = &t->buckets[ut_hash(e->user) & (t->n_buckets - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = e->next;
		t->count--;
	}
}

void ut_each(struct user_table *t, void (*fn)(void *arg, struct ut_entry *e), void *arg)
{
	for (size_t i = 0; i < t->n_buckets; i++)
		for (struct ut_entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			fn(arg, e);
		}
}
