/* presence_subs.c — presence.subscribe / unsubscribe and the pushes.
 *
 * Two indexes over the same links: per session the users it watches (for
 * unsubscribe, limits and cleanup at close), per watched user the sessions
 * watching (for the push on a change).  One link per (session, user),
 * owned by both lists, freed when either side lets go.
 *
 * The presence plugin decides what a change is (multi-device, debounce);
 * this file only forwards each change it reports, encoded once, to the
 * sessions watching that user. */
#include <stdlib.h>
#include <string.h>
#include "auth.h"
#include "core_metrics.h"
#include "hmap.h"
#include "log.h"
#include "pipeline.h"
#include "presence_subs.h"

struct watched;
struct watcher_sess;

struct link {
	struct link *prev, *next;     /* in the watched user's list */
	struct watcher_sess *ws;
	struct watched *w;
};

struct watched {                      /* a user somebody watches */
	struct link *head;
	size_t n;
	char user[];
};

struct watcher_sess {                 /* a session that watches someone */
	uint64_t session;
	struct hmap links;            /* user -> struct link */
};

struct presence_subs {
	struct core *c;
	struct hmap by_user;          /* user -> struct watched */
	struct hmap by_session;       /* session -> struct watcher_sess */
};

/* ---- pushes ------------------------------------------------------------- */

