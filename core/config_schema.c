/* config_schema.c — the core keys of chatd.conf as data (one row per key:
 * path, type, default, range, required, secret, help) and the generic code
 * that checks values against rows.  Plugin sections are checked by the same
 * cfg_value_check() against each plugin's chatd_option rows.  Last, the scan
 * of the source text that finds the line a key is written on. */
#include "config.h"
#include "config_priv.h"

#include <errno.h>
#include <stdint.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CHATD_RULES_DIR
#define CHATD_RULES_DIR "/usr/local/share/chatd/rules"
#endif
#ifndef CHATD_PLUGIN_DIR
#define CHATD_PLUGIN_DIR "/usr/local/lib/chatd/plugins"
#endif
#ifndef CHATD_WEB_DIR
#define CHATD_WEB_DIR "/usr/local/share/chatd/web"
#endif

/* How a row's value is stored in struct chatd_config. */
enum cfg_field { F_STR, F_INT, F_I64, F_BOOL, F_MODE /* octal text -> int */ };

/* Extra checks on a string row. */
enum { CFG_F_PLUGIN = 1, CFG_F_NODE_ID = 2, CFG_F_SOCKPATH = 4, CFG_F_MODE = 8 };

struct cfg_row {
	struct chatd_option opt;    /* opt.key is the full path, "server.port" */
	enum cfg_field field;
	size_t off;                 /* offsetof(struct chatd_config, field) */
	const char *const *choices; /* NULL, or the allowed strings, NULL-ended */
	unsigned flags;
};

static const char *const algorithms[] = { "HS256", "RS256", "ES256", NULL };
static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const fail_modes[] = { "open", "closed", NULL };
static const char *const history_modes[] = { "all", "join", NULL };
static const char *const tls_versions[] = { "1.2", "1.3", NULL };

#define OFF(f) offsetof(struct chatd_config, f)
#define STR(path, def, req, secret, field, choices, flags, help) \
	{ { path, CHATD_OPT_STRING, def, 0, -1, req, secret, help }, F_STR, OFF(field), choices, flags }
#define INT(path, def, lo, hi, field, ftype, help) \
	{ { path, CHATD_OPT_INT, def, lo, hi, false, false, help }, ftype, OFF(field), NULL, 0 }
/* A file mode written as octal text ("0660": Lua has no octal numbers). */
#define MODE(path, def, field, help) \
	{ { path, CHATD_OPT_STRING, def, 0, -1, false, false, help }, F_MODE, OFF(field), NULL, \
	  CFG_F_MODE }
#define BOOL(path, def, field, help) \
	{ { path, CHATD_OPT_BOOL, def, 0, -1, false, false, help }, F_BOOL, OFF(field), NULL, 0 }

