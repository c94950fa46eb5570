/* admin_routes.c — the admin API's handler for each route of
 * admin_parse.c's table (see admin.h and docs/admin-api.md), and the small
 * routes: rules, audit, appeal filing.
 * Moderators may read and act on the queue, users and conversations;
 * rules and tokens are for admins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"
#include "reencrypt.h"
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

_Static_assert(ADMIN_DRYRUN_RULES_MAX == LUA_HOST_MAX_RULES, "admin_parse.h's copy");

static void post_rules_dryrun(struct admin_req *r)
{
	struct admin_dryrun_args a;
	const char *bad = admin_parse_dryrun(r->body, &a);
	if (bad) {
		admin_error(r, 400, "bad_request", bad);
		return;
	}
	snprintf(r->arg, sizeof r->arg, "%s", a.conversation_id ? a.conversation_id : "");
	struct dryrun_req q = {
		.conversation_id = a.conversation_id, .limit = a.limit,
		.rules = a.n_rules ? a.rules : NULL, .n_rules = a.n_rules,
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
	const char *text;
	const char *bad = admin_parse_appeal(r->body, &text);
	if (bad) {
		admin_error(r, 400, "bad_request", bad);
		return;
	}
	int rc = moderation_file_appeal(r->core, r->claims.sub, text, on_appeal, r);
	if (rc != CHATD_OK)
		admin_status_error(r, rc);
}

/* ---- encryption at rest (decision 62) ---- */

static json_t *enc_json(struct admin_req *r)
{
	const struct enc_keyring *kr = &r->core->cfg->enc;
	json_t *ids = json_array();
	for (size_t i = 0; ids && i < kr->n; i++)
		json_array_append_new(ids, json_string(kr->keys[i].id));
	return json_pack("{s:o?, s:o, s:o?}", "active_key_id",
			 kr->active ? json_string(kr->active->id) : json_null(), "key_ids",
			 ids ? ids : json_array(), "reencrypt", reenc_status_json());
}

static void get_encryption(struct admin_req *r)
{
	admin_reply(r, 200, enc_json(r));
}

static void post_reencrypt(struct admin_req *r)
{
	char why[160];
	int st = reenc_start(r->core, why, sizeof why);
	if (st == CHATD_OK) {
		audit_record(r->core, r->claims.sub, "encryption.reencrypt", "",
			     json_pack("{s:s}", "key_id", r->core->cfg->enc.active->id));
		admin_reply(r, 202, enc_json(r));
		return;
	}
	const char *code = st == CHATD_ERR_EXISTS ? "already_running"
			   : st == CHATD_ERR_UNAVAILABLE && !r->core->cfg->enc.active
			   ? "no_active_key" : st == CHATD_ERR_ABI ? "unsupported" : "unavailable";
	admin_error(r, st == CHATD_ERR_NOMEM || st == CHATD_ERR_SHUTDOWN ? 503 : 409, code, why);
}

/* ---- routing: admin_parse.c matches, this table calls ---- */

typedef void (*admin_handler)(struct admin_req *r);

static const admin_handler handlers[ADMIN_R_COUNT] = {
	[ADMIN_R_APPEAL_FILE] = post_appeal,
	[ADMIN_R_STATUS] = admin_get_status,
	[ADMIN_R_PLUGINS] = admin_get_plugins,
	[ADMIN_R_METRICS] = admin_get_metrics,
	[ADMIN_R_TOKENS] = admin_post_token,
	[ADMIN_R_RULES] = get_rules,
	[ADMIN_R_RULES_RELOAD] = post_rules_reload,
	[ADMIN_R_RULES_DRYRUN] = post_rules_dryrun,
	[ADMIN_R_QUEUE] = admin_get_queue,
	[ADMIN_R_QUEUE_ITEM] = admin_get_queue_item,
	[ADMIN_R_QUEUE_RESOLVE] = admin_post_resolve,
	[ADMIN_R_QUEUE_APPROVE] = admin_post_approve,
	[ADMIN_R_QUEUE_REJECT] = admin_post_reject,
	[ADMIN_R_APPEALS] = admin_get_appeals,
	[ADMIN_R_APPEAL] = admin_get_appeal,
	[ADMIN_R_APPEAL_GRANT] = admin_post_grant,
	[ADMIN_R_APPEAL_DENY] = admin_post_deny,
	[ADMIN_R_AUDIT] = get_audit,
	[ADMIN_R_AUDIT_VERIFY] = get_audit_verify,
	[ADMIN_R_USER] = admin_get_user,
	[ADMIN_R_USER_KICK] = admin_post_kick,
	[ADMIN_R_USER_REVOKE] = admin_post_revoke,
	[ADMIN_R_USER_SANCTIONS] = admin_get_sanctions,
	[ADMIN_R_USER_SANCTION] = admin_post_sanction,
	[ADMIN_R_USER_UNBAN] = admin_delete_ban,
	[ADMIN_R_USER_UNSHADOW] = admin_delete_shadow,
	[ADMIN_R_USER_UNBLOCK] = admin_delete_block,
	[ADMIN_R_CONV] = admin_get_conv,
	[ADMIN_R_CONV_LOCK] = admin_post_lock,
	[ADMIN_R_CONV_UNLOCK] = admin_post_unlock,
	[ADMIN_R_CONV_MESSAGES] = admin_get_messages,
	[ADMIN_R_CONV_DELETE] = admin_delete_message,
	[ADMIN_R_ENC] = get_encryption,
	[ADMIN_R_ENC_REENCRYPT] = post_reencrypt,
};

bool admin_routes_complete(void)
{
	for (size_t i = 0; i < ADMIN_R_COUNT; i++)
		if (!handlers[i] || !admin_route_defs[i].pattern)
			return false;
	return true;
}

void admin_route(struct admin_req *r)
{
	if (!r->core->mod) {
		admin_error(r, 503, "unavailable", "moderation is not running");
		return;
	}
	struct admin_target t;
	enum admin_find f = admin_route_find(r->method, r->path, r->role, &t);
	r->id = t.id;
	memcpy(r->arg, t.arg, sizeof r->arg);
	r->arg_long = t.arg_long;
	switch (f) {
	case ADMIN_FIND_OK:
		handlers[t.route](r);
		return;
	case ADMIN_FIND_FORBIDDEN:
		admin_error(r, 403, "forbidden", admin_route_defs[t.route].role == ADMIN_ROLE_ADMIN
			    ? "needs the admin role" : "needs the moderator or admin role");
		return;
	case ADMIN_FIND_BAD_ID:
		admin_error(r, 400, "bad_request", "the id in the path must be a positive integer");
		return;
	case ADMIN_FIND_METHOD:
		admin_error(r, 405, "method_not_allowed", "this path takes another method; see "
			    "docs/admin-api.md");
		return;
	case ADMIN_FIND_NOT_FOUND:
		break;
	}
	admin_error(r, 404, "not_found", "no such route; see docs/admin-api.md");
}
