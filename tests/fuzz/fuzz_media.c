/* fuzz_media.c — libFuzzer target for the media upload path's parsing:
 * the media.upload command's fields (core/media_parse.c, after the
 * gateway's frame decoder), the Content-Length and query of a request
 * under /media/ (core/media_parse.c, as core/gw_media.c uses them) and the
 * media_local plugin's URL checks (media_path.c, media_sign.c).  Input:
 *   <flags byte> <path>['?'<query>] '\n' <Content-Length> '\n' <media.upload JSON>
 * flags & 3 is the method (GET, HEAD, PUT, POST); flags & 4 also signs the
 * path here and checks that the signature opens exactly that method, path
 * and time.  The query is split at '&' and ';' as lws hands it over.
 * Oracles: an accepted path spells "/media/<id>[/thumb]" with a valid id;
 * an accepted query has a 1..18-digit exp and 64 lowercase hex digits; a
 * signature accepted is the one media_sign makes and not expired; an
 * accepted Content-Length is all digits; accepted upload fields are in
 * their documented bounds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/status.h"
#include "media_parse.h"
#include "media_path.h"
#include "media_sign.h"
#include "proto_decode.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_media: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                          \
		}                                                                         \
	} while (0)

#define QUERY_CAP 4096                /* gw_media.c's QUERY_MAX */
#define NOW_MS 1700000000000LL

static const unsigned char key[] = "fuzz-media-key-0123456789abcdef-0123456789";
#define KEYLEN (sizeof key - 1)

/* A line of the input, NUL-terminated (cut at a NUL as C code sees it). */
static char *take_line(const uint8_t **p, size_t *n)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t len = nl ? (size_t)(nl - *p) : *n;
	char *s = strndup((const char *)*p, len);
	*p += len + (nl ? 1 : 0);
	*n -= len + (nl ? 1 : 0);
	return s;
}

/* The query as gw_media.c builds it from lws's fragments. */
static bool join_query(const char *raw, char out[QUERY_CAP])
{
	size_t n = 0;
	out[0] = '\0';
	const char *p = raw;
	for (;;) {
		size_t len = strcspn(p, "&;");
		if (len >= QUERY_CAP) /* gw_media.c: a fragment over its buffer */
			return false;
		if (!media_query_append(out, QUERY_CAP, &n, p, len))
			return false;
		CHECK(n < QUERY_CAP && strlen(out) == n);
		if (!p[len])
			break;
		p += len + 1;
	}
	CHECK(out[0] != '&' && (n == 0 || out[n - 1] != '&') && !strstr(out, "&&"));
	return true;
}

static void check_path(const char *path)
{
	char id[MEDIA_ID_MAX + 1];
	bool thumb = false;
	if (media_path_parse(path, id, &thumb) != CHATD_OK)
		return;
	CHECK(media_id_valid(id));
	CHECK(!strchr(id, '.') && !strchr(id, '/') && !strchr(id, '%'));
	char again[MEDIA_ID_MAX + 32];
	snprintf(again, sizeof again, "/media/%s%s", id, thumb ? "/thumb" : "");
	CHECK(strcmp(again, path) == 0);
}

static void check_url(const char *method, const char *path, const char *query)
{
	int64_t exp = -1;
	char sig[MEDIA_SIG_HEX + 1];
	int q = media_query_parse(query, &exp, sig);
	CHECK(q == CHATD_OK || q == CHATD_ERR_FORBIDDEN || q == CHATD_ERR_INVALID);
	if (q != CHATD_OK)
		return;
	CHECK(exp >= 0 && exp <= 999999999999999999LL && strlen(sig) == MEDIA_SIG_HEX);
	CHECK(strspn(sig, "0123456789abcdef") == MEDIA_SIG_HEX);
	if (media_sign_check(key, KEYLEN, method, path, exp, sig, NOW_MS) == MEDIA_SIG_OK) {
		char want[MEDIA_SIG_HEX + 1];
		CHECK(media_sign(key, KEYLEN, method, path, exp, want) == CHATD_OK);
		CHECK(strcmp(want, sig) == 0 && exp >= NOW_MS);
	}
}

