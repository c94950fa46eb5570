/* mod_cluster.h — the rule helpers' limiters and counters shared with the
 * other nodes through the bus's counters_add (see mod_cluster.c). */
#ifndef CHATD_MOD_CLUSTER_H
#define CHATD_MOD_CLUSTER_H

struct core;
struct mod_env;
struct mod_cluster;

/* Starts the rounds when the bus has counters_add and
 * moderation.cluster_sync_ms > 0; NULL otherwise (nothing is shared). */
struct mod_cluster *mod_cluster_start(struct core *c, struct mod_env *env);
/* Stops them; a round in flight is orphaned (its callback frees it). */
void mod_cluster_free(struct mod_cluster *mc);

#endif
