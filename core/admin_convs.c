/* admin_convs.c — /v1/conversations/CONV: show (no content), lock and
 * unlock (the conv.settings change and its conv.event), delete a message
 * for everyone (the delete command's storage op and message_update), and
 * the staff view of the messages around a seq (audited as a content read).
 *
 * Staff are usually not members.  Storage's group change names a member
 * as its actor (it checks membership), so a lock is stored with one of
 * the members as that actor and no role re-check; the event and the audit
 * entry name the staff user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"
#include "log.h"
#include "pipeline.h"
#include "proto_encode.h"

#define MEMBERS_DEFAULT 1000
#define MEMBERS_MAX 10000
#define CONTEXT_DEFAULT 3
#define CONTEXT_MAX 20
#define LOCK_ATTEMPTS 3

static bool groups_ok(struct admin_req *r)
{
	if (r->core->storage_groups)
		return true;
	admin_error(r, 503, "unavailable", "the storage plugin cannot manage groups or delete "
		    "messages");
	return false;
}

json_t *admin_message_json(const struct chatd_message *m)
{
	json_t *o = proto_message(m, false);
	if (!o)
		return NULL;
	json_object_set_new(o, "visibility", json_string(m->visibility ? m->visibility
							 : CHATD_VIS_NORMAL));
	json_error_t e;
	json_t *prov = m->moderation ? json_loads(m->moderation, 0, &e) : NULL;
	if (prov)
		json_object_set_new(o, "moderation", prov);
	return o;
}

/* ---- messages around a seq ---- */

struct around {
	admin_around_cb done;
	void *arg;
};

static void on_history(void *arg, int status, const struct chatd_message *msgs, size_t n,
		       bool has_more)
{
	(void)has_more;
	struct around a = *(struct around *)arg;
	free(arg);
	a.done(a.arg, status, msgs, n);
}

int admin_messages_around(struct core *c, const char *conv, int64_t seq, int n,
			  admin_around_cb done, void *arg)
{
	if (seq < 1 || n < 0 || n > CONTEXT_MAX)
		return CHATD_ERR_INVALID;
	struct around *a = malloc(sizeof *a);
	if (!a)
		return CHATD_ERR_NOMEM;
	*a = (struct around){ .done = done, .arg = arg };
	/* after is exclusive (0: from the first), before exclusive too. */
	struct chatd_history_req q = {
		.conversation_id = conv, .user_id = NULL,
		.after = seq - n - 1 > 0 ? seq - n - 1 : 0, .before = seq + n + 1,
		.limit = 2 * n + 1,
	};
	int st = c->storage->history(c->storage_inst, &q, on_history, a);
	if (st != CHATD_OK)
		free(a);
	return st;
}

static void on_around(void *arg, int status, const struct chatd_message *m, size_t n)
{
	struct admin_req *r = arg;
	if (status == CHATD_ERR_NOT_FOUND) {
		admin_error(r, 404, "not_found", "no such conversation");
		return;
	}
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		return;
	}
	bool found = false;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		found |= m[i].seq == r->id;
		json_array_append_new(a, admin_message_json(&m[i]));
	}
	if (!found) {
		json_decref(a);
		admin_error(r, 404, "not_found", "no such message");
		return;
	}
	audit_record(r->core, r->claims.sub, "content.read", r->arg,
		     json_pack("{s:s, s:I, s:I}", "what", "messages", "around", (json_int_t)r->id,
			       "count", (json_int_t)n));
	admin_reply(r, 200, json_pack("{s:o}", "messages", a));
}

void admin_get_messages(struct admin_req *r)
{
	if (!admin_path_conv(r))
		return;
	long long around = 0, context = CONTEXT_DEFAULT;
	if (!admin_query(r, "around")) {
		admin_error(r, 400, "bad_request", "give ?around=SEQ (and optionally &context=N, "
			    "0..20, default 3)");
		return;
	}
	if (!admin_query_int(r, "around", 1, 1LL << 53, &around) ||
	    !admin_query_int(r, "context", 0, CONTEXT_MAX, &context))
		return;
	r->id = around;
	int st = admin_messages_around(r->core, r->arg, around, (int)context, on_around, r);
	if (st != CHATD_OK)
		admin_status_error(r, st);
}

/* ---- show ---- */

static void on_conv(void *arg, int status, const struct chatd_conversation *conv,
		    const struct chatd_member *members, size_t n)
{
	struct admin_req *r = arg;
	if (status == CHATD_ERR_NOT_FOUND) {
		admin_error(r, 404, "not_found", "no such conversation");
		return;
	}
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		return;
	}
	json_t *ms = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ms, json_pack("{s:s, s:s, s:I, s:I}", "user_id",
						    members[i].user_id, "role", members[i].role,
						    "joined_at", (json_int_t)members[i].joined_at,
						    "muted_until",
						    (json_int_t)members[i].muted_until));
	admin_reply(r, 200, json_pack("{s:o, s:o}", "conversation", proto_conversation(conv),
				      "members", ms));
}

void admin_get_conv(struct admin_req *r)
{
	if (!admin_path_conv(r))
		return;
	long long offset = 0, limit = MEMBERS_DEFAULT;
	if (!admin_query_int(r, "offset", 0, 1LL << 31, &offset) ||
	    !admin_query_int(r, "limit", 0, MEMBERS_MAX, &limit))
		return;
	struct core *c = r->core;
	int st = c->storage->conv_get(c->storage_inst, r->arg, NULL, (size_t)offset, (size_t)limit,
				      on_conv, r);
	if (st != CHATD_OK)
		admin_status_error(r, st);
}

