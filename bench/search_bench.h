/* search_bench.h — what search_bench.c (the store, SQLite timing) and
 * search_bench_pg.c (the same store and queries on storage_pg) share. */
#ifndef SEARCH_BENCH_H
#define SEARCH_BENCH_H

#include <stddef.h>
#include "../core/search_query.h"

#define SB_CONVS 1000
#define SB_USERS 1000
#define SB_PER_CONV 10
#define SB_WORDS_PER_MSG 8
#define SB_TEXT_MAX (SB_WORDS_PER_MSG * 8)

/* Message i of n: its conversation ("g%04d"), seq, sender ("u%d") and text
 * (8 words drawn from the skewed vocabulary: call in order of i). */
void sb_message(long i, char conv[16], long *seq, char user[16], char text[SB_TEXT_MAX]);

/* storage_pg (search_bench_pg.c).  Open the database of `dsn`, apply
 * storage_pg's schema and, when it holds no message, build the store of n
 * messages (*build_s: seconds, 0 when reused); *total: messages indexed.
 * Returns an opaque handle, NULL after printing why. */
struct sb_pg;
struct sb_pg *sb_pg_open(const char *dsn, long n, double *build_s, long long *total);
/* One search as the plugin runs it (chatd_search, limit 20, first page,
 * every column read): the rows, -1 after printing why. */
int sb_pg_search(struct sb_pg *p, const struct search_query *sq, const char *viewer);
void sb_pg_close(struct sb_pg *p);

#endif
