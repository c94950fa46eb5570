/* test_conncap.c — the per-address connection cap: address and CIDR
 * parsing and matching (IPv4, IPv6, IPv4-mapped), the counting table, and
 * server.connection_cap_exempt in the config. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "config.h"
#include "gw_conncap.h"
#include "netaddr.h"
#include "unit.h"

static struct netaddr addr(const char *text)
{
	struct netaddr_cidr c;
	const char *why = NULL;
	CU_ASSERT_EQUAL_FATAL(netaddr_cidr_parse(text, &c, &why), 0);
	return c.addr;
}

static bool matches(const char *block, const char *a)
{
	struct netaddr_cidr c;
	const char *why = NULL;
	CU_ASSERT_EQUAL_FATAL(netaddr_cidr_parse(block, &c, &why), 0);
	struct netaddr x = addr(a);
	return netaddr_cidr_match(&c, &x);
}

static void test_parse(void)
{
	struct netaddr_cidr c;
	const char *why = NULL;
	CU_ASSERT_EQUAL(netaddr_cidr_parse("127.0.0.0/8", &c, &why), 0);
	CU_ASSERT_EQUAL(c.bits, 104);
	CU_ASSERT_EQUAL(netaddr_cidr_parse("10.1.2.3", &c, &why), 0);
	CU_ASSERT_EQUAL(c.bits, 128);
	CU_ASSERT_EQUAL(netaddr_cidr_parse("::1/128", &c, &why), 0);
	CU_ASSERT_EQUAL(c.bits, 128);
	CU_ASSERT_EQUAL(netaddr_cidr_parse("2001:db8::/32", &c, &why), 0);
	CU_ASSERT_EQUAL(c.bits, 32);
	CU_ASSERT_EQUAL(netaddr_cidr_parse("0.0.0.0/0", &c, &why), 0);
	CU_ASSERT_EQUAL(c.bits, 96);
	CU_ASSERT_EQUAL(netaddr_cidr_parse("::/0", &c, &why), 0);
	CU_ASSERT_EQUAL(c.bits, 0);
	const char *bad[] = { "", "1.2.3", "1.2.3.4/33", "::1/129", "10.0.0.1/8", "1.2.3.4/",
			      "1.2.3.4/x", "1.2.3.4/-1", "1.2.3.4/8x", "host.example", "1.2.3.4 ",
			      "2001:db8::1/32", "1.2.3.4/0008",
			      "0123456789012345678901234567890123456789012345678901234567890123456789" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		CU_ASSERT_EQUAL(netaddr_cidr_parse(bad[i], &c, &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	CU_ASSERT_EQUAL(netaddr_cidr_parse(NULL, &c, &why), -1);
}

static void test_match(void)
{
	CU_ASSERT_TRUE(matches("127.0.0.0/8", "127.0.0.1"));
	CU_ASSERT_TRUE(matches("127.0.0.0/8", "127.255.255.255"));
	CU_ASSERT_FALSE(matches("127.0.0.0/8", "128.0.0.1"));
	CU_ASSERT_TRUE(matches("10.1.2.3", "10.1.2.3"));
	CU_ASSERT_FALSE(matches("10.1.2.3", "10.1.2.4"));
	CU_ASSERT_TRUE(matches("192.168.0.0/23", "192.168.1.200"));
	CU_ASSERT_FALSE(matches("192.168.0.0/23", "192.168.2.0"));
	CU_ASSERT_TRUE(matches("0.0.0.0/0", "8.8.8.8"));
	CU_ASSERT_FALSE(matches("0.0.0.0/0", "2001:db8::1"));  /* IPv4 blocks hold only IPv4 */
	CU_ASSERT_TRUE(matches("::/0", "8.8.8.8"));
	CU_ASSERT_TRUE(matches("::1/128", "::1"));
	CU_ASSERT_FALSE(matches("::1/128", "127.0.0.1"));
	CU_ASSERT_TRUE(matches("2001:db8::/32", "2001:db8:ffff::5"));
	CU_ASSERT_FALSE(matches("2001:db8::/32", "2001:db9::5"));
	/* An IPv4-mapped IPv6 address is that IPv4 address, both ways. */
	CU_ASSERT_TRUE(matches("127.0.0.0/8", "::ffff:127.0.0.1"));
	CU_ASSERT_TRUE(matches("::ffff:10.0.0.0/104", "10.9.9.9"));
	CU_ASSERT_EQUAL(memcmp(addr("::ffff:1.2.3.4").b, addr("1.2.3.4").b, 16), 0);
	/* Non-byte-aligned prefixes. */
	CU_ASSERT_TRUE(matches("10.0.0.0/9", "10.127.0.1"));
	CU_ASSERT_FALSE(matches("10.0.0.0/9", "10.128.0.1"));
	CU_ASSERT_TRUE(matches("2001:db8:8000::/33", "2001:db8:ffff::1"));
	CU_ASSERT_FALSE(matches("2001:db8:8000::/33", "2001:db8:7fff::1"));
}

