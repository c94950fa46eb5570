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
	/* ABI 1.1 */
	const char *visibility;        /* CHATD_VIS_*; NULL reads as "normal" */
	const char *moderation;        /* provenance JSON text, NULL: plainly allowed */
	/* ABI 1.3: the media row of media_id, read with the message (unset
	 * when media_id is NULL or its row is gone). */
	const char *media_mime;
	int64_t media_size;
	bool media_thumbnail;
};

/* Message visibility (ABI 1.1).  Only "normal" messages are shown to other
 * members; the others are shown to their sender only (who cannot tell). */
#define CHATD_VIS_NORMAL   "normal"
#define CHATD_VIS_SHADOW   "shadow"    /* shadow verdict or shadow-banned sender */
#define CHATD_VIS_HELD     "held"      /* waiting for a moderator's approval */
#define CHATD_VIS_REJECTED "rejected"  /* held, then rejected by a moderator */

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
	/* ABI 1.1 */
	const char *visibility;        /* CHATD_VIS_*; NULL: normal */
	const char *moderation;        /* provenance JSON text stored with the row; NULL: none */
	/* ABI 1.2 */
	bool inbox;                    /* fan-out on write: also set every member's inbox
	                                * entry for the conversation to this seq.  false:
	                                * none, and the conversation's inbox entries (if an
	                                * earlier append wrote some) are dropped. */
};

/* Append: in one transaction, assign seq = last_seq + 1, insert, advance the
 * sender's read cursor to seq.  Idempotent on (conversation, sender, cmid):
 * an existing row gives its original result with duplicate = true and
 * changes nothing.  cb runs only after the write is durable (committed). */
typedef void (*chatd_send_cb)(void *arg, int status, const struct chatd_send_result *res);

/* ---- reads -------------------------------------------------------- */

