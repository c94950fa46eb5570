/* cb_hist.c — log-linear latency histogram (see cb_hist.h). */
#include "cb_hist.h"

#include <string.h>

void cb_hist_init(struct cb_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min_ns = UINT64_MAX;
}

unsigned cb_hist_index(uint64_t ns)
{
	if (ns > CB_HIST_MAX_NS)
		ns = CB_HIST_MAX_NS;
	if (ns < 256)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);   /* >= 8 */
	unsigned shift = e - 7;                              /* keep 8 bits */
	unsigned sub = (unsigned)(ns >> shift);              /* 128..255 */
	return 256u + (e - 8) * CB_HIST_SUB + (sub - 128u);
}

void cb_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
	if (idx < 256) {
		*lo = *hi = idx;
		return;
	}
	unsigned e = (idx - 256) / CB_HIST_SUB + 8;
	unsigned sub = (idx - 256) % CB_HIST_SUB + 128;
	unsigned shift = e - 7;
	*lo = (uint64_t)sub << shift;
	*hi = *lo + (1ULL << shift) - 1;
}

void cb_hist_record(struct cb_hist *h, uint64_t ns)
{
	h->b[cb_hist_index(ns)]++;
	h->count++;
	h->sum_ns += (long double)ns;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void cb_hist_merge(struct cb_hist *dst, const struct cb_hist *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < CB_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t cb_hist_percentile(const struct cb_hist *h, double p)
{
	if (!h->count)
		return 0;
	if (p >= 100.0)
		return h->max_ns;
	if (p <= 0.0)
		return h->min_ns;
	/* rank = ceil(p/100 * count), computed so that 50 % of 10 is 5, not 6 */
	long double want = (long double)p / 100.0L * (long double)h->count;
	uint64_t rank = (uint64_t)want;
	if ((long double)rank < want - 1e-9L)
		rank++;
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < CB_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t lo, hi;
			cb_hist_bucket_range(i, &lo, &hi);
			uint64_t v = lo + (hi - lo) / 2;
			if (v < h->min_ns)
				v = h->min_ns;
			if (v > h->max_ns)
				v = h->max_ns;
			return v;
		}
	}
	return h->max_ns;
}

double cb_hist_mean(const struct cb_hist *h)
{
	return h->count ? (double)(h->sum_ns / (long double)h->count) : 0.0;
}
