/* pipeline.h — the core's command pipeline.
 *
 * Every command of an authenticated session arrives here already decoded
 * by the gateway (valid UTF-8 JSON object with a string type and a valid
 * id).  A handler validates its fields, authorizes against storage, and
 * answers through the core's reply functions.  Content-bearing commands
 * (send) then go: authorize → persist → ack → publish → fan-out.  Handlers
 * that wait on storage keep their state in a heap `struct cmd` freed when
 * the last completion has run. */
#ifndef CHATD_PIPELINE_H
#define CHATD_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "core_loop.h"

struct cmd {
	struct core *core;
	uint64_t session;
	char user[BRIDGE_USER_MAX + 1];
	json_t *msg;                 /* owned: field strings point into it */
	char id[257];
	bool has_id;
	char err[128];               /* scratch for field validation */
	/* metrics (core_metrics.h) */
	const char *type;            /* the handler's command type (static) */
	uint64_t t0_ns;              /* the core took it (monotonic); 0 once replied */
	uint64_t t_op_ns;            /* the storage op in flight started */
	uint64_t trace;              /* log trace id of the frame (log.h; 0: none) */
};

/* iat: the session's token's iat (s; 0 absent), checked against the
 * user's revocation. */
void pipeline_session_open(struct core *c, uint64_t session, const char *user, int64_t iat);
void pipeline_session_close(struct core *c, uint64_t session);
/* The session sent auth with a new token for the same user (iat: the
 * token's): a token admission would refuse (revoked before iat, or the
 * user banned) closes the session with revoked / 4403 at once; its later
 * commands are dropped. */
void pipeline_session_refresh(struct core *c, uint64_t session, const char *user, int64_t iat);
/* Takes ownership of msg. */
void pipeline_dispatch(struct core *c, uint64_t session, const char *user, json_t *msg);

/* Allocate a command of `size` bytes (>= sizeof(struct cmd), the struct
 * first) taking over base's fields, msg included (base->msg becomes NULL);
 * NULL on ENOMEM (base untouched). */
void *cmd_clone(struct cmd *base, size_t size);
void cmd_free(struct cmd *c);
/* Make c's trace id and user the thread's log context: the first call of
 * every completion that resumes a command (the loop clears it after). */
void cmd_resume(const struct cmd *c);
/* Read the required conversation_id field.  On false the error (bad_request,
 * or not_found for an id no conversation can have) has been sent. */
bool cmd_conversation_id(struct cmd *c, const char **out);
/* Reply obj (stolen) with the command's id added. */
void cmd_reply(struct cmd *c, json_t *obj);
void cmd_error(struct cmd *c, const char *code, const char *message);
/* When status is not OK, answer the matching error and return true. */
bool cmd_failed(struct cmd *c, int status);
/* Queue f for every session of user on this node except `except`;
 * returns how many.  In a cluster (cluster.h) the user's sessions on other
 * nodes get it too, through the bus. */
int core_deliver_user(struct core *c, const char *user, chatd_frame *f, uint64_t except);
/* This node's sessions only (what a node does with frames routed to it). */
int core_deliver_local(struct core *c, const char *user, chatd_frame *f, uint64_t except);

/* Publish a stored message on the bus and fan it out to members (the
 * session `origin` excluded; 0: none). */
void core_publish_message(struct core *c, const struct chatd_message *m, uint64_t origin);

/* Handlers (cmd_send.c, cmd_read.c, cmd_conv.c).  Each gets a stack
 * `struct cmd` to validate from, and clones it when it must wait. */
void cmd_send(struct cmd *c);
void cmd_history(struct cmd *c);
void cmd_search(struct cmd *c);    /* cmd_search.c */
void cmd_conv_notify(struct cmd *c);   /* cmd_notify.c */
/* After the fan-out of a message every member sees: the notify plugin
 * (if any) gets each member with no online session who has not muted the
 * conversation's notifications (cmd_notify.c). */
void core_notify_message(struct core *c, const struct chatd_message *m);
void cmd_sync(struct cmd *c);
void cmd_conv_create(struct cmd *c);
void cmd_conv_list(struct cmd *c);
void cmd_conv_info(struct cmd *c);
void cmd_report(struct cmd *c);   /* cmd_mod.c */
void cmd_appeal(struct cmd *c);
void cmd_conv_add(struct cmd *c);  /* cmd_group.c */
void cmd_conv_remove(struct cmd *c);
void cmd_conv_leave(struct cmd *c);
void cmd_conv_role(struct cmd *c);
void cmd_conv_settings(struct cmd *c);
void cmd_conv_mute(struct cmd *c);
void cmd_edit(struct cmd *c);      /* cmd_edit.c */
void cmd_delete(struct cmd *c);
void cmd_presence_subscribe(struct cmd *c);   /* presence_subs.c */
void cmd_presence_unsubscribe(struct cmd *c);
void cmd_typing(struct cmd *c);               /* typing.c */
void cmd_read(struct cmd *c);                 /* cmd_receipts.c */
void cmd_receipts(struct cmd *c);
/* user's read cursor of conv as clients must see it: `stored` (from
 * storage) overlaid with what the receipts plugin has not written yet. */
int64_t core_read_seq(struct core *c, const char *conv, const char *user, int64_t stored);
void cmd_media_upload(struct cmd *c);         /* cmd_media.c */
void cmd_media_url(struct cmd *c);
/* An HTTP request under /media/ from the gateway (media_http.c): asks the
 * media plugin and pushes the answer back in the same item (taken). */
void media_http_handle(struct core *c, struct bridge_http *h);

/* {"type":"result","ok":true} with the command's id. */
void cmd_result_ok(struct cmd *c);
/* Tell the fan-out plugin that users joined / a user left conv (after the
 * change is stored). */
void core_members_joined(struct core *c, const char *conv, const char *const *users, size_t n);
void core_member_left(struct core *c, const char *conv, const char *user);
/* Encode obj (stolen) once and deliver it to every online member of conv
 * (except the session `except`, 0: none). */
void core_deliver_members(struct core *c, const char *conv, json_t *obj, uint64_t except);
/* The fan-out plugin's deliver / deliver_members, and in a cluster with a
 * node-local fan-out the same fan-out on every other node (cluster.h); f
 * (and fm's frames) are then marked fanned_out: deliver another frame to
 * anyone outside the fan-out. */
void core_fanout_deliver(struct core *c, const struct chatd_fanout_msg *fm);
void core_fanout_members(struct core *c, const char *conv, chatd_frame *f, uint64_t except);

/* Tell who may see msg that it was deleted for everyone at `at`
 * (message_update kind deleted): its conversation's members, or for a
 * message others do not see, its sender; the session `except` (0: none)
 * left out (cmd_edit.c; the delete command and staff deletes). */
void core_message_deleted(struct core *c, const struct chatd_message *msg, int64_t at,
			  uint64_t except);
/* conv.event settings_changed by `by` to conv's members, with cv's title
 * and settings as stored (cmd_group.c; conv.settings and staff locks). */
void core_settings_changed(struct core *c, const char *conv, const struct chatd_conversation *cv,
			   const char *by);

/* The retention job (retention.c): a timer that erases the content of
 * messages deleted for everyone once they are old enough. */
int retention_start(struct core *c);
void retention_stop(struct core *c);

#endif
