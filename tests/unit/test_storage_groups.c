/* test_storage_groups.c — the sqlite storage plugin's ABI 1.2 ops for
 * groups (conv_change, members_get, history from join, inbox rows on
 * append, the rows_written counter) and the migration from schema 2,
 * against real database files (helpers in sqlite_fixture.c; the message
 * ops are in test_storage_messages.c). */
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

/* ---- helpers ------------------------------------------------------- */

static int add_users(struct store *s, const char *cid, const char *actor,
		     const char *const *users, size_t n, int64_t ts, bool from_join,
		     struct change_out *o)
{
	struct chatd_conv_change ch = change(CHATD_CHANGE_ADD, cid, actor);
	ch.users = users;
	ch.n_users = n;
	ch.ts = ts;
	ch.history_from_join = from_join;
	return change_sync(s, &ch, o);
}

/* The role of user in cid as stored ("" when not a member). */
static const char *role_of(struct store *s, const char *cid, const char *user)
{
	static struct get_out g;
	const char *u[] = { user };
	if (members_sync(s, cid, NULL, u, 1, &g) != CHATD_OK || g.n != 1)
		return "";
	return g.roles[0];
}

/* ---- conv_change: ADD ---------------------------------------------- */

static void test_change_add(void)
{
	struct store s;
	struct conv_out c;
	struct change_out o;
	struct get_out g;
	host_up("add.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);

	/* Duplicates ignored, order kept; the result is the actor's view. */
	const char *const add1[] = { "dave", "carol", "dave" };
	CU_ASSERT(add_users(&s, c.cid, "alice", add1, 3, 100, false, &o) == CHATD_OK);
	CU_ASSERT_FATAL(o.has_res && o.has_conv);
	CU_ASSERT(o.n_users == 2 && strcmp(o.users[0], "dave") == 0 &&
		  strcmp(o.users[1], "carol") == 0);
	CU_ASSERT(o.conv.member_count == 4 && strcmp(o.conv.role, "owner") == 0);
	CU_ASSERT(strcmp(o.conv.cid, c.cid) == 0 && !o.has_new_owner);
	const char *const q[] = { "carol", "dave" };
	CU_ASSERT(members_sync(&s, c.cid, "alice", q, 2, &g) == CHATD_OK);
	CU_ASSERT_FATAL(g.n == 2);
	CU_ASSERT(strcmp(g.roles[0], "member") == 0 && g.joined_at[0] == 100);
	CU_ASSERT(g.read_seq[0] == 0 && g.muted_until[0] == 0);
	CU_ASSERT(conv_int("add.db", "SELECT member_count FROM conversations WHERE id = '%s'",
			   c.cid) == 4);

	/* A member already there: EXISTS naming the first one, nothing added. */
	const char *const add2[] = { "erin", "carol", "bob" };
	CU_ASSERT(add_users(&s, c.cid, "alice", add2, 3, 110, false, &o) == CHATD_ERR_EXISTS);
	CU_ASSERT(o.has_res && !o.has_conv && o.n_users == 1 && strcmp(o.users[0], "carol") == 0);
	CU_ASSERT(conv_int("add.db", "SELECT COUNT(*) FROM members WHERE conversation_id = '%s'",
			   c.cid) == 4);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "erin"), "") == 0);

	/* max_members: 4 + 2 > 5 refused as a whole; 6 fits; 0 is no limit. */
	const char *const add3[] = { "erin", "frank" };
	struct chatd_conv_change ch = change(CHATD_CHANGE_ADD, c.cid, "alice");
	ch.users = add3;
	ch.n_users = 2;
	ch.max_members = 5;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_TOO_LARGE && !o.has_res);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "erin"), "") == 0);
	ch.max_members = 6;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK && o.conv.member_count == 6);
	/* EXISTS wins over TOO_LARGE. */
	ch.max_members = 6;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_EXISTS && strcmp(o.users[0], "erin") == 0);

	/* Stale actor role: CONFLICT, nothing added. */
	const char *const add4[] = { "gina" };
	ch = change(CHATD_CHANGE_ADD, c.cid, "alice");
	ch.users = add4;
	ch.n_users = 1;
	ch.actor_role = "admin";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_CONFLICT && !o.has_res);
	ch.actor_role = "owner";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK && o.conv.member_count == 7);

	/* Who and where. */
	CU_ASSERT(add_users(&s, c.cid, "mallory", add4, 1, 120, false, &o) ==
		  CHATD_ERR_NOT_FOUND);
	CU_ASSERT(add_users(&s, "cffffffffffffffff", "alice", add4, 1, 120, false, &o) ==
		  CHATD_ERR_NOT_FOUND);
	/* Arguments, refused before anything is queued. */
	const char *const self[] = { "hank", "alice" };
	CU_ASSERT(add_users(&s, c.cid, "alice", self, 2, 120, false, &o) == CHATD_ERR_INVALID);
	CU_ASSERT(add_users(&s, c.cid, "alice", add4, 0, 120, false, &o) == CHATD_ERR_INVALID);
	CU_ASSERT(add_users(&s, c.cid, "alice", NULL, 1, 120, false, &o) == CHATD_ERR_INVALID);
	const char *const bad[] = { "ok", "" };
	CU_ASSERT(add_users(&s, c.cid, "alice", bad, 2, 120, false, &o) == CHATD_ERR_INVALID);
	const char *const longid[] = {
		"an-id-well-over-sixty-four-bytes-long-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" };
	CU_ASSERT(add_users(&s, c.cid, "alice", longid, 1, 120, false, &o) == CHATD_ERR_INVALID);
	ch = change(CHATD_CHANGE_ADD, c.cid, "alice");
	ch.users = add4;
	ch.n_users = 1;
	ch.max_members = -1;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);

	/* 1000 users per call at most. */
	enum { BIG = SQLITE_CHANGE_USERS_MAX + 1 };
	static char names[BIG][16];
	static const char *many[BIG];
	for (int i = 0; i < BIG; i++) {
		snprintf(names[i], sizeof(names[i]), "u%04d", i);
		many[i] = names[i];
	}
	CU_ASSERT(add_users(&s, c.cid, "alice", many, BIG, 130, false, &o) == CHATD_ERR_TOO_LARGE);
	CU_ASSERT(add_users(&s, c.cid, "alice", many, BIG - 1, 130, false, &o) == CHATD_OK);
	CU_ASSERT(o.n_users == BIG - 1 && strcmp(o.users[SMAX - 1], names[SMAX - 1]) == 0);
	CU_ASSERT(o.conv.member_count == 7 + BIG - 1);
	CU_ASSERT(conv_int("add.db", "SELECT COUNT(*) FROM members WHERE conversation_id = '%s'",
			   c.cid) == 7 + BIG - 1);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- conv_change: REMOVE, ROLE, MUTE ------------------------------- */

