/* gw_static.h — the web client's files at GET / (gateway thread).
 *
 * Files are served from one directory (web.root) and nothing else: a path
 * is accepted only when every segment is made of [A-Za-z0-9._-] and does
 * not start with '.', the file's real path (symlinks resolved) is inside
 * the root's, it is a regular file, and its extension is one of a short
 * list of known types.  "/" is index.html; there are no directory
 * listings.  Every answer carries the security headers (web_rules.h). */
#ifndef CHATD_GW_STATIC_H
#define CHATD_GW_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <libwebsockets.h>

struct gw_static;

/* root: the directory (borrowed for the call); enabled false: every path
 * is 404.  A root that does not exist is logged (warn) and serves 404.
 * NULL on ENOMEM. */
struct gw_static *gw_static_new(const char *root, bool enabled);
void gw_static_free(struct gw_static *s);

/* LWS_CALLBACK_HTTP for a GET or HEAD no other route took.  Returns the
 * callback's return value. */
int gw_static_serve(struct gw_static *s, struct lws *wsi, const char *uri);

#endif
