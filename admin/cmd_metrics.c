/* cmd_metrics.c — `chatctl metrics`: GET /metrics (Prometheus text),
 * summarised one line per metric; servers without it: GET /v1/metrics
 * (the plugins' counters as JSON). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chatctl.h"
#include "prom.h"
#include "table.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A value in the metric's unit: seconds as ms/s, bytes as KiB/MiB. */
static void fmt_value(const char *name, double v, char *buf, size_t n)
{
	if (isnan(v)) {
		snprintf(buf, n, "-");
	} else if (ends_with(name, "_seconds")) {
		if (v < 0.001)
			snprintf(buf, n, "%.0fus", v * 1e6);
		else if (v < 1)
			snprintf(buf, n, "%.1fms", v * 1e3);
		else
			snprintf(buf, n, "%.2fs", v);
	} else if (ends_with(name, "_bytes") && v >= 1024) {
		snprintf(buf, n, v >= 1048576 ? "%.1fMiB" : "%.1fKiB",
			 v >= 1048576 ? v / 1048576 : v / 1024);
	} else if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, n, "%.0f", v);
	} else {
		snprintf(buf, n, "%.3g", v);
	}
}

static bool has_quantiles(const struct prom_summary *s)
{
	return strcmp(s->type, "histogram") == 0 || strcmp(s->type, "summary") == 0;
}

static void summary_table(const struct prom_summary *sm, size_t n, const char *grep)
{
	static const char *const head[] = { "METRIC", "TYPE", "SERIES", "VALUE", "AVG", "P50",
					    "P99" };
	struct table t;
	table_init(&t, 7, head);
	t.right = 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6;
	t.maxw[0] = 64;
	for (size_t i = 0; i < n; i++) {
		const struct prom_summary *s = &sm[i];
		if (grep && !strstr(s->name, grep))
			continue;
		char series[24], value[32], avg[32] = "", p50[32] = "", p99[32] = "";
		snprintf(series, sizeof series, "%zu", s->series);
		if (has_quantiles(s)) {
			fmt_value("", s->count, value, sizeof value);
			fmt_value(s->name, s->count > 0 ? s->sum / s->count : NAN, avg, sizeof avg);
			fmt_value(s->name, s->p50, p50, sizeof p50);
			fmt_value(s->name, s->p99, p99, sizeof p99);
		} else {
			fmt_value(s->name, s->value, value, sizeof value);
		}
		const char *row[7] = { s->name, s->type, series, value, avg, p50, p99 };
		table_add(&t, row);
	}
	if (t.nrows)
		table_print(&t, stdout);
	else
		printf("no metrics%s%s\n", grep ? " matching " : "", grep ? grep : "");
	table_free(&t);
}

static void samples_table(const struct prom *p, const char *grep)
{
	static const char *const head[] = { "SERIES", "VALUE" };
	struct table t;
	table_init(&t, 2, head);
	t.right = 1u << 1;
	t.maxw[0] = 120;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct prom_sample *s = &p->samples[i];
		if (grep && !strstr(s->name, grep))
			continue;
		char series[1024], value[32];
		size_t o = (size_t)snprintf(series, sizeof series, "%s", s->name);
		for (size_t l = 0; l < s->nlabels && o < sizeof series; l++)
			o += (size_t)snprintf(series + o, sizeof series - o, "%s%s=\"%s\"",
					      l ? "," : "{", s->labels[l].name, s->labels[l].value);
		if (s->nlabels && o < sizeof series)
			snprintf(series + o, sizeof series - o, "}");
		fmt_value("", s->value, value, sizeof value);
		const char *row[2] = { series, value };
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

static json_t *num(double v)
{
	return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

static int print_json(const struct prom_summary *sm, size_t n, const char *grep)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct prom_summary *s = &sm[i];
		if (grep && !strstr(s->name, grep))
			continue;
		json_t *o = json_pack("{s:s, s:s, s:I}", "name", s->name, "type", s->type,
				      "series", (json_int_t)s->series);
		if (has_quantiles(s)) {
			json_object_set_new(o, "count", num(s->count));
			json_object_set_new(o, "sum", num(s->sum));
			json_object_set_new(o, "p50", num(s->p50));
			json_object_set_new(o, "p90", num(s->p90));
			json_object_set_new(o, "p99", num(s->p99));
		} else {
			json_object_set_new(o, "value", num(s->value));
		}
		json_array_append_new(a, o);
	}
	json_t *j = json_pack("{s:s, s:o}", "source", "/metrics", "metrics", a);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc = s && printf("%s\n", s) >= 0 ? 0 : EXIT_RUNTIME;
	free(s);
	json_decref(j);
	return rc;
}

