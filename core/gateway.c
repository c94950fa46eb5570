/* gateway.c — see gateway.h.  Everything here runs on the gateway thread,
 * except gateway_new (main thread, before the thread starts), gateway_wake
 * (any thread: only lws_cancel_service) and gateway_free (after join). */
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include "gw_accept.h"
#include "gw_media.h"
#include "gw_post.h"
#include "gw_static.h"
#include "core_metrics.h"
#include "gw_write.h"
#include "hmap.h"
#include "ids.h"
#include "log.h"
#include "proto_decode.h"
#include "tls.h"

#define TOKEN_MAX 8192
#define SHUTDOWN_GRACE_MS 3000

/* An HTTP connection's per-session data is a gw_session's. */
_Static_assert(sizeof(struct gw_media_pss) <= sizeof(struct gw_session),
	       "gw_media_pss must fit in the per-session data");
_Static_assert(sizeof(struct gw_post_pss) <= sizeof(struct gw_session),
	       "gw_post_pss must fit in the per-session data");

struct gateway {
	struct core *core;
	const struct chatd_config *cfg;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	pthread_t thread;
	bool thread_started;
	struct auth_verifier *verifier;
	struct hmap sessions;            /* id → struct gw_session* */
	struct gw_media *media;          /* HTTP under /media/ */
	struct gw_post *post;            /* POST /auth/dev-login, /telemetry */
	struct gw_static *web;           /* the web client's files */
	size_t n_ws;                     /* WebSocket connections open */
	struct gw_accept *accept;        /* per-address cap, handshake timer */
	uint64_t next_id;
	bool stopping;
	bool done;
	int64_t stop_deadline_ms;
	atomic_bool ready;               /* storage reachable (for /readyz) */
	lws_retry_bo_t retry;
	struct lws_protocols protocols[2];
	int port;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- sending ------------------------------------------------------------ */

static void queue_json(struct gateway *gw, struct gw_session *s, json_t *obj)
{
	if (!obj)
		return;
	char *txt = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!txt)
		return;
	chatd_frame *f = frame_new(txt, strlen(txt));
	free(txt);
	if (!f)
		return;
	if (gw_queue_frame(s, f, (size_t)gw->cfg->outbound_queue_bytes) < 0) {
		cm_overflow(gw->core->metrics);
		gw_queue_clear(s);
		s->close_code = 4409;
	}
	frame_unref(f);
	lws_callback_on_writable(s->wsi);
}

static json_t *error_obj(const char *id, const char *code, const char *message)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "type", "error", "code", code, "message",
			      message, "retryable", 0);
	if (o && id)
		json_object_set_new(o, "id", json_string(id));
	return o;
}

static void send_error(struct gateway *gw, struct gw_session *s, const char *id,
		       const char *code, const char *message)
{
	queue_json(gw, s, error_obj(id, code, message));
}

/* Close with code once what is queued is written; input from now on is
 * discarded.  Closing from WRITEABLE (not from inside RECEIVE) lets lws
 * run the close handshake instead of dropping the socket under a peer
 * that is still sending. */
static void close_after_flush(struct gw_session *s, int code)
{
	s->close_code = code;
	s->state = GW_CLOSING;
	s->rx_len = 0;
	lws_set_timer_usecs(s->wsi, LWS_SET_TIMER_USEC_CANCEL);
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	lws_callback_on_writable(s->wsi);
}

/* Send an error, then close with code once it is written. */
static void refuse(struct gateway *gw, struct gw_session *s, const char *id, const char *code,
		   const char *message, int close_code)
{
	send_error(gw, s, id, code, message);
	close_after_flush(s, close_code);
}

/* ---- auth --------------------------------------------------------------- */

static void send_ready(struct gateway *gw, struct gw_session *s, const char *id)
{
	char sid[32];
	snprintf(sid, sizeof sid, "s%016llx", (unsigned long long)s->id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I}}", "type", "ready", "user_id",
			      s->user, "session_id", sid, "server_time", (json_int_t)now_ms(),
			      "limits", "max_text", (json_int_t)gw->cfg->max_text, "max_frame",
			      (json_int_t)gw->cfg->max_frame);
	if (o && id)
		json_object_set_new(o, "id", json_string(id));
	queue_json(gw, s, o);
}

