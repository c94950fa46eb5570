/* test_proto_decode.c — the gateway's frame decoder and field helpers. */
#include <string.h>
#include "proto_decode.h"
#include "unit.h"

static enum proto_decode_status dec(const char *s, struct proto_envelope *env)
{
	return proto_decode(s, strlen(s), env);
}

static void test_valid_envelope(void)
{
	struct proto_envelope env;
	CU_ASSERT_EQUAL(dec("{\"type\":\"send\",\"id\":\"r1\",\"x\":1}", &env), PD_OK);
	CU_ASSERT_STRING_EQUAL(env.type, "send");
	CU_ASSERT_TRUE(env.has_id);
	CU_ASSERT_STRING_EQUAL(env.id, "r1");
	json_decref(env.root);
	CU_ASSERT_EQUAL(dec("{\"type\":\"ping\"}", &env), PD_OK);
	CU_ASSERT_FALSE(env.has_id);
	json_decref(env.root);
}

static void test_bad_utf8(void)
{
	struct proto_envelope env;
	const char bad[] = "{\"type\":\"send\",\"text\":\"\xc3\x28\"}";
	CU_ASSERT_EQUAL(proto_decode(bad, sizeof bad - 1, &env), PD_BAD_UTF8);
	CU_ASSERT_PTR_NULL(env.root);
}

static void test_bad_requests(void)
{
	struct proto_envelope env;
	const char *cases[] = {
		"not json", "[1,2]", "\"str\"", "{}", "{\"type\":5}", "{\"type\":\"\"}",
		"{\"type\":\"send\",\"type\":\"edit\"}", "{\"type\":\"a\",\"id\":7}",
		"{\"type\":\"send\",\"text\":\"a\\u0000b\"}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CU_ASSERT_EQUAL(dec(cases[i], &env), PD_BAD_REQUEST);
		CU_ASSERT_PTR_NULL(env.root);
		CU_ASSERT_TRUE(strlen(env.err) > 0);
	}
	/* An invalid id is reported without an id. */
	CU_ASSERT_EQUAL(dec("{\"type\":\"x\",\"id\":7}", &env), PD_BAD_REQUEST);
	CU_ASSERT_FALSE(env.has_id);
	/* A valid id is kept even when the type is missing. */
	CU_ASSERT_EQUAL(dec("{\"id\":\"r9\"}", &env), PD_BAD_REQUEST);
	CU_ASSERT_TRUE(env.has_id);
	CU_ASSERT_STRING_EQUAL(env.id, "r9");
}

static void test_id_length(void)
{
	struct proto_envelope env;
	char buf[512];
	char id[300];
	memset(id, 'a', 64);
	id[64] = '\0';
	snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
	CU_ASSERT_EQUAL(dec(buf, &env), PD_OK);
	json_decref(env.root);
	memset(id, 'a', 65);
	id[65] = '\0';
	snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
	CU_ASSERT_EQUAL(dec(buf, &env), PD_BAD_REQUEST);
	CU_ASSERT_FALSE(env.has_id);
	/* 64 two-byte characters are 64 characters. */
	id[0] = '\0';
	for (int i = 0; i < 64; i++)
		strcat(id, "\xc3\xa9");
	snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
	CU_ASSERT_EQUAL(dec(buf, &env), PD_OK);
	CU_ASSERT_EQUAL(strlen(env.id), 128);
	json_decref(env.root);
}

static void test_field_helpers(void)
{
	char err[128];
	json_t *o = json_loads("{\"a\":\"xyz\",\"n\":5,\"b\":true,\"s\":\"\",\"f\":1.5}", 0, NULL);
	const char *s = NULL;
	long long n = 0;
	bool b = false;
	CU_ASSERT_TRUE(proto_get_id_string(o, "a", true, 1, 64, &s, err));
	CU_ASSERT_STRING_EQUAL(s, "xyz");
	CU_ASSERT_FALSE(proto_get_id_string(o, "a", true, 1, 2, &s, err));
	CU_ASSERT_FALSE(proto_get_id_string(o, "s", true, 1, 64, &s, err));
	CU_ASSERT_FALSE(proto_get_id_string(o, "missing", true, 1, 64, &s, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing"));
	s = NULL;
	CU_ASSERT_TRUE(proto_get_id_string(o, "missing", false, 1, 64, &s, err));
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_FALSE(proto_get_id_string(o, "n", true, 1, 64, &s, err));
	CU_ASSERT_TRUE(proto_get_int(o, "n", true, 1, 10, &n, err));
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_FALSE(proto_get_int(o, "n", true, 6, 10, &n, err));
	CU_ASSERT_FALSE(proto_get_int(o, "f", true, 0, 10, &n, err));
	CU_ASSERT_FALSE(proto_get_int(o, "a", true, 0, 10, &n, err));
	CU_ASSERT_TRUE(proto_get_bool(o, "b", &b, err));
	CU_ASSERT_TRUE(b);
	CU_ASSERT_FALSE(proto_get_bool(o, "n", &b, err));
	json_decref(o);
}

void unit_register_proto_decode(void)
{
	CU_pSuite s = CU_add_suite("proto_decode", NULL, NULL);
	CU_add_test(s, "valid envelope", test_valid_envelope);
	CU_add_test(s, "invalid UTF-8", test_bad_utf8);
	CU_add_test(s, "bad requests", test_bad_requests);
	CU_add_test(s, "id length in characters", test_id_length);
	CU_add_test(s, "field helpers", test_field_helpers);
}
