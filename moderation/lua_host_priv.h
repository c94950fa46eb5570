/* lua_host_priv.h — internals shared by lua_host.c (load/run) and
 * lua_host_sandbox.c (state, allocator, budget hook, helpers).  Not public. */
#ifndef CHATD_LUA_HOST_PRIV_H
#define CHATD_LUA_HOST_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "lua_host.h"

struct lh_rule {
	struct lua_rule_stats st;
	int ref[LUA_HOOK__COUNT];      /* registry refs; LUA_NOREF: no such hook */
};

struct lh_set {
	lua_State *L;
	struct lua_host *host;
	size_t used, cap;
	bool mem_refused;              /* allocator said no since last reset */
	bool over;                     /* budget exhausted in the current call */
	int budget;
	int vmt_ref, envmt_ref, data_ref, ctx_ref;
	const char *cur_rule;          /* for log() */
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

/* Creates a rule set: a fresh sandboxed state with helpers and the ctx
 * proxy.  Returns NULL and fills err on failure.  Free with lh_set_free. */
struct lh_set *lh_set_new(struct lua_host *h, char *err, size_t errlen);
void lh_set_free(struct lh_set *s);

/* lua_pcall of the function below nargs arguments with the (sticky)
 * instruction budget armed; clears the hook before returning. */
int lh_call(struct lh_set *s, int nargs, int nres);

/* Appends "rule level: msg" to the host's log ring and calls opts.log_cb. */
void lh_host_log(struct lua_host *h, const char *rule, const char *level, const char *msg);

#endif
