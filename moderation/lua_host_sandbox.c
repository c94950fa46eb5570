/* lua_host_sandbox.c — one rule set's Lua state: the capped allocator, the
 * sticky instruction-budget hook, the sandboxed globals, the verdict helpers
 * and the read-only context proxy. */
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_host_priv.h"

void lh_cpy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- allocator, hook, panic ------------------------------------------- */

/* When ptr is NULL, osize is a type tag, not a size.  Shrinking never fails. */
static void *lh_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lh_set *s = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		s->used -= old;
		return NULL;
	}
	if (nsize > old && nsize - old > s->cap - s->used) {
		s->mem_refused = true;
		return NULL;
	}
	void *p = realloc(ptr, nsize);
	if (!p) {
		s->mem_refused = true;
		return NULL;
	}
	s->used = s->used - old + nsize;
	return p;
}

struct lh_set *lh_set_of(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

int64_t lh_wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t lh_now(const struct lh_set *s)
{
	return s && s->ctx ? s->ctx->ts : lh_wall_ms();
}

static void lh_hook(lua_State *L, lua_Debug *ar)
{
	struct lh_set *s = lh_set_of(L);
	if (!s->over) {
		s->over = true;
		/* Sticky: every further instruction raises, so a pcall in the rule
		 * cannot swallow the error and carry on. */
		lua_sethook(L, lh_hook, LUA_MASKCOUNT, 1);
	}
	if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
		lua_pushfstring(L, "%s:%d: instruction budget exceeded", ar->short_src,
		                ar->currentline);
	else
		lua_pushliteral(L, "instruction budget exceeded");
	lua_error(L);
}

static int lh_panic(lua_State *L)
{
	/* Unreachable by design (all entry points are protected); Lua aborts
	 * after this returns. */
	const char *m = lua_tostring(L, -1);
	fprintf(stderr, "lua_host: unprotected Lua error: %s\n", m ? m : "?");
	return 0;
}

/* Calls the function below nargs arguments with the budget armed. */
int lh_call(struct lh_set *s, int nargs, int nres)
{
	s->over = false;
	s->mem_refused = false;
	lua_sethook(s->L, lh_hook, LUA_MASKCOUNT, s->budget);
	int st = lua_pcall(s->L, nargs, nres, 0);
	lua_sethook(s->L, NULL, 0, 0);
	return st;
}

/* ---- helpers exposed to rules ----------------------------------------- */

/* A verdict is {kind, a, b[, retry_after_ms]} with the helpers' metatable. */
static int push_verdict(lua_State *L, enum lua_verdict k, int a, int b)
{
	lua_createtable(L, 4, 0);
	lua_pushinteger(L, k);
	lua_rawseti(L, -2, 1);
	if (a) {
		lua_pushvalue(L, a);
		lua_rawseti(L, -2, 2);
	}
	if (b) {
		lua_pushvalue(L, b);
		lua_rawseti(L, -2, 3);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_setmetatable(L, -2);
	return 1;
}

static int h_allow(lua_State *L) { return push_verdict(L, LUA_VERDICT_ALLOW, 0, 0); }

static int h_reject(lua_State *L)
{
	luaL_checkstring(L, 1);
	luaL_optstring(L, 2, "");
	lua_Integer ra = luaL_optinteger(L, 3, 0);
	luaL_argcheck(L, ra >= 0, 3, "retry_after_ms must be >= 0");
	push_verdict(L, LUA_VERDICT_REJECT, 1, lua_isnoneornil(L, 2) ? 0 : 2);
	if (ra > 0) {
		lua_pushinteger(L, ra);
		lua_rawseti(L, -2, 4);
	}
	return 1;
}

static int h_shadow(lua_State *L)
{
	luaL_optstring(L, 1, "");
	return push_verdict(L, LUA_VERDICT_SHADOW, 0, lua_isnoneornil(L, 1) ? 0 : 1);
}

static int h_hold(lua_State *L) { luaL_checkstring(L, 1); return push_verdict(L, LUA_VERDICT_HOLD, 0, 1); }
static int h_flag(lua_State *L) { luaL_checkstring(L, 1); return push_verdict(L, LUA_VERDICT_FLAG, 0, 1); }
static int h_rewrite(lua_State *L) { luaL_checkstring(L, 1); return push_verdict(L, LUA_VERDICT_REWRITE, 1, 0); }

void lh_host_log(struct lua_host *h, const char *rule, const char *level, const char *msg)
{
	snprintf(h->logs[h->nlogs++ % LUA_HOST_LOG_LINES], LUA_HOST_REASON_MAX, "%s %s: %s",
	         rule, level, msg);
	if (h->o.log_cb)
		h->o.log_cb(h->o.log_ud, rule, level, msg);
}

static int h_log(lua_State *L)
{
	static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
	int lv = luaL_checkoption(L, 1, NULL, levels);
	const char *msg = luaL_checkstring(L, 2);
	struct lh_set *s = lh_set_of(L);
	lh_host_log(s->host, s->cur_rule ? s->cur_rule : "?", levels[lv], msg);
	return 0;
}

static int ro_lib(lua_State *L)
{
	return luaL_error(L, "library tables are read-only");
}

static int ro_ctx(lua_State *L)
{
	const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
	return luaL_error(L, "context is read-only (field '%s')", k);
}

/* Pushes a proxy for the table at top (popped): reads pass, writes call wr. */
static void make_proxy(lua_State *L, lua_CFunction wr)
{
	lua_newtable(L);                    /* real proxy */
	lua_createtable(L, 0, 3);           /* real proxy mt */
	lua_rotate(L, -3, -1);              /* proxy mt real */
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, wr);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

static int lh_open(lua_State *L)
{
	struct lh_set *s = lua_touserdata(L, 1);
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base }, { LUA_STRLIBNAME, luaopen_string },
		{ LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 }, { NULL, NULL },
	};
	for (const luaL_Reg *l = libs; l->func; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	static const char *const drop[] = {
		"dofile", "loadfile", "load", "require", "collectgarbage", "print", "warn",
		"rawset", "getmetatable", "setmetatable", "_G", NULL,
	};
	for (const char *const *d = drop; *d; d++) {
		lua_pushnil(L);
		lua_setglobal(L, *d);
	}
	/* dump goes from the real table: strings' metatable still points at it. */
	lua_getglobal(L, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	static const char *const ro[] = { LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME,
	                                  LUA_UTF8LIBNAME, NULL };
	for (const char *const *r = ro; *r; r++) {
		lua_getglobal(L, *r);
		make_proxy(L, ro_lib);
		lua_setglobal(L, *r);
	}
	/* Verdict metatable: only the helpers hold it, so verdicts are unforgeable. */
	lua_newtable(L);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	static const luaL_Reg helpers[] = {
		{ "allow", h_allow }, { "reject", h_reject }, { "shadow", h_shadow },
		{ "hold", h_hold }, { "flag", h_flag }, { "rewrite", h_rewrite }, { NULL, NULL },
	};
	for (const luaL_Reg *f = helpers; f->name; f++) {
		lua_pushvalue(L, -1);
		lua_pushcclosure(L, f->func, 1);
		lua_setglobal(L, f->name);
	}
	s->vmt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_register(L, "log", h_log);
	lh_open_helpers(L);
	lh_open_re(L);
	lua_pushboolean(L, 0);              /* placeholder: no subject validated yet */
	s->utf8_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	/* Per-rule environments inherit the shared globals. */
	lua_createtable(L, 0, 2);
	lua_pushglobaltable(L);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	s->envmt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_createtable(L, 0, 16);
	lua_pushvalue(L, -1);
	s->data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	make_proxy(L, ro_ctx);
	s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

void lh_set_free(struct lh_set *s)
{
	if (!s)
		return;
	if (s->L)
		lua_close(s->L);        /* runs the regex handles' __gc */
	lh_re_release_tmp(s);
	free(s);
}

struct lh_set *lh_set_new(struct lua_host *h, char *err, size_t errlen)
{
	struct lh_set *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->host = h;
	s->cap = h->o.mem_cap;
	s->budget = h->o.insn_budget > INT_MAX ? INT_MAX : (int)h->o.insn_budget;
	s->L = lua_newstate(lh_alloc, s);
	if (!s->L) {
		snprintf(err, errlen, "cannot create Lua state");
		free(s);
		return NULL;
	}
	lua_atpanic(s->L, lh_panic);
	lua_pushcfunction(s->L, lh_open);
	lua_pushlightuserdata(s->L, s);
	if (lua_pcall(s->L, 1, 0, 0) != LUA_OK) {
		snprintf(err, errlen, "cannot set up sandbox: %s", lua_tostring(s->L, -1));
		lh_set_free(s);
		return NULL;
	}
	return s;
}
