/* telemetry.c — see telemetry.h.  Core thread only (telemetry_new: before
 * the gateway thread starts). */
#include "telemetry.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core_loop.h"
#include "log.h"
#include "moderation.h"
#include "ratelim.h"
#include "web_rules.h"

#define TELEMETRY_USERS_MAX 65536

struct telemetry {
	struct metric *reconnects, *stuck_sends;
	struct metric_family *errors, *reports;
	struct ratelim *rl;          /* per user */
};

struct telemetry *telemetry_new(struct metrics *reg)
{
	struct telemetry *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	struct metric_family *rf = metrics_counter(
		reg, "chatd_client_reconnects_total",
		"WebSocket reconnects the web clients reported (POST /telemetry)", NULL);
	struct metric_family *sf = metrics_counter(
		reg, "chatd_client_stuck_sends_total",
		"messages the web clients saw in \"sending\" for more than 5 s", NULL);
	t->errors = metrics_counter(reg, "chatd_client_errors_total",
				    "errors the web clients reported, by code (unknown codes: other)",
				    "code");
	t->reports = metrics_counter(reg, "chatd_client_telemetry_reports_total",
				     "POST /telemetry requests the core decided, by result",
				     "result");
	t->reconnects = metric_series(rf, NULL);
	t->stuck_sends = metric_series(sf, NULL);
	t->rl = ratelim_new(1.0 / TELEMETRY_EVERY_S, TELEMETRY_BURST, TELEMETRY_USERS_MAX);
	if (!t->reconnects || !t->stuck_sends || !t->errors || !t->reports || !t->rl) {
		telemetry_free(t);
		return NULL;
	}
	return t;
}

void telemetry_free(struct telemetry *t)
{
	if (!t)
		return;
	ratelim_free(t->rl);
	free(t);
}

/* ---- the core's side ------------------------------------------------------ */

static void answer(struct core *c, struct bridge_post *p, int status, const char *error,
		   const char *message)
{
	struct telemetry *t = c->telemetry;
	const char *result = status == 204 ? "accepted" : error;
	metric_inc(metric_series1(t->reports, result));
	free(p->reply);
	p->reply = NULL;
	p->status = status;
	if (error) {
		json_t *o = json_pack("{s:s, s:s}", "error", error, "message", message);
		p->reply = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	}
	struct bridge_out *o = bridge_out_new(BOUT_POST, NULL, NULL, 0, 0);
	if (!o) {
		/* The gateway's request then ends on its timeout. */
		log_error("core", "telemetry.nomem", "request %llu: answer dropped",
			  (unsigned long long)p->req);
		bridge_post_free(p);
		return;
	}
	o->post = p;
	core_push_out(c, o);
}

void telemetry_handle(struct core *c, struct bridge_post *p)
{
	struct telemetry *t = c->telemetry;
	int64_t now = mod_now_ms(), until = 0;
	const char *stop = moderation_blocking(c, p->user, now, &until);
	if ((stop && strcmp(stop, "ban") == 0) || moderation_token_revoked(c, p->user, p->iat)) {
		answer(c, p, 401, "unauthorized", "this token was revoked or the user is banned");
		return;
	}
	int64_t wait = ratelim_take(t->rl, p->user, now);
	if (wait > 0) {
		p->retry_after_ms = wait;
		answer(c, p, 429, "rate_limited", "too many reports; retry later");
		return;
	}
	struct telemetry_report r;
	const char *why = telemetry_parse(p->body, p->body_len, &r);
	if (why) {
		answer(c, p, 400, "bad_request", why);
		return;
	}
	if (r.reconnects)
		metric_add(t->reconnects, (uint64_t)r.reconnects);
	if (r.stuck_sends)
		metric_add(t->stuck_sends, (uint64_t)r.stuck_sends);
	for (size_t i = 0; i < r.n_errors; i++)
		metric_inc(metric_series1(t->errors, telemetry_code_label(r.codes[i])));
	answer(c, p, 204, NULL, NULL);
}
