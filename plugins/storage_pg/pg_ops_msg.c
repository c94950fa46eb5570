/* pg_ops_msg.c — the message ops: precheck, append, history, message_get,
 * edit, delete, hide, purge_deleted, set_visibility.  All but purge run on
 * the conversation's shard.
 *
 * Choices the interface leaves open are storage_sqlite's (its
 * sqlite_ops_msg.c and sqlite_ops.c), except: a message's media fields
 * (mime, size, thumbnail) are those of the media row when the message was
 * stored, not read again at each read (media rows live on shard 0). */
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"
#include "pg_sql.h"

/* ---- precheck ------------------------------------------------------ */

struct op_precheck {
	struct pg_op base;
	chatd_precheck_cb cb;
	void *arg;
};

static void precheck_fail(struct pg_op *op, int status)
{
	struct op_precheck *o = (struct op_precheck *)op;
	o->cb(o->arg, status, NULL, NULL, NULL);
}

static int precheck_step(struct pg_op *op, struct pg_query *done)
{
	struct op_precheck *o = (struct op_precheck *)op;
	const PGresult *r = done->res;
	if (PQntuples(r) != 1) {
		o->cb(o->arg, CHATD_ERR_INTERNAL, NULL, NULL, NULL);
		return PG_STEP_DONE;
	}
	struct chatd_send_result dup = { 0 };
	struct chatd_conversation conv = { 0 };
	struct chatd_member self = { 0 };
	bool has_dup = pg_val(r, 0, 0) != NULL;
	if (has_dup) {
		dup.seq = pg_i64(r, 0, 0);
		dup.message_id = pg_val(r, 0, 1);
		dup.ts = pg_i64(r, 0, 2);
		dup.duplicate = true;
	}
	/* The conversation joins the sender's membership: both or none. */
	bool has_conv = pg_val(r, 0, 3) != NULL;
	if (has_conv) {
		pg_read_conv(r, 0, 3, &conv);
		pg_read_member(r, 0, 3 + PG_CONV_NCOLS, &self);
	}
	o->cb(o->arg, CHATD_OK, has_dup ? &dup : NULL, has_conv ? &conv : NULL,
	      has_conv ? &self : NULL);
	return PG_STEP_DONE;
}

static const struct pg_op_type precheck_type = { "precheck", precheck_step, precheck_fail };

int pg_precheck(void *inst, const char *conversation_id, const char *sender_id,
		const char *client_message_id, chatd_precheck_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) ||
	    !store_valid_str(sender_id, CHATD_ID_MAX) ||
	    !store_valid_str(client_message_id, CHATD_CMID_MAX))
		return CHATD_ERR_INVALID;
	struct op_precheck *o = PG_OP_NEW(s, struct op_precheck, &precheck_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, pg_shard_of(s, conversation_id), PG_PRECHECK);
	pg_q_str(q, conversation_id);
	pg_q_str(q, sender_id);
	pg_q_str(q, client_message_id);
	return pg_op_start(&o->base);
}

/* ---- append -------------------------------------------------------- */

struct op_append {
	struct pg_op base;
	struct chatd_send_req req;     /* strings in the arena */
	size_t shard;
	chatd_send_cb cb;
	void *arg;
};

static void append_fail(struct pg_op *op, int status)
{
	struct op_append *o = (struct op_append *)op;
	o->cb(o->arg, status, NULL);
}

/* The append itself; mime NULL: the function reads the media row of its
 * own shard (the user shard, where media rows are). */
static void append_query(struct op_append *o, const char *mime, int64_t size, bool thumb)
{
	const struct chatd_send_req *q = &o->req;
	struct pg_query *x = pg_op_query(&o->base, o->shard, PG_APPEND);
	pg_q_str(x, q->conversation_id);
	pg_q_str(x, q->sender_id);
	pg_q_str(x, q->client_message_id);
	pg_q_str(x, q->text);
	pg_q_str(x, q->media_id);
	pg_q_i64(x, q->reply_to);
	pg_q_i64(x, q->ts);
	pg_q_str(x, q->visibility);
	pg_q_str(x, q->moderation);
	pg_q_bool(x, q->inbox);
	pg_q_str(x, mime);
	if (mime) {
		pg_q_i64(x, size);
		pg_q_bool(x, thumb);
	} else {
		pg_q_str(x, NULL);
		pg_q_str(x, NULL);
	}
}

