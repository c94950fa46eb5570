/* lua_host.h — the Lua rule host of the moderation pipeline.
 *
 * A host owns at most one *rule set*: one sandboxed lua_State holding the
 * compiled rules, in load order.  lua_host_load_specs() builds a complete new
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
 * all rules of the set (a rule that hoards memory in upvalues starves others);
 * compiled regexes and helper state (mod_env) live outside the cap, bounded
 * by the env's own sizes and by at most LUA_HOST_MAX_REGEX live handles per
 * set.
 *
 * Rule files.  Each file returns a table with a string `name` (1..63 bytes,
 * no control characters, unique in the set), an optional `mode` "enforce" |
 * "observe" (a lua_rule_spec may override it), and at least one hook
 * function: on_message, on_edit, on_conversation_create, on_join, on_report,
 * on_connect (each called as hook(ctx), returning a verdict or nil = allow)
 * and on_verdict (see below).  Compile regexes and read lists at the top of
 * the file: an error there fails the whole load and names the file and line.
 *
 * ctx (read-only; nil when the core has no value):
 *   ctx.hook               "on_message", "on_edit", ... (the running hook)
 *   ctx.sender_id          the acting user (sender, editor, reporter, joiner
 *                          or adder, creator, connecting user)
 *   ctx.conversation_id    ctx.conversation_kind ("direct" | "group")
 *   ctx.member_count       integer
 *   ctx.text               message/edit text (the rewritten text for rules
 *                          after a rewrite; the original in on_verdict)
 *   ctx.client_message_id
 *   ctx.seq                integer; the edited / reported message (0: none)
 *   ctx.title              conversation title (on_conversation_create)
 *   ctx.target_user_id     on_report: the reported user; on_join: the user
 *                          who joins
 *   ctx.reason             on_report: the reporter's reason
 *   ctx.ts                 server clock, ms since the epoch
 *   ctx.account_created_at ms; 0 when unknown
 *
 * Verdict helpers (globals):
 *   allow()                         -> verdict (same as returning nil)
 *   reject(code, reason?, retry_after_ms?) -> terminal; retry_after_ms
 *                                      (integer >= 0) reaches the decision
 *   shadow(reason?)                 -> terminal (accepted for the sender only)
 *   hold(reason)                    -> terminal (queued for review)
 *   flag(reason)                    -> non-terminal, reasons accumulate
 *   rewrite(text)                   -> non-terminal, later rules see the text
 *   log(level, msg)                 level: "debug" | "info" | "warn" | "error"
 *
 * State and tool helpers (globals).  "now" is the running hook's ctx.ts, or
 * the wall clock while the file loads.  Helpers marked [hook] raise an error
 * at load time; [load] ones raise an error inside hooks; [env] ones raise
 * "helper unavailable" when the host has no mod_env.  Keys and user ids
 * must not contain NUL bytes.  Limiter, counter and similar() state is
 * private to the rule (keyed by its name, so it survives reloads); strikes
 * are shared by all rules.
 *   config                          the rule's options (lua_rule_spec
 *                                   options_json) as a read-only table;
 *                                   nested objects/arrays are read-only
 *                                   tables too (# and pairs/ipairs work);
 *                                   JSON null members are absent
 *   now()                           -> ms
 *   limit(key, rate_per_s, burst)   [hook][env] token bucket: -> allowed
 *                                   (boolean), retry_after_ms (0 if allowed).
 *                                   key <= 1024 bytes; rate > 0; burst >= 1
 *   counter.incr(key, delta?, ttl_ms) [hook][env] fixed-window counter:
 *                                   adds delta (integer >= 0, default 1);
 *                                   the first incr opens a window of ttl_ms;
 *                                   -> value
 *   counter.get(key)                [hook][env] -> value (0: none/expired)
 *   strike(user, n?, ttl_ms?)       [hook][env] adds n (default 1) strikes,
 *                                   window ttl_ms (default 24 h, from the
 *                                   first strike) -> count.  Observe-mode
 *                                   rules store nothing (-> count + n)
 *   strikes(user)                   [hook][env] -> count
 *   similar(user, text)             [hook][env] -> how many of the user's
 *                                   recent texts (as recorded by this rule's
 *                                   similar() calls) are near-duplicates of
 *                                   text; then records text.  user <= 256
 *                                   bytes, text <= 1 MiB
 *   account_age_ms()                -> now - ctx.account_created_at, or nil
 *                                   when unknown (and at load)
 *   audit(event, fields?)           event [A-Za-z0-9_.:-]{1,63}; fields a
 *                                   flat table of string keys (<= 64 bytes)
 *                                   to string (UTF-8, <= 4096 bytes) /
 *                                   number / boolean values, <= 64 of them;
 *                                   anything else is an error.  Calls the
 *                                   audit callback with fields as a JSON
 *                                   object (sorted keys) -> its id (0: no
 *                                   callback, failed, or at load: audit()
 *                                   at load records nothing)
 *   sanction(user, kind, duration_ms, reason?) kind "shadow" | "block" |
 *                                   "ban"; duration_ms integer >= 0 (0:
 *                                   permanent); reason <= 255 bytes.  Calls
 *                                   the sanction callback -> true if it
 *                                   accepted.  false without calling it at
 *                                   load, with no callback, and in an
 *                                   observe-mode rule (logged instead)
 *   list(name)                      [load] -> array of the lines of
 *                                   <lists_dir>/<name>.txt, each trimmed of
 *                                   surrounding blanks, skipping empty ones
 *                                   and those starting with '#'.  name
 *                                   [A-Za-z0-9_-]{1,64}; file <= 1 MiB,
 *                                   valid UTF-8, no NUL bytes
 *   re.compile(pattern, flags?)     [env] -> regex handle; flags a string of
 *                                   "i" (caseless) "m" (multiline) "s"
 *                                   (dotall).  Patterns are PCRE2 (UTF, UCP),
 *                                   JIT-compiled and cached in the env.  A
 *                                   bad pattern raises an error naming it
 *                                   and PCRE2's "offset N: message"
 *   rx:find(text, init?)            -> start, end (1-based inclusive byte
 *                                   offsets, like string.find), captures...;
 *                                   or nil.  init as in string.find; it must
 *                                   not point inside a UTF-8 character
 *   rx:match(text)                  -> captures... (the whole match when the
 *                                   pattern has none), or nil
 *   rx:test(text)                   -> boolean
 *   rx:mask(text, char?)            -> text with each non-empty match
 *                                   replaced by one `char` (one UTF-8
 *                                   character, default "*") per code point
 *                                   of the match, and the number of matches
 *   re.find(text, pattern, flags?)  re.match(text, pattern, flags?)
 *   re.test(text, pattern, flags?)  re.mask(text, pattern, flags?, char?)
 *                                   the same through the cache, no handle
 *   Captures that did not participate read false.  Subjects must be valid
 *   UTF-8 (an error otherwise).  A match that exceeds the env's PCRE2 match/
 *   depth/heap limits raises an error (a rule failure).
 *
 * on_verdict(ctx, v): after the chain of a run ends with a decision other
 * than allow, every enforce-mode rule defining on_verdict is called, in
 * order, with v = read-only { kind = "reject"|"shadow"|"hold"|"flag"|
 * "rewrite", rule = , code = , reason = (strings, "" when none), hook = ,
 * text = rewritten text or nil, flags = { ... }, retry_after_ms = ,
 * version = }.  Its return value is ignored; a failure is recorded in that
 * rule's stats and log, and never changes the decision.
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

#define LUA_HOST_MAX_REGEX 4096    /* live regex handles per rule set */

