/* sqlite_fixture.c — see sqlite_fixture.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
/* sqlite_schema_migrate(): the plugin's sources are linked in. */
#include "../../plugins/storage_sqlite/sqlite_ops.h"

char g_dir[PATH_MAX];
int g_pending;               /* callbacks still expected */

int sqlite_suite_init(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/chatd-sqlite-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(g_dir) ? 0 : -1;
}

int sqlite_suite_clean(void)
{
	DIR *d = opendir(g_dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char path[PATH_MAX + 300];
			snprintf(path, sizeof(path), "%s/%s", g_dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(g_dir);
	return 0;
}

static bool none_pending(void *arg)
{
	return g_pending == 0;
}

bool wait_all(void)
{
	return stub_run_until(none_pending, NULL, WAIT_MS);
}

/* ---- the store under test ----------------------------------------- */


void db_path(char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/%s", g_dir, file);
}

/* Stub host up with path = g_dir/file plus extra key/values. */
void host_up(const char *file, const char *const *extra)
{
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), file);
	CU_ASSERT_FATAL(stub_host_setup(extra) == 0);
	CU_ASSERT_FATAL(stub_host_set("path", path) == 0);
	stub_host_set_schema(chatd_plugin_describe()->options);
	g_pending = 0;
}

int store_open(struct store *s)
{
	s->p = chatd_plugin_describe();
	s->ops = s->p->ops;
	s->inst = NULL;
	return s->p->init(stub_host(), stub_handle(), &s->inst);
}

void store_close(struct store *s)
{
	if (s->inst)
		s->p->fini(s->inst);
	s->inst = NULL;
}

/* ---- callbacks that copy what they are given ----------------------- */


static void send_cb(void *arg, int status, const struct chatd_send_result *res)
{
	struct send_out *o = arg;
	o->status = status;
	if (res) {
		o->seq = res->seq;
		o->ts = res->ts;
		o->dup = res->duplicate;
		snprintf(o->mid, sizeof(o->mid), "%s", res->message_id);
	}
	g_pending--;
}

static int send_req_async(struct store *s, const struct chatd_send_req *req,
			  struct send_out *out)
{
	memset(out, 0, sizeof(*out));
	out->status = 1;
	int st = s->ops->append(s->inst, req, send_cb, out);
	if (st == CHATD_OK)
		g_pending++;
	return st;
}

int send_vis_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		  const char *text, int64_t ts, const char *vis, const char *mod,
		  struct send_out *out)
{
	struct chatd_send_req req = {
		.conversation_id = cid, .sender_id = sender, .client_message_id = cmid,
		.text = text, .ts = ts, .visibility = vis, .moderation = mod,
	};
	int st = send_req_async(s, &req, out);
	if (st < 0)
		return st;
	CU_ASSERT_FATAL(wait_all());
	return out->status;
}

int send_async(struct store *s, const char *cid, const char *sender, const char *cmid,
		      const char *text, int64_t ts, struct send_out *out)
{
	struct chatd_send_req req = {
		.conversation_id = cid, .sender_id = sender, .client_message_id = cmid,
		.text = text, .ts = ts,
	};
	return send_req_async(s, &req, out);
}

int send_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		     const char *text, int64_t ts, struct send_out *out)
{
	int st = send_async(s, cid, sender, cmid, text, ts, out);
	if (st < 0)
		return st;
	CU_ASSERT_FATAL(wait_all());
	return out->status;
}


static void conv_copy(struct conv_out *o, const struct chatd_conversation *c)
{
	snprintf(o->cid, sizeof(o->cid), "%s", c->conversation_id);
	snprintf(o->kind, sizeof(o->kind), "%s", c->kind);
	snprintf(o->role, sizeof(o->role), "%s", c->role ? c->role : "");
	o->has_peer = c->peer_id != NULL;
	snprintf(o->peer, sizeof(o->peer), "%s", c->peer_id ? c->peer_id : "");
	o->has_title = c->title != NULL;
	snprintf(o->title, sizeof(o->title), "%s", c->title ? c->title : "");
	o->has_role = c->role != NULL;
	o->member_count = c->member_count;
	o->last_seq = c->last_seq;
	o->read_seq = c->read_seq;
	o->last_activity = c->last_activity;
	o->muted_until = c->muted_until;
	o->locked = c->locked;
	o->typing = c->typing;
	o->receipts = c->receipts;
}

static void conv_cb(void *arg, int status, const struct chatd_conversation *c, bool created)
{
	struct conv_out *o = arg;
	o->status = status;
	o->created = created;
	if (c)
		conv_copy(o, c);
	g_pending--;
}

