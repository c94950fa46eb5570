/* http.c — chatctl's HTTP/1.1 client (see http.h).
 *
 * One request per connection with "Connection: close", so the end of the
 * response is the end of Content-Length, of the last chunk, or EOF.
 * Sockets are non-blocking and every wait is a poll() bounded by the
 * request's deadline. */
#include "http.h"
#include "http_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* ---- URLs ---- */

int http_url_parse(const char *text, struct http_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	if (!text || !*text) {
		snprintf(err, errlen, "empty URL");
		return -1;
	}
	if (strncmp(text, "unix:", 5) == 0) {
		const char *p = text + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;                    /* unix:///run/x.sock */
		size_t n = strlen(p);
		if (n == 0 || n >= sizeof u->sock) {
			snprintf(err, errlen, "unix: needs a socket path of 1 to %zu bytes",
				 sizeof u->sock - 1);
			return -1;
		}
		u->kind = HTTP_URL_UNIX;
		memcpy(u->sock, p, n + 1);
		return 0;
	}
	bool tls = strncasecmp(text, "https://", 8) == 0;
	if (!tls && strncasecmp(text, "http://", 7) != 0) {
		snprintf(err, errlen, "'%.200s': use http://HOST:PORT, https://HOST:PORT or "
			 "unix:/PATH", text);
		return -1;
	}
	size_t scheme_len = tls ? 8 : 7;
	const char *h = text + scheme_len;
	size_t auth_len = strcspn(h, "/?#");
	if (memchr(h, '@', auth_len)) {
		snprintf(err, errlen, "user names in the URL are not supported; use --token");
		return -1;
	}
	const char *host_end, *port = NULL;
	size_t host_len;
	if (*h == '[') {
		const char *close = memchr(h, ']', auth_len);
		if (!close) {
			snprintf(err, errlen, "unclosed '[' in the URL");
			return -1;
		}
		host_len = (size_t)(close - h - 1);
		h++;
		host_end = close + 1;
	} else {
		const char *colon = memchr(h, ':', auth_len);
		host_end = colon ? colon : h + auth_len;
		host_len = (size_t)(host_end - h);
	}
	if (host_len == 0 || host_len >= sizeof u->host) {
		snprintf(err, errlen, "the URL has no host (or one that is too long)");
		return -1;
	}
	memcpy(u->host, h, host_len);
	u->host[host_len] = '\0';
	const char *rest = text + scheme_len + auth_len;
	if (*host_end == ':') {
		port = host_end + 1;
		size_t plen = (size_t)(rest - port);
		char buf[8];
		long long pv = 0;
		bool ok = plen > 0 && plen < sizeof buf;
		if (ok) {
			memcpy(buf, port, plen);
			buf[plen] = '\0';
			char *end;
			pv = strtoll(buf, &end, 10);
			ok = *end == '\0' && buf[0] >= '0' && buf[0] <= '9' && pv >= 1 && pv <= 65535;
		}
		if (!ok) {
			snprintf(err, errlen, "bad port in the URL (1..65535)");
			return -1;
		}
		snprintf(u->port, sizeof u->port, "%lld", pv);
	} else if (host_end != rest) {
		snprintf(err, errlen, "unexpected text after the host in the URL");
		return -1;
	} else {
		snprintf(u->port, sizeof u->port, tls ? "443" : "80");
	}
	if (*rest == '?' || *rest == '#' || strpbrk(rest, "?#")) {
		snprintf(err, errlen, "the URL must not have a query or fragment");
		return -1;
	}
	size_t plen = strlen(rest);
	while (plen > 0 && rest[plen - 1] == '/')
		plen--;
	if (plen >= sizeof u->prefix) {
		snprintf(err, errlen, "the URL's path is too long");
		return -1;
	}
	memcpy(u->prefix, rest, plen);
	u->prefix[plen] = '\0';
	u->kind = HTTP_URL_TCP;
	u->tls = tls;
	return 0;
}