/* Log sink for the rules' log() helper; rule is the calling rule's name. */
typedef void (*lua_host_log_fn)(void *ud, const char *rule, const char *level,
                                const char *msg);

/* Callbacks behind audit() and sanction(), supplied by the core.  Called on
 * the host's thread from inside a hook call (never at load); every string
 * is borrowed for the call; rule is the calling rule's name.  They must not
 * call back into the host (no lua_host_run / load from a callback), except
 * lua_host_now().  A NULL function makes the helper a no-op. */
struct lua_host_callbacks {
	void *ud;
	/* audit(event, fields): fields_json is a JSON object text (sorted keys).
	 * Returns the audit entry id (> 0), or 0 when nothing was recorded. */
	int64_t (*audit)(void *ud, const char *rule, const char *event, const char *fields_json);
	/* sanction(user, kind, duration_ms, reason): kind "shadow" | "block" |
	 * "ban"; duration_ms >= 0, 0 = permanent; reason may be "".
	 * Returns 0 when applied, -1 when refused. */
	int (*sanction)(void *ud, const char *rule, const char *user, const char *kind,
	                int64_t duration_ms, const char *reason);
};

struct mod_env;

struct lua_host_opts {
	size_t mem_cap;                /* bytes per Lua state; 0: 8 MiB; min 256 KiB */
	uint64_t insn_budget;          /* VM instructions per hook call; 0: 1,000,000 */
	enum lua_fail_mode fail_mode;
	lua_host_log_fn log_cb;        /* optional; lines are also kept in a ring */
	void *log_ud;
	/* Helpers' state (limiters, counters, regex cache, dupe detector);
	 * borrowed: it must outlive the host.  NULL: helpers that need it raise
	 * "helper unavailable". */
	struct mod_env *env;
	struct lua_host_callbacks cb;  /* zeroed: audit()/sanction() are no-ops */
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
	int64_t seq;                   /* on_edit / on_report: the message; 0: none */
	const char *title;             /* on_conversation_create */
	const char *target_user_id;    /* on_report: reported user; on_join: joining user */
	const char *reason;            /* on_report: the reporter's reason */
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
	unsigned failures;             /* rules that failed during this run's chain
	                                  (on_verdict failures are not counted) */
	int64_t retry_after_ms;        /* from reject(code, reason, ms); 0: none */
};

