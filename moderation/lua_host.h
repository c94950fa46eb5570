/* lua_host.h — the Lua rule host of the moderation pipeline.
 *
 * A host owns at most one *rule set*: one sandboxed lua_State holding the
 * compiled rules, in load order.  lua_host_load_rules() builds a complete new
 * set in a fresh state and swaps it in only if every file compiles and
 * validates; otherwise the old set stays and nothing changes.
 *
 * Threads: a host is not thread-safe; use it from one thread (the core thread).
 * Ownership: every pointer argument is borrowed for the duration of the call
 * unless said otherwise.  Errors never exit the process.
 *
 * Sandbox (per state): base, string, table, math, utf8 only.  Removed from the
 * rules' view: dofile, loadfile, load, require, collectgarbage, print, warn,
 * rawset, getmetatable, setmetatable, string.dump (io/os/debug/package/
 * coroutine are never opened).  Library tables reach rules as read-only
 * proxies; each rule file gets its own global environment (writes stay in that
 * rule's env; _G is that env), so one rule cannot clobber another's globals or
 * the shared libraries.  The context table is a read-only proxy: writing to it
 * raises an error; pairs(ctx) yields nothing (fields are read by name).
 * Known limits: the instruction budget counts VM instructions only, so time
 * spent inside one C library call (e.g. a pathological string.find pattern on
 * a long text) is not bounded by it; the memory cap is per state and shared by
 * all rules of the set (a rule that hoards memory in upvalues starves others).
 *
 * Helpers exposed to rules (globals):
 *   allow()                -> verdict (same as returning nil)
 *   reject(code, reason?)  -> terminal
 *   shadow(reason?)        -> terminal (accepted for the sender only)
 *   hold(reason)           -> terminal (queued for review)
 *   flag(reason)           -> non-terminal, reasons accumulate
 *   rewrite(text)          -> non-terminal, later rules see the new text
 *   log(level, msg)        level: "debug" | "info" | "warn" | "error"
 */
#ifndef CHATD_LUA_HOST_H
#define CHATD_LUA_HOST_H

#include <stddef.h>
#include <stdint.h>

enum lua_hook {
	LUA_HOOK_MESSAGE,              /* on_message */
	LUA_HOOK_EDIT,                 /* on_edit */
	LUA_HOOK_CONV_CREATE,          /* on_conversation_create */
	LUA_HOOK_JOIN,                 /* on_join */
	LUA_HOOK_REPORT,               /* on_report */
	LUA_HOOK_CONNECT,              /* on_connect */
	LUA_HOOK__COUNT
};

enum lua_verdict {
	LUA_VERDICT_ALLOW,
	LUA_VERDICT_REJECT,
	LUA_VERDICT_SHADOW,
	LUA_VERDICT_HOLD,
	LUA_VERDICT_FLAG,
	LUA_VERDICT_REWRITE,
	LUA_VERDICT__COUNT
};

enum lua_fail_mode {
	LUA_FAIL_OPEN,                 /* a failing rule is skipped */
	LUA_FAIL_CLOSED                /* a failing rule rejects with "unavailable" */
};

enum lua_rule_mode { LUA_RULE_ENFORCE, LUA_RULE_OBSERVE };

#define LUA_HOST_NAME_MAX 64       /* rule names, codes (incl. NUL) */
#define LUA_HOST_REASON_MAX 256    /* reasons, log lines (incl. NUL); longer is cut */
#define LUA_HOST_MAX_FLAGS 8       /* flags kept per decision; more are counted only */
#define LUA_HOST_MAX_RULES 64
#define LUA_HOST_SAMPLES 8         /* observe-mode verdicts kept (ring) */
#define LUA_HOST_LOG_LINES 16      /* log() lines kept (ring) */

/* Log sink for the rules' log() helper; rule is the calling rule's name. */
typedef void (*lua_host_log_fn)(void *ud, const char *rule, const char *level,
                                const char *msg);

struct lua_host_opts {
	size_t mem_cap;                /* bytes per Lua state; 0: 8 MiB; min 256 KiB */
	uint64_t insn_budget;          /* VM instructions per hook call; 0: 1,000,000 */
	enum lua_fail_mode fail_mode;
	lua_host_log_fn log_cb;        /* optional; lines are also kept in a ring */
	void *log_ud;
};

/* Read-only input of a hook.  All strings are borrowed for the call; NULL
 * reads as nil in Lua.  text_len 0 with text non-NULL means strlen(text). */
struct lua_msg_ctx {
	const char *sender_id;
	const char *conversation_id;
	const char *conversation_kind; /* "direct" | "group" */
	int64_t member_count;
	const char *text;
	size_t text_len;
	const char *client_message_id;
	int64_t ts;                    /* server clock, ms */
	int64_t account_created_at;    /* 0: unknown */
};

