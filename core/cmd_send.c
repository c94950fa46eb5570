/* cmd_send.c — send: validate → duplicate check and authorize (one storage
 * read) → media check (media plugin) → moderate → persist → ack → publish →
 * fan-out.
 *
 * The duplicate check comes first (protocol.md, Precise rules): a resend is
 * answered with the original ack even if the sender has since been muted or
 * the conversation locked, or its media gone. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core_metrics.h"
#include "log.h"
#include "moderation.h"
#include "pipeline.h"
#include "enc.h"
#include "proto_decode.h"
#include "proto_encode.h"
#include "roles.h"
#include "utf8.h"

struct send_cmd {
	struct cmd base;
	const char *conv;     /* point into base.msg */
	const char *cmid;
	const char *text;
	const char *media_id;
	long long reply_to;
	int64_t ts;
	/* what the media plugin said of media_id */
	char *media_mime;     /* owned */
	int64_t media_size;
	bool media_thumbnail;
	/* of the conversation, kept from the precheck */
	const char *conv_kind; /* a literal */
	int64_t member_count;
	/* set by moderation */
	char *text_owned;     /* rewritten text (s->text points here) */
	const char *visibility;
	enum lua_verdict verdict;
	char rule[LUA_HOST_NAME_MAX];
	char reason[LUA_HOST_REASON_MAX];
	bool flagged;         /* a rule flagged it (maybe before a rewrite) */
	struct chatd_send_result res;  /* kept while the review item is written */
	char mid[CHATD_ID_MAX + 1];
};

static void send_free(struct send_cmd *s)
{
	free(s->text_owned);
	free(s->media_mime);
	cmd_free(&s->base);
}

static json_t *ack(const struct send_cmd *s, const struct chatd_send_result *r)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:b}", "type", "ack", "conversation_id",
			 s->conv, "client_message_id", s->cmid, "seq", (json_int_t)r->seq,
			 "message_id", r->message_id, "ts", (json_int_t)r->ts, "duplicate",
			 r->duplicate);
}

void core_publish_message(struct core *c, const struct chatd_message *m, uint64_t origin)
{
	uint64_t t0 = cm_now();
	/* Encoded once per audience, shared by every recipient. */
	chatd_frame *to_sender = core_encode(proto_message(m, true));
	chatd_frame *to_others = core_encode(proto_message(m, false));
	if (!to_sender || !to_others) {
		log_error("core", "fanout.nomem", "message %s/%lld not pushed; clients will sync",
			  m->conversation_id, (long long)m->seq);
		goto out;
	}
	log_debug("fanout", "fanout.start", "message %s/%lld to the members%s",
		  m->conversation_id, (long long)m->seq, c->fanout ? "" : " (no fan-out plugin)");
	if (c->bus)
		cm_bus_status(c, "core", c->bus->publish(c->bus_inst, "message.created",
							 (const char *)to_others->payload,
							 to_others->payload_len));
	if (c->fanout) {
		struct chatd_fanout_msg fm = {
			.conversation_id = m->conversation_id,
			.sender_id = m->sender_id,
			.seq = m->seq,
			.origin_session = origin,
			.to_sender = to_sender,
			.to_others = to_others,
		};
		core_fanout_deliver(c, &fm);
	}
	core_notify_message(c, m);
out:
	frame_unref(to_sender);
	frame_unref(to_others);
	cm_stage(c, CM_STAGE_FANOUT, t0);
}

static void publish_and_fan_out(struct send_cmd *s, const struct chatd_send_result *r)
{
	struct chatd_message m = {
		.conversation_id = s->conv,
		.seq = r->seq,
		.message_id = r->message_id,
		.sender_id = s->base.user,
		.client_message_id = s->cmid,
		.text = s->text,
		.media_id = s->media_id,
		.reply_to = s->reply_to,
		.ts = r->ts,
		.media_mime = s->media_mime,
		.media_size = s->media_size,
		.media_thumbnail = s->media_thumbnail,
	};
	core_publish_message(s->base.core, &m, s->base.session);
}

/* A shadowed or held message: the sender's other sessions see it as sent;
 * nobody else does. */
