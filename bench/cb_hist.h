/* cb_hist.h — latency histogram for chatbench.
 *
 * Log-linear buckets over nanoseconds, HdrHistogram-like: values below 256 ns
 * are exact; above, each power of two is split into 128 linear sub-buckets,
 * so any recorded value is known to within 1/128 (< 0.8 %) of itself.  Values
 * above CB_HIST_MAX_NS (60 s) are counted in the top bucket; the exact
 * minimum and maximum are kept aside.  Fixed size (about 31 KiB), no
 * allocation, not thread-safe (chatbench is single-threaded). */
#ifndef CB_HIST_H
#define CB_HIST_H

#include <stdint.h>

#define CB_HIST_MAX_NS 60000000000ULL   /* 60 s */
#define CB_HIST_SUB 128                 /* sub-buckets per power of two */
#define CB_HIST_BUCKETS (256 + 28 * CB_HIST_SUB)  /* up to 2^36 ns > 60 s */

struct cb_hist {
	uint64_t count;
	uint64_t min_ns;            /* UINT64_MAX while empty */
	uint64_t max_ns;            /* exact, not clamped */
	long double sum_ns;
	uint64_t b[CB_HIST_BUCKETS];
};

void cb_hist_init(struct cb_hist *h);
void cb_hist_record(struct cb_hist *h, uint64_t ns);
/* Add every sample of src into dst. */
void cb_hist_merge(struct cb_hist *dst, const struct cb_hist *src);
/* Value at percentile p (0 < p <= 100): the middle of the bucket holding the
 * ceil(p% * count)-th smallest sample, clamped to [min, max]; p >= 100 gives
 * the exact max.  0 when empty. */
uint64_t cb_hist_percentile(const struct cb_hist *h, double p);
double cb_hist_mean(const struct cb_hist *h);

/* Bucket index of a value, and the [lo, hi] range of values sharing it
 * (exposed for tests). */
unsigned cb_hist_index(uint64_t ns);
void cb_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi);

#endif