/* Keep in step with config.h, chatd.conf.sample and docs/configuration.md. */
static const struct cfg_row rows[] = {
	STR("node_id", "node-1", false, false, node_id, NULL, CFG_F_NODE_ID,
	    "this node's name in a cluster: [A-Za-z0-9._-], at most 64 bytes"),
	STR("plugin_dir", CHATD_PLUGIN_DIR, false, false, plugin_dir, NULL, 0,
	    "directory holding <kind>_<name>.so plugins"),

	STR("server.host", "127.0.0.1", false, false, listen_host, NULL, 0,
	    "address to listen on"),
	INT("server.port", "8080", 0, 65535, listen_port, F_INT,
	    "TCP port; 0 picks any free port (tests)"),
	INT("server.max_frame", "65536", 1024, 16 << 20, max_frame, F_I64,
	    "largest WebSocket frame accepted, bytes"),
	INT("server.max_text", "4096", 1, 16 << 20, max_text, F_I64,
	    "longest message text, code points (<= max_frame)"),
	INT("server.outbound_queue_bytes", "4194304", 65536, INT64_C(1) << 30,
	    outbound_queue_bytes, F_I64, "per-connection send queue before the client is dropped"),
	INT("server.auth_timeout_ms", "10000", 100, 600000, auth_timeout_ms, F_I64,
	    "time a new connection has to authenticate"),
	INT("server.ping_interval_s", "30", 1, 3600, ping_interval_s, F_I64,
	    "seconds between pings to an idle client"),
	INT("server.idle_timeout_s", "75", 2, 7200, idle_timeout_s, F_I64,
	    "close a connection silent this long (> ping_interval_s)"),
	INT("server.max_connections", "10000", 1, 10000000, max_connections, F_I64,
	    "connections accepted at once"),
	INT("server.frame_rate", "100", 1, 100000, frame_rate, F_I64,
	    "hard cap on frames per second per connection"),
	INT("server.frame_burst", "400", 1, 1000000, frame_burst, F_I64,
	    "frames a connection may send in a burst above frame_rate"),
	INT("server.max_connections_per_ip", "256", 1, 10000000, max_connections_per_ip, F_I64,
	    "connections one client address may hold (from accept to close) outside "
	    "server.connection_cap_exempt; over it: HTTP 429, WebSocket close 1008"),
	INT("server.handshake_timeout_s", "10", 1, 300, handshake_timeout_s, F_I64,
	    "seconds a new connection has to finish TLS and its HTTP request / upgrade"),
	STR("server.tls_cert", NULL, false, false, tls_cert, NULL, 0,
	    "PEM certificate (chain) file: the port serves wss:// and https:// only; "
	    "set with server.tls_key"),
	STR("server.tls_key", NULL, false, false, tls_key, NULL, 0,
	    "PEM private key file of server.tls_cert (not encrypted)"),
	STR("server.tls_min_version", "1.2", false, false, tls_min_version, tls_versions, 0,
	    "oldest TLS version accepted: 1.2 or 1.3"),

	BOOL("web.enabled", "true", web_enabled, "serve the web client at GET /"),
	STR("web.root", CHATD_WEB_DIR, false, false, web_root, NULL, 0,
	    "directory holding the web client (index.html, js/, css/)"),

	STR("auth.algorithm", "HS256", false, false, auth_algorithm, algorithms, 0,
	    "JWT algorithm: HS256, RS256 or ES256"),
	STR("auth.secret", NULL, false, true, auth_secret, NULL, 0,
	    "HS256 shared secret, at least 16 bytes (required for HS256)"),
	STR("auth.public_key_file", NULL, false, false, auth_public_key_file, NULL, 0,
	    "PEM public key (required for RS256/ES256)"),
	STR("auth.private_key_file", NULL, false, false, auth_private_key_file, NULL, 0,
	    "PEM private key chatctl uses to mint RS256/ES256 tokens"),
	INT("auth.leeway_s", "0", 0, 3600, auth_leeway_s, F_I64,
	    "clock skew tolerated on exp/nbf, seconds"),
	BOOL("auth.dev_login", "false", auth_dev_login,
	     "POST /auth/dev-login mints a token for any user id (never in production)"),
	INT("auth.dev_login_ttl_s", "900", 1, 86400, auth_dev_login_ttl_s, F_I64,
	    "lifetime of tokens minted by the development sign-in, seconds"),
	INT("auth.default_ttl_s", "86400", 1, 31536000, auth_default_ttl_s, F_I64,
	    "lifetime of tokens minted by chatctl, seconds"),

	STR("log.level", "info", false, false, log_level, levels, 0,
	    "error, warn, info or debug"),
	STR("log.file", "", false, false, log_file, NULL, 0,
	    "file the log is appended to (SIGHUP reopens it); empty = stderr"),
	STR("log.user_hash_key", "", false, true, log_user_hash_key, NULL, 0,
	    "HMAC key of the hashed user ids in log lines; set it, or hashes can be "
	    "reversed by hashing guessed names"),

	STR("moderation.fail_mode", "open", false, false, mod_fail_mode, fail_modes, 0,
	    "a rule that errors or runs over budget: open = skip it, closed = reject"),
	STR("moderation.rules_dir", CHATD_RULES_DIR, false, false, mod_rules_dir, NULL, 0,
	    "directory of rule files (<name>.lua) and their lists/"),
	INT("moderation.insn_budget", "1000000", 1000, 1000000000, mod_insn_budget, F_I64,
	    "Lua VM instructions a rule may run per call"),
	INT("moderation.mem_cap_kib", "8192", 256, 1048576, mod_mem_cap_kib, F_I64,
	    "memory of the rule set's Lua state, KiB"),
	INT("moderation.cluster_sync_ms", "100", 0, 10000, mod_cluster_sync_ms, F_I64,
	    "with a cluster bus (bus_redis): share rule limiters and counters with the other "
	    "nodes every N ms; 0 = each node limits on its own"),

	STR("encryption.active", "", false, false, enc_active, NULL, 0,
	    "id of the encryption.keys entry that seals new message text; empty = new "
	    "rows stay plaintext (stored sealed rows still open with their keys)"),

	INT("conversations.max_members", "10000", 2, 1000000, conv_max_members, F_I64,
	    "largest group, members (conv.add past it: too_large)"),
	STR("conversations.new_member_history", "all", false, false, conv_new_member_history,
	    history_modes, 0,
	    "what a member added to a group sees: all = the whole history, join = from the add"),

	INT("presence.max_subscriptions", "1000", 1, 100000, presence_max_subs, F_I64,
	    "users one session may watch with presence.subscribe"),
	INT("typing.max_members", "100", 0, 1000, typing_max_members, F_I64,
	    "typing indicators only in conversations with at most this many members"),
	INT("notify.max_members", "1000", 0, 100000, notify_max_members, F_I64,
	    "offline notifications only in conversations with at most this many members"),

	INT("retention.purge_deleted_after_s", "2592000", 0, INT64_C(3153600000),
	    retention_purge_after_s, F_I64,
	    "erase the content of messages deleted for everyone this long after the delete"),
	INT("retention.interval_s", "3600", 1, 604800, retention_interval_s, F_I64,
	    "how often the retention job runs, seconds"),

	BOOL("admin.enabled", "true", admin_enabled, "serve the admin API"),
	STR("admin.host", "127.0.0.1", false, false, admin_host, NULL, 0,
	    "admin API address (keep it on loopback or a private network)"),
	INT("admin.port", "8081", 1, 65535, admin_port, F_INT, "admin API TCP port"),
	STR("admin.socket", NULL, false, false, admin_socket, NULL, CFG_F_SOCKPATH,
	    "serve the admin API on this Unix socket instead of host:port; unset: TCP"),
	MODE("admin.socket_mode", "0660", admin_socket_mode,
	     "permissions of admin.socket, octal text (who may connect: write permission)"),
	STR("admin.tls_cert", NULL, false, false, admin_tls_cert, NULL, 0,
	    "PEM certificate (chain) file: the admin API serves https:// only; set with "
	    "admin.tls_key"),
	STR("admin.tls_key", NULL, false, false, admin_tls_key, NULL, 0,
	    "PEM private key file of admin.tls_cert (not encrypted)"),
	STR("admin.tls_min_version", "1.2", false, false, admin_tls_min_version, tls_versions, 0,
	    "oldest TLS version the admin API accepts: 1.2 or 1.3"),
	BOOL("admin.metrics_auth", "true", admin_metrics_auth,
	     "GET /metrics needs a moderator or admin token; false: open (private network)"),

	STR("plugins.storage", NULL, true, false, plugin_name[CHATD_KIND_STORAGE - 1], NULL,
	    CFG_F_PLUGIN, "storage plugin name (storage_<name>.so)"),
	STR("plugins.presence", NULL, true, false, plugin_name[CHATD_KIND_PRESENCE - 1], NULL,
	    CFG_F_PLUGIN, "presence plugin name"),
	STR("plugins.bus", NULL, true, false, plugin_name[CHATD_KIND_BUS - 1], NULL,
	    CFG_F_PLUGIN, "bus plugin name"),
	STR("plugins.fanout", NULL, true, false, plugin_name[CHATD_KIND_FANOUT - 1], NULL,
	    CFG_F_PLUGIN, "fanout plugin name"),
	STR("plugins.media", NULL, false, false, plugin_name[CHATD_KIND_MEDIA - 1], NULL,
	    CFG_F_PLUGIN, "media plugin name; unset = no media"),
	STR("plugins.receipts", NULL, false, false, plugin_name[CHATD_KIND_RECEIPTS - 1], NULL,
	    CFG_F_PLUGIN, "receipts plugin name; unset = none"),
	STR("plugins.notify", NULL, false, false, plugin_name[CHATD_KIND_NOTIFY - 1], NULL,
	    CFG_F_PLUGIN, "notify plugin name (offline notifications); unset = none"),
};

