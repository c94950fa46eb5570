/* test_search.c — the search grammar (core/search_query.c), its FTS5
 * translation (storage_sqlite's sqlite_search_expr) over a table of hostile
 * inputs, and the sqlite plugin's search op: visibility exactly as history
 * shows messages, the index kept in step with edits, deletes, hides, purges
 * and removal, paging, and the index built for existing rows on upgrade. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
#include "unit.h"
#include "../../core/search_query.h"
#include "../../plugins/storage_sqlite/sqlite_ops.h"

/* Parse then translate: the expression, or "ERR" when the parser refused. */
static const char *translate(const char *text, char *out, size_t cap)
{
	struct search_query q;
	char err[128];
	if (search_query_parse(text, strlen(text), &q, err, sizeof err) < 0) {
		CU_ASSERT(err[0] != '\0');
		snprintf(out, cap, "ERR");
		return out;
	}
	if (sqlite_search_expr(q.terms, q.n_terms, out, cap) < 0)
		snprintf(out, cap, "EXPR-FAIL");
	return out;
}

static void test_grammar(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "hello", "\"hello\"" },
		{ "  hello   world ", "\"hello\" AND \"world\"" },
		{ "\"hello world\"", "\"hello world\"" },
		{ "hel*", "\"hel\" *" },
		{ "\"good morn\"*", "\"good morn\" *" },
		{ "Grüße café", "\"Grüße\" AND \"café\"" },
		/* FTS5 operators and syntax are words or separators, never syntax. */
		{ "a OR b", "\"a\" AND \"OR\" AND \"b\"" },
		{ "NOT x", "\"NOT\" AND \"x\"" },
		{ "NEAR(a b)", "\"NEAR\" AND \"a\" AND \"b\"" },
		{ "body:secret", "\"body\" AND \"secret\"" },
		{ "-x +y ^z", "\"x\" AND \"y\" AND \"z\"" },
		{ "(a) {b} [c]", "\"a\" AND \"b\" AND \"c\"" },
		/* SQL is just words. */
		{ "'; DROP TABLE messages; --", "\"DROP\" AND \"TABLE\" AND \"messages\"" },
		{ "x' OR '1'='1", "\"x\" AND \"OR\" AND \"1\" AND \"1\"" },
		{ "a\"b\"c", "\"a\" AND \"b\" AND \"c\"" },
		{ "\"\" word", "\"word\"" },
		{ "\"!!\" word", "\"word\"" },
		{ "x*y", "\"x\" * AND \"y\"" },
		/* Refusals. */
		{ "", "ERR" },
		{ "   ", "ERR" },
		{ "!@#$%", "ERR" },
		{ "\"unterminated", "ERR" },
		{ "*", "ERR" },
		{ "a **", "ERR" },
		{ "a**", "ERR" },
		{ "\"a* b\"", "ERR" },
		{ "\"\"", "ERR" },
		{ "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "ERR" },
		{ "\"1 2 3 4 5 6 7 8 9\" \"10 11 12 13 14 15 16 17\"", "ERR" },
	};
	char out[2048];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = translate(cases[i].in, out, sizeof out);
		if (strcmp(got, cases[i].want) != 0)
			fprintf(stderr, "\n  query [%s]: got [%s], want [%s]\n", cases[i].in, got,
				cases[i].want);
		CU_ASSERT(strcmp(got, cases[i].want) == 0);
	}
	/* Lengths: 64-byte words pass, 65 do not; 256-byte queries pass, 257 not. */
	char w[80], q[300];
	memset(w, 'a', 64);
	w[64] = '\0';
	CU_ASSERT(strcmp(translate(w, out, sizeof out), "ERR") != 0);
	w[64] = 'a';
	w[65] = '\0';
	CU_ASSERT(strcmp(translate(w, out, sizeof out), "ERR") == 0);
	memset(q, ' ', 256);
	memcpy(q, "ok", 2);
	q[256] = '\0';
	CU_ASSERT(strcmp(translate(q, out, sizeof out), "\"ok\"") == 0);
	q[256] = ' ';
	q[257] = '\0';
	CU_ASSERT(strcmp(translate(q, out, sizeof out), "ERR") == 0);
	/* Sixteen words of 15 bytes (256 bytes with the spaces) translate. */
	char big[16 * 16 + 1];
	for (int i = 0; i < 16; i++) {
		memset(big + i * 16, 'a' + i, 15);
		big[i * 16 + 15] = ' ';
	}
	big[16 * 16] = '\0';
	struct search_query sq;
	char err[128];
	CU_ASSERT_FATAL(search_query_parse(big, 256, &sq, err, sizeof err) == 0);
	CU_ASSERT(sq.n_terms == 16 && sq.n_words == 16 && strlen(sq.words[15]) == 15);
	CU_ASSERT(sqlite_search_expr(sq.terms, sq.n_terms, out, sizeof out) > 16 * 17);
	/* The builder refuses what the core never sends. */
	const char *bad_words[] = { "" };
	struct chatd_search_term t = { .words = bad_words, .n_words = 1 };
	CU_ASSERT(sqlite_search_expr(&t, 1, out, sizeof out) < 0);
	t.n_words = 0;
	CU_ASSERT(sqlite_search_expr(&t, 1, out, sizeof out) < 0);
	const char *quote[] = { "a\"b" };
	t = (struct chatd_search_term){ .words = quote, .n_words = 1 };
	CU_ASSERT(sqlite_search_expr(&t, 1, out, sizeof out) > 0 && strcmp(out, "\"a\"\"b\"") == 0);
	CU_ASSERT(sqlite_search_expr(&t, 1, out, 4) < 0);
}

