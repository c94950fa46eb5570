/* lua_host_time.c — per-rule call latency: the clock around each hook
 * call (lua_host.c) and the small histogram it fills (see lua_host.h). */
#include <time.h>

#include "lua_host_priv.h"

/* A rule call is ~0.1 µs of glue plus the rule's own work: most land in
 * the µs buckets; the top ones catch rules near their budget. */
const uint64_t lua_host_lat_bounds_ns[LUA_HOST_LAT_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000, 10000000, 25000000, 100000000, 1000000000,
};

uint64_t lh_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void lua_rule_latency_add(struct lua_rule_latency *l, uint64_t ns)
{
	size_t i = 0;
	while (i < LUA_HOST_LAT_BUCKETS && ns > lua_host_lat_bounds_ns[i])
		i++;
	l->buckets[i]++;
	l->sum_ns += ns;
	if (ns > l->max_ns)
		l->max_ns = ns;
}

void lua_rule_latency_merge(struct lua_rule_latency *dst, const struct lua_rule_latency *src)
{
	for (size_t i = 0; i <= LUA_HOST_LAT_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t lua_rule_latency_count(const struct lua_rule_latency *l)
{
	uint64_t n = 0;
	for (size_t i = 0; i <= LUA_HOST_LAT_BUCKETS; i++)
		n += l->buckets[i];
	return n;
}

double lua_rule_latency_quantile(const struct lua_rule_latency *l, double q)
{
	uint64_t n = lua_rule_latency_count(l);
	if (n == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* The rank-th smallest call (1-based) is in the first bucket whose
	 * cumulative count reaches it. */
	double rank = q * (double)n;
	if (rank < 1)
		rank = 1;
	uint64_t below = 0;
	for (size_t i = 0; i <= LUA_HOST_LAT_BUCKETS; i++) {
		uint64_t c = l->buckets[i];
		if (c == 0 || (double)(below + c) < rank) {
			below += c;
			continue;
		}
		double lo = i ? (double)lua_host_lat_bounds_ns[i - 1] : 0;
		double hi = i < LUA_HOST_LAT_BUCKETS ? (double)lua_host_lat_bounds_ns[i]
			    : (double)l->max_ns;
		if (hi > (double)l->max_ns)
			hi = (double)l->max_ns;
		if (lo > hi)
			lo = hi;
		return lo + (hi - lo) * ((rank - (double)below) / (double)c);
	}
	return (double)l->max_ns;
}
