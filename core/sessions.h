/* sessions.h — the core's registry of authenticated sessions on this node:
 * session id → user, user → sessions.  Core thread only. */
#ifndef CHATD_SESSIONS_H
#define CHATD_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hmap.h"

/* A command that arrived while its user's registration with the fan-out
 * plugin was in flight (pipeline.c holds it until the plugin is ready). */
struct held_cmd {
	struct held_cmd *next;
	uint64_t session;
	json_t *msg;            /* owned */
	uint64_t trace;         /* log trace id of the command */
};

#define SESSIONS_HELD_MAX 1024  /* commands held per user */

struct user_sessions {
	size_t n, cap;
	uint64_t *ids;
	int64_t first_seen;     /* account age basis (storage's user_seen); 0 unknown */
	bool registering;       /* registrations in flight: commands held */
	unsigned holds;         /* what they wait for (pipeline.c's HOLD_*) */
	struct held_cmd *held, **held_tail;
	size_t n_held;
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
/* Mark user's registration in flight (true) or not. */
void sessions_set_registering(struct sessions *s, const char *user, bool on);
/* Set (on) or clear the bits `what` of user's holds. */
void sessions_hold_flags(struct sessions *s, const char *user, unsigned what, bool on);
/* Append a held command (msg taken on success), with the thread's log
 * trace id.  -1 when the user has no
 * session, SESSIONS_HELD_MAX are held already, or on ENOMEM. */
int sessions_hold(struct sessions *s, const char *user, uint64_t session, json_t *msg);
/* End the registration: returns the held commands in arrival order (the
 * caller owns the list and each msg). */
struct held_cmd *sessions_release(struct sessions *s, const char *user);
void held_cmd_free_list(struct held_cmd *h);
size_t sessions_count(const struct sessions *s);

#endif