/* Verify a token for session s (first auth or refresh). */
static void authenticate(struct gateway *gw, struct gw_session *s, const char *token,
			 const char *id)
{
	struct auth_claims claims;
	enum auth_result r = strlen(token) > TOKEN_MAX
				     ? AUTH_MALFORMED
				     : auth_verify(gw->verifier, token, now_ms() / 1000, &claims);
	if (r != AUTH_OK) {
		log_info("gateway", "auth.refused", "session %016llx: %s",
			 (unsigned long long)s->id, auth_result_str(r));
		refuse(gw, s, id, "unauthorized", "invalid token", 4401);
		return;
	}
	if (s->state == GW_AUTHED) {
		if (strcmp(claims.sub, s->user) != 0) {
			refuse(gw, s, id, "unauthorized", "token is for another user", 4401);
			return;
		}
		s->exp = claims.exp;
		send_ready(gw, s, id);
		/* Revocations and bans are the core's: it ends the session if
		 * this token would not have been admitted. */
		struct bridge_in *rin = bridge_in_new(BIN_REFRESH, s->id, s->user, NULL);
		if (rin) {
			rin->iat = claims.iat;
			bq_push(&gw->core->in, &rin->node);
		}
		return;
	}
	memcpy(s->user, claims.sub, sizeof s->user);
	s->exp = claims.exp;
	s->state = GW_AUTHED;
	lws_set_timer_usecs(s->wsi, LWS_SET_TIMER_USEC_CANCEL);
	/* From here the session's lines carry its (hashed) user. */
	log_ctx_set(log_ctx_trace(), s->user);
	log_info("gateway", "session.open", "session %016llx authenticated",
		 (unsigned long long)s->id);
	send_ready(gw, s, id);
	/* Queued before any command of this session, so the core sees the
	 * session before its first command. */
	struct bridge_in *in = bridge_in_new(BIN_OPEN, s->id, s->user, NULL);
	if (in) {
		in->iat = claims.iat;   /* admission refuses tokens revoked by a moderator */
		bq_push(&gw->core->in, &in->node);
	}
}

/* ---- inbound ------------------------------------------------------------ */

static bool flood_ok(struct gateway *gw, struct gw_session *s)
{
	int64_t now = now_ms();
	double rate = (double)gw->cfg->frame_rate, burst = (double)gw->cfg->frame_burst;
	if (s->tokens_at_ms == 0) {
		s->tokens = burst;
	} else {
		s->tokens += (double)(now - s->tokens_at_ms) * rate / 1000.0;
		if (s->tokens > burst)
			s->tokens = burst;
	}
	s->tokens_at_ms = now;
	if (s->tokens < 1.0)
		return false;
	s->tokens -= 1.0;
	return true;
}

