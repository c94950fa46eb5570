/* search_bench.c — search latency (p50/p99) of the sqlite storage plugin
 * (or, with -p DSN, of storage_pg: search_bench_pg.c) over a large store.
 *
 * Builds (untimed) a store of the plugin's own schema (sqlite_schema_apply,
 * so the FTS5 index and its triggers are the plugin's) with N messages
 * (default 1,000,000) over 1000 groups of 10 members among 1000 users
 * (every user in 10 groups, so a user sees 1% of the messages); each text
 * is 8 words drawn from 20,000 with a skewed (Zipf-like) frequency.  Then
 * times the plugin's very search query (sqlite_sql_search, the expression
 * from the core's parser and the plugin's translator) for classes of
 * queries, each Q times for rotating users, limit 20, first page, reading
 * every column as the plugin does.  Each class is run R times; the report
 * gives each run's p50/p99 and their medians.
 *
 * -d PATH reuses (or keeps) a store so that several invocations time the
 * same data; -p DSN builds and times it in that PostgreSQL database instead
 * (reused when it holds messages). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "../core/search_query.h"
#include "../plugins/storage_sqlite/sqlite_ops.h"
#include "search_bench.h"

#define CONVS SB_CONVS
#define USERS SB_USERS
#define PER_CONV SB_PER_CONV
#define VOCAB 20000
#define WORDS_PER_MSG SB_WORDS_PER_MSG

static const char *const CONS = "bcdfghjklmnprstvwxyz";   /* 20 */
static const char *const VOWS = "aeiou";                   /* 5 */

/* Word k: two or three consonant-vowel syllables ("baxo", "cebazu"). */
static void word(int k, char *out)
{
	int n = 0;
	for (int i = 0, v = k; i < 3 && (i < 2 || v > 0); i++, v /= 100) {
		out[n++] = CONS[(v % 100) / 5];
		out[n++] = VOWS[(v % 100) % 5];
	}
	out[n] = '\0';
}

static uint64_t rng = 88172645463325252ull;
static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

