/* cmd_group.c — group management: conv.add, conv.remove, conv.leave,
 * conv.role, conv.settings, conv.mute.
 *
 * Each goes: validate → one read (the conversation as the actor sees it and
 * the member rows of the users acted on) → decide (roles.c) → one write
 * (storage conv_change, which re-checks the roles it was told and answers
 * CONFLICT if one changed meanwhile: then read and decide again) → result →
 * tell the fan-out plugin → conv.event to the members. */
#include <stdlib.h>
#include <string.h>
#include "auth.h"
#include "log.h"
#include "moderation.h"
#include "cluster.h"
#include "pipeline.h"
#include "proto_decode.h"
#include "roles.h"
#include "typing.h"

#define ADD_MAX 1000            /* users per conv.add */
#define TITLE_MAX 256
#define CONFLICT_RETRIES 3

struct group_cmd {
	struct cmd base;
	int kind;                   /* CHATD_CHANGE_* */
	const char *conv;           /* strings point into base.msg */
	const char **users;         /* ADD: the users; else one[] (never freed) */
	size_t n_users;
	const char *one[1];
	const char *role;           /* ROLE */
	int64_t muted_until;        /* MUTE */
	const char *title;          /* SETTINGS: NULL unchanged */
	int locked, typing, receipts;
	int attempts;
};

static void group_free(struct group_cmd *g)
{
	if (g->users != g->one)
		free(g->users);
	cmd_free(&g->base);
}

static json_t *event(const struct group_cmd *g, const char *name, const char *user,
		     const char *by)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "type", "conv.event", "conversation_id", g->conv,
			      "event", name);
	if (o && user)
		json_object_set_new(o, "user_id", json_string(user));
	if (o && by)
		json_object_set_new(o, "by", json_string(by));
	return o;
}

/* After a stored change: the fan-out plugin first (a removed member must
 * not get even the event of their removal through it), then the events. */
static void announce(struct group_cmd *g, const struct chatd_conv_change_result *res)
{
	struct core *c = g->base.core;
	const char *actor = g->base.user;
	switch (g->kind) {
	case CHATD_CHANGE_ADD:
		core_members_joined(c, g->conv, res->users, res->n_users);
		for (size_t i = 0; i < res->n_users; i++)
			core_deliver_members(c, g->conv, event(g, "member_added", res->users[i], actor),
					     0);
		break;
	case CHATD_CHANGE_REMOVE: {
		core_member_left(c, g->conv, g->users[0]);
		json_t *o = event(g, "member_removed", g->users[0], actor);
		/* Two frames: the removed user is no member any more, and the
		 * members' one may be fanned out node by node (cluster.h). */
		chatd_frame *to_user = o ? core_encode(json_incref(o)) : NULL;
		chatd_frame *f = core_encode(o);
		if (f)
			core_fanout_members(c, g->conv, f, 0);
		if (to_user)
			core_deliver_user(c, g->users[0], to_user, 0);
		frame_unref(f);
		frame_unref(to_user);
		break;
	}
	case CHATD_CHANGE_LEAVE: {
		core_member_left(c, g->conv, actor);
		json_t *o = event(g, "member_left", actor, actor);
		chatd_frame *to_user = o ? core_encode(json_incref(o)) : NULL;
		chatd_frame *f = core_encode(o);
		if (f)
			core_fanout_members(c, g->conv, f, 0);
		if (to_user)
			core_deliver_user(c, actor, to_user, g->base.session);
		frame_unref(f);
		frame_unref(to_user);
		if (res->new_owner) {
			json_t *rc = event(g, "role_changed", res->new_owner, NULL);
			if (rc)
				json_object_set_new(rc, "role", json_string("owner"));
			core_deliver_members(c, g->conv, rc, 0);
		}
		break;
	}
	case CHATD_CHANGE_ROLE: {
		json_t *o = event(g, "role_changed", g->users[0], actor);
		if (o)
			json_object_set_new(o, "role", json_string(g->role));
		core_deliver_members(c, g->conv, o, 0);
		break;
	}
	case CHATD_CHANGE_MUTE: {
		json_t *o = event(g, "member_muted", g->users[0], actor);
		if (o)
			json_object_set_new(o, "until_ms", json_integer(g->muted_until));
		core_deliver_members(c, g->conv, o, 0);
		break;
	}
	case CHATD_CHANGE_SETTINGS:
		core_settings_changed(c, g->conv, res->conv, actor);
		break;
	}
}

