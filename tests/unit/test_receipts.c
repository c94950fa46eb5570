/* test_receipts.c — the receipts_cursor plugin: its cursor map
 * (cursor_map.c, suite receipts_map) and its write-behind writer
 * (cursor_writer.c) and glue against a fake storage whose completions the
 * test delivers by hand (suite receipts_writer).  The writer on the real
 * sqlite storage is in test_receipts_storage.c.
 *
 * receipts_cursor.c is included (its export left out: storage_sqlite's is
 * already in the binary); cursor_map.c and cursor_writer.c are linked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "stub_host.h"
#include "unit.h"
#include "../../plugins/receipts_cursor/cursor_map.h"
#include "../../plugins/receipts_cursor/cursor_writer.h"

#define RECEIPTS_CURSOR_NO_EXPORT
#include "../../plugins/receipts_cursor/receipts_cursor.c"

/* ---- receipts_map ---------------------------------------------------- */

static void test_map_mark_get(void)
{
	struct cmap *m = cmap_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "alice"), 0);
	/* Not above what storage has: nothing is kept. */
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 3, 3), 0);
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 2, 3), 0);
	CU_ASSERT_EQUAL(cmap_size(m), 0);
	/* Forward only, against the larger of stored and known. */
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 5, 3), 1);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "alice"), 5);
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 4, 0), 0);
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 5, 0), 0);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "alice"), 5);
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 9, 0), 1);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "alice"), 9);
	/* A stored cursor past the known one wins the comparison. */
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 10, 12), 0);
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 13, 12), 1);
	/* Keys are the pair: no mixing of parts. */
	CU_ASSERT_EQUAL(cmap_mark(m, "c1a", "lice", 2, 0), 1);
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "bob", 1, 0), 1);
	CU_ASSERT_EQUAL(cmap_get(m, "c1a", "lice"), 2);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "alice"), 13);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "bob"), 1);
	CU_ASSERT_EQUAL(cmap_get(m, "c2", "bob"), 0);
	CU_ASSERT_EQUAL(cmap_size(m), 3);
	CU_ASSERT_EQUAL(cmap_dirty(m), 3);
	/* Ids are checked. */
	char big[CHATD_ID_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(cmap_mark(m, "", "alice", 1, 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", NULL, 1, 0), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(cmap_mark(m, big, "alice", 1, 0), CHATD_ERR_INVALID);
	big[CHATD_ID_MAX] = '\0';   /* exactly the maximum */
	CU_ASSERT_EQUAL(cmap_mark(m, big, "alice", 1, 0), 1);
	CU_ASSERT_EQUAL(cmap_get(m, big, "alice"), 1);
	cmap_free(m);
}

/* The batch as (conv/user -> seq) text, sorted, for comparing. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void batch_text(const struct chatd_read_cursor *c, size_t n, char *out, size_t len)
{
	char *lines[16];
	char buf[16][160];
	CU_ASSERT_FATAL(n <= 16);
	for (size_t i = 0; i < n; i++) {
		snprintf(buf[i], sizeof buf[i], "%s/%s=%lld", c[i].conversation_id, c[i].user_id,
			 (long long)c[i].seq);
		lines[i] = buf[i];
	}
	qsort(lines, n, sizeof lines[0], cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strncat(out, lines[i], len - strlen(out) - 1);
		if (i + 1 < n)
			strncat(out, " ", len - strlen(out) - 1);
	}
}

static void test_map_batches(void)
{
	struct cmap *m = cmap_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	struct chatd_read_cursor b[16];
	char text[512];
	CU_ASSERT_EQUAL(cmap_take(m, b, 16), 0);
	cmap_mark(m, "c1", "alice", 4, 0);
	cmap_mark(m, "c1", "bob", 2, 0);
	cmap_mark(m, "c2", "alice", 7, 1);
	cmap_mark(m, "c1", "alice", 6, 0);
	size_t n = cmap_take(m, b, 16);
	CU_ASSERT_EQUAL(n, 3);
	batch_text(b, n, text, sizeof text);
	CU_ASSERT_STRING_EQUAL(text, "c1/alice=6 c1/bob=2 c2/alice=7");

	/* Newer cursors while the batch is in flight. */
	cmap_mark(m, "c1", "bob", 3, 0);
	cmap_mark(m, "c3", "carol", 1, 0);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_dirty(m), 2);
	CU_ASSERT_EQUAL(cmap_size(m), 4);
	/* Written ones still answer for their cursor. */
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "alice"), 6);
	n = cmap_take(m, b, 16);
	batch_text(b, n, text, sizeof text);
	CU_ASSERT_STRING_EQUAL(text, "c1/bob=3 c3/carol=1");

	/* A failed batch stays dirty, in full. */
	cmap_done(m, false);
	CU_ASSERT_EQUAL(cmap_dirty(m), 2);
	n = cmap_take(m, b, 16);
	batch_text(b, n, text, sizeof text);
	CU_ASSERT_STRING_EQUAL(text, "c1/bob=3 c3/carol=1");
	/* max bounds a batch; the rest waits. */
	cmap_done(m, false);
	CU_ASSERT_EQUAL(cmap_take(m, b, 1), 1);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_dirty(m), 1);
	CU_ASSERT_EQUAL(cmap_take(m, b, 16), 1);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_dirty(m), 0);
	CU_ASSERT_EQUAL(cmap_take(m, b, 16), 0);

	/* Clean entries go at the second expire after they became clean. */
	CU_ASSERT_EQUAL(cmap_expire(m), 0);
	CU_ASSERT_EQUAL(cmap_size(m), 4);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "bob"), 3);
	/* Marking again makes one young and dirty: it stays. */
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "bob", 8, 0), 1);
	CU_ASSERT_EQUAL(cmap_expire(m), 3);
	CU_ASSERT_EQUAL(cmap_size(m), 1);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "alice"), 0);
	CU_ASSERT_EQUAL(cmap_get(m, "c1", "bob"), 8);
	/* A dirty entry in flight is never dropped. */
	CU_ASSERT_EQUAL(cmap_take(m, b, 16), 1);
	CU_ASSERT_EQUAL(cmap_expire(m), 0);
	CU_ASSERT_EQUAL(cmap_expire(m), 0);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_expire(m), 0);
	CU_ASSERT_EQUAL(cmap_expire(m), 1);
	CU_ASSERT_EQUAL(cmap_size(m), 0);
	cmap_free(m);
}

