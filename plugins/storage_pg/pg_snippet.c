/* pg_snippet.c — a search hit's snippet from its text and the text's
 * marked copy (see pg_ops.h).  No libpq calls: the unit tests link it
 * alone.
 *
 * `marked` is chatd_search's r_marked: ts_headline() over the text with
 * every ASCII separator made a space (and Latin diacritics dropped), so it
 * has the text's characters one for one (not its bytes) plus U+0002 ..
 * U+0003 around each matched word.  Walking both a character at a time
 * turns the marks into byte ranges of the text; then the window is chosen
 * as storage_sqlite's FTS5 snippet() chooses it: from each matched word,
 * 12 words placed so that the matches following it within 12 sit in the
 * middle, clamped to the text; the best has the most distinct matched
 * words, then the most matches, then comes first.  Words here are runs of
 * ASCII letters and digits and non-ASCII bytes (the core's words). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "pg_ops.h"

#define WINDOW 12
#define CANDIDATES 256                  /* matched words tried as a start */
#define ELLIPSIS "\xe2\x80\xa6"         /* U+2026 */
#define MARK_ON '\x02'
#define MARK_OFF '\x03'

struct range {
	size_t start, end;                 /* bytes of the text */
};

static size_t char_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

static bool word_byte(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	       (c >= 'a' && c <= 'z');
}

size_t pg_snippet_cap(const char *text, const char *marked)
{
	size_t marks = 0;
	for (const char *p = marked; p && *p; p++)
		marks += *p == MARK_ON;
	return (text ? strlen(text) : 0) + 2 * marks + 2 * (sizeof ELLIPSIS - 1) + 1;
}

/* The marks of `marked` as byte ranges of text; 0 ranges when the two do
 * not have the same characters.  *out is malloc'ed (NULL when none). */
static int mark_ranges(const char *text, const char *marked, struct range **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	for (const char *p = marked; p && *p; p++)
		cap += *p == MARK_ON;
	if (!cap)
		return 0;
	struct range *r = malloc(cap * sizeof(*r));
	if (!r)
		return -1;
	size_t tlen = strlen(text), mlen = strlen(marked), ti = 0, mi = 0, k = 0;
	bool on = false, ok = true;
	while (mi < mlen && ok) {
		char c = marked[mi];
		if (c == MARK_ON || c == MARK_OFF) {
			if (c == MARK_ON && !on && k < cap)
				r[k].start = ti;
			else if (c == MARK_OFF && on)
				r[k++].end = ti;
			on = c == MARK_ON;
			mi++;
			continue;
		}
		size_t ml = char_len((unsigned char)c), tl = char_len((unsigned char)text[ti]);
		ok = ti < tlen && mi + ml <= mlen && ti + tl <= tlen;
		mi += ml;
		ti += tl;
	}
	if (!ok || ti != tlen || on) {
		free(r);
		return 0;
	}
	*out = r;
	*n = k;
	return 0;
}

/* ASCII-case-insensitive equality of two words (distinct matches). */
static bool same_word(const char *a, size_t al, const char *b, size_t bl)
{
	if (al != bl)
		return false;
	for (size_t i = 0; i < al; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

static void put(char *out, size_t *at, const char *s, size_t n)
{
	memcpy(out + *at, s, n);
	*at += n;
}

int pg_snippet(const char *text, const char *marked, char *out, size_t cap)
{
	if (!text)
		text = "";
	if (cap < pg_snippet_cap(text, marked))
		return -1;
	struct range *r;
	size_t nr;
	if (mark_ranges(text, marked, &r, &nr) < 0)
		return -1;
	size_t len = strlen(text), nw = 0;
	for (size_t i = 0; i < len; i++)
		nw += word_byte((unsigned char)text[i]) &&
		      (i == 0 || !word_byte((unsigned char)text[i - 1]));
	if (nw == 0) {
		free(r);
		memcpy(out, text, len + 1);
		return 0;
	}
	size_t *ws = malloc(nw * sizeof(*ws)), *we = malloc(nw * sizeof(*we));
	bool *hit = calloc(nw, sizeof(*hit));
	if (!ws || !we || !hit) {
		free(r);
		free(ws);
		free(we);
		free(hit);
		return -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		bool w = word_byte((unsigned char)text[i]);
		if (w && (i == 0 || !word_byte((unsigned char)text[i - 1])))
			ws[k] = i;
		if (w && (i + 1 == len || !word_byte((unsigned char)text[i + 1])))
			we[k++] = i + 1;
	}
	/* A word is matched when a mark overlaps it (both lists ascend). */
	for (size_t i = 0, j = 0; i < nw && j < nr;) {
		if (r[j].end <= ws[i])
			j++;
		else if (r[j].start >= we[i])
			i++;
		else
			hit[i++] = true;
	}
	/* The window: [a, a + WINDOW). */
	size_t a = 0, tried = 0;
	long best = -1;
	for (size_t i = 0; i < nw && tried < CANDIDATES; i++) {
		if (!hit[i])
			continue;
		tried++;
		size_t last = i;
		for (size_t j = i + 1; j < nw && j < i + WINDOW; j++)
			if (hit[j])
				last = j;
		long st = (long)i - (long)(WINDOW - 1 - (last - i)) / 2;
		if (st > (long)nw - WINDOW)
			st = (long)nw - WINDOW;
		if (st < 0)
			st = 0;
		long score = 0;
		size_t end = (size_t)st + WINDOW < nw ? (size_t)st + WINDOW : nw;
		for (size_t j = (size_t)st; j < end; j++) {
			if (!hit[j])
				continue;
			bool seen = false;
			for (size_t x = (size_t)st; x < j && !seen; x++)
				seen = hit[x] && same_word(text + ws[x], we[x] - ws[x], text + ws[j],
							   we[j] - ws[j]);
			score += seen ? 1 : 1001;
		}
		if (score > best) {
			best = score;
			a = (size_t)st;
		}
	}
	size_t b = a + WINDOW < nw ? a + WINDOW - 1 : nw - 1;
	size_t at = 0, lo = ws[a], hi = we[b], pos = lo;
	if (a == 0)
		put(out, &at, text, lo);
	else
		put(out, &at, ELLIPSIS, sizeof ELLIPSIS - 1);
	for (size_t j = 0; j < nr; j++) {
		if (r[j].end <= lo || r[j].start >= hi)
			continue;
		size_t s = r[j].start > lo ? r[j].start : lo, e = r[j].end < hi ? r[j].end : hi;
		put(out, &at, text + pos, s - pos);
		out[at++] = MARK_ON;
		put(out, &at, text + s, e - s);
		out[at++] = MARK_OFF;
		pos = e;
	}
	put(out, &at, text + pos, hi - pos);
	if (b == nw - 1)
		put(out, &at, text + hi, len - hi);
	else
		put(out, &at, ELLIPSIS, sizeof ELLIPSIS - 1);
	out[at] = '\0';
	free(r);
	free(ws);
	free(we);
	free(hit);
	return 0;
}
