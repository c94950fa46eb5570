/* mod_env.h — the state behind the rules' helpers: one token-bucket
 * limiter, one TTL counter table (also holding strikes), one PCRE2 cache and
 * one near-duplicate detector.
 *
 * The core creates one env at start and hands it to the rule host
 * (lua_host_opts.env); it outlives rule-set reloads, so a reload keeps every
 * limiter bucket, counter, strike and recent-message ring.  The host keys
 * the limiter, counters and dupe rings by rule name (a rule's state is its
 * own); strikes are shared by all rules.
 *
 * Thread: not thread-safe; the core thread only.
 * Ownership: the env owns its four parts; accessors return borrowed
 * pointers valid until mod_env_free(). */
#ifndef CHATD_MOD_ENV_H
#define CHATD_MOD_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "mod_counter.h"
#include "mod_dupe.h"
#include "mod_limiter.h"
#include "mod_regex.h"

/* Sizes; a zero field takes its default. */
struct mod_env_config {
	size_t limiter_keys;                /* buckets; 0: 100000 */
	size_t counter_keys;                /* counters + strikes; 0: 100000 */
	size_t regex_entries;               /* cached patterns; 0: 1024 */
	struct mod_regex_limits regex_limits; /* zero fields: mod_regex defaults */
	struct mod_dupe_config dupe;        /* zero fields: mod_dupe defaults (so
	                                       max_distance 0 cannot be asked for) */
};

struct mod_env;

/* Fills cfg with the defaults (every field set). */
void mod_env_config_default(struct mod_env_config *cfg);

/* Creates an env; cfg NULL means all defaults.  NULL on a bad size (see
 * each part's limits) or allocation failure.  Free with mod_env_free(). */
struct mod_env *mod_env_new(const struct mod_env_config *cfg);

/* Frees the env and its parts.  NULL is a no-op.  Regex handles still held
 * elsewhere stay valid (mod_regex.h). */
void mod_env_free(struct mod_env *env);

struct mod_limiter *mod_env_limiter(const struct mod_env *env);
struct mod_counter *mod_env_counter(const struct mod_env *env);
struct mod_regex_cache *mod_env_regex(const struct mod_env *env);
struct mod_dupe *mod_env_dupe(const struct mod_env *env);

/* Drops up to max_drop expired counters (for a periodic timer); returns how
 * many were dropped. */
size_t mod_env_sweep(struct mod_env *env, int64_t now_ms, size_t max_drop);

#endif
