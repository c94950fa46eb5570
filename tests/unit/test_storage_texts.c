/* test_storage_texts.c — the sqlite storage plugin's ABI 1.5 ops for
 * rewriting stored texts (texts_scan, text_replace, texts_compact) against
 * real database files (helpers in sqlite_fixture.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
#include "unit.h"

#define TMAX 16

struct texts_out {
	int status;
	size_t n;
	char cid[TMAX][32], sender[TMAX][16], text[TMAX][48];
	int64_t seq[TMAX];
	bool has_next;
	char next[CHATD_TEXTS_CURSOR_MAX + 1];
};

static void texts_cb(void *arg, int status, const struct chatd_stored_text *rows, size_t n,
		     const char *next)
{
	struct texts_out *o = arg;
	o->status = status;
	for (size_t i = 0; i < n && o->n < TMAX; i++, o->n++) {
		snprintf(o->cid[o->n], sizeof o->cid[0], "%s", rows[i].conversation_id);
		snprintf(o->sender[o->n], sizeof o->sender[0], "%s", rows[i].sender_id);
		snprintf(o->text[o->n], sizeof o->text[0], "%s", rows[i].text);
		o->seq[o->n] = rows[i].seq;
	}
	o->has_next = next != NULL;
	if (next)
		snprintf(o->next, sizeof o->next, "%s", next);
	g_pending--;
}

static int run(int queued, const int *status)
{
	if (queued < 0)
		return queued;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return *status;
}

static int scan_sync(struct store *s, const char *after, int limit, struct texts_out *o)
{
	memset(o, 0, sizeof *o);
	o->status = 1;
	return run(s->ops->texts_scan(s->inst, after, limit, texts_cb, o), &o->status);
}

static void st_cb(void *arg, int status)
{
	*(int *)arg = status;
	g_pending--;
}

static int replace_sync(struct store *s, const char *cid, int64_t seq, const char *expected,
			const char *text)
{
	int st = 1;
	return run(s->ops->text_replace(s->inst, cid, seq, expected, text, st_cb, &st), &st);
}

static int compact_sync(struct store *s)
{
	int st = 1;
	return run(s->ops->texts_compact(s->inst, st_cb, &st), &st);
}

static int64_t fts_count(const char *file, const char *word)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH '%s'",
		 word);
	return sql_int(file, sql);
}

static void test_scan(void)
{
	struct store s;
	struct conv_out c1, c2;
	struct send_out o;
	struct msg_out m;
	struct id_out n;
	struct texts_out t;
	host_up("scan.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g1", g_two, 1, 10, &c1) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g2", g_two, 1, 10, &c2) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c1.cid, "alice", "a1", "one", 100, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c2.cid, "bob", "b1", "two", 110, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c1.cid, "bob", "a2", "three", 120, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c2.cid, "alice", "b2", "four", 130, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c1.cid, "alice", "a3", "gone", 140, &o) == CHATD_OK);
	/* Deleted for everyone but not purged: its text is still stored. */
	CU_ASSERT(delete_sync(&s, c1.cid, 2, 500, &m) == CHATD_OK);
	/* Pages of two, every row once, the cursor opaque. */
	char seen[TMAX][48];
	size_t k = 0;
	char cur[CHATD_TEXTS_CURSOR_MAX + 1] = "";
	for (int page = 0; page < 10; page++) {
		CU_ASSERT_FATAL(scan_sync(&s, cur, 2, &t) == CHATD_OK);
		CU_ASSERT(t.n <= 2);
		for (size_t i = 0; i < t.n && k < TMAX; i++)
			snprintf(seen[k++], sizeof seen[0], "%s/%lld/%s/%s",
				 strcmp(t.cid[i], c1.cid) == 0 ? "c1" : "c2", (long long)t.seq[i],
				 t.sender[i], t.text[i]);
		if (!t.has_next)
			break;
		snprintf(cur, sizeof cur, "%s", t.next);
	}
	CU_ASSERT_FATAL(k == 5);
	const char *want[] = { "c1/1/alice/one", "c1/2/bob/three", "c1/3/alice/gone",
			       "c2/1/bob/two", "c2/2/alice/four" };
	bool c1_first = strcmp(c1.cid, c2.cid) < 0;
	for (size_t i = 0; i < 5; i++) {
		const char *w = want[c1_first ? i : (i + 3) % 5];
		if (strcmp(seen[i], w) != 0)
			fprintf(stderr, "row %zu: %s, want %s\n", i, seen[i], w);
		CU_ASSERT(strcmp(seen[i], w) == 0);
	}
	/* All at once: no next. */
	CU_ASSERT(scan_sync(&s, NULL, 1000, &t) == CHATD_OK && t.n == 5 && !t.has_next);
	/* A purged text is no longer stored: not scanned. */
	CU_ASSERT(purge_sync(&s, 1000, &n) == CHATD_OK && n.id == 1);
	CU_ASSERT(scan_sync(&s, "", 1000, &t) == CHATD_OK && t.n == 4 && !t.has_next);
	/* Bad arguments. */
	CU_ASSERT(scan_sync(&s, NULL, 0, &t) == CHATD_ERR_INVALID);
	CU_ASSERT(scan_sync(&s, NULL, CHATD_TEXTS_SCAN_MAX + 1, &t) == CHATD_ERR_INVALID);
	CU_ASSERT(scan_sync(&s, "nonsense", 10, &t) == CHATD_ERR_INVALID);
	CU_ASSERT(scan_sync(&s, "0:c", 10, &t) == CHATD_ERR_INVALID);
	CU_ASSERT(scan_sync(&s, "5", 10, &t) == CHATD_ERR_INVALID);
	CU_ASSERT(s.ops->texts_scan(s.inst, NULL, 10, NULL, NULL) == CHATD_ERR_INVALID);
	store_close(&s);
	stub_host_teardown();
}

