/* pg_ops.h — the storage ops of storage_pg, one function per op of struct
 * chatd_storage_ops (same arguments, the instance being the store).  Each
 * checks every input on the core thread (lengths, ranges: the limits of
 * pg_store.h, as storage_sqlite's), copies what it keeps, and returns
 * CHATD_OK when the op is under way (cb will be called exactly once, later,
 * on the core thread) or a negative status (nothing queued, cb never
 * called): CHATD_ERR_UNAVAILABLE when a shard it needs is not connected.
 *
 * Where the data lives: a conversation's rows (conversation, members,
 * messages, hidden messages, inbox) on pg_shard_of(its id); users,
 * sanctions, audit log, moderation queue, media rows and direct pairs on
 * PG_USER_SHARD.  Ops over several conversations (conv_list, sync,
 * cursors_advance, purge_deleted, media_access, media_orphans, search,
 * messages_latest) ask every shard concerned and merge; they are not one
 * transaction across shards. */
#ifndef PG_OPS_H
#define PG_OPS_H

#include "pg_store.h"

/* pg_ops_msg.c */
int pg_precheck(void *inst, const char *conversation_id, const char *sender_id,
		const char *client_message_id, chatd_precheck_cb cb, void *arg);
int pg_append(void *inst, const struct chatd_send_req *req, chatd_send_cb cb, void *arg);
int pg_history(void *inst, const struct chatd_history_req *req, chatd_history_cb cb, void *arg);
int pg_message_get(void *inst, const char *conversation_id, int64_t seq,
		   chatd_message_role_cb cb, void *arg);
int pg_message_edit(void *inst, const struct chatd_message_edit *e, chatd_message_cb cb,
		    void *arg);
int pg_message_delete(void *inst, const char *conversation_id, int64_t seq, int64_t ts,
		      chatd_message_cb cb, void *arg);
int pg_message_hide(void *inst, const char *user_id, const char *conversation_id, int64_t seq,
		    chatd_status_cb cb, void *arg);
int pg_purge_deleted(void *inst, int64_t before, chatd_id_cb cb, void *arg);
int pg_set_visibility(void *inst, const char *conversation_id, int64_t seq,
		      const char *visibility, chatd_message_cb cb, void *arg);

/* pg_ops_sync.c */
int pg_sync(void *inst, const char *user_id, const struct chatd_cursor *cursors,
	    size_t n_cursors, int per_conv, int total, chatd_sync_cb cb, void *arg);
int pg_conv_list(void *inst, const char *user_id, chatd_conv_list_cb cb, void *arg);

/* pg_ops_conv.c */
int pg_conv_create_direct(void *inst, const char *user_a, const char *user_b, int64_t ts,
			  chatd_conv_cb cb, void *arg);
int pg_conv_create_group(void *inst, const char *owner, const char *title,
			 const char *const *members, size_t n_members, int64_t ts,
			 chatd_conv_cb cb, void *arg);
int pg_conv_get(void *inst, const char *conversation_id, const char *viewer,
		size_t member_offset, size_t member_limit, chatd_conv_get_cb cb, void *arg);
int pg_members_get(void *inst, const char *conversation_id, const char *viewer,
		   const char *const *users, size_t n_users, chatd_conv_get_cb cb, void *arg);
int pg_conv_change(void *inst, const struct chatd_conv_change *ch, chatd_conv_change_cb cb,
		   void *arg);
int pg_cursors_advance(void *inst, const struct chatd_read_cursor *c, size_t n,
		       chatd_id_cb cb, void *arg);

/* pg_ops_mod.c */
int pg_audit_append(void *inst, const struct chatd_audit_entry *e, chatd_status_cb cb,
		    void *arg);
int pg_audit_list(void *inst, int64_t after_id, int limit, bool newest,
		  chatd_audit_list_cb cb, void *arg);
int pg_mod_item_add(void *inst, const struct chatd_mod_item *it, chatd_id_cb cb, void *arg);
int pg_mod_item_list(void *inst, int64_t id, const char *status, const char *kind,
		     int64_t after_id, int limit, chatd_mod_items_cb cb, void *arg);
int pg_mod_item_resolve(void *inst, int64_t id, const char *status, const char *action,
			const char *actor, const char *note, int64_t ts, chatd_status_cb cb,
			void *arg);
