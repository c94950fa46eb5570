/* cmd_edit.c — edit and delete (for everyone, or for me).
 *
 * edit: validate → read (the editor's membership) → authorize (muted,
 * locked) → moderate (on_edit, like a send's on_message) → storage edit
 * (which refuses another user's message) → result → message_update.
 * delete: validate → read (membership; for everyone also the message and
 * its sender's role) → authorize (roles.c) → storage delete or hide →
 * result → message_update. */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "moderation.h"
#include "pipeline.h"
#include "enc.h"
#include "proto_decode.h"
#include "roles.h"
#include "utf8.h"

struct msg_cmd {
	struct cmd base;
	const char *conv;          /* strings point into base.msg */
	long long seq;
	const char *text;          /* edit */
	char *text_owned;          /* edit: rewritten by a rule */
	bool for_me;               /* delete: scope "me" */
	char role[16];             /* delete: the actor's role */
	int64_t ts;
};

static void msg_free(struct msg_cmd *m)
{
	free(m->text_owned);
	cmd_free(&m->base);
}

static void no_message(struct msg_cmd *m)
{
	cmd_error(&m->base, "not_found", "no such message");
}

static json_t *update(const struct msg_cmd *m, const char *kind, int64_t at)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:I}", "type", "message_update", "conversation_id",
			 m->conv, "seq", (json_int_t)m->seq, "kind", kind, "at", (json_int_t)at);
}

/* An update about a stored message: to every member but the session
 * `except`, or, when the message is not shown to others (shadow, held),
 * to its sender's sessions but that one only. */
static void tell_about(struct core *c, const struct chatd_message *msg, json_t *obj,
		       uint64_t except)
{
	if (!msg->visibility || strcmp(msg->visibility, CHATD_VIS_NORMAL) == 0) {
		core_deliver_members(c, msg->conversation_id, obj, except);
		return;
	}
	chatd_frame *f = core_encode(obj);
	if (f)
		core_deliver_user(c, msg->sender_id, f, except);
	frame_unref(f);
}

static void tell(struct msg_cmd *m, const struct chatd_message *msg, json_t *obj)
{
	tell_about(m->base.core, msg, obj, m->base.session);
}

void core_message_deleted(struct core *c, const struct chatd_message *msg, int64_t at,
			  uint64_t except)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:b}", "type", "message_update",
			      "conversation_id", msg->conversation_id, "seq", (json_int_t)msg->seq,
			      "kind", "deleted", "at", (json_int_t)at, "deleted", 1);
	tell_about(c, msg, o, except);
}

/* The first read of edit and delete: the actor is a member and the seq
 * can exist.  False when not (the error has been sent). */
static bool membership_ok(struct msg_cmd *m, int status, const struct chatd_conversation *conv)
{
	if (status == CHATD_ERR_NOT_FOUND) {
		cmd_error(&m->base, "not_found", "no such conversation");
		return false;
	}
	if (cmd_failed(&m->base, status))
		return false;
	if (m->seq > conv->last_seq) {
		no_message(m);
		return false;
	}
	return true;
}

/* Common start: fields, storage support; returns the clone or NULL (the
 * error has been sent). */
