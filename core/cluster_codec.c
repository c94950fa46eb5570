/* cluster_codec.c — see cluster_codec.h. */
#include "cluster_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#define USER_MAX 64

static int ok_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '@' || c == '-';
}

static int user_ok(const char *u, size_t *len)
{
	size_t n = 0;
	for (; u[n]; n++)
		if (n >= USER_MAX || !ok_char((unsigned char)u[n]))
			return 0;
	*len = n;
	return n > 0;
}

int cluster_encode(const char *const *users, size_t n, const char *payload, size_t len,
		   char **out, size_t *out_len)
{
	if (n == 0 || n > CLUSTER_USERS_MAX)
		return -1;
	size_t total = 2 + len; /* "1" and "\n" */
	for (size_t i = 0; i < n; i++) {
		size_t ul;
		if (!users[i] || !user_ok(users[i], &ul))
			return -1;
		total += 1 + ul;
	}
	char *buf = malloc(total);
	if (!buf)
		return -1;
	char *p = buf;
	*p++ = '1';
	for (size_t i = 0; i < n; i++) {
		size_t ul = strlen(users[i]);
		*p++ = ' ';
		memcpy(p, users[i], ul);
		p += ul;
	}
	*p++ = '\n';
	if (len)
		memcpy(p, payload, len);
	*out = buf;
	*out_len = total;
	return 0;
}

int cluster_decode(char *buf, size_t len, const char **users, size_t max, const char **payload,
		   size_t *payload_len)
{
	char *nl = len > 2 ? memchr(buf, '\n', len) : NULL;
	if (!nl || buf[0] != '1' || buf[1] != ' ')
		return -1;
	size_t n = 0;
	char *p = buf + 2;
	while (p < nl) {
		char *start = p;
		while (p < nl && *p != ' ') {
			if (!ok_char((unsigned char)*p))
				return -1;
			p++;
		}
		size_t ul = (size_t)(p - start);
		if (ul == 0 || ul > USER_MAX || n >= max || n >= CLUSTER_USERS_MAX)
			return -1;
		users[n++] = start;
		if (p < nl)
			*p++ = '\0';
	}
	*nl = '\0';
	if (n == 0)
		return -1;
	*payload = nl + 1;
	*payload_len = len - (size_t)(nl + 1 - buf);
	return (int)n;
}

int cluster_fan_encode(const struct cluster_fan *m, char **out, size_t *out_len)
{
	size_t l;
	bool d = m->kind == 'd';
	if ((m->kind != 'd' && m->kind != 'm') || !m->origin || !user_ok(m->origin, &l) ||
	    !m->conv || !user_ok(m->conv, &l) || (d && (!m->sender || !user_ok(m->sender, &l))) ||
	    !m->f1 || m->f1_len == 0 || (d && (!m->f2 || m->f2_len == 0)))
		return -1;
	char head[4 * (USER_MAX + 1) + 3 * 21 + 8];
	int hl = snprintf(head, sizeof head, "F1 %c %s %s %s %" PRId64 " %" PRId64 " %zu\n",
			  m->kind, m->origin, m->conv, d ? m->sender : "-", d ? m->seq : 0,
			  d ? m->member_count : 0, m->f1_len);
	if (hl < 0 || (size_t)hl >= sizeof head)
		return -1;
	size_t f2_len = d ? m->f2_len : 0;
	size_t total = (size_t)hl + m->f1_len + f2_len;
	char *buf = malloc(total);
	if (!buf)
		return -1;
	memcpy(buf, head, (size_t)hl);
	memcpy(buf + hl, m->f1, m->f1_len);
	if (f2_len)
		memcpy(buf + (size_t)hl + m->f1_len, m->f2, f2_len);
	*out = buf;
	*out_len = total;
	return 0;
}

/* The next space-separated token of [*p, end) as a NUL-ended id. */
static char *token(char **p, char *end)
{
	char *start = *p, *q = start;
	while (q < end && *q != ' ')
		q++;
	if (q == start || q >= end)
		return NULL;
	*q = '\0';
	*p = q + 1;
	return start;
}

static int number(const char *s, int64_t *out)
{
	if (!s || !*s || strlen(s) > 18)
		return -1;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

int cluster_fan_decode(char *buf, size_t len, struct cluster_fan *m)
{
	memset(m, 0, sizeof *m);
	char *nl = len > 5 ? memchr(buf, '\n', len < 512 ? len : 512) : NULL;
	if (!nl || memcmp(buf, "F1 ", 3) != 0)
		return -1;
	*nl = ' '; /* so the last token ends like the others */
	char *p = buf + 3;
	char *kind = token(&p, nl + 1);
	m->origin = token(&p, nl + 1);
	m->conv = token(&p, nl + 1);
	m->sender = token(&p, nl + 1);
	int64_t f1_len;
	if (!kind || strlen(kind) != 1 || !m->sender ||
	    number(token(&p, nl + 1), &m->seq) < 0 ||
	    number(token(&p, nl + 1), &m->member_count) < 0 ||
	    number(token(&p, nl + 1), &f1_len) < 0 || p != nl + 1)
		return -1;
	m->kind = kind[0];
	size_t l, rest = len - (size_t)(p - buf);
	if ((m->kind != 'd' && m->kind != 'm') || !user_ok(m->origin, &l) ||
	    !user_ok(m->conv, &l) || (m->kind == 'd' && !user_ok(m->sender, &l)) ||
	    f1_len <= 0 || (uint64_t)f1_len > rest)
		return -1;
	m->f1 = p;
	m->f1_len = (size_t)f1_len;
	m->f2 = p + f1_len;
	m->f2_len = rest - (size_t)f1_len;
	if ((m->kind == 'd') != (m->f2_len > 0))
		return -1;
	if (m->kind == 'm') {
		m->sender = NULL;
		m->f2 = NULL;
	}
	return 0;
}

void cluster_groups_free(struct cluster_group *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		free(g[i].users);
	free(g);
}

int cluster_group(const char *const *users, const struct chatd_presence_loc *locs, size_t n,
		  const char *self, struct cluster_group **out)
{
	*out = NULL;
	size_t max = 0;
	for (size_t i = 0; i < n; i++)
		max += locs[i].n_nodes;
	if (max == 0)
		return 0;
	struct cluster_group *g = calloc(max, sizeof *g);
	if (!g)
		return -1;
	size_t ng = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < locs[i].n_nodes; k++) {
			const char *node = locs[i].nodes[k];
			size_t nl = node ? strlen(node) : 0;
			if (nl == 0 || nl > USER_MAX || strcmp(node, self) == 0)
				continue;
			size_t s = 0;
			while (s < ng && strcmp(g[s].node, node) != 0)
				s++;
			if (s == ng) {
				g[s].node = node;
				g[s].users = calloc(n, sizeof *g[s].users);
				if (!g[s].users) {
					cluster_groups_free(g, ng);
					return -1;
				}
				ng++;
			}
			g[s].users[g[s].n++] = users[i];
		}
	if (ng == 0) {
		free(g);
		g = NULL;
	}
	*out = g;
	return (int)ng;
}