/* ---- time ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - now_ms();
	return l < 0 ? 0 : l > INT32_MAX ? INT32_MAX : (int)l;
}

int http_wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r;
	}
}

/* ---- connecting ---- */

static int connect_addr(const struct sockaddr *sa, socklen_t salen, int family,
			int64_t deadline, int *out_errno)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*out_errno = errno;
		return -1;
	}
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		*out_errno = errno;
		close(fd);
		return -1;
	}
	int r = http_wait_fd(fd, POLLOUT, deadline);
	if (r <= 0) {
		*out_errno = r == 0 ? ETIMEDOUT : errno;
		close(fd);
		return -1;
	}
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
		*out_errno = soerr ? soerr : errno;
		close(fd);
		return -1;
	}
	return fd;
}

static int open_conn(const struct http_url *u, int64_t deadline, int *fd_out, char *err,
		     size_t errlen)
{
	int e = 0, fd = -1;
	if (u->kind == HTTP_URL_UNIX) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		memcpy(sa.sun_path, u->sock, strlen(u->sock) + 1);
		fd = connect_addr((struct sockaddr *)&sa, sizeof sa, AF_UNIX, deadline, &e);
		if (fd < 0)
			snprintf(err, errlen, "cannot connect to unix:%s: %s", u->sock,
				 e == ETIMEDOUT ? "timed out" : strerror(e));
	} else {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		struct addrinfo *res = NULL;
		int gr = getaddrinfo(u->host, u->port, &hints, &res);
		if (gr != 0) {
			snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(gr));
			return HTTP_E_CONNECT;
		}
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
			if (left_ms(deadline) == 0) {
				e = ETIMEDOUT;
				break;
			}
			fd = connect_addr(ai->ai_addr, ai->ai_addrlen, ai->ai_family, deadline, &e);
		}
		freeaddrinfo(res);
		if (fd < 0)
			snprintf(err, errlen, "cannot connect to %s port %s: %s", u->host, u->port,
				 e == ETIMEDOUT ? "timed out" : strerror(e));
	}
	if (fd < 0)
		return e == ETIMEDOUT ? HTTP_E_TIMEOUT : HTTP_E_CONNECT;
	*fd_out = fd;
	return HTTP_OK;
}

/* ---- parsing ---- */

bool http_header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *line = strstr(head, "\r\n");
	while (line) {
		line += 2;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *end = strstr(v, "\r\n");
			size_t n = end ? (size_t)(end - v) : strlen(v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (outlen == 0)
				return true;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		line = strstr(line, "\r\n");
	}
	return false;
}

/* Decodes a chunked body from p[0..len).  Returns 1 complete (body in *out,
 * malloc'd), 0 incomplete, <0 error. */
static int dechunk(const char *p, size_t len, size_t max_body, char **out, size_t *out_len,
		   char *err, size_t errlen)
{
	size_t i = 0, total = 0;
	char *body = malloc(1);
	if (!body)
		return HTTP_E_IO;
	for (;;) {
		const char *crlf = NULL;
		for (size_t k = i; k + 1 < len; k++)
			if (p[k] == '\r' && p[k + 1] == '\n') {
				crlf = p + k;
				break;
			}
		if (!crlf) {
			free(body);
			return 0;
		}
		char *end;
		errno = 0;
		unsigned long long n = strtoull(p + i, &end, 16);
		if (end == p + i || errno || (end != crlf && *end != ';')) {
			free(body);
			snprintf(err, errlen, "bad chunk size in the response");
			return HTTP_E_PROTOCOL;
		}
		if (n > max_body || total + n > max_body) {
			free(body);
			snprintf(err, errlen, "response larger than %zu bytes", max_body);
			return HTTP_E_TOO_LARGE;
		}
		i = (size_t)(crlf - p) + 2;
		if (n == 0) {
			/* Trailers (ignored) end with an empty line. */
			for (;;) {
				if (i + 1 >= len) {
					free(body);
					return 0;
				}
				if (p[i] == '\r' && p[i + 1] == '\n')
					break;
				const char *t = memchr(p + i, '\n', len - i);
				if (!t) {
					free(body);
					return 0;
				}
				i = (size_t)(t - p) + 1;
			}
			body[total] = '\0';
			*out = body;
			*out_len = total;
			return 1;
		}
		if (len - i < n + 2) {
			free(body);
			return 0;
		}
		char *nb = realloc(body, total + n + 1);
		if (!nb) {
			free(body);
			return HTTP_E_IO;
		}
		body = nb;
		memcpy(body + total, p + i, n);
		total += n;
		i += n;
		if (p[i] != '\r' || p[i + 1] != '\n') {
			free(body);
			snprintf(err, errlen, "chunk not followed by CRLF in the response");
			return HTTP_E_PROTOCOL;
		}
		i += 2;
	}
}

