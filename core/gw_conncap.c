/* gw_conncap.c — see gw_conncap.h. */
#include "gw_conncap.h"

#include <stdlib.h>

struct gw_cap_addr {
	struct netaddr a;
	size_t n;          /* connections counted from a; the entry goes at 0 */
};

int gw_conncap_init(struct gw_conncap *cc, size_t cap, const struct netaddr_cidr *exempt,
		    size_t n)
{
	cc->cap = cap ? cap : 1;
	cc->exempt = exempt;
	cc->n_exempt = n;
	if (hmap_init(&cc->addrs) < 0)
		return -1;
	if (hmap_init(&cc->conns) < 0) {
		hmap_destroy(&cc->addrs);
		return -1;
	}
	return 0;
}

void gw_conncap_destroy(struct gw_conncap *cc)
{
	size_t it;
	for (struct hmap_entry *e = hmap_first(&cc->addrs, &it); e;
	     e = hmap_next(&cc->addrs, e, &it))
		free(e->value);
	hmap_destroy(&cc->addrs);
	hmap_destroy(&cc->conns);
}

enum gw_cap_verdict gw_conncap_check(const struct gw_conncap *cc, const struct netaddr *a)
{
	if (netaddr_in_list(cc->exempt, cc->n_exempt, a))
		return GW_CAP_EXEMPT;
	/* Up to 2 × cap are accepted so the ones over the cap hear why
	 * (429 / 1008); past that, answering costs more than it helps. */
	return gw_conncap_count(cc, a) >= 2 * cc->cap ? GW_CAP_DROP : GW_CAP_OK;
}

int gw_conncap_add(struct gw_conncap *cc, uint64_t conn, const struct netaddr *a)
{
	gw_conncap_remove(cc, conn);
	if (netaddr_in_list(cc->exempt, cc->n_exempt, a))
		return 0;
	struct gw_cap_addr *rec = hmap_get(&cc->addrs, a->b, sizeof a->b);
	bool fresh = !rec;
	if (fresh) {
		rec = calloc(1, sizeof *rec);
		if (!rec)
			return -1;
		rec->a = *a;
		if (hmap_put(&cc->addrs, a->b, sizeof a->b, rec) < 0) {
			free(rec);
			return -1;
		}
	}
	if (hmap_put64(&cc->conns, conn, rec) < 0) {
		if (fresh) {
			hmap_del(&cc->addrs, a->b, sizeof a->b);
			free(rec);
		}
		return -1;
	}
	rec->n++;
	return 0;
}

bool gw_conncap_over(const struct gw_conncap *cc, uint64_t conn)
{
	const struct gw_cap_addr *rec = hmap_get64(&cc->conns, conn);
	return rec && rec->n > cc->cap;
}

bool gw_conncap_remove(struct gw_conncap *cc, uint64_t conn)
{
	struct gw_cap_addr *rec = hmap_del64(&cc->conns, conn);
	if (!rec)
		return false;
	if (--rec->n == 0) {
		hmap_del(&cc->addrs, rec->a.b, sizeof rec->a.b);
		free(rec);
	}
	return true;
}

const struct netaddr *gw_conncap_addr(const struct gw_conncap *cc, uint64_t conn)
{
	const struct gw_cap_addr *rec = hmap_get64(&cc->conns, conn);
	return rec ? &rec->a : NULL;
}

size_t gw_conncap_count(const struct gw_conncap *cc, const struct netaddr *a)
{
	const struct gw_cap_addr *rec = hmap_get(&cc->addrs, a->b, sizeof a->b);
	return rec ? rec->n : 0;
}

size_t gw_conncap_total(const struct gw_conncap *cc)
{
	return cc->conns.count;
}
