/* test_chatctl.c — chatctl's pure pieces: option parsing and durations,
 * URLs, the HTTP response parser, the settings file, cleaned text and
 * tables, and the Prometheus text reader. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../admin/args.h"
#include "../../admin/ctlconf.h"
#include "../../admin/http.h"
#include "../../admin/prom.h"
#include "../../admin/table.h"
#include "unit.h"

/* ---- args ---- */

static const struct opt t_global[] = {
	{ "--url", 0, OPT_VALUE },
	{ "--json", 0, 0 },
	{ "--config", 'c', OPT_VALUE },
	{ NULL, 0, 0 },
};
static const struct opt t_cmd[] = {
	{ "--role", 0, OPT_VALUE | OPT_REPEAT },
	{ "--lines", 'n', OPT_VALUE },
	{ "--follow", 'f', 0 },
	{ NULL, 0, 0 },
};

static int parse(struct args *a, char *err, int argc, ...)
{
	char *argv[32];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	const struct opt *lists[2] = { t_global, t_cmd };
	return args_parse(lists, 2, argc, argv, a, err, 200);
}

static void test_args_mixed(void)
{
	struct args a;
	char err[200];
	CU_ASSERT_EQUAL(parse(&a, err, 9, "alice", "--json", "--role", "admin", "--role=moderator",
			      "-n20", "-c", "x.conf", "bob"), 0);
	CU_ASSERT_EQUAL(a.npos, 2);
	CU_ASSERT_STRING_EQUAL(a.pos[0], "alice");
	CU_ASSERT_STRING_EQUAL(a.pos[1], "bob");
	CU_ASSERT_TRUE(args_has(&a, "--json"));
	CU_ASSERT_STRING_EQUAL(args_get(&a, "--lines"), "20");
	CU_ASSERT_STRING_EQUAL(args_get(&a, "--config"), "x.conf");
	int n = 0;
	const char *const *roles = args_all(&a, "--role", &n);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_STRING_EQUAL(roles[0], "admin");
	CU_ASSERT_STRING_EQUAL(roles[1], "moderator");
	CU_ASSERT_PTR_NULL(args_get(&a, "--url"));
	CU_ASSERT_FALSE(args_has(&a, "--follow"));
}