int http_parse_response(const char *buf, size_t len, bool eof, size_t max_body,
			struct http_response *resp, char *err, size_t errlen)
{
	const char *hend = NULL;
	for (size_t k = 0; k + 3 < len; k++)
		if (memcmp(buf + k, "\r\n\r\n", 4) == 0) {
			hend = buf + k;
			break;
		}
	if (!hend) {
		if (len > HTTP_HEAD_MAX) {
			snprintf(err, errlen, "response headers larger than %d bytes", HTTP_HEAD_MAX);
			return HTTP_E_TOO_LARGE;
		}
		if (eof) {
			snprintf(err, errlen, len ? "the server closed the connection in the middle "
				 "of the headers" : "the server closed the connection without answering");
			return HTTP_E_PROTOCOL;
		}
		return 0;
	}
	size_t head_len = (size_t)(hend - buf) + 2;   /* keep the last header's CRLF */
	if (head_len > HTTP_HEAD_MAX) {
		snprintf(err, errlen, "response headers larger than %d bytes", HTTP_HEAD_MAX);
		return HTTP_E_TOO_LARGE;
	}
	/* buf is not NUL-terminated: parse the status line from a copy. */
	char *head = malloc(head_len + 1);
	if (!head)
		return HTTP_E_IO;
	memcpy(head, buf, head_len);
	head[head_len] = '\0';
	int major = 0, minor = 0, status = 0;
	char sp = 0;
	if (sscanf(head, "HTTP/%d.%d %3d%c", &major, &minor, &status, &sp) < 3 || major != 1 ||
	    status < 100 || status > 599 || (sp != ' ' && sp != '\r')) {
		free(head);
		snprintf(err, errlen, "not an HTTP/1.x response (is this the admin port?)");
		return HTTP_E_PROTOCOL;
	}
	const char *b = hend + 4;
	size_t avail = len - (size_t)(b - buf);
	char val[64];
	char *body = NULL;
	size_t body_len = 0;
	int rc;
	if (http_header(head, "Transfer-Encoding", val, sizeof val) &&
	    strcasecmp(val, "identity") != 0) {
		if (strcasecmp(val, "chunked") != 0) {
			snprintf(err, errlen, "unsupported Transfer-Encoding '%s'", val);
			rc = HTTP_E_PROTOCOL;
			goto fail;
		}
		/* Decode once the terminal chunk may be there (or at EOF), not
		 * on every read. */
		if (!eof && !(avail >= 5 && memcmp(b + avail - 5, "0\r\n\r\n", 5) == 0)) {
			rc = 0;
			goto fail;
		}
		rc = dechunk(b, avail, max_body, &body, &body_len, err, errlen);
		if (rc == 0 && eof) {
			snprintf(err, errlen, "the server closed the connection in the middle of "
				 "the response");
			rc = HTTP_E_PROTOCOL;
		}
		if (rc <= 0)
			goto fail;
	} else if (http_header(head, "Content-Length", val, sizeof val)) {
		char *end;
		errno = 0;
		unsigned long long cl = strtoull(val, &end, 10);
		if (!val[0] || *end || errno || val[0] == '-') {
			snprintf(err, errlen, "bad Content-Length in the response");
			rc = HTTP_E_PROTOCOL;
			goto fail;
		}
		if (cl > max_body) {
			snprintf(err, errlen, "response larger than %zu bytes (Content-Length %llu)",
				 max_body, cl);
			rc = HTTP_E_TOO_LARGE;
			goto fail;
		}
		if (avail < cl) {
			if (eof) {
				snprintf(err, errlen, "the server closed the connection after %zu of "
					 "%llu bytes", avail, cl);
				rc = HTTP_E_PROTOCOL;
			} else {
				rc = 0;
			}
			goto fail;
		}
		body_len = (size_t)cl;
	} else {
		/* No length: the body ends when the server closes. */
		if (avail > max_body) {
			snprintf(err, errlen, "response larger than %zu bytes", max_body);
			rc = HTTP_E_TOO_LARGE;
			goto fail;
		}
		if (!eof && status != 204 && status != 304) {
			rc = 0;
			goto fail;
		}
		body_len = (status == 204 || status == 304) ? 0 : avail;
	}
	if (!body) {
		body = malloc(body_len + 1);
		if (!body) {
			rc = HTTP_E_IO;
			goto fail;
		}
		memcpy(body, b, body_len);
		body[body_len] = '\0';
	}
	resp->status = status;
	resp->head = head;
	resp->body = body;
	resp->body_len = body_len;
	return 1;
fail:
	free(head);
	return rc;
}

