/* fuzz_b64.h — base64url (RFC 4648 §5, no padding) for the fuzz targets'
 * oracles.  The decoder is strict: only the 64 characters, no '=', no
 * length of 1 mod 4, and the unused low bits of the last character zero,
 * so every byte string has exactly one accepted encoding. */
#ifndef FUZZ_B64_H
#define FUZZ_B64_H

#include <stddef.h>

/* Encodes in[0..n) into out (NUL-terminated).  Returns the length, or 0
 * when it does not fit in cap bytes (out is then ""). */
size_t fuzz_b64url_encode(const unsigned char *in, size_t n, char *out, size_t cap);
/* Decodes in[0..n) into out.  Returns the decoded length, or -1 when the
 * text is not canonical base64url or does not fit in cap bytes. */
long fuzz_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

#endif
