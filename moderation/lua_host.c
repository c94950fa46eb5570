/* lua_host.c — rule sets: load/validate/swap (with each rule's config and
 * lists directory), running a hook's rules into a decision, and the
 * on_verdict pass.  Every touch of a lua_State happens under lua_pcall (glue
 * included), so a memory error can never reach the panic handler; the budget
 * hook is cleared right after each rule call. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua_host_priv.h"

#define LH_FILE_MAX (1024 * 1024)
#define LH_OPTIONS_MAX (1024 * 1024)
#define LH_PATH_MAX 4096

static const char *const hook_names[LUA_HOOK__COUNT] = {
	"on_message", "on_edit", "on_conversation_create", "on_join", "on_report", "on_connect",
};
static const char *const verdict_names[LUA_VERDICT__COUNT] = {
	"allow", "reject", "shadow", "hold", "flag", "rewrite",
};

const char *lua_host_verdict_name(enum lua_verdict v)
{
	return (unsigned)v < LUA_VERDICT__COUNT ? verdict_names[v] : "?";
}

const char *lua_host_hook_name(enum lua_hook hk)
{
	return (unsigned)hk < LUA_HOOK__COUNT ? hook_names[hk] : "?";
}

/* ---- host ------------------------------------------------------------- */

struct lua_host *lua_host_new(const struct lua_host_opts *opts, char *err, size_t errlen)
{
	struct lua_host_opts o = { 0 };
	if (opts)
		o = *opts;
	if (o.mem_cap == 0)
		o.mem_cap = 8u << 20;
	if (o.insn_budget == 0)
		o.insn_budget = 1000000;
	if (o.mem_cap < (256u << 10)) {
		snprintf(err, errlen, "memory cap %zu below 256 KiB", o.mem_cap);
		return NULL;
	}
	if (o.fail_mode != LUA_FAIL_OPEN && o.fail_mode != LUA_FAIL_CLOSED) {
		snprintf(err, errlen, "invalid fail mode %d", (int)o.fail_mode);
		return NULL;
	}
	struct lua_host *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->o = o;
	return h;
}

void lua_host_free(struct lua_host *h)
{
	if (!h)
		return;
	lh_set_free(h->set);
	free(h);
}

uint64_t lua_host_version(const struct lua_host *h) { return h ? h->version : 0; }

size_t lua_host_mem_used(const struct lua_host *h) { return h && h->set ? h->set->used : 0; }

/* Line number from a Lua message "chunk:LINE: text"; 0 if none. */
static int msg_line(const char *m)
{
	for (const char *p = m ? strchr(m, ':') : NULL; p; p = strchr(p + 1, ':')) {
		char *end;
		long v = strtol(p + 1, &end, 10);
		if (end != p + 1 && *end == ':' && p[1] >= '0' && p[1] <= '9')
			return v > 0 && v < INT_MAX ? (int)v : 0;
	}
	return 0;
}

/* ---- loading ---------------------------------------------------------- */

struct load_arg {
	struct lh_set *s;
	const char *path, *base, *buf;
	size_t len;
	int mode;                       /* -1 or an override */
	const json_t *options;          /* object; borrowed */
	const char *lists_dir;
	char *err;
	size_t errlen;
	bool failed;
};

