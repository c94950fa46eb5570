/* test_media_local.c — media_local's pure pieces: URL signatures
 * (media_sign.c), content checks (media_magic.c), URL paths and queries
 * (media_path.c), and the file layout (media_store.c) on a temporary
 * directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include "chatd/status.h"
#include "unit.h"
#include "../../plugins/media_local/media_magic.h"
#include "../../plugins/media_local/media_path.h"
#include "../../plugins/media_local/media_sign.h"
#include "../../plugins/media_local/media_store.h"

static const unsigned char KEY[] = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";   /* 32 bytes */
#define KEYLEN 32

/* ---- signatures ---------------------------------------------------- */

/* Split a signed URL into path, exp and sig (through the real parser). */
static bool split_url(const char *url, char *path, size_t cap, int64_t *exp,
		      char sig[MEDIA_SIG_HEX + 1])
{
	const char *q = strchr(url, '?');
	if (!q || (size_t)(q - url) >= cap)
		return false;
	memcpy(path, url, (size_t)(q - url));
	path[q - url] = '\0';
	return media_query_parse(q + 1, exp, sig) == CHATD_OK;
}

static void test_sign_known_vector(void)
{
	/* Pins the signed text: method "\n" path "\n" exp (python hmac). */
	char hex[MEDIA_SIG_HEX + 1];
	CU_ASSERT(media_sign(KEY, KEYLEN, "GET", "/media/abc", 1000, hex) == CHATD_OK);
	CU_ASSERT_STRING_EQUAL(hex, "b65c7db4733d54e0547c4b9dc75a24150f597ceefdf397b23ada8b2dbb3abf32");
	char url[512];
	CU_ASSERT(media_sign_url(KEY, KEYLEN, "GET", "/media/abc", 1000, url, sizeof(url)) ==
		  CHATD_OK);
	CU_ASSERT_STRING_EQUAL(url, "/media/abc?exp=1000&sig="
			       "b65c7db4733d54e0547c4b9dc75a24150f597ceefdf397b23ada8b2dbb3abf32");
}

static void test_sign_round_trip(void)
{
	const char *methods[] = { "PUT", "GET" };
	const char *paths[] = { "/media/f0123", "/media/f0123/thumb" };
	for (int m = 0; m < 2; m++) {
		for (int p = 0; p < 2; p++) {
			char url[512], path[300], sig[MEDIA_SIG_HEX + 1];
			int64_t exp = 0;
			CU_ASSERT_FATAL(media_sign_url(KEY, KEYLEN, methods[m], paths[p],
						       1700000000000LL, url, sizeof(url)) ==
					CHATD_OK);
			CU_ASSERT_FATAL(split_url(url, path, sizeof(path), &exp, sig));
			CU_ASSERT_STRING_EQUAL(path, paths[p]);
			CU_ASSERT(exp == 1700000000000LL);
			CU_ASSERT(media_sign_check(KEY, KEYLEN, methods[m], path, exp, sig,
						   1700000000000LL - 5) == MEDIA_SIG_OK);
			/* The other method, the other path. */
			CU_ASSERT(media_sign_check(KEY, KEYLEN, methods[1 - m], path, exp, sig,
						   0) == MEDIA_SIG_BAD);
			CU_ASSERT(media_sign_check(KEY, KEYLEN, methods[m], paths[1 - p], exp, sig,
						   0) == MEDIA_SIG_BAD);
		}
	}
}

