/* roles.h — who may do what in a conversation (protocol.md, "Permissions"):
 * roles owner > admin > moderator > member, and nobody acts on a member of
 * equal or higher role.  Pure functions, no state. */
#ifndef CHATD_ROLES_H
#define CHATD_ROLES_H

#include <stdbool.h>

enum conv_action {
	ACT_ADD,            /* conv.add */
	ACT_REMOVE,         /* conv.remove */
	ACT_ROLE,           /* conv.role (with the new role) */
	ACT_SETTINGS,       /* conv.settings */
	ACT_MUTE,           /* conv.mute */
	ACT_DELETE_OTHERS,  /* delete for everyone a message of someone else */
	ACT_SEND_LOCKED,    /* send (or edit) while the conversation is locked */
};

/* 4 owner, 3 admin, 2 moderator, 1 member, 0 anything else (a sender who
 * is no longer a member ranks below every member). */
int role_rank(const char *role);

/* Whether actor_role may do `a`.  target_role: the role of the member acted
 * on (remove, role, mute; the sender for delete; NULL or "" when the
 * target is no longer a member); new_role: for ACT_ROLE. */
bool role_may(enum conv_action a, const char *actor_role, const char *target_role,
	      const char *new_role);

#endif
