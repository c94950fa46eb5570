/* mod_bench.c — what the moderation pipeline costs per message.
 *
 * Builds the rule host the way chatd does for a config, without linking the
 * core (core/moderation.c, moderation_new / moderation_host_opts /
 * moderation_compile; keep in step):
 *   - lua_host_opts: mem_cap 8 MiB, insn_budget 1,000,000, fail open (the
 *     defaults of moderation.mem_cap_kib / insn_budget / fail_mode);
 *   - one mod_env from mod_env_new(NULL) and one mod_sanctions table;
 *   - audit() and sanction() callbacks: audit counts (the server writes the
 *     hash-chained log, which is storage, not rules); sanction sets the
 *     table like the server's in-memory side;
 *   - lua_host_load_specs with <rules-dir>/<name>.lua, options "{}" (the
 *     rate limiter's rates are raised so a benchmark user is never limited
 *     and every message runs the whole chain), lists from <rules-dir>/lists.
 * Then, per rule set, LUA_HOOK_MESSAGE runs over a deterministic stream of
 * messages (the same stream for every set), as cmd_send.c's moderate() does:
 * a sender blocked by a sanction is refused before any rule runs.  Only
 * lua_host_run is timed, one clock_gettime(CLOCK_MONOTONIC) pair per
 * message; the stream generator, the sanctions look-ups and
 * lua_decision_clear are outside.
 *
 * The stream: senders "user-NNNNN" in rotation (each sends once every
 * `senders` messages), ctx.ts advancing 1 ms per message (so with 1000
 * senders each sends one message a second: under spam's rapid-sending
 * threshold), accounts 90 days old (links are not held), texts of 40..160
 * bytes (mean ~100) from a 250-word vocabulary with ~5 % UTF-8 words, 10 %
 * with a link and 1 % with a word from the shipped wordfilter list (the
 * rewrite path, and audit's on_verdict, at a small realistic rate).
 *
 * Not linked to the core; no network; each set is bounded by --max-seconds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <lua.h>

#include "lua_host.h"
#include "mod_env.h"
#include "mod_sanctions.h"

#define TS0 1764000000000LL                     /* first message's ctx.ts, ms */
#define ACCOUNT_AGE_MS (90LL * 24 * 3600 * 1000) /* every sender's account age */
#define TEXT_CAP 512
#define LINK_PER_MILLE 100
#define BAD_PER_MILLE 10
#define UTF8_PER_MILLE 50

/* ---- rule sets ----------------------------------------------------------- */

enum { R_RATELIMIT = 1, R_SPAM = 2, R_WORDFILTER = 4, R_AUDIT = 8, R_ALL = 15 };

/* In the order of chatd.conf.sample's moderation.rules. */
static const struct {
	const char *name;
	unsigned bit;
	const char *options_json;
} RULES[] = {
	/* Rates far above anything the stream sends: never a rejection. */
	{ "ratelimit", R_RATELIMIT, "{\"per_second\": 1e9, \"burst\": 1e9, \"per_minute\": 1e9}" },
	{ "spam", R_SPAM, "{}" },
	{ "wordfilter", R_WORDFILTER, "{}" },
	{ "audit", R_AUDIT, "{}" },
};
#define N_RULES (sizeof RULES / sizeof *RULES)

static const struct {
	const char *name;
	unsigned rules;
} SETS[] = {
	{ "none", 0 }, { "ratelimit", R_RATELIMIT }, { "spam", R_SPAM },
	{ "wordfilter", R_WORDFILTER }, { "audit", R_AUDIT }, { "shipped", R_ALL },
};
#define N_SETS (sizeof SETS / sizeof *SETS)

/* ---- the message stream ---------------------------------------------------- */

