/* config.c — runs chatd.conf in a bounded Lua sandbox, turns the globals it
 * set into flat key/value rows (core keys) and sections (`<kind>_<name>`),
 * and hands the rows to config_schema.c.  Also: error lists, kind names,
 * teardown.  The checks themselves, plugin sections included, and the scan
 * that finds the line of a key are in config_schema.c. */
#include "config.h"
#include "config_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define CFG_MEM_CAP ((size_t)16 << 20)        /* live bytes in the sandbox */
#define CFG_ALLOC_TOTAL ((size_t)256 << 20)   /* bytes ever allocated: bounds C loops */
#define CFG_INSN_BUDGET 5000000L              /* VM instructions, ~50 ms */
#define CFG_HOOK_EVERY 100
/* Wall-clock backstop for loops whose cost is in C calls (table.sort of a
 * big table), checked at every call and every CFG_HOOK_EVERY instructions.
 * A real config runs in well under a millisecond. */
#define CFG_DEADLINE_NS 250000000LL

/* The deadline, raised by CHATD_CONFIG_DEADLINE_MS (250..600000) for runs
 * under valgrind, whose first pass through the Lua VM alone can take
 * longer than 250 ms.  Never lowered. */
static long long cfg_deadline_ns(void)
{
	const char *v = getenv("CHATD_CONFIG_DEADLINE_MS");
	if (!v || !*v)
		return CFG_DEADLINE_NS;
	char *end = NULL;
	errno = 0;
	long long ms = strtoll(v, &end, 10);
	if (errno || *end || ms < 250 || ms > 600000)
		return CFG_DEADLINE_NS;
	return ms * 1000000LL;
}
#define CFG_MAX_FILE ((size_t)1 << 20)
#define CFG_MAX_VALUES 4096
#define CFG_MAX_NAME 64
/* Chunk name: Lua's messages start "<cfg>:LINE:"; we swap in the real file
 * name, which Lua would otherwise truncate to 60 bytes. */
#define CFG_CHUNK "=<cfg>"
#define CFG_CHUNK_PREFIX "<cfg>:"
#define CFG_SNAPSHOT "chatd.cfg.snapshot"

static const char *const kind_names[CFG_N_KINDS] = {
	"storage", "presence", "bus", "fanout", "media", "receipts", "notify"
};

const char *cfg_kind_name(chatd_plugin_kind kind)
{
	if ((int)kind < 1 || (int)kind > CFG_N_KINDS)
		return "unknown";
	return kind_names[kind - 1];
}