static void test_change_remove_role_mute(void)
{
	struct store s;
	struct conv_out c;
	struct change_out o;
	struct get_out g;
	const char *const m[] = { "bob", "carol", "dave" };
	host_up("rrm.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", m, 3, 10, &c) == CHATD_OK);

	/* ROLE */
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "carol", "admin", &o) == CHATD_OK);
	CU_ASSERT(o.n_users == 1 && strcmp(o.users[0], "carol") == 0);
	CU_ASSERT(strcmp(o.conv.role, "owner") == 0 && o.conv.member_count == 4);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "carol"), "admin") == 0);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "carol", "dave", "moderator", &o) ==
		  CHATD_OK);
	CU_ASSERT(strcmp(o.conv.role, "admin") == 0);   /* the actor's view */
	CU_ASSERT(strcmp(role_of(&s, c.cid, "dave"), "moderator") == 0);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "dave", "owner", &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "dave", "boss", &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "dave", NULL, &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "alice", "admin", &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "carol", "alice", "member", &o) ==
		  CHATD_ERR_INVALID);   /* the owner's role is not ROLE's */
	CU_ASSERT(strcmp(role_of(&s, c.cid, "alice"), "owner") == 0);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "zed", "admin", &o) ==
		  CHATD_ERR_NOT_FOUND);

	/* Stale roles: CONFLICT; the right ones: done. */
	const char *u[] = { "dave" };
	struct chatd_conv_change ch = change(CHATD_CHANGE_ROLE, c.cid, "carol");
	ch.users = u;
	ch.n_users = 1;
	ch.role = "member";
	ch.actor_role = "admin";
	ch.target_role = "member";             /* dave is a moderator now */
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_CONFLICT && !o.has_res);
	ch.target_role = "moderator";
	ch.actor_role = "member";              /* carol is an admin */
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_CONFLICT);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "dave"), "moderator") == 0);
	ch.actor_role = "admin";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "dave"), "member") == 0);
	ch.target_role = "boss";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch.target_role = NULL;
	ch.actor_role = "chief";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);

	/* MUTE */
	ch = change(CHATD_CHANGE_MUTE, c.cid, "carol");
	ch.users = u;
	ch.n_users = 1;
	ch.muted_until = 5000;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK && strcmp(o.users[0], "dave") == 0);
	CU_ASSERT(members_sync(&s, c.cid, "alice", u, 1, &g) == CHATD_OK);
	CU_ASSERT(g.n == 1 && g.muted_until[0] == 5000);
	struct get_out gd;
	CU_ASSERT(get_sync(&s, c.cid, "dave", 0, 0, &gd) == CHATD_OK && gd.conv.muted_until == 5000);
	ch.target_role = "admin";
	ch.muted_until = 9000;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_CONFLICT);
	ch.target_role = "member";
	ch.muted_until = 0;                    /* unmute */
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	CU_ASSERT(members_sync(&s, c.cid, "alice", u, 1, &g) == CHATD_OK && g.muted_until[0] == 0);
	ch.muted_until = -1;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch.muted_until = 1;
	u[0] = "zed";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_NOT_FOUND);

	/* REMOVE (also drops the removed member's inbox row) */
	struct send_out so;
	CU_ASSERT(send_inbox_sync(&s, c.cid, "alice", "i1", "x", 600, true, &so) == CHATD_OK);
	CU_ASSERT(conv_int("rrm.db", "SELECT COUNT(*) FROM inbox WHERE conversation_id = '%s'",
			   c.cid) == 4);
	ch = change(CHATD_CHANGE_REMOVE, c.cid, "carol");
	u[0] = "bob";
	ch.users = u;
	ch.n_users = 1;
	ch.target_role = "admin";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_CONFLICT);
	ch.target_role = "member";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	CU_ASSERT(o.n_users == 1 && strcmp(o.users[0], "bob") == 0 && o.conv.member_count == 3);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "bob"), "") == 0);
	CU_ASSERT(conv_int("rrm.db", "SELECT COUNT(*) FROM inbox WHERE conversation_id = '%s'",
			   c.cid) == 3);
	CU_ASSERT(sql_int("rrm.db", "SELECT COUNT(*) FROM inbox WHERE user_id = 'bob'") == 0);
	CU_ASSERT(conv_int("rrm.db", "SELECT member_count FROM conversations WHERE id = '%s'",
			   c.cid) == 3);
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_NOT_FOUND);   /* not a member now */
	/* bob, no member, cannot act; the owner cannot be removed. */
	CU_ASSERT(on_user(&s, CHATD_CHANGE_REMOVE, c.cid, "bob", "dave", NULL, &o) ==
		  CHATD_ERR_NOT_FOUND);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_REMOVE, c.cid, "carol", "alice", NULL, &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_REMOVE, c.cid, "carol", "carol", NULL, &o) ==
		  CHATD_ERR_INVALID);
	/* Exactly one user. */
	const char *two[] = { "dave", "carol" };
	ch = change(CHATD_CHANGE_REMOVE, c.cid, "alice");
	ch.users = two;
	ch.n_users = 2;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch.n_users = 0;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "dave"), "member") == 0);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* Two changes racing in one batch: the second acted on what the first
 * changed, so it is refused. */
