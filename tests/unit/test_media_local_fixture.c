/* test_media_local_fixture.c — see test_media_local_fixture.h. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>
#include <CUnit/CUnit.h>
#include "stub_host.h"
#include "test_media_local_fixture.h"
#include "../../plugins/media_local/media_thumb.h"

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

int mfx_suite_init(void)
{
	return sqlite_suite_init();
}

int mfx_suite_clean(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int mfx_up(struct mfx *f, const char *db, const char *dir, const char *const *kv)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%.300s/%.100s", g_dir, dir);
	/* storage_sqlite's keys are given: the schema on the stub host is
	 * media_local's. */
	const char *base[] = {
		"synchronous", "normal", "batch_max", "64", "busy_timeout_ms", "5000",
		"dir", f->dir, NULL,
	};
	host_up(db, base);
	bool secret = true;
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
		if (strcmp(kv[i + 1], MFX_UNSET) == 0)
			secret = secret && strcmp(kv[i], "secret") != 0;
		else
			CU_ASSERT_FATAL(stub_host_set(kv[i], kv[i + 1]) == 0);
	}
	if (secret && stub_host()->config_string(stub_handle(), "secret", &(const char *){ 0 }) ==
	    CHATD_ERR_NOT_FOUND)
		CU_ASSERT_FATAL(stub_host_set("secret", MFX_SECRET) == 0);
	CU_ASSERT_FATAL(store_open(&f->st) == CHATD_OK);
	stub_host_set_storage(f->st.ops, f->st.inst);
	stub_host_set_schema(media_local_plugin.options);
	void *inst = NULL;
	int st = media_local_plugin.init(stub_host(), stub_handle(), &inst);
	f->ml = inst;
	return st;
}

void mfx_down(struct mfx *f)
{
	if (f->ml)
		media_local_plugin.fini(f->ml);
	f->ml = NULL;
	store_close(&f->st);
	stub_host_teardown();
}

static const struct chatd_media_ops *ops(void)
{
	return media_local_plugin.ops;
}

/* The op's refusal, or the callback's status once the loop ran it. */
static int finish(int queued, const int *status)
{
	if (queued < 0)
		return queued;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	return *status;
}

static void up_cb(void *arg, int status, const struct chatd_media_upload *u)
{
	struct up_out *o = arg;
	o->status = status;
	if (u) {
		o->has_id = u->media_id != NULL;
		o->has_url = u->upload_url != NULL;
		o->has_message = u->message != NULL;
		COPY(o->id, u->media_id);
		COPY(o->url, u->upload_url);
		COPY(o->message, u->message);
		o->expires_at = u->expires_at;
		o->retry_after_ms = u->retry_after_ms;
	}
	g_pending--;
}

int mfx_begin(struct mfx *f, const char *user, const char *mime, int64_t size,
	      const char *name, struct up_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(ops()->upload_begin(f->ml, user, mime, size, name, up_cb, o), &o->status);
}

static void http_cb(void *arg, const struct chatd_media_http_reply *r)
{
	struct http_out *o = arg;
	o->calls++;
	o->status = r->status;
	o->has_file = r->file != NULL;
	o->has_error = r->error != NULL;
	COPY(o->file, r->file);
	COPY(o->content_type, r->content_type);
	COPY(o->error, r->error);
	COPY(o->message, r->message);
	o->size = r->size;
	o->upload = r->upload;
	g_pending--;
}

/* The http status, or the op's refusal. */
static int http_finish(int queued, struct http_out *o)
{
	if (queued < 0)
		return queued;
	g_pending++;
	CU_ASSERT_FATAL(wait_all());
	CU_ASSERT(o->calls == 1);
	return o->status;
}

int mfx_http(struct mfx *f, const char *method, const char *url, int64_t content_length,
	     struct http_out *o)
{
	char path[1024];
	const char *q = strchr(url, '?');
	size_t n = q ? (size_t)(q - url) : strlen(url);
	snprintf(path, sizeof(path), "%.*s", (int)n, url);
	struct chatd_media_http_req r = {
		.method = method, .path = path, .query = q ? q + 1 : "",
		.content_length = content_length,
	};
	memset(o, 0, sizeof(*o));
	o->status = -1;
	return http_finish(ops()->http_begin(f->ml, &r, http_cb, o), o);
}

int mfx_put_done(struct mfx *f, uint64_t token, bool ok, struct http_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = -1;
	return http_finish(ops()->http_put_done(f->ml, token, ok, http_cb, o), o);
}

void mfx_write(const struct http_out *o, const void *data, size_t len)
{
	int fd = open(o->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

int mfx_upload(struct mfx *f, const char *user, const char *mime, const void *data,
	       size_t len, char *id)
{
	struct up_out u;
	struct http_out h;
	if (mfx_begin(f, user, mime, (int64_t)len, NULL, &u) != CHATD_OK)
		return -1;
	snprintf(id, 80, "%s", u.id);
	if (mfx_http(f, "PUT", u.url, (int64_t)len, &h) != 0)
		return -1;
	mfx_write(&h, data, len);
	return mfx_put_done(f, h.upload, true, &h);
}

static void ref_cb(void *arg, int status, const struct chatd_media_ref *m)
{
	struct ref_out *o = arg;
	o->status = status;
	o->has_ref = m != NULL;
	if (m) {
		COPY(o->id, m->media_id);
		COPY(o->mime, m->mime);
		o->size = m->size;
		o->thumbnail = m->thumbnail;
	}
	g_pending--;
}

int mfx_check_send(struct mfx *f, const char *id, const char *user, struct ref_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(ops()->check_send(f->ml, id, user, ref_cb, o), &o->status);
}

int mfx_lookup(struct mfx *f, const char *id, const char *user, struct ref_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = 1;
	return finish(ops()->lookup(f->ml, id, user, ref_cb, o), &o->status);
}

void mfx_sign(const char *method, const char *path, int64_t exp, char *url, size_t cap)
{
	CU_ASSERT_FATAL(media_sign_url((const unsigned char *)MFX_SECRET, strlen(MFX_SECRET),
				       method, path, exp, url, cap) == CHATD_OK);
}

void *mfx_image(const char *fmt, int width, int height, int bands, size_t *len)
{
	char err[256];
	CU_ASSERT_FATAL(media_thumb_start(err, sizeof(err)) == CHATD_OK);
	VipsImage *img = NULL, *grey = NULL;
	void *buf = NULL;
	/* A gradient, so the encoders have something to encode. */
	CU_ASSERT_FATAL(vips_xyz(&img, width, height, NULL) == 0);
	CU_ASSERT_FATAL(vips_extract_band(img, &grey, 0, "n", 1, NULL) == 0);
	g_object_unref(img);
	VipsImage *bandv[4] = { grey, grey, grey, grey };
	CU_ASSERT_FATAL(vips_bandjoin(bandv, &img, bands, NULL) == 0);
	g_object_unref(grey);
	VipsImage *u8 = NULL;
	CU_ASSERT_FATAL(vips_cast_uchar(img, &u8, NULL) == 0);
	g_object_unref(img);
	int rc = strcmp(fmt, "png") == 0 ? vips_pngsave_buffer(u8, &buf, len, NULL)
					 : vips_jpegsave_buffer(u8, &buf, len, NULL);
	g_object_unref(u8);
	CU_ASSERT_FATAL(rc == 0);
	return buf;
}

int mfx_count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			n += mfx_count_files(path, suffix);
			continue;
		}
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}
