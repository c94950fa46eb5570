/* relay_baseline.c — the raw-transport ceiling for room fan-out.
 *
 * A bare libwebsockets 4.1.6 server that relays every complete text message
 * a client sends, unchanged, to every OTHER member of its room
 * (ws://HOST:PORT/?room=K, K a non-negative integer, no auth).  Nothing else
 * runs on the path: no JSON, no pipeline, no storage, so what this sustains
 * is the most chatd's gateway could deliver on the same machine.
 *
 * The write pattern is the one DEPENDENCIES.md measured at ~7x the canonical
 * one: a relayed message is framed ONCE (FIN|text, 7/16/64-bit length,
 * payload; server frames are unmasked) into a refcounted buffer, a reference
 * is queued per recipient, and on WRITEABLE all of a connection's pending
 * frames (up to 64 KiB, at least one) are copied into one buffer and sent
 * with ONE lws_write(LWS_WRITE_RAW).  The copy buffer is shared by every
 * connection: lws copies whatever the socket did not take, so it never has
 * to outlive the call (chatd's gw_write.c keeps one per session instead).
 *
 * Limits: a message over 64 KiB (announced frame lengths, so fragmented ones
 * are caught before their bytes arrive) closes the sender with 1009; a
 * binary message closes it with 1003; a recipient whose queue would pass
 * 8 MiB is dropped (closed at once, its queue freed).
 *
 * One lws service thread, the default poll() backend.  SIGINT/SIGTERM are
 * taken by a sigwait() thread, which only sets a flag and calls
 * lws_cancel_service() — the one lws call allowed from another thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <libwebsockets.h>

#define MSG_MAX (64u * 1024u)            /* largest relayed message */
#define COALESCE_MAX (64u * 1024u)       /* bytes per lws_write */
#define QUEUE_CAP (8u * 1024u * 1024u)   /* per-recipient backlog */
#define ROOM_BUCKETS 4096u
#define ROOM_ID_MAX 999999999999999999ull

struct frame {
	unsigned refs;                   /* service thread only: no atomics */
	size_t len;
	unsigned char wire[];
};

struct room;

struct conn {
	struct lws *wsi;
	struct room *room;
	size_t room_idx;                 /* position in room->m */
	unsigned char *rx;               /* reassembly of a fragmented message */
	size_t rx_len, rx_cap;
	struct frame **q;                /* ring of frame references */
	size_t q_head, q_len, q_cap, q_bytes;
	bool dead;                       /* over the cap: closing, skip it */
};

struct room {
	uint64_t id;
	struct room *next;
	struct conn **m;
	size_t n, cap;
};

static struct room *rooms[ROOM_BUCKETS];
static unsigned char wbuf[LWS_PRE + COALESCE_MAX + MSG_MAX + 16];
static atomic_bool stopping;
static struct lws_context *ctx;

/* ---- frames -------------------------------------------------------------- */

static struct frame *frame_new(const unsigned char *payload, size_t len)
{
	struct frame *f = malloc(sizeof *f + 10 + len);
	if (!f)
		return NULL;
	unsigned char *h = f->wire;
	size_t hl;
	h[0] = 0x81; /* FIN | text */
	if (len < 126) {
		h[1] = (unsigned char)len;
		hl = 2;
	} else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (len)
		memcpy(h + hl, payload, len);
	f->refs = 1;
	f->len = hl + len;
	return f;
}