static void test_change_race_conflict(void)
{
	struct store s;
	struct conv_out c;
	struct change_out o, a, b;
	const char *const m[] = { "carol", "dave" };
	host_up("race.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", m, 2, 10, &c) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "carol", "admin", &o) == CHATD_OK);

	const char *carol[] = { "carol" }, *dave[] = { "dave" };
	struct chatd_conv_change demote = change(CHATD_CHANGE_ROLE, c.cid, "alice");
	demote.users = carol;
	demote.n_users = 1;
	demote.role = "member";
	demote.actor_role = "owner";
	demote.target_role = "admin";
	struct chatd_conv_change kick = change(CHATD_CHANGE_REMOVE, c.cid, "carol");
	kick.users = dave;
	kick.n_users = 1;
	kick.actor_role = "admin";             /* as carol's permission was read */
	kick.target_role = "member";
	CU_ASSERT(change_async(&s, &demote, &a) == CHATD_OK);
	CU_ASSERT(change_async(&s, &kick, &b) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(a.status == CHATD_OK && b.status == CHATD_ERR_CONFLICT);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "carol"), "member") == 0);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "dave"), "member") == 0);
	CU_ASSERT(conv_int("race.db", "SELECT member_count FROM conversations WHERE id = '%s'",
			   c.cid) == 3);
	store_close(&s);
	stub_host_teardown();
}

/* ---- conv_change: LEAVE -------------------------------------------- */

