/* admin_http.c — the admin API's HTTP side: an evhttp listener on the core's
 * libevent loop, bearer-token authentication, JSON bodies, routing and
 * replies.  Parsing is admin_parse.c's; handlers live in admin_routes.c.
 *
 * A handler that waits on storage keeps its `struct admin_req`; if the
 * client goes away meanwhile the request is marked dead (evhttp frees it)
 * and the late reply is dropped. */
#include "admin.h"
#include "admin_metrics.h"

#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "auth.h"
#include "log.h"
#include "tls.h"

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	struct admin_req *r = arg;
	r->dead = true;
	r->req = NULL;
}

void admin_reply(struct admin_req *r, int code, json_t *body)
{
	if (!r->dead && r->req) {
		struct evbuffer *b = evbuffer_new();
		char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
		if (b && s) {
			evbuffer_add(b, s, strlen(s));
			evbuffer_add(b, "\n", 1);
		}
		struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_add_header(h, "Cache-Control", "no-store");
		struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
		if (conn)
			evhttp_connection_set_closecb(conn, NULL, NULL);
		evhttp_send_reply(r->req, code, code < 400 ? "OK" : "Error", b);
		free(s);
		if (b)
			evbuffer_free(b);
	}
	json_decref(body);
	json_decref(r->body);
	evhttp_clear_headers(&r->query);
	free(r->path);
	free(r);
}

void admin_error(struct admin_req *r, int code, const char *err, const char *message)
{
	admin_reply(r, code, json_pack("{s:{s:s, s:s}}", "error", "code", err, "message", message));
}

void admin_status_error(struct admin_req *r, int st)
{
	switch (st) {
	case CHATD_ERR_NOT_FOUND: admin_error(r, 404, "not_found", "no such object"); break;
	case CHATD_ERR_EXISTS: admin_error(r, 409, "conflict", "already done"); break;
	case CHATD_ERR_INVALID: admin_error(r, 400, "bad_request", "invalid argument"); break;
	case CHATD_ERR_TOO_LARGE: admin_error(r, 413, "too_large", "over a limit"); break;
	case CHATD_ERR_UNAVAILABLE:
	case CHATD_ERR_SHUTDOWN: admin_error(r, 503, "unavailable", chatd_strerror(st)); break;
	default: admin_error(r, 500, "internal", chatd_strerror(st)); break;
	}
}

const char *admin_query(struct admin_req *r, const char *key)
{
	return evhttp_find_header(&r->query, key);
}

const char *admin_body_str(struct admin_req *r, const char *key)
{
	return json_string_value(json_object_get(r->body, key));
}

/* The request's path segments as admin_parse.c sees them. */
static const struct admin_target *target_of(const struct admin_req *r,
					    struct admin_target *t)
{
	t->id = r->id;
	memcpy(t->arg, r->arg, sizeof t->arg);
	t->arg_long = r->arg_long;
	return t;
}

bool admin_path_user(struct admin_req *r)
{
	struct admin_target t;
	if (!admin_user_arg_ok(target_of(r, &t))) {
		admin_error(r, 400, "bad_request", "the user id in the path must be 1 to 64 of "
			    "A-Z a-z 0-9 . _ @ -");
		return false;
	}
	return true;
}

bool admin_path_conv(struct admin_req *r)
{
	struct admin_target t;
	bool ok = admin_conv_arg_ok(target_of(r, &t));
	if (!ok)
		admin_error(r, 400, "bad_request", "the conversation id in the path must be 1 to 64 "
			    "printable ASCII characters");
	return ok;
}

bool admin_query_int(struct admin_req *r, const char *key, long long min, long long max,
		     long long *out)
{
	const char *v = admin_query(r, key);
	if (!v)
		return true;
	if (!admin_parse_int(v, min, max, out)) {
		char m[160];
		snprintf(m, sizeof m, "%s must be an integer in %lld..%lld", key, min, max);
		admin_error(r, 400, "bad_request", m);
		return false;
	}
	return true;
}

/* Bearer token → claims; false after replying 401. */
static bool authenticate(struct admin *a, struct admin_req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					   "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > 8192) {
		admin_error(r, 401, "unauthorized", "send Authorization: Bearer <token>");
		return false;
	}
	enum auth_result res = auth_verify(a->verifier, h + 7, mod_now_ms() / 1000, &r->claims);
	if (res != AUTH_OK) {
		admin_error(r, 401, res == AUTH_EXPIRED ? "token_expired" : "unauthorized",
			    auth_result_str(res));
		return false;
	}
	if (moderation_token_revoked(a->c, r->claims.sub, r->claims.iat)) {
		admin_error(r, 401, "token_revoked", "this token was revoked (issued before the "
			    "user's revoke); use a newer one");
		return false;
	}
	r->role = r->claims.role_admin ? ADMIN_ROLE_ADMIN
		  : r->claims.role_moderator ? ADMIN_ROLE_MODERATOR : ADMIN_ROLE_USER;
	return true;
}

