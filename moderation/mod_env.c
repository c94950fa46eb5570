/* mod_env.c — see mod_env.h. */
#include "mod_env.h"

#include <stdlib.h>

struct mod_env {
	struct mod_limiter *lim;
	struct mod_counter *cnt;
	struct mod_regex_cache *rx;
	struct mod_dupe *dupe;
};

void mod_env_config_default(struct mod_env_config *cfg)
{
	cfg->limiter_keys = 100000;
	cfg->counter_keys = 100000;
	cfg->regex_entries = 1024;
	mod_regex_limits_default(&cfg->regex_limits);
	mod_dupe_config_default(&cfg->dupe);
}

struct mod_env *mod_env_new(const struct mod_env_config *in)
{
	struct mod_env_config cfg, def;
	mod_env_config_default(&def);
	cfg = in ? *in : def;
	if (!cfg.limiter_keys)
		cfg.limiter_keys = def.limiter_keys;
	if (!cfg.counter_keys)
		cfg.counter_keys = def.counter_keys;
	if (!cfg.regex_entries)
		cfg.regex_entries = def.regex_entries;
	if (!cfg.regex_limits.match_limit)
		cfg.regex_limits.match_limit = def.regex_limits.match_limit;
	if (!cfg.regex_limits.depth_limit)
		cfg.regex_limits.depth_limit = def.regex_limits.depth_limit;
	if (!cfg.regex_limits.heap_limit_kib)
		cfg.regex_limits.heap_limit_kib = def.regex_limits.heap_limit_kib;
	if (!cfg.dupe.max_users)
		cfg.dupe.max_users = def.dupe.max_users;
	if (!cfg.dupe.ring_size)
		cfg.dupe.ring_size = def.dupe.ring_size;
	if (!cfg.dupe.ttl_ms)
		cfg.dupe.ttl_ms = def.dupe.ttl_ms;
	if (!cfg.dupe.max_distance)
		cfg.dupe.max_distance = def.dupe.max_distance;
	struct mod_env *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->lim = mod_limiter_new(cfg.limiter_keys);
	e->cnt = mod_counter_new(cfg.counter_keys);
	e->rx = mod_regex_cache_new(cfg.regex_entries, &cfg.regex_limits);
	e->dupe = mod_dupe_new(&cfg.dupe);
	if (!e->lim || !e->cnt || !e->rx || !e->dupe) {
		mod_env_free(e);
		return NULL;
	}
	return e;
}

void mod_env_free(struct mod_env *e)
{
	if (!e)
		return;
	mod_limiter_free(e->lim);
	mod_counter_free(e->cnt);
	mod_regex_cache_free(e->rx);
	mod_dupe_free(e->dupe);
	free(e);
}

struct mod_limiter *mod_env_limiter(const struct mod_env *e) { return e ? e->lim : NULL; }
struct mod_counter *mod_env_counter(const struct mod_env *e) { return e ? e->cnt : NULL; }
struct mod_regex_cache *mod_env_regex(const struct mod_env *e) { return e ? e->rx : NULL; }
struct mod_dupe *mod_env_dupe(const struct mod_env *e) { return e ? e->dupe : NULL; }

size_t mod_env_sweep(struct mod_env *e, int64_t now_ms, size_t max_drop)
{
	return e ? mod_counter_expire(e->cnt, now_ms, max_drop) : 0;
}
