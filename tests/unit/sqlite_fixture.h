/* sqlite_fixture.h — the storage_sqlite plugin under test: open a store on
 * a real file in the suite's temporary directory, and call every op
 * synchronously (the stub host's loop runs until the callback has copied
 * its results).  Used by test_storage_sqlite.c, test_storage_sqlite_mod.c,
 * test_storage_groups.c and test_storage_messages.c. */
#ifndef CHATD_SQLITE_FIXTURE_H
#define CHATD_SQLITE_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chatd/plugin.h"
#include "chatd/storage.h"

const struct chatd_plugin *chatd_plugin_describe(void);

#define WAIT_MS 30000
#define HMAX 256
#define SMAX 32
#define AMAX 64          /* audit entries, mod items, sanctions kept by the outs */

extern char g_dir[PATH_MAX];     /* the suite's mkdtemp directory */
extern int g_pending;            /* callbacks still expected */
extern const char *const g_two[]; /* { "bob" } */

struct store {
	const struct chatd_plugin *p;
	const struct chatd_storage_ops *ops;
	void *inst;
};

struct send_out {
	int status;
	int64_t seq, ts;
	char mid[64];
	bool dup;
};

struct conv_out {
	int status;
	bool created;
	char cid[32], kind[16], role[16], peer[64], title[64];
	int64_t member_count, last_seq, read_seq, last_activity, muted_until;
	bool has_peer, has_title, has_role;
	bool locked, typing, receipts;
};

struct hist_out {
	int status;
	size_t n;
	int64_t seqs[HMAX];
	char vis[HMAX][12];      /* "" when NULL */
	bool has_mod[HMAX];      /* moderation != NULL */
	char first_text[32];
	bool has_more;
	/* ABI 1.2 */
	bool deleted[HMAX], has_text[HMAX], has_media[HMAX];
	char text[HMAX][24];     /* "" when NULL */
	int64_t edited_at[HMAX];
};

struct sync_out {
	int status;
	size_t n;
	bool has_more;
	size_t total;
	struct {
		char cid[32];
		size_t n;
		int64_t first, last, last_seq, read_seq;
		bool has_more, ascending;
		size_t not_normal;   /* messages whose visibility is not "normal" */
		bool vis_set;        /* every message has a visibility */
	} c[SMAX];
};

struct list_out {
	int status;
	size_t n;
	char cids[SMAX][32];
	char roles[SMAX][16];
};

struct get_out {
	int status;
	struct conv_out conv;
	size_t n;
	char users[SMAX][16];
	char roles[SMAX][16];
	int64_t joined_at[SMAX], muted_until[SMAX], read_seq[SMAX];
};

struct pre_out {
	int status;
	bool has_dup, has_conv, has_self;
	int64_t dup_seq;
	char role[16];
};

/* ABI 1.1 outs. */
struct st_out {
	int status;
};

struct id_out {
	int status;
	int64_t id;
};

struct msg_out {
	int status;
	int64_t seq;
	char sender[16], vis[12], text[32], mod[64];
	bool has_msg, has_mod;
	/* ABI 1.2 */
	bool has_text, has_media, deleted, has_role;
	char media[32], role[16];  /* role: message_get's sender_role */
	int64_t edited_at, ts;
};

struct audit_out {
	int status;
	size_t n;
	int64_t ids[AMAX], ts[AMAX];
	char hash[AMAX][68], actor[AMAX][80], subject[AMAX][16], detail[AMAX][32];
};

struct items_out {
	int status;
	size_t n;
	int64_t ids[AMAX];
	char kind[AMAX][8], item_status[AMAX][12];
	struct {             /* everything of the first item */
		char cid[32], subject[16], filed_by[80], reason[16], note[32], detail[32],
		     key[64], actor[16], action[16], res_note[32];
		bool has_cid, has_note, has_detail, has_key, has_actor, has_action, has_res_note;
		int64_t seq, created_at, resolved_at;
	} first;
};

struct sanctions_out {
	int status;
	size_t n;
	int64_t ids[AMAX], until[AMAX], created_at[AMAX], lifted_at[AMAX];
	char user[AMAX][16], kind[AMAX][8], reason[AMAX][16], actor[AMAX][16];
};

/* CUnit suite init/clean: a fresh mkdtemp directory in g_dir ($TMPDIR or
 * /tmp), removed with its files. */
int sqlite_suite_init(void);
int sqlite_suite_clean(void);

/* conv_change's result (ABI 1.2). */
struct change_out {
	int status;
	bool has_res, has_conv, has_new_owner;
	struct conv_out conv;
	size_t n_users;
	char users[SMAX][16];
	char new_owner[16];
};

bool wait_all(void);
void db_path(char *buf, size_t len, const char *file);
void host_up(const char *file, const char *const *extra);
int store_open(struct store *s);
void store_close(struct store *s);
int send_async(struct store *s, const char *cid, const char *sender, const char *cmid,
		      const char *text, int64_t ts, struct send_out *out);
