/* user_table.h — a table of per-user entries keyed by user id, grown as it
 * fills.  Shared by the presence plugins (each links its own copy; plugins
 * see only include/chatd/, not the core's hmap).
 *
 * Intrusive: an entry embeds a struct ut_entry whose `user` points at the
 * entry's own copy of the id; the table never allocates or frees entries,
 * only its bucket array.  Core thread only (no locking). */
#ifndef CHATD_USER_TABLE_H
#define CHATD_USER_TABLE_H

#include <stddef.h>

struct ut_entry {
	struct ut_entry *next;
	const char *user;            /* owned by the containing entry */
};

struct user_table {
	struct ut_entry **buckets;
	size_t n_buckets;            /* a power of two */
	size_t count;
};

/* CHATD_OK or CHATD_ERR_NOMEM. */
int ut_init(struct user_table *t);
/* Frees the bucket array (not the entries: remove them first, or use
 * ut_each to free them). */
void ut_fini(struct user_table *t);

struct ut_entry *ut_find(const struct user_table *t, const char *user);
/* Adds e (e->user set, not in the table yet).  A failed grow keeps the
 * table as it is (longer chains, still correct). */
void ut_add(struct user_table *t, struct ut_entry *e);
/* Unlinks e when it is in the table. */
void ut_remove(struct user_table *t, struct ut_entry *e);
/* fn for every entry; fn may remove (and free) the entry it is given, and
 * nothing else. */
void ut_each(struct user_table *t, void (*fn)(void *arg, struct ut_entry *e), void *arg);

#endif
