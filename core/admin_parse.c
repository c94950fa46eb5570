/* admin_parse.c — see admin_parse.h.  Moved out of admin_http.c,
 * admin_routes.c and the route handlers, behaviour unchanged, so that the
 * fuzzer (tests/fuzz/fuzz_admin.c) reaches it without a listener. */
#include "admin_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>
#include "auth.h"
#include "chatd/storage.h"
#include "config.h"

const struct admin_route_def admin_route_defs[ADMIN_R_COUNT] = {
	[ADMIN_R_APPEAL_FILE] = { "POST", "/v1/appeals", ADMIN_ROLE_USER },
	[ADMIN_R_STATUS] = { "GET", "/v1/status", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_PLUGINS] = { "GET", "/v1/plugins", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_METRICS] = { "GET", "/v1/metrics", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_TOKENS] = { "POST", "/v1/tokens", ADMIN_ROLE_ADMIN },
	[ADMIN_R_RULES] = { "GET", "/v1/rules", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_RULES_RELOAD] = { "POST", "/v1/rules/reload", ADMIN_ROLE_ADMIN },
	[ADMIN_R_RULES_DRYRUN] = { "POST", "/v1/rules/dry-run", ADMIN_ROLE_ADMIN },
	[ADMIN_R_QUEUE] = { "GET", "/v1/queue", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_QUEUE_ITEM] = { "GET", "/v1/queue/#", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_QUEUE_RESOLVE] = { "POST", "/v1/queue/#/resolve", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_QUEUE_APPROVE] = { "POST", "/v1/queue/#/approve", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_QUEUE_REJECT] = { "POST", "/v1/queue/#/reject", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_APPEALS] = { "GET", "/v1/appeals", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_APPEAL] = { "GET", "/v1/appeals/#", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_APPEAL_GRANT] = { "POST", "/v1/appeals/#/grant", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_APPEAL_DENY] = { "POST", "/v1/appeals/#/deny", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_AUDIT] = { "GET", "/v1/audit", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_AUDIT_VERIFY] = { "GET", "/v1/audit/verify", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER] = { "GET", "/v1/users/*", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER_KICK] = { "POST", "/v1/users/*/kick", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER_REVOKE] = { "POST", "/v1/users/*/revoke", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER_SANCTIONS] = { "GET", "/v1/users/*/sanctions", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER_SANCTION] = { "POST", "/v1/users/*/sanctions", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER_UNBAN] = { "DELETE", "/v1/users/*/sanctions/ban", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER_UNSHADOW] = { "DELETE", "/v1/users/*/sanctions/shadow",
				    ADMIN_ROLE_MODERATOR },
	[ADMIN_R_USER_UNBLOCK] = { "DELETE", "/v1/users/*/sanctions/block", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_CONV] = { "GET", "/v1/conversations/*", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_CONV_LOCK] = { "POST", "/v1/conversations/*/lock", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_CONV_UNLOCK] = { "POST", "/v1/conversations/*/unlock", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_CONV_MESSAGES] = { "GET", "/v1/conversations/*/messages", ADMIN_ROLE_MODERATOR },
	[ADMIN_R_CONV_DELETE] = { "DELETE", "/v1/conversations/*/messages/#",
				  ADMIN_ROLE_MODERATOR },
	[ADMIN_R_ENC] = { "GET", "/v1/encryption", ADMIN_ROLE_ADMIN },
	[ADMIN_R_ENC_REENCRYPT] = { "POST", "/v1/encryption/reencrypt", ADMIN_ROLE_ADMIN },
};

/* ---- routes ---- */

enum match { NO_MATCH, MATCH, BAD_ID };

