/* test_storage_sqlite.c — the sqlite storage plugin against real database
 * files (in a mkdtemp directory), through its descriptor and ops table and
 * the stub host's real event loop (helpers in sqlite_fixture.c). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
#include "unit.h"
/* The plugin's limits and schema version (its sources are linked in). */
#include "../../plugins/storage_sqlite/sqlite_ops.h"

/* ---- tests -------------------------------------------------------- */

static void test_seq_gapfree_batched(void)
{
	enum { NCONV = 5, PER = 200 };
	struct store s;
	host_up("seq.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(s.ops->health(s.inst) == CHATD_OK);
	struct conv_out conv[NCONV];
	for (int i = 0; i < NCONV; i++)
		CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 1000 + i, &conv[i]) == CHATD_OK);

	static struct send_out out[NCONV][PER];
	/* All issued before the loop runs: the writer sees a deep queue. */
	for (int j = 0; j < PER; j++) {
		for (int i = 0; i < NCONV; i++) {
			char cmid[16];
			snprintf(cmid, sizeof(cmid), "k%d", j);
			CU_ASSERT(send_async(&s, conv[i].cid, j % 2 ? "bob" : "alice", cmid, "hi",
					     2000 + j, &out[i][j]) == CHATD_OK);
		}
	}
	CU_ASSERT_FATAL(wait_all());
	for (int i = 0; i < NCONV; i++) {
		bool seen[PER + 1] = { false };
		int ok = 0;
		for (int j = 0; j < PER; j++) {
			CU_ASSERT(out[i][j].status == CHATD_OK);
			CU_ASSERT(!out[i][j].dup);
			/* message id = "m" + conversation id without its "c" + "-" + seq */
			char want[64];
			snprintf(want, sizeof want, "m%s-%lld", conv[i].cid + 1, (long long)out[i][j].seq);
			CU_ASSERT(strcmp(out[i][j].mid, want) == 0);
			int64_t q = out[i][j].seq;
			if (q >= 1 && q <= PER && !seen[q]) {
				seen[q] = true;
				ok++;
			}
		}
		CU_ASSERT(ok == PER);   /* 1..PER each exactly once */
		struct get_out g;
		/* The last sender (j = PER-1, bob) has read up to the end. */
		CU_ASSERT(get_sync(&s, conv[i].cid, "bob", 0, 10, &g) == CHATD_OK);
		CU_ASSERT(g.conv.last_seq == PER);
		CU_ASSERT(g.conv.read_seq == PER);
		CU_ASSERT(g.conv.last_activity == 2000 + PER - 1);
	}
	CU_ASSERT(conv[0].cid[0] == 'c' && strlen(conv[0].cid) == 17);
	store_close(&s);   /* flushes the metrics */
	int64_t writes = stub_metric("writes"), commits = stub_metric("commits");
	CU_ASSERT(writes == NCONV + NCONV * PER);
	CU_ASSERT(commits >= 1 && commits < writes);   /* group commit batched */
	CU_ASSERT(sql_int("seq.db", "SELECT COUNT(*) FROM messages") == NCONV * PER);
	stub_host_teardown();
}

