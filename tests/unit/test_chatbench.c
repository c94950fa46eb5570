/* test_chatbench.c — chatbench's pure pieces: the latency histogram, the
 * open-loop rate control, the WebSocket client framing/parsing, the /proc
 * parsers, and the node URLs and placement.  No network. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../bench/cb_hist.h"
#include "../../bench/cb_nodes.h"
#include "../../bench/cb_proc.h"
#include "../../bench/cb_rate.h"
#include "../../bench/cb_ws.h"
#include "unit.h"

void unit_register_chatbench(void);

#define MS 1000000ULL
#define SEC 1000000000ULL

static int within(uint64_t got, uint64_t want, double rel)
{
	double d = (double)got - (double)want;
	if (d < 0)
		d = -d;
	return d <= rel * (double)want;
}

/* ---- histogram ------------------------------------------------------------- */

static struct cb_hist h1, h2, h3;

static void test_hist_empty(void)
{
	cb_hist_init(&h1);
	CU_ASSERT_EQUAL(h1.count, 0);
	CU_ASSERT_EQUAL(cb_hist_percentile(&h1, 50), 0);
	CU_ASSERT_EQUAL(cb_hist_percentile(&h1, 100), 0);
	CU_ASSERT_EQUAL(cb_hist_mean(&h1), 0.0);
}

static void test_hist_constant(void)
{
	cb_hist_init(&h1);
	for (int i = 0; i < 10000; i++)
		cb_hist_record(&h1, 5 * MS);
	CU_ASSERT_EQUAL(h1.count, 10000);
	CU_ASSERT(within(cb_hist_percentile(&h1, 50), 5 * MS, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 99), 5 * MS, 0.01));
	CU_ASSERT_EQUAL(cb_hist_percentile(&h1, 100), 5 * MS);
	CU_ASSERT_EQUAL(h1.min_ns, 5 * MS);
}

static void test_hist_uniform(void)
{
	cb_hist_init(&h1);
	/* 1 us .. 100 ms in 100000 equal steps */
	for (uint64_t i = 1; i <= 100000; i++)
		cb_hist_record(&h1, i * 1000);
	CU_ASSERT(within(cb_hist_percentile(&h1, 50), 50 * MS, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 95), 95 * MS, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 99), 99 * MS, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 1), 1 * MS, 0.01));
	CU_ASSERT_EQUAL(cb_hist_percentile(&h1, 100), 100 * MS);
	CU_ASSERT(within((uint64_t)cb_hist_mean(&h1), 50000500, 0.0001));
}

static void test_hist_two_point(void)
{
	cb_hist_init(&h1);
	for (int i = 0; i < 900; i++)
		cb_hist_record(&h1, 1 * MS);
	for (int i = 0; i < 100; i++)
		cb_hist_record(&h1, 100 * MS);
	CU_ASSERT(within(cb_hist_percentile(&h1, 50), 1 * MS, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 90), 1 * MS, 0.01));   /* rank 900 */
	CU_ASSERT(within(cb_hist_percentile(&h1, 90.1), 100 * MS, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 95), 100 * MS, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 99), 100 * MS, 0.01));
	CU_ASSERT_EQUAL(cb_hist_percentile(&h1, 100), 100 * MS);
}

static void test_hist_precision(void)
{
	/* every value from 1 us to 60 s (geometric steps of 0.3 %) lands in a
	 * bucket that contains it and is at most 1/128 of it wide */
	for (double v = 1000; v <= 60e9; v *= 1.003) {
		uint64_t x = (uint64_t)v;
		unsigned i = cb_hist_index(x);
		uint64_t lo, hi;
		cb_hist_bucket_range(i, &lo, &hi);
		CU_ASSERT_FATAL(i < CB_HIST_BUCKETS);
		CU_ASSERT(lo <= x && x <= hi);
		CU_ASSERT((double)(hi - lo) <= (double)x / 128.0);
		/* a second value in the bucket is reported within 1 % */
		cb_hist_init(&h1);
		cb_hist_record(&h1, lo);
		cb_hist_record(&h1, x);
		CU_ASSERT(within(cb_hist_percentile(&h1, 50), x, 0.01));
	}
	/* buckets are contiguous and ordered */
	for (unsigned i = 1; i < CB_HIST_BUCKETS; i++) {
		uint64_t lo, hi, plo, phi;
		cb_hist_bucket_range(i, &lo, &hi);
		cb_hist_bucket_range(i - 1, &plo, &phi);
		CU_ASSERT_EQUAL(lo, phi + 1);
	}
}