static void test_sign_tamper(void)
{
	char sig[MEDIA_SIG_HEX + 1], bad[MEDIA_SIG_HEX + 1];
	CU_ASSERT_FATAL(media_sign(KEY, KEYLEN, "GET", "/media/abc", 5000, sig) == CHATD_OK);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, sig, 10) ==
		  MEDIA_SIG_OK);
	/* Every digit flipped, one at a time. */
	int caught = 0;
	for (int i = 0; i < MEDIA_SIG_HEX; i++) {
		memcpy(bad, sig, sizeof(bad));
		bad[i] = bad[i] == '0' ? '1' : '0';
		caught += media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, bad, 10) ==
			  MEDIA_SIG_BAD;
	}
	CU_ASSERT(caught == MEDIA_SIG_HEX);
	/* A later exp, another id, another key. */
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5001, sig, 10) ==
		  MEDIA_SIG_BAD);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abd", 5000, sig, 10) ==
		  MEDIA_SIG_BAD);
	const unsigned char other[] = "jkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
	CU_ASSERT(media_sign_check(other, KEYLEN, "GET", "/media/abc", 5000, sig, 10) ==
		  MEDIA_SIG_BAD);
	CU_ASSERT(media_sign_check(KEY, KEYLEN - 1, "GET", "/media/abc", 5000, sig, 10) ==
		  MEDIA_SIG_BAD);
	/* Its own form: uppercase, short, long, not hex, none. */
	memcpy(bad, sig, sizeof(bad));
	for (int i = 0; i < MEDIA_SIG_HEX; i++)
		if (bad[i] >= 'a')
			bad[i] = (char)(bad[i] - 'a' + 'A');
	CU_ASSERT(strcmp(bad, sig) != 0);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, bad, 10) ==
		  MEDIA_SIG_BAD);
	memcpy(bad, sig, sizeof(bad));
	bad[MEDIA_SIG_HEX - 1] = '\0';
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, bad, 10) ==
		  MEDIA_SIG_BAD);
	char longer[MEDIA_SIG_HEX + 2];
	snprintf(longer, sizeof(longer), "%s0", sig);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, longer, 10) ==
		  MEDIA_SIG_BAD);
	memcpy(bad, sig, sizeof(bad));
	bad[7] = 'g';
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, bad, 10) ==
		  MEDIA_SIG_BAD);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, "", 10) ==
		  MEDIA_SIG_BAD);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "GET", "/media/abc", 5000, NULL, 10) ==
		  MEDIA_SIG_BAD);
}

static void test_sign_expiry(void)
{
	char sig[MEDIA_SIG_HEX + 1], bad[MEDIA_SIG_HEX + 1];
	CU_ASSERT_FATAL(media_sign(KEY, KEYLEN, "PUT", "/media/x", 5000, sig) == CHATD_OK);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "PUT", "/media/x", 5000, sig, 4999) ==
		  MEDIA_SIG_OK);
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "PUT", "/media/x", 5000, sig, 5000) ==
		  MEDIA_SIG_OK);       /* up to exp inclusive */
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "PUT", "/media/x", 5000, sig, 5001) ==
		  MEDIA_SIG_EXPIRED);
	/* The signature is checked first: expired and tampered is BAD. */
	memcpy(bad, sig, sizeof(bad));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	CU_ASSERT(media_sign_check(KEY, KEYLEN, "PUT", "/media/x", 5000, bad, 9999) ==
		  MEDIA_SIG_BAD);
}

static void test_sign_inputs(void)
{
	char hex[MEDIA_SIG_HEX + 1], url[512];
	CU_ASSERT(media_sign(KEY, KEYLEN, "GET", "", 1, hex) == CHATD_ERR_INVALID);
	CU_ASSERT(media_sign(KEY, KEYLEN, "GET", NULL, 1, hex) == CHATD_ERR_INVALID);
	CU_ASSERT(media_sign(KEY, KEYLEN, "", "/media/a", 1, hex) == CHATD_ERR_INVALID);
	CU_ASSERT(media_sign(KEY, KEYLEN, "GET", "/media/a", -1, hex) == CHATD_ERR_INVALID);
	CU_ASSERT(media_sign(KEY, 0, "GET", "/media/a", 1, hex) == CHATD_ERR_INVALID);
	CU_ASSERT(media_sign(NULL, KEYLEN, "GET", "/media/a", 1, hex) == CHATD_ERR_INVALID);
	char path[MEDIA_PATH_MAX + 2];
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	CU_ASSERT(media_sign(KEY, KEYLEN, "GET", path, 1, hex) == CHATD_ERR_INVALID);
	path[MEDIA_PATH_MAX] = '\0';
	CU_ASSERT(media_sign(KEY, KEYLEN, "GET", path, 1, hex) == CHATD_OK);
	/* A URL that does not fit: too small by one byte, then exactly. */
	size_t need = strlen("/media/a?exp=1&sig=") + MEDIA_SIG_HEX + 1;
	CU_ASSERT(media_sign_url(KEY, KEYLEN, "GET", "/media/a", 1, url, need - 1) ==
		  CHATD_ERR_TOO_LARGE && url[0] == '\0');
	CU_ASSERT(media_sign_url(KEY, KEYLEN, "GET", "/media/a", 1, url, need) == CHATD_OK);
}