static void test_sockaddr(void)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	inet_pton(AF_INET, "192.0.2.7", &s4.sin_addr);
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr);
	struct netaddr a, b;
	CU_ASSERT_EQUAL(netaddr_from_sockaddr((struct sockaddr *)&s4, sizeof s4, &a), 0);
	CU_ASSERT_EQUAL(netaddr_from_sockaddr((struct sockaddr *)&s6, sizeof s6, &b), 0);
	CU_ASSERT_EQUAL(memcmp(a.b, b.b, 16), 0);
	CU_ASSERT_EQUAL(netaddr_from_sockaddr((struct sockaddr *)&s4, 4, &a), -1);
	struct sockaddr un = { .sa_family = AF_UNIX };
	CU_ASSERT_EQUAL(netaddr_from_sockaddr(&un, sizeof un, &a), -1);
	char buf[64];
	netaddr_format(&b, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "192.0.2.7");
	struct netaddr v6 = addr("2001:db8::1");
	netaddr_format(&v6, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "2001:db8::1");
}

static void test_counting(void)
{
	struct netaddr_cidr ex[1];
	const char *why;
	CU_ASSERT_EQUAL_FATAL(netaddr_cidr_parse("127.0.0.0/8", &ex[0], &why), 0);
	struct gw_conncap cc;
	CU_ASSERT_EQUAL_FATAL(gw_conncap_init(&cc, 3, ex, 1), 0);
	struct netaddr a = addr("192.0.2.1"), b = addr("::ffff:192.0.2.2"), lo = addr("127.0.0.1");

	/* Up to the cap: nothing over. */
	for (uint64_t k = 1; k <= 3; k++) {
		CU_ASSERT_EQUAL(gw_conncap_check(&cc, &a), GW_CAP_OK);
		CU_ASSERT_EQUAL(gw_conncap_add(&cc, k, &a), 0);
		CU_ASSERT_FALSE(gw_conncap_over(&cc, k));
	}
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &a), 3);
	/* The fourth is over; so, while it lives, are the first three. */
	CU_ASSERT_EQUAL(gw_conncap_add(&cc, 4, &a), 0);
	CU_ASSERT_TRUE(gw_conncap_over(&cc, 4));
	CU_ASSERT_TRUE(gw_conncap_over(&cc, 1));
	/* Another address is not affected. */
	CU_ASSERT_EQUAL(gw_conncap_add(&cc, 10, &b), 0);
	CU_ASSERT_FALSE(gw_conncap_over(&cc, 10));
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &b), 1);
	CU_ASSERT_EQUAL(memcmp(gw_conncap_addr(&cc, 10)->b, b.b, 16), 0);
	CU_ASSERT_PTR_NULL(gw_conncap_addr(&cc, 99));
	/* Closing the refused one frees its slot. */
	CU_ASSERT_TRUE(gw_conncap_remove(&cc, 4));
	CU_ASSERT_FALSE(gw_conncap_remove(&cc, 4));   /* exactly once */
	CU_ASSERT_FALSE(gw_conncap_over(&cc, 1));
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &a), 3);
	/* Past 2 × cap: dropped at accept. */
	for (uint64_t k = 4; k <= 6; k++)
		CU_ASSERT_EQUAL(gw_conncap_add(&cc, k, &a), 0);
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &a), 6);
	CU_ASSERT_EQUAL(gw_conncap_check(&cc, &a), GW_CAP_DROP);
	CU_ASSERT_EQUAL(gw_conncap_check(&cc, &b), GW_CAP_OK);
	/* Exempt: never counted, never over. */
	CU_ASSERT_EQUAL(gw_conncap_check(&cc, &lo), GW_CAP_EXEMPT);
	for (uint64_t k = 100; k < 110; k++)
		CU_ASSERT_EQUAL(gw_conncap_add(&cc, k, &lo), 0);
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &lo), 0);
	CU_ASSERT_FALSE(gw_conncap_over(&cc, 105));
	CU_ASSERT_FALSE(gw_conncap_remove(&cc, 105));
	/* A key counted again (its close was lost) releases the old count. */
	CU_ASSERT_EQUAL(gw_conncap_add(&cc, 10, &a), 0);
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &b), 0);
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &a), 7);
	CU_ASSERT_EQUAL(gw_conncap_total(&cc), 7);
	/* Everything closed: the table is empty again. */
	for (uint64_t k = 1; k <= 10; k++)
		gw_conncap_remove(&cc, k);
	CU_ASSERT_EQUAL(gw_conncap_count(&cc, &a), 0);
	CU_ASSERT_EQUAL(gw_conncap_total(&cc), 0);
	CU_ASSERT_EQUAL(cc.addrs.count, 0);
	gw_conncap_destroy(&cc);
}

