/* test_storage_admin.c — storage_sqlite's pieces for the admin API:
 * sanctions of kind "revoke" (token revocations), user_first_seen (ABI
 * 1.3), and migration 5 (the sanctions table rebuilt with its rows, ids
 * and AUTOINCREMENT counter). */
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
#include "unit.h"
#include "../../plugins/storage_sqlite/sqlite_ops.h"

static void first_cb(void *arg, int status, int64_t id)
{
	struct id_out *o = arg;
	o->status = status;
	o->id = id;
	g_pending--;
}

static int first_seen_sync(struct store *s, const char *user, struct id_out *o)
{
	o->status = 1;
	o->id = -1;
	int q = s->ops->user_first_seen(s->inst, user, first_cb, o);
	if (q < 0)
		return q;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}

static void test_revoke_rows(void)
{
	struct store s;
	struct id_out id;
	struct st_out st;
	struct sanctions_out l;
	host_up("revoke.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	struct chatd_sanction sa = {
		.user_id = "bob", .kind = "revoke", .until = 0, .reason = "", .actor = "mod",
		.created_at = 1500,
	};
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_OK && id.id == 1);
	sa.created_at = 2500;                 /* a later revoke: a row of its own */
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_OK && id.id == 2);
	sa.kind = "ban";
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_OK && id.id == 3);
	store_close(&s);
	/* They load like any permanent sanction, after a reopen too. */
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(sanctions_sync(&s, 1LL << 40, &l) == CHATD_OK);
	CU_ASSERT_FATAL(l.n == 3);
	size_t revokes = 0;
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.kind[i], "revoke") == 0) {
			revokes++;
			CU_ASSERT(strcmp(l.user[i], "bob") == 0 && l.until[i] == 0);
			CU_ASSERT(l.created_at[i] == 1500 || l.created_at[i] == 2500);
		}
	CU_ASSERT(revokes == 2);
	/* Lifting the ban leaves the revocations. */
	CU_ASSERT(sanction_lift_sync(&s, "bob", "ban", 3000, &st) == CHATD_OK);
	CU_ASSERT(sanctions_sync(&s, 3000, &l) == CHATD_OK && l.n == 2);
	sa.kind = "exile";
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_ERR_INVALID);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	CU_ASSERT(sql_int("revoke.db", "SELECT COUNT(*) FROM sanctions WHERE kind = 'revoke'") == 2);
	stub_host_teardown();
}

static void test_user_first_seen(void)
{
	struct store s;
	struct id_out a;
	host_up("first.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(first_seen_sync(&s, "alice", &a) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(user_seen_sync(&s, "alice", 100, &a) == CHATD_OK && a.id == 100);
	CU_ASSERT(first_seen_sync(&s, "alice", &a) == CHATD_OK && a.id == 100);
	CU_ASSERT(user_seen_sync(&s, "alice", 900, &a) == CHATD_OK && a.id == 100);
	CU_ASSERT(first_seen_sync(&s, "alice", &a) == CHATD_OK && a.id == 100);
	/* A read records nothing. */
	CU_ASSERT(first_seen_sync(&s, "bob", &a) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(first_seen_sync(&s, "", &a) == CHATD_ERR_INVALID);
	CU_ASSERT(first_seen_sync(&s, NULL, &a) == CHATD_ERR_INVALID);
	char big[CHATD_ID_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT(first_seen_sync(&s, big, &a) == CHATD_ERR_INVALID);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	CU_ASSERT(sql_int("first.db", "SELECT COUNT(*) FROM users") == 1);
	stub_host_teardown();
}

static void test_migration_v3(void)
{
	struct store s;
	struct id_out id;
	struct sanctions_out l;
	CU_ASSERT_FATAL(schema_at("v3.db", 3) == CHATD_OK);
	CU_ASSERT_FATAL(sql_exec("v3.db",
		"INSERT INTO sanctions(id, user_id, kind, until, reason, actor, created_at, "
		"lifted_at) VALUES"
		"(1, 'bob', 'ban', 0, 'r1', 'mod', 10, 0),"
		"(2, 'carol', 'shadow', 0, 'r2', 'mod', 20, 30),"
		"(3, 'dave', 'block', 99999, 'r3', 'rule:spam', 40, 0);"
		"UPDATE sqlite_sequence SET seq = 10 WHERE name = 'sanctions';") == SQLITE_OK);
	/* Version 3 refuses the new kind. */
	CU_ASSERT(sql_exec("v3.db", "INSERT INTO sanctions(user_id, kind, reason, actor, "
				    "created_at) VALUES('x', 'revoke', '', 'm', 1)") != SQLITE_OK);
	host_up("v3.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(stub_log_count("sqlite.migrated") == 1);
	CU_ASSERT(sanctions_sync(&s, 50, &l) == CHATD_OK && l.n == 2);
	CU_ASSERT(l.ids[0] == 1 && strcmp(l.reason[0], "r1") == 0);
	CU_ASSERT(l.ids[1] == 3 && l.until[1] == 99999 && strcmp(l.actor[1], "rule:spam") == 0);
	struct chatd_sanction sa = {
		.user_id = "bob", .kind = "revoke", .reason = "", .actor = "mod", .created_at = 60,
	};
	CU_ASSERT(sanction_add_sync(&s, &sa, &id) == CHATD_OK && id.id == 11);
	store_close(&s);
	stub_host_teardown();
	CU_ASSERT(sql_int("v3.db", "SELECT version FROM schema_version") == SQLITE_SCHEMA_VERSION);
	CU_ASSERT(sql_int("v3.db", "SELECT lifted_at FROM sanctions WHERE id = 2") == 30);
	CU_ASSERT(sql_int("v3.db", "SELECT COUNT(*) FROM sqlite_master WHERE name IN "
				   "('sanctions', 'sanctions_active')") == 2);
	CU_ASSERT(sql_int("v3.db", "SELECT COUNT(*) FROM sqlite_master WHERE name = "
				   "'sanctions_v4'") == 0);
	CU_ASSERT(sql_exec("v3.db", "INSERT INTO sanctions(user_id, kind, reason, actor, "
				    "created_at) VALUES('x', 'mute', '', 'm', 1)") != SQLITE_OK);
}

void unit_register_storage_admin(void)
{
	CU_pSuite s = CU_add_suite("storage_admin", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "revoke rows", test_revoke_rows);
	CU_add_test(s, "user_first_seen", test_user_first_seen);
	CU_add_test(s, "migration to 5 from a version 3 file", test_migration_v3);
}
