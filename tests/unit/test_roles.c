/* test_roles.c — the permission table of protocol.md, cell by cell. */
#include <stddef.h>
#include "unit.h"
#include "../../core/roles.h"

static const char *const R[] = { "owner", "admin", "moderator", "member" };

static void test_rank(void)
{
	CU_ASSERT_EQUAL(role_rank("owner"), 4);
	CU_ASSERT_EQUAL(role_rank("admin"), 3);
	CU_ASSERT_EQUAL(role_rank("moderator"), 2);
	CU_ASSERT_EQUAL(role_rank("member"), 1);
	CU_ASSERT_EQUAL(role_rank(NULL), 0);
	CU_ASSERT_EQUAL(role_rank(""), 0);
	CU_ASSERT_EQUAL(role_rank("Owner"), 0);
}

/* conv.add, conv.settings, send when locked: owner and admin. */
static void test_actor_only_actions(void)
{
	const enum conv_action acts[] = { ACT_ADD, ACT_SETTINGS, ACT_SEND_LOCKED };
	for (size_t k = 0; k < 3; k++)
		for (int a = 0; a < 4; a++)
			CU_ASSERT_EQUAL(role_may(acts[k], R[a], NULL, NULL), a <= 1);
}

/* conv.remove: owner on anyone lower, admin on lower roles; nobody else. */
static void test_remove(void)
{
	for (int a = 0; a < 4; a++)
		for (int t = 0; t < 4; t++)
			CU_ASSERT_EQUAL(role_may(ACT_REMOVE, R[a], R[t], NULL), a <= 1 && t > a);
}

/* conv.role: owner to admin/moderator/member on lower roles; admin to
 * moderator/member on lower roles; never to owner. */
static void test_role(void)
{
	for (int a = 0; a < 4; a++)
		for (int t = 0; t < 4; t++)
			for (int to = 0; to < 4; to++) {
				bool want = a <= 1 && t > a && to > a;
				CU_ASSERT_EQUAL(role_may(ACT_ROLE, R[a], R[t], R[to]), want);
			}
	CU_ASSERT_FALSE(role_may(ACT_ROLE, "owner", "member", "superuser"));
	CU_ASSERT_FALSE(role_may(ACT_ROLE, "owner", "member", NULL));
}

/* conv.mute and deleting others' messages: staff on lower roles; a sender
 * who left ranks below everyone. */
static void test_mute_delete(void)
{
	const enum conv_action acts[] = { ACT_MUTE, ACT_DELETE_OTHERS };
	for (size_t k = 0; k < 2; k++) {
		for (int a = 0; a < 4; a++)
			for (int t = 0; t < 4; t++)
				CU_ASSERT_EQUAL(role_may(acts[k], R[a], R[t], NULL), a <= 2 && t > a);
		CU_ASSERT_TRUE(role_may(acts[k], "moderator", NULL, NULL));
		CU_ASSERT_FALSE(role_may(acts[k], "member", NULL, NULL));
	}
}

static void test_unknown_actor(void)
{
	CU_ASSERT_FALSE(role_may(ACT_ADD, NULL, NULL, NULL));
	CU_ASSERT_FALSE(role_may(ACT_MUTE, "guest", "member", NULL));
	CU_ASSERT_FALSE(role_may((enum conv_action)99, "owner", "member", NULL));
}

void unit_register_roles(void)
{
	CU_pSuite s = CU_add_suite("roles", NULL, NULL);
	CU_add_test(s, "rank", test_rank);
	CU_add_test(s, "add, settings, send when locked", test_actor_only_actions);
	CU_add_test(s, "remove", test_remove);
	CU_add_test(s, "role", test_role);
	CU_add_test(s, "mute and delete for everyone", test_mute_delete);
	CU_add_test(s, "unknown actor or action", test_unknown_actor);
}