static void deliver_to_sender_only(struct send_cmd *s, const struct chatd_send_result *r)
{
	struct chatd_message m = {
		.conversation_id = s->conv, .seq = r->seq, .message_id = r->message_id,
		.sender_id = s->base.user, .client_message_id = s->cmid, .text = s->text,
		.media_id = s->media_id, .reply_to = s->reply_to, .ts = r->ts,
		.media_mime = s->media_mime, .media_size = s->media_size,
		.media_thumbnail = s->media_thumbnail,
	};
	chatd_frame *f = core_encode(proto_message(&m, true));
	int n = f ? core_deliver_user(s->base.core, s->base.user, f, s->base.session) : 0;
	frame_unref(f);
	log_debug("fanout", "fanout.sender_only", "message %s/%lld is %s: to %d other session(s) "
		  "of the sender only", s->conv, (long long)r->seq, s->visibility, n);
}

/* Ack, then deliver: to members, or for a shadowed or held message to the
 * sender's other sessions only. */
static void finish(struct send_cmd *s, const struct chatd_send_result *r)
{
	cmd_reply(&s->base, ack(s, r));
	if (r->duplicate)
		return;
	if (strcmp(s->visibility, CHATD_VIS_NORMAL) == 0)
		publish_and_fan_out(s, r);
	else
		deliver_to_sender_only(s, r);
}

static void on_queued(void *arg, int status, int64_t id)
{
	struct send_cmd *s = arg;
	cmd_resume(&s->base);
	if (status != CHATD_OK && status != CHATD_ERR_EXISTS)
		log_error("moderation", "queue.write_failed", "%s/%lld not queued for review: %s",
			  s->conv, (long long)s->res.seq, chatd_strerror(status));
	else
		log_debug("moderation", "queue.added", "%s/%lld queued as item %lld", s->conv,
			  (long long)s->res.seq, (long long)id);
	finish(s, &s->res);
	send_free(s);
}

/* Flagged and held messages go to the moderators' queue before the ack, so
 * a moderator who looks right after it finds them.  False: not queued. */
static bool queue_for_review(struct send_cmd *s, const struct chatd_send_result *r)
{
	struct core *c = s->base.core;
	const char *kind = s->verdict == LUA_VERDICT_HOLD ? "hold" : "flag";
	char key[CHATD_ID_MAX * 2 + 32];
	snprintf(key, sizeof key, "%s:%s:%lld", kind, s->conv, (long long)r->seq);
	char detail[LUA_HOST_NAME_MAX + 32];
	snprintf(detail, sizeof detail, "{\"rule\":\"%s\"}", s->rule);
	struct chatd_mod_item it = {
		.kind = kind, .status = "open", .conversation_id = s->conv, .seq = r->seq,
		.subject_id = s->base.user, .filed_by = "moderation", .reason = s->reason,
		.detail = detail, .dedupe_key = key, .created_at = r->ts,
	};
	s->res = *r;
	snprintf(s->mid, sizeof s->mid, "%s", r->message_id);
	s->res.message_id = s->mid;
	if (c->storage->mod_item_add(c->storage_inst, &it, on_queued, s) == CHATD_OK)
		return true;
	log_error("moderation", "queue.write_failed", "%s not queued for review", key);
	return false;
}

static void on_appended(void *arg, int status, const struct chatd_send_result *r)
{
	struct send_cmd *s = arg;
	cmd_resume(&s->base);
	cm_storage_done(s->base.core, "append", s->base.t_op_ns);
	cm_stage(s->base.core, CM_STAGE_PERSIST, s->base.t_op_ns);
	if (status == CHATD_OK && r)
		log_debug("storage", "message.stored", "message %s/%lld stored%s", s->conv,
			  (long long)r->seq, r->duplicate ? " before (duplicate)" : "");
	else
		log_debug("storage", "message.not_stored", "message to %s: %s", s->conv,
			  chatd_strerror(status));
	if (!cmd_failed(&s->base, status)) {
		if (!r->duplicate &&
		    (s->verdict == LUA_VERDICT_HOLD || s->flagged) &&
		    queue_for_review(s, r))
			return;
		finish(s, r);
	}
	send_free(s);
}

/* The rules' say on a send.  Returns false when the send ends here (the
 * error has been sent). */
