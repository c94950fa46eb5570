/* lua_host_helpers.c — the rules' state and tool helpers: limit, counter,
 * strike(s), similar, account_age_ms, audit, sanction, list, now.  See the
 * header comment of lua_host.h for what rules see.
 *
 * Every helper runs inside the budgeted lua_pcall of a hook or a load.
 * Memory owned outside Lua (a jansson object, a file buffer) is released
 * before any call that may raise, or built under a nested lua_pcall, so a
 * Lua error can never leak it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua_host_priv.h"
#include "mod_env.h"

#define KEY_MAX 1024                  /* a rule's limiter/counter key */
#define USER_MAX 256                  /* user ids for strike/similar/sanction */
#define STRIKE_TTL_DEFAULT (24 * 3600 * 1000LL)
#define AUDIT_FIELDS_MAX 64
#define AUDIT_KEY_MAX 64
#define AUDIT_STR_MAX 4096
#define LIST_FILE_MAX (1024 * 1024)
#define LIST_NAME_MAX 64

/* ---- argument checks ---------------------------------------------------- */

static struct mod_env *need_env(lua_State *L, struct lh_set *s, const char *what)
{
	struct mod_env *e = s->host->o.env;
	if (!e)
		luaL_error(L, "%s: helper unavailable (the host has no moderation env)", what);
	return e;
}

/* The running rule; raises when called outside a hook (at load). */
static const struct lh_rule *need_hook(lua_State *L, struct lh_set *s, const char *what)
{
	if (!s->ctx || !s->cur)
		luaL_error(L, "%s: only available inside a hook, not at load", what);
	return s->cur;
}

/* A string argument of at most max bytes without NUL bytes. */
static const char *check_str(lua_State *L, int arg, size_t max, bool nonempty, size_t *len,
                             const char *what)
{
	size_t l;
	const char *v = luaL_checklstring(L, arg, &l);
	if (l > max)
		luaL_error(L, "%s: argument #%d longer than %d bytes", what, arg, (int)max);
	if (nonempty && l == 0)
		luaL_error(L, "%s: argument #%d is empty", what, arg);
	if (strlen(v) != l)
		luaL_error(L, "%s: argument #%d contains a NUL byte", what, arg);
	if (len)
		*len = l;
	return v;
}

/* "<pfx><rule>\x1f<key>": rule names hold no control bytes, so the first
 * separator is unambiguous and rules cannot reach each other's keys. */
static void ns_key(char *dst, size_t cap, const char *pfx, const char *rule, const char *key)
{
	snprintf(dst, cap, "%s%s\x1f%s", pfx, rule, key);
}

/* ---- limit, counter, strike, similar ------------------------------------ */

static int h_limit(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	struct mod_env *e = need_env(L, s, "limit");
	const struct lh_rule *r = need_hook(L, s, "limit");
	const char *key = check_str(L, 1, KEY_MAX, false, NULL, "limit");
	lua_Number rate = luaL_checknumber(L, 2);
	lua_Number burst = luaL_checknumber(L, 3);
	luaL_argcheck(L, rate > 0 && rate < 1e12, 2, "rate_per_s must be > 0");
	luaL_argcheck(L, burst >= 1 && burst < 1e12, 3, "burst must be >= 1");
	char k[MOD_LIMITER_KEY_MAX + 1];
	ns_key(k, sizeof(k), "", r->st.name, key);
	int64_t ra = 0;
	bool ok = mod_limiter_take(mod_env_limiter(e), k, rate, burst, lh_now(s), &ra);
	if (!ok && ra < 0)
		return luaL_error(L, "limit: out of memory");
	lua_pushboolean(L, ok);
	lua_pushinteger(L, ok ? 0 : ra);
	return 2;
}

static int h_counter_incr(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	struct mod_env *e = need_env(L, s, "counter.incr");
	const struct lh_rule *r = need_hook(L, s, "counter.incr");
	const char *key = check_str(L, 1, KEY_MAX, false, NULL, "counter.incr");
	lua_Integer delta = luaL_optinteger(L, 2, 1);
	lua_Integer ttl = luaL_checkinteger(L, 3);
	luaL_argcheck(L, delta >= 0, 2, "delta must be >= 0");
	luaL_argcheck(L, ttl > 0, 3, "ttl_ms must be > 0");
	char k[MOD_COUNTER_KEY_MAX + 1];
	ns_key(k, sizeof(k), "c\x1f", r->st.name, key);
	int64_t v = mod_counter_incr(mod_env_counter(e), k, delta, ttl, lh_now(s));
	if (v < 0)
		return luaL_error(L, "counter.incr: failed (%d)", (int)v);
	lua_pushinteger(L, v);
	return 1;
}

