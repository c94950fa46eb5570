/* media_magic.h — the media types media_local accepts, and whether a file's
 * bytes are what its declared type says (pure functions, any thread).
 *
 * Binary types are recognised by their first bytes; text/plain must be
 * valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)
 * without NUL, all of it, and not starting with U+0001 (a sealed file's
 * first byte).  The check streams: feed the bytes in order, in
 * pieces of any size, then ask for the verdict. */
#ifndef MEDIA_MAGIC_H
#define MEDIA_MAGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum media_type {
	MEDIA_T_NONE = 0,
	MEDIA_T_JPEG,                 /* image/jpeg: FF D8 FF */
	MEDIA_T_PNG,                  /* image/png: 89 50 4E 47 0D 0A 1A 0A */
	MEDIA_T_WEBP,                 /* image/webp: "RIFF" 4 bytes "WEBP" */
	MEDIA_T_GIF,                  /* image/gif: "GIF87a" | "GIF89a" */
	MEDIA_T_PDF,                  /* application/pdf: "%PDF-" */
	MEDIA_T_MP4,                  /* video/mp4: "ftyp" at offset 4 */
	MEDIA_T_OGG,                  /* audio/ogg: "OggS" */
	MEDIA_T_MP3,                  /* audio/mpeg: "ID3", or a frame sync FF E0..FF */
	MEDIA_T_TEXT,                 /* text/plain: UTF-8 without NUL */
	MEDIA_T_COUNT
};

/* The type of a MIME type (ASCII case ignored; parameters such as
 * "; charset=…" are not accepted), or MEDIA_T_NONE. */
enum media_type media_type_of(const char *mime);
/* The canonical (lowercase) MIME type of t; NULL for MEDIA_T_NONE. */
const char *media_type_mime(enum media_type t);
/* JPEG, PNG and WebP get thumbnails. */
bool media_type_thumbnailable(enum media_type t);

#define MEDIA_MAGIC_HEAD 12           /* bytes the binary signatures need */

struct media_sniff {
	enum media_type type;
	unsigned char head[MEDIA_MAGIC_HEAD];
	size_t n_head;
	/* text: continuation bytes still expected, and the range the next
	 * one must be in (narrower right after some lead bytes) */
	unsigned need;
	unsigned char lo, hi;
	bool bad;
};

void media_sniff_init(struct media_sniff *s, enum media_type t);
void media_sniff_feed(struct media_sniff *s, const void *buf, size_t n);
/* After the last byte: does the content match the type? */
bool media_sniff_match(const struct media_sniff *s);

/* The same over one buffer holding the whole content. */
bool media_magic_match(enum media_type t, const void *buf, size_t n);

#endif
