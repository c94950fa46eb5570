/* pipeline.c — see pipeline.h: dispatch, sessions, shared reply helpers. */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "core_metrics.h"
#include "log.h"
#include "moderation.h"
#include "presence_subs.h"
#include "proto_decode.h"
#include "typing.h"

/* A ban, or a token issued before the user's revoke: the session is
 * closed (revoked, 4403) and true returned. */
static bool refuse_sanctioned(struct core *c, uint64_t session, const char *user, int64_t iat)
{
	int64_t now = mod_now_ms(), until = 0;
	const char *stop = moderation_blocking(c, user, now, &until);
	bool banned = stop && strcmp(stop, "ban") == 0;
	if (!banned && !moderation_token_revoked(c, user, iat))
		return false;
	core_close_session(c, session,
			   json_pack("{s:s, s:s, s:s, s:b}", "type", "error", "code", "revoked",
				     "message", banned ? "you are banned"
				     : "this token was revoked; sign in again", "retryable", 0),
			   4403);
	return true;
}

/* Sanctions, revoked tokens and on_connect rules.  False when the
 * session was refused. */
static bool admit(struct core *c, uint64_t session, const char *user, int64_t iat)
{
	if (refuse_sanctioned(c, session, user, iat))
		return false;
	int64_t now = mod_now_ms();
	struct lua_msg_ctx x = { .sender_id = user, .ts = now };
	const struct user_sessions *us = sessions_of(&c->sessions, user);
	x.account_created_at = us ? us->first_seen : 0;
	struct lua_decision d = { 0 };
	int64_t aid;
	moderation_run(c, LUA_HOOK_CONNECT, &x, &d, &aid);
	bool ok = d.kind != LUA_VERDICT_REJECT;
	if (!ok)
		core_close_session(c, session,
				   json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "error", "code",
					     "rejected", "message",
					     d.reason[0] ? d.reason : "connection refused by moderation",
					     "retryable", 0, "reason", d.code[0] ? d.code : "rejected"),
				   1008);
	lua_decision_clear(&d);
	return ok;
}

/* What a user's commands wait for (user_sessions.holds): the fan-out
 * plugin's registration and presence's session_up_ready. */
#define HOLD_FANOUT 1u
#define HOLD_PRESENCE 2u

static void hold_begin(struct core *c, const char *user, unsigned what)
{
	sessions_set_registering(&c->sessions, user, true);
	sessions_hold_flags(&c->sessions, user, what, true);
}

/* `what` is ready: when nothing else is awaited, run what the user's
 * sessions sent meanwhile, in order. */
static void hold_end(struct core *c, const char *user_id, unsigned what)
{
	const struct user_sessions *us = sessions_of(&c->sessions, user_id);
	if (!us || !us->registering || !(us->holds & what))
		return;
	sessions_hold_flags(&c->sessions, user_id, what, false);
	if (us->holds)
		return;
	char user[BRIDGE_USER_MAX + 1];
	snprintf(user, sizeof user, "%s", user_id);   /* user_id may die with a session */
	struct held_cmd *h = sessions_release(&c->sessions, user);
	struct log_ctx saved;
	log_ctx_save(&saved);
	while (h) {
		struct held_cmd *next = h->next;
		log_ctx_set(h->trace, user);
		if (sessions_user(&c->sessions, h->session) && !c->shutting_down)
			pipeline_dispatch(c, h->session, user, h->msg);
		else
			json_decref(h->msg);
		free(h);
		h = next;
	}
	log_ctx_restore(&saved);
}

static void ignore_ready(void *arg, const char *user_id, int status)
{
	(void)arg;
	(void)user_id;
	(void)status;
}

/* The fan-out plugin can push to user now.  Never called after
 * user_offline (fanout.h). */
static void on_fanout_ready(void *arg, const char *user_id, int status)
{
	struct core *c = arg;
	if (status != CHATD_OK) {
		log_ctx_set(0, user_id);
		log_warn("core", "fanout.register_failed",
			 "%s; the user's sessions get messages on sync only", chatd_strerror(status));
		log_ctx_clear();
	}
	hold_end(c, user_id, HOLD_FANOUT);
}

