/* cmd_notify.c — offline notifications (ABI 1.4): the conv.notify command
 * (a member's notification mute) and the hook after the fan-out that hands
 * the notify plugin each member with no online session (on any node, in a
 * cluster). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "pipeline.h"
#include "proto_decode.h"

/* ---- conv.notify ---------------------------------------------------- */

static void on_mute(void *arg, int status)
{
	struct cmd *c = arg;
	if (status == CHATD_ERR_NOT_FOUND)
		cmd_error(c, "not_found", "no such conversation");
	else if (!cmd_failed(c, status))
		cmd_reply(c, json_pack("{s:s, s:b}", "type", "result", "ok", 1));
	cmd_free(c);
}

void cmd_conv_notify(struct cmd *c)
{
	struct core *core = c->core;
	if (!CORE_HAS_OP(core->storage, struct chatd_storage_ops, notify_mute_set)) {
		cmd_error(c, "unavailable", "the storage plugin cannot store notification mutes");
		return;
	}
	const char *conv = NULL;
	long long until = 0;
	if (!cmd_conversation_id(c, &conv))
		return;
	if (!proto_get_int(c->msg, "muted_until_ms", true, 0, (1LL << 53), &until, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	struct cmd *k = cmd_clone(c, sizeof *k);
	if (!k) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	int st = core->storage->notify_mute_set(core->storage_inst, conv, k->user, until, on_mute,
						k);
	if (st != CHATD_OK) {
		cmd_failed(k, st);
		cmd_free(k);
	}
}

/* ---- the offline hook ------------------------------------------------ */

/* A stored message waiting for its notify targets: one allocation, the
 * strings after the struct. */
struct pending_notify {
	struct core *core;
	unsigned refs;                 /* on_targets and each locate in flight */
	struct chatd_notify_msg m;
	char buf[];
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool online_here(struct core *c, const char *user)
{
	const struct user_sessions *us = sessions_of(&c->sessions, user);
	return us && us->n > 0;
}

static void notify_one(struct core *c, struct pending_notify *p, const char *user)
{
	p->m.recipient = user;
	int st = c->notify->offline(c->notify_inst, &p->m);
	if (st != CHATD_OK)
		log_user(LOG_WARN, "core", "notify.refused", user, "%s/%lld: %s",
			 p->m.conversation_id, (long long)p->m.seq, chatd_strerror(st));
}

/* In a cluster (presence has locate) "online" means a session on any
 * node: the members with none here are located, up to NOTIFY_LOCATE_MAX
 * per call; the message is shared by the calls (refs). */
#define NOTIFY_LOCATE_MAX 1024

struct notify_locate {
	struct pending_notify *p;
	size_t n;
	char *users[];
};

static void pending_unref(struct pending_notify *p)
{
	if (--p->refs == 0)
		free(p);
}

/* Listed on another node.  This node's own entry does not count: its
 * sessions are known here (none, or the user was not located), and the
 * entry of a session that just closed may still be in presence. */
static bool online_elsewhere(struct core *c, const struct chatd_presence_loc *loc)
{
	const char *self = c->cfg->node_id ? c->cfg->node_id : "";
	for (size_t k = 0; k < loc->n_nodes; k++)
		if (loc->nodes[k] && strcmp(loc->nodes[k], self) != 0)
			return true;
	return false;
}

static void on_located(void *arg, int status, const struct chatd_presence_loc *locs, size_t n)
{
	struct notify_locate *l = arg;
	struct core *c = l->p->core;
	bool ok = status == CHATD_OK && n == l->n;
	if (!ok)
		log_warn("core", "notify.locate_failed", "%s/%lld: presence did not answer (%s); "
			 "members with no session on this node are notified",
			 l->p->m.conversation_id, (long long)l->p->m.seq,
			 chatd_strerror(status != CHATD_OK ? status : CHATD_ERR_INVALID));
	for (size_t i = 0; c->notify && i < l->n; i++)
		if (!ok || !online_elsewhere(c, &locs[i]))
			notify_one(c, l->p, l->users[i]);
	for (size_t i = 0; i < l->n; i++)
		free(l->users[i]);
	pending_unref(l->p);
	free(l);
}

/* Locate users[0..n) (not online here) and notify those online nowhere.
 * Returns false when it could not ask (the caller notifies them). */
static bool locate_then_notify(struct core *c, struct pending_notify *p,
			       const char *const *users, size_t n)
{
	struct notify_locate *l = calloc(1, sizeof *l + n * sizeof l->users[0]);
	if (!l)
		return false;
	l->p = p;
	for (; l->n < n; l->n++)
		if (!(l->users[l->n] = strdup(users[l->n])))
			break;
	if (l->n < n) {
		for (size_t i = 0; i < l->n; i++)
			free(l->users[i]);
		free(l);
		return false;
	}
	p->refs++;
	int st = c->presence->locate(c->presence_inst, (const char *const *)l->users, l->n,
				     on_located, l);
	if (st != CHATD_OK) {
		p->refs--;
		for (size_t i = 0; i < l->n; i++)
			free(l->users[i]);
		free(l);
		return false;
	}
	return true;
}

static void on_targets(void *arg, int status, const char *const *users, size_t n)
{
	struct pending_notify *p = arg;
	struct core *c = p->core;
	if (status == CHATD_ERR_TOO_LARGE) {
		/* above notify.max_members: nobody, by design */
	} else if (status != CHATD_OK) {
		log_warn("core", "notify.targets_failed", "%s/%lld: no notifications: %s",
			 p->m.conversation_id, (long long)p->m.seq, chatd_strerror(status));
	} else if (c->notify) {
		bool cluster = CORE_HAS_OP(c->presence, struct chatd_presence_ops, locate);
		const char *batch[NOTIFY_LOCATE_MAX];
		size_t nb = 0;
		for (size_t i = 0; i <= n; i++) {
			if (i < n && online_here(c, users[i]))
				continue;
			if (i < n && !cluster) {
				notify_one(c, p, users[i]);
				continue;
			}
			if (i < n)
				batch[nb++] = users[i];
			if (nb > 0 && (nb == NOTIFY_LOCATE_MAX || i == n)) {
				if (!locate_then_notify(c, p, batch, nb))
					for (size_t k = 0; k < nb; k++)
						notify_one(c, p, batch[k]);
				nb = 0;
			}
		}
	}
	pending_unref(p);
}

static char *put(char **at, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *r = memcpy(*at, s, n);
	*at += n;
	return r;
}

void core_notify_message(struct core *c, const struct chatd_message *m)
{
	/* The sender is never a target: a conversation of max_members has
	 * at most max_members - 1 of them (and one of 1 has none). */
	if (!c->notify || c->cfg->notify_max_members < 2 ||
	    !CORE_HAS_OP(c->storage, struct chatd_storage_ops, notify_targets))
		return;
	const char *strs[] = { m->conversation_id, m->sender_id, m->message_id, m->text,
			       m->media_mime };
	size_t len = 0;
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		len += strs[i] ? strlen(strs[i]) + 1 : 0;
	struct pending_notify *p = malloc(sizeof *p + len);
	if (!p) {
		log_warn("core", "notify.nomem", "%s/%lld: no notifications", m->conversation_id,
			 (long long)m->seq);
		return;
	}
	char *at = p->buf;
	p->core = c;
	p->refs = 1;
	p->m = (struct chatd_notify_msg){
		.conversation_id = put(&at, m->conversation_id),
		.sender_id = put(&at, m->sender_id),
		.message_id = put(&at, m->message_id),
		.text = put(&at, m->text),
		.media_mime = put(&at, m->media_mime),
		.seq = m->seq,
		.ts = m->ts,
	};
	int st = c->storage->notify_targets(c->storage_inst, m->conversation_id, m->sender_id,
					    wall_ms(), (size_t)c->cfg->notify_max_members - 1,
					    on_targets, p);
	if (st != CHATD_OK) {
		log_warn("core", "notify.targets_failed", "%s/%lld: no notifications: %s",
			 m->conversation_id, (long long)m->seq, chatd_strerror(st));
		free(p);
	}
}
