/* sqlite_fts_expr.c — a parsed search query as an FTS5 expression (see
 * sqlite_ops.h).  No SQLite calls: the fuzz target links it alone. */
#include <stdbool.h>
#include <string.h>
#include "chatd/storage.h"

int sqlite_search_expr(const struct chatd_search_term *terms, size_t n, char *out, size_t cap);

/* Append s (n bytes) to out at *at, failing when cap is reached. */
static bool put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	if (n >= cap - *at)
		return false;
	memcpy(out + *at, s, n);
	*at += n;
	out[*at] = '\0';
	return true;
}

int sqlite_search_expr(const struct chatd_search_term *terms, size_t n, char *out, size_t cap)
{
	size_t at = 0;
	if (cap == 0 || n == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct chatd_search_term *t = &terms[i];
		if (t->n_words == 0 || !t->words)
			return -1;
		if (i && !put(out, cap, &at, " AND ", 5))
			return -1;
		if (!put(out, cap, &at, "\"", 1))
			return -1;
		for (size_t w = 0; w < t->n_words; w++) {
			const char *word = t->words[w];
			if (!word || !*word || strlen(word) > CHATD_SEARCH_WORD_MAX)
				return -1;
			if (w && !put(out, cap, &at, " ", 1))
				return -1;
			/* The core's words have no quote; double one anyway
			 * (FTS5's escape inside a string). */
			for (const char *p = word; *p; p++)
				if (!put(out, cap, &at, p, 1) ||
				    (*p == '"' && !put(out, cap, &at, "\"", 1)))
					return -1;
		}
		if (!put(out, cap, &at, "\"", 1) || (t->prefix && !put(out, cap, &at, " *", 2)))
			return -1;
	}
	return (int)at;
}
