/* admin_routes.c — the admin API's /v1/ routes (see admin.h and
 * docs/admin-api.md).  Moderators may read and act on the queue and on
 * users; changing rules is for admins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"
#include "auth.h"
#include "host_api.h"
#include "log.h"
#include "pipeline.h"
#include "rules_dryrun.h"
#include "sessions.h"

#define LIST_MAX 1000
#define NOTE_MAX 2000

static bool need_role(struct admin_req *r, enum admin_role min)
{
	if (r->role >= min)
		return true;
	admin_error(r, 403, "forbidden", min == ADMIN_ROLE_ADMIN ? "needs the admin role"
		    : "needs the moderator or admin role");
	return false;
}

static const char *body_str(struct admin_req *r, const char *key)
{
	return json_string_value(json_object_get(r->body, key));
}

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

/* ---- status, rules ---- */

static void get_status(struct admin_req *r)
{
	struct core *c = r->core;
	admin_reply(r, 200, json_pack("{s:s, s:s, s:I, s:b, s:I}", "version", PACKAGE_VERSION,
				      "node_id", c->cfg->node_id, "sessions",
				      (json_int_t)sessions_count(&c->sessions), "storage_ready",
				      c->storage_ready, "rules_version",
				      (json_int_t)moderation_rules_version(c)));
}

/* Every plugin's counters, "<kind>_<name>.<counter>": value. */
static void get_metrics(struct admin_req *r)
{
	struct core *c = r->core;
	json_t *m = json_object();
	for (int k = 0; m && k < CFG_N_KINDS; k++) {
		const struct chatd_plugin_handle *h = c->plugins[k].handle;
		for (size_t i = 0; h && i < h->n_metrics; i++) {
			char key[sizeof h->section + sizeof h->metrics[i].name + 1];
			snprintf(key, sizeof key, "%s.%s", h->section, h->metrics[i].name);
			json_object_set_new(m, key, json_integer(h->metrics[i].value));
		}
	}
	admin_reply(r, 200, m ? json_pack("{s:o}", "metrics", m) : NULL);
}

static void get_rules(struct admin_req *r)
{
	admin_reply(r, 200, moderation_rules_json(r->core));
}

static void post_rules_reload(struct admin_req *r)
{
	if (!need_role(r, ADMIN_ROLE_ADMIN))
		return;
	char err[512];
	if (moderation_reload(r->core, r->claims.sub, err, sizeof err) < 0) {
		admin_reply(r, 422, json_pack("{s:{s:s, s:s}, s:I}", "error", "code", "rules_invalid",
					      "message", err, "kept_version",
					      (json_int_t)moderation_rules_version(r->core)));
		return;
	}
	admin_reply(r, 200, json_pack("{s:b, s:I}", "ok", 1, "version",
				      (json_int_t)moderation_rules_version(r->core)));
}

static void on_dryrun(void *arg, int status, json_t *result)
{
	struct admin_req *r = arg;
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		return;
	}
	admin_reply(r, 200, result);
}

static void post_rules_dryrun(struct admin_req *r)
{
	if (!need_role(r, ADMIN_ROLE_ADMIN))
		return;
	const char *conv = body_str(r, "conversation_id");
	json_t *lim = json_object_get(r->body, "limit");
	if (!conv || strlen(conv) > CHATD_ID_MAX ||
	    (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
		     json_integer_value(lim) > 200))) {
		admin_error(r, 400, "bad_request", "body: {\"conversation_id\": …, \"limit\"?: 1..200 "
			    "(default 200)}");
		return;
	}
	char err[512];
	int st = rules_dryrun(r->core, conv, lim ? (int)json_integer_value(lim) : 200, on_dryrun,
			      r, err, sizeof err);
	if (st == CHATD_ERR_INVALID)
		admin_reply(r, 422, json_pack("{s:{s:s, s:s}}", "error", "code", "rules_invalid",
					      "message", err));
	else if (st != CHATD_OK)
		admin_status_error(r, st);
}

