/* media_sign.h — signed, expiring media URLs (pure functions, any thread).
 *
 * A URL is "<path>?exp=<ms>&sig=<hex>": sig is the lowercase hex of
 * HMAC-SHA256(key, method "\n" path "\n" exp in decimal).  The method is
 * the one the URL is for: "PUT" for uploads, "GET" for downloads (a HEAD
 * is checked against "GET").  The path is the whole path, so a signature
 * for "/media/<id>" does not open "/media/<id>/thumb". */
#ifndef MEDIA_SIGN_H
#define MEDIA_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEDIA_SIG_HEX   64        /* hex digits of a signature */
#define MEDIA_KEY_MIN   32        /* bytes of a configured secret */
#define MEDIA_KEY_MAX   256
#define MEDIA_PATH_MAX  256       /* bytes of a signed path */

enum media_sig_check {
	MEDIA_SIG_OK = 0,
	MEDIA_SIG_BAD = 1,            /* not our signature (tampered, other method/path) */
	MEDIA_SIG_EXPIRED = 2,        /* ours, but now > exp */
};

/* hex = the signature of (method, path, exp).  Returns CHATD_OK, or
 * CHATD_ERR_INVALID (empty key or method, path empty or over
 * MEDIA_PATH_MAX, exp < 0). */
int media_sign(const unsigned char *key, size_t keylen, const char *method, const char *path,
	       int64_t exp, char hex[MEDIA_SIG_HEX + 1]);

/* url = path "?exp=" exp "&sig=" signature.  CHATD_OK; CHATD_ERR_TOO_LARGE
 * when it does not fit in cap bytes (url then ""); else as media_sign. */
int media_sign_url(const unsigned char *key, size_t keylen, const char *method, const char *path,
		   int64_t exp, char *url, size_t cap);

/* Is sig (as found in a URL) the signature of (method, path, exp), and is
 * exp not before now?  The signature is checked first, in constant time. */
enum media_sig_check media_sign_check(const unsigned char *key, size_t keylen,
				      const char *method, const char *path, int64_t exp,
				      const char *sig, int64_t now);

#endif