/* Every node's locate sees the session now (presence.h). */
static void on_presence_ready(void *arg, const char *user_id, int status)
{
	struct core *c = arg;
	if (status != CHATD_OK) {
		cm_presence_status(c, "session_up", status);
		log_ctx_set(0, user_id);
		log_warn("core", "presence.register_failed", "%s; other nodes may not route to the "
			 "user until presence recovers (clients catch up by sync)",
			 chatd_strerror(status));
		log_ctx_clear();
	}
	hold_end(c, user_id, HOLD_PRESENCE);
}

/* A user's first session here: tell the fan-out plugin, and hold the
 * user's commands until it is ready to push to them. */
static void register_user(struct core *c, const char *user)
{
	if (!CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, user_online))
		return;
	hold_begin(c, user, HOLD_FANOUT);
	int st = c->fanout->user_online(c->fanout_inst, user, on_fanout_ready, c);
	if (st != CHATD_OK) {
		/* The context's user is this user (the session's bridge item). */
		log_warn("core", "fanout.register_failed", "%s; the user's sessions get messages "
			 "on sync only", chatd_strerror(st));
		hold_end(c, user, HOLD_FANOUT);
	}
}

/* Tell presence of the session; with session_up_ready, the user's
 * commands wait until every node can locate it (the first session only:
 * later ones find the node listed already). */
static void presence_up(struct core *c, const char *user, uint64_t session, bool first)
{
	if (!c->presence)
		return;
	if (!CORE_HAS_OP(c->presence, struct chatd_presence_ops, session_up_ready)) {
		cm_presence_status(c, "session_up",
				   c->presence->session_up(c->presence_inst, user, session));
		return;
	}
	if (first)
		hold_begin(c, user, HOLD_PRESENCE);
	int st = c->presence->session_up_ready(c->presence_inst, user, session,
					       first ? on_presence_ready : ignore_ready, c);
	if (st != CHATD_OK) {
		cm_presence_status(c, "session_up", st);
		if (first)
			hold_end(c, user, HOLD_PRESENCE);
	}
}

void pipeline_session_open(struct core *c, uint64_t session, const char *user, int64_t iat)
{
	if (sessions_add(&c->sessions, session, user) < 0) {
		log_error("core", "session.nomem", "cannot register session %016llx",
			  (unsigned long long)session);
		core_close_session(c, session, NULL, 1011);
		return;
	}
	if (!admit(c, session, user, iat)) {
		sessions_remove(&c->sessions, session);
		return;
	}
	const struct user_sessions *us = sessions_of(&c->sessions, user);
	if (us && us->first_seen == 0)
		moderation_user_seen(c, user);
	presence_up(c, user, session, us && us->n == 1);
	us = sessions_of(&c->sessions, user);
	if (us && us->n == 1)
		register_user(c, user);
}

void pipeline_session_refresh(struct core *c, uint64_t session, const char *user, int64_t iat)
{
	const char *u = sessions_user(&c->sessions, session);
	if (!u || strcmp(u, user) != 0)
		return;   /* refused at admission, or already gone */
	if (refuse_sanctioned(c, session, user, iat))
		pipeline_session_close(c, session);   /* nothing more runs for it */
}

void pipeline_session_close(struct core *c, uint64_t session)
{
	const char *u = sessions_user(&c->sessions, session);
	if (!u)
		return;
	presence_subs_session_closed(c->presence_subs, session);
	if (c->presence)
		cm_presence_status(c, "session_down",
				   c->presence->session_down(c->presence_inst, u, session));
	const struct user_sessions *us = sessions_of(&c->sessions, u);
	if (us && us->n == 1 && CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, user_offline))
		c->fanout->user_offline(c->fanout_inst, u);
	sessions_remove(&c->sessions, session);
}

