/* admin_routes.c — the admin API's route table (see admin.h and
 * docs/admin-api.md), and the small routes: rules, audit, appeal filing.
 * Moderators may read and act on the queue, users and conversations;
 * rules and tokens are for admins. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"
#include "rules_dryrun.h"

#define LIST_MAX 1000

/* ---- rules ---- */

static void get_rules(struct admin_req *r)
{
	admin_reply(r, 200, moderation_rules_json(r->core));
}

static void post_rules_reload(struct admin_req *r)
{
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
	/* The result quotes stored text: a content read. */
	audit_record(r->core, r->claims.sub, "content.read", r->arg,
		     json_pack("{s:s, s:O, s:O}", "what", "rules_dry_run", "messages",
			       json_object_get(result, "messages"), "rules",
			       json_object_get(result, "rules")));
	admin_reply(r, 200, result);
}

#define DRYRUN_LIMIT 200

/* The body's "rules": NULL when absent; false after replying 400. */
static bool dryrun_rules(struct admin_req *r, const char **names, size_t *n)
{
	json_t *a = json_object_get(r->body, "rules");
	*n = 0;
	if (!a)
		return true;
	size_t i;
	json_t *v;
	bool ok = json_is_array(a) && json_array_size(a) >= 1 &&
		  json_array_size(a) <= LUA_HOST_MAX_RULES;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		ok = ok && s && cfg_rule_name_ok(s, json_string_length(v));
		for (size_t j = 0; ok && j < *n; j++)
			ok = strcmp(names[j], s) != 0;
		if (!ok)
			break;
		names[(*n)++] = s;
	}
	if (!ok)
		admin_error(r, 400, "bad_request", "rules: a list of 1 to 64 different rule names "
			    "([a-z0-9_], 1 to 63 bytes) from rules_dir");
	return ok;
}

static void post_rules_dryrun(struct admin_req *r)
{
	json_t *cv = json_object_get(r->body, "conversation_id");
	const char *conv = json_string_value(cv);
	json_t *lim = json_object_get(r->body, "limit");
	if ((cv && (!conv || !*conv || strlen(conv) > CHATD_ID_MAX)) ||
	    (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1))) {
		admin_error(r, 400, "bad_request",
			    "body: {\"conversation_id\"?: …, \"limit\"?: 1 or more (at most 200 are "
			    "replayed; default 200), \"rules\"?: [names]}");
		return;
	}
	const char *names[LUA_HOST_MAX_RULES];
	size_t n_names;
	if (!dryrun_rules(r, names, &n_names))
		return;
	snprintf(r->arg, sizeof r->arg, "%s", conv ? conv : "");
	struct dryrun_req q = {
		.conversation_id = conv,
		.limit = !lim || json_integer_value(lim) > DRYRUN_LIMIT ? DRYRUN_LIMIT
			 : (int)json_integer_value(lim),
		.rules = n_names ? names : NULL, .n_rules = n_names,
	};
	char err[512];
	enum dryrun_refusal why;
	int st = rules_dryrun(r->core, &q, on_dryrun, r, &why, err, sizeof err);
	if (st == CHATD_ERR_INVALID) {
		/* The config's own list failing is the server's state (422, as for
		 * a reload); rules the caller named are the request's (400). */
		int code = why == DRYRUN_CONFIG ? 422 : 400;
		const char *ec = why == DRYRUN_UNKNOWN_RULE ? "unknown_rule"
				 : why == DRYRUN_NO_LATEST ? "bad_request" : "rules_invalid";
		admin_reply(r, code,
			    json_pack("{s:{s:s, s:s}}", "error", "code", ec, "message", err));
	} else if (st != CHATD_OK) {
		admin_status_error(r, st);
	}
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
	const char *text = admin_body_str(r, "text");
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

/* Pattern segments: "*" any text (copied to r->arg; arg_long when it did
 * not fit), "#" a positive integer (r->id). */
enum match { NO_MATCH, MATCH, BAD_ID };

static enum match match(struct admin_req *r, const char *pattern)
{
	const char *p = r->path, *q = pattern;
	bool bad_id = false;
	while (*q) {
		if (*q == '*' || *q == '#') {
			size_t n = strcspn(p, "/");
			if (n == 0)
				return NO_MATCH;
			if (*q == '#') {
				char buf[24];
				long long v = 0;
				char *end = NULL;
				errno = 0;
				if (n < sizeof buf) {
					memcpy(buf, p, n);
					buf[n] = '\0';
					v = strtoll(buf, &end, 10);
				}
				if (n >= sizeof buf || *end || errno || v <= 0 || buf[0] == '+' ||
				    buf[0] == ' ')
					bad_id = true;
				else
					r->id = v;
			} else {
				size_t k = n < sizeof r->arg ? n : sizeof r->arg - 1;
				memcpy(r->arg, p, k);
				r->arg[k] = '\0';
				r->arg_long = n >= sizeof r->arg;
			}
			p += n;
			q++;
			continue;
		}
		if (*p != *q)
			return NO_MATCH;
		p++;
		q++;
	}
	if (*p != '\0')
		return NO_MATCH;
	return bad_id ? BAD_ID : MATCH;
}

