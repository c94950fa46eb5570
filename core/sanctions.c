/* sanctions.c — node-wide sanctions: an in-memory table (mod_sanctions)
 * consulted on every send, written through to storage, audited.  A ban
 * also ends the user's sessions at once (error revoked, close 4403). */
#include <stdlib.h>
#include <string.h>
#include "core_loop.h"
#include "log.h"
#include "mod_sanctions.h"
#include "moderation.h"
#include "moderation_priv.h"

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

static void disconnect_user(struct core *c, const char *user)
{
	const struct user_sessions *us = sessions_of(&c->sessions, user);
	if (!us || !us->n)
		return;
	/* Closing changes the set: work on a copy. */
	size_t n = us->n;
	uint64_t *copy = malloc(n * sizeof *copy);
	if (!copy)
		return;
	memcpy(copy, us->ids, n * sizeof *copy);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_pack("{s:s, s:s, s:s, s:b}", "type", "error", "code", "revoked",
				      "message", "you are banned", "retryable", 0);
		core_close_session(c, copy[i], e, 4403);
	}
	free(copy);
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
	if (mod_sanctions_set(m->sanctions, user, kind, until) != 0)
		return CHATD_ERR_NOMEM;
	struct chatd_sanction s = {
		.user_id = user, .kind = kind, .until = until, .reason = reason ? reason : "",
		.actor = actor, .created_at = now,
	};
	if (c->storage->sanction_add(c->storage_inst, &s, on_written, NULL) != CHATD_OK)
		log_error("moderation", "sanction.write_failed", "sanction %s/%s not stored",
			  kind, user);
	audit_record(c, actor, "sanction", user,
		     json_pack("{s:s, s:I, s:s}", "kind", kind, "until", (json_int_t)until,
			       "reason", reason ? reason : ""));
	log_info("moderation", "sanction.applied", "%s on %s until %lld by %s", kind, user,
		 (long long)until, actor);
	if (strcmp(kind, "ban") == 0)
		disconnect_user(c, user);
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
		log_error("moderation", "sanction.write_failed", "lifting %s/%s not stored", kind,
			  user);
	audit_record(c, actor, "sanction.lift", user, json_pack("{s:s}", "kind", kind));
	return CHATD_OK;
}

static int add_json(void *ud, const char *user, const char *kind, int64_t until)
{
	json_array_append_new(ud, json_pack("{s:s, s:s, s:I}", "user_id", user, "kind", kind,
					    "until", (json_int_t)until));
	return 0;
}

json_t *moderation_sanctions_json(struct core *c, const char *user, int64_t now)
{
	json_t *a = json_array();
	if (c->mod)
		mod_sanctions_foreach(c->mod->sanctions, user, now, add_json, a);
	return json_pack("{s:o}", "sanctions", a);
}
