/* gw_post.c — see gw_post.h.  Gateway thread only (gw_post_free: after the
 * thread is joined).
 *
 * lws facts this relies on (libwebsockets 4.1.6, read in its source): a
 * POST's body comes as LWS_CALLBACK_HTTP_BODY chunks after
 * LWS_CALLBACK_HTTP returned 0, then LWS_CALLBACK_HTTP_BODY_COMPLETION;
 * an explicit "Content-Length: 0" still gets one empty BODY and the
 * COMPLETION; without a Content-Length lws would wait for 100 MiB, so it
 * is refused (411) at once.  The answer is written from
 * LWS_CALLBACK_HTTP_WRITEABLE and the connection then closed (returning
 * -1 after the write; lws sends what it holds first). */
#include "gw_post.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "hmap.h"
#include "log.h"
#include "ratelim.h"
#include "web_rules.h"

#define TOKEN_MAX 8192
#define BODY_IDLE_S 10               /* reading the body, at most */
#define CORE_WAIT_S 10               /* the core's answer, at most */
/* Dev sign-in per client address: a burst of 20, then one every 2 s. */
#define DEV_LOGIN_BURST 20.0
#define DEV_LOGIN_PER_S 0.5
#define DEV_LOGIN_KEYS 4096

enum endpoint { EP_NONE, EP_DEV_LOGIN, EP_TELEMETRY };

enum req_state {
	P_BODY,           /* reading the body */
	P_WAIT_CORE,      /* telemetry: the core decides */
	P_REPLY,          /* the answer is to be written */
};

struct gw_post_req {
	uint32_t magic;
	uint64_t id;
	struct gw_post *p;
	struct lws *wsi;
	struct gw_post_pss *pss;
	enum endpoint ep;
	enum req_state state;
	int64_t content_length;
	char *body;
	size_t len;
	char *token;                 /* the bearer token, NULL when none */
	char peer[64];
	/* the answer */
	int status;
	char *reply;                 /* JSON */
	int64_t retry_after_ms;
};

struct gw_post {
	const struct chatd_config *cfg;
	const struct auth_verifier *verifier;
	struct bridge_queue *to_core;
	struct ratelim *dev_login_rl; /* NULL when dev sign-in is off */
	struct hmap reqs;             /* id → struct gw_post_req* */
	uint64_t next_id;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct gw_post *gw_post_new(const struct chatd_config *cfg, const struct auth_verifier *v,
			    struct bridge_queue *to_core, char *err, size_t errlen)
{
	if (cfg->auth_dev_login && strcmp(cfg->auth_algorithm, "HS256") != 0) {
		snprintf(err, errlen, "auth.dev_login = true needs auth.algorithm = \"HS256\" "
			 "(the server signs the tokens with auth.secret); it is %s",
			 cfg->auth_algorithm);
		return NULL;
	}
	struct gw_post *p = calloc(1, sizeof *p);
	if (!p || hmap_init(&p->reqs) < 0) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cfg = cfg;
	p->verifier = v;
	p->to_core = to_core;
	if (cfg->auth_dev_login) {
		p->dev_login_rl = ratelim_new(DEV_LOGIN_PER_S, DEV_LOGIN_BURST, DEV_LOGIN_KEYS);
		if (!p->dev_login_rl) {
			gw_post_free(p);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
	}
	return p;
}

bool gw_post_owns(const void *pss)
{
	const struct gw_post_pss *s = pss;
	return s && s->magic == GW_POST_MAGIC && s->req;
}

static void req_free(struct gw_post_req *r)
{
	free(r->body);
	free(r->token);
	free(r->reply);
	r->magic = 0;
	free(r);
}

static void req_release(struct gw_post_req *r)
{
	hmap_del64(&r->p->reqs, r->id);
	if (r->pss && r->pss->req == r)
		r->pss->req = NULL;
	req_free(r);
}

void gw_post_free(struct gw_post *p)
{
	if (!p)
		return;
	size_t it;
	struct hmap_entry *e;
	while ((e = hmap_first(&p->reqs, &it)) != NULL) {
		struct gw_post_req *r = e->value;
		r->pss = NULL;
		req_release(r);
	}
	hmap_destroy(&p->reqs);
	ratelim_free(p->dev_login_rl);
	free(p);
}

/* ---- answers ------------------------------------------------------------- */

static char *error_json(const char *error, const char *message)
{
	json_t *o = json_pack("{s:s, s:s}", "error", error, "message", message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* Write an answer now; returns what the callback returns (the connection
 * is closed after it). */
static int write_answer(struct lws *wsi, int status, const char *body, int64_t retry_after_ms)
{
	static const char empty[] = "{}";
	if (!body)
		body = status == 204 ? "" : empty;
	size_t blen = strlen(body);
	unsigned char *buf = malloc(LWS_PRE + 1024 + blen);
	if (!buf)
		return -1;
	unsigned char *start = buf + LWS_PRE, *p = start, *end = start + 1024 - 1;
	char extra[160];
	int n = snprintf(extra, sizeof extra, "%s",
			 status == 401 ? "Bearer realm=\"chatd\"" : "");
	char retry[32];
	int rn = snprintf(retry, sizeof retry, "%" PRId64,
			  retry_after_ms > 0 ? (retry_after_ms + 999) / 1000 : (int64_t)1);
	static const char nostore[] = "no-store", close_[] = "close", nosniff[] = "nosniff";
	bool failed = lws_add_http_common_headers(wsi, (unsigned)status, "application/json",
					(lws_filepos_t)blen, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)nostore, sizeof nostore - 1, &p,
					 end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)close_,
					 sizeof close_ - 1, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
					(const unsigned char *)nosniff, sizeof nosniff - 1, &p,
					end) ||
	    (status == 401 &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
					 (const unsigned char *)extra, n, &p, end)) ||
	    (status == 429 &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
					 (const unsigned char *)retry, rn, &p, end));
	if (!failed && lws_finalize_write_http_header(wsi, start, &p, end) == 0 && blen) {
		memcpy(start, body, blen);
		lws_write(wsi, start, blen, LWS_WRITE_HTTP_FINAL);
	}
	free(buf);
	return -1; /* Connection: close: a failed write ends the same way */
}

