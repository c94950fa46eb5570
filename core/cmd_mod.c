/* cmd_mod.c — report and appeal: a user's way into the moderation queue.
 *
 * report: membership is checked (not_found otherwise, like every command on
 * a conversation); a reported seq is looked up so the report names the
 * message's real sender; on_report rules may refuse it; one report per
 * (reporter, message) or (reporter, user) — a repeat returns the first id.
 * appeal: one per sanction (or, with none active, one per user per day, so
 * the answer never reveals a shadow-ban). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth.h"
#include "log.h"
#include "moderation.h"
#include "pipeline.h"
#include "proto_decode.h"
#include "utf8.h"

#define REASON_MAX 64
#define NOTE_MAX 1000           /* code points */
#define APPEAL_MAX 2000

struct report_cmd {
	struct cmd base;
	const char *conv;
	long long seq;
	const char *user_id;        /* given, or the message's sender */
	char subject[CHATD_ID_MAX + 1];
	char *text;                 /* the reported message's text (owned) */
	const char *reason;
	const char *note;
};

static void report_free(struct report_cmd *r)
{
	free(r->text);
	cmd_free(&r->base);
}

static void on_report_added(void *arg, int status, int64_t id)
{
	struct report_cmd *r = arg;
	cmd_resume(&r->base);
	struct core *c = r->base.core;
	if (status == CHATD_OK || status == CHATD_ERR_EXISTS) {
		char rid[24];
		snprintf(rid, sizeof rid, "%lld", (long long)id);
		if (status == CHATD_OK) {
			json_t *d = json_pack("{s:s, s:s, s:I}", "report_id", rid, "reason", r->reason,
					      "seq", (json_int_t)r->seq);
			if (d && r->conv)
				json_object_set_new(d, "conversation_id", json_string(r->conv));
			if (d && r->note)
				json_object_set_new(d, "note", json_string(r->note));
			audit_record(c, r->base.user, "report.filed", r->subject, d);
		}
		cmd_reply(&r->base, json_pack("{s:s, s:b, s:s, s:b}", "type", "result", "ok", 1,
					      "report_id", rid, "duplicate",
					      status == CHATD_ERR_EXISTS));
	} else {
		cmd_failed(&r->base, status);
	}
	report_free(r);
}

static void file_report(struct report_cmd *r)
{
	struct core *c = r->base.core;
	struct lua_msg_ctx x = {
		.sender_id = r->base.user, .conversation_id = r->conv, .seq = r->seq,
		.target_user_id = r->subject, .reason = r->reason, .text = r->text,
		.text_len = r->text ? strlen(r->text) : 0, .ts = mod_now_ms(),
	};
	struct lua_decision d = { 0 };
	int64_t aid;
	moderation_run(c, LUA_HOOK_REPORT, &x, &d, &aid);
	if (d.kind == LUA_VERDICT_REJECT) {
		moderation_reply_reject(&r->base, &d);
		lua_decision_clear(&d);
		report_free(r);
		return;
	}
	lua_decision_clear(&d);
	char key[3 * CHATD_ID_MAX + 48];
	if (r->seq > 0)
		snprintf(key, sizeof key, "report:%s:%s:%lld", r->base.user, r->conv, r->seq);
	else
		snprintf(key, sizeof key, "report:%s:%s:user:%s", r->base.user, r->conv, r->subject);
	struct chatd_mod_item it = {
		.kind = "report", .status = "open", .conversation_id = r->conv, .seq = r->seq,
		.subject_id = r->subject, .filed_by = r->base.user, .reason = r->reason,
		.note = r->note, .dedupe_key = key, .created_at = x.ts,
	};
	int st = c->storage->mod_item_add(c->storage_inst, &it, on_report_added, r);
	if (st != CHATD_OK) {
		cmd_failed(&r->base, st);
		report_free(r);
	}
}

static void on_message(void *arg, int status, const struct chatd_message *msgs, size_t n,
		       bool has_more)
{
	(void)has_more;
	struct report_cmd *r = arg;
	cmd_resume(&r->base);
	if (cmd_failed(&r->base, status)) {
		report_free(r);
		return;
	}
	if (n != 1 || msgs[0].seq != r->seq) {
		cmd_error(&r->base, "not_found", "no such message");
		report_free(r);
		return;
	}
	if (r->user_id && strcmp(r->user_id, msgs[0].sender_id) != 0) {
		cmd_error(&r->base, "bad_request", "user_id is not the sender of that message");
		report_free(r);
		return;
	}
	snprintf(r->subject, sizeof r->subject, "%s", msgs[0].sender_id);
	if (msgs[0].text && !(r->text = strdup(msgs[0].text))) {
		cmd_error(&r->base, "internal", "out of memory");
		report_free(r);
		return;
	}
	file_report(r);
}