/* ---- queue ---- */

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

static void on_items(void *arg, int status, const struct chatd_mod_item *items, size_t n)
{
	struct admin_req *r = arg;
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		return;
	}
	if (r->id > 0) {
		if (n != 1)
			admin_error(r, 404, "not_found", "no such queue item");
		else
			admin_reply(r, 200, item_json(&items[0]));
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, item_json(&items[i]));
	admin_reply(r, 200, json_pack("{s:o, s:I}", "items", a, "next_after",
				      (json_int_t)(n ? items[n - 1].id : 0)));
}

static bool one_of(const char *v, const char *const *allowed)
{
	for (; v && *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return true;
	return false;
}

static void get_queue(struct admin_req *r)
{
	static const char *const statuses[] = { "open", "actioned", "dismissed", NULL };
	static const char *const kinds[] = { "report", "flag", "hold", "appeal", NULL };
	const char *status = admin_query(r, "status");
	const char *kind = admin_query(r, "kind");
	long long after = 0, limit = 100;
	if ((status && !one_of(status, statuses)) || (kind && !one_of(kind, kinds))) {
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
					   kind ? kd : NULL, after, (int)limit, on_items, r);
	if (rc != CHATD_OK)
		admin_status_error(r, rc);
}

static void get_queue_item(struct admin_req *r)
{
	struct core *c = r->core;
	int rc = c->storage->mod_item_list(c->storage_inst, r->id, NULL, NULL, 0, 1, on_items, r);
	if (rc != CHATD_OK)
		admin_status_error(r, rc);
}

/* Resolving an item: look it up, act, then close it. */
struct resolve {
	struct admin_req *r;
	char action[32];
	char note[NOTE_MAX * 4 + 1];
	int64_t duration_ms;
	char kind[16];
	char conv[CHATD_ID_MAX + 1];
	int64_t seq;
	char subject[CHATD_ID_MAX + 1];
	char sanction[16];           /* appeals: the sanction appealed */
	const char *status;          /* the item's new status */
};

static void resolve_done(struct resolve *v, int status)
{
	struct admin_req *r = v->r;
	if (status != CHATD_OK) {
		admin_status_error(r, status);
	} else {
		audit_record(r->core, r->claims.sub, "queue.resolve", v->subject,
			     json_pack("{s:I, s:s, s:s, s:s}", "item", (json_int_t)r->id, "kind",
				       v->kind, "action", v->action, "note", v->note));
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
	if (strcmp(v->action, "approve") == 0 && v->r->core)
		core_publish_message(v->r->core, m, 0);
	close_item(v);
}

static int set_visibility(struct resolve *v, const char *vis)
{
	struct core *c = v->r->core;
	return c->storage->message_set_visibility(c->storage_inst, v->conv, v->seq, vis,
						  on_visibility, v);
}

static void on_item_for_resolve(void *arg, int status, const struct chatd_mod_item *items,
				size_t n)
{
	struct resolve *v = arg;
	struct core *c = v->r->core;
	if (status == CHATD_OK && n != 1)
		status = CHATD_ERR_NOT_FOUND;
	if (status != CHATD_OK) {
		resolve_done(v, status);
		return;
	}
	const struct chatd_mod_item *it = &items[0];
	if (strcmp(it->status, "open") != 0) {
		admin_error(v->r, 409, "conflict", "the item is already closed");
		free(v);
		return;
	}
	snprintf(v->kind, sizeof v->kind, "%s", it->kind);
	snprintf(v->conv, sizeof v->conv, "%s", it->conversation_id ? it->conversation_id : "");
	v->seq = it->seq;
	snprintf(v->subject, sizeof v->subject, "%s", it->subject_id ? it->subject_id : "");
	json_error_t e;
	json_t *d = it->detail ? json_loads(it->detail, 0, &e) : NULL;
	snprintf(v->sanction, sizeof v->sanction, "%s",
		 json_string_value(json_object_get(d, "sanction")) ?
		 json_string_value(json_object_get(d, "sanction")) : "none");
	json_decref(d);

	const char *a = v->action;
	bool is_hold = strcmp(v->kind, "hold") == 0, is_appeal = strcmp(v->kind, "appeal") == 0;
	bool has_msg = v->conv[0] && v->seq > 0;
	v->status = "actioned";
	int rc = CHATD_OK;
	if (strcmp(a, "dismiss") == 0 || (is_appeal && strcmp(a, "deny") == 0)) {
		/* A dismissed hold stays held: approving or rejecting decides it. */
		v->status = "dismissed";
		if (is_hold) {
			admin_error(v->r, 400, "bad_request", "a held message is approved or rejected");
			free(v);
			return;
		}
		close_item(v);
		return;
	}
	if (strcmp(a, "approve") == 0 && has_msg) {
		if (!is_hold)
			v->status = "dismissed";   /* the content is fine: nothing to act on */
		rc = is_hold ? set_visibility(v, CHATD_VIS_NORMAL) : CHATD_OK;
		if (rc == CHATD_OK && !is_hold)
			close_item(v);
	} else if ((strcmp(a, "reject") == 0 || strcmp(a, "remove") == 0) && has_msg) {
		rc = set_visibility(v, is_hold ? CHATD_VIS_REJECTED : CHATD_VIS_SHADOW);
	} else if (is_appeal && strcmp(a, "grant") == 0) {
		if (strcmp(v->sanction, "none") != 0)
			moderation_lift(c, v->subject, v->sanction, v->r->claims.sub);
		close_item(v);
	} else if ((strcmp(a, "ban") == 0 || strcmp(a, "shadowban") == 0 ||
		    strcmp(a, "block") == 0) && v->subject[0]) {
		const char *kind = strcmp(a, "shadowban") == 0 ? "shadow" : a;
		int64_t until = v->duration_ms > 0 ? mod_now_ms() + v->duration_ms : 0;
		if (strcmp(kind, "block") == 0 && until == 0) {
			admin_error(v->r, 400, "bad_request", "block needs duration_ms");
			free(v);
			return;
		}
		rc = moderation_sanction(c, v->subject, kind, until, v->note, v->r->claims.sub);
		if (rc == CHATD_OK)
			close_item(v);
	} else {
		admin_error(v->r, 400, "bad_request",
			    "action: approve|reject|remove|dismiss (messages), ban|shadowban|block "
			    "(the user), grant|deny (appeals)");
		free(v);
		return;
	}
	if (rc != CHATD_OK)
		resolve_done(v, rc);
}

static void post_queue_resolve(struct admin_req *r, const char *action)
{
	struct resolve *v = calloc(1, sizeof *v);
	if (!v) {
		admin_error(r, 500, "internal", "out of memory");
		return;
	}
	v->r = r;
	const char *a = action ? action : body_str(r, "action");
	const char *note = body_str(r, "note");
	json_t *dur = json_object_get(r->body, "duration_ms");
	if (!a || strlen(a) >= sizeof v->action || (note && strlen(note) >= sizeof v->note) ||
	    (dur && (!json_is_integer(dur) || json_integer_value(dur) < 0))) {
		free(v);
		admin_error(r, 400, "bad_request", "body: {\"action\": …, \"note\"?: text, "
			    "\"duration_ms\"?: integer >= 0}");
		return;
	}
	snprintf(v->action, sizeof v->action, "%s", a);
	snprintf(v->note, sizeof v->note, "%s", note ? note : "");
	v->duration_ms = dur ? json_integer_value(dur) : 0;
	struct core *c = r->core;
	int rc = c->storage->mod_item_list(c->storage_inst, r->id, NULL, NULL, 0, 1,
					   on_item_for_resolve, v);
	if (rc != CHATD_OK) {
		free(v);
		admin_status_error(r, rc);
	}
}

/* ---- users' sanctions ---- */

static void post_sanction(struct admin_req *r)
{
	const char *kind = body_str(r, "kind");
	const char *reason = body_str(r, "reason");
	json_t *dur = json_object_get(r->body, "duration_ms");
	if (!kind || (dur && (!json_is_integer(dur) || json_integer_value(dur) < 0)) ||
	    (reason && strlen(reason) > 1000)) {
		admin_error(r, 400, "bad_request", "body: {\"kind\": \"ban\"|\"shadow\"|\"block\", "
			    "\"duration_ms\"?: integer (0 or absent: permanent), \"reason\"?: text}");
		return;
	}
	int64_t d = dur ? json_integer_value(dur) : 0;
	if (strcmp(kind, "block") == 0 && d == 0) {
		admin_error(r, 400, "bad_request", "block needs duration_ms");
		return;
	}
	int st = moderation_sanction(r->core, r->arg, kind, d ? mod_now_ms() + d : 0, reason,
				     r->claims.sub);
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		return;
	}
	admin_reply(r, 200, moderation_sanctions_json(r->core, r->arg, mod_now_ms()));
}

static void delete_sanction(struct admin_req *r, const char *kind)
{
	int st = moderation_lift(r->core, r->arg, kind, r->claims.sub);
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		return;
	}
	admin_reply(r, 200, moderation_sanctions_json(r->core, r->arg, mod_now_ms()));
}

