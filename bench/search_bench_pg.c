/* search_bench_pg.c — search_bench's store and queries on storage_pg: the
 * plugin's schema (pg_schema_apply: the tsvector column, its trigger and
 * GIN index, chatd_search), its term parameters (pg_search_terms) and its
 * prepared statement (PG_SEARCH), on one database (one shard). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>
#include "search_bench.h"
#include "../plugins/storage_pg/pg_ops.h"
#include "../plugins/storage_pg/pg_sql.h"

struct sb_pg {
	PGconn *pg;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "search_bench: %.60s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static long long count(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	long long n = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
		? atoll(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	return n;
}

/* Conversations and members as search_bench.c's SQLite store has them;
 * messages through COPY (the trigger indexes each row). */
static int build(PGconn *pg, long n)
{
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT INTO conversations(id, kind, title, created_at, last_seq, last_activity, "
		 "member_count) SELECT 'g' || lpad(k::text, 4, '0'), 'group', 'g', 1, "
		 "%ld + (k < %ld)::int, 1, %d FROM generate_series(0, %d) k",
		 n / SB_CONVS, n % SB_CONVS, SB_PER_CONV, SB_CONVS - 1);
	if (run(pg, sql) < 0)
		return -1;
	snprintf(sql, sizeof sql,
		 "INSERT INTO members(conversation_id, user_id, role, joined_at) "
		 "SELECT 'g' || lpad(k::text, 4, '0'), 'u' || ((k * %d + j) %% %d), 'member', 1 "
		 "FROM generate_series(0, %d) k, generate_series(0, %d) j",
		 SB_PER_CONV, SB_USERS, SB_CONVS - 1, SB_PER_CONV - 1);
	if (run(pg, sql) < 0)
		return -1;
	PGresult *r = PQexec(pg, "COPY messages(conversation_id, seq, message_id, sender_id, "
			     "client_message_id, text, created_at) FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "search_bench: COPY: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	char conv[16], user[16], text[SB_TEXT_MAX], line[256];
	for (long i = 0; i < n; i++) {
		long seq;
		sb_message(i, conv, &seq, user, text);
		/* Only letters, digits and spaces: nothing to escape. */
		int len = snprintf(line, sizeof line, "%s\t%ld\tm%s-%ld\t%s\tm%s-%ld\t%s\t%ld\n",
				   conv, seq, conv, seq, user, conv, seq, text, 1000 + i);
		if (PQputCopyData(pg, line, len) != 1) {
			fprintf(stderr, "search_bench: COPY: %s", PQerrorMessage(pg));
			return -1;
		}
	}
	if (PQputCopyEnd(pg, NULL) != 1)
		return -1;
	r = PQgetResult(pg);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "search_bench: COPY: %s", PQresultErrorMessage(r));
	PQclear(r);
	while ((r = PQgetResult(pg)))
		PQclear(r);
	return ok ? run(pg, "VACUUM ANALYZE") : -1;
}

struct sb_pg *sb_pg_open(const char *dsn, long n, double *build_s, long long *total)
{
	struct sb_pg *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->pg = PQconnectdb(dsn);
	if (PQstatus(p->pg) != CONNECTION_OK) {
		fprintf(stderr, "search_bench: %s", PQerrorMessage(p->pg));
		sb_pg_close(p);
		return NULL;
	}
	int found;
	char err[512];
	if (pg_schema_apply(p->pg, true, PG_SCHEMA_VERSION, &found, err, sizeof err) != CHATD_OK) {
		fprintf(stderr, "search_bench: schema: %s\n", err);
		sb_pg_close(p);
		return NULL;
	}
	*build_s = 0;
	if (count(p->pg, "SELECT count(*) FROM messages") == 0) {
		double t0 = now_s();
		if (build(p->pg, n) < 0) {
			sb_pg_close(p);
			return NULL;
		}
		*build_s = now_s() - t0;
		fprintf(stderr, "search_bench: built %ld messages in %.1f s\n", n, *build_s);
	}
	*total = count(p->pg, "SELECT count(*) FROM messages WHERE search_doc IS NOT NULL");
	PGresult *r = PQprepare(p->pg, "search", pg_stmt_sql(PG_SEARCH), 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "search_bench: prepare: %s", PQresultErrorMessage(r));
		PQclear(r);
		sb_pg_close(p);
		return NULL;
	}
	PQclear(r);
	return p;
}

int sb_pg_search(struct sb_pg *p, const struct search_query *sq, const char *viewer)
{
	char terms[PG_SEARCH_TERMS_LIT], prefix[PG_SEARCH_PREFIX_LIT], ts[24];
	if (pg_search_terms(sq->terms, sq->n_terms, terms, sizeof terms, prefix,
			    sizeof prefix) < 0)
		return -1;
	snprintf(ts, sizeof ts, "%lld", (long long)INT64_MAX);
	const char *params[7] = { viewer, NULL, terms, prefix, ts, "0", "20" };
	PGresult *r = PQexecPrepared(p->pg, "search", 7, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "search_bench: search: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	int rows = PQntuples(r);
	size_t bytes = 0;
	for (int i = 0; i < rows; i++)
		for (int c = 0; c < PQnfields(r); c++)
			bytes += strlen(PQgetvalue(r, i, c));
	(void)bytes;
	PQclear(r);
	return rows;
}

void sb_pg_close(struct sb_pg *p)
{
	if (!p)
		return;
	PQfinish(p->pg);
	free(p);
}
