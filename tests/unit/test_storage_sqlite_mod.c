/* test_storage_sqlite_mod.c — the sqlite storage plugin's moderation ops
 * (ABI 1.1: message visibility, audit log, moderation queue, sanctions,
 * user_seen) and the migration from schema 1, against real database files
 * (helpers in sqlite_fixture.c). */
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

/* ---- ABI 1.1: visibility ----------------------------------------- */

/* alice, bob and carol in one group; bob's even messages are not
 * "normal": 1 a, 2 b shadow, 3 a, 4 b held (with provenance), 5 a,
 * 6 b rejected. */
static void vis_setup(struct store *s, const char *file, struct conv_out *c)
{
	static const char *const vis[] = { NULL, CHATD_VIS_SHADOW, NULL, CHATD_VIS_HELD, NULL,
					   CHATD_VIS_REJECTED };
	const char *const m[] = { "bob", "carol" };
	struct send_out o;
	host_up(file, NULL);
	CU_ASSERT_FATAL(store_open(s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(s, "alice", "g", m, 2, 10, c) == CHATD_OK);
	for (int i = 0; i < 6; i++) {
		char cmid[8], text[8];
		snprintf(cmid, sizeof(cmid), "v%d", i + 1);
		snprintf(text, sizeof(text), "t%d", i + 1);
		const char *mod = i == 3 ? "{\"verdict\":\"hold\"}" : NULL;
		CU_ASSERT_FATAL(send_vis_sync(s, c->cid, i % 2 ? "bob" : "alice", cmid, text,
					      100 + i, vis[i], mod, &o) == CHATD_OK);
		CU_ASSERT(o.seq == i + 1);
	}
}

static void test_visibility_history(void)
{
	struct store s;
	struct conv_out c;
	struct hist_out h;
	struct send_out o;
	vis_setup(&s, "vis.db", &c);

	/* Another member sees the normal ones only, and has_more counts only
	 * what they may see. */
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 1, 3, 5 }, 3) && !h.has_more);
	CU_ASSERT(strcmp(h.vis[0], "normal") == 0 && strcmp(h.vis[2], "normal") == 0);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 3, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 1, 3, 5 }, 3) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 2, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 3, 5 }, 2) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, 0, 2, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 1, 3 }, 2) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, 3, 2, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 5 }, 1) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, 5, 2, &h) == CHATD_OK);
	CU_ASSERT(h.n == 0 && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 5, 1, 1, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 3 }, 1) && !h.has_more);

	/* The sender sees all of their own, unaware. */
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 6) && !h.has_more);
	CU_ASSERT(strcmp(h.vis[1], "shadow") == 0 && strcmp(h.vis[3], "held") == 0 &&
		  strcmp(h.vis[5], "rejected") == 0 && strcmp(h.vis[4], "normal") == 0);
	CU_ASSERT(h.has_mod[3] && !h.has_mod[0] && !h.has_mod[1]);

	/* Staff view (no viewer): everything, deleted-for-me rows too. */
	char sql[160];
	snprintf(sql, sizeof(sql), "INSERT INTO hidden_messages VALUES('carol', '%s', 5)", c.cid);
	CU_ASSERT(sql_exec("vis.db", sql) == SQLITE_OK);
	CU_ASSERT(history_sync(&s, c.cid, NULL, 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 6) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, NULL, 0, -1, 5, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 2, 6) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 1, 3 }, 2) && !h.has_more);

	/* Approving the held message shows it to everyone; the row keeps its
	 * provenance. */
	struct msg_out m;
	CU_ASSERT(set_vis_sync(&s, c.cid, 4, CHATD_VIS_NORMAL, &m) == CHATD_OK);
	CU_ASSERT(m.has_msg && m.seq == 4 && strcmp(m.vis, "normal") == 0);
	CU_ASSERT(strcmp(m.sender, "bob") == 0 && strcmp(m.text, "t4") == 0);
	CU_ASSERT(m.has_mod && strcmp(m.mod, "{\"verdict\":\"hold\"}") == 0);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 1, 3, 4 }, 3));
	CU_ASSERT(set_vis_sync(&s, c.cid, 3, CHATD_VIS_SHADOW, &m) == CHATD_OK);
	CU_ASSERT(strcmp(m.vis, "shadow") == 0 && strcmp(m.sender, "alice") == 0 && !m.has_mod);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_list(&h, (int64_t[]){ 1, 4 }, 2));
	CU_ASSERT(set_vis_sync(&s, c.cid, 99, CHATD_VIS_NORMAL, &m) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(!m.has_msg);
	CU_ASSERT(set_vis_sync(&s, "cnope", 1, CHATD_VIS_NORMAL, &m) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(set_vis_sync(&s, c.cid, 1, "hidden", &m) == CHATD_ERR_INVALID);
	CU_ASSERT(set_vis_sync(&s, c.cid, 1, NULL, &m) == CHATD_ERR_INVALID);
	CU_ASSERT(set_vis_sync(&s, c.cid, 0, CHATD_VIS_NORMAL, &m) == CHATD_ERR_INVALID);
	CU_ASSERT(set_vis_sync(&s, NULL, 1, CHATD_VIS_NORMAL, &m) == CHATD_ERR_INVALID);

	/* What append stores, and what it refuses. */
	CU_ASSERT(sql_int("vis.db", "SELECT COUNT(*) FROM messages WHERE visibility = 'normal' "
				    "AND moderation IS NULL") == 2);
	CU_ASSERT(send_vis_sync(&s, c.cid, "alice", "bad", "x", 200, "secret", NULL, &o) ==
		  CHATD_ERR_INVALID);
	char *big = malloc(SQLITE_NOTE_MAX + 2);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'x', SQLITE_NOTE_MAX + 1);
	big[SQLITE_NOTE_MAX + 1] = '\0';
	CU_ASSERT(send_vis_sync(&s, c.cid, "alice", "big", "x", 200, NULL, big, &o) ==
		  CHATD_ERR_TOO_LARGE);
	big[SQLITE_NOTE_MAX] = '\0';
	CU_ASSERT(send_vis_sync(&s, c.cid, "alice", "big", "x", 200, NULL, big, &o) == CHATD_OK);
	free(big);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_visibility_sync(void)
{
	struct store s;
	struct conv_out a, b;
	struct send_out o;
	struct sync_out y;
	const char *const m[] = { "bob", "carol" };
	host_up("vissync.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	/* b: only bob's shadowed messages; a (more recent): 1..10, the even
	 * ones shadowed. */
	CU_ASSERT_FATAL(group_sync(&s, "alice", "b", m, 2, 10, &b) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "a", m, 2, 10, &a) == CHATD_OK);
	for (int i = 1; i <= 3; i++) {
		char cmid[8];
		snprintf(cmid, sizeof(cmid), "b%d", i);
		CU_ASSERT(send_vis_sync(&s, b.cid, "bob", cmid, "x", 100 + i, CHATD_VIS_SHADOW,
					NULL, &o) == CHATD_OK);
	}
	for (int i = 1; i <= 10; i++) {
		char cmid[8];
		snprintf(cmid, sizeof(cmid), "a%d", i);
		CU_ASSERT(send_vis_sync(&s, a.cid, "bob", cmid, "x", 200 + i,
					i % 2 ? NULL : CHATD_VIS_SHADOW, NULL, &o) == CHATD_OK);
	}

	/* carol: the odd ones; per_conv counts visible messages only. */
	CU_ASSERT_FATAL(sync_caps_sync(&s, "carol", NULL, 0, 3, 100, &y) == CHATD_OK);
	CU_ASSERT_FATAL(y.n == 2);
	CU_ASSERT(strcmp(y.c[0].cid, a.cid) == 0);
	CU_ASSERT(y.c[0].n == 3 && y.c[0].first == 1 && y.c[0].last == 5 && y.c[0].has_more);
	CU_ASSERT(y.c[0].not_normal == 0 && y.c[0].vis_set);
	CU_ASSERT(y.c[1].n == 0 && !y.c[1].has_more);   /* nothing carol may see */
	CU_ASSERT(!y.has_more);
	CU_ASSERT_FATAL(sync_caps_sync(&s, "carol", NULL, 0, 5, 100, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 5 && y.c[0].last == 9 && !y.c[0].has_more && !y.has_more);
	/* The total cap is used up by a; b's shadowed messages are no reason
	 * for has_more. */
	CU_ASSERT_FATAL(sync_caps_sync(&s, "carol", NULL, 0, 10, 5, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 5 && !y.c[0].has_more && y.c[1].n == 0 && !y.c[1].has_more);
	CU_ASSERT(!y.has_more);
	/* ... but an unseen normal message in b is. */
	CU_ASSERT(send_sync(&s, b.cid, "alice", "n1", "x", 150, &o) == CHATD_OK);
	CU_ASSERT_FATAL(sync_caps_sync(&s, "carol", NULL, 0, 10, 5, &y) == CHATD_OK);
	CU_ASSERT(strcmp(y.c[0].cid, a.cid) == 0 && y.c[0].n == 5);
	CU_ASSERT(y.c[1].n == 0 && y.c[1].has_more && y.has_more);
	CU_ASSERT_FATAL(sync_caps_sync(&s, "carol", NULL, 0, 10, 6, &y) == CHATD_OK);
	CU_ASSERT(y.c[1].n == 1 && y.c[1].first == 4 && !y.c[1].has_more && !y.has_more);

	/* bob sees his own, shadowed or not, with their visibility. */
	struct chatd_cursor cur[] = { { a.cid, 1 }, { b.cid, 1 } };
	CU_ASSERT_FATAL(sync_caps_sync(&s, "bob", cur, 2, 100, 1000, &y) == CHATD_OK);
	CU_ASSERT_FATAL(y.n == 2);
	CU_ASSERT(y.c[0].n == 9 && y.c[0].first == 2 && y.c[0].last == 10 && y.c[0].ascending);
	CU_ASSERT(y.c[0].not_normal == 5 && y.c[0].vis_set);
	CU_ASSERT(y.c[1].n == 3 && y.c[1].not_normal == 2);
	store_close(&s);
	stub_host_teardown();
}

/* ---- ABI 1.1: audit log -------------------------------------------- */

struct audit_in {
	char prev[72], hash[72];
	struct chatd_audit_entry e;
};

/* Entry id with a made-up chain: hash = hex(id), prev = hex(id - 1). */
static struct chatd_audit_entry *audit_entry(struct audit_in *in, int64_t id)
{
	snprintf(in->prev, sizeof(in->prev), "%064llx", (unsigned long long)(id - 1));
	snprintf(in->hash, sizeof(in->hash), "%064llx", (unsigned long long)id);
	in->e = (struct chatd_audit_entry){
		.id = id, .ts = 1000 + id, .actor = "rule:spam", .event = "verdict",
		.subject = "bob", .detail = "{\"n\":1}", .prev_hash = in->prev, .hash = in->hash,
	};
	return &in->e;
}

static void test_audit(void)
{
	struct store s;
	struct audit_in in, in2;
	struct st_out st, st2;
	struct audit_out l;
	host_up("audit.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(audit_list_sync(&s, 0, 10, false, &l) == CHATD_OK && l.n == 0);
	CU_ASSERT(audit_list_sync(&s, 0, 10, true, &l) == CHATD_OK && l.n == 0);
	for (int64_t id = 1; id <= 5; id++)
		CU_ASSERT(audit_append_sync(&s, audit_entry(&in, id), &st) == CHATD_OK);
	CU_ASSERT(audit_list_sync(&s, 0, 10, false, &l) == CHATD_OK);
	CU_ASSERT_FATAL(l.n == 5);
	CU_ASSERT(l.ids[0] == 1 && l.ids[4] == 5 && l.ts[2] == 1003);
	CU_ASSERT(strcmp(l.actor[0], "rule:spam") == 0 && strcmp(l.subject[0], "bob") == 0);
	CU_ASSERT(strcmp(l.detail[0], "{\"n\":1}") == 0);
	audit_entry(&in, 3);
	CU_ASSERT(strcmp(l.hash[2], in.hash) == 0);
	/* Paging forwards, and the tail. */
	CU_ASSERT(audit_list_sync(&s, 0, 2, false, &l) == CHATD_OK);
	CU_ASSERT(l.n == 2 && l.ids[0] == 1 && l.ids[1] == 2);
	CU_ASSERT(audit_list_sync(&s, 2, 2, false, &l) == CHATD_OK);
	CU_ASSERT(l.n == 2 && l.ids[0] == 3 && l.ids[1] == 4);
	CU_ASSERT(audit_list_sync(&s, 5, 2, false, &l) == CHATD_OK && l.n == 0);
	CU_ASSERT(audit_list_sync(&s, 0, 1, true, &l) == CHATD_OK);
	CU_ASSERT(l.n == 1 && l.ids[0] == 5);
	CU_ASSERT(audit_list_sync(&s, 0, 2, true, &l) == CHATD_OK);
	CU_ASSERT(l.n == 2 && l.ids[0] == 4 && l.ids[1] == 5);
	CU_ASSERT(audit_list_sync(&s, 3, 10, true, &l) == CHATD_OK);
	CU_ASSERT(l.n == 2 && l.ids[0] == 4 && l.ids[1] == 5);

	/* Append-only: an id stored is never replaced, even inside a batch. */
	struct chatd_audit_entry *e = audit_entry(&in, 3);
	e->detail = "{\"n\":2}";
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_EXISTS);
	CU_ASSERT(audit_append_async(&s, audit_entry(&in, 6), &st) == CHATD_OK);
	CU_ASSERT(audit_append_async(&s, audit_entry(&in2, 6), &st2) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(st.status == CHATD_OK && st2.status == CHATD_ERR_EXISTS);
	CU_ASSERT(audit_list_sync(&s, 2, 1, false, &l) == CHATD_OK);
	CU_ASSERT(l.n == 1 && strcmp(l.detail[0], "{\"n\":1}") == 0);
	CU_ASSERT(sql_int("audit.db", "SELECT COUNT(*) FROM audit_log") == 6);

	/* The chain: an entry whose prev_hash is not entry id - 1's stored hash
	 * (another node appended there) is refused, whatever its id. */
	e = audit_entry(&in, 7);
	e->prev_hash = "00000000000000000000000000000000000000000000000000000000000000ff";
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_EXISTS);
	e = audit_entry(&in, 9);                    /* no entry 8 */
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_EXISTS);
	CU_ASSERT(sql_int("audit.db", "SELECT COUNT(*) FROM audit_log") == 6);

	/* Inputs. */
	e = audit_entry(&in, 7);
	e->subject = "";
	e->actor = "rule:a-rule-name-of-sixty-three-bytes-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; /* 68 */
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_OK);
	e = audit_entry(&in, 8);
	e->actor = "rule:a-rule-name-that-is-far-too-long-for-an-actor-"
		   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";   /* 81 bytes */
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	e->actor = "";
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	e->subject = NULL;
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	e->detail = NULL;
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	e->event = "an.event.name.that.goes.on.and.on.and.on.past.sixty.four.bytes.long";
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	in.hash[10] = 'A';                          /* lowercase only */
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	in.hash[63] = '\0';                         /* 63 digits */
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	strcat(in.prev, "0");                       /* 65 digits */
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 0);
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 1);
	in.prev[0] = '1';                           /* id 1 links to nothing */
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	e = audit_entry(&in, 8);
	e->ts = -1;
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(audit_append_sync(&s, NULL, &st) == CHATD_ERR_INVALID);
	char *big = malloc(SQLITE_NOTE_MAX + 2);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, ' ', SQLITE_NOTE_MAX + 1);
	big[0] = '{';
	big[SQLITE_NOTE_MAX + 1] = '\0';
	e = audit_entry(&in, 8);
	e->detail = big;
	CU_ASSERT(audit_append_sync(&s, e, &st) == CHATD_ERR_TOO_LARGE);
	free(big);
	CU_ASSERT(audit_list_sync(&s, 0, 0, false, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(audit_list_sync(&s, 0, 1001, false, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(audit_list_sync(&s, -1, 10, false, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(audit_list_sync(&s, 0, 1000, false, &l) == CHATD_OK && l.n == 7);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- ABI 1.1: moderation queue ------------------------------------- */

static struct chatd_mod_item report_item(const char *key)
{
	return (struct chatd_mod_item){
		.kind = "report", .status = "open", .conversation_id = "cabc", .seq = 7,
		.subject_id = "bob", .filed_by = "alice", .reason = "spam", .note = "he spams",
		.detail = "{\"x\":1}", .dedupe_key = key, .created_at = 500,
	};
}

static void test_mod_items(void)
{
	struct store s;
	struct chatd_mod_item it;
	struct id_out a, b, c, d;
	struct items_out l;
	struct st_out st;
	host_up("items.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	it = report_item("report:alice:cabc:7");
	CU_ASSERT(item_add_sync(&s, &it, &a) == CHATD_OK && a.id == 1);
	/* No key, no conversation, no note: as many as wanted. */
	it = (struct chatd_mod_item){
		.kind = "flag", .subject_id = "carol", .filed_by = "rule:links", .reason = "",
		.created_at = 600,
	};
	CU_ASSERT(item_add_sync(&s, &it, &b) == CHATD_OK && b.id == 2);
	it.kind = "appeal";
	CU_ASSERT(item_add_sync(&s, &it, &c) == CHATD_OK && c.id == 3);
	/* A key already used: EXISTS with the holder's id. */
	it = report_item("report:alice:cabc:7");
	it.note = "again";
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_EXISTS && d.id == 1);
	/* Two with one new key in one batch: one is stored. */
	it = report_item("hold:cabc:9");
	CU_ASSERT(item_add_async(&s, &it, &c) == CHATD_OK);
	CU_ASSERT(item_add_async(&s, &it, &d) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(c.status == CHATD_OK && c.id == 4);
	CU_ASSERT(d.status == CHATD_ERR_EXISTS && d.id == 4);
	CU_ASSERT(sql_int("items.db", "SELECT COUNT(*) FROM mod_items") == 4);

	/* Lists. */
	CU_ASSERT(item_list_sync(&s, 0, NULL, NULL, 0, 100, &l) == CHATD_OK);
	CU_ASSERT(l.n == 4 && l.ids[0] == 1 && l.ids[3] == 4);
	CU_ASSERT(strcmp(l.item_status[1], "open") == 0 && strcmp(l.kind[1], "flag") == 0);
	CU_ASSERT(strcmp(l.first.cid, "cabc") == 0 && l.first.seq == 7);
	CU_ASSERT(strcmp(l.first.subject, "bob") == 0 && strcmp(l.first.filed_by, "alice") == 0);
	CU_ASSERT(strcmp(l.first.reason, "spam") == 0 && strcmp(l.first.note, "he spams") == 0);
	CU_ASSERT(strcmp(l.first.detail, "{\"x\":1}") == 0);
	CU_ASSERT(strcmp(l.first.key, "report:alice:cabc:7") == 0 && l.first.created_at == 500);
	CU_ASSERT(!l.first.has_actor && !l.first.has_action && !l.first.has_res_note);
	CU_ASSERT(l.first.resolved_at == 0);
	CU_ASSERT(item_list_sync(&s, 0, NULL, NULL, 1, 2, &l) == CHATD_OK);
	CU_ASSERT(l.n == 2 && l.ids[0] == 2 && l.ids[1] == 3);
	CU_ASSERT(item_list_sync(&s, 0, "open", "report", 0, 100, &l) == CHATD_OK);
	CU_ASSERT(l.n == 2 && l.ids[0] == 1 && l.ids[1] == 4);
	CU_ASSERT(item_list_sync(&s, 0, NULL, "flag", 0, 100, &l) == CHATD_OK);
	CU_ASSERT(l.n == 1 && l.ids[0] == 2);
	CU_ASSERT(item_list_sync(&s, 2, NULL, NULL, 0, 1, &l) == CHATD_OK);
	CU_ASSERT(l.n == 1 && l.ids[0] == 2 && !l.first.has_cid && l.first.seq == 0);
	CU_ASSERT(!l.first.has_note && !l.first.has_detail && !l.first.has_key);
	CU_ASSERT(strcmp(l.first.filed_by, "rule:links") == 0 && l.first.reason[0] == '\0');
	CU_ASSERT(item_list_sync(&s, 99, NULL, NULL, 0, 1, &l) == CHATD_ERR_NOT_FOUND);

	/* Resolve once; a closed item stays closed. */
	CU_ASSERT(item_resolve_sync(&s, 1, "actioned", "ban", "mod1", "banned him", 900, &st) ==
		  CHATD_OK);
	CU_ASSERT(item_resolve_sync(&s, 1, "dismissed", "dismiss", "mod2", NULL, 901, &st) ==
		  CHATD_ERR_EXISTS);
	CU_ASSERT(item_resolve_sync(&s, 99, "dismissed", "dismiss", "mod2", NULL, 901, &st) ==
		  CHATD_ERR_NOT_FOUND);
	CU_ASSERT(item_resolve_sync(&s, 2, "dismissed", "dismiss", "mod2", NULL, 902, &st) ==
		  CHATD_OK);
	CU_ASSERT(item_list_sync(&s, 1, NULL, NULL, 0, 1, &l) == CHATD_OK);
	CU_ASSERT(strcmp(l.item_status[0], "actioned") == 0 && strcmp(l.first.action, "ban") == 0);
	CU_ASSERT(strcmp(l.first.actor, "mod1") == 0);
	CU_ASSERT(strcmp(l.first.res_note, "banned him") == 0);
	CU_ASSERT(l.first.resolved_at == 900 && strcmp(l.first.note, "he spams") == 0);
	CU_ASSERT(item_list_sync(&s, 0, "open", NULL, 0, 100, &l) == CHATD_OK);
	CU_ASSERT(l.n == 2 && l.ids[0] == 3 && l.ids[1] == 4);
	CU_ASSERT(item_list_sync(&s, 0, "dismissed", NULL, 0, 100, &l) == CHATD_OK);
	CU_ASSERT(l.n == 1 && l.ids[0] == 2 && !l.first.has_res_note);
	/* The key of a closed item is still taken. */
	it = report_item("report:alice:cabc:7");
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_EXISTS && d.id == 1);

	/* Inputs. */
	it = report_item(NULL);
	it.kind = "complaint";
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_INVALID);
	it = report_item(NULL);
	it.status = "actioned";
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_INVALID);
	it = report_item(NULL);
	it.conversation_id = NULL;             /* a seq needs its conversation */
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_INVALID);
	it = report_item(NULL);
	it.resolved_at = 5;
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_INVALID);
	it = report_item(NULL);
	it.subject_id = "";
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_INVALID);
	it = report_item(NULL);
	it.reason = NULL;
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_INVALID);
	it = report_item("");
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_INVALID);
	CU_ASSERT(item_add_sync(&s, NULL, &d) == CHATD_ERR_INVALID);
	char *big = malloc(SQLITE_NOTE_MAX + 2);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'n', SQLITE_NOTE_MAX + 1);
	big[SQLITE_NOTE_MAX + 1] = '\0';
	it = report_item(NULL);
	it.note = big;
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_TOO_LARGE);
	it = report_item(NULL);
	it.reason = big;
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_ERR_TOO_LARGE);
	CU_ASSERT(item_resolve_sync(&s, 3, "dismissed", "dismiss", "mod", big, 1, &st) ==
		  CHATD_ERR_TOO_LARGE);
	big[SQLITE_NOTE_MAX] = '\0';     /* the limit itself is fine */
	it = report_item(NULL);
	it.note = big;
	CU_ASSERT(item_add_sync(&s, &it, &d) == CHATD_OK && d.id == 5);
	free(big);
	CU_ASSERT(item_resolve_sync(&s, 3, "open", "reopen", "mod", NULL, 1, &st) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(item_resolve_sync(&s, 3, "dismissed", "", "mod", NULL, 1, &st) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(item_resolve_sync(&s, 3, "dismissed", "dismiss", NULL, NULL, 1, &st) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(item_resolve_sync(&s, 0, "dismissed", "dismiss", "mod", NULL, 1, &st) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(item_list_sync(&s, 0, "closed", NULL, 0, 10, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(item_list_sync(&s, 0, NULL, "bogus", 0, 10, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(item_list_sync(&s, 0, NULL, NULL, 0, 0, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(item_list_sync(&s, 0, NULL, NULL, 0, 1001, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(item_list_sync(&s, -1, NULL, NULL, 0, 10, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(item_list_sync(&s, 0, NULL, NULL, -1, 10, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- ABI 1.1: sanctions and user_seen ------------------------------ */

static void test_sanctions(void)
{
	struct store s;
	struct id_out id;
	struct st_out st;
	struct sanctions_out l;
	host_up("sanctions.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(sanctions_sync(&s, 1000, &l) == CHATD_OK && l.n == 0);
	static const struct {
		const char *user, *kind;
		int64_t until;
	} add[] = {
		{ "bob", "ban", 0 },          /* 1: permanent */
		{ "carol", "shadow", 500 },   /* 2: expired at 1000 */
		{ "dave", "block", 5000 },    /* 3 */
		{ "erin", "ban", 2000 },      /* 4: lifted below */
		{ "bob", "shadow", 3000 },    /* 5 */
	};
	for (size_t i = 0; i < sizeof(add) / sizeof(add[0]); i++) {
		struct chatd_sanction sa = {
			.user_id = add[i].user, .kind = add[i].kind, .until = add[i].until,
			.reason = i == 0 ? "" : "because", .actor = "rule:spam", .created_at = 100,
		};
		CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_OK && id.id == (int64_t)i + 1);
	}
	CU_ASSERT(sanction_lift_sync(&s, "erin", "ban", 900, &st) == CHATD_OK);
	CU_ASSERT(sanctions_sync(&s, 1000, &l) == CHATD_OK);
	CU_ASSERT_FATAL(l.n == 3);   /* by user, kind */
	CU_ASSERT(strcmp(l.user[0], "bob") == 0 && strcmp(l.kind[0], "ban") == 0);
	CU_ASSERT(l.until[0] == 0);
	CU_ASSERT(l.ids[0] == 1 && l.reason[0][0] == '\0' && strcmp(l.actor[0], "rule:spam") == 0);
	CU_ASSERT(strcmp(l.user[1], "bob") == 0 && strcmp(l.kind[1], "shadow") == 0);
	CU_ASSERT(strcmp(l.user[2], "dave") == 0 && l.until[2] == 5000 && l.lifted_at[2] == 0);
	CU_ASSERT(strcmp(l.reason[2], "because") == 0 && l.created_at[2] == 100);
	/* until is exclusive; only the permanent one lasts. */
	CU_ASSERT(sanctions_sync(&s, 5000, &l) == CHATD_OK && l.n == 1 && l.ids[0] == 1);
	CU_ASSERT(sanctions_sync(&s, 0, &l) == CHATD_OK && l.n == 4);   /* erin's stays lifted */

	/* lift touches only that kind of that user, and only active ones. */
	CU_ASSERT(sanction_lift_sync(&s, "bob", "ban", 1100, &st) == CHATD_OK);
	CU_ASSERT(sanctions_sync(&s, 1100, &l) == CHATD_OK && l.n == 2);
	CU_ASSERT(strcmp(l.kind[0], "shadow") == 0 && strcmp(l.user[1], "dave") == 0);
	CU_ASSERT(sanction_lift_sync(&s, "carol", "shadow", 1100, &st) == CHATD_OK);
	CU_ASSERT(sanction_lift_sync(&s, "nobody", "ban", 1100, &st) == CHATD_OK);
	CU_ASSERT(sql_int("sanctions.db", "SELECT lifted_at FROM sanctions WHERE id = 1") == 1100);
	CU_ASSERT(sql_int("sanctions.db", "SELECT lifted_at FROM sanctions WHERE id = 2") == 0);
	CU_ASSERT(sql_int("sanctions.db", "SELECT lifted_at FROM sanctions WHERE id = 4") == 900);
	/* A new one after a lift is a new row. */
	struct chatd_sanction sa = {
		.user_id = "bob", .kind = "ban", .reason = "again", .actor = "mod1",
		.created_at = 1200,
	};
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_OK && id.id == 6);
	CU_ASSERT(sanctions_sync(&s, 1200, &l) == CHATD_OK && l.n == 3 && l.ids[0] == 6);

	/* Inputs. */
	sa.kind = "mute";
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_INVALID);
	sa.kind = "ban";
	sa.until = -1;
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_INVALID);
	sa.until = 0;
	sa.lifted_at = 5;
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_INVALID);
	sa.lifted_at = 0;
	sa.reason = NULL;
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_INVALID);
	sa.reason = "r";
	sa.actor = NULL;
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_INVALID);
	sa.actor = "mod1";
	sa.user_id = "an-id-well-over-sixty-four-bytes-long-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_INVALID);
	sa.user_id = "bob";
	char *big = malloc(SQLITE_NOTE_MAX + 2);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'r', SQLITE_NOTE_MAX + 1);
	big[SQLITE_NOTE_MAX + 1] = '\0';
	sa.reason = big;
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_TOO_LARGE);
	free(big);
	CU_ASSERT(sanction_add_sync(&s, NULL, &id) == CHATD_ERR_INVALID);
	CU_ASSERT(sanction_lift_sync(&s, "bob", "mute", 1, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(sanction_lift_sync(&s, "bob", NULL, 1, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(sanction_lift_sync(&s, "", "ban", 1, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(sanction_lift_sync(&s, "bob", "ban", -1, &st) == CHATD_ERR_INVALID);
	CU_ASSERT(sanctions_sync(&s, -1, &l) == CHATD_ERR_INVALID);
	CU_ASSERT(sql_int("sanctions.db", "SELECT COUNT(*) FROM sanctions") == 6);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_user_seen(void)
{
	struct store s;
	struct id_out a, b;
	host_up("seen.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(user_seen_sync(&s, "alice", 100, &a) == CHATD_OK && a.id == 100);
	CU_ASSERT(user_seen_sync(&s, "alice", 50, &a) == CHATD_OK && a.id == 100);
	CU_ASSERT(user_seen_sync(&s, "alice", 900, &a) == CHATD_OK && a.id == 100);
	CU_ASSERT(user_seen_sync(&s, "bob", 200, &a) == CHATD_OK && a.id == 200);
	/* Both in one batch: the first queued wins. */
	CU_ASSERT(user_seen_async(&s, "carol", 300, &a) == CHATD_OK);
	CU_ASSERT(user_seen_async(&s, "carol", 400, &b) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(a.status == CHATD_OK && a.id == 300 && b.status == CHATD_OK && b.id == 300);
	CU_ASSERT(user_seen_sync(&s, "", 1, &a) == CHATD_ERR_INVALID);
	CU_ASSERT(user_seen_sync(&s, NULL, 1, &a) == CHATD_ERR_INVALID);
	CU_ASSERT(user_seen_sync(&s, "dave", -1, &a) == CHATD_ERR_INVALID);
	store_close(&s);
	/* Durable: there after a reopen. */
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(user_seen_sync(&s, "bob", 999, &a) == CHATD_OK && a.id == 200);
	store_close(&s);
	CU_ASSERT(sql_int("seen.db", "SELECT COUNT(*) FROM users") == 3);
	stub_host_teardown();
}

/* ---- migration ----------------------------------------------------- */

static void test_migration_v1(void)
{
	struct store s;
	struct hist_out h;
	/* A file as chatd 1.0 left it: schema 1, one conversation, a message
	 * (written with version 1's columns), one deleted-for-me row. */
	CU_ASSERT_FATAL(schema_at("v1.db", 1) == CHATD_OK);
	CU_ASSERT(sql_int("v1.db", "SELECT version FROM schema_version") == 1);
	CU_ASSERT(sql_int("v1.db", "SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_log'") ==
		  0);
	CU_ASSERT_FATAL(sql_exec("v1.db",
		"INSERT INTO conversations(id, kind, title, created_at, last_seq, last_activity, "
		"member_count) VALUES('c0000000000000001', 'group', 'old', 10, 2, 30, 2);"
		"INSERT INTO members(conversation_id, user_id, role, joined_at, last_read_seq) "
		"VALUES"
		"('c0000000000000001', 'alice', 'owner', 10, 2), "
		"('c0000000000000001', 'bob', 'member', 10, 0);"
		"INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
		"client_message_id, text, created_at) VALUES"
		"('c0000000000000001', 1, 'm0000000000000001-1', 'alice', 'k1', 'before', 20), "
		"('c0000000000000001', 2, 'm0000000000000001-2', 'alice', 'k2', 'gone', 30);"
		"INSERT INTO hidden_messages VALUES('bob', 'c0000000000000001', 2);") == SQLITE_OK);

	host_up("v1.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(stub_log_count("sqlite.migrated") == 1);
	CU_ASSERT(history_sync(&s, "c0000000000000001", "bob", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 1) && strcmp(h.first_text, "before") == 0);
	CU_ASSERT(strcmp(h.vis[0], "normal") == 0 && !h.has_mod[0]);
	CU_ASSERT(history_sync(&s, "c0000000000000001", NULL, 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 2));
	/* The new pieces work on the old file. */
	struct send_out o;
	struct id_out id;
	CU_ASSERT(send_vis_sync(&s, "c0000000000000001", "alice", "k3", "new", 40,
				CHATD_VIS_SHADOW, "{}", &o) == CHATD_OK && o.seq == 3);
	CU_ASSERT(history_sync(&s, "c0000000000000001", "bob", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 1));
	CU_ASSERT(user_seen_sync(&s, "alice", 5, &id) == CHATD_OK && id.id == 5);
	store_close(&s);
	CU_ASSERT(sql_int("v1.db", "SELECT version FROM schema_version") == SQLITE_SCHEMA_VERSION);
	CU_ASSERT(sql_int("v1.db", "SELECT COUNT(*) FROM sqlite_master WHERE name IN "
				   "('audit_log', 'mod_items', 'sanctions', 'users', "
				   "'mod_items_by_status', 'sanctions_active')") == 6);
	CU_ASSERT(sql_int("v1.db", "SELECT COUNT(*) FROM messages WHERE moderation IS NULL") == 2);
	/* Opening again migrates nothing. */
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(stub_log_count("sqlite.migrated") == 1);
	store_close(&s);
	stub_host_teardown();
	CU_ASSERT(schema_at("v1.db", SQLITE_SCHEMA_VERSION + 1) == CHATD_ERR_INVALID);
	CU_ASSERT(schema_at("v1.db", 1) == CHATD_ERR_ABI);   /* never downgraded */
}

/* ---- suite -------------------------------------------------------- */

void unit_register_storage_sqlite_mod(void)
{
	CU_pSuite s = CU_add_suite("storage_sqlite_mod", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "visibility in history", test_visibility_history);
	CU_add_test(s, "visibility in sync", test_visibility_sync);
	CU_add_test(s, "audit log", test_audit);
	CU_add_test(s, "moderation queue", test_mod_items);
	CU_add_test(s, "sanctions", test_sanctions);
	CU_add_test(s, "user_seen", test_user_seen);
	CU_add_test(s, "migration from schema 1", test_migration_v1);
}