static bool moderate(struct send_cmd *s, const struct user_sessions *us, char **provenance)
{
	struct lua_msg_ctx x = {
		.sender_id = s->base.user, .conversation_id = s->conv,
		.conversation_kind = s->conv_kind, .member_count = s->member_count,
		.text = s->text, .text_len = s->text ? strlen(s->text) : 0,
		.client_message_id = s->cmid, .ts = s->ts,
		.account_created_at = us ? us->first_seen : 0,
	};
	struct lua_decision d = { 0 };
	int64_t audit_id;
	bool shadowed;
	uint64_t t = cm_now();
	bool ok = moderation_check_content(&s->base, LUA_HOOK_MESSAGE, &x, &d, &audit_id,
					   &shadowed);
	/* What follows moderation is the write: persist starts here. */
	s->base.t_op_ns = cm_stage(s->base.core, CM_STAGE_MODERATE, t);
	if (!ok)
		return false;
	if (d.text) {
		if (d.text_len == 0 && !s->media_id) {
			cmd_error(&s->base, "bad_request", "the message is empty after moderation");
			lua_decision_clear(&d);
			return false;
		}
		s->text_owned = d.text; /* taken over from the decision */
		s->text = d.text_len ? d.text : NULL;
		d.text = NULL;
	}
	s->verdict = d.kind;
	/* A flag raised before a rewrite (or a shadow) still goes to review. */
	s->flagged = d.kind == LUA_VERDICT_FLAG || (d.nflags > 0 && d.kind != LUA_VERDICT_HOLD);
	snprintf(s->rule, sizeof s->rule, "%s", d.rule);
	snprintf(s->reason, sizeof s->reason, "%s",
		 d.reason[0] ? d.reason : d.nflags ? d.flags[0] : "");
	s->visibility = d.kind == LUA_VERDICT_HOLD ? CHATD_VIS_HELD
			: (d.kind == LUA_VERDICT_SHADOW || shadowed) ? CHATD_VIS_SHADOW
			: CHATD_VIS_NORMAL;
	*provenance = moderation_provenance(&d, audit_id, shadowed);
	lua_decision_clear(&d);
	return true;
}

/* Moderate and store; the send is authorized (and its media checked). */
static void moderate_and_store(struct send_cmd *s)
{
	struct core *c = s->base.core;
	char *provenance = NULL;
	if (!moderate(s, sessions_of(&c->sessions, s->base.user), &provenance))
		goto done;
	struct chatd_send_req req = {
		.conversation_id = s->conv,
		.sender_id = s->base.user,
		.client_message_id = s->cmid,
		.text = s->text,
		.media_id = s->media_id,
		.reply_to = s->reply_to,
		.ts = s->ts,
		.visibility = s->visibility,
		.moderation = provenance,
		.inbox = CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, write_inbox) &&
			 c->fanout->write_inbox(c->fanout_inst, s->conv, s->member_count),
	};
	int st = c->storage->append(c->storage_inst, &req, on_appended, s);
	free(provenance);
	if (st == CHATD_OK)
		return;
	cmd_failed(&s->base, st);
done:
	send_free(s);
}

