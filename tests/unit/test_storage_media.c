/* test_storage_media.c — the sqlite storage plugin's media ops (ABI 1.3:
 * media_put/get/ready/usage/access/orphans/remove), the media fields every
 * message read fills, and the migration from schema 3, against real
 * database files (store helpers in sqlite_fixture.c; the media ones here). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
#include "unit.h"
/* The plugin's limits (its sources are linked in). */
#include "../../plugins/storage_sqlite/sqlite_ops.h"

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ---- media op helpers: queue, run the loop, return the status ------- */

struct row_out {
	int status;
	bool has_row, has_name, has_hash, thumbnail;
	char id[160], owner[80], mime[300], name[64], hash[160];
	int64_t size, created_at, ready_at;
};

struct rows_out {
	int status;
	size_t n;
	char ids[AMAX][32];
};

struct usage_out {
	int status;
	int64_t bytes, count;
};

/* The op's refusal, or the callback's status once the loop ran it. */
static int finish(int queued, const int *status)
{
	if (queued < 0)
		return queued;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return *status;
}

static void st_cb(void *arg, int status)
{
	*(int *)arg = status;
	g_pending--;
}

static void id_cb(void *arg, int status, int64_t id)
{
	struct id_out *o = arg;
	o->status = status;
	o->id = id;
	g_pending--;
}

static void row_cb(void *arg, int status, const struct chatd_media_row *r)
{
	struct row_out *o = arg;
	o->status = status;
	o->has_row = r != NULL;
	if (r) {
		COPY(o->id, r->media_id);
		COPY(o->owner, r->owner_id);
		COPY(o->mime, r->mime);
		COPY(o->name, r->name);
		COPY(o->hash, r->hash);
		o->has_name = r->name != NULL;
		o->has_hash = r->hash != NULL;
		o->thumbnail = r->thumbnail;
		o->size = r->size;
		o->created_at = r->created_at;
		o->ready_at = r->ready_at;
	}
	g_pending--;
}

static void rows_cb(void *arg, int status, const struct chatd_media_row *r, size_t n)
{
	struct rows_out *o = arg;
	o->status = status;
	o->n = n;
	for (size_t i = 0; i < n && i < AMAX; i++)
		COPY(o->ids[i], r[i].media_id);
	g_pending--;
}

static void usage_cb(void *arg, int status, int64_t bytes, int64_t count)
{
	struct usage_out *o = arg;
	o->status = status;
	o->bytes = bytes;
	o->count = count;
	g_pending--;
}

static struct chatd_media_row row_of(const char *id, const char *owner, int64_t size,
				     int64_t created_at)
{
	return (struct chatd_media_row){
		.media_id = id, .owner_id = owner, .mime = "image/png", .name = "cat.png",
		.size = size, .created_at = created_at,
	};
}

static int put_sync(struct store *s, const struct chatd_media_row *r)
{
	int status = 1;
	return finish(s->ops->media_put(s->inst, r, st_cb, &status), &status);
}

static int put_new(struct store *s, const char *id, const char *owner, int64_t size,
		   int64_t created_at)
{
	struct chatd_media_row r = row_of(id, owner, size, created_at);
	return put_sync(s, &r);
}

static int mrow_sync(struct store *s, const char *id, struct row_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->media_get(s->inst, id, row_cb, o), &o->status);
}

static int ready_sync(struct store *s, const char *id, const char *hash, bool thumb, int64_t ts)
{
	int status = 1;
	return finish(s->ops->media_ready(s->inst, id, hash, thumb, ts, st_cb, &status), &status);
}

static int usage_sync(struct store *s, const char *owner, int64_t since, struct usage_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->media_usage(s->inst, owner, since, usage_cb, o), &o->status);
}

/* 1, 0, or a negative status. */
static int64_t access_sync(struct store *s, const char *id, const char *user)
{
	struct id_out o = { .status = 1, .id = -1 };
	int st = finish(s->ops->media_access(s->inst, id, user, id_cb, &o), &o.status);
	return st < 0 ? st : o.id;
}

static int orphans_sync(struct store *s, int64_t before, int limit, struct rows_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->media_orphans(s->inst, before, limit, rows_cb, o), &o->status);
}

static int remove_sync(struct store *s, const char *id, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	return finish(s->ops->media_remove(s->inst, id, id_cb, o), &o->status);
}

