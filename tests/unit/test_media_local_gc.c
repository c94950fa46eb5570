/* test_media_local_gc.c — media_local end to end, the rest: thumbnails
 * (libvips), the garbage collection of orphans and abandoned uploads, a
 * stop in the middle of an upload, and init's checks of its options and
 * of storage. */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <vips/vips.h>
#include <CUnit/CUnit.h>
#include "stub_host.h"
#include "test_media_local_fixture.h"
#include "unit.h"

static const char TEXT[] = "hello world\n";
#define TEXT_LEN (sizeof(TEXT) - 1)
#define TEXT_HASH "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"

/* The thumbnail of media id: its path (from the row's hash), whether it
 * exists, and its size in pixels. */
static bool thumb_of(struct mfx *f, const char *db, const char *id, char *path, size_t cap,
		     int *w, int *h, int *bands)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT thumbnail FROM media WHERE media_id = '%s'", id);
	if (sql_int(db, sql) != 1)
		return false;
	/* The file is named after the content: find it through GET. */
	char url[512], turl[512];
	struct chatd_media_ref m = { .media_id = id, .thumbnail = true };
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	CU_ASSERT_FATAL(ops->urls(f->ml, &m, url, sizeof(url), turl, sizeof(turl)) == CHATD_OK);
	struct http_out g;
	if (mfx_http(f, "GET", turl, -1, &g) != 0)
		return false;
	CU_ASSERT_STRING_EQUAL(g.content_type, "image/jpeg");
	snprintf(path, cap, "%s", g.file);
	VipsImage *img = vips_image_new_from_file(path, NULL);
	CU_ASSERT_FATAL(img != NULL);
	*w = vips_image_get_width(img);
	*h = vips_image_get_height(img);
	*bands = vips_image_get_bands(img);
	struct stat st;
	CU_ASSERT(stat(path, &st) == 0 && st.st_size == g.size);
	g_object_unref(img);
	return true;
}

static void test_thumbnails(void)
{
	struct mfx f;
	char id[80], path[PATH_MAX];
	int w, h, bands;
	size_t len;
	CU_ASSERT_FATAL(mfx_up(&f, "thumbs.db", "m_thumbs", NULL) == CHATD_OK);
	/* A wide PNG: 256 wide, aspect kept; a JPEG file whatever came in. */
	void *png = mfx_image("png", 800, 600, 3, &len);
	CU_ASSERT(mfx_upload(&f, "alice", "image/png", png, len, id) == 201);
	CU_ASSERT_FATAL(thumb_of(&f, "thumbs.db", id, path, sizeof(path), &w, &h, &bands));
	CU_ASSERT(w == 256 && h == 192 && bands == 3);
	FILE *fp = fopen(path, "rb");
	unsigned char magic[3] = { 0 };
	CU_ASSERT(fp && fread(magic, 1, 3, fp) == 3 && memcmp(magic, "\xFF\xD8\xFF", 3) == 0);
	if (fp)
		fclose(fp);
	CU_ASSERT(stub_metric("thumbnails") == 1);
	/* The same image again: the thumbnail is there already. */
	char id2[80];
	CU_ASSERT(mfx_upload(&f, "bob", "image/png", png, len, id2) == 201);
	CU_ASSERT(thumb_of(&f, "thumbs.db", id2, path, sizeof(path), &w, &h, &bands));
	CU_ASSERT(stub_metric("thumbnails") == 1 && mfx_count_files(f.dir, ".thumb") == 1);
	g_free(png);
	/* A tall JPEG. */
	void *jpg = mfx_image("jpeg", 300, 1000, 3, &len);
	CU_ASSERT(mfx_upload(&f, "alice", "image/jpeg", jpg, len, id) == 201);
	CU_ASSERT(thumb_of(&f, "thumbs.db", id, path, sizeof(path), &w, &h, &bands));
	CU_ASSERT(h == 256 && w >= 76 && w <= 77);
	g_free(jpg);
	/* Alpha is flattened (JPEG has none); a small image is not enlarged. */
	void *rgba = mfx_image("png", 100, 50, 4, &len);
	CU_ASSERT(mfx_upload(&f, "alice", "image/png", rgba, len, id) == 201);
	CU_ASSERT(thumb_of(&f, "thumbs.db", id, path, sizeof(path), &w, &h, &bands));
	CU_ASSERT(w == 100 && h == 50 && bands == 3);
	g_free(rgba);
	CU_ASSERT(stub_metric("thumbnails") == 3);
	/* GIF: stored, no thumbnail. */
	CU_ASSERT(mfx_upload(&f, "alice", "image/gif", "GIF89a\x01\x00\x01\x00", 10, id) == 201);
	CU_ASSERT(!thumb_of(&f, "thumbs.db", id, path, sizeof(path), &w, &h, &bands));
	struct ref_out r;
	CU_ASSERT(mfx_check_send(&f, id, "alice", &r) == CHATD_OK && !r.thumbnail);
	mfx_down(&f);

	/* thumbnail_size 0: none at all. */
	const char *off[] = { "thumbnail_size", "0", NULL };
	CU_ASSERT_FATAL(mfx_up(&f, "nothumbs.db", "m_nothumbs", off) == CHATD_OK);
	png = mfx_image("png", 300, 300, 3, &len);
	CU_ASSERT(mfx_upload(&f, "alice", "image/png", png, len, id) == 201);
	CU_ASSERT(mfx_check_send(&f, id, "alice", &r) == CHATD_OK && !r.thumbnail);
	CU_ASSERT(mfx_count_files(f.dir, ".thumb") == 0);
	g_free(png);
	mfx_down(&f);
}

