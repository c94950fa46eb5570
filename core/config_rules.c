/* config_rules.c — moderation.rules: the ordered list of enabled rules.
 *
 *   moderation = { rules = {
 *     "audit",                                     -- shorthand: name only
 *     { name = "ratelimit", options = { per_second = 5 } },
 *     { name = "spam", mode = "observe" },
 *   } }
 *
 * Each entry names a rule file <rules_dir>/<name>.lua; its `options` table
 * reaches the rule as the read-only global `config`, carried as JSON text so
 * the moderation host can rebuild it in its own Lua state. */
#include "config.h"
#include "config_priv.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#define RULES_MAX 64          /* as many as the rule host takes */
#define OPT_DEPTH_MAX 8

bool cfg_rule_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Converts the Lua value at idx to JSON; NULL with *why set on a value JSON
 * cannot carry (function, mixed table, too deep). */
static json_t *to_json(lua_State *L, int idx, int depth, const char **why)
{
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		json_t *j = json_stringn(s, len);
		if (!j)
			*why = "a string that is not valid UTF-8";
		return j;
	}
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		return json_real(lua_tonumber(L, idx));
	case LUA_TBOOLEAN:
		return lua_toboolean(L, idx) ? json_true() : json_false();
	case LUA_TTABLE:
		break;
	default:
		*why = "a value that is not a string, number, boolean or table";
		return NULL;
	}
	if (depth >= OPT_DEPTH_MAX) {
		*why = "tables nested too deep";
		return NULL;
	}
	idx = lua_absindex(L, idx);
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	size_t keys = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		keys++;
		lua_pop(L, 1);
	}
	bool array = n > 0 && (size_t)n == keys;
	json_t *out = array ? json_array() : json_object();
	if (!out) {
		*why = "out of memory";
		return NULL;
	}
	if (array) {
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, idx, i);
			json_t *v = to_json(L, -1, depth + 1, why);
			lua_pop(L, 1);
			if (!v || json_array_append_new(out, v) < 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			*why = "a table mixing list items and named keys";
			lua_pop(L, 2);
			json_decref(out);
			return NULL;
		}
		json_t *v = to_json(L, -1, depth + 1, why);
		if (!v || json_object_set_new(out, lua_tostring(L, -2), v) < 0) {
			lua_pop(L, 2);
			json_decref(out);
			return NULL;
		}
		lua_pop(L, 1);
	}
	return out;
}

/* Reads one entry (at the top of the stack) into r; false after reporting. */
static bool read_entry(lua_State *L, struct cfg_rule *r, struct cfg_ctx *c, const char *path,
		       int line)
{
	int e = lua_gettop(L);
	size_t len;
	if (lua_type(L, e) == LUA_TSTRING) {
		const char *s = lua_tolstring(L, e, &len);
		if (!cfg_rule_name_ok(s, len)) {
			cfg_ctx_err(c, line, path, "a rule name is [a-z0-9_], 1 to 63 bytes");
			return false;
		}
		r->name = strdup(s);
		r->mode = -1;
		r->options_json = strdup("{}");
		return true;
	}
	if (lua_type(L, e) != LUA_TTABLE) {
		cfg_ctx_err(c, line, path, "expected a rule name or a table { name = ..., options = {...} }");
		return false;
	}
	bool ok = true;
	lua_pushnil(L);
	while (lua_next(L, e)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		if (!k || (strcmp(k, "name") && strcmp(k, "mode") && strcmp(k, "options"))) {
			cfg_ctx_err(c, line, path, "unknown key %s%s%s (name, mode, options)",
				    k ? "\"" : "", k ? k : "that is not a string", k ? "\"" : "");
			ok = false;
		}
		lua_pop(L, 1);
	}
	lua_getfield(L, e, "name");
	const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
	if (!name || !cfg_rule_name_ok(name, len)) {
		cfg_ctx_err(c, line, path, "name: a rule name is [a-z0-9_], 1 to 63 bytes");
		ok = false;
	} else {
		r->name = strdup(name);
	}
	lua_pop(L, 1);
	lua_getfield(L, e, "mode");
	const char *mode = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	if (lua_isnil(L, -1))
		r->mode = -1;
	else if (mode && strcmp(mode, "enforce") == 0)
		r->mode = 0;
	else if (mode && strcmp(mode, "observe") == 0)
		r->mode = 1;
	else {
		cfg_ctx_err(c, line, path, "mode: expected \"enforce\" or \"observe\"");
		ok = false;
	}
	lua_pop(L, 1);
	lua_getfield(L, e, "options");
	if (lua_isnil(L, -1)) {
		r->options_json = strdup("{}");
	} else if (!lua_istable(L, -1)) {
		cfg_ctx_err(c, line, path, "options: expected a table");
		ok = false;
	} else {
		const char *why = "out of memory";
		json_t *j = to_json(L, -1, 0, &why);
		if (j && json_is_array(j)) {
			why = "a list where a table of named options belongs";
			json_decref(j);
			j = NULL;
		}
		if (!j) {
			cfg_ctx_err(c, line, path, "options: %s", why);
			ok = false;
		} else {
			r->options_json = json_dumps(j, JSON_COMPACT);
			json_decref(j);
		}
	}
	lua_pop(L, 1);
	return ok;
}

void cfg_read_rules(lua_State *L, int idx, struct chatd_config *cfg, struct cfg_ctx *c, int line)
{
	if (cfg->mod_rules) {
		cfg_ctx_err(c, line, "moderation.rules", "given twice");
		return;
	}
	if (!lua_istable(L, idx)) {
		cfg_ctx_err(c, line, "moderation.rules", "expected a list of rules, got %s",
			    luaL_typename(L, idx));
		return;
	}
	size_t n = (size_t)lua_rawlen(L, idx);
	if (n > RULES_MAX) {
		cfg_ctx_err(c, line, "moderation.rules", "more than %d rules", RULES_MAX);
		return;
	}
	cfg->mod_rules = calloc(n ? n : 1, sizeof *cfg->mod_rules);
	if (!cfg->mod_rules) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof path, "moderation.rules[%zu]", i + 1);
		struct cfg_rule *r = &cfg->mod_rules[cfg->n_mod_rules++];
		r->line = line;
		lua_rawgeti(L, idx, (lua_Integer)(i + 1));
		bool ok = read_entry(L, r, c, path, line);
		lua_pop(L, 1);
		if (ok && (!r->name || !r->options_json)) {
			c->nomem = true;
			continue;
		}
		for (size_t j = 0; ok && j + 1 < cfg->n_mod_rules; j++)
			if (cfg->mod_rules[j].name && strcmp(cfg->mod_rules[j].name, r->name) == 0)
				cfg_ctx_err(c, line, path, "rule \"%s\" is listed twice", r->name);
	}
}

void cfg_rules_free(struct cfg_rule *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].name);
		free(r[i].options_json);
	}
	free(r);
}
