/* config.h — chatd.conf: a Lua table read in a sandbox, checked against a
 * schema (core keys in config_schema.c, plugin sections against each
 * plugin's published chatd_option rows).
 *
 * Phases (validate everything, then apply):
 *   1. cfg_load_file/cfg_load_string: run the file in a sandbox (only base
 *      functions that cannot touch the system, string, table, math, utf8, and
 *      os.getenv), then check every core key: unknown key, wrong type, out
 *      of range, missing required.  Every error is collected with its key
 *      path ("server.port") and, where it can be found, its line.
 *   2. cfg_check_plugin_section: once the plugin named in plugins.<kind> is
 *      loaded, check the table `<kind>_<name>` against its schema and fill
 *      defaults.
 * Nothing in this module exits the process. */
#ifndef CHATD_CONFIG_H
#define CHATD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chatd/plugin.h"
#include "enc.h"
#include "netaddr.h"

#define CFG_N_KINDS 7   /* storage presence bus fanout media receipts notify */

/* One value of a plugin section, as text plus its parsed form. */
struct cfg_value {
	char *key;
	chatd_opt_type type;     /* as written in the file (string/int/bool) */
	char *str;               /* CHATD_OPT_STRING */
	int64_t num;             /* CHATD_OPT_INT */
	bool flag;               /* CHATD_OPT_BOOL */
	int line;                /* 0 when unknown */
};

/* One entry of moderation.rules: a rule file <rules_dir>/<name>.lua. */
struct cfg_rule {
	char *name;              /* [a-z0-9_], 1..63 bytes */
	int mode;                /* -1: the file's own; 0 enforce; 1 observe */
	char *options_json;      /* the entry's options table as JSON ("{}" when none) */
	int line;
};

/* A rule name: [a-z0-9_], 1 to 63 bytes (len bytes of s). */
bool cfg_rule_name_ok(const char *s, size_t len);

/* A plugin's table, `<kind>_<name> = { … }`. */
struct cfg_section {
	char *name;              /* e.g. "storage_sqlite" */
	struct cfg_value *values;
	size_t n_values;
	int line;
};

struct chatd_config {
	char *path;              /* the file read, or "<string>" */
	char *node_id;           /* default "node-1" */
	char *plugin_dir;        /* default CHATD_PLUGIN_DIR */

	/* server = { … } */
	char *listen_host;       /* server.host, default "127.0.0.1" */
	int listen_port;         /* server.port, default 8080; 1..65535 (0 = any, for tests) */
	int64_t max_frame;       /* server.max_frame, default 65536 */
	int64_t max_text;        /* server.max_text, default 4096 (code points) */
	int64_t outbound_queue_bytes; /* server.outbound_queue_bytes, default 4 MiB */
	int64_t auth_timeout_ms; /* server.auth_timeout_ms, default 10000 */
	int64_t ping_interval_s; /* server.ping_interval_s, default 30 */
	int64_t idle_timeout_s;  /* server.idle_timeout_s, default 75 */
	int64_t max_connections; /* server.max_connections, default 10000 */
	int64_t frame_rate;      /* server.frame_rate: hard cap, frames/s per connection, default 100 */
	int64_t frame_burst;     /* server.frame_burst, default 400 */
	int64_t max_connections_per_ip; /* server.max_connections_per_ip, default 256 */
	int64_t handshake_timeout_s;    /* server.handshake_timeout_s: lws timeout_secs, default 10 */
	/* server.connection_cap_exempt: blocks never counted by the per-address
	 * cap; default 127.0.0.0/8 and ::1/128 (owned; config_net.c) */
	struct netaddr_cidr *cap_exempt;
	size_t n_cap_exempt;
	bool cap_exempt_given;   /* the file set it (even to {}) */
	char *tls_cert;          /* server.tls_cert: PEM certificate (chain); NULL = plain */
	char *tls_key;           /* server.tls_key: PEM private key; set with tls_cert */
	char *tls_min_version;   /* server.tls_min_version: "1.2" (default) | "1.3" */

	/* web = { … } */
	bool web_enabled;        /* web.enabled, default true */
	char *web_root;          /* web.root, default CHATD_WEB_DIR ($(pkgdatadir)/web) */

	/* auth = { … } */
	char *auth_algorithm;    /* "HS256" (default) | "RS256" | "ES256" */
	char *auth_secret;       /* HS256 secret (required for HS256; >= 16 bytes) */
	char *auth_public_key_file; /* PEM file for RS256/ES256 */
	char *auth_private_key_file; /* optional PEM for minting RS256/ES256 (chatctl) */
	int64_t auth_leeway_s;   /* default 0 */
	bool auth_dev_login;     /* default false: POST /auth/dev-login (gw_post.c) */
	int64_t auth_dev_login_ttl_s; /* tokens minted by it, default 900 */
	int64_t auth_default_ttl_s; /* chatctl token mint default TTL, default 86400 */

