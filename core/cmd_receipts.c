/* cmd_receipts.c — read and receipts: read cursors.
 *
 * read: validate → read the conversation as the reader sees it (membership,
 * last_seq, their stored cursor, size, settings) → cap seq to last_seq →
 * the receipts plugin decides whether the cursor moves and whether to tell
 * the others (it writes behind) → `result` when the frame had an id → when
 * told to and the conversation has receipts on, a `receipt` to every
 * session of every other member (read in pages).  Without a receipts
 * plugin the cursor is written through storage at once and nobody is
 * told.
 * receipts: validate → read the conversation (membership, settings) → cap
 * seq → the message's sender → every member's cursor, overlaid with what
 * the plugin has not written yet → seen_by and the first users. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "pipeline.h"
#include "proto_decode.h"

#define MEMBER_PAGE 1000        /* members read per storage call */
#define SEEN_USERS 20           /* users listed in a `receipts` reply */

struct rcpt_cmd {
	struct cmd base;
	const char *conv;           /* points into base.msg */
	long long seq;
	size_t offset;              /* next member page */
	chatd_frame *receipt;       /* read: the frame for the other members */
	/* receipts */
	char sender[CHATD_ID_MAX + 1];   /* "" when the message is gone */
	int64_t seen_by;
	size_t n_users;
	char users[SEEN_USERS][CHATD_ID_MAX + 1];
};

int64_t core_read_seq(struct core *c, const char *conv, const char *user, int64_t stored)
{
	if (!c->receipts || !conv || !user)
		return stored;
	int64_t v = c->receipts->cursor(c->receipts_inst, conv, user, stored);
	return v > stored ? v : stored;
}

static void rcpt_free(struct rcpt_cmd *r)
{
	frame_unref(r->receipt);
	cmd_free(&r->base);
}

/* Common start of both commands: fields, then the clone.  NULL when the
 * error has been sent. */
