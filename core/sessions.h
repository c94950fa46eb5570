/* sessions.h — the core's registry of authenticated sessions on this node:
 * session id → user, user → sessions.  Core thread only. */
#ifndef CHATD_SESSIONS_H
#define CHATD_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include "hmap.h"

struct user_sessions {
	size_t n, cap;
	uint64_t *ids;
	int64_t first_seen;     /* account age basis (storage's user_seen); 0 unknown */
};

struct sessions {
	struct hmap by_id;      /* u64 → char* user (owned) */
	struct hmap by_user;    /* user → struct user_sessions* (owned) */
};

int sessions_init(struct sessions *s);
void sessions_destroy(struct sessions *s);
/* Returns 0, or -1 on ENOMEM. */
int sessions_add(struct sessions *s, uint64_t id, const char *user);
/* Returns 1 if the user has no session left, 0 if some remain, -1 unknown. */
int sessions_remove(struct sessions *s, uint64_t id);
/* Borrowed until the next change; NULL when the user has none. */
const struct user_sessions *sessions_of(const struct sessions *s, const char *user);
/* Records when user was first seen (while they have sessions here). */
void sessions_set_first_seen(struct sessions *s, const char *user, int64_t ts);
const char *sessions_user(const struct sessions *s, uint64_t id);
size_t sessions_count(const struct sessions *s);

#endif
