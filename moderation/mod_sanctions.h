/* mod_sanctions.h — the in-memory table of active sanctions: user -> up to
 * one "ban", one "shadow" and one "block", each with an end time (ms since
 * the epoch; 0 = permanent) and the reason it was given with.
 *
 * The core consults it on every send (persistence lives on top, in the
 * storage plugin) and the rules tester (rules_test.c) uses the same table,
 * so both apply sanctions identically:
 *   - a sender for whom mod_sanctions_blocking() says "ban" or "block" is
 *     refused before any rule runs (a ban wins over a block);
 *   - an allowed/flagged/rewritten message of a shadowed sender is shadowed.
 * A sanction is active while until == 0 or now < until.
 *
 * Memory is bounded by max_users.  A new user in a full table takes the
 * place of one whose sanctions have all expired (as of mod_sanctions_last_now);
 * when there is none,
 * set() fails with CHATD_ERR_TOO_LARGE: an active sanction is never dropped
 * to make room.
 *
 * Time is passed in; nothing here reads a clock.
 * Thread: not thread-safe; one thread.
 * Ownership: the table owns its memory; strings are borrowed for the call. */
#ifndef CHATD_MOD_SANCTIONS_H
#define CHATD_MOD_SANCTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOD_SANCTIONS_USER_MAX 256      /* longest user id, bytes */
#define MOD_SANCTIONS_DEFAULT_USERS 100000
#define MOD_SANCTIONS_REASON_MAX 4096   /* longest reason kept, bytes */

struct mod_sanctions;

/* Creates a table for at most max_users users (0: the default; at most
 * 2^24).  NULL on a bad size or no memory.  Free with mod_sanctions_free(). */
struct mod_sanctions *mod_sanctions_new(size_t max_users);
void mod_sanctions_free(struct mod_sanctions *tab);

/* Sets (or replaces) user's sanction of kind ("ban" | "shadow" | "block")
 * to end at until (ms; 0 = permanent; a time already past stores nothing
 * lasting: it reads inactive and is expired later).
 * Returns CHATD_OK, CHATD_ERR_INVALID (bad user or kind, until < 0),
 * CHATD_ERR_TOO_LARGE (table full of active sanctions), CHATD_ERR_NOMEM. */
int mod_sanctions_set(struct mod_sanctions *tab, const char *user, const char *kind,
		      int64_t until);
/* The same, keeping reason (copied; NULL or "": none) with the sanction
 * until it is lifted, replaced or expires.  CHATD_ERR_INVALID also for a
 * reason over MOD_SANCTIONS_REASON_MAX bytes. */
int mod_sanctions_set_reason(struct mod_sanctions *tab, const char *user, const char *kind,
			     int64_t until, const char *reason);
/* The reason of user's sanction of kind ("" when none, or no such
 * sanction); valid until the table changes. */
const char *mod_sanctions_reason(const struct mod_sanctions *tab, const char *user,
				 const char *kind);

/* Lifts user's sanction of kind.  CHATD_OK, CHATD_ERR_NOT_FOUND (none
 * held, active or not), CHATD_ERR_INVALID. */
int mod_sanctions_lift(struct mod_sanctions *tab, const char *user, const char *kind);

/* "ban" or "block" when one is active for user at now (a ban first), with
 * *until (may be NULL) its end (0: permanent); else NULL (*until = 0).
 * Returns static strings. */
const char *mod_sanctions_blocking(struct mod_sanctions *tab, const char *user, int64_t now,
				   int64_t *until);

/* True when user has an active shadow at now. */
bool mod_sanctions_shadowed(struct mod_sanctions *tab, const char *user, int64_t now);

/* Drops every sanction that ended at or before now (and users left with
 * none); returns how many sanctions were dropped. */
size_t mod_sanctions_expire(struct mod_sanctions *tab, int64_t now);

/* Calls fn for every sanction active at now, most recently set user first
 * (a user's kinds in the order ban, shadow, block); user == NULL for all
 * users, else only that user's.  fn returns 0 to go on, non-zero to stop.
 * fn must not modify the table.  Returns how many sanctions fn saw. */
typedef int (*mod_sanctions_fn)(void *ud, const char *user, const char *kind, int64_t until);
size_t mod_sanctions_foreach(struct mod_sanctions *tab, const char *user, int64_t now,
			     mod_sanctions_fn fn, void *ud);

/* The now of the latest blocking/shadowed/expire/foreach call (0: none
 * yet): the table's idea of the current time, e.g. for dating a sanction
 * given as a duration in the rules tester. */
int64_t mod_sanctions_last_now(const struct mod_sanctions *tab);

/* Users held (including ones whose sanctions expired but were not dropped). */
size_t mod_sanctions_count(const struct mod_sanctions *tab);

#endif
