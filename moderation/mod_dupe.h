/* mod_dupe.h — near-duplicate detection over each user's recent messages.
 *
 * Every message is reduced to a 64-bit simhash: the text is normalized
 * (ASCII letters lowercased, ASCII punctuation removed, runs of whitespace
 * collapsed to one space, leading/trailing space trimmed; bytes >= 0x80 —
 * UTF-8 sequences — are kept as they are), cut into overlapping shingles of
 * MOD_DUPE_SHINGLE bytes, each shingle hashed, and the bit votes summed.
 * Two messages are near-duplicates when their fingerprints differ in at most
 * max_distance bits; identical normalized texts have distance 0.  Texts that
 * normalize to nothing (only punctuation/space) all share fingerprint 0.
 *
 * Per user, a ring keeps the last ring_size fingerprints with their times.
 * At most max_users users are tracked; beyond that the least-recently-seen
 * user is forgotten.
 *
 * Time is passed in (milliseconds); nothing reads a clock.
 * Thread: not thread-safe; one thread.
 * Ownership: the detector owns its memory; user ids and texts are borrowed
 * for the call. */
#ifndef CHATD_MOD_DUPE_H
#define CHATD_MOD_DUPE_H

#include <stddef.h>
#include <stdint.h>

#define MOD_DUPE_SHINGLE 3          /* shingle width in normalized bytes */
#define MOD_DUPE_USER_MAX 384       /* longest user id, bytes (a 256-byte id
                                       plus the rule host's per-rule prefix) */
#define MOD_DUPE_TEXT_MAX (1u << 20) /* longest text accepted, bytes */
#define MOD_DUPE_RING_MAX 256       /* largest ring_size */

struct mod_dupe_config {
	size_t max_users;       /* 1 .. 16M users tracked */
	size_t ring_size;       /* 1 .. MOD_DUPE_RING_MAX messages per user */
	int64_t ttl_ms;         /* > 0: older messages are not compared */
	unsigned max_distance;  /* 0 .. 32 differing bits still "near" */
};

/* Defaults: 10000 users, ring 10, ttl 10 minutes, max_distance 10. */
void mod_dupe_config_default(struct mod_dupe_config *cfg);

struct mod_dupe;

/* Create a detector (cfg copied).  NULL on a bad config or no memory.
 * Free with mod_dupe_free(). */
struct mod_dupe *mod_dupe_new(const struct mod_dupe_config *cfg);
void mod_dupe_free(struct mod_dupe *d);

/* Count how many of user's stored messages with time > now_ms - ttl_ms are
 * near-duplicates of text, then store text's fingerprint (replacing the
 * oldest when the ring is full).  user: NUL-terminated, <= MOD_DUPE_USER_MAX
 * bytes.  text: len bytes (NULL allowed when len == 0), <= MOD_DUPE_TEXT_MAX.
 * Returns the count (>= 0, <= ring_size) or a negative chatd_status:
 * CHATD_ERR_INVALID, CHATD_ERR_TOO_LARGE, CHATD_ERR_NOMEM. */
int mod_dupe_check_and_add(struct mod_dupe *d, const char *user,
			   const char *text, size_t len, int64_t now_ms);

/* The fingerprint used above, exposed for tests and tooling. */
uint64_t mod_dupe_simhash(const char *text, size_t len);

/* Number of bits that differ between two fingerprints. */
unsigned mod_dupe_distance(uint64_t a, uint64_t b);

/* Number of users currently tracked. */
size_t mod_dupe_user_count(const struct mod_dupe *d);

#endif
