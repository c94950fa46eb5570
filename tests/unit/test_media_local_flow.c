/* test_media_local_flow.c — media_local end to end on the stub host over a
 * real sqlite store and real files: upload_begin's checks, the HTTP side
 * (http_begin, the body written as the gateway would, http_put_done),
 * check_send, lookup and urls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include <CUnit/CUnit.h>
#include "stub_host.h"
#include "test_media_local_fixture.h"
#include "unit.h"

static const char TEXT[] = "hello world\n";
#define TEXT_LEN (sizeof(TEXT) - 1)
#define TEXT_HASH "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"

static int64_t now_ms(void)
{
	return stub_host()->now_ms();
}

/* ---- upload_begin -------------------------------------------------- */

static void test_begin_answers(void)
{
	struct mfx f;
	struct up_out u;
	CU_ASSERT_FATAL(mfx_up(&f, "begin.db", "m_begin", NULL) == CHATD_OK);
	int64_t t0 = now_ms();
	CU_ASSERT(mfx_begin(&f, "alice", "IMAGE/PNG", 48213, "cat.png", &u) == CHATD_OK);
	CU_ASSERT(u.has_id && u.has_url && !u.has_message);
	CU_ASSERT(strlen(u.id) == 33 && u.id[0] == 'f' && media_id_valid(u.id));
	char want[128];
	snprintf(want, sizeof(want), "/media/%s?exp=%lld&sig=", u.id, (long long)u.expires_at);
	CU_ASSERT(strncmp(u.url, want, strlen(want)) == 0);
	CU_ASSERT(strlen(u.url) == strlen(want) + MEDIA_SIG_HEX);
	/* upload_url_ttl_s (600 s) from now. */
	CU_ASSERT(u.expires_at >= t0 + 600000 && u.expires_at <= now_ms() + 600000);
	/* A pending row with the canonical type. */
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM media WHERE media_id = '%s' AND "
		 "owner_id = 'alice' AND mime = 'image/png' AND name = 'cat.png' AND "
		 "size = 48213 AND ready_at = 0", u.id);
	CU_ASSERT(sql_int("begin.db", sql) == 1);
	struct up_out u2;
	CU_ASSERT(mfx_begin(&f, "alice", "text/plain", 5, NULL, &u2) == CHATD_OK);
	CU_ASSERT(strcmp(u.id, u2.id) != 0);
	CU_ASSERT(sql_int("begin.db", "SELECT COUNT(*) FROM media WHERE name IS NULL") == 1);
	CU_ASSERT(stub_metric("uploads_started") == 2 && stub_metric("uploads_refused") == 0);
	mfx_down(&f);
}