struct chatd_history_req {
	const char *conversation_id;
	const char *user_id;           /* viewer: messages they deleted-for-me, and others'
	                                * messages that are not "normal", are omitted.
	                                * NULL (ABI 1.1): staff view, nothing omitted. */
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

/* ---- moderation (ABI 1.1) ----------------------------------------- */

typedef void (*chatd_status_cb)(void *arg, int status);
typedef void (*chatd_id_cb)(void *arg, int status, int64_t id);
typedef void (*chatd_message_cb)(void *arg, int status, const struct chatd_message *m);

/* One audit log entry.  The chain is computed by the core: hash =
 * SHA-256(prev || canonical bytes of the entry), both stored as lowercase
 * hex.  Storage keeps entries append-only and never rewrites one. */
struct chatd_audit_entry {
	int64_t id;                    /* 1, 2, ...: position in the chain */
	int64_t ts;
	const char *actor;             /* user id, "rule:NAME" or "system" */
	const char *event;             /* "verdict", "report", "sanction", "rules.reload", ... */
	const char *subject;           /* what it is about ("" when nothing) */
	const char *detail;            /* JSON object text */
	const char *prev_hash;         /* 64 hex digits; all zero for id 1 */
	const char *hash;              /* 64 hex digits */
};
typedef void (*chatd_audit_list_cb)(void *arg, int status,
				    const struct chatd_audit_entry *items, size_t n);

/* One item of the moderation queue: a report, a flagged or held message,
 * or an appeal. */
struct chatd_mod_item {
	int64_t id;                    /* assigned by storage; ignored on add */
	const char *kind;              /* "report" | "flag" | "hold" | "appeal" */
	const char *status;            /* "open" | "actioned" | "dismissed" (add: "open") */
	const char *conversation_id;   /* NULL: none */
	int64_t seq;                   /* 0: none */
	const char *subject_id;        /* the user it is about */
	const char *filed_by;          /* user id or "rule:NAME" */
	const char *reason;            /* short machine reason ("spam", ...) */
	const char *note;              /* free text; NULL: none */
	const char *detail;            /* JSON object text; NULL: none */
	const char *dedupe_key;        /* NULL: none; a second open-or-closed item
	                                * with the same key is refused (EXISTS) */
	int64_t created_at;
	const char *actor;             /* who resolved it; NULL while open */
	const char *action;            /* resolution ("approve", "dismiss", "ban", ...) */
	const char *resolution_note;
	int64_t resolved_at;           /* 0 while open */
};
typedef void (*chatd_mod_items_cb)(void *arg, int status,
				   const struct chatd_mod_item *items, size_t n);

/* A sanction on a user, node-wide. */
struct chatd_sanction {
	int64_t id;                    /* assigned by storage; ignored on add */
	const char *user_id;
	const char *kind;              /* "ban" | "shadow" | "block"; ABI 1.3: "revoke" (a
	                                * token revocation: until 0, created_at = the time
	                                * before which the user's tokens are refused) */
	int64_t until;                 /* ms since the epoch; 0: permanent */
	const char *reason;
	const char *actor;
	int64_t created_at;
	int64_t lifted_at;             /* 0: not lifted */
};
typedef void (*chatd_sanctions_cb)(void *arg, int status,
				   const struct chatd_sanction *items, size_t n);

/* ---- groups, edits, deletes (ABI 1.2) ------------------------------ */

/* A change to a group's membership or settings, made in one transaction.
 * The core decides permissions from what it read (members_get); storage
 * re-checks, inside the transaction, that the roles it was told still hold
 * (actor_role, target_role) and refuses with CHATD_ERR_CONFLICT when one
 * changed, so two racing changes never both act on stale roles.
 *
 * Errors: NOT_FOUND: no such conversation, the actor is not a member, or
 * (REMOVE, ROLE, MUTE) users[0] is not; INVALID: a direct conversation
 * (membership and roles fixed), or bad arguments; EXISTS (ADD): a user is
 * already a member (nothing is added; the result names the first such
 * user); TOO_LARGE (ADD): the group would pass max_members; CONFLICT. */
enum chatd_conv_change_kind {
	CHATD_CHANGE_ADD = 1,          /* users[0..n) join with role member */
	CHATD_CHANGE_REMOVE = 2,       /* users[0] stops being a member */
	CHATD_CHANGE_LEAVE = 3,        /* the actor leaves; when the owner leaves, the
	                                * longest-standing admin (else member of any
	                                * role) becomes owner */
	CHATD_CHANGE_ROLE = 4,         /* users[0] gets `role` */
	CHATD_CHANGE_MUTE = 5,         /* users[0]'s muted_until becomes muted_until */
	CHATD_CHANGE_SETTINGS = 6,     /* title, locked, typing, receipts */
};

struct chatd_conv_change {
	int kind;                      /* enum chatd_conv_change_kind */
	const char *conversation_id;
	const char *actor;             /* the member acting */
	const char *actor_role;        /* the actor's role as read; NULL: not re-checked */
	const char *const *users;      /* ADD: 1..n (duplicates ignored); REMOVE, ROLE,
	                                * MUTE: exactly one; LEAVE, SETTINGS: none */
	size_t n_users;
	const char *target_role;       /* REMOVE, ROLE, MUTE: users[0]'s role as read;
	                                * NULL: not re-checked */
	const char *role;              /* ROLE: "admin" | "moderator" | "member" */
	int64_t muted_until;           /* MUTE: ms since the epoch; 0 unmutes */
	int64_t max_members;           /* ADD: the group's size limit; 0: none */
	bool history_from_join;        /* ADD: the new members see only messages
	                                * after the add (else the whole history) */
	const char *title;             /* SETTINGS: NULL unchanged; "" clears */
	int locked, typing, receipts;  /* SETTINGS: -1 unchanged, else 0 or 1 */
	int64_t ts;
};

struct chatd_conv_change_result {
	const struct chatd_conversation *conv;  /* after the change, as the actor sees it
	                                         * (role NULL after LEAVE) */
	const char *const *users;      /* ADD: the users added, in order; REMOVE, ROLE,
	                                * MUTE: users[0]; LEAVE: the actor; EXISTS: the
	                                * first user already a member */
	size_t n_users;
	const char *new_owner;         /* LEAVE by the owner: the new owner, if any */
};
/* res is non-NULL on CHATD_OK and on EXISTS (then only users/n_users). */
typedef void (*chatd_conv_change_cb)(void *arg, int status,
				     const struct chatd_conv_change_result *res);

/* A stored message with its sender's current role in the conversation
 * (NULL when the sender is no longer a member). */
typedef void (*chatd_message_role_cb)(void *arg, int status, const struct chatd_message *m,
				      const char *sender_role);

/* ---- ABI 1.3: read cursors and media metadata ---------------------- */

struct chatd_read_cursor {
	const char *conversation_id;
	const char *user_id;
	int64_t seq;
};

/* An upload's metadata row. */
struct chatd_media_row {
	const char *media_id;
	const char *owner_id;
	const char *mime;
	const char *name;              /* the client's file name; NULL: none */
	int64_t size;                  /* declared = stored bytes */
	const char *hash;              /* content hash (hex) once ready, else NULL */
	bool thumbnail;                /* a thumbnail was made */
	int64_t created_at;
	int64_t ready_at;              /* 0: the upload has not completed */
};
/* status OK with r, or NOT_FOUND (r NULL). */
typedef void (*chatd_media_row_cb)(void *arg, int status, const struct chatd_media_row *r);
typedef void (*chatd_media_rows_cb)(void *arg, int status, const struct chatd_media_row *r,
				    size_t n);
/* bytes: total size of every row of the owner (pending ones included);
 * count: how many of them were created at or after `since`. */
typedef void (*chatd_media_usage_cb)(void *arg, int status, int64_t bytes, int64_t count);

/* An edit by the message's sender. */
struct chatd_message_edit {
	const char *conversation_id;
	int64_t seq;
	const char *editor;            /* must be the sender: else FORBIDDEN */
	const char *text;              /* the new text (required) */
	const char *moderation;        /* provenance of the edit; NULL: keep the stored one */
	const char *visibility;        /* CHATD_VIS_*; NULL: unchanged */
	int64_t ts;                    /* becomes edited_at */
};

/* ---- ABI 1.4: full-text search ----------------------------------- */

/* One term of a parsed query: a word (n_words 1) or a phrase (the words in
 * order, adjacent), optionally a prefix (the last word may continue).  The
 * core parses the user's text (core/search_query.c); every word is a
 * non-empty run of letters and digits (ASCII alphanumerics or any non-ASCII
 * UTF-8), at most CHATD_SEARCH_WORD_MAX bytes.  Storage must pass words to
 * its engine as literal data (quoted, or bound), never as query syntax. */
#define CHATD_SEARCH_WORD_MAX 64
#define CHATD_SEARCH_TERMS_MAX 16     /* words of all terms together */
#define CHATD_SEARCH_LIMIT_MAX 50
struct chatd_search_term {
	const char *const *words;
	size_t n_words;                /* >= 1 */
	bool prefix;
};

/* Hits must contain every term (AND).  Visibility is that of history for
 * req->viewer: only conversations the viewer is a member of now, messages
 * after the viewer's history_from, never deleted for everyone, never
 * hidden for the viewer, not "normal" ones only when the viewer sent them.
 * Index: the text of every message not deleted for everyone, kept in step
 * with append, edit, delete, purge and conversation removal. */
struct chatd_search_req {
	const char *viewer;            /* required */
	const char *conversation_id;   /* NULL: all the viewer's conversations */
	const struct chatd_search_term *terms;
	size_t n_terms;                /* 1..CHATD_SEARCH_TERMS_MAX */
	int64_t before;                /* a `next` cursor of an earlier answer; <= 0: none */
	int limit;                     /* 1..CHATD_SEARCH_LIMIT_MAX */
};

/* A hit: the message (as history shows it) and a snippet of its text of at
 * most ~12 words around the matches, each matched word between the bytes
 * CHATD_SEARCH_MARK_ON and CHATD_SEARCH_MARK_OFF, elided parts as "…". */
#define CHATD_SEARCH_MARK_ON  "\x02"
#define CHATD_SEARCH_MARK_OFF "\x03"
struct chatd_search_hit {
	struct chatd_message msg;
	const char *snippet;
	int64_t cursor;                /* > 0: opaque; `before` = it continues after this hit */
};
/* next: > 0 when more hits may follow (pass it as `before`), else 0. */
typedef void (*chatd_search_cb)(void *arg, int status, const struct chatd_search_hit *hits,
				size_t n, int64_t next);

/* A list of user ids (notify_targets, ABI 1.4). */
typedef void (*chatd_users_cb)(void *arg, int status, const char *const *users, size_t n);

/* ---- ABI 1.5: rewriting stored texts (re-encryption) ------------- */

/* One stored copy of a message's text, exactly as stored (the core's
 * encryption wrapper may have sealed it: storage never interprets it). */
struct chatd_stored_text {
	const char *conversation_id;
	int64_t seq;
	const char *sender_id;
	const char *text;              /* never NULL */
};
/* A texts_scan cursor is an opaque string of at most this many bytes. */
#define CHATD_TEXTS_CURSOR_MAX 200
#define CHATD_TEXTS_SCAN_MAX 1000
/* next: NULL when the scan is complete, else the `after` of the next call. */
typedef void (*chatd_texts_cb)(void *arg, int status, const struct chatd_stored_text *rows,
			       size_t n, const char *next);

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