chatd_plugin_kind cfg_kind_from_name(const char *name)
{
	for (int i = 0; name && i < CFG_N_KINDS; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return (chatd_plugin_kind)(i + 1);
	return (chatd_plugin_kind)0;
}

chatd_plugin_kind cfg_section_kind(const char *section, const char **name)
{
	const char *us = strchr(section, '_');
	if (!us)
		return (chatd_plugin_kind)0;
	for (int i = 0; i < CFG_N_KINDS; i++) {
		size_t n = strlen(kind_names[i]);
		if ((size_t)(us - section) == n && strncmp(section, kind_names[i], n) == 0 &&
		    cfg_plugin_name_ok(us + 1)) {
			if (name)
				*name = us + 1;
			return (chatd_plugin_kind)(i + 1);
		}
	}
	return (chatd_plugin_kind)0;
}

/* ---- errors ------------------------------------------------------------ */

void cfg_errors_add(struct cfg_errors *errs, const char *fmt, ...)
{
	if (!errs)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	char *msg = malloc((size_t)n + 1);
	char **grown = msg ? realloc(errs->msgs, (errs->n + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(msg);
		return;
	}
	errs->msgs = grown;
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	errs->msgs[errs->n++] = msg;
}

void cfg_errors_clear(struct cfg_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

void cfg_ctx_err(struct cfg_ctx *c, int line, const char *key, const char *fmt, ...)
{
	c->n_err++;
	if (c->n_err > CFG_MAX_ERRORS + 1)
		return;
	if (c->n_err == CFG_MAX_ERRORS + 1) {
		cfg_errors_add(c->errs, "%s: too many errors; stopped listing them", c->file);
		return;
	}
	char msg[512], where[32] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof where, ":%d", line);
	size_t before = c->errs ? c->errs->n : 0;
	cfg_errors_add(c->errs, "%s%s: %s%s%s", c->file, where, key ? key : "", key ? ": " : "", msg);
	if (c->errs && c->errs->n == before)
		c->nomem = true;
}

/* Copy of untrusted text fit for a log line: printable ASCII, bounded. */
static void sanitize(char *dst, size_t cap, const char *src, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 4 < cap; i++)
		dst[j++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	if (j + 4 >= cap && len > j)
		dst[j++] = '.', dst[j++] = '.', dst[j++] = '.';
	dst[j] = '\0';
}

/* ---- free -------------------------------------------------------------- */

static void section_free(struct cfg_section *s)
{
	for (size_t i = 0; i < s->n_values; i++) {
		free(s->values[i].key);
		free(s->values[i].str);
	}
	free(s->values);
	free(s->name);
}

void cfg_free(struct chatd_config *cfg)
{
	if (!cfg)
		return;
	char **strs[] = { &cfg->path, &cfg->node_id, &cfg->plugin_dir, &cfg->listen_host,
			  &cfg->web_root, &cfg->auth_algorithm, &cfg->auth_secret,
			  &cfg->auth_public_key_file, &cfg->auth_private_key_file, &cfg->log_level,
			  &cfg->log_file, &cfg->log_user_hash_key, &cfg->mod_fail_mode,
			  &cfg->mod_rules_dir, &cfg->admin_host, &cfg->admin_socket,
			  &cfg->conv_new_member_history, &cfg->tls_cert, &cfg->tls_key,
			  &cfg->tls_min_version, &cfg->admin_tls_cert, &cfg->admin_tls_key,
			  &cfg->admin_tls_min_version, &cfg->enc_active };
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(*strs[i]);
	for (int i = 0; i < CFG_N_KINDS; i++)
		free(cfg->plugin_name[i]);
	for (size_t i = 0; i < cfg->n_sections; i++)
		section_free(&cfg->sections[i]);
	free(cfg->sections);
	cfg_rules_free(cfg->mod_rules, cfg->n_mod_rules);
	cfg_enc_free(&cfg->enc);
	free(cfg->cap_exempt);
	free(cfg);
}

/* ---- the sandbox --------------------------------------------------------- */

struct sandbox {
	size_t used, total;       /* live bytes; bytes ever allocated */
	bool mem_refused;
	long insns;
	bool over;                /* budget or deadline hit: the hook is sticky */
	bool timed_out;
	int over_line;
	struct timespec start;
};

/* Lua allocator with caps.  When ptr is NULL, osize is a type tag, not a
 * size.  Shrinking never fails, as Lua expects. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct sandbox *sb = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		sb->used -= old;
		return NULL;
	}
	if (nsize > old) {
		size_t grow = nsize - old;
		if (grow > CFG_MEM_CAP - sb->used || grow > CFG_ALLOC_TOTAL - sb->total) {
			sb->mem_refused = true;
			return NULL;
		}
	}
	void *p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	sb->used = sb->used - old + nsize;
	if (nsize > old)
		sb->total += nsize - old;
	return p;
}

static long long elapsed_ns(const struct sandbox *sb)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - sb->start.tv_sec) * 1000000000LL +
	       (now.tv_nsec - sb->start.tv_nsec);
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
	void *ud;
	lua_getallocf(L, &ud);
	struct sandbox *sb = ud;
	if (!sb->over) {
		if (ar->event == LUA_HOOKCOUNT)
			sb->insns += CFG_HOOK_EVERY;
		bool late = elapsed_ns(sb) > cfg_deadline_ns();
		if (sb->insns < CFG_INSN_BUDGET && !late)
			return;
		sb->over = true;
		sb->timed_out = late;
		lua_Debug caller;
		if (lua_getinfo(L, "l", ar) && ar->currentline > 0)
			sb->over_line = ar->currentline;
		else if (lua_getstack(L, 1, &caller) && lua_getinfo(L, "l", &caller))
			sb->over_line = caller.currentline; /* a call hook on a C function */
		/* Sticky: from now on every instruction raises, so a pcall in the
		 * script cannot swallow the error and carry on. */
		lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
	}
	luaL_error(L, "instruction budget exceeded");
}

static int sb_getenv(lua_State *L)
{
	const char *v = getenv(luaL_checkstring(L, 1));
	if (v)
		lua_pushstring(L, v);
	else
		lua_pushnil(L);
	return 1;
}

/* string.rep with its cost bounded: the stock one loops n times even when
 * the result is empty (string.rep("", 1e18)), out of the hook's reach. */
