/* lua_host_tables.c — read-only tables handed to rules (config, on_verdict's
 * v, library tables of the helpers), the JSON -> Lua conversion behind
 * `config`, and the strict UTF-8 check the regex helpers need (PCRE2 runs
 * with NO_UTF_CHECK, so an invalid subject would be undefined behaviour). */
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua_host_priv.h"

#define LH_JSON_DEPTH 32

/* ---- read-only proxies -------------------------------------------------- */

/* The proxied table is the metatable's __index: proxies never expose it
 * (getmetatable is gone and __metatable is false), only C reaches it. */
static void push_real(lua_State *L, int proxy)
{
	if (!lua_getmetatable(L, proxy))
		lua_pushnil(L);
	else {
		lua_getfield(L, -1, "__index");
		lua_remove(L, -2);
	}
}

static int ro_write(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TSTRING)
		return luaL_error(L, "attempt to modify a read-only table (field '%s')",
		                  lua_tostring(L, 2));
	return luaL_error(L, "attempt to modify a read-only table");
}

static int ro_len(lua_State *L)
{
	push_real(L, 1);
	lua_pushinteger(L, lua_istable(L, -1) ? (lua_Integer)lua_rawlen(L, -1) : 0);
	return 1;
}

/* Iterator closure over the real table (upvalue 1); the state argument is
 * the proxy, so pairs() never hands the writable table to the rule. */
static int ro_next(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_next(L, lua_upvalueindex(1)))
		return 2;
	lua_pushnil(L);
	return 1;
}

static int ro_pairs(lua_State *L)
{
	push_real(L, 1);
	if (!lua_istable(L, -1))
		return luaL_error(L, "not a read-only table");
	lua_pushcclosure(L, ro_next, 1);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

void lh_ro_table(lua_State *L)
{
	lua_newtable(L);                    /* real proxy */
	lua_createtable(L, 0, 5);           /* real proxy mt */
	lua_rotate(L, -3, -1);              /* proxy mt real */
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, ro_write);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, ro_len);
	lua_setfield(L, -2, "__len");
	lua_pushcfunction(L, ro_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

/* ---- JSON -> Lua ------------------------------------------------------- */

static void push_json(lua_State *L, const json_t *j, int depth)
{
	luaL_checkstack(L, 4, "config nested too deep");
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		if (depth >= LH_JSON_DEPTH)
			luaL_error(L, "options nested deeper than %d", LH_JSON_DEPTH);
		size_t n = json_object_size(j);
		lua_createtable(L, 0, n > INT32_MAX ? INT32_MAX : (int)n);
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			if (json_is_null(v))
				continue;
			lua_pushstring(L, k);
			push_json(L, v, depth + 1);
			lua_rawset(L, -3);
		}
		lh_ro_table(L);
		return;
	}
	case JSON_ARRAY: {
		if (depth >= LH_JSON_DEPTH)
			luaL_error(L, "options nested deeper than %d", LH_JSON_DEPTH);
		size_t n = json_array_size(j);
		lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0);
		for (size_t i = 0; i < n; i++) {
			const json_t *v = json_array_get(j, i);
			if (json_is_null(v))
				luaL_error(L, "options: null inside an array is not supported");
			push_json(L, v, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lh_ro_table(L);
		return;
	}
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(j), json_string_length(j));
		return;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(j));
		return;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		return;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		return;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		return;
	case JSON_NULL:
	default:
		lua_pushnil(L);
		return;
	}
}

void lh_push_json(lua_State *L, const struct json_t *j)
{
	push_json(L, j, 0);
}

/* ---- UTF-8 ------------------------------------------------------------- */

size_t lh_utf8_seqlen(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

bool lh_utf8_valid(const char *str, size_t len, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;   /* bounds of the 2nd byte */
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;            /* no overlongs */
			else if (c == 0xed)
				hi = 0x9f;            /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;            /* <= U+10FFFF */
		} else
			goto fail;
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			goto fail;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				goto fail;
		i += n;
	}
	return true;
fail:
	if (bad)
		*bad = i;
	return false;
}
