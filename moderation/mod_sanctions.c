/* mod_sanctions.c — see mod_sanctions.h.  One mod_keytab entry per user;
 * the recency list orders users by their latest set(). */
#include "mod_sanctions.h"

#include <stdlib.h>
#include <string.h>

#include "chatd/status.h"
#include "mod_keytab.h"

enum { K_BAN, K_SHADOW, K_BLOCK, K__COUNT };
static const char *const kind_names[K__COUNT] = { "ban", "shadow", "block" };

/* How many LRU-tail users to inspect for an expired one when full. */
#define EVICT_SCAN 64

struct suser {
	struct mod_keytab_node node;    /* first: the table's link */
	bool on[K__COUNT];
	int64_t until[K__COUNT];        /* 0: permanent */
	char *reason[K__COUNT];         /* owned; NULL: none given */
	char key[];
};

struct mod_sanctions {
	struct mod_keytab tab;
	int64_t last_now;               /* the latest call's now */
};

static int kind_of(const char *k)
{
	for (int i = 0; k && i < K__COUNT; i++)
		if (strcmp(k, kind_names[i]) == 0)
			return i;
	return -1;
}

static bool user_ok(const char *u, size_t *len)
{
	if (!u)
		return false;
	*len = strnlen(u, MOD_SANCTIONS_USER_MAX + 1);
	return *len > 0 && *len <= MOD_SANCTIONS_USER_MAX;
}

static bool active(const struct suser *e, int k, int64_t now)
{
	return e->on[k] && (e->until[k] == 0 || now < e->until[k]);
}

static bool all_expired(const struct mod_keytab_node *n, void *arg)
{
	const struct suser *e = (const struct suser *)n;
	int64_t now = *(const int64_t *)arg;
	for (int k = 0; k < K__COUNT; k++)
		if (active(e, k, now))
			return false;
	return true;
}

static void note_now(struct mod_sanctions *t, int64_t now)
{
	t->last_now = now;
}

struct mod_sanctions *mod_sanctions_new(size_t max_users)
{
	struct mod_sanctions *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (mod_keytab_init(&t->tab, max_users ? max_users : MOD_SANCTIONS_DEFAULT_USERS) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* Kind k of e is off: its reason goes. */
static void clear_kind(struct suser *e, int k)
{
	e->on[k] = false;
	e->until[k] = 0;
	free(e->reason[k]);
	e->reason[k] = NULL;
}

static void suser_free(struct mod_keytab_node *n)
{
	struct suser *e = (struct suser *)n;
	for (int k = 0; k < K__COUNT; k++)
		free(e->reason[k]);
	free(e);
}

void mod_sanctions_free(struct mod_sanctions *t)
{
	if (!t)
		return;
	mod_keytab_destroy(&t->tab, suser_free);
	free(t);
}

static struct suser *find(const struct mod_sanctions *t, const char *user, size_t len,
			  uint64_t *hash)
{
	return (struct suser *)mod_keytab_find(&t->tab, user, len, hash);
}

static void drop(struct mod_sanctions *t, struct suser *e)
{
	mod_keytab_remove(&t->tab, &e->node);
	suser_free(&e->node);
}

int mod_sanctions_set(struct mod_sanctions *t, const char *user, const char *kind,
		      int64_t until)
{
	return mod_sanctions_set_reason(t, user, kind, until, NULL);
}

int mod_sanctions_set_reason(struct mod_sanctions *t, const char *user, const char *kind,
			     int64_t until, const char *reason)
{
	size_t len;
	int k = kind_of(kind);
	if (!t || !user_ok(user, &len) || k < 0 || until < 0 ||
	    (reason && strnlen(reason, MOD_SANCTIONS_REASON_MAX + 1) > MOD_SANCTIONS_REASON_MAX))
		return CHATD_ERR_INVALID;
	char *why = NULL;
	if (reason && *reason && !(why = strdup(reason)))
		return CHATD_ERR_NOMEM;
	uint64_t h;
	struct suser *e = find(t, user, len, &h);
	if (e) {
		mod_keytab_touch(&t->tab, &e->node);
	} else {
		if (t->tab.count >= t->tab.max_keys) {
			struct mod_keytab_node *v = mod_keytab_victim(&t->tab, EVICT_SCAN,
								      all_expired, &t->last_now);
			if (!v || !all_expired(v, &t->last_now)) {
				free(why);
				return CHATD_ERR_TOO_LARGE;
			}
			drop(t, (struct suser *)v);
		}
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e) {
			free(why);
			return CHATD_ERR_NOMEM;
		}
		memcpy(e->key, user, len + 1);
		e->node.key = e->key;
		mod_keytab_insert(&t->tab, &e->node, h);
	}
	clear_kind(e, k);
	e->on[k] = true;
	e->until[k] = until;
	e->reason[k] = why;
	return CHATD_OK;
}

const char *mod_sanctions_reason(const struct mod_sanctions *t, const char *user,
				 const char *kind)
{
	size_t len;
	int k = kind_of(kind);
	if (!t || !user_ok(user, &len) || k < 0)
		return "";
	const struct suser *e = find(t, user, len, NULL);
	return e && e->on[k] && e->reason[k] ? e->reason[k] : "";
}

int mod_sanctions_lift(struct mod_sanctions *t, const char *user, const char *kind)
{
	size_t len;
	int k = kind_of(kind);
	if (!t || !user_ok(user, &len) || k < 0)
		return CHATD_ERR_INVALID;
	struct suser *e = find(t, user, len, NULL);
	if (!e || !e->on[k])
		return CHATD_ERR_NOT_FOUND;
	clear_kind(e, k);
	if (!e->on[K_BAN] && !e->on[K_SHADOW] && !e->on[K_BLOCK])
		drop(t, e);
	return CHATD_OK;
}

const char *mod_sanctions_blocking(struct mod_sanctions *t, const char *user, int64_t now,
				   int64_t *until)
{
	size_t len;
	if (until)
		*until = 0;
	if (!t)
		return NULL;
	note_now(t, now);
	if (!user_ok(user, &len))
		return NULL;
	const struct suser *e = find(t, user, len, NULL);
	if (!e)
		return NULL;
	static const int order[] = { K_BAN, K_BLOCK };            /* a ban wins */
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int k = order[i];
		if (active(e, k, now)) {
			if (until)
				*until = e->until[k];
			return kind_names[k];
		}
	}
	return NULL;
}

