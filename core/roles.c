/* roles.c — see roles.h. */
#include "roles.h"

#include <string.h>

int role_rank(const char *role)
{
	if (!role)
		return 0;
	if (strcmp(role, "owner") == 0)
		return 4;
	if (strcmp(role, "admin") == 0)
		return 3;
	if (strcmp(role, "moderator") == 0)
		return 2;
	if (strcmp(role, "member") == 0)
		return 1;
	return 0;
}

bool role_may(enum conv_action a, const char *actor_role, const char *target_role,
	      const char *new_role)
{
	int actor = role_rank(actor_role), target = role_rank(target_role);
	switch (a) {
	case ACT_ADD:
	case ACT_SETTINGS:
	case ACT_SEND_LOCKED:
		return actor >= 3;
	case ACT_REMOVE:
		return actor >= 3 && target < actor;
	case ACT_ROLE: {
		/* Owner: to admin, moderator or member; admin: to moderator or
		 * member.  Never to owner, never on an equal or higher role. */
		int to = role_rank(new_role);
		return actor >= 3 && target < actor && to >= 1 && to < actor;
	}
	case ACT_MUTE:
	case ACT_DELETE_OTHERS:
		return actor >= 2 && target < actor;
	}
	return false;
}