/* ---- the exchange ---- */

/* One connection: a socket, and its TLS session for https://. */
struct conn {
	int fd;
	struct http_tls *tls;
};

static ssize_t conn_send(struct conn *c, const char *p, size_t n, short *want)
{
	if (c->tls)
		return http_tls_write(c->tls, p, n, want);
	*want = POLLOUT;
	return send(c->fd, p, n, MSG_NOSIGNAL);
}

static ssize_t conn_recv(struct conn *c, char *p, size_t n, short *want)
{
	if (c->tls)
		return http_tls_read(c->tls, p, n, want);
	*want = POLLIN;
	return recv(c->fd, p, n, 0);
}

static int send_all(struct conn *c, const char *p, size_t n, int64_t deadline, char *err,
		    size_t errlen)
{
	while (n > 0) {
		short want = POLLOUT;
		ssize_t w = conn_send(c, p, n, &want);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = http_wait_fd(c->fd, want, deadline);
			if (r == 0) {
				snprintf(err, errlen, "timed out sending the request");
				return HTTP_E_TIMEOUT;
			}
			if (r > 0)
				continue;
		}
		snprintf(err, errlen, "cannot send the request: %s",
			 errno == EPROTO ? "TLS error" : strerror(errno));
		return HTTP_E_IO;
	}
	return HTTP_OK;
}

static char *build_request(const struct http_url *u, const struct http_request *rq,
			   size_t *len)
{
	char host[300];
	if (u->kind == HTTP_URL_UNIX)
		snprintf(host, sizeof host, "localhost");
	else if (strchr(u->host, ':'))
		snprintf(host, sizeof host, "[%s]:%s", u->host, u->port);
	else
		snprintf(host, sizeof host, "%s:%s", u->host, u->port);
	char *out = NULL;
	size_t cap = 0;
	FILE *f = open_memstream(&out, &cap);
	if (!f)
		return NULL;
	fprintf(f, "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: chatctl/%s\r\n"
		"Accept: %s\r\nConnection: close\r\n", rq->method, u->prefix, rq->path, host,
		PACKAGE_VERSION, rq->accept ? rq->accept : "application/json");
	if (rq->bearer)
		fprintf(f, "Authorization: Bearer %s\r\n", rq->bearer);
	if (rq->body)
		fprintf(f, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			rq->body_len);
	else if (strcmp(rq->method, "GET") != 0)
		fprintf(f, "Content-Length: 0\r\n\r\n");
	else
		fprintf(f, "\r\n");
	if (rq->body)
		fwrite(rq->body, 1, rq->body_len, f);
	if (ferror(f) || fclose(f) != 0) {
		free(out);
		return NULL;
	}
	*len = cap;
	return out;
}

