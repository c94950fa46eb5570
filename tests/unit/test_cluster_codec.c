/* test_cluster_codec.c — the body of "node.<id>" bus messages. */
#include <stdlib.h>
#include <string.h>
#include "../../core/cluster_codec.h"
#include "unit.h"

static void test_roundtrip(void)
{
	const char *users[] = { "alice", "b.o_b@x-1", "carol" };
	const char payload[] = "{\"type\":\"message\",\"text\":\"a b\\nc\"}\n";
	char *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(cluster_encode(users, 3, payload, strlen(payload), &buf, &len), 0);
	const char expect_head[] = "1 alice b.o_b@x-1 carol\n";
	CU_ASSERT_EQUAL(len, strlen(expect_head) + strlen(payload));
	CU_ASSERT(memcmp(buf, expect_head, strlen(expect_head)) == 0);
	/* the payload bytes unchanged, after the header */
	CU_ASSERT(memcmp(buf + strlen(expect_head), payload, strlen(payload)) == 0);
	const char *out[8];
	const char *body;
	size_t body_len;
	int n = cluster_decode(buf, len, out, 8, &body, &body_len);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(out[0], "alice");
	CU_ASSERT_STRING_EQUAL(out[1], "b.o_b@x-1");
	CU_ASSERT_STRING_EQUAL(out[2], "carol");
	CU_ASSERT_EQUAL(body_len, strlen(payload));
	CU_ASSERT(memcmp(body, payload, body_len) == 0);
	free(buf);
}

static void test_encode_refuses(void)
{
	char *buf = NULL;
	size_t len;
	const char *bad[] = { "has space" };
	CU_ASSERT_EQUAL(cluster_encode(bad, 1, "x", 1, &buf, &len), -1);
	const char *nl[] = { "a\nb" };
	CU_ASSERT_EQUAL(cluster_encode(nl, 1, "x", 1, &buf, &len), -1);
	const char *empty[] = { "" };
	CU_ASSERT_EQUAL(cluster_encode(empty, 1, "x", 1, &buf, &len), -1);
	const char *ok[] = { "a" };
	CU_ASSERT_EQUAL(cluster_encode(ok, 0, "x", 1, &buf, &len), -1);
	char longid[70];
	memset(longid, 'a', 65);
	longid[65] = '\0';
	const char *lng[] = { longid };
	CU_ASSERT_EQUAL(cluster_encode(lng, 1, "x", 1, &buf, &len), -1);
	CU_ASSERT_PTR_NULL(buf);
	/* the limit itself */
	const char **many = calloc(CLUSTER_USERS_MAX + 1, sizeof *many);
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	for (size_t i = 0; i <= CLUSTER_USERS_MAX; i++)
		many[i] = "u";
	CU_ASSERT_EQUAL(cluster_encode(many, CLUSTER_USERS_MAX + 1, "x", 1, &buf, &len), -1);
	CU_ASSERT_EQUAL(cluster_encode(many, CLUSTER_USERS_MAX, "x", 1, &buf, &len), 0);
	const char **out = calloc(CLUSTER_USERS_MAX, sizeof *out);
	const char *body;
	size_t bl;
	CU_ASSERT_EQUAL(cluster_decode(buf, len, out, CLUSTER_USERS_MAX, &body, &bl),
			CLUSTER_USERS_MAX);
	free(out);
	free(buf);
	free(many);
}

static int decode_str(const char *s)
{
	char buf[256];
	size_t len = strlen(s);
	memcpy(buf, s, len + 1);
	const char *out[4];
	const char *body;
	size_t bl;
	return cluster_decode(buf, len, out, 4, &body, &bl);
}

