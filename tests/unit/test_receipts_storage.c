/* test_receipts_storage.c — read cursors in the sqlite storage plugin
 * (cursors_advance, ABI 1.3) against real database files, and the
 * receipts_cursor writer (cursor_writer.c) on top of it: the timer's
 * writes and the last write at fini, which must survive a reopen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
#include "unit.h"
#include "../../plugins/receipts_cursor/cursor_writer.h"

struct cur_out {
	int status;
	int64_t moved;
};

static void cur_cb(void *arg, int status, int64_t moved)
{
	struct cur_out *o = arg;
	o->status = status;
	o->moved = moved;
	g_pending--;
}

static int advance_async(struct store *s, const struct chatd_read_cursor *c, size_t n,
			 struct cur_out *o)
{
	o->status = 1;
	o->moved = -1;
	int st = s->ops->cursors_advance(s->inst, c, n, cur_cb, o);
	if (st == CHATD_OK)
		g_pending++;
	return st;
}

static int advance(struct store *s, const struct chatd_read_cursor *c, size_t n,
		   struct cur_out *o)
{
	int st = advance_async(s, c, n, o);
	if (st < 0)
		return st;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}

/* One cursor. */
static int advance1(struct store *s, const char *cid, const char *user, int64_t seq,
		    struct cur_out *o)
{
	struct chatd_read_cursor c = { cid, user, seq };
	return advance(s, &c, 1, o);
}

