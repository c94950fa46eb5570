/* ctlconf.c — parsing chatctl's small config file (see ctlconf.h). */
#include "ctlconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX 8192

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

void ctlconf_free(struct ctlconf *c)
{
	if (!c)
		return;
	if (c->token) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	free(c->url);
	free(c->cacert);
	memset(c, 0, sizeof *c);
}

static int fail(struct ctlconf *out, char *err, size_t errlen, int line, const char *what,
		const char *key)
{
	snprintf(err, errlen, "line %d: %s%s%s", line, what, key ? ": " : "", key ? key : "");
	ctlconf_free(out);
	return -1;
}

int ctlconf_parse(const char *text, size_t len, struct ctlconf *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *p = text, *end = text + len;
	int line = 0;
	while (p < end) {
		line++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *s = p;
		p = eol ? eol + 1 : end;
		while (s < le && is_space(*s))
			s++;
		const char *e = le;
		while (e > s && is_space(e[-1]))
			e--;
		if (s == e || *s == '#')
			continue;
		if (memchr(s, '\0', (size_t)(e - s)))
			return fail(out, err, errlen, line, "NUL byte", NULL);
		const char *eq = memchr(s, '=', (size_t)(e - s));
		if (!eq)
			return fail(out, err, errlen, line, "expected 'key = value'", NULL);
		const char *ke = eq;
		while (ke > s && is_space(ke[-1]))
			ke--;
		const char *v = eq + 1;
		while (v < e && is_space(*v))
			v++;
		size_t klen = (size_t)(ke - s), vlen = (size_t)(e - v);
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v++;
			vlen -= 2;
		}
		char key[32];
		if (klen == 0 || klen >= sizeof key)
			return fail(out, err, errlen, line, "expected 'key = value'", NULL);
		memcpy(key, s, klen);
		key[klen] = '\0';
		if (vlen == 0)
			return fail(out, err, errlen, line, "empty value", key);
		if (vlen > VALUE_MAX)
			return fail(out, err, errlen, line, "value too long", key);
		char **slot = NULL;
		if (strcmp(key, "url") == 0) {
			slot = &out->url;
		} else if (strcmp(key, "token") == 0) {
			slot = &out->token;
		} else if (strcmp(key, "cacert") == 0) {
			slot = &out->cacert;
		} else if (strcmp(key, "timeout") == 0) {
			if (out->timeout_s)
				return fail(out, err, errlen, line, "given twice", key);
			int t = 0;
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9' || t > 3600)
					return fail(out, err, errlen, line, "timeout: seconds, 1..3600",
						    NULL);
				t = t * 10 + (v[i] - '0');
			}
			if (t < 1 || t > 3600)
				return fail(out, err, errlen, line, "timeout: seconds, 1..3600", NULL);
			out->timeout_s = t;
			continue;
		} else {
			return fail(out, err, errlen, line, "unknown key (url, token, cacert, timeout)", key);
		}
		if (*slot)
			return fail(out, err, errlen, line, "given twice", key);
		*slot = strndup(v, vlen);
		if (!*slot)
			return fail(out, err, errlen, line, "out of memory", NULL);
	}
	return 0;
}