/* Rule names end up in keys ("<name>\x1f<key>"), logs and tables. */
static bool name_ok(const char *n, size_t len)
{
	if (len == 0 || len >= LUA_HOST_NAME_MAX || strlen(n) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
			return false;
	return true;
}

/* "base:LINE: msg" -> "path:LINE: msg" (Lua only knows the short name). */
static void load_err(struct load_arg *a, const char *msg)
{
	size_t bl = strlen(a->base);
	if (!msg)
		msg = "(error object is not a string)";
	if (strncmp(msg, a->base, bl) == 0 && msg[bl] == ':')
		snprintf(a->err, a->errlen, "%s%s", a->path, msg + bl);
	else
		snprintf(a->err, a->errlen, "%s: %s", a->path, msg);
	a->failed = true;
}

static int lh_load(lua_State *L)
{
	struct load_arg *a = lua_touserdata(L, 1);
	struct lh_set *s = a->s;
	char chunk[LUA_IDSIZE + 1];
	snprintf(chunk, sizeof(chunk), "=%s", a->base);
	if (luaL_loadbufferx(L, a->buf, a->len, chunk, "t") != LUA_OK) {
		load_err(a, lua_tostring(L, -1));
		return 0;
	}
	lua_createtable(L, 0, 4);               /* the rule's own _ENV */
	lua_pushvalue(L, -1);
	lua_setfield(L, -2, "_G");
	lh_push_json(L, a->options);            /* read-only `config` */
	lua_setfield(L, -2, "config");
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->envmt_ref);
	lua_setmetatable(L, -2);
	lua_setupvalue(L, -2, 1);
	s->cur_rule = a->base;
	s->lists_dir = a->lists_dir;
	int st = lh_call(s, 0, 1);
	s->cur_rule = NULL;
	s->lists_dir = NULL;
	if (st != LUA_OK) {
		load_err(a, s->over ? lua_tostring(L, -1)
		         : s->mem_refused ? "out of memory" : lua_tostring(L, -1));
		return 0;
	}
	if (!lua_istable(L, -1)) {
		load_err(a, "rule file must return a table");
		return 0;
	}
	int t = lua_gettop(L);
	struct lh_rule *r = &s->rules[s->nrules];
	memset(r, 0, sizeof(*r));
	lua_pushliteral(L, "name");
	size_t nl = 0;
	const char *name = lua_rawget(L, t) == LUA_TSTRING ? lua_tolstring(L, -1, &nl) : NULL;
	if (!name || !name_ok(name, nl)) {
		load_err(a, "rule table needs a string 'name' of 1..63 bytes without "
		         "control characters");
		return 0;
	}
	for (size_t i = 0; i < s->nrules; i++)
		if (strcmp(s->rules[i].st.name, name) == 0) {
			load_err(a, "duplicate rule name");
			return 0;
		}
	lh_cpy(r->st.name, sizeof(r->st.name), name);
	lua_pushliteral(L, "mode");
	int mt = lua_rawget(L, t);
	const char *mode = mt == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	if (mt == LUA_TNIL || (mode && strcmp(mode, "enforce") == 0))
		r->st.mode = LUA_RULE_ENFORCE;
	else if (mode && strcmp(mode, "observe") == 0)
		r->st.mode = LUA_RULE_OBSERVE;
	else {
		load_err(a, "'mode' must be \"enforce\" or \"observe\"");
		return 0;
	}
	if (a->mode >= 0)
		r->st.mode = (enum lua_rule_mode)a->mode;
	int nhooks = 0;
	for (int k = 0; k < LUA_HOOK__COUNT; k++) {
		r->ref[k] = LUA_NOREF;
		lua_pushstring(L, hook_names[k]);
		int ty = lua_rawget(L, t);
		if (ty == LUA_TFUNCTION) {
			r->ref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
			nhooks++;
			continue;
		}
		lua_pop(L, 1);
		if (ty != LUA_TNIL) {
			char m[96];
			snprintf(m, sizeof(m), "'%s' must be a function", hook_names[k]);
			load_err(a, m);
			return 0;
		}
	}
	r->verdict_ref = LUA_NOREF;
	lua_pushliteral(L, "on_verdict");
	int vt = lua_rawget(L, t);
	if (vt == LUA_TFUNCTION) {
		r->verdict_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		nhooks++;
	} else if (vt != LUA_TNIL) {
		load_err(a, "'on_verdict' must be a function");
		return 0;
	} else {
		lua_pop(L, 1);
	}
	if (nhooks == 0) {
		load_err(a, "rule defines no hook (on_message, on_edit, ..., on_verdict)");
		return 0;
	}
	s->nrules++;
	return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(LH_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, LH_FILE_MAX + 1, f) : 0;
	bool bad = ferror(f);
	fclose(f);
	if (!buf || bad || n > LH_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory"
		         : bad ? "read error" : "file larger than 1 MiB");
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Parses a spec's options (NULL: {}) into a JSON object; NULL and err set
 * on a bad one. */
static json_t *parse_options(const struct lua_rule_spec *sp, char *err, size_t errlen)
{
	if (!sp->options_json)
		return json_object();
	size_t ol = strnlen(sp->options_json, LH_OPTIONS_MAX + 1);
	if (ol > LH_OPTIONS_MAX) {
		snprintf(err, errlen, "%s: options larger than 1 MiB", sp->path);
		return NULL;
	}
	json_error_t je;
	json_t *o = json_loadb(sp->options_json, ol, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(err, errlen, "%s: options: line %d column %d: %s", sp->path, je.line,
		         je.column, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "%s: options must be a JSON object", sp->path);
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Loads one spec into s; 0 or -1 with err set. */
static int load_one(struct lh_set *s, const struct lua_rule_spec *sp, char *err, size_t errlen)
{
	if (!sp->path || !*sp->path) {
		snprintf(err, errlen, "rule spec without a path");
		return -1;
	}
	if (sp->mode != -1 && sp->mode != LUA_RULE_ENFORCE && sp->mode != LUA_RULE_OBSERVE) {
		snprintf(err, errlen, "%s: invalid mode %d", sp->path, sp->mode);
		return -1;
	}
	struct load_arg a = { .s = s, .path = sp->path, .mode = sp->mode, .err = err,
	                      .errlen = errlen };
	const char *slash = strrchr(sp->path, '/');
	a.base = slash ? slash + 1 : sp->path;
	char lists[LH_PATH_MAX];
	int ln = sp->lists_dir
	         ? snprintf(lists, sizeof(lists), "%s", sp->lists_dir)
	         : slash ? snprintf(lists, sizeof(lists), "%.*s/lists", (int)(slash - sp->path),
	                            sp->path)
	         : snprintf(lists, sizeof(lists), "./lists");
	if (ln < 0 || (size_t)ln >= sizeof(lists)) {
		snprintf(err, errlen, "%s: lists directory path too long", sp->path);
		return -1;
	}
	a.lists_dir = lists;
	json_t *opts = parse_options(sp, err, errlen);
	if (!opts)
		return -1;
	a.options = opts;
	char *buf = read_file(sp->path, &a.len, err, errlen);
	if (!buf) {
		json_decref(opts);
		return -1;
	}
	a.buf = buf;
	lua_settop(s->L, 0);
	lua_pushcfunction(s->L, lh_load);
	lua_pushlightuserdata(s->L, &a);
	int st = lua_pcall(s->L, 1, 0, 0);
	lua_sethook(s->L, NULL, 0, 0);
	s->cur_rule = NULL;
	s->lists_dir = NULL;
	free(buf);
	json_decref(opts);
	if (st != LUA_OK && !a.failed)
		load_err(&a, st == LUA_ERRMEM ? "out of memory" : lua_tostring(s->L, -1));
	return a.failed ? -1 : 0;
}

int lua_host_load_specs(struct lua_host *h, const struct lua_rule_spec *specs, size_t n,
                        char *err, size_t errlen)
{
	if (!h || (n && !specs)) {
		snprintf(err, errlen, "invalid arguments");
		return -1;
	}
	if (n > LUA_HOST_MAX_RULES) {
		snprintf(err, errlen, "too many rule files (%zu > %d)", n, LUA_HOST_MAX_RULES);
		return -1;
	}
	struct lh_set *s = lh_set_new(h, err, errlen);
	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (load_one(s, &specs[i], err, errlen) < 0) {
			lh_set_free(s);
			return -1;
		}
	}
	lua_settop(s->L, 0);
	lua_gc(s->L, LUA_GCCOLLECT);
	lh_set_free(h->set);
	h->set = s;
	h->version++;
	return 0;
}

int lua_host_load_rules(struct lua_host *h, const char *const *paths, size_t n,
                        char *err, size_t errlen)
{
	if (!h || (n && !paths)) {
		snprintf(err, errlen, "invalid arguments");
		return -1;
	}
	if (n > LUA_HOST_MAX_RULES) {
		snprintf(err, errlen, "too many rule files (%zu > %d)", n, LUA_HOST_MAX_RULES);
		return -1;
	}
	struct lua_rule_spec specs[LUA_HOST_MAX_RULES];
	for (size_t i = 0; i < n; i++)
		specs[i] = (struct lua_rule_spec){ .path = paths[i], .mode = -1 };
	return lua_host_load_specs(h, specs, n, err, errlen);
}

/* ---- running ---------------------------------------------------------- */

struct run_arg {
	struct lua_host *h;
	enum lua_hook hook;
	const struct lua_msg_ctx *ctx;
	struct lua_decision *out;
};

static void set_field(lua_State *L, const char *k, const char *v, size_t len)
{
	if (v)
		lua_pushlstring(L, v, len ? len : strlen(v));
	else
		lua_pushnil(L);
	lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, int64_t v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static void fill_ctx(lua_State *L, struct lh_set *s, enum lua_hook hk,
                     const struct lua_msg_ctx *c)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->data_ref);
	lua_pushstring(L, lua_host_hook_name(hk));
	lua_setfield(L, -2, "hook");
	set_field(L, "sender_id", c->sender_id, 0);
	set_field(L, "conversation_id", c->conversation_id, 0);
	set_field(L, "conversation_kind", c->conversation_kind, 0);
	set_field(L, "client_message_id", c->client_message_id, 0);
	set_field(L, "text", c->text, c->text_len);
	set_field(L, "title", c->title, 0);
	set_field(L, "target_user_id", c->target_user_id, 0);
	set_field(L, "reason", c->reason, 0);
	set_int(L, "member_count", c->member_count);
	set_int(L, "ts", c->ts);
	set_int(L, "account_created_at", c->account_created_at);
	set_int(L, "seq", c->seq);
}

static const char *vstr(lua_State *L, int t, int i, size_t *len)
{
	lua_rawgeti(L, t, i);
	const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
	lua_pop(L, 1); /* still referenced by the verdict table below it */
	return v;
}

/* Kind of the verdict at idx, or -1 if it is not one. */
static int verdict_kind(lua_State *L, struct lh_set *s, int idx)
{
	if (lua_isnil(L, idx))
		return LUA_VERDICT_ALLOW;
	if (!lua_istable(L, idx) || !lua_getmetatable(L, idx))
		return -1;
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->vmt_ref);
	int ok = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	lua_rawgeti(L, idx, 1);
	lua_Integer k = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return ok && k >= 0 && k < LUA_VERDICT__COUNT ? (int)k : -1;
}

