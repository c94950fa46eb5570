/* mod_counter.h — TTL counters keyed by any string.
 *
 * Window semantics: FIXED window.  The first increment of a key (or the
 * first after its window ended) opens a window [now, now + ttl_ms); later
 * increments inside it add to the value and do not extend it; once now >=
 * the window's end the counter reads 0 and the next increment opens a new
 * window.  (A sliding window would need per-event timestamps; rules that
 * need smoother limits use mod_limiter.)
 *
 * Memory is bounded: at most max_keys counters exist.  When a new key
 * arrives and the table is full, an expired counter near the LRU tail is
 * dropped if there is one, else the least-recently-used counter.
 * mod_counter_expire() sweeps expired counters (e.g. from a timer).
 *
 * Time is always passed in (milliseconds); nothing here reads a clock.
 * Thread: not thread-safe; one thread.
 * Ownership: the table owns all its memory; keys are copied. */
#ifndef CHATD_MOD_COUNTER_H
#define CHATD_MOD_COUNTER_H

#include <stddef.h>
#include <stdint.h>

/* Longest key accepted, in bytes (excluding the NUL): a rule's 1024-byte key
 * plus the rule host's per-rule prefix. */
#define MOD_COUNTER_KEY_MAX 1152

struct mod_counter;

/* Create a table of at most max_keys counters (1 .. 16M).  NULL on a bad
 * argument or allocation failure.  Free with mod_counter_free(). */
struct mod_counter *mod_counter_new(size_t max_keys);

/* Free the table.  NULL is a no-op. */
void mod_counter_free(struct mod_counter *c);

/* Add delta (>= 0) to key's counter and return the value within the current
 * window (saturating at INT64_MAX).  ttl_ms (> 0) sets the length of a
 * window opened by this call; an open window keeps its original end.
 * key: NUL-terminated, borrowed, at most MOD_COUNTER_KEY_MAX bytes.
 * Returns a negative chatd_status on error: CHATD_ERR_INVALID (bad argument),
 * CHATD_ERR_NOMEM. */
int64_t mod_counter_incr(struct mod_counter *c, const char *key,
			 int64_t delta, int64_t ttl_ms, int64_t now_ms);

/* Current value of key at now_ms: 0 when absent or its window has ended.
 * Does not change recency.  Negative chatd_status on a bad argument. */
int64_t mod_counter_get(const struct mod_counter *c, const char *key,
			int64_t now_ms);

/* Milliseconds until key's window ends (0 when absent or expired). */
int64_t mod_counter_ttl(const struct mod_counter *c, const char *key,
			int64_t now_ms);

/* Drop up to max_drop expired counters; returns how many were dropped. */
size_t mod_counter_expire(struct mod_counter *c, int64_t now_ms,
			  size_t max_drop);

/* Cluster sharing (see mod_sync.h).  begin adds every open window among
 * the max most recently incremented counters: the key with `prefix` before
 * it, what was added here since the last round, and the window's remaining
 * time as the lifetime of a new cluster key.  end sets each value to the
 * cluster total plus what was added here since begin (never lowering it:
 * a cluster key that expired early does not undo local counts); totals
 * NULL = the round failed. */
struct mod_sync_batch;
int mod_counter_sync_begin(struct mod_counter *c, int64_t now_ms, size_t max,
			   const char *prefix, struct mod_sync_batch *out);
void mod_counter_sync_end(struct mod_counter *c, const struct mod_sync_batch *batch,
			  size_t plen, const int64_t *totals, int64_t now_ms);

/* Number of counters held (expired ones included until dropped). */
size_t mod_counter_count(const struct mod_counter *c);

#endif