static int sb_rep(lua_State *L)
{
	size_t l, lsep;
	luaL_checklstring(L, 1, &l);
	lua_Integer n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (n <= 0 || l + lsep == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	/* Otherwise the result is allocated up front, so the memory cap bounds
	 * the loop. */
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* Runs under lua_pcall so a memory error cannot reach the panic handler. */
static int sb_open(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base }, { LUA_STRLIBNAME, luaopen_string },
		{ LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 }, { NULL, NULL },
	};
	for (const luaL_Reg *l = libs; l->name; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	/* No files, no code loading, no GC control, no output, no metatables
	 * (so no __gc or __close code outside the budget). */
	static const char *const drop[] = { "dofile", "loadfile", "load", "require",
		"collectgarbage", "print", "warn", "setmetatable", "getmetatable", NULL };
	for (const char *const *d = drop; *d; d++) {
		lua_pushnil(L);
		lua_setglobal(L, *d);
	}
	/* string.dump leaks bytecode; the pattern functions can backtrack for
	 * hours inside one C call, out of the hook's reach. */
	static const char *const drop_str[] = { "dump", "find", "match", "gmatch", "gsub", NULL };
	lua_getglobal(L, LUA_STRLIBNAME);
	for (const char *const *d = drop_str; *d; d++) {
		lua_pushnil(L);
		lua_setfield(L, -2, *d);
	}
	lua_getfield(L, -1, "rep");
	lua_pushcclosure(L, sb_rep, 1);
	lua_setfield(L, -2, "rep");
	lua_pop(L, 1);
	/* table.move(t, 1, 1e15, 2) loops in C without allocating. */
	lua_getglobal(L, LUA_TABLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "move");
	lua_pop(L, 1);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, sb_getenv);
	lua_setfield(L, -2, "getenv");
	lua_setglobal(L, "os");

	/* Snapshot of the sandbox's own globals: whatever differs afterwards was
	 * set by the file. */
	lua_newtable(L);
	lua_pushglobaltable(L);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -5);
	}
	lua_pop(L, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, CFG_SNAPSHOT);
	return 0;
}

/* ---- reading the globals ------------------------------------------------- */

struct reader {
	struct cfg_ctx *c;
	struct chatd_config *cfg;
	const struct cfg_lines *lines;
	struct cfg_value *vals;   /* core keys, full paths */
	size_t n_vals, cap_vals;
	size_t total;             /* values read, sections included */
};

static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > CFG_MAX_NAME || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Appends a zeroed value to *vals; NULL on no memory or past the cap. */
static struct cfg_value *value_push(struct reader *rd, struct cfg_value **vals, size_t *n,
				    size_t *cap)
{
	if (rd->total >= CFG_MAX_VALUES) {
		if (rd->total++ == CFG_MAX_VALUES)
			cfg_ctx_err(rd->c, 0, NULL, "more than %d keys", CFG_MAX_VALUES);
		return NULL;
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct cfg_value *g = realloc(*vals, ncap * sizeof *g);
		if (!g) {
			rd->c->nomem = true;
			return NULL;
		}
		*vals = g;
		*cap = ncap;
	}
	rd->total++;
	struct cfg_value *v = &(*vals)[(*n)++];
	memset(v, 0, sizeof *v);
	return v;
}

/* Converts the Lua value at idx into v (key and line already set). */
static void value_from_lua(lua_State *L, int idx, struct reader *rd, struct cfg_value *v)
{
	const char *bad = NULL;
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		if (len > CFG_MAX_STR)
			bad = "a string longer than 4096 bytes";
		else if (memchr(s, '\0', len))
			bad = "a string containing a NUL byte";
		else {
			v->type = CHATD_OPT_STRING;
			if (!(v->str = strdup(s)))
				rd->c->nomem = true;
		}
		break;
	}
	case LUA_TNUMBER: {
		int isint;
		lua_Integer i = lua_tointegerx(L, idx, &isint);
		if (isint) { /* floats with an integral value convert too */
			v->type = CHATD_OPT_INT;
			v->num = (int64_t)i;
		} else {
			bad = "a number with a fraction";
		}
		break;
	}
	case LUA_TBOOLEAN:
		v->type = CHATD_OPT_BOOL;
		v->flag = lua_toboolean(L, idx);
		break;
	default:
		bad = lua_typename(L, lua_type(L, idx));
		bad = strcmp(bad, "table") == 0 ? "a table" : bad;
		break;
	}
	if (bad) {
		v->type = CFG_VALUE_BAD;
		if (!(v->str = strdup(bad)))
			rd->c->nomem = true;
	}
}

