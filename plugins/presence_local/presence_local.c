/* presence_local — in-process presence for a single node.
 *
 * A user is online while at least one of their sessions lives on this
 * node; last_seen is the time their last session closed.  Entries of
 * offline users are kept (for last_seen) in a small chained hash table. */
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"

struct user_entry {
	struct user_entry *next;
	unsigned sessions;
	int64_t last_seen;
	char user[];
};

struct presence {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	struct user_entry **buckets;
	size_t n_buckets;
	size_t count;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct user_entry **slot(struct presence *p, const char *user)
{
	struct user_entry **pp = &p->buckets[hash(user) & (p->n_buckets - 1)];
	while (*pp && strcmp((*pp)->user, user) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct presence *p)
{
	size_t nb = p->n_buckets * 2;
	struct user_entry **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < p->n_buckets; i++)
		for (struct user_entry *e = p->buckets[i], *next; e; e = next) {
			next = e->next;
			size_t k = hash(e->user) & (nb - 1);
			e->next = b[k];
			b[k] = e;
		}
	free(p->buckets);
	p->buckets = b;
	p->n_buckets = nb;
}

static int session_up(void *inst, const char *user_id, uint64_t session_id)
{
	(void)session_id;
	struct presence *p = inst;
	struct user_entry **pp = slot(p, user_id);
	if (!*pp) {
		size_t n = strlen(user_id);
		struct user_entry *e = calloc(1, sizeof *e + n + 1);
		if (!e)
			return CHATD_ERR_NOMEM;
		memcpy(e->user, user_id, n + 1);
		*pp = e;
		if (++p->count > p->n_buckets)
			grow(p);
		pp = slot(p, user_id);
	}
	(*pp)->sessions++;
	return CHATD_OK;
}

static int session_down(void *inst, const char *user_id, uint64_t session_id)
{
	(void)session_id;
	struct presence *p = inst;
	struct user_entry *e = *slot(p, user_id);
	if (!e || e->sessions == 0)
		return CHATD_ERR_NOT_FOUND;
	if (--e->sessions == 0)
		e->last_seen = p->host->now_ms();
	return CHATD_OK;
}

static int query(void *inst, const char *user_id, chatd_presence_cb cb, void *arg)
{
	struct presence *p = inst;
	struct user_entry *e = *slot(p, user_id);
	cb(arg, CHATD_OK, e && e->sessions > 0, e ? e->last_seen : 0);
	return CHATD_OK;
}

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	struct presence *p = calloc(1, sizeof *p);
	if (!p)
		return CHATD_ERR_NOMEM;
	p->host = host;
	p->h = h;
	p->n_buckets = 256;
	p->buckets = calloc(p->n_buckets, sizeof *p->buckets);
	if (!p->buckets) {
		free(p);
		return CHATD_ERR_NOMEM;
	}
	*instance = p;
	return CHATD_OK;
}

static void fini(void *instance)
{
	struct presence *p = instance;
	for (size_t i = 0; i < p->n_buckets; i++)
		for (struct user_entry *e = p->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(p->buckets);
	free(p);
}

static const struct chatd_presence_ops ops = {
	.struct_size = sizeof(struct chatd_presence_ops),
	.session_up = session_up,
	.session_down = session_down,
	.query = query,
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_PRESENCE,
	.name = "local",
	.version = "1.0.0",
	.description = "in-process presence for one node",
	.options = NULL,
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