/* Records a failed hook call in r's stats and the log; counts it in out
 * when given (on_verdict failures are not part of the decision). */
static void rule_failed(struct lh_set *s, struct lh_rule *r, int st, const char *msg,
                        struct lua_decision *out)
{
	char m[LUA_HOST_REASON_MAX];
	if (st == LUA_ERRMEM || (s->mem_refused && !s->over))
		snprintf(m, sizeof(m), "out of memory (cap %zu bytes)", s->cap);
	else
		lh_cpy(m, sizeof(m), msg ? msg : "(error object is not a string)");
	r->st.failures++;
	lh_cpy(r->st.last_error, sizeof(r->st.last_error), m);
	r->st.last_error_line = msg_line(m);
	if (out)
		out->failures++;
	lh_host_log(s->host, r->st.name, "error", m);
}

static void add_flag(struct lua_decision *out, const char *why)
{
	if (out->nflags < LUA_HOST_MAX_FLAGS)
		lh_cpy(out->flags[out->nflags++], LUA_HOST_REASON_MAX, why);
	out->flags_total++;
}

static void sample(struct lua_host *h, const struct lh_rule *r, enum lua_hook hk, int k,
                   const char *code, const char *reason)
{
	struct lua_observe_sample *o = &h->samples[h->nsamples++ % LUA_HOST_SAMPLES];
	lh_cpy(o->rule, sizeof(o->rule), r->st.name);
	o->hook = hk;
	o->verdict = (enum lua_verdict)k;
	lh_cpy(o->code, sizeof(o->code), code);
	lh_cpy(o->reason, sizeof(o->reason), reason);
}

