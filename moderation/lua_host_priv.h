/* lua_host_priv.h — internals shared by the rule host's files:
 *   lua_host.c          load/validate/swap, running a hook's rules, on_verdict
 *   lua_host_sandbox.c  state, allocator, budget hook, verdict helpers, ctx
 *   lua_host_tables.c   read-only tables, JSON -> Lua (config), UTF-8 check
 *   lua_host_helpers.c  limit, counter, strike, similar, audit, sanction, list
 *   lua_host_re.c       re.* and regex handles
 *   lua_host_time.c     per-rule call latency
 * Not public. */
#ifndef CHATD_LUA_HOST_PRIV_H
#define CHATD_LUA_HOST_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "lua_host.h"

struct json_t;
struct mod_regex;

struct lh_rule {
	struct lua_rule_stats st;
	int ref[LUA_HOOK__COUNT];      /* registry refs; LUA_NOREF: no such hook */
	int verdict_ref;               /* on_verdict, or LUA_NOREF */
};

struct lh_set {
	lua_State *L;
	struct lua_host *host;
	size_t used, cap;
	bool mem_refused;              /* allocator said no since last reset */
	bool over;                     /* budget exhausted in the current call */
	int budget;
	int vmt_ref, envmt_ref, data_ref, ctx_ref;
	int utf8_ref;                  /* registry slot anchoring utf8_ok */
	const char *cur_rule;          /* for log() and callbacks */
	/* The call in progress: ctx and rule are set while a hook runs (NULL at
	 * load); lists_dir while a rule file's top level runs (NULL otherwise). */
	const struct lua_msg_ctx *ctx;
	const struct lh_rule *cur;
	const char *lists_dir;
	/* re.*: handles alive in this state, the functional forms' scratch
	 * handle (released on the next use or with the set), and the last
	 * subject found valid UTF-8 (kept alive by utf8_ref, so the pointer
	 * cannot be reused by another string). */
	size_t live_rx;
	struct mod_regex *tmp_rx;
	const char *utf8_ok;
	size_t nrules;
	struct lh_rule rules[LUA_HOST_MAX_RULES];
};

struct lua_host {
	struct lua_host_opts o;
	struct lh_set *set;
	uint64_t version;
	size_t nsamples;               /* total; ring index = n % LUA_HOST_SAMPLES */
	struct lua_observe_sample samples[LUA_HOST_SAMPLES];
	size_t nlogs;
	char logs[LUA_HOST_LOG_LINES][LUA_HOST_REASON_MAX];
};

/* snprintf-based copy; NULL reads as "". */
void lh_cpy(char *dst, size_t cap, const char *src);

/* The set owning L (its allocator's user data). */
struct lh_set *lh_set_of(lua_State *L);

/* Creates a rule set: a fresh sandboxed state with helpers and the ctx
 * proxy.  Returns NULL and fills err on failure.  Free with lh_set_free. */
struct lh_set *lh_set_new(struct lua_host *h, char *err, size_t errlen);
void lh_set_free(struct lh_set *s);

/* lua_pcall of the function below nargs arguments with the (sticky)
 * instruction budget armed; clears the hook before returning. */
int lh_call(struct lh_set *s, int nargs, int nres);

/* Appends "rule level: msg" to the host's log ring and calls opts.log_cb. */
void lh_host_log(struct lua_host *h, const char *rule, const char *level, const char *msg);

/* "now" for helpers: the running hook's ctx.ts, else the wall clock (ms). */
int64_t lh_now(const struct lh_set *s);
int64_t lh_wall_ms(void);

/* CLOCK_MONOTONIC in ns (lua_host_time.c): read around each rule call. */
uint64_t lh_clock_ns(void);

/* ---- lua_host_tables.c ---- */

/* Replaces the table at the top of the stack by a read-only proxy: reads,
 * #, pairs and ipairs see the table; writes raise an error.  The table must
 * hold only values that are safe to hand out (scalars, other proxies). */
void lh_ro_table(lua_State *L);

/* Pushes a JSON value as Lua (objects/arrays as read-only tables, null
 * members skipped); raises a Lua error on null inside an array or nesting
 * deeper than 32.  j is borrowed. */
void lh_push_json(lua_State *L, const struct json_t *j);

/* Strict UTF-8 (no overlongs, surrogates, > U+10FFFF).  On false, *bad (if
 * given) is the offset of the first bad byte. */
bool lh_utf8_valid(const char *s, size_t len, size_t *bad);
/* Length of the (valid) UTF-8 sequence starting with byte c: 1..4. */
size_t lh_utf8_seqlen(unsigned char c);

/* ---- lua_host_helpers.c / lua_host_re.c ---- */

/* Register the helpers' globals (limit, counter, strike, strikes, similar,
 * account_age_ms, audit, sanction, list, now) in the global table. */
void lh_open_helpers(lua_State *L);
/* Register `re` and the regex handle metatable. */
void lh_open_re(lua_State *L);
/* Release the functional forms' scratch handle. */
void lh_re_release_tmp(struct lh_set *s);

#endif