int send_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		     const char *text, int64_t ts, struct send_out *out);
/* A send with visibility and moderation (ABI 1.1); NULLs as in the request. */
int send_vis_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		  const char *text, int64_t ts, const char *vis, const char *mod,
		  struct send_out *out);
int direct_async(struct store *s, const char *a, const char *b, int64_t ts,
			struct conv_out *o);
int group_sync(struct store *s, const char *owner, const char *title,
		      const char *const *members, size_t n, int64_t ts, struct conv_out *o);
int history_sync(struct store *s, const char *cid, const char *viewer, int64_t before,
			int64_t after, int limit, struct hist_out *o);
bool seqs_are(const struct hist_out *o, int64_t from, int64_t to);
/* The seqs of h are exactly want[0..n). */
bool seqs_list(const struct hist_out *h, const int64_t *want, size_t n);
int sync_sync(struct store *s, const char *user, const struct chatd_cursor *cur,
		     size_t n_cur, struct sync_out *o);
int sync_caps_sync(struct store *s, const char *user, const struct chatd_cursor *cur,
		   size_t n_cur, int per_conv, int total, struct sync_out *o);
int list_sync(struct store *s, const char *user, struct list_out *o);
int get_sync(struct store *s, const char *cid, const char *viewer, size_t off,
		    size_t lim, struct get_out *o);
int pre_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		    struct pre_out *o);
int64_t sql_int(const char *file, const char *sql);
/* A scalar query about conversation cid: sql with one %s for it. */
int64_t conv_int(const char *file, const char *fmt, const char *cid);
/* Run sql on the file with a connection of the test's own: SQLITE_OK or not. */
int sql_exec(const char *file, const char *sql);
/* Create (or migrate) the file at schema `version` with the plugin's own
 * migrations, without the plugin: the old files an upgrade starts from. */
int schema_at(const char *file, int version);

/* ABI 1.1 ops.  *_sync: queue, run the loop until the callback ran, and
 * return its status (or the op's refusal, then nothing was queued).
 * *_async: queue only (g_pending counts it); wait_all() runs them. */
int audit_append_async(struct store *s, const struct chatd_audit_entry *e, struct st_out *o);
int audit_append_sync(struct store *s, const struct chatd_audit_entry *e, struct st_out *o);
int audit_list_sync(struct store *s, int64_t after, int limit, bool newest, struct audit_out *o);
int item_add_async(struct store *s, const struct chatd_mod_item *it, struct id_out *o);
int item_add_sync(struct store *s, const struct chatd_mod_item *it, struct id_out *o);
int item_list_sync(struct store *s, int64_t id, const char *status, const char *kind,
		   int64_t after, int limit, struct items_out *o);
int item_resolve_sync(struct store *s, int64_t id, const char *status, const char *action,
		      const char *actor, const char *note, int64_t ts, struct st_out *o);
int set_vis_sync(struct store *s, const char *cid, int64_t seq, const char *vis,
		 struct msg_out *o);
int sanction_add_sync(struct store *s, const struct chatd_sanction *sa, struct id_out *o);
int sanction_lift_sync(struct store *s, const char *user, const char *kind, int64_t ts,
		       struct st_out *o);
int sanctions_sync(struct store *s, int64_t now, struct sanctions_out *o);
int user_seen_async(struct store *s, const char *user, int64_t ts, struct id_out *o);
int user_seen_sync(struct store *s, const char *user, int64_t ts, struct id_out *o);

/* ABI 1.2 ops, the same way. */
int send_req_sync(struct store *s, const struct chatd_send_req *req, struct send_out *out);
/* A plain text send with inbox set or not. */
int send_inbox_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		    const char *text, int64_t ts, bool inbox, struct send_out *out);
int change_async(struct store *s, const struct chatd_conv_change *ch, struct change_out *o);
int change_sync(struct store *s, const struct chatd_conv_change *ch, struct change_out *o);
/* A conv_change of kind by actor on cid with nothing else given (locked,
 * typing, receipts -1) at ts 500. */
struct chatd_conv_change change(int kind, const char *cid, const char *actor);
/* kind on users[0] = user (REMOVE, ROLE, MUTE). */
int on_user(struct store *s, int kind, const char *cid, const char *actor,
	    const char *user, const char *role, struct change_out *o);
/* actor leaves cid. */
int leave(struct store *s, const char *cid, const char *actor, struct change_out *o);
int members_sync(struct store *s, const char *cid, const char *viewer,
		 const char *const *users, size_t n, struct get_out *o);
int msg_get_sync(struct store *s, const char *cid, int64_t seq, struct msg_out *o);
int edit_sync(struct store *s, const struct chatd_message_edit *e, struct msg_out *o);
int delete_sync(struct store *s, const char *cid, int64_t seq, int64_t ts, struct msg_out *o);
int hide_sync(struct store *s, const char *user, const char *cid, int64_t seq,
	      struct st_out *o);
int purge_sync(struct store *s, int64_t before, struct id_out *o);
/* g_dir/file holds the bytes of needle somewhere (false when there is no
 * such file). */
bool file_contains(const char *file, const char *needle);

#endif