#define N_ROWS (sizeof rows / sizeof rows[0])

static const char *type_desc(chatd_opt_type t)
{
	switch (t) {
	case CHATD_OPT_STRING: return "a string";
	case CHATD_OPT_INT: return "an integer";
	case CHATD_OPT_BOOL: return "a boolean";
	default: return "a value of unknown type";
	}
}

bool cfg_value_check(struct cfg_ctx *c, const char *path, const struct chatd_option *o,
		     const struct cfg_value *v)
{
	if (v->type != o->type) {
		cfg_ctx_err(c, v->line, path, "expected %s, got %s", type_desc(o->type),
			    v->type == CFG_VALUE_BAD && v->str ? v->str : type_desc(v->type));
		return false;
	}
	if (o->type == CHATD_OPT_INT && o->min <= o->max && (v->num < o->min || v->num > o->max)) {
		if (o->secret)
			cfg_ctx_err(c, v->line, path, "out of range (%lld..%lld)",
				    (long long)o->min, (long long)o->max);
		else
			cfg_ctx_err(c, v->line, path, "%lld is out of range (%lld..%lld)",
				    (long long)v->num, (long long)o->min, (long long)o->max);
		return false;
	}
	return true;
}

int cfg_parse_default(const struct chatd_option *o, struct cfg_value *v)
{
	const char *d = o->def;
	v->type = o->type;
	v->str = NULL;
	switch (o->type) {
	case CHATD_OPT_STRING:
		if (strnlen(d, CFG_MAX_STR + 1) > CFG_MAX_STR)
			return CHATD_ERR_INVALID;
		v->str = strdup(d);
		return v->str ? CHATD_OK : CHATD_ERR_NOMEM;
	case CHATD_OPT_INT: {
		char *end;
		errno = 0;
		long long n = strtoll(d, &end, 10);
		if (errno || end == d || *end)
			return CHATD_ERR_INVALID;
		v->num = n;
		return CHATD_OK;
	}
	case CHATD_OPT_BOOL:
		if (strcmp(d, "true") == 0)
			v->flag = true;
		else if (strcmp(d, "false") == 0)
			v->flag = false;
		else
			return CHATD_ERR_INVALID;
		return CHATD_OK;
	default:
		return CHATD_ERR_INVALID;
	}
}

