/* test_utf8.c — strict UTF-8 validation and code point counting. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "utf8.h"

#define V(lit) utf8_valid(lit, sizeof(lit) - 1)

static void test_valid_sequences(void)
{
	CU_ASSERT_TRUE(utf8_valid("", 0));
	CU_ASSERT_TRUE(utf8_valid(NULL, 0));
	CU_ASSERT_TRUE(V("hello, world"));
	CU_ASSERT_TRUE(V("a long ASCII run that crosses several eight-byte words!"));
	CU_ASSERT_TRUE(V("\x00"));                       /* NUL is valid UTF-8 */
	CU_ASSERT_TRUE(V("a\x00" "b"));
	CU_ASSERT_TRUE(V("\xC2\x80"));                   /* U+0080 */
	CU_ASSERT_TRUE(V("caf\xC3\xA9"));                /* café */
	CU_ASSERT_TRUE(V("\xDF\xBF"));                   /* U+07FF */
	CU_ASSERT_TRUE(V("\xE0\xA0\x80"));               /* U+0800 */
	CU_ASSERT_TRUE(V("\xE2\x82\xAC"));               /* € */
	CU_ASSERT_TRUE(V("\xED\x9F\xBF"));               /* U+D7FF */
	CU_ASSERT_TRUE(V("\xEE\x80\x80"));               /* U+E000 */
	CU_ASSERT_TRUE(V("\xEF\xBF\xBF"));               /* U+FFFF */
	CU_ASSERT_TRUE(V("\xF0\x90\x80\x80"));           /* U+10000 */
	CU_ASSERT_TRUE(V("\xF0\x9F\x98\x80"));           /* 😀 */
	CU_ASSERT_TRUE(V("\xF4\x8F\xBF\xBF"));           /* U+10FFFF */
	CU_ASSERT_TRUE(V("abcdefgh\xE2\x82\xAC" "abcdefghij\xF0\x9F\x98\x80z"));
}

static void test_overlong(void)
{
	CU_ASSERT_FALSE(V("\xC0\x80"));                  /* overlong NUL */
	CU_ASSERT_FALSE(V("\xC1\xBF"));
	CU_ASSERT_FALSE(V("\xE0\x80\x80"));
	CU_ASSERT_FALSE(V("\xE0\x9F\xBF"));              /* overlong U+07FF */
	CU_ASSERT_FALSE(V("\xF0\x80\x80\x80"));
	CU_ASSERT_FALSE(V("\xF0\x8F\xBF\xBF"));          /* overlong U+FFFF */
}

static void test_surrogates_and_range(void)
{
	CU_ASSERT_FALSE(V("\xED\xA0\x80"));              /* U+D800 */
	CU_ASSERT_FALSE(V("\xED\xBF\xBF"));              /* U+DFFF */
	CU_ASSERT_FALSE(V("\xED\xA0\xBD\xED\xB8\x80"));  /* CESU-8 pair */
	CU_ASSERT_FALSE(V("\xF4\x90\x80\x80"));          /* U+110000 */
	CU_ASSERT_FALSE(V("\xF5\x80\x80\x80"));
	CU_ASSERT_FALSE(V("\xF8\x88\x80\x80\x80"));      /* 5-byte form */
	CU_ASSERT_FALSE(V("\xFE"));
	CU_ASSERT_FALSE(V("\xFF"));
}

static void test_truncated_and_stray(void)
{
	CU_ASSERT_FALSE(V("\xC3"));
	CU_ASSERT_FALSE(V("abc\xE2\x82"));
	CU_ASSERT_FALSE(V("\xF0\x9F\x98"));
	CU_ASSERT_FALSE(V("\xE2\x82" "a"));              /* cut by ASCII */
	CU_ASSERT_FALSE(V("\xF0\x9F\x98" "abcdefgh"));
	CU_ASSERT_FALSE(V("\x80"));                      /* stray continuation */
	CU_ASSERT_FALSE(V("abcdefgh\xBF"));
	CU_ASSERT_FALSE(V("\xC3\xA9\xA9"));              /* one too many */
	/* The length bounds the read: a valid sequence cut by len. */
	CU_ASSERT_FALSE(utf8_valid("\xE2\x82\xAC", 2));
	CU_ASSERT_TRUE(utf8_valid("\xE2\x82\xAC", 3));
}

static void test_exact_buffer(void)
{
	/* A heap buffer without a terminator: ASan catches any over-read. */
	static const char src[] = "0123456789\xF0\x9F\x98\x80";
	for (size_t len = 0; len <= sizeof src - 1; len++) {
		char *b = malloc(len ? len : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		memcpy(b, src, len);
		bool ok = utf8_valid(b, len);
		CU_ASSERT_EQUAL(ok, len <= 10 || len == 14);
		free(b);
	}
}

static void test_codepoints(void)
{
	CU_ASSERT_EQUAL(utf8_codepoints("", 0), 0);
	CU_ASSERT_EQUAL(utf8_codepoints("abc", 3), 3);
	CU_ASSERT_EQUAL(utf8_codepoints("a\x00" "b", 3), 3);
	CU_ASSERT_EQUAL(utf8_codepoints("caf\xC3\xA9", 5), 4);
	CU_ASSERT_EQUAL(utf8_codepoints("\xE2\x82\xAC\xE2\x82\xAC", 6), 2);
	CU_ASSERT_EQUAL(utf8_codepoints("\xF0\x9F\x98\x80", 4), 1);
	const char *mix = "abcdefghij\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80klmnopqrst";
	CU_ASSERT_EQUAL(utf8_codepoints(mix, strlen(mix)), 23);
	/* 4096 x "é" = 4096 code points in 8192 bytes. */
	char big[8192];
	for (size_t i = 0; i < sizeof big; i += 2) {
		big[i] = '\xC3';
		big[i + 1] = '\xA9';
	}
	CU_ASSERT_TRUE(utf8_valid(big, sizeof big));
	CU_ASSERT_EQUAL(utf8_codepoints(big, sizeof big), 4096);
}

void unit_register_utf8(void)
{
	CU_pSuite s = CU_add_suite("utf8", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "valid sequences", test_valid_sequences);
	CU_add_test(s, "overlong forms refused", test_overlong);
	CU_add_test(s, "surrogates and > U+10FFFF refused", test_surrogates_and_range);
	CU_add_test(s, "truncated and stray bytes refused", test_truncated_and_stray);
	CU_add_test(s, "no read past len", test_exact_buffer);
	CU_add_test(s, "code point counts", test_codepoints);
}