static void test_duplicate(void)
{
	struct store s;
	struct conv_out c;
	struct send_out a, b, d1, d2;
	struct pre_out p;
	host_up("dup.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "alice", "x", "hello", 100, &a) == CHATD_OK);
	CU_ASSERT(a.seq == 1 && !a.dup);
	CU_ASSERT(send_sync(&s, c.cid, "alice", "x", "different", 200, &b) == CHATD_OK);
	CU_ASSERT(b.dup && b.seq == 1 && b.ts == 100);
	CU_ASSERT(strcmp(a.mid, b.mid) == 0);
	/* The same cmid from another sender is another message. */
	CU_ASSERT(send_sync(&s, c.cid, "bob", "x", "bob's", 300, &b) == CHATD_OK);
	CU_ASSERT(!b.dup && b.seq == 2);
	/* Both copies in one batch: one stored, one duplicate. */
	CU_ASSERT(send_async(&s, c.cid, "alice", "y", "one", 400, &d1) == CHATD_OK);
	CU_ASSERT(send_async(&s, c.cid, "alice", "y", "two", 401, &d2) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(d1.status == CHATD_OK && d2.status == CHATD_OK);
	CU_ASSERT(d1.seq == 3 && d2.seq == 3 && d1.dup != d2.dup);
	CU_ASSERT(strcmp(d1.mid, d2.mid) == 0);
	CU_ASSERT(sql_int("dup.db", "SELECT COUNT(*) FROM messages") == 3);

	CU_ASSERT(pre_sync(&s, c.cid, "alice", "x", &p) == CHATD_OK);
	CU_ASSERT(p.has_dup && p.dup_seq == 1 && p.has_conv && p.has_self);
	CU_ASSERT(strcmp(p.role, "owner") == 0);
	CU_ASSERT(pre_sync(&s, c.cid, "alice", "new", &p) == CHATD_OK);
	CU_ASSERT(!p.has_dup && p.has_conv);
	CU_ASSERT(pre_sync(&s, c.cid, "mallory", "x", &p) == CHATD_OK);
	CU_ASSERT(!p.has_dup && !p.has_conv && !p.has_self);
	store_close(&s);
	stub_host_teardown();
}

static void test_nonmember_and_batch_isolation(void)
{
	struct store s;
	struct conv_out c;
	struct send_out o[5];
	host_up("nonmember.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "mallory", "m1", "x", 20, &o[0]) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(send_sync(&s, "cffffffffffffffff", "alice", "m1", "x", 20, &o[0]) ==
		  CHATD_ERR_NOT_FOUND);
	/* Failures in the middle of a batch leave the neighbours intact. */
	CU_ASSERT(send_async(&s, c.cid, "alice", "a", "x", 30, &o[0]) == CHATD_OK);
	CU_ASSERT(send_async(&s, c.cid, "mallory", "b", "x", 31, &o[1]) == CHATD_OK);
	CU_ASSERT(send_async(&s, c.cid, "bob", "c", "x", 32, &o[2]) == CHATD_OK);
	CU_ASSERT(send_async(&s, "cnope", "bob", "d", "x", 33, &o[3]) == CHATD_OK);
	CU_ASSERT(send_async(&s, c.cid, "bob", "e", "x", 34, &o[4]) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(o[0].status == CHATD_OK && o[0].seq == 1);
	CU_ASSERT(o[1].status == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(o[2].status == CHATD_OK && o[2].seq == 2);
	CU_ASSERT(o[3].status == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(o[4].status == CHATD_OK && o[4].seq == 3);
	CU_ASSERT(sql_int("nonmember.db", "SELECT last_seq FROM conversations") == 3);
	CU_ASSERT(sql_int("nonmember.db", "SELECT COUNT(*) FROM messages") == 3);

	/* Inputs are checked before anything is queued. */
	char big[CHATD_ID_MAX + 2], bigcmid[CHATD_CMID_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(bigcmid, 'a', sizeof(bigcmid) - 1);
	bigcmid[sizeof(bigcmid) - 1] = '\0';
	CU_ASSERT(send_async(&s, c.cid, "alice", bigcmid, "x", 1, &o[0]) == CHATD_ERR_INVALID);
	CU_ASSERT(send_async(&s, c.cid, "alice", "", "x", 1, &o[0]) == CHATD_ERR_INVALID);
	CU_ASSERT(send_async(&s, c.cid, big, "z", "x", 1, &o[0]) == CHATD_ERR_INVALID);
	CU_ASSERT(send_async(&s, c.cid, "alice", "z", NULL, 1, &o[0]) == CHATD_ERR_INVALID);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_history(void)
{
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct hist_out h;
	host_up("history.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	for (int i = 1; i <= 10; i++) {
		char cmid[16], text[16];
		snprintf(cmid, sizeof(cmid), "c%d", i);
		snprintf(text, sizeof(text), "t%d", i);
		CU_ASSERT(send_sync(&s, c.cid, "alice", cmid, text, 100 + i, &o) == CHATD_OK);
	}
	/* Neither bound: the latest. */
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, -1, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 8, 10) && h.has_more);
	CU_ASSERT(strcmp(h.first_text, "t8") == 0);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 10) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, -1, 50, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 10) && !h.has_more);
	/* before: the latest below it. */
	CU_ASSERT(history_sync(&s, c.cid, "alice", 4, -1, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 3) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 5, -1, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 2, 4) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 1, -1, 3, &h) == CHATD_OK);
	CU_ASSERT(h.n == 0 && !h.has_more);
	/* after: the first above it. */
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, 7, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 8, 10) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, 6, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 7, 9) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, 10, 3, &h) == CHATD_OK);
	CU_ASSERT(h.n == 0 && !h.has_more);
	/* Both: strictly between, the first `limit` after `after`. */
	CU_ASSERT(history_sync(&s, c.cid, "alice", 6, 2, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 3, 5) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 6, 2, 2, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 3, 4) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 3, 2, 5, &h) == CHATD_OK);
	CU_ASSERT(h.n == 0 && !h.has_more);
	/* Limits. */
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, -1, 0, &h) == CHATD_ERR_INVALID);
	/* after = 0 is a bound: the first messages from the start. */
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, 0, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 3) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, -1, 100000, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 10));
	CU_ASSERT(history_sync(&s, "cnope", "alice", 0, -1, 5, &h) == CHATD_ERR_NOT_FOUND);

	/* Deleted-for-me messages are left out for that viewer only. */
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), "history.db");
	sqlite3 *db = NULL;
	char sql[160];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO hidden_messages VALUES('bob', '%s', 10), ('bob', '%s', 9)",
		 c.cid, c.cid);
	CU_ASSERT_FATAL(sqlite3_open(path, &db) == SQLITE_OK);
	CU_ASSERT(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, -1, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 6, 8) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, 7, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 8, 8) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "alice", 0, 7, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 8, 10));
	store_close(&s);
	stub_host_teardown();
}

