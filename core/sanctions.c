/* sanctions.c — node-wide sanctions: an in-memory table (mod_sanctions)
 * consulted on every send, written through to storage, audited.  A ban
 * also ends the user's sessions at once (error revoked, close 4403).
 *
 * Token revocations live here too: user → revoked_before (ms), consulted
 * when a session opens.  They are stored as sanction rows of kind
 * "revoke" (until 0, created_at = revoked_before), so they load with the
 * sanctions and need no storage op of their own. */
#include <stdlib.h>
#include <string.h>
#include "core_loop.h"
#include "log.h"
#include "mod_sanctions.h"
#include "moderation.h"
#include "moderation_priv.h"
#include "cluster.h"
#include "pipeline.h"

/* Users with a revocation held in memory: like the sanctions table's. */
#define REVOKED_MAX MOD_SANCTIONS_DEFAULT_USERS

const char *moderation_blocking(struct core *c, const char *user, int64_t now, int64_t *until)
{
	*until = 0;
	if (!c->mod)
		return NULL;
	return mod_sanctions_blocking(c->mod->sanctions, user, now, until);
}

bool moderation_shadowed(struct core *c, const char *user, int64_t now)
{
	return c->mod && mod_sanctions_shadowed(c->mod->sanctions, user, now);
}

static bool kind_ok(const char *kind)
{
	return kind && (strcmp(kind, "ban") == 0 || strcmp(kind, "shadow") == 0 ||
			strcmp(kind, "block") == 0);
}

/* No heap argument: storage drops completions still queued at shutdown. */
static void on_written(void *arg, int status, int64_t id)
{
	(void)arg;
	(void)id;
	if (status != CHATD_OK)
		log_error("moderation", "sanction.write_failed",
			  "a sanction was not stored (%s): it holds until restart (see the "
			  "sanction.applied line before)", chatd_strerror(status));
}

static void on_lifted(void *arg, int status)
{
	(void)arg;
	if (status != CHATD_OK)
		log_error("moderation", "sanction.write_failed",
			  "lifting a sanction was not stored (%s): it returns after a restart",
			  chatd_strerror(status));
}

/* Ends every session of user on this node: error revoked (message),
 * close 4403.  With forget, the sessions leave the registry now (the
 * gateway's close notice finds nothing), so the user reads as offline at
 * once and nothing they still had queued runs.  Returns how many. */
static int disconnect_local(struct core *c, const char *user, const char *message, bool forget)
{
	const struct user_sessions *us = sessions_of(&c->sessions, user);
	if (!us || !us->n)
		return 0;
	/* Closing changes the set: work on a copy. */
	size_t n = us->n;
	uint64_t *copy = malloc(n * sizeof *copy);
	if (!copy)
		return 0;
	memcpy(copy, us->ids, n * sizeof *copy);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_pack("{s:s, s:s, s:s, s:b}", "type", "error", "code", "revoked",
				      "message", message, "retryable", 0);
		core_close_session(c, copy[i], e, 4403);
		if (forget)
			pipeline_session_close(c, copy[i]);
	}
	free(copy);
	return (int)n;
}

/* disconnect_local here and on every other node of a cluster (extra,
 * stolen: what the others must remember; see sanctions_cluster_close). */
static int disconnect_user(struct core *c, const char *user, const char *message, bool forget,
			   json_t *extra)
{
	cluster_close_user(c->cluster, user, message, forget, extra);
	return disconnect_local(c, user, message, forget);
}

static int remember_revoke(struct moderation *m, const char *user, int64_t before);

void sanctions_cluster_close(struct core *c, json_t *o)
{
	const char *user = json_string_value(json_object_get(o, "user"));
	const char *message = json_string_value(json_object_get(o, "message"));
	if (!user || !message || strlen(user) > CHATD_ID_MAX)
		return;
	json_t *sanction = json_object_get(o, "sanction");
	json_t *rb = json_object_get(o, "revoked_before");
	if (c->mod && json_is_object(sanction)) {
		const char *kind = json_string_value(json_object_get(sanction, "kind"));
		const char *reason = json_string_value(json_object_get(sanction, "reason"));
		int64_t until = json_integer_value(json_object_get(sanction, "until"));
		if (kind && kind_ok(kind) &&
		    mod_sanctions_set_reason(c->mod->sanctions, user, kind, until, reason) ==
			    CHATD_ERR_INVALID)
			mod_sanctions_set(c->mod->sanctions, user, kind, until);
	}
	if (c->mod && json_is_integer(rb))
		(void)remember_revoke(c->mod, user, json_integer_value(rb));
	int n = disconnect_local(c, user, message, json_is_true(json_object_get(o, "forget")));
	const char *origin = json_string_value(json_object_get(o, "origin"));
	log_user(LOG_INFO, "moderation", "user.closed_by_cluster", user,
		 "%d sessions closed here (by node %s)", n, origin ? origin : "?");
}

