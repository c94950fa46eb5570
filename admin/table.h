/* table.h — chatctl's human output: aligned tables, key/value lines and
 * value formatting.  Everything shown passes through fmt_clean, so text
 * from the server (message bodies, reasons, user ids) cannot move the
 * cursor or recolour the terminal.
 *
 * Pure functions apart from the printing ones; widths count code points. */
#ifndef CHATCTL_TABLE_H
#define CHATCTL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define TABLE_MAX_COLS 12
#define TABLE_CELL_MAX 60        /* default widest cell, in code points */

struct table {
	size_t ncols;
	const char *head[TABLE_MAX_COLS];
	size_t maxw[TABLE_MAX_COLS];  /* widest a cell may be (0: TABLE_CELL_MAX) */
	unsigned right;               /* bit i: column i is right-aligned (numbers) */
	char **cells;                 /* nrows * ncols cleaned copies */
	size_t nrows, cap;
};

/* head: ncols titles (borrowed; must outlive the table). */
void table_init(struct table *t, size_t ncols, const char *const *head);
/* Appends a row of ncols cells (copied, cleaned, cut to the column's width;
 * NULL or "" shows as "-").  Returns 0 or -1 (out of memory). */
int table_add(struct table *t, const char *const *cells);
/* The header and the rows, columns two spaces apart, no trailing blanks. */
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* Copies in to out (outlen bytes) with control characters and invalid
 * UTF-8 replaced ('\n' and '\t' become a space, others '?'), cut to at
 * most maxw code points ("…" marks a cut; maxw 0: no limit).  Returns the
 * code points written. */
size_t fmt_clean(const char *in, size_t maxw, char *out, size_t outlen);
/* Code points in a valid UTF-8 string (what fmt_clean produces). */
size_t fmt_width(const char *s);

/* ms since the epoch as "2026-11-27 21:51:19Z" (UTC); "-" for <= 0. */
void fmt_time(int64_t ms, char *buf, size_t n);
/* A span of ms as "45s", "12m 05s", "3h 02m", "4d 03h"; "0s" for <= 0. */
void fmt_span(int64_t ms, char *buf, size_t n);
/* A JSON scalar as text: strings as they are, numbers, true/false, "-" for
 * null or absent, compact JSON for arrays and objects. */
void fmt_json(const json_t *v, char *buf, size_t n);

/* "key           value" with the value cleaned. */
void kv_line(FILE *f, const char *key, const char *value);

#endif
