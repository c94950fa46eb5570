/* http_tls.h — the TLS layer of chatctl's HTTP client (OpenSSL), for
 * https:// admin URLs.  The server's certificate is always verified: against
 * the CA file given (--cacert, CHATCTL_CACERT, `cacert =`) or else the
 * system's CAs, and its name against the URL's host (a DNS name or an IP
 * address in subjectAltName).  There is no switch to skip verification.
 *
 * Works on a connected non-blocking socket; every wait is bounded by the
 * caller's deadline (ms on CLOCK_MONOTONIC).  Ownership: http_tls_close
 * frees the session, the caller still closes the socket. */
#ifndef CHATCTL_HTTP_TLS_H
#define CHATCTL_HTTP_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct http_tls;

/* Handshake with the server behind fd as `host`.  cacert: a PEM file of
 * trusted CAs, or NULL for the system's.  Returns 0 with *out set, or an
 * http_result (HTTP_E_TIMEOUT, HTTP_E_TLS for a failed handshake or
 * verification, HTTP_E_IO) with the reason in err. */
int http_tls_open(int fd, const char *host, const char *cacert, int64_t deadline,
		  struct http_tls **out, char *err, size_t errlen);

/* Like send()/recv() on a non-blocking socket: bytes moved (recv: 0 at the
 * end of the stream), or -1 with errno EAGAIN and *want the poll events to
 * wait for, or -1 with another errno (EPROTO for a TLS error). */
ssize_t http_tls_write(struct http_tls *t, const void *buf, size_t n, short *want);
ssize_t http_tls_read(struct http_tls *t, void *buf, size_t n, short *want);

void http_tls_close(struct http_tls *t);

#endif
