/* lua_host_re.c — `re`: PCRE2 patterns for rules through the env's cache.
 *
 * A handle is a userdata owning one reference to a cached mod_regex (its
 * __gc releases it).  The functional forms (re.find(text, pattern) ...) do
 * not allocate a handle: they keep their reference in the set's scratch
 * slot, released on the next use, so an error raised mid-way leaks nothing.
 * Subjects are checked for valid UTF-8 (PCRE2 runs with NO_UTF_CHECK); the
 * last subject found valid is remembered, so many patterns over one message
 * check it once. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "chatd/status.h"
#include "lua_host_priv.h"
#include "mod_env.h"

#define RX_MT "chatd.regex"
#define OV_STACK 16                     /* pairs kept on the C stack */
#define PAT_SHOWN 80                    /* pattern bytes quoted in errors */

struct lrx {
	struct mod_regex *rx;
};

void lh_re_release_tmp(struct lh_set *s)
{
	mod_regex_release(s->tmp_rx);
	s->tmp_rx = NULL;
}

static int rx_gc(lua_State *L)
{
	struct lrx *u = luaL_checkudata(L, 1, RX_MT);
	if (u->rx) {
		mod_regex_release(u->rx);
		u->rx = NULL;
		lh_set_of(L)->live_rx--;
	}
	return 0;
}

static int rx_tostring(lua_State *L)
{
	struct lrx *u = luaL_checkudata(L, 1, RX_MT);
	lua_pushfstring(L, "regex: %s", u->rx ? mod_regex_pattern(u->rx) : "(released)");
	return 1;
}

static uint32_t check_flags(lua_State *L, int arg)
{
	size_t n;
	const char *f = luaL_optlstring(L, arg, "", &n);
	uint32_t fl = 0;
	for (size_t i = 0; i < n; i++) {
		switch (f[i]) {
		case 'i': fl |= MOD_REGEX_CASELESS; break;
		case 'm': fl |= MOD_REGEX_MULTILINE; break;
		case 's': fl |= MOD_REGEX_DOTALL; break;
		default:
			luaL_error(L, "re: unknown flag '%c' (flags are a string of i, m, s)",
			           f[i] >= 0x20 && f[i] < 0x7f ? f[i] : '?');
		}
	}
	return fl;
}

/* Compiles the pattern at arg into *slot (which must be NULL).  Raises on a
 * bad pattern; nothing is held then. */
static void compile_into(lua_State *L, struct lh_set *s, int arg, uint32_t flags,
                         struct mod_regex **slot)
{
	struct mod_env *e = s->host->o.env;
	if (!e)
		luaL_error(L, "re: helper unavailable (the host has no moderation env)");
	size_t pl;
	const char *p = luaL_checklstring(L, arg, &pl);
	if (strlen(p) != pl)
		luaL_error(L, "re: pattern contains a NUL byte");
	char err[256];
	int rc = mod_regex_compile(mod_env_regex(e), p, flags, slot, err, sizeof(err));
	if (rc != CHATD_OK) {
		if (rc == CHATD_ERR_TOO_LARGE)
			luaL_error(L, "re: pattern longer than %d bytes", (int)MOD_REGEX_PATTERN_MAX);
		size_t shown = pl;
		if (shown > PAT_SHOWN) {        /* cut on a character boundary */
			shown = PAT_SHOWN;
			while (shown > 0 && ((unsigned char)p[shown] & 0xc0) == 0x80)
				shown--;
		}
		lua_pushlstring(L, p, shown);
		luaL_error(L, "re: bad pattern \"%s%s\": %s", lua_tostring(L, -1),
		           shown < pl ? "..." : "", err[0] ? err : chatd_strerror(rc));
	}
}

