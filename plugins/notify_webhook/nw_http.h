/* nw_http.h — a minimal HTTP/1.1 client for the webhook: one POST per
 * connection (Connection: close) to an http:// URL, every step bounded by
 * one deadline.  No TLS: terminate it in a local proxy if the gateway
 * needs https.  Worker thread only. */
#ifndef NW_HTTP_H
#define NW_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct nw_url {
	char host[256];
	char port[8];
	char path[1024];
};

/* Parse "http://host[:port][/path]" (port default 80, path default "/").
 * Returns 0, or -1 with err (errlen bytes) saying why. */
int nw_url_parse(const char *url, struct nw_url *out, char *err, size_t errlen);

/* POST body with the extra header lines `headers` (each "Name: value\r\n";
 * may be empty) within timeout_ms.  Returns the HTTP status (100..599), or
 * -1 on a network error or timeout (err says which). */
int nw_http_post(const struct nw_url *u, const char *headers, const char *body, size_t len,
		 int timeout_ms, char *err, size_t errlen);

#endif