/* The stored cursor of user in cid; -1 when no member row. */
static int64_t cursor_of(const char *file, const char *cid, const char *user)
{
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT COALESCE((SELECT last_read_seq FROM members WHERE conversation_id = '%s' "
		 "AND user_id = '%s'), -1)", cid, user);
	return sql_int(file, sql);
}

/* alice owns a group with bob and carol, and has sent n messages. */
static void group_with(struct store *s, int n, struct conv_out *c)
{
	const char *const members[] = { "bob", "carol" };
	CU_ASSERT_FATAL(group_sync(s, "alice", "g", members, 2, 10, c) == CHATD_OK);
	for (int i = 1; i <= n; i++) {
		struct send_out so;
		char cmid[16];
		snprintf(cmid, sizeof cmid, "m%d", i);
		CU_ASSERT_FATAL(send_sync(s, c->cid, "alice", cmid, "hi", 100 + i, &so) == CHATD_OK);
	}
}

static void test_forward_only(void)
{
	struct store s;
	struct conv_out c;
	struct cur_out o;
	host_up("fwd.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	group_with(&s, 5, &c);
	CU_ASSERT_EQUAL(cursor_of("fwd.db", c.cid, "alice"), 5);   /* sending moved it */
	CU_ASSERT_EQUAL(cursor_of("fwd.db", c.cid, "bob"), 0);

	CU_ASSERT_EQUAL(advance1(&s, c.cid, "bob", 3, &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 1);
	CU_ASSERT_EQUAL(cursor_of("fwd.db", c.cid, "bob"), 3);
	/* Back or equal: nothing moves. */
	CU_ASSERT_EQUAL(advance1(&s, c.cid, "bob", 2, &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 0);
	CU_ASSERT_EQUAL(advance1(&s, c.cid, "bob", 3, &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 0);
	CU_ASSERT_EQUAL(advance1(&s, c.cid, "alice", 0, &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 0);
	CU_ASSERT_EQUAL(cursor_of("fwd.db", c.cid, "bob"), 3);
	CU_ASSERT_EQUAL(cursor_of("fwd.db", c.cid, "alice"), 5);
	CU_ASSERT_EQUAL(advance1(&s, c.cid, "bob", 5, &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 1);
	CU_ASSERT_EQUAL(cursor_of("fwd.db", c.cid, "bob"), 5);
	/* What readers see. */
	struct get_out g;
	CU_ASSERT_EQUAL(get_sync(&s, c.cid, "bob", 0, 0, &g), CHATD_OK);
	CU_ASSERT_EQUAL(g.conv.read_seq, 5);
	store_close(&s);
	stub_host_teardown();
}

static void test_non_members_and_count(void)
{
	struct store s;
	struct conv_out c, d;
	struct cur_out o;
	host_up("count.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	group_with(&s, 4, &c);
	CU_ASSERT_FATAL(direct_async(&s, "bob", "dave", 20, &d) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all() && d.status == CHATD_OK);
	int64_t rows = sql_int("count.db", "SELECT COUNT(*) FROM members");

	/* dave is no member of the group, nobody of "nope": ignored, no row. */
	struct chatd_read_cursor batch[] = {
		{ c.cid, "bob", 4 },     /* moves */
		{ c.cid, "carol", 2 },   /* moves */
		{ c.cid, "dave", 3 },    /* not a member */
		{ "nope", "bob", 3 },    /* no such conversation */
		{ c.cid, "alice", 1 },   /* behind */
		{ d.cid, "dave", 0 },    /* equal */
		{ c.cid, "carol", 3 },   /* moves again in the same batch */
	};
	CU_ASSERT_EQUAL(advance(&s, batch, sizeof batch / sizeof batch[0], &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 3);
	CU_ASSERT_EQUAL(cursor_of("count.db", c.cid, "bob"), 4);
	CU_ASSERT_EQUAL(cursor_of("count.db", c.cid, "carol"), 3);
	CU_ASSERT_EQUAL(cursor_of("count.db", c.cid, "alice"), 4);
	CU_ASSERT_EQUAL(cursor_of("count.db", c.cid, "dave"), -1);
	CU_ASSERT_EQUAL(sql_int("count.db", "SELECT COUNT(*) FROM members"), rows);
	/* A batch that moves nothing is fine. */
	CU_ASSERT_EQUAL(advance(&s, batch + 2, 2, &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_batch_atomic(void)
{
	struct store s;
	struct conv_out c;
	struct cur_out o, o2;
	host_up("atomic.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	group_with(&s, 6, &c);
	/* carol's cursor cannot be written: the whole batch fails and bob's
	 * cursor, written first in it, is undone. */
	CU_ASSERT_FATAL(sql_exec("atomic.db",
				 "CREATE TRIGGER no_carol BEFORE UPDATE OF last_read_seq ON members "
				 "WHEN NEW.user_id = 'carol' BEGIN SELECT RAISE(ABORT, 'no'); END") ==
			SQLITE_OK);
	stub_host_quiet(true);
	struct chatd_read_cursor bad[] = { { c.cid, "bob", 5 }, { c.cid, "carol", 5 } };
	CU_ASSERT(advance(&s, bad, 2, &o) < 0);
	CU_ASSERT_EQUAL(o.moved, 0);
	CU_ASSERT_EQUAL(cursor_of("atomic.db", c.cid, "bob"), 0);
	/* In the same writer transaction as a good batch: only the bad one
	 * is undone. */
	struct chatd_read_cursor good[] = { { c.cid, "bob", 2 } };
	CU_ASSERT_FATAL(advance_async(&s, good, 1, &o) == CHATD_OK);
	CU_ASSERT_FATAL(advance_async(&s, bad, 2, &o2) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT_EQUAL(o.status, CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 1);
	CU_ASSERT(o2.status < 0);
	CU_ASSERT_EQUAL(cursor_of("atomic.db", c.cid, "bob"), 2);
	CU_ASSERT_EQUAL(cursor_of("atomic.db", c.cid, "carol"), 0);
	stub_host_quiet(false);
	store_close(&s);
	stub_host_teardown();
}

static void test_inputs(void)
{
	struct store s;
	struct cur_out o;
	host_up("inputs.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	char big[CHATD_ID_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	struct chatd_read_cursor one = { "c1", "bob", 1 };
	struct chatd_read_cursor bads[] = {
		{ "", "bob", 1 }, { "c1", "", 1 }, { NULL, "bob", 1 }, { "c1", NULL, 1 },
		{ big, "bob", 1 }, { "c1", big, 1 }, { "c1", "bob", -1 },
	};
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct chatd_read_cursor two[] = { one, bads[i] };
		CU_ASSERT_EQUAL(advance(&s, two, 2, &o), CHATD_ERR_INVALID);
	}
	CU_ASSERT_EQUAL(advance(&s, &one, 0, &o), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(advance(&s, NULL, 1, &o), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(s.ops->cursors_advance(s.inst, &one, 1, NULL, NULL), CHATD_ERR_INVALID);
	/* The batch cap: 10000 is taken, 10001 is not. */
	struct chatd_read_cursor *many = calloc(10001, sizeof *many);
	CU_ASSERT_FATAL(many != NULL);
	for (size_t i = 0; i < 10001; i++)
		many[i] = one;
	CU_ASSERT_EQUAL(advance(&s, many, 10001, &o), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(advance(&s, many, 10000, &o), CHATD_OK);
	CU_ASSERT_EQUAL(o.moved, 0);
	free(many);
	/* An id of exactly CHATD_ID_MAX bytes is fine. */
	big[CHATD_ID_MAX] = '\0';
	struct chatd_read_cursor edge = { big, big, 1 };
	CU_ASSERT_EQUAL(advance(&s, &edge, 1, &o), CHATD_OK);
	CU_ASSERT_EQUAL(g_pending, 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- the receipts writer on sqlite --------------------------------- */

struct poll_arg {
	const char *file, *cid, *user;
	int64_t want;
};

/* The cursor is stored and the write's completion has run. */
static bool cursor_is(void *arg)
{
	struct poll_arg *p = arg;
	return cursor_of(p->file, p->cid, p->user) == p->want && stub_metric("cursor_rows") > 0;
}

static void test_writer_on_sqlite(void)
{
	struct store s;
	struct conv_out c;
	host_up("writer.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	group_with(&s, 9, &c);
	struct cw_config cfg = { .max_members = 100, .flush_interval_ms = 50, .max_pending = 10000 };
	struct cw *w = NULL;
	CU_ASSERT_FATAL(cw_new(stub_host(), stub_handle(), s.ops, s.inst, &cfg, &w) == CHATD_OK);
	/* A burst is written by the timer in one call. */
	for (int i = 1; i <= 200; i++)
		cw_mark_read(w, c.cid, i % 2 ? "bob" : "carol", i % 9 + 1, 0, 3);
	struct poll_arg p = { "writer.db", c.cid, "bob", 9 };
	CU_ASSERT_TRUE(stub_run_until(cursor_is, &p, 5000));
	CU_ASSERT_EQUAL(cursor_of("writer.db", c.cid, "carol"), 9);
	CU_ASSERT_EQUAL(stub_metric("cursor_writes"), 1);
	CU_ASSERT_EQUAL(stub_metric("cursor_rows"), 2);
	/* The stored cursor is now what storage reads. */
	struct get_out g;
	CU_ASSERT_EQUAL(get_sync(&s, c.cid, "carol", 0, 0, &g), CHATD_OK);
	CU_ASSERT_EQUAL(g.conv.read_seq, 9);

	/* Cursors waiting at fini are handed to storage; its fini commits
	 * them and drops the completion. */
	struct cw_config slow = { .max_members = 100, .flush_interval_ms = 60000,
				  .max_pending = 10000 };
	cw_free(w);
	w = NULL;
	CU_ASSERT_FATAL(cw_new(stub_host(), stub_handle(), s.ops, s.inst, &slow, &w) == CHATD_OK);
	const char *const more[] = { "dave" };
	struct chatd_conv_change ch = change(CHATD_CHANGE_ADD, c.cid, "alice");
	ch.users = more;
	ch.n_users = 1;
	struct change_out co;
	CU_ASSERT_FATAL(change_sync(&s, &ch, &co) == CHATD_OK);
	CU_ASSERT_EQUAL(cw_mark_read(w, c.cid, "dave", 7, 0, 4),
			CHATD_RECEIPT_MOVED | CHATD_RECEIPT_PUSH);
	CU_ASSERT_EQUAL(cursor_of("writer.db", c.cid, "dave"), 0);
	cw_free(w);
	store_close(&s);
	stub_host_teardown();
	CU_ASSERT_EQUAL(cursor_of("writer.db", c.cid, "dave"), 7);

	/* And after a reopen, storage reads it. */
	host_up("writer.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_EQUAL(get_sync(&s, c.cid, "dave", 0, 0, &g), CHATD_OK);
	CU_ASSERT_EQUAL(g.conv.read_seq, 7);
	store_close(&s);
	stub_host_teardown();
}

void unit_register_receipts_storage(void)
{
	CU_pSuite s = CU_add_suite("receipts_storage", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "cursors only move forward", test_forward_only);
	CU_add_test(s, "non-members ignored, moved counted", test_non_members_and_count);
	CU_add_test(s, "a batch is atomic", test_batch_atomic);
	CU_add_test(s, "inputs checked", test_inputs);
	CU_add_test(s, "write-behind writer on sqlite, fini", test_writer_on_sqlite);
}
