/* cursor_map.h — the read cursors receipts_cursor knows better than
 * storage: those waiting to be written (dirty), those being written (in
 * flight), and those written a moment ago (clean, kept for one more tick
 * so that a storage read that started before the write committed cannot
 * make an old cursor look new).
 *
 * One entry per (conversation, user): `seq` is the highest cursor known,
 * `written` the highest one storage confirmed.  An entry is dirty while
 * seq > written.  Pure data structure, no host calls; single-threaded
 * (the core thread).  Strings are copied. */
#ifndef RECEIPTS_CURSOR_MAP_H
#define RECEIPTS_CURSOR_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chatd/storage.h"

struct cmap;

/* NULL on OOM. */
struct cmap *cmap_new(void);
void cmap_free(struct cmap *m);

/* user has read conv up to seq; `stored` is their cursor as storage has
 * it.  Returns 1 when the cursor moved (seq above both stored and what the
 * map knows; the entry is then dirty with this seq), 0 when it did not
 * (nothing changes), CHATD_ERR_INVALID for an id outside 1..CHATD_ID_MAX
 * bytes, CHATD_ERR_NOMEM. */
int cmap_mark(struct cmap *m, const char *conv, const char *user, int64_t seq, int64_t stored);

/* The highest cursor the map knows for (conv, user); 0 when none. */
int64_t cmap_get(const struct cmap *m, const char *conv, const char *user);

/* Entries waiting to be written (dirty, in flight or not), and all. */
size_t cmap_dirty(const struct cmap *m);
size_t cmap_size(const struct cmap *m);

/* Start a batch: up to `max` dirty entries into out[] (strings borrowed
 * from the map: valid until the next cmap_done, cmap_expire or
 * cmap_free), each marked in flight at its current seq.  Returns how
 * many.  One batch at a time: a second take before cmap_done is allowed
 * only as the last act before cmap_free (fini). */
size_t cmap_take(struct cmap *m, struct chatd_read_cursor *out, size_t max);

/* The batch taken last was written (ok) or failed.  Written entries
 * become clean unless a newer seq arrived meanwhile (they stay dirty with
 * it); failed ones stay dirty for the next batch. */
void cmap_done(struct cmap *m, bool ok);

/* Once per tick: drop the clean entries that were already clean at the
 * previous call; returns how many were dropped. */
size_t cmap_expire(struct cmap *m);

#endif
