/* core_loop.c — see core_loop.h.
 *
 * Shutdown (SIGTERM/SIGINT): the core tells the gateway to stop (it refuses
 * new connections and closes every session with 1001), keeps serving storage
 * completions until the gateway reports it is done, then stops the plugins
 * — storage last, and its fini commits every queued write — and returns 0.
 * SIGHUP reopens log.file (logrotate) and changes nothing else. */
#include "core_loop.h"
#include "storage_crypt.h"

#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/thread.h>
#include "admin.h"
#include "cluster.h"
#include "core_metrics.h"
#include "gateway.h"
#include "host_api.h"
#include "log.h"
#include "presence_subs.h"
#include "telemetry.h"
#include "typing.h"
#include "mod_env.h"
#include "moderation.h"
#include "pipeline.h"
#include "proto_encode.h"
#include "reencrypt.h"

static void flush_out(struct core *c)
{
	if (c->out_pending) {
		bq_push(&c->out, &c->out_pending->node);
		c->out_pending = NULL;
	}
}

/* Every other item goes behind the pending deliveries: order is kept. */
void core_push_out(struct core *c, struct bridge_out *o)
{
	flush_out(c);
	bq_push(&c->out, &o->node);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_out(arg);
}

static void wake_event(void *arg)
{
	event_active((struct event *)arg, EV_READ, 0);
}

static void on_tasks(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)host_run_tasks(arg);
}

#define DRAIN_MAX_MS 5000
#define DRAIN_POLL_MS 10

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The gateway is done: once the commands still waiting for a plugin are
 * answered (at most DRAIN_MAX_MS), stop the loop and then the plugins. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct core *c = arg;
	if (c->cmds_live > 0 && mono_ms() < c->drain_until_ms) {
		struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };
		evtimer_add(c->drain_ev, &tv);
		return;
	}
	if (c->cmds_live > 0)
		log_warn("core", "shutdown.commands_left", "%llu commands still waiting for a plugin "
			 "after %d ms; stopping anyway", (unsigned long long)c->cmds_live,
			 DRAIN_MAX_MS);
	log_info("core", "shutdown.plugins", "stopping plugins");
	event_base_loopexit(c->base, NULL);
}

static void finish_shutdown(struct core *c)
{
	c->drain_until_ms = mono_ms() + DRAIN_MAX_MS;
	if (!c->drain_ev && !(c->drain_ev = evtimer_new(c->base, on_drain, c))) {
		event_base_loopexit(c->base, NULL);
		return;
	}
	on_drain(-1, 0, c);
}

static void on_inbound(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct core *c = arg;
	struct bq_node *n = bq_drain(&c->in);
	while (n) {
		struct bridge_in *in = (struct bridge_in *)n;
		n = n->next;
		/* The item's lines carry its frame's trace and its user. */
		log_ctx_set(in->trace, in->user);
		switch (in->kind) {
		case BIN_OPEN:
			pipeline_session_open(c, in->session, in->user, in->iat);
			break;
		case BIN_CLOSE:
			pipeline_session_close(c, in->session);
			break;
		case BIN_REFRESH:
			pipeline_session_refresh(c, in->session, in->user, in->iat);
			break;
		case BIN_CMD:
			if (!c->shutting_down) {
				pipeline_dispatch(c, in->session, in->user, in->msg);
				in->msg = NULL; /* the pipeline took it */
			}
			break;
		case BIN_GW_DONE:
			finish_shutdown(c);
			break;
		case BIN_HTTP:
			media_http_handle(c, in->http);
			in->http = NULL; /* taken */
			break;
		case BIN_POST:
			telemetry_handle(c, in->post);
			in->post = NULL; /* taken */
			break;
		}
		log_ctx_clear();
		bridge_in_free(in);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct core *c = arg;
	if (c->shutting_down) {
		log_warn("core", "shutdown.again", "signal %d during shutdown; still finishing writes",
			 (int)sig);
		return;
	}
	log_info("core", "shutdown.start", "signal %d: closing sessions, finishing writes", (int)sig);
	c->shutting_down = true;
	retention_stop(c);
	reenc_stop(c);
	struct bridge_out *o = bridge_out_new(BOUT_SHUTDOWN, NULL, NULL, 0, 1001);
	if (o)
		core_push_out(c, o);
}

/* SIGHUP: logrotate moved the file; write to a new one at log.file. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	char err[512];
	int r = log_reopen(err, sizeof err);
	if (r > 0)
		log_info("core", "log.reopened", "SIGHUP: log file %s reopened", log_path());
	else if (r == 0)
		log_info("core", "log.reopen_skipped", "SIGHUP: logging to stderr, nothing to reopen");
	else
		log_error("core", "log.reopen_failed", "SIGHUP: %s; still writing to the old file",
			  err);
}

static void on_health(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct core *c = arg;
	bool ready = c->storage && c->storage->health(c->storage_inst) == CHATD_OK;
	if (ready != c->storage_ready) {
		c->storage_ready = ready;
		log_msg(ready ? LOG_INFO : LOG_WARN, "core", "storage.health", "storage %s",
			ready ? "reachable" : "unreachable");
		struct bridge_out *o = bridge_out_new(BOUT_READY, NULL, NULL, 0, ready);
		if (o)
			core_push_out(c, o);
	}
}

static void lib_event_log(int severity, const char *msg)
{
	log_msg(severity >= EVENT_LOG_ERR ? LOG_ERROR : severity >= EVENT_LOG_WARN ? LOG_WARN : LOG_DEBUG,
		"libevent", "libevent.log", "%s", msg);
}

static void lib_event_fatal(int err)
{
	/* libevent calls this on an internal inconsistency and would exit(1);
	 * we log first, then abort so a core dump shows where. */
	log_error("libevent", "libevent.fatal", "fatal libevent error %d", err);
	abort();
}

