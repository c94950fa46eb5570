/* args.c — option parsing for chatctl (see args.h). */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DURATION_MAX_MS (10LL * 366 * 24 * 3600 * 1000)

static int find_long(const struct args *a, const char *name, size_t len)
{
	for (size_t i = 0; i < a->nopts; i++) {
		const char *l = a->opts[i]->lng;
		if (strlen(l) == len && strncmp(l, name, len) == 0)
			return (int)i;
	}
	return -1;
}

static int find_short(const struct args *a, char c)
{
	for (size_t i = 0; i < a->nopts; i++)
		if (a->opts[i]->shrt && a->opts[i]->shrt == c)
			return (int)i;
	return -1;
}

static int store(struct args *a, int k, const char *v, const char *shown, char *err,
		 size_t errlen)
{
	const struct opt *o = a->opts[k];
	if (a->nval[k] > 0 && !(o->flags & OPT_REPEAT)) {
		/* A flag given twice is harmless; a value given twice is a mistake. */
		if (!(o->flags & OPT_VALUE))
			return 0;
		snprintf(err, errlen, "%s given twice", shown);
		return -1;
	}
	if (a->nval[k] >= ARGS_MAX_REPEAT) {
		snprintf(err, errlen, "%s given more than %d times", shown, ARGS_MAX_REPEAT);
		return -1;
	}
	a->val[k][a->nval[k]++] = v;
	return 0;
}

int args_parse(const struct opt *const *lists, size_t nlists, int argc, char **argv,
	       struct args *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	for (size_t l = 0; l < nlists; l++)
		for (const struct opt *o = lists[l]; o && o->lng; o++) {
			if (a->nopts == ARGS_MAX_OPTS) {
				snprintf(err, errlen, "internal: too many options");
				return -1;
			}
			a->opts[a->nopts++] = o;
		}
	bool opts_done = false;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (opts_done || s[0] != '-' || s[1] == '\0') {
			if (a->npos == ARGS_MAX_POS) {
				snprintf(err, errlen, "too many arguments");
				return -1;
			}
			a->pos[a->npos++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			opts_done = true;
			continue;
		}
		int k;
		const char *inline_val = NULL;
		char shown[64];
		if (s[1] == '-') {
			const char *eq = strchr(s, '=');
			size_t len = eq ? (size_t)(eq - s) : strlen(s);
			k = find_long(a, s, len);
			snprintf(shown, sizeof shown, "%.*s", (int)(len < 48 ? len : 48), s);
			if (k < 0) {
				snprintf(err, errlen, "unknown option '%s'", shown);
				return -1;
			}
			if (eq)
				inline_val = eq + 1;
		} else {
			k = find_short(a, s[1]);
			snprintf(shown, sizeof shown, "-%c", s[1]);
			if (k < 0) {
				snprintf(err, errlen, "unknown option '%s'", shown);
				return -1;
			}
			if (s[2] != '\0') {
				if (!(a->opts[k]->flags & OPT_VALUE)) {
					snprintf(err, errlen, "unknown option '%.48s'", s);
					return -1;
				}
				inline_val = s + 2;
			}
			snprintf(shown, sizeof shown, "%s", a->opts[k]->lng);
		}
		const char *v = "";
		if (a->opts[k]->flags & OPT_VALUE) {
			if (inline_val) {
				v = inline_val;
			} else if (i + 1 < argc) {
				v = argv[++i];
			} else {
				snprintf(err, errlen, "%s needs a value", shown);
				return -1;
			}
		} else if (inline_val) {
			snprintf(err, errlen, "%s takes no value", shown);
			return -1;
		}
		if (store(a, k, v, shown, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int index_of(const struct args *a, const char *lng)
{
	for (size_t i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i]->lng, lng) == 0)
			return (int)i;
	return -1;
}

const char *args_get(const struct args *a, const char *lng)
{
	int k = index_of(a, lng);
	return (k < 0 || a->nval[k] == 0) ? NULL : a->val[k][a->nval[k] - 1];
}

bool args_has(const struct args *a, const char *lng)
{
	return args_get(a, lng) != NULL;
}

const char *const *args_all(const struct args *a, const char *lng, int *n)
{
	int k = index_of(a, lng);
	*n = k < 0 ? 0 : a->nval[k];
	return k < 0 ? NULL : a->val[k];
}

bool args_int(const char *s, long long min, long long max, long long *out)
{
	if (!s || !*s || *s == ' ' || *s == '+')
		return false;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool args_duration_ms(const char *s, int64_t *out_ms)
{
	if (!s || !*s)
		return false;
	const char *p = s;
	long long total = 0;
	bool any = false;
	while (*p) {
		if (*p < '0' || *p > '9')
			return false;
		long long n = 0;
		while (*p >= '0' && *p <= '9') {
			n = n * 10 + (*p - '0');
			if (n > DURATION_MAX_MS)
				return false;
			p++;
		}
		long long unit;
		if (*p == '\0' && !any) {
			unit = 1000;                  /* a bare number: seconds */
		} else if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's' || *p == 'm' || *p == 'h' || *p == 'd' || *p == 'w') {
			unit = *p == 's' ? 1000 : *p == 'm' ? 60000 : *p == 'h' ? 3600000
			       : *p == 'd' ? 86400000LL : 604800000LL;
			p++;
		} else {
			return false;
		}
		if (n > DURATION_MAX_MS / unit)
			return false;
		total += n * unit;
		if (total > DURATION_MAX_MS)
			return false;
		any = true;
	}
	if (total <= 0)
		return false;
	*out_ms = total;
	return true;
}