void core_settings_changed(struct core *c, const char *conv, const struct chatd_conversation *cv,
			   const char *by)
{
	cluster_conv_changed(c->cluster, conv, NULL, 0, NULL);
	typing_conv_changed(c->typing, conv);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "conv.event", "conversation_id",
			      conv, "event", "settings_changed", "user_id", by, "by", by);
	if (o && cv) {
		json_object_set_new(o, "title", cv->title ? json_string(cv->title) : json_null());
		json_object_set_new(o, "settings",
				    json_pack("{s:b, s:b, s:b}", "locked", cv->locked, "typing",
					      cv->typing, "receipts", cv->receipts));
	}
	core_deliver_members(c, conv, o, 0);
}

static int start_read(struct group_cmd *g);

static void on_changed(void *arg, int status, const struct chatd_conv_change_result *res)
{
	struct group_cmd *g = arg;
	cmd_resume(&g->base);
	char msg[CHATD_ID_MAX + 64];
	switch (status) {
	case CHATD_OK:
		cmd_result_ok(&g->base);
		announce(g, res);
		break;
	case CHATD_ERR_CONFLICT:
		/* Roles changed between our read and the write: decide again. */
		if (++g->attempts < CONFLICT_RETRIES && start_read(g) == CHATD_OK)
			return;
		cmd_error(&g->base, "unavailable", "the conversation is changing; retry");
		break;
	case CHATD_ERR_EXISTS:
		snprintf(msg, sizeof msg, "%s is already a member",
			 res && res->n_users ? res->users[0] : "a user");
		cmd_error(&g->base, "bad_request", msg);
		break;
	case CHATD_ERR_TOO_LARGE:
		cmd_error(&g->base, "too_large", "the group would pass its member limit");
		break;
	case CHATD_ERR_NOT_FOUND:
		cmd_error(&g->base, "not_found", g->kind == CHATD_CHANGE_REMOVE ||
			  g->kind == CHATD_CHANGE_ROLE || g->kind == CHATD_CHANGE_MUTE
			  ? "no such member" : "no such conversation");
		break;
	default:
		cmd_failed(&g->base, status);
		break;
	}
	group_free(g);
}

/* on_join rules, once per user added.  False when one refused (the error
 * has been sent). */
static bool joins_allowed(struct group_cmd *g, const struct chatd_conversation *conv)
{
	struct core *c = g->base.core;
	const struct user_sessions *us = sessions_of(&c->sessions, g->base.user);
	for (size_t i = 0; i < g->n_users; i++) {
		struct lua_msg_ctx x = {
			.sender_id = g->base.user, .conversation_id = g->conv,
			.conversation_kind = conv->kind, .member_count = conv->member_count,
			.target_user_id = g->users[i], .ts = mod_now_ms(),
			.account_created_at = us ? us->first_seen : 0,
		};
		struct lua_decision d = { 0 };
		int64_t aid;
		moderation_run(c, LUA_HOOK_JOIN, &x, &d, &aid);
		bool ok = d.kind != LUA_VERDICT_REJECT;
		if (!ok)
			moderation_reply_reject(&g->base, &d);
		lua_decision_clear(&d);
		if (!ok)
			return false;
	}
	return true;
}

/* Permission and preconditions from what was read; fills the change.
 * False when refused (the error has been sent). */
