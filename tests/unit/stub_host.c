/* stub_host.c — a working chatd_host on a libevent loop, for unit tests.
 * See stub_host.h.  Everything but post_to_core runs on the test thread. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/thread.h>
#include "stub_host.h"
#include "file_crypt.h"

struct chatd_plugin_handle {
	const char *name;
};

#define STUB_MAX_KV 64
#define STUB_MAX_METRICS 64
#define STUB_MAX_EVENTS 128

struct stub_task {
	struct stub_task *next;
	chatd_task_fn fn;
	void *arg;
};

struct stub_timer {
	struct stub_timer *next;
	chatd_timer_id id;
	struct event *ev;
	bool repeat;
	chatd_task_fn fn;
	void *arg;
};

struct stub_frame {
	atomic_int refs;
	size_t len;
	char data[];
};

static struct {
	bool up;
	bool quiet;
	struct event_base *base;
	struct event *task_ev;
	pthread_mutex_t mu;                 /* guards tasks and task_pending */
	struct stub_task *tasks, *tasks_tail;
	bool task_pending;

	char *keys[STUB_MAX_KV], *vals[STUB_MAX_KV];
	size_t n_kv;
	const struct chatd_option *schema;

	struct stub_timer *timers;
	chatd_timer_id next_timer;

	struct { char *name; int64_t value; } metrics[STUB_MAX_METRICS];
	size_t n_metrics;
	struct { char *event; int count; } events[STUB_MAX_EVENTS];
	size_t n_events;

	int delivered, emitted;
	const struct chatd_storage_ops *storage_ops;
	void *storage_inst;
} S = { .mu = PTHREAD_MUTEX_INITIALIZER };

static struct chatd_plugin_handle stub_h = { "test" };

/* ---- logging ------------------------------------------------------ */

static void stub_count_event(const char *event)
{
	for (size_t i = 0; i < S.n_events; i++) {
		if (strcmp(S.events[i].event, event) == 0) {
			S.events[i].count++;
			return;
		}
	}
	if (S.n_events < STUB_MAX_EVENTS) {
		S.events[S.n_events].event = strdup(event);
		if (S.events[S.n_events].event)
			S.events[S.n_events++].count = 1;
	}
}

__attribute__((format(printf, 4, 5)))
static void stub_log(chatd_plugin_handle *h, int level, const char *event, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	stub_count_event(event ? event : "");
	/* Info and debug lines only with CHATD_TEST_VERBOSE: the runner's
	 * output stays readable; events are counted either way. */
	if (S.quiet || (level > CHATD_LOG_WARN && !getenv("CHATD_TEST_VERBOSE")))
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%s] %s %s: ", level >= 0 && level <= 3 ? names[level] : "?",
		h ? h->name : "-", event ? event : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- config ------------------------------------------------------- */

static const char *stub_lookup(const char *key)
{
	for (size_t i = 0; i < S.n_kv; i++)
		if (strcmp(S.keys[i], key) == 0)
			return S.vals[i];
	for (const struct chatd_option *o = S.schema; o && o->key; o++)
		if (strcmp(o->key, key) == 0)
			return o->def;
	return NULL;
}

static int stub_config_string(chatd_plugin_handle *h, const char *key, const char **out)
{
	const char *v = stub_lookup(key);
	if (!v)
		return CHATD_ERR_NOT_FOUND;
	*out = v;
	return CHATD_OK;
}

static int stub_config_int(chatd_plugin_handle *h, const char *key, int64_t *out)
{
	const char *v = stub_lookup(key);
	if (!v)
		return CHATD_ERR_NOT_FOUND;
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return CHATD_ERR_INVALID;
	*out = x;
	return CHATD_OK;
}

static int stub_config_bool(chatd_plugin_handle *h, const char *key, bool *out)
{
	const char *v = stub_lookup(key);
	if (!v)
		return CHATD_ERR_NOT_FOUND;
	if (strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0)
		*out = false;
	else
		return CHATD_ERR_INVALID;
	return CHATD_OK;
}

int stub_host_set(const char *key, const char *value)
{
	for (size_t i = 0; i < S.n_kv; i++) {
		if (strcmp(S.keys[i], key) == 0) {
			char *v = strdup(value);
			if (!v)
				return -1;
			free(S.vals[i]);
			S.vals[i] = v;
			return 0;
		}
	}
	if (S.n_kv == STUB_MAX_KV)
		return -1;
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -1;
	}
	S.keys[S.n_kv] = k;
	S.vals[S.n_kv++] = v;
	return 0;
}

