/* test_web.c — the web endpoints' input checks (core/web_rules.c) and the
 * keyed token buckets behind their rate limits (core/ratelim.c). */
#include <stdio.h>
#include <string.h>
#include "unit.h"
#include "../../core/ratelim.h"
#include "../../core/web_rules.h"

static void test_paths(void)
{
	const char *ok[] = { "/", "/index.html", "/js/app.js", "/css/app.css", "/a/b/c-d_e.f.js",
			     "/favicon.ico" };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		CU_ASSERT_TRUE(web_path_ok(ok[i]));
	const char *bad[] = { "", "index.html", "/..", "/../etc/passwd", "/js/../../x",
			      "/.hidden", "/js/.git/config", "//etc/passwd", "/js/", "/js//a.js",
			      "/a b.js", "/a%2e%2e/x", "/a\\b", "/js/a.js?x=1", "/é.js" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (web_path_ok(bad[i]))
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CU_ASSERT_FALSE(web_path_ok(bad[i]));
	}
	char longp[600];
	memset(longp, 'a', sizeof longp);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	CU_ASSERT_FALSE(web_path_ok(longp));
	CU_ASSERT_FALSE(web_path_ok(NULL));
}

static void test_mime(void)
{
	CU_ASSERT_STRING_EQUAL(web_mime("/index.html"), "text/html; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(web_mime("/js/app.js"), "text/javascript; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(web_mime("/x.mjs"), "text/javascript; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(web_mime("/css/a.css"), "text/css; charset=utf-8");
	CU_ASSERT_STRING_EQUAL(web_mime("/i.svg"), "image/svg+xml");
	CU_ASSERT_PTR_NULL(web_mime("/x.sh"));
	CU_ASSERT_PTR_NULL(web_mime("/README"));
	CU_ASSERT_PTR_NULL(web_mime("/js.d/README"));
	CU_ASSERT_PTR_NULL(web_mime("/x.conf"));
}

static void test_headers(void)
{
	char buf[1200];
	int n = web_static_headers(buf, sizeof buf, "127.0.0.1:8080");
	CU_ASSERT_TRUE(n > 0 && (size_t)n == strlen(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Security-Policy: default-src 'none'; "));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "connect-src 'self' ws://127.0.0.1:8080 "
					   "wss://127.0.0.1:8080;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "X-Content-Type-Options: nosniff\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "frame-ancestors 'none'"));
	/* A Host that could break out of the header or the directive is left out. */
	n = web_static_headers(buf, sizeof buf, "evil\r\nSet-Cookie: a=b");
	CU_ASSERT_TRUE(n > 0);
	CU_ASSERT_PTR_NULL(strstr(buf, "evil"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "connect-src 'self';"));
	n = web_static_headers(buf, sizeof buf, "a.example; script-src *");
	CU_ASSERT_PTR_NULL(strstr(buf, "a.example"));
	CU_ASSERT_TRUE(web_static_headers(buf, sizeof buf, NULL) > 0);
	CU_ASSERT_EQUAL(web_static_headers(buf, 40, "h"), -1);
}

static void test_dev_login(void)
{
	char user[AUTH_USER_MAX + 1];
	bool mod = true;
	const char *b = "{\"user_id\":\"alice\"}";
	CU_ASSERT_PTR_NULL(web_dev_login_parse(b, strlen(b), user, &mod));
	CU_ASSERT_STRING_EQUAL(user, "alice");
	CU_ASSERT_FALSE(mod);
	b = "{\"user_id\":\"m.o-d@x_1\",\"roles\":[\"moderator\"],\"other\":1}";
	CU_ASSERT_PTR_NULL(web_dev_login_parse(b, strlen(b), user, &mod));
	CU_ASSERT_STRING_EQUAL(user, "m.o-d@x_1");
	CU_ASSERT_TRUE(mod);
	const char *bad[] = { "", "[]", "{}", "{\"user_id\":\"\"}", "{\"user_id\":\"a b\"}",
			      "{\"user_id\":7}", "{\"user_id\":\"bob\",\"roles\":[\"admin\"]}",
			      "{\"user_id\":\"bob\",\"roles\":\"moderator\"}",
			      "{\"user_id\":\"a\",\"user_id\":\"b\"}", "not json",
			      "{\"user_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_PTR_NOT_NULL(web_dev_login_parse(bad[i], strlen(bad[i]), user, &mod));
		CU_ASSERT_STRING_EQUAL(user, "");
	}
}

static void test_telemetry_parse(void)
{
	struct telemetry_report r;
	const char *b = "{\"reconnects\":3,\"stuck_sends\":1,\"errors\":[{\"code\":\"network\","
			"\"message\":\"socket closed\"},{\"code\":\"x.y-z_1\"}],\"extra\":true}";
	CU_ASSERT_PTR_NULL(telemetry_parse(b, strlen(b), &r));
	CU_ASSERT_EQUAL(r.reconnects, 3);
	CU_ASSERT_EQUAL(r.stuck_sends, 1);
	CU_ASSERT_EQUAL(r.n_errors, 2);
	CU_ASSERT_STRING_EQUAL(r.codes[0], "network");
	CU_ASSERT_STRING_EQUAL(r.codes[1], "x.y-z_1");
	CU_ASSERT_PTR_NULL(telemetry_parse("{}", 2, &r));
	CU_ASSERT_EQUAL(r.n_errors, 0);

	char big[8192];
	int n = snprintf(big, sizeof big, "{\"errors\":[");
	for (int i = 0; i < 21; i++)
		n += snprintf(big + n, sizeof big - (size_t)n, "%s{\"code\":\"c\"}", i ? "," : "");
	snprintf(big + n, sizeof big - (size_t)n, "]}");
	CU_ASSERT_PTR_NOT_NULL(telemetry_parse(big, strlen(big), &r));
	CU_ASSERT_EQUAL(r.n_errors, 0);

	char msg[1200];
	memset(msg, 'm', sizeof msg);
	snprintf(big, sizeof big, "{\"errors\":[{\"code\":\"c\",\"message\":\"%.1000s\"}]}", msg);
	CU_ASSERT_PTR_NULL(telemetry_parse(big, strlen(big), &r));
	snprintf(big, sizeof big, "{\"errors\":[{\"code\":\"c\",\"message\":\"%.1001s\"}]}", msg);
	CU_ASSERT_PTR_NOT_NULL(telemetry_parse(big, strlen(big), &r));

	const char *bad[] = { "[]", "", "nope", "{\"reconnects\":-1}", "{\"reconnects\":1001}",
			      "{\"reconnects\":1.5}", "{\"stuck_sends\":\"2\"}", "{\"errors\":{}}",
			      "{\"errors\":[1]}", "{\"errors\":[{}]}", "{\"errors\":[{\"code\":\"\"}]}",
			      "{\"errors\":[{\"code\":\"Bad\"}]}",
			      "{\"errors\":[{\"code\":\"a\",\"message\":3}]}",
			      "{\"reconnects\":1,\"reconnects\":2}" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_PTR_NOT_NULL(telemetry_parse(bad[i], strlen(bad[i]), &r));
}

static void test_code_label(void)
{
	CU_ASSERT_STRING_EQUAL(telemetry_code_label("network"), "network");
	CU_ASSERT_STRING_EQUAL(telemetry_code_label("token_expired"), "token_expired");
	CU_ASSERT_STRING_EQUAL(telemetry_code_label("upload_failed"), "upload_failed");
	CU_ASSERT_STRING_EQUAL(telemetry_code_label("anything.else"), "other");
	CU_ASSERT_STRING_EQUAL(telemetry_code_label(""), "other");
}

static void test_ratelim(void)
{
	CU_ASSERT_PTR_NULL(ratelim_new(0, 1, 10));
	CU_ASSERT_PTR_NULL(ratelim_new(1, 0.5, 10));
	CU_ASSERT_PTR_NULL(ratelim_new(1, 1, 0));
	struct ratelim *r = ratelim_new(0.5, 3, 2); /* a token every 2 s, burst 3, 2 keys */
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	int64_t t = 1000000;
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(ratelim_take(r, "a", t), 0);
	int64_t w = ratelim_take(r, "a", t);
	CU_ASSERT_TRUE(w > 1900 && w <= 2001);
	CU_ASSERT_TRUE(ratelim_take(r, "a", t + 1000) > 0);
	CU_ASSERT_EQUAL(ratelim_take(r, "a", t + 2001), 0);
	/* Another key has its own bucket. */
	CU_ASSERT_EQUAL(ratelim_take(r, "b", t), 0);
	CU_ASSERT_EQUAL(ratelim_count(r), 2);
	/* Full table, no bucket refilled yet: a third key is refused. */
	CU_ASSERT_TRUE(ratelim_take(r, "c", t + 1000) > 0);
	CU_ASSERT_EQUAL(ratelim_count(r), 2);
	/* Once both refilled they carry nothing and make room. */
	CU_ASSERT_EQUAL(ratelim_take(r, "c", t + 60000), 0);
	CU_ASSERT_EQUAL(ratelim_count(r), 1);
	char longk[RATELIM_KEY_MAX + 2];
	memset(longk, 'k', sizeof longk - 1);
	longk[sizeof longk - 1] = '\0';
	CU_ASSERT_TRUE(ratelim_take(r, longk, t) > 0);
	ratelim_free(r);
}

void unit_register_web(void)
{
	CU_pSuite s = CU_add_suite("web", NULL, NULL);
	CU_add_test(s, "static paths", test_paths);
	CU_add_test(s, "static types", test_mime);
	CU_add_test(s, "static headers", test_headers);
	CU_add_test(s, "dev sign-in body", test_dev_login);
	CU_add_test(s, "telemetry body", test_telemetry_parse);
	CU_add_test(s, "telemetry code labels", test_code_label);
	CU_add_test(s, "rate limiter", test_ratelim);
}