static bool decide(struct group_cmd *g, const struct chatd_conversation *conv,
		   const struct chatd_member *members, size_t n, struct chatd_conv_change *ch)
{
	struct core *c = g->base.core;
	const char *actor_role = conv->role;
	bool direct = strcmp(conv->kind, "direct") == 0;
	if (direct && g->kind != CHATD_CHANGE_SETTINGS && g->kind != CHATD_CHANGE_MUTE) {
		cmd_error(&g->base, "bad_request",
			  "the membership of a direct conversation cannot change");
		return false;
	}
	const char *target_role = NULL;
	if (g->kind == CHATD_CHANGE_REMOVE || g->kind == CHATD_CHANGE_ROLE ||
	    g->kind == CHATD_CHANGE_MUTE) {
		if (n == 0) {
			char msg[CHATD_ID_MAX + 32];
			snprintf(msg, sizeof msg, "%s is not a member", g->users[0]);
			cmd_error(&g->base, "not_found", msg);
			return false;
		}
		target_role = members[0].role;
	}
	static const enum conv_action action[] = {
		[CHATD_CHANGE_ADD] = ACT_ADD, [CHATD_CHANGE_REMOVE] = ACT_REMOVE,
		[CHATD_CHANGE_ROLE] = ACT_ROLE, [CHATD_CHANGE_MUTE] = ACT_MUTE,
		[CHATD_CHANGE_SETTINGS] = ACT_SETTINGS,
	};
	if (g->kind != CHATD_CHANGE_LEAVE &&
	    !role_may(action[g->kind], actor_role, target_role, g->role)) {
		cmd_error(&g->base, "forbidden", "your role in this conversation does not allow it");
		return false;
	}
	if (g->kind == CHATD_CHANGE_ADD) {
		if (n > 0) {
			char msg[CHATD_ID_MAX + 32];
			snprintf(msg, sizeof msg, "%s is already a member", members[0].user_id);
			cmd_error(&g->base, "bad_request", msg);
			return false;
		}
		if (conv->member_count + (int64_t)g->n_users > c->cfg->conv_max_members) {
			cmd_error(&g->base, "too_large", "the group would pass its member limit");
			return false;
		}
		if (!joins_allowed(g, conv))
			return false;
	}
	*ch = (struct chatd_conv_change){
		.kind = g->kind, .conversation_id = g->conv, .actor = g->base.user,
		.actor_role = actor_role, .users = g->users, .n_users = g->n_users,
		.target_role = target_role, .role = g->role, .muted_until = g->muted_until,
		.max_members = c->cfg->conv_max_members,
		.history_from_join = strcmp(c->cfg->conv_new_member_history, "join") == 0,
		.title = g->title, .locked = g->locked, .typing = g->typing,
		.receipts = g->receipts, .ts = mod_now_ms(),
	};
	return true;
}

static void on_read(void *arg, int status, const struct chatd_conversation *conv,
		    const struct chatd_member *members, size_t n)
{
	struct group_cmd *g = arg;
	cmd_resume(&g->base);
	struct core *c = g->base.core;
	if (status == CHATD_ERR_NOT_FOUND) {
		cmd_error(&g->base, "not_found", "no such conversation");
		goto done;
	}
	if (cmd_failed(&g->base, status))
		goto done;
	struct chatd_conv_change ch;
	if (!decide(g, conv, members, n, &ch))
		goto done;
	int st = c->storage->conv_change(c->storage_inst, &ch, on_changed, g);
	if (st == CHATD_OK)
		return;
	cmd_failed(&g->base, st);
done:
	group_free(g);
}

static int start_read(struct group_cmd *g)
{
	struct core *c = g->base.core;
	bool with_users = g->kind != CHATD_CHANGE_LEAVE && g->kind != CHATD_CHANGE_SETTINGS;
	return c->storage->members_get(c->storage_inst, g->conv, g->base.user,
				       with_users ? g->users : NULL, with_users ? g->n_users : 0,
				       on_read, g);
}

/* Common start: conversation id, storage support, clone, read.  `v` holds
 * the validated fields (users may be v->one). */
static void run(struct cmd *c, struct group_cmd *v)
{
	if (!c->core->storage_groups) {
		if (v->users != v->one)
			free(v->users);
		cmd_error(c, "unavailable", "the storage plugin cannot manage groups");
		return;
	}
	struct group_cmd *g = cmd_clone(c, sizeof *g);
	if (!g) {
		if (v->users != v->one)
			free(v->users);
		cmd_error(c, "internal", "out of memory");
		return;
	}
	struct cmd base = g->base;
	*g = *v;
	g->base = base;
	if (v->users == v->one)
		g->users = g->one;
	int st = start_read(g);
	if (st != CHATD_OK) {
		cmd_failed(&g->base, st);
		group_free(g);
	}
}

/* The required user_id of remove, role and mute; not oneself. */
static bool target_user(struct cmd *c, struct group_cmd *v)
{
	const char *u = json_string_value(json_object_get(c->msg, "user_id"));
	if (!u || !auth_user_id_valid(u)) {
		cmd_error(c, "bad_request", "user_id must be a valid user id");
		return false;
	}
	if (strcmp(u, c->user) == 0) {
		cmd_error(c, "bad_request", "you cannot do this to yourself (use conv.leave)");
		return false;
	}
	v->one[0] = u;
	v->users = v->one;
	v->n_users = 1;
	return true;
}