	/* ---- ABI 1.1: moderation.  The core checks struct_size before use. */

	/* Audit log.  append refuses (EXISTS) an id already stored, and an
	 * entry whose prev_hash is not the stored hash of entry id - 1 (id 1:
	 * all zeros), so several nodes appending keep one chain (the core
	 * re-chains what was refused). */
	int (*audit_append)(void *inst, const struct chatd_audit_entry *e,
			    chatd_status_cb cb, void *arg);
	/* Entries with id > after_id ascending, at most limit (1..1000); with
	 * newest, the last `limit` entries instead (still ascending). */
	int (*audit_list)(void *inst, int64_t after_id, int limit, bool newest,
			  chatd_audit_list_cb cb, void *arg);

	/* Moderation queue.  add: cb gets the new id (EXISTS on a dedupe_key
	 * already used, with the existing item's id). */
	int (*mod_item_add)(void *inst, const struct chatd_mod_item *it, chatd_id_cb cb, void *arg);
	/* Items with id > after_id ascending, at most limit (1..1000); status and
	 * kind filter when not NULL; id > 0 returns just that item. */
	int (*mod_item_list)(void *inst, int64_t id, const char *status, const char *kind,
			     int64_t after_id, int limit, chatd_mod_items_cb cb, void *arg);
	/* Close an open item: NOT_FOUND, or EXISTS when it is no longer open. */
	int (*mod_item_resolve)(void *inst, int64_t id, const char *status, const char *action,
				const char *actor, const char *note, int64_t ts,
				chatd_status_cb cb, void *arg);

