/* cmd_backup.c — `chatctl backup FILE`: a consistent copy of the SQLite
 * store while chatd keeps running, with SQLite's online backup API
 * (sqlite3_backup_step a few pages at a time, pausing between steps so the
 * server's writer is never held up).  Written to FILE.tmp-PID and renamed
 * when complete, so FILE is never half a database. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chatctl.h"
#include "chatd/status.h"
#include "../core/config.h" /* by path: "config.h" alone may find autoconf's */

#define STEP_PAGES_DEFAULT 256
#define PAUSE_MS 5
#define BUSY_WAIT_MS 5000     /* longest wait on a lock before giving up */
#define RESTARTS_BEFORE_ONE_STEP 3

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The database file named by the chatd config; refuses other stores. */
static int source_path(const struct ctl *ctl, char *out, size_t outlen)
{
	struct chatd_config *cfg = ctl_load_chatd_config(ctl);
	if (!cfg)
		return EXIT_RUNTIME;
	int rc = 0;
	chatd_plugin_kind k = cfg_kind_from_name("storage");
	const char *storage = k > 0 ? cfg->plugin_name[k - 1] : NULL;
	if (!storage || strcmp(storage, "sqlite") != 0) {
		fprintf(stderr, "chatctl: backup: plugins.storage is \"%s\" in %s, not sqlite.\n"
			"chatctl: back up PostgreSQL with pg_dump (see docs/operations.md, "
			"Backups and restore).\n", storage ? storage : "(unset)", cfg->path);
		rc = EXIT_RUNTIME;
		goto out;
	}
	const struct cfg_value *v = cfg_section_value(cfg, "storage_sqlite", "path");
	const char *path = v && v->str ? v->str : "chatd.db";
	if (path[0] != '/')
		fprintf(stderr, "chatctl: note: storage_sqlite.path \"%s\" is relative: it is "
			"the server's working directory that counts; reading it from %s (use "
			"--db PATH if the server runs elsewhere)\n", path, "the current directory");
	if ((size_t)snprintf(out, outlen, "%s", path) >= outlen) {
		fprintf(stderr, "chatctl: storage_sqlite.path is too long\n");
		rc = EXIT_RUNTIME;
	}
out:
	cfg_free(cfg);
	return rc;
}

/* Makes the rename durable. */
static void sync_dir_of(const char *file)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", file);
	int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

struct copy_stats {
	int pages;
	int restarts;
	int steps;
};

/* Copies src into dst (both open).  Returns SQLITE_OK or an error code. */
static int copy_db(sqlite3 *dst, sqlite3 *src, int step_pages, struct copy_stats *cs)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		return sqlite3_errcode(dst);
	int rc, last_remaining = -1, pages = step_pages;
	int64_t busy_since = 0;
	for (;;) {
		rc = sqlite3_backup_step(b, pages);
		cs->steps++;
		int remaining = sqlite3_backup_remaining(b);
		/* Each write by the server restarts the copy; if it keeps
		 * happening, finish in one step (a WAL reader never blocks the
		 * writer, so even that does not stop the server). */
		if (last_remaining >= 0 && remaining > last_remaining &&
		    ++cs->restarts >= RESTARTS_BEFORE_ONE_STEP)
			pages = -1;
		last_remaining = remaining;
		if (rc == SQLITE_DONE)
			break;
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			if (!busy_since)
				busy_since = mono_ms();
			if (mono_ms() - busy_since > BUSY_WAIT_MS)
				break;
			sleep_ms(50);
			continue;
		}
		busy_since = 0;
		if (rc != SQLITE_OK)
			break;
		sleep_ms(PAUSE_MS);
	}
	cs->pages = sqlite3_backup_pagecount(b);
	int frc = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		rc = frc;
	return rc;
}

