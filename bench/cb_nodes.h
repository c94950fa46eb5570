/* cb_nodes.h — the chatd nodes chatbench drives: each --url parsed into an
 * endpoint, connection i placed on node i mod K, and the share of
 * (sender, recipient) pairs that the placement puts on different nodes. */
#ifndef CB_NODES_H
#define CB_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define CB_MAX_NODES 16

struct cb_node {
	char url[512];
	char host[256];          /* as in the URL, with the port (for the Host header) */
	char path[256];          /* URL path, default "/ws" (chatd) or "/" (relay) */
	int port;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* Parse nd->url, ws://HOST[:PORT][/PATH] with a loopback HOST (127.0.0.0/8,
 * localhost, ::1), into the other fields; the default path is "/" when relay
 * is true, else "/ws".  Returns 0, or -1 with a message in err. */
int cb_node_parse(struct cb_node *nd, bool relay, char *err, size_t errlen);

/* The node of connection idx among nnodes (>= 1): idx mod nnodes. */
int cb_node_of(int idx, int nnodes);

/* Conversations of the fanout and pairs scenarios are runs of m consecutive
 * connections out of n (the last one shorter; a lone member has no
 * conversation).  Of the ordered (sender, recipient) pairs inside them, the
 * percentage whose two connections cb_node_of puts on different nodes; -1
 * when there is no pair.  Every member sends equally often, so it is also
 * the share of deliveries that cross nodes. */
double cb_cross_node_pct(int n, int m, int nnodes);

#endif