int moderation_sanction(struct core *c, const char *user, const char *kind, int64_t until,
			const char *reason, const char *actor)
{
	struct moderation *m = c->mod;
	if (!m || !m->storage_ok)
		return CHATD_ERR_UNAVAILABLE;
	if (!user || !*user || strlen(user) > CHATD_ID_MAX || !kind_ok(kind) || until < 0)
		return CHATD_ERR_INVALID;
	int64_t now = mod_now_ms();
	if (until && until <= now)
		return CHATD_ERR_INVALID;
	int st = mod_sanctions_set_reason(m->sanctions, user, kind, until, reason);
	if (st != CHATD_OK)
		return st == CHATD_ERR_INVALID ? st : CHATD_ERR_NOMEM;
	struct chatd_sanction s = {
		.user_id = user, .kind = kind, .until = until, .reason = reason ? reason : "",
		.actor = actor, .created_at = now,
	};
	if (c->storage->sanction_add(c->storage_inst, &s, on_written, NULL) != CHATD_OK)
		log_user(LOG_ERROR, "moderation", "sanction.write_failed", user,
			 "sanction %s not stored", kind);
	audit_record(c, actor, "sanction", user,
		     json_pack("{s:s, s:I, s:s}", "kind", kind, "until", (json_int_t)until,
			       "reason", reason ? reason : ""));
	char by[LOG_USER_HASH_LEN + 1];
	log_user_hash(actor, by);
	log_user(LOG_INFO, "moderation", "sanction.applied", user, "%s until %lld by %s", kind,
		 (long long)until, by);
	if (strcmp(kind, "ban") == 0)
		disconnect_user(c, user, "you are banned", false,
				json_pack("{s:{s:s, s:I, s:s}}", "sanction", "kind", kind, "until",
					  (json_int_t)until, "reason", reason ? reason : ""));
	return CHATD_OK;
}

int moderation_lift(struct core *c, const char *user, const char *kind, const char *actor)
{
	struct moderation *m = c->mod;
	if (!m || !m->storage_ok)
		return CHATD_ERR_UNAVAILABLE;
	if (!user || !*user || strlen(user) > CHATD_ID_MAX || !kind_ok(kind))
		return CHATD_ERR_INVALID;
	mod_sanctions_lift(m->sanctions, user, kind);
	if (c->storage->sanction_lift(c->storage_inst, user, kind, mod_now_ms(), on_lifted, NULL) !=
	    CHATD_OK)
		log_user(LOG_ERROR, "moderation", "sanction.write_failed", user,
			 "lifting %s not stored", kind);
	audit_record(c, actor, "sanction.lift", user, json_pack("{s:s}", "kind", kind));
	return CHATD_OK;
}

struct sanctions_view {
	const struct mod_sanctions *tab;
	json_t *list;
};

static int add_json(void *ud, const char *user, const char *kind, int64_t until)
{
	struct sanctions_view *v = ud;
	json_array_append_new(v->list, json_pack("{s:s, s:s, s:I, s:s}", "user_id", user, "kind",
						 kind, "until", (json_int_t)until, "reason",
						 mod_sanctions_reason(v->tab, user, kind)));
	return 0;
}

json_t *moderation_sanctions_json(struct core *c, const char *user, int64_t now)
{
	struct sanctions_view v = { c->mod ? c->mod->sanctions : NULL, json_array() };
	if (c->mod)
		mod_sanctions_foreach(c->mod->sanctions, user, now, add_json, &v);
	return json_pack("{s:o}", "sanctions", v.list);
}

/* ---- kick and revoke ---- */

int moderation_kick(struct core *c, const char *user, const char *actor, int *closed)
{
	*closed = 0;
	if (!c->mod || !c->mod->storage_ok)
		return CHATD_ERR_UNAVAILABLE;
	if (!user || !*user || strlen(user) > CHATD_ID_MAX)
		return CHATD_ERR_INVALID;
	*closed = disconnect_user(c, user, "disconnected by a moderator", true, NULL);
	audit_record(c, actor, "user.kick", user, json_pack("{s:i}", "closed", *closed));
	char by[LOG_USER_HASH_LEN + 1];
	log_user_hash(actor, by);
	log_user(LOG_INFO, "moderation", "user.kicked", user, "%d sessions closed by %s", *closed,
		 by);
	return CHATD_OK;
}