/* ---- GC ------------------------------------------------------------ */

static bool gc_idle(void *arg)
{
	return ((struct media_local *)arg)->gc == NULL;
}

static void gc_now(struct mfx *f)
{
	media_gc_run(f->ml);
	CU_ASSERT_FATAL(f->ml->gc != NULL);
	CU_ASSERT_FATAL(stub_run_until(gc_idle, f->ml, WAIT_MS));
}

static void age(const char *db, const char *id, int64_t ms)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "UPDATE media SET created_at = created_at - %lld "
		 "WHERE media_id = '%s'", (long long)ms, id);
	CU_ASSERT_FATAL(sql_exec(db, sql) == SQLITE_OK);
}

static bool row_exists(const char *db, const char *id)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM media WHERE media_id = '%s'", id);
	return sql_int(db, sql) == 1;
}

static void make_old(const char *path)
{
	struct timespec t[2];
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= 3600;
	t[1] = t[0];
	CU_ASSERT_FATAL(utimensat(AT_FDCWD, path, t, 0) == 0);
}

static void test_gc(void)
{
	struct mfx f;
	const char *kv[] = {
		"orphan_ttl_s", "60", "upload_url_ttl_s", "30", "gc_interval_s", "86400", NULL,
	};
	CU_ASSERT_FATAL(mfx_up(&f, "gc.db", "m_gc", kv) == CHATD_OK);
	char a[80], b[80], c[80], d[80];
	CU_ASSERT(mfx_upload(&f, "alice", "text/plain", TEXT, TEXT_LEN, a) == 201);
	CU_ASSERT(mfx_upload(&f, "bob", "text/plain", TEXT, TEXT_LEN, b) == 201);   /* same */
	CU_ASSERT(mfx_upload(&f, "alice", "text/plain", "other\n", 6, c) == 201);
	CU_ASSERT(mfx_upload(&f, "alice", "text/plain", "sent\n", 5, d) == 201);
	struct up_out e;
	CU_ASSERT(mfx_begin(&f, "alice", "text/plain", 3, NULL, &e) == CHATD_OK);  /* pending */
	struct conv_out cv;
	struct send_out so;
	CU_ASSERT_FATAL(group_sync(&f.st, "alice", "g", g_two, 1, 10, &cv) == CHATD_OK);
	struct chatd_send_req req = {
		.conversation_id = cv.cid, .sender_id = "alice", .client_message_id = "k1",
		.media_id = d, .ts = 100,
	};
	CU_ASSERT(send_req_sync(&f.st, &req, &so) == CHATD_OK);
	CU_ASSERT(mfx_count_files(f.dir, "") == 3);

	/* Nothing is old yet. */
	gc_now(&f);
	CU_ASSERT(stub_metric("gc_removed") == 0 && mfx_count_files(f.dir, "") == 3);
	/* a, the pending one and d (referenced) grow old: a and e go; the
	 * file stays (b shares it); d stays. */
	age("gc.db", a, 120000);
	age("gc.db", e.id, 120000);
	age("gc.db", d, 120000);
	gc_now(&f);
	CU_ASSERT(!row_exists("gc.db", a) && !row_exists("gc.db", e.id));
	CU_ASSERT(row_exists("gc.db", b) && row_exists("gc.db", d));
	CU_ASSERT(stub_metric("gc_removed") == 2 && mfx_count_files(f.dir, "") == 3);
	/* b too: the last row of that content, so its file goes. */
	age("gc.db", b, 120000);
	gc_now(&f);
	CU_ASSERT(!row_exists("gc.db", b) && mfx_count_files(f.dir, "") == 2);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/a9/%s", f.dir, TEXT_HASH);
	CU_ASSERT(access(path, F_OK) != 0);
	CU_ASSERT(stub_log_count("media.gc") >= 2);

	/* A content on its way to "ready" keeps its file even with no row. */
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT hash FROM media WHERE media_id = '%s'", c);
	age("gc.db", c, 120000);
	char other_hash[MEDIA_HASH_HEX + 1] = "";
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		char dbp[PATH_MAX];
		db_path(dbp, sizeof(dbp), "gc.db");
		CU_ASSERT_FATAL(sqlite3_open(dbp, &db) == SQLITE_OK);
		CU_ASSERT_FATAL(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
		CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_ROW);
		snprintf(other_hash, sizeof(other_hash), "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	media_inflight_add(f.ml, other_hash);
	gc_now(&f);
	CU_ASSERT(!row_exists("gc.db", c) && mfx_count_files(f.dir, "") == 2);
	media_inflight_del(f.ml, other_hash);

	/* Parts: an abandoned one goes; one being received stays, and so
	 * does its row, however old. */
	struct up_out u;
	struct http_out h;
	CU_ASSERT(mfx_begin(&f, "alice", "text/plain", TEXT_LEN, NULL, &u) == CHATD_OK);
	CU_ASSERT(mfx_http(&f, "PUT", u.url, -1, &h) == 0);
	mfx_write(&h, TEXT, 4);                 /* still coming */
	make_old(h.file);
	age("gc.db", u.id, 120000);
	char stale[PATH_MAX];
	snprintf(stale, sizeof(stale), "%s/tmp/fgone.0123456789abcdef.part", f.dir);
	FILE *fp = fopen(stale, "w");
	CU_ASSERT_FATAL(fp != NULL);
	fclose(fp);
	make_old(stale);
	gc_now(&f);
	CU_ASSERT(access(stale, F_OK) != 0 && access(h.file, F_OK) == 0);
	CU_ASSERT(row_exists("gc.db", u.id));
	CU_ASSERT(row_exists("gc.db", d));      /* referenced, all along */
	/* The timer runs it too. */
	mfx_down(&f);
}

static void test_gc_timer(void)
{
	struct mfx f;
	const char *kv[] = { "orphan_ttl_s", "60", "upload_url_ttl_s", "30", "gc_interval_s", "1",
			     NULL };
	CU_ASSERT_FATAL(mfx_up(&f, "gctimer.db", "m_gctimer", kv) == CHATD_OK);
	char a[80];
	CU_ASSERT(mfx_upload(&f, "alice", "text/plain", TEXT, TEXT_LEN, a) == 201);
	age("gctimer.db", a, 120000);
	/* Within two intervals the row and its file are gone. */
	for (int i = 0; i < 30 && mfx_count_files(f.dir, "") > 0; i++)
		stub_run_until(NULL, NULL, 100);
	CU_ASSERT(!row_exists("gctimer.db", a) && mfx_count_files(f.dir, "") == 0);
	CU_ASSERT(stub_metric("gc_removed") == 1);
	mfx_down(&f);
}

/* ---- stopping ------------------------------------------------------ */

static void never_cb(void *arg, const struct chatd_media_http_reply *r)
{
	(void)arg;
	(void)r;
	CU_FAIL("put_done answered after fini");
}

static void test_stop_midway(void)
{
	struct mfx f;
	struct up_out u;
	struct http_out h, unused;
	CU_ASSERT_FATAL(mfx_up(&f, "stop.db", "m_stop", NULL) == CHATD_OK);
	size_t len;
	void *png = mfx_image("png", 1200, 900, 3, &len);
	CU_ASSERT_FATAL(mfx_begin(&f, "alice", "image/png", (int64_t)len, NULL, &u) == CHATD_OK);
	CU_ASSERT_FATAL(mfx_http(&f, "PUT", u.url, -1, &h) == 0);
	mfx_write(&h, png, len);
	g_free(png);
	/* put_done, then stop before anything ran: the worker may be busy
	 * with it; its completion runs after fini and must only free. */
	const struct chatd_media_ops *ops = media_local_plugin.ops;
	memset(&unused, 0, sizeof(unused));
	CU_ASSERT(ops->http_put_done(f.ml, h.upload, true, never_cb, &unused) ==
		  CHATD_OK);
	mfx_down(&f);
	CU_ASSERT(mfx_count_files(f.dir, ".part") == 0);
	/* And a plugin with an upload open (no body yet). */
	CU_ASSERT_FATAL(mfx_up(&f, "stop2.db", "m_stop2", NULL) == CHATD_OK);
	CU_ASSERT_FATAL(mfx_begin(&f, "alice", "text/plain", TEXT_LEN, NULL, &u) == CHATD_OK);
	CU_ASSERT_FATAL(mfx_http(&f, "PUT", u.url, -1, &h) == 0);
	mfx_write(&h, TEXT, 3);
	mfx_down(&f);
	CU_ASSERT(access(h.file, F_OK) != 0);
}

/* ---- init ---------------------------------------------------------- */

static void test_init_checks(void)
{
	struct mfx f;
	const char *short_secret[] = { "secret", "too short", NULL };
	CU_ASSERT(mfx_up(&f, "init1.db", "m_init", short_secret) == CHATD_ERR_INVALID);
	CU_ASSERT(f.ml == NULL && stub_log_count("media.init_failed") == 1);
	mfx_down(&f);
	const char *types[] = { "allowed_types", "image/png,image/bmp", NULL };
	CU_ASSERT(mfx_up(&f, "init2.db", "m_init", types) == CHATD_ERR_INVALID);
	mfx_down(&f);
	const char *empty[] = { "allowed_types", " , ", NULL };
	CU_ASSERT(mfx_up(&f, "init3.db", "m_init", empty) == CHATD_ERR_INVALID);
	mfx_down(&f);
	const char *ttl[] = { "orphan_ttl_s", "60", "upload_url_ttl_s", "600", NULL };
	CU_ASSERT(mfx_up(&f, "init4.db", "m_init", ttl) == CHATD_ERR_INVALID);
	mfx_down(&f);
	/* A file where the directory should be. */
	char file[PATH_MAX + 16];
	snprintf(file, sizeof(file), "%s/m_isfile", g_dir);
	FILE *fp = fopen(file, "w");
	CU_ASSERT_FATAL(fp != NULL);
	fclose(fp);
	CU_ASSERT(mfx_up(&f, "init5.db", "m_isfile", NULL) == CHATD_ERR_IO);
	mfx_down(&f);
	/* No secret: a random one, said loudly; URLs still work. */
	const char *nosecret[] = { "secret", MFX_UNSET, NULL };
	CU_ASSERT_FATAL(mfx_up(&f, "init6.db", "m_init", nosecret) == CHATD_OK);
	CU_ASSERT(stub_log_count("media.secret_random") == 1);
	char id[80];
	CU_ASSERT(mfx_upload(&f, "alice", "text/plain", TEXT, TEXT_LEN, id) == 201);
	mfx_down(&f);
	/* A storage plugin without the media ops (ABI < 1.3). */
	host_up("init7.db", (const char *const[]){ "synchronous", "normal", "batch_max", "64",
						   "busy_timeout_ms", "5000", NULL });
	struct store st;
	CU_ASSERT_FATAL(store_open(&st) == CHATD_OK);
	struct chatd_storage_ops old = *st.ops;
	old.struct_size = (uint32_t)offsetof(struct chatd_storage_ops, media_put);
	stub_host_set_storage(&old, st.inst);
	stub_host_set_schema(media_local_plugin.options);
	stub_host_set("dir", file);
	void *inst = NULL;
	CU_ASSERT(media_local_plugin.init(stub_host(), stub_handle(), &inst) == CHATD_ERR_ABI);
	store_close(&st);
	stub_host_teardown();
	/* The options a config sees. */
	const struct chatd_option *o = media_local_plugin.options;
	const char *keys[] = { "dir", "secret", "max_size", "allowed_types", "upload_url_ttl_s",
			       "download_url_ttl_s", "orphan_ttl_s", "gc_interval_s",
			       "quota_bytes", "uploads_per_minute", "thumbnail_size" };
	size_t n = 0;
	for (; o[n].key; n++) {
		CU_ASSERT(strcmp(o[n].key, keys[n]) == 0);
		CU_ASSERT(o[n].secret == (strcmp(o[n].key, "secret") == 0));
	}
	CU_ASSERT(n == sizeof(keys) / sizeof(keys[0]));
}

/* ---- suite -------------------------------------------------------- */

void unit_register_media_local_gc(void)
{
	CU_pSuite s = CU_add_suite("media_local_gc", mfx_suite_init, mfx_suite_clean);
	if (!s)
		return;
	CU_add_test(s, "thumbnails", test_thumbnails);
	CU_add_test(s, "GC of orphans, shared files, parts", test_gc);
	CU_add_test(s, "GC on its timer", test_gc_timer);
	CU_add_test(s, "stop in the middle of uploads", test_stop_midway);
	CU_add_test(s, "init checks options and storage", test_init_checks);
}
