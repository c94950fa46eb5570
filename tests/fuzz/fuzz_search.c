/* fuzz_search.c — libFuzzer target for the search grammar and its FTS5
 * translation: never crashes, and every accepted query becomes an
 * expression made only of double-quoted strings holding word bytes,
 * " AND " and " *". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "search_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int sqlite_search_expr(const struct chatd_search_term *terms, size_t n, char *out, size_t cap);

static int word_byte(unsigned char b)
{
	return b >= 0x80 || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') ||
	       (b >= 'A' && b <= 'Z');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct search_query q;
	char err[128], expr[4096];
	if (search_query_parse((const char *)data, size, &q, err, sizeof err) < 0)
		return 0;
	if (q.n_terms < 1 || q.n_terms > CHATD_SEARCH_TERMS_MAX)
		abort();
	int n = sqlite_search_expr(q.terms, q.n_terms, expr, sizeof expr);
	if (n < 0)
		abort();
	/* Outside quotes only " AND ", " *" and spaces; inside only word
	 * bytes and single spaces. */
	bool in = false;
	for (int i = 0; i < n; i++) {
		unsigned char b = (unsigned char)expr[i];
		if (b == '"')
			in = !in;
		else if (in ? !(word_byte(b) || b == ' ') : !(b == ' ' || b == '*' || b == 'A' ||
							       b == 'N' || b == 'D'))
			abort();
	}
	if (in)
		abort();
	return 0;
}
