/* netaddr.c — see netaddr.h. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_v4(const struct netaddr *a)
{
	return memcmp(a->b, v4_prefix, sizeof v4_prefix) == 0;
}

/* Clears the bits of a past the first `bits`. */
static void mask(struct netaddr *a, unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
		if (keep < 8)
			a->b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int netaddr_cidr_parse(const char *text, struct netaddr_cidr *out, const char **why)
{
	char buf[NETADDR_TEXT_MAX];
	size_t len = text ? strlen(text) : 0;
	if (len == 0 || len >= sizeof buf) {
		*why = "expected an address or address/prefix";
		return -1;
	}
	memcpy(buf, text, len + 1);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash) {
		*slash = '\0';
		const char *p = slash + 1;
		if (*p < '0' || *p > '9' || strlen(p) > 3) {
			*why = "the prefix length must be a number";
			return -1;
		}
		char *end;
		prefix = strtol(p, &end, 10);
		if (*end) {
			*why = "the prefix length must be a number";
			return -1;
		}
	}
	memset(out, 0, sizeof *out);
	struct in_addr v4;
	struct in6_addr v6;
	unsigned max;
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		memcpy(out->addr.b, v4_prefix, sizeof v4_prefix);
		memcpy(out->addr.b + 12, &v4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, &v6) == 1) {
		memcpy(out->addr.b, &v6, 16);
		max = 128;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	if (prefix > (long)max) {
		*why = max == 32 ? "an IPv4 prefix is at most 32" : "an IPv6 prefix is at most 128";
		return -1;
	}
	unsigned bits = prefix < 0 ? max : (unsigned)prefix;
	/* An IPv4 block is stored as its mapped IPv6 block. */
	out->bits = max == 32 ? bits + 96 : bits;
	struct netaddr masked = out->addr;
	mask(&masked, out->bits);
	if (memcmp(&masked, &out->addr, sizeof masked) != 0) {
		*why = "address bits are set past the prefix length";
		return -1;
	}
	return 0;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out)
{
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		memcpy(out->b, v4_prefix, sizeof v4_prefix);
		memcpy(out->b + 12, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memcpy(out->b, &s6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

bool netaddr_cidr_match(const struct netaddr_cidr *c, const struct netaddr *a)
{
	struct netaddr m = *a;
	mask(&m, c->bits);
	return memcmp(&m, &c->addr, sizeof m) == 0;
}

bool netaddr_in_list(const struct netaddr_cidr *list, size_t n, const struct netaddr *a)
{
	for (size_t i = 0; i < n; i++)
		if (netaddr_cidr_match(&list[i], a))
			return true;
	return false;
}

void netaddr_format(const struct netaddr *a, char *buf, size_t size)
{
	if (!buf || size == 0)
		return;
	if (!(is_v4(a) ? inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)size)
		       : inet_ntop(AF_INET6, a->b, buf, (socklen_t)size)))
		buf[0] = '\0';
}