int http_do(const struct http_url *url, const struct http_request *rq,
	    struct http_response *resp, char *err, size_t errlen)
{
	memset(resp, 0, sizeof *resp);
	int64_t start = now_ms();
	int64_t deadline = start + (rq->timeout_ms > 0 ? rq->timeout_ms : 30000);
	int64_t cdeadline = start + (rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : 5000);
	if (cdeadline > deadline)
		cdeadline = deadline;
	/* Headers go on the wire as given: refuse anything that could split them. */
	if (strpbrk(rq->path, "\r\n ") || (rq->bearer && strpbrk(rq->bearer, "\r\n"))) {
		snprintf(err, errlen, "invalid characters in the request path or token");
		return HTTP_E_IO;
	}
	size_t reqlen = 0;
	char *req = build_request(url, rq, &reqlen);
	if (!req) {
		snprintf(err, errlen, "out of memory");
		return HTTP_E_IO;
	}
	struct conn c = { .fd = -1 };
	int crc = open_conn(url, cdeadline, &c.fd, err, errlen);
	/* The handshake counts as connecting. */
	if (crc == HTTP_OK && url->tls)
		crc = http_tls_open(c.fd, url->host, rq->cacert, cdeadline, &c.tls, err, errlen);
	if (crc != HTTP_OK) {
		if (c.fd >= 0)
			close(c.fd);
		free(req);
		return crc;
	}
	int rc = send_all(&c, req, reqlen, deadline, err, errlen);
	free(req);
	size_t cap = 16384, len = 0;
	size_t limit = rq->max_body + HTTP_HEAD_MAX;
	char *buf = rc == HTTP_OK ? malloc(cap) : NULL;
	if (rc == HTTP_OK && !buf) {
		snprintf(err, errlen, "out of memory");
		rc = HTTP_E_IO;
	}
	while (rc == HTTP_OK) {
		if (len == cap) {
			size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
			char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
			if (!nb) {
				snprintf(err, errlen, ncap > cap ? "out of memory"
					 : "response larger than %zu bytes", rq->max_body);
				rc = ncap > cap ? HTTP_E_IO : HTTP_E_TOO_LARGE;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		short want = POLLIN;
		ssize_t r = conn_recv(&c, buf + len, cap - len, &want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = http_wait_fd(c.fd, want, deadline);
			if (w == 0) {
				snprintf(err, errlen, "no complete answer within %.1f s",
					 (double)(deadline - start) / 1000.0);
				rc = HTTP_E_TIMEOUT;
			} else if (w < 0) {
				snprintf(err, errlen, "poll: %s", strerror(errno));
				rc = HTTP_E_IO;
			}
			continue;
		}
		bool eof = r == 0 || (r < 0 && errno == ECONNRESET);
		if (r < 0 && !eof) {
			snprintf(err, errlen, "cannot read the answer: %s",
				 errno == EPROTO ? "TLS error" : strerror(errno));
			rc = HTTP_E_IO;
			break;
		}
		if (r > 0)
			len += (size_t)r;
		int p = http_parse_response(buf, len, eof, rq->max_body, resp, err, errlen);
		if (p == 1)
			break;
		if (p < 0)
			rc = p;
	}
	free(buf);
	http_tls_close(c.tls);
	close(c.fd);
	return rc;
}

void http_response_free(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->head);
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}
