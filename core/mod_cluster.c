/* mod_cluster.c — the rule helpers' limiters and counters shared by every
 * node (issue 9's cluster-wide limits), through the bus plugin's
 * counters_add (ABI 1.4).
 *
 * Every moderation.cluster_sync_ms the node sends, for its recently used
 * limiter buckets and open counter windows, what it added since the last
 * round and learns the cluster totals (moderation/mod_sync.h).  Rules keep
 * running against memory — a send never waits for the network — so the
 * sharing lags by one round: a user spread over N nodes gets at most one
 * round's worth of extra sends past the limit, not N times the limit.
 *
 * One round is in flight at a time.  A round's state is its own
 * allocation: if moderation stops first, the round is orphaned and its
 * callback only frees it. */
#include "mod_cluster.h"

#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "chatd/bus.h"
#include "core_loop.h"
#include "core_metrics.h"
#include "log.h"
#include "mod_env.h"
#include "mod_sync.h"
#include "moderation.h"

#define PREFIX_LIMITER "l:"   /* keys as sent: "l:" or "c:" + the rule's key */
#define PREFIX_COUNTER "c:"
#define ROUND_MAX_KEYS 512    /* per table: counters_add takes <= 1024 */

struct round {
	struct mod_cluster *owner;    /* NULL once orphaned */
	struct mod_sync_batch lim, cnt;
	const char **keys;            /* lim's then cnt's, borrowed from them */
	int64_t *deltas, *ttls;
};

struct mod_cluster {
	struct core *c;
	struct mod_env *env;
	struct event *tick;
	struct round *inflight;
	uint64_t failures;            /* rounds that failed in a row (for logs) */
};

static void round_free(struct round *r)
{
	mod_sync_batch_clear(&r->lim);
	mod_sync_batch_clear(&r->cnt);
	free(r->keys);
	free(r->deltas);
	free(r->ttls);
	free(r);
}

static void round_apply(struct mod_cluster *mc, struct round *r, const int64_t *totals)
{
	mod_limiter_sync_end(mod_env_limiter(mc->env), &r->lim, strlen(PREFIX_LIMITER),
			     totals);
	mod_counter_sync_end(mod_env_counter(mc->env), &r->cnt, strlen(PREFIX_COUNTER),
			     totals ? totals + r->lim.n : NULL, mod_now_ms());
}

static void on_totals(void *arg, int status, const int64_t *totals, size_t n)
{
	struct round *r = arg;
	struct mod_cluster *mc = r->owner;
	if (!mc) { /* moderation stopped meanwhile */
		round_free(r);
		return;
	}
	mc->inflight = NULL;
	bool ok = status == CHATD_OK && totals && n == r->lim.n + r->cnt.n;
	round_apply(mc, r, ok ? totals : NULL);
	if (!ok) {
		cm_bus_status(mc->c, "counters_add", status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
		if (mc->failures++ == 0)
			log_warn("moderation", "cluster.sync_failed", "sharing limits with the other "
				 "nodes failed (%s); each node limits on its own until it works again",
				 chatd_strerror(status));
	} else if (mc->failures) {
		log_info("moderation", "cluster.sync_ok", "sharing limits again after %llu "
			 "failed rounds", (unsigned long long)mc->failures);
		mc->failures = 0;
	}
	round_free(r);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mod_cluster *mc = arg;
	struct core *c = mc->c;
	if (mc->inflight || c->shutting_down)
		return;
	struct round *r = calloc(1, sizeof *r);
	if (!r)
		return;
	r->owner = mc;
	int64_t now = mod_now_ms();
	int64_t active_ms = c->cfg->mod_cluster_sync_ms * 10;
	if (mod_limiter_sync_begin(mod_env_limiter(mc->env), now, active_ms, ROUND_MAX_KEYS,
				   PREFIX_LIMITER, &r->lim) < 0 ||
	    mod_counter_sync_begin(mod_env_counter(mc->env), now, ROUND_MAX_KEYS, PREFIX_COUNTER,
				   &r->cnt) < 0) {
		round_apply(mc, r, NULL);
		round_free(r);
		return;
	}
	size_t n = r->lim.n + r->cnt.n;
	if (n == 0) {
		round_free(r);
		return;
	}
	r->keys = malloc(n * sizeof *r->keys);
	r->deltas = malloc(n * sizeof *r->deltas);
	r->ttls = malloc(n * sizeof *r->ttls);
	if (!r->keys || !r->deltas || !r->ttls) {
		round_apply(mc, r, NULL);
		round_free(r);
		return;
	}
	const struct mod_sync_batch *parts[2] = { &r->lim, &r->cnt };
	size_t k = 0;
	for (int p = 0; p < 2; p++)
		for (size_t i = 0; i < parts[p]->n; i++, k++) {
			r->keys[k] = parts[p]->keys[i];
			r->deltas[k] = parts[p]->deltas[i];
			r->ttls[k] = parts[p]->ttl_ms[i];
		}
	mc->inflight = r;
	int st = c->bus->counters_add(c->bus_inst, r->keys, r->deltas, r->ttls, n, on_totals, r);
	if (st != CHATD_OK) {
		mc->inflight = NULL;
		on_totals(r, st, NULL, 0); /* applies the failure and frees r */
	}
}

struct mod_cluster *mod_cluster_start(struct core *c, struct mod_env *env)
{
	if (c->cfg->mod_cluster_sync_ms <= 0 ||
	    !CORE_HAS_OP(c->bus, struct chatd_bus_ops, counters_add))
		return NULL;
	struct mod_cluster *mc = calloc(1, sizeof *mc);
	if (!mc)
		return NULL;
	mc->c = c;
	mc->env = env;
	mc->tick = event_new(c->base, -1, EV_PERSIST, on_tick, mc);
	struct timeval tv = { .tv_sec = (time_t)(c->cfg->mod_cluster_sync_ms / 1000),
			      .tv_usec = (suseconds_t)(c->cfg->mod_cluster_sync_ms % 1000) * 1000 };
	if (!mc->tick || event_add(mc->tick, &tv) != 0) {
		log_error("moderation", "cluster.nomem", "cannot share limits with other nodes");
		mod_cluster_free(mc);
		return NULL;
	}
	log_info("moderation", "cluster.sharing", "rule limiters and counters shared with the "
		 "other nodes every %lld ms", (long long)c->cfg->mod_cluster_sync_ms);
	return mc;
}

void mod_cluster_free(struct mod_cluster *mc)
{
	if (!mc)
		return;
	if (mc->tick)
		event_free(mc->tick);
	if (mc->inflight)
		mc->inflight->owner = NULL; /* its callback frees it */
	free(mc);
}
