/* storage_bench.c — what the SQLite storage engine alone sustains for chatd.
 *
 * Inserts chat messages with exactly what the storage_sqlite plugin does
 * per send, so the result is the ceiling chatd's persisted sends/s is
 * compared against:
 *   - the same schema (sqlite_schema_apply() of the plugin itself, compiled
 *     in) and the same connection set-up (WAL, synchronous
 *     FULL or NORMAL, foreign_keys=ON, extended result codes, NOMUTEX);
 *   - the same append transaction (sqlite_ops.c append_exec): duplicate
 *     check, membership check, last_seq+1 with RETURNING, message insert
 *     with chatd's derived "m<conv>-<seq>" id, the sender's read cursor, all inside a
 *     SAVEPOINT per request as the writer thread runs it;
 *   - group commit: B requests per BEGIN IMMEDIATE … COMMIT (chatd's
 *     batch_max), spread round-robin over C direct conversations of two
 *     members each (C=1000 matches the 1:1 benchmark's 1000 pairs).
 * Locality matters (DEPENDENCIES.md §4): with many conversations each
 * commit dirties about one page per conversation, so test the real C.
 *
 * The database is a fresh file in a new temp dir under --dir, removed at
 * the end unless --keep.  Set-up (schema, conversations, members) is not
 * timed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "../plugins/storage_sqlite/sqlite_ckpt.h"
#include "../plugins/storage_sqlite/sqlite_ops.h"
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

/* plugins/storage_sqlite/sqlite_ops.c (keep in step). */
enum { S_DUP, S_MEMBER, S_BUMP, S_INSERT, S_ADVANCE, S_CONV, S_MEMBER_ADD, S_COUNT };
static const char *const SQL[S_COUNT] = {
	[S_DUP] = "SELECT seq, message_id, created_at FROM messages "
		  "WHERE conversation_id = ?1 AND sender_id = ?2 AND client_message_id = ?3",
	[S_MEMBER] = "SELECT user_id, role, joined_at, muted_until, last_read_seq FROM members "
		     "WHERE conversation_id = ?1 AND user_id = ?2",
	[S_BUMP] = "UPDATE conversations SET last_seq = last_seq + 1, last_activity = ?2 "
		   "WHERE id = ?1 RETURNING last_seq",
	[S_INSERT] = "INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
		     "client_message_id, text, media_id, reply_to, created_at) "
		     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_ADVANCE] = "UPDATE members SET last_read_seq = MAX(last_read_seq, ?3) "
		      "WHERE conversation_id = ?1 AND user_id = ?2",
	[S_CONV] = "INSERT INTO conversations(id, kind, title, direct_key, created_at, "
		   "last_activity, member_count) VALUES(?1, 'direct', NULL, ?2, ?3, ?3, 2)",
	[S_MEMBER_ADD] = "INSERT INTO members(conversation_id, user_id, role, joined_at) "
			 "VALUES(?1, ?2, 'member', ?3)",
};

struct conv {
	char id[18];                 /* "c" + 16 hex, as make_id() */
	char user[2][24];
	uint64_t sent;               /* per-conversation counter for cmids */
};

struct bench {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	struct conv *convs;
	long n_convs, batch;
	const char *text;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Same id format and source (getrandom) as sqlite_ops.c make_id(). */
static int make_id(char out[18], char prefix)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[8];
	ssize_t n;
	do {
		n = getrandom(b, sizeof b, 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof b)
		return -1;
	out[0] = prefix;
	for (size_t i = 0; i < sizeof b; i++) {
		out[1 + 2 * i] = hex[b[i] >> 4];
		out[2 + 2 * i] = hex[b[i] & 15];
	}
	out[17] = '\0';
	return 0;
}

static int fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "storage_bench: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
	return -1;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(db, sql);
}

/* Step to the end; 0 on SQLITE_DONE. */
static int step_done(struct bench *b, int which)
{
	int rc = sqlite3_step(b->st[which]);
	sqlite3_reset(b->st[which]);
	return rc == SQLITE_DONE ? 0 : fail(b->db, SQL[which]);
}

/* chatd's own schema code (sqlite_schema.c is compiled into this program),
 * so the bench cannot drift from the plugin's tables and indexes. */
static int apply_schema(sqlite3 *db)
{
	int found = 0;
	char err[256];
	if (sqlite_schema_apply(db, &found, err, sizeof err) != 0) {
		fprintf(stderr, "storage_bench: schema: %s\n", err);
		return -1;
	}
	return 0;
}

