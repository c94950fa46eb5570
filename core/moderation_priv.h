/* moderation_priv.h — state shared by moderation.c, audit.c and
 * sanctions.c.  Not for other modules: they use moderation.h. */
#ifndef CHATD_MODERATION_PRIV_H
#define CHATD_MODERATION_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "hmap.h"
#include "lua_host.h"
#include "mod_auditchain.h"

struct mod_env;

/* A user_seen request in flight.  Kept on a list: storage drops the
 * completions still queued when it stops, and moderation_free frees what
 * never came back. */
struct seen_req {
	struct seen_req *prev, *next;
	struct core *c;
	char user[];
};
struct mod_sanctions;
struct mod_cluster;

struct moderation {
	struct core *c;
	struct lua_host *host;
	struct mod_env *env;                 /* helpers' state: survives reloads */
	struct mod_sanctions *sanctions;     /* in-memory copy of storage's */
	bool storage_ok;                     /* storage has the ABI 1.1 ops */
	bool sanctions_loaded;
	struct hmap revoked;                 /* user → int64_t *revoked_before (ms), owned */

	/* the audit chain's tail (audit.c) */
	bool audit_ready;                    /* the tail is known: entries go out */
	bool audit_conflict;                 /* storage refused one: re-chain (EXISTS) */
	bool audit_reconciling;              /* reading back what was stored */
	int64_t audit_last_id;
	unsigned char audit_last_hash[MOD_AUDIT_HASH_LEN];
	json_t *audit_pending;               /* entries waiting for the tail, in order */
	json_t *audit_sent;                  /* entries written since all were confirmed */
	json_t *audit_refused;               /* read back as not stored: written again */
	unsigned audit_inflight;
	unsigned audit_rounds;               /* re-chain rounds without progress */
	uint64_t audit_failures;
	struct event *audit_retry;           /* reads the tail again after a failure */

	/* the run in progress (helpers call back into it) */
	const struct lua_msg_ctx *run_ctx;
	enum lua_hook run_hook;
	int64_t run_audit_id;
	uint64_t rule_failures;              /* failures of rule sets swapped out */
	struct seen_req *seen;               /* user_seen requests in flight */
	struct mod_cluster *cluster;         /* limits shared with other nodes, or NULL */
};

void audit_load_tail(struct core *c);
/* sanctions.c: a stored row of sanction_list_active (revocations are
 * rows of kind "revoke" whose created_at is the revoked_before time). */
void sanctions_loaded_row(struct moderation *m, const struct chatd_sanction *s);
void sanctions_free_revoked(struct moderation *m);

#endif