int core_init(struct core *c, struct chatd_config *cfg)
{
	memset(c, 0, sizeof *c);
	c->cfg = cfg;
	event_set_log_callback(lib_event_log);
	event_set_fatal_callback(lib_event_fatal);
	if (evthread_use_pthreads() < 0) {
		log_error("core", "init.failed", "libevent has no pthread support");
		return -1;
	}
	c->base = event_base_new();
	if (!c->base || sessions_init(&c->sessions) < 0 || !(c->metrics = core_metrics_new(c)) ||
	    !(c->telemetry = telemetry_new(c->metrics->reg)))
		return -1;
	c->in_ev = event_new(c->base, -1, 0, on_inbound, c);
	c->task_ev = event_new(c->base, -1, 0, on_tasks, c);
	c->health_ev = event_new(c->base, -1, EV_PERSIST, on_health, c);
	c->flush_ev = event_new(c->base, -1, 0, on_flush, c);
	c->sig_term = evsignal_new(c->base, SIGTERM, on_signal, c);
	c->sig_int = evsignal_new(c->base, SIGINT, on_signal, c);
	c->sig_hup = evsignal_new(c->base, SIGHUP, on_hup, c);
	if (!c->in_ev || !c->task_ev || !c->health_ev || !c->flush_ev || !c->sig_term || !c->sig_int || !c->sig_hup)
		return -1;
	bq_init(&c->in, wake_event, c->in_ev);
	bq_init(&c->tasks, wake_event, c->task_ev);
	bq_init(&c->out, NULL, NULL); /* wake set by core_set_gateway */
	event_add(c->sig_term, NULL);
	event_add(c->sig_int, NULL);
	event_add(c->sig_hup, NULL);
	struct timeval one_s = { 1, 0 };
	event_add(c->health_ev, &one_s);
	return 0;
}

void core_set_gateway(struct core *c, struct gateway *gw)
{
	c->gw = gw;
	c->out.wake = gateway_wake;
	c->out.wake_arg = gw;
}

/* Dependency order: fanout and bus read storage, so storage comes first and
 * goes last. */
static const chatd_plugin_kind load_order[] = {
	CHATD_KIND_STORAGE, CHATD_KIND_PRESENCE, CHATD_KIND_BUS, CHATD_KIND_FANOUT,
	CHATD_KIND_MEDIA, CHATD_KIND_RECEIPTS, CHATD_KIND_NOTIFY,
};

/* Stop every plugin (reverse load order), then run the tasks their
 * workers posted before they stopped, and only then unmap the objects:
 * a posted task is plugin code and must find it mapped (host.h). */
static void unload_all(struct core *c)
{
	size_t n = sizeof load_order / sizeof load_order[0];
	for (size_t i = n; i-- > 0;) {
		struct core_plugin *p = &c->plugins[load_order[i] - 1];
		if (p->instance)
			p->lp->desc->fini(p->instance);
		p->instance = NULL;
	}
	/* A task may post another (bounded: plugins are stopped). */
	for (int round = 0; round < 100 && host_run_tasks(c) > 0; round++)
		;
	for (size_t i = n; i-- > 0;) {
		struct core_plugin *p = &c->plugins[load_order[i] - 1];
		host_handle_free(p->handle);
		loader_close(p->lp);
		memset(p, 0, sizeof *p);
	}
	c->storage = NULL;
	c->presence = NULL;
	c->bus = NULL;
	c->fanout = NULL;
	c->media = NULL;
	c->receipts = NULL;
	c->notify = NULL;
	proto_set_media(NULL, NULL);
	/* The bus held it as a subscriber: freed once the bus is gone. */
	cluster_free(c->cluster);
	c->cluster = NULL;
}

