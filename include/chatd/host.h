/* chatd/host.h — the host API: the only way a plugin reaches the core.
 *
 * The host passes one `const struct chatd_host *` to init.  Every function
 * takes the plugin's own handle first, so logs carry the plugin's name and
 * everything the plugin registers (timers, metrics) is torn down by the host
 * when the plugin is unloaded.
 *
 * Threads: every function runs on the core thread only, except post_to_core
 * and the sealed-file functions of ABI 1.5 (file_seal_key, file_seal,
 * file_key_id), which any thread may call. */
#ifndef CHATD_HOST_H
#define CHATD_HOST_H

#include <stdarg.h>
#include "chatd/plugin.h"

enum chatd_log_level {
	CHATD_LOG_ERROR = 0,
	CHATD_LOG_WARN = 1,
	CHATD_LOG_INFO = 2,
	CHATD_LOG_DEBUG = 3,
};

/* A server→client frame: encoded once, shared by reference by every
 * recipient.  Opaque; created by the host, refcounted (atomic). */
typedef struct chatd_frame chatd_frame;

typedef void (*chatd_task_fn)(void *arg);
typedef uint64_t chatd_timer_id;
typedef uint32_t chatd_metric_id;

/* ABI 1.4: file descriptors watched on the core loop (client libraries such
 * as libpq and hiredis driven without a thread of their own). */
typedef uint64_t chatd_io_id;
#define CHATD_IO_READ  1u
#define CHATD_IO_WRITE 2u
/* fd is ready for what `events` (CHATD_IO_READ | CHATD_IO_WRITE) says. */
typedef void (*chatd_io_fn)(void *arg, int fd, unsigned events);

struct chatd_storage_ops;

struct chatd_host {
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size;

