/* core_metrics.c — see core_metrics.h. */
#include "core_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core_loop.h"
#include "host_api.h"
#include "pipeline.h"
#include "reencrypt.h"
#include "sessions.h"

/* Seconds: 100 µs (a rule, a cached read) to 10 s (a stuck backend). */
static const double latency_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])

/* Close codes the server sends or clients commonly use; any other code
 * counts as "other" (a client picks its own: the label set stays bounded). */
static const int close_codes[CM_CLOSE_CODES] = {
	1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 4401, 4403, 4408, 4409,
};

static const char *const stage_names[CM_STAGE__COUNT] = {
	"authorize", "moderate", "persist", "fanout",
};

static void collect_core(void *arg, struct metrics_buf *b);

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Register every family; false on ENOMEM (or a bad definition here). */
static bool define(struct core_metrics *m)
{
	struct metrics *r = m->reg;
	struct metric_family *f;
	bool ok = true;
#define ONE(ptr, fam) do { f = (fam); (ptr) = metric_series(f, NULL); ok = ok && (ptr); } while (0)
	ONE(m->connections, metrics_gauge(r, "chatd_connections",
		"WebSocket connections open now (authenticated or not)", NULL));
	ONE(m->conn_opened, metrics_counter(r, "chatd_connections_opened_total",
		"WebSocket connections accepted", NULL));
	f = metrics_counter(r, "chatd_connections_closed_total",
			    "WebSocket connections ended, by close code (sent or received; "
			    "1006: none, the TCP connection dropped)", "code");
	for (int i = 0; i <= CM_CLOSE_CODES; i++) {
		char code[16];
		snprintf(code, sizeof code, "%d", i < CM_CLOSE_CODES ? close_codes[i] : 0);
		m->closed[i] = metric_series1(f, i < CM_CLOSE_CODES ? code : "other");
		ok = ok && m->closed[i];
	}
	ONE(m->conn_refused, metrics_counter(r, "chatd_connections_refused_total",
		"WebSocket handshakes refused (server.max_connections reached, or shutting down)",
		NULL));
	ONE(m->conn_refused_ip, metrics_counter(r, "chatd_connections_refused_per_ip_total",
		"connections refused because their address held more than "
		"server.max_connections_per_ip (HTTP 429, WebSocket close 1008, or dropped at "
		"accept past twice the cap)", NULL));
	ONE(m->media_decrypt_failed, metrics_counter(r, "chatd_media_decrypt_failures_total",
		"downloads of sealed media that failed: an unknown key, a header or a chunk that "
		"fails authentication (tampered or moved file), a read error", NULL));
	ONE(m->queue_frames, metrics_gauge(r, "chatd_outbound_queue_frames",
		"frames waiting in the sessions' outbound queues (gateway)", NULL));
	ONE(m->queue_bytes, metrics_gauge(r, "chatd_outbound_queue_bytes",
		"bytes waiting in the sessions' outbound queues (gateway)", NULL));
	ONE(m->overflows, metrics_counter(r, "chatd_outbound_overflows_total",
		"sessions closed with 4409 because their outbound queue went over "
		"server.outbound_queue_bytes", NULL));
	ONE(m->accepted, metrics_counter(r, "chatd_messages_accepted_total",
		"sends stored and acked (duplicates excluded)", NULL));
	ONE(m->duplicates, metrics_counter(r, "chatd_messages_duplicate_total",
		"sends answered with the original ack (client_message_id seen before)", NULL));
	m->rejected = metrics_counter(r, "chatd_messages_rejected_total",
		"sends refused, by reason: the error code, or for `rejected` the rule's or "
		"sanction's reason code", "reason");
	ONE(m->send_ack, metrics_histogram(r, "chatd_send_ack_seconds",
		"end to end: the core receiving a send to its ack being queued to the gateway "
		"(accepted sends)", NULL, latency_bounds, N_BOUNDS));
	f = metrics_histogram(r, "chatd_pipeline_stage_seconds",
			      "the send pipeline's stages (authorize, moderate, persist, fanout)",
			      "stage", latency_bounds, N_BOUNDS);
	for (int i = 0; i < CM_STAGE__COUNT; i++) {
		m->stage[i] = metric_series1(f, stage_names[i]);
		ok = ok && m->stage[i];
	}
	m->commands = metrics_histogram(r, "chatd_command_seconds",
		"client commands: the core receiving one to its first reply, by command type",
		"command", latency_bounds, N_BOUNDS);
	ONE(m->deliveries, metrics_counter(r, "chatd_fanout_deliveries_total",
		"frames the fan-out plugin queued for sessions (one per recipient session)", NULL));
	m->storage_seconds = metrics_histogram(r, "chatd_storage_op_seconds",
		"storage op latency from the call to its completion, by op", "op",
		latency_bounds, N_BOUNDS);
	m->storage_errors = metrics_counter(r, "chatd_storage_errors_total",
		"commands that failed on a storage (or plugin) error, by command and error",
		"command,error");
	m->presence_errors = metrics_counter(r, "chatd_presence_errors_total",
		"presence plugin calls that failed, by op", "op");
	m->bus_errors = metrics_counter(r, "chatd_bus_errors_total",
		"bus plugin publishes that failed, by origin (core or plugin)", "op");
#undef ONE
	return ok && m->rejected && m->commands && m->storage_seconds && m->storage_errors &&
	       m->presence_errors && m->bus_errors &&
	       metrics_add_collector(r, collect_core, m) == 0;
}

