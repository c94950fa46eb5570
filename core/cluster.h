/* cluster.h — delivery across chatd nodes (see docs/scaling.md, "Cluster").
 *
 * Active when the presence plugin has `locate` (ABI 1.4) and a bus is
 * loaded.  Every push to a user (core_deliver_user) is also noted here:
 * during one loop iteration the core collects (frame → users); once per
 * iteration it asks presence where those users are (one locate per frame,
 * at most CLUSTER_USERS_MAX users per call), groups them by node (this node
 * skipped: it delivered already) and publishes one bus message per (frame,
 * node) on "node.<id>" (cluster_codec.h).  Batches are published in the
 * order they were made, whatever order locate answers in, so the frames of
 * one node to one user arrive in delivery order.  A node receiving on
 * "node.<self>" delivers to its own sessions only and never routes again.
 *
 * With a node-local fan-out plugin (fanout_hybrid) the stored messages and
 * the events to a conversation's members are not routed by user: each
 * fan-out is published once on "cluster.fanout" and every node runs it
 * for its own sessions (cluster_fanout_send).
 *
 * Control to every node ("cluster.*"): closing a user's sessions (ban,
 * revoke, kick) and membership/settings changes that make other nodes'
 * caches stale.  A node ignores its own control messages (it acted
 * already).  Core thread only. */
#ifndef CHATD_CLUSTER_H
#define CHATD_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "chatd/fanout.h"
#include "chatd/host.h"

struct core;
struct cluster;

/* NULL when there is nothing to do (no locate or no bus) or on ENOMEM
 * (*failed set then).  Subscribes to "node.<self>" and "cluster.*". */
struct cluster *cluster_new(struct core *c, bool *failed);
/* Before the plugins stop: nothing more goes out or comes in; batches
 * still waiting for locate are orphaned (their cb frees them). */
void cluster_stop(struct cluster *cl);
/* After the plugins are gone (the bus holds cl as a subscriber's arg). */
void cluster_free(struct cluster *cl);

/* user gets f on other nodes too (f referenced until published).  Not for
 * a frame marked fanned_out: every node runs that fan-out itself. */
void cluster_note(struct cluster *cl, const char *user, chatd_frame *f);

/* Shared fan-out: true when the fan-out plugin pushes only to members
 * online on its own node (it implements user_online, as fanout_hybrid).
 * Then each fan-out — a stored message (fm) or an event to the members of
 * conv (f) — is also sent once on "cluster.fanout", and every other node
 * hands it to its own fan-out plugin for its own sessions; the caller
 * marks the frames fanned_out so they are not also routed by user. */
bool cluster_shares_fanout(const struct cluster *cl);
void cluster_fanout_send(struct cluster *cl, const struct chatd_fanout_msg *fm, const char *conv,
			 chatd_frame *f);

/* Every node closes user's sessions: error `revoked` with message, close
 * 4403; forget as in sanctions.c.  extra (stolen, may be NULL): fields
 * that tell the others what to remember (sanction, revoked_before). */
void cluster_close_user(struct cluster *cl, const char *user, const char *message, bool forget,
			json_t *extra);
/* Conversation conv changed on this node: members joined (users[0..n)),
 * one left (left, or NULL), or settings (neither). */
void cluster_conv_changed(struct cluster *cl, const char *conv, const char *const *users,
			  size_t n, const char *left);

#endif