static void test_decode_refuses(void)
{
	CU_ASSERT_EQUAL(decode_str(""), -1);
	CU_ASSERT_EQUAL(decode_str("1 alice"), -1);          /* no newline */
	CU_ASSERT_EQUAL(decode_str("2 alice\n{}"), -1);      /* unknown version */
	CU_ASSERT_EQUAL(decode_str("1 \n{}"), -1);           /* no user */
	CU_ASSERT_EQUAL(decode_str("1 a  b\n{}"), -1);       /* empty user */
	CU_ASSERT_EQUAL(decode_str("1 a\tb\n{}"), -1);       /* bad byte */
	CU_ASSERT_EQUAL(decode_str("1 a b c d e\n{}"), -1);  /* over max (4) */
	CU_ASSERT_EQUAL(decode_str("1 a\n"), 1);             /* empty payload is a payload */
	CU_ASSERT_EQUAL(decode_str("1 a b c d\n{}"), 4);
}

static void test_group_by_node(void)
{
	const char *users[] = { "alice", "bob", "carol", "dave" };
	const char *a_nodes[] = { "n1", "n2" }, *b_nodes[] = { "n2" },
		   *c_nodes[] = { "n3", "n1", "" }, *long_node[1];
	char longid[70];
	memset(longid, 'n', 65);
	longid[65] = '\0';
	long_node[0] = longid;
	struct chatd_presence_loc locs[] = {
		{ "alice", a_nodes, 2 }, { "bob", b_nodes, 1 }, { "carol", c_nodes, 3 },
		{ "dave", long_node, 1 },
	};
	struct cluster_group *g;
	int n = cluster_group(users, locs, 4, "n1", &g);   /* n1 is this node */
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(g[0].node, "n2");           /* first seen first */
	CU_ASSERT_EQUAL_FATAL(g[0].n, 2);
	CU_ASSERT_STRING_EQUAL(g[0].users[0], "alice");
	CU_ASSERT_STRING_EQUAL(g[0].users[1], "bob");
	CU_ASSERT_STRING_EQUAL(g[1].node, "n3");
	CU_ASSERT_EQUAL_FATAL(g[1].n, 1);
	CU_ASSERT_STRING_EQUAL(g[1].users[0], "carol");
	cluster_groups_free(g, (size_t)n);
	/* nobody elsewhere: no group */
	struct chatd_presence_loc none[] = { { "alice", NULL, 0 }, { "bob", b_nodes, 1 } };
	CU_ASSERT_EQUAL(cluster_group(users, none, 2, "n2", &g), 0);
	CU_ASSERT_PTR_NULL(g);
	cluster_groups_free(g, 0);
}

static void test_fan_roundtrip(void)
{
	const char ts[] = "{\"type\":\"message\",\"client_message_id\":\"x\"}";
	const char to[] = "{\"type\":\"message\",\"text\":\"F1 d\\n\"}";
	struct cluster_fan m = { .kind = 'd', .origin = "n1", .conv = "c0ffee", .sender = "alice",
				 .seq = 42, .member_count = 7, .f1 = ts, .f1_len = strlen(ts),
				 .f2 = to, .f2_len = strlen(to) };
	char *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(cluster_fan_encode(&m, &buf, &len), 0);
	const char head[] = "F1 d n1 c0ffee alice 42 7 ";
	CU_ASSERT(memcmp(buf, head, strlen(head)) == 0);
	struct cluster_fan d;
	CU_ASSERT_EQUAL_FATAL(cluster_fan_decode(buf, len, &d), 0);
	CU_ASSERT_EQUAL(d.kind, 'd');
	CU_ASSERT_STRING_EQUAL(d.origin, "n1");
	CU_ASSERT_STRING_EQUAL(d.conv, "c0ffee");
	CU_ASSERT_STRING_EQUAL(d.sender, "alice");
	CU_ASSERT_EQUAL(d.seq, 42);
	CU_ASSERT_EQUAL(d.member_count, 7);
	CU_ASSERT_EQUAL_FATAL(d.f1_len, strlen(ts));
	CU_ASSERT(memcmp(d.f1, ts, d.f1_len) == 0);
	CU_ASSERT_EQUAL_FATAL(d.f2_len, strlen(to));
	CU_ASSERT(memcmp(d.f2, to, d.f2_len) == 0);
	free(buf);

	struct cluster_fan e = { .kind = 'm', .origin = "node-2", .conv = "c1", .f1 = to,
				 .f1_len = strlen(to) };
	CU_ASSERT_EQUAL_FATAL(cluster_fan_encode(&e, &buf, &len), 0);
	CU_ASSERT(memcmp(buf, "F1 m node-2 c1 - 0 0 ", 21) == 0);
	CU_ASSERT_EQUAL_FATAL(cluster_fan_decode(buf, len, &d), 0);
	CU_ASSERT_EQUAL(d.kind, 'm');
	CU_ASSERT_PTR_NULL(d.sender);
	CU_ASSERT_PTR_NULL(d.f2);
	CU_ASSERT_EQUAL(d.f2_len, 0);
	CU_ASSERT_EQUAL_FATAL(d.f1_len, strlen(to));
	CU_ASSERT(memcmp(d.f1, to, d.f1_len) == 0);
	free(buf);
}