void stub_host_set_schema(const struct chatd_option *opts)
{
	S.schema = opts;
}

/* ---- post_to_core ------------------------------------------------- */

/* Runs on the loop: take the whole queue, then run it. */
static void stub_run_tasks(evutil_socket_t fd, short what, void *arg)
{
	pthread_mutex_lock(&S.mu);
	struct stub_task *t = S.tasks;
	S.tasks = S.tasks_tail = NULL;
	S.task_pending = false;
	pthread_mutex_unlock(&S.mu);
	while (t) {
		struct stub_task *n = t->next;
		t->fn(t->arg);
		free(t);
		t = n;
	}
}

static int stub_post_to_core(chatd_plugin_handle *h, chatd_task_fn fn, void *arg)
{
	struct stub_task *t = malloc(sizeof(*t));
	if (!t)
		return CHATD_ERR_NOMEM;
	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&S.mu);
	if (S.tasks_tail)
		S.tasks_tail->next = t;
	else
		S.tasks = t;
	S.tasks_tail = t;
	bool wake = !S.task_pending;
	S.task_pending = true;
	/* Activate under the lock: teardown frees task_ev under it too. */
	if (wake && S.task_ev)
		event_active(S.task_ev, EV_READ, 0);
	pthread_mutex_unlock(&S.mu);
	return CHATD_OK;
}

/* ---- timers ------------------------------------------------------- */

static void stub_timer_free(struct stub_timer *t)
{
	struct stub_timer **p = &S.timers;
	while (*p && *p != t)
		p = &(*p)->next;
	if (*p)
		*p = t->next;
	event_free(t->ev);
	free(t);
}

static void stub_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct stub_timer *t = arg;
	chatd_task_fn fn = t->fn;
	void *targ = t->arg;
	if (!t->repeat)
		stub_timer_free(t);   /* before fn: it may add timers */
	fn(targ);
}

static chatd_timer_id stub_timer_add(chatd_plugin_handle *h, uint64_t ms, bool repeat,
				     chatd_task_fn fn, void *arg)
{
	struct stub_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return 0;
	t->ev = event_new(S.base, -1, repeat ? EV_PERSIST : 0, stub_timer_fire, t);
	if (!t->ev) {
		free(t);
		return 0;
	}
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	if (event_add(t->ev, &tv) != 0) {
		event_free(t->ev);
		free(t);
		return 0;
	}
	t->id = ++S.next_timer;
	t->repeat = repeat;
	t->fn = fn;
	t->arg = arg;
	t->next = S.timers;
	S.timers = t;
	return t->id;
}

static void stub_timer_cancel(chatd_plugin_handle *h, chatd_timer_id id)
{
	for (struct stub_timer *t = S.timers; t; t = t->next) {
		if (t->id == id) {
			stub_timer_free(t);
			return;
		}
	}
}

/* ---- metrics, clock, frames, delivery ----------------------------- */

static chatd_metric_id stub_metric_counter(chatd_plugin_handle *h, const char *name,
					   const char *help)
{
	for (size_t i = 0; i < S.n_metrics; i++)
		if (strcmp(S.metrics[i].name, name) == 0)
			return (chatd_metric_id)(i + 1);
	if (S.n_metrics == STUB_MAX_METRICS)
		return 0;
	S.metrics[S.n_metrics].name = strdup(name);
	if (!S.metrics[S.n_metrics].name)
		return 0;
	S.metrics[S.n_metrics].value = 0;
	return (chatd_metric_id)++S.n_metrics;
}

static void stub_metric_add(chatd_plugin_handle *h, chatd_metric_id id, int64_t delta)
{
	if (id >= 1 && id <= S.n_metrics)
		S.metrics[id - 1].value += delta;
}

static int64_t stub_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static chatd_frame *stub_frame_new(chatd_plugin_handle *h, const char *json, size_t len)
{
	struct stub_frame *f = malloc(sizeof(*f) + len + 1);
	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->len = len;
	memcpy(f->data, json, len);
	f->data[len] = '\0';
	return (chatd_frame *)f;
}

static void stub_frame_ref(chatd_frame *fr)
{
	if (fr)
		atomic_fetch_add(&((struct stub_frame *)fr)->refs, 1);
}

static void stub_frame_unref(chatd_frame *fr)
{
	struct stub_frame *f = (struct stub_frame *)fr;
	if (f && atomic_fetch_sub(&f->refs, 1) == 1)
		free(f);
}

