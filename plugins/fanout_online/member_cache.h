/* member_cache.h — fanout_online's cache of small conversations' member
 * lists, so a message costs no storage read.  Core thread only.
 *
 * Only complete lists are cached (conversations with fewer members than a
 * page).  The core calls the fanout op members_changed() on every change of
 * membership, which drops the entry; the next message reloads it. */
#ifndef FANOUT_MEMBER_CACHE_H
#define FANOUT_MEMBER_CACHE_H

#include <stddef.h>

struct member_cache;

/* max_entries conversations at most (evicting the oldest insert). */
struct member_cache *member_cache_new(size_t max_entries);
void member_cache_free(struct member_cache *mc);
/* The members of conv (borrowed until the next put/drop), or NULL. */
const char *const *member_cache_get(struct member_cache *mc, const char *conv, size_t *n);
/* Store a copy of users[0..n) for conv (replacing any).  Returns 0 or -1. */
int member_cache_put(struct member_cache *mc, const char *conv, const char *const *users,
		     size_t n);
void member_cache_drop(struct member_cache *mc, const char *conv);

#endif
