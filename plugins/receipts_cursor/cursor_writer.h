/* cursor_writer.h — the receipts_cursor plugin's instance: read cursors
 * kept in a cursor_map and written behind to storage (cursors_advance).
 *
 * A repeating host timer writes everything waiting in one cursors_advance
 * call per flush_interval_ms (at most one call in flight); max_pending
 * dirty cursors make it write at once.  A failed write keeps the cursors
 * for the next tick.  cw_free hands what is still waiting to storage in
 * a last call, whose completion may never come (storage's fini drops
 * undelivered completions): completions find their writer through a
 * registry of live writers and a flight number, so one arriving after
 * cw_free, or never, is harmless and nothing is owned by it.
 *
 * Core thread only.  Counters (host metrics): cursor_writes (storage
 * calls made), cursor_rows (cursors in calls that succeeded), reads
 * (mark_read calls that moved a cursor), cursor_write_errors (calls that
 * failed or were refused). */
#ifndef RECEIPTS_CURSOR_WRITER_H
#define RECEIPTS_CURSOR_WRITER_H

#include <stdint.h>
#include "chatd/chatd.h"

/* Cursors per cursors_advance call (storage_sqlite takes up to 10000). */
#define CW_BATCH_MAX 10000

struct cw_config {
	int64_t max_members;       /* PUSH only in conversations up to this size */
	int64_t flush_interval_ms; /* >= 1 */
	int64_t max_pending;       /* dirty cursors that make it write at once; >= 1 */
};

struct cw;

/* A writer on `storage` (which must have cursors_advance).  CHATD_OK with
 * *out set, CHATD_ERR_NOMEM, or CHATD_ERR_INVALID (bad config). */
int cw_new(const struct chatd_host *host, chatd_plugin_handle *h,
	   const struct chatd_storage_ops *storage, void *storage_inst,
	   const struct cw_config *cfg, struct cw **out);
/* Cancel the timer, hand every waiting cursor to storage, free. */
void cw_free(struct cw *w);

/* The ops of chatd/receipts.h. */
int cw_mark_read(struct cw *w, const char *conv, const char *user, int64_t seq,
		 int64_t stored, int64_t member_count);
int64_t cw_cursor(struct cw *w, const char *conv, const char *user, int64_t stored);

/* Write what is waiting now (the timer's work; tests call it).  Does
 * nothing while a write is in flight or when nothing waits. */
void cw_flush(struct cw *w);
/* Cursors waiting to be written (in flight included). */
size_t cw_pending(const struct cw *w);

#endif
