/* cursor_writer.c — see cursor_writer.h.
 *
 * Why a registry instead of passing the writer to storage: storage calls a
 * completion exactly once, except that its fini (which runs after ours)
 * drops the undelivered ones.  A completion argument that owned memory
 * would leak then, and one pointing at the writer would dangle if it ever
 * came after cw_free.  So the argument is only a number: the flight it
 * answers.  A completion whose flight is no live writer's current one
 * (the last call made by cw_free, or anything after it) is ignored. */
#include "cursor_writer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "cursor_map.h"

#define CW_MAGIC 0x52435731u   /* "RCW1" */

struct cw {
	uint32_t magic;
	struct cw *next_live;
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	const struct chatd_storage_ops *storage;
	void *storage_inst;
	struct cw_config cfg;
	struct cmap *map;
	chatd_timer_id timer;
	uint64_t flight;           /* the call in flight; 0: none */
	size_t flight_n;           /* cursors in it */
	bool failing;              /* the last write failed (logged once per streak) */
	chatd_metric_id m_writes, m_rows, m_reads, m_errors;
};

/* Live writers (one per loaded plugin instance; core thread only). */
static struct cw *live;
static uint64_t last_flight;

static struct cw *writer_of(struct cw *w)
{
	assert(w && w->magic == CW_MAGIC);
	return w;
}

static void write_failed(struct cw *w, int status, size_t n)
{
	w->host->metric_add(w->h, w->m_errors, 1);
	if (!w->failing)
		w->host->log(w->h, CHATD_LOG_WARN, "receipts.write_failed",
			     "writing %zu read cursors failed: %s; kept, retried every %lld ms",
			     n, chatd_strerror(status), (long long)w->cfg.flush_interval_ms);
	w->failing = true;
}

static void on_written(void *arg, int status, int64_t moved)
{
	uint64_t flight = (uint64_t)(uintptr_t)arg;
	struct cw *w = live;
	while (w && !(w->flight && w->flight == flight))
		w = w->next_live;
	if (!w)
		return;   /* cw_free's last call, or a writer gone */
	w->flight = 0;
	bool ok = status == CHATD_OK;
	cmap_done(w->map, ok);
	if (!ok) {
		write_failed(w, status, w->flight_n);
		return;   /* retried at the next tick, not in a loop */
	}
	w->host->metric_add(w->h, w->m_rows, (int64_t)w->flight_n);
	if (w->failing)
		w->host->log(w->h, CHATD_LOG_INFO, "receipts.write_recovered",
			     "read cursors are written again (%lld moved)", (long long)moved);
	w->failing = false;
	/* Over max_pending while this call was in flight: go on at once. */
	if (cmap_dirty(w->map) >= (size_t)w->cfg.max_pending)
		cw_flush(w);
}

/* One cursors_advance call with up to CW_BATCH_MAX waiting cursors.
 * Returns its status (CHATD_OK: queued); *n gets how many it carried. */
static int submit(struct cw *w, uint64_t flight, size_t *n)
{
	size_t want = cmap_dirty(w->map);
	if (want > CW_BATCH_MAX)
		want = CW_BATCH_MAX;
	*n = 0;
	if (want == 0)
		return CHATD_OK;
	struct chatd_read_cursor *batch = malloc(want * sizeof *batch);
	if (!batch)
		return CHATD_ERR_NOMEM;
	*n = cmap_take(w->map, batch, want);
	/* Storage copies the batch: it is ours again when the call returns. */
	int st = w->storage->cursors_advance(w->storage_inst, batch, *n, on_written,
					     (void *)(uintptr_t)flight);
	free(batch);
	w->host->metric_add(w->h, w->m_writes, 1);
	return st;
}

void cw_flush(struct cw *w)
{
	writer_of(w);
	if (w->flight || cmap_dirty(w->map) == 0)
		return;
	uint64_t flight = ++last_flight;
	size_t n;
	int st = submit(w, flight, &n);
	if (st == CHATD_OK) {
		w->flight = flight;
		w->flight_n = n;
		return;
	}
	cmap_done(w->map, false);
	write_failed(w, st, n);
}