	/* Change a stored message's visibility; cb gets the updated message
	 * (NOT_FOUND when there is none). */
	int (*message_set_visibility)(void *inst, const char *conversation_id, int64_t seq,
				      const char *visibility, chatd_message_cb cb, void *arg);

	/* Sanctions.  list_active: every sanction not lifted whose until is 0
	 * or > now.  lift: sets lifted_at on the user's active ones of kind. */
	int (*sanction_add)(void *inst, const struct chatd_sanction *s, chatd_id_cb cb, void *arg);
	int (*sanction_lift)(void *inst, const char *user_id, const char *kind, int64_t ts,
			     chatd_status_cb cb, void *arg);
	int (*sanction_list_active)(void *inst, int64_t now, chatd_sanctions_cb cb, void *arg);

	/* Records the first time a user was seen (kept if already there); cb
	 * gets it as the id argument.  The basis of "account age". */
	int (*user_seen)(void *inst, const char *user_id, int64_t ts, chatd_id_cb cb, void *arg);

	/* ---- ABI 1.2: groups, edits, deletes.  The core checks struct_size. */

	/* A group management change (see struct chatd_conv_change). */
	int (*conv_change)(void *inst, const struct chatd_conv_change *ch,
			   chatd_conv_change_cb cb, void *arg);
	/* The conversation as viewer sees it, plus the member rows of those of
	 * users[0..n) (n <= 1000) who are members, in the order given.
	 * NOT_FOUND when there is no such conversation or viewer is not a
	 * member. */
	int (*members_get)(void *inst, const char *conversation_id, const char *viewer,
			   const char *const *users, size_t n_users,
			   chatd_conv_get_cb cb, void *arg);
	/* One message, whatever its visibility (NOT_FOUND: none).  A message
	 * deleted for everyone reads as deleted, with no text or media. */
	int (*message_get)(void *inst, const char *conversation_id, int64_t seq,
			   chatd_message_role_cb cb, void *arg);
	/* Edit (see struct chatd_message_edit).  NOT_FOUND: no such message;
	 * FORBIDDEN: not the sender's; INVALID: deleted.  cb gets the message
	 * as stored after the edit. */
	int (*message_edit)(void *inst, const struct chatd_message_edit *e,
			    chatd_message_cb cb, void *arg);
	/* Delete for everyone: the message reads as deleted from now on (no
	 * text or media for any reader); its content stays stored until
	 * purge_deleted.  Deleting a deleted message is OK and changes
	 * nothing.  NOT_FOUND: no such message. */
	int (*message_delete)(void *inst, const char *conversation_id, int64_t seq, int64_t ts,
			      chatd_message_cb cb, void *arg);
	/* Delete for me: user_id's history and sync omit the message from now
	 * on.  Idempotent.  NOT_FOUND: no such message. */
	int (*message_hide)(void *inst, const char *user_id, const char *conversation_id,
			    int64_t seq, chatd_status_cb cb, void *arg);
	/* Retention: erase for real the content (text, media, provenance) of
	 * messages deleted for everyone at or before `before`; the bytes must
	 * not survive in the store's files.  cb gets how many were erased. */
	int (*purge_deleted)(void *inst, int64_t before, chatd_id_cb cb, void *arg);