static int h_counter_get(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	struct mod_env *e = need_env(L, s, "counter.get");
	const struct lh_rule *r = need_hook(L, s, "counter.get");
	const char *key = check_str(L, 1, KEY_MAX, false, NULL, "counter.get");
	char k[MOD_COUNTER_KEY_MAX + 1];
	ns_key(k, sizeof(k), "c\x1f", r->st.name, key);
	int64_t v = mod_counter_get(mod_env_counter(e), k, lh_now(s));
	if (v < 0)
		return luaL_error(L, "counter.get: failed (%d)", (int)v);
	lua_pushinteger(L, v);
	return 1;
}

static void strike_key(char *dst, size_t cap, const char *user)
{
	snprintf(dst, cap, "strike\x1f%s", user);
}

static int h_strike(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	struct mod_env *e = need_env(L, s, "strike");
	const struct lh_rule *r = need_hook(L, s, "strike");
	const char *user = check_str(L, 1, USER_MAX, true, NULL, "strike");
	lua_Integer n = luaL_optinteger(L, 2, 1);
	lua_Integer ttl = luaL_optinteger(L, 3, STRIKE_TTL_DEFAULT);
	luaL_argcheck(L, n >= 0, 2, "n must be >= 0");
	luaL_argcheck(L, ttl > 0, 3, "ttl_ms must be > 0");
	char k[MOD_COUNTER_KEY_MAX + 1];
	strike_key(k, sizeof(k), user);
	int64_t v;
	if (r->st.mode == LUA_RULE_OBSERVE) {   /* strikes are shared: look, don't touch */
		v = mod_counter_get(mod_env_counter(e), k, lh_now(s));
		if (v >= 0)
			v = v > INT64_MAX - n ? INT64_MAX : v + n;
	} else {
		v = mod_counter_incr(mod_env_counter(e), k, n, ttl, lh_now(s));
	}
	if (v < 0)
		return luaL_error(L, "strike: failed (%d)", (int)v);
	lua_pushinteger(L, v);
	return 1;
}

static int h_strikes(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	struct mod_env *e = need_env(L, s, "strikes");
	need_hook(L, s, "strikes");
	const char *user = check_str(L, 1, USER_MAX, true, NULL, "strikes");
	char k[MOD_COUNTER_KEY_MAX + 1];
	strike_key(k, sizeof(k), user);
	int64_t v = mod_counter_get(mod_env_counter(e), k, lh_now(s));
	if (v < 0)
		return luaL_error(L, "strikes: failed (%d)", (int)v);
	lua_pushinteger(L, v);
	return 1;
}

static int h_similar(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	struct mod_env *e = need_env(L, s, "similar");
	const struct lh_rule *r = need_hook(L, s, "similar");
	const char *user = check_str(L, 1, USER_MAX, true, NULL, "similar");
	size_t tl;
	const char *text = luaL_checklstring(L, 2, &tl);
	if (tl > MOD_DUPE_TEXT_MAX)
		return luaL_error(L, "similar: text longer than %d bytes", (int)MOD_DUPE_TEXT_MAX);
	char k[MOD_DUPE_USER_MAX + 1];
	ns_key(k, sizeof(k), "", r->st.name, user);
	int n = mod_dupe_check_and_add(mod_env_dupe(e), k, text, tl, lh_now(s));
	if (n < 0)
		return luaL_error(L, "similar: failed (%d)", n);
	lua_pushinteger(L, n);
	return 1;
}

static int h_account_age(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	if (!s->ctx || s->ctx->account_created_at <= 0)
		lua_pushnil(L);
	else
		lua_pushinteger(L, s->ctx->ts - s->ctx->account_created_at);
	return 1;
}

static int h_now(lua_State *L)
{
	lua_pushinteger(L, lh_now(lh_set_of(L)));
	return 1;
}

/* ---- audit, sanction ---------------------------------------------------- */

