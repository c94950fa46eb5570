/* mod_dupe.c — per-user rings of simhash fingerprints.  See mod_dupe.h.
 *
 * Normalization and shingling run as one streaming pass with no allocation:
 * a small window holds the last MOD_DUPE_SHINGLE normalized bytes. */
#include "mod_dupe.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/status.h"

struct fp {
	uint64_t hash;
	int64_t at_ms;
};

struct duser {
	struct duser *hnext;
	struct duser *prev, *next;      /* LRU: head = most recent */
	uint64_t hash;
	size_t n, pos;                  /* ring fill and next write slot */
	struct fp *ring;                /* ring_size slots, same allocation */
	char key[];
};

struct mod_dupe {
	struct mod_dupe_config cfg;
	struct duser **slots;
	size_t nslots, count;
	struct duser *head, *tail;
};

void mod_dupe_config_default(struct mod_dupe_config *cfg)
{
	cfg->max_users = 10000;
	cfg->ring_size = 10;
	cfg->ttl_ms = 10 * 60 * 1000;
	cfg->max_distance = 10;
}

static uint64_t fnv(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* splitmix64 finalizer: FNV's high bits are poorly mixed for short input,
 * and simhash needs every bit to be an independent coin. */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static bool is_punct(unsigned char c)
{
	return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
	       (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

static bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0;
}

/* Simhash's votes, counted bit-sliced: bit b of a shingle's hash votes +1
 * when set and -1 when clear, so the sum is positive exactly when more than
 * half of the shingles set it.  Instead of 64 adds per shingle, each of
 * 8 lanes adds 8 bits at once into 8 byte-wide counters (lane j, byte i
 * counts bit 8i+j); the bytes are emptied into `ones` before they can
 * overflow.  (It was the whole cost of a spam check: docs/benchmarks-notes.md.) */
struct votes {
	uint64_t lane[8];
	uint32_t ones[64];
	uint32_t shingles, pending;
};

static void votes_flush(struct votes *v)
{
	for (int j = 0; j < 8; j++) {
		for (int i = 0; i < 8; i++)
			v->ones[8 * i + j] += (uint32_t)((v->lane[j] >> (8 * i)) & 0xff);
		v->lane[j] = 0;
	}
	v->pending = 0;
}

static void vote(struct votes *v, const unsigned char *sh, size_t n)
{
	uint64_t h = mix(fnv(sh, n));
	for (int j = 0; j < 8; j++)
		v->lane[j] += (h >> j) & 0x0101010101010101ULL;
	v->shingles++;
	if (++v->pending == 255)
		votes_flush(v);
}

uint64_t mod_dupe_simhash(const char *text, size_t len)
{
	struct votes votes = { 0 };
	unsigned char win[MOD_DUPE_SHINGLE];
	size_t have = 0;                /* normalized bytes emitted so far */
	bool pending_space = false;
	bool any_shingle = false;
	for (size_t i = 0; text && i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (is_space(c)) {
			pending_space = have > 0;
			continue;
		}
		if (is_punct(c))
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		/* Emit a collapsed space first, then the byte. */
		for (int k = pending_space ? 0 : 1; k < 2; k++) {
			unsigned char out = k == 0 ? ' ' : c;
			if (have >= MOD_DUPE_SHINGLE)
				memmove(win, win + 1, MOD_DUPE_SHINGLE - 1);
			win[have >= MOD_DUPE_SHINGLE ? MOD_DUPE_SHINGLE - 1
						     : have] = out;
			have++;
			if (have >= MOD_DUPE_SHINGLE) {
				vote(&votes, win, MOD_DUPE_SHINGLE);
				any_shingle = true;
			}
		}
		pending_space = false;
	}
	if (have == 0)
		return 0;
	if (!any_shingle)               /* shorter than one shingle */
		vote(&votes, win, have);
	votes_flush(&votes);
	uint64_t fp = 0;
	for (int b = 0; b < 64; b++)
		if (2 * (uint64_t)votes.ones[b] > votes.shingles)
			fp |= (uint64_t)1 << b;
	return fp;
}

unsigned mod_dupe_distance(uint64_t a, uint64_t b)
{
	return (unsigned)__builtin_popcountll(a ^ b);
}

struct mod_dupe *mod_dupe_new(const struct mod_dupe_config *cfg)
{
	if (!cfg || cfg->max_users == 0 || cfg->max_users > (size_t)1 << 24 ||
	    cfg->ring_size == 0 || cfg->ring_size > MOD_DUPE_RING_MAX ||
	    cfg->ttl_ms <= 0 || cfg->max_distance > 32)
		return NULL;
	struct mod_dupe *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->cfg = *cfg;
	size_t n = 16;
	while (n < cfg->max_users)
		n <<= 1;
	d->slots = calloc(n, sizeof(*d->slots));
	if (!d->slots) {
		free(d);
		return NULL;
	}
	d->nslots = n;
	return d;
}

void mod_dupe_free(struct mod_dupe *d)
{
	if (!d)
		return;
	struct duser *u = d->head;
	while (u) {
		struct duser *nx = u->next;
		free(u);
		u = nx;
	}
	free(d->slots);
	free(d);
}

static void lru_unlink(struct mod_dupe *d, struct duser *u)
{
	if (u->prev)
		u->prev->next = u->next;
	else
		d->head = u->next;
	if (u->next)
		u->next->prev = u->prev;
	else
		d->tail = u->prev;
	u->prev = u->next = NULL;
}

static void lru_push_head(struct mod_dupe *d, struct duser *u)
{
	u->prev = NULL;
	u->next = d->head;
	if (d->head)
		d->head->prev = u;
	d->head = u;
	if (!d->tail)
		d->tail = u;
}

static void user_evict_lru(struct mod_dupe *d)
{
	struct duser *u = d->tail;
	if (!u)
		return;
	struct duser **pp = &d->slots[u->hash & (d->nslots - 1)];
	while (*pp && *pp != u)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = u->hnext;
	lru_unlink(d, u);
	d->count--;
	free(u);
}

static struct duser *user_get(struct mod_dupe *d, const char *user,
			      size_t ulen)
{
	uint64_t h = fnv(user, ulen);
	size_t slot = h & (d->nslots - 1);
	for (struct duser *u = d->slots[slot]; u; u = u->hnext) {
		if (u->hash == h && strcmp(u->key, user) == 0) {
			lru_unlink(d, u);
			lru_push_head(d, u);
			return u;
		}
	}
	if (d->count >= d->cfg.max_users)
		user_evict_lru(d);
	/* One allocation: header, key, then the ring (aligned). */
	size_t koff = (ulen + 1 + sizeof(struct fp) - 1) /
		      sizeof(struct fp) * sizeof(struct fp);
	struct duser *u = malloc(sizeof(*u) + koff +
				 d->cfg.ring_size * sizeof(struct fp));
	if (!u)
		return NULL;
	memcpy(u->key, user, ulen + 1);
	u->ring = (struct fp *)(void *)(u->key + koff);
	u->hash = h;
	u->n = u->pos = 0;
	u->hnext = d->slots[slot];
	d->slots[slot] = u;
	lru_push_head(d, u);
	d->count++;
	return u;
}

int mod_dupe_check_and_add(struct mod_dupe *d, const char *user,
			   const char *text, size_t len, int64_t now_ms)
{
	if (!d || !user || (!text && len > 0))
		return CHATD_ERR_INVALID;
	size_t ulen = strnlen(user, MOD_DUPE_USER_MAX + 1);
	if (ulen > MOD_DUPE_USER_MAX)
		return CHATD_ERR_INVALID;
	if (len > MOD_DUPE_TEXT_MAX)
		return CHATD_ERR_TOO_LARGE;
	uint64_t fp = mod_dupe_simhash(text, len);
	struct duser *u = user_get(d, user, ulen);
	if (!u)
		return CHATD_ERR_NOMEM;
	int hits = 0;
	for (size_t i = 0; i < u->n; i++) {
		const struct fp *f = &u->ring[i];
		if (now_ms - f->at_ms >= d->cfg.ttl_ms)
			continue;
		if (mod_dupe_distance(f->hash, fp) <= d->cfg.max_distance)
			hits++;
	}
	u->ring[u->pos].hash = fp;
	u->ring[u->pos].at_ms = now_ms;
	u->pos = (u->pos + 1) % d->cfg.ring_size;
	if (u->n < d->cfg.ring_size)
		u->n++;
	return hits;
}

size_t mod_dupe_user_count(const struct mod_dupe *d)
{
	return d ? d->count : 0;
}