	/* ---- ABI 1.3: read cursors, media.  The core checks struct_size. */

	/* Move each (conversation, user) read cursor forward to seq (never
	 * back; rows of non-members are ignored), all in one transaction.
	 * cb gets the number of cursors that moved. */
	int (*cursors_advance)(void *inst, const struct chatd_read_cursor *c, size_t n,
			       chatd_id_cb cb, void *arg);
	/* Insert a new (pending) media row: EXISTS when media_id is taken. */
	int (*media_put)(void *inst, const struct chatd_media_row *r, chatd_status_cb cb,
			 void *arg);
	int (*media_get)(void *inst, const char *media_id, chatd_media_row_cb cb, void *arg);
	/* Mark an upload complete: NOT_FOUND when there is no such row. */
	int (*media_ready)(void *inst, const char *media_id, const char *hash, bool thumbnail,
			   int64_t ts, chatd_status_cb cb, void *arg);
	int (*media_usage)(void *inst, const char *owner_id, int64_t since,
			   chatd_media_usage_cb cb, void *arg);
	/* cb's id is 1 when user_id owns media_id or is a member of a
	 * conversation where a message (not deleted for everyone) carries it,
	 * else 0. */
	int (*media_access)(void *inst, const char *media_id, const char *user_id,
			    chatd_id_cb cb, void *arg);
	/* Up to `limit` (1..1000) rows created before `before` that no stored
	 * message refers to, oldest first. */
	int (*media_orphans)(void *inst, int64_t before, int limit, chatd_media_rows_cb cb,
			     void *arg);
	/* Remove a row; cb's id is how many rows still have the same hash
	 * (0: its file may go).  NOT_FOUND when there was none. */
	int (*media_remove)(void *inst, const char *media_id, chatd_id_cb cb, void *arg);