struct core_metrics *core_metrics_new(struct core *c)
{
	struct core_metrics *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->core = c;
	m->started_at_ms = wall_ms();
	m->reg = metrics_new();
	if (!m->reg || !define(m)) {
		core_metrics_free(m);
		return NULL;
	}
	return m;
}

void core_metrics_free(struct core_metrics *m)
{
	if (!m)
		return;
	metrics_free(m->reg);
	free(m->carry);
	free(m);
}

int core_metrics_render(struct core_metrics *m, struct metrics_buf *b)
{
	return metrics_render(m->reg, b);
}

/* ---- scrape-time families ---- */

/* Every counter a plugin registered through the host API (the same values
 * as GET /v1/metrics), as chatd_plugin_<kind>_<name>_<counter>.  The host
 * API cannot tell a counter from a gauge (a plugin may add negative
 * deltas), so only names ending in _total are typed counter. */
static void collect_plugins(struct core *c, struct metrics_buf *b)
{
	for (int k = 0; k < CFG_N_KINDS; k++) {
		const struct chatd_plugin_handle *h = c->plugins[k].handle;
		for (size_t i = 0; h && i < h->n_metrics; i++) {
			char sec[sizeof h->section], cn[sizeof h->metrics[i].name];
			char name[sizeof sec + sizeof cn + 16];
			metrics_sanitize(sec, sizeof sec, h->section);
			metrics_sanitize(cn, sizeof cn, h->metrics[i].name);
			snprintf(name, sizeof name, "chatd_plugin_%s_%s", sec, cn);
			size_t n = strlen(name);
			bool total = n > 6 && strcmp(name + n - 6, "_total") == 0;
			char help[sizeof h->metrics[i].help + sizeof h->section + 8];
			snprintf(help, sizeof help, "%s: %s", h->section, h->metrics[i].help);
			metrics_write_header(b, name, help,
					     total ? METRIC_COUNTER : METRIC_UNTYPED);
			metrics_write_sample(b, name, NULL, NULL, 0, (double)h->metrics[i].value);
		}
	}
}

static void gauge(struct metrics_buf *b, const char *name, const char *help, double v)
{
	metrics_write_header(b, name, help, METRIC_GAUGE);
	metrics_write_sample(b, name, NULL, NULL, 0, v);
}

static void collect_core(void *arg, struct metrics_buf *b)
{
	struct core_metrics *m = arg;
	struct core *c = m->core;
	static const char *const info_l[] = { "version", "node_id" };
	const char *info_v[] = { PACKAGE_VERSION, c->cfg ? c->cfg->node_id : "" };
	metrics_write_header(b, "chatd_build_info", "always 1; the labels say what runs",
			     METRIC_GAUGE);
	metrics_write_sample(b, "chatd_build_info", info_l, info_v, 2, 1);
	gauge(b, "chatd_start_time_seconds", "when this process started (Unix time)",
	      (double)m->started_at_ms / 1000.0);
	gauge(b, "chatd_sessions", "authenticated sessions the core knows",
	      (double)sessions_count(&c->sessions));
	gauge(b, "chatd_storage_ready", "1 when the storage plugin's health check passes",
	      c->storage_ready ? 1 : 0);
	static const char *const q_l[] = { "queue" };
	static const char *const q_names[] = { "in", "out", "tasks" };
	struct bridge_queue *qs[] = { &c->in, &c->out, &c->tasks };
	metrics_write_header(b, "chatd_bridge_queue_items",
			     "items waiting between the threads: in (gateway → core), out "
			     "(core → gateway), tasks (plugin workers → core)", METRIC_GAUGE);
	for (int i = 0; i < 3; i++)
		metrics_write_sample(b, "chatd_bridge_queue_items", q_l, &q_names[i], 1,
				     (double)bq_len(qs[i]));
	mod_metrics_collect(c, b);
	reenc_metrics_collect(b);
	collect_plugins(c, b);
}

/* ---- gateway thread ---- */

void cm_conn_opened(struct core_metrics *m)
{
	if (!m)
		return;
	metric_inc(m->conn_opened);
	metric_gauge_add(m->connections, 1);
}

void cm_conn_closed(struct core_metrics *m, int code)
{
	if (!m)
		return;
	int i = 0;
	while (i < CM_CLOSE_CODES && close_codes[i] != code)
		i++;
	metric_inc(m->closed[i]);
	metric_gauge_add(m->connections, -1);
}