struct route {
	const char *method;
	const char *pattern;
	enum admin_role role;
	void (*fn)(struct admin_req *r);
};

static const struct route routes[] = {
	{ "POST", "/v1/appeals", ADMIN_ROLE_USER, post_appeal },
	{ "GET", "/v1/status", ADMIN_ROLE_MODERATOR, admin_get_status },
	{ "GET", "/v1/plugins", ADMIN_ROLE_MODERATOR, admin_get_plugins },
	{ "GET", "/v1/metrics", ADMIN_ROLE_MODERATOR, admin_get_metrics },
	{ "POST", "/v1/tokens", ADMIN_ROLE_ADMIN, admin_post_token },
	{ "GET", "/v1/rules", ADMIN_ROLE_MODERATOR, get_rules },
	{ "POST", "/v1/rules/reload", ADMIN_ROLE_ADMIN, post_rules_reload },
	{ "POST", "/v1/rules/dry-run", ADMIN_ROLE_ADMIN, post_rules_dryrun },
	{ "GET", "/v1/queue", ADMIN_ROLE_MODERATOR, admin_get_queue },
	{ "GET", "/v1/queue/#", ADMIN_ROLE_MODERATOR, admin_get_queue_item },
	{ "POST", "/v1/queue/#/resolve", ADMIN_ROLE_MODERATOR, admin_post_resolve },
	{ "POST", "/v1/queue/#/approve", ADMIN_ROLE_MODERATOR, admin_post_approve },
	{ "POST", "/v1/queue/#/reject", ADMIN_ROLE_MODERATOR, admin_post_reject },
	{ "GET", "/v1/appeals", ADMIN_ROLE_MODERATOR, admin_get_appeals },
	{ "GET", "/v1/appeals/#", ADMIN_ROLE_MODERATOR, admin_get_appeal },
	{ "POST", "/v1/appeals/#/grant", ADMIN_ROLE_MODERATOR, admin_post_grant },
	{ "POST", "/v1/appeals/#/deny", ADMIN_ROLE_MODERATOR, admin_post_deny },
	{ "GET", "/v1/audit", ADMIN_ROLE_MODERATOR, get_audit },
	{ "GET", "/v1/audit/verify", ADMIN_ROLE_MODERATOR, get_audit_verify },
	{ "GET", "/v1/users/*", ADMIN_ROLE_MODERATOR, admin_get_user },
	{ "POST", "/v1/users/*/kick", ADMIN_ROLE_MODERATOR, admin_post_kick },
	{ "POST", "/v1/users/*/revoke", ADMIN_ROLE_MODERATOR, admin_post_revoke },
	{ "GET", "/v1/users/*/sanctions", ADMIN_ROLE_MODERATOR, admin_get_sanctions },
	{ "POST", "/v1/users/*/sanctions", ADMIN_ROLE_MODERATOR, admin_post_sanction },
	{ "DELETE", "/v1/users/*/sanctions/ban", ADMIN_ROLE_MODERATOR, admin_delete_ban },
	{ "DELETE", "/v1/users/*/sanctions/shadow", ADMIN_ROLE_MODERATOR, admin_delete_shadow },
	{ "DELETE", "/v1/users/*/sanctions/block", ADMIN_ROLE_MODERATOR, admin_delete_block },
	{ "GET", "/v1/conversations/*", ADMIN_ROLE_MODERATOR, admin_get_conv },
	{ "POST", "/v1/conversations/*/lock", ADMIN_ROLE_MODERATOR, admin_post_lock },
	{ "POST", "/v1/conversations/*/unlock", ADMIN_ROLE_MODERATOR, admin_post_unlock },
	{ "GET", "/v1/conversations/*/messages", ADMIN_ROLE_MODERATOR, admin_get_messages },
	{ "DELETE", "/v1/conversations/*/messages/#", ADMIN_ROLE_MODERATOR, admin_delete_message },
};

void admin_route(struct admin_req *r)
{
	if (!r->core->mod) {
		admin_error(r, 503, "unavailable", "moderation is not running");
		return;
	}
	bool path_known = false;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *rt = &routes[i];
		enum match m = match(r, rt->pattern);
		if (m == NO_MATCH)
			continue;
		if (strcmp(r->method, rt->method) != 0) {
			path_known = true;
			continue;
		}
		if (r->role < rt->role) {
			admin_error(r, 403, "forbidden", rt->role == ADMIN_ROLE_ADMIN
				    ? "needs the admin role" : "needs the moderator or admin role");
			return;
		}
		if (m == BAD_ID) {
			admin_error(r, 400, "bad_request", "the id in the path must be a positive "
				    "integer");
			return;
		}
		rt->fn(r);
		return;
	}
	if (path_known)
		admin_error(r, 405, "method_not_allowed", "this path takes another method; see "
			    "docs/admin-api.md");
	else
		admin_error(r, 404, "not_found", "no such route; see docs/admin-api.md");
}
