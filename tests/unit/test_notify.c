/* test_notify.c — notifications: storage_sqlite's notify_mute_set and
 * notify_targets (ABI 1.4), and notify_webhook's pure parts (URL parsing,
 * payload, signature). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/hmac.h>
#include <CUnit/CUnit.h>
#include "sqlite_fixture.h"
#include "stub_host.h"
#include "unit.h"
#include "../../plugins/notify_webhook/nw.h"

struct users_out {
	int status;
	size_t n;
	char users[8][16];
};

static void users_cb(void *arg, int status, const char *const *users, size_t n)
{
	struct users_out *o = arg;
	o->status = status;
	o->n = n;
	for (size_t i = 0; i < n && i < 8; i++)
		snprintf(o->users[i], sizeof o->users[i], "%s", users[i]);
	g_pending--;
}

static void st_cb(void *arg, int status)
{
	*(int *)arg = status;
	g_pending--;
}

static int mute(struct store *s, const char *cid, const char *user, int64_t until)
{
	int out = 1;
	int st = s->ops->notify_mute_set(s->inst, cid, user, until, st_cb, &out);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return out;
}

static int targets_max(struct store *s, const char *cid, const char *exclude, int64_t now,
		       size_t max, struct users_out *o)
{
	memset(o, 0, sizeof *o);
	int st = s->ops->notify_targets(s->inst, cid, exclude, now, max, users_cb, o);
	if (st < 0)
		return st;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return o->status;
}

static int targets(struct store *s, const char *cid, const char *exclude, int64_t now,
		   struct users_out *o)
{
	return targets_max(s, cid, exclude, now, 100, o);
}

static void test_mutes_and_targets(void)
{
	struct store s;
	struct conv_out g;
	struct users_out o;
	host_up("notify.db", NULL);
	CU_ASSERT_FATAL(store_open(&s) == CHATD_OK);
	const char *m[] = { "bob", "carol", "dave" };
	CU_ASSERT_FATAL(group_sync(&s, "alice", "g", m, 3, 10, &g) == CHATD_OK);
	CU_ASSERT(targets(&s, g.cid, "alice", 1000, &o) == CHATD_OK && o.n == 3);
	CU_ASSERT(strcmp(o.users[0], "bob") == 0 && strcmp(o.users[2], "dave") == 0);
	CU_ASSERT(mute(&s, g.cid, "carol", 5000) == CHATD_OK);
	CU_ASSERT(targets(&s, g.cid, "alice", 1000, &o) == CHATD_OK && o.n == 2);
	CU_ASSERT(strcmp(o.users[0], "bob") == 0 && strcmp(o.users[1], "dave") == 0);
	CU_ASSERT(targets(&s, g.cid, "bob", 5000, &o) == CHATD_OK && o.n == 3);  /* ended */
	CU_ASSERT(strcmp(o.users[0], "alice") == 0);
	CU_ASSERT(mute(&s, g.cid, "carol", 0) == CHATD_OK);
	CU_ASSERT(targets(&s, g.cid, "alice", 1000, &o) == CHATD_OK && o.n == 3);
	/* Not a member, no such conversation, bad input. */
	CU_ASSERT(mute(&s, g.cid, "mallory", 5000) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(mute(&s, "cnope", "bob", 5000) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(mute(&s, g.cid, "bob", -1) == CHATD_ERR_INVALID);
	CU_ASSERT(targets(&s, "cnope", "alice", 1000, &o) == CHATD_OK && o.n == 0);
	CU_ASSERT(targets(&s, "", "alice", 1000, &o) == CHATD_ERR_INVALID);
	CU_ASSERT(targets_max(&s, g.cid, "alice", 1000, 0, &o) == CHATD_ERR_INVALID);
	/* The bound: exactly max is fine, one more is TOO_LARGE with none. */
	CU_ASSERT(targets_max(&s, g.cid, "alice", 1000, 3, &o) == CHATD_OK && o.n == 3);
	CU_ASSERT(targets_max(&s, g.cid, "alice", 1000, 2, &o) == CHATD_ERR_TOO_LARGE && o.n == 0);
	/* The moderation mute is another column. */
	CU_ASSERT(mute(&s, g.cid, "dave", 9000) == CHATD_OK);
	CU_ASSERT(sql_int("notify.db", "SELECT muted_until FROM members WHERE user_id = 'dave'") ==
		  0);
	store_close(&s);
	stub_host_teardown();
}

static void test_webhook_url(void)
{
	struct nw_url u;
	char err[160];
	CU_ASSERT(nw_url_parse("http://127.0.0.1:8088/hook", &u, err, sizeof err) == 0);
	CU_ASSERT(strcmp(u.host, "127.0.0.1") == 0 && strcmp(u.port, "8088") == 0 &&
		  strcmp(u.path, "/hook") == 0);
	CU_ASSERT(nw_url_parse("http://push.local", &u, err, sizeof err) == 0);
	CU_ASSERT(strcmp(u.port, "80") == 0 && strcmp(u.path, "/") == 0);
	const char *bad[] = { "https://x/", "http://", "http://h:0/", "http://h:99999/",
			      "http://h:x/", "ftp://h/", "http://h/a b", "http://h:80x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT(nw_url_parse(bad[i], &u, err, sizeof err) < 0 && err[0]);
}

static void test_webhook_payload_and_signature(void)
{
	struct nw_item it = {
		.conversation_id = "c1", .sender_id = "alice", .message_id = "mc1-1",
		.text = "h\xc3\xa9llo \"x\"", .truncated = true, .seq = 1, .ts = 77,
	};
	struct nw_item it2 = { .conversation_id = "c1", .sender_id = "alice",
			       .message_id = "mc1-2", .media = true, .seq = 2, .ts = 78 };
	it.next = &it2;
	struct nw_batch b = { .items = &it, .n = 2 };
	snprintf(b.recipient, sizeof b.recipient, "bob");
	snprintf(b.delivery, sizeof b.delivery, "d1");
	char *body = nw_body(&b, 1234);
	CU_ASSERT_FATAL(body != NULL);
	CU_ASSERT(strcmp(body, "{\"type\":\"chatd.notification\",\"delivery_id\":\"d1\","
			       "\"recipient\":\"bob\",\"created_at\":1234,\"count\":2,\"messages\":["
			       "{\"conversation_id\":\"c1\",\"seq\":1,\"message_id\":\"mc1-1\","
			       "\"sender_id\":\"alice\",\"ts\":77,\"text\":\"h\\u00E9llo \\\"x\\\"\","
			       "\"truncated\":true},{\"conversation_id\":\"c1\",\"seq\":2,"
			       "\"message_id\":\"mc1-2\",\"sender_id\":\"alice\",\"ts\":78,"
			       "\"media\":true}]}") == 0);
	char sig[128];
	CU_ASSERT(nw_sign("0123456789abcdef", 1700000000, body, sig, sizeof sig) == 0);
	/* The documented bytes: "<t>." + body. */
	char *msg = malloc(strlen(body) + 16);
	CU_ASSERT_FATAL(msg != NULL);
	sprintf(msg, "1700000000.%s", body);
	unsigned char mac[32];
	unsigned int ml = 0;
	HMAC(EVP_sha256(), "0123456789abcdef", 16, (unsigned char *)msg, strlen(msg), mac, &ml);
	char want[128];
	int n = snprintf(want, sizeof want, "t=1700000000,v1=");
	for (int i = 0; i < 32; i++)
		n += snprintf(want + n, sizeof want - (size_t)n, "%02x", mac[i]);
	CU_ASSERT(strcmp(sig, want) == 0);
	CU_ASSERT(nw_sign("0123456789abcdef", 1700000000, body, sig, 32) < 0);
	free(msg);
	free(body);
}

void unit_register_notify(void)
{
	CU_pSuite s = CU_add_suite("storage_notify", sqlite_suite_init, sqlite_suite_clean);
	CU_add_test(s, "notify_mute_set and notify_targets", test_mutes_and_targets);
	CU_pSuite w = CU_add_suite("notify_webhook", NULL, NULL);
	CU_add_test(w, "url", test_webhook_url);
	CU_add_test(w, "payload and signature", test_webhook_payload_and_signature);
}
