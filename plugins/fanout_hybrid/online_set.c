/* online_set.c — see online_set.h.
 *
 * Each conversation and each user is one allocation holding its id; the
 * two kinds sit in two open-addressing tables (linear probing, backward
 * shift on delete, so no tombstones pile up under churn).  A pair is a link
 * in both vectors, and each link stores the position of its twin: removing
 * a pair swaps the last link of each vector into the hole and fixes the
 * moved links' twins, all O(1).
 *
 * Finding a pair starts from the user: a scan of their conversations while
 * they have at most IDX_ON, else a small hash index over their vector
 * (positions, keyed by the conversation's hash).  Most users are in a
 * handful of conversations and pay nothing for the index. */
#include "online_set.h"

#include <stdlib.h>
#include <string.h>

#define IDX_ON 16    /* build a user's index above this many conversations */
#define IDX_OFF 8    /* and drop it below this many */
#define TAB_MIN 16

struct oconv;
struct ouser;

/* In a conversation's vector: u->convs[ui] is the twin. */
struct clink {
	struct ouser *u;
	uint32_t ui;
};

/* In a user's vector: c->users[ci] is the twin. */
struct ulink {
	struct oconv *c;
	uint32_t ci;
};

/* Both entry kinds start with their hash (the tables read it there). */
struct oconv {
	uint32_t hash;
	uint32_t n, cap;
	struct clink *users;
	char id[];
};

struct ouser {
	uint32_t hash;
	uint32_t n, cap;
	uint32_t idx_mask;     /* idx has idx_mask + 1 slots */
	struct ulink *convs;
	uint32_t *idx;         /* NULL, or position + 1 per slot (0: empty) */
	void *data;
	char id[];
};

struct otab {
	void **slot;           /* NULL when empty */
	uint32_t mask, count;
	size_t id_off;         /* where an entry's id starts */
};

struct online_set {
	struct otab convs, users;
	size_t pairs;
	size_t bytes;
};

/* ---- allocation, counted ------------------------------------------ */

static void *s_alloc(struct online_set *s, size_t n, bool zero)
{
	void *p = zero ? calloc(1, n) : malloc(n);
	if (p)
		s->bytes += n;
	return p;
}

static void *s_realloc(struct online_set *s, void *p, size_t old, size_t n)
{
	void *q = realloc(p, n);
	if (q)
		s->bytes = s->bytes - old + n;
	return q;
}

static void s_free(struct online_set *s, void *p, size_t n)
{
	if (p) {
		s->bytes -= n;
		free(p);
	}
}

static uint32_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

/* ---- the two id tables -------------------------------------------- */

static uint32_t ent_hash(const void *e)
{
	return *(const uint32_t *)e;
}

static size_t tab_cap(const struct otab *t)
{
	return t->slot ? (size_t)t->mask + 1 : 0;
}

static void *tab_get(const struct otab *t, const char *id, uint32_t h, uint32_t *pos)
{
	if (!t->slot)
		return NULL;
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		void *e = t->slot[i];
		if (!e)
			return NULL;
		if (ent_hash(e) == h && strcmp((const char *)e + t->id_off, id) == 0) {
			if (pos)
				*pos = i;
			return e;
		}
	}
}

/* slots: a power of two, or 0 to free the array (count must be 0). */
static int tab_resize(struct online_set *s, struct otab *t, size_t slots)
{
	void **ns = NULL;
	if (slots) {
		if (slots > (size_t)UINT32_MAX + 1)
			return -1;
		ns = s_alloc(s, slots * sizeof *ns, true);
		if (!ns)
			return -1;
	}
	size_t old = tab_cap(t);
	for (size_t i = 0; i < old; i++) {
		void *e = t->slot[i];
		if (!e)
			continue;
		size_t j = ent_hash(e) & (slots - 1);
		while (ns[j])
			j = (j + 1) & (slots - 1);
		ns[j] = e;
	}
	s_free(s, t->slot, old * sizeof *t->slot);
	t->slot = ns;
	t->mask = slots ? (uint32_t)(slots - 1) : 0;
	return 0;
}

/* Room for one more entry (load at most 3/4). */
static int tab_reserve(struct online_set *s, struct otab *t)
{
	size_t cap = tab_cap(t);
	if ((t->count + 1) * 4 <= cap * 3)
		return 0;
	return tab_resize(s, t, cap ? cap * 2 : TAB_MIN);
}

/* After tab_reserve; e is not in the table. */
static void tab_insert(struct otab *t, void *e)
{
	uint32_t i = ent_hash(e) & t->mask;
	while (t->slot[i])
		i = (i + 1) & t->mask;
	t->slot[i] = e;
	t->count++;
}

/* Whether home h lies cyclically in (hole, j]: then the entry at j cannot
 * move into the hole. */