/* ---- content checks ------------------------------------------------ */

struct sample {
	enum media_type type;
	const char *bytes;
	size_t len;
};

#define S(t, lit) { t, lit, sizeof(lit) - 1 }
static const struct sample good[] = {
	S(MEDIA_T_JPEG, "\xFF\xD8\xFF\xE0\x00\x10JFIF"),
	S(MEDIA_T_JPEG, "\xFF\xD8\xFF"),
	S(MEDIA_T_PNG, "\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR"),
	S(MEDIA_T_WEBP, "RIFF\x24\x00\x00\x00WEBPVP8 "),
	S(MEDIA_T_GIF, "GIF87a\x01\x00"),
	S(MEDIA_T_GIF, "GIF89a\x01\x00"),
	S(MEDIA_T_PDF, "%PDF-1.7\n"),
	S(MEDIA_T_MP4, "\x00\x00\x00\x18" "ftypisom"),
	S(MEDIA_T_OGG, "OggS\x00\x02"),
	S(MEDIA_T_MP3, "ID3\x04\x00"),
	S(MEDIA_T_MP3, "\xFF\xFB\x90\x64"),
	S(MEDIA_T_MP3, "\xFF\xE0"),
	S(MEDIA_T_TEXT, "hello\n"),
	S(MEDIA_T_TEXT, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF"),
};
static const struct sample bad_text[] = {
	S(MEDIA_T_TEXT, "nul\x00inside"),
	S(MEDIA_T_TEXT, "\xC0\x80"),                 /* overlong NUL */
	S(MEDIA_T_TEXT, "\xC1\xBF"),                 /* overlong */
	S(MEDIA_T_TEXT, "\xE0\x80\xAF"),             /* overlong '/' */
	S(MEDIA_T_TEXT, "\xF0\x80\x80\xAF"),         /* overlong */
	S(MEDIA_T_TEXT, "\xED\xA0\x80"),             /* surrogate U+D800 */
	S(MEDIA_T_TEXT, "\xF4\x90\x80\x80"),         /* U+110000 */
	S(MEDIA_T_TEXT, "\xF5\x80\x80\x80"),
	S(MEDIA_T_TEXT, "\xF8\x88\x80\x80\x80"),     /* 5-byte form */
	S(MEDIA_T_TEXT, "\x80"),                     /* lone continuation */
	S(MEDIA_T_TEXT, "ok\xC3"),                   /* cut off at the end */
	S(MEDIA_T_TEXT, "ok\xE2\x82"),
	S(MEDIA_T_TEXT, "\xC3\x28"),                 /* bad continuation */
	S(MEDIA_T_TEXT, "\xFF"),
	S(MEDIA_T_TEXT, ""),                         /* empty */
	S(MEDIA_T_TEXT, "\x01" "CMF1 looks sealed"),   /* U+0001 first (decision 61) */
};
static const struct sample bad_binary[] = {
	S(MEDIA_T_JPEG, "\xFF\xD8"),                 /* too short */
	S(MEDIA_T_JPEG, "\xFF\xD9\xFF"),
	S(MEDIA_T_PNG, "\x89PNG\r\n\x1A"),
	S(MEDIA_T_PNG, "\x89PNG\n\r\x1A\n"),
	S(MEDIA_T_WEBP, "RIFF\x24\x00\x00\x00WAVEfmt "),
	S(MEDIA_T_WEBP, "RIFF\x24\x00\x00\x00WEB"),
	S(MEDIA_T_GIF, "GIF88a"),
	S(MEDIA_T_PDF, "%PDF"),
	S(MEDIA_T_PDF, "%!PS-Adobe"),
	S(MEDIA_T_MP4, "\x00\x00\x00\x18" "moov"),
	S(MEDIA_T_MP4, "ftypisom"),                  /* at offset 0, not 4 */
	S(MEDIA_T_OGG, "Oggs"),
	S(MEDIA_T_MP3, "ID"),
	S(MEDIA_T_MP3, "\xFF\xDF"),                  /* not a frame sync */
	S(MEDIA_T_MP3, "\xFF"),
};
#undef S

static void test_magic_each_type(void)
{
	size_t n_good = sizeof(good) / sizeof(good[0]);
	for (size_t i = 0; i < n_good; i++) {
		CU_ASSERT(media_magic_match(good[i].type, good[i].bytes, good[i].len));
		/* ... and no other type takes it (text aside: "hello" is just text). */
		for (int t = 1; t < MEDIA_T_COUNT; t++) {
			if (t == (int)good[i].type)
				continue;
			bool other = media_magic_match((enum media_type)t, good[i].bytes,
						       good[i].len);
			/* A binary header may be valid UTF-8 text ("GIF89a\x01\x00"
			 * is not: it has NUL; "%PDF-1.7\n" is).  Only text may
			 * accept another type's bytes. */
			if (other && t != MEDIA_T_TEXT)
				CU_FAIL("a header matched a second binary type");
		}
	}
	for (size_t i = 0; i < sizeof(bad_binary) / sizeof(bad_binary[0]); i++)
		CU_ASSERT(!media_magic_match(bad_binary[i].type, bad_binary[i].bytes,
					     bad_binary[i].len));
	for (int t = 1; t < MEDIA_T_COUNT; t++)
		CU_ASSERT(!media_magic_match((enum media_type)t, "", 0));
	CU_ASSERT(!media_magic_match(MEDIA_T_NONE, "\xFF\xD8\xFF", 3));
}

static void test_magic_text(void)
{
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		if (media_magic_match(MEDIA_T_TEXT, bad_text[i].bytes, bad_text[i].len)) {
			char what[64];
			snprintf(what, sizeof(what), "bad text #%zu accepted", i);
			CU_FAIL(what);
		}
	}
	/* Fed one byte at a time: the same verdicts (sequences across the
	 * pieces of a file). */
	const struct sample *all[] = { &good[12], &good[13], &bad_text[1], &bad_text[5],
				       &bad_text[10], &bad_text[11] };
	const bool want[] = { true, true, false, false, false, false };
	for (size_t i = 0; i < 6; i++) {
		struct media_sniff s;
		media_sniff_init(&s, MEDIA_T_TEXT);
		for (size_t b = 0; b < all[i]->len; b++)
			media_sniff_feed(&s, all[i]->bytes + b, 1);
		CU_ASSERT(media_sniff_match(&s) == want[i]);
	}
	/* A long text whose bad byte comes late, past the header bytes. */
	char big[70000];
	memset(big, 'a', sizeof(big));
	CU_ASSERT(media_magic_match(MEDIA_T_TEXT, big, sizeof(big)));
	big[65537] = '\0';
	CU_ASSERT(!media_magic_match(MEDIA_T_TEXT, big, sizeof(big)));
	/* Binary types look at the start only. */
	struct media_sniff s;
	media_sniff_init(&s, MEDIA_T_PNG);
	media_sniff_feed(&s, "\x89PN", 3);
	media_sniff_feed(&s, "G\r\n\x1A\n", 5);
	media_sniff_feed(&s, "\x00\x00garbage\xFF", 10);
	CU_ASSERT(media_sniff_match(&s));
}

