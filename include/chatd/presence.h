/* chatd/presence.h — the presence kind: who is online, across devices.
 *
 * The core tells presence about each session that becomes authenticated and
 * each that closes.  A user is online while at least one session lives. */
#ifndef CHATD_PRESENCE_H
#define CHATD_PRESENCE_H

#include "chatd/plugin.h"

typedef void (*chatd_presence_cb)(void *arg, int status, bool online, int64_t last_seen);

struct chatd_presence_ops {
	uint32_t struct_size;
	/* A session of user_id came up / went down on this node.  Sync. */
	int (*session_up)(void *inst, const char *user_id, uint64_t session_id);
	int (*session_down)(void *inst, const char *user_id, uint64_t session_id);
	/* Status of user_id; cb on the core thread (may run before return). */
	int (*query)(void *inst, const char *user_id, chatd_presence_cb cb, void *arg);
};

#endif