static void frame_unref(struct frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

/* ---- per-connection queue ------------------------------------------------ */

static struct frame *q_pop(struct conn *c)
{
	struct frame *f = c->q[c->q_head];
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_len--;
	c->q_bytes -= f->len;
	return f;
}

static void q_clear(struct conn *c)
{
	while (c->q_len)
		frame_unref(q_pop(c));
}

/* Queue a reference to f; -1 when over the cap or out of memory. */
static int q_push(struct conn *c, struct frame *f)
{
	if (c->q_bytes + f->len > QUEUE_CAP)
		return -1;
	if (c->q_len == c->q_cap) {
		size_t nc = c->q_cap ? c->q_cap * 2 : 16;
		struct frame **nq = malloc(nc * sizeof *nq);
		if (!nq)
			return -1;
		for (size_t i = 0; i < c->q_len; i++)
			nq[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = nq;
		c->q_cap = nc;
		c->q_head = 0;
	}
	f->refs++;
	c->q[(c->q_head + c->q_len) % c->q_cap] = f;
	c->q_len++;
	c->q_bytes += f->len;
	return 0;
}

/* Whole frames up to COALESCE_MAX (at least one) in one lws_write. */
static int flush(struct conn *c)
{
	if (c->dead)
		return -1;
	size_t total = 0, n = 0;
	while (n < c->q_len) {
		struct frame *f = c->q[(c->q_head + n) % c->q_cap];
		if (n > 0 && total + f->len > COALESCE_MAX)
			break;
		total += f->len;
		n++;
	}
	if (n == 0)
		return 0;
	unsigned char *p = wbuf + LWS_PRE;
	for (size_t i = 0; i < n; i++) {
		struct frame *f = q_pop(c);
		memcpy(p, f->wire, f->len);
		p += f->len;
		frame_unref(f);
	}
	/* A partial write is kept and finished by lws before the next
	 * WRITEABLE, so nothing more is needed here. */
	if (lws_write(c->wsi, wbuf + LWS_PRE, total, LWS_WRITE_RAW) < 0)
		return -1;
	if (c->q_len)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static void drop(struct conn *c)
{
	c->dead = true;
	q_clear(c);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* ---- rooms --------------------------------------------------------------- */

static int room_join(struct conn *c, uint64_t id)
{
	struct room **b = &rooms[id % ROOM_BUCKETS], *r = *b;
	while (r && r->id != id)
		r = r->next;
	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return -1;
		r->id = id;
		r->next = *b;
		*b = r;
	}
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 8;
		struct conn **nm = realloc(r->m, nc * sizeof *nm);
		if (!nm) {
			if (r->n == 0) { /* just created: unlink it again */
				*b = r->next;
				free(r);
			}
			return -1;
		}
		r->m = nm;
		r->cap = nc;
	}
	c->room = r;
	c->room_idx = r->n;
	r->m[r->n++] = c;
	return 0;
}

static void room_leave(struct conn *c)
{
	struct room *r = c->room;
	if (!r)
		return;
	struct conn *last = r->m[--r->n];
	r->m[c->room_idx] = last;
	last->room_idx = c->room_idx;
	c->room = NULL;
	if (r->n)
		return;
	struct room **b = &rooms[r->id % ROOM_BUCKETS];
	while (*b != r)
		b = &(*b)->next;
	*b = r->next;
	free(r->m);
	free(r);
}

static void relay(struct conn *from, const unsigned char *msg, size_t len)
{
	struct frame *f = frame_new(msg, len);
	if (!f) {
		lwsl_warn("relay: out of memory, message dropped\n");
		return;
	}
	struct room *r = from->room;
	for (size_t i = 0; i < r->n; i++) {
		struct conn *to = r->m[i];
		if (to == from || to->dead)
			continue;
		bool was_empty = to->q_len == 0;
		if (q_push(to, f) < 0) {
			lwsl_warn("relay: recipient over %u bytes queued, dropped\n", QUEUE_CAP);
			drop(to);
		} else if (was_empty) {
			lws_callback_on_writable(to->wsi);
		}
	}
	frame_unref(f);
}

/* "room=K" from the URL, K in 0..ROOM_ID_MAX; -1 if absent or bad. */
static int parse_room(struct lws *wsi, uint64_t *out)
{
	char buf[64];
	const char *v = lws_get_urlarg_by_name(wsi, "room=", buf, sizeof buf);
	if (!v || !*v || strlen(v) > 18)
		return -1;
	uint64_t id = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		id = id * 10 + (uint64_t)(*p - '0');
	}
	if (id > ROOM_ID_MAX)
		return -1;
	*out = id;
	return 0;
}

/* ---- the lws callback ---------------------------------------------------- */

static int on_receive(struct conn *c, const void *in, size_t len)
{
	struct lws *wsi = c->wsi;
	if (lws_frame_is_binary(wsi)) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, NULL, 0);
		return -1;
	}
	size_t remaining = lws_remaining_packet_payload(wsi);
	bool complete = lws_is_final_fragment(wsi) && remaining == 0;
	/* The header announces the frame length: refuse before the bytes. */
	if (len + remaining > MSG_MAX - c->rx_len) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
		return -1;
	}
	if (complete && c->rx_len == 0) { /* the common case: no copy */
		if (!c->dead)
			relay(c, in, len);
		return 0;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t nc = c->rx_cap ? c->rx_cap : 4096;
		while (nc < c->rx_len + len)
			nc *= 2;
		unsigned char *nb = realloc(c->rx, nc);
		if (!nb)
			return -1;
		c->rx = nb;
		c->rx_cap = nc;
	}
	if (len) /* an empty frame comes with in == NULL */
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!complete)
		return 0;
	if (!c->dead)
		relay(c, c->rx, c->rx_len);
	c->rx_len = 0;
	if (c->rx_cap > 4096) { /* keep idle connections small */
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct conn *c = user;
	uint64_t room;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Refuse in the handshake; the room is read again below. */
		return parse_room(wsi, &room) < 0 || atomic_load(&stopping) ? -1 : 0;

	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof *c);
		c->wsi = wsi;
		if (parse_room(wsi, &room) < 0 || room_join(c, room) < 0)
			return -1;
		return 0;

	case LWS_CALLBACK_RECEIVE:
		return on_receive(c, in, len);

	case LWS_CALLBACK_SERVER_WRITEABLE:
		return flush(c);

	case LWS_CALLBACK_CLOSED:
		room_leave(c);
		q_clear(c);
		free(c->q);
		free(c->rx);
		memset(c, 0, sizeof *c);
		return 0;

	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* ---- main ---------------------------------------------------------------- */