bool cfg_schema_is_table(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < N_ROWS; i++)
		if (strncmp(rows[i].opt.key, name, n) == 0 && rows[i].opt.key[n] == '.')
			return true;
	return false;
}

bool cfg_plugin_name_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= 32 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9')))
			return false;
	return n > 0;
}

static bool node_id_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (n >= 64 || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return n > 0;
}

/* 3 or 4 octal digits, at most 0777 (no setuid, setgid or sticky bits). */
static bool mode_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 4 || (n == 4 && s[0] != '0'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '7')
			return false;
	return true;
}

static const struct cfg_row *row_find(const char *path)
{
	for (size_t i = 0; i < N_ROWS; i++)
		if (strcmp(rows[i].opt.key, path) == 0)
			return &rows[i];
	return NULL;
}

/* Stores v (already checked) into the field of row r; strings are copied. */
static void row_store(struct chatd_config *cfg, const struct cfg_row *r, const struct cfg_value *v,
		      struct cfg_ctx *c)
{
	char *field = (char *)cfg + r->off;
	switch (r->field) {
	case F_STR: {
		char *s = strdup(v->str);
		if (!s) {
			c->nomem = true;
			return;
		}
		char **slot = (char **)(void *)field;
		free(*slot);
		*slot = s;
		break;
	}
	case F_INT: *(int *)(void *)field = (int)v->num; break; /* rows keep F_INT in int range */
	case F_I64: *(int64_t *)(void *)field = v->num; break;
	case F_BOOL: *(bool *)(void *)field = v->flag; break;
	case F_MODE: *(int *)(void *)field = (int)strtol(v->str, NULL, 8); break;
	}
}

/* The string-only checks a type and range cannot express. */
static bool row_extra_ok(struct cfg_ctx *c, const struct cfg_row *r, const struct cfg_value *v)
{
	if (r->opt.type != CHATD_OPT_STRING)
		return true;
	const char *k = r->opt.key;
	if (v->str[0] == '\0') {
		cfg_ctx_err(c, v->line, k, "must not be empty");
		return false;
	}
	if (r->choices) {
		for (const char *const *ch = r->choices; *ch; ch++)
			if (strcmp(*ch, v->str) == 0)
				return true;
		char list[128] = "";
		for (const char *const *ch = r->choices; *ch; ch++) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *ch);
		}
		cfg_ctx_err(c, v->line, k, "unknown value (expected one of %s)", list);
		return false;
	}
	if ((r->flags & CFG_F_PLUGIN) && !cfg_plugin_name_ok(v->str)) {
		cfg_ctx_err(c, v->line, k, "plugin names are [a-z0-9]+, at most 32 bytes");
		return false;
	}
	if ((r->flags & CFG_F_NODE_ID) && !node_id_ok(v->str)) {
		cfg_ctx_err(c, v->line, k, "must be 1..64 bytes of [A-Za-z0-9._-]");
		return false;
	}
	if ((r->flags & CFG_F_SOCKPATH) &&
	    strlen(v->str) >= sizeof ((struct sockaddr_un *)0)->sun_path) {
		cfg_ctx_err(c, v->line, k, "a Unix socket path is at most %zu bytes (this one: %zu)",
			    sizeof ((struct sockaddr_un *)0)->sun_path - 1, strlen(v->str));
		return false;
	}
	if ((r->flags & CFG_F_MODE) && !mode_ok(v->str)) {
		cfg_ctx_err(c, v->line, k, "a file mode as octal text such as \"0660\" (at most "
			    "\"0777\")");
		return false;
	}
	return true;
}