static char *path_join(const char *a, const char *b, size_t blen)
{
	size_t alen = a ? strlen(a) : 0;
	char *p = malloc(alen + blen + 2);
	if (!p)
		return NULL;
	if (a) {
		memcpy(p, a, alen);
		p[alen++] = '.';
	}
	memcpy(p + alen, b, blen);
	p[alen + blen] = '\0';
	return p;
}

/* Adds the Lua value at vidx under `parent.key` (parent NULL: top level). */
static void add_value(lua_State *L, struct reader *rd, struct cfg_value **vals, size_t *n,
		      size_t *cap, const char *parent, const char *key, size_t klen, int vidx)
{
	struct cfg_value *v = value_push(rd, vals, n, cap);
	if (!v)
		return;
	if (!(v->key = path_join(parent, key, klen))) {
		rd->c->nomem = true;
		(*n)--;
		return;
	}
	v->line = cfg_lines_find(rd->lines, parent, key, klen);
	value_from_lua(L, vidx, rd, v);
}

/* Walks the table at tidx (a core table or a section) into vals. */
static void read_table(lua_State *L, struct reader *rd, int tidx, const char *parent,
		       struct cfg_value **vals, size_t *n, size_t *cap)
{
	lua_pushnil(L);
	while (lua_next(L, tidx)) {
		size_t klen = 0;
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
		if (!k) {
			cfg_ctx_err(rd->c, cfg_lines_find(rd->lines, NULL, parent, strlen(parent)),
				    parent, "has a %s key; write name = value", luaL_typename(L, -2));
		} else if (!name_ok(k, klen)) {
			char shown[CFG_MAX_NAME + 8];
			sanitize(shown, sizeof shown, k, klen);
			cfg_ctx_err(rd->c, 0, parent, "invalid key name \"%s\"", shown);
		} else if (strcmp(parent, "moderation") == 0 && strcmp(k, "rules") == 0) {
			/* A list of tables: its own reader (config_rules.c). */
			cfg_read_rules(L, lua_gettop(L), rd->cfg, rd->c,
				       cfg_lines_find(rd->lines, parent, k, klen));
		} else if (strcmp(parent, "server") == 0 &&
			   strcmp(k, "connection_cap_exempt") == 0) {
			cfg_read_cap_exempt(L, lua_gettop(L), rd->cfg, rd->c,
					    cfg_lines_find(rd->lines, parent, k, klen));
		} else if (strcmp(parent, "encryption") == 0 && strcmp(k, "keys") == 0) {
			cfg_read_enc_keys(L, lua_gettop(L), rd->cfg, rd->c,
					  cfg_lines_find(rd->lines, parent, k, klen));
		} else {
			add_value(L, rd, vals, n, cap, parent, k, klen, lua_gettop(L));
		}
		lua_pop(L, 1);
	}
}

static int value_order(const void *a, const void *b)
{
	const struct cfg_value *x = a, *y = b;
	unsigned lx = x->line > 0 ? (unsigned)x->line : UINT_MAX;
	unsigned ly = y->line > 0 ? (unsigned)y->line : UINT_MAX;
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->key, y->key);
}

static void read_section(lua_State *L, struct reader *rd, const char *name, size_t len, int vidx)
{
	struct chatd_config *cfg = rd->cfg;
	struct cfg_section *g = realloc(cfg->sections, (cfg->n_sections + 1) * sizeof *g);
	if (!g) {
		rd->c->nomem = true;
		return;
	}
	cfg->sections = g;
	struct cfg_section *s = &g[cfg->n_sections];
	memset(s, 0, sizeof *s);
	if (!(s->name = strndup(name, len))) {
		rd->c->nomem = true;
		return;
	}
	cfg->n_sections++;
	s->line = cfg_lines_find(rd->lines, NULL, name, len);
	size_t cap = 0;
	read_table(L, rd, vidx, s->name, &s->values, &s->n_values, &cap);
	/* Section values are stored by their own key, not the full path. */
	size_t plen = len + 1;
	for (size_t i = 0; i < s->n_values; i++)
		memmove(s->values[i].key, s->values[i].key + plen, strlen(s->values[i].key + plen) + 1);
	if (s->n_values)
		qsort(s->values, s->n_values, sizeof *s->values, value_order);
}