static const struct {
	const char *type;
	void (*fn)(struct cmd *);
} handlers[] = {
	{ "send", cmd_send },
	{ "history", cmd_history },
	{ "sync", cmd_sync },
	{ "search", cmd_search },
	{ "conv.notify", cmd_conv_notify },
	{ "conv.create", cmd_conv_create },
	{ "conv.list", cmd_conv_list },
	{ "conv.info", cmd_conv_info },
	{ "report", cmd_report },
	{ "appeal", cmd_appeal },
	{ "conv.add", cmd_conv_add },
	{ "conv.remove", cmd_conv_remove },
	{ "conv.leave", cmd_conv_leave },
	{ "conv.role", cmd_conv_role },
	{ "conv.settings", cmd_conv_settings },
	{ "conv.mute", cmd_conv_mute },
	{ "edit", cmd_edit },
	{ "delete", cmd_delete },
	{ "presence.subscribe", cmd_presence_subscribe },
	{ "presence.unsubscribe", cmd_presence_unsubscribe },
	{ "typing", cmd_typing },
	{ "read", cmd_read },
	{ "receipts", cmd_receipts },
	{ "media.upload", cmd_media_upload },
	{ "media.url", cmd_media_url },
};

void pipeline_dispatch(struct core *c, uint64_t session, const char *user, json_t *msg)
{
	if (!sessions_user(&c->sessions, session)) {
		/* Refused at admission (ban, on_connect): its close is on the way. */
		json_decref(msg);
		return;
	}
	const struct user_sessions *us = sessions_of(&c->sessions, user);
	if (us && us->registering) {
		if (sessions_hold(&c->sessions, user, session, msg) == 0) {
			log_debug("pipeline", "command.held", "session %016llx: until fan-out "
				  "registers the user", (unsigned long long)session);
			return;
		}
		struct cmd busy = { .core = c, .session = session };
		json_t *id = json_object_get(msg, "id");
		if (json_is_string(id)) {
			snprintf(busy.id, sizeof busy.id, "%s", json_string_value(id));
			busy.has_id = true;
		}
		cmd_error(&busy, "unavailable", "the session is still starting; retry");
		json_decref(msg);
		return;
	}
	struct cmd cmd = { .core = c, .session = session, .msg = msg, .t0_ns = cm_now(),
			   .trace = log_ctx_trace() };
	snprintf(cmd.user, sizeof cmd.user, "%s", user);
	json_t *id = json_object_get(msg, "id");
	if (json_is_string(id)) {
		snprintf(cmd.id, sizeof cmd.id, "%s", json_string_value(id));
		cmd.has_id = true;
	}
	const char *type = json_string_value(json_object_get(msg, "type"));
	log_debug("pipeline", "command.start", "session %016llx: %s", (unsigned long long)session,
		  type ? type : "?");
	for (size_t i = 0; type && i < sizeof handlers / sizeof handlers[0]; i++)
		if (strcmp(type, handlers[i].type) == 0) {
			/* A handler that waits clones the cmd, which takes
			 * msg (cmd.msg becomes NULL). */
			cmd.type = handlers[i].type;
			handlers[i].fn(&cmd);
			json_decref(cmd.msg);
			return;
		}
	cmd_error(&cmd, "bad_request", "unknown type");
	json_decref(msg);
}

void *cmd_clone(struct cmd *base, size_t size)
{
	struct cmd *c = calloc(1, size);
	if (!c)
		return NULL;
	*c = *base;
	base->msg = NULL;
	c->core->cmds_live++;
	return c;
}

void cmd_resume(const struct cmd *c)
{
	log_ctx_set(c->trace, c->user);
}

void cmd_free(struct cmd *c)
{
	if (!c)
		return;
	c->core->cmds_live--;
	json_decref(c->msg);
	free(c);
}