/* ---- audit ---- */

static void on_audit(void *arg, int status, const struct chatd_audit_entry *items, size_t n)
{
	struct admin_req *r = arg;
	if (status != CHATD_OK) {
		admin_status_error(r, status);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct chatd_audit_entry *e = &items[i];
		json_error_t je;
		json_t *d = e->detail ? json_loads(e->detail, 0, &je) : NULL;
		json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:s, s:s}", "id",
			(json_int_t)e->id, "ts", (json_int_t)e->ts, "actor", e->actor ? e->actor : "",
			"event", e->event ? e->event : "", "subject", e->subject ? e->subject : "",
			"detail", d ? d : json_null(), "prev_hash", e->prev_hash ? e->prev_hash : "",
			"hash", e->hash ? e->hash : ""));
	}
	admin_reply(r, 200, json_pack("{s:o}", "entries", a));
}

static void get_audit(struct admin_req *r)
{
	long long after = 0, limit = 100, newest = 0;
	if (!admin_query_int(r, "after", 0, INT64_MAX, &after) ||
	    !admin_query_int(r, "limit", 1, LIST_MAX, &limit) ||
	    !admin_query_int(r, "newest", 0, 1, &newest))
		return;
	struct core *c = r->core;
	int rc = c->storage->audit_list(c->storage_inst, after, (int)limit, newest != 0, on_audit, r);
	if (rc != CHATD_OK)
		admin_status_error(r, rc);
}

