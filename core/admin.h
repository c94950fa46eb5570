/* admin.h — the admin API: JSON over HTTP on its own listener (admin.host,
 * admin.port, or the Unix socket admin.socket), served by the core's
 * libevent loop (evhttp).  Versioned
 * paths under /v1/; a bearer JWT with the admin or moderator role
 * (POST /v1/appeals takes any user's token, banned or not).  Errors are
 * {"error":{"code":…,"message":…}} with a 4xx/5xx status.  Every
 * state-changing call, and every read of message content, is audited with
 * the token's subject as actor.
 *
 * Files: admin_http.c (listener, auth, replies), admin_parse.c (paths,
 * queries, bodies, the route table: pure), admin_routes.c (the routes'
 * handlers; rules, audit, appeal filing), admin_status.c (status,
 * plugins, metrics), admin_tokens.c, admin_users.c, admin_convs.c,
 * admin_queue.c (queue and appeals), admin_unix.c (the Unix socket).
 * Core thread only. */
#ifndef CHATD_ADMIN_H
#define CHATD_ADMIN_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include "admin_parse.h"
#include "auth.h"
#include "core_loop.h"
#include "moderation.h"
#include "rate_window.h"

struct admin {
	struct core *c;
	struct evhttp *http;
	struct auth_verifier *verifier;
	int64_t started_at;                  /* ms since the epoch */
	/* status' messages_per_s: chatd_messages_accepted_total sampled
	 * every second */
	struct rate_window sends;
	struct event *sends_ev;
	char *sock_path;                     /* admin.socket as bound, or NULL (TCP) */
	dev_t sock_dev;                      /* the socket file made, removed at exit */
	ino_t sock_ino;
	struct ssl_ctx_st *tls;              /* admin.tls_*: every connection is TLS; NULL: plain */
};

/* Starts the listener when admin.enabled; *out NULL when disabled.
 * Returns 0 or -1 (logged). */
int admin_start(struct core *c, struct admin **out);
void admin_free(struct admin *a);

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
	int64_t id;                    /* the path's numeric segment (#) */
	char arg[ADMIN_ARG_MAX];       /* the path's text segment (*) */
	bool arg_long;                 /* that segment did not fit arg */
};

/* Replies (body stolen; may be NULL) and frees r. */
void admin_reply(struct admin_req *r, int code, json_t *body);
void admin_error(struct admin_req *r, int code, const char *err, const char *message);
void admin_status_error(struct admin_req *r, int st);
const char *admin_query(struct admin_req *r, const char *key);
/* Optional integer query parameter; false after replying 400. */
bool admin_query_int(struct admin_req *r, const char *key, long long min, long long max,
		     long long *out);
/* A string field of the body, or NULL. */
const char *admin_body_str(struct admin_req *r, const char *key);

/* The path's user id (r->arg); false after replying 400. */
bool admin_path_user(struct admin_req *r);
/* The path's conversation id (r->arg); false after replying 400. */
bool admin_path_conv(struct admin_req *r);

/* admin_routes.c */
void admin_route(struct admin_req *r);
/* Does every route of admin_route_defs have a handler? */
bool admin_routes_complete(void);

/* admin_unix.c: serve a->http on the Unix socket path with mode (a stale
 * socket file is replaced; a live one or a non-socket is refused).
 * Returns 0, or -1 with err set. */
int admin_unix_bind(struct admin *a, const char *path, int mode, char *err, size_t errlen);
/* Removes the socket file if it is still the one made (clean shutdown). */
void admin_unix_unlink(struct admin *a);

/* admin_status.c */
void admin_get_status(struct admin_req *r);
void admin_get_plugins(struct admin_req *r);
void admin_get_metrics(struct admin_req *r);
/* Starts / stops sampling the accepted-send counter for messages_per_s.
 * start: 0 or -1 (ENOMEM). */
int admin_rate_start(struct admin *a);
void admin_rate_stop(struct admin *a);

/* admin_tokens.c */
void admin_post_token(struct admin_req *r);

/* admin_users.c */
void admin_get_user(struct admin_req *r);
void admin_post_kick(struct admin_req *r);
void admin_post_revoke(struct admin_req *r);
void admin_get_sanctions(struct admin_req *r);
void admin_post_sanction(struct admin_req *r);
void admin_delete_ban(struct admin_req *r);
void admin_delete_shadow(struct admin_req *r);
void admin_delete_block(struct admin_req *r);

/* admin_convs.c */
void admin_get_conv(struct admin_req *r);
void admin_post_lock(struct admin_req *r);
void admin_post_unlock(struct admin_req *r);
void admin_delete_message(struct admin_req *r);
void admin_get_messages(struct admin_req *r);

/* A message as staff see it: the protocol's message object plus
 * "visibility" and, when set, "moderation" (its provenance). */
json_t *admin_message_json(const struct chatd_message *m);
/* Reads the messages of conv from seq - n to seq + n (staff view: nothing
 * hidden) and calls done with them (ascending; borrowed for the call).
 * Returns CHATD_OK (done will run) or a status (it will not). */
typedef void (*admin_around_cb)(void *arg, int status, const struct chatd_message *m,
				size_t n);
int admin_messages_around(struct core *c, const char *conv, int64_t seq, int n,
			  admin_around_cb done, void *arg);
/* Deletes conv/seq for everyone as staff (actor) and tells the members
 * (message_update, like the delete command); done gets the status
 * (NOT_FOUND: no such message).  Returns CHATD_OK or a status (done will
 * not run). */
typedef void (*admin_status_cb)(void *arg, int status);
int admin_delete_for_everyone(struct core *c, const char *conv, int64_t seq,
			      admin_status_cb done, void *arg);

/* admin_queue.c */
void admin_get_queue(struct admin_req *r);
void admin_get_queue_item(struct admin_req *r);
void admin_post_resolve(struct admin_req *r);
void admin_post_approve(struct admin_req *r);
void admin_post_reject(struct admin_req *r);
void admin_get_appeals(struct admin_req *r);
void admin_get_appeal(struct admin_req *r);
void admin_post_grant(struct admin_req *r);
void admin_post_deny(struct admin_req *r);

#endif
