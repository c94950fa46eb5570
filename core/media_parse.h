/* media_parse.h — what the media upload path parses from client input,
 * without a connection or a plugin: the fields of a media.upload command
 * (core/cmd_media.c), and the Content-Length and query of an HTTP request
 * under /media/ (core/gw_media.c).  Pure functions (any thread); also
 * driven by tests/fuzz/fuzz_media.c. */
#ifndef CHATD_MEDIA_PARSE_H
#define CHATD_MEDIA_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define MEDIA_MIME_MAX 127          /* bytes of a mime type */
#define MEDIA_NAME_MAX_CHARS 255    /* code points of a file name */
#define MEDIA_SIZE_MAX_JSON (1LL << 53)

struct media_upload_args {
	const char *mime;           /* "type/subtype" of RFC 7230 token characters */
	int64_t size;               /* 1..MEDIA_SIZE_MAX_JSON */
	const char *name;           /* NULL when absent or "" */
};

/* The fields of a media.upload command msg (borrowed; a's strings point
 * into it).  False with the reason in err (128 bytes) for a bad_request. */
bool media_parse_upload(json_t *msg, struct media_upload_args *a, char *err);

/* "type/subtype": two non-empty tokens, no parameters, len bytes. */
bool media_mime_ok(const char *s, size_t len);

/* A Content-Length value: 1 or more decimal digits that fit an int64. */
bool media_parse_content_length(const char *s, int64_t *out);

/* Append one query fragment (as lws hands them over, split at '&' and
 * ';', each %-decoded) to out[0..*n) (NUL-terminated, cap bytes), joined
 * with '&'; empty fragments are dropped.  False when it does not fit. */
bool media_query_append(char *out, size_t cap, size_t *n, const char *frag, size_t len);

#endif
