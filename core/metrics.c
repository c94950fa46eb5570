/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct metric {
	struct metric *next;
	const struct metric_family *f;
	char *values[METRICS_MAX_LABELS];
	_Atomic uint64_t count;          /* counter value */
	_Atomic int64_t gauge;
	_Atomic uint64_t sum_bits;       /* histogram sum, a double's bits */
	_Atomic uint64_t buckets[];      /* histogram: nb + 1 per-bucket counts */
};

struct metric_family {
	struct metric_family *next;
	enum metric_type type;
	char name[METRICS_NAME_MAX];
	char *help;
	size_t nl;
	char lnames[METRICS_MAX_LABELS][METRICS_NAME_MAX];
	double bounds[METRICS_MAX_BUCKETS];
	size_t nb;
	pthread_mutex_t lock;            /* the series list */
	struct metric *head, *tail, *other;
	size_t nseries;
};

struct collector {
	metrics_collect_fn fn;
	void *arg;
};

struct metrics {
	pthread_mutex_t lock;            /* the family list and collectors */
	struct metric_family *head, *tail;
	struct collector *coll;
	size_t ncoll;
};

/* ---- registry ---- */

struct metrics *metrics_new(void)
{
	struct metrics *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

static void series_free(struct metric *m)
{
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		free(m->values[i]);
	free(m);
}

void metrics_free(struct metrics *r)
{
	if (!r)
		return;
	struct metric_family *f = r->head;
	while (f) {
		struct metric_family *next = f->next;
		struct metric *m = f->head;
		while (m) {
			struct metric *mn = m->next;
			series_free(m);
			m = mn;
		}
		if (f->other)
			series_free(f->other);
		pthread_mutex_destroy(&f->lock);
		free(f->help);
		free(f);
		f = next;
	}
	free(r->coll);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Split "a,b" into f->lnames; false on a bad name or too many. */
static bool parse_labels(struct metric_family *f, const char *labels)
{
	if (!labels || !*labels)
		return true;
	const char *p = labels;
	while (1) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (f->nl == METRICS_MAX_LABELS || n == 0 || n >= METRICS_NAME_MAX)
			return false;
		memcpy(f->lnames[f->nl], p, n);
		f->lnames[f->nl][n] = '\0';
		if (!metrics_label_name_ok(f->lnames[f->nl]))
			return false;
		for (size_t i = 0; i < f->nl; i++)
			if (strcmp(f->lnames[i], f->lnames[f->nl]) == 0)
				return false;
		f->nl++;
		if (!comma)
			return true;
		p = comma + 1;
	}
}

static struct metric_family *add_family(struct metrics *r, enum metric_type type,
					const char *name, const char *help, const char *labels,
					const double *bounds, size_t nb)
{
	if (!r || !metrics_name_ok(name) || nb > METRICS_MAX_BUCKETS)
		return NULL;
	for (size_t i = 0; i < nb; i++)
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			return NULL;
	struct metric_family *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->type = type;
	snprintf(f->name, sizeof f->name, "%s", name);
	f->nb = nb;
	if (nb)
		memcpy(f->bounds, bounds, nb * sizeof *bounds);
	f->help = strdup(help ? help : "");
	if (!f->help || !parse_labels(f, labels) || pthread_mutex_init(&f->lock, NULL) != 0) {
		free(f->help);
		free(f);
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	bool dup = false;
	for (struct metric_family *g = r->head; g; g = g->next)
		dup = dup || strcmp(g->name, name) == 0;
	if (!dup) {
		if (r->tail)
			r->tail->next = f;
		else
			r->head = f;
		r->tail = f;
	}
	pthread_mutex_unlock(&r->lock);
	if (dup) {
		pthread_mutex_destroy(&f->lock);
		free(f->help);
		free(f);
		return NULL;
	}
	return f;
}

struct metric_family *metrics_counter(struct metrics *r, const char *name, const char *help,
				      const char *labels)
{
	return add_family(r, METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric_family *metrics_gauge(struct metrics *r, const char *name, const char *help,
				    const char *labels)
{
	return add_family(r, METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric_family *metrics_histogram(struct metrics *r, const char *name, const char *help,
					const char *labels, const double *bounds, size_t n)
{
	if (!bounds && n)
		return NULL;
	return add_family(r, METRIC_HISTOGRAM, name, help, labels, bounds, n);
}

int metrics_add_collector(struct metrics *r, metrics_collect_fn fn, void *arg)
{
	pthread_mutex_lock(&r->lock);
	struct collector *c = realloc(r->coll, (r->ncoll + 1) * sizeof *c);
	if (c) {
		r->coll = c;
		c[r->ncoll++] = (struct collector){ fn, arg };
	}
	pthread_mutex_unlock(&r->lock);
	return c ? 0 : -1;
}

static struct metric *series_new(struct metric_family *f, const char *const *values)
{
	size_t nb = f->type == METRIC_HISTOGRAM ? f->nb + 1 : 0;
	struct metric *m = calloc(1, sizeof *m + nb * sizeof m->buckets[0]);
	if (!m)
		return NULL;
	m->f = f;
	for (size_t i = 0; i < f->nl; i++) {
		m->values[i] = strdup(values && values[i] ? values[i] : "");
		if (!m->values[i]) {
			series_free(m);
			return NULL;
		}
	}
	return m;
}

struct metric *metric_series(struct metric_family *f, const char *const *values)
{
	if (!f)
		return NULL;
	pthread_mutex_lock(&f->lock);
	struct metric *m = f->head;
	for (; m; m = m->next) {
		size_t i = 0;
		while (i < f->nl && strcmp(m->values[i], values && values[i] ? values[i] : "") == 0)
			i++;
		if (i == f->nl)
			break;
	}
	if (!m && f->nseries >= METRICS_MAX_SERIES) {
		if (!f->other) {
			const char *other[METRICS_MAX_LABELS] = { "other", "other", "other",
								   "other" };
			f->other = series_new(f, other);
		}
		m = f->other;
	} else if (!m && (m = series_new(f, values))) {
		if (f->tail)
			f->tail->next = m;
		else
			f->head = m;
		f->tail = m;
		f->nseries++;
	}
	pthread_mutex_unlock(&f->lock);
	return m;
}

struct metric *metric_series1(struct metric_family *f, const char *value)
{
	const char *v[1] = { value };
	return metric_series(f, v);
}

/* ---- updates and reads ---- */

void metric_inc(struct metric *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

void metric_add(struct metric *m, uint64_t n)
{
	if (m)
		atomic_fetch_add_explicit(&m->count, n, memory_order_relaxed);
}

void metric_gauge_add(struct metric *m, int64_t delta)
{
	if (m)
		atomic_fetch_add_explicit(&m->gauge, delta, memory_order_relaxed);
}

void metric_set(struct metric *m, int64_t v)
{
	if (m)
		atomic_store_explicit(&m->gauge, v, memory_order_relaxed);
}

static double bits_to_double(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

static uint64_t double_to_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

void metric_observe(struct metric *m, double v)
{
	if (!m || isnan(v) || m->f->type != METRIC_HISTOGRAM)
		return;
	const struct metric_family *f = m->f;
	size_t i = 0;
	while (i < f->nb && v > f->bounds[i])
		i++;
	atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
	uint64_t old = atomic_load_explicit(&m->sum_bits, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&m->sum_bits, &old,
						      double_to_bits(bits_to_double(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

static uint64_t hist_count(const struct metric *m, size_t upto)
{
	uint64_t n = 0;
	for (size_t i = 0; i <= upto && i <= m->f->nb; i++)
		n += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
	return n;
}

uint64_t metric_count(const struct metric *m)
{
	if (!m)
		return 0;
	if (m->f->type == METRIC_HISTOGRAM)
		return hist_count(m, m->f->nb);
	return atomic_load_explicit(&m->count, memory_order_relaxed);
}

uint64_t metric_bucket(const struct metric *m, size_t i)
{
	return m && m->f->type == METRIC_HISTOGRAM ? hist_count(m, i) : 0;
}

int64_t metric_gauge_value(const struct metric *m)
{
	return m ? atomic_load_explicit(&m->gauge, memory_order_relaxed) : 0;
}

double metric_sum(const struct metric *m)
{
	return m ? bits_to_double(atomic_load_explicit(&m->sum_bits, memory_order_relaxed)) : 0;
}

/* ---- exposition ---- */

static void render_series(struct metrics_buf *b, const struct metric_family *f,
			  const struct metric *m)
{
	const char *lnames[METRICS_MAX_LABELS];
	const char *lvalues[METRICS_MAX_LABELS];
	for (size_t i = 0; i < f->nl; i++) {
		lnames[i] = f->lnames[i];
		lvalues[i] = m->values[i];
	}
	switch (f->type) {
	case METRIC_COUNTER:
	case METRIC_UNTYPED:
		metrics_write_sample_u64(b, f->name, lnames, lvalues, f->nl, metric_count(m));
		return;
	case METRIC_GAUGE:
		metrics_write_sample(b, f->name, lnames, lvalues, f->nl,
				     (double)metric_gauge_value(m));
		return;
	case METRIC_HISTOGRAM:
		break;
	}
	/* Per-bucket counts are read once; the cumulative buckets, +Inf and
	 * _count all come from that one reading, so they always agree. */
	uint64_t counts[METRICS_MAX_BUCKETS + 1];
	for (size_t i = 0; i <= f->nb; i++)
		counts[i] = atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
	metrics_write_histogram(b, f->name, lnames, lvalues, f->nl, f->bounds, f->nb, counts,
				metric_sum(m));
}

void metrics_write_histogram(struct metrics_buf *b, const char *name, const char *const *lnames,
			     const char *const *lvalues, size_t nl, const double *bounds,
			     size_t nb, const uint64_t *counts, double sum)
{
	uint64_t cum = 0;
	for (size_t i = 0; i <= nb; i++) {
		cum += counts[i];
		char le[64];
		if (i == nb)
			snprintf(le, sizeof le, "+Inf");
		else
			snprintf(le, sizeof le, "%.15g", bounds[i]);
		metrics_buf_printf(b, "%s_bucket", name);
		metrics_write_labels(b, lnames, lvalues, nl, le);
		metrics_buf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	char n2[METRICS_NAME_MAX + 8];
	snprintf(n2, sizeof n2, "%s_sum", name);
	metrics_write_sample(b, n2, lnames, lvalues, nl, sum);
	snprintf(n2, sizeof n2, "%s_count", name);
	metrics_write_sample_u64(b, n2, lnames, lvalues, nl, cum);
}

int metrics_render(struct metrics *r, struct metrics_buf *b)
{
	pthread_mutex_lock(&r->lock);
	for (struct metric_family *f = r->head; f; f = f->next) {
		metrics_write_header(b, f->name, f->help, f->type);
		pthread_mutex_lock(&f->lock);
		for (const struct metric *m = f->head; m; m = m->next)
			render_series(b, f, m);
		if (f->other)
			render_series(b, f, f->other);
		pthread_mutex_unlock(&f->lock);
	}
	size_t n = r->ncoll;
	struct collector *coll = r->coll;
	pthread_mutex_unlock(&r->lock);
	/* Collectors are only added at set-up, before any scrape. */
	for (size_t i = 0; i < n; i++)
		coll[i].fn(coll[i].arg, b);
	return b->failed ? -1 : 0;
}

uint64_t metrics_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return ns ? ns : 1;
}
