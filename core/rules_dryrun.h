/* rules_dryrun.h — what a candidate rule set would have done to stored
 * messages (POST /v1/rules/dry-run). */
#ifndef CHATD_RULES_DRYRUN_H
#define CHATD_RULES_DRYRUN_H

#include <stddef.h>
#include <jansson.h>
#include "core_loop.h"

/* result (owned by the callee) is {"messages":N, "rules_version":V,
 * "rules":[the names compiled, in order], "would":{verdict: count},
 * "changed_total":N, "changed":[…first 100…]}, or NULL when status is not
 * CHATD_OK. */
typedef void (*dryrun_cb)(void *arg, int status, json_t *result);

struct dryrun_req {
	const char *conversation_id;   /* NULL: the latest messages of all conversations */
	int limit;                     /* 1..200 */
	const char *const *rules;      /* rule names from rules_dir, or NULL: the config's list */
	size_t n_rules;
};

/* Why rules_dryrun refused (CHATD_ERR_INVALID). */
enum dryrun_refusal {
	DRYRUN_CONFIG,          /* the config file does not load, or its list does not compile */
	DRYRUN_UNKNOWN_RULE,    /* a named rule has no <name>.lua in rules_dir */
	DRYRUN_RULE_INVALID,    /* a named rule does not compile (file and line in err) */
	DRYRUN_NO_LATEST,       /* no conversation given and storage cannot list across them */
};

/* Compiles the candidate set from the config file as it is on disk now
 * (its rules_dir, budgets, and the modes and options it gives the rules it
 * lists) and replays `limit` stored messages through it, in a host of its
 * own: nothing live changes.  CHATD_OK: done will run.  CHATD_ERR_INVALID:
 * *why and err say what is wrong; done will not run.  Another status: the
 * storage read could not be queued. */
int rules_dryrun(struct core *c, const struct dryrun_req *q, dryrun_cb done, void *arg,
		 enum dryrun_refusal *why, char *err, size_t errlen);

#endif