static void test_replace(void)
{
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct msg_out m;
	struct hist_out h;
	host_up("replace.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "alice", "k1", "walrus original", 100, &o) == CHATD_OK);
	CU_ASSERT(fts_count("replace.db", "walrus") == 1);
	/* Compare and swap: the wrong old text changes nothing. */
	CU_ASSERT(replace_sync(&s, c.cid, 1, "something else", "narwhal") == CHATD_ERR_CONFLICT);
	CU_ASSERT(replace_sync(&s, c.cid, 9, "walrus original", "narwhal") == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(msg_get_sync(&s, c.cid, 1, &m) == CHATD_OK &&
		  strcmp(m.text, "walrus original") == 0);
	CU_ASSERT(replace_sync(&s, c.cid, 1, "walrus original", "narwhal rewritten") == CHATD_OK);
	/* No edit: edited_at stays 0; readers get the new text. */
	CU_ASSERT(msg_get_sync(&s, c.cid, 1, &m) == CHATD_OK);
	CU_ASSERT(strcmp(m.text, "narwhal rewritten") == 0 && m.edited_at == 0);
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, -1, 10, &h) == CHATD_OK && h.n == 1);
	CU_ASSERT(strcmp(h.text[0], "narwhal rewritten") == 0 && h.edited_at[0] == 0);
	/* The search index follows the text. */
	CU_ASSERT(fts_count("replace.db", "walrus") == 0);
	CU_ASSERT(fts_count("replace.db", "narwhal") == 1);
	CU_ASSERT(sql_int("replace.db", "SELECT COUNT(*) FROM search_rows") == 1);
	/* An edit between the scan and the replace wins. */
	struct chatd_message_edit e = {
		.conversation_id = c.cid, .seq = 1, .editor = "alice", .text = "edited", .ts = 900,
	};
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_OK);
	CU_ASSERT(replace_sync(&s, c.cid, 1, "narwhal rewritten", "stale") == CHATD_ERR_CONFLICT);
	CU_ASSERT(msg_get_sync(&s, c.cid, 1, &m) == CHATD_OK && strcmp(m.text, "edited") == 0);
	/* Bad arguments. */
	CU_ASSERT(replace_sync(&s, c.cid, 0, "a", "b") == CHATD_ERR_INVALID);
	CU_ASSERT(replace_sync(&s, c.cid, 1, NULL, "b") == CHATD_ERR_INVALID);
	CU_ASSERT(replace_sync(&s, c.cid, 1, "a", NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(s.ops->text_replace(s.inst, c.cid, 1, "a", "b", NULL, NULL) == CHATD_ERR_INVALID);
	store_close(&s);
	stub_host_teardown();
}

static bool in_files(const char *needle)
{
	return file_contains("compact.db", needle) || file_contains("compact.db-wal", needle);
}

static void test_compact(void)
{
	static const char SECRET[] = "PLAINSECRET-c0mp4ct-9e1";
	struct store s;
	struct conv_out c;
	struct send_out o;
	host_up("compact.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	char cmid[16];
	for (int i = 0; i < 50; i++) {
		snprintf(cmid, sizeof cmid, "k%d", i);
		CU_ASSERT(send_sync(&s, c.cid, "alice", cmid, i == 7 ? SECRET : "filler words here",
				    100 + i, &o) == CHATD_OK);
	}
	CU_ASSERT(in_files(SECRET));      /* the test means something */
	CU_ASSERT(in_files("plainsecret"));
	CU_ASSERT(replace_sync(&s, c.cid, 8, SECRET, "sealed-looking-replacement") == CHATD_OK);
	CU_ASSERT(compact_sync(&s) == CHATD_OK);
	/* One more write: the WAL truncation runs after the compact's commit. */
	CU_ASSERT(send_sync(&s, c.cid, "alice", "after", "after", 500, &o) == CHATD_OK);
	CU_ASSERT(!in_files(SECRET));
	CU_ASSERT(!in_files("plainsecret"));   /* the search index's (lower-cased) words */
	CU_ASSERT(fts_count("compact.db", "replacement") == 1);
	store_close(&s);
	CU_ASSERT(!in_files(SECRET));
	stub_host_teardown();
}

void unit_register_storage_texts(void)
{
	CU_pSuite s = CU_add_suite("storage_texts", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "texts_scan", test_scan);
	CU_add_test(s, "text_replace compare and swap", test_replace);
	CU_add_test(s, "texts_compact erases the old bytes", test_compact);
}