/* ---- the storage op ------------------------------------------------ */

#define HITS_MAX 64
struct search_out {
	int status;
	size_t n;
	int64_t seqs[HITS_MAX];
	char cids[HITS_MAX][32];
	char snippet[HITS_MAX][96];
	int64_t next;
};

static void search_cb(void *arg, int status, const struct chatd_search_hit *hits, size_t n,
		      int64_t next)
{
	struct search_out *o = arg;
	o->status = status;
	o->n = n < HITS_MAX ? n : HITS_MAX;
	for (size_t i = 0; i < o->n; i++) {
		o->seqs[i] = hits[i].msg.seq;
		snprintf(o->cids[i], sizeof o->cids[i], "%s", hits[i].msg.conversation_id);
		snprintf(o->snippet[i], sizeof o->snippet[i], "%s", hits[i].snippet);
	}
	o->next = next;
	g_pending--;
}

static int search_sync(struct store *s, const char *viewer, const char *cid, const char *text,
		       int64_t before, int limit, struct search_out *o)
{
	struct search_query q;
	char err[128];
	memset(o, 0, sizeof *o);
	o->status = 1;
	if (search_query_parse(text, strlen(text), &q, err, sizeof err) < 0)
		return CHATD_ERR_INVALID;
	struct chatd_search_req req = {
		.viewer = viewer, .conversation_id = cid, .terms = q.terms, .n_terms = q.n_terms,
		.before = before, .limit = limit,
	};
	int st = s->ops->search(s->inst, &req, search_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}

/* The hits of o are exactly the seqs want[0..n), newest first. */
static bool hits_are(const struct search_out *o, const int64_t *want, size_t n)
{
	if (o->status != CHATD_OK || o->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (o->seqs[i] != want[i])
			return false;
	return true;
}

static void test_search_visibility(void)
{
	struct store s;
	struct conv_out g, d;
	struct send_out o;
	struct search_out r;
	struct msg_out m;
	struct st_out so;
	struct change_out co;
	host_up("search.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	const char *members[] = { "bob", "carol" };
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", members, 2, 10, &g) == CHATD_OK);
	CU_ASSERT_FATAL(direct_async(&s, "alice", "dave", 10, &d) == CHATD_OK && wait_all());
	CU_ASSERT(send_sync(&s, g.cid, "alice", "k1", "the quick brown fox", 100, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, g.cid, "bob", "k2", "a lazy dog sleeps", 110, &o) == CHATD_OK);
	CU_ASSERT(send_vis_sync(&s, g.cid, "bob", "k3", "shadowed fox", 120, CHATD_VIS_SHADOW, NULL,
				&o) == CHATD_OK);
	CU_ASSERT(send_vis_sync(&s, g.cid, "carol", "k4", "held fox", 130, CHATD_VIS_HELD, NULL,
				&o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, d.cid, "dave", "k5", "Quick FOX in private", 140, &o) == CHATD_OK);

	/* Words, case-folded; newest first; another user's direct conversation never. */
	CU_ASSERT(search_sync(&s, "alice", NULL, "fox", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(r.n == 2 && strcmp(r.cids[0], d.cid) == 0 && r.seqs[1] == 1 && r.next == 0);
	CU_ASSERT(strstr(r.snippet[1], "\x02" "fox" "\x03") != NULL);
	CU_ASSERT(search_sync(&s, "bob", NULL, "fox", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ 3, 1 }, 2));            /* his own shadowed one */
	CU_ASSERT(search_sync(&s, "carol", NULL, "fox", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ 4, 1 }, 2));            /* her own held one */
	CU_ASSERT(search_sync(&s, "mallory", NULL, "fox", 0, 10, &r) == CHATD_OK && r.n == 0);
	/* Phrases, prefixes, AND, one conversation. */
	CU_ASSERT(search_sync(&s, "alice", NULL, "\"quick brown\"", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ 1 }, 1));
	CU_ASSERT(search_sync(&s, "alice", NULL, "\"brown quick\"", 0, 10, &r) == CHATD_OK &&
		  r.n == 0);
	CU_ASSERT(search_sync(&s, "bob", NULL, "sle*", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ 2 }, 1));
	CU_ASSERT(search_sync(&s, "alice", NULL, "quick fox", 0, 10, &r) == CHATD_OK && r.n == 2);
	CU_ASSERT(search_sync(&s, "alice", NULL, "quick dog", 0, 10, &r) == CHATD_OK && r.n == 0);
	CU_ASSERT(search_sync(&s, "alice", g.cid, "fox", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ 1 }, 1));
	/* Operators typed by the user are words: no match, no error. */
	CU_ASSERT(search_sync(&s, "alice", NULL, "fox OR dog", 0, 10, &r) == CHATD_OK && r.n == 0);
	CU_ASSERT(search_sync(&s, "alice", NULL, "NEAR(fox dog)", 0, 10, &r) == CHATD_OK &&
		  r.n == 0);
	CU_ASSERT(search_sync(&s, "alice", NULL, "body:fox", 0, 10, &r) == CHATD_OK && r.n == 0);

	/* Edit: the old words leave, the new ones come. */
	struct chatd_message_edit e = {
		.conversation_id = g.cid, .seq = 2, .editor = "bob", .text = "a lazy cat", .ts = 200,
	};
	CU_ASSERT(edit_sync(&s, &e, &m) == CHATD_OK);
	CU_ASSERT(search_sync(&s, "alice", NULL, "dog", 0, 10, &r) == CHATD_OK && r.n == 0);
	CU_ASSERT(search_sync(&s, "alice", NULL, "cat", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ 2 }, 1));
	/* Delete for me: gone for that user only. */
	CU_ASSERT(hide_sync(&s, "bob", g.cid, 2, &so) == CHATD_OK);
	CU_ASSERT(search_sync(&s, "bob", NULL, "cat", 0, 10, &r) == CHATD_OK && r.n == 0);
	CU_ASSERT(search_sync(&s, "carol", NULL, "cat", 0, 10, &r) == CHATD_OK && r.n == 1);
	/* Delete for everyone: gone for all, and out of the index. */
	CU_ASSERT(delete_sync(&s, g.cid, 2, 300, &m) == CHATD_OK);
	CU_ASSERT(search_sync(&s, "carol", NULL, "cat", 0, 10, &r) == CHATD_OK && r.n == 0);
	CU_ASSERT(sql_int("search.db", "SELECT COUNT(*) FROM messages_fts WHERE messages_fts "
				       "MATCH 'cat'") == 0);
	struct id_out io;
	CU_ASSERT(purge_sync(&s, 1000, &io) == CHATD_OK && io.id == 1);
	CU_ASSERT(sql_int("search.db", "SELECT COUNT(*) FROM search_rows") == 4);
	/* Removal: a removed member finds nothing there any more. */
	CU_ASSERT(on_user(&s, CHATD_CHANGE_REMOVE, g.cid, "alice", "carol", NULL, &co) ==
		  CHATD_OK);
	CU_ASSERT(search_sync(&s, "carol", NULL, "fox", 0, 10, &r) == CHATD_OK && r.n == 0);
	/* History from join: only what comes after the add. */
	struct chatd_conv_change ch = change(CHATD_CHANGE_ADD, g.cid, "alice");
	const char *erin[] = { "erin" };
	ch.users = erin;
	ch.n_users = 1;
	ch.history_from_join = true;
	CU_ASSERT(change_sync(&s, &ch, &co) == CHATD_OK);
	CU_ASSERT(send_sync(&s, g.cid, "alice", "k6", "fox again", 400, &o) == CHATD_OK);
	CU_ASSERT(search_sync(&s, "erin", NULL, "fox", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ o.seq }, 1));
	/* Bad arguments. */
	CU_ASSERT(search_sync(&s, "", NULL, "fox", 0, 10, &r) == CHATD_ERR_INVALID);
	CU_ASSERT(search_sync(&s, "alice", NULL, "fox", 0, 0, &r) == CHATD_ERR_INVALID);
	store_close(&s);
	stub_host_teardown();
}

