/* chatd/bus.h — the bus kind: events for other nodes and external consumers.
 *
 * Topics in use: "message.created" (payload: the message JSON plus
 * "node_id"), "conversation.created". */
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
};

#endif