static int append_step(struct pg_op *op, struct pg_query *done)
{
	struct op_append *o = (struct op_append *)op;
	const PGresult *r = done->res;
	if (o->base.stage == 0 && done->stmt == PG_MEDIA_META) {
		/* No media row: the message is stored without media fields. */
		o->base.stage = 1;
		if (PQntuples(r) == 1)
			append_query(o, pg_val(r, 0, 0), pg_i64(r, 0, 1), pg_bool(r, 0, 2));
		else
			append_query(o, NULL, 0, false);
		return pg_op_continue(op);
	}
	if (PQntuples(r) != 1) {
		o->cb(o->arg, CHATD_ERR_INTERNAL, NULL);
		return PG_STEP_DONE;
	}
	int status = (int)pg_i64(r, 0, 0);
	if (status < 0) {
		o->cb(o->arg, status, NULL);
		return PG_STEP_DONE;
	}
	struct chatd_send_result res = {
		.seq = pg_i64(r, 0, 1),
		.message_id = pg_val(r, 0, 2),
		.ts = pg_i64(r, 0, 3),
		.duplicate = pg_bool(r, 0, 4),
	};
	o->cb(o->arg, CHATD_OK, &res);
	return PG_STEP_DONE;
}

static const struct pg_op_type append_type = { "append", append_step, append_fail };

int pg_append(void *inst, const struct chatd_send_req *req, chatd_send_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!req || !cb || !store_valid_str(req->conversation_id, CHATD_ID_MAX) ||
	    !store_valid_str(req->sender_id, CHATD_ID_MAX) ||
	    !store_valid_str(req->client_message_id, CHATD_CMID_MAX) ||
	    (req->media_id && !store_valid_str(req->media_id, PG_MEDIA_ID_MAX)) ||
	    (!req->text && !req->media_id) || req->reply_to < 0 || req->ts < 0 ||
	    (req->visibility && !store_valid_visibility(req->visibility)))
		return CHATD_ERR_INVALID;
	if ((req->text && strnlen(req->text, PG_TEXT_MAX + 1) > PG_TEXT_MAX) ||
	    (req->moderation && strnlen(req->moderation, PG_NOTE_MAX + 1) > PG_NOTE_MAX))
		return CHATD_ERR_TOO_LARGE;
	struct op_append *o = PG_OP_NEW(s, struct op_append, &append_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	struct pg_op *op = &o->base;
	o->req.conversation_id = pg_op_strdup(op, req->conversation_id);
	o->req.sender_id = pg_op_strdup(op, req->sender_id);
	o->req.client_message_id = pg_op_strdup(op, req->client_message_id);
	o->req.text = pg_op_strdup(op, req->text);
	o->req.media_id = pg_op_strdup(op, req->media_id);
	o->req.visibility = req->visibility ? pg_op_strdup(op, req->visibility) : CHATD_VIS_NORMAL;
	o->req.moderation = pg_op_strdup(op, req->moderation);
	o->req.reply_to = req->reply_to;
	o->req.ts = req->ts;
	o->req.inbox = req->inbox;
	o->shard = pg_shard_of(s, req->conversation_id);
	o->cb = cb;
	o->arg = arg;
	if (req->media_id && o->shard != PG_USER_SHARD) {
		/* The media row lives on the user shard: read it first. */
		struct pg_query *q = pg_op_query(op, PG_USER_SHARD, PG_MEDIA_META);
		pg_q_str(q, req->media_id);
	} else {
		op->stage = 1;
		append_query(o, NULL, 0, false);
	}
	return pg_op_start(op);
}