static void on_verified(void *arg, json_t *result)
{
	struct admin_req *r = arg;
	if (!result) {
		admin_error(r, 500, "internal", "out of memory");
		return;
	}
	admin_reply(r, 200, result);
}

static void get_audit_verify(struct admin_req *r)
{
	int rc = audit_verify(r->core, on_verified, r);
	if (rc != CHATD_OK)
		admin_status_error(r, rc);
}

/* ---- appeals (any user's token) ---- */

static void on_appeal(void *arg, int status, int64_t id)
{
	struct admin_req *r = arg;
	if (status != CHATD_OK && status != CHATD_ERR_EXISTS) {
		admin_status_error(r, status);
		return;
	}
	char aid[24];
	snprintf(aid, sizeof aid, "%lld", (long long)id);
	if (status == CHATD_OK)
		audit_record(r->core, r->claims.sub, "appeal.filed", r->claims.sub,
			     json_pack("{s:s}", "appeal_id", aid));
	admin_reply(r, status == CHATD_OK ? 201 : 200,
		    json_pack("{s:b, s:s, s:b}", "ok", 1, "appeal_id", aid, "duplicate",
			      status == CHATD_ERR_EXISTS));
}

static void post_appeal(struct admin_req *r)
{
	const char *text = body_str(r, "text");
	if (!text || !*text || strlen(text) > 8000) {
		admin_error(r, 400, "bad_request", "body: {\"text\": \"why the sanction should be "
			    "lifted\"} (1 to 2000 characters)");
		return;
	}
	int rc = moderation_file_appeal(r->core, r->claims.sub, text, on_appeal, r);
	if (rc != CHATD_OK)
		admin_status_error(r, rc);
}

