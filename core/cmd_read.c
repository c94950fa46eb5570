/* cmd_read.c — history and sync: reads answered from storage. */
#include <stdlib.h>
#include <string.h>
#include "core_metrics.h"
#include "log.h"
#include "pipeline.h"
#include "proto_decode.h"
#include "proto_encode.h"

#define HISTORY_DEFAULT 50
#define HISTORY_MAX 200
#define SYNC_PER_CONV 100
#define SYNC_TOTAL 1000
#define SYNC_MAX_CURSORS 10000

/* ---- history ------------------------------------------------------------ */

struct history_cmd {
	struct cmd base;
	struct chatd_history_req req;
};

static json_t *message_array(const struct chatd_message *msgs, size_t n, const char *viewer)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, proto_message_for(&msgs[i], viewer));
	return a;
}

static void on_history(void *arg, int status, const struct chatd_message *msgs, size_t n,
		       bool has_more)
{
	struct history_cmd *h = arg;
	cmd_resume(&h->base);
	cm_storage_done(h->base.core, "history", h->base.t_op_ns);
	if (!cmd_failed(&h->base, status))
		cmd_reply(&h->base, json_pack("{s:s, s:s, s:o, s:b}", "type", "history",
					      "conversation_id", h->req.conversation_id,
					      "messages", message_array(msgs, n, h->base.user),
					      "has_more", has_more));
	cmd_free(&h->base);
}

/* Membership first: a non-member learns nothing, not even existence. */
static void on_history_member(void *arg, int status, const struct chatd_conversation *conv,
			      const struct chatd_member *members, size_t n)
{
	(void)members;
	(void)n;
	struct history_cmd *h = arg;
	cmd_resume(&h->base);
	struct core *c = h->base.core;
	if (cmd_failed(&h->base, status) || !conv) {
		if (status == CHATD_OK)
			cmd_error(&h->base, "not_found", "no such conversation");
		cmd_free(&h->base);
		return;
	}
	h->base.t_op_ns = cm_now();
	int st = c->storage->history(c->storage_inst, &h->req, on_history, h);
	if (st != CHATD_OK) {
		cmd_failed(&h->base, st);
		cmd_free(&h->base);
	}
}

void cmd_history(struct cmd *c)
{
	const char *conv = NULL;
	long long before = 0, after = -1, limit = HISTORY_DEFAULT;
	if (!cmd_conversation_id(c, &conv))
		return;
	if (!proto_get_int(c->msg, "before", false, 1, (1LL << 53), &before, c->err) ||
	    !proto_get_int(c->msg, "after", false, 0, (1LL << 53), &after, c->err) ||
	    !proto_get_int(c->msg, "limit", false, 1, (1LL << 53), &limit, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	if (limit > HISTORY_MAX)
		limit = HISTORY_MAX;
	struct history_cmd *h = cmd_clone(c, sizeof *h);
	if (!h) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	h->req = (struct chatd_history_req){
		.conversation_id = conv,
		.user_id = h->base.user,
		.before = before,
		.after = after,
		.limit = (int)limit,
	};
	struct core *core = h->base.core;
	int st = core->storage->conv_get(core->storage_inst, conv, h->base.user, 0, 0,
					 on_history_member, h);
	if (st != CHATD_OK) {
		cmd_failed(&h->base, st);
		cmd_free(&h->base);
	}
}

/* ---- sync --------------------------------------------------------------- */

/* The client's cursor for conv, 0 when it gave none. */
static int64_t given_cursor(struct cmd *c, const char *conv)
{
	json_t *v = json_object_get(json_object_get(c->msg, "cursors"), conv);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* One conversation of a sync reply.  read_seq is overlaid with the
 * receipts plugin's cursor; when storage chose the start (no cursor given)
 * from an older stored cursor, the messages up to the overlaid one are
 * left out, as they would be once the cursor is written. */
static json_t *sync_conv(struct cmd *c, const struct chatd_sync_conv *sc)
{
	const struct chatd_conversation *cv = sc->conv;
	int64_t read_seq = core_read_seq(c->core, cv->conversation_id, c->user, cv->read_seq);
	size_t skip = 0;
	if (read_seq > cv->read_seq && given_cursor(c, cv->conversation_id) <= 0)
		while (skip < sc->n_messages && sc->messages[skip].seq <= read_seq)
			skip++;
	int64_t unread = cv->last_seq > read_seq ? cv->last_seq - read_seq : 0;
	return json_pack("{s:s, s:I, s:I, s:I, s:o, s:b}", "conversation_id", cv->conversation_id,
			 "last_seq", (json_int_t)cv->last_seq, "read_seq", (json_int_t)read_seq,
			 "unread", (json_int_t)unread, "messages",
			 message_array(skip ? sc->messages + skip : sc->messages,
					       sc->n_messages - skip, c->user),
			 "has_more", sc->has_more);
}

static void on_sync(void *arg, int status, const struct chatd_sync_conv *convs, size_t n,
		    bool has_more)
{
	struct cmd *c = arg;
	cmd_resume(c);
	cm_storage_done(c->core, "sync", c->t_op_ns);
	if (!cmd_failed(c, status)) {
		json_t *list = json_array();
		for (size_t i = 0; list && i < n; i++)
			json_array_append_new(list, sync_conv(c, &convs[i]));
		cmd_reply(c, json_pack("{s:s, s:o, s:b}", "type", "sync", "conversations", list,
				       "has_more", has_more));
	}
	cmd_free(c);
}

void cmd_sync(struct cmd *c)
{
	json_t *cursors = json_object_get(c->msg, "cursors");
	size_t n = 0;
	if (cursors && !json_is_null(cursors)) {
		if (!json_is_object(cursors)) {
			cmd_error(c, "bad_request", "cursors must be an object");
			return;
		}
		n = json_object_size(cursors);
		if (n > SYNC_MAX_CURSORS) {
			cmd_error(c, "bad_request", "too many cursors");
			return;
		}
	}
	struct chatd_cursor *cur = n ? calloc(n, sizeof *cur) : NULL;
	if (n && !cur) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	size_t i = 0;
	const char *key;
	json_t *val;
	if (n)
		json_object_foreach(cursors, key, val)
		{
			if (!json_is_integer(val) || json_integer_value(val) < 0) {
				free(cur);
				cmd_error(c, "bad_request",
					  "each cursor must be a conversation id mapped to a seq >= 0");
				return;
			}
			if (strlen(key) > CHATD_ID_MAX || key[0] == '\0')
				continue; /* names no conversation: ignored like a foreign one */
			cur[i].conversation_id = key;
			cur[i].seq = json_integer_value(val);
			i++;
		}
	struct cmd *k = cmd_clone(c, sizeof *k);
	if (!k) {
		free(cur);
		cmd_error(c, "internal", "out of memory");
		return;
	}
	struct core *core = k->core;
	/* cursors are borrowed for the call only; storage copies them. */
	k->t_op_ns = cm_now();
	int st = core->storage->sync(core->storage_inst, k->user, cur, i, SYNC_PER_CONV,
				     SYNC_TOTAL, on_sync, k);
	free(cur);
	if (st != CHATD_OK) {
		cmd_failed(k, st);
		cmd_free(k);
	}
}
