/* sessions.c — see sessions.h. */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>
#include "log.h"

int sessions_init(struct sessions *s)
{
	if (hmap_init(&s->by_id) < 0)
		return -1;
	if (hmap_init(&s->by_user) < 0) {
		hmap_destroy(&s->by_id);
		return -1;
	}
	return 0;
}

void sessions_destroy(struct sessions *s)
{
	size_t it;
	for (struct hmap_entry *e = hmap_first(&s->by_id, &it); e; e = hmap_next(&s->by_id, e, &it))
		free(e->value);
	for (struct hmap_entry *e = hmap_first(&s->by_user, &it); e;
	     e = hmap_next(&s->by_user, e, &it)) {
		struct user_sessions *us = e->value;
		held_cmd_free_list(us->held);
		free(us->ids);
		free(us);
	}
	hmap_destroy(&s->by_id);
	hmap_destroy(&s->by_user);
}

int sessions_add(struct sessions *s, uint64_t id, const char *user)
{
	if (hmap_get64(&s->by_id, id))
		return 0;
	char *u = strdup(user);
	if (!u)
		return -1;
	struct user_sessions *us = hmap_gets(&s->by_user, user);
	if (!us) {
		us = calloc(1, sizeof *us);
		if (!us || hmap_put(&s->by_user, user, strlen(user), us) < 0) {
			free(us);
			free(u);
			return -1;
		}
	}
	if (us->n == us->cap) {
		size_t nc = us->cap ? us->cap * 2 : 2;
		uint64_t *ids = realloc(us->ids, nc * sizeof *ids);
		if (!ids)
			goto fail;
		us->ids = ids;
		us->cap = nc;
	}
	if (hmap_put64(&s->by_id, id, u) < 0)
		goto fail;
	us->ids[us->n++] = id;
	return 0;
fail:
	free(u);
	if (us->n == 0) {
		hmap_del(&s->by_user, user, strlen(user));
		free(us->ids);
		free(us);
	}
	return -1;
}

int sessions_remove(struct sessions *s, uint64_t id)
{
	char *u = hmap_del64(&s->by_id, id);
	if (!u)
		return -1;
	struct user_sessions *us = hmap_gets(&s->by_user, u);
	int last = 1;
	if (us) {
		for (size_t i = 0; i < us->n; i++)
			if (us->ids[i] == id) {
				us->ids[i] = us->ids[--us->n];
				break;
			}
		if (us->n == 0) {
			hmap_del(&s->by_user, u, strlen(u));
			held_cmd_free_list(us->held);
			free(us->ids);
			free(us);
		} else {
			last = 0;
		}
	}
	free(u);
	return last;
}

const struct user_sessions *sessions_of(const struct sessions *s, const char *user)
{
	return hmap_gets(&s->by_user, user);
}

const char *sessions_user(const struct sessions *s, uint64_t id)
{
	return hmap_get64(&s->by_id, id);
}

size_t sessions_count(const struct sessions *s)
{
	return s->by_id.count;
}

void sessions_set_first_seen(struct sessions *s, const char *user, int64_t ts)
{
	struct user_sessions *us = hmap_gets(&s->by_user, user);
	if (us)
		us->first_seen = ts;
}

void held_cmd_free_list(struct held_cmd *h)
{
	while (h) {
		struct held_cmd *next = h->next;
		json_decref(h->msg);
		free(h);
		h = next;
	}
}

void sessions_set_registering(struct sessions *s, const char *user, bool on)
{
	struct user_sessions *us = hmap_gets(&s->by_user, user);
	if (us)
		us->registering = on;
}

void sessions_hold_flags(struct sessions *s, const char *user, unsigned what, bool on)
{
	struct user_sessions *us = hmap_gets(&s->by_user, user);
	if (us)
		us->holds = on ? us->holds | what : us->holds & ~what;
}

int sessions_hold(struct sessions *s, const char *user, uint64_t session, json_t *msg)
{
	struct user_sessions *us = hmap_gets(&s->by_user, user);
	if (!us || us->n_held >= SESSIONS_HELD_MAX)
		return -1;
	struct held_cmd *h = malloc(sizeof *h);
	if (!h)
		return -1;
	h->next = NULL;
	h->session = session;
	h->msg = msg;
	h->trace = log_ctx_trace();
	if (!us->held)
		us->held_tail = &us->held;
	*us->held_tail = h;
	us->held_tail = &h->next;
	us->n_held++;
	return 0;
}

struct held_cmd *sessions_release(struct sessions *s, const char *user)
{
	struct user_sessions *us = hmap_gets(&s->by_user, user);
	if (!us)
		return NULL;
	struct held_cmd *h = us->held;
	us->held = NULL;
	us->held_tail = &us->held;
	us->n_held = 0;
	us->registering = false;
	us->holds = 0;
	return h;
}
