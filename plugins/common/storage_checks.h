/* storage_checks.h — the checks both storage plugins make of an op's input
 * before touching their database, so storage_sqlite and storage_pg keep
 * one contract (each links its own copy).  Pure functions, any thread. */
#ifndef CHATD_STORAGE_CHECKS_H
#define CHATD_STORAGE_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include "chatd/chatd.h"

/* s is 1..max bytes. */
bool store_valid_str(const char *s, size_t max);
/* s equals one of the NULL-terminated list. */
bool store_one_of(const char *s, const char *const *list);
/* One of CHATD_VIS_*. */
bool store_valid_visibility(const char *s);
/* A member's role ("owner", "admin", "moderator", "member"); one a change
 * may assign (all but "owner"). */
bool store_member_role(const char *s);
bool store_assignable_role(const char *s);
/* out = prefix + 16 lowercase hex digits of getrandom().  CHATD_OK or
 * CHATD_ERR_IO. */
int store_make_id(char out[18], char prefix);

/* REMOVE, ROLE and MUTE act on one other member (users[0]). */
bool store_change_targets_member(int kind);

/* A conv_change request (everything but storage state): CHATD_OK,
 * CHATD_ERR_INVALID, or CHATD_ERR_TOO_LARGE when an ADD names more than
 * users_max users.  title_max bounds a SETTINGS title in bytes. */
int store_check_conv_change(const struct chatd_conv_change *ch, size_t users_max,
			    size_t title_max);

#endif
