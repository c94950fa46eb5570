/* media_gc.c — removal of what nobody needs any more, every gc_interval_s:
 *   1. media rows created more than orphan_ttl_s ago that no message
 *      refers to (storage's media_orphans, in batches), each with
 *      media_remove; when no row shares its content any more, the content
 *      file and its thumbnail go (worker);
 *   2. part files in dir/tmp older than upload_url_ttl_s that no upload
 *      in progress owns (worker);
 *   3. with encryption active, re-sealing of files under an older key or
 *      plaintext, a bounded number per run (media_reseal.c, worker).
 * One run at a time; a timer tick during a run does nothing.
 *
 * A content is "in flight" from the end of its check until media_ready
 * answers: media_remove may count 0 rows for its hash meanwhile, yet the
 * file is about to be needed, so it is kept.  Removes and readies go
 * through the same storage writer and their callbacks come back in commit
 * order: a remove that committed before the ready is answered while the
 * content is still in flight here; one that committed after it counts
 * the new row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "media_local.h"

struct media_gc {
	int batches;
	int removing;                        /* media_remove calls out */
	bool more;                           /* the last batch was full */
	int64_t before;
	int64_t removed, files, parts;
};

struct orphans_req {
	struct media_req r;
};

struct remove_req {
	struct media_req r;
	char hash[MEDIA_HASH_HEX + 1];       /* "" while pending: no file */
};

struct unlink_job {
	struct media_job j;
	char dir[PATH_MAX];
	char hash[MEDIA_HASH_HEX + 1];
	int n;
};

struct sweep_job {
	struct media_job j;
	char dir[PATH_MAX];
	int64_t cutoff;
	char **keep;
	size_t n_keep;
	int n;
};

static void next_batch(struct media_local *ml);

void media_gc_finish(struct media_local *ml)
{
	struct media_gc *gc = ml->gc;
	if (gc->removed || gc->files || gc->parts)
		ml->host->log(ml->h, CHATD_LOG_INFO, "media.gc",
			      "removed %lld orphan uploads, %lld files, %lld abandoned parts",
			      (long long)gc->removed, (long long)gc->files, (long long)gc->parts);
	free(gc);
	ml->gc = NULL;
}

void media_gc_free(struct media_local *ml)
{
	free(ml->gc);
	ml->gc = NULL;
}

/* ---- files ---------------------------------------------------------- */

static void unlink_run(struct media_job *j)
{
	struct unlink_job *u = (struct unlink_job *)j;
	u->n = media_store_unlink(u->dir, u->hash);
}

static void unlink_done(struct media_job *j, void *inst)
{
	struct unlink_job *u = (struct unlink_job *)j;
	struct media_local *ml = inst;
	/* Counted into the run still going, if any (the log is a summary). */
	if (ml && ml->gc)
		ml->gc->files += u->n;
	free(u);
}

static void sweep_run(struct media_job *j)
{
	struct sweep_job *s = (struct sweep_job *)j;
	s->n = media_store_sweep(s->dir, s->cutoff, (const char *const *)s->keep, s->n_keep);
}

static void sweep_done(struct media_job *j, void *inst)
{
	struct sweep_job *s = (struct sweep_job *)j;
	struct media_local *ml = inst;
	for (size_t i = 0; i < s->n_keep; i++)
		free(s->keep[i]);
	free(s->keep);
	if (ml && ml->gc) {
		ml->gc->parts += s->n;
		/* Step 3: the background re-encryption (media_reseal.c). */
		if (!media_reseal_start(ml))
			media_gc_finish(ml);
	}
	free(s);
}

/* Step 2: the part files, keeping those of the uploads in progress. */
static void sweep(struct media_local *ml)
{
	struct sweep_job *s = calloc(1, sizeof(*s));
	size_t n = 0;
	for (struct media_upload *u = ml->uploads; u; u = u->next)
		n++;
	if (s && n)
		s->keep = calloc(n, sizeof(*s->keep));
	if (!s || (n && !s->keep)) {
		free(s);
		media_gc_finish(ml);
		return;
	}
	for (struct media_upload *u = ml->uploads; u; u = u->next)
		if ((s->keep[s->n_keep] = strdup(u->part)))
			s->n_keep++;
	s->j.run = sweep_run;
	s->j.done = sweep_done;
	snprintf(s->dir, sizeof(s->dir), "%s", ml->dir);
	s->cutoff = ml->host->now_ms() - ml->upload_ttl_ms;
	if (media_worker_submit(ml->worker, &s->j) != CHATD_OK) {
		sweep_done(&s->j, NULL);
		media_gc_finish(ml);
	}
}

