/* typing.c — typing indicators: ephemeral, never stored.
 *
 * Per (conversation, user) a typist remembers what the user wants (their
 * latest start/stop) and what the other members were told.  A change is
 * told at once when the user's 2 s window is over, else when it ends (the
 * latest state wins; nothing when it ends on the state already told).  A
 * start expires 6 s after the user's latest start.
 *
 * What members see is the conversation's set of typists (told = typing), in
 * the order they started, minus themselves: at most 5 names plus the count.
 * A change by U changes every member's view but U's own, so the frames go
 * to every member except U.
 *
 * The conversation's facts (settings, size, members) come from one storage
 * read, reused for CONV_REUSE_MS and dropped when the membership or the
 * settings change (typing_conv_changed).  Commands that arrive while the
 * read is in flight wait for it (at most PENDING_MAX per conversation).
 * Above typing.max_members a conversation is silent: commands are accepted
 * and dropped without reading its members. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include "hmap.h"
#include "log.h"
#include "pipeline.h"
#include "typing.h"

#define WINDOW_MS 2000
#define EXPIRY_MS 6000
#define NAMES_MAX 5
#define CONV_REUSE_MS 10000
#define PENDING_MAX 64

struct tconv;

struct typist {
	struct typist *prev, *next;   /* in the conversation, in the order of starting */
	struct tconv *tc;
	struct event *ev;             /* the next deadline */
	bool want, told;
	int64_t window_until;         /* no change told before this */
	int64_t expires_at;           /* a wanted start ends here */
	char user[CHATD_ID_MAX + 1];
};

struct pending {                      /* a command waiting for the read */
	struct cmd base;
	struct pending *next;
	bool start;
};

struct tconv {
	struct typing *t;
	struct typist *head, *tail;
	size_t n_typists;
	/* facts from storage */
	bool have, fetching, typing_on;
	bool busy;                    /* on_facts is running: do not free */
	int64_t member_count, fetched_at;
	char **members;
	size_t n_members;
	/* a change told while the facts were being re-read */
	bool dirty, dirty_multi;
	char dirty_by[CHATD_ID_MAX + 1];
	struct pending *pend, **pend_tail;
	size_t n_pend;
	char conv[CHATD_ID_MAX + 1];
};