int direct_async(struct store *s, const char *a, const char *b, int64_t ts,
			struct conv_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->conv_create_direct(s->inst, a, b, ts, conv_cb, o);
	if (st == CHATD_OK)
		g_pending++;
	return st;
}

int group_sync(struct store *s, const char *owner, const char *title,
		      const char *const *members, size_t n, int64_t ts, struct conv_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->conv_create_group(s->inst, owner, title, members, n, ts, conv_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}


static void hist_cb(void *arg, int status, const struct chatd_message *m, size_t n,
		    bool has_more)
{
	struct hist_out *o = arg;
	o->status = status;
	o->n = n;
	o->has_more = has_more;
	for (size_t i = 0; i < n && i < HMAX; i++) {
		o->seqs[i] = m[i].seq;
		snprintf(o->vis[i], sizeof(o->vis[i]), "%s",
			 m[i].visibility ? m[i].visibility : "");
		o->has_mod[i] = m[i].moderation != NULL;
		o->deleted[i] = m[i].deleted;
		o->has_text[i] = m[i].text != NULL;
		o->has_media[i] = m[i].media_id != NULL;
		o->edited_at[i] = m[i].edited_at;
		snprintf(o->text[i], sizeof(o->text[i]), "%s", m[i].text ? m[i].text : "");
	}
	if (n)
		snprintf(o->first_text, sizeof(o->first_text), "%s", m[0].text ? m[0].text : "");
	g_pending--;
}

int history_sync(struct store *s, const char *cid, const char *viewer, int64_t before,
			int64_t after, int limit, struct hist_out *o)
{
	struct chatd_history_req req = {
		.conversation_id = cid, .user_id = viewer, .before = before, .after = after,
		.limit = limit,
	};
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->history(s->inst, &req, hist_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}

/* The seqs of o are exactly from..to. */
bool seqs_are(const struct hist_out *o, int64_t from, int64_t to)
{
	if (to < from)
		return o->n == 0;
	if (o->n != (size_t)(to - from + 1))
		return false;
	for (size_t i = 0; i < o->n; i++)
		if (o->seqs[i] != from + (int64_t)i)
			return false;
	return true;
}

bool seqs_list(const struct hist_out *h, const int64_t *want, size_t n)
{
	if (h->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (h->seqs[i] != want[i])
			return false;
	return true;
}

static void sync_cb(void *arg, int status, const struct chatd_sync_conv *convs, size_t n,
		    bool has_more)
{
	struct sync_out *o = arg;
	o->status = status;
	o->n = n;
	o->has_more = has_more;
	for (size_t i = 0; i < n && i < SMAX; i++) {
		const struct chatd_sync_conv *sc = &convs[i];
		snprintf(o->c[i].cid, sizeof(o->c[i].cid), "%s", sc->conv->conversation_id);
		o->c[i].n = sc->n_messages;
		o->c[i].has_more = sc->has_more;
		o->c[i].last_seq = sc->conv->last_seq;
		o->c[i].read_seq = sc->conv->read_seq;
		o->c[i].first = sc->n_messages ? sc->messages[0].seq : 0;
		o->c[i].last = sc->n_messages ? sc->messages[sc->n_messages - 1].seq : 0;
		o->c[i].ascending = true;
		for (size_t j = 1; j < sc->n_messages; j++)
			if (sc->messages[j].seq != sc->messages[j - 1].seq + 1)
				o->c[i].ascending = false;
		o->c[i].vis_set = true;
		for (size_t j = 0; j < sc->n_messages; j++) {
			const char *v = sc->messages[j].visibility;
			if (!v)
				o->c[i].vis_set = false;
			else if (strcmp(v, CHATD_VIS_NORMAL) != 0)
				o->c[i].not_normal++;
		}
		o->total += sc->n_messages;
	}
	g_pending--;
}

int sync_sync(struct store *s, const char *user, const struct chatd_cursor *cur,
		     size_t n_cur, struct sync_out *o)
{
	return sync_caps_sync(s, user, cur, n_cur, 100, 1000, o);
}

int sync_caps_sync(struct store *s, const char *user, const struct chatd_cursor *cur,
		   size_t n_cur, int per_conv, int total, struct sync_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->sync(s->inst, user, cur, n_cur, per_conv, total, sync_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}


static void list_cb(void *arg, int status, const struct chatd_conversation *items, size_t n)
{
	struct list_out *o = arg;
	o->status = status;
	o->n = n;
	for (size_t i = 0; i < n && i < SMAX; i++) {
		snprintf(o->cids[i], sizeof(o->cids[i]), "%s", items[i].conversation_id);
		snprintf(o->roles[i], sizeof(o->roles[i]), "%s", items[i].role ? items[i].role : "");
	}
	g_pending--;
}

int list_sync(struct store *s, const char *user, struct list_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->conv_list(s->inst, user, list_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}


static void get_cb(void *arg, int status, const struct chatd_conversation *c,
		   const struct chatd_member *m, size_t n)
{
	struct get_out *o = arg;
	o->status = status;
	o->n = n;
	if (c)
		conv_copy(&o->conv, c);
	for (size_t i = 0; i < n && i < SMAX; i++) {
		snprintf(o->users[i], sizeof(o->users[i]), "%s", m[i].user_id);
		snprintf(o->roles[i], sizeof(o->roles[i]), "%s", m[i].role);
		o->joined_at[i] = m[i].joined_at;
		o->muted_until[i] = m[i].muted_until;
		o->read_seq[i] = m[i].read_seq;
	}
	g_pending--;
}

int get_sync(struct store *s, const char *cid, const char *viewer, size_t off,
		    size_t lim, struct get_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->conv_get(s->inst, cid, viewer, off, lim, get_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}


static void pre_cb(void *arg, int status, const struct chatd_send_result *dup,
		   const struct chatd_conversation *conv, const struct chatd_member *self)
{
	struct pre_out *o = arg;
	o->status = status;
	o->has_dup = dup != NULL;
	o->dup_seq = dup ? dup->seq : 0;
	o->has_conv = conv != NULL;
	o->has_self = self != NULL;
	snprintf(o->role, sizeof(o->role), "%s", self ? self->role : "");
	g_pending--;
}

int pre_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		    struct pre_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->precheck(s->inst, cid, sender, cmid, pre_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}

/* A scalar query on the file with a connection of the test's own. */
int64_t sql_int(const char *file, const char *sql)
{
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), file);
	sqlite3 *db = NULL;
	int64_t v = -1;
	sqlite3_stmt *st = NULL;
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		else if (rc == SQLITE_DONE)
			v = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

int64_t conv_int(const char *file, const char *fmt, const char *cid)
{
	char sql[512];
	snprintf(sql, sizeof(sql), fmt, cid);
	return sql_int(file, sql);
}

int sql_exec(const char *file, const char *sql)
{
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), file);
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

int schema_at(const char *file, int version)
{
	char path[PATH_MAX + 64], err[256];
	db_path(path, sizeof(path), file);
	sqlite3 *db = NULL;
	int found = 0, st = CHATD_ERR_IO;
	if (sqlite3_open(path, &db) == SQLITE_OK)
		st = sqlite_schema_migrate(db, version, &found, err, sizeof(err));
	sqlite3_close(db);
	return st;
}

const char *const g_two[] = { "bob" };

/* ---- ABI 1.1 ops --------------------------------------------------- */

/* The op's refusal, or the callback's status once the loop ran it. */
static int finish(int queued, const int *status)
{
	if (queued < 0)
		return queued;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return *status;
}

static int queue_only(int queued)
{
	if (queued == CHATD_OK)
		g_pending++;
	return queued;
}

static void st_cb(void *arg, int status)
{
	((struct st_out *)arg)->status = status;
	g_pending--;
}

static void id_cb(void *arg, int status, int64_t id)
{
	struct id_out *o = arg;
	o->status = status;
	o->id = id;
	g_pending--;
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

static void audit_cb(void *arg, int status, const struct chatd_audit_entry *e, size_t n)
{
	struct audit_out *o = arg;
	o->status = status;
	o->n = n;
	for (size_t i = 0; i < n && i < AMAX; i++) {
		o->ids[i] = e[i].id;
		o->ts[i] = e[i].ts;
		COPY(o->hash[i], e[i].hash);
		COPY(o->actor[i], e[i].actor);
		COPY(o->subject[i], e[i].subject);
		COPY(o->detail[i], e[i].detail);
	}
	g_pending--;
}

static void items_cb(void *arg, int status, const struct chatd_mod_item *it, size_t n)
{
	struct items_out *o = arg;
	o->status = status;
	o->n = n;
	for (size_t i = 0; i < n && i < AMAX; i++) {
		o->ids[i] = it[i].id;
		COPY(o->kind[i], it[i].kind);
		COPY(o->item_status[i], it[i].status);
	}
	if (n) {
		COPY(o->first.cid, it->conversation_id);
		COPY(o->first.subject, it->subject_id);
		COPY(o->first.filed_by, it->filed_by);
		COPY(o->first.reason, it->reason);
		COPY(o->first.note, it->note);
		COPY(o->first.detail, it->detail);
		COPY(o->first.key, it->dedupe_key);
		COPY(o->first.actor, it->actor);
		COPY(o->first.action, it->action);
		COPY(o->first.res_note, it->resolution_note);
		o->first.has_cid = it->conversation_id != NULL;
		o->first.has_note = it->note != NULL;
		o->first.has_detail = it->detail != NULL;
		o->first.has_key = it->dedupe_key != NULL;
		o->first.has_actor = it->actor != NULL;
		o->first.has_action = it->action != NULL;
		o->first.has_res_note = it->resolution_note != NULL;
		o->first.seq = it->seq;
		o->first.created_at = it->created_at;
		o->first.resolved_at = it->resolved_at;
	}
	g_pending--;
}

static void sanctions_cb(void *arg, int status, const struct chatd_sanction *sa, size_t n)
{
	struct sanctions_out *o = arg;
	o->status = status;
	o->n = n;
	for (size_t i = 0; i < n && i < AMAX; i++) {
		o->ids[i] = sa[i].id;
		o->until[i] = sa[i].until;
		o->created_at[i] = sa[i].created_at;
		o->lifted_at[i] = sa[i].lifted_at;
		COPY(o->user[i], sa[i].user_id);
		COPY(o->kind[i], sa[i].kind);
		COPY(o->reason[i], sa[i].reason);
		COPY(o->actor[i], sa[i].actor);
	}
	g_pending--;
}

static void msg_cb(void *arg, int status, const struct chatd_message *m)
{
	struct msg_out *o = arg;
	o->status = status;
	o->has_msg = m != NULL;
	if (m) {
		o->seq = m->seq;
		COPY(o->sender, m->sender_id);
		COPY(o->vis, m->visibility);
		COPY(o->text, m->text);
		COPY(o->mod, m->moderation);
		o->has_mod = m->moderation != NULL;
		o->has_text = m->text != NULL;
		o->has_media = m->media_id != NULL;
		COPY(o->media, m->media_id);
		o->deleted = m->deleted;
		o->edited_at = m->edited_at;
		o->ts = m->ts;
	}
	g_pending--;
}

int audit_append_async(struct store *s, const struct chatd_audit_entry *e, struct st_out *o)
{
	o->status = 1;
	return queue_only(s->ops->audit_append(s->inst, e, st_cb, o));
}

int audit_append_sync(struct store *s, const struct chatd_audit_entry *e, struct st_out *o)
{
	o->status = 1;
	return finish(s->ops->audit_append(s->inst, e, st_cb, o), &o->status);
}

int audit_list_sync(struct store *s, int64_t after, int limit, bool newest, struct audit_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->audit_list(s->inst, after, limit, newest, audit_cb, o), &o->status);
}

int item_add_async(struct store *s, const struct chatd_mod_item *it, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	return queue_only(s->ops->mod_item_add(s->inst, it, id_cb, o));
}

int item_add_sync(struct store *s, const struct chatd_mod_item *it, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	return finish(s->ops->mod_item_add(s->inst, it, id_cb, o), &o->status);
}

int item_list_sync(struct store *s, int64_t id, const char *status, const char *kind,
		   int64_t after, int limit, struct items_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->mod_item_list(s->inst, id, status, kind, after, limit, items_cb, o),
		      &o->status);
}

int item_resolve_sync(struct store *s, int64_t id, const char *status, const char *action,
		      const char *actor, const char *note, int64_t ts, struct st_out *o)
{
	o->status = 1;
	return finish(s->ops->mod_item_resolve(s->inst, id, status, action, actor, note, ts,
					       st_cb, o), &o->status);
}

int set_vis_sync(struct store *s, const char *cid, int64_t seq, const char *vis,
		 struct msg_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->message_set_visibility(s->inst, cid, seq, vis, msg_cb, o),
		      &o->status);
}

int sanction_add_sync(struct store *s, const struct chatd_sanction *sa, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	return finish(s->ops->sanction_add(s->inst, sa, id_cb, o), &o->status);
}

int sanction_lift_sync(struct store *s, const char *user, const char *kind, int64_t ts,
		       struct st_out *o)
{
	o->status = 1;
	return finish(s->ops->sanction_lift(s->inst, user, kind, ts, st_cb, o), &o->status);
}

int sanctions_sync(struct store *s, int64_t now, struct sanctions_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->sanction_list_active(s->inst, now, sanctions_cb, o), &o->status);
}

int user_seen_async(struct store *s, const char *user, int64_t ts, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	return queue_only(s->ops->user_seen(s->inst, user, ts, id_cb, o));
}

int user_seen_sync(struct store *s, const char *user, int64_t ts, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	return finish(s->ops->user_seen(s->inst, user, ts, id_cb, o), &o->status);
}

/* ---- ABI 1.2 ops --------------------------------------------------- */

int send_req_sync(struct store *s, const struct chatd_send_req *req, struct send_out *out)
{
	int st = send_req_async(s, req, out);
	if (st < 0)
		return st;
	CU_ASSERT_FATAL(wait_all());
	return out->status;
}

int send_inbox_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		    const char *text, int64_t ts, bool inbox, struct send_out *out)
{
	struct chatd_send_req req = {
		.conversation_id = cid, .sender_id = sender, .client_message_id = cmid,
		.text = text, .ts = ts, .inbox = inbox,
	};
	return send_req_sync(s, &req, out);
}