static void test_map_stored_counts_as_written(void)
{
	struct cmap *m = cmap_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	struct chatd_read_cursor b[4];
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 5, 0), 1);
	CU_ASSERT_EQUAL(cmap_take(m, b, 4), 1);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_dirty(m), 0);
	/* Storage moved on by itself (a send): the entry learns it. */
	CU_ASSERT_EQUAL(cmap_mark(m, "c1", "alice", 9, 8), 1);
	CU_ASSERT_EQUAL(cmap_dirty(m), 1);
	CU_ASSERT_EQUAL(cmap_take(m, b, 4), 1);
	CU_ASSERT_EQUAL(b[0].seq, 9);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_dirty(m), 0);
	cmap_free(m);
}

static void test_map_many(void)
{
	struct cmap *m = cmap_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	char conv[32], user[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(conv, sizeof conv, "c%d", i % 97);
		snprintf(user, sizeof user, "u%d", i);
		CU_ASSERT_EQUAL_FATAL(cmap_mark(m, conv, user, i + 1, 0), 1);
	}
	CU_ASSERT_EQUAL(cmap_size(m), 20000);
	CU_ASSERT_EQUAL(cmap_dirty(m), 20000);
	bool all = true;
	for (int i = 0; i < 20000; i++) {
		snprintf(conv, sizeof conv, "c%d", i % 97);
		snprintf(user, sizeof user, "u%d", i);
		all = all && cmap_get(m, conv, user) == i + 1;
	}
	CU_ASSERT_TRUE(all);
	struct chatd_read_cursor *b = malloc(20000 * sizeof *b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(cmap_take(m, b, 12000), 12000);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_dirty(m), 8000);
	CU_ASSERT_EQUAL(cmap_take(m, b, 20000), 8000);
	cmap_done(m, true);
	CU_ASSERT_EQUAL(cmap_dirty(m), 0);
	cmap_expire(m);
	CU_ASSERT_EQUAL(cmap_expire(m), 20000);
	free(b);
	cmap_free(m);
}