static enum match match(struct admin_target *t, const char *path, const char *pattern)
{
	const char *p = path, *q = pattern;
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
					t->id = v;
			} else {
				size_t k = n < sizeof t->arg ? n : sizeof t->arg - 1;
				memcpy(t->arg, p, k);
				t->arg[k] = '\0';
				t->arg_long = n >= sizeof t->arg;
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

enum admin_find admin_route_find(const char *method, const char *path, enum admin_role role,
				 struct admin_target *t)
{
	memset(t, 0, sizeof *t);
	bool path_known = false;
	for (size_t i = 0; i < ADMIN_R_COUNT; i++) {
		const struct admin_route_def *rt = &admin_route_defs[i];
		enum match m = match(t, path, rt->pattern);
		if (m == NO_MATCH)
			continue;
		if (strcmp(method, rt->method) != 0) {
			path_known = true;
			continue;
		}
		t->route = (enum admin_route_id)i;
		if (role < rt->role)
			return ADMIN_FIND_FORBIDDEN;
		return m == BAD_ID ? ADMIN_FIND_BAD_ID : ADMIN_FIND_OK;
	}
	return path_known ? ADMIN_FIND_METHOD : ADMIN_FIND_NOT_FOUND;
}

/* ---- path, query, body ---- */

int admin_parse_target(const char *raw_path, const char *raw_query, char **path,
		       struct evkeyvalq *query)
{
	*path = raw_path ? evhttp_uridecode(raw_path, 0, NULL) : NULL;
	if (!*path || (raw_query && evhttp_parse_query_str(raw_query, query) < 0)) {
		free(*path);
		*path = NULL;
		return -1;
	}
	return 0;
}

int admin_parse_body(const void *p, size_t len, json_t **out, char *msg, size_t msglen)
{
	*out = NULL;
	if (len == 0)
		return 0;
	if (len > ADMIN_BODY_MAX) {
		snprintf(msg, msglen, "body larger than 1 MiB");
		return 413;
	}
	json_error_t jerr = { .text = "cannot read the body" };
	json_t *b = p ? json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(b)) {
		snprintf(msg, msglen, "body must be a JSON object (%s)", b ? "not an object"
			 : jerr.text);
		json_decref(b);
		return 400;
	}
	*out = b;
	return 0;
}

bool admin_parse_int(const char *v, long long min, long long max, long long *out)
{
	char *end;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || n < min || n > max)
		return false;
	*out = n;
	return true;
}

bool admin_user_arg_ok(const struct admin_target *t)
{
	return !t->arg_long && auth_user_id_valid(t->arg);
}

bool admin_conv_arg_ok(const struct admin_target *t)
{
	size_t n = strlen(t->arg);
	bool ok = !t->arg_long && n > 0 && n <= CHATD_ID_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)t->arg[i] > 0x20 && (unsigned char)t->arg[i] < 0x7f;
	return ok;
}

static bool one_of(const char *v, const char *const *allowed)
{
	for (; v && *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return true;
	return false;
}

bool admin_list_filter_ok(const char *status, const char *kind)
{
	static const char *const statuses[] = { "open", "actioned", "dismissed", NULL };
	static const char *const kinds[] = { "report", "flag", "hold", "appeal", NULL };
	return (!status || one_of(status, statuses)) && (!kind || one_of(kind, kinds));
}

/* ---- bodies ---- */

static const char *body_str(json_t *body, const char *key)
{
	return json_string_value(json_object_get(body, key));
}

/* An optional duration_ms: absent, or an integer 0..2^50. */
static bool duration_ok(json_t *dur)
{
	return !dur || (json_is_integer(dur) && json_integer_value(dur) >= 0 &&
			json_integer_value(dur) <= (1LL << 50));
}

const char *admin_parse_sanction(json_t *body, struct admin_sanction_args *a)
{
	static const char *const kinds[] = { "ban", "shadow", "block", NULL };
	a->kind = body_str(body, "kind");
	a->reason = body_str(body, "reason");
	json_t *dur = json_object_get(body, "duration_ms");
	if (!one_of(a->kind, kinds) || !duration_ok(dur) || (a->reason && strlen(a->reason) > 1000))
		return "body: {\"kind\": \"ban\"|\"shadow\"|\"block\", \"duration_ms\"?: integer "
		       "(0 or absent: permanent), \"reason\"?: text}";
	a->duration_ms = dur ? json_integer_value(dur) : 0;
	if (strcmp(a->kind, "block") == 0 && a->duration_ms == 0)
		return "block needs duration_ms";
	return NULL;
}

/* roles: absent or null, or an array of "admin" / "moderator" (at most
 * both; one given twice counts once). */
static bool token_roles(json_t *roles, const char *out[3])
{
	out[0] = out[1] = out[2] = NULL;
	if (!roles || json_is_null(roles))
		return true;
	size_t i, n = 0;
	json_t *el;
	if (!json_is_array(roles) || json_array_size(roles) > 2)
		return false;
	json_array_foreach(roles, i, el) {
		const char *s = json_string_value(el);
		if (!s || (strcmp(s, "admin") != 0 && strcmp(s, "moderator") != 0))
			return false;
		if (n == 1 && strcmp(out[0], s) == 0)
			continue;
		out[n++] = s;
	}
	return true;
}

const char *admin_parse_token(json_t *body, struct admin_token_args *a)
{
	a->sub = body_str(body, "sub");
	json_t *ttl = json_object_get(body, "ttl_s");
	a->roles[0] = a->roles[1] = a->roles[2] = NULL;
	if (!a->sub || !auth_user_id_valid(a->sub))
		return "body: {\"sub\": user id (1 to 64 of A-Z a-z 0-9 . _ @ -), \"roles\"?: "
		       "[\"admin\"|\"moderator\"], \"ttl_s\"?: 1..31536000}";
	if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
		    json_integer_value(ttl) > ADMIN_TOKEN_TTL_MAX))
		return "ttl_s must be an integer from 1 to 31536000 (default 3600)";
	if (!token_roles(json_object_get(body, "roles"), a->roles))
		return "roles must be an array of \"admin\" and/or \"moderator\" (or absent: a "
		       "user token)";
	a->ttl_s = ttl ? json_integer_value(ttl) : ADMIN_TOKEN_TTL_DEFAULT;
	return NULL;
}

