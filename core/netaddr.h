/* netaddr.h — IP addresses and CIDR blocks for the per-address connection
 * cap (server.max_connections_per_ip, server.connection_cap_exempt).
 *
 * Every address is kept as 16 bytes in IPv6 form: an IPv4 address a.b.c.d
 * is its IPv4-mapped form ::ffff:a.b.c.d, so a client reaching an IPv6
 * socket with a mapped address and one reaching an IPv4 socket are the
 * same address, and an IPv4 block "10.0.0.0/8" is ::ffff:10.0.0.0/104.
 * Pure functions, any thread. */
#ifndef CHATD_NETADDR_H
#define CHATD_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETADDR_TEXT_MAX 64   /* longest text accepted by netaddr_cidr_parse */

struct netaddr {
	uint8_t b[16];
};

struct netaddr_cidr {
	struct netaddr addr;  /* bits past `bits` are zero */
	unsigned bits;        /* 0..128, in the IPv6 form */
};

/* Parses "a.b.c.d", "a.b.c.d/n" (n 0..32), an IPv6 address or "addr/n"
 * (n 0..128).  A block with bits set past its prefix ("10.0.0.1/8") is
 * refused: it is almost always a typo.  Returns 0, or -1 with a reason
 * (static text) in *why. */
int netaddr_cidr_parse(const char *text, struct netaddr_cidr *out, const char **why);

/* The address of a socket address (AF_INET or AF_INET6); -1 for other
 * families or a short length. */
int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out);

/* True when a is inside block c. */
bool netaddr_cidr_match(const struct netaddr_cidr *c, const struct netaddr *a);

/* True when a is inside any of the n blocks. */
bool netaddr_in_list(const struct netaddr_cidr *list, size_t n, const struct netaddr *a);

/* Writes a's text form (dotted quad for an IPv4-mapped address). */
void netaddr_format(const struct netaddr *a, char *buf, size_t size);

#endif
