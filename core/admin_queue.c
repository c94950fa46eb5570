/* admin_queue.c — the moderation queue (/v1/queue…) and its appeal-only
 * aliases (/v1/appeals…): list, one item (optionally with the messages
 * around it: a content read, audited), and resolving an item. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"
#include "pipeline.h"

#define LIST_MAX 1000
#define CONTEXT_MAX 20

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static json_t *item_json(const struct chatd_mod_item *it)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(it->id));
	set_str(o, "kind", it->kind);
	set_str(o, "status", it->status);
	set_str(o, "conversation_id", it->conversation_id);
	json_object_set_new(o, "seq", it->seq ? json_integer(it->seq) : json_null());
	set_str(o, "subject_id", it->subject_id);
	set_str(o, "filed_by", it->filed_by);
	set_str(o, "reason", it->reason);
	set_str(o, "note", it->note);
	json_error_t e;
	json_t *d = it->detail ? json_loads(it->detail, 0, &e) : NULL;
	json_object_set_new(o, "detail", d ? d : json_null());
	json_object_set_new(o, "created_at", json_integer(it->created_at));
	set_str(o, "actor", it->actor);
	set_str(o, "action", it->action);
	set_str(o, "resolution_note", it->resolution_note);
	json_object_set_new(o, "resolved_at", it->resolved_at ? json_integer(it->resolved_at)
				: json_null());
	return o;
}

/* ---- lists ---- */

static void on_list(void *arg, int status, const struct chatd_mod_item *items, size_t n)
{
	struct admin_req *r = arg;
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, item_json(&items[i]));
	admin_reply(r, 200, json_pack("{s:o, s:I}", "items", a, "next_after",
				      (json_int_t)(n ? items[n - 1].id : 0)));
}

/* kind: a fixed kind (appeals), or NULL to read ?kind=. */
static void list(struct admin_req *r, const char *kind)
{
	const char *status = admin_query(r, "status");
	if (!kind)
		kind = admin_query(r, "kind");
	long long after = 0, limit = 100;
	if (!admin_list_filter_ok(status, kind)) {
		admin_error(r, 400, "bad_request", "status: open|actioned|dismissed; "
			    "kind: report|flag|hold|appeal");
		return;
	}
	if (!admin_query_int(r, "after", 0, INT64_MAX, &after) ||
	    !admin_query_int(r, "limit", 1, LIST_MAX, &limit))
		return;
	/* Copy the filters: the query list goes with the request. */
	char st[16] = "", kd[16] = "";
	if (status)
		snprintf(st, sizeof st, "%s", status);
	if (kind)
		snprintf(kd, sizeof kd, "%s", kind);
	struct core *c = r->core;
	int rc = c->storage->mod_item_list(c->storage_inst, 0, status ? st : NULL,
					   kind ? kd : NULL, after, (int)limit, on_list, r);
	if (rc != CHATD_OK)
		admin_status_error(r, rc);
}

void admin_get_queue(struct admin_req *r)
{
	list(r, NULL);
}

void admin_get_appeals(struct admin_req *r)
{
	list(r, "appeal");
}

/* ---- one item ---- */

struct item_get {
	struct admin_req *r;
	int context;                 /* messages each side; -1: none asked */
	bool appeal_only;
	json_t *item;                /* while the context is read */
	char conv[CHATD_ID_MAX + 1];
	int64_t seq;
};

static void on_context(void *arg, int status, const struct chatd_message *m, size_t n)
{
	struct item_get *g = arg;
	struct admin_req *r = g->r;
	json_t *item = g->item;
	if (status != CHATD_OK && status != CHATD_ERR_NOT_FOUND) {
		json_decref(item);
		admin_status_error(r, status);
		free(g);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, admin_message_json(&m[i]));
	json_object_set_new(item, "context", a);
	audit_record(r->core, r->claims.sub, "content.read", g->conv,
		     json_pack("{s:s, s:I, s:I, s:I}", "what", "queue_context", "item",
			       (json_int_t)r->id, "around", (json_int_t)g->seq, "count",
			       (json_int_t)n));
	admin_reply(r, 200, item);
	free(g);
}