bool mod_sanctions_shadowed(struct mod_sanctions *t, const char *user, int64_t now)
{
	size_t len;
	if (!t)
		return false;
	note_now(t, now);
	if (!user_ok(user, &len))
		return false;
	const struct suser *e = find(t, user, len, NULL);
	return e && active(e, K_SHADOW, now);
}

size_t mod_sanctions_expire(struct mod_sanctions *t, int64_t now)
{
	if (!t)
		return 0;
	note_now(t, now);
	size_t dropped = 0;
	struct mod_keytab_node *n = t->tab.head;
	while (n) {
		struct mod_keytab_node *next = n->next;
		struct suser *e = (struct suser *)n;
		for (int k = 0; k < K__COUNT; k++) {
			if (e->on[k] && !active(e, k, now)) {
				clear_kind(e, k);
				dropped++;
			}
		}
		if (!e->on[K_BAN] && !e->on[K_SHADOW] && !e->on[K_BLOCK])
			drop(t, e);
		n = next;
	}
	return dropped;
}

static size_t visit(const struct suser *e, int64_t now, mod_sanctions_fn fn, void *ud,
		    bool *stop)
{
	size_t seen = 0;
	for (int k = 0; k < K__COUNT && !*stop; k++) {
		if (!active(e, k, now))
			continue;
		seen++;
		if (fn && fn(ud, e->key, kind_names[k], e->until[k]) != 0)
			*stop = true;
	}
	return seen;
}

size_t mod_sanctions_foreach(struct mod_sanctions *t, const char *user, int64_t now,
			     mod_sanctions_fn fn, void *ud)
{
	if (!t)
		return 0;
	note_now(t, now);
	bool stop = false;
	if (user) {
		size_t len;
		const struct suser *e = user_ok(user, &len) ? find(t, user, len, NULL) : NULL;
		return e ? visit(e, now, fn, ud, &stop) : 0;
	}
	size_t seen = 0;
	for (const struct mod_keytab_node *n = t->tab.head; n && !stop; n = n->next)
		seen += visit((const struct suser *)n, now, fn, ud, &stop);
	return seen;
}

int64_t mod_sanctions_last_now(const struct mod_sanctions *t)
{
	return t ? t->last_now : 0;
}

size_t mod_sanctions_count(const struct mod_sanctions *t)
{
	return t ? t->tab.count : 0;
}
