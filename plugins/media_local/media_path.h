/* media_path.h — the paths and queries of media URLs (pure functions).
 *
 *   /media/<id>          the file
 *   /media/<id>/thumb    its thumbnail
 * with <id> of 1..MEDIA_ID_MAX bytes of [A-Za-z0-9_-] (so no ".", "/" or
 * "%": nothing can climb out of the media directory, whatever decoding
 * happened before).  Queries are "exp=<ms>&sig=<hex>", either order. */
#ifndef MEDIA_PATH_H
#define MEDIA_PATH_H

#include <stdbool.h>
#include <stdint.h>
#include "media_sign.h"

#define MEDIA_ID_MAX    64        /* the core's limit on media_id */
#define MEDIA_QUERY_MAX 512

/* id has 1..MEDIA_ID_MAX bytes of [A-Za-z0-9_-]. */
bool media_id_valid(const char *id);

/* Split a request path.  CHATD_OK with id (copied) and *thumb, or
 * CHATD_ERR_NOT_FOUND for anything else (answered 404). */
int media_path_parse(const char *path, char id[MEDIA_ID_MAX + 1], bool *thumb);

/* Read "exp" and "sig" out of a query (no leading '?').  CHATD_OK with
 * *exp and sig (copied); CHATD_ERR_FORBIDDEN when either is missing or its
 * value is not one we could have written (exp: 1..18 digits; sig:
 * MEDIA_SIG_HEX lowercase hex digits) — an unsigned or tampered URL;
 * CHATD_ERR_INVALID for a query we never write: another key, a key twice,
 * a part without '=', or over MEDIA_QUERY_MAX bytes. */
int media_query_parse(const char *query, int64_t *exp, char sig[MEDIA_SIG_HEX + 1]);

#endif