static void test_hist_max(void)
{
	cb_hist_init(&h1);
	cb_hist_record(&h1, 2 * MS);
	cb_hist_record(&h1, 61 * SEC);   /* above the range: top bucket, exact max */
	CU_ASSERT_EQUAL(h1.max_ns, 61 * SEC);
	CU_ASSERT_EQUAL(cb_hist_percentile(&h1, 100), 61 * SEC);
	CU_ASSERT(within(cb_hist_percentile(&h1, 99), 60 * SEC, 0.01));
	CU_ASSERT(within(cb_hist_percentile(&h1, 50), 2 * MS, 0.01));
	cb_hist_init(&h1);
	cb_hist_record(&h1, 0);
	CU_ASSERT_EQUAL(cb_hist_percentile(&h1, 50), 0);
}

static void test_hist_merge(void)
{
	cb_hist_init(&h1);
	cb_hist_init(&h2);
	cb_hist_init(&h3);
	for (uint64_t i = 1; i <= 5000; i++) {
		cb_hist_record(i % 3 ? &h1 : &h2, i * 7919);
		cb_hist_record(&h3, i * 7919);
	}
	struct cb_hist *empty = malloc(sizeof *empty);
	CU_ASSERT_PTR_NOT_NULL_FATAL(empty);
	cb_hist_init(empty);
	cb_hist_merge(&h1, empty);
	cb_hist_merge(&h1, &h2);
	CU_ASSERT_EQUAL(h1.count, h3.count);
	CU_ASSERT_EQUAL(h1.min_ns, h3.min_ns);
	CU_ASSERT_EQUAL(h1.max_ns, h3.max_ns);
	CU_ASSERT_EQUAL(memcmp(h1.b, h3.b, sizeof h1.b), 0);
	double ps[] = { 1, 50, 95, 99, 99.9, 100 };
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
		CU_ASSERT_EQUAL(cb_hist_percentile(&h1, ps[i]), cb_hist_percentile(&h3, ps[i]));
	cb_hist_merge(empty, &h3);   /* into an empty one */
	CU_ASSERT_EQUAL(empty->min_ns, h3.min_ns);
	CU_ASSERT_EQUAL(cb_hist_percentile(empty, 50), cb_hist_percentile(&h3, 50));
	free(empty);
}

/* ---- rate control -------------------------------------------------------------- */

static void test_rate_exact_count(void)
{
	const double rates[] = { 1, 7, 100, 1000, 12345.6, 250000 };
	for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
		for (int pattern = 0; pattern < 2; pattern++) {
			struct cb_rate r;
			uint64_t t = 123456789, start = t, seed = 42;
			cb_rate_init(&r, rates[k], t, 0);
			uint64_t total = 0;
			const uint64_t secs = 10;
			while (t < start + secs * SEC) {
				if (pattern == 0) {
					t += MS;                  /* a steady 1 ms tick */
				} else {                          /* jittery 0..2 ms */
					seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
					t += (seed >> 33) % (2 * MS);
				}
				if (t > start + secs * SEC)
					t = start + secs * SEC;
				uint64_t n = cb_rate_take(&r, t);
				CU_ASSERT(n <= r.burst);
				total += n;
			}
			uint64_t want = (uint64_t)(rates[k] * (double)secs);
			CU_ASSERT(total + 1 >= want && total <= want + 1);
			CU_ASSERT_EQUAL(r.skipped, 0);
		}
	}
}