static int re_compile(lua_State *L)
{
	struct lh_set *s = lh_set_of(L);
	uint32_t fl = check_flags(L, 2);
	luaL_checkstring(L, 1);
	if (s->live_rx >= LUA_HOST_MAX_REGEX) {
		lua_gc(L, LUA_GCCOLLECT);       /* handles dropped by rules may be garbage */
		if (s->live_rx >= LUA_HOST_MAX_REGEX)
			return luaL_error(L, "re.compile: more than %d live patterns",
			                  LUA_HOST_MAX_REGEX);
	}
	struct lrx *u = lua_newuserdatauv(L, sizeof(*u), 0);
	u->rx = NULL;
	luaL_setmetatable(L, RX_MT);
	compile_into(L, s, 1, fl, &u->rx);
	s->live_rx++;
	return 1;
}

/* The subject at arg, valid UTF-8 (raises otherwise). */
static const char *check_subject(lua_State *L, struct lh_set *s, int arg, size_t *len)
{
	const char *t = luaL_checklstring(L, arg, len);
	if (t == s->utf8_ok)
		return t;
	size_t bad;
	if (!lh_utf8_valid(t, *len, &bad))
		luaL_error(L, "re: subject is not valid UTF-8 (byte %d)", (int)bad + 1);
	lua_pushvalue(L, arg);
	lua_rawseti(L, LUA_REGISTRYINDEX, s->utf8_ref);
	s->utf8_ok = t;
	return t;
}

/* Runs one match; raises on a limit or an engine error.  Returns > 0 when
 * matched (ov filled for pairs pairs), 0 when not. */
static int run(lua_State *L, struct mod_regex *rx, const char *t, size_t len, size_t start,
               size_t *ov, size_t pairs)
{
	int rc = mod_regex_match_at(rx, t, len, start, ov, pairs);
	if (rc == CHATD_ERR_TOO_LARGE)
		luaL_error(L, "re: match limit exceeded (pattern \"%s\")", mod_regex_pattern(rx));
	if (rc < 0)
		luaL_error(L, "re: match failed: %s", chatd_strerror(rc));
	return rc;
}

/* Room for the whole match and every capture: on the C stack when small,
 * else a Lua userdata (collected if an error unwinds). */
static size_t *ovector(lua_State *L, struct mod_regex *rx, size_t *stackbuf, size_t *pairs)
{
	*pairs = (size_t)mod_regex_capture_count(rx) + 1;
	if (*pairs <= OV_STACK)
		return stackbuf;
	return lua_newuserdatauv(L, *pairs * 2 * sizeof(size_t), 0);
}

