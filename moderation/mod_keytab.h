/* mod_keytab.h — a string-keyed hash table with a recency list, the one
 * mechanism behind the moderation helpers' bounded tables (limiter,
 * counters).  Intrusive: an entry embeds a struct mod_keytab_node as its
 * FIRST member and owns its key bytes; the table never allocates entries
 * nor frees them (remove only unlinks).  Single-threaded. */
#ifndef MOD_KEYTAB_H
#define MOD_KEYTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mod_keytab_node {
	struct mod_keytab_node *hnext;          /* hash chain */
	struct mod_keytab_node *prev, *next;    /* recency: head = most recent */
	uint64_t hash;
	const char *key;                        /* NUL-terminated, owned by the entry */
};

struct mod_keytab {
	struct mod_keytab_node **slots;
	size_t nslots;                          /* power of two >= max_keys */
	size_t count, max_keys;
	struct mod_keytab_node *head, *tail;    /* tail = least recently used */
};

/* max_keys 1..2^24.  Returns 0 or -1 (bad size, ENOMEM). */
int mod_keytab_init(struct mod_keytab *t, size_t max_keys);
/* Unlink every entry, calling free_entry(node) for each; then free the slots. */
void mod_keytab_destroy(struct mod_keytab *t, void (*free_entry)(struct mod_keytab_node *));
uint64_t mod_keytab_hash(const char *key, size_t len);
/* The entry for key (len bytes, NUL-terminated) or NULL; *hash (if given)
 * receives the key's hash for a following insert. */
struct mod_keytab_node *mod_keytab_find(const struct mod_keytab *t, const char *key, size_t len,
					uint64_t *hash);
/* Link a new entry (node->key set by the caller) as the most recent. */
void mod_keytab_insert(struct mod_keytab *t, struct mod_keytab_node *n, uint64_t hash);
/* Make n the most recent. */
void mod_keytab_touch(struct mod_keytab *t, struct mod_keytab_node *n);
/* Unlink n (the caller frees it). */
void mod_keytab_remove(struct mod_keytab *t, struct mod_keytab_node *n);
/* Among the `scan` least recent entries, the first for which pick(n, arg)
 * is true, else the least recent one; NULL when empty.  For eviction that
 * prefers entries holding no state (a full bucket, an expired counter). */
struct mod_keytab_node *mod_keytab_victim(const struct mod_keytab *t, int scan,
					  bool (*pick)(const struct mod_keytab_node *, void *),
					  void *arg);

#endif