static void test_rate_stall(void)
{
	struct cb_rate r;
	cb_rate_init(&r, 1000, 0, 0);
	CU_ASSERT_EQUAL(r.burst, 10);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 5 * MS), 5);
	/* a 5 s stall: at most the burst comes out, the rest is skipped */
	uint64_t n = cb_rate_take(&r, 5 * SEC + 5 * MS);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT_EQUAL(r.skipped, 5000 - 10);
	/* and the schedule goes on at the rate, with no second burst */
	CU_ASSERT_EQUAL(cb_rate_take(&r, 5 * SEC + 6 * MS), 1);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 5 * SEC + 6 * MS), 0);
	uint64_t sum = 0;
	for (uint64_t t = 5 * SEC + 7 * MS; t <= 6 * SEC + 6 * MS; t += MS) {
		uint64_t k = cb_rate_take(&r, t);
		CU_ASSERT(k <= 1);
		sum += k;
	}
	CU_ASSERT_EQUAL(sum, 1000);
	/* the long-run total is still elapsed * rate: issued + skipped */
	CU_ASSERT_EQUAL(r.issued, 6006);
	/* an explicit burst */
	cb_rate_init(&r, 100, 0, 3);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 10 * SEC), 3);
	CU_ASSERT_EQUAL(r.skipped, 997);
	/* a very slow rate still gets a burst of at least 1 */
	cb_rate_init(&r, 0.5, 0, 0);
	CU_ASSERT_EQUAL(r.burst, 1);
	CU_ASSERT_EQUAL(cb_rate_take(&r, SEC), 0);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 2 * SEC), 1);
}

static void test_rate_zero_and_next(void)
{
	struct cb_rate r;
	cb_rate_init(&r, 0, 1000, 0);
	CU_ASSERT_EQUAL(r.burst, 1000);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 1000), 1000);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 1000), 1000);   /* the caller's window limits */
	CU_ASSERT_EQUAL(cb_rate_next_in(&r, 1000), 0);
	CU_ASSERT_EQUAL(r.skipped, 0);
	cb_rate_init(&r, 0, 0, 16);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 5 * SEC), 16);
	cb_rate_init(&r, -3, 0, 0);   /* negative is treated as 0 */
	CU_ASSERT_EQUAL(r.rate, 0);

	cb_rate_init(&r, 100, 0, 0);
	uint64_t d = cb_rate_next_in(&r, 0);
	CU_ASSERT(d >= 10 * MS - 1 && d <= 10 * MS);
	CU_ASSERT_EQUAL(cb_rate_take(&r, d), 1);
	CU_ASSERT(cb_rate_next_in(&r, d) >= 10 * MS - 2);
	CU_ASSERT_EQUAL(cb_rate_take(&r, 0), 0);   /* time going backwards: nothing */
}

/* ---- WebSocket ------------------------------------------------------------------ */

struct got {
	int n;
	int op[16];
	size_t len[16];
	uint8_t *data[16];
};

static int collect(void *ud, int op, const uint8_t *data, size_t len)
{
	struct got *g = ud;
	if (g->n >= 16)
		return 99;
	g->op[g->n] = op;
	g->len[g->n] = len;
	g->data[g->n] = malloc(len + 1);
	memcpy(g->data[g->n], data, len);
	g->n++;
	return 0;
}

static void got_free(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->data[i]);
	memset(g, 0, sizeof *g);
}