/* ---- lock, unlock ---- */

struct lock {
	struct admin_req *r;
	bool locked;
	int attempts;
	char actor[CHATD_ID_MAX + 1];   /* the member storage acts as */
};

static int lock_read(struct lock *l);

static void lock_finish(struct lock *l, int code, const char *err, const char *message)
{
	if (err)
		admin_error(l->r, code, err, message);
	free(l);
}

static void on_locked(void *arg, int status, const struct chatd_conv_change_result *res)
{
	struct lock *l = arg;
	struct admin_req *r = l->r;
	struct core *c = r->core;
	if (status == CHATD_ERR_NOT_FOUND || status == CHATD_ERR_CONFLICT) {
		/* The member we acted as left meanwhile: pick another. */
		if (++l->attempts < LOCK_ATTEMPTS && lock_read(l) == CHATD_OK)
			return;
		lock_finish(l, 409, "conflict", "the conversation is changing; retry");
		return;
	}
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		lock_finish(l, 0, NULL, NULL);
		return;
	}
	audit_record(c, r->claims.sub, l->locked ? "conv.lock" : "conv.unlock", r->arg,
		     json_object());
	core_settings_changed(c, r->arg, res->conv, r->claims.sub);
	admin_reply(r, 200, json_pack("{s:b}", "locked", l->locked));
	lock_finish(l, 0, NULL, NULL);
}

static void on_lock_read(void *arg, int status, const struct chatd_conversation *conv,
			 const struct chatd_member *members, size_t n)
{
	struct lock *l = arg;
	struct admin_req *r = l->r;
	struct core *c = r->core;
	if (status == CHATD_ERR_NOT_FOUND) {
		lock_finish(l, 404, "not_found", "no such conversation");
		return;
	}
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		lock_finish(l, 0, NULL, NULL);
		return;
	}
	if (strcmp(conv->kind, "group") != 0) {
		lock_finish(l, 400, "bad_request", "only a group can be locked");
		return;
	}
	if (n == 0) {
		lock_finish(l, 409, "conflict", "the group has no members");
		return;
	}
	snprintf(l->actor, sizeof l->actor, "%s", members[0].user_id);
	struct chatd_conv_change ch = {
		.kind = CHATD_CHANGE_SETTINGS, .conversation_id = r->arg, .actor = l->actor,
		.locked = l->locked, .typing = -1, .receipts = -1, .ts = mod_now_ms(),
	};
	int st = c->storage->conv_change(c->storage_inst, &ch, on_locked, l);
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		lock_finish(l, 0, NULL, NULL);
	}
}

static int lock_read(struct lock *l)
{
	struct core *c = l->r->core;
	return c->storage->conv_get(c->storage_inst, l->r->arg, NULL, 0, 1, on_lock_read, l);
}

static void set_locked(struct admin_req *r, bool locked)
{
	if (!admin_path_conv(r) || !groups_ok(r))
		return;
	struct lock *l = calloc(1, sizeof *l);
	if (!l) {
		admin_error(r, 500, "internal", "out of memory");
		return;
	}
	l->r = r;
	l->locked = locked;
	int st = lock_read(l);
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		free(l);
	}
}

void admin_post_lock(struct admin_req *r)
{
	set_locked(r, true);
}

void admin_post_unlock(struct admin_req *r)
{
	set_locked(r, false);
}

/* ---- delete for everyone ---- */

struct del {
	struct core *c;
	admin_status_cb done;
	void *arg;
	int64_t ts;
};

static void on_deleted(void *arg, int status, const struct chatd_message *msg)
{
	struct del d = *(struct del *)arg;
	free(arg);
	if (status == CHATD_OK)
		core_message_deleted(d.c, msg, d.ts, 0);
	d.done(d.arg, status);
}

int admin_delete_for_everyone(struct core *c, const char *conv, int64_t seq,
			      admin_status_cb done, void *arg)
{
	if (!c->storage_groups)
		return CHATD_ERR_UNAVAILABLE;
	struct del *d = malloc(sizeof *d);
	if (!d)
		return CHATD_ERR_NOMEM;
	*d = (struct del){ .c = c, .done = done, .arg = arg, .ts = mod_now_ms() };
	int st = c->storage->message_delete(c->storage_inst, conv, seq, d->ts, on_deleted, d);
	if (st != CHATD_OK)
		free(d);
	return st;
}

static void on_staff_deleted(void *arg, int status)
{
	struct admin_req *r = arg;
	if (status == CHATD_ERR_NOT_FOUND) {
		admin_error(r, 404, "not_found", "no such message");
		return;
	}
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		return;
	}
	audit_record(r->core, r->claims.sub, "message.delete", r->arg,
		     json_pack("{s:I}", "seq", (json_int_t)r->id));
	admin_reply(r, 200, json_pack("{s:b}", "deleted", 1));
}

void admin_delete_message(struct admin_req *r)
{
	if (!admin_path_conv(r) || !groups_ok(r))
		return;
	int st = admin_delete_for_everyone(r->core, r->arg, r->id, on_staff_deleted, r);
	if (st != CHATD_OK)
		admin_status_error(r, st);
}