/* Presence subscriptions and typing: before the plugins stop. */
static void signals_stop(struct core *c)
{
	cluster_stop(c->cluster);
	typing_free(c->typing);
	c->typing = NULL;
	presence_subs_free(c->presence_subs);
	c->presence_subs = NULL;
}

static bool ops_fit(const struct loaded_plugin *lp, size_t needed)
{
	/* Every ops table starts with its struct_size. */
	return *(const uint32_t *)lp->desc->ops >= needed;
}

/* Phase 1 of start-up, and all of --check-config: open and check every
 * configured plugin and its config section.  Every problem is logged. */
static int open_and_check(struct chatd_config *cfg, struct core_plugin *plugins)
{
	struct cfg_errors errs = { 0 };
	char err[1024];
	int rc = 0;
	for (size_t i = 0; i < sizeof load_order / sizeof load_order[0]; i++) {
		chatd_plugin_kind k = load_order[i];
		const char *name = cfg->plugin_name[k - 1];
		if (!name)
			continue;
		struct core_plugin *p = &plugins[k - 1];
		if (loader_open(cfg->plugin_dir, k, name, &p->lp, err, sizeof err) != CHATD_OK) {
			log_error("loader", "plugin.refused", "%s", err);
			rc = -1;
			continue;
		}
		char section[96];
		snprintf(section, sizeof section, "%s_%s", cfg_kind_name(k), name);
		if (cfg_check_plugin_section(cfg, section, p->lp->desc->options, &errs) != CHATD_OK)
			rc = -1;
	}
	for (size_t i = 0; i < errs.n; i++)
		log_error("config", "config.invalid", "%s", errs.msgs[i]);
	cfg_errors_clear(&errs);
	return rc;
}

int core_check_config(struct chatd_config *cfg)
{
	struct core_plugin plugins[CFG_N_KINDS];
	memset(plugins, 0, sizeof plugins);
	int rc = open_and_check(cfg, plugins);
	for (int i = 0; i < CFG_N_KINDS; i++)
		loader_close(plugins[i].lp);
	/* The rules compile as the server would compile them. */
	char err[1024];
	struct lua_host_opts o;
	moderation_host_opts(cfg, &o);
	struct mod_env *env = mod_env_new(NULL);
	o.env = env;
	struct lua_host *h = env ? lua_host_new(&o, err, sizeof err) : NULL;
	if (!h || moderation_compile(cfg, h, err, sizeof err) < 0) {
		log_error("moderation", "rules.invalid", "%s", h ? err : "out of memory");
		rc = -1;
	}
	lua_host_free(h);
	mod_env_free(env);
	return rc;
}