static void test_args_errors(void)
{
	struct args a;
	char err[200];
	CU_ASSERT_EQUAL(parse(&a, err, 1, "--nope"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown option '--nope'"));
	CU_ASSERT_EQUAL(parse(&a, err, 1, "--url"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs a value"));
	CU_ASSERT_EQUAL(parse(&a, err, 1, "--json=1"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "takes no value"));
	CU_ASSERT_EQUAL(parse(&a, err, 4, "--url", "a", "--url", "b"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "given twice"));
	CU_ASSERT_EQUAL(parse(&a, err, 1, "-fx"), -1);
	/* "--" ends options; "-" alone is an argument. */
	CU_ASSERT_EQUAL(parse(&a, err, 3, "--", "--json", "-"), 0);
	CU_ASSERT_EQUAL(a.npos, 2);
	CU_ASSERT_FALSE(args_has(&a, "--json"));
	CU_ASSERT_STRING_EQUAL(a.pos[1], "-");
	/* A flag twice is harmless. */
	CU_ASSERT_EQUAL(parse(&a, err, 2, "-f", "--follow"), 0);
}

static void test_args_numbers(void)
{
	long long v;
	CU_ASSERT_TRUE(args_int("42", 1, 100, &v) && v == 42);
	CU_ASSERT_FALSE(args_int("0", 1, 100, &v));
	CU_ASSERT_FALSE(args_int("101", 1, 100, &v));
	CU_ASSERT_FALSE(args_int("4x", 1, 100, &v));
	CU_ASSERT_FALSE(args_int("", 1, 100, &v));
	CU_ASSERT_FALSE(args_int(" 4", 1, 100, &v));
	CU_ASSERT_FALSE(args_int("99999999999999999999", 1, INT64_MAX, &v));
	int64_t ms;
	CU_ASSERT_TRUE(args_duration_ms("90", &ms) && ms == 90000);
	CU_ASSERT_TRUE(args_duration_ms("90s", &ms) && ms == 90000);
	CU_ASSERT_TRUE(args_duration_ms("15m", &ms) && ms == 900000);
	CU_ASSERT_TRUE(args_duration_ms("2h30m", &ms) && ms == 9000000);
	CU_ASSERT_TRUE(args_duration_ms("7d", &ms) && ms == 604800000LL);
	CU_ASSERT_TRUE(args_duration_ms("2w", &ms) && ms == 1209600000LL);
	CU_ASSERT_TRUE(args_duration_ms("1500ms", &ms) && ms == 1500);
	CU_ASSERT_FALSE(args_duration_ms("0", &ms));
	CU_ASSERT_FALSE(args_duration_ms("-5m", &ms));
	CU_ASSERT_FALSE(args_duration_ms("5x", &ms));
	CU_ASSERT_FALSE(args_duration_ms("m", &ms));
	CU_ASSERT_FALSE(args_duration_ms("1h30", &ms));    /* a bare number only alone */
	CU_ASSERT_FALSE(args_duration_ms("100000000d", &ms));
	CU_ASSERT_FALSE(args_duration_ms("", &ms));
}

/* ---- URLs ---- */

static void test_url_parse(void)
{
	struct http_url u;
	char err[200];
	CU_ASSERT_EQUAL(http_url_parse("http://127.0.0.1:8081", &u, err, sizeof err), 0);
	CU_ASSERT_EQUAL(u.kind, HTTP_URL_TCP);
	CU_ASSERT_STRING_EQUAL(u.host, "127.0.0.1");
	CU_ASSERT_STRING_EQUAL(u.port, "8081");
	CU_ASSERT_STRING_EQUAL(u.prefix, "");
	CU_ASSERT_FALSE(u.tls);
	CU_ASSERT_EQUAL(http_url_parse("https://admin.local", &u, err, sizeof err), 0);
	CU_ASSERT_TRUE(u.tls);
	CU_ASSERT_STRING_EQUAL(u.host, "admin.local");
	CU_ASSERT_STRING_EQUAL(u.port, "443");
	CU_ASSERT_EQUAL(http_url_parse("HTTPS://[::1]:8443/x", &u, err, sizeof err), 0);
	CU_ASSERT_TRUE(u.tls);
	CU_ASSERT_STRING_EQUAL(u.host, "::1");
	CU_ASSERT_STRING_EQUAL(u.port, "8443");
	CU_ASSERT_STRING_EQUAL(u.prefix, "/x");
	CU_ASSERT_EQUAL(http_url_parse("HTTP://admin.local/chat/", &u, err, sizeof err), 0);
	CU_ASSERT_FALSE(u.tls);
	CU_ASSERT_STRING_EQUAL(u.host, "admin.local");
	CU_ASSERT_STRING_EQUAL(u.port, "80");
	CU_ASSERT_STRING_EQUAL(u.prefix, "/chat");
	CU_ASSERT_EQUAL(http_url_parse("http://[::1]:9/", &u, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(u.host, "::1");
	CU_ASSERT_STRING_EQUAL(u.port, "9");
	CU_ASSERT_EQUAL(http_url_parse("unix:/run/chatd/admin.sock", &u, err, sizeof err), 0);
	CU_ASSERT_EQUAL(u.kind, HTTP_URL_UNIX);
	CU_ASSERT_STRING_EQUAL(u.sock, "/run/chatd/admin.sock");
	CU_ASSERT_EQUAL(http_url_parse("unix:///tmp/a.sock", &u, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(u.sock, "/tmp/a.sock");

	static const char *const bad[] = {
		"", "https://", "https://x:0", "ftp://x", "127.0.0.1:8081", "http://", "http://:80",
		"http://h:0", "http://h:65536", "http://h:80x", "http://h:", "http://u@h:1",
		"http://h:1/p?q=1", "http://[::1", "unix:", "http://h:1#f",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(http_url_parse(bad[i], &u, err, sizeof err), -1);
		CU_ASSERT_NOT_EQUAL(err[0], '\0');
	}
	char longsock[200];
	memset(longsock, 'a', sizeof longsock - 1);
	longsock[sizeof longsock - 1] = '\0';
	memcpy(longsock, "unix:/", 6);
	CU_ASSERT_EQUAL(http_url_parse(longsock, &u, err, sizeof err), -1);
	CU_ASSERT_EQUAL(http_url_parse("ftp://x", &u, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "https://HOST:PORT"));
}

/* ---- HTTP responses ---- */

static int parse_resp(const char *text, bool eof, size_t max, struct http_response *r)
{
	char err[200];
	memset(r, 0, sizeof *r);
	return http_parse_response(text, strlen(text), eof, max, r, err, sizeof err);
}

static void test_http_content_length(void)
{
	struct http_response r;
	const char *full = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			   "Content-Length: 11\r\n\r\n{\"a\":true}\n";
	/* Every prefix is incomplete, the whole is complete. */
	for (size_t n = 0; n < strlen(full); n++) {
		char buf[256];
		memcpy(buf, full, n);
		buf[n] = '\0';
		char err[200];
		CU_ASSERT_EQUAL(http_parse_response(buf, n, false, 1000, &r, err, sizeof err), 0);
	}
	CU_ASSERT_EQUAL(parse_resp(full, false, 1000, &r), 1);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(r.body_len, 11);
	CU_ASSERT_STRING_EQUAL(r.body, "{\"a\":true}\n");
	char v[64];
	CU_ASSERT_TRUE(http_header(r.head, "content-type", v, sizeof v));
	CU_ASSERT_STRING_EQUAL(v, "application/json");
	CU_ASSERT_FALSE(http_header(r.head, "X-None", v, sizeof v));
	http_response_free(&r);
	/* Cut short by the server, or over the cap. */
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nabc", true, 1000,
				   &r), HTTP_E_PROTOCOL);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", false, 1000,
				   &r), HTTP_E_TOO_LARGE);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 1000,
				   &r), HTTP_E_PROTOCOL);
}

static void test_http_chunked_and_eof(void)
{
	struct http_response r;
	const char *ch = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "4\r\nWiki\r\n6;x=y\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n";
	CU_ASSERT_EQUAL(parse_resp(ch, false, 1000, &r), 1);
	CU_ASSERT_EQUAL(r.status, 404);
	CU_ASSERT_STRING_EQUAL(r.body, "Wikipedia in \r\n\r\nchunks.");
	http_response_free(&r);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi",
				   true, 1000, &r), HTTP_E_PROTOCOL);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "zz\r\nab\r\n0\r\n\r\n", false, 1000, &r), HTTP_E_PROTOCOL);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "FFFF\r\n", true, 100, &r), HTTP_E_TOO_LARGE);
	/* No length: the body runs to EOF. */
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.0 200 OK\r\n\r\nhello", false, 1000, &r), 0);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.0 200 OK\r\n\r\nhello", true, 1000, &r), 1);
	CU_ASSERT_STRING_EQUAL(r.body, "hello");
	http_response_free(&r);
	CU_ASSERT_EQUAL(parse_resp("HTTP/1.0 200 OK\r\n\r\nhello", true, 3, &r), HTTP_E_TOO_LARGE);
	/* Not HTTP at all, or nothing. */
	CU_ASSERT_EQUAL(parse_resp("SSH-2.0-OpenSSH_9.2\r\n\r\n", false, 1000, &r),
			HTTP_E_PROTOCOL);
	CU_ASSERT_EQUAL(parse_resp("", true, 1000, &r), HTTP_E_PROTOCOL);
	CU_ASSERT_EQUAL(parse_resp("HTTP/2 200\r\n\r\n", false, 1000, &r), HTTP_E_PROTOCOL);
	/* Headers that never end are capped. */
	size_t big = HTTP_HEAD_MAX + 10;
	char *h = malloc(big + 1);
	memset(h, 'x', big);
	memcpy(h, "HTTP/1.1 200 OK\r\n", 17);
	h[big] = '\0';
	CU_ASSERT_EQUAL(parse_resp(h, false, 1000, &r), HTTP_E_TOO_LARGE);
	free(h);
}

