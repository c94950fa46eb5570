/* mod_limiter.h — token-bucket rate limiters keyed by any string.
 *
 * One bucket per key holds up to `burst` tokens and refills continuously at
 * `rate_per_s`.  Each mod_limiter_take() spends one token.  Time is always
 * passed in by the caller (milliseconds, any monotonic origin); nothing here
 * reads a clock, so tests drive simulated time.
 *
 * Memory is bounded: at most `max_keys` buckets exist.  When a new key
 * arrives and the table is full, the least-recently-used bucket is evicted
 * (preferring, among the oldest few, one that has refilled to full, since
 * dropping a full bucket loses no state).  An evicted key starts again with a
 * full bucket, so max_keys must comfortably exceed the number of keys active
 * within one refill period.
 *
 * Thread: not thread-safe; use from one thread (the core thread).
 * Ownership: the limiter owns all its memory; keys are copied. */
#ifndef CHATD_MOD_LIMITER_H
#define CHATD_MOD_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest key accepted, in bytes (excluding the NUL): a rule's 1024-byte key
 * plus the rule host's per-rule prefix. */
#define MOD_LIMITER_KEY_MAX 1152

struct mod_limiter;

/* Create a limiter holding at most max_keys buckets (1 .. 16M).
 * Returns NULL on a bad argument or allocation failure.
 * Ownership: the caller owns the result; free with mod_limiter_free(). */
struct mod_limiter *mod_limiter_new(size_t max_keys);

/* Free the limiter and every bucket.  NULL is a no-op. */
void mod_limiter_free(struct mod_limiter *lim);

/* Try to take one token from the bucket of `key` (NUL-terminated, borrowed
 * for the call, at most MOD_LIMITER_KEY_MAX bytes).
 *
 * rate_per_s must be finite and > 0, burst finite and >= 1; the values of the
 * current call apply (a bucket above a lowered burst is clamped).  A new key
 * starts with a full bucket.  A `now_ms` earlier than the bucket's last
 * update counts as no time passing.
 *
 * Returns true when the token was taken (*retry_after_ms = 0).
 * Returns false when the bucket is empty; *retry_after_ms is then the exact
 * number of milliseconds (rounded up, >= 1) until the next token is due.
 * Returns false with *retry_after_ms = -1 on a bad argument or allocation
 * failure — callers decide whether that fails open or closed.
 * retry_after_ms may be NULL. */
bool mod_limiter_take(struct mod_limiter *lim, const char *key,
		      double rate_per_s, double burst, int64_t now_ms,
		      int64_t *retry_after_ms);

/* Cluster sharing (see mod_sync.h).  begin adds, for each bucket used
 * within active_ms (at most max, most recent first), the key with `prefix`
 * before it, the tokens taken here since the last round and the lifetime a
 * new cluster key needs (one full refill + active_ms).  end applies the
 * cluster totals of the same batch (plen = strlen(prefix)): tokens the
 * other nodes took are taken from this bucket too (down to a debt of one
 * burst); totals NULL = the round failed.  begin returns 0 or -1 (no
 * memory, prefix of 64 bytes or more). */
struct mod_sync_batch;
int mod_limiter_sync_begin(struct mod_limiter *lim, int64_t now_ms, int64_t active_ms,
			   size_t max, const char *prefix, struct mod_sync_batch *out);
void mod_limiter_sync_end(struct mod_limiter *lim, const struct mod_sync_batch *batch,
			  size_t plen, const int64_t *totals);

/* Number of buckets currently held (<= max_keys). */
size_t mod_limiter_count(const struct mod_limiter *lim);

/* Number of buckets evicted to make room since creation. */
uint64_t mod_limiter_evictions(const struct mod_limiter *lim);

#endif
