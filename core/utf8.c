/* utf8.c — see utf8.h.
 *
 * Validation follows the well-formed byte sequence table of Unicode 15 §3.9
 * (Table 3-7): the second byte's range depends on the lead byte, which is
 * what rules out overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF)
 * and code points above U+10FFFF (F4 90..BF, F5..FF).  Runs of ASCII are
 * skipped eight bytes at a time. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#define HIGH_BITS 0x8080808080808080ULL

/* Length of the ASCII-only prefix of s[0..len). */
static size_t ascii_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (len - i >= 8) {
		uint64_t w;
		memcpy(&w, s + i, sizeof w); /* unaligned-safe */
		if (w & HIGH_BITS)
			break;
		i += 8;
	}
	while (i < len && s[i] < 0x80)
		i++;
	return i;
}

bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	if (len && !s)
		return false;
	while (i < len) {
		if (s[i] < 0x80) {
			i += ascii_prefix(s + i, len - i);
			continue;
		}
		unsigned char c = s[i];
		size_t need;
		unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;      /* overlong below U+0800 */
			else if (c == 0xED)
				hi = 0x9F;      /* surrogates U+D800..DFFF */
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0)
				lo = 0x90;      /* overlong below U+10000 */
			else if (c == 0xF4)
				hi = 0x8F;      /* above U+10FFFF */
		} else {
			return false;   /* 80..C1 (stray / overlong 2-byte), F5..FF */
		}
		if (len - i - 1 < need)
			return false;   /* truncated */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

size_t utf8_codepoints(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = 0, i = 0;

	if (!s)
		return 0;
	/* Every byte that is not a continuation byte (10xxxxxx) starts a code
	 * point; the ASCII fast path counts whole words at once. */
	while (i < len) {
		if (s[i] < 0x80) {
			size_t a = ascii_prefix(s + i, len - i);
			n += a;
			i += a;
			continue;
		}
		if ((s[i] & 0xC0) != 0x80)
			n++;
		i++;
	}
	return n;
}