static int fan_decodes(const char *text)
{
	size_t len = strlen(text);
	char *b = malloc(len + 1);
	memcpy(b, text, len + 1);
	struct cluster_fan m;
	int r = cluster_fan_decode(b, len, &m);
	free(b);
	return r;
}

static void test_fan_refuses(void)
{
	CU_ASSERT_EQUAL(fan_decodes("F1 m n1 c1 - 0 0 2\n{}"), 0);          /* the valid base */
	CU_ASSERT_EQUAL(fan_decodes("F1 m n1 c1 - 0 0 3\n{}"), -1);         /* length past the end */
	CU_ASSERT_EQUAL(fan_decodes("F1 m n1 c1 - 0 0 1\n{}"), -1);         /* 'm' with a 2nd frame */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al 1 2 2\n{}"), -1);        /* 'd' without one */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al 1 2 2\n{}{}"), 0);
	CU_ASSERT_EQUAL(fan_decodes("F1 x n1 c1 al 1 2 2\n{}{}"), -1);      /* kind */
	CU_ASSERT_EQUAL(fan_decodes("F2 d n1 c1 al 1 2 2\n{}{}"), -1);      /* version */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 a/l 1 2 2\n{}{}"), -1);     /* id character */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al -1 2 2\n{}{}"), -1);     /* sign */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al 1 2 0\n{}{}"), -1);      /* empty frame */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al 1 2 2 9\n{}{}"), -1);    /* extra field */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al 1 2\n{}{}"), -1);        /* missing field */
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al 1 2 99999999999999999999\n{}{}"), -1);
	CU_ASSERT_EQUAL(fan_decodes("F1 d n1 c1 al 1 2 2"), -1);             /* no newline */
	CU_ASSERT_EQUAL(fan_decodes(""), -1);
	struct cluster_fan bad = { .kind = 'd', .origin = "n 1", .conv = "c", .sender = "a",
				   .f1 = "{}", .f1_len = 2, .f2 = "{}", .f2_len = 2 };
	char *buf;
	size_t len;
	CU_ASSERT_EQUAL(cluster_fan_encode(&bad, &buf, &len), -1);
	bad.origin = "n1";
	bad.f2 = NULL;
	CU_ASSERT_EQUAL(cluster_fan_encode(&bad, &buf, &len), -1);
}

void unit_register_cluster_codec(void)
{
	CU_pSuite s = CU_add_suite("cluster_codec", NULL, NULL);
	CU_add_test(s, "encode/decode round trip, payload unchanged", test_roundtrip);
	CU_add_test(s, "encode refuses bad ids and counts", test_encode_refuses);
	CU_add_test(s, "decode refuses malformed bodies", test_decode_refuses);
	CU_add_test(s, "locate answer grouped by node, self skipped", test_group_by_node);
	CU_add_test(s, "fan-out message round trip, both kinds", test_fan_roundtrip);
	CU_add_test(s, "fan-out message: malformed refused", test_fan_refuses);
}