static int stub_deliver_user(chatd_plugin_handle *h, const char *user_id, chatd_frame *f,
			     uint64_t except_session)
{
	S.delivered++;
	return 0;
}

static void stub_storage(chatd_plugin_handle *h, const struct chatd_storage_ops **ops,
			 void **instance)
{
	*ops = S.storage_ops;
	*instance = S.storage_inst;
}

static int stub_bus_emit(chatd_plugin_handle *h, const char *topic, const char *payload,
			 size_t len)
{
	S.emitted++;
	return CHATD_OK;
}

/* ---- ABI 1.4: node id and fd watches ------------------------------ */

static const char *stub_node_id(chatd_plugin_handle *h)
{
	(void)h;
	return "unit-node";
}

struct stub_io {
	struct stub_io *next;
	chatd_io_id id;
	unsigned events;
	chatd_io_fn fn;
	void *arg;
	struct event *rev, *wev;
};
static struct stub_io *stub_ios;
static chatd_io_id stub_next_io;

static void stub_io_fire(evutil_socket_t fd, short what, void *arg)
{
	struct stub_io *w = arg;
	w->fn(w->arg, (int)fd, ((what & EV_READ) ? CHATD_IO_READ : 0) |
				       ((what & EV_WRITE) ? CHATD_IO_WRITE : 0));
}

static void stub_io_arm(struct stub_io *w, unsigned events)
{
	if (events & CHATD_IO_READ)
		event_add(w->rev, NULL);
	else
		event_del(w->rev);
	if (events & CHATD_IO_WRITE)
		event_add(w->wev, NULL);
	else
		event_del(w->wev);
	w->events = events;
}

static chatd_io_id stub_io_add(chatd_plugin_handle *h, int fd, unsigned events, chatd_io_fn fn,
			       void *arg)
{
	(void)h;
	struct stub_io *w = calloc(1, sizeof *w);
	if (!w)
		return 0;
	w->fn = fn;
	w->arg = arg;
	w->rev = event_new(S.base, fd, EV_READ | EV_PERSIST, stub_io_fire, w);
	w->wev = event_new(S.base, fd, EV_WRITE | EV_PERSIST, stub_io_fire, w);
	if (!w->rev || !w->wev) {
		if (w->rev)
			event_free(w->rev);
		if (w->wev)
			event_free(w->wev);
		free(w);
		return 0;
	}
	w->id = ++stub_next_io;
	stub_io_arm(w, events);
	w->next = stub_ios;
	stub_ios = w;
	return w->id;
}

static struct stub_io **stub_io_find(chatd_io_id id)
{
	struct stub_io **pp = &stub_ios;
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static int stub_io_set(chatd_plugin_handle *h, chatd_io_id id, unsigned events)
{
	(void)h;
	struct stub_io *w = *stub_io_find(id);
	if (!w)
		return CHATD_ERR_NOT_FOUND;
	stub_io_arm(w, events);
	return CHATD_OK;
}

static void stub_io_remove(chatd_plugin_handle *h, chatd_io_id id)
{
	(void)h;
	struct stub_io **pp = stub_io_find(id), *w = *pp;
	if (!w)
		return;
	*pp = w->next;
	event_free(w->rev);
	event_free(w->wev);
	free(w);
}

/* ---- ABI 1.5: sealed files (no key here: files stay plaintext) ----- */

static const char *stub_file_seal_key(chatd_plugin_handle *h)
{
	(void)h;
	return NULL;
}

static int stub_file_seal(chatd_plugin_handle *h, const char *src, const char *dst)
{
	(void)h;
	(void)src;
	(void)dst;
	return CHATD_ERR_NOT_FOUND;
}

static int stub_file_key_id(chatd_plugin_handle *h, const char *path, char *out, size_t cap)
{
	(void)h;
	char kid[ENC_KEY_ID_MAX + 1];
	int st = fc_file_key_id(path, kid);
	if (st == CHATD_OK && strlen(kid) >= cap)
		return CHATD_ERR_TOO_LARGE;
	if (st == CHATD_OK)
		memcpy(out, kid, strlen(kid) + 1);
	return st;
}

static const struct chatd_host stub_host_table = {
	.abi_major = CHATD_ABI_MAJOR,
	.abi_minor = CHATD_ABI_MINOR,
	.struct_size = sizeof(struct chatd_host),
	.log = stub_log,
	.config_string = stub_config_string,
	.config_int = stub_config_int,
	.config_bool = stub_config_bool,
	.post_to_core = stub_post_to_core,
	.timer_add = stub_timer_add,
	.timer_cancel = stub_timer_cancel,
	.metric_counter = stub_metric_counter,
	.metric_add = stub_metric_add,
	.now_ms = stub_now_ms,
	.frame_new = stub_frame_new,
	.frame_ref = stub_frame_ref,
	.frame_unref = stub_frame_unref,
	.deliver_user = stub_deliver_user,
	.storage = stub_storage,
	.bus_emit = stub_bus_emit,
	.node_id = stub_node_id,
	.io_add = stub_io_add,
	.io_set = stub_io_set,
	.io_remove = stub_io_remove,
	.file_seal_key = stub_file_seal_key,
	.file_seal = stub_file_seal,
	.file_key_id = stub_file_key_id,
};

/* ---- life cycle --------------------------------------------------- */

int stub_host_setup(const char *const *kv)
{
	static bool threads_on;
	if (S.up)
		return -1;
	/* Once per process, before any base exists: lets other threads call
	 * event_active on our base. */
	if (!threads_on) {
		if (evthread_use_pthreads() != 0)
			return -1;
		threads_on = true;
	}
	S.base = event_base_new();
	if (!S.base)
		return -1;
	S.task_ev = event_new(S.base, -1, 0, stub_run_tasks, NULL);
	if (!S.task_ev) {
		event_base_free(S.base);
		S.base = NULL;
		return -1;
	}
	S.up = true;
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
		if (stub_host_set(kv[i], kv[i + 1]) != 0) {
			stub_host_teardown();
			return -1;
		}
	}
	return 0;
}