static bool in_run(uint32_t hole, uint32_t j, uint32_t h)
{
	return hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
}

static void tab_delete(struct online_set *s, struct otab *t, uint32_t pos)
{
	uint32_t hole = pos;
	for (uint32_t j = (pos + 1) & t->mask; t->slot[j]; j = (j + 1) & t->mask) {
		if (!in_run(hole, j, ent_hash(t->slot[j]) & t->mask)) {
			t->slot[hole] = t->slot[j];
			hole = j;
		}
	}
	t->slot[hole] = NULL;
	t->count--;
	size_t cap = tab_cap(t);
	if (t->count == 0)
		(void)tab_resize(s, t, 0);
	else if (cap > TAB_MIN && (size_t)t->count * 8 < cap)
		(void)tab_resize(s, t, cap / 2); /* on failure the table stays as it is */
}

/* ---- a user's index over their conversation vector ---------------- */

static uint32_t uidx_slot_of(const struct ouser *u, uint32_t pos)
{
	uint32_t i = u->convs[pos].c->hash & u->idx_mask;
	while (u->idx[i] != pos + 1)
		i = (i + 1) & u->idx_mask;
	return i;
}

static void uidx_insert(struct ouser *u, uint32_t pos)
{
	uint32_t i = u->convs[pos].c->hash & u->idx_mask;
	while (u->idx[i])
		i = (i + 1) & u->idx_mask;
	u->idx[i] = pos + 1;
}

static void uidx_delete(struct ouser *u, uint32_t pos)
{
	uint32_t hole = uidx_slot_of(u, pos);
	for (uint32_t j = (hole + 1) & u->idx_mask; u->idx[j]; j = (j + 1) & u->idx_mask) {
		uint32_t h = u->convs[u->idx[j] - 1].c->hash & u->idx_mask;
		if (!in_run(hole, j, h)) {
			u->idx[hole] = u->idx[j];
			hole = j;
		}
	}
	u->idx[hole] = 0;
}

static void uidx_drop(struct online_set *s, struct ouser *u)
{
	s_free(s, u->idx, ((size_t)u->idx_mask + 1) * sizeof *u->idx);
	u->idx = NULL;
	u->idx_mask = 0;
}

/* An index for the first n positions of u->convs, with room for `want`
 * entries at load 1/2. */
static int uidx_build(struct online_set *s, struct ouser *u, uint32_t n, size_t want)
{
	size_t slots = 16;
	while (slots < want * 2)
		slots *= 2;
	if (slots > (size_t)UINT32_MAX + 1)
		return -1;
	uint32_t *idx = s_alloc(s, slots * sizeof *idx, true);
	if (!idx)
		return -1;
	uidx_drop(s, u);
	u->idx = idx;
	u->idx_mask = (uint32_t)(slots - 1);
	for (uint32_t p = 0; p < n; p++)
		uidx_insert(u, p);
	return 0;
}

static int64_t user_find(const struct ouser *u, const struct oconv *c)
{
	if (u->idx) {
		for (uint32_t i = c->hash & u->idx_mask; u->idx[i]; i = (i + 1) & u->idx_mask)
			if (u->convs[u->idx[i] - 1].c == c)
				return u->idx[i] - 1;
		return -1;
	}
	for (uint32_t p = 0; p < u->n; p++)
		if (u->convs[p].c == c)
			return p;
	return -1;
}

/* ---- vectors ------------------------------------------------------- */

/* Grow *vec (elements of size el) so it holds n + 1.  Growth by half keeps
 * the slack small; vectors start at one element (most conversations have
 * one or two members online). */
static int vec_reserve(struct online_set *s, void **vec, uint32_t *cap, uint32_t n, size_t el)
{
	if (n < *cap)
		return 0;
	if (*cap > UINT32_MAX / 2)
		return -1;
	uint32_t nc = *cap + *cap / 2 + 1;
	void *v = s_realloc(s, *vec, (size_t)*cap * el, (size_t)nc * el);
	if (!v)
		return -1;
	*vec = v;
	*cap = nc;
	return 0;
}

/* After a removal: give back memory when the vector is mostly empty. */
static void vec_shrink(struct online_set *s, void **vec, uint32_t *cap, uint32_t n, size_t el)
{
	if (n == 0) {
		s_free(s, *vec, (size_t)*cap * el);
		*vec = NULL;
		*cap = 0;
	} else if (*cap > 4 && n * 4 < *cap) {
		void *v = s_realloc(s, *vec, (size_t)*cap * el, (size_t)n * 2 * el);
		if (v) {
			*vec = v;
			*cap = n * 2;
		}
	}
}

/* ---- entries ------------------------------------------------------- */

static struct oconv *conv_new(struct online_set *s, const char *id, uint32_t h)
{
	size_t len = strlen(id);
	struct oconv *c = s_alloc(s, sizeof *c + len + 1, true);
	if (c) {
		c->hash = h;
		memcpy(c->id, id, len + 1);
	}
	return c;
}