/* ---- history ------------------------------------------------------- */

struct op_history {
	struct pg_op base;
	int limit;
	bool latest;
	chatd_history_cb cb;
	void *arg;
};

static void history_fail(struct pg_op *op, int status)
{
	struct op_history *o = (struct op_history *)op;
	o->cb(o->arg, status, NULL, 0, false);
}

static int history_step(struct pg_op *op, struct pg_query *done)
{
	struct op_history *o = (struct op_history *)op;
	if (PQntuples(done->res) == 0) {
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, NULL, 0, false);
		return PG_STEP_DONE;
	}
	const PGresult *r = done->op_next->res;
	int rows = PQntuples(r);
	size_t n = rows > o->limit ? (size_t)o->limit : (size_t)rows;
	bool more = rows > o->limit;
	struct chatd_message *msgs = n ? pg_alloc(&op->arena, n * sizeof(*msgs)) : NULL;
	if (n && !msgs) {
		o->cb(o->arg, CHATD_ERR_NOMEM, NULL, 0, false);
		return PG_STEP_DONE;
	}
	/* Newest first when reading the latest: kept ascending. */
	for (size_t i = 0; i < n; i++)
		pg_read_msg(r, (int)i, 0, &msgs[o->latest ? n - 1 - i : i]);
	o->cb(o->arg, CHATD_OK, msgs, n, more);
	return PG_STEP_DONE;
}

static const struct pg_op_type history_type = { "history", history_step, history_fail };

int pg_history(void *inst, const struct chatd_history_req *req, chatd_history_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!req || !cb || !store_valid_str(req->conversation_id, CHATD_ID_MAX) ||
	    (req->user_id && !store_valid_str(req->user_id, CHATD_ID_MAX)) || req->limit < 1)
		return CHATD_ERR_INVALID;
	struct op_history *o = PG_OP_NEW(s, struct op_history, &history_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->limit = req->limit > PG_HISTORY_MAX ? PG_HISTORY_MAX : req->limit;
	/* With `after`, the first `limit` above it; else the latest below
	 * `before`. */
	o->latest = req->after < 0;
	o->cb = cb;
	o->arg = arg;
	size_t shard = pg_shard_of(s, req->conversation_id);
	struct pg_query *q = pg_op_query(&o->base, shard, PG_CONV_EXISTS);
	pg_q_str(q, req->conversation_id);
	q = pg_op_query(&o->base, shard, o->latest ? PG_HISTORY_DESC : PG_HISTORY_ASC);
	pg_q_str(q, req->conversation_id);
	pg_q_i64(q, o->latest ? 0 : req->after);
	pg_q_i64(q, req->before > 0 ? req->before : INT64_MAX);
	pg_q_str(q, req->user_id);
	pg_q_int(q, o->limit + 1);   /* one more tells has_more */
	return pg_op_start(&o->base);
}

/* ---- ops answering with one message -------------------------------- */

struct op_msg {
	struct pg_op base;
	chatd_message_cb cb;
	void *arg;
};

static void msg_fail(struct pg_op *op, int status)
{
	struct op_msg *o = (struct op_msg *)op;
	o->cb(o->arg, status, NULL);
}

/* The last query of the step read the message (PG_MSG_ONE); `status`
 * from the ones before it. */
static int msg_answer(struct op_msg *o, int status, const PGresult *r)
{
	if (status == CHATD_OK && PQntuples(r) != 1)
		status = CHATD_ERR_NOT_FOUND;
	if (status < 0) {
		o->cb(o->arg, status, NULL);
		return PG_STEP_DONE;
	}
	struct chatd_message m = { 0 };
	pg_read_msg(r, 0, 0, &m);
	o->cb(o->arg, CHATD_OK, &m);
	return PG_STEP_DONE;
}

static struct op_msg *msg_op(struct pg_store *s, const struct pg_op_type *type,
			     chatd_message_cb cb, void *arg)
{
	struct op_msg *o = PG_OP_NEW(s, struct op_msg, type);
	if (o) {
		o->cb = cb;
		o->arg = arg;
	}
	return o;
}