#define BASE \
	"plugins = { storage = \"sqlite\", presence = \"local\", bus = \"local\", fanout = \"online\" }\n" \
	"auth = { secret = \"0123456789abcdef\" }\n"

static int load(const char *text, struct chatd_config **cfg, struct cfg_errors *e)
{
	return cfg_load_string(text, strlen(text), "t.conf", cfg, e);
}

static bool has_err(const struct cfg_errors *e, const char *needle)
{
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->msgs[i], needle))
			return true;
	return false;
}

static void test_config(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	/* Default: loopback exempt, cap 256, handshake 10 s. */
	CU_ASSERT_EQUAL_FATAL(load(BASE, &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg->max_connections_per_ip, 256);
	CU_ASSERT_EQUAL(cfg->handshake_timeout_s, 10);
	CU_ASSERT_EQUAL(cfg->n_cap_exempt, 2);
	struct netaddr lo = addr("127.0.0.1"), lo6 = addr("::1"), other = addr("192.0.2.1");
	CU_ASSERT_TRUE(netaddr_in_list(cfg->cap_exempt, cfg->n_cap_exempt, &lo));
	CU_ASSERT_TRUE(netaddr_in_list(cfg->cap_exempt, cfg->n_cap_exempt, &lo6));
	CU_ASSERT_FALSE(netaddr_in_list(cfg->cap_exempt, cfg->n_cap_exempt, &other));
	cfg_free(cfg);
	cfg = NULL;
	/* An empty list exempts nothing. */
	CU_ASSERT_EQUAL_FATAL(load(BASE "server = { connection_cap_exempt = {}, "
				  "max_connections_per_ip = 3 }\n", &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg->n_cap_exempt, 0);
	CU_ASSERT_EQUAL(cfg->max_connections_per_ip, 3);
	cfg_free(cfg);
	cfg = NULL;
	CU_ASSERT_EQUAL_FATAL(load(BASE "server = { connection_cap_exempt = { \"10.0.0.0/8\", "
				  "\"2001:db8::1\" } }\n", &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg->n_cap_exempt, 2);
	CU_ASSERT_FALSE(netaddr_in_list(cfg->cap_exempt, cfg->n_cap_exempt, &lo));
	cfg_free(cfg);
	cfg = NULL;
	/* Every bad entry is named. */
	CU_ASSERT_EQUAL(load(BASE "server = { connection_cap_exempt = { \"10.0.0.1/8\", 5, "
			     "\"nope\" }, max_connections_per_ip = 0 }\n", &cfg, &e),
			CHATD_ERR_INVALID);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_TRUE(has_err(&e, "server.connection_cap_exempt: [1] \"10.0.0.1/8\""));
	CU_ASSERT_TRUE(has_err(&e, "server.connection_cap_exempt: [2]: expected a string"));
	CU_ASSERT_TRUE(has_err(&e, "[3] \"nope\": not an IPv4 or IPv6 address"));
	CU_ASSERT_TRUE(has_err(&e, "server.max_connections_per_ip"));
	cfg_errors_clear(&e);
	CU_ASSERT_EQUAL(load(BASE "server = { connection_cap_exempt = \"127.0.0.1\" }\n", &cfg,
			     &e), CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(has_err(&e, "expected a list"));
	cfg_errors_clear(&e);
	CU_ASSERT_EQUAL(load(BASE "server = { connection_cap_exempt = { a = \"127.0.0.1\" } }\n",
			     &cfg, &e), CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(has_err(&e, "not a table with names"));
	cfg_errors_clear(&e);
	CU_ASSERT_EQUAL(load(BASE "server = { handshake_timeout_s = 0 }\n", &cfg, &e),
			CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(has_err(&e, "server.handshake_timeout_s"));
	cfg_errors_clear(&e);
}

void unit_register_conncap(void)
{
	CU_pSuite s = CU_add_suite("conncap", NULL, NULL);
	CU_add_test(s, "CIDR parsing", test_parse);
	CU_add_test(s, "CIDR matching, IPv4-mapped", test_match);
	CU_add_test(s, "socket addresses", test_sockaddr);
	CU_add_test(s, "counting table", test_counting);
	CU_add_test(s, "server.connection_cap_exempt and friends", test_config);
}