/* PRAGMA quick_check on the copy; 0 when "ok". */
static int check_copy(sqlite3 *db, char *why, size_t whylen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		snprintf(why, whylen, "%s", r ? r : "?");
		rc = r && strcmp(r, "ok") == 0 ? 0 : -1;
	} else {
		snprintf(why, whylen, "%s", sqlite3_errmsg(db));
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

static int run_backup(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0)
		return rc;
	const char *dest = a.pos[0];
	long long step_pages = STEP_PAGES_DEFAULT;
	const char *sp = args_get(&a, "--step-pages");
	if (sp && !args_int(sp, 1, 1000000, &step_pages))
		return ctl_usage_error(self, "--step-pages: 1..1000000");
	char src[PATH_MAX];
	const char *db_flag = args_get(&a, "--db");
	if (db_flag) {
		if (!*db_flag || strlen(db_flag) >= sizeof src)
			return ctl_usage_error(self, "--db needs a file name");
		snprintf(src, sizeof src, "%s", db_flag);
	} else if ((rc = source_path(ctl, src, sizeof src)) != 0) {
		return rc;
	}
	struct stat st;
	if (stat(src, &st) != 0) {
		fprintf(stderr, "chatctl: backup: cannot read the database %s: %s\n", src,
			strerror(errno));
		return EXIT_RUNTIME;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "chatctl: backup: %s is not a regular file\n", src);
		return EXIT_RUNTIME;
	}
	if (!args_has(&a, "--force") && access(dest, F_OK) == 0) {
		fprintf(stderr, "chatctl: backup: %s exists; pass --force to replace it\n", dest);
		return EXIT_RUNTIME;
	}
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid()) >= sizeof tmp)
		return ctl_usage_error(self, "FILE name too long");

	sqlite3 *sdb = NULL, *ddb = NULL;
	rc = EXIT_RUNTIME;
	int64_t t0 = mono_ms();
	/* Read-only: the backup never writes the live database. */
	int sr = sqlite3_open_v2(src, &sdb, SQLITE_OPEN_READONLY, NULL);
	if (sr != SQLITE_OK) {
		fprintf(stderr, "chatctl: backup: cannot open %s: %s\n", src,
			sdb ? sqlite3_errmsg(sdb) : sqlite3_errstr(sr));
		goto out;
	}
	sqlite3_busy_timeout(sdb, BUSY_WAIT_MS);
	int dr = sqlite3_open_v2(tmp, &ddb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (dr != SQLITE_OK) {
		fprintf(stderr, "chatctl: backup: cannot create %s: %s\n", tmp,
			ddb ? sqlite3_errmsg(ddb) : sqlite3_errstr(dr));
		goto out;
	}
	struct copy_stats cs = { 0 };
	int cr = copy_db(ddb, sdb, (int)step_pages, &cs);
	if (cr != SQLITE_OK) {
		fprintf(stderr, "chatctl: backup: copying %s failed: %s\n", src, sqlite3_errstr(cr));
		goto out;
	}
	char why[256];
	if (check_copy(ddb, why, sizeof why) != 0) {
		fprintf(stderr, "chatctl: backup: the copy fails PRAGMA quick_check: %s\n", why);
		goto out;
	}
	if (sqlite3_close(ddb) != SQLITE_OK) {
		fprintf(stderr, "chatctl: backup: cannot close %s\n", tmp);
		ddb = NULL;
		goto out;
	}
	ddb = NULL;
	if (rename(tmp, dest) != 0) {
		fprintf(stderr, "chatctl: backup: cannot rename %s to %s: %s\n", tmp, dest,
			strerror(errno));
		goto out;
	}
	sync_dir_of(dest);
	int64_t took = mono_ms() - t0;
	if (ctl->json) {
		json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:I}", "file", dest, "source", src,
				      "pages", cs.pages, "restarts", cs.restarts, "ms",
				      (json_int_t)took);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(j);
	} else {
		printf("backup of %s written to %s: %d pages in %.1f s (%d restart%s)\n", src,
		       dest, cs.pages, (double)took / 1000.0, cs.restarts,
		       cs.restarts == 1 ? "" : "s");
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
out:
	if (ddb)
		sqlite3_close(ddb);
	if (sdb)
		sqlite3_close(sdb);
	if (rc != 0) {
		unlink(tmp);
		char j[PATH_MAX + 16];
		snprintf(j, sizeof j, "%s-journal", tmp);
		unlink(j);
	}
	return rc;
}

static const struct opt backup_opts[] = {
	{ "--db", 0, OPT_VALUE },
	{ "--force", 0, 0 },
	{ "--step-pages", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static const char usage_backup[] =
	"Usage: chatctl backup FILE [-c chatd.conf] [--db PATH] [--force]\n"
	"\n"
	"Copy the SQLite store into FILE while chatd keeps running (no downtime).\n"
	"It uses SQLite's online backup API: a few pages per step with short pauses,\n"
	"reading only, so the server goes on writing; the copy is a consistent\n"
	"snapshot.  It is written beside FILE and renamed when complete and\n"
	"checked (PRAGMA quick_check), so FILE is never half a database.  Run it\n"
	"on the server's machine, as a user who may read the database files.\n"
	"\n"
	"The database is storage_sqlite.path in the chatd config (-c FILE, else\n"
	"$CHATD_CONF, ./chatd.conf, the system one).  With plugins.storage other\n"
	"than sqlite it refuses: use pg_dump for PostgreSQL.  Restoring is\n"
	"described in docs/operations.md (Backups and restore).\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE  the server's chatd.conf\n"
	"  --db PATH          copy this database file instead of the config's\n"
	"  --force            replace FILE if it exists\n"
	"  --step-pages N     pages per step (default 256)\n"
	"  --json             print {\"file\",\"source\",\"pages\",\"restarts\",\"ms\"}\n"
	"\n"
	"Example:\n"
	"  chatctl backup /var/backups/chatd-$(date +%F).db -c /etc/chatd/chatd.conf\n";

const struct cmd cmd_backup_cmd = {
	.name = "backup", .args = "FILE", .summary = "copy the SQLite store while the server runs",
	.usage = usage_backup, .run = run_backup, .opts = backup_opts,
};
