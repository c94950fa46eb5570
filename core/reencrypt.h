/* reencrypt.h — the re-encryption job: rewrite every stored message text
 * that is not sealed with the active key (plaintext rows from before
 * encryption was turned on, rows sealed with an older key), so that an
 * old key can be removed from the config.  Decision 62.
 *
 * Runs on the core loop in batches of REENC_BATCH rows (storage's
 * texts_scan), REENC_PACE_MS apart; each row is opened (or taken as it is
 * when plaintext), sealed with the active key and written back with
 * storage's text_replace, a compare and swap: a row edited meanwhile is
 * counted as a conflict and left alone (the edit was sealed with the
 * active key already).  A row that cannot be opened is logged, counted
 * and skipped.  At the end storage's texts_compact (when offered) erases
 * the old bytes.  One job per process; not resumed after a restart (a
 * rerun is idempotent: rows already current are only counted).  Two nodes
 * running it at once are safe (compare and swap), only wasteful.
 *
 * Core thread only.  State is this module's (one core per process). */
#ifndef CHATD_REENCRYPT_H
#define CHATD_REENCRYPT_H

#include <jansson.h>
#include "metrics.h"

struct core;

#define REENC_BATCH 200
#define REENC_PACE_MS 20

/* Start a job.  CHATD_OK; CHATD_ERR_EXISTS: one is running;
 * CHATD_ERR_UNAVAILABLE: no active key (encryption.active unset);
 * CHATD_ERR_ABI: the storage plugin lacks texts_scan/text_replace
 * (ABI < 1.5).  why (may be NULL) gets a sentence for the operator. */
int reenc_start(struct core *c, char *why, size_t whylen);

/* The job's state as JSON (new reference): state ("idle", "running",
 * "done", "failed"), counts, started_at/finished_at (ms), error. */
json_t *reenc_status_json(void);

/* Shutdown: no new batch starts; completions still in flight are
 * ignored when they come. */
void reenc_stop(struct core *c);

/* Scrape-time metric families (core_metrics.c). */
void reenc_metrics_collect(struct metrics_buf *b);

#endif