int core_load_plugins(struct core *c)
{
	if (open_and_check(c->cfg, c->plugins) < 0) {
		unload_all(c);
		return -1;
	}
	/* Phase 2: init in order; a failure undoes everything. */
	static const size_t ops_size[] = {
		/* storage: the 1.0 table; the 1.1 ops are checked where used */
		offsetof(struct chatd_storage_ops, audit_append),
		/* presence: the 1.0 table; watch (1.3) is optional */
		offsetof(struct chatd_presence_ops, watch),
		sizeof(struct chatd_bus_ops),
		/* fanout: the 1.0 table; the 1.2 ops are optional */
		offsetof(struct chatd_fanout_ops, write_inbox),
		sizeof(struct chatd_media_ops), sizeof(struct chatd_receipts_ops),
		sizeof(struct chatd_notify_ops),
	};
	for (size_t i = 0; i < sizeof load_order / sizeof load_order[0]; i++) {
		chatd_plugin_kind k = load_order[i];
		struct core_plugin *p = &c->plugins[k - 1];
		if (!p->lp)
			continue;
		if (ops_size[k - 1] && !ops_fit(p->lp, ops_size[k - 1])) {
			log_error("loader", "plugin.refused", "%s: refused: ops table too small for %s",
				  p->lp->path, cfg_kind_name(k));
			unload_all(c);
			return -1;
		}
		p->handle = host_handle_new(c, k, p->lp->desc->name);
		if (!p->handle) {
			unload_all(c);
			return -1;
		}
		int st = p->lp->desc->init(host_api_table(), p->handle, &p->instance);
		if (st != CHATD_OK) {
			log_error("loader", "plugin.init_failed", "%s: init failed: %s", p->lp->path,
				  chatd_strerror(st));
			p->instance = NULL;
			unload_all(c);
			return -1;
		}
		log_info("loader", "plugin.loaded", "%s_%s %s (%s)", cfg_kind_name(k),
			 p->lp->desc->name, p->lp->desc->version, p->lp->path);
		switch (k) {
		case CHATD_KIND_STORAGE:
			/* Encryption at rest sits between the core and storage, so
			 * every reader (plugins too) sees plaintext. */
			c->storage = storage_crypt_wrap(p->lp->desc->ops, &c->cfg->enc);
			c->storage_inst = p->instance;
			if (c->storage != p->lp->desc->ops)
				log_info("storage", "enc.enabled", "encryption at rest: %zu key(s), %s",
					 c->cfg->enc.n, c->cfg->enc.active ? "sealing new text"
					 : "no active key (new text stays plaintext)");
			break;
		case CHATD_KIND_PRESENCE:
			c->presence = p->lp->desc->ops;
			c->presence_inst = p->instance;
			break;
		case CHATD_KIND_BUS:
			c->bus = p->lp->desc->ops;
			c->bus_inst = p->instance;
			break;
		case CHATD_KIND_FANOUT:
			c->fanout = p->lp->desc->ops;
			c->fanout_inst = p->instance;
			break;
		case CHATD_KIND_MEDIA:
			c->media = p->lp->desc->ops;
			c->media_inst = p->instance;
			proto_set_media(c->media, c->media_inst);
			break;
		case CHATD_KIND_RECEIPTS:
			c->receipts = p->lp->desc->ops;
			c->receipts_inst = p->instance;
			break;
		case CHATD_KIND_NOTIFY:
			c->notify = p->lp->desc->ops;
			c->notify_inst = p->instance;
			break;
		default:
			break;
		}
	}
	c->storage_ready = c->storage->health(c->storage_inst) == CHATD_OK;
	/* Groups, edits and deletes need the whole ABI 1.2 storage table. */
	c->storage_groups = CORE_HAS_OP(c->storage, struct chatd_storage_ops, conv_change) &&
			    CORE_HAS_OP(c->storage, struct chatd_storage_ops, members_get) &&
			    CORE_HAS_OP(c->storage, struct chatd_storage_ops, message_get) &&
			    CORE_HAS_OP(c->storage, struct chatd_storage_ops, message_edit) &&
			    CORE_HAS_OP(c->storage, struct chatd_storage_ops, message_delete) &&
			    CORE_HAS_OP(c->storage, struct chatd_storage_ops, message_hide) &&
			    CORE_HAS_OP(c->storage, struct chatd_storage_ops, purge_deleted);
	if (!c->storage_groups)
		log_warn("core", "storage.no_groups",
			 "storage plugin has no group, edit or delete ops (ABI < 1.2): "
			 "those commands answer `unavailable`");
	char err[1024];
	if (moderation_new(c, &c->mod, err, sizeof err) < 0) {
		log_error("moderation", "rules.invalid", "%s", err);
		unload_all(c);
		return -1;
	}
	if (admin_start(c, &c->admin) < 0) {
		moderation_free(c->mod);
		c->mod = NULL;
		unload_all(c);
		return -1;
	}
	c->presence_subs = presence_subs_new(c);
	c->typing = typing_new(c);
	bool cluster_failed = false;
	c->cluster = cluster_new(c, &cluster_failed);
	if (!c->presence_subs || !c->typing || cluster_failed) {
		log_error("core", "start.nomem", "out of memory");
		signals_stop(c);
		admin_free(c->admin);
		c->admin = NULL;
		moderation_free(c->mod);
		c->mod = NULL;
		unload_all(c);
		return -1;
	}
	if (retention_start(c) < 0) {
		signals_stop(c);
		admin_free(c->admin);
		c->admin = NULL;
		moderation_free(c->mod);
		c->mod = NULL;
		unload_all(c);
		return -1;
	}
	return 0;
}

int core_run(struct core *c)
{
	moderation_start(c);
	event_base_dispatch(c->base);
	retention_stop(c);
	reenc_stop(c);
	signals_stop(c);
	/* The gateway is done: no session is left.  Stop plugins; storage's
	 * fini commits every queued write before it returns.  Moderation goes
	 * after them: their last callbacks (audit writes) still reach it. */
	admin_free(c->admin);
	c->admin = NULL;
	unload_all(c);
	moderation_free(c->mod);
	c->mod = NULL;
	log_info("core", "shutdown.done", "all writes finished");
	return c->exit_code;
}