static int decode_and_route(struct gateway *gw, struct gw_session *s, const void *buf,
			    size_t len)
{
	struct proto_envelope env;
	enum proto_decode_status st = proto_decode(buf, len, &env);
	if (st == PD_BAD_UTF8) {
		log_debug("gateway", "frame.bad", "session %016llx: %zu bytes, invalid UTF-8",
			  (unsigned long long)s->id, len);
		close_after_flush(s, LWS_CLOSE_STATUS_INVALID_PAYLOAD);
		return 0;
	}
	log_debug("gateway", "frame.in", "session %016llx: %s, %zu bytes",
		  (unsigned long long)s->id, st == PD_BAD_REQUEST ? "(invalid)" : env.type, len);
	const char *id = env.has_id ? env.id : NULL;
	if (st == PD_BAD_REQUEST) {
		if (s->state == GW_NEW)
			refuse(gw, s, id, "unauthorized", "the first frame must be auth", 4401);
		else
			send_error(gw, s, id, "bad_request", env.err);
		return 0;
	}
	if (strcmp(env.type, "auth") == 0) {
		json_t *tok = json_object_get(env.root, "token");
		if (!json_is_string(tok)) {
			if (s->state == GW_NEW)
				refuse(gw, s, id, "unauthorized", "token is required", 4401);
			else
				send_error(gw, s, id, "bad_request", "token must be a string");
		} else {
			authenticate(gw, s, json_string_value(tok), id);
		}
		json_decref(env.root);
		return 0;
	}
	if (s->state == GW_NEW) {
		refuse(gw, s, id, "unauthorized", "the first frame must be auth", 4401);
		json_decref(env.root);
		return 0;
	}
	if (strcmp(env.type, "ping") == 0) {
		json_t *o = json_pack("{s:s}", "type", "pong");
		if (o && id)
			json_object_set_new(o, "id", json_string(id));
		queue_json(gw, s, o);
		json_decref(env.root);
		return 0;
	}
	/* token_expired wins over every other error of the frame. */
	if (!auth_exp_ok(gw->verifier, s->exp, now_ms() / 1000)) {
		send_error(gw, s, id, "token_expired", "the token has expired; send auth with a new one");
		json_decref(env.root);
		return 0;
	}
	struct bridge_in *in = bridge_in_new(BIN_CMD, s->id, s->user, env.root);
	if (!in) {
		json_decref(env.root);
		send_error(gw, s, id, "internal", "out of memory");
		return 0;
	}
	bq_push(&gw->core->in, &in->node);
	return 0;
}

/* One complete text message.  Returns -1 to close the connection now.
 * Each frame gets a trace id: its lines here, its bridge item and
 * everything the core does for it carry it. */
static int handle_message(struct gateway *gw, struct gw_session *s, const void *buf, size_t len)
{
	log_ctx_set(log_trace_new(), s->state == GW_NEW ? NULL : s->user);
	int rc = decode_and_route(gw, s, buf, len);
	log_ctx_clear();
	return rc;
}

