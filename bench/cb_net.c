/* cb_net.c — chatbench's sockets: paced non-blocking connects with retry
 * (each connection to its node), the WebSocket upgrade, reading into the frame
 * parser, and coalesced writes through a per-connection output buffer. */
#include "chatbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (8u << 20)      /* per-connection output cap */
#define MAX_ATTEMPTS 5

uint64_t cb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void cb_err(struct bench *b, const char *name)
{
	struct cb_errors *e = &b->err;
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->name[i], name) == 0) {
			e->count[i]++;
			return;
		}
	int i = e->n < CB_MAX_ERR ? e->n++ : CB_MAX_ERR - 1;
	if (i == CB_MAX_ERR - 1 && e->n == CB_MAX_ERR && strcmp(e->name[i], "other") != 0) {
		snprintf(e->name[i], sizeof e->name[i], "other");
		e->count[i] = 0;
	}
	if (e->count[i] == 0)
		snprintf(e->name[i], sizeof e->name[i], "%s", name);
	e->count[i]++;
}

uint64_t cb_err_total(const struct bench *b)
{
	uint64_t t = 0;
	for (int i = 0; i < b->err.n; i++)
		t += b->err.count[i];
	return t;
}

int cb_net_init(struct bench *b, int nconn)
{
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0)
		return -1;
	b->c = calloc((size_t)nconn, sizeof *b->c);
	b->dirty = calloc((size_t)nconn, sizeof *b->dirty);
	if (!b->c || !b->dirty)
		return -1;
	b->nconn = nconn;
	for (int i = 0; i < nconn; i++) {
		b->c[i].fd = -1;
		b->c[i].idx = i;
		b->c[i].node = cb_node_of(i, b->o.nnodes);
		b->c[i].group = -1;
		cb_ws_rx_init(&b->c[i].rx);
	}
	return 0;
}

static void conn_drop_fd(struct bench *b, struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->st == CS_CONNECTING || c->st == CS_HANDSHAKE || c->st == CS_OPEN)
		b->n_connecting--;
	if (c->st == CS_READY)
		b->n_ready--;
	free(c->hs);
	c->hs = NULL;
	c->hs_len = 0;
	c->out_off = c->out_len = 0;
	c->want_out = false;
	c->st = CS_CLOSED;
}

void cb_net_reset(struct bench *b, struct conn *c)
{
	conn_drop_fd(b, c);
	cb_ws_rx_free(&c->rx);
	c->st = CS_IDLE;
	c->attempts = 0;
	c->retry_at = 0;
	c->inflight = 0;
	c->close_code = 0;
}

void cb_net_free(struct bench *b)
{
	for (int i = 0; i < b->nconn; i++) {
		struct conn *c = &b->c[i];
		conn_drop_fd(b, c);
		cb_ws_rx_free(&c->rx);
		free(c->out);
		free(c->target);
	}
	free(b->c);
	free(b->dirty);
	b->c = NULL;
	if (b->epfd >= 0)
		close(b->epfd);
	b->epfd = -1;
}

/* A connection that failed before `ready`: retry with back-off, or give up. */
static void conn_failed(struct bench *b, struct conn *c, const char *why)
{
	bool before_ready = c->st != CS_READY;
	conn_drop_fd(b, c);
	if (before_ready && c->attempts < MAX_ATTEMPTS) {
		c->st = CS_IDLE;
		c->retry_at = cb_now_ns() + (uint64_t)c->attempts * 200000000ULL;
		cb_ws_rx_free(&c->rx);
		if (b->o.verbose)
			fprintf(stderr, "chatbench: conn %d: %s, retrying\n", c->idx, why);
		return;
	}
	cb_err(b, before_ready ? "connect_failed" : why);
	if (b->o.verbose)
		fprintf(stderr, "chatbench: conn %d: %s\n", c->idx, why);
}

static void mark_dirty(struct bench *b, struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		b->dirty[b->ndirty++] = c->idx;
	}
}

static int out_append(struct conn *c, const void *p, size_t n, size_t *spot)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		if (c->out_off) {   /* compact before growing */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_len + n > c->out_cap) {
			if (c->out_len + n > OUT_MAX)
				return -1;
			size_t nc = c->out_cap ? c->out_cap : 4096;
			while (nc < c->out_len + n)
				nc *= 2;
			uint8_t *q = realloc(c->out, nc);
			if (!q)
				return -1;
			c->out = q;
			c->out_cap = nc;
		}
	}
	if (p)
		memcpy(c->out + c->out_len, p, n);
	*spot = c->out_len;
	c->out_len += n;
	return 0;
}