static void test_magic_types(void)
{
	CU_ASSERT(media_type_of("image/png") == MEDIA_T_PNG);
	CU_ASSERT(media_type_of("IMAGE/PNG") == MEDIA_T_PNG);
	CU_ASSERT(media_type_of("Text/Plain") == MEDIA_T_TEXT);
	CU_ASSERT(media_type_of("text/plain; charset=utf-8") == MEDIA_T_NONE);
	CU_ASSERT(media_type_of("image/png ") == MEDIA_T_NONE);
	CU_ASSERT(media_type_of("image/bmp") == MEDIA_T_NONE);
	CU_ASSERT(media_type_of("") == MEDIA_T_NONE);
	CU_ASSERT(media_type_of(NULL) == MEDIA_T_NONE);
	for (int t = 1; t < MEDIA_T_COUNT; t++)
		CU_ASSERT((int)media_type_of(media_type_mime((enum media_type)t)) == t);
	CU_ASSERT(media_type_mime(MEDIA_T_NONE) == NULL);
	CU_ASSERT_STRING_EQUAL(media_type_mime(MEDIA_T_MP3), "audio/mpeg");
	CU_ASSERT(media_type_thumbnailable(MEDIA_T_JPEG) && media_type_thumbnailable(MEDIA_T_PNG) &&
		  media_type_thumbnailable(MEDIA_T_WEBP));
	CU_ASSERT(!media_type_thumbnailable(MEDIA_T_GIF) && !media_type_thumbnailable(MEDIA_T_PDF));
}

