/* test_metrics.c — the metrics registry (core/metrics.c) and its text
 * exposition (core/metrics_text.c): families and series, counters and
 * gauges, histogram buckets, the series cap, escaping, collectors, and the
 * exact text of a small registry. */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include "metrics.h"
#include "rate_window.h"
#include "unit.h"

static char *render(struct metrics *r, struct metrics_buf *b)
{
	memset(b, 0, sizeof *b);
	CU_ASSERT_EQUAL(metrics_render(r, b), 0);
	return b->p ? b->p : "";
}

static void test_names(void)
{
	CU_ASSERT_TRUE(metrics_name_ok("chatd_x_total"));
	CU_ASSERT_TRUE(metrics_name_ok("a:b_c9"));
	CU_ASSERT_TRUE(metrics_name_ok("_x"));
	CU_ASSERT_FALSE(metrics_name_ok(""));
	CU_ASSERT_FALSE(metrics_name_ok("9x"));
	CU_ASSERT_FALSE(metrics_name_ok("a-b"));
	CU_ASSERT_FALSE(metrics_name_ok("a b"));
	CU_ASSERT_FALSE(metrics_name_ok(NULL));
	CU_ASSERT_TRUE(metrics_label_name_ok("code"));
	CU_ASSERT_FALSE(metrics_label_name_ok("a:b"));
	CU_ASSERT_FALSE(metrics_label_name_ok("le"));
	CU_ASSERT_FALSE(metrics_label_name_ok("__name"));
	char s[16];
	metrics_sanitize(s, sizeof s, "storage_sqlite.rows-x");
	CU_ASSERT_STRING_EQUAL(s, "storage_sqlite_");   /* cut to fit */
	metrics_sanitize(s, sizeof s, "a.b");
	CU_ASSERT_STRING_EQUAL(s, "a_b");
}

static void test_bad_families(void)
{
	struct metrics *r = metrics_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NULL(metrics_counter(r, "bad name", "h", NULL));
	CU_ASSERT_PTR_NULL(metrics_counter(r, "x_total", "h", "le"));
	CU_ASSERT_PTR_NULL(metrics_counter(r, "x_total", "h", "a,a"));
	CU_ASSERT_PTR_NULL(metrics_counter(r, "x_total", "h", "a,,b"));
	CU_ASSERT_PTR_NULL(metrics_counter(r, "x_total", "h", "a,b,c,d,e"));
	double unsorted[] = { 1, 0.5 }, inf[] = { 1, INFINITY }, same[] = { 1, 1 };
	CU_ASSERT_PTR_NULL(metrics_histogram(r, "h_seconds", "h", NULL, unsorted, 2));
	CU_ASSERT_PTR_NULL(metrics_histogram(r, "h_seconds", "h", NULL, inf, 2));
	CU_ASSERT_PTR_NULL(metrics_histogram(r, "h_seconds", "h", NULL, same, 2));
	CU_ASSERT_PTR_NOT_NULL(metrics_counter(r, "x_total", "h", "a,b,c,d"));
	CU_ASSERT_PTR_NULL(metrics_gauge(r, "x_total", "a second family of that name", NULL));
	struct metrics_buf b;
	char *t = render(r, &b);
	CU_ASSERT_EQUAL(strstr(t, "# TYPE x_total counter") != NULL, 1);
	CU_ASSERT_PTR_NULL(strstr(t, "gauge"));
	CU_ASSERT_PTR_NULL(strstr(t, "h_seconds"));
	metrics_buf_free(&b);
	metrics_free(r);
}