static void test_sync(void)
{
	enum { NCONV = 15, PER = 120 };
	/* Activity rank: conversation i is the rank[i]-th least recent. */
	static const int rank[NCONV] = { 3, 11, 0, 14, 7, 1, 9, 12, 5, 2, 13, 6, 10, 4, 8 };
	struct store s;
	struct conv_out c[NCONV], foreign;
	static struct send_out o[NCONV][PER];
	struct sync_out y;
	const char *const v[] = { "v" };
	host_up("sync.db", (const char *const[]){ "synchronous", "normal", NULL });
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	for (int i = 0; i < NCONV; i++)
		CU_ASSERT_FATAL(group_sync(&s, "u", "g", v, 1, 10, &c[i]) == CHATD_OK);
	for (int j = 0; j < PER; j++) {
		for (int i = 0; i < NCONV; i++) {
			char cmid[16];
			snprintf(cmid, sizeof(cmid), "s%d", j);
			CU_ASSERT(send_async(&s, c[i].cid, "v", cmid, "m",
					     1000 + j * 100 + rank[i], &o[i][j]) == CHATD_OK);
		}
	}
	CU_ASSERT_FATAL(wait_all());
	int by_rank[NCONV];   /* most recent first */
	for (int i = 0; i < NCONV; i++)
		by_rank[NCONV - 1 - rank[i]] = i;

	/* No cursors: u has read nothing; 10 conversations fill the cap. */
	CU_ASSERT_FATAL(sync_sync(&s, "u", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT_FATAL(y.n == NCONV);
	CU_ASSERT(y.has_more && y.total == 1000);
	for (int k = 0; k < NCONV; k++) {
		CU_ASSERT(strcmp(y.c[k].cid, c[by_rank[k]].cid) == 0);
		CU_ASSERT(y.c[k].has_more);
		CU_ASSERT(y.c[k].last_seq == PER);
		/* CU_ASSERT is a block: keep it out of if/else without braces. */
		bool want = k < 10 ? y.c[k].n == 100 && y.c[k].first == 1 && y.c[k].last == 100 &&
				     y.c[k].ascending
				   : y.c[k].n == 0;
		CU_ASSERT(want);
	}

	/* A cursor near the end of the most recent one; the rest of the cap
	 * goes on down the list; cursors elsewhere are ignored. */
	CU_ASSERT_FATAL(direct_async(&s, "x", "y", 5, &foreign) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	struct chatd_cursor cur[] = {
		{ c[by_rank[0]].cid, 110 },
		{ foreign.cid, 0 },
		{ "cdoesnotexist", 3 },
		{ c[by_rank[1]].cid, 0 },   /* 0: after the read cursor */
	};
	CU_ASSERT_FATAL(sync_sync(&s, "u", cur, 4, &y) == CHATD_OK);
	CU_ASSERT_FATAL(y.n == NCONV);
	CU_ASSERT(y.has_more && y.total == 1000);
	CU_ASSERT(y.c[0].n == 10 && y.c[0].first == 111 && y.c[0].last == 120 && !y.c[0].has_more);
	for (int k = 1; k < 10; k++)
		CU_ASSERT(y.c[k].n == 100 && y.c[k].first == 1 && y.c[k].has_more);
	CU_ASSERT(y.c[10].n == 90 && y.c[10].first == 1 && y.c[10].last == 90 && y.c[10].has_more);
	for (int k = 11; k < NCONV; k++)
		CU_ASSERT(y.c[k].n == 0 && y.c[k].has_more);
	for (size_t k = 0; k < y.n; k++)
		CU_ASSERT(strcmp(y.c[k].cid, foreign.cid) != 0);

	/* Cursor 0 = after the read cursor: u sends in the least recent one,
	 * which makes it the most recent with nothing unread. */
	int least = by_rank[NCONV - 1];
	struct send_out mine;
	CU_ASSERT(send_sync(&s, c[least].cid, "u", "mine", "me", 999999, &mine) == CHATD_OK);
	CU_ASSERT(mine.seq == PER + 1);
	struct chatd_cursor zero[] = { { c[least].cid, 0 } };
	CU_ASSERT_FATAL(sync_sync(&s, "u", zero, 1, &y) == CHATD_OK);
	CU_ASSERT(strcmp(y.c[0].cid, c[least].cid) == 0);
	CU_ASSERT(y.c[0].n == 0 && !y.c[0].has_more && y.c[0].read_seq == PER + 1);
	struct chatd_cursor back[] = { { c[least].cid, 115 } };
	CU_ASSERT_FATAL(sync_sync(&s, "u", back, 1, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 6 && y.c[0].first == 116 && y.c[0].last == PER + 1);

	/* Cut at per_conv only, total not reached: the top level says no. */
	struct conv_out w[2];
	const char *const z[] = { "z" };
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_FATAL(group_sync(&s, "w", "g", z, 1, 10, &w[i]) == CHATD_OK);
		for (int j = 0; j < PER; j++) {
			char cmid[16];
			snprintf(cmid, sizeof(cmid), "w%d", j);
			CU_ASSERT(send_async(&s, w[i].cid, "z", cmid, "m", 50 + j, &o[i][j]) ==
				  CHATD_OK);
		}
	}
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT_FATAL(sync_sync(&s, "w", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT(y.n == 2 && y.total == 200 && !y.has_more);
	CU_ASSERT(y.c[0].n == 100 && y.c[0].has_more && y.c[1].n == 100 && y.c[1].has_more);

	/* v sent everything: nothing unread anywhere. */
	CU_ASSERT_FATAL(sync_sync(&s, "v", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT(y.n == NCONV && y.total == 1 && !y.has_more);
	/* A stranger has nothing. */
	CU_ASSERT_FATAL(sync_sync(&s, "nobody", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT(y.n == 0 && !y.has_more);
	struct chatd_cursor bad[] = { { "c1", -1 } };
	CU_ASSERT(sync_sync(&s, "u", bad, 1, &y) == CHATD_ERR_INVALID);
	store_close(&s);
	stub_host_teardown();
}

static void test_direct(void)
{
	struct store s;
	struct conv_out a, b, c1, c2;
	host_up("direct.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(direct_async(&s, "alice", "bob", 10, &a) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(a.status == CHATD_OK && a.created);
	CU_ASSERT(strcmp(a.kind, "direct") == 0 && strcmp(a.role, "member") == 0);
	CU_ASSERT(strcmp(a.peer, "bob") == 0 && !a.has_title && a.member_count == 2);
	CU_ASSERT(direct_async(&s, "bob", "alice", 20, &b) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(b.status == CHATD_OK && !b.created);
	CU_ASSERT(strcmp(a.cid, b.cid) == 0);
	CU_ASSERT(strcmp(b.peer, "alice") == 0 && strcmp(b.role, "member") == 0);
	/* Both orders in one batch: one conversation. */
	CU_ASSERT(direct_async(&s, "carol", "dave", 30, &c1) == CHATD_OK);
	CU_ASSERT(direct_async(&s, "dave", "carol", 30, &c2) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(c1.status == CHATD_OK && c2.status == CHATD_OK);
	CU_ASSERT(strcmp(c1.cid, c2.cid) == 0 && c1.created != c2.created);
	CU_ASSERT(strcmp(c1.cid, a.cid) != 0);
	CU_ASSERT(direct_async(&s, "alice", "alice", 30, &c1) == CHATD_ERR_INVALID);
	CU_ASSERT(sql_int("direct.db", "SELECT COUNT(*) FROM conversations") == 2);
	CU_ASSERT(sql_int("direct.db", "SELECT COUNT(*) FROM members") == 4);
	store_close(&s);
	stub_host_teardown();
}

static void test_group(void)
{
	struct store s;
	struct conv_out c;
	struct get_out g;
	const char *const m[] = { "bob", "alice", "carol", "bob" };
	host_up("group.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "team", m, 4, 50, &c) == CHATD_OK);
	CU_ASSERT(c.created && strcmp(c.kind, "group") == 0 && strcmp(c.title, "team") == 0);
	CU_ASSERT(c.member_count == 3 && strcmp(c.role, "owner") == 0 && !c.has_peer);
	CU_ASSERT(c.last_seq == 0 && c.read_seq == 0 && c.last_activity == 50);
	CU_ASSERT(get_sync(&s, c.cid, NULL, 0, 10, &g) == CHATD_OK);
	CU_ASSERT_FATAL(g.n == 3);
	CU_ASSERT(strcmp(g.users[0], "alice") == 0 && strcmp(g.roles[0], "owner") == 0);
	CU_ASSERT(strcmp(g.users[1], "bob") == 0 && strcmp(g.roles[1], "member") == 0);
	CU_ASSERT(strcmp(g.users[2], "carol") == 0 && strcmp(g.roles[2], "member") == 0);
	CU_ASSERT(g.conv.member_count == 3 && g.conv.role[0] == '\0');
	CU_ASSERT(get_sync(&s, c.cid, "bob", 0, 10, &g) == CHATD_OK);
	CU_ASSERT(strcmp(g.conv.role, "member") == 0);
	/* A group of one. */
	CU_ASSERT_FATAL(group_sync(&s, "solo", NULL, NULL, 0, 60, &c) == CHATD_OK);
	CU_ASSERT(c.member_count == 1 && !c.has_title);
	store_close(&s);
	stub_host_teardown();
}

static void test_conv_list(void)
{
	struct store s;
	struct conv_out c[3], d;
	struct send_out o;
	struct list_out l;
	host_up("list.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 1000 * (i + 1), &c[i]) ==
				CHATD_OK);
	CU_ASSERT(direct_async(&s, "carol", "alice", 2500, &d) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(send_sync(&s, c[0].cid, "bob", "x", "hi", 4000, &o) == CHATD_OK);
	CU_ASSERT(list_sync(&s, "alice", &l) == CHATD_OK);
	CU_ASSERT_FATAL(l.n == 4);
	CU_ASSERT(strcmp(l.cids[0], c[0].cid) == 0);   /* message at 4000 */
	CU_ASSERT(strcmp(l.cids[1], c[2].cid) == 0);   /* created 3000 */
	CU_ASSERT(strcmp(l.cids[2], d.cid) == 0);      /* created 2500 */
	CU_ASSERT(strcmp(l.cids[3], c[1].cid) == 0);   /* created 2000 */
	CU_ASSERT(strcmp(l.roles[0], "owner") == 0 && strcmp(l.roles[2], "member") == 0);
	CU_ASSERT(list_sync(&s, "bob", &l) == CHATD_OK);
	CU_ASSERT(l.n == 3 && strcmp(l.roles[0], "member") == 0);
	CU_ASSERT(list_sync(&s, "nobody", &l) == CHATD_OK);
	CU_ASSERT(l.n == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_conv_get(void)
{
	struct store s;
	struct conv_out c;
	struct get_out g;
	const char *const m[] = { "m7", "m2", "m9", "m1", "m5", "m3", "m8", "m4", "m6" };
	host_up("get.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "a0", "g", m, 9, 10, &c) == CHATD_OK);
	CU_ASSERT(c.member_count == 10);
	CU_ASSERT(get_sync(&s, c.cid, "m3", 0, 4, &g) == CHATD_OK);
	CU_ASSERT_FATAL(g.n == 4);
	CU_ASSERT(strcmp(g.users[0], "a0") == 0 && strcmp(g.users[1], "m1") == 0 &&
		  strcmp(g.users[3], "m3") == 0);
	CU_ASSERT(strcmp(g.conv.role, "member") == 0 && g.conv.member_count == 10);
	CU_ASSERT(get_sync(&s, c.cid, "m3", 8, 4, &g) == CHATD_OK);
	CU_ASSERT(g.n == 2 && strcmp(g.users[0], "m8") == 0 && strcmp(g.users[1], "m9") == 0);
	CU_ASSERT(get_sync(&s, c.cid, "m3", 20, 4, &g) == CHATD_OK);
	CU_ASSERT(g.n == 0);
	CU_ASSERT(get_sync(&s, c.cid, "m3", 0, 0, &g) == CHATD_OK);
	CU_ASSERT(g.n == 0);
	CU_ASSERT(get_sync(&s, c.cid, "stranger", 0, 4, &g) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(get_sync(&s, "cnope", NULL, 0, 4, &g) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(get_sync(&s, c.cid, "m3", 0, 1000000, &g) == CHATD_ERR_TOO_LARGE);
	store_close(&s);
	stub_host_teardown();
}

static void test_durability(void)
{
	enum { N = 500 };
	struct store s;
	struct conv_out c;
	static struct send_out o[N];
	host_up("durable.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	for (int i = 0; i < N; i++) {
		char cmid[16];
		snprintf(cmid, sizeof(cmid), "d%d", i);
		CU_ASSERT(send_async(&s, c.cid, "alice", cmid, "x", 100 + i, &o[i]) == CHATD_OK);
	}
	/* fini at once: every queued write must still be committed. */
	store_close(&s);
	g_pending = 0;   /* their completions were dropped */
	CU_ASSERT(store_open(&s) == CHATD_OK);
	struct get_out g;
	CU_ASSERT(get_sync(&s, c.cid, "alice", 0, 1, &g) == CHATD_OK);
	CU_ASSERT(g.conv.last_seq == N && g.conv.read_seq == N);
	/* Page backwards from the latest (after < 0 means no bound). */
	int64_t next = N, before = 0;
	for (;;) {
		struct hist_out h;
		CU_ASSERT_FATAL(history_sync(&s, c.cid, "alice", before, -1, 200, &h) == CHATD_OK);
		CU_ASSERT_FATAL(h.n > 0);
		for (size_t i = h.n; i-- > 0;)
			CU_ASSERT(h.seqs[i] == next--);
		if (!h.has_more)
			break;
		before = h.seqs[0];
	}
	CU_ASSERT(next == 0);
	store_close(&s);
	CU_ASSERT(sql_int("durable.db", "SELECT COUNT(*) FROM messages") == N);
	CU_ASSERT(sql_int("durable.db",
			  "SELECT COUNT(DISTINCT client_message_id) FROM messages") == N);
	CU_ASSERT(sql_int("durable.db", "SELECT MAX(seq) - MIN(seq) + 1 FROM messages") == N);
	stub_host_teardown();
}

static void test_schema_newer_refused(void)
{
	struct store s;
	host_up("newer.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	store_close(&s);
	CU_ASSERT(sql_int("newer.db", "SELECT version FROM schema_version") ==
		  SQLITE_SCHEMA_VERSION);
	char path[PATH_MAX + 64];
	db_path(path, sizeof(path), "newer.db");
	sqlite3 *db = NULL;
	CU_ASSERT_FATAL(sqlite3_open(path, &db) == SQLITE_OK);
	CU_ASSERT(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) ==
		  SQLITE_OK);
	sqlite3_close(db);
	stub_host_quiet(true);
	CU_ASSERT(store_open(&s) == CHATD_ERR_ABI);
	CU_ASSERT(s.inst == NULL);
	CU_ASSERT(stub_log_count("sqlite.schema_too_new") == 1);
	/* The file is left as it was. */
	CU_ASSERT(sql_int("newer.db", "SELECT version FROM schema_version") == 99);
	stub_host_teardown();
}

static void test_options(void)
{
	struct store s;
	host_up("opts.db", (const char *const[]){ "synchronous", "sometimes", NULL });
	stub_host_quiet(true);
	CU_ASSERT(store_open(&s) == CHATD_ERR_INVALID);
	CU_ASSERT(stub_log_count("sqlite.bad_option") == 1);
	stub_host_set("synchronous", "normal");
	stub_host_set("batch_max", "0");
	CU_ASSERT(store_open(&s) == CHATD_ERR_INVALID);
	stub_host_set("batch_max", "1");
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(s.ops->health(s.inst) == CHATD_OK);
	/* batch_max 1 still works, one commit per write. */
	struct conv_out c;
	struct send_out o;
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	CU_ASSERT(send_sync(&s, c.cid, "bob", "k", "x", 20, &o) == CHATD_OK && o.seq == 1);
	store_close(&s);
	CU_ASSERT(stub_metric("commits") == 2);
	/* An unwritable place is an error, not a crash. */
	stub_host_set("path", "/nonexistent-dir/x/y.db");
	CU_ASSERT(store_open(&s) == CHATD_ERR_IO);
	stub_host_teardown();

	const struct chatd_plugin *p = chatd_plugin_describe();
	CU_ASSERT(p->abi_major == CHATD_ABI_MAJOR && p->kind == CHATD_KIND_STORAGE);
	CU_ASSERT(strcmp(p->name, "sqlite") == 0);
	const struct chatd_storage_ops *ops = p->ops;
	CU_ASSERT(ops->struct_size == sizeof(struct chatd_storage_ops));
	CU_ASSERT(p->abi_minor == CHATD_ABI_MINOR && CHATD_ABI_MINOR >= 2);
	CU_ASSERT(ops->audit_append && ops->audit_list && ops->mod_item_add &&
		  ops->mod_item_list && ops->mod_item_resolve && ops->message_set_visibility &&
		  ops->sanction_add && ops->sanction_lift && ops->sanction_list_active &&
		  ops->user_seen);
	CU_ASSERT(ops->conv_change && ops->members_get && ops->message_get &&
		  ops->message_edit && ops->message_delete && ops->message_hide &&
		  ops->purge_deleted);
}

/* ---- suite -------------------------------------------------------- */

void unit_register_storage_sqlite(void)
{
	CU_pSuite s = CU_add_suite("storage_sqlite", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "seq gap-free under group commit", test_seq_gapfree_batched);
	CU_add_test(s, "duplicate send", test_duplicate);
	CU_add_test(s, "non-member and batch isolation", test_nonmember_and_batch_isolation);
	CU_add_test(s, "history paging", test_history);
	CU_add_test(s, "sync caps, order and cursors", test_sync);
	CU_add_test(s, "direct dedupe", test_direct);
	CU_add_test(s, "group members and roles", test_group);
	CU_add_test(s, "conv_list order", test_conv_list);
	CU_add_test(s, "conv_get paging", test_conv_get);
	CU_add_test(s, "fini commits queued writes", test_durability);
	CU_add_test(s, "newer schema refused", test_schema_newer_refused);
	CU_add_test(s, "options", test_options);
}