/* ---- a fake storage ---------------------------------------------------- */

#define FAKE_CALLS 16

static struct {
	int refuse;                 /* status returned by the op (0: queue) */
	size_t n_calls;
	struct {
		chatd_id_cb cb;
		void *arg;
		size_t n;
		char text[512];
		bool completed;
	} call[FAKE_CALLS];
} F;

static int fake_advance(void *inst, const struct chatd_read_cursor *c, size_t n, chatd_id_cb cb,
			void *arg)
{
	(void)inst;
	if (F.refuse)
		return F.refuse;
	CU_ASSERT_FATAL(F.n_calls < FAKE_CALLS);
	size_t i = F.n_calls++;
	F.call[i].cb = cb;
	F.call[i].arg = arg;
	F.call[i].n = n;
	if (n <= 16)
		batch_text(c, n, F.call[i].text, sizeof F.call[i].text);
	return CHATD_OK;
}

/* Complete call i with status (moved = its size on success). */
static void fake_complete(size_t i, int status)
{
	CU_ASSERT_FATAL(i < F.n_calls && !F.call[i].completed);
	F.call[i].completed = true;
	F.call[i].cb(F.call[i].arg, status, status == CHATD_OK ? (int64_t)F.call[i].n : 0);
}

static const struct chatd_storage_ops fake_ops = {
	.struct_size = sizeof(struct chatd_storage_ops),
	.cursors_advance = fake_advance,
};

/* A writer with these settings on the fake storage. */
static struct cw *writer(int64_t max_members, int64_t interval, int64_t max_pending)
{
	memset(&F, 0, sizeof F);
	CU_ASSERT_FATAL(stub_host_setup(NULL) == 0);
	stub_host_quiet(true);
	struct cw_config cfg = { max_members, interval, max_pending };
	struct cw *w = NULL;
	CU_ASSERT_FATAL(cw_new(stub_host(), stub_handle(), &fake_ops, NULL, &cfg, &w) == CHATD_OK);
	return w;
}

static void writer_done(struct cw *w)
{
	cw_free(w);
	stub_host_teardown();
}

/* ---- receipts_writer --------------------------------------------------- */

