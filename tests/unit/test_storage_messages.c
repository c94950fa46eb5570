/* test_storage_messages.c — the sqlite storage plugin's ABI 1.2 message
 * ops (message_get, message_edit, delete for everyone / for me, the
 * retention purge) and messages_latest (1.4) against real database files (helpers in
 * sqlite_fixture.c). */
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

/* ---- edit, delete, hide, message_get ------------------------------- */

static struct chatd_message_edit edit_of(const char *cid, int64_t seq, const char *editor,
					 const char *text)
{
	return (struct chatd_message_edit){
		.conversation_id = cid, .seq = seq, .editor = editor, .text = text, .ts = 900,
	};
}

static void test_message_edit(void)
{
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct msg_out m;
	struct hist_out h;
	host_up("edit.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	CU_ASSERT(send_vis_sync(&s, c.cid, "alice", "k1", "orig", 100, NULL, "{\"v\":1}", &o) ==
		  CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k2", "bob's", 110, &o) == CHATD_OK);

	struct chatd_message_edit e = edit_of(c.cid, 1, "bob", "hijack");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_FORBIDDEN && !m.has_msg);
	e = edit_of(c.cid, 1, "alice", "fixed");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_OK);
	CU_ASSERT(m.has_msg && m.seq == 1 && strcmp(m.text, "fixed") == 0 && m.edited_at == 900);
	CU_ASSERT(m.ts == 100 && strcmp(m.sender, "alice") == 0 && !m.deleted);
	CU_ASSERT(strcmp(m.mod, "{\"v\":1}") == 0 && strcmp(m.vis, "normal") == 0);   /* kept */
	/* Provenance and visibility when given. */
	e = edit_of(c.cid, 1, "alice", "again");
	e.moderation = "{\"v\":2}";
	e.visibility = CHATD_VIS_HELD;
	e.ts = 950;
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_OK);
	CU_ASSERT(strcmp(m.mod, "{\"v\":2}") == 0 && strcmp(m.vis, "held") == 0);
	CU_ASSERT(m.edited_at == 950 && strcmp(m.text, "again") == 0);
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 2, 2));       /* held: only alice sees it now */
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 2) && strcmp(h.text[0], "again") == 0 && h.edited_at[0] == 950);
	CU_ASSERT(h.edited_at[1] == 0);
	/* An empty text, like append. */
	e = edit_of(c.cid, 2, "bob", "");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_OK && m.has_text && m.text[0] == '\0');

	/* No such message; a deleted one. */
	e = edit_of(c.cid, 9, "alice", "x");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_NOT_FOUND);
	e = edit_of("cnope", 1, "alice", "x");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(delete_sync(&s, c.cid, 1, 1000, &m) == CHATD_OK);
	e = edit_of(c.cid, 1, "alice", "resurrect");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_INVALID);
	e = edit_of(c.cid, 1, "bob", "resurrect");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_FORBIDDEN);
	CU_ASSERT(sql_int("edit.db", "SELECT COUNT(*) FROM messages WHERE text = 'again'") == 1);

	/* Inputs. */
	e = edit_of(c.cid, 2, "bob", NULL);
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_INVALID);
	e = edit_of(c.cid, 0, "bob", "x");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_INVALID);
	e = edit_of(c.cid, 2, "", "x");
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_INVALID);
	e = edit_of(c.cid, 2, "bob", "x");
	e.visibility = "secret";
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_INVALID);
	e.visibility = NULL;
	e.ts = -1;
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_INVALID);
	CU_ASSERT(edit_sync(&s, NULL, &m) == CHATD_ERR_INVALID);
	char *big = malloc(SQLITE_TEXT_MAX + 2);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'x', SQLITE_TEXT_MAX + 1);
	big[SQLITE_TEXT_MAX + 1] = '\0';
	e = edit_of(c.cid, 2, "bob", big);
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_TOO_LARGE);
	e = edit_of(c.cid, 2, "bob", "x");
	big[SQLITE_NOTE_MAX + 1] = '\0';
	e.moderation = big;
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_ERR_TOO_LARGE);
	big[SQLITE_TEXT_MAX] = '\0';
	memset(big, 'y', SQLITE_TEXT_MAX);
	e = edit_of(c.cid, 2, "bob", big);   /* the limit itself is fine */
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_OK);
	free(big);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_message_delete_hide(void)
{
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct msg_out m;
	struct hist_out h;
	struct sync_out y;
	struct st_out st;
	const char *const mem[] = { "bob", "carol" };
	host_up("delete.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", mem, 2, 10, &c) == CHATD_OK);
	for (int i = 1; i <= 3; i++) {
		char cmid[8], text[8];
		snprintf(cmid, sizeof(cmid), "k%d", i);
		snprintf(text, sizeof(text), "t%d", i);
		CU_ASSERT(send_vis_sync(&s, c.cid, "alice", cmid, text, 100 + i, NULL,
					i == 2 ? "{\"quote\":\"t2\"}" : NULL, &o) == CHATD_OK);
	}
	struct chatd_send_req req = {
		.conversation_id = c.cid, .sender_id = "alice", .client_message_id = "k4",
		.text = "caption", .media_id = "media-4", .ts = 104,
	};
	CU_ASSERT(send_req_sync(&s, &req, &o) == CHATD_OK && o.seq == 4);

	/* Delete for everyone: read as deleted, no text, media or provenance,
	 * by every reader; the row keeps its content until the purge. */
	CU_ASSERT(delete_sync(&s, c.cid, 2, 500, &m) == CHATD_OK);
	CU_ASSERT(m.has_msg && m.seq == 2 && m.deleted && !m.has_text && !m.has_media &&
		  !m.has_mod);
	CU_ASSERT(strcmp(m.sender, "alice") == 0 && m.ts == 102);
	CU_ASSERT(delete_sync(&s, c.cid, 4, 510, &m) == CHATD_OK);
	CU_ASSERT(m.deleted && !m.has_text && !m.has_media);
	const char *viewers[] = { "alice", "bob", NULL };
	for (size_t v = 0; v < 3; v++) {
		CU_ASSERT(history_sync(&s, c.cid, viewers[v], 0, -1, 10, &h) == CHATD_OK);
		CU_ASSERT_FATAL(seqs_are(&h, 1, 4));
		CU_ASSERT(!h.deleted[0] && h.has_text[0] && strcmp(h.text[0], "t1") == 0);
		CU_ASSERT(h.deleted[1] && !h.has_text[1] && !h.has_media[1] && !h.has_mod[1]);
		CU_ASSERT(h.deleted[3] && !h.has_text[3] && !h.has_media[3]);
		CU_ASSERT(!h.deleted[2] && strcmp(h.text[2], "t3") == 0);
	}
	CU_ASSERT(msg_get_sync(&s, c.cid, 4, &m) == CHATD_OK);
	CU_ASSERT(m.deleted && !m.has_text && !m.has_media && strcmp(m.role, "owner") == 0);
	CU_ASSERT(msg_get_sync(&s, c.cid, 1, &m) == CHATD_OK);
	CU_ASSERT(!m.deleted && strcmp(m.text, "t1") == 0 && strcmp(m.role, "owner") == 0);
	CU_ASSERT(conv_int("delete.db", "SELECT deleted_at FROM messages WHERE conversation_id = "
					"'%s' AND seq = 2 AND deleted = 1 AND text = 't2' AND "
					"moderation IS NOT NULL", c.cid) == 500);
	CU_ASSERT(sql_int("delete.db", "SELECT COUNT(*) FROM messages WHERE media_id = 'media-4'")
		  == 1);
	/* Again: OK, nothing changes (the first deletion time stays). */
	CU_ASSERT(delete_sync(&s, c.cid, 2, 800, &m) == CHATD_OK && m.deleted);
	CU_ASSERT(conv_int("delete.db", "SELECT deleted_at FROM messages WHERE conversation_id = "
					"'%s' AND seq = 2", c.cid) == 500);
	CU_ASSERT(delete_sync(&s, c.cid, 9, 800, &m) == CHATD_ERR_NOT_FOUND && !m.has_msg);
	CU_ASSERT(delete_sync(&s, "cnope", 1, 800, &m) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(delete_sync(&s, c.cid, 0, 800, &m) == CHATD_ERR_INVALID);
	CU_ASSERT(delete_sync(&s, c.cid, 1, -1, &m) == CHATD_ERR_INVALID);

	/* Delete for me: only that viewer's history and sync lose it. */
	CU_ASSERT(hide_sync(&s, "bob", c.cid, 3, &st) == CHATD_OK);
	CU_ASSERT(hide_sync(&s, "bob", c.cid, 3, &st) == CHATD_OK);   /* idempotent */
	CU_ASSERT(hide_sync(&s, "bob", c.cid, 2, &st) == CHATD_OK);   /* a deleted one too */
	CU_ASSERT(sql_int("delete.db", "SELECT COUNT(*) FROM hidden_messages") == 2);
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 1, 4 }, 2));
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 4));
	CU_ASSERT_FATAL(sync_sync(&s, "bob", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT(y.n == 1 && y.c[0].n == 2 && y.c[0].first == 1 && y.c[0].last == 4);
	CU_ASSERT_FATAL(sync_sync(&s, "carol", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 4);
	CU_ASSERT(hide_sync(&s, "bob", c.cid, 9, &st) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(hide_sync(&s, "bob", "cnope", 1, &st) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(hide_sync(&s, "", c.cid, 1, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(hide_sync(&s, "bob", c.cid, 0, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(hide_sync(&s, "bob", NULL, 1, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(sql_int("delete.db", "SELECT COUNT(*) FROM hidden_messages") == 2);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_message_get(void)
{
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct msg_out m;
	struct change_out co;
	const char *const mem[] = { "bob", "carol" };
	host_up("mgetone.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", mem, 2, 10, &c) == CHATD_OK);
	CU_ASSERT(send_vis_sync(&s, c.cid, "bob", "k1", "shh", 100, CHATD_VIS_SHADOW, "{}", &o) ==
		  CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "carol", "k2", "hi", 110, &o) == CHATD_OK);
	/* Whatever the visibility, with the sender's current role. */
	CU_ASSERT(msg_get_sync(&s, c.cid, 1, &m) == CHATD_OK);
	CU_ASSERT(m.seq == 1 && strcmp(m.vis, "shadow") == 0 && strcmp(m.text, "shh") == 0);
	CU_ASSERT(m.has_mod && m.has_role && strcmp(m.role, "member") == 0);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "bob", "moderator", &co) ==
		  CHATD_OK);
	CU_ASSERT(msg_get_sync(&s, c.cid, 1, &m) == CHATD_OK && strcmp(m.role, "moderator") == 0);
	/* A sender who is no member any more: no role. */
	CU_ASSERT(leave(&s, c.cid, "carol", &co) == CHATD_OK);
	CU_ASSERT(msg_get_sync(&s, c.cid, 2, &m) == CHATD_OK);
	CU_ASSERT(m.has_msg && !m.has_role && strcmp(m.sender, "carol") == 0);
	CU_ASSERT(msg_get_sync(&s, c.cid, 3, &m) == CHATD_ERR_NOT_FOUND && !m.has_msg);
	CU_ASSERT(msg_get_sync(&s, "cnope", 1, &m) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(msg_get_sync(&s, c.cid, 0, &m) == CHATD_ERR_INVALID);
	CU_ASSERT(msg_get_sync(&s, NULL, 1, &m) == CHATD_ERR_INVALID);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- purge_deleted ------------------------------------------------- */

/* The query plan of the purge's UPDATE uses the partial index. */
static bool purge_uses_index(const char *file)
{
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), file);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool found = false;
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN UPDATE messages SET text = NULL, "
			       "media_id = NULL, moderation = NULL WHERE deleted = 1 AND "
			       "deleted_at <= ?1 AND (text IS NOT NULL OR media_id IS NOT NULL "
			       "OR moderation IS NOT NULL)", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *d = sqlite3_column_text(st, 3);
			if (d && strstr((const char *)d, "messages_purge"))
				found = true;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return found;
}

/* In the database file or its WAL. */
static bool in_files(const char *needle)
{
	return file_contains("purge.db", needle) || file_contains("purge.db-wal", needle);
}

static void test_purge(void)
{
	static const char SECRET[] = "SECRET-PURGE-TEXT-7f3a9c";
	static const char MEDIA[] = "MEDIA-PURGE-ID-51b2";
	static const char QUOTE[] = "MODQUOTE-PURGE-e4d1";
	static const char KEEP[] = "KEEP-THIS-TEXT-0c8e";
	static const char LATER[] = "LATER-DELETED-TEXT-92aa";
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct msg_out m;
	struct id_out n;
	struct hist_out h;
	host_up("purge.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	char mod[64];
	snprintf(mod, sizeof(mod), "{\"quote\":\"%s\"}", QUOTE);
	struct chatd_send_req req = {
		.conversation_id = c.cid, .sender_id = "alice", .client_message_id = "k1",
		.text = SECRET, .media_id = MEDIA, .moderation = mod, .ts = 100,
	};
	CU_ASSERT(send_req_sync(&s, &req, &o) == CHATD_OK && o.seq == 1);
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k2", KEEP, 110, &o) == CHATD_OK);
	/* A long text lives on overflow pages. */
	char *big = malloc(20000);
	CU_ASSERT_FATAL(big != NULL);
	for (size_t i = 0; i + 1 < 20000; i++)
		big[i] = "BIGSECRET-"[i % 10];
	big[19999] = '\0';
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k3", big, 120, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k4", LATER, 130, &o) == CHATD_OK);
	CU_ASSERT(delete_sync(&s, c.cid, 1, 1000, &m) == CHATD_OK);
	CU_ASSERT(delete_sync(&s, c.cid, 3, 1000, &m) == CHATD_OK);
	CU_ASSERT(delete_sync(&s, c.cid, 4, 5000, &m) == CHATD_OK);
	/* The test means something: the bytes are there before.  (Debian's
	 * SQLite is built with SQLITE_SECURE_DELETE; the plugin's own PRAGMA
	 * secure_delete=ON covers builds without it, and this test fails with
	 * the pragma set to OFF.) */
	CU_ASSERT(in_files(SECRET) && in_files(MEDIA) && in_files(QUOTE) && in_files(KEEP));
	CU_ASSERT(in_files("BIGSECRET-BIGSECRET-BIGSECRET-"));
	CU_ASSERT(purge_uses_index("purge.db"));

	/* Nothing deleted at or before 999. */
	CU_ASSERT(purge_sync(&s, 999, &n) == CHATD_OK && n.id == 0);
	CU_ASSERT(in_files(SECRET));
	/* Two at 1000 (at or before). */
	CU_ASSERT(purge_sync(&s, 1000, &n) == CHATD_OK && n.id == 2);
	CU_ASSERT(!in_files(SECRET));
	CU_ASSERT(!in_files(MEDIA));
	CU_ASSERT(!in_files(QUOTE));
	CU_ASSERT(!in_files("BIGSECRET-BIGSECRET-BIGSECRET-"));
	CU_ASSERT(!in_files("BIGSECRET-"));
	/* What is not purged stays: a live message and one deleted later. */
	CU_ASSERT(in_files(KEEP));
	CU_ASSERT(in_files(LATER));
	CU_ASSERT(sql_int("purge.db", "SELECT COUNT(*) FROM messages WHERE text IS NULL AND "
				      "media_id IS NULL AND moderation IS NULL AND deleted = 1") ==
		  2);
	/* Nothing left to purge there; the rows stay, deleted. */
	CU_ASSERT(purge_sync(&s, 1000, &n) == CHATD_OK && n.id == 0);
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 4) && h.deleted[0] && !h.has_text[0] && !h.has_media[0]);
	CU_ASSERT(strcmp(h.text[1], KEEP) == 0 && h.deleted[3]);
	CU_ASSERT(msg_get_sync(&s, c.cid, 1, &m) == CHATD_OK && m.deleted && !m.has_text);
	/* Writes go on; after a reopen, still nothing. */
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k5", "more", 140, &o) == CHATD_OK);
	store_close(&s);
	CU_ASSERT(!in_files(SECRET) && !in_files("BIGSECRET-") && in_files(KEEP));
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(purge_sync(&s, 9999, &n) == CHATD_OK && n.id == 1);
	CU_ASSERT(!in_files(LATER) && in_files(KEEP));
	CU_ASSERT(purge_sync(&s, -1, &n) == CHATD_ERR_INVALID);
	CU_ASSERT(s.ops->purge_deleted(s.inst, 0, NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	free(big);
	stub_host_teardown();
}

/* A reader outside the plugin holding a snapshot from before the purge
 * keeps the WAL from being truncated (a short busy timeout here): the
 * purge still answers, and the next purge, once the reader is gone, does
 * the truncation even though it erases nothing itself. */
static void test_purge_busy_reader(void)
{
	static const char SECRET[] = "SECRET-BUSY-READER-33c1";
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct msg_out m;
	struct id_out n;
	host_up("purge2.db", (const char *const[]){ "busy_timeout_ms", "50", NULL });
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "alice", "k1", SECRET, 100, &o) == CHATD_OK);
	CU_ASSERT(delete_sync(&s, c.cid, 1, 200, &m) == CHATD_OK);

	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), "purge2.db");
	sqlite3 *rd = NULL;
	CU_ASSERT_FATAL(sqlite3_open(path, &rd) == SQLITE_OK);
	CU_ASSERT_FATAL(sqlite3_exec(rd, "BEGIN; SELECT COUNT(*) FROM messages;", NULL, NULL,
				     NULL) == SQLITE_OK);
	CU_ASSERT(purge_sync(&s, 200, &n) == CHATD_OK && n.id == 1);
	CU_ASSERT(file_contains("purge2.db", SECRET) || file_contains("purge2.db-wal", SECRET));
	CU_ASSERT(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(rd);
	/* A commit soon after does not try again (tries are spaced out). */
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k2", "next", 300, &o) == CHATD_OK);
	CU_ASSERT(file_contains("purge2.db", SECRET) || file_contains("purge2.db-wal", SECRET));
	CU_ASSERT(purge_sync(&s, 300, &n) == CHATD_OK && n.id == 0);
	CU_ASSERT(!file_contains("purge2.db", SECRET));
	CU_ASSERT(!file_contains("purge2.db-wal", SECRET));
	store_close(&s);
	stub_host_teardown();
}

/* ---- messages_latest (ABI 1.4) ------------------------------------ */

struct latest_out {
	int status;
	size_t n;
	bool has_more;
	char cid[8][32];
	int64_t seq[8];
	bool deleted[8];
	char vis[8][12];
};

static void latest_cb(void *arg, int status, const struct chatd_message *m, size_t n,
		      bool has_more)
{
	struct latest_out *o = arg;
	o->status = status;
	o->n = n;
	o->has_more = has_more;
	for (size_t i = 0; i < n && i < 8; i++) {
		snprintf(o->cid[i], sizeof o->cid[i], "%s", m[i].conversation_id);
		o->seq[i] = m[i].seq;
		o->deleted[i] = m[i].deleted;
		snprintf(o->vis[i], sizeof o->vis[i], "%s", m[i].visibility ? m[i].visibility : "");
	}
	g_pending--;
}

static int latest_sync(struct store *s, int limit, struct latest_out *o)
{
	memset(o, 0, sizeof *o);
	o->status = 1;
	int st = s->ops->messages_latest(s->inst, limit, latest_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}

static void test_messages_latest(void)
{
	struct store s;
	struct conv_out c1, c2;
	struct send_out o;
	struct msg_out m;
	struct latest_out l;
	host_up("latest.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(s.ops->struct_size >= sizeof(struct chatd_storage_ops) &&
			s.ops->messages_latest);
	CU_ASSERT(latest_sync(&s, 5, &l) == CHATD_OK && l.n == 0 && !l.has_more);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "one", g_two, 1, 10, &c1) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "two", g_two, 1, 10, &c2) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c1.cid, "alice", "a1", "x", 100, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c2.cid, "bob", "b1", "x", 200, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c1.cid, "alice", "a2", "x", 300, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c2.cid, "bob", "b2", "x", 300, &o) == CHATD_OK);
	CU_ASSERT(send_vis_sync(&s, c2.cid, "bob", "b3", "x", 400, CHATD_VIS_HELD, NULL, &o) ==
		  CHATD_OK);
	CU_ASSERT(send_sync(&s, c1.cid, "alice", "a3", "x", 500, &o) == CHATD_OK);
	CU_ASSERT(delete_sync(&s, c1.cid, 3, 600, &m) == CHATD_OK);
	/* The newest three, oldest first: the ts tie goes to the larger id. */
	const char *hi = strcmp(c1.cid, c2.cid) > 0 ? c1.cid : c2.cid;
	CU_ASSERT_FATAL(latest_sync(&s, 3, &l) == CHATD_OK && l.n == 3);
	CU_ASSERT(l.has_more);
	CU_ASSERT(strcmp(l.cid[0], hi) == 0 && l.seq[0] == 2);
	CU_ASSERT(strcmp(l.cid[1], c2.cid) == 0 && l.seq[1] == 3);
	CU_ASSERT(strcmp(l.vis[1], CHATD_VIS_HELD) == 0);            /* staff view */
	CU_ASSERT(strcmp(l.cid[2], c1.cid) == 0 && l.seq[2] == 3 && l.deleted[2]);
	CU_ASSERT_FATAL(latest_sync(&s, 200, &l) == CHATD_OK && l.n == 6);
	CU_ASSERT(!l.has_more);
	CU_ASSERT(strcmp(l.cid[0], c1.cid) == 0 && l.seq[0] == 1);
	CU_ASSERT(strcmp(l.cid[1], c2.cid) == 0 && l.seq[1] == 1);
	CU_ASSERT(latest_sync(&s, 0, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(latest_sync(&s, 1000, &l) == CHATD_OK && l.n == 6);  /* capped at 200 */
	store_close(&s);
	stub_host_teardown();
}

/* ---- suite -------------------------------------------------------- */

void unit_register_storage_messages(void)
{
	CU_pSuite s = CU_add_suite("storage_messages", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "message_edit", test_message_edit);
	CU_add_test(s, "message_delete and message_hide", test_message_delete_hide);
	CU_add_test(s, "message_get", test_message_get);
	CU_add_test(s, "purge_deleted erases the bytes", test_purge);
	CU_add_test(s, "purge_deleted behind a reader's snapshot", test_purge_busy_reader);
	CU_add_test(s, "messages_latest", test_messages_latest);
}
