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

/* ABI 1.4: where users are connected, for delivery across nodes. */
struct chatd_presence_loc {
	const char *user_id;
	const char *const *nodes;      /* ids of the nodes holding a session */
	size_t n_nodes;                /* 0: offline everywhere */
};
/* locs[i] answers users[i]; everything is borrowed for the call. */
typedef void (*chatd_presence_locate_cb)(void *arg, int status,
					 const struct chatd_presence_loc *locs, size_t n);
typedef void (*chatd_presence_ready_fn)(void *arg, const char *user_id, int status);

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

	/* ---- ABI 1.4 (optional): presence shared by several nodes.  A plugin
	 * with `locate` makes the core deliver across nodes (through the bus,
	 * topic "node.<id>"); watch must then report changes of users on every
	 * node, not only this one. */

	/* The nodes holding sessions of each of users[0..n) (n <= 1024), in
	 * one batch.  cb exactly once on the core thread (never inside the
	 * call); a node that died stops being listed within the plugin's TTL. */
	int (*locate)(void *inst, const char *const *users, size_t n,
		      chatd_presence_locate_cb cb, void *arg);
	/* Used instead of session_up when set: ready(arg, user_id, status)
	 * runs exactly once, on the core thread, when the session is visible
	 * to every node's locate.  The core holds the user's commands until
	 * then, so a message stored after their `sync` read is always routed
	 * to this node. */
	int (*session_up_ready)(void *inst, const char *user_id, uint64_t session_id,
				chatd_presence_ready_fn ready, void *arg);
};

#endif
