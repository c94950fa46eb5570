/* sqlite_ops.h — the storage ops as requests for the sqlite workers, and
 * the schema.
 *
 * Each sqlite_op_*_new() runs on the core thread: it checks every input
 * (lengths, ranges), copies what it keeps into a new request and returns
 * CHATD_OK with *out set (ownership passes to the caller, who submits it to
 * the writer or reader worker, or frees it with sqlite_req_free()), or a
 * negative status (nothing allocated, callback never called).  The request
 * calls `cb` exactly once when completed on the core thread. */
#ifndef SQLITE_OPS_H
#define SQLITE_OPS_H

#include "chatd/storage.h"
#include "sqlite_worker.h"

/* Limits of inputs (bytes unless said). */
#define SQLITE_TEXT_MAX      (256 * 1024)
#define SQLITE_MEDIA_ID_MAX  128
#define SQLITE_TITLE_MAX     1024
#define SQLITE_MEMBERS_MAX   10000    /* members given to group creation */
#define SQLITE_CURSORS_MAX   100000
#define SQLITE_PER_CONV_MAX  10000
#define SQLITE_TOTAL_MAX     100000
#define SQLITE_PAGE_MAX      10000    /* conv_get member_limit */
#define SQLITE_HISTORY_MAX   200
/* ABI 1.1 (moderation). */
#define SQLITE_NOTE_MAX      (64 * 1024) /* free text and JSON: notes, reasons, details,
                                          * moderation provenance (TOO_LARGE above) */
#define SQLITE_ACTOR_MAX     (CHATD_ID_MAX + 16) /* a user id, "rule:NAME" (rule names
                                                  * are < 64 bytes) or "system" */
#define SQLITE_TOKEN_MAX     64       /* audit events, resolution actions */
#define SQLITE_SUBJECT_MAX   512      /* audit subjects (may be empty) */
#define SQLITE_KEY_MAX       512      /* mod item dedupe keys */
#define SQLITE_LIST_MAX      1000     /* audit_list and mod_item_list limit */
#define SQLITE_HASH_HEX      64       /* audit hashes: lowercase hex digits */
/* ABI 1.2 (groups, edits, deletes). */
#define SQLITE_CHANGE_USERS_MAX 1000  /* conv_change ADD and members_get users
                                       * (TOO_LARGE above) */
/* ABI 1.3 (media rows; INVALID above). */
#define SQLITE_MIME_MAX      255      /* RFC 6838: type/subtype, 127 each */
#define SQLITE_MEDIA_NAME_MAX 1024    /* the client's file name */
#define SQLITE_MEDIA_HASH_MAX 128     /* lowercase hex digits */

/* Reader ops. */
int sqlite_op_precheck_new(const char *conversation_id, const char *sender_id,
			   const char *client_message_id, chatd_precheck_cb cb, void *arg,
			   struct sqlite_req **out);
int sqlite_op_history_new(const struct chatd_history_req *req, chatd_history_cb cb, void *arg,
			  struct sqlite_req **out);
int sqlite_op_messages_latest_new(int limit, chatd_history_cb cb, void *arg,
				  struct sqlite_req **out);
int sqlite_op_sync_new(const char *user_id, const struct chatd_cursor *cursors, size_t n_cursors,
		       int per_conv, int total, chatd_sync_cb cb, void *arg,
		       struct sqlite_req **out);
int sqlite_op_conv_list_new(const char *user_id, chatd_conv_list_cb cb, void *arg,
			    struct sqlite_req **out);
int sqlite_op_conv_get_new(const char *conversation_id, const char *viewer, size_t member_offset,
			   size_t member_limit, chatd_conv_get_cb cb, void *arg,
			   struct sqlite_req **out);

/* Writer ops. */
int sqlite_op_append_new(const struct chatd_send_req *req, chatd_send_cb cb, void *arg,
			 struct sqlite_req **out);
int sqlite_op_direct_new(const char *user_a, const char *user_b, int64_t ts,
			 chatd_conv_cb cb, void *arg, struct sqlite_req **out);