/* The media plugin's word on media_id: the sender's own, complete upload. */
static void on_media_checked(void *arg, int status, const struct chatd_media_ref *m)
{
	struct send_cmd *s = arg;
	cmd_resume(&s->base);
	log_debug("media", "media.checked", "%s: %s", s->media_id, chatd_strerror(status));
	if (status == CHATD_ERR_NOT_FOUND) {
		cmd_error(&s->base, "not_found", "no such media");
	} else if (status == CHATD_ERR_INVALID) {
		cmd_error(&s->base, "bad_request", "upload not complete");
	} else if (status != CHATD_OK || !m || !m->mime) {
		if (status == CHATD_OK)
			log_error("media", "check.bad_reply", "%s: OK without a type", s->media_id);
		cmd_failed(&s->base, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
	} else if (!(s->media_mime = strdup(m->mime))) {
		cmd_error(&s->base, "internal", "out of memory");
	} else {
		s->media_size = m->size;
		s->media_thumbnail = m->thumbnail;
		moderate_and_store(s);
		return;
	}
	send_free(s);
}

static void on_prechecked(void *arg, int status, const struct chatd_send_result *dup,
			  const struct chatd_conversation *conv, const struct chatd_member *self)
{
	struct send_cmd *s = arg;
	struct core *c = s->base.core;
	cmd_resume(&s->base);
	log_debug("storage", "send.prechecked", "conversation %s: %s%s", s->conv,
		  chatd_strerror(status), dup ? " (a duplicate)" : "");
	cm_storage_done(c, "precheck", s->base.t_op_ns);
	cm_stage(c, CM_STAGE_AUTHORIZE, s->base.t0_ns);
	if (cmd_failed(&s->base, status))
		goto done;
	if (dup) {
		cmd_reply(&s->base, ack(s, dup));
		goto done;
	}
	if (!conv || !self) {
		cmd_error(&s->base, "not_found", "no such conversation");
		goto done;
	}
	if (self->muted_until > s->ts) {
		cmd_error(&s->base, "forbidden", "you are muted in this conversation");
		goto done;
	}
	if (conv->locked && !role_may(ACT_SEND_LOCKED, self->role, NULL, NULL)) {
		cmd_error(&s->base, "forbidden", "the conversation is locked");
		goto done;
	}
	if (s->reply_to > conv->last_seq) {
		cmd_error(&s->base, "bad_request", "reply_to must be the seq of an existing message");
		goto done;
	}
	/* conv is borrowed for this callback only. */
	s->conv_kind = conv->kind && strcmp(conv->kind, "direct") == 0 ? "direct" : "group";
	s->member_count = conv->member_count;
	if (!s->media_id) {
		moderate_and_store(s);
		return;
	}
	if (!c->media) {
		/* No media plugin: no upload can exist. */
		cmd_error(&s->base, "not_found", "no such media");
		goto done;
	}
	int st = c->media->check_send(c->media_inst, s->media_id, s->base.user, on_media_checked,
				      s);
	if (st == CHATD_OK)
		return;
	on_media_checked(s, st, NULL); /* answers and frees s */
	return;
done:
	send_free(s);
}

void cmd_send(struct cmd *c)
{
	struct core *core = c->core;
	struct send_cmd v = { .base = *c };
	char *err = c->err;
	json_t *text = json_object_get(c->msg, "text");
	if (!proto_get_id_string(c->msg, "client_message_id", true, 1, 64, &v.cmid, err) ||
	    !proto_get_id_string(c->msg, "media_id", false, 1, 64, &v.media_id, err) ||
	    !proto_get_int(c->msg, "reply_to", false, 1, (1LL << 53), &v.reply_to, err)) {
		cmd_error(c, "bad_request", err);
		return;
	}
	if (!cmd_conversation_id(c, &v.conv))
		return;
	if (text && !json_is_null(text)) {
		if (!json_is_string(text)) {
			cmd_error(c, "bad_request", "text must be a string");
			return;
		}
		if (utf8_codepoints(json_string_value(text), json_string_length(text)) >
		    (size_t)core->cfg->max_text) {
			cmd_error(c, "too_large", "text is longer than max_text characters");
			return;
		}
		/* U+0001 first marks a sealed stored text (enc.h). */
		if (json_string_value(text)[0] == ENC_MARK) {
			cmd_error(c, "bad_request", "text must not begin with U+0001");
			return;
		}
		if (json_string_length(text) > 0)
			v.text = json_string_value(text);
	}
	if (!v.text && !v.media_id) {
		cmd_error(c, "bad_request", "text or media_id is required");
		return;
	}
	struct send_cmd *s = cmd_clone(c, sizeof *s);
	if (!s) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	s->conv = v.conv;
	s->cmid = v.cmid;
	s->text = v.text;
	s->media_id = v.media_id;
	s->reply_to = v.reply_to;
	s->visibility = CHATD_VIS_NORMAL;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->ts = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	s->base.t_op_ns = cm_now();
	int st = core->storage->precheck(core->storage_inst, s->conv, s->base.user, s->cmid,
					 on_prechecked, s);
	if (st != CHATD_OK) {
		cmd_failed(&s->base, st);
		send_free(s);
	}
}