	/* Logging.  `event` is a stable id such as "sqlite.open_failed". */
	void (*log)(chatd_plugin_handle *h, int level, const char *event,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

	/* The plugin's own validated options (defaults already filled).
	 * Return CHATD_OK, or CHATD_ERR_NOT_FOUND for an unset key without
	 * default.  The string stays valid until fini. */
	int (*config_string)(chatd_plugin_handle *h, const char *key, const char **out);
	int (*config_int)(chatd_plugin_handle *h, const char *key, int64_t *out);
	int (*config_bool)(chatd_plugin_handle *h, const char *key, bool *out);

	/* Run fn(arg) on the core thread soon.  The ONLY function a worker
	 * thread may call.  Returns CHATD_OK or CHATD_ERR_NOMEM.  Every task
	 * posted runs exactly once — at unload, AFTER the plugin's fini has
	 * returned (the object stays mapped until then): a task must keep
	 * alive what it needs and do nothing but free its argument when it
	 * finds the plugin stopped. */
	int (*post_to_core)(chatd_plugin_handle *h, chatd_task_fn fn, void *arg);

	/* Timers on the core loop; repeat when `repeat` is true.  Removed by
	 * the host at unload if the plugin forgot. Returns 0 on failure. */
	chatd_timer_id (*timer_add)(chatd_plugin_handle *h, uint64_t ms, bool repeat,
				    chatd_task_fn fn, void *arg);
	void (*timer_cancel)(chatd_plugin_handle *h, chatd_timer_id id);

	/* Counters, exported under the plugin's name. */
	chatd_metric_id (*metric_counter)(chatd_plugin_handle *h, const char *name,
					  const char *help);
	void (*metric_add)(chatd_plugin_handle *h, chatd_metric_id id, int64_t delta);

	/* Milliseconds since the epoch (server clock). */
	int64_t (*now_ms)(void);

	/* Frames.  frame_new copies `json` (len bytes) into a new frame with
	 * one reference owned by the caller. */
	chatd_frame *(*frame_new)(chatd_plugin_handle *h, const char *json, size_t len);
	void (*frame_ref)(chatd_frame *f);
	void (*frame_unref)(chatd_frame *f);

	/* Deliver `f` to every session of `user_id` on this node except the
	 * session `except_session` (0 = none).  The host takes its own
	 * references; the caller keeps its one.  Returns the number of
	 * sessions it was queued for. */
	int (*deliver_user)(chatd_plugin_handle *h, const char *user_id,
			    chatd_frame *f, uint64_t except_session);

	/* The configured storage plugin, for plugins that need to read (e.g.
	 * fanout reads members).  Valid until fini. */
	void (*storage)(chatd_plugin_handle *h, const struct chatd_storage_ops **ops,
			void **instance);

	/* Emit an event on the configured bus (topic, JSON payload). */
	int (*bus_emit)(chatd_plugin_handle *h, const char *topic,
			const char *payload, size_t len);

	/* ---- ABI 1.4 (a plugin built for 1.4 that may load in an older
	 * host checks struct_size before using these). */

	/* This node's id (the config's node_id); valid for the process. */
	const char *(*node_id)(chatd_plugin_handle *h);
	/* Watch fd on the core loop: fn(arg, fd, ready) runs on the core
	 * thread while fd is ready for any of `events` (level-triggered;
	 * events 0 = registered but paused).  The plugin keeps owning fd and
	 * must io_remove before closing it.  Returns 0 on failure.  Removed
	 * by the host at unload if the plugin forgot. */
	chatd_io_id (*io_add)(chatd_plugin_handle *h, int fd, unsigned events,
			      chatd_io_fn fn, void *arg);
	/* Change what is watched.  CHATD_OK or CHATD_ERR_NOT_FOUND. */
	int (*io_set)(chatd_plugin_handle *h, chatd_io_id id, unsigned events);
	/* Stop watching; safe inside fn (fn is not called again). */
	void (*io_remove)(chatd_plugin_handle *h, chatd_io_id id);

	/* ---- ABI 1.5: encryption at rest of files (decision 61).  A plugin
	 * built for 1.5 that may load in an older host checks struct_size
	 * before using these.  Unlike the rest, these three may be called from
	 * ANY thread (a plugin's worker thread): the key ring they read is
	 * fixed once the server has started, and they touch nothing else. */

	/* The id of the active encryption key (the config's
	 * encryption.active), or NULL when new files are to stay plaintext.
	 * Valid for the process. */
	const char *(*file_seal_key)(chatd_plugin_handle *h);
	/* Seal the file src with the active key into dst, atomically (a
	 * temporary file next to dst, fsynced, renamed over dst, the
	 * directory fsynced); src may be dst (re-sealing in place).  src is
	 * left as it was (remove it yourself).  The sealed form is bound to
	 * dst's base name: a sealed file must keep its name.  The gateway
	 * serves a sealed file (one the media plugin names in its http_begin
	 * reply) decrypted.  A src that is sealed already is decrypted as it
	 * is read (re-sealing, never sealing twice).  Returns CHATD_OK;
	 * CHATD_ERR_NOT_FOUND when no key is active (nothing written: keep the
	 * file plaintext) or a sealed src's key is not configured;
	 * CHATD_ERR_IO, CHATD_ERR_INVALID, CHATD_ERR_NOMEM (failures other than
	 * "no key active" are logged by the host, enc.file_seal_failed). */
	int (*file_seal)(chatd_plugin_handle *h, const char *src, const char *dst);
	/* The key id a sealed file was sealed with, into out (cap bytes; 33
	 * is always enough).  CHATD_OK; CHATD_ERR_NOT_FOUND when the file is
	 * not sealed (plaintext); CHATD_ERR_INVALID when its header is
	 * malformed; CHATD_ERR_IO when it cannot be read; CHATD_ERR_TOO_LARGE
	 * when cap is too small. */
	int (*file_key_id)(chatd_plugin_handle *h, const char *path, char *out, size_t cap);
};

#endif