static int val_line(const struct cfg_value *vals, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(vals[i].key, path) == 0)
			return vals[i].line;
	return 0;
}

/* Rules that span keys; run only on values that passed their own row. */
static void cross_checks(struct chatd_config *cfg, const struct cfg_value *vals, size_t n,
			 struct cfg_ctx *c)
{
	if (cfg->max_text > cfg->max_frame)
		cfg_ctx_err(c, val_line(vals, n, "server.max_text"), "server.max_text",
			    "must not exceed server.max_frame (%lld)", (long long)cfg->max_frame);
	cfg->enc.active = NULL;
	if (cfg->enc_active && *cfg->enc_active) {
		cfg->enc.active = enc_key_find(&cfg->enc, cfg->enc_active, strlen(cfg->enc_active));
		if (!cfg->enc.active)
			cfg_ctx_err(c, val_line(vals, n, "encryption.active"), "encryption.active",
				    "names no key of encryption.keys");
	}
	if (cfg->idle_timeout_s <= cfg->ping_interval_s)
		cfg_ctx_err(c, val_line(vals, n, "server.idle_timeout_s"), "server.idle_timeout_s",
			    "must be greater than server.ping_interval_s (%lld)",
			    (long long)cfg->ping_interval_s);

	/* A certificate without its key (or the reverse) is a half-done
	 * change: refuse it rather than serve plain text by surprise. */
	if (!cfg->tls_cert != !cfg->tls_key)
		cfg_ctx_err(c, val_line(vals, n, cfg->tls_cert ? "server.tls_cert" : "server.tls_key"),
			    cfg->tls_cert ? "server.tls_key" : "server.tls_cert",
			    "missing (server.tls_cert and server.tls_key are set together)");
	if (!cfg->admin_tls_cert != !cfg->admin_tls_key)
		cfg_ctx_err(c, val_line(vals, n, cfg->admin_tls_cert ? "admin.tls_cert"
					: "admin.tls_key"),
			    cfg->admin_tls_cert ? "admin.tls_key" : "admin.tls_cert",
			    "missing (admin.tls_cert and admin.tls_key are set together)");
	if (cfg->admin_tls_cert && cfg->admin_socket)
		cfg_ctx_err(c, val_line(vals, n, "admin.tls_cert"), "admin.tls_cert",
			    "not with admin.socket (a Unix socket is not reachable from the "
			    "network; unset one of them)");

	const char *alg = cfg->auth_algorithm ? cfg->auth_algorithm : "HS256";
	if (strcmp(alg, "HS256") == 0) {
		if (!cfg->auth_secret)
			cfg_ctx_err(c, val_line(vals, n, "auth.algorithm"), "auth.secret",
				    "missing (required for HS256)");
		else if (strlen(cfg->auth_secret) < 16) /* length only: never the secret */
			cfg_ctx_err(c, val_line(vals, n, "auth.secret"), "auth.secret",
				    "too short (%zu bytes; HS256 needs at least 16)",
				    strlen(cfg->auth_secret));
	} else if (!cfg->auth_public_key_file) {
		cfg_ctx_err(c, val_line(vals, n, "auth.algorithm"), "auth.public_key_file",
			    "missing (required for %s)", alg);
	}

	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct cfg_section *s = &cfg->sections[i];
		const char *name;
		chatd_plugin_kind kind = cfg_section_kind(s->name, &name);
		if (!kind)
			continue; /* config.c only makes sections of valid names */
		const char *enabled = cfg->plugin_name[kind - 1];
		if (!enabled)
			cfg_ctx_err(c, s->line, s->name,
				    "section for a plugin not enabled (plugins.%s is not set)",
				    cfg_kind_name(kind));
		else if (strcmp(enabled, name) != 0)
			cfg_ctx_err(c, s->line, s->name,
				    "section for a plugin not enabled (plugins.%s = \"%s\")",
				    cfg_kind_name(kind), enabled);
	}
}