static void read_global(lua_State *L, struct reader *rd, const char *name, size_t len, int vidx)
{
	char shown[CFG_MAX_NAME + 8];
	if (!name_ok(name, len)) {
		sanitize(shown, sizeof shown, name, len);
		cfg_ctx_err(rd->c, 0, NULL, "invalid global name \"%s\"", shown);
		return;
	}
	bool is_table = lua_type(L, vidx) == LUA_TTABLE;
	if (cfg_section_kind(name, NULL)) {
		if (is_table)
			read_section(L, rd, name, len, vidx);
		else
			cfg_ctx_err(rd->c, cfg_lines_find(rd->lines, NULL, name, len), name,
				    "a plugin section must be a table, got %s", luaL_typename(L, vidx));
	} else if (is_table && cfg_schema_is_table(name)) {
		read_table(L, rd, vidx, name, &rd->vals, &rd->n_vals, &rd->cap_vals);
	} else {
		add_value(L, rd, &rd->vals, &rd->n_vals, &rd->cap_vals, NULL, name, len, vidx);
	}
}

/* lua_pcall'd with the reader as light userdata.  Raw access only, so
 * nothing the script left behind can run. */
static int read_globals(lua_State *L)
{
	struct reader *rd = lua_touserdata(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, CFG_SNAPSHOT);   /* 2 */
	lua_pushglobaltable(L);                             /* 3 */
	lua_pushnil(L);
	while (lua_next(L, 3)) {                            /* key 4, value 5 */
		if (lua_type(L, 4) != LUA_TSTRING) {
			cfg_ctx_err(rd->c, 0, NULL, "a global with a %s name", luaL_typename(L, 4));
		} else {
			lua_pushvalue(L, 4);
			lua_rawget(L, 2);
			bool builtin = lua_rawequal(L, 5, 6);
			lua_pop(L, 1);
			size_t len;
			const char *name = lua_tolstring(L, 4, &len);
			if (!builtin)
				read_global(L, rd, name, len, 5);
		}
		lua_pop(L, 1);
	}
	return 0;
}

/* Reports a failed load or run; Lua's "<cfg>:LINE: msg" gets the file name. */
static void report_lua_error(lua_State *L, int st, const struct sandbox *sb, struct cfg_ctx *c)
{
	if (sb->over) {
		cfg_ctx_err(c, sb->over_line, NULL, "script stopped: %s",
			    sb->timed_out ? "ran too long" : "instruction budget exceeded");
		return;
	}
	if (st == LUA_ERRMEM || sb->mem_refused) {
		cfg_ctx_err(c, 0, NULL, "script stopped: memory limit (%zu MiB) exceeded",
			    CFG_MEM_CAP >> 20);
		return;
	}
	size_t len = 0;
	const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
	if (!msg) {
		cfg_ctx_err(c, 0, NULL, "script error (a %s was raised)", luaL_typename(L, -1));
		return;
	}
	int line = 0;
	size_t pl = strlen(CFG_CHUNK_PREFIX);
	if (len > pl && strncmp(msg, CFG_CHUNK_PREFIX, pl) == 0) {
		char *end;
		long n = strtol(msg + pl, &end, 10);
		if (end > msg + pl && *end == ':' && n > 0 && n < INT_MAX) {
			line = (int)n;
			len -= (size_t)(end + 1 - msg);
			msg = end + 1;
			while (len && *msg == ' ')
				msg++, len--;
		}
	}
	char shown[320];
	sanitize(shown, sizeof shown, msg, len);
	cfg_ctx_err(c, line, NULL, "%s", shown);
}

static int section_order(const void *a, const void *b)
{
	const struct cfg_section *x = a, *y = b;
	unsigned lx = x->line > 0 ? (unsigned)x->line : UINT_MAX;
	unsigned ly = y->line > 0 ? (unsigned)y->line : UINT_MAX;
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->name, y->name);
}

/* Runs the script and reads what it set into cfg and rd->vals; false when
 * the script itself failed (nothing was read). */