	/* ---- ABI 1.3: the admin API.  The core checks struct_size. */

	/* When user_id was first seen (the time user_seen stored), as cb's
	 * id; NOT_FOUND when never.  A read: it records nothing. */
	int (*user_first_seen)(void *inst, const char *user_id, chatd_id_cb cb, void *arg);

	/* ---- ABI 1.4: the admin API.  The core checks struct_size. */

	/* The latest `limit` (1..200) messages of all conversations together,
	 * staff view (nothing omitted; deleted ones read as deleted), the
	 * newest by ts (ties: conversation_id, then seq, the larger first).
	 * cb gets them oldest first; has_more when older ones exist.  For
	 * tools (the rules dry-run), not the message path: it may scan. */
	int (*messages_latest)(void *inst, int limit, chatd_history_cb cb, void *arg);

	/* ---- ABI 1.4: search.  The core checks struct_size. */

	/* Full-text search (see struct chatd_search_req): at most req->limit
	 * hits, the most recently indexed first, each exactly as req->viewer's
	 * history would show it.  INVALID on bad arguments. */
	int (*search)(void *inst, const struct chatd_search_req *req, chatd_search_cb cb,
		      void *arg);

	/* ---- ABI 1.4: notifications.  The core checks struct_size. */

	/* user_id's notifications of conversation_id are muted until
	 * muted_until (ms; 0 unmutes).  NOT_FOUND: not a member. */
	int (*notify_mute_set)(void *inst, const char *conversation_id, const char *user_id,
			       int64_t muted_until, chatd_status_cb cb, void *arg);
	/* The members of conversation_id but `exclude` (the sender) whose
	 * notification mute has ended by `now`, in user id order; an unknown
	 * conversation: none.  More than `max` (>= 1) of them: TOO_LARGE
	 * and none (large groups are not notified message by message). */
	int (*notify_targets)(void *inst, const char *conversation_id, const char *exclude,
			      int64_t now, size_t max, chatd_users_cb cb, void *arg);

	/* ---- ABI 1.5: rewriting stored texts.  The core checks struct_size
	 * (and a NULL field: the plugin does not offer it). */

	/* Up to `limit` (1..CHATD_TEXTS_SCAN_MAX) stored texts after the
	 * cursor `after` (NULL or "": from the start), every stored copy of
	 * message text (deleted messages not yet purged included), in an
	 * order of the plugin's choosing that visits each row once per scan
	 * (rows added during the scan may or may not be visited).  A batch may
	 * hold fewer than `limit` rows and still not be the last; cb's next is
	 * NULL only at the end.  INVALID: a cursor this plugin did not give. */
	int (*texts_scan)(void *inst, const char *after, int limit, chatd_texts_cb cb,
			  void *arg);
	/* Compare and swap of one stored text: when the row's text is still
	 * exactly `expected` it becomes `text` (neither NULL), and nothing
	 * else changes (not edited_at: this is no edit; the search index
	 * follows the text).  CONFLICT: the text is no longer `expected`
	 * (edited, deleted and purged meanwhile); NOT_FOUND: no such row. */
	int (*text_replace)(void *inst, const char *conversation_id, int64_t seq,
			    const char *expected, const char *text, chatd_status_cb cb,
			    void *arg);
	/* Erase for real the old texts text_replace replaced: afterwards no
	 * store file (index segments, journal, freed pages) may hold them.
	 * May take time in the store's size; the core runs it once after a
	 * complete rewrite.  NULL: the store has nothing to do (or cannot:
	 * say so in its documentation). */
	int (*texts_compact)(void *inst, chatd_status_cb cb, void *arg);
};

#endif
