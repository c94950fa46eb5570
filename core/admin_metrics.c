/* admin_metrics.c — see admin_metrics.h. */
#include "admin_metrics.h"

#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "core_metrics.h"
#include "log.h"

void admin_metrics(struct admin_req *r)
{
	struct core *c = r->core;
	if (strcmp(r->method, "GET") != 0) {
		admin_error(r, 405, "bad_request", "use GET");
		return;
	}
	if (c->cfg->admin_metrics_auth && r->role < ADMIN_ROLE_MODERATOR) {
		admin_error(r, 403, "forbidden", "needs the moderator or admin role");
		return;
	}
	struct metrics_buf text = { 0 };
	struct evbuffer *body = c->metrics ? evbuffer_new() : NULL;
	if (!body || core_metrics_render(c->metrics, &text) < 0 ||
	    evbuffer_add(body, text.p, text.len) < 0) {
		log_error("admin", "metrics.nomem", "cannot render /metrics");
		metrics_buf_free(&text);
		if (body)
			evbuffer_free(body);
		admin_error(r, 500, "internal", "out of memory");
		return;
	}
	metrics_buf_free(&text);
	if (!r->dead && r->req) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
		evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
		evhttp_add_header(h, "Cache-Control", "no-store");
		struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
		if (conn)
			evhttp_connection_set_closecb(conn, NULL, NULL);
		evhttp_send_reply(r->req, 200, "OK", body);
	}
	evbuffer_free(body);
	/* Sent: detached from its request, admin_reply only frees r. */
	r->req = NULL;
	admin_reply(r, 200, NULL);
}
