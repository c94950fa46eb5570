/* metrics.h — a small metrics registry and the Prometheus text exposition
 * format 0.0.4 writer behind GET /metrics (admin_metrics.c).
 *
 * A registry holds families (counter, gauge, histogram with fixed buckets),
 * each with 0..METRICS_MAX_LABELS label names; a family's series (one per
 * set of label values) are created on first use and live as long as the
 * registry.  Families are registered before any thread uses the registry.
 *
 * Threads: metric_series() takes the family's lock; updating a series
 * (metric_inc, metric_gauge_add, metric_observe, ...) is lock-free
 * (relaxed atomics) and may happen on any thread — the gateway thread
 * keeps pointers to series created at start-up.  Rendering takes each
 * family's lock in turn.  Values are exact; a scrape concurrent with
 * updates sees each series at some instant of its own (a histogram's
 * buckets and _count always agree: _count is their sum). */
#ifndef CHATD_METRICS_H
#define CHATD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_BUCKETS 32
#define METRICS_MAX_SERIES 256   /* per family; past it: the "other" series */
#define METRICS_NAME_MAX 128

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM, METRIC_UNTYPED };

struct metrics;
struct metric_family;
struct metric;

/* A growable text buffer; `failed` is set (and text stops growing) on
 * ENOMEM.  Zero-initialise; release with metrics_buf_free. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	bool failed;
};
void metrics_buf_free(struct metrics_buf *b);
void metrics_buf_add(struct metrics_buf *b, const char *s, size_t n);
void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct metrics *metrics_new(void);
void metrics_free(struct metrics *r);

/* Register a family.  name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be
 * unique; help is copied; labels is NULL or a comma-separated list of
 * label names ("op" or "rule,verdict"; no "le", none starting with "__").
 * Histograms: bounds are the buckets' upper bounds, strictly increasing,
 * finite, at most METRICS_MAX_BUCKETS (the +Inf bucket is implied).
 * Returns NULL on a bad argument or ENOMEM (no family is added). */
struct metric_family *metrics_counter(struct metrics *r, const char *name, const char *help,
				      const char *labels);
struct metric_family *metrics_gauge(struct metrics *r, const char *name, const char *help,
				    const char *labels);
struct metric_family *metrics_histogram(struct metrics *r, const char *name, const char *help,
					const char *labels, const double *bounds, size_t n);

/* The series of f for these label values (one per label name; NULL when f
 * has no labels; a NULL value reads as ""), created on first use.  Once f
 * has METRICS_MAX_SERIES series, new combinations share one series whose
 * every label value is "other".  NULL only when f is NULL or on ENOMEM.
 * Values are copied.  Thread-safe. */
struct metric *metric_series(struct metric_family *f, const char *const *values);
/* Shorthand for a family with exactly one label. */
struct metric *metric_series1(struct metric_family *f, const char *value);

/* Updates: lock-free, any thread; a NULL series is ignored.  Counters
 * take inc/add, gauges gauge_add/set, histograms observe (NaN ignored). */
void metric_inc(struct metric *m);
void metric_add(struct metric *m, uint64_t n);
void metric_gauge_add(struct metric *m, int64_t delta);
void metric_set(struct metric *m, int64_t v);
void metric_observe(struct metric *m, double v);

/* Reads (tests, collectors). */
uint64_t metric_count(const struct metric *m);   /* counter value; histogram count */
int64_t metric_gauge_value(const struct metric *m);
double metric_sum(const struct metric *m);       /* histogram sum */
uint64_t metric_bucket(const struct metric *m, size_t i); /* cumulative, i <= n (n: +Inf) */

/* A collector adds families computed at scrape time (plugin counters, rule
 * statistics...) through the metrics_write_* functions below.  Called by
 * metrics_render on its thread, after the registry's own families, in the
 * order added.  Returns 0 or -1 (ENOMEM). */
typedef void (*metrics_collect_fn)(void *arg, struct metrics_buf *b);
int metrics_add_collector(struct metrics *r, metrics_collect_fn fn, void *arg);

/* The whole exposition: every family with # HELP and # TYPE lines, then
 * every collector's output.  Returns 0, or -1 when b->failed. */
int metrics_render(struct metrics *r, struct metrics_buf *b);

/* ---- writers (for collectors) ---- */
/* True when name is a valid metric name (label names: also no ':'). */
bool metrics_name_ok(const char *name);
bool metrics_label_name_ok(const char *name);
/* Copy src into dst (size >= 2) as a valid metric name fragment: every
 * character outside [a-zA-Z0-9_] becomes '_'. */
void metrics_sanitize(char *dst, size_t size, const char *src);
/* "# HELP name help" (help escaped: \\ and \n) and "# TYPE name type". */
void metrics_write_header(struct metrics_buf *b, const char *name, const char *help,
			  enum metric_type type);
/* One sample line: name{l1="v1",...} value.  Label values are escaped
 * (\\, \", \n); nl may be 0.  Integers print exactly; NaN/Inf as Prometheus
 * spells them. */
void metrics_write_sample(struct metrics_buf *b, const char *name, const char *const *lnames,
			  const char *const *lvalues, size_t nl, double value);
void metrics_write_sample_u64(struct metrics_buf *b, const char *name, const char *const *lnames,
			      const char *const *lvalues, size_t nl, uint64_t value);
/* A histogram series: name_bucket{…,le=…} (cumulative), name_sum and
 * name_count, from per-bucket counts (nb bounds + the +Inf bucket). */
void metrics_write_histogram(struct metrics_buf *b, const char *name, const char *const *lnames,
			     const char *const *lvalues, size_t nl, const double *bounds,
			     size_t nb, const uint64_t *counts, double sum);
/* {l1="v1",...,le="le"} (le may be NULL; nothing at all when no label). */
void metrics_write_labels(struct metrics_buf *b, const char *const *lnames,
			  const char *const *lvalues, size_t nl, const char *le);
/* Escapers, exposed for the unit tests. */
void metrics_escape_help(struct metrics_buf *b, const char *s);
void metrics_escape_label(struct metrics_buf *b, const char *s);

/* The monotonic clock in nanoseconds (never 0: 0 means "no time"). */
uint64_t metrics_now_ns(void);

#endif
