/* cmd_conv.c — conv.create, conv.list, conv.info. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "auth.h"
#include "log.h"
#include "moderation.h"
#include "pipeline.h"
#include "proto_decode.h"
#include "proto_encode.h"

#define GROUP_CREATE_MAX_MEMBERS 1000
#define TITLE_MAX 256
#define INFO_MEMBERS 500

/* conv as viewer sees it, read_seq overlaid with the receipts plugin's
 * cursor (which storage may not have yet). */
static json_t *conv_json(struct core *c, const struct chatd_conversation *conv,
			 const char *viewer)
{
	struct chatd_conversation v = *conv;
	if (v.role)
		v.read_seq = core_read_seq(c, v.conversation_id, viewer, v.read_seq);
	return proto_conversation(&v);
}

struct create_cmd {
	struct cmd base;
	const char **members;  /* strings point into base.msg; array owned */
	size_t n_members;
};

static void create_free(struct create_cmd *k)
{
	free(k->members);
	cmd_free(&k->base);
}

/* member_added for each added user (not the creator), to every member's
 * online sessions, the creator's included. */
static void announce_members(struct create_cmd *k, const char *conv_id)
{
	struct core *c = k->base.core;
	const char *creator = k->base.user;
	for (size_t i = 0; i < k->n_members; i++) {
		const char *added = k->members[i];
		if (strcmp(added, creator) == 0)
			continue;
		chatd_frame *f = core_encode(json_pack("{s:s, s:s, s:s, s:s, s:s}", "type",
							"conv.event", "conversation_id", conv_id,
							"event", "member_added", "user_id", added,
							"by", creator));
		if (!f)
			continue;
		core_deliver_user(c, creator, f, 0);
		for (size_t j = 0; j < k->n_members; j++)
			if (strcmp(k->members[j], creator) != 0)
				core_deliver_user(c, k->members[j], f, 0);
		frame_unref(f);
	}
}

/* Every member of a new conversation, for the fan-out plugin. */
static void joined(struct create_cmd *k, const struct chatd_conversation *conv)
{
	struct core *c = k->base.core;
	const char *creator = k->base.user;
	core_members_joined(c, conv->conversation_id, &creator, 1);
	if (conv->peer_id)
		core_members_joined(c, conv->conversation_id, &conv->peer_id, 1);
	for (size_t i = 0; i < k->n_members; i++)
		if (strcmp(k->members[i], creator) != 0)
			core_members_joined(c, conv->conversation_id, &k->members[i], 1);
}

static void on_created(void *arg, int status, const struct chatd_conversation *conv,
		       bool created)
{
	struct create_cmd *k = arg;
	cmd_resume(&k->base);
	if (!cmd_failed(&k->base, status)) {
		cmd_reply(&k->base, json_pack("{s:s, s:o}", "type", "conversation", "conversation",
					      conv_json(k->base.core, conv, k->base.user)));
		if (created)
			joined(k, conv);
		if (created && strcmp(conv->kind, "group") == 0)
			announce_members(k, conv->conversation_id);
	}
	create_free(k);
}

static int dedupe(const char **list, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < out && !seen; j++)
			seen = strcmp(list[j], list[i]) == 0;
		if (!seen)
			list[out++] = list[i];
	}
	return (int)out;
}

/* Sanctions and on_conversation_create rules; false when refused (the
 * error has been sent). */
static bool create_allowed(struct cmd *c, const char *kind, const char *title, size_t n_members,
			   const char *peer)
{
	struct core *core = c->core;
	int64_t now = mod_now_ms(), until = 0;
	if (moderation_blocking(core, c->user, now, &until)) {
		json_t *e = json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "error", "code",
				      "rejected", "message", "you are temporarily blocked",
				      "retryable", 0, "reason", "blocked");
		cmd_reply(c, e);
		return false;
	}
	const struct user_sessions *us = sessions_of(&core->sessions, c->user);
	struct lua_msg_ctx x = {
		.sender_id = c->user, .conversation_kind = kind, .title = title,
		.member_count = (int64_t)n_members + 1, .target_user_id = peer, .ts = now,
		.account_created_at = us ? us->first_seen : 0,
	};
	struct lua_decision d = { 0 };
	int64_t aid;
	moderation_run(core, LUA_HOOK_CONV_CREATE, &x, &d, &aid);
	bool ok = d.kind != LUA_VERDICT_REJECT;
	if (!ok)
		moderation_reply_reject(c, &d);
	lua_decision_clear(&d);
	return ok;
}