void core_destroy(struct core *c)
{
	retention_stop(c);
	reenc_stop(c);
	signals_stop(c);
	admin_free(c->admin);
	c->admin = NULL;
	unload_all(c);
	moderation_free(c->mod);
	c->mod = NULL;
	struct bq_node *n = bq_drain(&c->in);
	while (n) {
		struct bq_node *next = n->next;
		bridge_in_free((struct bridge_in *)n);
		n = next;
	}
	n = bq_drain(&c->out);
	while (n) {
		struct bq_node *next = n->next;
		bridge_out_free((struct bridge_out *)n);
		n = next;
	}
	if (c->in_ev)
		event_free(c->in_ev);
	if (c->task_ev)
		event_free(c->task_ev);
	if (c->health_ev)
		event_free(c->health_ev);
	if (c->flush_ev)
		event_free(c->flush_ev);
	if (c->drain_ev)
		event_free(c->drain_ev);
	bridge_out_free(c->out_pending);
	c->out_pending = NULL;
	if (c->sig_term)
		event_free(c->sig_term);
	if (c->sig_int)
		event_free(c->sig_int);
	if (c->sig_hup)
		event_free(c->sig_hup);
	sessions_destroy(&c->sessions);
	telemetry_free(c->telemetry);
	c->telemetry = NULL;
	core_metrics_free(c->metrics);
	c->metrics = NULL;
	if (c->base) {
		bq_destroy(&c->in);
		bq_destroy(&c->out);
		bq_destroy(&c->tasks);
		event_base_free(c->base);
	}
	c->base = NULL;
}

/* ---- replies ------------------------------------------------------------ */

void core_send_frame(struct core *c, const uint64_t *sessions, size_t n, chatd_frame *f)
{
	if (!n || !f)
		return;
	struct bridge_out *p = c->out_pending;
	if (p && p->frame != f) {
		flush_out(c);
		p = NULL;
	}
	if (!p) {
		size_t cap = n < 64 ? 64 : n;
		p = bridge_out_reserve(bridge_out_new(BOUT_FRAME, f, NULL, 0, 0), cap);
		if (!p)
			goto nomem;
		c->out_pending = p;
		c->out_pending_cap = cap;
		/* Runs after the current callback: one item per frame. */
		event_active(c->flush_ev, EV_READ, 0);
	} else if (p->n + n > c->out_pending_cap) {
		size_t cap = c->out_pending_cap * 2 > p->n + n ? c->out_pending_cap * 2 : p->n + n;
		struct bridge_out *np = bridge_out_reserve(p, cap);
		if (!np)
			goto nomem;
		c->out_pending = p = np;
		c->out_pending_cap = cap;
	}
	memcpy(p->sessions + p->n, sessions, n * sizeof *sessions);
	p->n += n;
	return;
nomem:
	log_error("core", "send.nomem", "dropping a frame for %zu sessions", n);
}

chatd_frame *core_encode(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!s)
		return NULL;
	chatd_frame *f = frame_new(s, strlen(s));
	free(s);
	return f;
}

void core_send(struct core *c, const uint64_t *sessions, size_t n, json_t *obj)
{
	if (!obj)
		return;
	chatd_frame *f = core_encode(obj);
	if (!f) {
		log_error("core", "encode.failed", "could not encode a reply");
		return;
	}
	core_send_frame(c, sessions, n, f);
	frame_unref(f);
}

void core_send_one(struct core *c, uint64_t session, json_t *obj)
{
	core_send(c, &session, 1, obj);
}

void core_send_error(struct core *c, uint64_t session, const char *id, const char *code,
		     const char *message)
{
	bool retryable = strcmp(code, "rate_limited") == 0 || strcmp(code, "unavailable") == 0;
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "type", "error", "code", code, "message",
			      message, "retryable", retryable);
	if (o && id)
		json_object_set_new(o, "id", json_string(id));
	core_send_one(c, session, o);
}

void core_close_session(struct core *c, uint64_t session, json_t *obj, int code)
{
	chatd_frame *f = obj ? core_encode(obj) : NULL;
	struct bridge_out *o = bridge_out_new(BOUT_CLOSE, f, &session, 1, code);
	frame_unref(f);
	if (o)
		core_push_out(c, o);
}