static void test_begin_refusals(void)
{
	struct mfx f;
	struct up_out u;
	const char *kv[] = {
		"max_size", "1000", "quota_bytes", "2500", "uploads_per_minute", "3",
		"allowed_types", "image/png, text/plain", NULL,
	};
	CU_ASSERT_FATAL(mfx_up(&f, "refuse.db", "m_refuse", kv) == CHATD_OK);
	/* Type: not supported, not allowed here, with parameters. */
	CU_ASSERT(mfx_begin(&f, "alice", "image/bmp", 10, NULL, &u) == CHATD_ERR_INVALID);
	CU_ASSERT(!u.has_id && u.has_message && strstr(u.message, "image/bmp"));
	CU_ASSERT(mfx_begin(&f, "alice", "image/jpeg", 10, NULL, &u) == CHATD_ERR_INVALID);
	CU_ASSERT(mfx_begin(&f, "alice", "text/plain; charset=utf-8", 10, NULL, &u) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(mfx_begin(&f, "alice", NULL, 10, NULL, &u) == CHATD_ERR_INVALID);
	/* Size. */
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", 0, NULL, &u) == CHATD_ERR_INVALID);
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", -5, NULL, &u) == CHATD_ERR_INVALID);
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", 1001, NULL, &u) == CHATD_ERR_TOO_LARGE);
	CU_ASSERT(strstr(u.message, "1000") != NULL);
	/* Name. */
	char name[300];
	memset(name, 'n', 256);
	name[256] = '\0';
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", 10, name, &u) == CHATD_ERR_INVALID);
	name[255] = '\0';
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", 1000, name, &u) == CHATD_OK);
	CU_ASSERT(stub_metric("uploads_refused") == 8);
	/* Quota: 1000 used (pending counts), 2500 in all. */
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", 1000, NULL, &u) == CHATD_OK);
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", 501, NULL, &u) == CHATD_ERR_TOO_LARGE);
	CU_ASSERT(strstr(u.message, "upload quota exceeded") && strstr(u.message, "2000 of 2500"));
	CU_ASSERT(mfx_begin(&f, "alice", "image/png", 500, NULL, &u) == CHATD_OK);   /* exactly */
	CU_ASSERT(mfx_begin(&f, "alice", "text/plain", 1, NULL, &u) == CHATD_ERR_TOO_LARGE);
	/* Rate: three begun in the last minute (with room in the quota). */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(mfx_begin(&f, "carol", "text/plain", 10, NULL, &u) == CHATD_OK);
	CU_ASSERT(mfx_begin(&f, "carol", "text/plain", 10, NULL, &u) == CHATD_ERR_RATE_LIMITED);
	CU_ASSERT(u.retry_after_ms == 60000 && strstr(u.message, "3 per minute"));
	CU_ASSERT(!u.has_id && !u.has_url);
	/* Others are not affected. */
	CU_ASSERT(mfx_begin(&f, "bob", "text/plain", 1000, NULL, &u) == CHATD_OK);
	CU_ASSERT(stub_metric("uploads_refused") == 11 && stub_metric("uploads_started") == 7);
	/* Uploads older than a minute leave the window. */
	CU_ASSERT(sql_exec("refuse.db", "UPDATE media SET created_at = created_at - 61000 "
					"WHERE owner_id = 'carol'") == SQLITE_OK);
	CU_ASSERT(mfx_begin(&f, "carol", "text/plain", 10, NULL, &u) == CHATD_OK);
	/* Bad arguments: no callback at all. */
	CU_ASSERT(media_local_plugin.ops != NULL);
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	CU_ASSERT(ops->upload_begin(f.ml, "alice", "image/png", 1, NULL, NULL, NULL) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(ops->upload_begin(f.ml, "", "image/png", 1, NULL, NULL, NULL) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(mfx_begin(&f, NULL, "image/png", 1, NULL, &u) == CHATD_ERR_INVALID);
	mfx_down(&f);
}

/* ---- HTTP ---------------------------------------------------------- */

static void test_put_get(void)
{
	struct mfx f;
	struct up_out u;
	struct http_out h, g;
	CU_ASSERT_FATAL(mfx_up(&f, "put.db", "m_put", NULL) == CHATD_OK);
	CU_ASSERT_FATAL(mfx_begin(&f, "alice", "text/plain", TEXT_LEN, "a.txt", &u) == CHATD_OK);
	/* PUT: where to write, how much, the token. */
	CU_ASSERT(mfx_http(&f, "PUT", u.url, TEXT_LEN, &h) == 0);
	char prefix[600];
	snprintf(prefix, sizeof(prefix), "%s/tmp/%s.", f.dir, u.id);
	CU_ASSERT(strncmp(h.file, prefix, strlen(prefix)) == 0);
	CU_ASSERT(strcmp(h.file + strlen(h.file) - 5, ".part") == 0);
	CU_ASSERT(h.size == (int64_t)TEXT_LEN && h.upload != 0 && !h.has_error);
	/* A second PUT while this one runs. */
	CU_ASSERT(mfx_http(&f, "PUT", u.url, -1, &g) == 409);
	CU_ASSERT_STRING_EQUAL(g.error, "upload_in_progress");
	mfx_write(&h, TEXT, TEXT_LEN);
	CU_ASSERT(mfx_put_done(&f, h.upload, true, &g) == 201);
	CU_ASSERT(!g.has_error && !g.has_file);
	CU_ASSERT(access(h.file, F_OK) != 0);    /* moved */
	char final[PATH_MAX];
	snprintf(final, sizeof(final), "%s/a9/%s", f.dir, TEXT_HASH);
	struct stat st;
	CU_ASSERT(stat(final, &st) == 0 && st.st_size == (off_t)TEXT_LEN);
	char sql[400];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM media WHERE media_id = '%s' AND hash = '%s' "
		 "AND ready_at > 0 AND thumbnail = 0", u.id, TEXT_HASH);
	CU_ASSERT(sql_int("put.db", sql) == 1);
	CU_ASSERT(stub_metric("uploads_completed") == 1 &&
		  stub_metric("bytes_stored") == (int64_t)TEXT_LEN);
	/* The token is spent. */
	CU_ASSERT(mfx_put_done(&f, h.upload, true, &g) == CHATD_ERR_NOT_FOUND && g.calls == 0);
	/* Done: PUT again is a conflict. */
	CU_ASSERT(mfx_http(&f, "PUT", u.url, TEXT_LEN, &g) == 409);
	CU_ASSERT_STRING_EQUAL(g.error, "already_uploaded");

	/* GET and HEAD through urls(). */
	char url[512], thumb[512];
	struct chatd_media_ref ref = { .media_id = u.id, .mime = "text/plain", .size = TEXT_LEN };
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	CU_ASSERT(ops->urls(f.ml, &ref, url, sizeof(url), thumb, sizeof(thumb)) == CHATD_OK);
	CU_ASSERT(thumb[0] == '\0');
	CU_ASSERT(mfx_http(&f, "GET", url, -1, &g) == 0);
	CU_ASSERT_STRING_EQUAL(g.file, final);
	CU_ASSERT_STRING_EQUAL(g.content_type, "text/plain");
	CU_ASSERT(g.size == (int64_t)TEXT_LEN);
	CU_ASSERT(mfx_http(&f, "HEAD", url, -1, &g) == 0 && strcmp(g.file, final) == 0);
	/* No thumbnail for text. */
	char path[128], turl[512];
	snprintf(path, sizeof(path), "/media/%s/thumb", u.id);
	mfx_sign("GET", path, now_ms() + 60000, turl, sizeof(turl));
	CU_ASSERT(mfx_http(&f, "GET", turl, -1, &g) == 404);
	mfx_down(&f);
}

static void test_http_refusals(void)
{
	struct mfx f;
	struct up_out u;
	struct http_out h;
	char url[512], path[128];
	CU_ASSERT_FATAL(mfx_up(&f, "http.db", "m_http", NULL) == CHATD_OK);
	CU_ASSERT_FATAL(mfx_begin(&f, "alice", "text/plain", TEXT_LEN, NULL, &u) == CHATD_OK);
	snprintf(path, sizeof(path), "/media/%s", u.id);
	int64_t later = now_ms() + 60000;

	/* Signatures: expired, tampered, another method, another path, none. */
	mfx_sign("PUT", path, now_ms() - 1, url, sizeof(url));
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 403);
	CU_ASSERT_STRING_EQUAL(h.error, "forbidden");
	snprintf(url, sizeof(url), "%s", u.url);
	char *sig = strstr(url, "sig=") + 4;
	sig[10] = sig[10] == 'a' ? 'b' : 'a';
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 403);
	snprintf(url, sizeof(url), "%s", u.url);
	char *exp = strstr(url, "exp=") + 4;
	exp[3] = exp[3] == '1' ? '2' : '1';     /* a later (or earlier) expiry */
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 403);
	CU_ASSERT(mfx_http(&f, "GET", u.url, -1, &h) == 403);    /* a PUT signature */
	mfx_sign("GET", path, later, url, sizeof(url));
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 403);      /* a GET signature */
	snprintf(url, sizeof(url), "/media/%s?%s", "fother", strchr(u.url, '?') + 1);
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 403);      /* another id */
	CU_ASSERT(mfx_http(&f, "PUT", path, -1, &h) == 403);      /* no query */
	snprintf(url, sizeof(url), "%s?exp=%lld", path, (long long)later);
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 403);      /* no sig */
	/* A query we never write; a bad path. */
	snprintf(url, sizeof(url), "%.500s&x=1", u.url);
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 400);
	CU_ASSERT_STRING_EQUAL(h.error, "bad_request");
	CU_ASSERT(mfx_http(&f, "GET", "/media/../etc/passwd?exp=1&sig=x", -1, &h) == 404);
	CU_ASSERT_STRING_EQUAL(h.error, "not_found");
	CU_ASSERT(mfx_http(&f, "GET", "/media/", -1, &h) == 404);
	/* Methods. */
	CU_ASSERT(mfx_http(&f, "DELETE", u.url, -1, &h) == 405);
	CU_ASSERT_STRING_EQUAL(h.error, "method_not_allowed");
	snprintf(path, sizeof(path), "/media/%s/thumb", u.id);
	mfx_sign("PUT", path, later, url, sizeof(url));
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 405);
	/* Signed, but no such media; not ready for GET. */
	mfx_sign("GET", "/media/fnone", later, url, sizeof(url));
	CU_ASSERT(mfx_http(&f, "GET", url, -1, &h) == 404);
	mfx_sign("PUT", "/media/fnone", later, url, sizeof(url));
	CU_ASSERT(mfx_http(&f, "PUT", url, -1, &h) == 404);
	snprintf(path, sizeof(path), "/media/%s", u.id);
	mfx_sign("GET", path, later, url, sizeof(url));
	CU_ASSERT(mfx_http(&f, "GET", url, -1, &h) == 404);
	CU_ASSERT(strstr(h.message, "not complete") != NULL);
	/* A declared length other than the size. */
	CU_ASSERT(mfx_http(&f, "PUT", u.url, TEXT_LEN + 1, &h) == 400);
	CU_ASSERT_STRING_EQUAL(h.error, "bad_size");
	CU_ASSERT(mfx_http(&f, "PUT", u.url, 0, &h) == 400);
	/* Bad arguments. */
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	struct chatd_media_http_req r = { .method = "GET", .path = "/media/x", .query = "" };
	CU_ASSERT(ops->http_begin(f.ml, NULL, NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(ops->http_begin(f.ml, &r, NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(ops->http_put_done(f.ml, 12345, true, NULL, NULL) == CHATD_ERR_INVALID);
	/* Nothing was stored by any of it. */
	CU_ASSERT(mfx_count_files(f.dir, "") == 0);
	mfx_down(&f);
}

static void test_put_failures(void)
{
	struct mfx f;
	struct up_out u;
	struct http_out h, g;
	CU_ASSERT_FATAL(mfx_up(&f, "fail.db", "m_fail", NULL) == CHATD_OK);
	CU_ASSERT_FATAL(mfx_begin(&f, "alice", "image/png", TEXT_LEN, NULL, &u) == CHATD_OK);

	/* Content that is not what was declared: 415, the file removed, the
	 * row still pending (the client may try again while the URL lasts). */
	CU_ASSERT_FATAL(mfx_http(&f, "PUT", u.url, -1, &h) == 0);
	mfx_write(&h, TEXT, TEXT_LEN);
	CU_ASSERT(mfx_put_done(&f, h.upload, true, &g) == 415);
	CU_ASSERT_STRING_EQUAL(g.error, "type_mismatch");
	CU_ASSERT(strstr(g.message, "image/png") != NULL);
	CU_ASSERT(access(h.file, F_OK) != 0 && mfx_count_files(f.dir, "") == 0);
	CU_ASSERT(stub_metric("uploads_refused") == 1 && stub_metric("uploads_completed") == 0);
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT ready_at FROM media WHERE media_id = '%s'", u.id);
	CU_ASSERT(sql_int("fail.db", sql) == 0);

	/* The transfer failed (the gateway removed the file): forgotten. */
	CU_ASSERT_FATAL(mfx_http(&f, "PUT", u.url, -1, &h) == 0);
	CU_ASSERT(mfx_put_done(&f, h.upload, false, &g) == 400);
	CU_ASSERT_STRING_EQUAL(g.error, "upload_failed");
	CU_ASSERT(mfx_put_done(&f, h.upload, true, &g) == CHATD_ERR_NOT_FOUND);

	/* A body shorter than declared (the gateway should not let it by). */
	CU_ASSERT_FATAL(mfx_http(&f, "PUT", u.url, -1, &h) == 0);
	mfx_write(&h, "\x89PNG\r\n\x1A\n", 8);
	CU_ASSERT(mfx_put_done(&f, h.upload, true, &g) == 400);
	CU_ASSERT_STRING_EQUAL(g.error, "bad_size");
	CU_ASSERT(access(h.file, F_OK) != 0);

	/* Now right: a PNG header and TEXT_LEN bytes in all. */
	CU_ASSERT_FATAL(mfx_http(&f, "PUT", u.url, TEXT_LEN, &h) == 0);
	mfx_write(&h, "\x89PNG\r\n\x1A\nxxxx", TEXT_LEN);
	CU_ASSERT(mfx_put_done(&f, h.upload, true, &g) == 201);
	CU_ASSERT(sql_int("fail.db", sql) > 0);
	/* Not an image libvips can read: ready, without a thumbnail. */
	CU_ASSERT(stub_log_count("media.thumbnail_failed") == 1);
	snprintf(sql, sizeof(sql), "SELECT thumbnail FROM media WHERE media_id = '%s'", u.id);
	CU_ASSERT(sql_int("fail.db", sql) == 0);
	CU_ASSERT(stub_metric("thumbnails") == 0 && stub_metric("uploads_completed") == 1);
	mfx_down(&f);
}

static void test_dedupe(void)
{
	struct mfx f;
	char a[80], b[80], c[80];
	CU_ASSERT_FATAL(mfx_up(&f, "dedupe.db", "m_dedupe", NULL) == CHATD_OK);
	CU_ASSERT(mfx_upload(&f, "alice", "text/plain", TEXT, TEXT_LEN, a) == 201);
	CU_ASSERT(mfx_upload(&f, "bob", "text/plain", TEXT, TEXT_LEN, b) == 201);
	CU_ASSERT(mfx_upload(&f, "bob", "text/plain", "other\n", 6, c) == 201);
	CU_ASSERT(strcmp(a, b) != 0);
	/* Two rows, one file; a third content, a second file. */
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM media WHERE hash = '%s'", TEXT_HASH);
	CU_ASSERT(sql_int("dedupe.db", sql) == 2);
	CU_ASSERT(mfx_count_files(f.dir, "") == 2);
	CU_ASSERT(mfx_count_files(f.dir, ".part") == 0);
	/* Both answer GET with the same file. */
	struct http_out g1, g2;
	char url[512], thumb[8];
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	struct chatd_media_ref ra = { .media_id = a }, rb = { .media_id = b };
	CU_ASSERT(ops->urls(f.ml, &ra, url, sizeof(url), thumb, sizeof(thumb)) == CHATD_OK);
	CU_ASSERT(mfx_http(&f, "GET", url, -1, &g1) == 0);
	CU_ASSERT(ops->urls(f.ml, &rb, url, sizeof(url), thumb, sizeof(thumb)) == CHATD_OK);
	CU_ASSERT(mfx_http(&f, "GET", url, -1, &g2) == 0);
	CU_ASSERT(strcmp(g1.file, g2.file) == 0);
	mfx_down(&f);
}

/* ---- check_send, lookup, urls -------------------------------------- */

static void test_refs(void)
{
	struct mfx f;
	struct ref_out r;
	struct up_out u;
	char id[80];
	CU_ASSERT_FATAL(mfx_up(&f, "refs.db", "m_refs", NULL) == CHATD_OK);
	CU_ASSERT(mfx_upload(&f, "alice", "text/plain", TEXT, TEXT_LEN, id) == 201);
	CU_ASSERT(mfx_begin(&f, "alice", "text/plain", 3, NULL, &u) == CHATD_OK);   /* pending */

	/* The owner's complete upload. */
	CU_ASSERT(mfx_check_send(&f, id, "alice", &r) == CHATD_OK && r.has_ref);
	CU_ASSERT(strcmp(r.id, id) == 0 && strcmp(r.mime, "text/plain") == 0 &&
		  r.size == (int64_t)TEXT_LEN && !r.thumbnail);
	CU_ASSERT(mfx_lookup(&f, id, "alice", &r) == CHATD_OK && r.has_ref);
	/* Not complete: INVALID; someone else's or none: NOT_FOUND. */
	CU_ASSERT(mfx_check_send(&f, u.id, "alice", &r) == CHATD_ERR_INVALID && !r.has_ref);
	CU_ASSERT(mfx_lookup(&f, u.id, "alice", &r) == CHATD_ERR_INVALID);
	CU_ASSERT(mfx_check_send(&f, id, "bob", &r) == CHATD_ERR_NOT_FOUND && !r.has_ref);
	CU_ASSERT(mfx_lookup(&f, id, "bob", &r) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(mfx_check_send(&f, "fnothing", "alice", &r) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(mfx_check_send(&f, "../x", "alice", &r) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(mfx_lookup(&f, "", "alice", &r) == CHATD_ERR_NOT_FOUND);

	/* Sent to a group: its members may look it up, not send it. */
	struct conv_out c;
	struct send_out so;
	CU_ASSERT_FATAL(group_sync(&f.st, "alice", "g", g_two, 1, 10, &c) == CHATD_OK);
	struct chatd_send_req req = {
		.conversation_id = c.cid, .sender_id = "alice", .client_message_id = "k1",
		.media_id = id, .ts = 100,
	};
	CU_ASSERT(send_req_sync(&f.st, &req, &so) == CHATD_OK);
	CU_ASSERT(mfx_lookup(&f, id, "bob", &r) == CHATD_OK && r.has_ref &&
		  strcmp(r.mime, "text/plain") == 0);
	CU_ASSERT(mfx_check_send(&f, id, "bob", &r) == CHATD_ERR_NOT_FOUND);
	CU_ASSERT(mfx_lookup(&f, id, "carol", &r) == CHATD_ERR_NOT_FOUND);
	/* Bad arguments. */
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	CU_ASSERT(ops->check_send(f.ml, id, "alice", NULL, NULL) == CHATD_ERR_INVALID);
	CU_ASSERT(mfx_check_send(&f, id, NULL, &r) == CHATD_ERR_INVALID);
	CU_ASSERT(mfx_lookup(&f, id, "", &r) == CHATD_ERR_INVALID);
	mfx_down(&f);
}

static void test_urls(void)
{
	struct mfx f;
	struct http_out g;
	CU_ASSERT_FATAL(mfx_up(&f, "urls.db", "m_urls", NULL) == CHATD_OK);
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	char url[512], thumb[512];
	struct chatd_media_ref m = { .media_id = "fabc", .mime = "image/png", .size = 5,
				     .thumbnail = true };
	int64_t t0 = now_ms();
	CU_ASSERT(ops->urls(f.ml, &m, url, sizeof(url), thumb, sizeof(thumb)) == CHATD_OK);
	/* exp: download_url_ttl_s from now, rounded up to the minute. */
	long long exp = 0;
	CU_ASSERT(sscanf(url, "/media/fabc?exp=%lld&sig=", &exp) == 1);
	CU_ASSERT(exp % 60000 == 0 && exp >= t0 + 3600000 && exp < now_ms() + 3600000 + 60000);
	CU_ASSERT(strncmp(thumb, "/media/fabc/thumb?exp=", 22) == 0);
	long long texp = 0;
	CU_ASSERT(sscanf(thumb, "/media/fabc/thumb?exp=%lld", &texp) == 1 && texp == exp);
	/* Both open GET (no row: 404 — past the signature). */
	CU_ASSERT(mfx_http(&f, "GET", url, -1, &g) == 404);
	CU_ASSERT(mfx_http(&f, "GET", thumb, -1, &g) == 404);
	/* The file's signature does not open the thumbnail. */
	char swapped[600];
	snprintf(swapped, sizeof(swapped), "/media/fabc/thumb%s", strchr(url, '?'));
	CU_ASSERT(mfx_http(&f, "GET", swapped, -1, &g) == 403);
	/* No thumbnail: "". */
	m.thumbnail = false;
	CU_ASSERT(ops->urls(f.ml, &m, url, sizeof(url), thumb, sizeof(thumb)) == CHATD_OK);
	CU_ASSERT(thumb[0] == '\0');
	/* Buffers too small; bad refs. */
	CU_ASSERT(ops->urls(f.ml, &m, url, 40, thumb, sizeof(thumb)) == CHATD_ERR_TOO_LARGE);
	m.thumbnail = true;
	CU_ASSERT(ops->urls(f.ml, &m, url, sizeof(url), thumb, 40) == CHATD_ERR_TOO_LARGE);
	CU_ASSERT(ops->urls(f.ml, &m, url, sizeof(url), thumb, 0) == CHATD_ERR_TOO_LARGE);
	m.media_id = "../etc";
	CU_ASSERT(ops->urls(f.ml, &m, url, sizeof(url), thumb, sizeof(thumb)) ==
		  CHATD_ERR_INVALID);
	CU_ASSERT(ops->urls(f.ml, NULL, url, sizeof(url), thumb, sizeof(thumb)) ==
		  CHATD_ERR_INVALID);
	mfx_down(&f);
}

/* ---- suite -------------------------------------------------------- */

void unit_register_media_local_flow(void)
{
	CU_pSuite s = CU_add_suite("media_local_flow", mfx_suite_init, mfx_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "upload_begin answers", test_begin_answers);
	CU_add_test(s, "upload_begin refusals: type, size, name, quota, rate",
		    test_begin_refusals);
	CU_add_test(s, "PUT, put_done, GET, HEAD", test_put_get);
	CU_add_test(s, "http_begin refusals", test_http_refusals);
	CU_add_test(s, "put_done: type mismatch, failed transfer, short body", test_put_failures);
	CU_add_test(s, "same content stored once", test_dedupe);
	CU_add_test(s, "check_send and lookup", test_refs);
	CU_add_test(s, "urls", test_urls);
}
