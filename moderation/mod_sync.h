/* mod_sync.h — sharing the helpers' limiters and counters between nodes.
 *
 * Each node keeps its tables in memory (a rule's limit() or counter.incr()
 * never waits for the network) and exchanges them with a cluster-wide
 * counter store (the bus plugin's counters_add) every few milliseconds:
 * one round sends, per active key, what this node added since the last
 * round and gets back the key's cluster total; the difference is what the
 * other nodes added, which a limiter's bucket then spends too and a
 * counter's value includes.  So a user spread over several nodes is
 * limited as one user, give or take one round of lag.
 *
 * A round: *_sync_begin fills a batch (and marks what it sent as in
 * flight), the caller sends it, *_sync_end applies the totals (or, with
 * totals NULL, puts the in-flight amounts back to be sent next round).
 * One round at a time per table.  Keys that vanished meanwhile (evicted)
 * are skipped. */
#ifndef CHATD_MOD_SYNC_H
#define CHATD_MOD_SYNC_H

#include <stddef.h>
#include <stdint.h>

struct mod_sync_batch {
	size_t n, cap;
	char **keys;      /* owned copies, NUL-terminated */
	int64_t *deltas;  /* added here since the last round */
	int64_t *ttl_ms;  /* lifetime of the cluster key if it is new */
};

/* Appends one item (the key is copied).  0, or -1 when out of memory. */
int mod_sync_batch_add(struct mod_sync_batch *b, const char *key, int64_t delta,
		       int64_t ttl_ms);
/* Frees every item and resets the batch to empty. */
void mod_sync_batch_clear(struct mod_sync_batch *b);

#endif