int cb_net_send(struct bench *b, struct conn *c, const char *text, size_t len)
{
	if (c->st != CS_READY && c->st != CS_OPEN)
		return -1;
	size_t need = cb_ws_header_len(len) + len, at;
	if (out_append(c, NULL, need, &at) < 0) {
		b->backpressure_skips++;
		return -1;
	}
	b->prng ^= b->prng << 13;
	b->prng ^= b->prng >> 7;
	b->prng ^= b->prng << 17;
	cb_ws_encode(c->out + at, CB_WS_TEXT, text, len, (uint32_t)b->prng);
	mark_dirty(b, c);
	return 0;
}

static void set_events(struct bench *b, struct conn *c, bool want_out)
{
	if (c->want_out == want_out || c->fd < 0)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u32 = (uint32_t)c->idx };
	epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want_out;
}

static void flush(struct bench *b, struct conn *c)
{
	while (c->fd >= 0 && c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (w > 0) {
			c->out_off += (size_t)w;
			b->bytes_out += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(b, c, true);
			return;
		}
		conn_failed(b, c, "write_error");
		return;
	}
	if (c->fd >= 0) {
		c->out_off = c->out_len = 0;
		set_events(b, c, false);
	}
}

void cb_net_close(struct bench *b, struct conn *c, bool graceful)
{
	if (graceful && c->fd >= 0 && (c->st == CS_READY || c->st == CS_OPEN)) {
		uint8_t code[2] = { 1000 >> 8, 1000 & 0xFF };
		size_t at;
		if (out_append(c, NULL, cb_ws_header_len(2) + 2, &at) == 0) {
			cb_ws_encode(c->out + at, CB_WS_CLOSE, code, 2, 0x12345678u);
			flush(b, c);
		}
	}
	conn_drop_fd(b, c);
}

static void start_connect(struct bench *b, struct conn *c)
{
	c->attempts++;
	c->retry_at = 0;
	const struct cb_node *nd = &b->o.node[c->node];
	int fd = socket(nd->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cb_err(b, errno == EMFILE || errno == ENFILE ? "fd_limit" : "socket_failed");
		c->st = CS_CLOSED;
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->st = CS_CONNECTING;
	b->n_connecting++;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)c->idx };
	c->want_out = true;
	epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev);
	if (connect(fd, (const struct sockaddr *)&nd->addr, nd->addrlen) < 0 && errno != EINPROGRESS)
		conn_failed(b, c, "connect_error");
}

/* Connected: send the upgrade request. */
static void on_connected(struct bench *b, struct conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		conn_failed(b, c, "connect_refused");
		return;
	}
	char req[2048];
	cb_ws_make_key(c->key, &b->prng);
	int n = cb_ws_request(req, sizeof req, b->o.node[c->node].host, c->target, c->key);
	size_t at;
	if (n < 0 || out_append(c, req, (size_t)n, &at) < 0) {
		conn_failed(b, c, "request_too_long");
		return;
	}
	c->st = CS_HANDSHAKE;
	c->hs = malloc(4096);
	c->hs_len = 0;
	flush(b, c);
}

struct msg_ctx {
	struct bench *b;
	struct conn *c;
};

static int dispatch(void *ud, int op, const uint8_t *data, size_t len)
{
	struct msg_ctx *x = ud;
	struct conn *c = x->c;
	switch (op) {
	case CB_WS_TEXT:
		cb_scen_on_text(x->b, c, (const char *)data, len);
		return c->fd < 0 ? 1 : 0;
	case CB_WS_BINARY:
		cb_err(x->b, "binary_frame");
		return 0;
	case CB_WS_PING: {
		size_t at;
		if (out_append(c, NULL, cb_ws_header_len(len) + len, &at) == 0) {
			cb_ws_encode(c->out + at, CB_WS_PONG, data, len, 0x0badcafeu);
			mark_dirty(x->b, c);
		}
		return 0;
	}
	case CB_WS_PONG:
		return 0;
	case CB_WS_CLOSE:
		c->close_code = cb_ws_close_code(data, len);
		return 2;
	}
	return 0;
}

