/* test_admin_parse.c — the admin API's request parsing (core/admin_parse.c):
 * routes, paths and queries, bodies and each route's arguments. */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include "unit.h"
#include "../../core/admin_parse.h"

static json_t *js(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL(j);
	return j;
}

static void test_every_route_found_by_its_pattern(void)
{
	for (size_t i = 0; i < ADMIN_R_COUNT; i++) {
		const struct admin_route_def *d = &admin_route_defs[i];
		CU_ASSERT_PTR_NOT_NULL_FATAL(d->pattern);
		char path[128] = "";
		size_t n = 0;
		for (const char *q = d->pattern; *q; q++) {
			if (*q == '*')
				n += (size_t)snprintf(path + n, sizeof path - n, "bob");
			else if (*q == '#')
				n += (size_t)snprintf(path + n, sizeof path - n, "17");
			else
				path[n++] = *q;
		}
		path[n] = '\0';
		struct admin_target t;
		CU_ASSERT_EQUAL(admin_route_find(d->method, path, ADMIN_ROLE_ADMIN, &t),
				ADMIN_FIND_OK);
		CU_ASSERT_EQUAL(t.route, (enum admin_route_id)i);
		if (strchr(d->pattern, '*'))
			CU_ASSERT_STRING_EQUAL(t.arg, "bob");
		if (strchr(d->pattern, '#'))
			CU_ASSERT_EQUAL(t.id, 17);
		enum admin_find low = admin_route_find(d->method, path, ADMIN_ROLE_USER, &t);
		CU_ASSERT_EQUAL(low, d->role > ADMIN_ROLE_USER ? ADMIN_FIND_FORBIDDEN : ADMIN_FIND_OK);
	}
}

static void test_route_refusals(void)
{
	struct admin_target t;
	CU_ASSERT_EQUAL(admin_route_find("GET", "/v1/nope", ADMIN_ROLE_ADMIN, &t),
			ADMIN_FIND_NOT_FOUND);
	CU_ASSERT_EQUAL(admin_route_find("GET", "/v1/status/", ADMIN_ROLE_ADMIN, &t),
			ADMIN_FIND_NOT_FOUND);
	CU_ASSERT_EQUAL(admin_route_find("DELETE", "/v1/status", ADMIN_ROLE_ADMIN, &t),
			ADMIN_FIND_METHOD);
	CU_ASSERT_EQUAL(admin_route_find("GET", "/v1/users/", ADMIN_ROLE_ADMIN, &t),
			ADMIN_FIND_NOT_FOUND);
	/* A moderator may not mint; the role check comes before the id's. */
	CU_ASSERT_EQUAL(admin_route_find("POST", "/v1/tokens", ADMIN_ROLE_MODERATOR, &t),
			ADMIN_FIND_FORBIDDEN);
	CU_ASSERT_EQUAL(t.route, ADMIN_R_TOKENS);
	CU_ASSERT_EQUAL(admin_route_find("GET", "/v1/queue/x", ADMIN_ROLE_USER, &t),
			ADMIN_FIND_FORBIDDEN);
	static const char *const bad_ids[] = { "0", "-3", "+3", "3x", "0x10",
					       "99999999999999999999999", " 3" };
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		char p[64];
		snprintf(p, sizeof p, "/v1/queue/%s", bad_ids[i]);
		CU_ASSERT_EQUAL(admin_route_find("GET", p, ADMIN_ROLE_MODERATOR, &t),
				ADMIN_FIND_BAD_ID);
	}
	/* A segment over the buffer is cut and flagged. */
	char longp[400] = "/v1/users/";
	memset(longp + 10, 'a', 300);
	longp[310] = '\0';
	CU_ASSERT_EQUAL(admin_route_find("GET", longp, ADMIN_ROLE_MODERATOR, &t), ADMIN_FIND_OK);
	CU_ASSERT_TRUE(t.arg_long);
	CU_ASSERT_EQUAL(strlen(t.arg), ADMIN_ARG_MAX - 1);
	CU_ASSERT_FALSE(admin_user_arg_ok(&t));
	CU_ASSERT_FALSE(admin_conv_arg_ok(&t));
}