/* The chain: every rule defining the hook, in order, until a terminal
 * verdict (or a failure in fail-closed mode).  data is the ctx data table's
 * stack index; the stack is back at data on return. */
static void run_chain(lua_State *L, struct run_arg *a, int data)
{
	struct lua_host *h = a->h;
	struct lh_set *s = h->set;
	struct lua_decision *out = a->out;
	const struct lh_rule *flagger = NULL, *rewriter = NULL;
	for (size_t i = 0; i < s->nrules; i++) {
		struct lh_rule *r = &s->rules[i];
		if (r->ref[a->hook] == LUA_NOREF)
			continue;
		r->st.calls++;
		s->cur_rule = r->st.name;
		s->cur = r;
		lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref[a->hook]);
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->ctx_ref);
		uint64_t t0 = lh_clock_ns();
		int st = lh_call(s, 1, 1);
		lua_rule_latency_add(&r->st.lat, lh_clock_ns() - t0);
		s->cur_rule = NULL;
		s->cur = NULL;
		int k = st == LUA_OK ? verdict_kind(L, s, -1) : -1;
		if (k < 0) {
			rule_failed(s, r, st, st == LUA_OK ? "hook returned a non-verdict value"
			            : lua_tostring(L, -1), out);
			lua_settop(L, data);
			if (st == LUA_ERRMEM || s->mem_refused)
				lua_gc(L, LUA_GCCOLLECT);
			if (r->st.mode == LUA_RULE_ENFORCE && h->o.fail_mode == LUA_FAIL_CLOSED) {
				out->kind = LUA_VERDICT_REJECT;
				lh_cpy(out->code, sizeof(out->code), "unavailable");
				snprintf(out->reason, sizeof(out->reason), "rule '%s' failed", r->st.name);
				lh_cpy(out->rule, sizeof(out->rule), r->st.name);
				return;
			}
			continue;
		}
		r->st.verdicts[k]++;
		int v = lua_gettop(L);
		size_t l1 = 0;
		const char *s1 = k == LUA_VERDICT_ALLOW ? NULL : vstr(L, v, 2, &l1);
		const char *s2 = k == LUA_VERDICT_ALLOW ? NULL : vstr(L, v, 3, NULL);
		if (r->st.mode == LUA_RULE_OBSERVE) {
			sample(h, r, a->hook, k, k == LUA_VERDICT_REWRITE ? "" : s1, s2);
		} else if (k == LUA_VERDICT_FLAG) {
			add_flag(out, s2);
			flagger = flagger ? flagger : r;
		} else if (k == LUA_VERDICT_REWRITE && s1) {
			char *t = malloc(l1 + 1);
			if (t) {
				memcpy(t, s1, l1);
				t[l1] = '\0';
				free(out->text);
				out->text = t;
				out->text_len = l1;
				rewriter = r;
			}
			lua_rawgeti(L, v, 2);           /* later rules see the new text */
			lua_setfield(L, data, "text");
		} else if (k != LUA_VERDICT_ALLOW) { /* terminal */
			out->kind = (enum lua_verdict)k;
			lh_cpy(out->code, sizeof(out->code), s1);
			lh_cpy(out->reason, sizeof(out->reason), s2);
			lh_cpy(out->rule, sizeof(out->rule), r->st.name);
			lua_rawgeti(L, v, 4);
			out->retry_after_ms = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
			lua_settop(L, data);
			return;
		}
		lua_settop(L, data);
	}
	if (rewriter) {
		out->kind = LUA_VERDICT_REWRITE;
		lh_cpy(out->rule, sizeof(out->rule), rewriter->st.name);
	} else if (flagger) {
		out->kind = LUA_VERDICT_FLAG;
		lh_cpy(out->rule, sizeof(out->rule), flagger->st.name);
	}
}

