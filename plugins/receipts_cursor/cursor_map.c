/* cursor_map.c — see cursor_map.h.  A chained hash table keyed by
 * "conversation\0user"; it grows by doubling and never shrinks below its
 * first size.  Counts are kept up to date so the plugin can compare the
 * dirty count with max_pending on every mark. */
#include "cursor_map.h"

#include <stdlib.h>
#include <string.h>

#define CMAP_INITIAL 64              /* buckets; always a power of two */

struct centry {
	struct centry *next;
	uint64_t hash;
	int64_t seq;                     /* highest cursor known */
	int64_t written;                 /* highest cursor storage confirmed */
	int64_t inflight;                /* seq of the batch in flight; 0: none */
	bool aged;                       /* clean at the last cmap_expire */
	size_t conv_len;                 /* key = conv '\0' user '\0' */
	char key[];
};

struct cmap {
	struct centry **buckets;
	size_t n_buckets;
	size_t n, n_dirty;
};

static bool id_ok(const char *s, size_t *len)
{
	if (!s)
		return false;
	*len = strnlen(s, CHATD_ID_MAX + 1);
	return *len >= 1 && *len <= CHATD_ID_MAX;
}

/* FNV-1a over both parts with the separator. */
static uint64_t hash_key(const char *conv, size_t cl, const char *user, size_t ul)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < cl; i++)
		h = (h ^ (unsigned char)conv[i]) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (size_t i = 0; i < ul; i++)
		h = (h ^ (unsigned char)user[i]) * 1099511628211ULL;
	return h;
}

static bool dirty(const struct centry *e)
{
	return e->seq > e->written;
}

struct cmap *cmap_new(void)
{
	struct cmap *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->buckets = calloc(CMAP_INITIAL, sizeof *m->buckets);
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	m->n_buckets = CMAP_INITIAL;
	return m;
}

void cmap_free(struct cmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct centry *e = m->buckets[i];
		while (e) {
			struct centry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->buckets);
	free(m);
}

static struct centry *find(const struct cmap *m, const char *conv, size_t cl, const char *user,
			   uint64_t h)
{
	for (struct centry *e = m->buckets[h & (m->n_buckets - 1)]; e; e = e->next)
		if (e->hash == h && e->conv_len == cl && memcmp(e->key, conv, cl) == 0 &&
		    strcmp(e->key + cl + 1, user) == 0)
			return e;
	return NULL;
}

/* Double the table; on OOM it stays as it is (only slower). */
static void grow(struct cmap *m)
{
	size_t nb = m->n_buckets * 2;
	struct centry **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct centry *e = m->buckets[i];
		while (e) {
			struct centry *next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
}

int cmap_mark(struct cmap *m, const char *conv, const char *user, int64_t seq, int64_t stored)
{
	size_t cl, ul;
	if (!id_ok(conv, &cl) || !id_ok(user, &ul))
		return CHATD_ERR_INVALID;
	uint64_t h = hash_key(conv, cl, user, ul);
	struct centry *e = find(m, conv, cl, user, h);
	int64_t known = e && e->seq > stored ? e->seq : stored;
	if (seq <= known)
		return 0;
	if (!e) {
		e = calloc(1, sizeof *e + cl + ul + 2);
		if (!e)
			return CHATD_ERR_NOMEM;
		e->hash = h;
		e->conv_len = cl;
		memcpy(e->key, conv, cl + 1);
		memcpy(e->key + cl + 1, user, ul + 1);
		if (m->n >= m->n_buckets)
			grow(m);
		struct centry **b = &m->buckets[h & (m->n_buckets - 1)];
		e->next = *b;
		*b = e;
		m->n++;
	}
	if (!dirty(e))
		m->n_dirty++;
	/* What storage has is at least `stored`: a cursor written through
	 * another path (a send advances the sender's) counts as written. */
	if (stored > e->written)
		e->written = stored;
	e->seq = seq;
	e->aged = false;
	return 1;
}

int64_t cmap_get(const struct cmap *m, const char *conv, const char *user)
{
	size_t cl, ul;
	if (!id_ok(conv, &cl) || !id_ok(user, &ul))
		return 0;
	const struct centry *e = find(m, conv, cl, user, hash_key(conv, cl, user, ul));
	return e ? e->seq : 0;
}

size_t cmap_dirty(const struct cmap *m)
{
	return m->n_dirty;
}

size_t cmap_size(const struct cmap *m)
{
	return m->n;
}

size_t cmap_take(struct cmap *m, struct chatd_read_cursor *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_buckets && n < max; i++)
		for (struct centry *e = m->buckets[i]; e && n < max; e = e->next) {
			if (!dirty(e))
				continue;
			e->inflight = e->seq;
			out[n].conversation_id = e->key;
			out[n].user_id = e->key + e->conv_len + 1;
			out[n].seq = e->seq;
			n++;
		}
	return n;
}

void cmap_done(struct cmap *m, bool ok)
{
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct centry *e = m->buckets[i]; e; e = e->next) {
			if (!e->inflight)
				continue;
			if (ok && e->inflight > e->written) {
				e->written = e->inflight;
				if (!dirty(e)) {
					m->n_dirty--;
					e->aged = false;
				}
			}
			e->inflight = 0;
		}
}

size_t cmap_expire(struct cmap *m)
{
	size_t dropped = 0;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct centry **p = &m->buckets[i];
		while (*p) {
			struct centry *e = *p;
			if (dirty(e) || e->inflight) {
				p = &e->next;
			} else if (e->aged) {
				*p = e->next;
				free(e);
				m->n--;
				dropped++;
			} else {
				e->aged = true;
				p = &e->next;
			}
		}
	}
	return dropped;
}