static void test_path_and_query(void)
{
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	char *path = NULL;
	CU_ASSERT_EQUAL(admin_parse_target("/v1/users/a%40b.c", "limit=5&kind=hold", &path, &q), 0);
	CU_ASSERT_STRING_EQUAL(path, "/v1/users/a@b.c");
	CU_ASSERT_STRING_EQUAL(evhttp_find_header(&q, "limit"), "5");
	CU_ASSERT_STRING_EQUAL(evhttp_find_header(&q, "kind"), "hold");
	free(path);
	evhttp_clear_headers(&q);
	CU_ASSERT_EQUAL(admin_parse_target(NULL, NULL, &path, &q), -1);
	CU_ASSERT_PTR_NULL(path);
	long long v = -1;
	CU_ASSERT_TRUE(admin_parse_int("1000", 1, 1000, &v));
	CU_ASSERT_EQUAL(v, 1000);
	CU_ASSERT_FALSE(admin_parse_int("1001", 1, 1000, &v));
	CU_ASSERT_FALSE(admin_parse_int("", 0, 10, &v));
	CU_ASSERT_FALSE(admin_parse_int("5x", 0, 10, &v));
	CU_ASSERT_FALSE(admin_parse_int("-1", 0, 10, &v));
	CU_ASSERT_TRUE(admin_list_filter_ok(NULL, NULL));
	CU_ASSERT_TRUE(admin_list_filter_ok("open", "appeal"));
	CU_ASSERT_FALSE(admin_list_filter_ok("closed", NULL));
	CU_ASSERT_FALSE(admin_list_filter_ok(NULL, "Report"));
	struct admin_target t = { .arg = "c 1" };
	CU_ASSERT_FALSE(admin_conv_arg_ok(&t));
	strcpy(t.arg, "c/1");
	CU_ASSERT_TRUE(admin_conv_arg_ok(&t));     /* printable: the storage decides */
	CU_ASSERT_FALSE(admin_user_arg_ok(&t));
}

static void test_body(void)
{
	json_t *b = (json_t *)1;
	char msg[240];
	CU_ASSERT_EQUAL(admin_parse_body("", 0, &b, msg, sizeof msg), 0);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_EQUAL(admin_parse_body("{\"a\":1}", 7, &b, msg, sizeof msg), 0);
	CU_ASSERT_TRUE(json_is_object(b));
	json_decref(b);
	CU_ASSERT_EQUAL(admin_parse_body("[1]", 3, &b, msg, sizeof msg), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "not an object"));
	CU_ASSERT_EQUAL(admin_parse_body("{\"a\":1,\"a\":2}", 13, &b, msg, sizeof msg), 400);
	CU_ASSERT_EQUAL(admin_parse_body("{", 1, &b, msg, sizeof msg), 400);
	CU_ASSERT_EQUAL(admin_parse_body(NULL, 10, &b, msg, sizeof msg), 400);
	CU_ASSERT_EQUAL(admin_parse_body("x", ADMIN_BODY_MAX + 1, &b, msg, sizeof msg), 413);
	CU_ASSERT_PTR_NULL(b);
}