static void test_writer_flags(void)
{
	/* 60 s interval: nothing is written unless asked. */
	struct cw *w = writer(3, 60000, 100);
	int both = CHATD_RECEIPT_MOVED | CHATD_RECEIPT_PUSH;
	CU_ASSERT_EQUAL(cw_mark_read(w, "c1", "alice", 5, 0, 3), both);
	CU_ASSERT_EQUAL(cw_mark_read(w, "c1", "alice", 5, 0, 3), 0);
	CU_ASSERT_EQUAL(cw_mark_read(w, "c1", "alice", 3, 0, 3), 0);
	CU_ASSERT_EQUAL(cw_mark_read(w, "c1", "bob", 2, 2, 3), 0);
	CU_ASSERT_EQUAL(cw_mark_read(w, "c1", "bob", 0, 0, 3), 0);
	/* Above max_members: the cursor moves, nobody is told. */
	CU_ASSERT_EQUAL(cw_mark_read(w, "c2", "alice", 1, 0, 4), CHATD_RECEIPT_MOVED);
	CU_ASSERT_EQUAL(cw_mark_read(w, "", "alice", 1, 0, 2), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(stub_metric("reads"), 2);
	/* cursor(): the larger of stored and waiting. */
	CU_ASSERT_EQUAL(cw_cursor(w, "c1", "alice", 0), 5);
	CU_ASSERT_EQUAL(cw_cursor(w, "c1", "alice", 7), 7);
	CU_ASSERT_EQUAL(cw_cursor(w, "c1", "carol", 4), 4);
	CU_ASSERT_EQUAL(cw_pending(w), 2);
	CU_ASSERT_EQUAL(F.n_calls, 0);
	writer_done(w);
	/* max_members 0: never told. */
	w = writer(0, 60000, 100);
	CU_ASSERT_EQUAL(cw_mark_read(w, "c1", "alice", 5, 0, 2), CHATD_RECEIPT_MOVED);
	writer_done(w);
}

static void test_writer_one_call_per_flush(void)
{
	struct cw *w = writer(100, 60000, 10000);
	/* A burst: 1000 reads over two users, one call. */
	for (int i = 1; i <= 1000; i++)
		cw_mark_read(w, "c1", i % 2 ? "alice" : "bob", i, 0, 2);
	CU_ASSERT_EQUAL(stub_metric("reads"), 1000);
	cw_flush(w);
	CU_ASSERT_EQUAL_FATAL(F.n_calls, 1);
	CU_ASSERT_STRING_EQUAL(F.call[0].text, "c1/alice=999 c1/bob=1000");
	/* One call in flight at a time. */
	cw_mark_read(w, "c1", "alice", 1001, 0, 2);
	cw_flush(w);
	CU_ASSERT_EQUAL(F.n_calls, 1);
	fake_complete(0, CHATD_OK);
	CU_ASSERT_EQUAL(stub_metric("cursor_writes"), 1);
	CU_ASSERT_EQUAL(stub_metric("cursor_rows"), 2);
	/* bob is written; alice moved on meanwhile and still waits. */
	CU_ASSERT_EQUAL(cw_pending(w), 1);
	CU_ASSERT_EQUAL(cw_cursor(w, "c1", "bob", 0), 1000);
	cw_flush(w);
	CU_ASSERT_EQUAL_FATAL(F.n_calls, 2);
	CU_ASSERT_STRING_EQUAL(F.call[1].text, "c1/alice=1001");
	fake_complete(1, CHATD_OK);
	CU_ASSERT_EQUAL(cw_pending(w), 0);
	/* Nothing waiting: no call. */
	cw_flush(w);
	CU_ASSERT_EQUAL(F.n_calls, 2);
	CU_ASSERT_EQUAL(stub_metric("cursor_writes"), 2);
	CU_ASSERT_EQUAL(stub_metric("cursor_rows"), 3);
	writer_done(w);
	CU_ASSERT_EQUAL(F.n_calls, 2);   /* nothing left for fini */
}

static void test_writer_failure_retried(void)
{
	struct cw *w = writer(100, 60000, 10000);
	cw_mark_read(w, "c1", "alice", 4, 0, 2);
	cw_flush(w);
	fake_complete(0, CHATD_ERR_IO);
	CU_ASSERT_EQUAL(cw_pending(w), 1);
	CU_ASSERT_EQUAL(cw_cursor(w, "c1", "alice", 0), 4);
	CU_ASSERT_EQUAL(stub_metric("cursor_write_errors"), 1);
	CU_ASSERT_EQUAL(stub_metric("cursor_rows"), 0);
	/* Not retried in a loop: the next flush does it. */
	CU_ASSERT_EQUAL(F.n_calls, 1);
	cw_mark_read(w, "c1", "bob", 2, 0, 2);
	cw_flush(w);
	CU_ASSERT_EQUAL_FATAL(F.n_calls, 2);
	CU_ASSERT_STRING_EQUAL(F.call[1].text, "c1/alice=4 c1/bob=2");
	fake_complete(1, CHATD_ERR_UNAVAILABLE);
	/* A refused call counts as failed too. */
	F.refuse = CHATD_ERR_SHUTDOWN;
	cw_flush(w);
	CU_ASSERT_EQUAL(stub_metric("cursor_write_errors"), 3);
	CU_ASSERT_EQUAL(stub_log_count("receipts.write_failed"), 1);   /* once per streak */
	F.refuse = 0;
	cw_flush(w);
	CU_ASSERT_EQUAL_FATAL(F.n_calls, 3);
	CU_ASSERT_STRING_EQUAL(F.call[2].text, "c1/alice=4 c1/bob=2");
	fake_complete(2, CHATD_OK);
	CU_ASSERT_EQUAL(cw_pending(w), 0);
	CU_ASSERT_EQUAL(stub_log_count("receipts.write_recovered"), 1);
	CU_ASSERT_EQUAL(stub_metric("cursor_rows"), 2);
	writer_done(w);
}

static void test_writer_max_pending(void)
{
	struct cw *w = writer(100, 60000, 3);
	cw_mark_read(w, "c1", "a", 1, 0, 2);
	cw_mark_read(w, "c1", "b", 1, 0, 2);
	CU_ASSERT_EQUAL(F.n_calls, 0);
	cw_mark_read(w, "c1", "c", 1, 0, 2);
	CU_ASSERT_EQUAL_FATAL(F.n_calls, 1);   /* at once */
	CU_ASSERT_EQUAL(F.call[0].n, 3);
	/* While it is in flight more arrive; its completion goes on at once. */
	cw_mark_read(w, "c1", "d", 1, 0, 2);
	cw_mark_read(w, "c1", "e", 1, 0, 2);
	cw_mark_read(w, "c1", "f", 1, 0, 2);
	cw_mark_read(w, "c1", "g", 1, 0, 2);
	CU_ASSERT_EQUAL(F.n_calls, 1);
	fake_complete(0, CHATD_OK);
	CU_ASSERT_EQUAL_FATAL(F.n_calls, 2);
	CU_ASSERT_EQUAL(F.call[1].n, 4);
	fake_complete(1, CHATD_OK);
	CU_ASSERT_EQUAL(F.n_calls, 2);
	writer_done(w);
}

static bool has_calls(void *arg)
{
	return F.n_calls >= (size_t)(uintptr_t)arg;
}

static void test_writer_timer(void)
{
	struct cw *w = writer(100, 50, 10000);
	cw_mark_read(w, "c1", "alice", 2, 0, 2);
	CU_ASSERT_EQUAL(F.n_calls, 0);
	CU_ASSERT_TRUE(stub_run_until(has_calls, (void *)1, 2000));
	CU_ASSERT_STRING_EQUAL(F.call[0].text, "c1/alice=2");
	fake_complete(0, CHATD_OK);
	/* Written entries overlay for one more tick, then go. */
	CU_ASSERT_EQUAL(cw_cursor(w, "c1", "alice", 0), 2);
	stub_run_until(NULL, NULL, 200);
	CU_ASSERT_EQUAL(cw_cursor(w, "c1", "alice", 0), 0);
	CU_ASSERT_EQUAL(F.n_calls, 1);
	cw_mark_read(w, "c1", "alice", 3, 2, 2);
	CU_ASSERT_TRUE(stub_run_until(has_calls, (void *)2, 2000));
	CU_ASSERT_STRING_EQUAL(F.call[1].text, "c1/alice=3");
	writer_done(w);
}

static void test_writer_fini(void)
{
	/* A call in flight and newer cursors waiting: fini hands all of them
	 * over in one last call; completions after fini are ignored. */
	struct cw *w = writer(100, 60000, 10000);
	cw_mark_read(w, "c1", "alice", 4, 0, 2);
	cw_flush(w);
	cw_mark_read(w, "c1", "bob", 6, 0, 2);
	cw_mark_read(w, "c2", "carol", 1, 0, 2);
	cw_free(w);
	CU_ASSERT_EQUAL_FATAL(F.n_calls, 2);
	CU_ASSERT_STRING_EQUAL(F.call[1].text, "c1/alice=4 c1/bob=6 c2/carol=1");
	CU_ASSERT_EQUAL(stub_metric("cursor_writes"), 2);
	CU_ASSERT_EQUAL(stub_log_count("receipts.final_write"), 1);
	fake_complete(0, CHATD_OK);
	fake_complete(1, CHATD_ERR_IO);
	CU_ASSERT_EQUAL(stub_metric("cursor_rows"), 0);
	CU_ASSERT_EQUAL(stub_metric("cursor_write_errors"), 0);
	stub_host_teardown();

	/* A new writer's flights are not confused with a dead one's. */
	w = writer(100, 60000, 10000);
	cw_mark_read(w, "c1", "alice", 1, 0, 2);
	cw_flush(w);
	cw_free(w);   /* completions never come: nothing leaks either */
	CU_ASSERT_EQUAL(F.n_calls, 2);
	stub_host_teardown();

	/* Nothing waiting: no call at fini. */
	w = writer(100, 60000, 10000);
	writer_done(w);
	CU_ASSERT_EQUAL(F.n_calls, 0);
}

static void test_writer_config(void)
{
	CU_ASSERT_FATAL(stub_host_setup(NULL) == 0);
	stub_host_quiet(true);
	struct cw *w = NULL;
	struct cw_config bad = { 100, 0, 10 };
	CU_ASSERT_EQUAL(cw_new(stub_host(), stub_handle(), &fake_ops, NULL, &bad, &w),
			CHATD_ERR_INVALID);
	/* The plugin's init: defaults from its schema, storage checked. */
	stub_host_set_schema(descriptor.options);
	stub_host_set_storage(&fake_ops, NULL);
	void *inst = NULL;
	CU_ASSERT_EQUAL_FATAL(descriptor.init(stub_host(), stub_handle(), &inst), CHATD_OK);
	const struct chatd_receipts_ops *ro = descriptor.ops;
	CU_ASSERT_EQUAL(ro->mark_read(inst, "c", "u", 1, 0, 100),
			CHATD_RECEIPT_MOVED | CHATD_RECEIPT_PUSH);
	CU_ASSERT_EQUAL(ro->mark_read(inst, "c", "v", 1, 0, 101), CHATD_RECEIPT_MOVED);
	CU_ASSERT_EQUAL(ro->cursor(inst, "c", "u", 0), 1);
	descriptor.fini(inst);
	/* A storage without the op (ABI < 1.3) is refused. */
	struct chatd_storage_ops old = { .struct_size = offsetof(struct chatd_storage_ops,
								 cursors_advance) };
	stub_host_set_storage(&old, NULL);
	CU_ASSERT_EQUAL(descriptor.init(stub_host(), stub_handle(), &inst), CHATD_ERR_ABI);
	stub_host_set_storage(NULL, NULL);
	CU_ASSERT_EQUAL(descriptor.init(stub_host(), stub_handle(), &inst), CHATD_ERR_ABI);
	CU_ASSERT_EQUAL(stub_log_count("receipts.no_storage_op"), 2);
	stub_host_teardown();
}

void unit_register_receipts(void)
{
	CU_pSuite s = CU_add_suite("receipts_map", NULL, NULL);
	if (s) {
		CU_add_test(s, "mark forward only, get", test_map_mark_get);
		CU_add_test(s, "take, done, expire", test_map_batches);
		CU_add_test(s, "a stored cursor counts as written", test_map_stored_counts_as_written);
		CU_add_test(s, "20000 entries", test_map_many);
	}
	s = CU_add_suite("receipts_writer", NULL, NULL);
	if (s) {
		CU_add_test(s, "mark_read flags and cursor overlay", test_writer_flags);
		CU_add_test(s, "one call per flush, one in flight", test_writer_one_call_per_flush);
		CU_add_test(s, "failed writes kept and retried", test_writer_failure_retried);
		CU_add_test(s, "max_pending writes at once", test_writer_max_pending);
		CU_add_test(s, "the timer writes", test_writer_timer);
		CU_add_test(s, "fini hands over what waits", test_writer_fini);
		CU_add_test(s, "config and storage check", test_writer_config);
	}
}
