/* gw_conncap.h — the per-address connection cap (decision 60): how many
 * connections each client address holds, from accept to close.
 *
 * The gateway counts a connection when lws accepts it (before TLS and the
 * HTTP request: half-open handshakes count) and stops counting when lws
 * destroys it.  A connection whose address holds more than `cap` is
 * refused politely (HTTP 429, WebSocket close 1008); at accept, an address
 * already holding 2 × cap is dropped without a word.  Addresses inside an
 * exempt block are never counted.  No lws here, so it is unit-tested
 * (tests/unit/test_conncap.c).  Gateway thread only. */
#ifndef CHATD_GW_CONNCAP_H
#define CHATD_GW_CONNCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hmap.h"
#include "netaddr.h"

enum gw_cap_verdict {
	GW_CAP_EXEMPT,  /* inside an exempt block: not counted */
	GW_CAP_OK,      /* accept and count */
	GW_CAP_DROP,    /* already 2 × cap from there: close at accept */
};

struct gw_conncap {
	size_t cap;
	const struct netaddr_cidr *exempt;  /* borrowed (the config's) */
	size_t n_exempt;
	struct hmap addrs;                  /* 16-byte address → struct gw_cap_addr* */
	struct hmap conns;                  /* connection key → struct gw_cap_addr* */
};

/* cap >= 1; exempt (n blocks) is borrowed and must outlive cc.  Returns 0
 * or -1 (no memory). */
int gw_conncap_init(struct gw_conncap *cc, size_t cap, const struct netaddr_cidr *exempt,
		    size_t n);
void gw_conncap_destroy(struct gw_conncap *cc);

/* What to do with a new connection from a (not counted yet). */
enum gw_cap_verdict gw_conncap_check(const struct gw_conncap *cc, const struct netaddr *a);

/* Counts connection `conn` (a key unique among open connections) from a;
 * an exempt address is not counted.  A key still counted (its close was
 * never seen) is released first, so a lost close cannot pin a slot forever.
 * Returns 0, or -1 when out of memory (then nothing is counted). */
int gw_conncap_add(struct gw_conncap *cc, uint64_t conn, const struct netaddr *a);

/* True when conn is counted and its address holds more than cap
 * connections (conn included): refuse what it asks for. */
bool gw_conncap_over(const struct gw_conncap *cc, uint64_t conn);

/* Stops counting conn; returns true when it was counted. */
bool gw_conncap_remove(struct gw_conncap *cc, uint64_t conn);

/* The address conn is counted under, or NULL. */
const struct netaddr *gw_conncap_addr(const struct gw_conncap *cc, uint64_t conn);

/* Connections counted for a; connections counted in all. */
size_t gw_conncap_count(const struct gw_conncap *cc, const struct netaddr *a);
size_t gw_conncap_total(const struct gw_conncap *cc);

#endif