/* Wall time of a rule's hook calls (CLOCK_MONOTONIC around each call,
 * on_verdict included, so count == calls): a histogram over
 * lua_host_lat_bounds_ns plus the sum and the maximum. */
#define LUA_HOST_LAT_BUCKETS 16
struct lua_rule_latency {
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t buckets[LUA_HOST_LAT_BUCKETS + 1]; /* per bucket (not cumulative); the
	                                               last one: above the last bound */
};
/* The buckets' upper bounds (inclusive), ns: 1 µs .. 1 s. */
extern const uint64_t lua_host_lat_bounds_ns[LUA_HOST_LAT_BUCKETS];

struct lua_rule_stats {
	char name[LUA_HOST_NAME_MAX];
	enum lua_rule_mode mode;
	uint64_t calls;                /* hook calls, on_verdict included */
	uint64_t verdicts[LUA_VERDICT__COUNT]; /* enforce: acted on; observe: would-be
	                                          (on_verdict returns are not counted) */
	uint64_t failures;             /* errors + budget + memory */
	char last_error[LUA_HOST_REASON_MAX]; /* "file:line: message" or "" */
	int last_error_line;           /* 0: unknown (e.g. out of memory) */
	struct lua_rule_latency lat;
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

/* One rule file of a set and its per-rule configuration.  All strings are
 * borrowed for the call. */
struct lua_rule_spec {
	const char *path;
	int mode;                      /* -1: the file's own; else enum lua_rule_mode */
	const char *options_json;      /* a JSON object (<= 1 MiB), the rule's `config`;
	                                  NULL: {} */
	const char *lists_dir;         /* where list() reads; NULL: the rule file's
	                                  directory + "/lists" */
};

/* Compiles specs[0..n) into a new rule set (in that order) and swaps it in.
 * Each file must return a table as described at the top of this header.
 * Top-level code runs under the same budget and memory cap as hooks.
 * Returns 0 and bumps the version on success; -1 on any error (unreadable
 * file, bad options JSON, bad mode, compile or top-level error, bad rule
 * table), leaving the old set in place, with err naming the file (and line
 * when known).  The mod_env's state (limiters, counters, ...) is untouched. */
int lua_host_load_specs(struct lua_host *h, const struct lua_rule_spec *specs, size_t n,
                        char *err, size_t errlen);

/* lua_host_load_specs with each path's own mode, no options, default lists. */
int lua_host_load_rules(struct lua_host *h, const char *const *paths, size_t n,
                        char *err, size_t errlen);

/* Runs the current set's rules that define `hook`, in order, and fills *out
 * (which must not hold a previous decision's text: clear it first); then, if
 * the decision is not allow, the enforce-mode rules' on_verdict hooks.
 * Returns 0; -1 only on bad arguments.  A rule that errors, exceeds its budget
 * or runs out of memory is recorded in its stats; fail open skips it, fail
 * closed ends the chain with reject "unavailable" (observe-mode rules never
 * affect the decision, failing or not). */
int lua_host_run(struct lua_host *h, enum lua_hook hook, const struct lua_msg_ctx *ctx,
                 struct lua_decision *out);

/* The time helpers see: the running hook's ctx.ts inside lua_host_run (so
 * also inside a callback), else the wall clock; ms since the epoch. */
int64_t lua_host_now(const struct lua_host *h);

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

/* Latency histograms (lua_host_time.c).  add: one call of ns; merge: adds
 * src into dst; count: the calls recorded; quantile: q (0..1) estimated
 * from the buckets (linear inside the bucket that holds it, never above
 * max), in ns; 0 when nothing was recorded. */
void lua_rule_latency_add(struct lua_rule_latency *l, uint64_t ns);
void lua_rule_latency_merge(struct lua_rule_latency *dst, const struct lua_rule_latency *src);
uint64_t lua_rule_latency_count(const struct lua_rule_latency *l);
double lua_rule_latency_quantile(const struct lua_rule_latency *l, double q);

/* Name of a verdict ("allow", "reject", ...) and of a hook ("on_message", ...). */
const char *lua_host_verdict_name(enum lua_verdict v);
const char *lua_host_hook_name(enum lua_hook hk);

#endif
