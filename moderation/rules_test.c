/* rules_test.c — see rules_test.h.  Each line is parsed and checked on its
 * own: a bad line is one failed case, never the end of the run. */
#include "rules_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chatd/status.h"
#include "lua_host_priv.h"                /* lh_utf8_valid */

#define SHOWN_REASON 60                 /* reason bytes shown in the table */

/* ---- test-mode callbacks -------------------------------------------------- */

static int64_t test_audit(void *ud, const char *rule, const char *event, const char *fields)
{
	(void)ud;
	(void)rule;
	(void)event;
	(void)fields;
	return 0;
}

static int test_sanction(void *ud, const char *rule, const char *user, const char *kind,
                         int64_t duration_ms, const char *reason)
{
	(void)rule;
	(void)reason;
	struct mod_sanctions *tab = ud;
	int64_t now = mod_sanctions_last_now(tab);
	int64_t until = duration_ms <= 0 ? 0
	                : duration_ms > INT64_MAX - now ? INT64_MAX : now + duration_ms;
	return mod_sanctions_set(tab, user, kind, until) == CHATD_OK ? 0 : -1;
}

void rules_test_callbacks(struct lua_host_callbacks *cb, struct mod_sanctions *sanctions)
{
	cb->ud = sanctions;
	cb->audit = test_audit;
	cb->sanction = test_sanction;
}

/* ---- one case -------------------------------------------------------------- */

struct tcase {
	enum lua_hook hook;
	struct lua_msg_ctx ctx;
	const char *expect;             /* as written */
	int exp_kind;                   /* enum lua_verdict */
	const char *exp_code;           /* NULL: any code */
	const char *exp_text;           /* NULL: not checked */
	size_t exp_text_len;
};

struct result {
	int line;
	bool pass;
	char hook[32];
	char expect[LUA_HOST_NAME_MAX + 16];
	char got[LUA_HOST_NAME_MAX + 16];
	char rule[LUA_HOST_NAME_MAX + 16];
	char reason[1024];
	const char *text;               /* the text after the rules (borrowed) */
	size_t text_len;
};

/* Appends to a NUL-terminated buffer, cutting at the end. */
static void cat(char *dst, size_t cap, const char *src)
{
	size_t l = strlen(dst);
	if (l + 1 < cap)
		snprintf(dst + l, cap - l, "%s", src);
}

static bool get_str(json_t *o, const char *key, const char *def, const char **out,
                    size_t *len, char *why, size_t wl)
{
	json_t *v = json_object_get(o, key);
	*out = def;
	if (len)
		*len = def ? strlen(def) : 0;
	if (!v)
		return true;
	if (!json_is_string(v)) {
		snprintf(why, wl, "'%s' must be a string", key);
		return false;
	}
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	else if (strlen(*out) != json_string_length(v)) {
		snprintf(why, wl, "'%s' contains a NUL character", key);
		return false;
	}
	return true;
}