static void test_search_paging(void)
{
	struct store s;
	struct conv_out g;
	struct send_out o;
	struct search_out r;
	host_up("search_page.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &g) == CHATD_OK);
	for (int i = 1; i <= 25; i++) {
		char cmid[16], text[48];
		snprintf(cmid, sizeof cmid, "k%d", i);
		snprintf(text, sizeof text, "%s number %d", i % 5 ? "needle" : "hay", i);
		CU_ASSERT(send_sync(&s, g.cid, i % 2 ? "alice" : "bob", cmid, text, 100 + i, &o) ==
			  CHATD_OK);
	}
	/* 20 needles (i not a multiple of 5), 8 a page: 8 + 8 + 4. */
	int64_t seen[32];
	size_t n = 0;
	int64_t before = 0;
	int pages = 0;
	do {
		CU_ASSERT_FATAL(search_sync(&s, "bob", NULL, "needle", before, 8, &r) == CHATD_OK);
		for (size_t i = 0; i < r.n && n < 32; i++)
			seen[n++] = r.seqs[i];
		before = r.next;
		pages++;
	} while (before > 0 && pages < 10);
	CU_ASSERT(pages == 3 && n == 20);
	for (size_t i = 1; i < n; i++)
		CU_ASSERT(seen[i] < seen[i - 1]);
	/* The limit is capped. */
	CU_ASSERT(search_sync(&s, "bob", NULL, "number", 0, 1000, &r) == CHATD_OK);
	CU_ASSERT(r.n == 25 && r.next == 0);
	store_close(&s);
	stub_host_teardown();
}

/* A file of schema 5 with messages gets them indexed by migration 6. */
static void test_search_upgrade(void)
{
	CU_ASSERT_FATAL(schema_at("search_old.db", 5) == CHATD_OK);
	CU_ASSERT_FATAL(sql_exec("search_old.db",
		"INSERT INTO conversations(id, kind, created_at, last_seq, last_activity, "
		"member_count) VALUES ('cold', 'group', 1, 3, 1, 1);"
		"INSERT INTO members(conversation_id, user_id, role, joined_at) "
		"VALUES ('cold', 'alice', 'owner', 1);"
		"INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
		"client_message_id, text, created_at) VALUES "
		"('cold', 1, 'mcold-1', 'alice', 'a', 'ancient scroll', 2),"
		"('cold', 2, 'mcold-2', 'alice', 'b', 'another scroll', 3);"
		"INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
		"client_message_id, text, created_at, deleted) VALUES "
		"('cold', 3, 'mcold-3', 'alice', 'c', 'deleted scroll', 4, 1);") == SQLITE_OK);
	struct store s;
	struct search_out r;
	host_up("search_old.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(sql_int("search_old.db", "SELECT MAX(version) FROM schema_version") ==
		  SQLITE_SCHEMA_VERSION);
	CU_ASSERT(search_sync(&s, "alice", NULL, "scroll", 0, 10, &r) == CHATD_OK);
	CU_ASSERT(hits_are(&r, (int64_t[]){ 2, 1 }, 2));
	store_close(&s);
	stub_host_teardown();
}

void unit_register_search(void)
{
	CU_pSuite g = CU_add_suite("search_grammar", NULL, NULL);
	CU_add_test(g, "grammar and FTS5 translation of hostile inputs", test_grammar);
	CU_pSuite s = CU_add_suite("storage_search", sqlite_suite_init, sqlite_suite_clean);
	CU_add_test(s, "search visibility and index upkeep", test_search_visibility);
	CU_add_test(s, "search paging", test_search_paging);
	CU_add_test(s, "index built on upgrade", test_search_upgrade);
}