static void on_item(void *arg, int status, const struct chatd_mod_item *items, size_t n)
{
	struct item_get *g = arg;
	struct admin_req *r = g->r;
	if (status == CHATD_OK && (n != 1 || (g->appeal_only && strcmp(items[0].kind, "appeal"))))
		status = CHATD_ERR_NOT_FOUND;
	if (status != CHATD_OK) {
		if (status == CHATD_ERR_NOT_FOUND)
			admin_error(r, 404, "not_found", g->appeal_only ? "no such appeal"
				    : "no such queue item");
		else
			admin_status_error(r, status);
		free(g);
		return;
	}
	json_t *item = item_json(&items[0]);
	bool has_msg = items[0].conversation_id && items[0].seq > 0;
	if (g->context < 0 || !has_msg) {
		if (g->context >= 0)
			json_object_set_new(item, "context", json_array());
		admin_reply(r, 200, item);
		free(g);
		return;
	}
	g->item = item;
	snprintf(g->conv, sizeof g->conv, "%s", items[0].conversation_id);
	g->seq = items[0].seq;
	int st = admin_messages_around(r->core, g->conv, g->seq, g->context, on_context, g);
	if (st != CHATD_OK) {
		json_decref(item);
		admin_status_error(r, st);
		free(g);
	}
}

static void get_item(struct admin_req *r, bool appeal_only)
{
	long long context = -1;
	if (!admin_query_int(r, "context", 0, CONTEXT_MAX, &context))
		return;
	struct item_get *g = calloc(1, sizeof *g);
	if (!g) {
		admin_error(r, 500, "internal", "out of memory");
		return;
	}
	*g = (struct item_get){ .r = r, .context = (int)context, .appeal_only = appeal_only };
	struct core *c = r->core;
	int rc = c->storage->mod_item_list(c->storage_inst, r->id, NULL, NULL, 0, 1, on_item, g);
	if (rc != CHATD_OK) {
		free(g);
		admin_status_error(r, rc);
	}
}

void admin_get_queue_item(struct admin_req *r)
{
	get_item(r, false);
}

void admin_get_appeal(struct admin_req *r)
{
	get_item(r, true);
}

/* ---- resolving: look the item up, act, then close it ---- */

struct resolve {
	struct admin_req *r;
	char action[ADMIN_ACTION_MAX];
	char note[ADMIN_NOTE_BYTES];
	int64_t duration_ms;
	bool appeal_only;            /* the /v1/appeals aliases */
	char kind[16];
	char conv[CHATD_ID_MAX + 1];
	int64_t seq;
	char subject[CHATD_ID_MAX + 1];
	char sanction[16];           /* appeals: the sanction appealed */
	const char *status;          /* the item's new status */
	int warned;                  /* warn: sessions the notice went to */
};

static void resolve_fail(struct resolve *v, int code, const char *message)
{
	admin_error(v->r, code, code == 409 ? "conflict" : code == 404 ? "not_found"
		    : "bad_request", message);
	free(v);
}

static void resolve_done(struct resolve *v, int status)
{
	struct admin_req *r = v->r;
	if (status != CHATD_OK) {
		admin_status_error(r, status);
	} else {
		json_t *d = json_pack("{s:I, s:s, s:s, s:s}", "item", (json_int_t)r->id, "kind",
				      v->kind, "action", v->action, "note", v->note);
		if (d && v->conv[0] && v->seq > 0) {
			json_object_set_new(d, "conversation_id", json_string(v->conv));
			json_object_set_new(d, "seq", json_integer(v->seq));
		}
		if (d && strcmp(v->action, "warn") == 0)
			json_object_set_new(d, "sessions", json_integer(v->warned));
		audit_record(r->core, r->claims.sub, "queue.resolve", v->subject, d);
		admin_reply(r, 200, json_pack("{s:b, s:I, s:s, s:s}", "ok", 1, "id",
					      (json_int_t)r->id, "status", v->status, "action",
					      v->action));
	}
	free(v);
}

