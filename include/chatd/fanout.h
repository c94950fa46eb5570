/* chatd/fanout.h — the fanout kind: who receives a stored message, and how.
 *
 * After a message is durably stored and acked, the core calls deliver() with
 * two encodings of the same `message` frame: `to_sender` carries the
 * client_message_id (for the sender's other sessions), `to_others` does not.
 * The plugin chooses recipients and hands frames to host->deliver_user().
 * It takes its own references on the frames if it keeps them past the call. */
#ifndef CHATD_FANOUT_H
#define CHATD_FANOUT_H

#include "chatd/host.h"

struct chatd_fanout_msg {
	const char *conversation_id;
	const char *sender_id;
	int64_t seq;
	int64_t member_count;          /* as known at send time */
	uint64_t origin_session;       /* the sending session: gets the ack, not the message */
	chatd_frame *to_sender;
	chatd_frame *to_others;
};

struct chatd_fanout_ops {
	uint32_t struct_size;
	int (*deliver)(void *inst, const struct chatd_fanout_msg *m);
	/* Deliver an arbitrary frame to every member of a conversation
	 * (conv.event and the like); except_session as for deliver_user. */
	int (*deliver_members)(void *inst, const char *conversation_id,
			       chatd_frame *f, uint64_t except_session);
	/* The membership of conversation_id changed (added, removed, left):
	 * anything the plugin keeps about its members is stale.  Called by
	 * the core after the change is stored, before the next message. */
	void (*members_changed)(void *inst, const char *conversation_id);

	/* ---- ABI 1.2, optional (NULL or past struct_size: not called). */

	/* Fan-out on write?  Asked before each append: true makes storage
	 * write an inbox entry per member along with the message. */
	bool (*write_inbox)(void *inst, const char *conversation_id, int64_t member_count);
	/* user_id's first session on this node came up.  The plugin calls
	 * ready(arg, user_id, status) exactly once when it can push to the
	 * user (possibly before returning), but never after user_offline for
	 * that user.  The core holds the user's commands until then, so a
	 * `sync` cannot overtake the registration and a message pushed
	 * before it is one that sync returns.  Returns CHATD_OK, or a
	 * negative status (then ready is not called). */
	int (*user_online)(void *inst, const char *user_id,
			   void (*ready)(void *arg, const char *user_id, int status), void *arg);
	/* The last session of user_id on this node closed. */
	void (*user_offline)(void *inst, const char *user_id);
	/* user_id joined / left conversation_id (the change is stored); also
	 * for every member of a newly created conversation.  Called in
	 * addition to members_changed. */
	void (*member_joined)(void *inst, const char *conversation_id, const char *user_id);
	void (*member_left)(void *inst, const char *conversation_id, const char *user_id);
};

#endif