/* A server frame: unmasked. */
static size_t server_frame(uint8_t *out, int fin, int op, const uint8_t *p, size_t len)
{
	size_t h = 0;
	out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (len < 126) {
		out[h++] = (uint8_t)len;
	} else if (len <= 0xFFFF) {
		out[h++] = 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(out + h, p, len);
	return h + len;
}

/* Feed wire split at `cut` (cut == len: whole), check one message. */
static int feed_split(const uint8_t *wire, size_t wlen, size_t cut, struct got *g)
{
	struct cb_ws_rx rx;
	cb_ws_rx_init(&rx);
	/* the parser may unmask in place: give it a copy */
	uint8_t *copy = malloc(wlen ? wlen : 1);
	memcpy(copy, wire, wlen);
	int rc = cb_ws_rx_feed(&rx, copy, cut, collect, g);
	if (rc == 0)
		rc = cb_ws_rx_feed(&rx, copy + cut, wlen - cut, collect, g);
	int leftover = rx.len != 0;
	cb_ws_rx_free(&rx);
	free(copy);
	return rc ? rc : leftover ? 100 : 0;
}

static void test_ws_sizes(void)
{
	const size_t sizes[] = { 0, 125, 126, 65535, 65536 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t len = sizes[k];
		uint8_t *p = malloc(len + 1), *wire = malloc(len + 16);
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)('a' + i % 26);
		size_t wl = server_frame(wire, 1, CB_WS_TEXT, p, len);
		CU_ASSERT_EQUAL(wl, len + (len < 126 ? 2 : len <= 0xFFFF ? 4 : 10));
		/* every split inside the header and the first 300 payload bytes,
		 * every 257th beyond, and the end */
		for (size_t cut = 0; cut <= wl; cut = cut < 300 ? cut + 1 : cut + 257 > wl && cut < wl ? wl : cut + 257) {
			struct got g = { 0 };
			CU_ASSERT_EQUAL(feed_split(wire, wl, cut, &g), 0);
			CU_ASSERT_EQUAL(g.n, 1);
			if (g.n == 1) {
				CU_ASSERT_EQUAL(g.op[0], CB_WS_TEXT);
				CU_ASSERT_EQUAL(g.len[0], len);
				CU_ASSERT(memcmp(g.data[0], p, len) == 0);
			}
			got_free(&g);
		}
		/* byte by byte */
		struct cb_ws_rx rx;
		struct got g = { 0 };
		cb_ws_rx_init(&rx);
		for (size_t i = 0; i < wl; i++)
			CU_ASSERT_EQUAL_FATAL(cb_ws_rx_feed(&rx, wire + i, 1, collect, &g), 0);
		CU_ASSERT_EQUAL(g.n, 1);
		CU_ASSERT_EQUAL(g.len[0], len);
		CU_ASSERT(g.n == 1 && memcmp(g.data[0], p, len) == 0);
		got_free(&g);
		cb_ws_rx_free(&rx);
		free(p);
		free(wire);
	}
}

static void test_ws_fragmented(void)
{
	uint8_t wire[256];
	size_t wl = 0;
	wl += server_frame(wire + wl, 0, CB_WS_TEXT, (const uint8_t *)"Hel", 3);
	wl += server_frame(wire + wl, 1, CB_WS_PING, (const uint8_t *)"p", 1);
	wl += server_frame(wire + wl, 0, CB_WS_CONT, (const uint8_t *)"lo ", 3);
	wl += server_frame(wire + wl, 0, CB_WS_CONT, (const uint8_t *)"", 0);
	wl += server_frame(wire + wl, 1, CB_WS_CONT, (const uint8_t *)"world", 5);
	wl += server_frame(wire + wl, 1, CB_WS_TEXT, (const uint8_t *)"next", 4);
	uint8_t close[] = { 0x03, 0xE9, 'b', 'y', 'e' };   /* 1001 "bye" */
	wl += server_frame(wire + wl, 1, CB_WS_CLOSE, close, sizeof close);
	for (size_t cut = 0; cut <= wl; cut++) {
		struct got g = { 0 };
		CU_ASSERT_EQUAL(feed_split(wire, wl, cut, &g), 0);
		CU_ASSERT_EQUAL_FATAL(g.n, 4);
		CU_ASSERT_EQUAL(g.op[0], CB_WS_PING);
		CU_ASSERT_EQUAL(g.op[1], CB_WS_TEXT);
		CU_ASSERT_EQUAL(g.len[1], 11);
		CU_ASSERT(memcmp(g.data[1], "Hello world", 11) == 0);
		CU_ASSERT_EQUAL(g.op[2], CB_WS_TEXT);
		CU_ASSERT(g.len[2] == 4 && memcmp(g.data[2], "next", 4) == 0);
		CU_ASSERT_EQUAL(g.op[3], CB_WS_CLOSE);
		CU_ASSERT_EQUAL(cb_ws_close_code(g.data[3], g.len[3]), 1001);
		got_free(&g);
	}
	CU_ASSERT_EQUAL(cb_ws_close_code(NULL, 0), 1005);
}