static void conv_free(struct online_set *s, struct oconv *c)
{
	s_free(s, c->users, (size_t)c->cap * sizeof *c->users);
	s_free(s, c, sizeof *c + strlen(c->id) + 1);
}

static struct ouser *user_new(struct online_set *s, const char *id, uint32_t h)
{
	size_t len = strlen(id);
	struct ouser *u = s_alloc(s, sizeof *u + len + 1, true);
	if (u) {
		u->hash = h;
		memcpy(u->id, id, len + 1);
	}
	return u;
}

static void user_free(struct online_set *s, struct ouser *u)
{
	uidx_drop(s, u);
	s_free(s, u->convs, (size_t)u->cap * sizeof *u->convs);
	s_free(s, u, sizeof *u + strlen(u->id) + 1);
}

/* Drop an entry that has become empty. */
static void conv_release(struct online_set *s, struct oconv *c)
{
	uint32_t pos;
	if (c->n == 0 && tab_get(&s->convs, c->id, c->hash, &pos) == c) {
		tab_delete(s, &s->convs, pos);
		conv_free(s, c);
	}
}

static void user_release(struct online_set *s, struct ouser *u)
{
	uint32_t pos;
	if (u->n == 0 && !u->data && tab_get(&s->users, u->id, u->hash, &pos) == u) {
		tab_delete(s, &s->users, pos);
		user_free(s, u);
	}
}

/* Take link ci out of c's vector: the last link moves into its place and
 * its twin learns the new position. */
static void conv_unlink(struct online_set *s, struct oconv *c, uint32_t ci)
{
	uint32_t last = c->n - 1;
	if (ci != last) {
		c->users[ci] = c->users[last];
		c->users[ci].u->convs[c->users[ci].ui].ci = ci;
	}
	c->n--;
	vec_shrink(s, (void **)&c->users, &c->cap, c->n, sizeof *c->users);
}

/* Remove the pair at position ui of u's vector (both links). */
static void pair_unlink(struct online_set *s, struct ouser *u, uint32_t ui)
{
	struct oconv *c = u->convs[ui].c;
	uint32_t ci = u->convs[ui].ci;
	uint32_t last = u->n - 1;
	if (u->idx) {
		uidx_delete(u, ui);
		if (ui != last)
			u->idx[uidx_slot_of(u, last)] = ui + 1;
	}
	if (ui != last) {
		u->convs[ui] = u->convs[last];
		u->convs[ui].c->users[u->convs[ui].ci].ui = ui;
	}
	u->n--;
	vec_shrink(s, (void **)&u->convs, &u->cap, u->n, sizeof *u->convs);
	if (u->idx && u->n < IDX_OFF)
		uidx_drop(s, u);
	else if (u->idx && (size_t)u->n * 8 < (size_t)u->idx_mask + 1)
		(void)uidx_build(s, u, u->n, u->n); /* on failure the larger index stays */
	conv_unlink(s, c, ci);
	s->pairs--;
}

/* ---- public -------------------------------------------------------- */

struct online_set *online_set_new(void)
{
	struct online_set *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->convs.id_off = offsetof(struct oconv, id);
	s->users.id_off = offsetof(struct ouser, id);
	return s;
}

void online_set_free(struct online_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < tab_cap(&s->convs); i++)
		if (s->convs.slot[i])
			conv_free(s, s->convs.slot[i]);
	for (size_t i = 0; i < tab_cap(&s->users); i++)
		if (s->users.slot[i])
			user_free(s, s->users.slot[i]);
	free(s->convs.slot);
	free(s->users.slot);
	free(s);
}

int online_set_add(struct online_set *s, const char *conv, const char *user)
{
	uint32_t hc = hash_id(conv), hu = hash_id(user);
	struct oconv *c = tab_get(&s->convs, conv, hc, NULL);
	struct ouser *u = tab_get(&s->users, user, hu, NULL);
	if (c && u && user_find(u, c) >= 0)
		return 0;
	/* Get every allocation first, so a failure changes nothing that
	 * anyone can see (only capacities may have grown). */
	struct oconv *new_c = NULL;
	struct ouser *new_u = NULL;
	if (!c && !(c = new_c = conv_new(s, conv, hc)))
		goto nomem;
	if (!u && !(u = new_u = user_new(s, user, hu)))
		goto nomem;
	if ((new_c && tab_reserve(s, &s->convs) < 0) || (new_u && tab_reserve(s, &s->users) < 0))
		goto nomem;
	if (vec_reserve(s, (void **)&c->users, &c->cap, c->n, sizeof *c->users) < 0 ||
	    vec_reserve(s, (void **)&u->convs, &u->cap, u->n, sizeof *u->convs) < 0)
		goto nomem;
	if (u->n + 1 > IDX_ON && (!u->idx || ((size_t)u->n + 1) * 2 > (size_t)u->idx_mask + 1) &&
	    uidx_build(s, u, u->n, (size_t)u->n + 1) < 0)
		goto nomem;

	if (new_c)
		tab_insert(&s->convs, c);
	if (new_u)
		tab_insert(&s->users, u);
	u->convs[u->n] = (struct ulink){ .c = c, .ci = c->n };
	c->users[c->n] = (struct clink){ .u = u, .ui = u->n };
	if (u->idx)
		uidx_insert(u, u->n);
	u->n++;
	c->n++;
	s->pairs++;
	return 1;
nomem:
	if (new_c)
		conv_free(s, new_c);
	if (new_u)
		user_free(s, new_u);
	return -1;
}

