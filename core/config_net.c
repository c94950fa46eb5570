/* config_net.c — server.connection_cap_exempt: the address blocks the
 * per-address connection cap never counts (decision 60).
 *
 *   server = { connection_cap_exempt = { "127.0.0.0/8", "::1/128", "10.1.2.3" } }
 *
 * Not set: loopback only.  {} exempts nothing. */
#include "config.h"
#include "config_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>

#define CAP_EXEMPT_MAX 1024

static const char *const default_exempt[] = { "127.0.0.0/8", "::1/128" };

void cfg_read_cap_exempt(lua_State *L, int idx, struct chatd_config *cfg, struct cfg_ctx *c,
			 int line)
{
	const char *path = "server.connection_cap_exempt";
	if (cfg->cap_exempt_given) {
		cfg_ctx_err(c, line, path, "given twice");
		return;
	}
	cfg->cap_exempt_given = true;
	if (!lua_istable(L, idx)) {
		cfg_ctx_err(c, line, path, "expected a list of addresses or blocks, got %s",
			    luaL_typename(L, idx));
		return;
	}
	lua_Integer n = luaL_len(L, idx);
	size_t count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		lua_pop(L, 1);
	}
	if (n < 0 || (size_t)n != count) {
		cfg_ctx_err(c, line, path, "expected a list { \"a.b.c.d/n\", ... }, not a table "
			    "with names");
		return;
	}
	if (n > CAP_EXEMPT_MAX) {
		cfg_ctx_err(c, line, path, "more than %d entries", CAP_EXEMPT_MAX);
		return;
	}
	if (n == 0)
		return;
	cfg->cap_exempt = calloc((size_t)n, sizeof *cfg->cap_exempt);
	if (!cfg->cap_exempt) {
		c->nomem = true;
		return;
	}
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		const char *why = NULL;
		size_t sl = 0;
		if (lua_type(L, -1) != LUA_TSTRING) {
			cfg_ctx_err(c, line, path, "[%lld]: expected a string, got %s", (long long)i,
				    luaL_typename(L, -1));
		} else if (strlen(lua_tolstring(L, -1, &sl)) != sl) {
			cfg_ctx_err(c, line, path, "[%lld]: contains a NUL byte", (long long)i);
		} else if (netaddr_cidr_parse(lua_tostring(L, -1),
					      &cfg->cap_exempt[cfg->n_cap_exempt], &why) < 0) {
			char shown[NETADDR_TEXT_MAX];
			snprintf(shown, sizeof shown, "%s", lua_tostring(L, -1));
			for (char *p = shown; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
			cfg_ctx_err(c, line, path, "[%lld] \"%s\": %s", (long long)i, shown, why);
		} else {
			cfg->n_cap_exempt++;
		}
		lua_pop(L, 1);
	}
}

void cfg_cap_exempt_default(struct chatd_config *cfg, struct cfg_ctx *c)
{
	if (cfg->cap_exempt_given)
		return;
	size_t n = sizeof default_exempt / sizeof default_exempt[0];
	cfg->cap_exempt = calloc(n, sizeof *cfg->cap_exempt);
	if (!cfg->cap_exempt) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why;
		if (netaddr_cidr_parse(default_exempt[i], &cfg->cap_exempt[i], &why) == 0)
			cfg->n_cap_exempt++;
	}
}
