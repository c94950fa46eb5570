/* media_thumb.c — thumbnails with libvips (see media_thumb.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>
#include <vips/vector.h>
#include "chatd/status.h"
#include "media_thumb.h"

/* Set (as a glib quark, which outlives this object) once libvips has been
 * shut down in this process: a plugin loaded again must not use it. */
#define SHUT_QUARK "chatd.media_local.vips_shut_down"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool running;
static guint log_handler;

/* libvips logs through glib to stderr; its errors reach us through
 * vips_error_buffer() instead, and its warnings (a truncated JPEG, …)
 * are not worth a line each. */
static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer arg)
{
	(void)domain; (void)level; (void)msg; (void)arg;
}

/* Only the loaders of the types we thumbnail; nothing libvips marks
 * untrusted. */
static void restrict_loaders(void)
{
	vips_block_untrusted_set(TRUE);
	vips_operation_block_set("VipsForeignLoad", TRUE);
	vips_operation_block_set("VipsForeignLoadJpeg", FALSE);
	vips_operation_block_set("VipsForeignLoadPng", FALSE);
	vips_operation_block_set("VipsForeignLoadWebp", FALSE);
}

int media_thumb_start(char *err, size_t errlen)
{
	int st = CHATD_OK;
	pthread_mutex_lock(&mu);
	if (running) {
		pthread_mutex_unlock(&mu);
		return CHATD_OK;
	}
	if (g_quark_try_string(SHUT_QUARK) != 0) {
		snprintf(err, errlen, "libvips was shut down earlier in this process");
		st = CHATD_ERR_UNAVAILABLE;
	} else if (VIPS_INIT("chatd") != 0) {
		snprintf(err, errlen, "libvips would not start: %s", vips_error_buffer());
		vips_error_clear();
		st = CHATD_ERR_INTERNAL;
	} else {
		/* One image at a time on one worker: no thread pools of our
		 * own size, and no cache of decoded images. */
		vips_concurrency_set(1);
		vips_cache_set_max(0);
		/* No run-time code generation (liborc) in the chat server:
		 * nothing writable and executable, and a thumbnail does not
		 * need the speed. */
		vips_vector_set_enabled(FALSE);
		restrict_loaders();
		log_handler = g_log_set_handler("VIPS", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL |
						G_LOG_FLAG_RECURSION, drop_log, NULL);
		running = true;
	}
	pthread_mutex_unlock(&mu);
	return st;
}

void media_thumb_stop(void)
{
#ifndef CHATD_UNIT_TEST
	/* Ends libvips's threads (see media_thumb.h).  Not in the unit
	 * tests: they link libvips into their binary (no dlopen, nothing to
	 * crash on) and start the plugin many times, so it stays up. */
	pthread_mutex_lock(&mu);
	if (running) {
		vips_shutdown();
		g_quark_from_string(SHUT_QUARK);
		/* After the shutdown: its last words (if any) are dropped too. */
		g_log_remove_handler("VIPS", log_handler);
		log_handler = 0;
		running = false;
	}
	pthread_mutex_unlock(&mu);
#endif
}

void media_thumb_thread_done(void)
{
	pthread_mutex_lock(&mu);
	bool up = running;
	pthread_mutex_unlock(&mu);
	if (up)
		vips_thread_shutdown();
}

/* libvips's last error, or what to say when it left none (a truncated
 * file gets only warnings, which we drop). */
static const char *vips_why(void)
{
	const char *e = vips_error_buffer();
	return e && *e ? e : "not a readable image";
}

int media_thumb_make(const char *src, const char *dst, int size, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	VipsImage *in = NULL, *out = NULL;
	int st = CHATD_ERR_IO;
	if (size < 1 || snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "bad size or path");
		return CHATD_ERR_INVALID;
	}
	/* The header alone first: no decoding of a decompression bomb. */
	in = vips_image_new_from_file(src, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (!in) {
		snprintf(err, errlen, "cannot read image: %s", vips_why());
		st = CHATD_ERR_INVALID;
		goto out;
	}
	long long px = (long long)vips_image_get_width(in) * vips_image_get_height(in);
	if (px > MEDIA_THUMB_MAX_PIXELS) {
		snprintf(err, errlen, "image of %lld pixels: over the limit of %lld", px,
			 MEDIA_THUMB_MAX_PIXELS);
		st = CHATD_ERR_INVALID;
		goto out;
	}
	if (vips_thumbnail(src, &out, size, "height", size, "size", VIPS_SIZE_DOWN, NULL) != 0) {
		snprintf(err, errlen, "thumbnail: %s", vips_why());
		st = CHATD_ERR_INVALID;
		goto out;
	}
	/* JPEG has no alpha: flatten onto white rather than black. */
	if (vips_image_hasalpha(out)) {
		VipsImage *flat = NULL;
		VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
		int rc = vips_flatten(out, &flat, "background", white, NULL);
		vips_area_unref(VIPS_AREA(white));
		if (rc != 0) {
			snprintf(err, errlen, "flatten: %s", vips_why());
			goto out;
		}
		g_object_unref(out);
		out = flat;
	}
	if (vips_jpegsave(out, tmp, "Q", 80, "strip", TRUE, NULL) != 0) {
		snprintf(err, errlen, "save: %s", vips_why());
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, dst) != 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	st = CHATD_OK;
out:
	if (st != CHATD_OK)
		vips_error_clear();
	if (out)
		g_object_unref(out);
	if (in)
		g_object_unref(in);
	return st;
}