static bool event_ok(const char *e, size_t len)
{
	if (len == 0 || len >= LUA_HOST_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = e[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* The JSON value of the field at the top of the stack (key below it), or
 * NULL with why set.  Raises nothing. */
static json_t *field_json(lua_State *L, const char **why)
{
	switch (lua_type(L, -1)) {
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, -1));
	case LUA_TNUMBER:
		if (lua_isinteger(L, -1))
			return json_integer((json_int_t)lua_tointeger(L, -1));
		else {
			json_t *j = json_real(lua_tonumber(L, -1));   /* NULL for nan/inf */
			if (!j)
				*why = "is not a finite number";
			return j;
		}
	case LUA_TSTRING: {
		size_t l;
		const char *v = lua_tolstring(L, -1, &l);
		if (l > AUDIT_STR_MAX) {
			*why = "is longer than 4096 bytes";
			return NULL;
		}
		json_t *j = json_stringn(v, l);
		if (!j)
			*why = "is not valid UTF-8";
		return j;
	}
	default:
		*why = "must be a string, number or boolean";
		return NULL;
	}
}

static int h_audit(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	size_t el;
	const char *event = luaL_checklstring(L, 1, &el);
	if (!event_ok(event, el))
		return luaL_error(L, "audit: event must match [A-Za-z0-9_.:-]{1,63}");
	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	/* Validate and encode before deciding whether to call: a rule's mistake
	 * shows up in tests with no callback too. */
	json_t *obj = json_object();
	if (!obj)
		return luaL_error(L, "audit: out of memory");
	char msg[160];
	msg[0] = '\0';
	if (lua_istable(L, 2)) {
		size_t n = 0;
		lua_pushnil(L);
		while (lua_next(L, 2)) {
			const char *why = NULL;
			size_t kl = 0;
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
			if (!k || kl == 0 || kl > AUDIT_KEY_MAX || strlen(k) != kl) {
				snprintf(msg, sizeof(msg), "audit: field names must be strings of "
				         "1..%d bytes", AUDIT_KEY_MAX);
			} else if (++n > AUDIT_FIELDS_MAX) {
				snprintf(msg, sizeof(msg), "audit: more than %d fields", AUDIT_FIELDS_MAX);
			} else {
				json_t *v = field_json(L, &why);
				if (!v)
					snprintf(msg, sizeof(msg), "audit: field '%s' %s", k,
					         why ? why : "cannot be encoded");
				else if (json_object_set_new(obj, k, v) != 0)
					snprintf(msg, sizeof(msg), "audit: field name '%s' is not "
					         "valid UTF-8", k);
			}
			if (msg[0]) {
				json_decref(obj);
				lua_settop(L, 2);
				return luaL_error(L, "%s", msg);
			}
			lua_pop(L, 1);
		}
	}
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (!text)
		return luaL_error(L, "audit: out of memory");
	const struct lua_host_callbacks *cb = &s->host->o.cb;
	int64_t id = 0;
	if (s->ctx && s->cur && cb->audit) {
		id = cb->audit(cb->ud, s->cur_rule ? s->cur_rule : "?", event, text);
		if (id < 0)
			id = 0;
	}
	free(text);
	lua_pushinteger(L, id);
	return 1;
}

static int h_sanction(lua_State *L)
{
	static const char *const kinds[] = { "shadow", "block", "ban", NULL };
	struct lh_set *s = lh_set_of(L);
	const char *user = check_str(L, 1, USER_MAX, true, NULL, "sanction");
	int kind = luaL_checkoption(L, 2, NULL, kinds);
	lua_Integer dur = luaL_checkinteger(L, 3);
	luaL_argcheck(L, dur >= 0, 3, "duration_ms must be >= 0 (0: permanent)");
	const char *reason = lua_isnoneornil(L, 4) ? ""
	                     : check_str(L, 4, LUA_HOST_REASON_MAX - 1, false, NULL, "sanction");
	const struct lua_host_callbacks *cb = &s->host->o.cb;
	bool ok = false;
	if (!s->ctx || !s->cur || !cb->sanction) {
		ok = false;
	} else if (s->cur->st.mode == LUA_RULE_OBSERVE) {
		char m[LUA_HOST_REASON_MAX];
		snprintf(m, sizeof(m), "observe mode: would sanction %s (%s, %lld ms)", user,
		         kinds[kind], (long long)dur);
		lh_host_log(s->host, s->cur_rule ? s->cur_rule : "?", "info", m);
	} else {
		ok = cb->sanction(cb->ud, s->cur_rule ? s->cur_rule : "?", user, kinds[kind], dur,
		                  reason) == 0;
	}
	lua_pushboolean(L, ok);
	return 1;
}

/* ---- list ---------------------------------------------------------------- */

struct list_src {
	const char *name;
	const char *buf;
	size_t len;
};

static bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Protected: builds the array from the buffer owned by the caller. */
static int list_build(lua_State *L)
{
	const struct list_src *src = lua_touserdata(L, 1);
	size_t bad;
	if (!lh_utf8_valid(src->buf, src->len, &bad) || memchr(src->buf, '\0', src->len)) {
		size_t at = bad;
		const char *z = memchr(src->buf, '\0', src->len);
		if (z && (size_t)(z - src->buf) < at)
			at = (size_t)(z - src->buf);
		int line = 1;
		for (size_t i = 0; i < at && i < src->len; i++)
			line += src->buf[i] == '\n';
		return luaL_error(L, "list '%s': line %d is not valid UTF-8 text", src->name, line);
	}
	lua_newtable(L);
	lua_Integer n = 0;
	const char *p = src->buf, *end = src->buf + src->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *a = p, *b = le;
		while (a < b && blank(*a))
			a++;
		while (b > a && blank(b[-1]))
			b--;
		if (b > a && *a != '#') {
			lua_pushlstring(L, a, (size_t)(b - a));
			lua_rawseti(L, -2, ++n);
		}
		p = nl ? nl + 1 : end;
	}
	return 1;
}

