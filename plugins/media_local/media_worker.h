/* media_worker.h — media_local's worker thread: file work (hashing,
 * checks, renames, thumbnails, removals) off the core thread.
 *
 * A job runs on the worker, then its `done` runs on the core thread
 * through host->post_to_core (the only host call the worker makes).  A
 * task the host runs after fini (host.h) finds the plugin stopped: `done`
 * then gets inst NULL and must only free the job.  The worker never
 * touches the plugin's instance. */
#ifndef MEDIA_WORKER_H
#define MEDIA_WORKER_H

#include "chatd/host.h"

struct media_link;

struct media_job {
	struct media_job *next;
	struct media_link *link;          /* set by submit */
	/* Worker thread: do the work, keep the result in the job. */
	void (*run)(struct media_job *j);
	/* Core thread, exactly once: use the result (inst non-NULL while the
	 * plugin runs) and free the job. */
	void (*done)(struct media_job *j, void *inst);
};

struct media_worker;

/* Core thread (init).  inst is what `done` gets.  CHATD_OK or an error. */
int media_worker_start(const struct chatd_host *host, chatd_plugin_handle *h, void *inst,
		       struct media_worker **out);
/* Core thread.  Queue j (ownership passes): CHATD_OK; CHATD_ERR_SHUTDOWN
 * once stopping (j stays the caller's). */
int media_worker_submit(struct media_worker *w, struct media_job *j);
/* Core thread (fini).  Waits for the job running, if any, then stops the
 * thread; queued jobs get done(j, NULL) now, finished ones whose task has
 * not run yet get it when it runs.  Frees w. */
void media_worker_stop(struct media_worker *w);

#endif