int sqlite_op_group_new(const char *owner, const char *title, const char *const *members,
			size_t n_members, int64_t ts, chatd_conv_cb cb, void *arg,
			struct sqlite_req **out);

/* Moderation ops (ABI 1.1, sqlite_ops_mod.c).  Readers: */
int sqlite_op_audit_list_new(int64_t after_id, int limit, bool newest, chatd_audit_list_cb cb,
			     void *arg, struct sqlite_req **out);
int sqlite_op_mod_item_list_new(int64_t id, const char *status, const char *kind,
				int64_t after_id, int limit, chatd_mod_items_cb cb, void *arg,
				struct sqlite_req **out);
int sqlite_op_sanction_list_new(int64_t now, chatd_sanctions_cb cb, void *arg,
				struct sqlite_req **out);
/* Writers: */
int sqlite_op_audit_append_new(const struct chatd_audit_entry *e, chatd_status_cb cb, void *arg,
			       struct sqlite_req **out);
int sqlite_op_mod_item_add_new(const struct chatd_mod_item *it, chatd_id_cb cb, void *arg,
			       struct sqlite_req **out);
int sqlite_op_mod_item_resolve_new(int64_t id, const char *status, const char *action,
				   const char *actor, const char *note, int64_t ts,
				   chatd_status_cb cb, void *arg, struct sqlite_req **out);
int sqlite_op_set_visibility_new(const char *conversation_id, int64_t seq,
				 const char *visibility, chatd_message_cb cb, void *arg,
				 struct sqlite_req **out);
int sqlite_op_sanction_add_new(const struct chatd_sanction *s, chatd_id_cb cb, void *arg,
			       struct sqlite_req **out);
int sqlite_op_sanction_lift_new(const char *user_id, const char *kind, int64_t ts,
				chatd_status_cb cb, void *arg, struct sqlite_req **out);
int sqlite_op_user_seen_new(const char *user_id, int64_t ts, chatd_id_cb cb, void *arg,
			    struct sqlite_req **out);
/* ABI 1.3, a reader: the users row only (NOT_FOUND when never seen). */
int sqlite_op_user_first_seen_new(const char *user_id, chatd_id_cb cb, void *arg,
				  struct sqlite_req **out);

/* Group ops (ABI 1.2, sqlite_ops_group.c).  Reader: */
int sqlite_op_members_get_new(const char *conversation_id, const char *viewer,
			      const char *const *users, size_t n_users, chatd_conv_get_cb cb,
			      void *arg, struct sqlite_req **out);
/* Writer: */
int sqlite_op_conv_change_new(const struct chatd_conv_change *ch, chatd_conv_change_cb cb,
			      void *arg, struct sqlite_req **out);

/* Message ops (ABI 1.2, sqlite_ops_msg.c).  Reader: */
int sqlite_op_message_get_new(const char *conversation_id, int64_t seq,
			      chatd_message_role_cb cb, void *arg, struct sqlite_req **out);
/* Writers (purge_deleted also makes the writer truncate the WAL after the
 * commit when it erased anything): */
int sqlite_op_message_edit_new(const struct chatd_message_edit *e, chatd_message_cb cb,
			       void *arg, struct sqlite_req **out);
int sqlite_op_message_delete_new(const char *conversation_id, int64_t seq, int64_t ts,
				 chatd_message_cb cb, void *arg, struct sqlite_req **out);
int sqlite_op_message_hide_new(const char *user_id, const char *conversation_id, int64_t seq,
			       chatd_status_cb cb, void *arg, struct sqlite_req **out);
int sqlite_op_purge_deleted_new(int64_t before, chatd_id_cb cb, void *arg,
				struct sqlite_req **out);

/* Rewriting stored texts (ABI 1.5, sqlite_ops_texts.c).  Reader: */
int sqlite_op_texts_scan_new(const char *after, int limit, chatd_texts_cb cb, void *arg,
			     struct sqlite_req **out);
/* Writers (texts_compact also makes the writer truncate the WAL after the
 * commit): */
