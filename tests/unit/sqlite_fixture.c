/* sqlite_fixture.c — see sqlite_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"

char g_dir[PATH_MAX];
int g_pending;               /* callbacks still expected */

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

int send_async(struct store *s, const char *cid, const char *sender, const char *cmid,
		      const char *text, int64_t ts, struct send_out *out)
{
	struct chatd_send_req req = {
		.conversation_id = cid, .sender_id = sender, .client_message_id = cmid,
		.text = text, .ts = ts,
	};
	memset(out, 0, sizeof(*out));
	out->status = 1;
	int st = s->ops->append(s->inst, &req, send_cb, out);
	if (st == CHATD_OK)
		g_pending++;
	return st;
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
	o->member_count = c->member_count;
	o->last_seq = c->last_seq;
	o->read_seq = c->read_seq;
	o->last_activity = c->last_activity;
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
	for (size_t i = 0; i < n && i < HMAX; i++)
		o->seqs[i] = m[i].seq;
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
		o->total += sc->n_messages;
	}
	g_pending--;
}

int sync_sync(struct store *s, const char *user, const struct chatd_cursor *cur,
		     size_t n_cur, struct sync_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	int st = s->ops->sync(s->inst, user, cur, n_cur, 100, 1000, sync_cb, o);
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

const char *const g_two[] = { "bob" };
