/* http.h — a small HTTP/1.1 client for chatctl: one request per
 * connection (Connection: close) over TCP or a Unix socket, with a connect
 * timeout, a deadline for the whole exchange and a cap on the response.
 * http:// is plain, https:// runs over TLS (http_tls.c; the server's
 * certificate is verified, see http_tls.h).
 *
 * Thread: any, one request at a time per call.  Ownership: the response's
 * buffers belong to the caller (http_response_free). */
#ifndef CHATCTL_HTTP_H
#define CHATCTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX (64 * 1024)    /* status line and headers */

enum http_url_kind { HTTP_URL_TCP = 1, HTTP_URL_UNIX = 2 };

/* "http://HOST[:PORT][/PREFIX]", "https://HOST[:PORT][/PREFIX]" (HOST a
 * name, IPv4 or [IPv6]; PORT default 80 / 443) or "unix:/PATH/TO/SOCKET". */
struct http_url {
	enum http_url_kind kind;
	bool tls;                    /* https:// */
	char host[256];              /* TCP: without brackets */
	char port[8];
	char sock[108];              /* Unix: the socket path */
	char prefix[256];            /* "" or "/prefix" (no trailing '/') */
};

/* Returns 0, or -1 with the reason in err. */
int http_url_parse(const char *text, struct http_url *u, char *err, size_t errlen);

struct http_response {
	int status;                  /* e.g. 200 */
	char *head;                  /* status line + headers, NUL-terminated */
	char *body;                  /* NUL-terminated (the NUL not counted) */
	size_t body_len;
};

enum http_result {
	HTTP_OK = 0,
	HTTP_E_CONNECT = -1,         /* cannot connect (refused, no route, no socket) */
	HTTP_E_TIMEOUT = -2,         /* connect or answer took too long */
	HTTP_E_TOO_LARGE = -3,       /* response over the cap */
	HTTP_E_PROTOCOL = -4,        /* not a valid HTTP response */
	HTTP_E_IO = -5,              /* other errors (out of memory, I/O) */
	HTTP_E_TLS = -6,             /* https: handshake failed or certificate not trusted */
};

struct http_request {
	const char *method;          /* "GET" | "POST" | "DELETE" */
	const char *path;            /* "/v1/status?x=1", appended to url->prefix */
	const char *bearer;          /* token, or NULL for no Authorization */
	const char *accept;          /* Accept header, or NULL for application/json */
	const char *body;            /* JSON text or NULL */
	size_t body_len;
	int connect_timeout_ms;
	int timeout_ms;              /* the whole exchange, connect included */
	size_t max_body;             /* larger responses: HTTP_E_TOO_LARGE */
	const char *cacert;          /* https: PEM file of trusted CAs; NULL: the system's */
};

/* Sends req to url and reads the answer into *resp (zeroed first).
 * Returns HTTP_OK (any status code) or an http_result with err set. */
int http_do(const struct http_url *url, const struct http_request *req,
	    struct http_response *resp, char *err, size_t errlen);
void http_response_free(struct http_response *resp);

/* The response parser, exposed for tests.  buf holds what was read so far
 * (len bytes); eof: the peer closed.  Returns 1 when the response is
 * complete (*resp filled: head and body copied), 0 when more is needed,
 * or a negative http_result. */
int http_parse_response(const char *buf, size_t len, bool eof, size_t max_body,
			struct http_response *resp, char *err, size_t errlen);

/* Waits until fd is ready for events or the deadline (ms, CLOCK_MONOTONIC)
 * passes: 1 ready, 0 timed out, -1 error (errno). */
int http_wait_fd(int fd, short events, int64_t deadline);

/* Value of header name (case-insensitive) in a response head, copied into
 * out; false when absent. */
bool http_header(const char *head, const char *name, char *out, size_t outlen);

#endif
