/* ratelim.h — token buckets keyed by a short string (an IP address, a user
 * id), with a bounded number of keys.  Used for the gateway's and the
 * core's small HTTP endpoints (dev sign-in per IP, telemetry per user).
 *
 * A key absent from the table has a full bucket, so an entry whose bucket
 * has refilled carries no information and may be dropped: when the table
 * is full such entries are pruned; if none can be, the new key is refused
 * (memory stays bounded under a flood of distinct keys).
 * Single-threaded: a table belongs to one thread. */
#ifndef CHATD_RATELIM_H
#define CHATD_RATELIM_H

#include <stddef.h>
#include <stdint.h>

#define RATELIM_KEY_MAX 128

struct ratelim;

/* per_s > 0 tokens come back each second, up to burst (>= 1); at most
 * max_keys keys are tracked.  NULL on a bad argument or ENOMEM. */
struct ratelim *ratelim_new(double per_s, double burst, size_t max_keys);
void ratelim_free(struct ratelim *r);

/* Take one token of key's bucket at now_ms.  Returns 0 when allowed,
 * otherwise the milliseconds until a token is back (>= 1); a key longer
 * than RATELIM_KEY_MAX, a full table or ENOMEM refuse with 1000. */
int64_t ratelim_take(struct ratelim *r, const char *key, int64_t now_ms);

/* Keys tracked now (tests). */
size_t ratelim_count(const struct ratelim *r);

#endif
