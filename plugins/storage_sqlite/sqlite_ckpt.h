/* sqlite_ckpt.h — WAL checkpoints off the writer's path.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses the
 * threshold, so one send in ~1000 pages pays for copying the whole WAL
 * into the database (measured: throughput +25 % and a shorter latency
 * tail when checkpoints move away).  Here the writer's connection only
 * counts WAL pages (sqlite3_wal_hook) and wakes a checkpointer thread with
 * its own connection, which runs PASSIVE checkpoints — they never block
 * the writer or readers.  Under sustained writes a checkpoint never sees
 * the WAL's end (the writer keeps appending), so the WAL cannot restart:
 * past a hard limit the writer checkpoints itself, cheaply, since the
 * checkpointer has already copied nearly every frame.  That bounds the WAL
 * at ~32 MiB.
 *
 * One more checkpoint runs elsewhere: after a purge_deleted that erased
 * content, the writer runs a TRUNCATE checkpoint (sqlite_worker.c).  It
 * cannot overlap a checkpoint of this thread (SQLite's checkpoint lock
 * refuses it at once), so the writer retries it for a while. */
#ifndef SQLITE_CKPT_H
#define SQLITE_CKPT_H

#include <sqlite3.h>

struct sqlite_ckpt;

/* Start the thread on `db` (ownership passes; closed at stop) and install
 * the hook on `writer_db`.  Returns CHATD_OK or an error (db then closed). */
int sqlite_ckpt_start(struct sqlite_ckpt **out, sqlite3 *db, sqlite3 *writer_db);
/* Run a last checkpoint, join, close.  NULL is fine. */
void sqlite_ckpt_stop(struct sqlite_ckpt *c);

#endif