static void test_ws_errors(void)
{
	uint8_t wire[300], big[200];
	memset(big, 'z', sizeof big);
	struct got g = { 0 };
	size_t wl = server_frame(wire, 1, CB_WS_CONT, (const uint8_t *)"x", 1);
	CU_ASSERT_EQUAL(feed_split(wire, wl, wl, &g), CB_WS_EPROTO);
	wl = server_frame(wire, 1, CB_WS_TEXT, (const uint8_t *)"x", 1);
	wire[0] |= 0x40;   /* RSV1 without an extension */
	CU_ASSERT_EQUAL(feed_split(wire, wl, wl, &g), CB_WS_EPROTO);
	wl = server_frame(wire, 1, CB_WS_PING, big, 126);   /* control > 125 */
	CU_ASSERT_EQUAL(feed_split(wire, wl, wl, &g), CB_WS_EPROTO);
	wl = server_frame(wire, 0, CB_WS_CLOSE, big, 2);    /* fragmented control */
	CU_ASSERT_EQUAL(feed_split(wire, wl, wl, &g), CB_WS_EPROTO);
	wl = server_frame(wire, 0, CB_WS_TEXT, big, 2);
	wl += server_frame(wire + wl, 1, CB_WS_TEXT, big, 2);   /* new message mid-fragment */
	CU_ASSERT_EQUAL(feed_split(wire, wl, 3, &g), CB_WS_EPROTO);
	got_free(&g);
}

static void test_ws_client_frames(void)
{
	const size_t sizes[] = { 0, 125, 126, 65535, 65536 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t len = sizes[k];
		uint8_t *p = malloc(len + 1), *out = malloc(len + CB_WS_MAX_HEADER);
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)i;
		size_t h = cb_ws_header_len(len);
		CU_ASSERT_EQUAL(h, len < 126 ? 6u : len <= 0xFFFF ? 8u : 14u);
		CU_ASSERT_EQUAL(cb_ws_encode(out, CB_WS_TEXT, p, len, 0xA1B2C3D4u), h + len);
		CU_ASSERT_EQUAL(out[0], 0x81);
		CU_ASSERT(out[1] & 0x80);   /* masked */
		const uint8_t *mk = out + h - 4;
		CU_ASSERT(mk[0] == 0xA1 && mk[3] == 0xD4);
		int ok = 1;
		for (size_t i = 0; i < len; i++)
			ok &= (out[h + i] ^ mk[i & 3]) == p[i];
		CU_ASSERT(ok);
		free(p);
		free(out);
	}
}

static void test_ws_handshake(void)
{
	char acc[CB_WS_ACCEPT_LEN + 1], key[CB_WS_KEY_LEN + 1], req[512];
	cb_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);   /* RFC 6455 section 1.3 */
	CU_ASSERT_STRING_EQUAL(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	uint64_t prng = 7;
	cb_ws_make_key(key, &prng);
	CU_ASSERT_EQUAL(strlen(key), 24);
	CU_ASSERT(cb_ws_request(req, sizeof req, "127.0.0.1:80", "/ws?access_token=t", key) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(req, "GET /ws?access_token=t HTTP/1.1\r\n"));
	CU_ASSERT_EQUAL(cb_ws_request(req, 20, "h", "/", key), -1);

	const char *ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nsec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi";
	size_t hl = 0;
	int st = 0;
	CU_ASSERT_EQUAL(cb_ws_response(ok, strlen(ok), "dGhlIHNhbXBsZSBub25jZQ==", &hl, &st), 1);
	CU_ASSERT_EQUAL(st, 101);
	CU_ASSERT_EQUAL(hl, strlen(ok) - 4);
	CU_ASSERT_EQUAL(cb_ws_response(ok, 40, "dGhlIHNhbXBsZSBub25jZQ==", &hl, &st), 0);
	CU_ASSERT_EQUAL(cb_ws_response(ok, strlen(ok), "AAAAAAAAAAAAAAAAAAAAAA==", &hl, &st), -1);
	const char *no = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
	CU_ASSERT_EQUAL(cb_ws_response(no, strlen(no), "x", &hl, &st), -1);
	CU_ASSERT_EQUAL(st, 403);
}

/* ---- /proc parsing -------------------------------------------------------------- */