void cfg_schema_apply(struct chatd_config *cfg, const struct cfg_value *vals, size_t n,
		      struct cfg_ctx *c)
{
	bool seen[N_ROWS] = { false };

	for (size_t i = 0; i < N_ROWS; i++) {
		if (!rows[i].opt.def)
			continue;
		struct cfg_value d = { 0 };
		int st = cfg_parse_default(&rows[i].opt, &d);
		if (st == CHATD_OK)
			row_store(cfg, &rows[i], &d, c);
		else if (st == CHATD_ERR_NOMEM)
			c->nomem = true;
		else /* a bug in the table above */
			cfg_ctx_err(c, 0, rows[i].opt.key, "built-in default does not parse");
		free(d.str);
	}

	for (size_t i = 0; i < n; i++) {
		const struct cfg_value *v = &vals[i];
		const struct cfg_row *r = row_find(v->key);
		if (!r) {
			if (!strchr(v->key, '.') && cfg_schema_is_table(v->key))
				cfg_ctx_err(c, v->line, v->key, "expected a table, got %s",
					    v->type == CFG_VALUE_BAD && v->str ? v->str
					    : type_desc(v->type));
			else
				cfg_ctx_err(c, v->line, v->key, "unknown key");
			continue;
		}
		seen[r - rows] = true;
		if (cfg_value_check(c, v->key, &r->opt, v) && row_extra_ok(c, r, v))
			row_store(cfg, r, v, c);
	}

	for (size_t i = 0; i < N_ROWS; i++)
		if (rows[i].opt.required && !seen[i])
			cfg_ctx_err(c, 0, rows[i].opt.key, "missing (required)");

	cross_checks(cfg, vals, n, c);
}

/* ---- plugin sections -------------------------------------------------------- */

static struct cfg_section *section_find(const struct chatd_config *cfg, const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->n_sections; i++)
		if (strcmp(cfg->sections[i].name, name) == 0)
			return &cfg->sections[i];
	return NULL;
}

const struct cfg_value *cfg_section_value(const struct chatd_config *cfg,
					  const char *section, const char *key)
{
	const struct cfg_section *s = section_find(cfg, section);
	for (size_t i = 0; s && key && i < s->n_values; i++)
		if (strcmp(s->values[i].key, key) == 0)
			return &s->values[i];
	return NULL;
}

#define CFG_MAX_OPTIONS 1024   /* a schema longer than this is missing its terminator */

int cfg_check_plugin_section(struct chatd_config *cfg, const char *section,
			     const struct chatd_option *schema, struct cfg_errors *errs)
{
	if (!cfg || !section)
		return CHATD_ERR_INVALID;
	struct cfg_ctx c = { .file = cfg->path ? cfg->path : "<config>", .errs = errs };
	struct cfg_section *s = section_find(cfg, section);
	if (!s) { /* absent = empty, but it must exist to hold the defaults */
		struct cfg_section *g = realloc(cfg->sections, (cfg->n_sections + 1) * sizeof *g);
		if (!g)
			return CHATD_ERR_NOMEM;
		cfg->sections = g;
		s = &g[cfg->n_sections];
		memset(s, 0, sizeof *s);
		if (!(s->name = strdup(section)))
			return CHATD_ERR_NOMEM;
		cfg->n_sections++;
	}
	size_t n_opt = 0;
	while (schema && n_opt < CFG_MAX_OPTIONS && schema[n_opt].key)
		n_opt++;
	if (n_opt == CFG_MAX_OPTIONS) {
		cfg_ctx_err(&c, 0, section, "plugin schema has no terminating row");
		return CHATD_ERR_INVALID;
	}
	char path[256];
	for (size_t i = 0; i < s->n_values; i++) {
		const struct cfg_value *v = &s->values[i];
		snprintf(path, sizeof path, "%s.%s", section, v->key);
		const struct chatd_option *o = NULL;
		for (size_t j = 0; j < n_opt && !o; j++)
			if (strcmp(schema[j].key, v->key) == 0)
				o = &schema[j];
		if (!o)
			cfg_ctx_err(&c, v->line, path, "unknown key");
		else
			cfg_value_check(&c, path, o, v);
	}
	for (size_t j = 0; j < n_opt; j++) {
		const struct chatd_option *o = &schema[j];
		if (cfg_section_value(cfg, section, o->key))
			continue;
		snprintf(path, sizeof path, "%s.%s", section, o->key);
		if (o->required) {
			cfg_ctx_err(&c, s->line, path, "missing (required)");
			continue;
		}
		if (!o->def)
			continue;
		struct cfg_value d = { 0 };
		int st = cfg_parse_default(o, &d);
		if (st == CHATD_ERR_NOMEM)
			return CHATD_ERR_NOMEM;
		if (st != CHATD_OK) {
			cfg_ctx_err(&c, 0, path, "the plugin's default does not parse as %s",
				    o->type == CHATD_OPT_INT ? "an integer" :
				    o->type == CHATD_OPT_BOOL ? "a boolean" : "its type");
			continue;
		}
		struct cfg_value *g = realloc(s->values, (s->n_values + 1) * sizeof *g);
		if (g)
			s->values = g;
		if (!g || !(d.key = strdup(o->key))) {
			free(d.str);
			return CHATD_ERR_NOMEM;
		}
		s->values[s->n_values++] = d;
	}
	if (c.nomem)
		return CHATD_ERR_NOMEM;
	return c.n_err ? CHATD_ERR_INVALID : CHATD_OK;
}

