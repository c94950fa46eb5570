/* chatd/storage.h — the storage kind.
 *
 * All ops are asynchronous: they return at once (CHATD_OK when the request
 * was queued, a negative status when it could not be — then the callback is
 * NOT called) and complete later by calling `cb` exactly once ON THE CORE
 * THREAD.  Everything passed to an op is borrowed for the duration of the
 * call (the plugin copies what it keeps).  Everything passed to a callback is
 * borrowed for the duration of the callback (the core copies what it keeps).
 *
 * Strings are NUL-terminated UTF-8.  Times are ms since the epoch. */
#ifndef CHATD_STORAGE_H
#define CHATD_STORAGE_H

#include "chatd/plugin.h"

#define CHATD_ID_MAX 64            /* bytes: user ids, conversation and message ids */
#define CHATD_CMID_MAX 256         /* bytes: client_message_id (64 code points) */

/* A stored message. */
struct chatd_message {
	const char *conversation_id;
	int64_t seq;
	const char *message_id;
	const char *sender_id;
	const char *client_message_id;
	const char *text;              /* NULL: none (or deleted) */
	const char *media_id;          /* NULL: none */
	int64_t reply_to;              /* 0: none */
	int64_t ts;                    /* created, server clock */
	int64_t edited_at;             /* 0: never */
	bool deleted;                  /* deleted for everyone: text is NULL */
};

/* A conversation as seen by one user (role/read_seq are that user's). */
struct chatd_conversation {
	const char *conversation_id;
	const char *kind;              /* "direct" | "group" */
	const char *title;             /* NULL for direct */
	const char *peer_id;           /* direct only: the other member, else NULL */
	int64_t last_seq;
	int64_t member_count;
	int64_t created_at;
	int64_t last_activity;         /* ts of the last message, else created_at */
	bool locked, typing, receipts; /* settings */
	const char *role;              /* the viewer's role; NULL if not a member */
	int64_t read_seq;              /* the viewer's read cursor */
	int64_t muted_until;           /* the viewer's mute (0 none) */
};

struct chatd_member {
	const char *user_id;
	const char *role;              /* "owner" | "admin" | "moderator" | "member" */
	int64_t joined_at;
	int64_t muted_until;           /* 0: not muted */
	int64_t read_seq;
};

/* ---- send --------------------------------------------------------- */

/* Result of a send or of a duplicate lookup. */
struct chatd_send_result {
	int64_t seq;
	const char *message_id;
	int64_t ts;
	bool duplicate;                /* an earlier send with this cmid */
};

/* Precheck of a send, in one read: the duplicate (if any) and the sender's
 * membership.  `dup` is NULL when (conversation, sender, cmid) was never
 * stored; `conv` is NULL when the conversation does not exist or the sender
 * is not a member (then `self` is NULL too). */
typedef void (*chatd_precheck_cb)(void *arg, int status,
				  const struct chatd_send_result *dup,
				  const struct chatd_conversation *conv,
				  const struct chatd_member *self);

struct chatd_send_req {
	const char *conversation_id;
	const char *sender_id;
	const char *client_message_id;
	const char *text;              /* NULL: none */
	const char *media_id;          /* NULL: none */
	int64_t reply_to;              /* 0: none */
	int64_t ts;
};

/* Append: in one transaction, assign seq = last_seq + 1, insert, advance the
 * sender's read cursor to seq.  Idempotent on (conversation, sender, cmid):
 * an existing row gives its original result with duplicate = true and
 * changes nothing.  cb runs only after the write is durable (committed). */
typedef void (*chatd_send_cb)(void *arg, int status, const struct chatd_send_result *res);

/* ---- reads -------------------------------------------------------- */

struct chatd_history_req {
	const char *conversation_id;
	const char *user_id;           /* viewer: messages they deleted-for-me are omitted */
	int64_t before;                /* exclusive; <= 0 = none */
	int64_t after;                 /* exclusive; < 0 = none (0 = from the first message) */
	int limit;                     /* 1..200 */
};
/* messages ascending by seq.  With neither bound: the latest `limit`.  With
 * only before: the latest `limit` below it.  With after (and maybe before):
 * the first `limit` above after.  has_more: messages inside the requested
 * range were left out. */
typedef void (*chatd_history_cb)(void *arg, int status,
				 const struct chatd_message *msgs, size_t n,
				 bool has_more);

struct chatd_cursor {
	const char *conversation_id;
	int64_t seq;
};
struct chatd_sync_conv {
	const struct chatd_conversation *conv;
	const struct chatd_message *messages;  /* ascending */
	size_t n_messages;
	bool has_more;
};
/* Sync: every conversation of user_id, most recently active first; for each
 * the messages after the cursor (a cursor of 0 or absent: after the user's
 * read cursor), at most per_conv each and total in all; conversations the
 * total cap left out are listed with no messages and has_more = true.
 * Cursors for conversations the user is not in are ignored. */
typedef void (*chatd_sync_cb)(void *arg, int status,
			      const struct chatd_sync_conv *convs, size_t n,
			      bool has_more);

/* Conversation creation.  created = false when a direct conversation of the
 * same pair already existed (it is returned). `conv` is from the creator's
 * point of view. */
typedef void (*chatd_conv_cb)(void *arg, int status,
			      const struct chatd_conversation *conv, bool created);

typedef void (*chatd_conv_list_cb)(void *arg, int status,
				   const struct chatd_conversation *items, size_t n);

/* One conversation as seen by viewer, plus members [offset, offset+limit)
 * ordered by joined_at then user_id.  status CHATD_ERR_NOT_FOUND when the
 * conversation does not exist or (viewer != NULL) the viewer is not a
 * member. */
typedef void (*chatd_conv_get_cb)(void *arg, int status,
				  const struct chatd_conversation *conv,
				  const struct chatd_member *members, size_t n);

struct chatd_storage_ops {
	uint32_t struct_size;

	int (*precheck)(void *inst, const char *conversation_id, const char *sender_id,
			const char *client_message_id, chatd_precheck_cb cb, void *arg);
	int (*append)(void *inst, const struct chatd_send_req *req, chatd_send_cb cb, void *arg);
	int (*history)(void *inst, const struct chatd_history_req *req,
		       chatd_history_cb cb, void *arg);
	int (*sync)(void *inst, const char *user_id, const struct chatd_cursor *cursors,
		    size_t n_cursors, int per_conv, int total, chatd_sync_cb cb, void *arg);
	/* user_a creates; a != b is checked by the caller. */
	int (*conv_create_direct)(void *inst, const char *user_a, const char *user_b,
				  int64_t ts, chatd_conv_cb cb, void *arg);
	/* owner plus members (duplicates and the owner in members ignored). */
	int (*conv_create_group)(void *inst, const char *owner, const char *title,
				 const char *const *members, size_t n_members, int64_t ts,
				 chatd_conv_cb cb, void *arg);
	int (*conv_list)(void *inst, const char *user_id, chatd_conv_list_cb cb, void *arg);
	/* viewer may be NULL (no membership check; role/read_seq unset). */
	int (*conv_get)(void *inst, const char *conversation_id, const char *viewer,
			size_t member_offset, size_t member_limit,
			chatd_conv_get_cb cb, void *arg);
	/* Health: CHATD_OK when the backend is reachable (sync, cheap). */
	int (*health)(void *inst);
};

#endif
