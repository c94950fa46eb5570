/* gateway.h — the libwebsockets thread: owns connections and nothing else.
 *
 * It speaks WebSocket and HTTP (/healthz, /readyz, static files), verifies
 * tokens, enforces frame size, UTF-8, JSON envelope, flood and queue limits,
 * and hands decoded commands of authenticated sessions to the core through
 * the bridge.  It never touches storage or plugins. */
#ifndef CHATD_GATEWAY_H
#define CHATD_GATEWAY_H

#include "core_loop.h"

struct gateway;

/* Create the lws context (binds the listener) on the calling thread; the
 * service loop then runs in its own thread after gateway_start.  Returns
 * NULL with a logged reason on failure. */
struct gateway *gateway_new(struct core *core);
int gateway_start(struct gateway *gw);
/* The port actually bound (for port = 0). */
int gateway_port(const struct gateway *gw);
/* Wake the gateway thread to drain core→gateway items (any thread). */
void gateway_wake(void *gw);
/* Join the thread (after it reported BIN_GW_DONE) and free everything. */
void gateway_free(struct gateway *gw);

#endif