static int on_receive(struct gateway *gw, struct gw_session *s, const void *in, size_t len)
{
	if (s->state == GW_CLOSING)
		return 0;
	struct lws *wsi = s->wsi;
	if (lws_frame_is_binary(wsi)) {
		close_after_flush(s, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE);
		return 0;
	}
	if (lws_is_first_fragment(wsi) && s->rx_len == 0 && !flood_ok(gw, s)) {
		log_info("gateway", "flood.close", "session %016llx over the frame rate cap",
			 (unsigned long long)s->id);
		close_after_flush(s, LWS_CLOSE_STATUS_POLICY_VIOLATION);
		return 0;
	}
	/* The frame header announces its length: refuse as soon as the
	 * announced total is over, without waiting for the bytes. */
	size_t announced = len + lws_remaining_packet_payload(wsi);
	if (announced < len || announced > (size_t)gw->cfg->max_frame - s->rx_len) {
		close_after_flush(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
		return 0;
	}
	/* The usual case, a whole message in one callback, is decoded in
	 * place: an idle session then holds no receive buffer at all. */
	if (s->rx_len == 0 && lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
		return handle_message(gw, s, len ? in : "", len);
	if (s->rx_len + len > s->rx_cap) {
		size_t nc = s->rx_cap ? s->rx_cap : 4096;
		while (nc < s->rx_len + len)
			nc *= 2;
		unsigned char *nb = realloc(s->rx, nc);
		if (!nb)
			return -1;
		s->rx = nb;
		s->rx_cap = nc;
	}
	if (len) /* an empty frame comes with in == NULL */
		memcpy(s->rx + s->rx_len, in, len);
	s->rx_len += len;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	int rc = handle_message(gw, s, s->rx_len ? (const void *)s->rx : "", s->rx_len);
	/* Fragmented messages are rare: do not keep their buffer. */
	free(s->rx);
	s->rx = NULL;
	s->rx_cap = 0;
	s->rx_len = 0;
	return rc;
}

/* ---- core → gateway ----------------------------------------------------- */

static void drain_outbound(struct gateway *gw)
{
	struct bq_node *n = bq_drain(&gw->core->out);
	size_t cap = (size_t)gw->cfg->outbound_queue_bytes;
	while (n) {
		struct bridge_out *o = (struct bridge_out *)n;
		n = n->next;
		switch (o->kind) {
		case BOUT_FRAME:
		case BOUT_CLOSE:
			if (o->frame && o->frame->trace && log_enabled(LOG_DEBUG)) {
				log_ctx_set(o->frame->trace, NULL);
				log_debug("gateway", "frame.out", "%zu bytes to %zu session(s)",
					  o->frame->payload_len, o->n);
				log_ctx_clear();
			}
			for (size_t i = 0; i < o->n; i++) {
				struct gw_session *s = hmap_get64(&gw->sessions, o->sessions[i]);
				if (!s || s->state == GW_CLOSING)
					continue;
				if (o->frame && gw_queue_frame(s, o->frame, cap) < 0) {
					log_info("gateway", "queue.overflow",
						 "session %016llx: outbound queue over %zu bytes",
						 (unsigned long long)s->id, cap);
					cm_overflow(gw->core->metrics);
					gw_queue_clear(s);
					close_after_flush(s, 4409);
					continue;
				}
				if (o->kind == BOUT_CLOSE)
					close_after_flush(s, o->code);
				else
					lws_callback_on_writable(s->wsi);
			}
			break;
		case BOUT_SHUTDOWN: {
			gw->stopping = true;
			gw->stop_deadline_ms = now_ms() + SHUTDOWN_GRACE_MS;
			size_t it;
			for (struct hmap_entry *e = hmap_first(&gw->sessions, &it); e;
			     e = hmap_next(&gw->sessions, e, &it)) {
				struct gw_session *s = e->value;
				if (s->state != GW_CLOSING)
					close_after_flush(s, LWS_CLOSE_STATUS_GOINGAWAY);
			}
			if (gw->n_ws == 0)
				gw->done = true;
			break;
		}
		case BOUT_READY:
			atomic_store(&gw->ready, o->code != 0);
			break;
		case BOUT_HTTP:
			gw_media_reply(gw->media, o->http);
			o->http = NULL; /* taken */
			break;
		case BOUT_POST:
			gw_post_reply(gw->post, o->post);
			o->post = NULL; /* taken */
			break;
		}
		bridge_out_free(o);
	}
}

/* ---- HTTP --------------------------------------------------------------- */

static int http_reply(struct lws *wsi, unsigned status, const char *ctype, const char *body)
{
	size_t blen = strlen(body);
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof hdr - 1;
	if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)blen, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	unsigned char bbuf[LWS_PRE + 256];
	if (blen > sizeof bbuf - LWS_PRE)
		return -1;
	memcpy(bbuf + LWS_PRE, body, blen);
	if (lws_write(wsi, bbuf + LWS_PRE, blen, LWS_WRITE_HTTP_FINAL) < 0)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_http(struct gateway *gw, struct lws *wsi, void *pss, const char *uri)
{
	if (gw_accept_refuses(gw->accept, wsi, "HTTP request"))
		return http_reply(wsi, 429, "application/json",
				  "{\"error\":\"too_many_connections\",\"message\":\"" GW_CAP_REASON
				  "\"}");
	if (strncmp(uri, GW_MEDIA_PREFIX, strlen(GW_MEDIA_PREFIX)) == 0)
		return gw_media_http(gw->media, wsi, pss, uri, gw->stopping);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
		return gw_post_http(gw->post, wsi, pss, uri, gw->stopping);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 &&
	    lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) <= 0)
		return http_reply(wsi, 405, "application/json", "{\"error\":\"method_not_allowed\"}");
	if (strcmp(uri, GW_DEV_LOGIN_PATH) == 0)
		return gw_post_dev_login_probe(gw->post, wsi);
	if (strcmp(uri, "/healthz") == 0)
		return http_reply(wsi, 200, "application/json", "{\"status\":\"ok\"}");
	if (strcmp(uri, "/readyz") == 0) {
		bool ready = atomic_load(&gw->ready) && !gw->stopping;
		return http_reply(wsi, ready ? 200 : 503, "application/json",
				  ready ? "{\"status\":\"ready\"}" : "{\"status\":\"unavailable\"}");
	}
	return gw_static_serve(gw->web, wsi, uri);
}