static void test_counter_gauge_text(void)
{
	struct metrics *r = metrics_new();
	struct metric_family *c = metrics_counter(r, "t_requests_total", "requests\nby \\ code",
						  "code");
	struct metric_family *g = metrics_gauge(r, "t_depth", "depth", NULL);
	struct metric *ok = metric_series1(c, "200");
	CU_ASSERT_PTR_EQUAL(metric_series1(c, "200"), ok);   /* same series */
	metric_inc(ok);
	metric_add(ok, 41);
	metric_inc(metric_series1(c, "a\"b\\c\nd"));
	struct metric *d = metric_series(g, NULL);
	metric_gauge_add(d, 5);
	metric_gauge_add(d, -7);
	CU_ASSERT_EQUAL(metric_count(ok), 42);
	CU_ASSERT_EQUAL(metric_gauge_value(d), -2);
	metric_set(d, 9);
	/* NULL series: ignored */
	metric_inc(NULL);
	metric_observe(NULL, 1);
	metric_gauge_add(NULL, 1);
	CU_ASSERT_PTR_NULL(metric_series(NULL, NULL));
	struct metrics_buf b;
	char *t = render(r, &b);
	CU_ASSERT_STRING_EQUAL(t,
		"# HELP t_requests_total requests\\nby \\\\ code\n"
		"# TYPE t_requests_total counter\n"
		"t_requests_total{code=\"200\"} 42\n"
		"t_requests_total{code=\"a\\\"b\\\\c\\nd\"} 1\n"
		"# HELP t_depth depth\n"
		"# TYPE t_depth gauge\n"
		"t_depth 9\n");
	metrics_buf_free(&b);
	metrics_free(r);
}

static void test_histogram_buckets(void)
{
	struct metrics *r = metrics_new();
	double bounds[] = { 0.1, 0.5, 1 };
	struct metric_family *f = metrics_histogram(r, "t_op_seconds", "op", "op", bounds, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	struct metric *h = metric_series1(f, "read");
	/* a value equal to a bound goes in that bucket (le = less or equal) */
	double v[] = { 0.05, 0.1, 0.3, 0.5, 0.7, 2, 100 };
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		metric_observe(h, v[i]);
	metric_observe(h, NAN);                 /* ignored */
	CU_ASSERT_EQUAL(metric_count(h), 7);
	CU_ASSERT_EQUAL(metric_bucket(h, 0), 2);
	CU_ASSERT_EQUAL(metric_bucket(h, 1), 4);
	CU_ASSERT_EQUAL(metric_bucket(h, 2), 5);
	CU_ASSERT_EQUAL(metric_bucket(h, 3), 7);
	CU_ASSERT_DOUBLE_EQUAL(metric_sum(h), 103.65, 1e-9);
	struct metrics_buf b;
	char *t = render(r, &b);
	CU_ASSERT_STRING_EQUAL(t,
		"# HELP t_op_seconds op\n"
		"# TYPE t_op_seconds histogram\n"
		"t_op_seconds_bucket{op=\"read\",le=\"0.1\"} 2\n"
		"t_op_seconds_bucket{op=\"read\",le=\"0.5\"} 4\n"
		"t_op_seconds_bucket{op=\"read\",le=\"1\"} 5\n"
		"t_op_seconds_bucket{op=\"read\",le=\"+Inf\"} 7\n"
		"t_op_seconds_sum{op=\"read\"} 103.65\n"
		"t_op_seconds_count{op=\"read\"} 7\n");
	metrics_buf_free(&b);
	/* a histogram without labels has only le */
	struct metric_family *u = metrics_histogram(r, "t_plain_seconds", "", NULL, bounds, 1);
	metric_observe(metric_series(u, NULL), 0.2);
	t = render(r, &b);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nt_plain_seconds_bucket{le=\"0.1\"} 0\n"
					 "t_plain_seconds_bucket{le=\"+Inf\"} 1\n"
					 "t_plain_seconds_sum 0.2\nt_plain_seconds_count 1\n"));
	metrics_buf_free(&b);
	metrics_free(r);
}