static bool read_body(struct admin_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	unsigned char *p = len && len <= ADMIN_BODY_MAX ? evbuffer_pullup(in, (ev_ssize_t)len)
			   : NULL;
	char m[240];
	int code = admin_parse_body(p, len, &r->body, m, sizeof m);
	if (code != 0) {
		admin_error(r, code, code == 413 ? "too_large" : "bad_request", m);
		return false;
	}
	return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct admin_req *r = calloc(1, sizeof *r);
	if (!r) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	r->core = a->c;
	r->req = req;
	TAILQ_INIT(&r->query);
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: r->method = "GET"; break;
	case EVHTTP_REQ_POST: r->method = "POST"; break;
	case EVHTTP_REQ_DELETE: r->method = "DELETE"; break;
	default:
		admin_error(r, 405, "bad_request", "use GET, POST or DELETE");
		return;
	}
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	if (admin_parse_target(path, q, &r->path, &r->query) < 0) {
		admin_error(r, 400, "bad_request", "malformed URL");
		return;
	}
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (conn)
		evhttp_connection_set_closecb(conn, on_conn_close, r);
	/* Prometheus scrapers: no token when admin.metrics_auth = false. */
	if (strcmp(r->path, "/metrics") == 0) {
		if (!a->c->cfg->admin_metrics_auth || authenticate(a, r))
			admin_metrics(r);
		return;
	}
	if (!authenticate(a, r) || !read_body(r))
		return;
	admin_route(r);
}

/* evhttp asks for each accepted connection's bufferevent: with TLS, an
 * OpenSSL one that runs the server handshake first.  NULL makes evhttp drop
 * the connection. */
static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	struct admin *a = arg;
	SSL *ssl = SSL_new(a->tls);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl,
								 BUFFEREVENT_SSL_ACCEPTING,
								 BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	/* Clients that close without close_notify (curl, chatctl after the
	 * answer) are normal, not errors. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int admin_start(struct core *c, struct admin **out)
{
	*out = NULL;
	const struct chatd_config *cfg = c->cfg;
	if (!cfg->admin_enabled)
		return 0;
	if (!admin_routes_complete()) {
		log_error("admin", "admin.routes", "a route of admin_parse.c has no handler");
		return -1;
	}
	struct admin *a = calloc(1, sizeof *a);
	if (!a)
		return -1;
	a->c = c;
	a->started_at = mod_now_ms();
	char err[256];
	if (auth_verifier_from_config(cfg, &a->verifier, err, sizeof err) != CHATD_OK) {
		log_error("admin", "admin.auth", "auth: %s", err);
		free(a);
		return -1;
	}
	a->http = evhttp_new(c->base);
	if (!a->http || admin_rate_start(a) < 0) {
		admin_free(a);
		return -1;
	}
	evhttp_set_max_body_size(a->http, ADMIN_BODY_MAX + 1);
	evhttp_set_max_headers_size(a->http, 16384);
	evhttp_set_timeout(a->http, 30);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(a->http, on_request, a);
	if (cfg->admin_tls_cert) {
		a->tls = tls_server_ctx("admin", cfg->admin_tls_cert, cfg->admin_tls_key,
					cfg->admin_tls_min_version, err, sizeof err);
		if (!a->tls) {
			log_error("admin", "admin.tls", "%s", err);
			admin_free(a);
			return -1;
		}
		evhttp_set_bevcb(a->http, tls_bev, a);
	}
	if (cfg->admin_socket) {
		if (admin_unix_bind(a, cfg->admin_socket, cfg->admin_socket_mode, err,
				    sizeof err) < 0) {
			log_error("admin", "admin.socket", "%s", err);
			admin_free(a);
			return -1;
		}
		log_info("admin", "admin.listening", "admin API on unix:%s (mode %04o)",
			 cfg->admin_socket, (unsigned)cfg->admin_socket_mode);
		*out = a;
		return 0;
	}
	if (!evhttp_bind_socket_with_handle(a->http, cfg->admin_host, (ev_uint16_t)cfg->admin_port)) {
		log_error("admin", "admin.bind", "cannot listen on %s:%d for the admin API (set "
			  "admin.port, or admin.enabled = false)", cfg->admin_host, cfg->admin_port);
		admin_free(a);
		return -1;
	}
	log_info("admin", "admin.listening", "admin API on %s://%s:%d/v1/",
		 a->tls ? "https" : "http", cfg->admin_host, cfg->admin_port);
	if (a->tls) {
		char about[512];
		tls_cert_summary(cfg->admin_tls_cert, about, sizeof about);
		log_info("admin", "tls.on", "admin TLS %s+: certificate %s (%s), key %s",
			 cfg->admin_tls_min_version ? cfg->admin_tls_min_version : "1.2",
			 cfg->admin_tls_cert, about[0] ? about : "?", cfg->admin_tls_key);
	}
	*out = a;
	return 0;
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	if (a->http)
		evhttp_free(a->http);
	SSL_CTX_free(a->tls); /* after the connections that hold references */
	admin_unix_unlink(a);
	admin_rate_stop(a);
	auth_verifier_free(a->verifier);
	free(a);
}
