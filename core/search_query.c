/* search_query.c — the search grammar (see search_query.h). */
#include <stdio.h>
#include <string.h>
#include "search_query.h"

static int word_byte(unsigned char b)
{
	return b >= 0x80 || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') ||
	       (b >= 'A' && b <= 'Z');
}

static int fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -1;
}

int search_query_parse(const char *text, size_t len, struct search_query *q, char *err,
		       size_t errlen)
{
	memset(q, 0, sizeof *q);
	if (len > SEARCH_QUERY_MAX)
		return fail(err, errlen, "query longer than 256 bytes");
	const unsigned char *s = (const unsigned char *)text;
	size_t used = 0, i = 0;
	bool in_phrase = false;
	struct chatd_search_term *t = NULL;   /* the term being built */
	while (i < len) {
		unsigned char b = s[i];
		if (b == '"') {
			if (in_phrase) {
				in_phrase = false;
				/* A phrase with no words ("" or "!!") adds nothing. */
				if (t && t->n_words == 0)
					q->n_terms--;
				else if (i + 1 < len && s[i + 1] == '*') {
					t->prefix = true;
					i++;
				}
				t = NULL;
			} else {
				if (q->n_terms == CHATD_SEARCH_TERMS_MAX)
					return fail(err, errlen, "too many words (at most 16)");
				in_phrase = true;
				t = &q->terms[q->n_terms++];
				t->words = q->words + q->n_words;
			}
			i++;
			continue;
		}
		if (b == '*' && !in_phrase)
			return fail(err, errlen, "\"*\" must follow a word");
		if (!word_byte(b)) {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && word_byte(s[i]))
			i++;
		size_t wl = i - start;
		if (wl > CHATD_SEARCH_WORD_MAX)
			return fail(err, errlen, "a word is longer than 64 bytes");
		if (q->n_words == CHATD_SEARCH_TERMS_MAX)
			return fail(err, errlen, "too many words (at most 16)");
		bool star = i < len && s[i] == '*';
		if (star && in_phrase)
			return fail(err, errlen, "\"*\" inside a phrase: put it after the closing quote");
		if (!in_phrase) {
			if (q->n_terms == CHATD_SEARCH_TERMS_MAX)
				return fail(err, errlen, "too many words (at most 16)");
			t = &q->terms[q->n_terms++];
			t->words = q->words + q->n_words;
		}
		memcpy(q->buf + used, s + start, wl);
		q->buf[used + wl] = '\0';
		q->words[q->n_words++] = q->buf + used;
		used += wl + 1;
		t->n_words++;
		if (!in_phrase) {
			if (star) {
				t->prefix = true;
				i++;
				if (i < len && s[i] == '*')
					return fail(err, errlen, "\"*\" must follow a word");
			}
			t = NULL;
		}
	}
	if (in_phrase)
		return fail(err, errlen, "unterminated phrase: a \" has no closing \"");
	if (q->n_terms == 0)
		return fail(err, errlen, "the query has no words to search for");
	return 0;
}
