/* metrics_text.c — the text side of metrics.h: the growable buffer, name
 * checks, escaping and the exposition format's sample lines. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "utf8.h"

/* ---- text buffer ---- */

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static bool metrics_buf_reserve(struct metrics_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	size_t nc = b->cap ? b->cap : 4096;
	while (nc < b->len + extra + 1)
		nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np) {
		b->failed = true;
		return false;
	}
	b->p = np;
	b->cap = nc;
	return true;
}

void metrics_buf_add(struct metrics_buf *b, const char *s, size_t n)
{
	if (!metrics_buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void metrics_buf_puts(struct metrics_buf *b, const char *s)
{
	metrics_buf_add(b, s, strlen(s));
}

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		metrics_buf_add(b, small, (size_t)n);
		return;
	}
	if (!metrics_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- names and escaping ---- */

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s || strlen(s) >= METRICS_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++) {
		char ch = *p;
		bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
			     (colon && ch == ':');
		if (!alpha && !(p != s && ch >= '0' && ch <= '9'))
			return false;
	}
	return true;
}

bool metrics_name_ok(const char *name)
{
	return name_ok(name, true);
}

bool metrics_label_name_ok(const char *name)
{
	return name_ok(name, false) && strncmp(name, "__", 2) != 0 && strcmp(name, "le") != 0;
}

void metrics_sanitize(char *dst, size_t size, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < size; i++) {
		char ch = src[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_';
		dst[i] = ok ? ch : '_';
	}
	dst[i] = '\0';
}

void metrics_escape_help(struct metrics_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			metrics_buf_add(b, "\\\\", 2);
		else if (*s == '\n')
			metrics_buf_add(b, "\\n", 2);
		else
			metrics_buf_add(b, s, 1);
	}
}

void metrics_escape_label(struct metrics_buf *b, const char *s)
{
	/* The format is UTF-8: a value that is not (a rule's reason code
	 * could be anything) has its high bytes replaced. */
	bool valid = utf8_valid(s, strlen(s));
	for (; *s; s++) {
		if (*s == '\\')
			metrics_buf_add(b, "\\\\", 2);
		else if (*s == '"')
			metrics_buf_add(b, "\\\"", 2);
		else if (*s == '\n')
			metrics_buf_add(b, "\\n", 2);
		else if (!valid && (unsigned char)*s >= 0x80)
			metrics_buf_add(b, "?", 1);
		else
			metrics_buf_add(b, s, 1);
	}
}

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER: return "counter";
	case METRIC_GAUGE: return "gauge";
	case METRIC_HISTOGRAM: return "histogram";
	default: return "untyped";
	}
}

void metrics_write_header(struct metrics_buf *b, const char *name, const char *help,
			  enum metric_type type)
{
	metrics_buf_printf(b, "# HELP %s ", name);
	metrics_escape_help(b, help ? help : "");
	metrics_buf_printf(b, "\n# TYPE %s %s\n", name, type_name(type));
}

void metrics_write_labels(struct metrics_buf *b, const char *const *lnames,
			  const char *const *lvalues, size_t nl, const char *le)
{
	if (nl == 0 && !le)
		return;
	metrics_buf_puts(b, "{");
	for (size_t i = 0; i < nl; i++) {
		metrics_buf_printf(b, "%s%s=\"", i ? "," : "", lnames[i]);
		metrics_escape_label(b, lvalues[i] ? lvalues[i] : "");
		metrics_buf_puts(b, "\"");
	}
	if (le)
		metrics_buf_printf(b, "%sle=\"%s\"", nl ? "," : "", le);
	metrics_buf_puts(b, "}");
}

static void format_double(char *out, size_t size, double v)
{
	if (isnan(v))
		snprintf(out, size, "NaN");
	else if (isinf(v))
		snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(out, size, "%.0f", v);
	else
		snprintf(out, size, "%.15g", v);
}

void metrics_write_sample(struct metrics_buf *b, const char *name, const char *const *lnames,
			  const char *const *lvalues, size_t nl, double value)
{
	char num[64];
	format_double(num, sizeof num, value);
	metrics_buf_puts(b, name);
	metrics_write_labels(b, lnames, lvalues, nl, NULL);
	metrics_buf_printf(b, " %s\n", num);
}

void metrics_write_sample_u64(struct metrics_buf *b, const char *name, const char *const *lnames,
			      const char *const *lvalues, size_t nl, uint64_t value)
{
	metrics_buf_puts(b, name);
	metrics_write_labels(b, lnames, lvalues, nl, NULL);
	metrics_buf_printf(b, " %llu\n", (unsigned long long)value);
}