/* ---- where keys are written ---------------------------------------------- */

/* Lines come from a light scan of the source, not from Lua: `name =` at
 * brace depth 0, `a.b =` at depth 0, and `key =` at depth 1 of a table
 * constructor assigned straight to a top-level name; strings and comments
 * are skipped.  The last occurrence wins, as in Lua.  A key set any other
 * way gets no line rather than a wrong one. */
#define CFG_MAX_LINES 4096

struct line_ent {
	const char *parent, *key;   /* point into the source text */
	size_t plen, klen;
	int line;
};

struct cfg_lines {
	struct line_ent *e;
	size_t n, cap;
};

enum { T_EOF, T_NAME, T_EQ, T_DOT, T_LBRACE, T_RBRACE, T_SEP, T_OTHER };

struct tok {
	int t;
	const char *p;
	size_t n;
	int line;
};

struct lex {
	const char *s;
	size_t len, pos;
	int line;
};

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* At '[': 1 + the level of a long bracket "[==[", or 0 when it is not one. */
static size_t long_open(const struct lex *x, size_t pos)
{
	size_t i = pos + 1;
	while (i < x->len && x->s[i] == '=')
		i++;
	return (i < x->len && x->s[i] == '[') ? i - pos : 0;
}

static void skip_long(struct lex *x, size_t level1)
{
	size_t level = level1 - 1;
	x->pos += level + 2;
	while (x->pos < x->len) {
		char ch = x->s[x->pos];
		if (ch == '\n') {
			x->line++;
		} else if (ch == ']') {
			size_t i = x->pos + 1;
			while (i < x->len && x->s[i] == '=')
				i++;
			if (i - x->pos - 1 == level && i < x->len && x->s[i] == ']') {
				x->pos = i + 1;
				return;
			}
		}
		x->pos++;
	}
}