int sqlite_op_text_replace_new(const char *conversation_id, int64_t seq, const char *expected,
			       const char *text, chatd_status_cb cb, void *arg,
			       struct sqlite_req **out);
int sqlite_op_texts_compact_new(chatd_status_cb cb, void *arg, struct sqlite_req **out);

/* ---- schema (sqlite_schema.c) -------------------------------------- */

/* The newest schema version this code knows. */
#define SQLITE_SCHEMA_VERSION 7

/* Create or migrate the schema of `db` to SQLITE_SCHEMA_VERSION in one
 * transaction.  Returns CHATD_OK; CHATD_ERR_ABI when the file's version is
 * newer than this code (*found says which); CHATD_ERR_IO otherwise.  `err`
 * (errlen bytes) receives a message on failure. */
int sqlite_schema_apply(sqlite3 *db, int *found, char *err, size_t errlen);
/* The same up to version `target` (1..SQLITE_SCHEMA_VERSION; else
 * CHATD_ERR_INVALID): tests build files of an older version with it. */
int sqlite_schema_migrate(sqlite3 *db, int target, int *found, char *err, size_t errlen);

/* ABI 1.3.  Read cursors (sqlite_ops_cursor.c; writer). */
int sqlite_op_cursors_advance_new(const struct chatd_read_cursor *c, size_t n, chatd_id_cb cb,
				  void *arg, struct sqlite_req **out);
/* Media metadata (sqlite_ops_media.c): put, ready, remove on the writer;
 * get, usage, access, orphans on the reader. */
int sqlite_op_media_put_new(const struct chatd_media_row *row, chatd_status_cb cb, void *arg,
			    struct sqlite_req **out);
int sqlite_op_media_get_new(const char *media_id, chatd_media_row_cb cb, void *arg,
			    struct sqlite_req **out);
int sqlite_op_media_ready_new(const char *media_id, const char *hash, bool thumbnail, int64_t ts,
			      chatd_status_cb cb, void *arg, struct sqlite_req **out);
int sqlite_op_media_usage_new(const char *owner_id, int64_t since, chatd_media_usage_cb cb,
			      void *arg, struct sqlite_req **out);
int sqlite_op_media_access_new(const char *media_id, const char *user_id, chatd_id_cb cb,
			       void *arg, struct sqlite_req **out);
int sqlite_op_media_orphans_new(int64_t before, int limit, chatd_media_rows_cb cb, void *arg,
				struct sqlite_req **out);
int sqlite_op_media_remove_new(const char *media_id, chatd_id_cb cb, void *arg,
			       struct sqlite_req **out);

/* ABI 1.4.  Full-text search (sqlite_search.c; reader). */
int sqlite_op_search_new(const struct chatd_search_req *req, chatd_search_cb cb, void *arg,
			 struct sqlite_req **out);
/* The search query (its SQL is also timed by bench/search_bench.c):
 * ?1 FTS5 expression, ?2 limit + 1, ?3 before, ?4 viewer, ?5 conversation
 * or NULL; columns: the message's (sqlite_read_msg), snippet, cursor. */
extern const char sqlite_sql_search[];
/* The FTS5 expression of terms[0..n) into out (sqlite_fts_expr.c) (cap bytes): every word a
 * quoted string, terms joined by AND, a prefix term's string followed by
 * " *".  Returns its length, or -1 (bad terms, or cap too small). */
int sqlite_search_expr(const struct chatd_search_term *terms, size_t n, char *out, size_t cap);

/* ABI 1.4.  Notification mutes (sqlite_ops_notify.c): mute on the writer,
 * targets on the reader. */
int sqlite_op_notify_mute_new(const char *conversation_id, const char *user_id,
			      int64_t muted_until, chatd_status_cb cb, void *arg,
			      struct sqlite_req **out);
int sqlite_op_notify_targets_new(const char *conversation_id, const char *exclude, int64_t now,
				 size_t max, chatd_users_cb cb, void *arg, struct sqlite_req **out);

#endif
