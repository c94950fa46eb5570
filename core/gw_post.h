/* gw_post.h — small JSON POST endpoints on the gateway (gateway thread):
 *
 *   POST /auth/dev-login  {"user_id":"alice"} → {"token":…,"exp":…}
 *       only when auth.dev_login is true: mints an HS256 token with the
 *       server's key for any valid user id (development only), rate
 *       limited per client address.  GET /auth/dev-login tells the web
 *       client whether it is offered (200) or not (404).
 *   POST /telemetry       a web client's counters, with its bearer token;
 *       the token is checked here, the rest is the core's
 *       (telemetry.c, through a BIN_POST / BOUT_POST item).
 *
 * Every request's body is read whole (at most GW_POST_BODY_MAX bytes,
 * Content-Length required) before anything is answered, and every answer
 * is JSON with "Connection: close".  A request lives in a struct of its
 * own, found from the connection's per-session data (struct gw_post_pss)
 * and by id from the core's answers; an answer for a request that is gone
 * is dropped. */
#ifndef CHATD_GW_POST_H
#define CHATD_GW_POST_H

#include <stdbool.h>
#include <stdint.h>
#include <libwebsockets.h>
#include "auth.h"
#include "bridge.h"
#include "config.h"

#define GW_POST_MAGIC 0x504f5354u /* "POST" */
#define GW_POST_BODY_MAX 16384
#define GW_DEV_LOGIN_PATH "/auth/dev-login"
#define GW_TELEMETRY_PATH "/telemetry"

struct gw_post;
struct gw_post_req;

/* What an HTTP connection's per-session data holds while it serves a POST
 * (lws zeroes it for every transaction). */
struct gw_post_pss {
	uint32_t magic;              /* GW_POST_MAGIC */
	struct gw_post_req *req;
};

/* cfg, v and to_core are borrowed and outlive the object.  With
 * cfg->auth_dev_login, the config must use HS256 (checked here: NULL with
 * the reason in err).  NULL on ENOMEM too. */
struct gw_post *gw_post_new(const struct chatd_config *cfg, const struct auth_verifier *v,
			    struct bridge_queue *to_core, char *err, size_t errlen);
/* After lws_context_destroy. */
void gw_post_free(struct gw_post *p);

/* LWS_CALLBACK_HTTP for a POST (any path but /media/…).  stopping: the
 * server is shutting down (503). */
int gw_post_http(struct gw_post *p, struct lws *wsi, void *pss, const char *path,
		 bool stopping);
/* GET or HEAD of /auth/dev-login: 200 {"enabled":true,"ttl_s":…} when
 * offered, else 404. */
int gw_post_dev_login_probe(struct gw_post *p, struct lws *wsi);
/* True when pss serves a POST: its other HTTP callbacks then go to
 * gw_post_callback. */
bool gw_post_owns(const void *pss);
int gw_post_callback(struct gw_post *p, struct lws *wsi, enum lws_callback_reasons reason,
		     void *pss, void *in, size_t len);
/* The core's answer to a BIN_POST (ownership passes). */
void gw_post_reply(struct gw_post *p, struct bridge_post *bp);

#endif