static void change_cb(void *arg, int status, const struct chatd_conv_change_result *res)
{
	struct change_out *o = arg;
	o->status = status;
	o->has_res = res != NULL;
	if (res) {
		o->has_conv = res->conv != NULL;
		if (res->conv)
			conv_copy(&o->conv, res->conv);
		o->n_users = res->n_users;
		for (size_t i = 0; i < res->n_users && i < SMAX; i++)
			COPY(o->users[i], res->users[i]);
		o->has_new_owner = res->new_owner != NULL;
		COPY(o->new_owner, res->new_owner);
	}
	g_pending--;
}

int change_async(struct store *s, const struct chatd_conv_change *ch, struct change_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return queue_only(s->ops->conv_change(s->inst, ch, change_cb, o));
}

int change_sync(struct store *s, const struct chatd_conv_change *ch, struct change_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->conv_change(s->inst, ch, change_cb, o), &o->status);
}

struct chatd_conv_change change(int kind, const char *cid, const char *actor)
{
	return (struct chatd_conv_change){
		.kind = kind, .conversation_id = cid, .actor = actor,
		.locked = -1, .typing = -1, .receipts = -1, .ts = 500,
	};
}

/* kind on users[0] = user (REMOVE, ROLE, MUTE). */
int on_user(struct store *s, int kind, const char *cid, const char *actor,
	    const char *user, const char *role, struct change_out *o)
{
	const char *u[] = { user };
	struct chatd_conv_change ch = change(kind, cid, actor);
	ch.users = u;
	ch.n_users = 1;
	ch.role = role;
	return change_sync(s, &ch, o);
}