static int answer_now(struct lws *wsi, int status, const char *error, const char *message)
{
	char *body = error_json(error, message);
	int rc = write_answer(wsi, status, body, 0);
	free(body);
	return rc;
}

/* Set the answer (body owned: passes) and ask for WRITEABLE. */
static void set_answer(struct gw_post_req *r, int status, char *body, int64_t retry_after_ms)
{
	free(r->reply);
	r->status = status;
	r->reply = body;
	r->retry_after_ms = retry_after_ms;
	r->state = P_REPLY;
	lws_callback_on_writable(r->wsi);
}

static void set_error(struct gw_post_req *r, int status, const char *error, const char *message)
{
	set_answer(r, status, error_json(error, message), 0);
}

/* ---- dev sign-in --------------------------------------------------------- */

static void dev_login(struct gw_post_req *r)
{
	struct gw_post *p = r->p;
	int64_t now = now_ms();
	int64_t wait = ratelim_take(p->dev_login_rl, r->peer, now);
	if (wait > 0) {
		set_answer(r, 429, error_json("rate_limited", "too many sign-ins; retry later"),
			   wait);
		return;
	}
	char user[AUTH_USER_MAX + 1];
	bool moderator;
	const char *why = web_dev_login_parse(r->body ? r->body : "", r->len, user, &moderator);
	if (why) {
		set_error(r, 400, "bad_request", why);
		return;
	}
	static const char *const mod_roles[] = { "moderator", NULL };
	const char *key = p->cfg->auth_secret ? p->cfg->auth_secret : "";
	char *tok = NULL;
	int64_t now_s = now / 1000, exp = now_s + p->cfg->auth_dev_login_ttl_s;
	int st = auth_mint("HS256", key, strlen(key), user, now_s, p->cfg->auth_dev_login_ttl_s,
			   moderator ? mod_roles : NULL, &tok);
	if (st != 0) {
		log_error("gateway", "auth.dev_login_failed", "cannot mint a token for %s: %d", user,
			  st);
		set_error(r, 500, "internal", "cannot mint a token");
		return;
	}
	json_t *o = json_pack("{s:s, s:I, s:s}", "token", tok, "exp", (json_int_t)exp, "user_id",
			      user);
	free(tok);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body) {
		set_error(r, 500, "internal", "out of memory");
		return;
	}
	log_info("gateway", "auth.dev_login_token", "development sign-in: a token for %s%s (from %s)",
		 user, moderator ? " (moderator)" : "", r->peer);
	set_answer(r, 200, body, 0);
}

int gw_post_dev_login_probe(struct gw_post *p, struct lws *wsi)
{
	if (!p->cfg->auth_dev_login) {
		int rc = answer_now(wsi, 404, "not_found", "development sign-in is off");
		return rc;
	}
	char body[96];
	snprintf(body, sizeof body, "{\"enabled\":true,\"ttl_s\":%" PRId64 "}",
		 p->cfg->auth_dev_login_ttl_s);
	return write_answer(wsi, 200, body, 0);
}

/* ---- telemetry: the token here, the rest in the core --------------------- */