static struct tok lex_next(struct lex *x)
{
	const char *s = x->s;
	while (x->pos < x->len) {
		char ch = s[x->pos];
		struct tok t = { T_OTHER, s + x->pos, 1, x->line };
		size_t lv;
		if (ch == '\n') {
			x->line++;
			x->pos++;
		} else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
			x->pos++;
		} else if (ch == '-' && x->pos + 1 < x->len && s[x->pos + 1] == '-') {
			x->pos += 2;
			if (x->pos < x->len && s[x->pos] == '[' && (lv = long_open(x, x->pos)))
				skip_long(x, lv);
			else
				while (x->pos < x->len && s[x->pos] != '\n')
					x->pos++;
		} else if (ch == '[') {
			if ((lv = long_open(x, x->pos)))
				skip_long(x, lv);
			else
				x->pos++;
			return t;
		} else if (ch == '"' || ch == '\'') {
			x->pos++;
			while (x->pos < x->len && s[x->pos] != ch && s[x->pos] != '\n') {
				if (s[x->pos] == '\\' && x->pos + 1 < x->len && s[++x->pos] == '\n')
					x->line++;
				x->pos++;
			}
			if (x->pos < x->len && s[x->pos] == ch)
				x->pos++;
			return t;
		} else if (is_alpha(ch) || is_digit(ch)) {
			size_t start = x->pos;
			while (x->pos < x->len && (is_alpha(s[x->pos]) || is_digit(s[x->pos]) ||
						   (is_digit(ch) && s[x->pos] == '.')))
				x->pos++;
			t.t = is_digit(ch) ? T_OTHER : T_NAME;
			t.n = x->pos - start;
			return t;
		} else {
			x->pos++;
			bool eq_next = x->pos < x->len && s[x->pos] == '=';
			switch (ch) {
			case '=':
				if (eq_next)
					x->pos++;   /* == */
				else
					t.t = T_EQ;
				break;
			case '<': case '>': case '~':
				if (eq_next)
					x->pos++;
				break;
			case '.':
				if (x->pos < x->len && s[x->pos] == '.')
					x->pos++;   /* .. */
				else
					t.t = T_DOT;
				break;
			case '{': t.t = T_LBRACE; break;
			case '}': t.t = T_RBRACE; break;
			case ',': case ';': t.t = T_SEP; break;
			default: break;
			}
			return t;
		}
	}
	return (struct tok){ T_EOF, NULL, 0, x->line };
}

static bool tok_is(const struct tok *t, const char *word)
{
	return t->t == T_NAME && t->n == strlen(word) && memcmp(t->p, word, t->n) == 0;
}

static void lines_add(struct cfg_lines *ix, const struct tok *parent, const struct tok *key)
{
	if (ix->n == ix->cap) {
		size_t ncap = ix->cap ? ix->cap * 2 : 32;
		if (ncap > CFG_MAX_LINES)
			return;
		struct line_ent *g = realloc(ix->e, ncap * sizeof *g);
		if (!g)
			return; /* lines are best effort */
		ix->e = g;
		ix->cap = ncap;
	}
	ix->e[ix->n++] = (struct line_ent){ parent ? parent->p : NULL, key->p,
					    parent ? parent->n : 0, key->n, key->line };
}

struct cfg_lines *cfg_lines_build(const char *s, size_t len)
{
	struct cfg_lines *ix = calloc(1, sizeof *ix);
	if (!ix)
		return NULL;
	struct lex x = { s, len, 0, 1 };
	struct tok w[5] = { { T_SEP, NULL, 0, 0 } };   /* w[0] previous, w[1] current */
	for (int i = 1; i < 5; i++)
		w[i] = lex_next(&x);
	int depth = 0;
	struct tok top = { 0 };
	bool in_top = false;
	while (w[1].t != T_EOF) {
		const struct tok *p = &w[0], *t = &w[1];
		if (t->t == T_LBRACE) {
			depth++;
		} else if (t->t == T_RBRACE) {
			if (depth > 0 && --depth == 0)
				in_top = false;
		} else if (t->t == T_NAME && depth == 0 && p->t != T_DOT && !tok_is(p, "local") &&
			   !tok_is(p, "for")) {
			if (w[2].t == T_EQ) {
				lines_add(ix, NULL, t);
				in_top = w[3].t == T_LBRACE;
				top = *t;
			} else if (w[2].t == T_DOT && w[3].t == T_NAME && w[4].t == T_EQ) {
				lines_add(ix, t, &w[3]);
			}
		} else if (t->t == T_NAME && depth == 1 && in_top && w[2].t == T_EQ &&
			   (p->t == T_LBRACE || p->t == T_SEP)) {
			lines_add(ix, &top, t);
		}
		memmove(w, w + 1, 4 * sizeof *w);
		w[4] = lex_next(&x);
	}
	return ix;
}

void cfg_lines_free(struct cfg_lines *ix)
{
	if (ix)
		free(ix->e);
	free(ix);
}

int cfg_lines_find(const struct cfg_lines *ix, const char *parent, const char *key, size_t klen)
{
	size_t plen = parent ? strlen(parent) : 0;
	for (size_t i = ix->n; i-- > 0;) {
		const struct line_ent *e = &ix->e[i];
		if (e->klen != klen || memcmp(e->key, key, klen) != 0)
			continue;
		if (parent ? (e->parent && e->plen == plen && memcmp(e->parent, parent, plen) == 0)
			   : !e->parent)
			return e->line;
	}
	return 0;
}