static bool get_int(json_t *o, const char *key, int64_t def, int64_t min, int64_t *out,
                    bool *given, char *why, size_t wl)
{
	json_t *v = json_object_get(o, key);
	*out = def;
	if (given)
		*given = v != NULL;
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min) {
		snprintf(why, wl, "'%s' must be an integer >= %lld", key, (long long)min);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

static bool parse_expect(struct tcase *c, char *why, size_t wl)
{
	const char *e = c->expect;
	c->exp_code = NULL;
	if (strncmp(e, "reject:", 7) == 0 && e[7]) {
		c->exp_kind = LUA_VERDICT_REJECT;
		c->exp_code = e + 7;
		return true;
	}
	for (int k = 0; k < LUA_VERDICT__COUNT; k++)
		if (strcmp(e, lua_host_verdict_name((enum lua_verdict)k)) == 0) {
			c->exp_kind = k;
			return true;
		}
	snprintf(why, wl, "'expect' must be allow, reject, reject:CODE, shadow, hold, flag "
	         "or rewrite");
	return false;
}

static const char *const known_keys[] = {
	"hook", "sender", "conversation", "kind", "members", "text", "ts", "dt",
	"account_created_at", "seq", "target", "reason", "title", "client_message_id",
	"expect", "expect_text", "comment", NULL,
};

/* Fills c from the case object; prev_ts is the previous case's ts (or < 0
 * before the first).  false with why set on a bad case. */
static bool parse_case(json_t *o, struct tcase *c, int64_t prev_ts, char *why, size_t wl)
{
	memset(c, 0, sizeof(*c));
	if (!json_is_object(o)) {
		snprintf(why, wl, "a case must be a JSON object");
		return false;
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool ok = false;
		for (const char *const *kk = known_keys; *kk && !ok; kk++)
			ok = strcmp(k, *kk) == 0;
		if (!ok) {
			snprintf(why, wl, "unknown field '%.64s'", k);
			return false;
		}
	}
	const char *hook;
	if (!get_str(o, "hook", "on_message", &hook, NULL, why, wl))
		return false;
	c->hook = LUA_HOOK__COUNT;
	for (int h = 0; h < LUA_HOOK__COUNT; h++)
		if (strcmp(hook, lua_host_hook_name((enum lua_hook)h)) == 0)
			c->hook = (enum lua_hook)h;
	if (c->hook == LUA_HOOK__COUNT) {
		snprintf(why, wl, "unknown hook '%.64s'", hook);
		return false;
	}
	struct lua_msg_ctx *x = &c->ctx;
	int64_t ts, dt;
	bool has_ts, has_dt;
	if (!get_str(o, "sender", "alice", &x->sender_id, NULL, why, wl) ||
	    !get_str(o, "conversation", "c1", &x->conversation_id, NULL, why, wl) ||
	    !get_str(o, "kind", "group", &x->conversation_kind, NULL, why, wl) ||
	    !get_str(o, "text", NULL, &x->text, &x->text_len, why, wl) ||
	    !get_str(o, "target", NULL, &x->target_user_id, NULL, why, wl) ||
	    !get_str(o, "reason", NULL, &x->reason, NULL, why, wl) ||
	    !get_str(o, "title", NULL, &x->title, NULL, why, wl) ||
	    !get_str(o, "client_message_id", NULL, &x->client_message_id, NULL, why, wl) ||
	    !get_str(o, "expect", NULL, &c->expect, NULL, why, wl) ||
	    !get_str(o, "expect_text", NULL, &c->exp_text, &c->exp_text_len, why, wl) ||
	    !get_int(o, "members", 3, 0, &x->member_count, NULL, why, wl) ||
	    !get_int(o, "account_created_at", 0, 0, &x->account_created_at, NULL, why, wl) ||
	    !get_int(o, "seq", 0, 0, &x->seq, NULL, why, wl) ||
	    !get_int(o, "ts", 0, 0, &ts, &has_ts, why, wl) ||
	    !get_int(o, "dt", 1000, 0, &dt, &has_dt, why, wl))
		return false;
	if (!c->expect) {
		snprintf(why, wl, "missing 'expect'");
		return false;
	}
	if (!parse_expect(c, why, wl))
		return false;
	if (has_ts && has_dt) {
		snprintf(why, wl, "give 'ts' or 'dt', not both");
		return false;
	}
	if (has_ts)
		x->ts = ts;
	else if (prev_ts < 0)
		x->ts = RULES_TEST_TS0 + (has_dt ? dt : 0);
	else
		x->ts = dt > INT64_MAX - prev_ts ? INT64_MAX : prev_ts + dt;
	return true;
}

/* Appends "rule: last_error" for every rule whose failure count grew. */
static void rule_errors(const struct lua_rule_stats *before, size_t nb,
                        const struct lua_rule_stats *after, size_t na, char *dst, size_t cap)
{
	for (size_t i = 0; i < na && i < LUA_HOST_MAX_RULES; i++) {
		uint64_t was = i < nb ? before[i].failures : 0;
		if (after[i].failures <= was)
			continue;
		char m[LUA_HOST_REASON_MAX + LUA_HOST_NAME_MAX + 16];
		snprintf(m, sizeof(m), "%s[rule %s failed: %s]", dst[0] ? " " : "", after[i].name,
		         after[i].last_error);
		cat(dst, cap, m);
	}
}

static void run_case(struct lua_host *h, struct mod_sanctions *sanctions, struct tcase *c,
                     struct result *r, struct lua_decision *d, struct lua_rule_stats *st0,
                     struct lua_rule_stats *st1)
{
	const struct lua_msg_ctx *x = &c->ctx;
	int64_t until = 0;
	const char *blk = mod_sanctions_blocking(sanctions, x->sender_id, x->ts, &until);
	memset(d, 0, sizeof(*d));
	r->text = x->text;
	r->text_len = x->text ? (x->text_len ? x->text_len : strlen(x->text)) : 0;
	if (blk) {
		bool ban = strcmp(blk, "ban") == 0;
		snprintf(r->got, sizeof(r->got), "reject:%s", ban ? "banned" : "blocked");
		snprintf(r->rule, sizeof(r->rule), "sanction:%s", blk);
		if (until)
			snprintf(r->reason, sizeof(r->reason), "%s until %lld", blk, (long long)until);
		else
			snprintf(r->reason, sizeof(r->reason), "%s (permanent)", blk);
		r->pass = c->exp_kind == LUA_VERDICT_REJECT &&
		          (!c->exp_code || strcmp(c->exp_code, ban ? "banned" : "blocked") == 0);
	} else {
		size_t n0 = lua_host_stats(h, st0, LUA_HOST_MAX_RULES);
		lua_host_run(h, c->hook, x, d);
		size_t n1 = lua_host_stats(h, st1, LUA_HOST_MAX_RULES);
		enum lua_verdict k = d->kind;
		const char *rule = d->rule;
		bool shadowed = (c->hook == LUA_HOOK_MESSAGE || c->hook == LUA_HOOK_EDIT) &&
		                (k == LUA_VERDICT_ALLOW || k == LUA_VERDICT_FLAG ||
		                 k == LUA_VERDICT_REWRITE) &&
		                mod_sanctions_shadowed(sanctions, x->sender_id, x->ts);
		if (shadowed) {
			k = LUA_VERDICT_SHADOW;
			rule = "sanction:shadow";
		}
		if (k == LUA_VERDICT_REJECT && d->code[0])
			snprintf(r->got, sizeof(r->got), "reject:%s", d->code);
		else
			snprintf(r->got, sizeof(r->got), "%s", lua_host_verdict_name(k));
		snprintf(r->rule, sizeof(r->rule), "%s", rule[0] ? rule : "-");
		if (d->reason[0])
			cat(r->reason, sizeof(r->reason), d->reason);
		for (size_t i = 0; i < d->nflags; i++) {
			if (r->reason[0])
				cat(r->reason, sizeof(r->reason), "; ");
			cat(r->reason, sizeof(r->reason), d->flags[i]);
		}
		if (d->text) {
			r->text = d->text;
			r->text_len = d->text_len;
			char m[160];
			snprintf(m, sizeof(m), "%stext \"%.120s\"", r->reason[0] ? "; " : "", d->text);
			cat(r->reason, sizeof(r->reason), m);
		}
		rule_errors(st0, n0, st1, n1, r->reason, sizeof(r->reason));
		r->pass = (int)k == c->exp_kind &&
		          (!c->exp_code || strcmp(c->exp_code, d->code) == 0);
	}
	if (r->pass && c->exp_text &&
	    (!r->text || r->text_len != c->exp_text_len ||
	     memcmp(r->text, c->exp_text, r->text_len) != 0)) {
		char m[256];
		snprintf(m, sizeof(m), "%stext \"%.80s\" != expected \"%.80s\"",
		         r->reason[0] ? "; " : "", r->text ? r->text : "(nil)", c->exp_text);
		cat(r->reason, sizeof(r->reason), m);
		r->pass = false;
	}
}

/* ---- output --------------------------------------------------------------- */

/* The first max bytes of s, cut on a character boundary, "..." if cut. */
static void shorten(char *dst, size_t cap, const char *s, size_t max)
{
	size_t l = strlen(s);
	if (l <= max) {
		snprintf(dst, cap, "%s", s);
		return;
	}
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	snprintf(dst, cap, "%.*s...", (int)max, s);
}

static void print_table_row(FILE *out, const struct result *r)
{
	char reason[SHOWN_REASON + 8];
	shorten(reason, sizeof(reason), r->reason[0] ? r->reason : "-", SHOWN_REASON);
	fprintf(out, "%-5d %-22s %-22s %-22s %-16s %-*s %s\n", r->line, r->hook, r->expect,
	        r->got, r->rule, SHOWN_REASON, reason, r->pass ? "PASS" : "FAIL");
}

/* Replaces each byte that starts no valid UTF-8 sequence by '?' (reasons
 * are cut at a byte limit, and rules may build any bytes). */
static void fix_utf8(char *s)
{
	size_t len = strlen(s), off = 0, bad;
	while (off < len && !lh_utf8_valid(s + off, len - off, &bad)) {
		s[off + bad] = '?';
		off += bad + 1;
	}
}

static void print_json_row(FILE *out, struct result *r)
{
	fix_utf8(r->expect);
	fix_utf8(r->got);
	fix_utf8(r->rule);
	fix_utf8(r->reason);
	json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:b}", "line", r->line, "hook",
	                      r->hook, "expect", r->expect, "got", r->got, "rule", r->rule,
	                      "reason", r->reason, "pass", r->pass);
	if (o && r->text)
		json_object_set_new(o, "text", json_stringn(r->text, r->text_len));
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	if (s)
		fprintf(out, "%s\n", s);
	else    /* only out of memory: still one line per case */
		fprintf(out, "{\"line\":%d,\"pass\":false,\"reason\":\"out of memory\"}\n", r->line);
	free(s);
	json_decref(o);
}

