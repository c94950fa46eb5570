/* admin_parse.h — the admin API's request parsing, without a network or a
 * core: the path and query of a request, its JSON body, the route table
 * and the arguments of the routes that take a body.  Pure functions (any
 * thread); used by admin_http.c / admin_routes.c and by
 * tests/fuzz/fuzz_admin.c.  The `const char *` a parser fills point into
 * the body it was given (borrowed: valid while the body lives). */
#ifndef CHATD_ADMIN_PARSE_H
#define CHATD_ADMIN_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define ADMIN_BODY_MAX (1 << 20)
#define ADMIN_ARG_MAX 128               /* bytes of a path's text segment, NUL included */
#define ADMIN_TOKEN_TTL_DEFAULT 3600
#define ADMIN_TOKEN_TTL_MAX 31536000    /* a year */
#define ADMIN_ACTION_MAX 32             /* bytes of a resolve action, NUL included */
#define ADMIN_NOTE_BYTES (2000 * 4 + 1) /* of a resolve note, NUL included */
#define ADMIN_DRYRUN_RULES_MAX 64       /* LUA_HOST_MAX_RULES (checked in admin_routes.c) */
#define ADMIN_DRYRUN_LIMIT 200

enum admin_role { ADMIN_ROLE_USER, ADMIN_ROLE_MODERATOR, ADMIN_ROLE_ADMIN };

/* The routes, in the order they are matched (docs/admin-api.md). */
enum admin_route_id {
	ADMIN_R_APPEAL_FILE, ADMIN_R_STATUS, ADMIN_R_PLUGINS, ADMIN_R_METRICS, ADMIN_R_TOKENS,
	ADMIN_R_RULES, ADMIN_R_RULES_RELOAD, ADMIN_R_RULES_DRYRUN,
	ADMIN_R_QUEUE, ADMIN_R_QUEUE_ITEM, ADMIN_R_QUEUE_RESOLVE, ADMIN_R_QUEUE_APPROVE,
	ADMIN_R_QUEUE_REJECT,
	ADMIN_R_APPEALS, ADMIN_R_APPEAL, ADMIN_R_APPEAL_GRANT, ADMIN_R_APPEAL_DENY,
	ADMIN_R_AUDIT, ADMIN_R_AUDIT_VERIFY,
	ADMIN_R_USER, ADMIN_R_USER_KICK, ADMIN_R_USER_REVOKE, ADMIN_R_USER_SANCTIONS,
	ADMIN_R_USER_SANCTION, ADMIN_R_USER_UNBAN, ADMIN_R_USER_UNSHADOW, ADMIN_R_USER_UNBLOCK,
	ADMIN_R_CONV, ADMIN_R_CONV_LOCK, ADMIN_R_CONV_UNLOCK, ADMIN_R_CONV_MESSAGES,
	ADMIN_R_CONV_DELETE,
	ADMIN_R_ENC, ADMIN_R_ENC_REENCRYPT,
	ADMIN_R_COUNT
};

/* Pattern segments: "*" any text (the target's arg), "#" a positive
 * integer (its id). */
struct admin_route_def {
	const char *method;          /* "GET" | "POST" | "DELETE" */
	const char *pattern;
	enum admin_role role;        /* the least role allowed */
};
extern const struct admin_route_def admin_route_defs[ADMIN_R_COUNT];

enum admin_find {
	ADMIN_FIND_OK,               /* call route */
	ADMIN_FIND_NOT_FOUND,        /* 404: no such path */
	ADMIN_FIND_METHOD,           /* 405: the path takes another method */
	ADMIN_FIND_FORBIDDEN,        /* 403: route needs admin_route_defs[route].role */
	ADMIN_FIND_BAD_ID,           /* 400: the "#" segment is not a positive integer */
};

struct admin_target {
	enum admin_route_id route;   /* set unless NOT_FOUND / METHOD */
	int64_t id;                  /* the "#" segment */
	char arg[ADMIN_ARG_MAX];     /* the "*" segment, cut to fit */
	bool arg_long;               /* it did not fit */
};

/* method and the decoded path → the route (t zeroed first). */
enum admin_find admin_route_find(const char *method, const char *path, enum admin_role role,
				 struct admin_target *t);

/* The raw (still %-encoded) path and query of the request line: *path is
 * the decoded path (malloc'd, caller frees), query gets the parameters.
 * Returns 0, or -1 for a malformed URL (*path NULL; query may hold some
 * parameters: the caller clears it either way). */
int admin_parse_target(const char *raw_path, const char *raw_query, char **path,
		       struct evkeyvalq *query);

/* A request body of len bytes: *out is NULL for an empty body, else a
 * JSON object (owned by the caller).  Returns 0, or the HTTP status (413
 * over ADMIN_BODY_MAX, 400 not a JSON object or duplicate keys) with the
 * reason in msg. */
int admin_parse_body(const void *p, size_t len, json_t **out, char *msg, size_t msglen);

/* A decimal integer in min..max (the whole string). */
bool admin_parse_int(const char *v, long long min, long long max, long long *out);

/* The path's "*" segment as a user id (1..64 of A-Za-z0-9._@-) or a
 * conversation id (1..64 printable ASCII, no space). */
bool admin_user_arg_ok(const struct admin_target *t);
bool admin_conv_arg_ok(const struct admin_target *t);

/* GET /v1/queue filters (NULL: absent). */
bool admin_list_filter_ok(const char *status, const char *kind);

/* The body parsers return NULL when the arguments are fine, else the
 * message of the 400 bad_request to send. */

struct admin_sanction_args {
	const char *kind;            /* "ban" | "shadow" | "block" */
	const char *reason;          /* NULL if absent */
	int64_t duration_ms;         /* 0: permanent (never for a block) */
};
const char *admin_parse_sanction(json_t *body, struct admin_sanction_args *a);

struct admin_token_args {
	const char *sub;
	int64_t ttl_s;
	const char *roles[3];        /* NULL-terminated: "admin" / "moderator" */
};
const char *admin_parse_token(json_t *body, struct admin_token_args *a);

struct admin_resolve_args {
	const char *action;          /* fixed_action, or the body's; < ADMIN_ACTION_MAX bytes */
	const char *note;            /* NULL if absent; < ADMIN_NOTE_BYTES bytes */
	int64_t duration_ms;         /* 0 if absent */
};
/* fixed_action: the alias's action (approve, reject, grant, deny), or NULL
 * to read "action" from the body. */
const char *admin_parse_resolve(json_t *body, const char *fixed_action,
				struct admin_resolve_args *a);

/* POST /v1/appeals: "text", 1..8000 bytes. */
const char *admin_parse_appeal(json_t *body, const char **text);

struct admin_dryrun_args {
	const char *conversation_id; /* NULL if absent */
	int limit;                   /* 1..ADMIN_DRYRUN_LIMIT */
	const char *rules[ADMIN_DRYRUN_RULES_MAX];
	size_t n_rules;              /* 0: the configured rules */
};
const char *admin_parse_dryrun(json_t *body, struct admin_dryrun_args *a);

#endif