/* ---- rows ----------------------------------------------------------- */

static void batch_done(struct media_local *ml)
{
	struct media_gc *gc = ml->gc;
	if (gc->more && gc->batches < MEDIA_GC_BATCHES)
		next_batch(ml);
	else
		sweep(ml);
}

static void remove_cb(void *arg, int status, int64_t sharing)
{
	struct remove_req *q = arg;
	struct media_local *ml = q->r.ml;
	struct media_gc *gc = ml->gc;
	if (status == CHATD_OK) {
		gc->removed++;
		ml->host->metric_add(ml->h, ml->m_gc_removed, 1);
		if (sharing == 0 && q->hash[0] && !media_inflight_has(ml, q->hash)) {
			struct unlink_job *u = calloc(1, sizeof(*u));
			if (u) {
				u->j.run = unlink_run;
				u->j.done = unlink_done;
				snprintf(u->dir, sizeof(u->dir), "%s", ml->dir);
				snprintf(u->hash, sizeof(u->hash), "%s", q->hash);
				if (media_worker_submit(ml->worker, &u->j) != CHATD_OK)
					free(u);
			}
		}
	} else if (status != CHATD_ERR_NOT_FOUND) {   /* NOT_FOUND: another node did it */
		ml->host->log(ml->h, CHATD_LOG_WARN, "media.gc_failed", "remove: %s",
			      chatd_strerror(status));
	}
	media_req_free(q);
	if (--gc->removing == 0)
		batch_done(ml);
}

static void orphans_cb(void *arg, int status, const struct chatd_media_row *rows, size_t n)
{
	struct orphans_req *q = arg;
	struct media_local *ml = q->r.ml;
	struct media_gc *gc = ml->gc;
	media_req_free(q);
	if (status != CHATD_OK) {
		ml->host->log(ml->h, CHATD_LOG_WARN, "media.gc_failed", "orphans: %s",
			      chatd_strerror(status));
		sweep(ml);
		return;
	}
	gc->more = n == MEDIA_GC_BATCH;
	gc->removing = 1;                    /* held until the loop is done */
	for (size_t i = 0; i < n; i++) {
		bool uploading = false;
		for (struct media_upload *u = ml->uploads; u && !uploading; u = u->next)
			uploading = strcmp(u->media_id, rows[i].media_id) == 0;
		if (uploading)
			continue;
		struct remove_req *r = media_req_new(ml, sizeof(*r));
		if (!r)
			break;
		snprintf(r->hash, sizeof(r->hash), "%s", rows[i].hash ? rows[i].hash : "");
		gc->removing++;
		if (ml->st->media_remove(ml->st_inst, rows[i].media_id, remove_cb, r) != CHATD_OK) {
			gc->removing--;
			media_req_free(r);
		}
	}
	if (--gc->removing == 0)
		batch_done(ml);
}

static void next_batch(struct media_local *ml)
{
	struct media_gc *gc = ml->gc;
	gc->batches++;
	struct orphans_req *q = media_req_new(ml, sizeof(*q));
	int st = q ? ml->st->media_orphans(ml->st_inst, gc->before, MEDIA_GC_BATCH, orphans_cb, q)
		   : CHATD_ERR_NOMEM;
	if (st != CHATD_OK) {
		media_req_free(q);
		ml->host->log(ml->h, CHATD_LOG_WARN, "media.gc_failed", "orphans: %s",
			      chatd_strerror(st));
		sweep(ml);
	}
}

void media_gc_run(void *arg)
{
	struct media_local *ml = media_of(arg);
	if (ml->gc)
		return;
	ml->gc = calloc(1, sizeof(*ml->gc));
	if (!ml->gc)
		return;
	ml->gc->before = ml->host->now_ms() - ml->orphan_ttl_ms;
	next_batch(ml);
}