static json_t *presence_obj(const char *user, bool online, int64_t last_seen, int64_t now)
{
	/* last_seen: now for an online user; for an offline one when their
	 * last session closed, or null when this node never saw them. */
	json_t *seen = online ? json_integer(now)
			      : (last_seen > 0 ? json_integer(last_seen) : json_null());
	return json_pack("{s:s, s:s, s:s, s:o}", "type", "presence", "user_id", user, "status",
			 online ? "online" : "offline", "last_seen", seen);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_change(void *arg, const char *user, bool online, int64_t last_seen)
{
	struct presence_subs *ps = arg;
	struct watched *w = hmap_gets(&ps->by_user, user);
	if (!w || w->n == 0)
		return;
	uint64_t small[32];
	uint64_t *ids = w->n <= 32 ? small : malloc(w->n * sizeof *ids);
	if (!ids) {
		log_user(LOG_ERROR, "core", "presence.nomem", user, "a presence change was not pushed");
		return;
	}
	size_t n = 0;
	for (struct link *l = w->head; l; l = l->next)
		ids[n++] = l->ws->session;
	core_send(ps->c, ids, n, presence_obj(user, online, last_seen, wall_ms()));
	if (ids != small)
		free(ids);
}

/* The current status, sent at subscribe time. */
struct initial {
	struct core *c;
	uint64_t session;
	char user[];
};

static void on_query(void *arg, int status, bool online, int64_t last_seen)
{
	struct initial *in = arg;
	if (cm_presence_status(in->c, "query", status) != CHATD_OK)
		log_user(LOG_WARN, "core", "presence.query_failed", in->user, "%s",
			 chatd_strerror(status));
	else
		core_send_one(in->c, in->session,
			      presence_obj(in->user, online, last_seen, wall_ms()));
	free(in);
}

/* Ask the plugin for user's status; the answer goes to session. */
static void query_initial(struct core *core, uint64_t session, const char *user)
{
	size_t len = strlen(user);
	struct initial *in = malloc(sizeof *in + len + 1);
	if (!in) {
		log_user(LOG_ERROR, "core", "presence.nomem", user, "no initial presence status");
		return;
	}
	in->c = core;
	in->session = session;
	memcpy(in->user, user, len + 1);
	int st = cm_presence_status(core, "query",
				    core->presence->query(core->presence_inst, user, on_query, in));
	if (st != CHATD_OK) {
		log_user(LOG_WARN, "core", "presence.query_failed", user, "%s", chatd_strerror(st));
		free(in);
	}
}

/* ---- the indexes ---------------------------------------------------------- */

static void unlink_one(struct presence_subs *ps, struct link *l)
{
	struct watched *w = l->w;
	if (l->prev)
		l->prev->next = l->next;
	else
		w->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	if (--w->n == 0) {
		hmap_del(&ps->by_user, w->user, strlen(w->user));
		free(w);
	}
	free(l);
}

/* Link session -> user.  Returns 1 when new, 0 when already there, -1 on
 * ENOMEM (nothing changed). */
static int link_add(struct presence_subs *ps, struct watcher_sess *ws, const char *user)
{
	if (hmap_gets(&ws->links, user))
		return 0;
	struct watched *w = hmap_gets(&ps->by_user, user);
	bool new_w = !w;
	if (new_w) {
		size_t len = strlen(user);
		w = calloc(1, sizeof *w + len + 1);
		if (!w)
			return -1;
		memcpy(w->user, user, len + 1);
		if (hmap_put(&ps->by_user, user, len, w) < 0) {
			free(w);
			return -1;
		}
	}
	struct link *l = calloc(1, sizeof *l);
	if (!l || hmap_put(&ws->links, user, strlen(user), l) < 0) {
		free(l);
		if (new_w) {
			hmap_del(&ps->by_user, user, strlen(user));
			free(w);
		}
		return -1;
	}
	l->ws = ws;
	l->w = w;
	l->next = w->head;
	if (w->head)
		w->head->prev = l;
	w->head = l;
	w->n++;
	return 1;
}

static void session_free(struct presence_subs *ps, struct watcher_sess *ws)
{
	size_t it;
	for (struct hmap_entry *e = hmap_first(&ws->links, &it); e;
	     e = hmap_next(&ws->links, e, &it))
		unlink_one(ps, e->value);
	hmap_destroy(&ws->links);
	free(ws);
}

static struct watcher_sess *session_get(struct presence_subs *ps, uint64_t session, bool create)
{
	struct watcher_sess *ws = hmap_get64(&ps->by_session, session);
	if (ws || !create)
		return ws;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	ws->session = session;
	if (hmap_init(&ws->links) < 0) {
		free(ws);
		return NULL;
	}
	if (hmap_put64(&ps->by_session, session, ws) < 0) {
		hmap_destroy(&ws->links);
		free(ws);
		return NULL;
	}
	return ws;
}

struct presence_subs *presence_subs_new(struct core *c)
{
	struct presence_subs *ps = calloc(1, sizeof *ps);
	if (!ps)
		return NULL;
	ps->c = c;
	if (hmap_init(&ps->by_user) < 0 || hmap_init(&ps->by_session) < 0) {
		hmap_destroy(&ps->by_user);
		free(ps);
		return NULL;
	}
	if (CORE_HAS_OP(c->presence, struct chatd_presence_ops, watch))
		c->presence->watch(c->presence_inst, on_change, ps);
	else if (c->presence)
		log_warn("core", "presence.no_watch", "the presence plugin cannot report changes "
			 "(ABI < 1.3): subscribers get the status at subscribe time only");
	return ps;
}

void presence_subs_free(struct presence_subs *ps)
{
	if (!ps)
		return;
	if (CORE_HAS_OP(ps->c->presence, struct chatd_presence_ops, watch))
		ps->c->presence->watch(ps->c->presence_inst, NULL, NULL);
	size_t it;
	for (struct hmap_entry *e = hmap_first(&ps->by_session, &it); e;
	     e = hmap_next(&ps->by_session, e, &it))
		session_free(ps, e->value);
	hmap_destroy(&ps->by_session);
	hmap_destroy(&ps->by_user);
	free(ps);
}

void presence_subs_session_closed(struct presence_subs *ps, uint64_t session)
{
	if (!ps)
		return;
	struct watcher_sess *ws = hmap_del64(&ps->by_session, session);
	if (ws)
		session_free(ps, ws);
}

/* ---- commands ------------------------------------------------------------- */

#define USER_IDS_MAX 1000 /* per frame */

/* user_ids: a non-empty array of distinct-or-not valid user ids. */
static bool user_ids(struct cmd *c, json_t **out)
{
	json_t *a = json_object_get(c->msg, "user_ids");
	if (!json_is_array(a) || json_array_size(a) == 0) {
		cmd_error(c, "bad_request", "user_ids must be a non-empty array of user ids");
		return false;
	}
	if (json_array_size(a) > USER_IDS_MAX) {
		cmd_error(c, "too_large", "at most 1000 user_ids per frame");
		return false;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		const char *u = json_string_value(v);
		if (!u || !auth_user_id_valid(u)) {
			cmd_error(c, "bad_request", "user_ids must be valid user ids");
			return false;
		}
	}
	*out = a;
	return true;
}

void cmd_presence_subscribe(struct cmd *c)
{
	struct core *core = c->core;
	struct presence_subs *ps = core->presence_subs;
	json_t *a;
	if (!user_ids(c, &a))
		return;
	if (!ps || !core->presence) {
		cmd_error(c, "unavailable", "presence is not running");
		return;
	}
	struct watcher_sess *ws = session_get(ps, c->session, true);
	if (!ws) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	/* All or nothing: count the new ones against the limit first. */
	size_t fresh = 0, i;
	json_t *v;
	json_array_foreach(a, i, v) {
		const char *u = json_string_value(v);
		bool dup = hmap_gets(&ws->links, u) != NULL;
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(json_string_value(json_array_get(a, j)), u) == 0;
		fresh += !dup;
	}
	size_t max = (size_t)core->cfg->presence_max_subs;
	if (ws->links.count + fresh > max) {
		snprintf(c->err, sizeof c->err,
			 "at most %zu presence subscriptions per session (%zu now, %zu more asked)", max,
			 (size_t)ws->links.count, fresh);
		cmd_error(c, "too_large", c->err);
		if (ws->links.count == 0)
			presence_subs_session_closed(ps, c->session);
		return;
	}
	json_array_foreach(a, i, v) {
		const char *u = json_string_value(v);
		int r = link_add(ps, ws, u);
		if (r < 0) {
			cmd_error(c, "internal", "out of memory");
			return;
		}
		if (r == 0)
			continue; /* already watched: its status was sent then */
		query_initial(core, c->session, u);
	}
	if (c->has_id)
		cmd_result_ok(c);
}

void cmd_presence_unsubscribe(struct cmd *c)
{
	struct presence_subs *ps = c->core->presence_subs;
	json_t *a;
	if (!user_ids(c, &a))
		return;
	struct watcher_sess *ws = ps ? session_get(ps, c->session, false) : NULL;
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		if (!ws)
			break;
		const char *u = json_string_value(v);
		struct link *l = hmap_del(&ws->links, u, strlen(u));
		if (l)
			unlink_one(ps, l);
	}
	if (ws && ws->links.count == 0)
		presence_subs_session_closed(ps, c->session);
	if (c->has_id)
		cmd_result_ok(c);
}
