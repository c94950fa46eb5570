/* cmd_send.c — send: validate → duplicate check and authorize (one storage
 * read) → persist → ack → publish → fan-out.
 *
 * The duplicate check comes first (protocol.md, Precise rules): a resend is
 * answered with the original ack even if the sender has since been muted or
 * the conversation locked. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "pipeline.h"
#include "proto_decode.h"
#include "proto_encode.h"
#include "utf8.h"

struct send_cmd {
	struct cmd base;
	const char *conv;     /* point into base.msg */
	const char *cmid;
	const char *text;
	const char *media_id;
	long long reply_to;
	int64_t ts;
};

static json_t *ack(const struct send_cmd *s, const struct chatd_send_result *r)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:b}", "type", "ack", "conversation_id",
			 s->conv, "client_message_id", s->cmid, "seq", (json_int_t)r->seq,
			 "message_id", r->message_id, "ts", (json_int_t)r->ts, "duplicate",
			 r->duplicate);
}

static void publish_and_fan_out(struct send_cmd *s, const struct chatd_send_result *r)
{
	struct core *c = s->base.core;
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
	};
	/* Encoded once per audience, shared by every recipient. */
	chatd_frame *to_sender = core_encode(proto_message(&m, true));
	chatd_frame *to_others = core_encode(proto_message(&m, false));
	if (!to_sender || !to_others) {
		log_error("core", "fanout.nomem", "message %s/%lld not pushed; clients will sync",
			  s->conv, (long long)r->seq);
		goto out;
	}
	if (c->bus)
		c->bus->publish(c->bus_inst, "message.created", (const char *)to_others->payload,
				to_others->payload_len);
	if (c->fanout) {
		struct chatd_fanout_msg fm = {
			.conversation_id = s->conv,
			.sender_id = s->base.user,
			.seq = r->seq,
			.origin_session = s->base.session,
			.to_sender = to_sender,
			.to_others = to_others,
		};
		c->fanout->deliver(c->fanout_inst, &fm);
	}
out:
	frame_unref(to_sender);
	frame_unref(to_others);
}

static void on_appended(void *arg, int status, const struct chatd_send_result *r)
{
	struct send_cmd *s = arg;
	if (!cmd_failed(&s->base, status)) {
		cmd_reply(&s->base, ack(s, r));
		if (!r->duplicate)
			publish_and_fan_out(s, r);
	}
	cmd_free(&s->base);
}

static bool is_staff(const char *role)
{
	return role && (strcmp(role, "owner") == 0 || strcmp(role, "admin") == 0);
}

static void on_prechecked(void *arg, int status, const struct chatd_send_result *dup,
			  const struct chatd_conversation *conv, const struct chatd_member *self)
{
	struct send_cmd *s = arg;
	struct core *c = s->base.core;
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
	if (conv->locked && !is_staff(self->role)) {
		cmd_error(&s->base, "forbidden", "the conversation is locked");
		goto done;
	}
	if (s->reply_to > conv->last_seq) {
		cmd_error(&s->base, "bad_request", "reply_to must be the seq of an existing message");
		goto done;
	}
	struct chatd_send_req req = {
		.conversation_id = s->conv,
		.sender_id = s->base.user,
		.client_message_id = s->cmid,
		.text = s->text,
		.media_id = s->media_id,
		.reply_to = s->reply_to,
		.ts = s->ts,
	};
	int st = c->storage->append(c->storage_inst, &req, on_appended, s);
	if (st == CHATD_OK)
		return;
	cmd_failed(&s->base, st);
done:
	cmd_free(&s->base);
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
		if (json_string_length(text) > 0)
			v.text = json_string_value(text);
	}
	if (!v.text && !v.media_id) {
		cmd_error(c, "bad_request", "text or media_id is required");
		return;
	}
	if (v.media_id) {
		/* No media plugin is loaded yet: no upload can exist. */
		cmd_error(c, "not_found", "no such media");
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
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->ts = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	int st = core->storage->precheck(core->storage_inst, s->conv, s->base.user, s->cmid,
					 on_prechecked, s);
	if (st != CHATD_OK) {
		cmd_failed(&s->base, st);
		cmd_free(&s->base);
	}
}