bool cmd_conversation_id(struct cmd *c, const char **out)
{
	if (!proto_get_id_string(c->msg, "conversation_id", true, 1, 64, out, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return false;
	}
	/* Ids the server makes are short ASCII: a longer one names nothing. */
	if (strlen(*out) > CHATD_ID_MAX) {
		cmd_error(c, "not_found", "no such conversation");
		return false;
	}
	return true;
}

void cmd_reply(struct cmd *c, json_t *obj)
{
	if (!obj) {
		log_error("core", "reply.nomem", "could not build a reply");
		return;
	}
	if (c->has_id)
		json_object_set_new(obj, "id", json_string(c->id));
	cm_command_reply(c, obj);
	core_send_one(c->core, c->session, obj);
}

void cmd_error(struct cmd *c, const char *code, const char *message)
{
	cm_command_error(c, code);
	core_send_error(c->core, c->session, c->has_id ? c->id : NULL, code, message);
}

bool cmd_failed(struct cmd *c, int status)
{
	cm_command_failed(c, status);
	if (status != CHATD_OK)
		log_debug("pipeline", "command.failed", "%s: %s", c->type ? c->type : "?",
			  chatd_strerror(status));
	switch (status) {
	case CHATD_OK:
		return false;
	case CHATD_ERR_NOT_FOUND:
		cmd_error(c, "not_found", "no such conversation");
		break;
	case CHATD_ERR_INVALID:
		cmd_error(c, "bad_request", "invalid request");
		break;
	case CHATD_ERR_FORBIDDEN:
		cmd_error(c, "forbidden", "not allowed");
		break;
	case CHATD_ERR_TOO_LARGE:
		cmd_error(c, "too_large", "over a limit");
		break;
	case CHATD_ERR_UNAVAILABLE:
	case CHATD_ERR_IO:
	case CHATD_ERR_SHUTDOWN:
		cmd_error(c, "unavailable", "storage is unavailable; retry");
		break;
	default:
		log_error("core", "storage.error", "%s", chatd_strerror(status));
		cmd_error(c, "internal", "internal error");
		break;
	}
	return true;
}

int core_deliver_user(struct core *c, const char *user, chatd_frame *f, uint64_t except)
{
	cluster_note(c->cluster, user, f);
	return core_deliver_local(c, user, f, except);
}

int core_deliver_local(struct core *c, const char *user, chatd_frame *f, uint64_t except)
{
	const struct user_sessions *us = sessions_of(&c->sessions, user);
	if (!us)
		return 0;
	uint64_t small[16];
	uint64_t *list = us->n <= 16 ? small : malloc(us->n * sizeof *list);
	if (!list)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < us->n; i++)
		if (us->ids[i] != except)
			list[n++] = us->ids[i];
	core_send_frame(c, list, n, f);
	if (list != small)
		free(list);
	return (int)n;
}

void cmd_result_ok(struct cmd *c)
{
	cmd_reply(c, json_pack("{s:s, s:b}", "type", "result", "ok", 1));
}

void core_members_joined(struct core *c, const char *conv, const char *const *users, size_t n)
{
	cluster_conv_changed(c->cluster, conv, users, n, NULL);
	typing_conv_changed(c->typing, conv);
	if (!c->fanout)
		return;
	c->fanout->members_changed(c->fanout_inst, conv);
	if (!CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, member_joined))
		return;
	for (size_t i = 0; i < n; i++)
		c->fanout->member_joined(c->fanout_inst, conv, users[i]);
}

void core_member_left(struct core *c, const char *conv, const char *user)
{
	cluster_conv_changed(c->cluster, conv, NULL, 0, user);
	typing_conv_changed(c->typing, conv);
	if (!c->fanout)
		return;
	c->fanout->members_changed(c->fanout_inst, conv);
	if (CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, member_left))
		c->fanout->member_left(c->fanout_inst, conv, user);
}

void core_deliver_members(struct core *c, const char *conv, json_t *obj, uint64_t except)
{
	chatd_frame *f = core_encode(obj);
	if (!f) {
		log_error("core", "event.nomem", "an event of %s was not delivered", conv);
		return;
	}
	core_fanout_members(c, conv, f, except);
	frame_unref(f);
}

void core_fanout_deliver(struct core *c, const struct chatd_fanout_msg *fm)
{
	if (!c->fanout)
		return;
	if (cluster_shares_fanout(c->cluster)) {
		fm->to_sender->fanned_out = true;
		fm->to_others->fanned_out = true;
		cluster_fanout_send(c->cluster, fm, NULL, NULL);
	}
	c->fanout->deliver(c->fanout_inst, fm);
}

void core_fanout_members(struct core *c, const char *conv, chatd_frame *f, uint64_t except)
{
	if (!c->fanout)
		return;
	if (cluster_shares_fanout(c->cluster)) {
		f->fanned_out = true;
		cluster_fanout_send(c->cluster, NULL, conv, f);
	}
	c->fanout->deliver_members(c->fanout_inst, conv, f, except);
}