void stub_host_teardown(void)
{
	if (!S.up)
		return;
	/* Run what plugins posted last so their memory comes back. */
	for (;;) {
		pthread_mutex_lock(&S.mu);
		bool more = S.tasks != NULL;
		pthread_mutex_unlock(&S.mu);
		if (!more)
			break;
		stub_run_tasks(-1, 0, NULL);
	}
	while (S.timers)
		stub_timer_free(S.timers);
	while (stub_ios)
		stub_io_remove(&stub_h, stub_ios->id);
	pthread_mutex_lock(&S.mu);
	event_free(S.task_ev);
	S.task_ev = NULL;
	S.task_pending = false;
	pthread_mutex_unlock(&S.mu);
	event_base_free(S.base);
	S.base = NULL;
	for (size_t i = 0; i < S.n_kv; i++) {
		free(S.keys[i]);
		free(S.vals[i]);
	}
	for (size_t i = 0; i < S.n_metrics; i++)
		free(S.metrics[i].name);
	for (size_t i = 0; i < S.n_events; i++)
		free(S.events[i].event);
	S.n_kv = S.n_metrics = S.n_events = 0;
	S.schema = NULL;
	S.delivered = S.emitted = 0;
	S.storage_ops = NULL;
	S.storage_inst = NULL;
	S.quiet = false;
	S.up = false;
}

const struct chatd_host *stub_host(void)
{
	return &stub_host_table;
}

chatd_plugin_handle *stub_handle(void)
{
	return &stub_h;
}

struct event_base *stub_base(void)
{
	return S.base;
}

static void stub_deadline(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

bool stub_run_until(bool (*done)(void *), void *arg, int timeout_ms)
{
	if (done && done(arg))
		return true;
	bool expired = false;
	struct event *dl = evtimer_new(S.base, stub_deadline, &expired);
	if (!dl)
		return false;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(dl, &tv);
	bool ok = false;
	for (;;) {
		if (done && done(arg)) {
			ok = true;
			break;
		}
		if (expired)
			break;
		/* Blocks until something is active: a task, a timer, the
		 * deadline. */
		event_base_loop(S.base, EVLOOP_ONCE);
	}
	event_free(dl);
	return ok;
}

int64_t stub_metric(const char *name)
{
	for (size_t i = 0; i < S.n_metrics; i++)
		if (strcmp(S.metrics[i].name, name) == 0)
			return S.metrics[i].value;
	return 0;
}

int stub_log_count(const char *event)
{
	for (size_t i = 0; i < S.n_events; i++)
		if (strcmp(S.events[i].event, event) == 0)
			return S.events[i].count;
	return 0;
}

int stub_delivered(void)
{
	return S.delivered;
}

int stub_bus_emitted(void)
{
	return S.emitted;
}

void stub_host_quiet(bool quiet)
{
	S.quiet = quiet;
}

void stub_host_set_storage(const struct chatd_storage_ops *ops, void *instance)
{
	S.storage_ops = ops;
	S.storage_inst = instance;
}