static const char *const WORDS[] = {
	"the", "a", "and", "to", "of", "in", "is", "it", "you", "that", "for", "on", "with",
	"this", "we", "are", "be", "was", "have", "not", "at", "or", "from", "by", "but",
	"what", "all", "if", "can", "your", "will", "just", "so", "they", "about", "out",
	"up", "when", "there", "one", "do", "time", "know", "think", "get", "like", "see",
	"good", "make", "now", "how", "then", "some", "could", "them", "other", "than",
	"look", "only", "come", "over", "also", "back", "after", "use", "two", "work",
	"first", "well", "way", "even", "new", "want", "because", "any", "these", "give",
	"day", "most", "us", "meeting", "tomorrow", "tonight", "lunch", "coffee", "build",
	"release", "deploy", "server", "ticket", "review", "branch", "merge", "test",
	"tests", "failing", "green", "flaky", "config", "docs", "draft", "slides", "call",
	"later", "morning", "afternoon", "weekend", "monday", "friday", "thanks", "sure",
	"sounds", "great", "perfect", "sorry", "late", "traffic", "train", "bus", "home",
	"office", "remote", "screen", "share", "link", "photo", "video", "music", "movie",
	"book", "dinner", "pizza", "salad", "soup", "cake", "birthday", "party", "gift",
	"plan", "trip", "flight", "hotel", "beach", "mountain", "rain", "sunny", "cold",
	"warm", "snow", "wind", "garden", "dog", "cat", "kids", "school", "homework",
	"game", "score", "team", "match", "win", "lost", "again", "maybe", "probably",
	"definitely", "honestly", "really", "pretty", "quite", "almost", "already", "still",
	"never", "always", "often", "sometimes", "soon", "yesterday", "today", "next",
	"last", "week", "month", "year", "minute", "hour", "quick", "question", "answer",
	"idea", "problem", "issue", "fix", "bug", "patch", "version", "update", "install",
	"restart", "password", "account", "login", "email", "message", "phone", "number",
	"address", "street", "corner", "shop", "market", "price", "cheap", "expensive",
	"free", "busy", "ready", "done", "finished", "started", "waiting", "running",
	"walking", "reading", "writing", "cooking", "cleaning", "sleeping", "tired",
	"happy", "funny", "weird", "nice", "cool", "awesome", "interesting", "boring",
	"important", "urgent", "agenda", "notes", "budget", "invoice", "contract",
	"client", "customer", "vendor", "project", "deadline", "priority", "estimate",
};
#define N_WORDS (sizeof WORDS / sizeof *WORDS)

static const char *const UWORDS[] = {
	"café", "naïve", "über", "déjà", "Straße", "façade", "jalapeño", "crème",
	"привет", "спасибо", "日本", "東京", "😀", "👍", "🙂", "🎉", "❤️", "señor",
};
#define N_UWORDS (sizeof UWORDS / sizeof *UWORDS)

/* In moderation/rules/lists/wordfilter.txt (matched whole-word, caseless). */
static const char *const BAD[] = { "heck", "darn", "frak", "Heck", "DARN" };
#define N_BAD (sizeof BAD / sizeof *BAD)

struct gen {
	uint64_t rng;
	long senders;
	long i;                          /* messages generated so far */
	char text[TEXT_CAP];
	size_t text_len;
	char sender[32];
	char conv[32];
	char cmid[32];
	unsigned links, bad;             /* of the generated messages */
	uint64_t bytes;
};

