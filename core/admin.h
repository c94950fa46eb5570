/* admin.h — the admin API: JSON over HTTP on its own listener (admin.host,
 * admin.port), served by the core's libevent loop (evhttp).  Versioned
 * paths under /v1/; a bearer JWT with the admin or moderator role
 * (POST /v1/appeals takes any user's token, banned or not).  Errors are
 * {"error":{"code":…,"message":…}} with a 4xx/5xx status.  Every
 * state-changing call is audited with the token's subject as actor. */
#ifndef CHATD_ADMIN_H
#define CHATD_ADMIN_H

#include <stdbool.h>
#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include "auth.h"
#include "core_loop.h"
#include "moderation.h"

struct admin;

/* Starts the listener when admin.enabled; *out NULL when disabled.
 * Returns 0 or -1 (logged). */
int admin_start(struct core *c, struct admin **out);
void admin_free(struct admin *a);

enum admin_role { ADMIN_ROLE_USER, ADMIN_ROLE_MODERATOR, ADMIN_ROLE_ADMIN };

/* One request in flight.  Freed by admin_reply (every path replies once). */
struct admin_req {
	struct core *core;
	struct evhttp_request *req;    /* NULL once the client went away */
	bool dead;
	const char *method;            /* "GET" | "POST" | "DELETE" */
	char *path;                    /* decoded */
	struct evkeyvalq query;
	json_t *body;                  /* POST body object, or NULL */
	struct auth_claims claims;
	enum admin_role role;
	int64_t id;                    /* scratch for routes: the object id */
	char arg[128];                 /* scratch for routes */
};

/* Replies (body stolen; may be NULL) and frees r. */
void admin_reply(struct admin_req *r, int code, json_t *body);
void admin_error(struct admin_req *r, int code, const char *err, const char *message);
void admin_status_error(struct admin_req *r, int st);
const char *admin_query(struct admin_req *r, const char *key);
/* Optional integer query parameter; false after replying 400. */
bool admin_query_int(struct admin_req *r, const char *key, long long min, long long max,
		     long long *out);

/* admin_routes.c */
void admin_route(struct admin_req *r);

#endif