static void test_series_cap(void)
{
	struct metrics *r = metrics_new();
	struct metric_family *f = metrics_counter(r, "t_x_total", "x", "k,j");
	struct metric *first = NULL;
	for (int i = 0; i < METRICS_MAX_SERIES; i++) {
		char k[16];
		snprintf(k, sizeof k, "v%d", i);
		const char *vals[] = { k, "j" };
		struct metric *m = metric_series(f, vals);
		CU_ASSERT_PTR_NOT_NULL(m);
		if (!first)
			first = m;
		metric_inc(m);
	}
	const char *more[] = { "new1", "j" }, *more2[] = { "new2", "j" }, *old[] = { "v0", "j" };
	struct metric *o = metric_series(f, more);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_PTR_EQUAL(metric_series(f, more2), o);
	CU_ASSERT_PTR_EQUAL(metric_series(f, old), first);   /* existing ones still found */
	metric_inc(o);
	metric_inc(metric_series(f, more2));
	struct metrics_buf b;
	char *t = render(r, &b);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "t_x_total{k=\"other\",j=\"other\"} 2\n"));
	CU_ASSERT_PTR_NULL(strstr(t, "new1"));
	/* HELP + TYPE + the capped series + other */
	size_t lines = 0;
	for (const char *p = t; *p; p++)
		lines += *p == '\n';
	CU_ASSERT_EQUAL(lines, 2 + METRICS_MAX_SERIES + 1);
	metrics_buf_free(&b);
	metrics_free(r);
}

