/* mod_metrics.c — the rules' and the audit log's metrics (core_metrics.h).
 *
 * The rule host keeps per-rule statistics for the current set only (a
 * reload starts from zero).  So that chatd_rule_* counters never go back,
 * the outgoing set's counts (and call latencies) are carried over (by rule
 * name) when a reload swaps a new set in, and every scrape adds them to the
 * current ones. */
#include <stdlib.h>
#include <string.h>
#include "core_loop.h"
#include "core_metrics.h"
#include "lua_host.h"
#include "moderation_priv.h"

_Static_assert(LUA_VERDICT__COUNT == 6, "struct cm_rule_carry holds 6 verdicts");
_Static_assert(LUA_HOST_NAME_MAX <= sizeof ((struct cm_rule_carry *)0)->name,
	       "rule names fit");
_Static_assert(LUA_HOST_LAT_BUCKETS + 1 ==
	       sizeof ((struct cm_rule_carry *)0)->lat_buckets / sizeof (uint64_t),
	       "struct cm_rule_carry holds a rule's latency buckets");

static void carry_lat_add(struct cm_rule_carry *e, const struct lua_rule_latency *l)
{
	for (size_t i = 0; i <= LUA_HOST_LAT_BUCKETS; i++)
		e->lat_buckets[i] += l->buckets[i];
	e->lat_sum_ns += l->sum_ns;
	if (l->max_ns > e->lat_max_ns)
		e->lat_max_ns = l->max_ns;
}

static void carry_lat_get(const struct cm_rule_carry *e, struct lua_rule_latency *l)
{
	for (size_t i = 0; i <= LUA_HOST_LAT_BUCKETS; i++)
		l->buckets[i] = e->lat_buckets[i];
	l->sum_ns = e->lat_sum_ns;
	l->max_ns = e->lat_max_ns;
}

struct mod_metrics_snap {
	size_t n;
	struct lua_rule_stats st[LUA_HOST_MAX_RULES];
};

/* The carry entry of rule name, created if needed (past the cap, names
 * share one "other" entry); NULL on ENOMEM. */
static struct cm_rule_carry *carry_of(struct core_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->ncarry; i++)
		if (strcmp(m->carry[i].name, name) == 0)
			return &m->carry[i];
	if (m->ncarry == CM_RULE_CARRY_MAX)
		return carry_of(m, "other");   /* made when the cap was reached */
	if (!m->carry && !(m->carry = calloc(CM_RULE_CARRY_MAX, sizeof *m->carry)))
		return NULL;
	struct cm_rule_carry *e = &m->carry[m->ncarry++];
	memset(e, 0, sizeof *e);
	snprintf(e->name, sizeof e->name, "%s", m->ncarry == CM_RULE_CARRY_MAX ? "other" : name);
	return e;
}

struct mod_metrics_snap *mod_metrics_snapshot(struct core *c)
{
	if (!c->metrics || !c->mod)
		return NULL;
	struct mod_metrics_snap *s = malloc(sizeof *s);
	if (!s)
		return NULL;
	s->n = lua_host_stats(c->mod->host, s->st, LUA_HOST_MAX_RULES);
	if (s->n > LUA_HOST_MAX_RULES)
		s->n = LUA_HOST_MAX_RULES;
	return s;
}

void mod_metrics_carry(struct core *c, struct mod_metrics_snap *s, bool swapped)
{
	for (size_t i = 0; s && swapped && c->metrics && i < s->n; i++) {
		const struct lua_rule_stats *st = &s->st[i];
		struct cm_rule_carry *e = carry_of(c->metrics, st->name);
		if (!e)
			break;
		e->calls += st->calls;
		e->failures += st->failures;
		for (int v = 0; v < LUA_VERDICT__COUNT; v++)
			e->verdicts[st->mode == LUA_RULE_OBSERVE][v] += st->verdicts[v];
		carry_lat_add(e, &st->lat);
	}
	free(s);
}

void mod_metrics_rule_failed(struct core *c, const char *rule)
{
	struct cm_rule_carry *e = c->metrics ? carry_of(c->metrics, rule ? rule : "") : NULL;
	if (e)
		e->failures++;
}

/* One rule's totals: the current set's plus what was carried. */
struct merged {
	const char *name;
	uint64_t calls, failures, verdicts[2][LUA_VERDICT__COUNT];
	bool mode[2];             /* which modes have verdict series */
	struct lua_rule_latency lat;
};

