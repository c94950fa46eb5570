/* chatd/presence.h — the presence kind: who is online, across devices.
 *
 * The core tells presence about each session that becomes authenticated and
 * each that closes.  A user is online while at least one session lives. */
#ifndef CHATD_PRESENCE_H
#define CHATD_PRESENCE_H

#include "chatd/plugin.h"

typedef void (*chatd_presence_cb)(void *arg, int status, bool online, int64_t last_seen);

/* ABI 1.3: a user's status changed (online <-> offline), after the plugin's
 * debounce: a user who drops their last session and comes back within it
 * produces no change at all.  Runs on the core thread.  last_seen: when the
 * last session closed (for offline), else 0. */
typedef void (*chatd_presence_change_fn)(void *arg, const char *user_id, bool online,
					 int64_t last_seen);

struct chatd_presence_ops {
	uint32_t struct_size;
	/* A session of user_id came up / went down on this node.  Sync. */
	int (*session_up)(void *inst, const char *user_id, uint64_t session_id);
	int (*session_down)(void *inst, const char *user_id, uint64_t session_id);
	/* Status of user_id; cb on the core thread (may run before return). */
	int (*query)(void *inst, const char *user_id, chatd_presence_cb cb, void *arg);
	/* ---- ABI 1.3 (optional: without it nobody is told of changes) */
	/* Register the one listener of status changes (fn NULL: none). */
	int (*watch)(void *inst, chatd_presence_change_fn fn, void *arg);
};

#endif