/* ---- key figures ---- */

static double total(const struct prom *p, const char *fam, bool *found)
{
	struct prom_summary s;
	bool ok = prom_summarise_family(p, fam, NULL, NULL, &s);
	if (found)
		*found = ok;
	return ok ? s.value : 0;
}

static void quantiles(const struct prom *p, const char *fam, const char *label,
		      const char *value, char *buf, size_t n)
{
	struct prom_summary s;
	if (!prom_summarise_family(p, fam, label, value, &s) || s.count <= 0) {
		snprintf(buf, n, "no observations yet");
		return;
	}
	char a[32], b[32];
	fmt_value(fam, s.p50, a, sizeof a);
	fmt_value(fam, s.p99, b, sizeof b);
	snprintf(buf, n, "p50 %s, p99 %s (%.0f observations)", a, b, s.count);
}

void metrics_rule_latency(const struct prom *p, char *buf, size_t n)
{
	quantiles(p, "chatd_pipeline_stage_seconds", "stage", "moderate", buf, n);
}

static void key_figures(const struct prom *p)
{
	char buf[256], a[32];
	bool found;
	double start = total(p, "chatd_start_time_seconds", &found);
	if (found && start > 0) {
		fmt_span((int64_t)(((double)time(NULL) - start) * 1000), a, sizeof a);
		kv_line(stdout, "uptime", a);
	}
	double conns = total(p, "chatd_connections", &found);
	if (!found)
		return;   /* not chatd's metric set: the table says it all */
	snprintf(buf, sizeof buf, "%.0f open (%.0f authenticated sessions), %.0f opened, "
		 "%.0f refused", conns, total(p, "chatd_sessions", NULL),
		 total(p, "chatd_connections_opened_total", NULL),
		 total(p, "chatd_connections_refused_total", NULL));
	kv_line(stdout, "connections", buf);
	snprintf(buf, sizeof buf, "%.0f accepted, %.0f rejected, %.0f duplicates",
		 total(p, "chatd_messages_accepted_total", NULL),
		 total(p, "chatd_messages_rejected_total", NULL),
		 total(p, "chatd_messages_duplicate_total", NULL));
	kv_line(stdout, "messages", buf);
	quantiles(p, "chatd_send_ack_seconds", NULL, NULL, buf, sizeof buf);
	kv_line(stdout, "send->ack", buf);
	quantiles(p, "chatd_pipeline_stage_seconds", "stage", "moderate", buf, sizeof buf);
	kv_line(stdout, "rules (stage)", buf);
	quantiles(p, "chatd_pipeline_stage_seconds", "stage", "persist", buf, sizeof buf);
	kv_line(stdout, "storage write", buf);
	snprintf(buf, sizeof buf, "%s, %.0f errors",
		 total(p, "chatd_storage_ready", NULL) > 0 ? "ready" : "NOT READY",
		 total(p, "chatd_storage_errors_total", NULL));
	kv_line(stdout, "storage", buf);
	snprintf(buf, sizeof buf, "%.0f deliveries; %.0f frames queued to clients now; %.0f "
		 "overflows (4409)", total(p, "chatd_fanout_deliveries_total", NULL),
		 total(p, "chatd_outbound_queue_frames", NULL),
		 total(p, "chatd_outbound_overflows_total", NULL));
	kv_line(stdout, "fan-out", buf);
	snprintf(buf, sizeof buf, "version %.0f, %.0f failures",
		 total(p, "chatd_rules_version", NULL),
		 total(p, "chatd_rule_failures_total", NULL));
	kv_line(stdout, "rules", buf);
	snprintf(buf, sizeof buf, "presence %.0f, bus %.0f, audit writes %.0f",
		 total(p, "chatd_presence_errors_total", NULL),
		 total(p, "chatd_bus_errors_total", NULL),
		 total(p, "chatd_audit_write_failures_total", NULL));
	kv_line(stdout, "errors", buf);
	printf("\n");
}