static int send_media(struct store *s, const char *cid, const char *sender, const char *cmid,
		      const char *media_id, const char *vis, struct send_out *o)
{
	struct chatd_send_req req = {
		.conversation_id = cid, .sender_id = sender, .client_message_id = cmid,
		.text = "caption", .media_id = media_id, .ts = 100, .visibility = vis,
	};
	return send_req_sync(s, &req, o);
}

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	CU_ASSERT_FATAL(s != NULL);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- what messages carry ------------------------------------------- */

/* The media fields of one message as read. */
struct mmedia {
	bool has_media, has_mime, thumb;
	char media[32], mime[32];
	int64_t size;
};

static void copy_media(struct mmedia *o, const struct chatd_message *m)
{
	o->has_media = m->media_id != NULL;
	o->has_mime = m->media_mime != NULL;
	COPY(o->media, m->media_id);
	COPY(o->mime, m->media_mime);
	o->size = m->media_size;
	o->thumb = m->media_thumbnail;
}

struct mlist_out {
	int status;
	size_t n;
	struct mmedia m[16];
};

static void hist_cb(void *arg, int status, const struct chatd_message *msgs, size_t n,
		    bool more)
{
	(void)more;
	struct mlist_out *o = arg;
	o->status = status;
	o->n = n;
	for (size_t i = 0; i < n && i < 16; i++)
		copy_media(&o->m[i], &msgs[i]);
	g_pending--;
}

static void sync_cb(void *arg, int status, const struct chatd_sync_conv *convs, size_t n,
		    bool more)
{
	(void)more;
	struct mlist_out *o = arg;
	o->status = status;
	o->n = 0;
	for (size_t c = 0; c < n; c++)
		for (size_t i = 0; i < convs[c].n_messages && o->n < 16; i++)
			copy_media(&o->m[o->n++], &convs[c].messages[i]);
	g_pending--;
}

struct one_out {
	int status;
	struct mmedia m;
};

static void one_cb(void *arg, int status, const struct chatd_message *m)
{
	struct one_out *o = arg;
	o->status = status;
	if (m)
		copy_media(&o->m, m);
	g_pending--;
}

static void one_role_cb(void *arg, int status, const struct chatd_message *m, const char *role)
{
	(void)role;
	one_cb(arg, status, m);
}

static int mhistory(struct store *s, const char *cid, const char *viewer, struct mlist_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	struct chatd_history_req req = {
		.conversation_id = cid, .user_id = viewer, .before = 0, .after = -1, .limit = 50,
	};
	return finish(s->ops->history(s->inst, &req, hist_cb, o), &o->status);
}

static int msync(struct store *s, const char *user, struct mlist_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->sync(s->inst, user, NULL, 0, 100, 1000, sync_cb, o), &o->status);
}

static int mget(struct store *s, const char *cid, int64_t seq, struct one_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(s->ops->message_get(s->inst, cid, seq, one_role_cb, o), &o->status);
}

static bool is_media(const struct mmedia *m, const char *id, const char *mime, int64_t size,
		     bool thumb)
{
	return m->has_media && strcmp(m->media, id) == 0 && m->has_mime &&
	       strcmp(m->mime, mime) == 0 && m->size == size && m->thumb == thumb;
}

/* No media row: the id (when given) without mime, size or thumbnail. */
static bool is_bare(const struct mmedia *m, const char *id)
{
	if (id ? (!m->has_media || strcmp(m->media, id) != 0) : m->has_media)
		return false;
	return !m->has_mime && m->size == 0 && !m->thumb;
}

/* EXPLAIN QUERY PLAN of sql on file mentions index. */
static bool plan_uses(const char *file, const char *sql, const char *index)
{
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), file);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char q[2048];
	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	bool found = false;
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *d = sqlite3_column_text(st, 3);
			if (d && strstr((const char *)d, index))
				found = true;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return found;
}

/* ---- tests --------------------------------------------------------- */