/* ---- paths and queries --------------------------------------------- */

static void test_path_parse(void)
{
	char id[MEDIA_ID_MAX + 1];
	bool thumb = true;
	CU_ASSERT(media_path_parse("/media/f0a1B-_z", id, &thumb) == CHATD_OK);
	CU_ASSERT_STRING_EQUAL(id, "f0a1B-_z");
	CU_ASSERT(!thumb);
	CU_ASSERT(media_path_parse("/media/abc/thumb", id, &thumb) == CHATD_OK && thumb);
	CU_ASSERT_STRING_EQUAL(id, "abc");
	char longest[80];
	snprintf(longest, sizeof(longest), "/media/%064d", 7);
	CU_ASSERT(media_path_parse(longest, id, &thumb) == CHATD_OK && strlen(id) == 64);
	snprintf(longest, sizeof(longest), "/media/%065d", 7);   /* overlong id */
	CU_ASSERT(media_path_parse(longest, id, &thumb) == CHATD_ERR_NOT_FOUND);
	snprintf(longest, sizeof(longest), "/media/%065d/thumb", 7);
	CU_ASSERT(media_path_parse(longest, id, &thumb) == CHATD_ERR_NOT_FOUND);
	const char *bad[] = {
		"/media/", "/media", "/media/..", "/media/../etc/passwd", "/media/a/../b",
		"/media/./a", "/media/a.b", "/media/%2e%2e", "/media/a%2fb", "/media/abc/",
		"/media/abc/thumb/", "/media/abc/thumbs", "/media/abc/THUMB", "/media//abc",
		"/mediax/abc", "media/abc", "/MEDIA/abc", "/media/a b", "/media/a\\b",
		"/media/abc?x", "//media/abc", "", "/media/\xC3\xA9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (media_path_parse(bad[i], id, &thumb) != CHATD_ERR_NOT_FOUND) {
			char what[96];
			snprintf(what, sizeof(what), "path accepted: %s", bad[i]);
			CU_FAIL(what);
		}
	}
	CU_ASSERT(media_path_parse(NULL, id, &thumb) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(media_id_valid("abc") && !media_id_valid("") && !media_id_valid("a.b") &&
		  !media_id_valid(NULL) && !media_id_valid("a/b"));
	CU_ASSERT(!media_id_valid(longest + 7));
}