static void read_back(struct pg_op *op, size_t shard, const char *cid, int64_t seq)
{
	struct pg_query *q = pg_op_query(op, shard, PG_MSG_ONE);
	pg_q_str(q, cid);
	pg_q_i64(q, seq);
}

/* edit: the function's status, then the message as stored. */
static int edit_step(struct pg_op *op, struct pg_query *done)
{
	int status = PQntuples(done->res) == 1 ? (int)pg_i64(done->res, 0, 0) : CHATD_ERR_INTERNAL;
	return msg_answer((struct op_msg *)op, status, done->op_next->res);
}

static const struct pg_op_type edit_type = { "message_edit", edit_step, msg_fail };

int pg_message_edit(void *inst, const struct chatd_message_edit *e, chatd_message_cb cb,
		    void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!e || !cb || !store_valid_str(e->conversation_id, CHATD_ID_MAX) || e->seq < 1 ||
	    !store_valid_str(e->editor, CHATD_ID_MAX) || !e->text || e->ts < 0 ||
	    (e->visibility && !store_valid_visibility(e->visibility)))
		return CHATD_ERR_INVALID;
	if (strnlen(e->text, PG_TEXT_MAX + 1) > PG_TEXT_MAX ||
	    (e->moderation && strnlen(e->moderation, PG_NOTE_MAX + 1) > PG_NOTE_MAX))
		return CHATD_ERR_TOO_LARGE;
	struct op_msg *o = msg_op(s, &edit_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	size_t shard = pg_shard_of(s, e->conversation_id);
	struct pg_query *q = pg_op_query(&o->base, shard, PG_MSG_EDIT);
	pg_q_str(q, e->conversation_id);
	pg_q_i64(q, e->seq);
	pg_q_str(q, e->editor);
	pg_q_str(q, e->text);
	pg_q_str(q, e->moderation);
	pg_q_str(q, e->visibility);
	pg_q_i64(q, e->ts);
	read_back(&o->base, shard, e->conversation_id, e->seq);
	return pg_op_start(&o->base);
}

/* delete: NOT_FOUND only when there is no such message at all. */
static int delete_step(struct pg_op *op, struct pg_query *done)
{
	return msg_answer((struct op_msg *)op, CHATD_OK, done->op_next->res);
}

static const struct pg_op_type delete_type = { "message_delete", delete_step, msg_fail };

int pg_message_delete(void *inst, const char *conversation_id, int64_t seq, int64_t ts,
		      chatd_message_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1 || ts < 0)
		return CHATD_ERR_INVALID;
	struct op_msg *o = msg_op(s, &delete_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	size_t shard = pg_shard_of(s, conversation_id);
	struct pg_query *q = pg_op_query(&o->base, shard, PG_MSG_DELETE);
	pg_q_str(q, conversation_id);
	pg_q_i64(q, seq);
	pg_q_i64(q, ts);
	read_back(&o->base, shard, conversation_id, seq);
	return pg_op_start(&o->base);
}

/* set_visibility: NOT_FOUND when the update touched nothing. */
static int set_vis_step(struct pg_op *op, struct pg_query *done)
{
	int status = pg_affected(done->res) > 0 ? CHATD_OK : CHATD_ERR_NOT_FOUND;
	return msg_answer((struct op_msg *)op, status, done->op_next->res);
}

static const struct pg_op_type set_vis_type = { "message_set_visibility", set_vis_step, msg_fail };

int pg_set_visibility(void *inst, const char *conversation_id, int64_t seq,
		      const char *visibility, chatd_message_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1 ||
	    !store_valid_visibility(visibility))
		return CHATD_ERR_INVALID;
	struct op_msg *o = msg_op(s, &set_vis_type, cb, arg);
	if (!o)
		return CHATD_ERR_NOMEM;
	size_t shard = pg_shard_of(s, conversation_id);
	struct pg_query *q = pg_op_query(&o->base, shard, PG_SET_VIS);
	pg_q_str(q, conversation_id);
	pg_q_i64(q, seq);
	pg_q_str(q, visibility);
	read_back(&o->base, shard, conversation_id, seq);
	return pg_op_start(&o->base);
}

