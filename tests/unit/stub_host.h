/* stub_host.h — a working chatd_host for unit tests of plugins.
 *
 * One stub host per process at a time (global state), driven from the
 * test's thread, which plays the core thread:
 *   stub_host_setup(kv)          creates the event base and the config table
 *   stub_host_set_schema(opts)   fills defaults from a plugin's schema
 *   host = stub_host(); h = stub_handle();  → plugin->init(host, h, &inst)
 *   stub_run_until(done, arg, ms)   runs the loop (posted tasks, timers)
 *   plugin->fini(inst); stub_host_teardown();
 *
 * post_to_core may be called from any thread: tasks go on a mutex-protected
 * queue and an fd-less event is activated on the test's event base.
 * Frames are plain refcounted copies; deliver_user and bus_emit only count. */
#ifndef CHATD_STUB_HOST_H
#define CHATD_STUB_HOST_H

#include <stdbool.h>
#include <event2/event.h>
#include "chatd/host.h"
#include "chatd/storage.h"

/* kv: NULL-terminated list of key, value, key, value, …, NULL (may be
 * NULL itself).  Strings are copied.  Returns 0, or -1 on failure. */
int stub_host_setup(const char *const *kv_pairs);
/* Defaults for keys the kv table does not set (like the real host, which
 * fills them from the plugin's schema).  `opts` must outlive the host. */
void stub_host_set_schema(const struct chatd_option *opts);
/* Set or replace one config value (copied). */
int stub_host_set(const char *key, const char *value);
/* Runs the tasks still queued (so nothing leaks), cancels timers, frees. */
void stub_host_teardown(void);

const struct chatd_host *stub_host(void);
chatd_plugin_handle *stub_handle(void);
struct event_base *stub_base(void);

/* Run the loop until done(arg) is true (checked before and after each
 * round of callbacks) or timeout_ms passes.  done may be NULL: run for
 * timeout_ms.  Returns whether done() became true. */
bool stub_run_until(bool (*done)(void *), void *arg, int timeout_ms);

/* Observations. */
int64_t stub_metric(const char *name);       /* counter value, 0 if unknown */
int stub_log_count(const char *event);       /* lines logged with that event id */
int stub_delivered(void);                    /* deliver_user calls */
int stub_bus_emitted(void);                  /* bus_emit calls */
/* When quiet, log lines are counted but not printed (default: printed). */
void stub_host_quiet(bool quiet);
/* What host->storage() returns. */
void stub_host_set_storage(const struct chatd_storage_ops *ops, void *instance);

#endif