static void test_query_parse(void)
{
	const char *sig = "b65c7db4733d54e0547c4b9dc75a24150f597ceefdf397b23ada8b2dbb3abf32";
	char q[400], got[MEDIA_SIG_HEX + 1];
	int64_t exp = 0;
	snprintf(q, sizeof(q), "exp=1700000000000&sig=%s", sig);
	CU_ASSERT(media_query_parse(q, &exp, got) == CHATD_OK && exp == 1700000000000LL);
	CU_ASSERT_STRING_EQUAL(got, sig);
	snprintf(q, sizeof(q), "sig=%s&exp=12", sig);       /* either order */
	CU_ASSERT(media_query_parse(q, &exp, got) == CHATD_OK && exp == 12);

	/* Missing, or a value we never write: FORBIDDEN (a URL not signed). */
	const char *forbidden[] = {
		"", "exp=12", "sig=%s", "exp=&sig=%s", "exp=-1&sig=%s", "exp=1x&sig=%s",
		"exp=+5&sig=%s", "exp=1234567890123456789&sig=%s", "exp=12&sig=",
		"exp=12&sig=%.63s", "exp=12&sig=%s0", "exp=12&sig=B65C7DB4733D54E0547C4B9DC75A24150F597CEEFDF397B23ADA8B2DBB3ABF32",
		"exp=12&sig=z65c7db4733d54e0547c4b9dc75a24150f597ceefdf397b23ada8b2dbb3abf32",
		"exp=%%31%%32&sig=%s", "exp=12;sig=%s",
	};
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		snprintf(q, sizeof(q), forbidden[i], sig);
		if (media_query_parse(q, &exp, got) != CHATD_ERR_FORBIDDEN) {
			char what[450];
			snprintf(what, sizeof(what), "query not forbidden: %s", q);
			CU_FAIL(what);
		}
	}
	/* Shapes we never write: INVALID. */
	const char *invalid[] = {
		"exp=12&sig=%s&x=1", "x=1&exp=12&sig=%s", "exp=12&exp=13&sig=%s",
		"exp=12&sig=%s&sig=%s", "exp=12&sig=%s&", "&exp=12&sig=%s", "exp12&sig=%s",
		"exp=12&&sig=%s", "EXP=12&sig=%s",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		snprintf(q, sizeof(q), invalid[i], sig, sig);
		if (media_query_parse(q, &exp, got) != CHATD_ERR_INVALID) {
			char what[450];
			snprintf(what, sizeof(what), "query not invalid: %s", q);
			CU_FAIL(what);
		}
	}
	char big[MEDIA_QUERY_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT(media_query_parse(big, &exp, got) == CHATD_ERR_INVALID);
	CU_ASSERT(media_query_parse(NULL, &exp, got) == CHATD_ERR_INVALID);
}

/* ---- the file layout ----------------------------------------------- */

static char g_mdir[256];

static int store_suite_init(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_mdir, sizeof(g_mdir), "%s/chatd-media-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(g_mdir) ? 0 : -1;
}

static int store_suite_clean(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_mdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, data, n) == (ssize_t)n);
	close(fd);
}

static void test_store_layout(void)
{
	char dir[512], part[PATH_MAX], part2[PATH_MAX], path[PATH_MAX], err[256];
	snprintf(dir, sizeof(dir), "%s/a/b/media", g_mdir);
	CU_ASSERT_FATAL(media_store_init(dir, err, sizeof(err)) == CHATD_OK);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	struct stat st;
	CU_ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CU_ASSERT(media_store_init(dir, err, sizeof(err)) == CHATD_OK);   /* again: fine */
	/* Not a directory. */
	snprintf(path, sizeof(path), "%s/file", g_mdir);
	write_file(path, "x", 1);
	CU_ASSERT(media_store_init(path, err, sizeof(err)) == CHATD_ERR_IO && err[0]);

	CU_ASSERT(media_store_part_path(dir, "fabc", part, sizeof(part)) == CHATD_OK);
	CU_ASSERT(media_store_part_path(dir, "fabc", part2, sizeof(part2)) == CHATD_OK);
	CU_ASSERT(strcmp(part, part2) != 0);    /* random suffixes */
	size_t dl = strlen(dir);
	CU_ASSERT(strncmp(part, dir, dl) == 0 && strncmp(part + dl, "/tmp/fabc.", 10) == 0 &&
		  strlen(part) == dl + 10 + 16 + 5 && strcmp(part + strlen(part) - 5, ".part") == 0);
	CU_ASSERT(media_store_part_path(dir, "fabc", part2, dl + 20) == CHATD_ERR_TOO_LARGE);
	const char *h = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";
	CU_ASSERT(media_store_file_path(dir, h, false, path, sizeof(path)) == CHATD_OK);
	CU_ASSERT(strcmp(path + dl, "/a9/a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447") == 0);
	CU_ASSERT(media_store_file_path(dir, h, true, path, sizeof(path)) == CHATD_OK);
	CU_ASSERT(strcmp(path + strlen(path) - 6, ".thumb") == 0);
}

