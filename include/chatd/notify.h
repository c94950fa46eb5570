/* chatd/notify.h — the notify kind (ABI 1.4): telling users who are not
 * connected that a message arrived (push gateways, e-mail bridges, …).
 *
 * After the fan-out of a stored message the core reads the conversation's
 * members who want notifications (storage op notify_targets: not the
 * sender, not muted with conv.notify) and calls `offline` once for each of
 * them that has no online session.  Today "online" is this node's
 * sessions; with a shared presence (presence op `locate`, ABI 1.4) the core
 * will ask it instead, so a plugin never decides presence itself.  Only
 * messages every member sees are notified (not shadowed or held ones).
 *
 * Ops are synchronous, on the core thread, and must not block: a plugin
 * copies what it needs, queues it, and does its I/O on its own thread. */
#ifndef CHATD_NOTIFY_H
#define CHATD_NOTIFY_H

#include "chatd/plugin.h"

/* One stored message for one recipient.  Everything is borrowed for the
 * call. */
struct chatd_notify_msg {
	const char *recipient;          /* user id */
	const char *conversation_id;
	const char *sender_id;
	int64_t seq;
	const char *message_id;
	const char *text;               /* NULL: none (a media message) */
	const char *media_mime;         /* NULL: no media */
	int64_t ts;                     /* stored, ms since the epoch */
};

struct chatd_notify_ops {
	uint32_t struct_size;
	/* m->recipient has no online session.  Returns CHATD_OK (queued) or a
	 * negative status (counted and logged by the core; nothing retried). */
	int (*offline)(void *inst, const struct chatd_notify_msg *m);
};

#endif