/* ---- settings file ---- */

static void test_ctlconf(void)
{
	struct ctlconf c;
	char err[200];
	const char *ok = "# chatctl\n\n  url = http://127.0.0.1:9000  \ntoken=\"abc.def.ghi\"\r\n"
			 "timeout = 12\ncacert = /etc/chatd/ca.pem\n";
	CU_ASSERT_EQUAL(ctlconf_parse(ok, strlen(ok), &c, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c.url, "http://127.0.0.1:9000");
	CU_ASSERT_STRING_EQUAL(c.cacert, "/etc/chatd/ca.pem");
	CU_ASSERT_STRING_EQUAL(c.token, "abc.def.ghi");
	CU_ASSERT_EQUAL(c.timeout_s, 12);
	ctlconf_free(&c);
	CU_ASSERT_EQUAL(ctlconf_parse("", 0, &c, err, sizeof err), 0);
	CU_ASSERT_PTR_NULL(c.url);
	ctlconf_free(&c);

	static const struct { const char *text, *msg; } bad[] = {
		{ "url = a\nurl = b\n", "line 2: given twice: url" },
		{ "# x\ncolour = red\n", "line 2: unknown key" },
		{ "token\n", "line 1: expected 'key = value'" },
		{ "token =\n", "line 1: empty value: token" },
		{ "timeout = 0\n", "line 1: timeout" },
		{ "timeout = 99999\n", "line 1: timeout" },
		{ "timeout = 5s\n", "line 1: timeout" },
		{ "= x\n", "line 1: expected" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(ctlconf_parse(bad[i].text, strlen(bad[i].text), &c, err, sizeof err),
				-1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].msg));
		CU_ASSERT_PTR_NULL(c.url);
		CU_ASSERT_PTR_NULL(c.token);
	}
}

