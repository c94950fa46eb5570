/* table.c — aligned tables and cleaned text for chatctl (see table.h). */
#include "table.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned cp;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

size_t fmt_clean(const char *in, size_t maxw, char *out, size_t outlen)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	if (outlen == 0)
		return 0;
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t o = 0, w = 0;
	/* Room for the longest sequence or the ellipsis, plus the NUL. */
	while (*s) {
		size_t n = utf8_seq(s);
		const char *piece = (const char *)s;
		size_t plen = n;
		if (s[0] == 0xC2 && s[1] >= 0x80 && s[1] <= 0x9F) {
			/* A C1 control: one '?' for the whole sequence. */
			piece = "?";
			plen = 1;
			n = 2;
		} else if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7F))) {
			piece = (*s == '\n' || *s == '\t' || *s == '\r') ? " " : "?";
			plen = 1;
			n = 1;
		}
		if (maxw && w + 1 == maxw) {
			/* The last column left: this piece if it is the last one. */
			const unsigned char *next = s + n;
			if (*next) {
				if (o + sizeof ellipsis > outlen)
					break;
				memcpy(out + o, ellipsis, sizeof ellipsis - 1);
				o += sizeof ellipsis - 1;
				w++;
				break;
			}
		}
		if (maxw && w >= maxw)
			break;
		if (o + plen + 1 > outlen)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
		w++;
		s += n;
	}
	out[o] = '\0';
	return w;
}

size_t fmt_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			w++;
	return w;
}

void table_init(struct table *t, size_t ncols, const char *const *head)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols > TABLE_MAX_COLS ? TABLE_MAX_COLS : ncols;
	for (size_t i = 0; i < t->ncols; i++)
		t->head[i] = head[i];
}

int table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * t->ncols * sizeof *nc);
		if (!nc)
			return -1;
		t->cells = nc;
		t->cap = ncap;
	}
	char **row = t->cells + t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		size_t maxw = t->maxw[i] ? t->maxw[i] : TABLE_CELL_MAX;
		const char *c = cells[i] && cells[i][0] ? cells[i] : "-";
		size_t cap = maxw * 4 + 4;
		row[i] = malloc(cap);
		if (!row[i]) {
			for (size_t k = 0; k < i; k++)
				free(row[k]);
			return -1;
		}
		fmt_clean(c, maxw, row[i], cap);
	}
	t->nrows++;
	return 0;
}

static void pad(FILE *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fputc(' ', f);
}

void table_print(const struct table *t, FILE *f)
{
	size_t w[TABLE_MAX_COLS];
	for (size_t i = 0; i < t->ncols; i++) {
		w[i] = fmt_width(t->head[i]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t cw = fmt_width(t->cells[r * t->ncols + i]);
			if (cw > w[i])
				w[i] = cw;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *c = r == 0 ? t->head[i] : t->cells[(r - 1) * t->ncols + i];
			size_t cw = fmt_width(c);
			bool last = i + 1 == t->ncols;
			bool right = (t->right >> i) & 1u;
			if (right)
				pad(f, w[i] - cw);
			fputs(c, f);
			if (!right && !last)
				pad(f, w[i] - cw);
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

void kv_line(FILE *f, const char *key, const char *value)
{
	char buf[4096];
	fmt_clean(value && *value ? value : "-", 0, buf, sizeof buf);
	fprintf(f, "%-14s %s\n", key, buf);
}
