/* admin_users.c — /v1/users/USER: show, kick, revoke, sanctions. */
#include <stdio.h>
#include <string.h>
#include "admin.h"
#include "log.h"
#include "sessions.h"

/* {"sanctions":[…]} → the array (new reference). */
static json_t *sanctions_array(struct core *c, const char *user)
{
	json_t *o = moderation_sanctions_json(c, user, mod_now_ms());
	json_t *a = json_incref(json_object_get(o, "sanctions"));
	json_decref(o);
	return a ? a : json_array();
}

static void reply_user(struct admin_req *r, int64_t first_seen)
{
	struct core *c = r->core;
	const struct user_sessions *us = sessions_of(&c->sessions, r->arg);
	int64_t rb = moderation_revoked_before(c, r->arg);
	size_t n = us ? us->n : 0;
	char log_id[LOG_USER_HASH_LEN + 1]; /* what this user's log lines carry */
	log_user_hash(r->arg, log_id);
	json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:o, s:o, s:o}", "user_id", r->arg, "log_id",
			      log_id, "online", n > 0,
			      "sessions", (json_int_t)n, "first_seen",
			      first_seen > 0 ? json_integer(first_seen) : json_null(), "sanctions",
			      sanctions_array(c, r->arg), "revoked_before",
			      rb > 0 ? json_integer(rb) : json_null());
	admin_reply(r, o ? 200 : 500, o);
}

static void on_first_seen(void *arg, int status, int64_t ts)
{
	struct admin_req *r = arg;
	if (status != CHATD_OK && status != CHATD_ERR_NOT_FOUND) {
		admin_status_error(r, status);
		return;
	}
	/* A session here may know it while storage's write is in flight. */
	const struct user_sessions *us = sessions_of(&r->core->sessions, r->arg);
	if (status == CHATD_ERR_NOT_FOUND)
		ts = us ? us->first_seen : 0;
	reply_user(r, ts);
}

void admin_get_user(struct admin_req *r)
{
	if (!admin_path_user(r))
		return;
	struct core *c = r->core;
	if (!CORE_HAS_OP(c->storage, struct chatd_storage_ops, user_first_seen)) {
		/* An older storage plugin: only what sessions here know. */
		const struct user_sessions *us = sessions_of(&c->sessions, r->arg);
		reply_user(r, us ? us->first_seen : 0);
		return;
	}
	int st = c->storage->user_first_seen(c->storage_inst, r->arg, on_first_seen, r);
	if (st != CHATD_OK)
		admin_status_error(r, st);
}

void admin_post_kick(struct admin_req *r)
{
	if (!admin_path_user(r))
		return;
	int closed;
	int st = moderation_kick(r->core, r->arg, r->claims.sub, &closed);
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		return;
	}
	admin_reply(r, 200, json_pack("{s:i}", "closed", closed));
}

void admin_post_revoke(struct admin_req *r)
{
	if (!admin_path_user(r))
		return;
	int closed;
	int64_t before;
	int st = moderation_revoke(r->core, r->arg, r->claims.sub, &before, &closed);
	if (st == CHATD_ERR_TOO_LARGE) {
		admin_error(r, 503, "unavailable", "too many users with a revocation held in memory");
		return;
	}
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		return;
	}
	admin_reply(r, 200, json_pack("{s:i, s:I}", "closed", closed, "revoked_before",
				      (json_int_t)before));
}

/* ---- sanctions ---- */

void admin_get_sanctions(struct admin_req *r)
{
	if (admin_path_user(r))
		admin_reply(r, 200, moderation_sanctions_json(r->core, r->arg, mod_now_ms()));
}

void admin_post_sanction(struct admin_req *r)
{
	if (!admin_path_user(r))
		return;
	struct admin_sanction_args a;
	const char *bad = admin_parse_sanction(r->body, &a);
	if (bad) {
		admin_error(r, 400, "bad_request", bad);
		return;
	}
	int64_t d = a.duration_ms;
	int st = moderation_sanction(r->core, r->arg, a.kind, d ? mod_now_ms() + d : 0, a.reason,
				     r->claims.sub);
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		return;
	}
	admin_reply(r, 200, moderation_sanctions_json(r->core, r->arg, mod_now_ms()));
}

static void delete_sanction(struct admin_req *r, const char *kind)
{
	if (!admin_path_user(r))
		return;
	int st = moderation_lift(r->core, r->arg, kind, r->claims.sub);
	if (st != CHATD_OK) {
		admin_status_error(r, st);
		return;
	}
	admin_reply(r, 200, moderation_sanctions_json(r->core, r->arg, mod_now_ms()));
}

void admin_delete_ban(struct admin_req *r)
{
	delete_sanction(r, "ban");
}

void admin_delete_shadow(struct admin_req *r)
{
	delete_sanction(r, "shadow");
}

void admin_delete_block(struct admin_req *r)
{
	delete_sanction(r, "block");
}
