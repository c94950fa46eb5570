/* pg_shard.c — the shard map: which shard holds a conversation, the list
 * of DSNs, and DSN labels for logs.
 *
 * A conversation lives on shard jump(fnv1a64(id), n): FNV-1a 64 of the
 * id's bytes (offset basis 14695981039346656037, prime 1099511628211),
 * then the jump consistent hash of Lamping and Veach ("A Fast, Minimal
 * Memory, Consistent Hash Algorithm", 2014) over the n shards in the order
 * the config lists them.  Both are fixed forever: stored data is placed
 * by them (docs/scaling.md).  Jump hash moves only the conversations that
 * must move when a shard is appended to the list (about 1/(n+1) of them,
 * all to the new shard), which is what makes re-sharding tractable. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg_store.h"

uint64_t pg_fnv1a64(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

int32_t pg_jump_hash(uint64_t key, int32_t buckets)
{
	int64_t b = -1, j = 0;
	while (j < buckets) {
		b = j;
		key = key * 2862933555777941757ULL + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
	}
	return (int32_t)b;
}

size_t pg_shard_of(const struct pg_store *s, const char *conversation_id)
{
	if (s->n_shards <= 1)
		return 0;
	return (size_t)pg_jump_hash(pg_fnv1a64(conversation_id), (int32_t)s->n_shards);
}

int pg_split_dsns(const char *list, char **out, int max)
{
	int n = 0;
	const char *p = list;
	while (p && *p) {
		const char *e = strchr(p, '\n');
		const char *end = e ? e : p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a < b && *a != '#') {
			if (n == max) {
				while (n > 0)
					free(out[--n]);
				return -2;
			}
			char *d = malloc((size_t)(b - a) + 1);
			if (!d) {
				while (n > 0)
					free(out[--n]);
				return -1;
			}
			memcpy(d, a, (size_t)(b - a));
			d[b - a] = '\0';
			out[n++] = d;
		}
		p = e ? e + 1 : end;
	}
	return n;
}

void pg_dsn_label(const char *dsn, char *buf, size_t len)
{
	const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &err);
	if (!opts) {
		PQfreemem(err);
		snprintf(buf, len, "(unparsable DSN)");
		return;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0 || (!host && strcmp(o->keyword, "hostaddr") == 0))
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	snprintf(buf, len, "%s%s%s:%s/%s", user ? user : "", user ? "@" : "",
		 host ? host : "(default host)", port ? port : "5432", db ? db : "(default db)");
	PQconninfoFree(opts);
}