static void on_resolved(void *arg, int status)
{
	resolve_done(arg, status);
}

static void close_item(struct resolve *v)
{
	struct core *c = v->r->core;
	int rc = c->storage->mod_item_resolve(c->storage_inst, v->r->id, v->status, v->action,
					      v->r->claims.sub, v->note, mod_now_ms(),
					      on_resolved, v);
	if (rc != CHATD_OK)
		resolve_done(v, rc);
}

static void on_visibility(void *arg, int status, const struct chatd_message *m)
{
	struct resolve *v = arg;
	if (status != CHATD_OK) {
		resolve_done(v, status);
		return;
	}
	if (strcmp(v->action, "approve") == 0)
		core_publish_message(v->r->core, m, 0);
	close_item(v);
}

static int set_visibility(struct resolve *v, const char *vis)
{
	struct core *c = v->r->core;
	return c->storage->message_set_visibility(c->storage_inst, v->conv, v->seq, vis,
						  on_visibility, v);
}

static void on_item_deleted(void *arg, int status)
{
	struct resolve *v = arg;
	if (status != CHATD_OK)
		resolve_done(v, status);
	else
		close_item(v);
}

/* The user gets a notice frame {"type":"notice","code":"warning",
 * "message":note} on each of their sessions here. */
static int warn_user(struct resolve *v)
{
	chatd_frame *f = core_encode(json_pack("{s:s, s:s, s:s}", "type", "notice", "code",
					       "warning", "message", v->note));
	if (!f)
		return CHATD_ERR_NOMEM;
	v->warned = core_deliver_user(v->r->core, v->subject, f, 0);
	frame_unref(f);
	return CHATD_OK;
}

/* Copies what the item says into v; false after replying. */
static bool read_item(struct resolve *v, const struct chatd_mod_item *it)
{
	if (v->appeal_only && strcmp(it->kind, "appeal") != 0) {
		resolve_fail(v, 404, "no such appeal");
		return false;
	}
	if (strcmp(it->status, "open") != 0) {
		resolve_fail(v, 409, "the item is already closed");
		return false;
	}
	snprintf(v->kind, sizeof v->kind, "%s", it->kind);
	snprintf(v->conv, sizeof v->conv, "%s", it->conversation_id ? it->conversation_id : "");
	v->seq = it->seq;
	snprintf(v->subject, sizeof v->subject, "%s", it->subject_id ? it->subject_id : "");
	json_error_t e;
	json_t *d = it->detail ? json_loads(it->detail, 0, &e) : NULL;
	const char *s = json_string_value(json_object_get(d, "sanction"));
	snprintf(v->sanction, sizeof v->sanction, "%s", s ? s : "none");
	json_decref(d);
	return true;
}

