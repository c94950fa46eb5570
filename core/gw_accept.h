/* gw_accept.h — a connection's first seconds, on the gateway thread: the
 * per-address cap (gw_conncap.h, decision 60) tied to lws's accept, create
 * and destroy callbacks, and server.handshake_timeout_s, a per-connection
 * timer from accept to a complete request (lws re-arms its own header
 * timeout on every byte, so a client trickling its request one byte at a
 * time — slowloris — would otherwise hold its slot for ever). */
#ifndef CHATD_GW_ACCEPT_H
#define CHATD_GW_ACCEPT_H

#include <stdbool.h>
#include <libwebsockets.h>
#include "config.h"
#include "core_metrics.h"

/* The reason sent with close 1008 and in the 429 body. */
#define GW_CAP_REASON "too many connections from your address"

struct gw_accept;

/* cfg and metrics are borrowed.  NULL when out of memory. */
struct gw_accept *gw_accept_new(const struct chatd_config *cfg, struct core_metrics *metrics);
void gw_accept_free(struct gw_accept *a);

/* This module's share of one lws callback.  Returns true when the callback
 * is wholly handled here (its return value in *ret), false when the caller
 * goes on with it. */
bool gw_accept_callback(struct gw_accept *a, struct lws *wsi, enum lws_callback_reasons reason,
			void *in, int *ret);

/* True (the refusal counted and logged, `what` naming the request) when
 * wsi's address holds more than server.max_connections_per_ip
 * connections: answer 429 or close 1008 with GW_CAP_REASON. */
bool gw_accept_refuses(struct gw_accept *a, struct lws *wsi, const char *what);

#endif
