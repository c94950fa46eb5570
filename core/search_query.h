/* search_query.h — the user's search text parsed into terms.
 *
 * Grammar (whitespace separates terms; every term must match):
 *   query  = term { term }
 *   term   = word [ "*" ]            a word, or a prefix of words
 *          | '"' word { word } '"' [ "*" ]   a phrase (words adjacent)
 *   word   = a run of letters and digits: ASCII alphanumerics and any
 *            non-ASCII UTF-8 sequence
 * Every other character (punctuation, operators, quotes inside a word) only
 * separates words; nothing the user types is ever passed to a search engine
 * as syntax.  Words are kept as typed (engines fold case themselves). */
#ifndef CHATD_SEARCH_QUERY_H
#define CHATD_SEARCH_QUERY_H

#include <stddef.h>
#include "chatd/storage.h"

#define SEARCH_QUERY_MAX 256   /* bytes of the user's text */

struct search_query {
	struct chatd_search_term terms[CHATD_SEARCH_TERMS_MAX];
	size_t n_terms;
	/* Word pointers of every term, in order; each points into buf. */
	const char *words[CHATD_SEARCH_TERMS_MAX];
	size_t n_words;
	char buf[SEARCH_QUERY_MAX + CHATD_SEARCH_TERMS_MAX + 1];
};

/* Parse text[0..len) (valid UTF-8) into q.  Returns 0, or -1 with err
 * (errlen bytes) saying why for the user: empty or too long a query, an
 * unterminated phrase, a word longer than CHATD_SEARCH_WORD_MAX bytes, more
 * than CHATD_SEARCH_TERMS_MAX words, a "*" with no word before it. */
int search_query_parse(const char *text, size_t len, struct search_query *q, char *err,
		       size_t errlen);

#endif