static void on_item_for_resolve(void *arg, int status, const struct chatd_mod_item *items,
				size_t n)
{
	struct resolve *v = arg;
	struct core *c = v->r->core;
	if (status == CHATD_OK && n != 1) {
		resolve_fail(v, 404, v->appeal_only ? "no such appeal" : "no such queue item");
		return;
	}
	if (status != CHATD_OK) {
		resolve_done(v, status);
		return;
	}
	if (!read_item(v, &items[0]))
		return;
	const char *a = v->action;
	bool is_hold = strcmp(v->kind, "hold") == 0, is_appeal = strcmp(v->kind, "appeal") == 0;
	bool has_msg = v->conv[0] && v->seq > 0;
	v->status = "actioned";
	int rc = CHATD_OK;
	if (strcmp(a, "dismiss") == 0 || (is_appeal && strcmp(a, "deny") == 0)) {
		/* A dismissed hold stays held: approving or rejecting decides it. */
		if (is_hold) {
			resolve_fail(v, 400, "a held message is approved or rejected");
			return;
		}
		v->status = "dismissed";
		close_item(v);
		return;
	}
	if ((strcmp(a, "approve") == 0 || strcmp(a, "reject") == 0 || strcmp(a, "remove") == 0 ||
	     strcmp(a, "delete") == 0) && !has_msg) {
		resolve_fail(v, 400, "this item is about no message");
		return;
	}
	if ((strcmp(a, "ban") == 0 || strcmp(a, "shadowban") == 0 || strcmp(a, "block") == 0 ||
	     strcmp(a, "mute") == 0 || strcmp(a, "warn") == 0) && !v->subject[0]) {
		resolve_fail(v, 400, "this item is about no user");
		return;
	}
	if (strcmp(a, "approve") == 0) {
		if (!is_hold)
			v->status = "dismissed";   /* the content is fine: nothing to act on */
		if (is_hold)
			rc = set_visibility(v, CHATD_VIS_NORMAL);
		else
			close_item(v);
	} else if (strcmp(a, "reject") == 0 || strcmp(a, "remove") == 0) {
		rc = set_visibility(v, is_hold ? CHATD_VIS_REJECTED : CHATD_VIS_SHADOW);
	} else if (strcmp(a, "delete") == 0) {
		rc = admin_delete_for_everyone(c, v->conv, v->seq, on_item_deleted, v);
	} else if (is_appeal && strcmp(a, "grant") == 0) {
		if (strcmp(v->sanction, "none") != 0)
			moderation_lift(c, v->subject, v->sanction, v->r->claims.sub);
		close_item(v);
	} else if (strcmp(a, "warn") == 0) {
		if (!v->note[0]) {
			resolve_fail(v, 400, "warn needs a note: the text the user is shown");
			return;
		}
		rc = warn_user(v);
		if (rc == CHATD_OK)
			close_item(v);
	} else if (strcmp(a, "ban") == 0 || strcmp(a, "shadowban") == 0 ||
		   strcmp(a, "block") == 0 || strcmp(a, "mute") == 0) {
		const char *kind = strcmp(a, "shadowban") == 0 ? "shadow"
				   : strcmp(a, "mute") == 0 ? "block" : a;
		int64_t until = v->duration_ms > 0 ? mod_now_ms() + v->duration_ms : 0;
		if (strcmp(kind, "block") == 0 && until == 0) {
			resolve_fail(v, 400, "block and mute need duration_ms");
			return;
		}
		rc = moderation_sanction(c, v->subject, kind, until, v->note, v->r->claims.sub);
		if (rc == CHATD_OK)
			close_item(v);
	} else {
		resolve_fail(v, 400, "action: approve|reject|remove|delete|dismiss (messages), "
			     "ban|shadowban|block|mute|warn (the user), grant|deny (appeals)");
		return;
	}
	if (rc != CHATD_OK)
		resolve_done(v, rc);
}

static void resolve(struct admin_req *r, const char *action, bool appeal_only)
{
	struct resolve *v = calloc(1, sizeof *v);
	if (!v) {
		admin_error(r, 500, "internal", "out of memory");
		return;
	}
	v->r = r;
	v->appeal_only = appeal_only;
	struct admin_resolve_args a;
	const char *bad = admin_parse_resolve(r->body, action, &a);
	if (bad) {
		free(v);
		admin_error(r, 400, "bad_request", bad);
		return;
	}
	snprintf(v->action, sizeof v->action, "%s", a.action);
	snprintf(v->note, sizeof v->note, "%s", a.note ? a.note : "");
	v->duration_ms = a.duration_ms;
	struct core *c = r->core;
	int rc = c->storage->mod_item_list(c->storage_inst, r->id, NULL, NULL, 0, 1,
					   on_item_for_resolve, v);
	if (rc != CHATD_OK) {
		free(v);
		admin_status_error(r, rc);
	}
}

void admin_post_resolve(struct admin_req *r)
{
	resolve(r, NULL, false);
}

void admin_post_approve(struct admin_req *r)
{
	resolve(r, "approve", false);
}

void admin_post_reject(struct admin_req *r)
{
	resolve(r, "reject", false);
}

void admin_post_grant(struct admin_req *r)
{
	resolve(r, "grant", true);
}

void admin_post_deny(struct admin_req *r)
{
	resolve(r, "deny", true);
}