int leave(struct store *s, const char *cid, const char *actor, struct change_out *o)
{
	struct chatd_conv_change ch = change(CHATD_CHANGE_LEAVE, cid, actor);
	return change_sync(s, &ch, o);
}

int members_sync(struct store *s, const char *cid, const char *viewer,
		 const char *const *users, size_t n, struct get_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->members_get(s->inst, cid, viewer, users, n, get_cb, o), &o->status);
}

static void msg_role_cb(void *arg, int status, const struct chatd_message *m, const char *role)
{
	struct msg_out *o = arg;
	o->has_role = role != NULL;
	COPY(o->role, role);
	msg_cb(arg, status, m);
}

int msg_get_sync(struct store *s, const char *cid, int64_t seq, struct msg_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->message_get(s->inst, cid, seq, msg_role_cb, o), &o->status);
}

int edit_sync(struct store *s, const struct chatd_message_edit *e, struct msg_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->message_edit(s->inst, e, msg_cb, o), &o->status);
}

int delete_sync(struct store *s, const char *cid, int64_t seq, int64_t ts, struct msg_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->message_delete(s->inst, cid, seq, ts, msg_cb, o), &o->status);
}

int hide_sync(struct store *s, const char *user, const char *cid, int64_t seq,
	      struct st_out *o)
{
	o->status = 1;
	return finish(s->ops->message_hide(s->inst, user, cid, seq, st_cb, o), &o->status);
}

int purge_sync(struct store *s, int64_t before, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	return finish(s->ops->purge_deleted(s->inst, before, id_cb, o), &o->status);
}

bool file_contains(const char *file, const char *needle)
{
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), file);
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t cap = 1 << 16, len = 0, nl = strlen(needle);
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	CU_ASSERT_FATAL(buf != NULL);
	bool found = nl <= len && memmem(buf, len, needle, nl) != NULL;
	free(buf);
	return found;
}