/* Outcome of lua_host_run.  Owned by the caller; release with
 * lua_decision_clear().  kind is the terminal verdict if one ended the chain,
 * else REWRITE if the text was rewritten, else FLAG if flagged, else ALLOW.
 * rule names the rule that produced kind (terminal, last rewrite, or first
 * flag; "" for ALLOW).  text is the rewritten text (malloc'd, NUL-terminated,
 * NULL if none) and is kept even when a later rule was terminal. */
struct lua_decision {
	enum lua_verdict kind;
	char code[LUA_HOST_NAME_MAX];
	char reason[LUA_HOST_REASON_MAX];
	char *text;
	size_t text_len;
	size_t nflags;                 /* flags stored (<= LUA_HOST_MAX_FLAGS) */
	size_t flags_total;            /* flags raised, including dropped ones */
	char flags[LUA_HOST_MAX_FLAGS][LUA_HOST_REASON_MAX];
	char rule[LUA_HOST_NAME_MAX];
	uint64_t version;              /* rule set version; 0: no set loaded */
	unsigned failures;             /* rules that failed during this run */
};

struct lua_rule_stats {
	char name[LUA_HOST_NAME_MAX];
	enum lua_rule_mode mode;
	uint64_t calls;
	uint64_t verdicts[LUA_VERDICT__COUNT]; /* enforce: acted on; observe: would-be */
	uint64_t failures;             /* errors + budget + memory */
	char last_error[LUA_HOST_REASON_MAX]; /* "file:line: message" or "" */
	int last_error_line;           /* 0: unknown (e.g. out of memory) */
};

struct lua_observe_sample {
	char rule[LUA_HOST_NAME_MAX];
	enum lua_hook hook;
	enum lua_verdict verdict;
	char code[LUA_HOST_NAME_MAX];
	char reason[LUA_HOST_REASON_MAX];
};

struct lua_host;

/* Creates a host with no rule set (runs allow, version 0).  opts is copied.
 * Returns NULL and fills err on invalid options or allocation failure. */
struct lua_host *lua_host_new(const struct lua_host_opts *opts, char *err, size_t errlen);

/* Frees the host and its rule set.  NULL is a no-op. */
void lua_host_free(struct lua_host *h);

/* Compiles paths[0..n) into a new rule set (in that order) and swaps it in.
 * Each file must return a table with a string `name` (unique, < 64 bytes), at
 * least one hook function, and an optional `mode` "enforce" | "observe".
 * Top-level code runs under the same budget and memory cap as hooks.
 * Returns 0 and bumps the version on success; -1 on any error, leaving the
 * old set in place, with err naming the file (and line when known). */
int lua_host_load_rules(struct lua_host *h, const char *const *paths, size_t n,
                        char *err, size_t errlen);

/* Runs the current set's rules that define `hook`, in order, and fills *out
 * (which must not hold a previous decision's text: clear it first).
 * Returns 0; -1 only on bad arguments.  A rule that errors, exceeds its budget
 * or runs out of memory is recorded in its stats; fail open skips it, fail
 * closed ends the chain with reject "unavailable" (observe-mode rules never
 * affect the decision, failing or not). */
int lua_host_run(struct lua_host *h, enum lua_hook hook, const struct lua_msg_ctx *ctx,
                 struct lua_decision *out);

/* Frees out->text and zeroes *out.  Safe on a zeroed decision. */
void lua_decision_clear(struct lua_decision *out);

/* Current rule set version (0: none loaded). */
uint64_t lua_host_version(const struct lua_host *h);

/* Copies up to max rule stats of the current set (reset on reload) into out;
 * returns the number of rules in the set. */
size_t lua_host_stats(const struct lua_host *h, struct lua_rule_stats *out, size_t max);

/* Copies the most recent observe-mode samples, oldest first; returns count. */
size_t lua_host_samples(const struct lua_host *h, struct lua_observe_sample *out, size_t max);

/* Copies the most recent log() lines ("rule level: msg"), oldest first;
 * returns count.  Host-wide, kept across reloads. */
size_t lua_host_log_lines(const struct lua_host *h, char (*out)[LUA_HOST_REASON_MAX],
                          size_t max);

/* Bytes currently allocated by the current set's Lua state (0: none). */
size_t lua_host_mem_used(const struct lua_host *h);

/* Name of a verdict ("allow", "reject", ...) and of a hook ("on_message", ...). */
const char *lua_host_verdict_name(enum lua_verdict v);
const char *lua_host_hook_name(enum lua_hook hk);

#endif