void cmd_conv_add(struct cmd *c)
{
	struct group_cmd v = { .kind = CHATD_CHANGE_ADD };
	if (!cmd_conversation_id(c, &v.conv))
		return;
	json_t *a = json_object_get(c->msg, "user_ids");
	if (!json_is_array(a) || json_array_size(a) == 0) {
		cmd_error(c, "bad_request", "user_ids must be a non-empty array of user ids");
		return;
	}
	size_t n = json_array_size(a);
	if (n > ADD_MAX) {
		cmd_error(c, "too_large", "at most 1000 users per conv.add");
		return;
	}
	v.users = calloc(n, sizeof *v.users);
	if (!v.users) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *u = json_string_value(json_array_get(a, i));
		if (!u || !auth_user_id_valid(u)) {
			free(v.users);
			cmd_error(c, "bad_request", "user_ids must be valid user ids");
			return;
		}
		if (strcmp(u, c->user) == 0) {
			free(v.users);
			snprintf(c->err, sizeof c->err, "%s (you) is already a member", u);
			cmd_error(c, "bad_request", c->err);
			return;
		}
		bool seen = false;
		for (size_t j = 0; j < v.n_users && !seen; j++)
			seen = strcmp(v.users[j], u) == 0;
		if (!seen)
			v.users[v.n_users++] = u;
	}
	run(c, &v);
}

void cmd_conv_remove(struct cmd *c)
{
	struct group_cmd v = { .kind = CHATD_CHANGE_REMOVE };
	if (!cmd_conversation_id(c, &v.conv) || !target_user(c, &v))
		return;
	run(c, &v);
}

void cmd_conv_leave(struct cmd *c)
{
	struct group_cmd v = { .kind = CHATD_CHANGE_LEAVE };
	if (!cmd_conversation_id(c, &v.conv))
		return;
	v.users = v.one;
	run(c, &v);
}

void cmd_conv_role(struct cmd *c)
{
	struct group_cmd v = { .kind = CHATD_CHANGE_ROLE };
	if (!cmd_conversation_id(c, &v.conv) || !target_user(c, &v))
		return;
	const char *role = json_string_value(json_object_get(c->msg, "role"));
	if (!role || (strcmp(role, "admin") != 0 && strcmp(role, "moderator") != 0 &&
		      strcmp(role, "member") != 0)) {
		cmd_error(c, "bad_request", role && strcmp(role, "owner") == 0
			  ? "ownership cannot be given; it passes on when the owner leaves"
			  : "role must be admin, moderator or member");
		return;
	}
	v.role = role;
	run(c, &v);
}

void cmd_conv_mute(struct cmd *c)
{
	struct group_cmd v = { .kind = CHATD_CHANGE_MUTE };
	long long until = 0;
	if (!cmd_conversation_id(c, &v.conv) || !target_user(c, &v))
		return;
	if (!proto_get_int(c->msg, "until_ms", true, 0, (1LL << 53), &until, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	v.muted_until = until;
	run(c, &v);
}

/* An optional boolean setting: -1 absent, 0/1; false when not a boolean. */
static bool opt_bool(struct cmd *c, const char *key, int *out)
{
	json_t *j = json_object_get(c->msg, key);
	*out = -1;
	if (!j)
		return true;
	if (!json_is_boolean(j)) {
		snprintf(c->err, sizeof c->err, "%s must be true or false", key);
		cmd_error(c, "bad_request", c->err);
		return false;
	}
	*out = json_is_true(j);
	return true;
}

void cmd_conv_settings(struct cmd *c)
{
	struct group_cmd v = { .kind = CHATD_CHANGE_SETTINGS };
	if (!cmd_conversation_id(c, &v.conv))
		return;
	json_t *t = json_object_get(c->msg, "title");
	if (t && !json_is_null(t)) {
		if (!proto_get_id_string(c->msg, "title", false, 0, TITLE_MAX, &v.title, c->err)) {
			cmd_error(c, "bad_request", c->err);
			return;
		}
	} else if (t) {
		v.title = "";   /* null clears */
	}
	if (!opt_bool(c, "locked", &v.locked) || !opt_bool(c, "typing", &v.typing) ||
	    !opt_bool(c, "receipts", &v.receipts))
		return;
	if (!v.title && v.locked < 0 && v.typing < 0 && v.receipts < 0) {
		cmd_error(c, "bad_request", "nothing to change: give title, locked, typing or receipts");
		return;
	}
	v.users = v.one;
	run(c, &v);
}
