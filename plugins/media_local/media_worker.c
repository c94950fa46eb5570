/* media_worker.c — the worker thread (see media_worker.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include "media_thumb.h"
#include "media_worker.h"

/* What tasks see of the plugin: refcounted, since a task may run after
 * fini (host.h).  inst is read and cleared on the core thread only. */
struct media_link {
	atomic_int refs;
	void *inst;
};

struct media_worker {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	struct media_link *link;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct media_job *head, *tail;     /* guarded by mu */
	struct media_job *unposted;        /* guarded by mu: see post() */
	bool stopping;                     /* guarded by mu */
};

static void link_unref(struct media_link *l)
{
	if (atomic_fetch_sub(&l->refs, 1) == 1)
		free(l);
}

/* Core thread: a job's completion. */
static void task(void *arg)
{
	struct media_job *j = arg;
	struct media_link *l = j->link;
	j->done(j, l->inst);
	link_unref(l);
}

/* Hand a finished job to the core thread.  post_to_core fails only on
 * OOM: retry while running; once stopping, leave it to stop(). */
static void post(struct media_worker *w, struct media_job *j)
{
	for (;;) {
		if (w->host->post_to_core(w->h, task, j) == CHATD_OK)
			return;
		pthread_mutex_lock(&w->mu);
		bool stopping = w->stopping;
		if (stopping) {
			j->next = w->unposted;
			w->unposted = j;
		}
		pthread_mutex_unlock(&w->mu);
		if (stopping)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

static void *worker_main(void *arg)
{
	struct media_worker *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stopping) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		struct media_job *j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		j->next = NULL;
		j->run(j);
		post(w, j);
	}
	media_thumb_thread_done();
	return NULL;
}

int media_worker_start(const struct chatd_host *host, chatd_plugin_handle *h, void *inst,
		       struct media_worker **out)
{
	struct media_worker *w = calloc(1, sizeof(*w));
	struct media_link *l = calloc(1, sizeof(*l));
	if (!w || !l) {
		free(w);
		free(l);
		return CHATD_ERR_NOMEM;
	}
	atomic_init(&l->refs, 1);
	l->inst = inst;
	w->host = host;
	w->h = h;
	w->link = l;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(l);
		free(w);
		return CHATD_ERR_INTERNAL;
	}
	*out = w;
	return CHATD_OK;
}

int media_worker_submit(struct media_worker *w, struct media_job *j)
{
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		return CHATD_ERR_SHUTDOWN;
	}
	j->next = NULL;
	j->link = w->link;
	atomic_fetch_add(&w->link->refs, 1);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return CHATD_OK;
}

/* Complete jobs that never reached a task, as after fini. */
static void drop_all(struct media_job *j)
{
	while (j) {
		struct media_job *next = j->next;
		struct media_link *l = j->link;
		j->done(j, NULL);
		link_unref(l);
		j = next;
	}
}

void media_worker_stop(struct media_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* The thread is gone: no lock needed any more. */
	drop_all(w->head);
	drop_all(w->unposted);
	w->link->inst = NULL;
	link_unref(w->link);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
