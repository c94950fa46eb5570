/* test_media_parse.c — what the media upload path parses from clients
 * (core/media_parse.c): media.upload fields, Content-Length, the query. */
#include <string.h>
#include <jansson.h>
#include "unit.h"
#include "../../core/media_parse.h"

static bool upload(const char *text, struct media_upload_args *a, char *err)
{
	json_t *j = json_loads(text, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	err[0] = '\0';
	bool ok = media_parse_upload(j, a, err);
	json_decref(j);   /* a's strings are not used after this */
	return ok;
}

static void test_mime(void)
{
	static const char *const good[] = { "image/png", "application/vnd.a+json", "x/y",
					    "a!#$%&'*+-.^_`|~/b" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CU_ASSERT_TRUE(media_mime_ok(good[i], strlen(good[i])));
	static const char *const bad[] = { "", "image", "/png", "image/", "image/png; a=b",
					   "image /png", "a/b/c", "é/png" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_FALSE(media_mime_ok(bad[i], strlen(bad[i])));
	CU_ASSERT_FALSE(media_mime_ok("a/b\0c", 5));    /* an embedded NUL */
	char longm[200];
	memset(longm, 'a', sizeof longm);
	longm[1] = '/';
	longm[127] = '\0';
	CU_ASSERT_TRUE(media_mime_ok(longm, 127));
	longm[127] = 'a';
	longm[128] = '\0';
	CU_ASSERT_FALSE(media_mime_ok(longm, 128));
}

static void test_upload_fields(void)
{
	struct media_upload_args a;
	char err[128];
	CU_ASSERT_TRUE(upload("{\"mime\":\"image/png\",\"size\":5,\"name\":\"\"}", &a, err));
	CU_ASSERT_EQUAL(a.size, 5);
	CU_ASSERT_PTR_NULL(a.name);
	CU_ASSERT_TRUE(upload("{\"mime\":\"a/b\",\"size\":9007199254740992}", &a, err));
	CU_ASSERT_FALSE(upload("{\"mime\":\"a/b\",\"size\":9007199254740993}", &a, err));
	CU_ASSERT_STRING_EQUAL(err, "size must be an integer >= 1");
	CU_ASSERT_FALSE(upload("{\"mime\":\"a/b\",\"size\":0}", &a, err));
	CU_ASSERT_FALSE(upload("{\"mime\":\"a/b\",\"size\":1.0}", &a, err));
	CU_ASSERT_FALSE(upload("{\"size\":1}", &a, err));
	CU_ASSERT_STRING_EQUAL(err, "mime must be a type/subtype of 1 to 127 characters");
	CU_ASSERT_FALSE(upload("{\"mime\":\"a/b\",\"size\":1,\"name\":7}", &a, err));
	CU_ASSERT_STRING_EQUAL(err, "name must be a string");
	char big[600];
	int n = snprintf(big, sizeof big, "{\"mime\":\"a/b\",\"size\":1,\"name\":\"");
	memset(big + n, 'x', 256);
	strcpy(big + n + 256, "\"}");
	CU_ASSERT_FALSE(upload(big, &a, err));
	strcpy(big + n + 255, "\"}");
	CU_ASSERT_TRUE(upload(big, &a, err));
}

static void test_content_length(void)
{
	int64_t v = -1;
	CU_ASSERT_TRUE(media_parse_content_length("0", &v));
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_TRUE(media_parse_content_length("0048213", &v));
	CU_ASSERT_EQUAL(v, 48213);
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "0x10", "1e3",
					   "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_FALSE(media_parse_content_length(bad[i], &v));
}

static void test_query_join(void)
{
	char out[16];
	size_t n = 0;
	out[0] = '\0';
	CU_ASSERT_TRUE(media_query_append(out, sizeof out, &n, "", 0));
	CU_ASSERT_TRUE(media_query_append(out, sizeof out, &n, "exp=1", 5));
	CU_ASSERT_TRUE(media_query_append(out, sizeof out, &n, "", 0));
	CU_ASSERT_TRUE(media_query_append(out, sizeof out, &n, "sig=ab", 6));
	CU_ASSERT_STRING_EQUAL(out, "exp=1&sig=ab");
	CU_ASSERT_EQUAL(n, 12);
	/* 12 + '&' + 2 + NUL = 16 fits; one more byte does not. */
	CU_ASSERT_TRUE(media_query_append(out, sizeof out, &n, "xy", 2));
	CU_ASSERT_FALSE(media_query_append(out, sizeof out, &n, "z", 1));
	CU_ASSERT_STRING_EQUAL(out, "exp=1&sig=ab&xy");
}

void unit_register_media_parse(void)
{
	CU_pSuite s = CU_add_suite("media_parse", NULL, NULL);
	CU_add_test(s, "mime shape", test_mime);
	CU_add_test(s, "media.upload fields and messages", test_upload_fields);
	CU_add_test(s, "Content-Length", test_content_length);
	CU_add_test(s, "query fragments joined", test_query_join);
}