static void on_tick(void *arg)
{
	struct cw *w = writer_of(arg);
	cmap_expire(w->map);
	cw_flush(w);
}

int cw_new(const struct chatd_host *host, chatd_plugin_handle *h,
	   const struct chatd_storage_ops *storage, void *storage_inst,
	   const struct cw_config *cfg, struct cw **out)
{
	if (!host || !storage || !storage->cursors_advance || !cfg || cfg->flush_interval_ms < 1 ||
	    cfg->max_pending < 1 || cfg->max_members < 0)
		return CHATD_ERR_INVALID;
	struct cw *w = calloc(1, sizeof *w);
	if (!w)
		return CHATD_ERR_NOMEM;
	w->magic = CW_MAGIC;
	w->host = host;
	w->h = h;
	w->storage = storage;
	w->storage_inst = storage_inst;
	w->cfg = *cfg;
	w->map = cmap_new();
	w->m_writes = host->metric_counter(h, "cursor_writes",
					   "cursors_advance calls made to storage");
	w->m_rows = host->metric_counter(h, "cursor_rows",
					 "read cursors carried by the calls that succeeded");
	w->m_reads = host->metric_counter(h, "reads", "read frames that moved a cursor");
	w->m_errors = host->metric_counter(h, "cursor_write_errors",
					   "cursors_advance calls that failed (cursors kept, retried)");
	if (w->map)
		w->timer = host->timer_add(h, (uint64_t)cfg->flush_interval_ms, true, on_tick, w);
	if (!w->map || !w->timer) {
		cmap_free(w->map);
		w->magic = 0;
		free(w);
		return CHATD_ERR_NOMEM;
	}
	w->next_live = live;
	live = w;
	*out = w;
	return CHATD_OK;
}

void cw_free(struct cw *w)
{
	if (!w)
		return;
	writer_of(w);
	w->host->timer_cancel(w->h, w->timer);
	for (struct cw **p = &live; *p; p = &(*p)->next_live)
		if (*p == w) {
			*p = w->next_live;
			break;
		}
	/* Everything still waiting, in flight included (its completion will
	 * be ignored): storage commits queued writes before its own fini
	 * returns.  More than a batch takes more calls. */
	size_t total = 0;
	while (cmap_dirty(w->map) > 0) {
		size_t n;
		int st = submit(w, 0, &n);
		if (st != CHATD_OK) {
			w->host->log(w->h, CHATD_LOG_ERROR, "receipts.final_write_failed",
				     "%zu read cursors not written at shutdown: %s",
				     cmap_dirty(w->map), chatd_strerror(st));
			break;
		}
		/* Taken is as good as written from here: storage owns it. */
		cmap_done(w->map, true);
		total += n;
	}
	if (total)
		w->host->log(w->h, CHATD_LOG_INFO, "receipts.final_write",
			     "%zu read cursors handed to storage at shutdown", total);
	cmap_free(w->map);
	w->magic = 0;
	free(w);
}

int cw_mark_read(struct cw *w, const char *conv, const char *user, int64_t seq,
		 int64_t stored, int64_t member_count)
{
	writer_of(w);
	if (seq < 1)
		return 0;
	int rc = cmap_mark(w->map, conv, user, seq, stored);
	if (rc <= 0)
		return rc;
	w->host->metric_add(w->h, w->m_reads, 1);
	if (cmap_dirty(w->map) >= (size_t)w->cfg.max_pending)
		cw_flush(w);
	return CHATD_RECEIPT_MOVED | (member_count <= w->cfg.max_members ? CHATD_RECEIPT_PUSH : 0);
}

int64_t cw_cursor(struct cw *w, const char *conv, const char *user, int64_t stored)
{
	writer_of(w);
	int64_t v = cmap_get(w->map, conv, user);
	return v > stored ? v : stored;
}

size_t cw_pending(const struct cw *w)
{
	return cmap_dirty(w->map);
}