static void test_escape_and_utf8(void)
{
	struct metrics_buf b = { 0 };
	metrics_escape_label(&b, "caf\xc3\xa9 \"q\" \\ \n");
	CU_ASSERT_STRING_EQUAL(b.p, "caf\xc3\xa9 \\\"q\\\" \\\\ \\n");
	metrics_buf_free(&b);
	memset(&b, 0, sizeof b);
	metrics_escape_label(&b, "bad\xff\xfe!");   /* not UTF-8: high bytes replaced */
	CU_ASSERT_STRING_EQUAL(b.p, "bad?" "?!");
	metrics_buf_free(&b);
	memset(&b, 0, sizeof b);
	metrics_escape_help(&b, "a \"quoted\" \\ line\nnext");   /* quotes stay in HELP */
	CU_ASSERT_STRING_EQUAL(b.p, "a \"quoted\" \\\\ line\\nnext");
	metrics_buf_free(&b);
	memset(&b, 0, sizeof b);
	static const char *const ln[] = { "a", "b" };
	const char *lv[] = { "x", NULL };
	metrics_write_sample(&b, "n", ln, lv, 2, 0.25);
	metrics_write_sample(&b, "n", NULL, NULL, 0, NAN);
	metrics_write_sample(&b, "n", NULL, NULL, 0, -INFINITY);
	metrics_write_sample(&b, "n", NULL, NULL, 0, 1e20);
	metrics_write_sample(&b, "n", NULL, NULL, 0, -3);
	metrics_write_sample_u64(&b, "n", NULL, NULL, 0, UINT64_MAX);
	CU_ASSERT_STRING_EQUAL(b.p, "n{a=\"x\",b=\"\"} 0.25\nn NaN\nn -Inf\nn 1e+20\nn -3\n"
			       "n 18446744073709551615\n");
	metrics_buf_free(&b);
	/* long output grows the buffer */
	memset(&b, 0, sizeof b);
	char big[1000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (int i = 0; i < 20; i++)
		metrics_buf_printf(&b, "%s", big);
	CU_ASSERT_FALSE(b.failed);
	CU_ASSERT_EQUAL(b.len, 20 * 999);
	CU_ASSERT_EQUAL(strlen(b.p), 20 * 999);
	metrics_buf_free(&b);
}

static void collect_two(void *arg, struct metrics_buf *b)
{
	int *calls = arg;
	(*calls)++;
	metrics_write_header(b, "t_collected", "from a collector", METRIC_UNTYPED);
	metrics_write_sample(b, "t_collected", NULL, NULL, 0, 2);
}

static void test_collector(void)
{
	struct metrics *r = metrics_new();
	int calls = 0;
	metrics_counter(r, "t_a_total", "a", NULL);
	CU_ASSERT_EQUAL(metrics_add_collector(r, collect_two, &calls), 0);
	struct metrics_buf b;
	char *t = render(r, &b);
	CU_ASSERT_EQUAL(calls, 1);
	/* the registry's families first (a series-less family: HELP/TYPE only) */
	CU_ASSERT_STRING_EQUAL(t, "# HELP t_a_total a\n# TYPE t_a_total counter\n"
			       "# HELP t_collected from a collector\n# TYPE t_collected untyped\n"
			       "t_collected 2\n");
	metrics_buf_free(&b);
	metrics_free(r);
}

/* Updates from several threads at once are all counted (run under TSan in
 * CI: the hot path must be race-free). */
struct race {
	struct metric *c, *g, *h;
};

static void *hammer(void *arg)
{
	struct race *x = arg;
	for (int i = 0; i < 10000; i++) {
		metric_inc(x->c);
		metric_gauge_add(x->g, 1);
		metric_observe(x->h, 0.5);
	}
	return NULL;
}

static void test_threads(void)
{
	struct metrics *r = metrics_new();
	double bounds[] = { 1 };
	struct race x = {
		.c = metric_series(metrics_counter(r, "t_c_total", "", NULL), NULL),
		.g = metric_series(metrics_gauge(r, "t_g", "", NULL), NULL),
		.h = metric_series(metrics_histogram(r, "t_h", "", NULL, bounds, 1), NULL),
	};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, &x);
	struct metrics_buf b;
	for (int i = 0; i < 5; i++) {     /* scrapes while they run */
		render(r, &b);
		metrics_buf_free(&b);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(metric_count(x.c), 40000);
	CU_ASSERT_EQUAL(metric_gauge_value(x.g), 40000);
	CU_ASSERT_EQUAL(metric_count(x.h), 40000);
	CU_ASSERT_DOUBLE_EQUAL(metric_sum(x.h), 20000, 1e-6);
	metrics_free(r);
}

/* The trailing-window rate behind status' messages_per_s. */
static void test_rate_window(void)
{
	const uint64_t S = 1000000000ull, span = 60 * S, t0 = 5 * S;
	struct rate_window w;
	rate_window_init(&w, t0, 7);             /* 7 counted before: never in a rate */
	CU_ASSERT_DOUBLE_EQUAL(rate_window_per_s(&w, t0, 7, span), 0, 1e-12);
	/* A young window: everything since the start, over 60 s. */
	rate_window_sample(&w, t0 + S, 10);
	CU_ASSERT_DOUBLE_EQUAL(rate_window_per_s(&w, t0 + S + S / 2, 13, span), 6.0 / 60, 1e-12);
	/* One sample a second for 100 s, 2 sends each second. */
	uint64_t count = 10;
	for (uint64_t k = 2; k <= 100; k++) {
		count += 2;
		rate_window_sample(&w, t0 + k * S, count);
	}
	/* At t0 + 100.5 s the window starts at t0 + 40.5 s: the base is the
	 * sample of t0 + 40 s, so 60 s of sends plus the half second's 1. */
	uint64_t at40 = 10 + 2 * 39;
	CU_ASSERT_DOUBLE_EQUAL(rate_window_per_s(&w, t0 + 100 * S + S / 2, count + 1, span),
			       (double)(count + 1 - at40) / 60, 1e-12);
	/* Quiet for a while: the old sends leave the window. */
	for (uint64_t k = 101; k <= 170; k++)
		rate_window_sample(&w, t0 + k * S, count);
	CU_ASSERT_DOUBLE_EQUAL(rate_window_per_s(&w, t0 + 170 * S, count, span), 0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(rate_window_per_s(&w, t0 + 170 * S, count + 3, span), 3.0 / 60,
			       1e-12);
}

void unit_register_metrics(void)
{
	CU_pSuite s = CU_add_suite("metrics", NULL, NULL);
	CU_add_test(s, "metric and label names", test_names);
	CU_add_test(s, "bad families are refused", test_bad_families);
	CU_add_test(s, "counters and gauges as text", test_counter_gauge_text);
	CU_add_test(s, "histogram buckets", test_histogram_buckets);
	CU_add_test(s, "series cap: other", test_series_cap);
	CU_add_test(s, "escaping, UTF-8, number formats", test_escape_and_utf8);
	CU_add_test(s, "collectors", test_collector);
	CU_add_test(s, "updates from threads", test_threads);
	CU_add_test(s, "rate over a trailing window", test_rate_window);
}