static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;
	while (sigwait(set, &sig) != 0)
		;
	atomic_store(&stopping, true);
	lws_cancel_service(ctx);
	return NULL;
}

static void usage(FILE *to, const char *prog)
{
	fprintf(to,
		"usage: %s --port PORT [--host ADDR]\n"
		"Relay every text message sent on ws://ADDR:PORT/?room=K to the other\n"
		"members of room K (raw-transport baseline for chatd).\n"
		"  --port PORT   TCP port, 0..65535 (0: pick one; the port is printed)\n"
		"  --host ADDR   address to listen on (default 127.0.0.1)\n"
		"  --help        this text\n", prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = "127.0.0.1";
	long port = -1;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (o) {
		case 'p':
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || port < 0 || port > 65535) {
				fprintf(stderr, "relay_baseline: bad --port '%s'\n", optarg);
				return 2;
			}
			break;
		case 'H':
			if (!*optarg || strlen(optarg) > 255) {
				fprintf(stderr, "relay_baseline: bad --host\n");
				return 2;
			}
			host = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc || port < 0) {
		usage(stderr, argv[0]);
		return 2;
	}

	/* 10k+ sockets: take the hard limit and tell lws about it. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("relay_baseline: setrlimit");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("relay_baseline: getrlimit");
		return 1;
	}
	unsigned fd_limit = rl.rlim_cur > 1000000 ? 1000000u : (unsigned)rl.rlim_cur;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		fprintf(stderr, "relay_baseline: cannot block signals\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	static const struct lws_protocols protocols[] = {
		{ .name = "relay", .callback = callback,
		  .per_session_data_size = sizeof(struct conn) },
		{ .name = NULL },
	};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = (int)port;
	info.iface = host;
	info.protocols = protocols;
	info.fd_limit_per_thread = fd_limit;
	info.options = strchr(host, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "relay_baseline: cannot listen on %s:%ld\n", host, port);
		return 1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
	int bound = vh ? lws_get_vhost_listen_port(vh) : (int)port;

	pthread_t sig_th;
	if (pthread_create(&sig_th, NULL, signal_thread, &set) != 0) {
		fprintf(stderr, "relay_baseline: cannot start the signal thread\n");
		lws_context_destroy(ctx);
		return 1;
	}
	printf("listening on %d\n", bound);
	fflush(stdout);

	int rc = 0;
	while (!atomic_load(&stopping)) {
		if (lws_service(ctx, 0) < 0) {
			rc = 1;
			break;
		}
	}
	if (!atomic_load(&stopping))
		pthread_kill(sig_th, SIGTERM); /* wake its sigwait() */
	pthread_join(sig_th, NULL);
	lws_context_destroy(ctx); /* CLOSED for every connection frees it */
	for (unsigned i = 0; i < ROOM_BUCKETS; i++)
		if (rooms[i])
			lwsl_warn("room table not empty at exit\n");
	return rc;
}