	char *log_level;         /* log.level: "error"|"warn"|"info"|"debug", default "info" */
	char *log_file;          /* log.file: default "" (stderr) */
	char *log_user_hash_key; /* log.user_hash_key: HMAC key of logged user ids, default "" */

	/* moderation = { … } */
	char *mod_fail_mode;     /* "open" (default) | "closed" */
	char *mod_rules_dir;     /* default CHATD_RULES_DIR */
	int64_t mod_insn_budget; /* VM instructions per hook call, default 1000000 */
	int64_t mod_mem_cap_kib; /* per Lua state, default 8192 */
	int64_t mod_cluster_sync_ms; /* limits shared with other nodes every…, 0 off; default 100 */
	struct cfg_rule *mod_rules; /* moderation.rules, in order */
	size_t n_mod_rules;

	/* conversations = { … } */
	int64_t conv_max_members; /* conversations.max_members, default 10000 */
	char *conv_new_member_history; /* "all" (default) | "join" */

	/* presence = { … }, typing = { … } */
	int64_t presence_max_subs;   /* presence.max_subscriptions, default 1000 */
	int64_t typing_max_members;  /* typing.max_members, default 100 */
	int64_t notify_max_members;  /* notify.max_members, default 1000 */

	/* retention = { … } */
	int64_t retention_purge_after_s; /* default 2592000 (30 days) */
	int64_t retention_interval_s;    /* default 3600 */

	/* encryption = { keys = { ID = KEY, … }, active = "ID" } (enc.h) */
	struct enc_keyring enc;  /* enc.keys owned; enc.active set when encryption.active is */
	char *enc_active;        /* encryption.active, default "": new rows stay plaintext */

	/* admin = { … } */
	bool admin_enabled;      /* admin.enabled, default true */
	char *admin_host;        /* admin.host, default "127.0.0.1" */
	int admin_port;          /* admin.port, default 8081 */
	bool admin_metrics_auth; /* admin.metrics_auth, default true: /metrics needs a token */
	char *admin_socket;      /* admin.socket: a Unix socket path instead of host:port; NULL */
	int admin_socket_mode;   /* admin.socket_mode, default 0660 */
	char *admin_tls_cert;    /* admin.tls_cert: PEM certificate (chain); NULL = plain */
	char *admin_tls_key;     /* admin.tls_key: PEM private key; set with admin.tls_cert */
	char *admin_tls_min_version; /* admin.tls_min_version: "1.2" (default) | "1.3" */

	/* plugins = { storage = "sqlite", … }; NULL = kind not enabled.
	 * Indexed by chatd_plugin_kind - 1. storage, presence, bus and fanout
	 * are required. */
	char *plugin_name[CFG_N_KINDS];

	struct cfg_section *sections;
	size_t n_sections;
};

/* Collected errors, each "FILE:LINE: key: what is wrong" (LINE omitted when
 * unknown). */
struct cfg_errors {
	char **msgs;
	size_t n;
};

/* Read and check.  On success returns CHATD_OK and *out (owned by the
 * caller, free with cfg_free).  On failure returns CHATD_ERR_INVALID (or
 * NOMEM) with every problem in errs and *out = NULL. */
int cfg_load_file(const char *path, struct chatd_config **out, struct cfg_errors *errs);
int cfg_load_string(const char *text, size_t len, const char *name,
		    struct chatd_config **out, struct cfg_errors *errs);

/* Check section `<kind>_<name>` (absent = empty) against schema; fill
 * defaults; add errors (unknown key, wrong type, range, missing required).
 * Returns CHATD_OK or CHATD_ERR_INVALID. */
int cfg_check_plugin_section(struct chatd_config *cfg, const char *section,
			     const struct chatd_option *schema, struct cfg_errors *errs);

/* Look up a value of a checked section; NULL when unset. Borrowed. */
const struct cfg_value *cfg_section_value(const struct chatd_config *cfg,
					  const char *section, const char *key);

/* Kind names: "storage", "presence", … ; kind from name or 0. */
const char *cfg_kind_name(chatd_plugin_kind kind);
chatd_plugin_kind cfg_kind_from_name(const char *name);

void cfg_free(struct chatd_config *cfg);
void cfg_errors_add(struct cfg_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cfg_errors_clear(struct cfg_errors *errs);

#endif
