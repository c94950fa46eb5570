/* online_set.h — fanout_hybrid: per conversation, its members online on
 * this node.
 *
 * A set of (conversation, user) pairs, indexed both ways: the users of a
 * conversation (for delivery) and the conversations of a user (so a user
 * going offline costs O(their conversations)).  Adding, removing and
 * looking up one pair are amortised O(1).  A conversation with no pair has
 * no entry; a user has an entry while they have a pair or while the caller
 * attached data to them (online_set_user_set), which lets the plugin keep
 * per-user state for online users who are in no conversation yet.
 *
 * Ids are NUL-terminated strings, borrowed for the call and copied (once
 * per user and once per conversation, whatever the number of pairs).
 * Single-threaded; no dependency on the host.
 *
 * Memory: one (user, conversation) pair costs two 16-byte links (one in
 * the conversation's user vector, one in the user's conversation vector)
 * plus vector slack, and 4 to 8 bytes of per-user index once a user is in
 * more than 16 conversations.  online_set_bytes() counts it all. */
#ifndef FANOUT_ONLINE_SET_H
#define FANOUT_ONLINE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct online_set;

/* NULL when out of memory. */
struct online_set *online_set_new(void);
/* Frees every entry.  Data attached to users is not touched. */
void online_set_free(struct online_set *s);

/* Adds user to conv.  Returns 1 when added, 0 when already there, -1 when
 * out of memory (then nothing changed). */
int online_set_add(struct online_set *s, const char *conv, const char *user);
/* Removes user from conv; false when the pair was not there. */
bool online_set_remove(struct online_set *s, const char *conv, const char *user);
bool online_set_has(const struct online_set *s, const char *conv, const char *user);

/* Attach data to user (creating the entry) or, with NULL, detach it (the
 * entry goes when the user has no conversation left).  Returns 0, or -1
 * when out of memory (then nothing changed). */
int online_set_user_set(struct online_set *s, const char *user, void *data);
/* The data attached to user; NULL when none or no such user. */
void *online_set_user_data(const struct online_set *s, const char *user);
/* Removes user from every conversation and drops the entry; returns the
 * data that was attached (NULL: none) and, in *n_convs if not NULL, how
 * many conversations the user was removed from. */
void *online_set_remove_user(struct online_set *s, const char *user, size_t *n_convs);

/* Number of users in conv / conversations of user (0 when no entry). */
size_t online_set_conv_size(const struct online_set *s, const char *conv);
size_t online_set_user_size(const struct online_set *s, const char *user);

/* Iteration over the users of a conversation or the conversations of a
 * user, in no particular order:
 *     struct online_iter it;
 *     for (const char *u = online_set_conv_first(s, conv, &it); u;
 *          u = online_set_next(&it))
 * The set must not change while an iteration is under way.  The strings
 * stay valid until the pair is removed. */
struct online_iter {
	const void *entry;
	uint32_t pos;
	bool of_user;
};
const char *online_set_conv_first(const struct online_set *s, const char *conv,
				  struct online_iter *it);
const char *online_set_user_first(const struct online_set *s, const char *user,
				  struct online_iter *it);
const char *online_set_next(struct online_iter *it);

/* Totals: conversations with an entry, users with an entry, pairs, and
 * the bytes allocated (requested sizes, not counting malloc's own
 * overhead). */
size_t online_set_n_convs(const struct online_set *s);
size_t online_set_n_users(const struct online_set *s);
size_t online_set_n_pairs(const struct online_set *s);
size_t online_set_bytes(const struct online_set *s);

#endif
