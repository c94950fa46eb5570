/* host_api.c — see host_api.h and include/chatd/host.h. */
#include "host_api.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include "core_loop.h"
#include "core_metrics.h"
#include "file_crypt.h"
#include "frame.h"
#include "host_io.h"
#include "log.h"
#include "pipeline.h"

#define CHECK_HANDLE(h) assert((h) && (h)->magic == HANDLE_MAGIC)

struct host_timer {
	struct host_timer *next;
	struct chatd_plugin_handle *h;
	chatd_timer_id id;
	struct event *ev;
	bool repeat;
	chatd_task_fn fn;
	void *arg;
};

struct host_task {
	struct bq_node node;
	chatd_task_fn fn;
	void *arg;
};

static void host_log(chatd_plugin_handle *h, int level, const char *event, const char *fmt, ...)
{
	CHECK_HANDLE(h);
	if (level < CHATD_LOG_ERROR)
		level = CHATD_LOG_ERROR;
	if (level > CHATD_LOG_DEBUG)
		level = CHATD_LOG_DEBUG;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg((enum log_level)level, h->section, event, fmt, ap);
	va_end(ap);
}

static const struct cfg_value *opt(chatd_plugin_handle *h, const char *key)
{
	CHECK_HANDLE(h);
	return cfg_section_value(h->core->cfg, h->section, key);
}

static int host_config_string(chatd_plugin_handle *h, const char *key, const char **out)
{
	const struct cfg_value *v = opt(h, key);
	if (!v || v->type != CHATD_OPT_STRING)
		return CHATD_ERR_NOT_FOUND;
	*out = v->str;
	return CHATD_OK;
}

static int host_config_int(chatd_plugin_handle *h, const char *key, int64_t *out)
{
	const struct cfg_value *v = opt(h, key);
	if (!v || v->type != CHATD_OPT_INT)
		return CHATD_ERR_NOT_FOUND;
	*out = v->num;
	return CHATD_OK;
}

static int host_config_bool(chatd_plugin_handle *h, const char *key, bool *out)
{
	const struct cfg_value *v = opt(h, key);
	if (!v || v->type != CHATD_OPT_BOOL)
		return CHATD_ERR_NOT_FOUND;
	*out = v->flag;
	return CHATD_OK;
}

int host_post(struct core *c, chatd_task_fn fn, void *arg)
{
	struct host_task *t = malloc(sizeof *t);
	if (!t)
		return CHATD_ERR_NOMEM;
	t->fn = fn;
	t->arg = arg;
	bq_push(&c->tasks, &t->node);
	return CHATD_OK;
}

size_t host_run_tasks(struct core *c)
{
	size_t ran = 0;
	struct bq_node *n = bq_drain(&c->tasks);
	for (; n; ran++) {
		struct host_task *t = (struct host_task *)n;
		n = n->next;
		/* A task starts with no log context; a completion into the core
		 * restores its command's own. */
		log_ctx_clear();
		t->fn(t->arg);
		log_ctx_clear();
		free(t);
	}
	return ran;
}

static int host_post_to_core(chatd_plugin_handle *h, chatd_task_fn fn, void *arg)
{
	/* No CHECK_HANDLE beyond the magic: called from worker threads, and
	 * the handle is immutable after init. */
	assert(h && h->magic == HANDLE_MAGIC);
	return host_post(h->core, fn, arg);
}

static void timer_unlink(struct host_timer *t)
{
	struct host_timer **pp = &t->h->timers;
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	event_free(t->ev);
	free(t);
}

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct host_timer *t = arg;
	chatd_task_fn fn = t->fn;
	void *a = t->arg;
	if (!t->repeat)
		timer_unlink(t); /* before the call: fn may add timers */
	log_ctx_clear();
	fn(a);
	log_ctx_clear();
}

static chatd_timer_id host_timer_add(chatd_plugin_handle *h, uint64_t ms, bool repeat,
				     chatd_task_fn fn, void *arg)
{
	CHECK_HANDLE(h);
	struct host_timer *t = calloc(1, sizeof *t);
	if (!t)
		return 0;
	t->ev = event_new(h->core->base, -1, repeat ? EV_PERSIST : 0, timer_fire, t);
	if (!t->ev) {
		free(t);
		return 0;
	}
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	event_add(t->ev, &tv);
	t->h = h;
	t->id = ++h->next_timer_id;
	t->repeat = repeat;
	t->fn = fn;
	t->arg = arg;
	t->next = h->timers;
	h->timers = t;
	return t->id;
}

static void host_timer_cancel(chatd_plugin_handle *h, chatd_timer_id id)
{
	CHECK_HANDLE(h);
	for (struct host_timer *t = h->timers; t; t = t->next)
		if (t->id == id) {
			timer_unlink(t);
			return;
		}
}

static chatd_metric_id host_metric_counter(chatd_plugin_handle *h, const char *name,
					   const char *help)
{
	CHECK_HANDLE(h);
	struct host_metric *m = realloc(h->metrics, (h->n_metrics + 1) * sizeof *m);
	if (!m)
		return 0;
	h->metrics = m;
	m = &h->metrics[h->n_metrics];
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->help, sizeof m->help, "%s", help ? help : "");
	m->value = 0;
	return (chatd_metric_id)++h->n_metrics; /* ids start at 1 */
}