bool online_set_remove(struct online_set *s, const char *conv, const char *user)
{
	struct ouser *u = tab_get(&s->users, user, hash_id(user), NULL);
	struct oconv *c = u ? tab_get(&s->convs, conv, hash_id(conv), NULL) : NULL;
	int64_t ui = c ? user_find(u, c) : -1;
	if (ui < 0)
		return false;
	pair_unlink(s, u, (uint32_t)ui);
	conv_release(s, c);
	user_release(s, u);
	return true;
}

bool online_set_has(const struct online_set *s, const char *conv, const char *user)
{
	const struct ouser *u = tab_get(&s->users, user, hash_id(user), NULL);
	const struct oconv *c = u ? tab_get(&s->convs, conv, hash_id(conv), NULL) : NULL;
	return c && user_find(u, c) >= 0;
}

int online_set_user_set(struct online_set *s, const char *user, void *data)
{
	uint32_t hu = hash_id(user);
	struct ouser *u = tab_get(&s->users, user, hu, NULL);
	if (!data) {
		if (u) {
			u->data = NULL;
			user_release(s, u);
		}
		return 0;
	}
	if (!u) {
		if (!(u = user_new(s, user, hu)))
			return -1;
		if (tab_reserve(s, &s->users) < 0) {
			user_free(s, u);
			return -1;
		}
		tab_insert(&s->users, u);
	}
	u->data = data;
	return 0;
}

void *online_set_user_data(const struct online_set *s, const char *user)
{
	const struct ouser *u = tab_get(&s->users, user, hash_id(user), NULL);
	return u ? u->data : NULL;
}

void *online_set_remove_user(struct online_set *s, const char *user, size_t *n_convs)
{
	uint32_t pos;
	struct ouser *u = tab_get(&s->users, user, hash_id(user), &pos);
	if (n_convs)
		*n_convs = u ? u->n : 0;
	if (!u)
		return NULL;
	/* The user's own vector goes whole: only the conversations' side
	 * needs unlinking. */
	for (uint32_t p = u->n; p-- > 0;) {
		struct oconv *c = u->convs[p].c;
		conv_unlink(s, c, u->convs[p].ci);
		conv_release(s, c);
	}
	s->pairs -= u->n;
	void *data = u->data;
	tab_delete(s, &s->users, pos);
	user_free(s, u);
	return data;
}

size_t online_set_conv_size(const struct online_set *s, const char *conv)
{
	const struct oconv *c = tab_get(&s->convs, conv, hash_id(conv), NULL);
	return c ? c->n : 0;
}

size_t online_set_user_size(const struct online_set *s, const char *user)
{
	const struct ouser *u = tab_get(&s->users, user, hash_id(user), NULL);
	return u ? u->n : 0;
}

const char *online_set_conv_first(const struct online_set *s, const char *conv,
				  struct online_iter *it)
{
	*it = (struct online_iter){ .entry = tab_get(&s->convs, conv, hash_id(conv), NULL) };
	return online_set_next(it);
}

const char *online_set_user_first(const struct online_set *s, const char *user,
				  struct online_iter *it)
{
	*it = (struct online_iter){ .entry = tab_get(&s->users, user, hash_id(user), NULL),
				    .of_user = true };
	return online_set_next(it);
}

const char *online_set_next(struct online_iter *it)
{
	if (!it->entry)
		return NULL;
	if (it->of_user) {
		const struct ouser *u = it->entry;
		return it->pos < u->n ? u->convs[it->pos++].c->id : NULL;
	}
	const struct oconv *c = it->entry;
	return it->pos < c->n ? c->users[it->pos++].u->id : NULL;
}

size_t online_set_n_convs(const struct online_set *s)
{
	return s->convs.count;
}

size_t online_set_n_users(const struct online_set *s)
{
	return s->users.count;
}

size_t online_set_n_pairs(const struct online_set *s)
{
	return s->pairs;
}

size_t online_set_bytes(const struct online_set *s)
{
	return sizeof *s + s->bytes;
}