static void on_readable(struct bench *b, struct conn *c)
{
	static uint8_t buf[256 * 1024];
	for (int rounds = 0; rounds < 8 && c->fd >= 0; rounds++) {
		ssize_t r = read(c->fd, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_failed(b, c, "read_error");
			return;
		}
		if (r == 0) {
			conn_failed(b, c, c->st == CS_READY ? "server_closed" : "closed_before_ready");
			return;
		}
		b->bytes_in += (uint64_t)r;
		const uint8_t *p = buf;
		size_t n = (size_t)r;
		if (c->st == CS_HANDSHAKE) {
			size_t take = n;
			if (c->hs_len + take > 4095)
				take = 4095 - c->hs_len;
			memcpy(c->hs + c->hs_len, p, take);
			c->hs_len += take;
			c->hs[c->hs_len] = '\0';   /* cb_ws_response's sscanf reads up to a NUL */
			size_t hl = 0;
			int status = 0;
			int rc = cb_ws_response(c->hs, c->hs_len, c->key, &hl, &status);
			if (rc == 0) {
				if (c->hs_len >= 4095)
					conn_failed(b, c, "handshake_too_long");
				continue;
			}
			if (rc < 0) {
				char why[32];
				snprintf(why, sizeof why, "handshake_http_%d", status);
				conn_failed(b, c, why);
				return;
			}
			/* bytes after the header in hs are frames */
			size_t extra = c->hs_len - hl;
			size_t from_buf = n - take;
			memmove(buf, c->hs + hl, extra);
			memmove(buf + extra, p + take, from_buf);   /* cannot overlap harmfully: extra <= take */
			p = buf;
			n = extra + from_buf;
			free(c->hs);
			c->hs = NULL;
			c->st = CS_OPEN;
			if (b->o.target == TG_RELAY)
				cb_scen_on_ready(b, c);
		}
		if (n == 0)
			continue;
		struct msg_ctx x = { b, c };
		int rc = cb_ws_rx_feed(&c->rx, p, n, dispatch, &x);
		if (rc == 2) {   /* close from the server */
			char why[32];
			snprintf(why, sizeof why, "close_%d", c->close_code);
			if (c->st == CS_READY || c->st == CS_OPEN) {
				if (c->st == CS_OPEN && c->close_code >= 4000)
					cb_err(b, why);   /* auth refused: no retry */
				else if (c->st == CS_READY)
					cb_err(b, why);
			}
			if (c->st == CS_OPEN && c->close_code < 4000)
				conn_failed(b, c, why);
			else
				cb_net_close(b, c, true);
			return;
		}
		if (rc == 1)
			return;
		if (rc < 0) {
			if (b->o.verbose)
				fprintf(stderr, "chatbench: conn %d: %s\n", c->idx,
					c->rx.error ? c->rx.error : "out of memory");
			cb_err(b, "ws_protocol");
			cb_net_close(b, c, false);
			return;
		}
	}
}

int cb_net_start(struct bench *b, int from, int to)
{
	for (int i = from; i < to; i++) {
		struct conn *c = &b->c[i];
		c->st = CS_IDLE;
		c->attempts = 0;
		c->retry_at = 1;   /* due as soon as the pace allows */
	}
	return 0;
}

/* Start as many due connects as the pace and the parallel cap allow. */
static void pace_connects(struct bench *b, struct cb_rate *pace, int *cursor)
{
	uint64_t now = cb_now_ns();
	uint64_t allow = cb_rate_take(pace, now);
	for (int scanned = 0; allow && scanned < b->nconn && b->n_connecting < b->o.connect_parallel; scanned++) {
		struct conn *c = &b->c[*cursor];
		*cursor = (*cursor + 1) % b->nconn;
		if (c->st == CS_IDLE && c->retry_at && c->retry_at <= now) {
			start_connect(b, c);
			allow--;
		}
	}
}

void cb_net_poll(struct bench *b, int timeout_ms)
{
	static struct cb_rate pace;
	static int cursor, pace_init;
	if (!pace_init) {
		cb_rate_init(&pace, b->o.connect_rate, cb_now_ns(), (uint64_t)(b->o.connect_rate / 50) + 1);
		pace_init = 1;
	}
	pace_connects(b, &pace, &cursor);

	struct epoll_event ev[512];
	int n = epoll_wait(b->epfd, ev, 512, timeout_ms);
	for (int i = 0; i < n; i++) {
		struct conn *c = &b->c[ev[i].data.u32];
		if (c->fd < 0)
			continue;
		if (c->st == CS_CONNECTING) {
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				on_connected(b, c);
			continue;
		}
		if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			on_readable(b, c);
		if (c->fd >= 0 && (ev[i].events & EPOLLOUT))
			flush(b, c);
	}
	for (int i = 0; i < b->ndirty; i++) {
		struct conn *c = &b->c[b->dirty[i]];
		c->dirty = false;
		if (c->fd >= 0 && !c->want_out)
			flush(b, c);
	}
	b->ndirty = 0;
}