static void host_metric_add(chatd_plugin_handle *h, chatd_metric_id id, int64_t delta)
{
	CHECK_HANDLE(h);
	if (id >= 1 && id <= h->n_metrics)
		h->metrics[id - 1].value += delta;
}

static int64_t host_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static chatd_frame *host_frame_new(chatd_plugin_handle *h, const char *json, size_t len)
{
	(void)h;
	return frame_new(json, len);
}

static int host_deliver_user(chatd_plugin_handle *h, const char *user_id, chatd_frame *f,
			     uint64_t except_session)
{
	CHECK_HANDLE(h);
	int n = core_deliver_user(h->core, user_id, f, except_session);
	cm_deliveries(h->core, n);
	if (log_enabled(LOG_DEBUG) && f) {
		/* Under the trace of the message the frame carries, even when the
		 * plugin delivers from a later callback of its own. */
		struct log_ctx saved;
		log_ctx_save(&saved);
		if (f->trace != saved.trace)
			log_ctx_set(f->trace, NULL);
		log_debug("fanout", "fanout.delivered", "%s: %d session(s) (%s)", user_id, n,
			  h->section);
		log_ctx_restore(&saved);
	}
	return n;
}

static void host_storage(chatd_plugin_handle *h, const struct chatd_storage_ops **ops,
			 void **instance)
{
	CHECK_HANDLE(h);
	*ops = h->core->storage;
	*instance = h->core->storage_inst;
}

static int host_bus_emit(chatd_plugin_handle *h, const char *topic, const char *payload,
			 size_t len)
{
	CHECK_HANDLE(h);
	struct core *c = h->core;
	if (!c->bus)
		return CHATD_ERR_UNAVAILABLE;
	return cm_bus_status(c, "plugin", c->bus->publish(c->bus_inst, topic, payload, len));
}

/* ---- ABI 1.5: sealed files (any thread: the key ring is fixed at start) */

static const char *host_file_seal_key(chatd_plugin_handle *h)
{
	CHECK_HANDLE(h);
	const struct enc_key *k = h->core->cfg->enc.active;
	return k ? k->id : NULL;
}

static int host_file_seal(chatd_plugin_handle *h, const char *src, const char *dst)
{
	CHECK_HANDLE(h);
	const struct enc_key *k = h->core->cfg->enc.active;
	if (!k)
		return CHATD_ERR_NOT_FOUND;
	if (!src || !dst)
		return CHATD_ERR_INVALID;
	char err[PATH_MAX + 128];
	int st = fc_seal_file(k, &h->core->cfg->enc, src, dst, 0, err, sizeof err);
	if (st != CHATD_OK)
		log_msg(LOG_ERROR, h->section, "enc.file_seal_failed", "%s: %s", dst, err);
	return st;
}

static int host_file_key_id(chatd_plugin_handle *h, const char *path, char *out, size_t cap)
{
	CHECK_HANDLE(h);
	char kid[ENC_KEY_ID_MAX + 1];
	if (!path || !out || cap == 0)
		return CHATD_ERR_INVALID;
	int st = fc_file_key_id(path, kid);
	if (st == CHATD_OK) {
		if (strlen(kid) >= cap)
			return CHATD_ERR_TOO_LARGE;
		memcpy(out, kid, strlen(kid) + 1);
	}
	return st;
}

static const struct chatd_host host_table = {
	.abi_major = CHATD_ABI_MAJOR,
	.abi_minor = CHATD_ABI_MINOR,
	.struct_size = sizeof(struct chatd_host),
	.log = host_log,
	.config_string = host_config_string,
	.config_int = host_config_int,
	.config_bool = host_config_bool,
	.post_to_core = host_post_to_core,
	.timer_add = host_timer_add,
	.timer_cancel = host_timer_cancel,
	.metric_counter = host_metric_counter,
	.metric_add = host_metric_add,
	.now_ms = host_now_ms,
	.frame_new = host_frame_new,
	.frame_ref = frame_ref,
	.frame_unref = frame_unref,
	.deliver_user = host_deliver_user,
	.storage = host_storage,
	.bus_emit = host_bus_emit,
	.node_id = host_node_id,
	.io_add = host_io_add,
	.io_set = host_io_set,
	.io_remove = host_io_remove,
	.file_seal_key = host_file_seal_key,
	.file_seal = host_file_seal,
	.file_key_id = host_file_key_id,
};

const struct chatd_host *host_api_table(void)
{
	return &host_table;
}

struct chatd_plugin_handle *host_handle_new(struct core *c, chatd_plugin_kind kind,
					    const char *name)
{
	struct chatd_plugin_handle *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->magic = HANDLE_MAGIC;
	h->core = c;
	h->kind = kind;
	snprintf(h->name, sizeof h->name, "%s", name);
	snprintf(h->section, sizeof h->section, "%s_%s", cfg_kind_name(kind), name);
	return h;
}

void host_handle_free(struct chatd_plugin_handle *h)
{
	if (!h)
		return;
	CHECK_HANDLE(h);
	while (h->timers)
		timer_unlink(h->timers);
	host_io_remove_all(h);
	free(h->metrics);
	h->magic = 0;
	free(h);
}
