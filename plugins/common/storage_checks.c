/* storage_checks.c — see storage_checks.h. */
#include "storage_checks.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

bool store_valid_str(const char *s, size_t max)
{
	if (!s)
		return false;
	size_t n = strnlen(s, max + 1);
	return n >= 1 && n <= max;
}

bool store_one_of(const char *s, const char *const *list)
{
	if (!s)
		return false;
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

bool store_valid_visibility(const char *s)
{
	static const char *const vis[] = {
		CHATD_VIS_NORMAL, CHATD_VIS_SHADOW, CHATD_VIS_HELD, CHATD_VIS_REJECTED, NULL,
	};
	return store_one_of(s, vis);
}

bool store_member_role(const char *s)
{
	static const char *const roles[] = { "owner", "admin", "moderator", "member", NULL };
	return store_one_of(s, roles);
}

bool store_assignable_role(const char *s)
{
	static const char *const roles[] = { "admin", "moderator", "member", NULL };
	return store_one_of(s, roles);
}

int store_make_id(char out[18], char prefix)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[8];
	ssize_t n;
	do {
		n = getrandom(b, sizeof(b), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return CHATD_ERR_IO;
	out[0] = prefix;
	for (size_t i = 0; i < sizeof(b); i++) {
		out[1 + 2 * i] = hex[b[i] >> 4];
		out[2 + 2 * i] = hex[b[i] & 15];
	}
	out[17] = '\0';
	return CHATD_OK;
}

bool store_change_targets_member(int kind)
{
	return kind == CHATD_CHANGE_REMOVE || kind == CHATD_CHANGE_ROLE ||
	       kind == CHATD_CHANGE_MUTE;
}

/* The users argument of ch for its kind. */
static int check_users(const struct chatd_conv_change *ch, size_t users_max)
{
	if (ch->n_users && !ch->users)
		return CHATD_ERR_INVALID;
	for (size_t i = 0; i < ch->n_users && i <= users_max; i++)
		if (!store_valid_str(ch->users[i], CHATD_ID_MAX))
			return CHATD_ERR_INVALID;
	switch (ch->kind) {
	case CHATD_CHANGE_ADD:
		if (ch->n_users == 0)
			return CHATD_ERR_INVALID;
		if (ch->n_users > users_max)
			return CHATD_ERR_TOO_LARGE;
		for (size_t i = 0; i < ch->n_users; i++)
			if (strcmp(ch->users[i], ch->actor) == 0)
				return CHATD_ERR_INVALID;
		return CHATD_OK;
	case CHATD_CHANGE_REMOVE:
	case CHATD_CHANGE_ROLE:
	case CHATD_CHANGE_MUTE:
		return ch->n_users == 1 && strcmp(ch->users[0], ch->actor) != 0 ? CHATD_OK
										 : CHATD_ERR_INVALID;
	case CHATD_CHANGE_LEAVE:
		return ch->n_users == 0 ||
		       (ch->n_users == 1 && strcmp(ch->users[0], ch->actor) == 0)
			       ? CHATD_OK : CHATD_ERR_INVALID;
	default: /* CHATD_CHANGE_SETTINGS */
		return ch->n_users == 0 ? CHATD_OK : CHATD_ERR_INVALID;
	}
}

/* A settings flag: -1 (unchanged), 0 or 1. */
static bool valid_flag(int v)
{
	return v == -1 || v == 0 || v == 1;
}

int store_check_conv_change(const struct chatd_conv_change *ch, size_t users_max,
			    size_t title_max)
{
	if (!ch || ch->kind < CHATD_CHANGE_ADD || ch->kind > CHATD_CHANGE_SETTINGS ||
	    !store_valid_str(ch->conversation_id, CHATD_ID_MAX) ||
	    !store_valid_str(ch->actor, CHATD_ID_MAX) ||
	    (ch->actor_role && !store_member_role(ch->actor_role)) || ch->ts < 0)
		return CHATD_ERR_INVALID;
	int st = check_users(ch, users_max);
	if (st < 0)
		return st;
	bool targeted = store_change_targets_member(ch->kind);
	if ((targeted && ch->target_role && !store_member_role(ch->target_role)) ||
	    (ch->kind == CHATD_CHANGE_ROLE && !store_assignable_role(ch->role)) ||
	    (ch->kind == CHATD_CHANGE_MUTE && ch->muted_until < 0) ||
	    (ch->kind == CHATD_CHANGE_ADD && ch->max_members < 0))
		return CHATD_ERR_INVALID;
	if (ch->kind == CHATD_CHANGE_SETTINGS &&
	    ((ch->title && strnlen(ch->title, title_max + 1) > title_max) ||
	     !valid_flag(ch->locked) || !valid_flag(ch->typing) || !valid_flag(ch->receipts)))
		return CHATD_ERR_INVALID;
	return CHATD_OK;
}
