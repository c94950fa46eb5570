/* cb_nodes.c — parsing the --url of each node, and where connections go.
 * No sockets here: the unit tests link this file alone. */
#include "cb_nodes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cb_node_parse(struct cb_node *nd, bool relay, char *err, size_t errlen)
{
	const char *u = nd->url;
	if (strncmp(u, "ws://", 5) != 0) {
		snprintf(err, errlen, "--url must start with ws:// (wss is not supported)");
		return -1;
	}
	u += 5;
	const char *hs = u, *he;
	if (*u == '[') {
		he = strchr(u, ']');
		if (!he) {
			snprintf(err, errlen, "--url: unterminated [IPv6]");
			return -1;
		}
		hs = u + 1;
		u = he + 1;
	} else {
		he = u + strcspn(u, ":/?");
		u = he;
	}
	size_t hl = (size_t)(he - hs);
	if (hl == 0 || hl >= 64) {
		snprintf(err, errlen, "--url: bad host");
		return -1;
	}
	char host[64];
	memcpy(host, hs, hl);
	host[hl] = '\0';
	nd->port = 80;
	if (*u == ':') {
		char *end;
		long p = strtol(u + 1, &end, 10);
		if (end == u + 1 || p < 1 || p > 65535) {
			snprintf(err, errlen, "--url: bad port");
			return -1;
		}
		nd->port = (int)p;
		u = end;
	}
	if (*u && *u != '/') {
		snprintf(err, errlen, "--url: unexpected text after the port");
		return -1;
	}
	if (strlen(u) >= sizeof nd->path) {
		snprintf(err, errlen, "--url: path too long");
		return -1;
	}
	snprintf(nd->path, sizeof nd->path, "%s", *u ? u : (relay ? "/" : "/ws"));
	memset(&nd->addr, 0, sizeof nd->addr);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&nd->addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&nd->addr;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
			snprintf(err, errlen, "--url host %s is not loopback (127.0.0.0/8, localhost, ::1 only)", host);
			return -1;
		}
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)nd->port);
		nd->addrlen = sizeof *s4;
		snprintf(nd->host, sizeof nd->host, "%s:%d", host, nd->port);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
			snprintf(err, errlen, "--url host %s is not loopback", host);
			return -1;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)nd->port);
		nd->addrlen = sizeof *s6;
		snprintf(nd->host, sizeof nd->host, "[%s]:%d", host, nd->port);
	} else {
		snprintf(err, errlen, "--url host %s is not loopback (127.0.0.0/8, localhost, ::1 only)", host);
		return -1;
	}
	return 0;
}

int cb_node_of(int idx, int nnodes)
{
	return nnodes > 1 && idx >= 0 ? idx % nnodes : 0;
}

double cb_cross_node_pct(int n, int m, int nnodes)
{
	if (n < 2 || m < 2 || nnodes < 1)
		return -1;
	uint64_t pairs = 0, cross = 0;
	int per[CB_MAX_NODES];
	int k = nnodes < CB_MAX_NODES ? nnodes : CB_MAX_NODES;
	for (int first = 0; first < n; first += m) {
		int size = first + m < n ? m : n - first;
		if (size < 2)
			continue;
		memset(per, 0, sizeof per);
		for (int i = first; i < first + size; i++)
			per[cb_node_of(i, k)]++;
		/* ordered pairs: size (size - 1) in all, same-node ones per node */
		uint64_t same = 0;
		for (int j = 0; j < k; j++)
			same += per[j] ? (uint64_t)per[j] * (uint64_t)(per[j] - 1) : 0;
		uint64_t all = (uint64_t)size * (uint64_t)(size - 1);
		pairs += all;
		cross += all - same;
	}
	return pairs ? 100.0 * (double)cross / (double)pairs : -1;
}