static bool run_sandbox(const char *text, size_t len, struct reader *rd)
{
	bool ran = false;
	struct sandbox sb = { 0 };
	clock_gettime(CLOCK_MONOTONIC, &sb.start);
	lua_State *L = lua_newstate(sb_alloc, &sb);
	if (!L) {
		rd->c->nomem = true;
		return false;
	}
	lua_pushcfunction(L, sb_open);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		rd->c->nomem = true;
		lua_close(L);
		return false;
	}
	/* The hook stays set until lua_close: nothing the script defined may
	 * run unbounded, not even later. */
	lua_sethook(L, sb_hook, LUA_MASKCOUNT | LUA_MASKCALL, CFG_HOOK_EVERY);
	int st = luaL_loadbufferx(L, text, len, CFG_CHUNK, "t");
	if (st == LUA_OK)
		st = lua_pcall(L, 0, 0, 0);
	if (st != LUA_OK) {
		report_lua_error(L, st, &sb, rd->c);
	} else {
		ran = true;
		lua_pushcfunction(L, read_globals);
		lua_pushlightuserdata(L, rd);
		if (lua_pcall(L, 1, 0, 0) != LUA_OK)
			rd->c->nomem = true; /* only allocation can fail in there */
	}
	lua_close(L);
	return ran;
}

static void values_free(struct cfg_value *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vals[i].key);
		free(vals[i].str);
	}
	free(vals);
}

int cfg_load_string(const char *text, size_t len, const char *name,
		    struct chatd_config **out, struct cfg_errors *errs)
{
	struct cfg_errors local = { 0 };
	if (!out)
		return CHATD_ERR_INVALID;
	*out = NULL;
	if (!errs)
		errs = &local; /* still validate; the caller just gets no text */
	if (!name)
		name = "<string>";
	struct cfg_ctx c = { .file = name, .errs = errs };
	if (!text && len) {
		cfg_ctx_err(&c, 0, NULL, "no text");
		return CHATD_ERR_INVALID;
	}
	if (len > CFG_MAX_FILE) {
		cfg_ctx_err(&c, 0, NULL, "file too large (%zu bytes; the limit is %zu)", len,
			    CFG_MAX_FILE);
		return CHATD_ERR_INVALID;
	}
	struct chatd_config *cfg = calloc(1, sizeof *cfg);
	struct cfg_lines *lines = cfg_lines_build(text ? text : "", len);
	if (!cfg || !lines || !(cfg->path = strdup(name))) {
		cfg_lines_free(lines);
		cfg_free(cfg);
		return CHATD_ERR_NOMEM;
	}
	c.file = cfg->path;
	struct reader rd = { .c = &c, .cfg = cfg, .lines = lines };
	if (run_sandbox(text ? text : "", len, &rd) && !c.nomem) {
		/* Sorted so errors come out in file order whatever Lua's hash order. */
		if (rd.n_vals)
			qsort(rd.vals, rd.n_vals, sizeof *rd.vals, value_order);
		if (cfg->n_sections)
			qsort(cfg->sections, cfg->n_sections, sizeof *cfg->sections, section_order);
		cfg_schema_apply(cfg, rd.vals, rd.n_vals, &c);
		cfg_cap_exempt_default(cfg, &c);
	}
	values_free(rd.vals, rd.n_vals);
	cfg_lines_free(lines);
	cfg_errors_clear(&local);
	if (c.nomem || c.n_err) {
		cfg_free(cfg);
		return c.nomem ? CHATD_ERR_NOMEM : CHATD_ERR_INVALID;
	}
	*out = cfg;
	return CHATD_OK;
}

int cfg_load_file(const char *path, struct chatd_config **out, struct cfg_errors *errs)
{
	if (!out)
		return CHATD_ERR_INVALID;
	*out = NULL;
	struct cfg_ctx c = { .file = path ? path : "(null)", .errs = errs };
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f) {
		cfg_ctx_err(&c, 0, NULL, "cannot open: %s", path ? strerror(errno) : "no path");
		return CHATD_ERR_INVALID;
	}
	char *buf = malloc(CFG_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return CHATD_ERR_NOMEM;
	}
	/* Read one byte past the limit to tell "exactly at" from "over". */
	size_t len = fread(buf, 1, CFG_MAX_FILE + 1, f);
	int read_errno = ferror(f) ? errno : 0;
	fclose(f);
	int st;
	if (read_errno) {
		cfg_ctx_err(&c, 0, NULL, "cannot read: %s", strerror(read_errno));
		st = CHATD_ERR_INVALID;
	} else {
		st = cfg_load_string(buf, len, path, out, errs);
	}
	free(buf);
	return st;
}
