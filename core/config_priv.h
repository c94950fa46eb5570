/* config_priv.h — what config.c (Lua sandbox, sections, errors) and
 * config_schema.c (the core rows and the generic checks) share.  Not for
 * other modules: they use config.h. */
#ifndef CHATD_CONFIG_PRIV_H
#define CHATD_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

#define CFG_MAX_STR 4096      /* longest string value accepted, bytes */
#define CFG_MAX_ERRORS 100    /* after this many, one "too many errors" line */

/* Error sink of one load or section check.  n_err counts every error
 * reported, even those dropped (cap reached, or no memory to store them), so
 * "were there errors?" never depends on an allocation succeeding. */
struct cfg_ctx {
	const char *file;         /* borrowed; prefix of every message */
	struct cfg_errors *errs;  /* borrowed */
	size_t n_err;
	bool nomem;               /* an allocation failed somewhere */
};

/* Adds "FILE:LINE: KEY: message" (":LINE" omitted when line <= 0, "KEY: "
 * omitted when key is NULL). */
void cfg_ctx_err(struct cfg_ctx *c, int line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A value read from the file whose Lua type fits no option type (a table, a
 * function, a number with a fraction) has type CFG_VALUE_BAD and str holds an
 * owned description of what was found ("a table"). */
#define CFG_VALUE_BAD ((chatd_opt_type)0)

/* Checks v against option o (type, then integer range); reports under
 * `path` and returns false on the first problem.  Never prints a value of a
 * secret option. */
bool cfg_value_check(struct cfg_ctx *c, const char *path, const struct chatd_option *o,
		     const struct cfg_value *v);

/* Parses o->def (which must be non-NULL) into *v as type o->type; v->str is
 * owned by the caller afterwards.  Returns CHATD_OK, CHATD_ERR_INVALID (the
 * text does not parse) or CHATD_ERR_NOMEM. */
int cfg_parse_default(const struct chatd_option *o, struct cfg_value *v);

/* True when `name` is one of the core tables (server, auth, log, plugins). */
bool cfg_schema_is_table(const char *name);

/* Fills cfg's core fields from defaults, then from vals (full key paths,
 * "server.port"; borrowed), checks unknown keys, types, ranges, required
 * keys, the cross-key rules and that every section in cfg->sections belongs
 * to an enabled plugin.  Errors go to c. */
void cfg_schema_apply(struct chatd_config *cfg, const struct cfg_value *vals, size_t n,
		      struct cfg_ctx *c);

/* Reads moderation.rules (the Lua value at idx) into cfg->mod_rules,
 * reporting every problem to c under "moderation.rules[i]". */
struct lua_State;
void cfg_read_rules(struct lua_State *L, int idx, struct chatd_config *cfg, struct cfg_ctx *c,
		    int line);
void cfg_rules_free(struct cfg_rule *r, size_t n);

/* Reads encryption.keys (the Lua table at idx: key id = key material, see
 * enc_key_parse) into cfg->enc; errors never show a key (config_enc.c). */
void cfg_read_enc_keys(struct lua_State *L, int idx, struct chatd_config *cfg,
		       struct cfg_ctx *c, int line);
/* Reads server.connection_cap_exempt (the Lua value at idx: a list of
 * "address" or "address/prefix" strings) into cfg->cap_exempt
 * (config_net.c); cfg_cap_exempt_default fills the default when the file
 * did not set it. */
void cfg_read_cap_exempt(struct lua_State *L, int idx, struct chatd_config *cfg,
			 struct cfg_ctx *c, int line);
void cfg_cap_exempt_default(struct chatd_config *cfg, struct cfg_ctx *c);
/* Frees the key ring, wiping the keys. */
void cfg_enc_free(struct enc_keyring *kr);

/* Kind of a section name "<kind>_<name>" with name [a-z0-9]+, else 0; *name
 * points into `section`. */
chatd_plugin_kind cfg_section_kind(const char *section, const char **name);

/* True when s is a valid plugin name: [a-z0-9]+, at most 32 bytes. */
bool cfg_plugin_name_ok(const char *s);

/* Index of where keys are written in the source text (which must outlive
 * it): a best-effort scan, see config_schema.c. */
struct cfg_lines;
/* Returns NULL only when out of memory; free with cfg_lines_free. */
struct cfg_lines *cfg_lines_build(const char *text, size_t len);
void cfg_lines_free(struct cfg_lines *ix);
/* Line of `parent.key` (parent NULL: a top-level name), or 0 when unknown. */
int cfg_lines_find(const struct cfg_lines *ix, const char *parent, const char *key, size_t klen);

#endif
