/* core_metrics.h — chatd's own metrics (every one is listed with its type
 * and meaning in docs/operations.md, "Metrics"): the families registered
 * at start, the series the gateway thread updates, and the one-line
 * helpers the instrumentation points in core/ call.
 *
 * Threads: the registry is made in core_init, before the gateway thread
 * starts, and freed in core_destroy, after it has been joined.  The
 * gateway-thread helpers (cm_conn_*, cm_queue, the overflow counter) only
 * touch series created here, through atomics; everything else runs on the
 * core thread.  Every helper accepts a NULL struct core_metrics. */
#ifndef CHATD_CORE_METRICS_H
#define CHATD_CORE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "metrics.h"

struct core;
struct cmd;

/* The send pipeline's stages (cmd_send.c). */
enum cm_stage {
	CM_STAGE_AUTHORIZE,  /* core receipt → storage's precheck answered (dup, member, role) */
	CM_STAGE_MODERATE,   /* sanctions and the on_message rules */
	CM_STAGE_PERSIST,    /* end of moderation → storage's append completed */
	CM_STAGE_FANOUT,     /* encode, bus publish and the fan-out plugin's deliver call */
	CM_STAGE__COUNT
};

#define CM_CLOSE_CODES 14    /* close codes with their own series (+ "other") */

/* A rule's counts carried over from rule sets swapped out by a reload, so
 * the per-rule counters never go back (mod_metrics.c). */
struct cm_rule_carry {
	char name[64];
	uint64_t calls, failures;
	uint64_t verdicts[2][6];     /* [enum lua_rule_mode][enum lua_verdict] */
	/* call latency, as a struct lua_rule_latency */
	uint64_t lat_sum_ns, lat_max_ns, lat_buckets[17];
};
#define CM_RULE_CARRY_MAX 256

struct core_metrics {
	struct metrics *reg;
	struct core *core;
	int64_t started_at_ms;
	/* gateway thread */
	struct metric *connections, *conn_opened, *conn_refused, *overflows, *media_decrypt_failed;
	struct metric *conn_refused_ip;
	struct metric *queue_bytes, *queue_frames;
	struct metric *closed[CM_CLOSE_CODES + 1];
	/* core thread */
	struct metric *accepted, *duplicates, *send_ack, *deliveries;
	struct metric *stage[CM_STAGE__COUNT];
	struct metric_family *rejected, *commands, *storage_seconds, *storage_errors;
	struct metric_family *presence_errors, *bus_errors;
	struct cm_rule_carry *carry;
	size_t ncarry;
};

/* NULL on ENOMEM. */
struct core_metrics *core_metrics_new(struct core *c);
void core_metrics_free(struct core_metrics *m);
/* The whole exposition text into b (core thread).  0 or -1 (ENOMEM). */
int core_metrics_render(struct core_metrics *m, struct metrics_buf *b);

/* ---- gateway thread ---- */
void cm_conn_opened(struct core_metrics *m);
/* A WebSocket connection ended with this close code (sent or received;
 * 1006 when none was). */
void cm_conn_closed(struct core_metrics *m, int code);
/* Frames and bytes waiting in the sessions' outbound queues changed. */
void cm_queue(struct core_metrics *m, int64_t frames, int64_t bytes);
/* A session went over its outbound queue cap (it is closed with 4409). */
void cm_overflow(struct core_metrics *m);
/* A WebSocket handshake was refused. */
void cm_conn_refused(struct core_metrics *m);
/* A connection was refused by server.max_connections_per_ip (HTTP 429,
 * WebSocket close 1008, or dropped at accept). */
void cm_conn_refused_ip(struct core_metrics *m);
/* A sealed media file could not be served (decision 61). */
void cm_media_decrypt_failed(struct core_metrics *m);

/* ---- core thread ---- */
static inline uint64_t cm_now(void)
{
	return metrics_now_ns();
}
/* Observe the seconds since t0_ns (0: nothing) in the stage's histogram;
 * returns now (ns). */
uint64_t cm_stage(struct core *c, enum cm_stage st, uint64_t t0_ns);
/* A storage op (precheck, append, history, sync) completed: its latency
 * since t0_ns (0: nothing). */
void cm_storage_done(struct core *c, const char *op, uint64_t t0_ns);
/* A command's reply (obj: the frame about to be sent) or error: counts
 * the command's latency once, sends accepted / duplicate / rejected by
 * reason, and the send → ack latency. */
void cm_command_reply(struct cmd *cmd, const json_t *obj);
void cm_command_error(struct cmd *cmd, const char *code);
/* A command failed on a storage (or plugin) status: counted when the
 * status is a failure (nomem, unavailable, io, internal), not an answer. */
void cm_command_failed(struct cmd *cmd, int status);
/* The fan-out plugin queued a frame for n sessions (host deliver_user). */
void cm_deliveries(struct core *c, int n);
/* Counts a presence / bus plugin call that returned an error; returns
 * status unchanged (so it wraps the call). */
int cm_presence_status(struct core *c, const char *op, int status);
int cm_bus_status(struct core *c, const char *op, int status);

/* ---- moderation (mod_metrics.c) ---- */
struct mod_metrics_snap;
/* The current rule set's statistics, taken before a reload (NULL: none). */
struct mod_metrics_snap *mod_metrics_snapshot(struct core *c);
/* After the reload: when the set was swapped, the snapshot's counts are
 * carried over; either way the snapshot is freed. */
void mod_metrics_carry(struct core *c, struct mod_metrics_snap *s, bool swapped);
/* A rule failure the rule host does not see (a rewrite that cannot be
 * stored). */
void mod_metrics_rule_failed(struct core *c, const char *rule);
/* Rule and audit families, at scrape time. */
void mod_metrics_collect(struct core *c, struct metrics_buf *b);

#endif
