/* utf8.h — strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF) and code point counting. */
#ifndef CHATD_UTF8_H
#define CHATD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);
/* Code points in a valid UTF-8 string of len bytes. */
size_t utf8_codepoints(const char *s, size_t len);

#endif