/* Pushes capture i (false when unset). */
static void push_capture(lua_State *L, const char *t, const size_t *ov, size_t i)
{
	if (ov[2 * i] == MOD_REGEX_UNSET)
		lua_pushboolean(L, 0);
	else
		lua_pushlstring(L, t + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
}

/* The operations, shared by methods (handle) and functional forms. */
enum op { OP_FIND, OP_MATCH, OP_TEST, OP_MASK };

/* Stack: subject at ts; extra (init or mask char) at xa (0: none). */
static int do_op(lua_State *L, struct lh_set *s, struct mod_regex *rx, enum op op, int ts,
                 int xa)
{
	size_t len;
	const char *t = check_subject(L, s, ts, &len);
	size_t sb[2 * OV_STACK], pairs;
	if (op == OP_TEST) {
		lua_pushboolean(L, run(L, rx, t, len, 0, NULL, 0) > 0);
		return 1;
	}
	if (op == OP_MASK) {
		size_t cl = 1;
		const char *ch = xa && !lua_isnoneornil(L, xa) ? luaL_checklstring(L, xa, &cl) : "*";
		if (cl == 0 || cl > 4 || lh_utf8_seqlen((unsigned char)ch[0]) != cl ||
		    !lh_utf8_valid(ch, cl, NULL))
			return luaL_error(L, "re: mask character must be one UTF-8 character");
		size_t ov[2];
		luaL_Buffer b;
		luaL_buffinit(L, &b);
		size_t pos = 0, last = 0;
		lua_Integer count = 0;
		while (pos <= len && run(L, rx, t, len, pos, ov, 1) > 0) {
			if (ov[1] == ov[0]) {           /* empty match: step one character */
				if (ov[0] >= len)
					break;
				pos = ov[0] + lh_utf8_seqlen((unsigned char)t[ov[0]]);
				continue;
			}
			luaL_addlstring(&b, t + last, ov[0] - last);
			for (size_t i = ov[0]; i < ov[1]; i++)
				if (((unsigned char)t[i] & 0xc0) != 0x80)
					luaL_addlstring(&b, ch, cl);
			last = pos = ov[1];
			count++;
		}
		luaL_addlstring(&b, t + last, len - last);
		luaL_pushresult(&b);
		lua_pushinteger(L, count);
		return 2;
	}
	size_t start = 0;
	if (op == OP_FIND && xa && !lua_isnoneornil(L, xa)) {
		lua_Integer init = luaL_checkinteger(L, xa);
		if (init < 0)
			init = (lua_Integer)len + init + 1;
		if (init < 1)
			init = 1;
		if ((size_t)init > len + 1) {
			lua_pushnil(L);
			return 1;
		}
		start = (size_t)init - 1;
		if (start < len && ((unsigned char)t[start] & 0xc0) == 0x80)
			return luaL_error(L, "re: init %d is inside a UTF-8 character", (int)init);
	}
	size_t *ov = ovector(L, rx, sb, &pairs);
	if (run(L, rx, t, len, start, ov, pairs) == 0) {
		lua_pushnil(L);
		return 1;
	}
	size_t ncap = pairs - 1;
	luaL_checkstack(L, (int)(ncap < 65000 ? ncap : 65000) + 2, "re: too many captures");
	int n = 0;
	if (op == OP_FIND) {
		lua_pushinteger(L, (lua_Integer)ov[0] + 1);
		lua_pushinteger(L, (lua_Integer)ov[1]);
		n = 2;
	} else if (ncap == 0) {
		push_capture(L, t, ov, 0);
		return 1;
	}
	for (size_t i = 1; i <= ncap; i++, n++)
		push_capture(L, t, ov, i);
	return n;
}

static struct mod_regex *self(lua_State *L)
{
	struct lrx *u = luaL_checkudata(L, 1, RX_MT);
	if (!u->rx)
		luaL_error(L, "re: released handle");
	return u->rx;
}

static int m_find(lua_State *L) { return do_op(L, lh_set_of(L), self(L), OP_FIND, 2, 3); }
static int m_match(lua_State *L) { return do_op(L, lh_set_of(L), self(L), OP_MATCH, 2, 0); }
static int m_test(lua_State *L) { return do_op(L, lh_set_of(L), self(L), OP_TEST, 2, 0); }
static int m_mask(lua_State *L) { return do_op(L, lh_set_of(L), self(L), OP_MASK, 2, 3); }

/* re.X(text, pattern, flags?[, char]) */
static int functional(lua_State *L, enum op op)
{
	struct lh_set *s = lh_set_of(L);
	luaL_checkstring(L, 1);
	uint32_t fl = check_flags(L, 3);
	lh_re_release_tmp(s);
	compile_into(L, s, 2, fl, &s->tmp_rx);
	int n = do_op(L, s, s->tmp_rx, op, 1, op == OP_MASK ? 4 : 0);
	lh_re_release_tmp(s);
	return n;
}

static int f_find(lua_State *L) { return functional(L, OP_FIND); }
static int f_match(lua_State *L) { return functional(L, OP_MATCH); }
static int f_test(lua_State *L) { return functional(L, OP_TEST); }
static int f_mask(lua_State *L) { return functional(L, OP_MASK); }

void lh_open_re(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "find", m_find }, { "match", m_match }, { "test", m_test }, { "mask", m_mask },
		{ NULL, NULL },
	};
	luaL_newmetatable(L, RX_MT);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, rx_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, rx_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {
		{ "compile", re_compile }, { "find", f_find }, { "match", f_match },
		{ "test", f_test }, { "mask", f_mask }, { NULL, NULL },
	};
	luaL_newlib(L, fns);
	lh_ro_table(L);
	lua_setglobal(L, "re");
}