void cmd_conv_create(struct cmd *c)
{
	struct core *core = c->core;
	const char *kind = json_string_value(json_object_get(c->msg, "kind"));
	if (!kind || (strcmp(kind, "direct") != 0 && strcmp(kind, "group") != 0)) {
		cmd_error(c, "bad_request", "kind must be \"direct\" or \"group\"");
		return;
	}
	if (strcmp(kind, "direct") == 0) {
		const char *peer = json_string_value(json_object_get(c->msg, "user_id"));
		if (!peer || !auth_user_id_valid(peer)) {
			cmd_error(c, "bad_request", "user_id must be a valid user id");
			return;
		}
		if (strcmp(peer, c->user) == 0) {
			cmd_error(c, "bad_request", "a direct conversation needs another user");
			return;
		}
		if (!create_allowed(c, kind, NULL, 1, peer))
			return;
		struct create_cmd *k = cmd_clone(c, sizeof *k);
		if (!k) {
			cmd_error(c, "internal", "out of memory");
			return;
		}
		int64_t now = (int64_t)time(NULL) * 1000;
		int st = core->storage->conv_create_direct(core->storage_inst, k->base.user, peer,
							   now, on_created, k);
		if (st != CHATD_OK) {
			cmd_failed(&k->base, st);
			create_free(k);
		}
		return;
	}
	const char *title = NULL;
	if (!proto_get_id_string(c->msg, "title", false, 0, TITLE_MAX, &title, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	json_t *members = json_object_get(c->msg, "members");
	if (members && !json_is_null(members) && !json_is_array(members)) {
		cmd_error(c, "bad_request", "members must be an array of user ids");
		return;
	}
	size_t n = json_is_array(members) ? json_array_size(members) : 0;
	if (n > GROUP_CREATE_MAX_MEMBERS) {
		cmd_error(c, "too_large", "at most 1000 members at creation; add more later");
		return;
	}
	const char **list = calloc(n + 1, sizeof *list);
	if (!list) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *u = json_string_value(json_array_get(members, i));
		if (!u || !auth_user_id_valid(u)) {
			free(list);
			cmd_error(c, "bad_request", "members must be valid user ids");
			return;
		}
		list[i] = u;
	}
	n = (size_t)dedupe(list, n);
	size_t others = 0;
	for (size_t i = 0; i < n; i++)
		others += strcmp(list[i], c->user) != 0;
	if ((int64_t)others + 1 > core->cfg->conv_max_members) {
		free(list);
		cmd_error(c, "too_large", "more members than the group size limit");
		return;
	}
	if (!create_allowed(c, kind, title, n, NULL)) {
		free(list);
		return;
	}
	struct create_cmd *k = cmd_clone(c, sizeof *k);
	if (!k) {
		free(list);
		cmd_error(c, "internal", "out of memory");
		return;
	}
	k->members = list;
	k->n_members = n;
	int64_t now = (int64_t)time(NULL) * 1000;
	int st = core->storage->conv_create_group(core->storage_inst, k->base.user, title,
						  (const char *const *)list, n, now, on_created, k);
	if (st != CHATD_OK) {
		cmd_failed(&k->base, st);
		create_free(k);
	}
}

/* ---- conv.list, conv.info ---------------------------------------------- */

static void on_list(void *arg, int status, const struct chatd_conversation *items, size_t n)
{
	struct cmd *k = arg;
	cmd_resume(k);
	if (!cmd_failed(k, status)) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, conv_json(k->core, &items[i], k->user));
		cmd_reply(k, json_pack("{s:s, s:o}", "type", "conversations", "items", a));
	}
	cmd_free(k);
}

void cmd_conv_list(struct cmd *c)
{
	struct cmd *k = cmd_clone(c, sizeof *k);
	if (!k) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	int st = k->core->storage->conv_list(k->core->storage_inst, k->user, on_list, k);
	if (st != CHATD_OK) {
		cmd_failed(k, st);
		cmd_free(k);
	}
}

static void on_info(void *arg, int status, const struct chatd_conversation *conv,
		    const struct chatd_member *members, size_t n)
{
	struct cmd *k = arg;
	cmd_resume(k);
	if (!cmd_failed(k, status)) {
		json_t *o = conv_json(k->core, conv, k->user);
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, json_pack("{s:s, s:s}", "user_id", members[i].user_id,
							   "role", members[i].role));
		if (o)
			json_object_set_new(o, "members", a);
		else
			json_decref(a);
		cmd_reply(k, o ? json_pack("{s:s, s:o}", "type", "conversation", "conversation", o)
			       : NULL);
	}
	cmd_free(k);
}

void cmd_conv_info(struct cmd *c)
{
	const char *conv = NULL;
	if (!cmd_conversation_id(c, &conv))
		return;
	struct cmd *k = cmd_clone(c, sizeof *k);
	if (!k) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	int st = k->core->storage->conv_get(k->core->storage_inst, conv, k->user, 0, INFO_MEMBERS,
					    on_info, k);
	if (st != CHATD_OK) {
		cmd_failed(k, st);
		cmd_free(k);
	}
}