static void test_sanction_and_token(void)
{
	struct admin_sanction_args s;
	json_t *b = js("{\"kind\":\"block\",\"duration_ms\":5,\"reason\":\"r\"}");
	CU_ASSERT_PTR_NULL(admin_parse_sanction(b, &s));
	CU_ASSERT_STRING_EQUAL(s.kind, "block");
	CU_ASSERT_EQUAL(s.duration_ms, 5);
	json_decref(b);
	b = js("{\"kind\":\"block\"}");
	CU_ASSERT_STRING_EQUAL(admin_parse_sanction(b, &s), "block needs duration_ms");
	json_decref(b);
	b = js("{\"kind\":\"ban\",\"duration_ms\":-1}");
	CU_ASSERT_PTR_NOT_NULL(admin_parse_sanction(b, &s));
	json_decref(b);
	CU_ASSERT_PTR_NOT_NULL(admin_parse_sanction(NULL, &s));

	struct admin_token_args t;
	b = js("{\"sub\":\"al\",\"roles\":[\"moderator\",\"moderator\"]}");
	CU_ASSERT_PTR_NULL(admin_parse_token(b, &t));
	CU_ASSERT_EQUAL(t.ttl_s, ADMIN_TOKEN_TTL_DEFAULT);
	CU_ASSERT_STRING_EQUAL(t.roles[0], "moderator");
	CU_ASSERT_PTR_NULL(t.roles[1]);
	json_decref(b);
	static const char *const bad[] = {
		"{\"sub\":\"a b\"}", "{\"sub\":\"a\",\"ttl_s\":0}", "{\"sub\":\"a\",\"ttl_s\":\"5\"}",
		"{\"sub\":\"a\",\"ttl_s\":31536001}", "{\"sub\":\"a\",\"roles\":[\"owner\"]}",
		"{\"sub\":\"a\",\"roles\":\"admin\"}",
		"{\"sub\":\"a\",\"roles\":[\"admin\",\"moderator\",\"admin\"]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = js(bad[i]);
		CU_ASSERT_PTR_NOT_NULL(admin_parse_token(b, &t));
		json_decref(b);
	}
}

static void test_resolve_appeal_dryrun(void)
{
	struct admin_resolve_args r;
	json_t *b = js("{\"action\":\"warn\",\"note\":\"be nice\"}");
	CU_ASSERT_PTR_NULL(admin_parse_resolve(b, NULL, &r));
	CU_ASSERT_STRING_EQUAL(r.action, "warn");
	CU_ASSERT_PTR_NULL(admin_parse_resolve(b, "approve", &r));
	CU_ASSERT_STRING_EQUAL(r.action, "approve");
	json_decref(b);
	CU_ASSERT_PTR_NOT_NULL(admin_parse_resolve(NULL, NULL, &r));
	CU_ASSERT_PTR_NULL(admin_parse_resolve(NULL, "grant", &r));
	CU_ASSERT_EQUAL(r.duration_ms, 0);

	const char *text;
	b = js("{\"text\":\"\"}");
	CU_ASSERT_PTR_NOT_NULL(admin_parse_appeal(b, &text));
	json_decref(b);

	struct admin_dryrun_args d;
	CU_ASSERT_PTR_NULL(admin_parse_dryrun(NULL, &d));
	CU_ASSERT_EQUAL(d.limit, ADMIN_DRYRUN_LIMIT);
	CU_ASSERT_EQUAL(d.n_rules, 0);
	b = js("{\"limit\":3,\"rules\":[\"spam\",\"audit\"],\"conversation_id\":\"c1\"}");
	CU_ASSERT_PTR_NULL(admin_parse_dryrun(b, &d));
	CU_ASSERT_EQUAL(d.limit, 3);
	CU_ASSERT_EQUAL(d.n_rules, 2);
	CU_ASSERT_STRING_EQUAL(d.conversation_id, "c1");
	json_decref(b);
	static const char *const bad[] = {
		"{\"rules\":[]}", "{\"rules\":[\"spam\",\"spam\"]}", "{\"rules\":[\"Spam\"]}",
		"{\"limit\":0}", "{\"conversation_id\":\"\"}", "{\"conversation_id\":5}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = js(bad[i]);
		CU_ASSERT_PTR_NOT_NULL(admin_parse_dryrun(b, &d));
		json_decref(b);
	}
}

void unit_register_admin_parse(void)
{
	CU_pSuite s = CU_add_suite("admin_parse", NULL, NULL);
	CU_add_test(s, "every route is found by its own pattern, role enforced",
		    test_every_route_found_by_its_pattern);
	CU_add_test(s, "404, 405, 403 and bad ids", test_route_refusals);
	CU_add_test(s, "path decoding, query, integers, filters, id segments",
		    test_path_and_query);
	CU_add_test(s, "bodies: empty, object, not an object, duplicates, too large", test_body);
	CU_add_test(s, "sanction and token arguments", test_sanction_and_token);
	CU_add_test(s, "resolve, appeal and dry-run arguments", test_resolve_appeal_dryrun);
}
