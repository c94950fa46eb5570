/* nw_http.c — the webhook's HTTP/1.1 POST (see nw_http.h). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "nw_http.h"

int nw_url_parse(const char *url, struct nw_url *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "url must start with http:// (no TLS: use a local proxy)");
		return -1;
	}
	const char *h = url + 7, *end = h + strcspn(h, ":/");
	size_t hl = (size_t)(end - h);
	if (hl == 0 || hl >= sizeof out->host) {
		snprintf(err, errlen, "url has no host or too long a host");
		return -1;
	}
	memcpy(out->host, h, hl);
	const char *p = end;
	if (*p == ':') {
		size_t pl = strspn(p + 1, "0123456789");
		if (pl == 0 || pl >= sizeof out->port || atoi(p + 1) < 1 || atoi(p + 1) > 65535) {
			snprintf(err, errlen, "url has a bad port");
			return -1;
		}
		memcpy(out->port, p + 1, pl);
		p += 1 + pl;
	} else {
		strcpy(out->port, "80");
	}
	if (*p && *p != '/') {
		snprintf(err, errlen, "url has a bad port");
		return -1;
	}
	const char *path = *p ? p : "/";
	if (strlen(path) >= sizeof out->path || strpbrk(path, " \r\n")) {
		snprintf(err, errlen, "url path too long or with spaces");
		return -1;
	}
	strcpy(out->path, path);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -1 : n;
	}
}

static int fail(char *err, size_t errlen, const char *what, int fd)
{
	snprintf(err, errlen, "%s", what);
	if (fd >= 0)
		close(fd);
	return -1;
}

static int connect_to(const struct nw_url *u, int64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "connect %s:%s failed or timed out", u->host, u->port);
	return fd;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) != 1)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

int nw_http_post(const struct nw_url *u, const char *headers, const char *body, size_t len,
		 int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + timeout_ms;
	int fd = connect_to(u, deadline, err, errlen);
	if (fd < 0)
		return -1;
	char head[2048];
	int hn = snprintf(head, sizeof head,
			  "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: chatd\r\n%s\r\n",
			  u->path, u->host, u->port, len, headers);
	if (hn < 0 || (size_t)hn >= sizeof head)
		return fail(err, errlen, "request head too long", fd);
	if (send_all(fd, head, (size_t)hn, deadline) < 0 || send_all(fd, body, len, deadline) < 0)
		return fail(err, errlen, "send failed or timed out", fd);
	/* The status line is all we need: "HTTP/1.x NNN ". */
	char buf[64];
	size_t got = 0;
	while (got < 12) {
		ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (r > 0) {
			got += (size_t)r;
		} else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLIN, deadline) != 1)
				return fail(err, errlen, "no answer in time", fd);
		} else {
			return fail(err, errlen, "connection closed before an answer", fd);
		}
	}
	buf[got] = '\0';
	close(fd);
	int status = 0;
	if (strncmp(buf, "HTTP/1.", 7) != 0 || sscanf(buf + 9, "%3d", &status) != 1 ||
	    status < 100 || status > 599)
		return fail(err, errlen, "not an HTTP answer", -1);
	return status;
}