static void telemetry(struct gw_post_req *r)
{
	if (!r->token) {
		set_error(r, 401, "unauthorized", "a bearer token is required");
		return;
	}
	struct auth_claims claims;
	enum auth_result ar = auth_verify(r->p->verifier, r->token, now_ms() / 1000, &claims);
	if (ar != AUTH_OK) {
		set_error(r, 401, "unauthorized", ar == AUTH_EXPIRED ? "the token has expired"
								     : "invalid token");
		return;
	}
	struct bridge_post *bp = calloc(1, sizeof *bp);
	struct bridge_in *in = bp ? bridge_in_new(BIN_POST, 0, NULL, NULL) : NULL;
	if (!in) {
		free(bp);
		set_error(r, 500, "internal", "out of memory");
		return;
	}
	bp->req = r->id;
	memcpy(bp->user, claims.sub, sizeof bp->user);
	bp->iat = claims.iat;
	bp->body = r->body ? r->body : strdup("");
	bp->body_len = r->body ? r->len : 0;
	r->body = NULL;
	r->len = 0;
	if (!bp->body) {
		bridge_in_free(in);
		free(bp);
		set_error(r, 500, "internal", "out of memory");
		return;
	}
	in->post = bp;
	r->state = P_WAIT_CORE;
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, CORE_WAIT_S);
	bq_push(r->p->to_core, &in->node);
}

void gw_post_reply(struct gw_post *p, struct bridge_post *bp)
{
	struct gw_post_req *r = hmap_get64(&p->reqs, bp->req);
	if (r && r->state == P_WAIT_CORE) {
		set_answer(r, bp->status, bp->reply, bp->retry_after_ms);
		bp->reply = NULL;
	}
	bridge_post_free(bp);
}

/* ---- lws ----------------------------------------------------------------- */

static bool parse_length(const char *s, int64_t *out)
{
	if (!*s)
		return false;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

static char *bearer_token(struct lws *wsi)
{
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 7 || n > TOKEN_MAX + 64)
		return NULL;
	char *buf = malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	if (lws_hdr_copy(wsi, buf, n + 1, WSI_TOKEN_HTTP_AUTHORIZATION) <= 7 ||
	    strncasecmp(buf, "Bearer ", 7) != 0) {
		free(buf);
		return NULL;
	}
	memmove(buf, buf + 7, strlen(buf + 7) + 1);
	return buf;
}

int gw_post_http(struct gw_post *p, struct lws *wsi, void *pss, const char *path, bool stopping)
{
	if (stopping)
		return answer_now(wsi, 503, "unavailable", "the server is shutting down");
	char cl[32];
	int64_t clen = -1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return answer_now(wsi, 411, "bad_request", "Content-Length is required");
	if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
	    !parse_length(cl, &clen))
		return answer_now(wsi, 400, "bad_request", "bad Content-Length");
	if (clen > GW_POST_BODY_MAX)
		return answer_now(wsi, 413, "too_large", "the body is over 16384 bytes");
	struct gw_post_req *r = calloc(1, sizeof *r);
	if (!r)
		return answer_now(wsi, 500, "internal", "out of memory");
	r->magic = GW_POST_MAGIC;
	r->id = ++p->next_id;
	r->p = p;
	r->wsi = wsi;
	r->pss = pss;
	r->content_length = clen;
	r->state = P_BODY;
	if (strcmp(path, GW_DEV_LOGIN_PATH) == 0 && p->cfg->auth_dev_login)
		r->ep = EP_DEV_LOGIN;
	else if (strcmp(path, GW_TELEMETRY_PATH) == 0)
		r->ep = EP_TELEMETRY;
	else
		r->ep = EP_NONE;
	if (r->ep == EP_TELEMETRY)
		r->token = bearer_token(wsi);
	if (lws_get_peer_simple(wsi, r->peer, sizeof r->peer) == NULL)
		snprintf(r->peer, sizeof r->peer, "?");
	r->body = malloc((size_t)clen + 1);
	if (!r->body || hmap_put64(&p->reqs, r->id, r) < 0) {
		req_free(r);
		return answer_now(wsi, 500, "internal", "out of memory");
	}
	r->body[0] = '\0';
	r->pss->magic = GW_POST_MAGIC;
	r->pss->req = r;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_IDLE_S);
	return 0;
}

static void body_done(struct gw_post_req *r)
{
	if ((int64_t)r->len != r->content_length) {
		set_error(r, 400, "bad_request", "the body is shorter than Content-Length");
		return;
	}
	switch (r->ep) {
	case EP_DEV_LOGIN:
		dev_login(r);
		break;
	case EP_TELEMETRY:
		telemetry(r);
		break;
	default:
		set_error(r, 404, "not_found", "no such endpoint");
		break;
	}
}

int gw_post_callback(struct gw_post *p, struct lws *wsi, enum lws_callback_reasons reason,
		     void *pss, void *in, size_t len)
{
	(void)p;
	struct gw_post_req *r = ((struct gw_post_pss *)pss)->req;
	switch (reason) {
	case LWS_CALLBACK_HTTP_BODY:
		if (r->state != P_BODY)
			return 0;
		if ((int64_t)(r->len + len) > r->content_length)
			return -1; /* lws passes no more than announced: never here */
		if (len)
			memcpy(r->body + r->len, in, len);
		r->len += len;
		r->body[r->len] = '\0';
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->state == P_BODY)
			body_done(r);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (r->state != P_REPLY)
			return 0;
		return write_answer(wsi, r->status, r->reply, r->retry_after_ms);

	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		req_release(r);
		return 0;

	default:
		return 0;
	}
}