/* ---- the lws callback ---------------------------------------------------- */

static char *handshake_token(struct lws *wsi)
{
	char buf[TOKEN_MAX + 64];
	int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0)
		return strdup(buf + 7);
	const char *v = lws_get_urlarg_by_name(wsi, "access_token=", buf, sizeof buf);
	if (v)
		return strdup(v);
	return NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct gateway *gw = lws_context_user(ctx);
	struct gw_session *s = user;

	/* Connection accounting first: these come before any per-session
	 * data exists (user is not a session here). */
	int ret;
	if (gw_accept_callback(gw->accept, wsi, reason, in, &ret))
		return ret;

	/* The per-session data of a connection serving a media request. */
	if (gw_media_owns(user)) {
		switch (reason) {
		case LWS_CALLBACK_HTTP_BODY:
		case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		case LWS_CALLBACK_HTTP_WRITEABLE:
		case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		case LWS_CALLBACK_CLOSED_HTTP:
			return gw_media_callback(gw->media, wsi, reason, user, in, len);
		default:
			break;
		}
	}
	if (gw_post_owns(user)) {
		switch (reason) {
		case LWS_CALLBACK_HTTP_BODY:
		case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		case LWS_CALLBACK_HTTP_WRITEABLE:
		case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		case LWS_CALLBACK_CLOSED_HTTP:
			return gw_post_callback(gw->post, wsi, reason, user, in, len);
		default:
			break;
		}
	}

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(gw, wsi, user, (const char *)in);

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char uri[256];
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(uri, "/ws") != 0)
			return -1;
		if (gw->stopping || gw->n_ws >= (size_t)gw->cfg->max_connections) {
			log_warn("gateway", "conn.refused", "%s",
				 gw->stopping ? "shutting down" : "max_connections reached");
			cm_conn_refused(gw->core->metrics);
			return -1;
		}
		return 0;
	}

	case LWS_CALLBACK_ESTABLISHED: {
		/* The handshake headers are still attached here; reading them
		 * now (not in FILTER) means nothing is allocated for a
		 * handshake that never completes. */
		memset(s, 0, sizeof *s);
		char *tok = handshake_token(wsi);
		s->magic = GW_SESSION_MAGIC;
		s->wsi = wsi;
		s->id = ++gw->next_id;
		s->state = GW_NEW;
		if (hmap_put64(&gw->sessions, s->id, s) < 0) {
			free(tok);
			return -1;
		}
		gw->n_ws++;
		s->metrics = gw->core->metrics;
		cm_conn_opened(s->metrics);
		/* Over the per-address cap: the upgrade completed so the client
		 * hears why (a refused handshake is just a failed connection). */
		if (gw_accept_refuses(gw->accept, wsi, "WebSocket")) {
			free(tok);
			s->close_reason = GW_CAP_REASON;
			close_after_flush(s, LWS_CLOSE_STATUS_POLICY_VIOLATION);
			return 0;
		}
		if (tok) {
			authenticate(gw, s, tok, NULL);
			log_ctx_clear();
			free(tok);
		} else {
			lws_set_timer_usecs(wsi, (lws_usec_t)gw->cfg->auth_timeout_ms * 1000);
		}
		return 0;
	}

	case LWS_CALLBACK_TIMER:
		if (s && s->magic == GW_SESSION_MAGIC && s->state == GW_NEW)
			refuse(gw, s, NULL, "unauthorized", "no auth frame in time", 4408);
		return 0;

	case LWS_CALLBACK_RECEIVE:
		return on_receive(gw, s, in, len);

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (s->magic != GW_SESSION_MAGIC)
			return 0;
		return gw_flush(s);

	case LWS_CALLBACK_CLOSED:
		if (!s || s->magic != GW_SESSION_MAGIC)
			return 0;
		if (s->state == GW_AUTHED || (s->state == GW_CLOSING && s->user[0])) {
			log_ctx_set(0, s->user);
			log_info("gateway", "session.close", "session %016llx closed (%d)",
				 (unsigned long long)s->id, s->close_code ? s->close_code
				 : s->peer_close_code ? s->peer_close_code : 1006);
			log_ctx_clear();
			struct bridge_in *bi = bridge_in_new(BIN_CLOSE, s->id, s->user, NULL);
			if (bi)
				bq_push(&gw->core->in, &bi->node);
		}
		hmap_del64(&gw->sessions, s->id);
		gw_session_release(s);
		cm_conn_closed(s->metrics, s->close_code ? s->close_code
					   : s->peer_close_code ? s->peer_close_code : 1006);
		gw->n_ws--;
		if (gw->stopping && gw->n_ws == 0)
			gw->done = true;
		return 0;

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (s && s->magic == GW_SESSION_MAGIC)
			s->peer_close_code = len >= 2 ? ((const unsigned char *)in)[0] << 8 |
							((const unsigned char *)in)[1] : 1005;
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* Arrives once per protocol: drain in exactly one place. */
		/* lws copies the protocol table per vhost: compare names. */
		if (lws_get_protocol(wsi) && lws_get_protocol(wsi)->name &&
		    strcmp(lws_get_protocol(wsi)->name, gw->protocols[0].name) == 0)
			drain_outbound(gw);
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void lws_emit(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws", "lws.log", "%.*s", (int)n, line);
}

