/* moderation.h — the core's side of moderation: the Lua rule set and its
 * helpers' state, node-wide sanctions, and the tamper-evident audit log.
 * Everything here runs on the core thread.
 *
 * Persistence goes through the storage plugin (ABI 1.1 ops): sanctions are
 * written through and loaded at start; audit entries are chained here (the
 * core holds the last id and hash) and appended in order. */
#ifndef CHATD_MODERATION_H
#define CHATD_MODERATION_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lua_host.h"
#include "mod_compile.h"
#include "chatd/storage.h"

struct core;
struct moderation;

/* Creates the rule host and loads moderation.rules (all must compile).
 * Returns 0, or -1 with the reason in err. */
int moderation_new(struct core *c, struct moderation **out, char *err, size_t errlen);

/* Loads the active sanctions and the audit tail from storage (async). */
void moderation_start(struct core *c);
void moderation_free(struct moderation *m);

/* Compiles the configured rules again and swaps them in, or keeps the old
 * set; either way the outcome is audited.  Returns 0 or -1 (err). */
int moderation_reload(struct core *c, const char *actor, char *err, size_t errlen);

/* Runs hook over ctx; *d must be zeroed (release with lua_decision_clear).
 * *audit_id gets the first audit entry recorded during the run (0: none). */
void moderation_run(struct core *c, enum lua_hook hk, const struct lua_msg_ctx *ctx,
		    struct lua_decision *d, int64_t *audit_id);
/* Provenance of a decision, for the message row: NULL when the message was
 * plainly allowed (and the sender not shadowed).  Caller frees. */
char *moderation_provenance(const struct lua_decision *d, int64_t audit_id, bool shadowed);

/* Sends the error a rejecting decision calls for (rate_limited,
 * unavailable, or rejected with its reason). */
struct cmd;
void moderation_reply_reject(struct cmd *cmd, const struct lua_decision *d);
/* The rules' say on content a user writes (send: on_message, edit:
 * on_edit).  Sanctions first: a ban closes the session (`revoked`, 4403), a
 * block is refused (`rejected`, reason "blocked").  Then the hook: a reject
 * is answered; a rewrite that cannot be stored is a rule failure (the fail
 * mode decides).  False when the command ends here (the error has been
 * sent, *d cleared).  True: *d is the decision (d->text a valid rewrite or
 * NULL; the caller clears it), *audit_id the first audit entry of the run,
 * *shadowed whether the user is shadow-banned. */
bool moderation_check_content(struct cmd *cmd, enum lua_hook hk, const struct lua_msg_ctx *x,
			      struct lua_decision *d, int64_t *audit_id, bool *shadowed);
/* A rule's rewritten text must be valid UTF-8 within max_text, like a
 * client's; false (logged) when it is not. */
bool moderation_rewrite_ok(struct core *c, const struct lua_decision *d);

/* The rule set's version (0: none loaded yet). */
uint64_t moderation_rules_version(struct core *c);

/* Rules' state, for the admin API: version, per-rule stats, samples. */
json_t *moderation_rules_json(struct core *c);

/* Asks storage when user was first seen (recording now if never) and
 * keeps it with their sessions: the basis of account_age_ms(). */
void moderation_user_seen(struct core *c, const char *user);

/* ---- sanctions ---- */
/* "ban" or "block" when one stops user now (*until: its end, 0 permanent). */
const char *moderation_blocking(struct core *c, const char *user, int64_t now, int64_t *until);
bool moderation_shadowed(struct core *c, const char *user, int64_t now);
/* Applies and persists a sanction (kind "ban" | "shadow" | "block"; until 0
 * = permanent), audits it, and for a ban disconnects the user's sessions
 * with 4403.  Returns CHATD_OK or a status. */
int moderation_sanction(struct core *c, const char *user, const char *kind, int64_t until,
			const char *reason, const char *actor);
int moderation_lift(struct core *c, const char *user, const char *kind, const char *actor);
/* Ends every session of user on this node now (error revoked "disconnected
 * by a moderator", close 4403); nothing is stored, they may come back.
 * Audited (user.kick).  *closed: how many sessions. */
int moderation_kick(struct core *c, const char *user, const char *actor, int *closed);
/* A cluster.close_user from another node (cluster.h): remember its
 * sanction or revocation, close the user's sessions here. */
void sanctions_cluster_close(struct core *c, json_t *msg);
/* Refuses from now on every token of user issued before now (iat in an
 * earlier second than *before, or no iat): stored (a sanction row of kind
 * "revoke"), audited (user.revoke); ends the user's sessions like a kick. */
int moderation_revoke(struct core *c, const char *user, const char *actor, int64_t *before,
		      int *closed);
/* user's revoked_before (ms), 0: none. */
int64_t moderation_revoked_before(struct core *c, const char *user);
/* Is a token of user with this iat (s; 0: absent) revoked? */
bool moderation_token_revoked(struct core *c, const char *user, int64_t iat);
/* Active sanctions of user (or of everyone when user is NULL) as JSON. */
json_t *moderation_sanctions_json(struct core *c, const char *user, int64_t now);

/* Files an appeal by user (text borrowed) into the queue; cb gets its id
 * (EXISTS: this sanction was appealed already, with the first id). */
int moderation_file_appeal(struct core *c, const char *user, const char *text,
			   chatd_id_cb cb, void *arg);

/* ---- audit log ---- */
/* Appends an entry (detail stolen; NULL = {}).  Returns its id, or 0 when
 * it could not be recorded yet (the log's tail is still loading: the entry
 * is queued and written as soon as it is) or at all (logged). */
int64_t audit_record(struct core *c, const char *actor, const char *event, const char *subject,
		     json_t *detail);

/* Walks the whole log and calls done with {"ok":…, "entries":N,
 * "first_bad_id":…, "reason":…} (obj owned by done). */
typedef void (*audit_verify_cb)(void *arg, json_t *result);
int audit_verify(struct core *c, audit_verify_cb done, void *arg);

/* Current time in ms since the epoch (server clock). */
int64_t mod_now_ms(void);

#endif
