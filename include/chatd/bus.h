/* chatd/bus.h — the bus kind: events for other nodes and external consumers.
 *
 * Topics are of three classes, told apart by their prefix:
 *   "node.<id>"     addressed to one node: delivered to that node's
 *                   subscribers only (at most once, in publish order);
 *                   the core routes frames to remote sessions with them.
 *   "cluster.<x>"   to every node, the publisher included (control such as
 *                   closing a user's sessions everywhere).
 *   anything else   events for other nodes' subscribers and for external
 *                   consumers (a cluster bus appends them to a durable,
 *                   bounded stream): "message.created" (payload: the
 *                   message JSON plus "node_id"), "message.edited",
 *                   "message.deleted", "message.moderated",
 *                   "conversation.created".
 * A single-node bus (bus_local) delivers every topic to local subscribers. */
#ifndef CHATD_BUS_H
#define CHATD_BUS_H

#include "chatd/plugin.h"

/* A subscriber; topic and payload are borrowed for the call. */
typedef void (*chatd_bus_handler)(void *arg, const char *topic,
				  const char *payload, size_t len);

struct chatd_bus_ops {
	uint32_t struct_size;
	/* Publish; the payload is copied.  Delivery to subscribers is
	 * asynchronous (never inside publish) and on the core thread. */
	int (*publish)(void *inst, const char *topic, const char *payload, size_t len);
	/* Subscribe to one topic ("*" for all). */
	int (*subscribe)(void *inst, const char *topic, chatd_bus_handler fn, void *arg);

	/* ---- ABI 1.4 (optional): counters shared by every node, for the
	 * moderation helpers' limiters and counters.  Adds deltas[i] to
	 * cluster-wide counter keys[i] (created with a lifetime of ttl_ms[i]
	 * when absent; the lifetime is not extended by later adds) and
	 * reports every counter's total after the add: cb(arg, status,
	 * totals, n) exactly once on the core thread, never inside the call.
	 * n <= 1024.  Keys are opaque bytes without NUL. */
	int (*counters_add)(void *inst, const char *const *keys, const int64_t *deltas,
			    const int64_t *ttl_ms, size_t n,
			    void (*cb)(void *arg, int status, const int64_t *totals, size_t n),
			    void *arg);
};

#endif