/* Sign (method, path) here: the URL opens that and nothing else. */
static void check_signed(const char *method, const char *path, int64_t exp)
{
	char url[1024];
	if (media_sign_url(key, KEYLEN, method, path, exp, url, sizeof url) != CHATD_OK)
		return;
	const char *qm = url + strlen(path);
	CHECK(*qm == '?');
	int64_t e = -1;
	char sig[MEDIA_SIG_HEX + 1];
	CHECK(media_query_parse(qm + 1, &e, sig) == CHATD_OK && e == exp);
	CHECK(media_sign_check(key, KEYLEN, method, path, exp, sig, exp) == MEDIA_SIG_OK);
	CHECK(media_sign_check(key, KEYLEN, method, path, exp, sig, exp + 1) ==
	      MEDIA_SIG_EXPIRED);
	const char *other = strcmp(method, "PUT") == 0 ? "GET" : "PUT";
	CHECK(media_sign_check(key, KEYLEN, other, path, exp, sig, exp) == MEDIA_SIG_BAD);
	CHECK(media_sign_check(key, KEYLEN, method, path, exp + 1, sig, exp) == MEDIA_SIG_BAD);
	char longer[1100];
	snprintf(longer, sizeof longer, "%s/thumb", path);
	CHECK(media_sign_check(key, KEYLEN, method, longer, exp, sig, exp) == MEDIA_SIG_BAD);
	/* An upper-case copy of the signature is not what we write. */
	char upper[MEDIA_SIG_HEX + 1];
	for (size_t i = 0; i <= MEDIA_SIG_HEX; i++)
		upper[i] = sig[i] >= 'a' && sig[i] <= 'f' ? (char)(sig[i] - 32) : sig[i];
	char q2[200];
	snprintf(q2, sizeof q2, "exp=%lld&sig=%s", (long long)exp, upper);
	if (strcmp(upper, sig) != 0)
		CHECK(media_query_parse(q2, &e, sig) == CHATD_ERR_FORBIDDEN);
}

static void check_length(const char *cl)
{
	int64_t v = -1;
	if (!media_parse_content_length(cl, &v))
		return;
	CHECK(v >= 0 && cl[0] && strspn(cl, "0123456789") == strlen(cl));
	const char *digits = cl;
	while (digits[0] == '0' && digits[1])
		digits++;
	char again[32];
	snprintf(again, sizeof again, "%lld", (long long)v);
	CHECK(strcmp(again, digits) == 0);
}

static void check_upload(const uint8_t *p, size_t n)
{
	struct proto_envelope env;
	if (proto_decode((const char *)p, n, &env) != PD_OK)
		return;
	struct media_upload_args a;
	char err[128];
	if (media_parse_upload(env.root, &a, err)) {
		CHECK(a.mime && media_mime_ok(a.mime, strlen(a.mime)));
		CHECK(strchr(a.mime, '/') && !strchr(a.mime, ';') && !strchr(a.mime, ' '));
		CHECK(a.size >= 1 && a.size <= MEDIA_SIZE_MAX_JSON);
		CHECK(!a.name || (a.name[0] && utf8_codepoints(a.name, strlen(a.name)) <=
					       MEDIA_NAME_MAX_CHARS));
	} else {
		CHECK(err[0] && strlen(err) < sizeof err);
	}
	json_decref(env.root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 70000)
		return 0;
	static const char *const methods[] = { "GET", "HEAD", "PUT", "POST" };
	const char *method = methods[data[0] & 3];
	const char *signing = strcmp(method, "PUT") == 0 ? "PUT" : "GET"; /* HEAD: as GET */
	bool sign_here = data[0] & 4;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	char *target = take_line(&p, &n);
	char *cl = take_line(&p, &n);
	if (!target || !cl) {
		free(target);
		free(cl);
		return 0;
	}
	char *qm = strchr(target, '?');
	const char *raw_query = qm ? qm + 1 : "";
	if (qm)
		*qm = '\0';
	const char *path = target;
	check_path(path);
	char query[QUERY_CAP];
	if (join_query(raw_query, query))
		check_url(signing, path, query);
	if (sign_here)
		check_signed(signing, path, NOW_MS + (data[0] >> 3) * 1000);
	check_length(cl);
	check_upload(p, n);
	free(target);
	free(cl);
	return 0;
}