static void test_media_put_get(void)
{
	struct store s;
	struct row_out g;
	host_up("media_put.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);

	CU_ASSERT(put_new(&s, "f1", "alice", 48213, 1000) == CHATD_OK);
	CU_ASSERT(mrow_sync(&s, "f1", &g) == CHATD_OK && g.has_row);
	CU_ASSERT(strcmp(g.id, "f1") == 0 && strcmp(g.owner, "alice") == 0);
	CU_ASSERT(strcmp(g.mime, "image/png") == 0 && strcmp(g.name, "cat.png") == 0);
	CU_ASSERT(g.size == 48213 && g.created_at == 1000);
	CU_ASSERT(!g.has_hash && !g.thumbnail && g.ready_at == 0);   /* pending */
	/* No name; a size of 0. */
	struct chatd_media_row r = row_of("f2", "bob", 0, 1001);
	r.name = NULL;
	CU_ASSERT(put_sync(&s, &r) == CHATD_OK);
	CU_ASSERT(mrow_sync(&s, "f2", &g) == CHATD_OK && !g.has_name && g.size == 0);

	/* The id is taken, whoever asks; the row is unchanged. */
	CU_ASSERT(put_new(&s, "f1", "mallory", 1, 2000) == CHATD_ERR_EXISTS);
	CU_ASSERT(mrow_sync(&s, "f1", &g) == CHATD_OK && strcmp(g.owner, "alice") == 0);
	CU_ASSERT(mrow_sync(&s, "nope", &g) == CHATD_ERR_NOT_FOUND && !g.has_row);

	/* Inputs: every limit exactly, then one over. */
	char *id = repeat('i', SQLITE_MEDIA_ID_MAX), *owner = repeat('o', CHATD_ID_MAX);
	char *mime = repeat('m', SQLITE_MIME_MAX), *name = repeat('n', SQLITE_MEDIA_NAME_MAX);
	r = (struct chatd_media_row){ .media_id = id, .owner_id = owner, .mime = mime,
				      .name = name, .size = 5, .created_at = 7 };
	CU_ASSERT(put_sync(&s, &r) == CHATD_OK);
	CU_ASSERT(mrow_sync(&s, id, &g) == CHATD_OK && strlen(g.owner) == CHATD_ID_MAX &&
		  strlen(g.mime) == SQLITE_MIME_MAX);
	free(id);
	free(owner);
	free(mime);
	free(name);
	const size_t over[] = { SQLITE_MEDIA_ID_MAX + 1, CHATD_ID_MAX + 1, SQLITE_MIME_MAX + 1,
				SQLITE_MEDIA_NAME_MAX + 1 };
	for (size_t f = 0; f < 4; f++) {
		char *big = repeat('x', over[f]);
		r = row_of("fbig", "alice", 5, 7);
		if (f == 0) r.media_id = big;
		if (f == 1) r.owner_id = big;
		if (f == 2) r.mime = big;
		if (f == 3) r.name = big;
		CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
		if (f == 0)
			CU_ASSERT(mrow_sync(&s, big, &g) == CHATD_ERR_INVALID);
		free(big);
	}
	CU_ASSERT(put_sync(&s, NULL) == CHATD_ERR_INVALID);
	r = row_of("", "alice", 5, 7);
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	r = row_of("fx", NULL, 5, 7);
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	r = row_of("fx", "alice", 5, 7);
	r.mime = NULL;
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	r = row_of("fx", "alice", -1, 7);
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	r = row_of("fx", "alice", 5, -7);
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	/* A new row is pending: ready is media_ready's. */
	r = row_of("fx", "alice", 5, 7);
	r.hash = HASH_A;
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	r.hash = NULL;
	r.ready_at = 9;
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	r.ready_at = 0;
	r.thumbnail = true;
	CU_ASSERT(put_sync(&s, &r) == CHATD_ERR_INVALID);
	CU_ASSERT(s.ops->media_put(s.inst, &r, NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(mrow_sync(&s, "", &g) == CHATD_ERR_INVALID);
	CU_ASSERT(mrow_sync(&s, NULL, &g) == CHATD_ERR_INVALID);
	CU_ASSERT(sql_int("media_put.db", "SELECT COUNT(*) FROM media") == 3);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_media_ready_remove(void)
{
	struct store s;
	struct row_out g;
	struct id_out o;
	host_up("media_ready.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(put_new(&s, "fa", "alice", 10, 100) == CHATD_OK);
	CU_ASSERT(put_new(&s, "fb", "bob", 10, 110) == CHATD_OK);
	CU_ASSERT(put_new(&s, "fc", "carol", 10, 120) == CHATD_OK);
	CU_ASSERT(put_new(&s, "fd", "dave", 20, 130) == CHATD_OK);

	CU_ASSERT(ready_sync(&s, "fa", HASH_A, true, 150) == CHATD_OK);
	CU_ASSERT(mrow_sync(&s, "fa", &g) == CHATD_OK);
	CU_ASSERT(g.has_hash && strcmp(g.hash, HASH_A) == 0 && g.thumbnail && g.ready_at == 150);
	CU_ASSERT(strcmp(g.owner, "alice") == 0 && g.size == 10 && g.created_at == 100);
	CU_ASSERT(ready_sync(&s, "fb", HASH_A, false, 160) == CHATD_OK);   /* same content */
	CU_ASSERT(ready_sync(&s, "fd", HASH_B, false, 170) == CHATD_OK);
	CU_ASSERT(mrow_sync(&s, "fb", &g) == CHATD_OK && !g.thumbnail && g.ready_at == 160);
	/* Again: overwrites. */
	CU_ASSERT(ready_sync(&s, "fd", HASH_B, true, 180) == CHATD_OK);
	CU_ASSERT(mrow_sync(&s, "fd", &g) == CHATD_OK && g.thumbnail && g.ready_at == 180);
	CU_ASSERT(ready_sync(&s, "nope", HASH_A, false, 150) == CHATD_ERR_NOT_FOUND);

	/* Inputs. */
	char *long_hash = repeat('a', SQLITE_MEDIA_HASH_MAX + 1);
	CU_ASSERT(ready_sync(&s, "fc", long_hash, false, 150) == CHATD_ERR_INVALID);
	long_hash[SQLITE_MEDIA_HASH_MAX] = '\0';
	CU_ASSERT(ready_sync(&s, "fc", "ABCDEF", false, 150) == CHATD_ERR_INVALID);
	CU_ASSERT(ready_sync(&s, "fc", "abc-12", false, 150) == CHATD_ERR_INVALID);
	CU_ASSERT(ready_sync(&s, "fc", "", false, 150) == CHATD_ERR_INVALID);
	CU_ASSERT(ready_sync(&s, "fc", NULL, false, 150) == CHATD_ERR_INVALID);
	CU_ASSERT(ready_sync(&s, "fc", HASH_A, false, 0) == CHATD_ERR_INVALID);
	CU_ASSERT(ready_sync(&s, "", HASH_A, false, 150) == CHATD_ERR_INVALID);
	CU_ASSERT(mrow_sync(&s, "fc", &g) == CHATD_OK && g.ready_at == 0 && !g.has_hash);
	CU_ASSERT(ready_sync(&s, "fc", long_hash, false, 150) == CHATD_OK);   /* the limit */
	free(long_hash);

	/* remove: how many rows still share the hash. */
	CU_ASSERT(remove_sync(&s, "fa", &o) == CHATD_OK && o.id == 1);
	CU_ASSERT(mrow_sync(&s, "fa", &g) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(remove_sync(&s, "fb", &o) == CHATD_OK && o.id == 0);
	CU_ASSERT(remove_sync(&s, "fb", &o) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(put_new(&s, "fp", "alice", 10, 200) == CHATD_OK);
	CU_ASSERT(remove_sync(&s, "fp", &o) == CHATD_OK && o.id == 0);   /* pending: no file */
	CU_ASSERT(remove_sync(&s, "", &o) == CHATD_ERR_INVALID);
	CU_ASSERT(s.ops->media_remove(s.inst, "fd", NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(sql_int("media_ready.db", "SELECT COUNT(*) FROM media") == 2);   /* fc, fd */
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_media_usage(void)
{
	struct store s;
	struct usage_out u;
	host_up("media_usage.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(usage_sync(&s, "alice", 0, &u) == CHATD_OK && u.bytes == 0 && u.count == 0);
	CU_ASSERT(put_new(&s, "f1", "alice", 100, 1000) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f2", "alice", 200, 2000) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f3", "alice", 300, 3000) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f4", "bob", 5000, 3000) == CHATD_OK);
	CU_ASSERT(ready_sync(&s, "f1", HASH_A, false, 1500) == CHATD_OK);
	/* Pending and ready rows alike; count from `since` inclusive. */
	CU_ASSERT(usage_sync(&s, "alice", 2000, &u) == CHATD_OK && u.bytes == 600 && u.count == 2);
	CU_ASSERT(usage_sync(&s, "alice", 0, &u) == CHATD_OK && u.bytes == 600 && u.count == 3);
	CU_ASSERT(usage_sync(&s, "alice", 3001, &u) == CHATD_OK && u.bytes == 600 && u.count == 0);
	CU_ASSERT(usage_sync(&s, "bob", 0, &u) == CHATD_OK && u.bytes == 5000 && u.count == 1);
	CU_ASSERT(usage_sync(&s, "carol", 0, &u) == CHATD_OK && u.bytes == 0 && u.count == 0);
	struct id_out o;
	CU_ASSERT(remove_sync(&s, "f3", &o) == CHATD_OK);
	CU_ASSERT(usage_sync(&s, "alice", 0, &u) == CHATD_OK && u.bytes == 300 && u.count == 2);
	char *big = repeat('u', CHATD_ID_MAX + 1);
	CU_ASSERT(usage_sync(&s, big, 0, &u) == CHATD_ERR_INVALID);
	free(big);
	CU_ASSERT(usage_sync(&s, "", 0, &u) == CHATD_ERR_INVALID);
	CU_ASSERT(s.ops->media_usage(s.inst, "alice", 0, NULL, NULL) == CHATD_ERR_INVALID);
	/* The owner index answers alone (no table lookup). */
	CU_ASSERT(plan_uses("media_usage.db",
			    "SELECT COALESCE(SUM(size), 0), COALESCE(SUM(created_at >= 5), 0) "
			    "FROM media WHERE owner_id = 'alice'", "COVERING INDEX media_by_owner"));
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_media_access(void)
{
	struct store s;
	struct conv_out c, d;
	struct send_out so;
	struct msg_out m;
	const char *const mem[] = { "bob", "carol" };
	host_up("media_access.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", mem, 2, 10, &c) == CHATD_OK);
	CU_ASSERT_FATAL(direct_async(&s, "alice", "dave", 10, &d) == CHATD_OK && wait_all());
	for (int i = 1; i <= 6; i++) {
		char id[8];
		snprintf(id, sizeof(id), "f%d", i);
		CU_ASSERT(put_new(&s, id, "alice", 10, 50) == CHATD_OK);
		CU_ASSERT(ready_sync(&s, id, HASH_A, false, 60) == CHATD_OK);
	}
	/* Nobody but the owner before any message carries it. */
	CU_ASSERT(access_sync(&s, "f1", "alice") == 1);
	CU_ASSERT(access_sync(&s, "f1", "bob") == 0);
	CU_ASSERT(send_media(&s, c.cid, "alice", "k1", "f1", NULL, &so) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f1", "bob") == 1 && access_sync(&s, "f1", "carol") == 1);
	CU_ASSERT(access_sync(&s, "f1", "dave") == 0);    /* not in that conversation */
	CU_ASSERT(access_sync(&s, "f1", "erin") == 0);
	/* In the direct conversation: dave too. */
	CU_ASSERT(send_media(&s, d.cid, "alice", "k1", "f2", NULL, &so) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f2", "dave") == 1 && access_sync(&s, "f2", "bob") == 0);

	/* Deleted for everyone: only the owner. */
	CU_ASSERT(send_media(&s, c.cid, "alice", "k3", "f3", NULL, &so) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f3", "bob") == 1);
	CU_ASSERT(delete_sync(&s, c.cid, so.seq, 200, &m) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f3", "bob") == 0 && access_sync(&s, "f3", "alice") == 1);
	/* Deleted for me: still reachable (the user's own choice). */
	struct st_out st;
	CU_ASSERT(hide_sync(&s, "bob", c.cid, 1, &st) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f1", "bob") == 1);

	/* Not "normal": only its sender (the owner here) sees it. */
	CU_ASSERT(send_media(&s, c.cid, "alice", "k4", "f4", CHATD_VIS_HELD, &so) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f4", "bob") == 0);
	CU_ASSERT(set_vis_sync(&s, c.cid, so.seq, CHATD_VIS_NORMAL, &m) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f4", "bob") == 1);
	/* A message by a member carrying someone else's media (a forward):
	 * the sender sees it even shadowed. */
	CU_ASSERT(send_media(&s, c.cid, "bob", "k5", "f5", CHATD_VIS_SHADOW, &so) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f5", "bob") == 1 && access_sync(&s, "f5", "carol") == 0);

	/* A member added without history reaches only later messages. */
	const char *const erin[] = { "erin" };
	struct chatd_conv_change ch = change(CHATD_CHANGE_ADD, c.cid, "alice");
	ch.users = erin;
	ch.n_users = 1;
	ch.history_from_join = true;
	struct change_out co;
	CU_ASSERT(change_sync(&s, &ch, &co) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f1", "erin") == 0);
	CU_ASSERT(send_media(&s, c.cid, "alice", "k6", "f1", NULL, &so) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f1", "erin") == 1);
	/* A member who left loses it. */
	CU_ASSERT(on_user(&s, CHATD_CHANGE_REMOVE, c.cid, "alice", "carol", NULL, &co) == CHATD_OK);
	CU_ASSERT(access_sync(&s, "f1", "carol") == 0);

	/* No such media: 0, not an error. */
	CU_ASSERT(access_sync(&s, "nope", "alice") == 0);
	CU_ASSERT(access_sync(&s, "", "alice") == CHATD_ERR_INVALID);
	CU_ASSERT(access_sync(&s, "f1", "") == CHATD_ERR_INVALID);
	char *big = repeat('u', CHATD_ID_MAX + 1);
	CU_ASSERT(access_sync(&s, "f1", big) == CHATD_ERR_INVALID);
	free(big);
	big = repeat('f', SQLITE_MEDIA_ID_MAX + 1);
	CU_ASSERT(access_sync(&s, big, "alice") == CHATD_ERR_INVALID);
	free(big);
	CU_ASSERT(plan_uses("media_access.db",
			    "SELECT 1 FROM messages m WHERE m.media_id = 'f1'", "messages_media"));
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_media_orphans(void)
{
	struct store s;
	struct conv_out c;
	struct send_out so;
	struct msg_out m;
	struct rows_out r;
	struct id_out n;
	host_up("media_orphans.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f100", "alice", 1, 100) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f200", "alice", 1, 200) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f300", "alice", 1, 300) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f400", "bob", 1, 400) == CHATD_OK);
	CU_ASSERT(put_new(&s, "f150", "bob", 1, 100) == CHATD_OK);   /* same time as f100 */
	CU_ASSERT(ready_sync(&s, "f200", HASH_A, false, 210) == CHATD_OK);
	CU_ASSERT(ready_sync(&s, "f300", HASH_B, false, 310) == CHATD_OK);
	CU_ASSERT(send_media(&s, c.cid, "alice", "k2", "f200", NULL, &so) == CHATD_OK);
	CU_ASSERT(send_media(&s, c.cid, "alice", "k3", "f300", CHATD_VIS_HELD, &so) == CHATD_OK);
	CU_ASSERT(delete_sync(&s, c.cid, so.seq, 500, &m) == CHATD_OK);

	/* Created before `before`, no message refers to it (a deleted one
	 * still does); oldest first, then by id; pending ones too. */
	CU_ASSERT(orphans_sync(&s, 1000, 10, &r) == CHATD_OK);
	CU_ASSERT_FATAL(r.n == 3);
	CU_ASSERT(strcmp(r.ids[0], "f100") == 0 && strcmp(r.ids[1], "f150") == 0 &&
		  strcmp(r.ids[2], "f400") == 0);
	CU_ASSERT(orphans_sync(&s, 400, 10, &r) == CHATD_OK && r.n == 2);   /* exclusive */
	CU_ASSERT(orphans_sync(&s, 1000, 1, &r) == CHATD_OK && r.n == 1 &&
		  strcmp(r.ids[0], "f100") == 0);
	CU_ASSERT(orphans_sync(&s, 100, 10, &r) == CHATD_OK && r.n == 0);
	/* The purge erases the deleted message's media_id: f300 is free. */
	CU_ASSERT(purge_sync(&s, 1000, &n) == CHATD_OK && n.id == 1);
	CU_ASSERT(orphans_sync(&s, 1000, 10, &r) == CHATD_OK && r.n == 4);
	CU_ASSERT(strcmp(r.ids[2], "f300") == 0);
	/* Removing them empties the list; f200 stays. */
	for (size_t i = 0; i < 4; i++) {
		char id[32];
		COPY(id, r.ids[i]);
		CU_ASSERT(remove_sync(&s, id, &n) == CHATD_OK && n.id == 0);
	}
	struct rows_out r2;
	CU_ASSERT(orphans_sync(&s, 1000, 10, &r2) == CHATD_OK && r2.n == 0);
	CU_ASSERT(sql_int("media_orphans.db", "SELECT COUNT(*) FROM media") == 1);

	CU_ASSERT(orphans_sync(&s, 1000, 0, &r) == CHATD_ERR_INVALID);
	CU_ASSERT(orphans_sync(&s, 1000, SQLITE_LIST_MAX + 1, &r) == CHATD_ERR_INVALID);
	CU_ASSERT(orphans_sync(&s, 1000, SQLITE_LIST_MAX, &r) == CHATD_OK);
	CU_ASSERT(s.ops->media_orphans(s.inst, 1000, 10, NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(plan_uses("media_orphans.db",
			    "SELECT media_id FROM media d WHERE d.created_at < 5 AND NOT EXISTS "
			    "(SELECT 1 FROM messages m WHERE m.media_id = d.media_id) "
			    "ORDER BY d.created_at, d.media_id LIMIT 5", "messages_media"));
	CU_ASSERT(plan_uses("media_orphans.db",
			    "SELECT media_id FROM media d WHERE d.created_at < 5 "
			    "ORDER BY d.created_at, d.media_id LIMIT 5", "media_by_created"));
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_media_in_messages(void)
{
	struct store s;
	struct conv_out c;
	struct send_out so;
	struct mlist_out l;
	struct one_out one;
	struct msg_out m;
	struct id_out n;
	const char *const mem[] = { "bob", "carol" };
	host_up("media_msgs.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", mem, 2, 10, &c) == CHATD_OK);
	CU_ASSERT(put_new(&s, "fpng", "alice", 48213, 50) == CHATD_OK);
	CU_ASSERT(ready_sync(&s, "fpng", HASH_A, true, 60) == CHATD_OK);
	struct chatd_media_row pdf = row_of("fpdf", "alice", 777, 50);
	pdf.mime = "application/pdf";
	CU_ASSERT(put_sync(&s, &pdf) == CHATD_OK);
	CU_ASSERT(ready_sync(&s, "fpdf", HASH_B, false, 60) == CHATD_OK);
	CU_ASSERT(put_new(&s, "fgone", "alice", 5, 50) == CHATD_OK);

	CU_ASSERT(send_media(&s, c.cid, "alice", "k1", "fpng", NULL, &so) == CHATD_OK);  /* 1 */
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k2", "plain", 101, &so) == CHATD_OK);    /* 2 */
	CU_ASSERT(send_media(&s, c.cid, "alice", "k3", "fpdf", NULL, &so) == CHATD_OK); /* 3 */
	CU_ASSERT(send_media(&s, c.cid, "alice", "k4", "fgone", NULL, &so) == CHATD_OK); /* 4 */
	CU_ASSERT(send_media(&s, c.cid, "alice", "k5", "fpng", NULL, &so) == CHATD_OK); /* 5 */
	CU_ASSERT(remove_sync(&s, "fgone", &n) == CHATD_OK);   /* its row is gone */

	/* history, as a member and as staff. */
	const char *viewers[] = { "bob", NULL };
	for (size_t v = 0; v < 2; v++) {
		CU_ASSERT(mhistory(&s, c.cid, viewers[v], &l) == CHATD_OK);
		CU_ASSERT_FATAL(l.n == 5);
		CU_ASSERT(is_media(&l.m[0], "fpng", "image/png", 48213, true));
		CU_ASSERT(is_bare(&l.m[1], NULL));
		CU_ASSERT(is_media(&l.m[2], "fpdf", "application/pdf", 777, false));
		CU_ASSERT(is_bare(&l.m[3], "fgone"));
		CU_ASSERT(is_media(&l.m[4], "fpng", "image/png", 48213, true));
	}
	/* sync (carol has read nothing). */
	CU_ASSERT(msync(&s, "carol", &l) == CHATD_OK);
	CU_ASSERT_FATAL(l.n == 5);
	CU_ASSERT(is_media(&l.m[0], "fpng", "image/png", 48213, true));
	CU_ASSERT(is_media(&l.m[2], "fpdf", "application/pdf", 777, false));
	CU_ASSERT(is_bare(&l.m[1], NULL) && is_bare(&l.m[3], "fgone"));
	/* message_get, and what edit and visibility changes answer. */
	CU_ASSERT(mget(&s, c.cid, 3, &one) == CHATD_OK);
	CU_ASSERT(is_media(&one.m, "fpdf", "application/pdf", 777, false));
	CU_ASSERT(mget(&s, c.cid, 2, &one) == CHATD_OK && is_bare(&one.m, NULL));
	struct one_out e;
	memset(&e, 0, sizeof(e));
	e.status = 1;
	struct chatd_message_edit ed = {
		.conversation_id = c.cid, .seq = 1, .editor = "alice", .text = "new caption",
		.ts = 300,
	};
	CU_ASSERT(finish(s.ops->message_edit(s.inst, &ed, one_cb, &e), &e.status) == CHATD_OK);
	CU_ASSERT(is_media(&e.m, "fpng", "image/png", 48213, true));
	memset(&e, 0, sizeof(e));
	e.status = 1;
	CU_ASSERT(finish(s.ops->message_set_visibility(s.inst, c.cid, 3, CHATD_VIS_NORMAL, one_cb,
						       &e), &e.status) == CHATD_OK);
	CU_ASSERT(is_media(&e.m, "fpdf", "application/pdf", 777, false));
	/* Deleted for everyone: no media at all, for every reader. */
	memset(&e, 0, sizeof(e));
	e.status = 1;
	CU_ASSERT(finish(s.ops->message_delete(s.inst, c.cid, 5, 400, one_cb, &e), &e.status) ==
		  CHATD_OK);
	CU_ASSERT(is_bare(&e.m, NULL));
	CU_ASSERT(mhistory(&s, c.cid, "alice", &l) == CHATD_OK && l.n == 5 && is_bare(&l.m[4], NULL));
	CU_ASSERT(mget(&s, c.cid, 5, &one) == CHATD_OK && is_bare(&one.m, NULL));
	(void)m;
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_media_migration_v3(void)
{
	struct store s;
	struct mlist_out l;
	/* A file as chatd with ABI 1.2 left it: schema 3, a group with a
	 * message that carries a media id (no media table yet). */
	CU_ASSERT_FATAL(schema_at("v3.db", 3) == CHATD_OK);
	CU_ASSERT(sql_int("v3.db", "SELECT version FROM schema_version") == 3);
	CU_ASSERT(sql_int("v3.db", "SELECT COUNT(*) FROM sqlite_master WHERE name = 'media'") == 0);
	CU_ASSERT_FATAL(sql_exec("v3.db",
		"INSERT INTO conversations(id, kind, title, created_at, last_seq, last_activity, "
		"member_count) VALUES('c0000000000000003', 'group', 'old', 10, 2, 30, 2);"
		"INSERT INTO members(conversation_id, user_id, role, joined_at, last_read_seq) "
		"VALUES"
		"('c0000000000000003', 'alice', 'owner', 10, 2), "
		"('c0000000000000003', 'bob', 'member', 10, 0);"
		"INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
		"client_message_id, text, media_id, created_at) VALUES"
		"('c0000000000000003', 1, 'm0000000000000003-1', 'alice', 'k1', 'pic', 'fold', 20), "
		"('c0000000000000003', 2, 'm0000000000000003-2', 'alice', 'k2', 'txt', NULL, 30);")
			== SQLITE_OK);

	host_up("v3.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(stub_log_count("sqlite.migrated") == 1);
	/* The old message reads with its id and no media row. */
	CU_ASSERT(mhistory(&s, "c0000000000000003", "bob", &l) == CHATD_OK && l.n == 2);
	CU_ASSERT(is_bare(&l.m[0], "fold") && is_bare(&l.m[1], NULL));
	CU_ASSERT(access_sync(&s, "fold", "bob") == 1);   /* through the message */
	/* A row for that id: now the message shows it. */
	struct chatd_media_row r = row_of("fold", "alice", 99, 40);
	r.mime = "image/jpeg";
	CU_ASSERT(put_sync(&s, &r) == CHATD_OK);
	CU_ASSERT(ready_sync(&s, "fold", HASH_A, false, 50) == CHATD_OK);
	CU_ASSERT(mhistory(&s, "c0000000000000003", "bob", &l) == CHATD_OK && l.n == 2);
	CU_ASSERT(is_media(&l.m[0], "fold", "image/jpeg", 99, false));
	struct rows_out o;
	CU_ASSERT(orphans_sync(&s, 1000, 10, &o) == CHATD_OK && o.n == 0);
	store_close(&s);
	CU_ASSERT(sql_int("v3.db", "SELECT version FROM schema_version") == SQLITE_SCHEMA_VERSION);
	CU_ASSERT(SQLITE_SCHEMA_VERSION >= 4);   /* media came with 4 */
	CU_ASSERT(sql_int("v3.db", "SELECT COUNT(*) FROM sqlite_master WHERE name IN "
				   "('media', 'media_by_owner', 'media_by_hash', "
				   "'media_by_created', 'messages_media')") == 5);
	/* Opening again migrates nothing. */
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(stub_log_count("sqlite.migrated") == 1);
	store_close(&s);
	stub_host_teardown();
	CU_ASSERT(schema_at("v3.db", 3) == CHATD_ERR_ABI);   /* never downgraded */
}

/* ---- suite -------------------------------------------------------- */

void unit_register_storage_media(void)
{
	CU_pSuite s = CU_add_suite("storage_media", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "media_put and media_get", test_media_put_get);
	CU_add_test(s, "media_ready and media_remove", test_media_ready_remove);
	CU_add_test(s, "media_usage", test_media_usage);
	CU_add_test(s, "media_access", test_media_access);
	CU_add_test(s, "media_orphans", test_media_orphans);
	CU_add_test(s, "messages carry their media row", test_media_in_messages);
	CU_add_test(s, "migration from schema 3", test_media_migration_v3);
}