/* Pushes on_verdict's read-only v for the decision. */
static void push_verdict_view(lua_State *L, enum lua_hook hk, const struct lua_decision *d)
{
	lua_createtable(L, 0, 10);
	lua_pushstring(L, lua_host_verdict_name(d->kind));
	lua_setfield(L, -2, "kind");
	set_field(L, "rule", d->rule, 0);
	set_field(L, "code", d->code, 0);
	set_field(L, "reason", d->reason, 0);
	lua_pushstring(L, lua_host_hook_name(hk));
	lua_setfield(L, -2, "hook");
	if (d->text) {
		lua_pushlstring(L, d->text, d->text_len);
		lua_setfield(L, -2, "text");
	}
	lua_createtable(L, (int)d->nflags, 0);
	for (size_t i = 0; i < d->nflags; i++) {
		lua_pushstring(L, d->flags[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lh_ro_table(L);
	lua_setfield(L, -2, "flags");
	set_int(L, "retry_after_ms", d->retry_after_ms);
	lua_pushinteger(L, (lua_Integer)d->version);
	lua_setfield(L, -2, "version");
	lh_ro_table(L);
}

/* Calls every enforce-mode rule's on_verdict(ctx, v); failures are
 * recorded and contained, the decision is never changed. */
static void run_verdict_hooks(lua_State *L, struct run_arg *a, int data)
{
	struct lh_set *s = a->h->set;
	bool any = false;
	for (size_t i = 0; i < s->nrules && !any; i++)
		any = s->rules[i].verdict_ref != LUA_NOREF &&
		      s->rules[i].st.mode == LUA_RULE_ENFORCE;
	if (!any)
		return;
	set_field(L, "text", a->ctx->text, a->ctx->text_len);  /* the original again */
	push_verdict_view(L, a->hook, a->out);
	int v = lua_gettop(L);
	for (size_t i = 0; i < s->nrules; i++) {
		struct lh_rule *r = &s->rules[i];
		if (r->verdict_ref == LUA_NOREF || r->st.mode != LUA_RULE_ENFORCE)
			continue;
		r->st.calls++;
		s->cur_rule = r->st.name;
		s->cur = r;
		lua_rawgeti(L, LUA_REGISTRYINDEX, r->verdict_ref);
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->ctx_ref);
		lua_pushvalue(L, v);
		uint64_t t0 = lh_clock_ns();
		int st = lh_call(s, 2, 0);
		lua_rule_latency_add(&r->st.lat, lh_clock_ns() - t0);
		s->cur_rule = NULL;
		s->cur = NULL;
		if (st != LUA_OK) {
			rule_failed(s, r, st, lua_tostring(L, -1), NULL);
			if (st == LUA_ERRMEM || s->mem_refused)
				lua_gc(L, LUA_GCCOLLECT);
		}
		lua_settop(L, v);
	}
	lua_settop(L, data);
}

static int lh_run(lua_State *L)
{
	struct run_arg *a = lua_touserdata(L, 1);
	fill_ctx(L, a->h->set, a->hook, a->ctx);
	run_chain(L, a, lua_gettop(L));
	return 0;
}

static int lh_verdicts(lua_State *L)
{
	struct run_arg *a = lua_touserdata(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, a->h->set->data_ref);
	run_verdict_hooks(L, a, lua_gettop(L));
	return 0;
}

int lua_host_run(struct lua_host *h, enum lua_hook hook, const struct lua_msg_ctx *ctx,
                 struct lua_decision *out)
{
	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	if (!h || !ctx || (unsigned)hook >= LUA_HOOK__COUNT)
		return -1;
	out->version = h->version;
	struct lh_set *s = h->set;
	if (!s)
		return 0;
	struct run_arg a = { h, hook, ctx, out };
	lua_settop(s->L, 0);
	lua_pushcfunction(s->L, lh_run);
	lua_pushlightuserdata(s->L, &a);
	s->mem_refused = false;
	s->ctx = ctx;
	int st = lua_pcall(s->L, 1, 0, 0);
	lua_sethook(s->L, NULL, 0, 0);
	s->cur_rule = NULL;
	s->cur = NULL;
	s->ctx = NULL;
	if (st != LUA_OK) {   /* the glue itself failed (out of memory) */
		const char *m = lua_tostring(s->L, -1);
		lh_host_log(h, "lua_host", "error", m ? m : "host error");
		out->failures++;
		lua_settop(s->L, 0);
		lua_gc(s->L, LUA_GCCOLLECT);
		if (h->o.fail_mode == LUA_FAIL_CLOSED) {
			out->kind = LUA_VERDICT_REJECT;
			lh_cpy(out->code, sizeof(out->code), "unavailable");
			lh_cpy(out->reason, sizeof(out->reason), "rule host failed");
			out->rule[0] = '\0';
			out->retry_after_ms = 0;
		}
	} else if (out->kind != LUA_VERDICT_ALLOW) {
		/* A separate protected call: whatever happens in on_verdict (glue
		 * included) cannot touch the decision. */
		lua_settop(s->L, 0);
		lua_pushcfunction(s->L, lh_verdicts);
		lua_pushlightuserdata(s->L, &a);
		s->mem_refused = false;
		s->ctx = ctx;
		st = lua_pcall(s->L, 1, 0, 0);
		lua_sethook(s->L, NULL, 0, 0);
		s->cur_rule = NULL;
		s->cur = NULL;
		s->ctx = NULL;
		if (st != LUA_OK) {
			const char *m = lua_tostring(s->L, -1);
			lh_host_log(h, "lua_host", "error", m ? m : "host error in on_verdict");
			lua_settop(s->L, 0);
			lua_gc(s->L, LUA_GCCOLLECT);
		}
	}
	lua_settop(s->L, 0);
	return 0;
}

int64_t lua_host_now(const struct lua_host *h)
{
	return lh_now(h ? h->set : NULL);
}

void lua_decision_clear(struct lua_decision *out)
{
	if (!out)
		return;
	free(out->text);
	memset(out, 0, sizeof(*out));
}

size_t lua_host_stats(const struct lua_host *h, struct lua_rule_stats *out, size_t max)
{
	if (!h || !h->set)
		return 0;
	for (size_t i = 0; i < h->set->nrules && i < max; i++)
		out[i] = h->set->rules[i].st;
	return h->set->nrules;
}

size_t lua_host_samples(const struct lua_host *h, struct lua_observe_sample *out, size_t max)
{
	size_t have = h->nsamples < LUA_HOST_SAMPLES ? h->nsamples : LUA_HOST_SAMPLES;
	size_t n = have < max ? have : max;
	for (size_t i = 0; i < n; i++)
		out[i] = h->samples[(h->nsamples - n + i) % LUA_HOST_SAMPLES];
	return n;
}

size_t lua_host_log_lines(const struct lua_host *h, char (*out)[LUA_HOST_REASON_MAX],
                          size_t max)
{
	size_t have = h->nlogs < LUA_HOST_LOG_LINES ? h->nlogs : LUA_HOST_LOG_LINES;
	size_t n = have < max ? have : max;
	for (size_t i = 0; i < n; i++)
		memcpy(out[i], h->logs[(h->nlogs - n + i) % LUA_HOST_LOG_LINES], LUA_HOST_REASON_MAX);
	return n;
}