struct gateway *gateway_new(struct core *core)
{
	const struct chatd_config *cfg = core->cfg;
	struct gateway *gw = calloc(1, sizeof *gw);
	if (!gw || hmap_init(&gw->sessions) < 0) {
		free(gw);
		return NULL;
	}
	gw->core = core;
	gw->cfg = cfg;
	gw->media = gw_media_new(&core->in, &cfg->enc, core->metrics);
	if (!gw->media) {
		hmap_destroy(&gw->sessions);
		free(gw);
		return NULL;
	}
	gw->accept = gw_accept_new(cfg, core->metrics);
	if (!gw->accept) {
		gateway_free(gw);
		return NULL;
	}
	gw->next_id = ids_random64() & 0x0000ffffffffffffULL; /* opaque across restarts */
	atomic_init(&gw->ready, core->storage_ready);

	char err[256];
	if (auth_verifier_from_config(cfg, &gw->verifier, err, sizeof err) != 0) {
		log_error("gateway", "auth.config", "auth: %s", err);
		gateway_free(gw);
		return NULL;
	}
	gw->post = gw_post_new(cfg, gw->verifier, &core->in, err, sizeof err);
	if (!gw->post) {
		log_error("gateway", "auth.dev_login", "%s", err);
		gateway_free(gw);
		return NULL;
	}
	if (cfg->auth_dev_login)
		log_warn("gateway", "auth.dev_login", "DEVELOPMENT SIGN-IN IS ON (auth.dev_login = "
			 "true): anyone who reaches this port can get a token for any user at "
			 "POST %s. Never in production.", GW_DEV_LOGIN_PATH);
	gw->web = gw_static_new(cfg->web_root, cfg->web_enabled);
	if (!gw->web) {
		gateway_free(gw);
		return NULL;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
	gw->protocols[0] = (struct lws_protocols){
		.name = "chatd",
		.callback = callback,
		.per_session_data_size = sizeof(struct gw_session),
		.rx_buffer_size = 4096,
	};
	gw->retry = (lws_retry_bo_t){
		.secs_since_valid_ping = (uint16_t)cfg->ping_interval_s,
		.secs_since_valid_hangup = (uint16_t)cfg->idle_timeout_s,
	};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = cfg->listen_port;
	info.iface = cfg->listen_host;
	info.protocols = gw->protocols;
	info.user = gw;
	info.retry_and_idle_policy = &gw->retry;
	info.max_http_header_data = TOKEN_MAX + 2048;
	info.fd_limit_per_thread = (unsigned)(cfg->max_connections + 64);
	info.timeout_secs = (unsigned)cfg->handshake_timeout_s;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	if (cfg->tls_cert) {
		/* main checked the files (tls_check_config); lws loads them
		 * again.  Plain text on this port is refused: without
		 * ALLOW_NON_SSL_ON_SSL_PORT the handshake fails and lws
		 * closes.  ALPN offers http/1.1 only: over HTTP/2 the upgrade
		 * to WebSocket and the gateway's raw frames (gw_write.c) would
		 * not work. */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
		info.alpn = "http/1.1";
		info.ssl_options_set = (long)(SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
					      SSL_OP_NO_RENEGOTIATION);
		if (tls_min_proto(cfg->tls_min_version) == TLS1_3_VERSION)
			info.ssl_options_set |= (long)SSL_OP_NO_TLSv1_2;
	}
	gw->ctx = lws_create_context(&info);
	if (!gw->ctx) {
		log_error("gateway", "listen.failed", "cannot listen on %s:%d (see lws errors above)",
			  cfg->listen_host, cfg->listen_port);
		gateway_free(gw);
		return NULL;
	}
	gw->vhost = lws_get_vhost_by_name(gw->ctx, "default");
	gw->port = gw->vhost ? lws_get_vhost_listen_port(gw->vhost) : cfg->listen_port;
	if (cfg->tls_cert) {
		char about[512];
		tls_cert_summary(cfg->tls_cert, about, sizeof about);
		log_info("gateway", "tls.on", "TLS %s+ on port %d: certificate %s (%s), key %s",
			 cfg->tls_min_version ? cfg->tls_min_version : "1.2", gw->port,
			 cfg->tls_cert, about[0] ? about : "?", cfg->tls_key);
	}
	return gw;
}

int gateway_port(const struct gateway *gw)
{
	return gw->port;
}

void gateway_wake(void *arg)
{
	struct gateway *gw = arg;
	lws_cancel_service(gw->ctx);
}

static void *gateway_main(void *arg)
{
	struct gateway *gw = arg;
	while (!gw->done) {
		if (lws_service(gw->ctx, 0) < 0)
			break;
		if (gw->stopping && now_ms() > gw->stop_deadline_ms) {
			log_warn("gateway", "shutdown.forced", "%zu sessions did not close in time",
				 gw->n_ws);
			break;
		}
	}
	if (gw_media_pending(gw->media))
		log_info("gateway", "media.cut", "%zu media requests end with the shutdown",
			 gw_media_pending(gw->media));
	/* Tell the core we are done; it then stops the plugins. */
	struct bridge_in *in = bridge_in_new(BIN_GW_DONE, 0, NULL, NULL);
	if (in)
		bq_push(&gw->core->in, &in->node);
	return NULL;
}

int gateway_start(struct gateway *gw)
{
	/* Signals belong to the core thread (libevent); this thread blocks
	 * them so SIGTERM is never handled here. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc = pthread_create(&gw->thread, NULL, gateway_main, gw);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	gw->thread_started = true;
	return 0;
}

void gateway_free(struct gateway *gw)
{
	if (!gw)
		return;
	if (gw->thread_started)
		pthread_join(gw->thread, NULL);
	if (gw->ctx)
		lws_context_destroy(gw->ctx); /* closes what is left */
	gw_media_free(gw->media);
	gw_post_free(gw->post);
	gw_static_free(gw->web);
	gw_accept_free(gw->accept);
	auth_verifier_free(gw->verifier);
	hmap_destroy(&gw->sessions);
	free(gw);
}