void sb_message(long i, char conv[16], long *seq, char user[16], char text[SB_TEXT_MAX])
{
	int k = (int)(i % CONVS);
	char w[8];
	*seq = i / CONVS + 1;
	snprintf(conv, 16, "g%04d", k);
	snprintf(user, 16, "u%d", (k * PER_CONV + (int)(i % PER_CONV)) % USERS);
	text[0] = '\0';
	for (int t = 0; t < WORDS_PER_MSG; t++) {
		word((int)(VOCAB * pow(uniform(), 3.0)), w);
		strcat(text, t ? " " : "");
		strcat(text, w);
	}
}

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "search_bench: %s: %s\n", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int build(sqlite3 *db, long n)
{
	int found;
	char err[256];
	if (sqlite_schema_apply(db, &found, err, sizeof err) != CHATD_OK) {
		fprintf(stderr, "search_bench: schema: %s\n", err);
		return -1;
	}
	if (exec(db, "BEGIN") < 0)
		return -1;
	sqlite3_stmt *c = NULL, *m = NULL, *msg = NULL;
	sqlite3_prepare_v2(db, "INSERT INTO conversations(id, kind, title, created_at, last_seq, "
			   "last_activity, member_count) VALUES (?1, 'group', 'g', 1, ?2, 1, 10)",
			   -1, &c, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO members(conversation_id, user_id, role, joined_at) "
			   "VALUES (?1, ?2, 'member', 1)", -1, &m, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
			   "client_message_id, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			   -1, &msg, NULL);
	if (!c || !m || !msg)
		return -1;
	char id[16], user[16], mid[48], text[SB_TEXT_MAX];
	for (int k = 0; k < CONVS; k++) {
		snprintf(id, sizeof id, "g%04d", k);
		sqlite3_bind_text(c, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(c, 2, n / CONVS + (k < n % CONVS));
		sqlite3_step(c);
		sqlite3_reset(c);
		for (int j = 0; j < PER_CONV; j++) {
			snprintf(user, sizeof user, "u%d", (k * PER_CONV + j) % USERS);
			sqlite3_bind_text(m, 1, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(m, 2, user, -1, SQLITE_TRANSIENT);
			sqlite3_step(m);
			sqlite3_reset(m);
		}
	}
	for (long i = 0; i < n; i++) {
		long seq;
		sb_message(i, id, &seq, user, text);
		snprintf(mid, sizeof mid, "m%s-%ld", id, seq);
		sqlite3_bind_text(msg, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(msg, 2, seq);
		sqlite3_bind_text(msg, 3, mid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(msg, 4, user, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(msg, 5, mid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(msg, 6, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(msg, 7, 1000 + i);
		if (sqlite3_step(msg) != SQLITE_DONE) {
			fprintf(stderr, "search_bench: insert: %s\n", sqlite3_errmsg(db));
			return -1;
		}
		sqlite3_reset(msg);
		if (i % 50000 == 49999 && (exec(db, "COMMIT") < 0 || exec(db, "BEGIN") < 0))
			return -1;
	}
	sqlite3_finalize(c);
	sqlite3_finalize(m);
	sqlite3_finalize(msg);
	return exec(db, "COMMIT");
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One timed search; returns the hits, -1 on error. */
static int one(sqlite3_stmt *st, const char *expr, const char *viewer)
{
	sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, 21);
	sqlite3_bind_int64(st, 3, INT64_MAX);
	sqlite3_bind_text(st, 4, viewer, -1, SQLITE_STATIC);
	sqlite3_bind_null(st, 5);
	int rc, hits = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++)
			(void)sqlite3_column_text(st, i);
		hits++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? hits : -1;
}

int main(int argc, char **argv)
{
	long n = 1000000;
	int queries = 200, runs = 5;
	const char *path = NULL, *dsn = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "n:q:r:d:p:")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'q')
			queries = atoi(optarg);
		else if (opt == 'r')
			runs = atoi(optarg);
		else if (opt == 'd')
			path = optarg;
		else if (opt == 'p')
			dsn = optarg;
		else {
			fprintf(stderr, "usage: search_bench [-n messages] [-q queries] [-r runs] "
				"[-d db-path (reused when it exists) | -p postgres-dsn (storage_pg; "
				"reused when it holds messages)]\n");
			return 2;
		}
	}
	if (n < CONVS || queries < 1 || runs < 1 || runs > 99)
		return 2;
	char tmp[] = "/tmp/search_bench.XXXXXX.db";
	double build_s = 0;
	long long total = 0;
	sqlite3 *db = NULL;
	struct sb_pg *pgp = NULL;
	if (dsn) {
		if (!(pgp = sb_pg_open(dsn, n, &build_s, &total)))
			return 1;
	} else {
		if (!path) {
			int fd = mkstemps(tmp, 3);
			if (fd < 0)
				return 1;
			close(fd);
			unlink(tmp);
			path = tmp;
		}
		bool fresh = access(path, F_OK) != 0;
		if (sqlite3_open(path, &db) != SQLITE_OK)
			return 1;
		exec(db, "PRAGMA journal_mode=WAL");
		exec(db, "PRAGMA synchronous=OFF");
		if (fresh) {
			double t0 = now_ms();
			if (build(db, n) < 0)
				return 1;
			build_s = (now_ms() - t0) / 1e3;
			fprintf(stderr, "search_bench: built %ld messages in %.1f s\n", n, build_s);
		}
		sqlite3_stmt *cnt = NULL;
		sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM search_rows", -1, &cnt, NULL);
		if (cnt && sqlite3_step(cnt) == SQLITE_ROW)
			total = sqlite3_column_int64(cnt, 0);
		sqlite3_finalize(cnt);
	}

	char w0[8], w1[8], wmid[8], wrare[8], wpre[8], q[7][64];
	word(0, w0);
	word(1, w1);
	word(200, wmid);
	word(15000, wrare);
	word(5, wpre);
	wpre[2] = '\0';
	snprintf(q[0], 64, "%s", w0);
	snprintf(q[1], 64, "%s", wmid);
	snprintf(q[2], 64, "%s", wrare);
	snprintf(q[3], 64, "%s %s", w0, w1);
	snprintf(q[4], 64, "\"%s %s\"", w0, w1);
	snprintf(q[5], 64, "%s*", wpre);
	snprintf(q[6], 64, "%s", w0);
	const char *names[7] = { "common word", "medium word", "rare word", "two words",
				 "phrase", "prefix (2 letters)", "common word, no member" };
	sqlite3_stmt *st = NULL;
	if (db && sqlite3_prepare_v2(db, sqlite_sql_search, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "search_bench: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	printf("{\"store\": \"%s\", \"messages\": %lld, \"build_s\": %.1f, \"runs\": %d, "
	       "\"queries_per_run\": %d, \"classes\": [\n", pgp ? "pg" : "sqlite", total, build_s,
	       runs, queries);
	for (int k = 0; k < 7; k++) {
		struct search_query sq;
		char err[128], expr[1024];
		if (search_query_parse(q[k], strlen(q[k]), &sq, err, sizeof err) < 0 ||
		    (db && sqlite_search_expr(sq.terms, sq.n_terms, expr, sizeof expr) < 0))
			return 1;
		int nq = k == 6 && queries > 20 ? 20 : queries;   /* the slow worst case */
		double p50[99], p99[99], hits = 0;
		double *lat = calloc((size_t)nq, sizeof *lat);
		if (!lat)
			return 1;
		for (int r = 0; r < runs; r++) {
			for (int i = 0; i < nq; i++) {
				char viewer[32];
				snprintf(viewer, sizeof viewer, k == 6 ? "nobody%d" : "u%d",
					 (i * 37 + r) % USERS);
				double t0 = now_ms();
				int h = pgp ? sb_pg_search(pgp, &sq, viewer) : one(st, expr, viewer);
				lat[i] = now_ms() - t0;
				if (h < 0) {
					if (db)
						fprintf(stderr, "search_bench: %s\n", sqlite3_errmsg(db));
					return 1;
				}
				hits += h;
			}
			qsort(lat, (size_t)nq, sizeof *lat, cmp_d);
			p50[r] = lat[nq / 2];
			p99[r] = lat[(nq * 99) / 100 >= nq ? nq - 1 : (nq * 99) / 100];
		}
		free(lat);
		double m50[99], m99[99];
		memcpy(m50, p50, sizeof(double) * (size_t)runs);
		memcpy(m99, p99, sizeof(double) * (size_t)runs);
		qsort(m50, (size_t)runs, sizeof(double), cmp_d);
		qsort(m99, (size_t)runs, sizeof(double), cmp_d);
		printf("  {\"class\": \"%s\", \"query\": \"%s\", \"queries\": %d, "
		       "\"mean_hits\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"runs_p50\": [",
		       names[k], k == 4 ? "\\\"baba beba\\\"" : q[k], nq, hits / (nq * runs),
		       m50[runs / 2], m99[runs / 2]);
		for (int r = 0; r < runs; r++)
			printf("%s%.3f", r ? ", " : "", p50[r]);
		printf("], \"runs_p99\": [");
		for (int r = 0; r < runs; r++)
			printf("%s%.3f", r ? ", " : "", p99[r]);
		printf("]}%s\n", k < 6 ? "," : "");
	}
	printf("]}\n");
	sb_pg_close(pgp);
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (path == tmp) {
		unlink(tmp);
		char side[sizeof tmp + 8];
		snprintf(side, sizeof side, "%s-wal", tmp);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", tmp);
		unlink(side);
	}
	return 0;
}