static void test_proc_parse(void)
{
	const char *stat = "4242 (chat d) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 "
			   "1234 567 0 0 20 0 3 0 100 1000000 250 18446744073709551615";
	uint64_t ut = 0, stt = 0;
	CU_ASSERT_EQUAL(cb_proc_parse_stat(stat, &ut, &stt), 0);
	CU_ASSERT_EQUAL(ut, 1234);
	CU_ASSERT_EQUAL(stt, 567);
	CU_ASSERT_EQUAL(cb_proc_parse_stat("12 noparen S 1", &ut, &stt), -1);
	CU_ASSERT_EQUAL(cb_proc_parse_stat("12 (x) S 1 2", &ut, &stt), -1);
	const char *status = "Name:\tchatd\nVmPeak:\t  9999 kB\nVmHWM:\t    4096 kB\nVmRSS:\t    2048 kB\n";
	uint64_t v = 0;
	CU_ASSERT_EQUAL(cb_proc_parse_status_kb(status, "VmRSS", &v), 0);
	CU_ASSERT_EQUAL(v, 2048 * 1024);
	CU_ASSERT_EQUAL(cb_proc_parse_status_kb(status, "VmHWM", &v), 0);
	CU_ASSERT_EQUAL(v, 4096 * 1024);
	CU_ASSERT_EQUAL(cb_proc_parse_status_kb(status, "VmSwap", &v), -1);
	struct cb_proc_sample a, b;
	CU_ASSERT_EQUAL(cb_proc_self(&a), 0);
	CU_ASSERT(a.rss_bytes > 0);
	CU_ASSERT_EQUAL(cb_proc_sample(getpid(), &b), 0);
	CU_ASSERT(b.rss_bytes > 0);
	b.cpu_ns = a.cpu_ns + 500 * MS;
	CU_ASSERT(cb_proc_cpu_pct(&a, &b, SEC) > 49.9 && cb_proc_cpu_pct(&a, &b, SEC) < 50.1);
	CU_ASSERT_EQUAL(cb_proc_cpu_pct(&b, &a, SEC), 0.0);
}

/* ---- nodes: URLs, placement, cross-node share ------------------------------ */

static int parse(const char *url, bool relay, struct cb_node *nd)
{
	char err[128];
	memset(nd, 0, sizeof *nd);
	snprintf(nd->url, sizeof nd->url, "%s", url);
	return cb_node_parse(nd, relay, err, sizeof err);
}