static int open_db(struct bench *b, const char *path, bool sync_full)
{
	if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return fail(b->db, "open");
	sqlite3_extended_result_codes(b->db, 1);
	sqlite3_busy_timeout(b->db, 5000);
	sqlite3_stmt *q = NULL;
	bool wal = false;
	if (sqlite3_prepare_v2(b->db, "PRAGMA journal_mode=WAL", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		const unsigned char *m = sqlite3_column_text(q, 0);
		wal = m && strcmp((const char *)m, "wal") == 0;
	}
	sqlite3_finalize(q);
	if (!wal)
		return fail(b->db, "journal_mode=WAL");
	if (exec(b->db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") < 0 ||
	    exec(b->db, "PRAGMA foreign_keys=ON") < 0 || apply_schema(b->db) < 0)
		return -1;
	for (int i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(b->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &b->st[i],
				       NULL) != SQLITE_OK)
			return fail(b->db, SQL[i]);
	return 0;
}

/* C direct conversations of two members each, in one transaction. */
static int populate(struct bench *b)
{
	int64_t ts = wall_ms();
	if (exec(b->db, "BEGIN IMMEDIATE") < 0)
		return -1;
	for (long i = 0; i < b->n_convs; i++) {
		struct conv *c = &b->convs[i];
		char key[sizeof c->user[0] * 2 + 1];
		if (make_id(c->id, 'c') < 0)
			return fail(NULL, "getrandom");
		snprintf(c->user[0], sizeof c->user[0], "ua%07ld", i);
		snprintf(c->user[1], sizeof c->user[1], "ub%07ld", i);
		snprintf(key, sizeof key, "%s\n%s", c->user[0], c->user[1]);
		sqlite3_stmt *s = b->st[S_CONV];
		sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, ts);
		if (step_done(b, S_CONV) < 0)
			return -1;
		for (int u = 0; u < 2; u++) {
			s = b->st[S_MEMBER_ADD];
			sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, c->user[u], -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 3, ts);
			if (step_done(b, S_MEMBER_ADD) < 0)
				return -1;
		}
	}
	return exec(b->db, "COMMIT");
}