static struct merged *merge(struct core_metrics *m, const struct mod_metrics_snap *s,
			    size_t *out_n)
{
	struct merged *list = calloc(s->n + m->ncarry + 1, sizeof *list);
	if (!list)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct lua_rule_stats *st = &s->st[i];
		struct merged *e = &list[n++];
		e->name = st->name;
		e->calls = st->calls;
		e->failures = st->failures;
		e->mode[st->mode == LUA_RULE_OBSERVE] = true;
		for (int v = 0; v < LUA_VERDICT__COUNT; v++)
			e->verdicts[st->mode == LUA_RULE_OBSERVE][v] = st->verdicts[v];
		e->lat = st->lat;
	}
	for (size_t i = 0; i < m->ncarry; i++) {
		const struct cm_rule_carry *cr = &m->carry[i];
		struct merged *e = NULL;
		for (size_t j = 0; j < s->n && !e; j++)
			if (strcmp(list[j].name, cr->name) == 0)
				e = &list[j];
		if (!e) {
			e = &list[n++];
			e->name = cr->name;
		}
		e->calls += cr->calls;
		e->failures += cr->failures;
		struct lua_rule_latency cl;
		carry_lat_get(cr, &cl);
		lua_rule_latency_merge(&e->lat, &cl);
		for (int md = 0; md < 2; md++)
			for (int v = 0; v < LUA_VERDICT__COUNT; v++) {
				e->verdicts[md][v] += cr->verdicts[md][v];
				e->mode[md] = e->mode[md] || cr->verdicts[md][v];
			}
	}
	*out_n = n;
	return list;
}

/* chatd_rule_duration_seconds: one histogram per rule name (the same
 * names, so the same bound, as the counters above). */
static void write_durations(struct metrics_buf *b, const struct merged *list, size_t n)
{
	static const char *const rl[] = { "rule" };
	double bounds[LUA_HOST_LAT_BUCKETS];
	for (size_t i = 0; i < LUA_HOST_LAT_BUCKETS; i++)
		bounds[i] = (double)lua_host_lat_bounds_ns[i] / 1e9;
	metrics_write_header(b, "chatd_rule_duration_seconds", "wall time of each call of a "
			     "rule's hooks (on_verdict included)", METRIC_HISTOGRAM);
	for (size_t i = 0; i < n; i++)
		metrics_write_histogram(b, "chatd_rule_duration_seconds", rl, &list[i].name, 1,
					bounds, LUA_HOST_LAT_BUCKETS, list[i].lat.buckets,
					(double)list[i].lat.sum_ns / 1e9);
}

static void collect_rules(struct core *c, struct metrics_buf *b)
{
	struct core_metrics *m = c->metrics;
	struct mod_metrics_snap *s = mod_metrics_snapshot(c);
	size_t n = 0;
	struct merged *list = s ? merge(m, s, &n) : NULL;
	if (!list) {
		b->failed = true;
		free(s);
		return;
	}
	static const char *const rl[] = { "rule", "mode", "verdict" };
	static const char *const modes[] = { "enforce", "observe" };
	metrics_write_header(b, "chatd_rule_calls_total", "calls of each rule's hooks "
			     "(on_verdict included)", METRIC_COUNTER);
	for (size_t i = 0; i < n; i++)
		metrics_write_sample_u64(b, "chatd_rule_calls_total", rl, &list[i].name, 1,
					 list[i].calls);
	metrics_write_header(b, "chatd_rule_verdicts_total", "verdicts per rule; mode observe: "
			     "what the rule would have done", METRIC_COUNTER);
	for (size_t i = 0; i < n; i++)
		for (int md = 0; md < 2; md++)
			for (int v = 0; list[i].mode[md] && v < LUA_VERDICT__COUNT; v++) {
				const char *lv[] = { list[i].name, modes[md],
						     lua_host_verdict_name((enum lua_verdict)v) };
				metrics_write_sample_u64(b, "chatd_rule_verdicts_total", rl, lv, 3,
							 list[i].verdicts[md][v]);
			}
	metrics_write_header(b, "chatd_rule_failures_total", "rule failures: Lua errors, "
			     "instruction budget or memory cap exceeded, unusable rewrites",
			     METRIC_COUNTER);
	for (size_t i = 0; i < n; i++)
		metrics_write_sample_u64(b, "chatd_rule_failures_total", rl, &list[i].name, 1,
					 list[i].failures);
	write_durations(b, list, n);
	free(list);
	free(s);
	metrics_write_header(b, "chatd_rules_version", "the rule set's version (reloads bump it)",
			     METRIC_GAUGE);
	metrics_write_sample(b, "chatd_rules_version", NULL, NULL, 0,
			     (double)lua_host_version(c->mod->host));
	metrics_write_header(b, "chatd_rules_memory_bytes", "memory of the rule set's Lua state",
			     METRIC_GAUGE);
	metrics_write_sample(b, "chatd_rules_memory_bytes", NULL, NULL, 0,
			     (double)lua_host_mem_used(c->mod->host));
}

void mod_metrics_collect(struct core *c, struct metrics_buf *b)
{
	if (!c->mod || !c->metrics)
		return;
	collect_rules(c, b);
	metrics_write_header(b, "chatd_audit_write_failures_total",
			     "audit log entries that could not be written", METRIC_COUNTER);
	metrics_write_sample_u64(b, "chatd_audit_write_failures_total", NULL, NULL, 0,
				 c->mod->audit_failures);
}