/* ---- message_get --------------------------------------------------- */

struct op_msg_get {
	struct pg_op base;
	chatd_message_role_cb cb;
	void *arg;
};

static void msg_get_fail(struct pg_op *op, int status)
{
	struct op_msg_get *o = (struct op_msg_get *)op;
	o->cb(o->arg, status, NULL, NULL);
}

static int msg_get_step(struct pg_op *op, struct pg_query *done)
{
	struct op_msg_get *o = (struct op_msg_get *)op;
	const PGresult *r = done->res;
	if (PQntuples(r) != 1) {
		o->cb(o->arg, CHATD_ERR_NOT_FOUND, NULL, NULL);
		return PG_STEP_DONE;
	}
	struct chatd_message m = { 0 };
	pg_read_msg(r, 0, 0, &m);
	o->cb(o->arg, CHATD_OK, &m, pg_val(r, 0, PG_MSG_NCOLS));
	return PG_STEP_DONE;
}

static const struct pg_op_type msg_get_type = { "message_get", msg_get_step, msg_get_fail };

int pg_message_get(void *inst, const char *conversation_id, int64_t seq,
		   chatd_message_role_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1)
		return CHATD_ERR_INVALID;
	struct op_msg_get *o = PG_OP_NEW(s, struct op_msg_get, &msg_get_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, pg_shard_of(s, conversation_id), PG_MSG_GET);
	pg_q_str(q, conversation_id);
	pg_q_i64(q, seq);
	return pg_op_start(&o->base);
}

/* ---- message_hide -------------------------------------------------- */

static int hide_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_status *o = (struct pg_op_status *)op;
	o->cb(o->arg, pg_i64(done->res, 0, 0) > 0 ? CHATD_OK : CHATD_ERR_NOT_FOUND);
	return PG_STEP_DONE;
}

static const struct pg_op_type hide_type = { "message_hide", hide_step, pg_fail_status };

int pg_message_hide(void *inst, const char *user_id, const char *conversation_id, int64_t seq,
		    chatd_status_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || !store_valid_str(user_id, CHATD_ID_MAX) ||
	    !store_valid_str(conversation_id, CHATD_ID_MAX) || seq < 1)
		return CHATD_ERR_INVALID;
	struct pg_op_status *o = PG_OP_NEW(s, struct pg_op_status, &hide_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	struct pg_query *q = pg_op_query(&o->base, pg_shard_of(s, conversation_id), PG_MSG_HIDE);
	pg_q_str(q, user_id);
	pg_q_str(q, conversation_id);
	pg_q_i64(q, seq);
	return pg_op_start(&o->base);
}

/* ---- purge_deleted: every shard ------------------------------------ */

static int purge_step(struct pg_op *op, struct pg_query *done)
{
	struct pg_op_id *o = (struct pg_op_id *)op;
	int64_t n = 0;
	for (struct pg_query *q = done; q; q = q->op_next)
		n += pg_affected(q->res);
	o->cb(o->arg, CHATD_OK, n);
	return PG_STEP_DONE;
}

static const struct pg_op_type purge_type = { "purge_deleted", purge_step, pg_fail_id };

int pg_purge_deleted(void *inst, int64_t before, chatd_id_cb cb, void *arg)
{
	struct pg_store *s = pg_store_of(inst);
	if (!cb || before < 0)
		return CHATD_ERR_INVALID;
	struct pg_op_id *o = PG_OP_NEW(s, struct pg_op_id, &purge_type);
	if (!o)
		return CHATD_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	for (size_t i = 0; i < s->n_shards; i++) {
		struct pg_query *q = pg_op_query(&o->base, i, PG_PURGE);
		pg_q_i64(q, before);
	}
	return pg_op_start(&o->base);
}