const char *admin_parse_resolve(json_t *body, const char *fixed_action,
				struct admin_resolve_args *a)
{
	a->action = fixed_action ? fixed_action : body_str(body, "action");
	a->note = body_str(body, "note");
	json_t *dur = json_object_get(body, "duration_ms");
	if (!a->action || strlen(a->action) >= ADMIN_ACTION_MAX ||
	    (a->note && strlen(a->note) >= ADMIN_NOTE_BYTES) || !duration_ok(dur))
		return "body: {\"action\": …, \"note\"?: text, \"duration_ms\"?: integer >= 0}";
	a->duration_ms = dur ? json_integer_value(dur) : 0;
	return NULL;
}

const char *admin_parse_appeal(json_t *body, const char **text)
{
	*text = body_str(body, "text");
	if (!*text || !**text || strlen(*text) > 8000)
		return "body: {\"text\": \"why the sanction should be lifted\"} (1 to 2000 "
		       "characters)";
	return NULL;
}

/* The body's "rules": absent, or 1..ADMIN_DRYRUN_RULES_MAX different rule
 * names. */
static bool dryrun_rules(json_t *arr, struct admin_dryrun_args *a)
{
	a->n_rules = 0;
	if (!arr)
		return true;
	size_t i;
	json_t *v;
	bool ok = json_is_array(arr) && json_array_size(arr) >= 1 &&
		  json_array_size(arr) <= ADMIN_DRYRUN_RULES_MAX;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		ok = ok && s && cfg_rule_name_ok(s, json_string_length(v));
		for (size_t j = 0; ok && j < a->n_rules; j++)
			ok = strcmp(a->rules[j], s) != 0;
		if (!ok)
			break;
		a->rules[a->n_rules++] = s;
	}
	return ok;
}

const char *admin_parse_dryrun(json_t *body, struct admin_dryrun_args *a)
{
	json_t *cv = json_object_get(body, "conversation_id");
	json_t *lim = json_object_get(body, "limit");
	a->conversation_id = json_string_value(cv);
	a->n_rules = 0;
	const char *conv = a->conversation_id;
	if ((cv && (!conv || !*conv || strlen(conv) > CHATD_ID_MAX)) ||
	    (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1)))
		return "body: {\"conversation_id\"?: …, \"limit\"?: 1 or more (at most 200 are "
		       "replayed; default 200), \"rules\"?: [names]}";
	if (!dryrun_rules(json_object_get(body, "rules"), a))
		return "rules: a list of 1 to 64 different rule names ([a-z0-9_], 1 to 63 bytes) "
		       "from rules_dir";
	a->limit = !lim || json_integer_value(lim) > ADMIN_DRYRUN_LIMIT
		   ? ADMIN_DRYRUN_LIMIT : (int)json_integer_value(lim);
	return NULL;
}