static void test_change_leave(void)
{
	struct store s;
	struct conv_out c, d, solo;
	struct change_out o;
	const char *const m[] = { "bob", "carol" };   /* joined at 10 */
	host_up("leave.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "own", "g", m, 2, 10, &c) == CHATD_OK);
	const char *const amy[] = { "amy" }, *const dan[] = { "dan" }, *const eve[] = { "eve" };
	CU_ASSERT(add_users(&s, c.cid, "own", dan, 1, 20, false, &o) == CHATD_OK);
	CU_ASSERT(add_users(&s, c.cid, "own", amy, 1, 30, false, &o) == CHATD_OK);
	CU_ASSERT(add_users(&s, c.cid, "own", eve, 1, 40, false, &o) == CHATD_OK);
	/* Admins: carol (10), dan (20), amy (30); eve a moderator (40). */
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "own", "amy", "admin", &o) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "own", "dan", "admin", &o) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "own", "carol", "admin", &o) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "own", "eve", "moderator", &o) ==
		  CHATD_OK);
	struct send_out so;
	CU_ASSERT(send_inbox_sync(&s, c.cid, "bob", "i1", "x", 50, true, &so) == CHATD_OK);

	/* A member who is not the owner: nobody is promoted. */
	CU_ASSERT(leave(&s, c.cid, "bob", &o) == CHATD_OK);
	CU_ASSERT(!o.has_new_owner && o.n_users == 1 && strcmp(o.users[0], "bob") == 0);
	CU_ASSERT(o.has_conv && !o.conv.has_role && o.conv.member_count == 5);
	CU_ASSERT(sql_int("leave.db", "SELECT COUNT(*) FROM inbox WHERE user_id = 'bob'") == 0);
	CU_ASSERT(sql_int("leave.db", "SELECT COUNT(*) FROM inbox") == 5);
	CU_ASSERT(leave(&s, c.cid, "bob", &o) == CHATD_ERR_NOT_FOUND);

	/* The owner: the longest-standing admin, then the next. */
	CU_ASSERT(leave(&s, c.cid, "own", &o) == CHATD_OK);
	CU_ASSERT(o.has_new_owner && strcmp(o.new_owner, "carol") == 0);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "carol"), "owner") == 0);
	CU_ASSERT(o.conv.member_count == 4 && !o.conv.has_role);
	/* Stale actor role. */
	struct chatd_conv_change ch = change(CHATD_CHANGE_LEAVE, c.cid, "carol");
	ch.actor_role = "admin";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_CONFLICT);
	ch.actor_role = "owner";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK && strcmp(o.new_owner, "dan") == 0);
	/* users = { actor } is accepted too; another user is not. */
	const char *self[] = { "dan" }, *other[] = { "amy" };
	ch = change(CHATD_CHANGE_LEAVE, c.cid, "dan");
	ch.users = other;
	ch.n_users = 1;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch.users = self;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK && strcmp(o.new_owner, "amy") == 0);
	/* No admin left: the longest-standing of any role (eve, a moderator). */
	CU_ASSERT(leave(&s, c.cid, "amy", &o) == CHATD_OK && strcmp(o.new_owner, "eve") == 0);
	CU_ASSERT(strcmp(role_of(&s, c.cid, "eve"), "owner") == 0);
	/* The last member may leave; the conversation stays, empty. */
	CU_ASSERT(leave(&s, c.cid, "eve", &o) == CHATD_OK && !o.has_new_owner);
	CU_ASSERT(o.has_conv && o.conv.member_count == 0);
	CU_ASSERT(conv_int("leave.db", "SELECT member_count FROM conversations WHERE id = '%s'",
			   c.cid) == 0);
	CU_ASSERT(conv_int("leave.db", "SELECT COUNT(*) FROM members WHERE conversation_id = '%s'",
			   c.cid) == 0);
	CU_ASSERT(sql_int("leave.db", "SELECT COUNT(*) FROM inbox") == 0);
	struct get_out g;
	CU_ASSERT(get_sync(&s, c.cid, NULL, 0, 10, &g) == CHATD_OK && g.n == 0);

	/* Ties on joined_at go by user_id; with no admin, a member who joined
	 * earlier beats a moderator. */
	const char *const ties[] = { "yy", "xx", "ww" };
	CU_ASSERT_FATAL(group_sync(&s, "boss", "t", ties, 3, 10, &d) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, d.cid, "boss", "yy", "admin", &o) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, d.cid, "boss", "xx", "admin", &o) == CHATD_OK);
	CU_ASSERT(leave(&s, d.cid, "boss", &o) == CHATD_OK && strcmp(o.new_owner, "xx") == 0);
	const char *const late[] = { "aa" };
	CU_ASSERT(add_users(&s, d.cid, "xx", late, 1, 99, false, &o) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, d.cid, "xx", "aa", "moderator", &o) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, d.cid, "xx", "yy", "member", &o) == CHATD_OK);
	CU_ASSERT(leave(&s, d.cid, "xx", &o) == CHATD_OK && strcmp(o.new_owner, "ww") == 0);

	/* A group of one: its owner leaves, nobody to promote. */
	CU_ASSERT_FATAL(group_sync(&s, "lone", NULL, NULL, 0, 10, &solo) == CHATD_OK);
	CU_ASSERT(leave(&s, solo.cid, "lone", &o) == CHATD_OK && !o.has_new_owner);
	CU_ASSERT(o.conv.member_count == 0);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- conv_change: SETTINGS, direct conversations, inputs ----------- */

static void test_change_settings(void)
{
	struct store s;
	struct conv_out c;
	struct change_out o;
	host_up("settings.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "old", g_two, 1, 10, &c) == CHATD_OK);
	struct chatd_conv_change ch = change(CHATD_CHANGE_SETTINGS, c.cid, "alice");
	/* Nothing given: nothing changes (defaults: unlocked, typing, receipts). */
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	CU_ASSERT(strcmp(o.conv.title, "old") == 0 && !o.conv.locked && o.conv.typing &&
		  o.conv.receipts && o.n_users == 0);
	ch.title = "new title";
	ch.locked = 1;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	CU_ASSERT(o.conv.has_title && strcmp(o.conv.title, "new title") == 0);
	CU_ASSERT(o.conv.locked && o.conv.typing && o.conv.receipts);
	CU_ASSERT(strcmp(o.conv.role, "owner") == 0);
	ch = change(CHATD_CHANGE_SETTINGS, c.cid, "alice");
	ch.typing = 0;
	ch.receipts = 0;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	CU_ASSERT(strcmp(o.conv.title, "new title") == 0 && o.conv.locked && !o.conv.typing &&
		  !o.conv.receipts);
	ch = change(CHATD_CHANGE_SETTINGS, c.cid, "alice");
	ch.title = "";                         /* clears */
	ch.locked = 0;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	CU_ASSERT(!o.conv.has_title && !o.conv.locked && !o.conv.typing);
	CU_ASSERT(conv_int("settings.db", "SELECT title IS NULL FROM conversations WHERE id = '%s'",
			   c.cid) == 1);
	/* bob sees the same settings. */
	struct get_out g;
	CU_ASSERT(get_sync(&s, c.cid, "bob", 0, 0, &g) == CHATD_OK);
	CU_ASSERT(!g.conv.has_title && !g.conv.locked && !g.conv.typing && !g.conv.receipts);
	CU_ASSERT(strcmp(g.conv.role, "member") == 0);

	/* Inputs. */
	ch = change(CHATD_CHANGE_SETTINGS, c.cid, "alice");
	ch.locked = 2;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch.locked = -1;
	ch.receipts = -2;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch.receipts = -1;
	char *big = malloc(SQLITE_TITLE_MAX + 2);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 't', SQLITE_TITLE_MAX + 1);
	big[SQLITE_TITLE_MAX + 1] = '\0';
	ch.title = big;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	big[SQLITE_TITLE_MAX] = '\0';
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK);
	free(big);
	ch.title = NULL;
	ch.users = g_two;
	ch.n_users = 1;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	/* Stale actor role, non-member. */
	ch = change(CHATD_CHANGE_SETTINGS, c.cid, "bob");
	ch.actor_role = "admin";
	ch.locked = 1;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_CONFLICT);
	ch.actor = "mallory";
	ch.actor_role = NULL;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(get_sync(&s, c.cid, "bob", 0, 0, &g) == CHATD_OK && !g.conv.locked);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

