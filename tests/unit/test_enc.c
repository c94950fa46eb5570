/* test_enc.c — the sealed form of encryption at rest (core/enc.c): round
 * trip, tampering, AAD binding, unknown key ids, key parsing. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "enc.h"
#include "chatd/status.h"

static struct enc_key keys[2];
static struct enc_keyring ring = { keys, 2, &keys[0] };

static void setup_ring(void)
{
	memset(keys, 0, sizeof keys);
	strcpy(keys[0].id, "k1");
	memset(keys[0].key, 0x11, ENC_KEY_LEN);
	strcpy(keys[1].id, "k2");
	memset(keys[1].key, 0x22, ENC_KEY_LEN);
}

static void test_round_trip(void)
{
	setup_ring();
	const char *texts[] = { "hello", "", "caf\xC3\xA9 \xF0\x9F\x98\x80", "a:b:c" };
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		char *s = NULL, *p = NULL, kid[ENC_KEY_ID_MAX + 1];
		CU_ASSERT_EQUAL_FATAL(enc_seal(&keys[1], "c1", "alice", texts[i], &s), CHATD_OK);
		CU_ASSERT_TRUE(enc_is_sealed(s));
		CU_ASSERT_EQUAL(strncmp(s, ENC_PREFIX "k2:", strlen(ENC_PREFIX "k2:")), 0);
		CU_ASSERT_TRUE(enc_sealed_key_id(s, kid));
		CU_ASSERT_STRING_EQUAL(kid, "k2");
		if (texts[i][0])
			CU_ASSERT_PTR_NULL(strstr(s, texts[i]));
		CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", s, &p, kid), CHATD_OK);
		CU_ASSERT_STRING_EQUAL(p, texts[i]);
		free(p);
		free(s);
	}
	/* Two seals of one text differ (fresh nonces). */
	char *a = NULL, *b = NULL;
	enc_seal(&keys[0], "c1", "alice", "same", &a);
	enc_seal(&keys[0], "c1", "alice", "same", &b);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	free(a);
	free(b);
}

static void test_tamper_fails(void)
{
	setup_ring();
	char *s = NULL, *p = NULL;
	CU_ASSERT_EQUAL_FATAL(enc_seal(&keys[0], "c1", "alice", "attack at dawn", &s), CHATD_OK);
	size_t n = strlen(s);
	size_t body = strlen(ENC_PREFIX "k1:");
	for (size_t i = body; i < n - 2; i += 3) {     /* every few base64 characters */
		char *t = strdup(s);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", t, &p, NULL), CHATD_ERR_INVALID);
		CU_ASSERT_PTR_NULL(p);
		free(t);
	}
	char *t = strdup(s);
	t[n - 6] = '\0';                                /* truncated */
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", t, &p, NULL), CHATD_ERR_INVALID);
	free(t);
	/* Relabelled with the other key id: wrong key, and the id is in the AAD. */
	t = strdup(s);
	t[strlen(ENC_PREFIX) + 1] = '2';
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", t, &p, NULL), CHATD_ERR_INVALID);
	free(t);
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", "\x01" "ce1:k1", &p, NULL), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", "\x01" "ce1:k1:AAAA", &p, NULL),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", "\x01" "ce1:k 1:AAAA", &p, NULL),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", "plain", &p, NULL), CHATD_ERR_INVALID);
	free(s);
}

static void test_wrong_aad_fails(void)
{
	setup_ring();
	char *s = NULL, *p = NULL;
	CU_ASSERT_EQUAL_FATAL(enc_seal(&keys[0], "c1", "alice", "hello", &s), CHATD_OK);
	CU_ASSERT_EQUAL(enc_open(&ring, "c2", "alice", s, &p, NULL), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "bob", s, &p, NULL), CHATD_ERR_INVALID);
	/* The NUL separators keep ("c1a","lice") from matching ("c1","alice"). */
	CU_ASSERT_EQUAL(enc_open(&ring, "c1a", "lice", s, &p, NULL), CHATD_ERR_INVALID);
	CU_ASSERT_PTR_NULL(p);
	free(s);
}

static void test_unknown_key_id(void)
{
	setup_ring();
	struct enc_key other = { .id = "old" };
	memset(other.key, 0x33, ENC_KEY_LEN);
	char *s = NULL, *p = NULL, kid[ENC_KEY_ID_MAX + 1] = "";
	CU_ASSERT_EQUAL_FATAL(enc_seal(&other, "c1", "alice", "hello", &s), CHATD_OK);
	CU_ASSERT_EQUAL(enc_open(&ring, "c1", "alice", s, &p, kid), CHATD_ERR_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(kid, "old");
	CU_ASSERT_PTR_NULL(p);
	struct enc_keyring empty = { NULL, 0, NULL };
	CU_ASSERT_EQUAL(enc_open(&empty, "c1", "alice", s, &p, NULL), CHATD_ERR_NOT_FOUND);
	free(s);
}

static void test_key_parse(void)
{
	unsigned char k[ENC_KEY_LEN];
	char why[128];
	CU_ASSERT_TRUE(enc_key_parse("0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef",
				     k, why, sizeof why));
	CU_ASSERT_EQUAL(k[0], 0x01);
	CU_ASSERT_EQUAL(k[31], 0xef);
	CU_ASSERT_TRUE(enc_key_parse("IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=", k, why, sizeof why));
	CU_ASSERT_EQUAL(k[5], 0x22);
	CU_ASSERT_TRUE(enc_key_parse("IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI", k, why, sizeof why));
	CU_ASSERT_FALSE(enc_key_parse("abcd", k, why, sizeof why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "32 bytes"));
	CU_ASSERT_FALSE(enc_key_parse("IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIg==", k, why, sizeof why));
	CU_ASSERT_FALSE(enc_key_parse("0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdeg",
				      k, why, sizeof why));
	CU_ASSERT_FALSE(enc_key_parse("env:CHATD_UNIT_NO_SUCH_VAR_X", k, why, sizeof why));
	setenv("CHATD_UNIT_ENC_KEY", "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=", 1);
	memset(k, 0, sizeof k);
	CU_ASSERT_TRUE(enc_key_parse("env:CHATD_UNIT_ENC_KEY", k, why, sizeof why));
	CU_ASSERT_EQUAL(k[31], 0x22);
	setenv("CHATD_UNIT_ENC_KEY", "env:CHATD_UNIT_ENC_KEY", 1);
	CU_ASSERT_FALSE(enc_key_parse("env:CHATD_UNIT_ENC_KEY", k, why, sizeof why));
	unsetenv("CHATD_UNIT_ENC_KEY");
	CU_ASSERT_TRUE(enc_key_id_ok("k1_a-B", 6));
	CU_ASSERT_FALSE(enc_key_id_ok("k:1", 3));
	CU_ASSERT_FALSE(enc_key_id_ok("", 0));
}

void unit_register_enc(void)
{
	CU_pSuite s = CU_add_suite("enc", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "seal/open round trip", test_round_trip);
	CU_add_test(s, "tampered or malformed fails", test_tamper_fails);
	CU_add_test(s, "wrong conversation or sender fails", test_wrong_aad_fails);
	CU_add_test(s, "unknown key id", test_unknown_key_id);
	CU_add_test(s, "key material parsing", test_key_parse);
}