static struct rcpt_cmd *start(struct cmd *c)
{
	const char *conv = NULL;
	long long seq = 0;
	if (!cmd_conversation_id(c, &conv))
		return NULL;
	if (!proto_get_int(c->msg, "seq", true, 1, INT64_MAX, &seq, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return NULL;
	}
	struct rcpt_cmd *r = cmd_clone(c, sizeof *r);
	if (!r) {
		cmd_error(c, "internal", "out of memory");
		return NULL;
	}
	r->conv = conv;
	r->seq = seq;
	return r;
}

/* Read the next page of members into cb; false when the read could not be
 * queued (the error has been sent). */
static bool next_page(struct rcpt_cmd *r, chatd_conv_get_cb cb)
{
	struct core *c = r->base.core;
	int st = c->storage->conv_get(c->storage_inst, r->conv, r->base.user, r->offset,
				      MEMBER_PAGE, cb, r);
	if (st == CHATD_OK)
		return true;
	cmd_failed(&r->base, st);
	return false;
}

/* ---- read ---------------------------------------------------------------- */

/* The other members' sessions on this node, page by page.  The reader
 * already has their result: a failure here is only logged. */
static void on_read_members(void *arg, int status, const struct chatd_conversation *conv,
			    const struct chatd_member *members, size_t n)
{
	(void)conv;
	struct rcpt_cmd *r = arg;
	cmd_resume(&r->base);
	struct core *c = r->base.core;
	if (status != CHATD_OK) {
		if (status != CHATD_ERR_NOT_FOUND)   /* the reader left meanwhile */
			log_warn("core", "receipt.members_failed", "%s: receipt not delivered: %s",
				 r->conv, chatd_strerror(status));
		rcpt_free(r);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(members[i].user_id, r->base.user) != 0)
			core_deliver_user(c, members[i].user_id, r->receipt, 0);
	if (n == MEMBER_PAGE) {
		r->offset += n;
		int st = c->storage->conv_get(c->storage_inst, r->conv, r->base.user, r->offset,
					      MEMBER_PAGE, on_read_members, r);
		if (st == CHATD_OK)
			return;
		log_warn("core", "receipt.members_failed", "%s: receipt not delivered to all: %s",
			 r->conv, chatd_strerror(st));
	}
	rcpt_free(r);
}

static void read_done(struct rcpt_cmd *r)
{
	if (r->base.has_id)
		cmd_result_ok(&r->base);
}

/* Without a receipts plugin: the cursor is written at once. */
static void on_cursor_written(void *arg, int status, int64_t moved)
{
	(void)moved;
	struct rcpt_cmd *r = arg;
	cmd_resume(&r->base);
	if (!cmd_failed(&r->base, status))
		read_done(r);
	rcpt_free(r);
}

static void on_read_conv(void *arg, int status, const struct chatd_conversation *conv,
			 const struct chatd_member *members, size_t n)
{
	(void)members;
	(void)n;
	struct rcpt_cmd *r = arg;
	cmd_resume(&r->base);
	struct core *c = r->base.core;
	if (cmd_failed(&r->base, status))
		goto done;
	int64_t seq = r->seq < conv->last_seq ? r->seq : conv->last_seq;
	if (!c->receipts) {
		if (seq <= conv->read_seq) {
			read_done(r);
			goto done;
		}
		struct chatd_read_cursor cur = {
			.conversation_id = r->conv, .user_id = r->base.user, .seq = seq,
		};
		int st = c->storage->cursors_advance(c->storage_inst, &cur, 1, on_cursor_written, r);
		if (st == CHATD_OK)
			return;
		cmd_failed(&r->base, st);
		goto done;
	}
	int flags = seq < 1 ? 0
		: c->receipts->mark_read(c->receipts_inst, r->conv, r->base.user, seq,
					 conv->read_seq, conv->member_count);
	if (flags < 0) {
		cmd_failed(&r->base, flags);
		goto done;
	}
	read_done(r);
	if ((flags & CHATD_RECEIPT_MOVED) && (flags & CHATD_RECEIPT_PUSH) && conv->receipts &&
	    conv->member_count > 1) {
		r->receipt = core_encode(json_pack("{s:s, s:s, s:s, s:I}", "type", "receipt",
						   "conversation_id", r->conv, "user_id",
						   r->base.user, "seq", (json_int_t)seq));
		if (!r->receipt) {
			log_error("core", "receipt.nomem", "%s: receipt not delivered", r->conv);
			goto done;
		}
		r->offset = 0;
		int st = c->storage->conv_get(c->storage_inst, r->conv, r->base.user, 0, MEMBER_PAGE,
					      on_read_members, r);
		if (st == CHATD_OK)
			return;
		log_warn("core", "receipt.members_failed", "%s: receipt not delivered: %s", r->conv,
			 chatd_strerror(st));
	}
done:
	rcpt_free(r);
}

void cmd_read(struct cmd *c)
{
	if (!c->core->receipts &&
	    !CORE_HAS_OP(c->core->storage, struct chatd_storage_ops, cursors_advance)) {
		cmd_error(c, "unavailable", "the storage plugin cannot store read cursors");
		return;
	}
	struct rcpt_cmd *r = start(c);
	if (!r)
		return;
	struct core *core = r->base.core;
	int st = core->storage->conv_get(core->storage_inst, r->conv, r->base.user, 0, 0,
					 on_read_conv, r);
	if (st != CHATD_OK) {
		cmd_failed(&r->base, st);
		rcpt_free(r);
	}
}

/* ---- receipts ------------------------------------------------------------ */

/* Keep the SEEN_USERS smallest user ids, ascending. */
static void note_seen(struct rcpt_cmd *r, const char *user)
{
	r->seen_by++;
	size_t i = r->n_users;
	if (i == SEEN_USERS && strcmp(user, r->users[SEEN_USERS - 1]) >= 0)
		return;
	if (i == SEEN_USERS)
		i--;
	while (i > 0 && strcmp(user, r->users[i - 1]) < 0) {
		memcpy(r->users[i], r->users[i - 1], sizeof r->users[i]);
		i--;
	}
	snprintf(r->users[i], sizeof r->users[i], "%s", user);
	if (r->n_users < SEEN_USERS)
		r->n_users++;
}

static void receipts_reply(struct rcpt_cmd *r, int64_t seq)
{
	json_t *users = json_array();
	for (size_t i = 0; users && i < r->n_users; i++)
		json_array_append_new(users, json_string(r->users[i]));
	cmd_reply(&r->base, json_pack("{s:s, s:s, s:I, s:I, s:o}", "type", "receipts",
				      "conversation_id", r->conv, "seq", (json_int_t)seq, "seen_by",
				      (json_int_t)r->seen_by, "users", users));
}

static void on_receipt_members(void *arg, int status, const struct chatd_conversation *conv,
			       const struct chatd_member *members, size_t n)
{
	(void)conv;
	struct rcpt_cmd *r = arg;
	cmd_resume(&r->base);
	struct core *c = r->base.core;
	if (cmd_failed(&r->base, status))
		goto done;
	for (size_t i = 0; i < n; i++) {
		const char *u = members[i].user_id;
		if (strcmp(u, r->sender) == 0)
			continue;
		if (core_read_seq(c, r->conv, u, members[i].read_seq) >= r->seq)
			note_seen(r, u);
	}
	if (n == MEMBER_PAGE) {
		r->offset += n;
		if (next_page(r, on_receipt_members))
			return;
		goto done;
	}
	receipts_reply(r, r->seq);
done:
	rcpt_free(r);
}

static void on_receipt_message(void *arg, int status, const struct chatd_message *m,
			       const char *sender_role)
{
	(void)sender_role;
	struct rcpt_cmd *r = arg;
	cmd_resume(&r->base);
	if (status == CHATD_OK)
		snprintf(r->sender, sizeof r->sender, "%s", m->sender_id);
	else if (status != CHATD_ERR_NOT_FOUND && cmd_failed(&r->base, status))
		goto done;
	r->offset = 0;
	if (next_page(r, on_receipt_members))
		return;
done:
	rcpt_free(r);
}

static void on_receipts_conv(void *arg, int status, const struct chatd_conversation *conv,
			     const struct chatd_member *members, size_t n)
{
	(void)members;
	(void)n;
	struct rcpt_cmd *r = arg;
	cmd_resume(&r->base);
	struct core *c = r->base.core;
	if (cmd_failed(&r->base, status))
		goto done;
	if (!conv->receipts) {
		cmd_error(&r->base, "forbidden", "read receipts are off in this conversation");
		goto done;
	}
	if (r->seq > conv->last_seq)
		r->seq = conv->last_seq;
	if (r->seq < 1) {   /* no message yet: nobody has seen anything */
		receipts_reply(r, 0);
		goto done;
	}
	int st = c->storage->message_get(c->storage_inst, r->conv, r->seq, on_receipt_message, r);
	if (st == CHATD_OK)
		return;
	cmd_failed(&r->base, st);
done:
	rcpt_free(r);
}

void cmd_receipts(struct cmd *c)
{
	if (!c->core->storage_groups) {
		cmd_error(c, "unavailable", "the storage plugin cannot read messages by seq");
		return;
	}
	struct rcpt_cmd *r = start(c);
	if (!r)
		return;
	struct core *core = r->base.core;
	int st = core->storage->conv_get(core->storage_inst, r->conv, r->base.user, 0, 0,
					 on_receipts_conv, r);
	if (st != CHATD_OK) {
		cmd_failed(&r->base, st);
		rcpt_free(r);
	}
}
