/* sqlite_ckpt.c — see sqlite_ckpt.h. */
#include "sqlite_ckpt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include "chatd/status.h"

#define CKPT_PAGES 1000        /* wake the checkpointer at ~4 MiB of WAL */
#define CKPT_HARD_PAGES 8192   /* the writer checkpoints itself past ~32 MiB */

struct sqlite_ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db;
	bool wanted, stop;
};

/* Writer thread, after each commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sqlite_ckpt *c = arg;
	if (pages >= CKPT_HARD_PAGES) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&c->mu);
		if (!c->wanted) {
			c->wanted = true;
			pthread_cond_signal(&c->cv);
		}
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
	struct sqlite_ckpt *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->wanted && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->wanted = false;
		pthread_mutex_unlock(&c->mu);
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	/* Leave a short WAL behind for the next start. */
	sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return NULL;
}

int sqlite_ckpt_start(struct sqlite_ckpt **out, sqlite3 *db, sqlite3 *writer_db)
{
	*out = NULL;
	struct sqlite_ckpt *c = calloc(1, sizeof *c);
	if (!c) {
		sqlite3_close_v2(db);
		return CHATD_ERR_NOMEM;
	}
	c->db = db;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		sqlite3_close_v2(db);
		free(c);
		return CHATD_ERR_NOMEM;
	}
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		sqlite3_close_v2(db);
		free(c);
		return CHATD_ERR_INTERNAL;
	}
	/* Replaces the automatic checkpoint (both use the wal hook). */
	sqlite3_wal_hook(writer_db, wal_hook, c);
	*out = c;
	return CHATD_OK;
}

void sqlite_ckpt_stop(struct sqlite_ckpt *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_close_v2(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