static void on_conv(void *arg, int status, const struct chatd_conversation *conv,
		    const struct chatd_member *members, size_t n)
{
	(void)members;
	(void)n;
	struct report_cmd *r = arg;
	cmd_resume(&r->base);
	struct core *c = r->base.core;
	if (cmd_failed(&r->base, status)) {
		report_free(r);
		return;
	}
	if (r->seq > 0) {
		if (r->seq > conv->last_seq) {
			cmd_error(&r->base, "not_found", "no such message");
			report_free(r);
			return;
		}
		struct chatd_history_req q = {
			.conversation_id = r->conv, .user_id = r->base.user,
			.after = r->seq - 1, .before = r->seq + 1, .limit = 1,
		};
		int st = c->storage->history(c->storage_inst, &q, on_message, r);
		if (st != CHATD_OK) {
			cmd_failed(&r->base, st);
			report_free(r);
		}
		return;
	}
	snprintf(r->subject, sizeof r->subject, "%s", r->user_id);
	file_report(r);
}

void cmd_report(struct cmd *c)
{
	struct core *core = c->core;
	struct report_cmd v = { .base = *c };
	if (!core->mod || !CORE_HAS_OP(core->storage, struct chatd_storage_ops, user_seen)) {
		cmd_error(c, "unavailable", "reports need a storage plugin with ABI 1.1");
		return;
	}
	if (!proto_get_int(c->msg, "seq", false, 1, (1LL << 53), &v.seq, c->err) ||
	    !proto_get_id_string(c->msg, "user_id", false, 1, 64, &v.user_id, c->err) ||
	    !proto_get_id_string(c->msg, "reason", true, 1, REASON_MAX, &v.reason, c->err) ||
	    !proto_get_id_string(c->msg, "note", false, 0, 4 * NOTE_MAX, &v.note, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	if (!cmd_conversation_id(c, &v.conv))
		return;
	if (v.note && utf8_codepoints(v.note, strlen(v.note)) > NOTE_MAX) {
		cmd_error(c, "too_large", "note is longer than 1000 characters");
		return;
	}
	if (v.user_id && !auth_user_id_valid(v.user_id)) {
		cmd_error(c, "bad_request", "user_id must be a valid user id");
		return;
	}
	if (v.seq == 0 && !v.user_id) {
		cmd_error(c, "bad_request", "seq or user_id is required");
		return;
	}
	if (!v.seq && strcmp(v.user_id, c->user) == 0) {
		cmd_error(c, "bad_request", "you cannot report yourself");
		return;
	}
	struct report_cmd *r = cmd_clone(c, sizeof *r);
	if (!r) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	r->conv = v.conv;
	r->seq = v.seq;
	r->user_id = v.user_id;
	r->reason = v.reason;
	r->note = v.note;
	int st = core->storage->conv_get(core->storage_inst, r->conv, r->base.user, 0, 0,
					 on_conv, r);
	if (st != CHATD_OK) {
		cmd_failed(&r->base, st);
		report_free(r);
	}
}

/* ---- appeal ---- */

static void on_appeal_added(void *arg, int status, int64_t id)
{
	struct cmd *a = arg;
	cmd_resume(a);
	if (status == CHATD_OK || status == CHATD_ERR_EXISTS) {
		char aid[24];
		snprintf(aid, sizeof aid, "%lld", (long long)id);
		if (status == CHATD_OK)
			audit_record(a->core, a->user, "appeal.filed", a->user,
				     json_pack("{s:s}", "appeal_id", aid));
		cmd_reply(a, json_pack("{s:s, s:b, s:s, s:b}", "type", "result", "ok", 1,
				       "appeal_id", aid, "duplicate", status == CHATD_ERR_EXISTS));
	} else {
		cmd_failed(a, status);
	}
	cmd_free(a);
}

int moderation_file_appeal(struct core *c, const char *user, const char *text,
			   chatd_id_cb cb, void *arg)
{
	int64_t now = mod_now_ms(), until = 0;
	const char *kind = moderation_blocking(c, user, now, &until);
	if (!kind && moderation_shadowed(c, user, now))
		kind = "shadow";
	char key[CHATD_ID_MAX + 64];
	if (kind)
		snprintf(key, sizeof key, "appeal:%s:%s:%lld", user, kind, (long long)until);
	else
		snprintf(key, sizeof key, "appeal:%s:none:%lld", user, (long long)(now / 86400000));
	char detail[64];
	snprintf(detail, sizeof detail, "{\"sanction\":\"%s\"}", kind ? kind : "none");
	struct chatd_mod_item it = {
		.kind = "appeal", .status = "open", .subject_id = user, .filed_by = user,
		.reason = "appeal", .note = text, .detail = detail, .dedupe_key = key,
		.created_at = now,
	};
	return c->storage->mod_item_add(c->storage_inst, &it, cb, arg);
}

void cmd_appeal(struct cmd *c)
{
	struct core *core = c->core;
	const char *text = NULL;
	if (!core->mod || !CORE_HAS_OP(core->storage, struct chatd_storage_ops, user_seen)) {
		cmd_error(c, "unavailable", "appeals need a storage plugin with ABI 1.1");
		return;
	}
	if (!proto_get_id_string(c->msg, "text", true, 1, 4 * APPEAL_MAX, &text, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	if (utf8_codepoints(text, strlen(text)) > APPEAL_MAX) {
		cmd_error(c, "too_large", "an appeal is at most 2000 characters");
		return;
	}
	struct cmd *a = cmd_clone(c, sizeof *a);
	if (!a) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	int st = moderation_file_appeal(core, a->user, text, on_appeal_added, a);
	if (st != CHATD_OK) {
		cmd_failed(a, st);
		cmd_free(a);
	}
}