int metrics_fetch(struct ctl *ctl, struct prom *p)
{
	struct http_response raw;
	int status = 0;
	int rc = api_call_status(ctl, "GET", "/metrics", NULL, &status, &raw);
	if (rc)
		return rc;
	if (status != 200) {
		http_response_free(&raw);
		return EXIT_RUNTIME;
	}
	char err[200];
	rc = prom_parse(raw.body, raw.body_len, p, err, sizeof err) < 0 ? EXIT_RUNTIME : 0;
	http_response_free(&raw);
	return rc;
}

/* Servers without /metrics: the plugins' counters from /v1/metrics. */
static int show_v1(json_t *j, void *arg)
{
	const char *grep = arg;
	static const char *const head[] = { "COUNTER", "VALUE" };
	struct table t;
	table_init(&t, 2, head);
	t.right = 1u << 1;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(j, "metrics"), k, v) {
		if (grep && !strstr(k, grep))
			continue;
		char val[32];
		fmt_json(v, val, sizeof val);
		const char *row[2] = { k, val };
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
	return 0;
}

static int run_metrics(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	const char *grep = args_get(&a, "--grep");
	struct http_response raw;
	int status = 0;
	rc = api_call_status(ctl, "GET", "/metrics", NULL, &status, &raw);
	if (rc)
		return rc;
	if (status == 404) {
		http_response_free(&raw);
		if (args_has(&a, "--raw")) {
			fprintf(stderr, "chatctl: the server has no /metrics (Prometheus text)\n");
			return EXIT_RUNTIME;
		}
		return api_show(ctl, "GET", "/v1/metrics", NULL, show_v1, (void *)grep);
	}
	if (status < 200 || status > 299) {
		rc = api_report_error(ctl, "GET", "/metrics", status, &raw);
		http_response_free(&raw);
		return rc;
	}
	if (args_has(&a, "--raw")) {
		rc = api_print_raw(&raw);
		http_response_free(&raw);
		return rc;
	}
	struct prom p;
	char err[200];
	if (prom_parse(raw.body, raw.body_len, &p, err, sizeof err) < 0) {
		fprintf(stderr, "chatctl: /metrics is not Prometheus text: %s\n", err);
		http_response_free(&raw);
		return EXIT_RUNTIME;
	}
	http_response_free(&raw);
	struct prom_summary *sm = NULL;
	size_t n = 0;
	if (prom_summarise(&p, &sm, &n) < 0) {
		fprintf(stderr, "chatctl: out of memory\n");
		prom_free(&p);
		return EXIT_RUNTIME;
	}
	if (ctl->json)
		rc = print_json(sm, n, grep);
	else if (args_has(&a, "--all"))
		samples_table(&p, grep);
	else {
		if (!grep)
			key_figures(&p);
		summary_table(sm, n, grep);
	}
	free(sm);
	prom_free(&p);
	return rc;
}

static const struct opt metrics_opts[] = {
	{ "--all", 0, 0 },
	{ "--raw", 0, 0 },
	{ "--grep", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static const char usage_metrics[] =
	"Usage: chatctl metrics [--grep TEXT] [--all | --raw]\n"
	"\n"
	"A readable summary of the server's metrics (GET /metrics, Prometheus text):\n"
	"first the key figures (connections, messages accepted and rejected,\n"
	"send->ack latency, storage, fan-out backlog, rule failures), then one line\n"
	"per metric.  Counters and gauges show their value summed over\n"
	"all labels; histograms show how many observations (VALUE), their average,\n"
	"and the median and 99th percentile estimated from the buckets.  Times are\n"
	"in us/ms/s.  Servers without /metrics: the plugins' counters from\n"
	"GET /v1/metrics.\n"
	"\n"
	"Options:\n"
	"  --grep TEXT  only metrics whose name contains TEXT\n"
	"  --all        every series with its labels instead of the summary\n"
	"  --raw        the Prometheus text unchanged\n"
	"  --json       the summary as JSON: {\"metrics\":[{name,type,series,value |\n"
	"               count,sum,p50,p90,p99}]}\n"
	"\n"
	"Examples:\n"
	"  chatctl metrics\n"
	"  chatctl metrics --grep latency\n";

const struct cmd cmd_metrics_cmd = {
	.name = "metrics", .args = "", .summary = "a readable summary of the server's metrics",
	.usage = usage_metrics, .run = run_metrics, .opts = metrics_opts, .flags = CMD_SERVER,
};