/* Reads one line into buf (cap >= 2).  Returns 1 (line), 0 (EOF), -1 (read
 * error); *too_long when the line did not fit (the rest was skipped). */
static int read_line(FILE *f, char *buf, size_t cap, bool *too_long)
{
	*too_long = false;
	if (!fgets(buf, (int)cap, f))
		return ferror(f) ? -1 : 0;
	size_t l = strlen(buf);
	if (l > 0 && buf[l - 1] == '\n') {
		buf[--l] = '\0';
	} else if (!feof(f)) {
		*too_long = true;
		int ch;
		while ((ch = getc(f)) != EOF && ch != '\n')
			;
		if (ferror(f))
			return -1;
	}
	if (l > 0 && buf[l - 1] == '\r')
		buf[--l] = '\0';
	return 1;
}

static bool skip_line(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '#';
}

int rules_test_run(struct lua_host *h, struct mod_sanctions *sanctions, FILE *jsonl,
                   const char *name_for_errors, FILE *out, bool json_out, int *n_failed)
{
	const char *name = name_for_errors ? name_for_errors : "(cases)";
	if (n_failed)
		*n_failed = 0;
	if (!h || !jsonl || !out)
		return -1;
	size_t cap = RULES_TEST_LINE_MAX + 2;
	char *buf = malloc(cap);
	struct lua_rule_stats *st = malloc(2 * LUA_HOST_MAX_RULES * sizeof(*st));
	struct result *r = malloc(sizeof(*r));
	if (!buf || !st || !r) {
		free(buf);
		free(st);
		free(r);
		fprintf(out, "%s: out of memory\n", name);
		return -1;
	}
	if (!json_out)
		fprintf(out, "%-5s %-22s %-22s %-22s %-16s %-*s %s\n", "line", "hook", "expected",
		        "got", "rule", SHOWN_REASON, "reason", "result");
	int lineno = 0, cases = 0, passed = 0, rc = 0;
	int64_t prev_ts = -1;
	for (;;) {
		bool too_long;
		int got = read_line(jsonl, buf, cap, &too_long);
		if (got < 0) {
			fprintf(out, "%s:%d: read error: %s\n", name, lineno + 1, strerror(errno));
			rc = -1;
			break;
		}
		if (got == 0)
			break;
		lineno++;
		if (!too_long && skip_line(buf))
			continue;
		memset(r, 0, sizeof(*r));
		r->line = lineno;
		snprintf(r->hook, sizeof(r->hook), "-");
		snprintf(r->expect, sizeof(r->expect), "-");
		snprintf(r->got, sizeof(r->got), "error");
		snprintf(r->rule, sizeof(r->rule), "-");
		struct lua_decision d = { 0 };
		json_t *o = NULL;
		struct tcase c;
		json_error_t je;
		if (too_long) {
			snprintf(r->reason, sizeof(r->reason), "line longer than %d bytes",
			         RULES_TEST_LINE_MAX);
		} else if (!(o = json_loads(buf, JSON_REJECT_DUPLICATES, &je))) {
			snprintf(r->reason, sizeof(r->reason), "bad JSON at column %d: %s", je.column,
			         je.text);
		} else if (!parse_case(o, &c, prev_ts, r->reason, sizeof(r->reason))) {
			/* reason set */
			if (json_is_object(o) && json_is_string(json_object_get(o, "expect")))
				snprintf(r->expect, sizeof(r->expect), "%.64s",
				         json_string_value(json_object_get(o, "expect")));
		} else {
			prev_ts = c.ctx.ts;
			snprintf(r->hook, sizeof(r->hook), "%s", lua_host_hook_name(c.hook));
			snprintf(r->expect, sizeof(r->expect), "%.*s", LUA_HOST_NAME_MAX + 8, c.expect);
			run_case(h, sanctions, &c, r, &d, st, st + LUA_HOST_MAX_RULES);
		}
		cases++;
		passed += r->pass;
		if (json_out)
			print_json_row(out, r);
		else
			print_table_row(out, r);
		lua_decision_clear(&d);
		json_decref(o);
	}
	int failed = cases - passed;
	if (json_out)
		fprintf(out, "{\"summary\":{\"cases\":%d,\"passed\":%d,\"failed\":%d}}\n", cases,
		        passed, failed);
	else
		fprintf(out, "%d cases, %d passed, %d failed\n", cases, passed, failed);
	if (n_failed)
		*n_failed = failed;
	free(buf);
	free(st);
	free(r);
	if (fflush(out) != 0 || ferror(out))
		rc = -1;
	return rc;
}
