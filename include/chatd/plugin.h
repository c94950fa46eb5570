/* chatd/plugin.h — the plugin ABI.
 *
 * ABI changelog (dated; fields are only ever appended):
 *   1.0  2026-11-27  first ABI: descriptor, host API, storage, presence,
 *                    bus and fanout ops.
 *   1.1  2026-11-28  storage: message visibility and moderation provenance,
 *                    history with no viewer (staff view), audit log,
 *                    moderation queue, sanctions, user_seen.
 *   1.2  2026-11-28  storage: group management (conv_change, members_get),
 *                    edit, delete for everyone / for me, retention purge,
 *                    history from join, inbox rows on append; fanout:
 *                    write_inbox, user_online/offline, member_joined/left;
 *                    status CHATD_ERR_CONFLICT.
 *   1.3  2026-11-28  presence: watch (status changes pushed to the core);
 *                    receipts kind (chatd/receipts.h); media kind
 *                    (chatd/media.h); storage: cursors_advance, media
 *                    metadata ops, message media fields, user_first_seen,
 *                    sanction kind "revoke"; status CHATD_ERR_RATE_LIMITED.
 *   1.4  2026-11-28  host: node_id, io_add/io_set/io_remove (file
 *                    descriptors watched on the core loop); presence:
 *                    locate, session_up_ready (shared presence); bus: topic
 *                    classes node./cluster./events, counters_add;
 *                    storage: messages_latest (latest messages of all
 *                    conversations, for the rules dry-run); search
 *                    (full-text, chatd_search_req/term/hit),
 *                    notify_mute_set, notify_targets; notify kind
 *                    (chatd/notify.h).
 *   1.5  2026-11-28  storage: texts_scan, text_replace (compare and swap),
 *                    texts_compact (rewriting stored message texts: the
 *                    re-encryption job); host: file_seal_key, file_seal,
 *                    file_key_id (files encrypted at rest; callable from
 *                    any thread).
 *
 * A plugin is a shared object named <kind>_<name>.so that exports exactly one
 * symbol, chatd_plugin_describe(), returning a const descriptor.  The loader
 * accepts it when abi_major == CHATD_ABI_MAJOR, abi_minor <= the host's
 * CHATD_ABI_MINOR, struct_size covers struct chatd_plugin, name, version,
 * init, fini and ops are set, the kind matches the config slot it was named
 * in, and the name matches the file's.  Every refusal names the file and the
 * reason.
 *
 * Threads: init/fini and every op run on the core thread.  Completion
 * callbacks of async ops must also run on the core thread: a worker thread
 * gets there with host->post_to_core(), the only host function a worker may
 * call besides the sealed-file functions of ABI 1.5 (host.h). */
#ifndef CHATD_PLUGIN_H
#define CHATD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "chatd/status.h"

#define CHATD_ABI_MAJOR 1
#define CHATD_ABI_MINOR 5

#if defined(__GNUC__)
#define CHATD_EXPORT __attribute__((visibility("default")))
#else
#define CHATD_EXPORT
#endif

typedef enum chatd_plugin_kind {
	CHATD_KIND_STORAGE = 1,
	CHATD_KIND_PRESENCE = 2,
	CHATD_KIND_BUS = 3,
	CHATD_KIND_FANOUT = 4,
	CHATD_KIND_MEDIA = 5,
	CHATD_KIND_RECEIPTS = 6,
	CHATD_KIND_NOTIFY = 7,         /* ABI 1.4 */
} chatd_plugin_kind;

/* Option types of a plugin's config schema. */
typedef enum chatd_opt_type {
	CHATD_OPT_STRING = 1,
	CHATD_OPT_INT = 2,
	CHATD_OPT_BOOL = 3,
} chatd_opt_type;

/* One row of a plugin's config schema; an array ends with key == NULL.
 * The plugin's options live in the config table `<kind>_<name> = {…}`; the
 * host validates them against this schema before init and fills defaults. */
struct chatd_option {
	const char *key;
	chatd_opt_type type;
	const char *def;     /* default as text ("full", "256", "true"); NULL = none */
	int64_t min, max;    /* for CHATD_OPT_INT; min > max means unbounded */
	bool required;
	bool secret;         /* never logged */
	const char *help;
};

struct chatd_host;
/* Opaque per-plugin handle the host passes to every host call. */
typedef struct chatd_plugin_handle chatd_plugin_handle;

struct chatd_plugin {
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size;
	chatd_plugin_kind kind;
	const char *name;        /* e.g. "sqlite" for storage_sqlite */
	const char *version;     /* the plugin's own version, e.g. "1.0.0" */
	const char *description;
	const struct chatd_option *options; /* schema; may be NULL */
	/* Create an instance.  `host` and `h` stay valid until fini returns.
	 * Returns CHATD_OK and sets *instance, or a negative status (the host
	 * then undoes whatever the plugin registered through h). */
	int (*init)(const struct chatd_host *host, chatd_plugin_handle *h, void **instance);
	/* Stop and free.  Storage plugins finish every queued durable write
	 * before returning; completions not yet delivered are dropped. */
	void (*fini)(void *instance);
	/* The ops table of the kind: struct chatd_storage_ops, … */
	const void *ops;
};

/* Fills the version fields so plugin authors cannot forget them. */
#define CHATD_PLUGIN_HEADER \
	.abi_major = CHATD_ABI_MAJOR, .abi_minor = CHATD_ABI_MINOR, \
	.struct_size = sizeof(struct chatd_plugin)

#define CHATD_PLUGIN_SYMBOL "chatd_plugin_describe"
typedef const struct chatd_plugin *(*chatd_plugin_describe_fn)(void);

/* Define the one exported symbol, returning `desc` (a static const struct
 * chatd_plugin).  Use once per plugin, at file scope. */
#define CHATD_PLUGIN_EXPORT(desc)                                             \
	CHATD_EXPORT const struct chatd_plugin *chatd_plugin_describe(void);  \
	CHATD_EXPORT const struct chatd_plugin *chatd_plugin_describe(void)   \
	{                                                                     \
		return &(desc);                                               \
	}

#endif