/* ---- cleaned text and tables ---- */

static void test_fmt_clean(void)
{
	char out[64];
	/* Escapes and control bytes cannot reach the terminal. */
	CU_ASSERT_EQUAL(fmt_clean("a\x1b[31mred\x07\nb\tc", 0, out, sizeof out), 14);
	CU_ASSERT_STRING_EQUAL(out, "a?[31mred? b c");
	/* C1 controls and invalid UTF-8 become '?'; valid UTF-8 passes. */
	fmt_clean("\xc2\x9b" "x\xff\xe2\x82" "y\xc3\xa9", 0, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "?x???y\xc3\xa9");
	struct prom none;
	char perr[100];
	CU_ASSERT_EQUAL(prom_parse("x +Inf\n", 7, &none, perr, sizeof perr), 0);
	CU_ASSERT_TRUE(isinf(none.samples[0].value));
	prom_free(&none);
	/* Cut to a width with an ellipsis, counting code points. */
	CU_ASSERT_EQUAL(fmt_clean("h\xc3\xa9llo world", 5, out, sizeof out), 5);
	CU_ASSERT_STRING_EQUAL(out, "h\xc3\xa9ll\xe2\x80\xa6");
	CU_ASSERT_EQUAL(fmt_clean("hello", 5, out, sizeof out), 5);
	CU_ASSERT_STRING_EQUAL(out, "hello");
	CU_ASSERT_EQUAL(fmt_width("h\xc3\xa9\xe2\x80\xa6"), 3);
	/* A small buffer is never overrun. */
	char tiny[4];
	fmt_clean("abcdef", 0, tiny, sizeof tiny);
	CU_ASSERT_STRING_EQUAL(tiny, "abc");
	fmt_clean(NULL, 0, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_table(void)
{
	static const char *const head[] = { "ID", "NAME", "NOTE" };
	struct table t;
	table_init(&t, 3, head);
	t.right = 1u;
	t.maxw[2] = 6;
	const char *r1[3] = { "7", "alice", "fine" };
	const char *r2[3] = { "1234", NULL, "a long\nnote" };
	CU_ASSERT_EQUAL(table_add(&t, r1), 0);
	CU_ASSERT_EQUAL(table_add(&t, r2), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	table_print(&t, f);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "  ID  NAME   NOTE\n"
				    "   7  alice  fine\n"
				    "1234  -      a lon\xe2\x80\xa6\n");
	free(buf);
	table_free(&t);
	char tb[40];
	fmt_time(1764270000000LL, tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "2025-11-27 19:00:00Z");
	fmt_time(0, tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "-");
	fmt_span(45000, tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "45s");
	fmt_span(3 * 3600000LL + 2 * 60000, tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "3h 02m");
	fmt_span(4 * 86400000LL + 3 * 3600000LL, tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "4d 03h");
	json_t *j = json_pack("{s:i, s:f, s:b, s:n}", "i", 3, "r", 0.25, "b", 1, "n");
	fmt_json(json_object_get(j, "i"), tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "3");
	fmt_json(json_object_get(j, "r"), tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "0.25");
	fmt_json(json_object_get(j, "b"), tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "true");
	fmt_json(json_object_get(j, "n"), tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "-");
	fmt_json(json_object_get(j, "missing"), tb, sizeof tb);
	CU_ASSERT_STRING_EQUAL(tb, "-");
	json_decref(j);
}

/* ---- Prometheus text ---- */

static const char prom_text[] =
	"# HELP chatd_connections open now\n"
	"# TYPE chatd_connections gauge\n"
	"chatd_connections 3\n"
	"# TYPE chatd_messages_rejected_total counter\n"
	"chatd_messages_rejected_total{reason=\"rate_limited\"} 4\n"
	"chatd_messages_rejected_total{reason=\"say \\\"hi\\\"\\n\"} 1 1764270000000\n"
	"# TYPE chatd_send_ack_seconds histogram\n"
	"chatd_send_ack_seconds_bucket{le=\"0.001\"} 50\n"
	"chatd_send_ack_seconds_bucket{le=\"0.01\"} 90\n"
	"chatd_send_ack_seconds_bucket{le=\"0.1\"} 100\n"
	"chatd_send_ack_seconds_bucket{le=\"+Inf\"} 100\n"
	"chatd_send_ack_seconds_sum 0.5\n"
	"chatd_send_ack_seconds_count 100\n"
	"# TYPE chatd_stage_seconds histogram\n"
	"chatd_stage_seconds_bucket{stage=\"a\",le=\"1\"} 1\n"
	"chatd_stage_seconds_bucket{stage=\"a\",le=\"+Inf\"} 1\n"
	"chatd_stage_seconds_bucket{stage=\"b\",le=\"1\"} 0\n"
	"chatd_stage_seconds_bucket{stage=\"b\",le=\"+Inf\"} 3\n"
	"chatd_stage_seconds_sum{stage=\"a\"} 0.5\n"
	"chatd_stage_seconds_count{stage=\"a\"} 1\n"
	"chatd_stage_seconds_sum{stage=\"b\"} 9\n"
	"chatd_stage_seconds_count{stage=\"b\"} 3\n"
	"plugin_untyped_thing 7\n";

static void test_prom_parse(void)
{
	struct prom p;
	char err[200];
	CU_ASSERT_EQUAL_FATAL(prom_parse(prom_text, strlen(prom_text), &p, err, sizeof err), 0);
	CU_ASSERT_EQUAL(p.nfamilies, 4);
	CU_ASSERT_STRING_EQUAL(p.families[0].help, "open now");
	CU_ASSERT_EQUAL(p.nsamples, 18);
	CU_ASSERT_STRING_EQUAL(prom_label(&p.samples[2], "reason"), "say \"hi\"\n");
	CU_ASSERT_DOUBLE_EQUAL(p.samples[2].value, 1, 1e-9);
	CU_ASSERT_STRING_EQUAL(prom_label(&p.samples[6], "le"), "+Inf");
	CU_ASSERT_DOUBLE_EQUAL(p.samples[6].value, 100, 1e-9);

	struct prom_summary *sm = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL_FATAL(prom_summarise(&p, &sm, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	CU_ASSERT_STRING_EQUAL(sm[0].name, "chatd_connections");
	CU_ASSERT_DOUBLE_EQUAL(sm[0].value, 3, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(sm[1].value, 5, 1e-9);
	CU_ASSERT_EQUAL(sm[1].series, 2);
	CU_ASSERT_STRING_EQUAL(sm[2].type, "histogram");
	CU_ASSERT_DOUBLE_EQUAL(sm[2].count, 100, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(sm[2].sum, 0.5, 1e-9);
	/* p50: rank 50 at the top of the first bucket; p99: inside (0.01, 0.1]. */
	CU_ASSERT_DOUBLE_EQUAL(sm[2].p50, 0.001, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(sm[2].p99, 0.01 + 0.09 * 9 / 10, 1e-9);
	/* Buckets of both stages added up. */
	CU_ASSERT_EQUAL(sm[3].series, 2);
	CU_ASSERT_DOUBLE_EQUAL(sm[3].count, 4, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(sm[3].p99, 1, 1e-9);   /* above the last bound: that bound */
	CU_ASSERT_STRING_EQUAL(sm[4].name, "plugin_untyped_thing");
	CU_ASSERT_STRING_EQUAL(sm[4].type, "untyped");
	free(sm);

	struct prom_summary one;
	CU_ASSERT_TRUE(prom_summarise_family(&p, "chatd_stage_seconds", "stage", "a", &one));
	CU_ASSERT_DOUBLE_EQUAL(one.count, 1, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(one.p50, 0.5, 1e-9);
	CU_ASSERT_FALSE(prom_summarise_family(&p, "chatd_stage_seconds", "stage", "zz", &one));
	CU_ASSERT_FALSE(prom_summarise_family(&p, "nothing", NULL, NULL, &one));
	prom_free(&p);

	static const char *const bad[] = { "x{a=\"1\" 2\n", "x{a=1} 2\n", "x abc\n", "9x 1\n",
					   "x{a=\"1} 2\n", "x\n" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(prom_parse(bad[i], strlen(bad[i]), &p, err, sizeof err), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1"));
	}
	double le[] = { 1, 2, INFINITY }, zero[] = { 0, 0, 0 };
	CU_ASSERT_TRUE(isnan(prom_bucket_quantile(0.5, le, zero, 3)));
}

void unit_register_chatctl(void)
{
	CU_pSuite s = CU_add_suite("chatctl", NULL, NULL);
	CU_add_test(s, "args: options and arguments in any order", test_args_mixed);
	CU_add_test(s, "args: errors", test_args_errors);
	CU_add_test(s, "args: counts and durations", test_args_numbers);
	CU_add_test(s, "URLs", test_url_parse);
	CU_add_test(s, "HTTP: Content-Length", test_http_content_length);
	CU_add_test(s, "HTTP: chunked, EOF, caps", test_http_chunked_and_eof);
	CU_add_test(s, "settings file", test_ctlconf);
	CU_add_test(s, "cleaned text", test_fmt_clean);
	CU_add_test(s, "tables and values", test_table);
	CU_add_test(s, "Prometheus text", test_prom_parse);
}
