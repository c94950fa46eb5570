/* media_reseal.c — the background re-encryption of media (decision 61),
 * the last step of every GC run while encryption is active: up to
 * MEDIA_RESEAL_BATCH content and thumbnail files whose key is not the
 * active one (sealed under an older key, or plaintext from before
 * encryption) are sealed again with the active key, in place and
 * atomically (the host writes a new file, fsyncs it and renames it over
 * the old one).  A pass over the whole directory that finds nothing to do
 * is not repeated: every file written from then on is sealed with the
 * active key, which cannot change while the process runs.
 *
 * The walk also removes temporary files of seals that never finished
 * (a crash between writing and renaming) once they are an hour old.
 *
 * Runs on the worker, like every other file operation, so it never races
 * an upload's placing or GC's removals; a download that opened the old
 * file keeps reading it. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "media_local.h"

#define MEDIA_SEAL_STALE_MS (3600 * 1000)

struct reseal_job {
	struct media_job j;
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	char dir[PATH_MAX];
	char active[64];
	int64_t now_ms;
	int done, failed, stale;
	bool complete;                       /* walked everything, nothing left */
};

static bool hex2(const char *s)
{
	for (int i = 0; i < 2; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[2] == '\0';
}

/* A content ("<64 hex>") or thumbnail ("<64 hex>.thumb") name. */
static bool media_name(const char *s)
{
	size_t n = strlen(s);
	if (n != MEDIA_HASH_HEX && !(n == MEDIA_HASH_HEX + 6 &&
				     strcmp(s + MEDIA_HASH_HEX, ".thumb") == 0))
		return false;
	for (size_t i = 0; i < MEDIA_HASH_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* One file: false once the batch is full. */
static bool reseal_one(struct reseal_job *r, const char *path, bool *left)
{
	char kid[ENC_KEY_ID_MAX_PLUGIN + 1];
	int st = r->host->file_key_id(r->h, path, kid, sizeof(kid));
	if (st == CHATD_OK && strcmp(kid, r->active) == 0)
		return true;
	if (st != CHATD_OK && st != CHATD_ERR_NOT_FOUND) {
		/* Malformed or unreadable: leave it (a download reports it). */
		r->failed++;
		return true;
	}
	if (r->done >= MEDIA_RESEAL_BATCH) {
		*left = true;
		return false;
	}
	if (r->host->file_seal(r->h, path, path) == CHATD_OK)
		r->done++;
	else
		r->failed++;
	return true;
}

/* A temporary file of a seal that never finished (the process died
 * between writing and renaming it: "<name>.<16 hex>.seal", core/file_crypt.c)
 * older than an hour: removed.  True when it was one (and went). */
static bool stale_seal(const char *sub, const char *name, int64_t now_ms)
{
	char path[PATH_MAX];
	struct stat st;
	size_t n = strlen(name);
	if (n < 5 + 17 || strcmp(name + n - 5, ".seal") != 0 ||
	    snprintf(path, sizeof(path), "%s/%s", sub, name) >= (int)sizeof(path) ||
	    lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return mtime < now_ms - MEDIA_SEAL_STALE_MS && unlink(path) == 0;
}

static void reseal_run(struct media_job *j)
{
	struct reseal_job *r = (struct reseal_job *)j;
	bool left = false;
	DIR *top = opendir(r->dir);
	if (!top)
		return;
	struct dirent *e;
	while (!left && (e = readdir(top))) {
		char sub[PATH_MAX];
		if (!hex2(e->d_name) ||
		    snprintf(sub, sizeof(sub), "%s/%s", r->dir, e->d_name) >= (int)sizeof(sub))
			continue;
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *f;
		while (!left && (f = readdir(d))) {
			char path[PATH_MAX];
			if (stale_seal(sub, f->d_name, r->now_ms)) {
				r->stale++;
				continue;
			}
			if (!media_name(f->d_name) ||
			    snprintf(path, sizeof(path), "%s/%s", sub, f->d_name) >= (int)sizeof(path) ||
			    !media_store_exists(path))
				continue;
			if (!reseal_one(r, path, &left))
				break;
		}
		closedir(d);
	}
	closedir(top);
	r->complete = !left && r->done == 0 && r->failed == 0;
}

static void reseal_done(struct media_job *j, void *inst)
{
	struct reseal_job *r = (struct reseal_job *)j;
	struct media_local *ml = inst;
	if (ml) {
		ml->host->metric_add(ml->h, ml->m_resealed, r->done);
		if (r->done || r->failed || r->stale)
			ml->host->log(ml->h, r->failed ? CHATD_LOG_WARN : CHATD_LOG_INFO,
				      "media.resealed", "re-encrypted %d files with key %s%s; removed "
				      "%d unfinished seals", r->done, r->active,
				      r->failed ? "; some could not be (see above)" : "", r->stale);
		if (r->complete)
			ml->reseal_complete = true;
		if (ml->gc)
			media_gc_finish(ml);
	}
	free(r);
}

bool media_reseal_start(struct media_local *ml)
{
	const char *active = ml->host->file_seal_key(ml->h);
	if (!active || ml->reseal_complete)
		return false;
	struct reseal_job *r = calloc(1, sizeof(*r));
	if (!r)
		return false;
	r->j.run = reseal_run;
	r->j.done = reseal_done;
	r->host = ml->host;
	r->h = ml->h;
	snprintf(r->dir, sizeof(r->dir), "%s", ml->dir);
	snprintf(r->active, sizeof(r->active), "%s", active);
	r->now_ms = ml->host->now_ms();
	if (media_worker_submit(ml->worker, &r->j) != CHATD_OK) {
		free(r);
		return false;
	}
	return true;
}