void cm_queue(struct core_metrics *m, int64_t frames, int64_t bytes)
{
	if (!m)
		return;
	metric_gauge_add(m->queue_frames, frames);
	metric_gauge_add(m->queue_bytes, bytes);
}

void cm_overflow(struct core_metrics *m)
{
	if (m)
		metric_inc(m->overflows);
}

void cm_conn_refused(struct core_metrics *m)
{
	if (m)
		metric_inc(m->conn_refused);
}

void cm_conn_refused_ip(struct core_metrics *m)
{
	if (m)
		metric_inc(m->conn_refused_ip);
}

void cm_media_decrypt_failed(struct core_metrics *m)
{
	if (m)
		metric_inc(m->media_decrypt_failed);
}

/* ---- core thread ---- */

void cm_deliveries(struct core *c, int n)
{
	if (c->metrics && n > 0)
		metric_add(c->metrics->deliveries, (uint64_t)n);
}

static double secs_since(uint64_t t0_ns, uint64_t now)
{
	return now > t0_ns ? (double)(now - t0_ns) / 1e9 : 0.0;
}

uint64_t cm_stage(struct core *c, enum cm_stage st, uint64_t t0_ns)
{
	uint64_t now = cm_now();
	if (c->metrics && t0_ns && st < CM_STAGE__COUNT)
		metric_observe(c->metrics->stage[st], secs_since(t0_ns, now));
	return now;
}

void cm_storage_done(struct core *c, const char *op, uint64_t t0_ns)
{
	if (c->metrics && t0_ns)
		metric_observe(metric_series1(c->metrics->storage_seconds, op),
			       secs_since(t0_ns, cm_now()));
}

/* The command's latency, once (its first reply). */
static void command_done(struct core_metrics *m, struct cmd *cmd, uint64_t now)
{
	if (!cmd->t0_ns)
		return;
	metric_observe(metric_series1(m->commands, cmd->type), secs_since(cmd->t0_ns, now));
	cmd->t0_ns = 0;
}

static bool is_send(const struct cmd *cmd)
{
	return cmd->type && strcmp(cmd->type, "send") == 0;
}

static void error_reply(struct cmd *cmd, const char *code, const char *reason)
{
	struct core_metrics *m = cmd->core->metrics;
	if (!m || !cmd->type)
		return;
	if (is_send(cmd) && cmd->t0_ns)
		metric_inc(metric_series1(m->rejected, code && strcmp(code, "rejected") == 0 &&
						       reason && *reason ? reason
						       : code ? code : "unknown"));
	command_done(m, cmd, cm_now());
}

void cm_command_error(struct cmd *cmd, const char *code)
{
	error_reply(cmd, code, NULL);
}

void cm_command_reply(struct cmd *cmd, const json_t *obj)
{
	struct core_metrics *m = cmd->core->metrics;
	if (!m || !cmd->type || !obj)
		return;
	const char *type = json_string_value(json_object_get(obj, "type"));
	if (type && strcmp(type, "error") == 0) {
		error_reply(cmd, json_string_value(json_object_get(obj, "code")),
			    json_string_value(json_object_get(obj, "reason")));
		return;
	}
	uint64_t now = cm_now();
	if (is_send(cmd) && cmd->t0_ns && type && strcmp(type, "ack") == 0) {
		if (json_is_true(json_object_get(obj, "duplicate"))) {
			metric_inc(m->duplicates);
		} else {
			metric_inc(m->accepted);
			metric_observe(m->send_ack, secs_since(cmd->t0_ns, now));
		}
	}
	command_done(m, cmd, now);
}

void cm_command_failed(struct cmd *cmd, int status)
{
	struct core_metrics *m = cmd->core->metrics;
	const char *err;
	switch (status) {
	case CHATD_OK: case CHATD_ERR_INVALID: case CHATD_ERR_NOT_FOUND: case CHATD_ERR_EXISTS:
	case CHATD_ERR_FORBIDDEN: case CHATD_ERR_TOO_LARGE: case CHATD_ERR_SHUTDOWN:
	case CHATD_ERR_CONFLICT: case CHATD_ERR_RATE_LIMITED:
		return;   /* an answer, not a failure */
	case CHATD_ERR_NOMEM: err = "nomem"; break;
	case CHATD_ERR_UNAVAILABLE: err = "unavailable"; break;
	case CHATD_ERR_IO: err = "io"; break;
	default: err = "internal"; break;
	}
	if (!m)
		return;
	const char *v[] = { cmd->type ? cmd->type : "other", err };
	metric_inc(metric_series(m->storage_errors, v));
}

int cm_presence_status(struct core *c, const char *op, int status)
{
	if (status != CHATD_OK && c->metrics)
		metric_inc(metric_series1(c->metrics->presence_errors, op));
	return status;
}

int cm_bus_status(struct core *c, const char *op, int status)
{
	if (status != CHATD_OK && c->metrics)
		metric_inc(metric_series1(c->metrics->bus_errors, op));
	return status;
}