int64_t moderation_revoked_before(struct core *c, const char *user)
{
	if (!c->mod || !user)
		return 0;
	const int64_t *rb = hmap_gets(&c->mod->revoked, user);
	return rb ? *rb : 0;
}

bool moderation_token_revoked(struct core *c, const char *user, int64_t iat)
{
	int64_t rb = moderation_revoked_before(c, user);
	if (rb <= 0)
		return false;
	/* iat is in whole seconds: a token passes only when iat * 1000 >=
	 * revoked_before, i.e. it was issued in a later second than the
	 * revoke (a token of that same second is refused: it may be older).
	 * No iat at all: refused. */
	int64_t first_ok_s = rb / 1000 + (rb % 1000 != 0);
	return iat <= 0 || iat < first_ok_s;
}

/* Records user's revoked_before in memory (the later one wins). */
static int remember_revoke(struct moderation *m, const char *user, int64_t before)
{
	int64_t *rb = hmap_gets(&m->revoked, user);
	if (rb) {
		if (before > *rb)
			*rb = before;
		return CHATD_OK;
	}
	if (m->revoked.count >= REVOKED_MAX)
		return CHATD_ERR_TOO_LARGE;
	rb = malloc(sizeof *rb);
	if (!rb)
		return CHATD_ERR_NOMEM;
	*rb = before;
	if (hmap_put(&m->revoked, user, strlen(user), rb) < 0) {
		free(rb);
		return CHATD_ERR_NOMEM;
	}
	return CHATD_OK;
}

int moderation_revoke(struct core *c, const char *user, const char *actor, int64_t *before,
		      int *closed)
{
	struct moderation *m = c->mod;
	*before = 0;
	*closed = 0;
	if (!m || !m->storage_ok)
		return CHATD_ERR_UNAVAILABLE;
	if (!user || !*user || strlen(user) > CHATD_ID_MAX)
		return CHATD_ERR_INVALID;
	int64_t now = mod_now_ms();
	int st = remember_revoke(m, user, now);
	if (st != CHATD_OK)
		return st;
	*before = moderation_revoked_before(c, user);
	struct chatd_sanction s = {
		.user_id = user, .kind = "revoke", .until = 0, .reason = "", .actor = actor,
		.created_at = *before,
	};
	if (c->storage->sanction_add(c->storage_inst, &s, on_written, NULL) != CHATD_OK)
		log_user(LOG_ERROR, "moderation", "sanction.write_failed", user,
			 "revocation not stored: it holds until restart");
	*closed = disconnect_user(c, user, "this token was revoked; sign in again", true,
				  json_pack("{s:I}", "revoked_before", (json_int_t)*before));
	audit_record(c, actor, "user.revoke", user,
		     json_pack("{s:I, s:i}", "revoked_before", (json_int_t)*before, "closed",
			       *closed));
	char by[LOG_USER_HASH_LEN + 1];
	log_user_hash(actor, by);
	log_user(LOG_INFO, "moderation", "user.revoked", user, "tokens issued before %lld refused, "
		 "%d sessions closed, by %s", (long long)*before, *closed, by);
	return CHATD_OK;
}

void sanctions_loaded_row(struct moderation *m, const struct chatd_sanction *s)
{
	if (strcmp(s->kind, "revoke") != 0) {
		/* A reason the table will not keep must not cost the sanction. */
		if (mod_sanctions_set_reason(m->sanctions, s->user_id, s->kind, s->until,
					     s->reason) == CHATD_ERR_INVALID)
			mod_sanctions_set(m->sanctions, s->user_id, s->kind, s->until);
		return;
	}
	if (remember_revoke(m, s->user_id, s->created_at) != CHATD_OK)
		log_user(LOG_ERROR, "moderation", "sanctions.load_failed", s->user_id,
			 "revocation not loaded (out of memory or over %d users)", REVOKED_MAX);
}

void sanctions_free_revoked(struct moderation *m)
{
	if (!m->revoked.buckets)
		return;
	size_t it;
	for (struct hmap_entry *e = hmap_first(&m->revoked, &it); e;
	     e = hmap_next(&m->revoked, e, &it))
		free(e->value);
	hmap_destroy(&m->revoked);
}
