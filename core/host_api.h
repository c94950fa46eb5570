/* host_api.h — the host table handed to plugins and the per-plugin handle
 * that records what each plugin registered, so the host can tear it down. */
#ifndef CHATD_HOST_API_H
#define CHATD_HOST_API_H

#include "chatd/host.h"

struct core;

#define HANDLE_MAGIC 0x504c4748u /* "PLGH" */

struct host_timer;
struct host_io;
struct host_metric {
	char name[96];
	char help[160];
	int64_t value;
};

struct chatd_plugin_handle {
	uint32_t magic;
	struct core *core;
	chatd_plugin_kind kind;
	char name[65];
	char section[80];           /* "<kind>_<name>" */
	struct host_timer *timers;  /* live timers, owned */
	uint64_t next_timer_id;
	struct host_io *ios;        /* live fd watches, owned (host_io.c) */
	uint64_t next_io_id;
	struct host_metric *metrics;
	size_t n_metrics;
};

const struct chatd_host *host_api_table(void);
struct chatd_plugin_handle *host_handle_new(struct core *c, chatd_plugin_kind kind,
					    const char *name);
/* Remove everything the plugin registered, then free the handle. */
void host_handle_free(struct chatd_plugin_handle *h);

/* Run the tasks posted so far (core thread); returns how many ran. */
size_t host_run_tasks(struct core *c);
/* Queue fn(arg) on the core thread (thread-safe). */
int host_post(struct core *c, chatd_task_fn fn, void *arg);

#endif