static void test_store_check_place(void)
{
	char dir[PATH_MAX], part[PATH_MAX], path[PATH_MAX], err[256], hash[MEDIA_HASH_HEX + 1];
	bool existed = true;
	snprintf(dir, sizeof(dir), "%s/cp", g_mdir);
	CU_ASSERT_FATAL(media_store_init(dir, err, sizeof(err)) == CHATD_OK);

	/* Good text: hashed (SHA-256, python's hashlib), kept. */
	CU_ASSERT_FATAL(media_store_part_path(dir, "f1", part, sizeof(part)) == CHATD_OK);
	write_file(part, "hello world\n", 12);
	CU_ASSERT(media_store_check(part, MEDIA_T_TEXT, 12, hash, err, sizeof(err)) ==
		  MEDIA_CHECK_OK);
	CU_ASSERT_STRING_EQUAL(hash, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447");
	CU_ASSERT(media_store_exists(part));
	CU_ASSERT(media_store_place(dir, part, hash, &existed, err, sizeof(err)) == CHATD_OK);
	CU_ASSERT(!existed && !media_store_exists(part));
	CU_ASSERT(media_store_file_path(dir, hash, false, path, sizeof(path)) == CHATD_OK);
	CU_ASSERT(media_store_exists(path));
	/* The same content again: deduplicated. */
	CU_ASSERT_FATAL(media_store_part_path(dir, "f2", part, sizeof(part)) == CHATD_OK);
	write_file(part, "hello world\n", 12);
	CU_ASSERT(media_store_check(part, MEDIA_T_TEXT, 12, hash, err, sizeof(err)) ==
		  MEDIA_CHECK_OK);
	CU_ASSERT(media_store_place(dir, part, hash, &existed, err, sizeof(err)) == CHATD_OK);
	CU_ASSERT(existed && !media_store_exists(part) && media_store_exists(path));

	/* Encrypted mode: the name is HMAC-SHA-256(key, label NUL content)
	 * (python's hmac), for a key of one block or less and a longer one. */
	unsigned char k32[32], k100[100];
	memset(k32, 'k', sizeof(k32));
	memset(k100, 'q', sizeof(k100));
	CU_ASSERT_FATAL(media_store_part_path(dir, "f4", part, sizeof(part)) == CHATD_OK);
	write_file(part, "hello world\n", 12);
	CU_ASSERT(media_store_check_keyed(part, MEDIA_T_TEXT, 12, k32, sizeof(k32), hash, err,
					  sizeof(err)) == MEDIA_CHECK_OK);
	CU_ASSERT_STRING_EQUAL(hash, "a3ac3c6fe5232574032092456760b468cb2bfd57158723bab80417e7ecbcd719");
	CU_ASSERT(media_store_check_keyed(part, MEDIA_T_TEXT, 12, k100, sizeof(k100), hash, err,
					  sizeof(err)) == MEDIA_CHECK_OK);
	CU_ASSERT_STRING_EQUAL(hash, "69265ebaad0f683a64ffbf6df7a18e45285adec132a30f15ad4427cc634a0173");
	unlink(part);

	/* Wrong type, wrong size, absent: removed, with a reason. */
	CU_ASSERT_FATAL(media_store_part_path(dir, "f3", part, sizeof(part)) == CHATD_OK);
	write_file(part, "hello world\n", 12);
	err[0] = '\0';
	CU_ASSERT(media_store_check(part, MEDIA_T_PNG, 12, hash, err, sizeof(err)) ==
		  MEDIA_CHECK_MISMATCH);
	CU_ASSERT(!media_store_exists(part) && strstr(err, "image/png") != NULL);
	write_file(part, "hello world\n", 12);
	CU_ASSERT(media_store_check(part, MEDIA_T_TEXT, 13, hash, err, sizeof(err)) ==
		  MEDIA_CHECK_SIZE);
	CU_ASSERT(!media_store_exists(part));
	CU_ASSERT(media_store_check(part, MEDIA_T_TEXT, 12, hash, err, sizeof(err)) ==
		  MEDIA_CHECK_IO);
	/* A symlink is not followed. */
	CU_ASSERT_FATAL(symlink(path, part) == 0);
	CU_ASSERT(media_store_check(part, MEDIA_T_TEXT, 12, hash, err, sizeof(err)) ==
		  MEDIA_CHECK_IO);
	CU_ASSERT(media_store_exists(path));

	/* unlink: the content and its thumbnail. */
	char thumb[PATH_MAX];
	CU_ASSERT(media_store_file_path(dir, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
					true, thumb, sizeof(thumb)) == CHATD_OK);
	write_file(thumb, "\xFF\xD8\xFF", 3);
	CU_ASSERT(media_store_unlink(dir, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447") == 2);
	CU_ASSERT(!media_store_exists(path) && !media_store_exists(thumb));
	CU_ASSERT(media_store_unlink(dir, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447") == 0);
}

static void test_store_sweep(void)
{
	char dir[512], old1[PATH_MAX], old2[PATH_MAX], fresh[PATH_MAX], other[PATH_MAX];
	char err[256];
	snprintf(dir, sizeof(dir), "%s/sw", g_mdir);
	CU_ASSERT_FATAL(media_store_init(dir, err, sizeof(err)) == CHATD_OK);
	CU_ASSERT_FATAL(media_store_part_path(dir, "f1", old1, sizeof(old1)) == CHATD_OK);
	CU_ASSERT_FATAL(media_store_part_path(dir, "f2", old2, sizeof(old2)) == CHATD_OK);
	CU_ASSERT_FATAL(media_store_part_path(dir, "f3", fresh, sizeof(fresh)) == CHATD_OK);
	snprintf(other, sizeof(other), "%s/tmp/notes.txt", dir);
	write_file(old1, "a", 1);
	write_file(old2, "b", 1);
	write_file(fresh, "c", 1);
	write_file(other, "d", 1);
	/* Two of them an hour old. */
	struct timespec t[2];
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= 3600;
	t[1] = t[0];
	CU_ASSERT_FATAL(utimensat(AT_FDCWD, old1, t, 0) == 0 && utimensat(AT_FDCWD, old2, t, 0) == 0);
	CU_ASSERT_FATAL(utimensat(AT_FDCWD, other, t, 0) == 0);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t cutoff = (int64_t)now.tv_sec * 1000 - 60000;
	const char *keep[] = { old2 };
	CU_ASSERT(media_store_sweep(dir, cutoff, keep, 1) == 1);
	CU_ASSERT(!media_store_exists(old1) && media_store_exists(old2));
	CU_ASSERT(media_store_exists(fresh) && media_store_exists(other));   /* not *.part */
	CU_ASSERT(media_store_sweep(dir, cutoff, NULL, 0) == 1 && !media_store_exists(old2));
}

/* ---- suite -------------------------------------------------------- */

void unit_register_media_local(void)
{
	CU_pSuite s = CU_add_suite("media_local", store_suite_init, store_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "signature: known vector and URL form", test_sign_known_vector);
	CU_add_test(s, "signature: round trip", test_sign_round_trip);
	CU_add_test(s, "signature: tampering", test_sign_tamper);
	CU_add_test(s, "signature: expiry", test_sign_expiry);
	CU_add_test(s, "signature: inputs", test_sign_inputs);
	CU_add_test(s, "magic: every type, positive and negative", test_magic_each_type);
	CU_add_test(s, "magic: UTF-8 text", test_magic_text);
	CU_add_test(s, "magic: MIME types", test_magic_types);
	CU_add_test(s, "path parser", test_path_parse);
	CU_add_test(s, "query parser", test_query_parse);
	CU_add_test(s, "store: layout", test_store_layout);
	CU_add_test(s, "store: check, place, dedupe, unlink", test_store_check_place);
	CU_add_test(s, "store: sweep of abandoned parts", test_store_sweep);
}