static struct msg_cmd *start(struct cmd *c, struct msg_cmd *v)
{
	if (!cmd_conversation_id(c, &v->conv))
		return NULL;
	if (!proto_get_int(c->msg, "seq", true, 1, (1LL << 53), &v->seq, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return NULL;
	}
	if (!c->core->storage_groups) {
		cmd_error(c, "unavailable", "the storage plugin cannot edit or delete messages");
		return NULL;
	}
	struct msg_cmd *m = cmd_clone(c, sizeof *m);
	if (!m) {
		cmd_error(c, "internal", "out of memory");
		return NULL;
	}
	struct cmd base = m->base;
	*m = *v;
	m->base = base;
	m->ts = mod_now_ms();
	return m;
}

/* ---- edit ----------------------------------------------------------------- */

static void on_edited(void *arg, int status, const struct chatd_message *msg)
{
	struct msg_cmd *m = arg;
	cmd_resume(&m->base);
	if (status == CHATD_ERR_NOT_FOUND)
		no_message(m);
	else if (status == CHATD_ERR_FORBIDDEN)
		cmd_error(&m->base, "forbidden", "only the sender may edit a message");
	else if (status == CHATD_ERR_INVALID)
		cmd_error(&m->base, "bad_request", "the message was deleted");
	else if (!cmd_failed(&m->base, status)) {
		cmd_result_ok(&m->base);
		json_t *o = update(m, "edited", msg->edited_at);
		if (o)
			json_object_set_new(o, "text", json_string(msg->text ? msg->text : ""));
		tell(m, msg, o);
	}
	msg_free(m);
}

static void on_queued(void *arg, int status, int64_t id)
{
	(void)arg;
	if (status != CHATD_OK && status != CHATD_ERR_EXISTS)
		log_error("moderation", "queue.write_failed", "an edit was not queued for review: %s",
			  chatd_strerror(status));
	else
		log_debug("moderation", "queue.added", "edit queued as item %lld", (long long)id);
}

/* Flagged and held edits go to the moderators' queue. */
static void queue_edit(struct msg_cmd *m, const struct lua_decision *d)
{
	struct core *c = m->base.core;
	const char *kind = d->kind == LUA_VERDICT_HOLD ? "hold" : "flag";
	char key[CHATD_ID_MAX * 2 + 64];
	snprintf(key, sizeof key, "%s:%s:%lld:edit:%lld", kind, m->conv, m->seq, (long long)m->ts);
	char detail[LUA_HOST_NAME_MAX + 48];
	snprintf(detail, sizeof detail, "{\"rule\":\"%s\",\"edit\":true}", d->rule);
	struct chatd_mod_item it = {
		.kind = kind, .status = "open", .conversation_id = m->conv, .seq = m->seq,
		.subject_id = m->base.user, .filed_by = "moderation",
		.reason = d->reason[0] ? d->reason : d->nflags ? d->flags[0] : "",
		.detail = detail, .dedupe_key = key, .created_at = m->ts,
	};
	if (c->storage->mod_item_add(c->storage_inst, &it, on_queued, NULL) != CHATD_OK)
		log_error("moderation", "queue.write_failed", "%s not queued for review", key);
}

/* The rules' say on an edit; fills e.  False when refused (error sent). */
static bool moderate_edit(struct msg_cmd *m, const struct chatd_conversation *conv,
			  struct chatd_message_edit *e, char **provenance)
{
	struct core *c = m->base.core;
	const struct user_sessions *us = sessions_of(&c->sessions, m->base.user);
	struct lua_msg_ctx x = {
		.sender_id = m->base.user, .conversation_id = m->conv,
		.conversation_kind = conv->kind, .member_count = conv->member_count,
		.text = m->text, .text_len = strlen(m->text), .seq = m->seq, .ts = m->ts,
		.account_created_at = us ? us->first_seen : 0,
	};
	struct lua_decision d = { 0 };
	int64_t audit_id;
	bool shadowed;
	if (!moderation_check_content(&m->base, LUA_HOOK_EDIT, &x, &d, &audit_id, &shadowed))
		return false;
	if (d.text) {
		if (d.text_len == 0) {
			cmd_error(&m->base, "bad_request", "the text is empty after moderation");
			lua_decision_clear(&d);
			return false;
		}
		m->text_owned = d.text;
		m->text = d.text;
		d.text = NULL;
	}
	if (d.kind == LUA_VERDICT_HOLD || d.kind == LUA_VERDICT_FLAG || d.nflags > 0)
		queue_edit(m, &d);
	e->visibility = d.kind == LUA_VERDICT_HOLD ? CHATD_VIS_HELD
			: (d.kind == LUA_VERDICT_SHADOW || shadowed) ? CHATD_VIS_SHADOW : NULL;
	*provenance = moderation_provenance(&d, audit_id, shadowed);
	lua_decision_clear(&d);
	return true;
}

static void on_edit_read(void *arg, int status, const struct chatd_conversation *conv,
			 const struct chatd_member *members, size_t n)
{
	struct msg_cmd *m = arg;
	cmd_resume(&m->base);
	struct core *c = m->base.core;
	if (!membership_ok(m, status, conv))
		goto done;
	if (n == 1 && members[0].muted_until > m->ts) {
		cmd_error(&m->base, "forbidden", "you are muted in this conversation");
		goto done;
	}
	if (conv->locked && !role_may(ACT_SEND_LOCKED, conv->role, NULL, NULL)) {
		cmd_error(&m->base, "forbidden", "the conversation is locked");
		goto done;
	}
	struct chatd_message_edit e = {
		.conversation_id = m->conv, .seq = m->seq, .editor = m->base.user, .ts = m->ts,
	};
	char *provenance = NULL;
	if (!moderate_edit(m, conv, &e, &provenance))
		goto done;
	e.text = m->text;
	e.moderation = provenance;
	int st = c->storage->message_edit(c->storage_inst, &e, on_edited, m);
	free(provenance);
	if (st == CHATD_OK)
		return;
	cmd_failed(&m->base, st);
done:
	msg_free(m);
}

void cmd_edit(struct cmd *c)
{
	struct msg_cmd v = { 0 };
	json_t *text = json_object_get(c->msg, "text");
	if (!json_is_string(text) || json_string_length(text) == 0) {
		cmd_error(c, "bad_request", "text must be a non-empty string");
		return;
	}
	if (utf8_codepoints(json_string_value(text), json_string_length(text)) >
	    (size_t)c->core->cfg->max_text) {
		cmd_error(c, "too_large", "text is longer than max_text characters");
		return;
	}
	/* U+0001 first marks a sealed stored text (enc.h). */
	if (json_string_value(text)[0] == ENC_MARK) {
		cmd_error(c, "bad_request", "text must not begin with U+0001");
		return;
	}
	v.text = json_string_value(text);
	struct msg_cmd *m = start(c, &v);
	if (!m)
		return;
	const char *self[1] = { m->base.user };
	int st = c->core->storage->members_get(c->core->storage_inst, m->conv, m->base.user, self, 1,
					       on_edit_read, m);
	if (st != CHATD_OK) {
		cmd_failed(&m->base, st);
		msg_free(m);
	}
}

/* ---- delete --------------------------------------------------------------- */

static void on_deleted(void *arg, int status, const struct chatd_message *msg)
{
	struct msg_cmd *m = arg;
	cmd_resume(&m->base);
	if (status == CHATD_ERR_NOT_FOUND)
		no_message(m);
	else if (!cmd_failed(&m->base, status)) {
		cmd_result_ok(&m->base);
		core_message_deleted(m->base.core, msg, m->ts, m->base.session);
	}
	msg_free(m);
}

static void on_message_read(void *arg, int status, const struct chatd_message *msg,
			    const char *sender_role)
{
	struct msg_cmd *m = arg;
	cmd_resume(&m->base);
	struct core *c = m->base.core;
	if (status == CHATD_ERR_NOT_FOUND) {
		no_message(m);
		goto done;
	}
	if (cmd_failed(&m->base, status))
		goto done;
	bool own = strcmp(msg->sender_id, m->base.user) == 0;
	bool shown = !msg->visibility || strcmp(msg->visibility, CHATD_VIS_NORMAL) == 0;
	if (!own && !shown) {
		no_message(m);   /* others cannot see it: do not reveal it */
		goto done;
	}
	if (!own && !role_may(ACT_DELETE_OTHERS, m->role, sender_role, NULL)) {
		cmd_error(&m->base, "forbidden", own ? "not allowed"
			  : "you may delete for everyone only your own messages and those of "
			    "members of a lower role");
		goto done;
	}
	int st = c->storage->message_delete(c->storage_inst, m->conv, m->seq, m->ts, on_deleted, m);
	if (st == CHATD_OK)
		return;
	cmd_failed(&m->base, st);
done:
	msg_free(m);
}

static void on_hidden(void *arg, int status)
{
	struct msg_cmd *m = arg;
	cmd_resume(&m->base);
	if (status == CHATD_ERR_NOT_FOUND)
		no_message(m);
	else if (!cmd_failed(&m->base, status)) {
		cmd_result_ok(&m->base);
		json_t *o = update(m, "deleted", m->ts);
		if (o) {
			json_object_set_new(o, "deleted", json_true());
			json_object_set_new(o, "scope", json_string("me"));
		}
		chatd_frame *f = core_encode(o);
		if (f)
			core_deliver_user(m->base.core, m->base.user, f, m->base.session);
		frame_unref(f);
	}
	msg_free(m);
}

static void on_delete_read(void *arg, int status, const struct chatd_conversation *conv,
			   const struct chatd_member *members, size_t n)
{
	(void)members;
	(void)n;
	struct msg_cmd *m = arg;
	cmd_resume(&m->base);
	struct core *c = m->base.core;
	if (!membership_ok(m, status, conv))
		goto done;
	snprintf(m->role, sizeof m->role, "%s", conv->role ? conv->role : "");
	int st = m->for_me
		? c->storage->message_hide(c->storage_inst, m->base.user, m->conv, m->seq,
					   on_hidden, m)
		: c->storage->message_get(c->storage_inst, m->conv, m->seq, on_message_read, m);
	if (st == CHATD_OK)
		return;
	cmd_failed(&m->base, st);
done:
	msg_free(m);
}

void cmd_delete(struct cmd *c)
{
	struct msg_cmd v = { 0 };
	const char *scope = json_string_value(json_object_get(c->msg, "scope"));
	if (!scope || (strcmp(scope, "everyone") != 0 && strcmp(scope, "me") != 0)) {
		cmd_error(c, "bad_request", "scope must be \"everyone\" or \"me\"");
		return;
	}
	v.for_me = strcmp(scope, "me") == 0;
	struct msg_cmd *m = start(c, &v);
	if (!m)
		return;
	int st = c->core->storage->members_get(c->core->storage_inst, m->conv, m->base.user, NULL, 0,
					       on_delete_read, m);
	if (st != CHATD_OK) {
		cmd_failed(&m->base, st);
		msg_free(m);
	}
}