static void test_change_direct_and_inputs(void)
{
	struct store s;
	struct conv_out d;
	struct change_out o;
	host_up("cdirect.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(direct_async(&s, "alice", "bob", 10, &d) == CHATD_OK);
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT_FATAL(d.status == CHATD_OK);
	const char *carol[] = { "carol" }, *bob[] = { "bob" };
	CU_ASSERT(add_users(&s, d.cid, "alice", carol, 1, 20, false, &o) == CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_REMOVE, d.cid, "alice", "bob", NULL, &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, d.cid, "alice", "bob", "admin", &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_MUTE, d.cid, "alice", "bob", NULL, &o) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(leave(&s, d.cid, "alice", &o) == CHATD_ERR_INVALID);
	struct chatd_conv_change ch = change(CHATD_CHANGE_SETTINGS, d.cid, "bob");
	ch.title = "x";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID && !o.has_res);
	/* A stranger learns nothing about it. */
	CU_ASSERT(leave(&s, d.cid, "mallory", &o) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(sql_int("cdirect.db", "SELECT COUNT(*) FROM members") == 2);
	CU_ASSERT(sql_int("cdirect.db", "SELECT COUNT(*) FROM conversations WHERE title IS NULL") ==
		  1);

	/* Inputs, refused before anything is queued. */
	ch = change(0, d.cid, "alice");
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch.kind = 7;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch = change(CHATD_CHANGE_LEAVE, NULL, "alice");
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch = change(CHATD_CHANGE_LEAVE, d.cid, "");
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch = change(CHATD_CHANGE_LEAVE, d.cid, "alice");
	ch.ts = -1;
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	ch = change(CHATD_CHANGE_MUTE, d.cid, "alice");
	ch.users = bob;
	ch.n_users = 1;
	ch.target_role = "";
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_ERR_INVALID);
	CU_ASSERT(change_sync(&s, NULL, &o) == CHATD_ERR_INVALID);
	CU_ASSERT(s.ops->conv_change(s.inst, &ch, NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- members_get --------------------------------------------------- */

static void test_members_get(void)
{
	struct store s;
	struct conv_out c;
	struct get_out g;
	struct change_out o;
	const char *const m[] = { "bob", "carol" };
	host_up("mget.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", m, 2, 10, &c) == CHATD_OK);
	CU_ASSERT(on_user(&s, CHATD_CHANGE_ROLE, c.cid, "alice", "carol", "moderator", &o) ==
		  CHATD_OK);
	const char *const q[] = { "carol", "nobody", "alice", "carol" };
	CU_ASSERT(members_sync(&s, c.cid, "bob", q, 4, &g) == CHATD_OK);
	CU_ASSERT_FATAL(g.n == 3);
	CU_ASSERT(strcmp(g.users[0], "carol") == 0 && strcmp(g.roles[0], "moderator") == 0);
	CU_ASSERT(strcmp(g.users[1], "alice") == 0 && strcmp(g.roles[1], "owner") == 0);
	CU_ASSERT(strcmp(g.users[2], "carol") == 0 && g.joined_at[1] == 10);
	CU_ASSERT(strcmp(g.conv.role, "member") == 0 && g.conv.member_count == 3);
	CU_ASSERT(strcmp(g.conv.title, "g") == 0);
	/* None asked: the conversation only. */
	CU_ASSERT(members_sync(&s, c.cid, "bob", NULL, 0, &g) == CHATD_OK && g.n == 0);
	CU_ASSERT(strcmp(g.conv.cid, c.cid) == 0);
	/* No viewer: no membership check, no role. */
	CU_ASSERT(members_sync(&s, c.cid, NULL, q, 1, &g) == CHATD_OK && g.n == 1);
	CU_ASSERT(!g.conv.has_role);
	CU_ASSERT(members_sync(&s, c.cid, "nobody", q, 1, &g) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(members_sync(&s, "cnope", "bob", q, 1, &g) == CHATD_ERR_NOT_FOUND);
	const char *const bad[] = { "alice", NULL };
	CU_ASSERT(members_sync(&s, c.cid, "bob", bad, 2, &g) == CHATD_ERR_INVALID);
	CU_ASSERT(members_sync(&s, c.cid, "bob", NULL, 1, &g) == CHATD_ERR_INVALID);
	CU_ASSERT(members_sync(&s, c.cid, "", q, 1, &g) == CHATD_ERR_INVALID);
	static const char *many[SQLITE_CHANGE_USERS_MAX + 1];
	for (size_t i = 0; i <= SQLITE_CHANGE_USERS_MAX; i++)
		many[i] = i % 2 ? "alice" : "bob";
	CU_ASSERT(members_sync(&s, c.cid, "bob", many, SQLITE_CHANGE_USERS_MAX + 1, &g) ==
		  CHATD_ERR_TOO_LARGE);
	CU_ASSERT(members_sync(&s, c.cid, "bob", many, SQLITE_CHANGE_USERS_MAX, &g) == CHATD_OK);
	CU_ASSERT(g.n == SQLITE_CHANGE_USERS_MAX && strcmp(g.users[1], "alice") == 0);
	CU_ASSERT(g_pending == 0);
	store_close(&s);
	stub_host_teardown();
}

/* ---- history from join --------------------------------------------- */

static void test_history_from_join(void)
{
	struct store s;
	struct conv_out c;
	struct change_out o;
	struct send_out so;
	struct hist_out h;
	struct sync_out y;
	host_up("hfj.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	for (int i = 1; i <= 5; i++) {
		char cmid[8];
		snprintf(cmid, sizeof(cmid), "a%d", i);
		CU_ASSERT(send_sync(&s, c.cid, "alice", cmid, "before", 100 + i, &so) == CHATD_OK);
	}
	const char *const carol[] = { "carol" }, *const dave[] = { "dave" };
	CU_ASSERT(add_users(&s, c.cid, "alice", carol, 1, 200, true, &o) == CHATD_OK);
	CU_ASSERT(add_users(&s, c.cid, "alice", dave, 1, 200, false, &o) == CHATD_OK);
	CU_ASSERT(sql_int("hfj.db", "SELECT history_from FROM members WHERE user_id = 'carol'") ==
		  5);
	CU_ASSERT(sql_int("hfj.db", "SELECT history_from FROM members WHERE user_id = 'dave'") ==
		  0);
	for (int i = 6; i <= 8; i++) {
		char cmid[8];
		snprintf(cmid, sizeof(cmid), "a%d", i);
		CU_ASSERT(send_sync(&s, c.cid, "bob", cmid, "after", 300 + i, &so) == CHATD_OK);
	}

	/* carol: only what came after she joined, in every kind of page. */
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 50, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 6, 8) && !h.has_more && strcmp(h.first_text, "after") == 0);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 2, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 7, 8) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 7, -1, 5, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 6, 6) && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 6, -1, 5, &h) == CHATD_OK);
	CU_ASSERT(h.n == 0 && !h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, 0, 2, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 6, 7) && h.has_more);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, 2, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 6, 8) && !h.has_more);
	/* dave, the others and the staff view: everything. */
	CU_ASSERT(history_sync(&s, c.cid, "dave", 0, -1, 50, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 8));
	CU_ASSERT(history_sync(&s, c.cid, "bob", 0, -1, 50, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 8));
	CU_ASSERT(history_sync(&s, c.cid, NULL, 0, -1, 50, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 8));

	/* Sync: nothing at or below history_from, whatever the cursor; her
	 * read cursor starts there (nothing hidden counts as unread). */
	CU_ASSERT_FATAL(sync_sync(&s, "carol", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT_FATAL(y.n == 1);
	CU_ASSERT(y.c[0].n == 3 && y.c[0].first == 6 && y.c[0].last == 8 && !y.c[0].has_more);
	CU_ASSERT(y.c[0].read_seq == 5);
	struct chatd_cursor cur[] = { { c.cid, 2 } };
	CU_ASSERT_FATAL(sync_sync(&s, "carol", cur, 1, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 3 && y.c[0].first == 6);
	cur[0].seq = 7;
	CU_ASSERT_FATAL(sync_sync(&s, "carol", cur, 1, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 1 && y.c[0].first == 8);
	CU_ASSERT_FATAL(sync_caps_sync(&s, "carol", NULL, 0, 2, 100, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 2 && y.c[0].first == 6 && y.c[0].has_more);
	CU_ASSERT_FATAL(sync_sync(&s, "dave", NULL, 0, &y) == CHATD_OK);
	CU_ASSERT(y.c[0].n == 8 && y.c[0].first == 1);

	/* Removed and added back with the whole history: she sees it all. */
	CU_ASSERT(on_user(&s, CHATD_CHANGE_REMOVE, c.cid, "alice", "carol", NULL, &o) == CHATD_OK);
	CU_ASSERT(add_users(&s, c.cid, "alice", carol, 1, 400, false, &o) == CHATD_OK);
	CU_ASSERT(history_sync(&s, c.cid, "carol", 0, -1, 50, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 8));
	/* With history from join at an empty conversation: from 0. */
	struct conv_out e;
	CU_ASSERT_FATAL(group_sync(&s, "alice", "e", NULL, 0, 10, &e) == CHATD_OK);
	CU_ASSERT(add_users(&s, e.cid, "alice", carol, 1, 20, true, &o) == CHATD_OK);
	CU_ASSERT(send_sync(&s, e.cid, "alice", "e1", "x", 30, &so) == CHATD_OK);
	CU_ASSERT(history_sync(&s, e.cid, "carol", 0, -1, 50, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 1));
	store_close(&s);
	stub_host_teardown();
}

/* ---- inbox rows and the rows_written counter ------------------------ */

static void test_inbox_rows(void)
{
	struct store s;
	struct conv_out c;
	struct send_out o;
	struct change_out co;
	const char *const m[] = { "bob", "carol" };
	host_up("inbox.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	/* 5 rows: the conversation, 3 members, the member count. */
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", m, 2, 10, &c) == CHATD_OK);
	/* 7: seq bump, message, read cursor, 3 inbox rows, inbox flag. */
	CU_ASSERT(send_inbox_sync(&s, c.cid, "alice", "k1", "x", 100, true, &o) == CHATD_OK);
	CU_ASSERT(conv_int("inbox.db", "SELECT inbox FROM conversations WHERE id = '%s'", c.cid) ==
		  1);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox WHERE last_seq = 1 AND ts = 100")
		  == 3);
	/* 6: no flag this time. */
	CU_ASSERT(send_inbox_sync(&s, c.cid, "bob", "k2", "x", 110, true, &o) == CHATD_OK);
	CU_ASSERT(o.seq == 2);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox") == 3);
	CU_ASSERT(conv_int("inbox.db", "SELECT COUNT(*) FROM inbox WHERE conversation_id = '%s' "
				       "AND last_seq = 2 AND ts = 110", c.cid) == 3);
	/* 0: a resend writes nothing. */
	CU_ASSERT(send_inbox_sync(&s, c.cid, "alice", "k1", "x", 120, true, &o) == CHATD_OK);
	CU_ASSERT(o.dup && o.seq == 1);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox WHERE last_seq = 2") == 3);
	/* 7: switching to fan-out on read drops the rows (3) and the flag. */
	CU_ASSERT(send_inbox_sync(&s, c.cid, "carol", "k3", "x", 130, false, &o) == CHATD_OK);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox") == 0);
	CU_ASSERT(conv_int("inbox.db", "SELECT inbox FROM conversations WHERE id = '%s'", c.cid) ==
		  0);
	/* 3: the plain append. */
	CU_ASSERT(send_inbox_sync(&s, c.cid, "carol", "k4", "x", 140, false, &o) == CHATD_OK);
	store_close(&s);   /* flushes the metrics */
	/* Each stored text also writes the search index (schema 6): its
	 * search_rows row, and FTS5's rows in its shadow tables (6 for a
	 * short text in a small index), counted like any other. */
	const int idx = 7;
	CU_ASSERT(stub_metric("rows_written") ==
		  5 + (7 + idx) + (6 + idx) + 0 + (7 + idx) + (3 + idx));

	/* Another conversation's rows are not touched; a member added to a
	 * conversation that fans out on write gets a row at once (at the
	 * current last seq), which the next append moves; a leaver's row
	 * goes. */
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	struct conv_out d;
	CU_ASSERT_FATAL(group_sync(&s, "alice", "d", g_two, 1, 10, &d) == CHATD_OK);
	CU_ASSERT(send_inbox_sync(&s, d.cid, "alice", "d1", "x", 200, true, &o) == CHATD_OK);
	CU_ASSERT(send_inbox_sync(&s, c.cid, "alice", "k5", "x", 210, true, &o) == CHATD_OK);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox") == 5);
	const char *const dave[] = { "dave" };
	CU_ASSERT(add_users(&s, c.cid, "alice", dave, 1, 220, false, &co) == CHATD_OK);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox WHERE user_id = 'dave'") == 1);
	CU_ASSERT(sql_int("inbox.db", "SELECT last_seq FROM inbox WHERE user_id = 'dave'") == 5);
	CU_ASSERT(sql_int("inbox.db", "SELECT ts FROM inbox WHERE user_id = 'dave'") == 220);
	CU_ASSERT(send_inbox_sync(&s, c.cid, "bob", "k6", "x", 230, true, &o) == CHATD_OK);
	CU_ASSERT(sql_int("inbox.db", "SELECT last_seq FROM inbox WHERE user_id = 'dave'") == 6);
	CU_ASSERT(leave(&s, c.cid, "bob", &co) == CHATD_OK);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox WHERE user_id = 'bob'") == 1);
	CU_ASSERT(conv_int("inbox.db", "SELECT COUNT(*) FROM inbox WHERE conversation_id = '%s'",
			   c.cid) == 3);
	CU_ASSERT(send_inbox_sync(&s, c.cid, "alice", "k7", "x", 240, false, &o) == CHATD_OK);
	CU_ASSERT(sql_int("inbox.db", "SELECT COUNT(*) FROM inbox") == 2);   /* d's */
	CU_ASSERT(conv_int("inbox.db", "SELECT inbox FROM conversations WHERE id = '%s'", d.cid) ==
		  1);
	store_close(&s);
	stub_host_teardown();
}

/* ---- migration ----------------------------------------------------- */

static void test_migration_v2(void)
{
	struct store s;
	struct hist_out h;
	struct change_out o;
	/* A file as chatd with ABI 1.1 left it: schema 2, a group with two
	 * messages, one of them deleted for everyone. */
	CU_ASSERT_FATAL(schema_at("v2.db", 2) == CHATD_OK);
	CU_ASSERT(sql_int("v2.db", "SELECT version FROM schema_version") == 2);
	CU_ASSERT(sql_int("v2.db", "SELECT COUNT(*) FROM sqlite_master WHERE name = 'inbox'") == 0);
	CU_ASSERT_FATAL(sql_exec("v2.db",
		"INSERT INTO conversations(id, kind, title, created_at, last_seq, last_activity, "
		"member_count) VALUES('c0000000000000002', 'group', 'old', 10, 2, 30, 2);"
		"INSERT INTO members(conversation_id, user_id, role, joined_at, last_read_seq) "
		"VALUES"
		"('c0000000000000002', 'alice', 'owner', 10, 2), "
		"('c0000000000000002', 'bob', 'member', 10, 0);"
		"INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
		"client_message_id, text, created_at, deleted, moderation) VALUES"
		"('c0000000000000002', 1, 'm0000000000000002-1', 'alice', 'k1', 'one', 20, 0, "
		"NULL), "
		"('c0000000000000002', 2, 'm0000000000000002-2', 'alice', 'k2', 'gone', 30, 1, "
		"'{}');") == SQLITE_OK);

	host_up("v2.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(stub_log_count("sqlite.migrated") == 1);
	/* history_from 0: bob sees everything; the old deleted row reads as
	 * deleted. */
	CU_ASSERT(history_sync(&s, "c0000000000000002", "bob", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 1, 2) && strcmp(h.text[0], "one") == 0);
	CU_ASSERT(h.deleted[1] && !h.has_text[1] && !h.has_mod[1]);
	/* The new pieces work on the old file. */
	const char *const carol[] = { "carol" };
	struct chatd_conv_change ch = {
		.kind = CHATD_CHANGE_ADD, .conversation_id = "c0000000000000002", .actor = "alice",
		.users = carol, .n_users = 1, .history_from_join = true, .ts = 40,
	};
	CU_ASSERT(change_sync(&s, &ch, &o) == CHATD_OK && o.conv.member_count == 3);
	struct send_out so;
	CU_ASSERT(send_inbox_sync(&s, "c0000000000000002", "bob", "k3", "new", 50, true, &so) ==
		  CHATD_OK && so.seq == 3);
	CU_ASSERT(history_sync(&s, "c0000000000000002", "carol", 0, -1, 10, &h) == CHATD_OK);
	CU_ASSERT(seqs_are(&h, 3, 3));
	/* A message deleted before the upgrade has deleted_at 0: purged by
	 * any purge. */
	struct id_out n;
	CU_ASSERT(purge_sync(&s, 0, &n) == CHATD_OK && n.id == 1);
	store_close(&s);
	CU_ASSERT(sql_int("v2.db", "SELECT version FROM schema_version") == SQLITE_SCHEMA_VERSION);
	CU_ASSERT(sql_int("v2.db", "SELECT COUNT(*) FROM sqlite_master WHERE name IN "
				   "('inbox', 'messages_purge')") == 2);
	CU_ASSERT(sql_int("v2.db", "SELECT COUNT(*) FROM members WHERE history_from = 0") == 2);
	CU_ASSERT(sql_int("v2.db", "SELECT COUNT(*) FROM inbox") == 3);
	CU_ASSERT(sql_int("v2.db", "SELECT SUM(deleted_at) FROM messages") == 0);
	CU_ASSERT(sql_int("v2.db", "SELECT text IS NULL FROM messages WHERE seq = 2") == 1);
	/* Opening again migrates nothing. */
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	CU_ASSERT(stub_log_count("sqlite.migrated") == 1);
	store_close(&s);
	stub_host_teardown();
	CU_ASSERT(schema_at("v2.db", 2) == CHATD_ERR_ABI);   /* never downgraded */
}

/* ---- suite -------------------------------------------------------- */

void unit_register_storage_groups(void)
{
	CU_pSuite s = CU_add_suite("storage_groups", sqlite_suite_init, sqlite_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "conv_change add", test_change_add);
	CU_add_test(s, "conv_change remove, role, mute", test_change_remove_role_mute);
	CU_add_test(s, "conv_change racing changes conflict", test_change_race_conflict);
	CU_add_test(s, "conv_change leave and new owner", test_change_leave);
	CU_add_test(s, "conv_change settings", test_change_settings);
	CU_add_test(s, "conv_change direct and inputs", test_change_direct_and_inputs);
	CU_add_test(s, "members_get", test_members_get);
	CU_add_test(s, "history from join", test_history_from_join);
	CU_add_test(s, "inbox rows and rows_written", test_inbox_rows);
	CU_add_test(s, "migration from schema 2", test_migration_v2);
}
