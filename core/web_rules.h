/* web_rules.h — the checks of the web endpoints' inputs, with no I/O (any
 * thread): the static files' paths, types and headers (gw_static.c), the
 * dev sign-in body (gw_post.c) and the telemetry report (telemetry.c). */
#ifndef CHATD_WEB_RULES_H
#define CHATD_WEB_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auth.h"

/* ---- static files ---- */

/* Is uri an acceptable request path?  Every segment non-empty, made of
 * [A-Za-z0-9._-] and not starting with '.'; no trailing '/'; at most 512
 * bytes.  "/" is. */
bool web_path_ok(const char *uri);
/* The Content-Type for a file name, or NULL when the type is not served. */
const char *web_mime(const char *name);
/* The extra header lines (each "Name: value\r\n") of a static answer into
 * buf: Content-Security-Policy (self, plus ws:// and wss:// of host),
 * X-Content-Type-Options, X-Frame-Options, Referrer-Policy, Cache-Control.
 * host is the request's Host header (NULL or malformed: left out of the
 * policy).  Returns the length, or -1 when buf is too small. */
int web_static_headers(char *buf, size_t cap, const char *host);

/* ---- development sign-in ---- */

/* Parse a dev sign-in body: {"user_id": valid id, "roles": ["moderator"]?}.
 * Fills user (AUTH_USER_MAX + 1 bytes) and *moderator.  Returns NULL when
 * valid, else a message for a 400. */
const char *web_dev_login_parse(const char *body, size_t len, char *user, bool *moderator);

/* ---- telemetry ---- */

#define TELEMETRY_COUNT_MAX 1000    /* reconnects, stuck_sends: per report */
#define TELEMETRY_ERRORS_MAX 20     /* errors[] entries per report */
#define TELEMETRY_CODE_MAX 64
#define TELEMETRY_MESSAGE_MAX 1000

struct telemetry_report {
	int64_t reconnects;
	int64_t stuck_sends;
	size_t n_errors;
	char codes[TELEMETRY_ERRORS_MAX][TELEMETRY_CODE_MAX + 1];
};

/* Parse and check a report: an object with optional "reconnects" and
 * "stuck_sends" (integers 0..TELEMETRY_COUNT_MAX) and "errors" (an array
 * of at most TELEMETRY_ERRORS_MAX objects, each with "code", 1..64
 * characters of [a-z0-9_.-], and an optional "message", a string of at
 * most TELEMETRY_MESSAGE_MAX characters, not kept).  Unknown fields are
 * ignored.  Returns NULL when valid, else the reason (for a 400). */
const char *telemetry_parse(const char *body, size_t len, struct telemetry_report *out);

/* The label value a code is counted under: itself when it is one of the
 * known codes (the protocol's error codes and the web client's own, listed
 * in docs/web-client.md), else "other". */
const char *telemetry_code_label(const char *code);

#endif
