/* media_magic.c — media types and content checks (see media_magic.h). */
#include <string.h>
#include <strings.h>
#include "media_magic.h"

static const char *const mimes[MEDIA_T_COUNT] = {
	[MEDIA_T_JPEG] = "image/jpeg",
	[MEDIA_T_PNG] = "image/png",
	[MEDIA_T_WEBP] = "image/webp",
	[MEDIA_T_GIF] = "image/gif",
	[MEDIA_T_PDF] = "application/pdf",
	[MEDIA_T_MP4] = "video/mp4",
	[MEDIA_T_OGG] = "audio/ogg",
	[MEDIA_T_MP3] = "audio/mpeg",
	[MEDIA_T_TEXT] = "text/plain",
};

enum media_type media_type_of(const char *mime)
{
	if (!mime)
		return MEDIA_T_NONE;
	for (int t = 1; t < MEDIA_T_COUNT; t++)
		if (strcasecmp(mime, mimes[t]) == 0)
			return (enum media_type)t;
	return MEDIA_T_NONE;
}

const char *media_type_mime(enum media_type t)
{
	return t > MEDIA_T_NONE && t < MEDIA_T_COUNT ? mimes[t] : NULL;
}

bool media_type_thumbnailable(enum media_type t)
{
	return t == MEDIA_T_JPEG || t == MEDIA_T_PNG || t == MEDIA_T_WEBP;
}

void media_sniff_init(struct media_sniff *s, enum media_type t)
{
	memset(s, 0, sizeof(*s));
	s->type = t;
}

/* One byte of UTF-8 (RFC 3629's table: the second byte's range depends on
 * the lead byte, which rules out overlongs, surrogates and > U+10FFFF). */
static void utf8_byte(struct media_sniff *s, unsigned char c)
{
	if (s->need) {
		if (c < s->lo || c > s->hi) {
			s->bad = true;
			return;
		}
		s->need--;
		s->lo = 0x80;
		s->hi = 0xBF;
		return;
	}
	s->lo = 0x80;
	s->hi = 0xBF;
	if (c == 0x00)
		s->bad = true;               /* NUL: not text */
	else if (c < 0x80)
		return;
	else if (c >= 0xC2 && c <= 0xDF)
		s->need = 1;
	else if (c >= 0xE0 && c <= 0xEF) {
		s->need = 2;
		if (c == 0xE0)
			s->lo = 0xA0;        /* no overlong 3-byte forms */
		else if (c == 0xED)
			s->hi = 0x9F;        /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		s->need = 3;
		if (c == 0xF0)
			s->lo = 0x90;        /* no overlong 4-byte forms */
		else if (c == 0xF4)
			s->hi = 0x8F;        /* nothing above U+10FFFF */
	} else {
		s->bad = true;               /* 80..C1, F5..FF */
	}
}

void media_sniff_feed(struct media_sniff *s, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t take = MEDIA_MAGIC_HEAD - s->n_head;
	if (take > n)
		take = n;
	memcpy(s->head + s->n_head, p, take);
	s->n_head += take;
	if (s->type != MEDIA_T_TEXT)
		return;
	for (size_t i = 0; i < n && !s->bad; i++)
		utf8_byte(s, p[i]);
}

/* The first n bytes of the content are `sig`. */
static bool starts(const struct media_sniff *s, const char *sig, size_t n)
{
	return s->n_head >= n && memcmp(s->head, sig, n) == 0;
}

bool media_sniff_match(const struct media_sniff *s)
{
	const unsigned char *h = s->head;
	switch (s->type) {
	case MEDIA_T_JPEG:
		return starts(s, "\xFF\xD8\xFF", 3);
	case MEDIA_T_PNG:
		return starts(s, "\x89PNG\r\n\x1A\n", 8);
	case MEDIA_T_WEBP:
		return s->n_head >= 12 && starts(s, "RIFF", 4) && memcmp(h + 8, "WEBP", 4) == 0;
	case MEDIA_T_GIF:
		return starts(s, "GIF87a", 6) || starts(s, "GIF89a", 6);
	case MEDIA_T_PDF:
		return starts(s, "%PDF-", 5);
	case MEDIA_T_MP4:
		return s->n_head >= 8 && memcmp(h + 4, "ftyp", 4) == 0;
	case MEDIA_T_OGG:
		return starts(s, "OggS", 4);
	case MEDIA_T_MP3:
		return starts(s, "ID3", 3) || (s->n_head >= 2 && h[0] == 0xFF && h[1] >= 0xE0);
	case MEDIA_T_TEXT:
		/* Not empty, valid throughout, and no sequence cut off; not
		 * starting with U+0001, the first byte of a sealed file
		 * (decision 61), so a stored file is sealed exactly when it
		 * starts with the sealed magic. */
		return s->n_head > 0 && h[0] != 0x01 && !s->bad && s->need == 0;
	default:
		return false;
	}
}

bool media_magic_match(enum media_type t, const void *buf, size_t n)
{
	struct media_sniff s;
	media_sniff_init(&s, t);
	media_sniff_feed(&s, buf, n);
	return media_sniff_match(&s);
}
