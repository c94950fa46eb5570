/* mod_keytab.c — see mod_keytab.h.  FNV-1a hashing, chained buckets. */
#include "mod_keytab.h"

#include <stdlib.h>
#include <string.h>

int mod_keytab_init(struct mod_keytab *t, size_t max_keys)
{
	memset(t, 0, sizeof *t);
	if (max_keys == 0 || max_keys > (size_t)1 << 24)
		return -1;
	size_t n = 16;
	while (n < max_keys)
		n <<= 1;
	t->slots = calloc(n, sizeof *t->slots);
	if (!t->slots)
		return -1;
	t->nslots = n;
	t->max_keys = max_keys;
	return 0;
}

void mod_keytab_destroy(struct mod_keytab *t, void (*free_entry)(struct mod_keytab_node *))
{
	struct mod_keytab_node *n = t->head;
	while (n) {
		struct mod_keytab_node *next = n->next;
		free_entry(n);
		n = next;
	}
	free(t->slots);
	memset(t, 0, sizeof *t);
}

uint64_t mod_keytab_hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct mod_keytab_node *mod_keytab_find(const struct mod_keytab *t, const char *key, size_t len,
					uint64_t *hash)
{
	uint64_t h = mod_keytab_hash(key, len);
	if (hash)
		*hash = h;
	for (struct mod_keytab_node *n = t->slots[h & (t->nslots - 1)]; n; n = n->hnext)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static void list_unlink(struct mod_keytab *t, struct mod_keytab_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		t->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		t->tail = n->prev;
	n->prev = n->next = NULL;
}

static void list_push_head(struct mod_keytab *t, struct mod_keytab_node *n)
{
	n->prev = NULL;
	n->next = t->head;
	if (t->head)
		t->head->prev = n;
	t->head = n;
	if (!t->tail)
		t->tail = n;
}

void mod_keytab_insert(struct mod_keytab *t, struct mod_keytab_node *n, uint64_t hash)
{
	size_t slot = hash & (t->nslots - 1);
	n->hash = hash;
	n->hnext = t->slots[slot];
	t->slots[slot] = n;
	list_push_head(t, n);
	t->count++;
}

void mod_keytab_touch(struct mod_keytab *t, struct mod_keytab_node *n)
{
	if (t->head == n)
		return;
	list_unlink(t, n);
	list_push_head(t, n);
}

void mod_keytab_remove(struct mod_keytab *t, struct mod_keytab_node *n)
{
	struct mod_keytab_node **pp = &t->slots[n->hash & (t->nslots - 1)];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	list_unlink(t, n);
	t->count--;
}

struct mod_keytab_node *mod_keytab_victim(const struct mod_keytab *t, int scan,
					  bool (*pick)(const struct mod_keytab_node *, void *),
					  void *arg)
{
	struct mod_keytab_node *n = t->tail;
	for (int i = 0; n && i < scan; i++, n = n->prev)
		if (pick(n, arg))
			return n;
	return t->tail;
}
