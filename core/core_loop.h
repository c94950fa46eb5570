/* core_loop.h — the core thread: a libevent loop that owns all chat state,
 * runs the pipeline and hosts the plugins. */
#ifndef CHATD_CORE_LOOP_H
#define CHATD_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/event.h>
#include <jansson.h>
#include "bridge.h"
#include "config.h"
#include "loader.h"
#include "sessions.h"
#include "chatd/chatd.h"

struct gateway;
struct moderation;
struct admin;
struct presence_subs;
struct typing;
struct core_metrics;
struct telemetry;
struct cluster;

/* One loaded and initialised plugin. */
struct core_plugin {
	struct loaded_plugin *lp;
	struct chatd_plugin_handle *handle;
	void *instance;
};

struct core {
	struct event_base *base;
	struct chatd_config *cfg;            /* owned by main */
	struct bridge_queue in;              /* gateway → core */
	struct bridge_queue out;             /* core → gateway */
	struct bridge_queue tasks;           /* post_to_core */
	struct event *in_ev, *task_ev, *health_ev, *flush_ev;
	/* Deliveries of one frame made in one callback, gathered into one
	 * bridge item (flushed when another frame or item comes, or when
	 * the callback returns). */
	struct bridge_out *out_pending;
	size_t out_pending_cap;
	struct event *sig_term, *sig_int; /* each: clean shutdown */
	struct event *sig_hup;            /* reopens log.file */
	struct sessions sessions;
	struct core_plugin plugins[CFG_N_KINDS];
	const struct chatd_storage_ops *storage;
	void *storage_inst;
	const struct chatd_presence_ops *presence;
	void *presence_inst;
	const struct chatd_bus_ops *bus;
	void *bus_inst;
	const struct chatd_fanout_ops *fanout;
	void *fanout_inst;
	const struct chatd_media_ops *media;       /* NULL: no media plugin */
	void *media_inst;
	const struct chatd_receipts_ops *receipts; /* NULL: no receipts plugin */
	void *receipts_inst;
	const struct chatd_notify_ops *notify;     /* NULL: no notify plugin */
	void *notify_inst;
	struct presence_subs *presence_subs;       /* presence.subscribe state */
	struct typing *typing;                     /* typing indicators */
	struct cluster *cluster;                   /* delivery across nodes, or NULL */
	struct gateway *gw;
	struct moderation *mod;              /* rules, sanctions, audit log */
	struct admin *admin;                 /* admin API listener, or NULL */
	struct core_metrics *metrics;        /* GET /metrics (core_metrics.h) */
	struct telemetry *telemetry;         /* POST /telemetry (telemetry.h) */
	struct event *retention_ev;          /* the retention job's timer, or NULL */
	bool retention_running;              /* a purge is in flight */
	bool storage_groups;                 /* storage has the ABI 1.2 ops */
	bool shutting_down;
	bool storage_ready;
	int exit_code;
};

/* An optional op of a plugin's ops table: inside its struct_size, and set. */
#define CORE_HAS_OP(ops, type, field)                                              \
	((ops) && (ops)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field) && \
	 (ops)->field)

/* Create the loop and queues (no plugins yet).  Returns 0 or -1. */
int core_init(struct core *c, struct chatd_config *cfg);
/* Load, check and init every configured plugin, in dependency order
 * (storage first).  On failure logs every reason and returns -1 with
 * nothing left loaded. */
int core_load_plugins(struct core *c);
/* Run until shutdown completes; returns the process exit code. */
int core_run(struct core *c);
/* --check-config: open and check every configured plugin and its section
 * without starting anything.  Returns 0 or -1 (reasons logged). */
int core_check_config(struct chatd_config *cfg);
void core_destroy(struct core *c);

/* Wake the gateway: set by the gateway before it starts. */
void core_set_gateway(struct core *c, struct gateway *gw);

/* ---- replies (core thread) -------------------------------------------- */
/* Encode obj (reference stolen) into a new frame; NULL on failure. */
chatd_frame *core_encode(json_t *obj);
/* Encode obj (reference stolen) once and queue it for the sessions. */
void core_send(struct core *c, const uint64_t *sessions, size_t n, json_t *obj);
void core_send_one(struct core *c, uint64_t session, json_t *obj);
/* Queue an already encoded frame (the caller keeps its reference).
 * Consecutive calls with the same frame travel as one bridge item. */
void core_send_frame(struct core *c, const uint64_t *sessions, size_t n, chatd_frame *f);
/* Send an error frame (id may be NULL). */
void core_send_error(struct core *c, uint64_t session, const char *id, const char *code,
		     const char *message);
/* Queue a core → gateway item (ownership passes) behind the pending
 * deliveries, and wake the gateway. */
void core_push_out(struct core *c, struct bridge_out *o);
/* Send obj (if any, stolen) then close the session with code. */
void core_close_session(struct core *c, uint64_t session, json_t *obj, int code);

#endif
