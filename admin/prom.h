/* prom.h — reading the Prometheus text format (0.0.4) and summarising it
 * for `chatctl metrics`: one line per metric family, counters and gauges
 * summed over their labels, histograms as count, average and quantiles
 * estimated from the buckets.
 *
 * Pure functions; the parsed text is copied. */
#ifndef CHATCTL_PROM_H
#define CHATCTL_PROM_H

#include <stdbool.h>
#include <stddef.h>

#define PROM_LABELS_MAX 16

struct prom_label {
	char *name;
	char *value;                 /* unescaped */
};

struct prom_sample {
	char *name;                  /* e.g. "chatd_send_ack_seconds_bucket" */
	struct prom_label labels[PROM_LABELS_MAX];
	size_t nlabels;
	double value;
};

struct prom_family {
	char *name;
	char *type;                  /* counter, gauge, histogram, summary, untyped */
	char *help;                  /* NULL when absent */
};

struct prom {
	struct prom_sample *samples;
	size_t nsamples;
	struct prom_family *families;  /* from # TYPE / # HELP lines, in order */
	size_t nfamilies;
};

/* Parses text; returns 0, or -1 with "line N: what" in err. */
int prom_parse(const char *text, size_t len, struct prom *out, char *err, size_t errlen);
void prom_free(struct prom *p);
/* A label's value, or NULL. */
const char *prom_label(const struct prom_sample *s, const char *name);

/* One family, summarised. */
struct prom_summary {
	const char *name;            /* borrowed from the struct prom */
	const char *type;
	size_t series;               /* label sets */
	double value;                /* counter/gauge/untyped: the sum */
	double count, sum;           /* histogram/summary */
	double p50, p90, p99;        /* histogram/summary; NAN when unknown */
};

/* Summarises every family (declared by TYPE, or seen as sample names) in
 * order of appearance into *out (malloc'd array, *n entries).  Returns 0
 * or -1 (out of memory). */
int prom_summarise(const struct prom *p, struct prom_summary **out, size_t *n);

/* One family (its TYPE line, else samples of that name), only the samples
 * whose label equals value when label is not NULL.  False when it has no
 * such samples. */
bool prom_summarise_family(const struct prom *p, const char *family, const char *label,
			   const char *value, struct prom_summary *out);

/* The q-quantile (0..1) from cumulative buckets (upper bounds ascending,
 * the last +Inf) by linear interpolation inside the bucket, as Prometheus'
 * histogram_quantile does; NAN when count is 0. */
double prom_bucket_quantile(double q, const double *le, const double *cum, size_t n);

#endif