static bool list_name_ok(const char *n, size_t len)
{
	if (len == 0 || len > LIST_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int h_list(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	size_t nl;
	const char *name = luaL_checklstring(L, 1, &nl);
	if (!s->lists_dir || s->ctx)
		return luaL_error(L, "list: only available while the rule file loads (top level), "
		                  "not inside a hook");
	if (!list_name_ok(name, nl))
		return luaL_error(L, "list: name must match [A-Za-z0-9_-]{1,64}");
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.txt", s->lists_dir, name) >= sizeof(path))
		return luaL_error(L, "list '%s': path too long", name);
	/* Plain C from here to the protected build: nothing below may raise
	 * while the file or the buffer is held. */
	char why[256] = "";
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
	} else {
		buf = malloc(LIST_FILE_MAX + 1);
		len = buf ? fread(buf, 1, LIST_FILE_MAX + 1, f) : 0;
		if (!buf)
			snprintf(why, sizeof(why), "out of memory");
		else if (ferror(f))
			snprintf(why, sizeof(why), "read error");
		else if (len > LIST_FILE_MAX)
			snprintf(why, sizeof(why), "file larger than 1 MiB");
		fclose(f);
	}
	if (why[0]) {
		free(buf);
		return luaL_error(L, "list '%s': %s: %s", name, path, why);
	}
	struct list_src src = { name, buf, len };
	lua_pushcfunction(L, list_build);
	lua_pushlightuserdata(L, &src);
	int st = lua_pcall(L, 1, 1, 0);
	free(buf);
	if (st == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING) {
		luaL_where(L, 1);               /* the rule's file:line, as luaL_error would */
		lua_insert(L, -2);
		lua_concat(L, 2);
	}
	if (st != LUA_OK)
		return lua_error(L);
	return 1;
}

/* ---- registration ------------------------------------------------------- */

void lh_open_helpers(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "limit", h_limit }, { "strike", h_strike }, { "strikes", h_strikes },
		{ "similar", h_similar }, { "account_age_ms", h_account_age },
		{ "audit", h_audit }, { "sanction", h_sanction }, { "list", h_list },
		{ "now", h_now }, { NULL, NULL },
	};
	for (const luaL_Reg *f = fns; f->name; f++) {
		lua_pushcfunction(L, f->func);
		lua_setglobal(L, f->name);
	}
	static const luaL_Reg counter[] = {
		{ "incr", h_counter_incr }, { "get", h_counter_get }, { NULL, NULL },
	};
	luaL_newlib(L, counter);
	lh_ro_table(L);
	lua_setglobal(L, "counter");
}