static void test_node_parse(void)
{
	struct cb_node nd;
	CU_ASSERT_EQUAL(parse("ws://127.0.0.1:8080/ws", false, &nd), 0);
	CU_ASSERT_EQUAL(nd.port, 8080);
	CU_ASSERT_STRING_EQUAL(nd.host, "127.0.0.1:8080");
	CU_ASSERT_STRING_EQUAL(nd.path, "/ws");
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&nd.addr;
	CU_ASSERT_EQUAL(s4->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(s4->sin_port), 8080);
	CU_ASSERT_EQUAL(nd.addrlen, sizeof *s4);
	/* default path per target, default port, localhost, other 127/8 hosts */
	CU_ASSERT_EQUAL(parse("ws://localhost", false, &nd), 0);
	CU_ASSERT_STRING_EQUAL(nd.path, "/ws");
	CU_ASSERT_EQUAL(nd.port, 80);
	CU_ASSERT_STRING_EQUAL(nd.host, "127.0.0.1:80");
	CU_ASSERT_EQUAL(parse("ws://127.1.2.3:9", true, &nd), 0);
	CU_ASSERT_STRING_EQUAL(nd.path, "/");
	CU_ASSERT_EQUAL(parse("ws://[::1]:7000/x?y=1", false, &nd), 0);
	CU_ASSERT_STRING_EQUAL(nd.host, "[::1]:7000");
	CU_ASSERT_STRING_EQUAL(nd.path, "/x?y=1");
	CU_ASSERT_EQUAL(((const struct sockaddr_in6 *)&nd.addr)->sin6_family, AF_INET6);
	/* refused: not loopback, not ws://, bad ports and hosts */
	CU_ASSERT_EQUAL(parse("ws://10.0.0.1:80/ws", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws://[2001:db8::1]:80/", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws://example.com/ws", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("wss://127.0.0.1:443/ws", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("http://127.0.0.1:80/ws", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws://127.0.0.1:0/ws", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws://127.0.0.1:65536/ws", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws://127.0.0.1:/ws", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws://127.0.0.1:80x", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws://[::1", false, &nd), -1);
	CU_ASSERT_EQUAL(parse("ws:///ws", false, &nd), -1);
	char big[400];
	memset(big, 'p', sizeof big);
	memcpy(big, "ws://127.0.0.1:1/", 17);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(parse(big, false, &nd), -1);   /* path over 255 bytes */
}

static void test_node_of(void)
{
	CU_ASSERT_EQUAL(cb_node_of(0, 1), 0);
	CU_ASSERT_EQUAL(cb_node_of(7, 1), 0);
	CU_ASSERT_EQUAL(cb_node_of(0, 2), 0);
	CU_ASSERT_EQUAL(cb_node_of(1, 2), 1);
	CU_ASSERT_EQUAL(cb_node_of(2, 2), 0);
	CU_ASSERT_EQUAL(cb_node_of(17, 3), 2);
	CU_ASSERT_EQUAL(cb_node_of(5, 0), 0);   /* no node list: everything on the first */
}

/* The share by brute force over every ordered pair, as the header defines it. */
static double cross_naive(int n, int m, int k)
{
	uint64_t pairs = 0, cross = 0;
	for (int first = 0; first < n; first += m) {
		int last = first + m < n ? first + m : n;
		for (int s = first; s < last; s++)
			for (int r = first; r < last; r++)
				if (r != s) {
					pairs++;
					cross += cb_node_of(s, k) != cb_node_of(r, k);
				}
	}
	return pairs ? 100.0 * (double)cross / (double)pairs : -1;
}

static void test_cross_node_pct(void)
{
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(1000, 2, 1), 0.0, 1e-9);
	/* pairs (2i, 2i+1) on 2 or 3 nodes: every pair crosses */
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(1000, 2, 2), 100.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(999, 2, 3), 100.0, 1e-9);
	/* rooms of 10 on 2 nodes: 5 + 5, so 50 of the 90 ordered pairs cross */
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(100, 10, 2), 5000.0 / 90.0, 1e-9);
	/* a lone last member has no conversation and counts for nothing */
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(5, 4, 2), 800.0 / 12.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(10, 3, 3), 100.0, 1e-9);
	/* rooms of 4 on 4 nodes vs rooms of 4 on 2 */
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(16, 4, 4), 100.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(16, 4, 2), 800.0 / 12.0, 1e-9);
	CU_ASSERT_EQUAL(cb_cross_node_pct(1, 2, 2), -1);
	CU_ASSERT_EQUAL(cb_cross_node_pct(10, 1, 2), -1);
	for (int n = 1; n <= 40; n++)
		for (int m = 2; m <= 12; m++)
			for (int k = 1; k <= 5; k++)
				CU_ASSERT_DOUBLE_EQUAL(cb_cross_node_pct(n, m, k), cross_naive(n, m, k), 1e-9);
}

void unit_register_chatbench(void)
{
	CU_pSuite s = CU_add_suite("chatbench", NULL, NULL);
	CU_add_test(s, "hist empty", test_hist_empty);
	CU_add_test(s, "hist constant", test_hist_constant);
	CU_add_test(s, "hist uniform", test_hist_uniform);
	CU_add_test(s, "hist two-point", test_hist_two_point);
	CU_add_test(s, "hist precision 1us..60s", test_hist_precision);
	CU_add_test(s, "hist max above range", test_hist_max);
	CU_add_test(s, "hist merge", test_hist_merge);
	CU_add_test(s, "rate R x N +-1", test_rate_exact_count);
	CU_add_test(s, "rate burst cap after a stall", test_rate_stall);
	CU_add_test(s, "rate 0 and next_in", test_rate_zero_and_next);
	CU_add_test(s, "ws server frames 0..65536, every split", test_ws_sizes);
	CU_add_test(s, "ws fragmented message, ping, close code", test_ws_fragmented);
	CU_add_test(s, "ws protocol errors", test_ws_errors);
	CU_add_test(s, "ws masked client frames", test_ws_client_frames);
	CU_add_test(s, "ws handshake", test_ws_handshake);
	CU_add_test(s, "proc parsing", test_proc_parse);
	CU_add_test(s, "node URLs", test_node_parse);
	CU_add_test(s, "node of a connection", test_node_of);
	CU_add_test(s, "cross-node share of pairs", test_cross_node_pct);
}
