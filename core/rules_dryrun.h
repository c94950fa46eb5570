/* rules_dryrun.h — what a candidate rule set would have done to stored
 * messages (POST /v1/rules/dry-run). */
#ifndef CHATD_RULES_DRYRUN_H
#define CHATD_RULES_DRYRUN_H

#include <stddef.h>
#include <jansson.h>
#include "core_loop.h"

/* result (owned by the callee) is {"messages":N, "rules_version":V,
 * "would":{verdict: count}, "changed_total":N, "changed":[…first 100…]},
 * or NULL when status is not CHATD_OK. */
typedef void (*dryrun_cb)(void *arg, int status, json_t *result);

/* Compiles the config file's current moderation.rules and replays the
 * latest `limit` (1..200) messages of the conversation through it.  On an
 * error return (the rules do not compile: CHATD_ERR_INVALID) err says why
 * and done is not called. */
int rules_dryrun(struct core *c, const char *conversation_id, int limit, dryrun_cb done,
		 void *arg, char *err, size_t errlen);

#endif