static uint64_t rnd(struct gen *g)
{
	/* splitmix64: fixed seed, so every set sees the same stream. */
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(struct gen *g, unsigned n) { return (unsigned)(rnd(g) % n); }

static void gen_init(struct gen *g, long senders)
{
	memset(g, 0, sizeof *g);
	g->rng = 0x6d6f645f62656e63ULL;
	g->senders = senders;
}

/* Appends s (and a space before it unless first) if it fits; TEXT_CAP
 * leaves room for the longest word after the target length is reached. */
static void put(struct gen *g, const char *s)
{
	size_t l = strlen(s);
	if (g->text_len + l + 2 >= TEXT_CAP)
		return;
	if (g->text_len)
		g->text[g->text_len++] = ' ';
	memcpy(g->text + g->text_len, s, l);
	g->text_len += l;
	g->text[g->text_len] = '\0';
}

static void put_link(struct gen *g)
{
	char l[96];
	switch (below(g, 3)) {
	case 0:
		snprintf(l, sizeof l, "https://example.com/a/%06x", below(g, 1u << 24));
		break;
	case 1:
		snprintf(l, sizeof l, "http://news.example.org/2026/%02u/story-%u", 1 + below(g, 12),
			 below(g, 100000));
		break;
	default:
		snprintf(l, sizeof l, "www.example.net/p?id=%u", below(g, 1000000));
		break;
	}
	put(g, l);
}

/* The next message: fills text, sender, conv and cmid. */
static void gen_next(struct gen *g)
{
	long s = g->i % g->senders;
	snprintf(g->sender, sizeof g->sender, "user-%05ld", s);
	snprintf(g->conv, sizeof g->conv, "c%03ld", (s + g->i / g->senders) % 200);
	snprintf(g->cmid, sizeof g->cmid, "m%ld", g->i);
	g->i++;
	g->text_len = 0;
	g->text[0] = '\0';
	size_t target = 40 + below(g, 121);
	bool link = below(g, 1000) < LINK_PER_MILLE, bad = below(g, 1000) < BAD_PER_MILLE;
	g->links += link;
	g->bad += bad;
	bool cap = below(g, 2) == 0;
	while (g->text_len < target || link || bad) {
		if (link && (below(g, 5) == 0 || g->text_len + 40 > target)) {
			put_link(g);
			link = false;
		} else if (bad && (below(g, 5) == 0 || g->text_len + 10 > target)) {
			put(g, BAD[below(g, N_BAD)]);
			bad = false;
		} else if (below(g, 1000) < UTF8_PER_MILLE) {
			put(g, UWORDS[below(g, N_UWORDS)]);
		} else {
			size_t at = g->text_len ? g->text_len + 1 : 0;
			put(g, WORDS[below(g, N_WORDS)]);
			if (cap && at == 0 && g->text[0] >= 'a' && g->text[0] <= 'z')
				g->text[0] = (char)(g->text[0] - 'a' + 'A');
			if (below(g, 12) == 0 && g->text_len + 2 < TEXT_CAP) {
				g->text[g->text_len++] = ',';
				g->text[g->text_len] = '\0';
			}
		}
	}
	static const char END[] = ".?!.  ";
	char e = END[below(g, sizeof END - 1)];
	if (e != ' ' && g->text_len + 2 < TEXT_CAP) {
		g->text[g->text_len++] = e;
		g->text[g->text_len] = '\0';
	}
	g->bytes += g->text_len;
}

/* ---- the rig: env, sanctions, host ---------------------------------------- */

struct rig {
	struct mod_env *env;
	struct mod_sanctions *sanctions;
	struct lua_host *host;
	uint64_t audits, sanction_calls, log_lines;
};

static int64_t on_audit(void *ud, const char *rule, const char *event, const char *fields)
{
	(void)rule;
	(void)event;
	(void)fields;
	struct rig *r = ud;
	return (int64_t)++r->audits;
}

static int on_sanction(void *ud, const char *rule, const char *user, const char *kind,
		       int64_t duration_ms, const char *reason)
{
	(void)rule;
	(void)reason;
	struct rig *r = ud;
	r->sanction_calls++;
	int64_t now = lua_host_now(r->host);
	int64_t until = duration_ms <= 0 ? 0
			: duration_ms > INT64_MAX - now ? INT64_MAX : now + duration_ms;
	return mod_sanctions_set(r->sanctions, user, kind, until) == 0 ? 0 : -1;
}

static void on_log(void *ud, const char *rule, const char *level, const char *msg)
{
	(void)rule;
	(void)level;
	(void)msg;
	((struct rig *)ud)->log_lines++;
}

static void rig_free(struct rig *r)
{
	lua_host_free(r->host);
	mod_env_free(r->env);
	mod_sanctions_free(r->sanctions);
	memset(r, 0, sizeof *r);
}

/* A host with the rules of `mask`, as chatd builds it.  On failure returns
 * -1 with err filled and *r freed. */
static int rig_new(struct rig *r, unsigned mask, const char *rules_dir, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->env = mod_env_new(NULL);
	r->sanctions = mod_sanctions_new(0);
	if (!r->env || !r->sanctions) {
		snprintf(err, errlen, "out of memory");
		rig_free(r);
		return -1;
	}
	struct lua_host_opts o = {
		.mem_cap = 8u << 20, .insn_budget = 1000000, .fail_mode = LUA_FAIL_OPEN,
		.log_cb = on_log, .log_ud = r, .env = r->env,
		.cb = { .ud = r, .audit = on_audit, .sanction = on_sanction },
	};
	r->host = lua_host_new(&o, err, errlen);
	if (!r->host) {
		rig_free(r);
		return -1;
	}
	char paths[N_RULES][4096], lists[4096];
	struct lua_rule_spec specs[N_RULES];
	size_t n = 0;
	if ((size_t)snprintf(lists, sizeof lists, "%s/lists", rules_dir) >= sizeof lists) {
		snprintf(err, errlen, "--rules-dir too long");
		rig_free(r);
		return -1;
	}
	for (size_t i = 0; i < N_RULES; i++) {
		if (!(mask & RULES[i].bit))
			continue;
		snprintf(paths[n], sizeof paths[n], "%s/%s.lua", rules_dir, RULES[i].name);
		specs[n] = (struct lua_rule_spec){ .path = paths[n], .mode = -1,
						   .options_json = RULES[i].options_json,
						   .lists_dir = lists };
		n++;
	}
	if (lua_host_load_specs(r->host, specs, n, err, errlen) < 0) {
		rig_free(r);
		return -1;
	}
	return 0;
}

/* ---- one set --------------------------------------------------------------- */

struct result {
	const char *name;
	long timed;                      /* messages through lua_host_run, timed */
	long blocked;                    /* refused by a sanction before the rules */
	bool truncated;                  /* --max-seconds reached */
	double median_us, p99_us, p999_us, mean_us, max_us, per_s, wall_s;
	size_t mem_loaded, mem_after;
	uint64_t verdicts[LUA_VERDICT__COUNT];
	uint64_t audits, sanction_calls, log_lines, failures;
	char last_error[LUA_HOST_REASON_MAX];
	uint64_t text_bytes, links, bad;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of the samples at or
 * below it.  v sorted, n > 0. */
static double pct_us(const int64_t *v, long n, double p)
{
	long k = (long)((double)n * p + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

struct cfg {
	long messages, warmup, senders, max_seconds;
	const char *rules_dir;
};

/* One message through the host as moderate() sends it; *ns gets the time
 * of lua_host_run, or -1 when a sanction refused the sender first. */
static void one(struct rig *rig, struct gen *g, struct result *res, int64_t *ns)
{
	gen_next(g);
	int64_t ts = TS0 + g->i - 1;
	if (mod_sanctions_blocking(rig->sanctions, g->sender, ts, NULL)) {
		*ns = -1;
		return;
	}
	struct lua_msg_ctx x = {
		.sender_id = g->sender, .conversation_id = g->conv, .conversation_kind = "group",
		.member_count = 10, .text = g->text, .text_len = g->text_len,
		.client_message_id = g->cmid, .ts = ts, .account_created_at = TS0 - ACCOUNT_AGE_MS,
	};
	struct lua_decision d = { 0 };
	int64_t t0 = now_ns();
	lua_host_run(rig->host, LUA_HOOK_MESSAGE, &x, &d);
	int64_t t1 = now_ns();
	*ns = t1 - t0;
	if ((unsigned)d.kind < LUA_VERDICT__COUNT)
		res->verdicts[d.kind]++;
	(void)mod_sanctions_shadowed(rig->sanctions, g->sender, ts);
	lua_decision_clear(&d);
}

static int run_set(const struct cfg *c, size_t set, int64_t *ns, struct result *res, char *err,
		   size_t errlen)
{
	memset(res, 0, sizeof *res);
	res->name = SETS[set].name;
	struct rig rig;
	if (rig_new(&rig, SETS[set].rules, c->rules_dir, err, errlen) < 0)
		return -1;
	res->mem_loaded = lua_host_mem_used(rig.host);
	struct gen *g = malloc(sizeof *g);
	if (!g) {
		snprintf(err, errlen, "out of memory");
		rig_free(&rig);
		return -1;
	}
	gen_init(g, c->senders);
	int64_t t, start = now_ns(), limit = c->max_seconds * 1000000000LL;
	struct result scratch;           /* warm-up verdicts are not counted */
	memset(&scratch, 0, sizeof scratch);
	for (long i = 0; i < c->warmup; i++)
		one(&rig, g, &scratch, &t);
	uint64_t audits0 = rig.audits, sanctions0 = rig.sanction_calls, logs0 = rig.log_lines;
	uint64_t bytes0 = g->bytes;
	unsigned links0 = g->links, bad0 = g->bad;
	struct lua_rule_stats st0[LUA_HOST_MAX_RULES];
	size_t nr = lua_host_stats(rig.host, st0, LUA_HOST_MAX_RULES);
	uint64_t fail0 = 0;
	for (size_t k = 0; k < nr && k < LUA_HOST_MAX_RULES; k++)
		fail0 += st0[k].failures;
	int64_t t0 = now_ns();
	long n = 0;
	for (long i = 0; i < c->messages; i++) {
		one(&rig, g, res, &t);
		if (t < 0)
			res->blocked++;
		else
			ns[n++] = t;
		if ((i & 1023) == 1023 && now_ns() - start > limit) {
			res->truncated = true;
			break;
		}
	}
	res->wall_s = (double)(now_ns() - t0) / 1e9;
	res->timed = n;
	res->mem_after = lua_host_mem_used(rig.host);
	res->audits = rig.audits - audits0;
	res->sanction_calls = rig.sanction_calls - sanctions0;
	res->log_lines = rig.log_lines - logs0;
	res->text_bytes = g->bytes - bytes0;
	res->links = g->links - links0;
	res->bad = g->bad - bad0;
	struct lua_rule_stats st[LUA_HOST_MAX_RULES];
	nr = lua_host_stats(rig.host, st, LUA_HOST_MAX_RULES);
	for (size_t k = 0; k < nr && k < LUA_HOST_MAX_RULES; k++) {
		res->failures += st[k].failures;
		if (st[k].last_error[0])
			snprintf(res->last_error, sizeof res->last_error, "%s: %s", st[k].name,
				 st[k].last_error);
	}
	res->failures -= fail0 <= res->failures ? fail0 : res->failures;
	free(g);
	rig_free(&rig);
	if (n > 0) {
		double sum = 0;
		for (long i = 0; i < n; i++)
			sum += (double)ns[i];
		qsort(ns, (size_t)n, sizeof *ns, cmp_i64);
		res->median_us = pct_us(ns, n, 0.5);
		res->p99_us = pct_us(ns, n, 0.99);
		res->p999_us = pct_us(ns, n, 0.999);
		res->max_us = (double)ns[n - 1] / 1000.0;
		res->mean_us = sum / (double)n / 1000.0;
		res->per_s = sum > 0 ? (double)n / (sum / 1e9) : 0;
	}
	return 0;
}

/* Median cost of one clock_gettime pair, ns (it is inside every sample). */
static double clock_overhead_ns(int64_t *scratch, long n)
{
	for (long i = 0; i < n; i++) {
		int64_t a = now_ns();
		scratch[i] = now_ns() - a;
	}
	qsort(scratch, (size_t)n, sizeof *scratch, cmp_i64);
	return (double)scratch[n / 2];
}

/* ---- output ---------------------------------------------------------------- */

static json_t *result_json(const struct result *r)
{
	json_t *o = json_pack("{s:I, s:I, s:b, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, "
			      "s:I, s:I, s:I, s:I, s:s, s:f, s:I, s:I}",
			      "messages", (json_int_t)r->timed, "blocked", (json_int_t)r->blocked,
			      "truncated", r->truncated, "median_us", r->median_us,
			      "p99_us", r->p99_us, "p999_us", r->p999_us, "mean_us", r->mean_us,
			      "max_us", r->max_us, "per_s", r->per_s, "wall_s", r->wall_s,
			      "mem_loaded_bytes", (json_int_t)r->mem_loaded,
			      "mem_used_bytes", (json_int_t)r->mem_after,
			      "audit_calls", (json_int_t)r->audits,
			      "sanction_calls", (json_int_t)r->sanction_calls,
			      "log_lines", (json_int_t)r->log_lines,
			      "failures", (json_int_t)r->failures, "last_error", r->last_error,
			      "text_bytes_mean", r->timed + r->blocked
				      ? (double)r->text_bytes / (double)(r->timed + r->blocked) : 0.0,
			      "with_link", (json_int_t)r->links,
			      "with_filtered_word", (json_int_t)r->bad);
	json_t *v = json_object();
	/* json_object_set_new takes the value even when it fails. */
	if (!o || !v || json_object_set_new(o, "verdicts", v) < 0) {
		json_decref(o);
		if (!o)
			json_decref(v);
		return NULL;
	}
	for (int k = 0; k < LUA_VERDICT__COUNT; k++)
		if (json_object_set_new(v, lua_host_verdict_name((enum lua_verdict)k),
					json_integer((json_int_t)r->verdicts[k])) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static int print_json(const struct cfg *c, const struct result *res, size_t n, double clk)
{
	json_t *order = json_array(), *sets = json_object(), *top = NULL;
	int rc = -1;
	if (!order || !sets)
		goto out;
	for (size_t i = 0; i < n; i++)   /* *_set_new take the value even on failure */
		if (json_object_set_new(sets, res[i].name, result_json(&res[i])) < 0 ||
		    json_array_append_new(order, json_string(res[i].name)) < 0)
			goto out;
	top = json_pack("{s:I, s:I, s:I, s:s, s:s, s:f}", "messages", (json_int_t)c->messages,
			"warmup", (json_int_t)c->warmup, "senders", (json_int_t)c->senders,
			"rules_dir", c->rules_dir, "lua", LUA_RELEASE, "clock_overhead_ns", clk);
	if (!top || json_object_set(top, "order", order) < 0 ||
	    json_object_set(top, "sets", sets) < 0)
		goto out;
	char *s = json_dumps(top, JSON_COMPACT);
	if (!s)
		goto out;
	puts(s);
	free(s);
	rc = 0;
out:
	json_decref(top);
	json_decref(order);
	json_decref(sets);
	return rc;
}

static void print_table(const struct cfg *c, const struct result *res, size_t n, double clk)
{
	printf("%s, %ld messages (+%ld warm-up) from %ld senders, rules from %s; "
	       "clock pair %.0f ns\n", LUA_RELEASE, c->messages, c->warmup, c->senders,
	       c->rules_dir, clk);
	printf("%-11s %10s %10s %10s %10s %12s %10s %8s %8s %8s\n", "rules", "median us",
	       "p99 us", "mean us", "max us", "msgs/s", "Lua KiB", "rewrite", "audit", "blocked");
	for (size_t i = 0; i < n; i++) {
		const struct result *r = &res[i];
		printf("%-11s %10.2f %10.2f %10.2f %10.1f %12.0f %10.1f %8" PRIu64 " %8" PRIu64
		       " %8ld%s\n", r->name, r->median_us, r->p99_us, r->mean_us, r->max_us,
		       r->per_s, (double)r->mem_after / 1024.0, r->verdicts[LUA_VERDICT_REWRITE],
		       r->audits, r->blocked, r->truncated ? "  (truncated)" : "");
	}
}

/* ---- main ------------------------------------------------------------------ */

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Marks the sets named in a comma-separated list; false on an unknown name. */
static bool parse_sets(const char *list, bool *on)
{
	memset(on, 0, N_SETS * sizeof *on);
	const char *p = list;
	while (*p) {
		size_t l = strcspn(p, ",");
		bool found = false;
		for (size_t i = 0; i < N_SETS; i++)
			if (strlen(SETS[i].name) == l && strncmp(SETS[i].name, p, l) == 0)
				on[i] = found = true;
		if (!found)
			return false;
		p += l;
		if (*p == ',')
			p++;
	}
	return true;
}

static void usage(FILE *to, const char *prog)
{
	fprintf(to,
		"usage: %s [options]\n"
		"Time chatd's moderation rule host per message: no rules, each shipped rule\n"
		"alone, and the four shipped rules (ratelimit, spam, wordfilter, audit).\n"
		"  --messages N       timed messages per set, 1..10000000 (default 200000)\n"
		"  --warmup W         untimed messages first, 0..1000000 (default 10000)\n"
		"  --senders S        senders in rotation, 1..1000000 (default 1000)\n"
		"  --rules-dir DIR    the shipped rules and their lists/ (default moderation/rules)\n"
		"  --sets LIST        comma-separated, of: none, ratelimit, spam, wordfilter,\n"
		"                     audit, shipped (default all)\n"
		"  --max-seconds S    stop a set after S seconds, 1..3600 (default 120)\n"
		"  --json             one JSON object on stdout\n"
		"  --help             this text\n"
		"Exit: 0 done, 1 failure, 2 usage, 3 a rule failed during the run (the\n"
		"numbers would not measure the whole chain).\n", prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "messages", required_argument, NULL, 'n' }, { "warmup", required_argument, NULL, 'w' },
		{ "senders", required_argument, NULL, 's' },
		{ "rules-dir", required_argument, NULL, 'r' }, { "sets", required_argument, NULL, 'S' },
		{ "max-seconds", required_argument, NULL, 'm' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cfg c = { .messages = 200000, .warmup = 10000, .senders = 1000,
			 .max_seconds = 120, .rules_dir = "moderation/rules" };
	bool json = false, on[N_SETS];
	for (size_t i = 0; i < N_SETS; i++)
		on[i] = true;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool ok = true;
		switch (o) {
		case 'n': ok = parse_long(optarg, 1, 10000000, &c.messages); break;
		case 'w': ok = parse_long(optarg, 0, 1000000, &c.warmup); break;
		case 's': ok = parse_long(optarg, 1, 1000000, &c.senders); break;
		case 'm': ok = parse_long(optarg, 1, 3600, &c.max_seconds); break;
		case 'r': ok = *optarg != '\0'; c.rules_dir = optarg; break;
		case 'S': ok = parse_sets(optarg, on); break;
		case 'j': json = true; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
		if (!ok) {
			const char *name = "?";
			for (const struct option *op = opts; op->name; op++)
				if (op->val == o)
					name = op->name;
			fprintf(stderr, "mod_bench: bad value '%s' for --%s\n", optarg, name);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}

	int64_t *ns = malloc((size_t)c.messages * sizeof *ns);
	struct result *res = calloc(N_SETS, sizeof *res);
	int status = 1;
	if (!ns || !res) {
		fprintf(stderr, "mod_bench: out of memory\n");
		goto out;
	}
	double clk = clock_overhead_ns(ns, c.messages < 100000 ? c.messages : 100000);
	size_t n = 0;
	uint64_t failures = 0;
	for (size_t i = 0; i < N_SETS; i++) {
		if (!on[i])
			continue;
		char err[512];
		if (run_set(&c, i, ns, &res[n], err, sizeof err) < 0) {
			fprintf(stderr, "mod_bench: set %s: %s\n", SETS[i].name, err);
			goto out;
		}
		if (res[n].failures) {
			fprintf(stderr, "mod_bench: set %s: %" PRIu64 " rule failures (last: %s)\n",
				SETS[i].name, res[n].failures, res[n].last_error);
			failures += res[n].failures;
		}
		n++;
	}
	if (json) {
		if (print_json(&c, res, n, clk) < 0) {
			fprintf(stderr, "mod_bench: cannot encode the JSON report\n");
			goto out;
		}
	} else {
		print_table(&c, res, n, clk);
	}
	status = failures ? 3 : 0;
out:
	free(ns);
	free(res);
	return status;
}
