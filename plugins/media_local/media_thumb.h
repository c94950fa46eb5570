/* media_thumb.h — thumbnails with libvips.
 *
 * libvips is process-wide: media_thumb_start() initialises it once (the
 * first call) and media_thumb_stop() shuts it down, which also ends its
 * worker threads.  That must happen before the plugin is unloaded: threads
 * of libvips left running into exit make LeakSanitizer crash while it
 * scans their dynamic TLS (libvips is loaded with dlopen), and its pools
 * would read as leaks.  libvips cannot be started again after a shutdown,
 * so a later start in the same process reports "unavailable" (the plugin
 * then makes no thumbnails and says so).
 *
 * Threads: start and stop on the core thread (init, fini); make on the
 * plugin's worker thread, which calls media_thumb_thread_done() before it
 * exits. */
#ifndef MEDIA_THUMB_H
#define MEDIA_THUMB_H

#include <stddef.h>

/* CHATD_OK, or CHATD_ERR_UNAVAILABLE (libvips was shut down in this
 * process already) / CHATD_ERR_INTERNAL (it would not start) with err. */
int media_thumb_start(char *err, size_t errlen);
void media_thumb_stop(void);
void media_thumb_thread_done(void);

/* Write a JPEG thumbnail of the image at src, its longer side `size`
 * pixels at most (never enlarged), to dst (through dst.tmp and a rename).
 * Only JPEG, PNG and WebP are read; images over MEDIA_THUMB_MAX_PIXELS are
 * refused.  CHATD_OK, or CHATD_ERR_INVALID / CHATD_ERR_IO with err. */
#define MEDIA_THUMB_MAX_PIXELS (100LL * 1000 * 1000)
int media_thumb_make(const char *src, const char *dst, int size, char *err, size_t errlen);

#endif