int pg_sanction_add(void *inst, const struct chatd_sanction *s, chatd_id_cb cb, void *arg);
int pg_sanction_lift(void *inst, const char *user_id, const char *kind, int64_t ts,
		     chatd_status_cb cb, void *arg);
int pg_sanction_list_active(void *inst, int64_t now, chatd_sanctions_cb cb, void *arg);
int pg_user_seen(void *inst, const char *user_id, int64_t ts, chatd_id_cb cb, void *arg);
int pg_user_first_seen(void *inst, const char *user_id, chatd_id_cb cb, void *arg);

/* pg_ops_media.c */
int pg_media_put(void *inst, const struct chatd_media_row *r, chatd_status_cb cb, void *arg);
int pg_media_get(void *inst, const char *media_id, chatd_media_row_cb cb, void *arg);
int pg_media_ready(void *inst, const char *media_id, const char *hash, bool thumbnail,
		   int64_t ts, chatd_status_cb cb, void *arg);
int pg_media_usage(void *inst, const char *owner_id, int64_t since, chatd_media_usage_cb cb,
		   void *arg);
int pg_media_access(void *inst, const char *media_id, const char *user_id, chatd_id_cb cb,
		    void *arg);
int pg_media_orphans(void *inst, int64_t before, int limit, chatd_media_rows_cb cb, void *arg);
int pg_media_remove(void *inst, const char *media_id, chatd_id_cb cb, void *arg);

/* pg_ops_search.c (ABI 1.4) */
int pg_search(void *inst, const struct chatd_search_req *req, chatd_search_cb cb, void *arg);
int pg_messages_latest(void *inst, int limit, chatd_history_cb cb, void *arg);

/* pg_search_terms.c: terms[0..n) (1..CHATD_SEARCH_TERMS_MAX, each word 1..
 * CHATD_SEARCH_WORD_MAX bytes) as chatd_search's two array parameters, in
 * PostgreSQL's array input syntax: into out a text[] of each term's words
 * joined by one space, every element double-quoted with " and \ escaped
 * (the words stay data: bound, never SQL or tsquery syntax); into prefix a
 * boolean[] of the terms' prefix flags.  Returns strlen(out), or -1 on a
 * bad term or when a buffer is too small (PG_SEARCH_TERMS_LIT and
 * PG_SEARCH_PREFIX_LIT always suffice). */
#define PG_SEARCH_TERMS_LIT \
	(CHATD_SEARCH_TERMS_MAX * (2 * CHATD_SEARCH_WORD_MAX + 1) + 3 * CHATD_SEARCH_TERMS_MAX + 3)
#define PG_SEARCH_PREFIX_LIT (2 * CHATD_SEARCH_TERMS_MAX + 2)
int pg_search_terms(const struct chatd_search_term *terms, size_t n, char *out, size_t cap,
		    char *prefix, size_t pcap);

/* pg_snippet.c: a hit's snippet (about 12 words of `text` around its
 * matches, each matched word between U+0002 and U+0003, "…" where text is
 * cut) into out, from chatd_search's r_marked (`marked`: the text's
 * characters one for one, matched words marked; NULL or out of step: no
 * marks).  cap must be at least pg_snippet_cap().  0, or -1 on OOM or a
 * short buffer. */
size_t pg_snippet_cap(const char *text, const char *marked);
int pg_snippet(const char *text, const char *marked, char *out, size_t cap);

/* pg_ops_notify.c (ABI 1.4) */
int pg_notify_mute_set(void *inst, const char *conversation_id, const char *user_id,
		       int64_t muted_until, chatd_status_cb cb, void *arg);
int pg_notify_targets(void *inst, const char *conversation_id, const char *exclude, int64_t now,
		      size_t max, chatd_users_cb cb, void *arg);

/* pg_ops_texts.c (ABI 1.5; no texts_compact: see there) */
int pg_texts_scan(void *inst, const char *after, int limit, chatd_texts_cb cb, void *arg);
int pg_text_replace(void *inst, const char *conversation_id, int64_t seq, const char *expected,
		    const char *text, chatd_status_cb cb, void *arg);

/* Shared completions (pg_ops_mod.c): ops that answer with a status or an
 * id start with these. */
struct pg_op_status {
	struct pg_op base;
	chatd_status_cb cb;
	void *arg;
};
void pg_fail_status(struct pg_op *op, int status);

struct pg_op_id {
	struct pg_op base;
	chatd_id_cb cb;
	void *arg;
};
void pg_fail_id(struct pg_op *op, int status);

#endif