/* ---- routing ---- */

/* Matches "/v1/queue/123/resolve"-style paths: pattern segments "*" (any
 * id-like text, copied to r->arg) and "#" (a positive integer, r->id). */
static bool match(struct admin_req *r, const char *method, const char *pattern)
{
	if (strcmp(r->method, method) != 0)
		return false;
	const char *p = r->path, *q = pattern;
	while (*q) {
		if (*q == '*' || *q == '#') {
			size_t n = strcspn(p, "/");
			if (n == 0 || n >= sizeof r->arg)
				return false;
			if (*q == '#') {
				char buf[24];
				if (n >= sizeof buf)
					return false;
				memcpy(buf, p, n);
				buf[n] = '\0';
				char *end;
				long long v = strtoll(buf, &end, 10);
				if (*end || v <= 0)
					return false;
				r->id = v;
			} else {
				memcpy(r->arg, p, n);
				r->arg[n] = '\0';
			}
			p += n;
			q++;
			continue;
		}
		if (*p != *q)
			return false;
		p++;
		q++;
	}
	return *p == '\0';
}

void admin_route(struct admin_req *r)
{
	if (!r->core->mod) {
		admin_error(r, 503, "unavailable", "moderation is not running");
		return;
	}
	if (match(r, "POST", "/v1/appeals")) {
		post_appeal(r);
		return;
	}
	if (!need_role(r, ADMIN_ROLE_MODERATOR))
		return;
	if (match(r, "GET", "/v1/status"))
		get_status(r);
	else if (match(r, "GET", "/v1/metrics"))
		get_metrics(r);
	else if (match(r, "GET", "/v1/rules"))
		get_rules(r);
	else if (match(r, "POST", "/v1/rules/reload"))
		post_rules_reload(r);
	else if (match(r, "POST", "/v1/rules/dry-run"))
		post_rules_dryrun(r);
	else if (match(r, "GET", "/v1/queue"))
		get_queue(r);
	else if (match(r, "GET", "/v1/queue/#"))
		get_queue_item(r);
	else if (match(r, "POST", "/v1/queue/#/resolve"))
		post_queue_resolve(r, NULL);
	else if (match(r, "POST", "/v1/queue/#/approve"))
		post_queue_resolve(r, "approve");
	else if (match(r, "POST", "/v1/queue/#/reject"))
		post_queue_resolve(r, "reject");
	else if (match(r, "GET", "/v1/audit"))
		get_audit(r);
	else if (match(r, "GET", "/v1/audit/verify"))
		get_audit_verify(r);
	else if (match(r, "GET", "/v1/users/*/sanctions") && auth_user_id_valid(r->arg))
		admin_reply(r, 200, moderation_sanctions_json(r->core, r->arg, mod_now_ms()));
	else if (match(r, "POST", "/v1/users/*/sanctions") && auth_user_id_valid(r->arg))
		post_sanction(r);
	else if (match(r, "DELETE", "/v1/users/*/sanctions/ban") && auth_user_id_valid(r->arg))
		delete_sanction(r, "ban");
	else if (match(r, "DELETE", "/v1/users/*/sanctions/shadow") && auth_user_id_valid(r->arg))
		delete_sanction(r, "shadow");
	else if (match(r, "DELETE", "/v1/users/*/sanctions/block") && auth_user_id_valid(r->arg))
		delete_sanction(r, "block");
	else
		admin_error(r, 404, "not_found", "no such route; see docs/admin-api.md");
}
