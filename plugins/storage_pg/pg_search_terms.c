/* pg_search_terms.c — a parsed search query as the parameters of
 * chatd_search (see pg_ops.h).  No libpq calls: the unit tests and
 * bench/search_bench link it alone. */
#include <string.h>
#include "pg_ops.h"

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

int pg_search_terms(const struct chatd_search_term *terms, size_t n, char *out, size_t cap,
		    char *prefix, size_t pcap)
{
	size_t at = 0, pat = 0;
	if (!terms || n < 1 || n > CHATD_SEARCH_TERMS_MAX || cap < 3 || pcap < 3)
		return -1;
	if (!put(out, cap, &at, "{", 1) || !put(prefix, pcap, &pat, "{", 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct chatd_search_term *t = &terms[i];
		if (!t->words || t->n_words < 1)
			return -1;
		if (i && (!put(out, cap, &at, ",", 1) || !put(prefix, pcap, &pat, ",", 1)))
			return -1;
		if (!put(out, cap, &at, "\"", 1) ||
		    !put(prefix, pcap, &pat, t->prefix ? "t" : "f", 1))
			return -1;
		for (size_t w = 0; w < t->n_words; w++) {
			const char *word = t->words[w];
			size_t len = word ? strnlen(word, CHATD_SEARCH_WORD_MAX + 1) : 0;
			if (len < 1 || len > CHATD_SEARCH_WORD_MAX)
				return -1;
			if (w && !put(out, cap, &at, " ", 1))
				return -1;
			/* An array element in double quotes: " and \ escaped.
			 * The core's words hold neither; they are data anyway. */
			for (size_t k = 0; k < len; k++)
				if (((word[k] == '"' || word[k] == '\\') && !put(out, cap, &at, "\\", 1)) ||
				    !put(out, cap, &at, word + k, 1))
					return -1;
		}
		if (!put(out, cap, &at, "\"", 1))
			return -1;
	}
	if (!put(out, cap, &at, "}", 1) || !put(prefix, pcap, &pat, "}", 1))
		return -1;
	return (int)at;
}