/* One send, as append_exec() runs it inside the writer's savepoint. */
static int append(struct bench *b, struct conv *c)
{
	const char *sender = c->user[c->sent & 1];
	char cmid[32], mid[48];
	snprintf(cmid, sizeof cmid, "cm-%" PRIu64, c->sent++);
	int64_t ts = wall_ms();
	sqlite3_stmt *s;
	if (exec(b->db, "SAVEPOINT req") < 0)
		return -1;

	s = b->st[S_DUP];
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, cmid, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) /* every cmid is new: a row is a bug */
		return fail(b->db, rc == SQLITE_ROW ? "unexpected duplicate" : "duplicate check");

	s = b->st[S_MEMBER];
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return fail(b->db, "membership check");

	s = b->st[S_BUMP];
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, ts);
	rc = sqlite3_step(s);
	int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return fail(b->db, "last_seq bump");

	/* As chatd: the message id is derived from (conversation, seq). */
	snprintf(mid, sizeof mid, "m%s-%lld", c->id + 1, (long long)seq);
	s = b->st[S_INSERT];
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_text(s, 3, mid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, cmid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, b->text, -1, SQLITE_STATIC);
	sqlite3_bind_null(s, 7);
	sqlite3_bind_int64(s, 8, 0);
	sqlite3_bind_int64(s, 9, ts);
	if (step_done(b, S_INSERT) < 0)
		return -1;

	s = b->st[S_ADVANCE];
	sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, seq);
	if (step_done(b, S_ADVANCE) < 0)
		return -1;
	return exec(b->db, "RELEASE req");
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void usage(FILE *to, const char *prog)
{
	fprintf(to,
		"usage: %s [options]\n"
		"Insert chat messages the way chatd's storage_sqlite plugin does and report\n"
		"rows/s and commits/s.\n"
		"  --batch B          rows per transaction, 1..10000 (default 256)\n"
		"  --convs C          conversations, round-robin, 1..1000000 (default 1000)\n"
		"  --duration S       run S seconds, 1..86400 (default 10)\n"
		"  --rows N           run N rows instead, 1..1000000000\n"
		"  --synchronous M    normal | full (default full)\n"
		"  --text-bytes T     message text length, 1..65536 (default 100)\n"
		"  --dir D            parent of the temp dir for the database (default $TMPDIR or /tmp)\n"
		"  --keep             keep the database (its path is printed)\n"
		"  --json             one JSON object on stdout\n"
		"  --help             this text\n", prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batch", required_argument, NULL, 'b' }, { "convs", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' }, { "rows", required_argument, NULL, 'r' },
		{ "synchronous", required_argument, NULL, 's' },
		{ "text-bytes", required_argument, NULL, 't' }, { "dir", required_argument, NULL, 'D' },
		{ "keep", no_argument, NULL, 'k' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	long batch = 256, convs = 1000, duration = 10, rows = 0, text_bytes = 100;
	bool sync_full = true, keep = false, json = false;
	const char *parent = getenv("TMPDIR");
	if (!parent || !*parent)
		parent = "/tmp";
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool ok = true;
		switch (o) {
		case 'b': ok = parse_long(optarg, 1, 10000, &batch); break;
		case 'c': ok = parse_long(optarg, 1, 1000000, &convs); break;
		case 'd': ok = parse_long(optarg, 1, 86400, &duration); break;
		case 'r': ok = parse_long(optarg, 1, 1000000000, &rows); break;
		case 't': ok = parse_long(optarg, 1, 65536, &text_bytes); break;
		case 's':
			ok = strcmp(optarg, "full") == 0 || strcmp(optarg, "normal") == 0;
			sync_full = ok && strcmp(optarg, "full") == 0;
			break;
		case 'D': ok = *optarg != '\0'; parent = optarg; break;
		case 'k': keep = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
		if (!ok) {
			const char *name = "?";
			for (const struct option *op = opts; op->name; op++)
				if (op->val == o)
					name = op->name;
			fprintf(stderr, "storage_bench: bad value '%s' for --%s\n", optarg, name);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}

	char dir[4096], path[4200];
	if (snprintf(dir, sizeof dir, "%s/storage_bench.XXXXXX", parent) >= (int)sizeof dir) {
		fprintf(stderr, "storage_bench: --dir too long\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		fprintf(stderr, "storage_bench: mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/chatd.db", dir);

	struct bench b = { .n_convs = convs, .batch = batch };
	char *text = malloc((size_t)text_bytes + 1);
	b.convs = calloc((size_t)convs, sizeof *b.convs);
	int status = 1;
	if (!text || !b.convs) {
		fprintf(stderr, "storage_bench: out of memory\n");
		goto out;
	}
	for (long i = 0; i < text_bytes; i++)
		text[i] = (char)('a' + i % 26);
	text[text_bytes] = '\0';
	b.text = text;
	if (open_db(&b, path, sync_full) < 0 || populate(&b) < 0)
		goto out;
	/* Checkpoints off the writer's path, as chatd's storage_sqlite does
	 * (sqlite_ckpt.c is compiled into this program). */
	struct sqlite_ckpt *ckpt = NULL;
	sqlite3 *cdb = NULL;
	if (sqlite3_open_v2(path, &cdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite_ckpt_start(&ckpt, cdb, b.db) < 0) {
		fprintf(stderr, "storage_bench: cannot start the checkpointer\n");
		goto out;
	}

	uint64_t done = 0, commits = 0;
	long next = 0;
	int64_t t0 = now_ns(), limit = duration * 1000000000LL, t1 = t0;
	bool failed = false;
	while (!failed && (rows ? done < (uint64_t)rows : t1 - t0 < limit)) {
		if (exec(b.db, "BEGIN IMMEDIATE") < 0)
			break;
		for (long i = 0; i < batch && (!rows || done < (uint64_t)rows); i++, done++) {
			if (append(&b, &b.convs[next]) < 0) {
				failed = true;
				break;
			}
			next = (next + 1) % convs;
		}
		if (failed || exec(b.db, "COMMIT") < 0) {
			failed = true;
			break;
		}
		commits++;
		t1 = now_ns();
	}
	sqlite_ckpt_stop(ckpt);
	if (failed)
		goto out;
	double secs = (double)(t1 - t0) / 1e9;
	struct stat sb, sw;
	char walp[4300];
	snprintf(walp, sizeof walp, "%s-wal", path);
	long long db_bytes = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
	long long wal_bytes = stat(walp, &sw) == 0 ? (long long)sw.st_size : -1;
	if (json)
		printf("{\"sqlite\":\"%s\",\"synchronous\":\"%s\",\"batch\":%ld,\"convs\":%ld,"
		       "\"text_bytes\":%ld,\"rows\":%" PRIu64 ",\"commits\":%" PRIu64 ","
		       "\"seconds\":%.3f,\"rows_per_s\":%.0f,\"commits_per_s\":%.1f,"
		       "\"db_bytes\":%lld,\"wal_bytes\":%lld}\n",
		       sqlite3_libversion(), sync_full ? "full" : "normal", batch, convs, text_bytes,
		       done, commits, secs, (double)done / secs, (double)commits / secs, db_bytes,
		       wal_bytes);
	else
		printf("sqlite %s synchronous=%s batch=%ld convs=%ld text=%ldB: %" PRIu64
		       " rows, %" PRIu64 " commits in %.2f s = %.0f rows/s, %.1f commits/s\n",
		       sqlite3_libversion(), sync_full ? "full" : "normal", batch, convs, text_bytes,
		       done, commits, secs, (double)done / secs, (double)commits / secs);
	status = 0;
out:
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(b.st[i]);
	if (b.db && sqlite3_close(b.db) != SQLITE_OK)
		fail(b.db, "close");
	free(b.convs);
	free(text);
	if (keep) {
		fprintf(stderr, "storage_bench: kept %s\n", path);
	} else {
		static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
		for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
			char p[4300];
			snprintf(p, sizeof p, "%s%s", path, sfx[i]);
			if (unlink(p) < 0 && errno != ENOENT)
				fprintf(stderr, "storage_bench: unlink %s: %s\n", p, strerror(errno));
		}
		if (rmdir(dir) < 0)
			fprintf(stderr, "storage_bench: rmdir %s: %s\n", dir, strerror(errno));
	}
	return status;
}