struct typing {
	struct core *c;
	struct hmap convs;            /* conversation_id -> struct tconv */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- conversation facts --------------------------------------------------- */

static void facts_clear(struct tconv *tc)
{
	for (size_t i = 0; i < tc->n_members; i++)
		free(tc->members[i]);
	free(tc->members);
	tc->members = NULL;
	tc->n_members = 0;
	tc->have = false;
}

static bool is_member(const struct tconv *tc, const char *user)
{
	for (size_t i = 0; i < tc->n_members; i++)
		if (strcmp(tc->members[i], user) == 0)
			return true;
	return false;
}

static bool silent(const struct tconv *tc)
{
	return !tc->typing_on || tc->member_count > tc->t->c->cfg->typing_max_members;
}

static void typist_free(struct typist *ty);
static void fetch(struct tconv *tc);

static void tconv_free(struct tconv *tc)
{
	while (tc->head)
		typist_free(tc->head);
	for (struct pending *p = tc->pend, *next; p; p = next) {
		next = p->next;
		cmd_free(&p->base);
	}
	facts_clear(tc);
	free(tc);
}

/* Forget an idle conversation (nothing typing, waiting or in flight). */
static void tconv_maybe_drop(struct tconv *tc)
{
	if (tc->head || tc->pend || tc->fetching || tc->busy)
		return;
	hmap_del(&tc->t->convs, tc->conv, strlen(tc->conv));
	tconv_free(tc);
}

/* ---- frames --------------------------------------------------------------- */

/* The set as `viewer` sees it (viewer NULL: as a non-typist sees it). */
static json_t *set_obj(const struct tconv *tc, const char *viewer)
{
	json_t *names = json_array();
	size_t count = 0;
	for (const struct typist *ty = tc->head; ty; ty = ty->next) {
		if (!ty->told || (viewer && strcmp(ty->user, viewer) == 0))
			continue;
		if (count++ < NAMES_MAX)
			json_array_append_new(names, json_string(ty->user));
	}
	return json_pack("{s:s, s:s, s:o, s:I}", "type", "typing", "conversation_id", tc->conv,
			 "users", names, "count", (json_int_t)count);
}

/* Tell every member but `changer` (NULL: everyone) the current set. */
static void tell(struct tconv *tc, const char *changer)
{
	struct core *c = tc->t->c;
	if (!tc->have) {
		/* The facts are being re-read: tell when they are back. */
		if (tc->dirty && (!changer || strcmp(tc->dirty_by, changer) != 0))
			tc->dirty_multi = true;
		tc->dirty = true;
		snprintf(tc->dirty_by, sizeof tc->dirty_by, "%s", changer ? changer : "");
		if (!changer)
			tc->dirty_multi = true;
		fetch(tc);
		return;
	}
	if (silent(tc))
		return;
	chatd_frame *all = core_encode(set_obj(tc, NULL));
	if (!all) {
		log_error("core", "typing.nomem", "a typing change in %s was not told", tc->conv);
		return;
	}
	for (size_t i = 0; i < tc->n_members; i++) {
		const char *m = tc->members[i];
		if (changer && strcmp(m, changer) == 0)
			continue;
		const struct typist *ty = tc->head;
		while (ty && !(ty->told && strcmp(ty->user, m) == 0))
			ty = ty->next;
		if (!ty) {
			core_deliver_user(c, m, all, 0);
			continue;
		}
		chatd_frame *own = core_encode(set_obj(tc, m)); /* the set without them */
		if (own) {
			core_deliver_user(c, m, own, 0);
			frame_unref(own);
		}
	}
	frame_unref(all);
}

/* ---- typists -------------------------------------------------------------- */

static void on_deadline(evutil_socket_t fd, short what, void *arg);

static void typist_free(struct typist *ty)
{
	struct tconv *tc = ty->tc;
	if (ty->prev)
		ty->prev->next = ty->next;
	else
		tc->head = ty->next;
	if (ty->next)
		ty->next->prev = ty->prev;
	else
		tc->tail = ty->prev;
	tc->n_typists--;
	if (ty->ev)
		event_free(ty->ev);
	free(ty);
}

static struct typist *typist_get(struct tconv *tc, const char *user, bool create)
{
	for (struct typist *ty = tc->head; ty; ty = ty->next)
		if (strcmp(ty->user, user) == 0)
			return ty;
	if (!create)
		return NULL;
	struct typist *ty = calloc(1, sizeof *ty);
	if (!ty)
		return NULL;
	ty->ev = event_new(tc->t->c->base, -1, 0, on_deadline, ty);
	if (!ty->ev) {
		free(ty);
		return NULL;
	}
	ty->tc = tc;
	snprintf(ty->user, sizeof ty->user, "%s", user);
	ty->prev = tc->tail;
	if (tc->tail)
		tc->tail->next = ty;
	else
		tc->head = ty;
	tc->tail = ty;
	tc->n_typists++;
	return ty;
}

/* Move ty to the end: the set is in the order of starting. */
static void typist_to_tail(struct typist *ty)
{
	struct tconv *tc = ty->tc;
	if (tc->tail == ty)
		return;
	if (ty->prev)
		ty->prev->next = ty->next;
	else
		tc->head = ty->next;
	ty->next->prev = ty->prev;
	ty->prev = tc->tail;
	ty->next = NULL;
	tc->tail->next = ty;
	tc->tail = ty;
}

/* Apply what is due at `now`, then arm the next deadline or let go.
 * Returns false when ty was freed. */
static bool typist_step(struct typist *ty, int64_t now)
{
	if (ty->want && now >= ty->expires_at)
		ty->want = false;
	if (ty->want != ty->told && now >= ty->window_until) {
		ty->told = ty->want;
		if (ty->told)
			typist_to_tail(ty);
		ty->window_until = now + WINDOW_MS;
		tell(ty->tc, ty->user);
	}
	int64_t next = INT64_MAX;
	if (ty->want != ty->told)
		next = ty->window_until;
	if (ty->want && ty->expires_at < next)
		next = ty->expires_at;
	if (next == INT64_MAX && !ty->told && ty->window_until > now)
		next = ty->window_until; /* keep the throttle window, then go */
	if (next == INT64_MAX) {
		struct tconv *tc = ty->tc;
		typist_free(ty);
		tconv_maybe_drop(tc);
		return false;
	}
	int64_t ms = next > now ? next - now : 0;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	event_add(ty->ev, &tv);
	return true;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	typist_step(arg, now_ms());
}

/* A member's start or stop, with the facts at hand. */
static void apply(struct tconv *tc, struct cmd *c, bool start)
{
	if (!is_member(tc, c->user) && !silent(tc)) {
		cmd_error(c, "not_found", "no such conversation");
		return;
	}
	if (silent(tc)) {
		if (c->has_id)
			cmd_result_ok(c);
		return;
	}
	struct typist *ty = typist_get(tc, c->user, start);
	if (ty) {
		int64_t now = now_ms();
		ty->want = start;
		if (start)
			ty->expires_at = now + EXPIRY_MS;
		typist_step(ty, now);
	} else if (start) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	if (c->has_id)
		cmd_result_ok(c);
}

/* ---- the storage read ------------------------------------------------------ */

/* After a re-read: typists who are no longer members, or a conversation
 * gone silent, end without a word. */
static void prune(struct tconv *tc)
{
	bool quiet = silent(tc), shown_gone = false;
	for (struct typist *ty = tc->head, *next; ty; ty = next) {
		next = ty->next;
		if (quiet || !is_member(tc, ty->user)) {
			shown_gone |= ty->told;
			typist_free(ty);
		}
	}
	if (shown_gone && !quiet)
		tell(tc, NULL); /* a removed member's name leaves the set */
}

static void on_facts(void *arg, int status, const struct chatd_conversation *conv,
		     const struct chatd_member *members, size_t n)
{
	struct tconv *tc = arg;
	tc->fetching = false;
	tc->busy = true;
	facts_clear(tc);
	if (status == CHATD_OK && conv) {
		tc->typing_on = conv->typing;
		tc->member_count = conv->member_count;
		tc->members = calloc(n ? n : 1, sizeof *tc->members);
		for (size_t i = 0; tc->members && i < n; i++) {
			tc->members[i] = strdup(members[i].user_id);
			if (!tc->members[i])
				break;
			tc->n_members++;
		}
		if (tc->members && tc->n_members == n) {
			tc->have = true;
			tc->fetched_at = now_ms();
		} else {
			facts_clear(tc);
			status = CHATD_ERR_NOMEM;
		}
	}
	struct pending *p = tc->pend;
	tc->pend = NULL;
	tc->pend_tail = &tc->pend;
	tc->n_pend = 0;
	if (tc->have) {
		prune(tc);
		if (tc->dirty) {
			tc->dirty = false;
			tell(tc, tc->dirty_multi || !tc->dirty_by[0] ? NULL : tc->dirty_by);
			tc->dirty_multi = false;
		}
	} else {
		/* Gone (or unreadable): what was typing ends silently. */
		while (tc->head)
			typist_free(tc->head);
		tc->dirty = false;
	}
	for (struct pending *next; p; p = next) {
		next = p->next;
		if (tc->have)
			apply(tc, &p->base, p->start);
		else if (status == CHATD_ERR_NOT_FOUND || status == CHATD_OK)
			cmd_error(&p->base, "not_found", "no such conversation");
		else
			cmd_failed(&p->base, status);
		cmd_free(&p->base);
	}
	tc->busy = false;
	tconv_maybe_drop(tc);
}

static void fetch(struct tconv *tc)
{
	struct core *c = tc->t->c;
	if (tc->fetching)
		return;
	/* Members are read only when the conversation can show typing. */
	size_t limit = (size_t)c->cfg->typing_max_members;
	tc->fetching = true;
	int st = c->storage->conv_get(c->storage_inst, tc->conv, NULL, 0, limit, on_facts, tc);
	if (st != CHATD_OK)
		on_facts(tc, st, NULL, NULL, 0);
}

/* ---- API -------------------------------------------------------------------- */

struct typing *typing_new(struct core *c)
{
	struct typing *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->c = c;
	if (hmap_init(&t->convs) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

void typing_free(struct typing *t)
{
	if (!t)
		return;
	size_t it;
	for (struct hmap_entry *e = hmap_first(&t->convs, &it); e; e = hmap_next(&t->convs, e, &it))
		tconv_free(e->value);
	hmap_destroy(&t->convs);
	free(t);
}

void typing_conv_changed(struct typing *t, const char *conv)
{
	struct tconv *tc = t ? hmap_gets(&t->convs, conv) : NULL;
	if (!tc || !tc->have)
		return;
	facts_clear(tc);
	if (tc->head)
		fetch(tc); /* typists may have to go now, not at the next frame */
}

void cmd_typing(struct cmd *c)
{
	struct typing *t = c->core->typing;
	const char *conv, *state;
	if (!cmd_conversation_id(c, &conv))
		return;
	state = json_string_value(json_object_get(c->msg, "state"));
	if (!state || (strcmp(state, "start") != 0 && strcmp(state, "stop") != 0)) {
		cmd_error(c, "bad_request", "state must be \"start\" or \"stop\"");
		return;
	}
	bool start = state[2] == 'a';
	if (!t) {
		cmd_error(c, "unavailable", "typing is not running");
		return;
	}
	struct tconv *tc = hmap_gets(&t->convs, conv);
	if (!tc) {
		tc = calloc(1, sizeof *tc);
		if (!tc || hmap_put(&t->convs, conv, strlen(conv), tc) < 0) {
			free(tc);
			cmd_error(c, "internal", "out of memory");
			return;
		}
		tc->t = t;
		tc->pend_tail = &tc->pend;
		snprintf(tc->conv, sizeof tc->conv, "%s", conv);
	}
	if (tc->have && now_ms() - tc->fetched_at >= CONV_REUSE_MS && !tc->head)
		facts_clear(tc);
	if (tc->have) {
		apply(tc, c, start);
		return;
	}
	if (tc->n_pend >= PENDING_MAX) {
		cmd_reply(c, json_pack("{s:s, s:s, s:s, s:b, s:i}", "type", "error", "code",
				       "rate_limited", "message",
				       "too many typing frames for this conversation; slow down",
				       "retryable", 1, "retry_after_ms", 100));
		return;
	}
	struct pending *p = cmd_clone(c, sizeof *p);
	if (!p) {
		cmd_error(c, "internal", "out of memory");
		tconv_maybe_drop(tc);
		return;
	}
	p->start = start;
	*tc->pend_tail = p;
	tc->pend_tail = &p->next;
	tc->n_pend++;
	fetch(tc);
}
