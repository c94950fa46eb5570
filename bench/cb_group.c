/* cb_group.c — the large-group scenario: one owner, a group of M members
 * (conv.create with up to 999 others, then conv.add in batches of up to
 * 1000), P % of the members online (evenly spread over the member list; the
 * owner is one of them).  The owner sends K messages one at a time; each is
 * timed from just before its send is queued until the last online member
 * other than the owner has its `message` frame (matched by the text's index
 * and checked against the seq of the ack).  A message not everywhere within
 * --group-timeout is recorded as undelivered and the next one goes.
 *
 * With --admin-url the storage plugin's rows_written counter is read from
 * GET /v1/metrics before and after the measured phase (a blocking HTTP/1.1
 * request outside the epoll phase) to report rows written per message. */
#include "chatbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"

#define SEC 1000000000ULL
#define CREATE_MAX 999           /* others in conv.create (1000 members with the owner) */
#define ADD_MAX 1000             /* users per conv.add */
#define FRAME_BUDGET 60000       /* bytes of user ids per setup frame (server limit 64 KiB) */
#define STEP_TIMEOUT (30 * SEC)  /* conv.create, each conv.add */
#define ROWS_KEY "storage_sqlite.rows_written"
/* The storage plugin publishes its counters once a second (a timer on the
 * core thread): wait longer than that before each reading. */
#define ROWS_SETTLE (SEC * 6 / 5)

struct gmsg {
	uint64_t t0, t_ack, t_last;
	int64_t seq;             /* from the ack; 0 until then */
	int64_t dseq;            /* from the first delivery */
	int got;                 /* online members other than the owner that have it */
	bool acked, done, failed, closed;
};

struct cb_group {
	int members, online, msgs;
	char *conv;              /* borrowed from b->conv_id[0] */
	struct gmsg *m;          /* [msgs] */
	int *seen;               /* per connection: index + 1 of the last message it got */
	int sent, acked, full, undelivered, send_errors;
	uint64_t missing, late, dup, foreign;
	bool stopped_early, owner_lost;
	/* setup */
	int adds, add_replies, add_failed;
	char add_error[32];
	int listed, listed_ok;   /* conv.list answers, and those that hold the group */
	uint64_t t_setup0, t_created, t_added, t_online;
	/* storage rows written, from the admin API */
	int rows_state;          /* 0 not asked, 1 read, -1 unavailable */
	int64_t rows_before, rows_after;
	char rows_why[160];
};

int cb_group_online(int members, double pct)
{
	int n = (int)((double)members * pct / 100.0 + 0.5);
	if (n < 2)
		n = 2;   /* the owner and at least one other */
	return n > members ? members : n;
}

static uint64_t scan_u64(const char *p, const char *end, const char **next)
{
	uint64_t v = 0;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	*next = p;
	return v;
}

/* Index of a message from its text "G<k>:…" or id "m<k>"; -1 if absent. */
static int scan_index(const char *data, size_t len, const char *key, size_t keylen, int nsent)
{
	const char *end = data + len, *p = memmem(data, len, key, keylen);
	if (!p)
		return -1;
	const char *q;
	uint64_t k = scan_u64(p + keylen, end, &q);
	if (q == p + keylen || k >= (uint64_t)nsent)
		return -1;
	return (int)k;
}

static int64_t scan_seq(const char *data, size_t len)
{
	const char *p = memmem(data, len, "\"seq\":", 6), *q;
	return p ? (int64_t)scan_u64(p + 6, data + len, &q) : 0;
}

static bool same_conv(const struct cb_group *g, const char *data, size_t len)
{
	const char *p = memmem(data, len, "\"conversation_id\":\"", 19);
	if (!p || !g->conv)
		return false;
	size_t cl = strlen(g->conv);
	p += 19;
	return (size_t)(data + len - p) > cl && memcmp(p, g->conv, cl) == 0 && p[cl] == '"';
}

void cb_group_on_message(struct bench *b, struct conn *c, const char *data, size_t len)
{
	struct cb_group *g = b->grp;
	uint64_t now = cb_now_ns();
	int k = scan_index(data, len, "\"text\":\"G", 9, g->sent);
	if (k < 0 || c->idx == 0 || !same_conv(g, data, len)) {
		g->foreign++;   /* not one of ours, or the owner's own message echoed */
		return;
	}
	struct gmsg *m = &g->m[k];
	/* every member must see the seq the owner's ack gave (deliveries may
	 * come before the ack) */
	int64_t seq = scan_seq(data, len), want = m->seq ? m->seq : m->dseq;
	if (want && seq != want)
		cb_err(b, "seq_mismatch");
	else if (!m->dseq)
		m->dseq = seq;
	if (m->closed) {
		g->late++;
		b->late_frames++;
		return;
	}
	if (k + 1 <= g->seen[c->idx]) {
		g->dup++;
		cb_err(b, "duplicate_delivery");
		return;
	}
	g->seen[c->idx] = k + 1;
	m->got++;
	b->deliveries++;
	if (m->got == g->online - 1 && !m->done) {
		m->done = true;
		m->t_last = now;
		g->full++;
		cb_hist_record(&b->h_del, now - m->t0);
	}
}

void cb_group_on_ack(struct bench *b, struct conn *c, const char *data, size_t len)
{
	struct cb_group *g = b->grp;
	(void)c;
	uint64_t now = cb_now_ns();
	int k = scan_index(data, len, "\"id\":\"m", 7, g->sent);
	if (k < 0 || g->m[k].acked) {
		cb_err(b, "unexpected_ack");
		return;
	}
	struct gmsg *m = &g->m[k];
	m->acked = true;
	m->t_ack = now;
	m->seq = scan_seq(data, len);
	if (m->dseq && m->dseq != m->seq)
		cb_err(b, "seq_mismatch");
	if (memmem(data, len, "\"duplicate\":true", 16))
		cb_err(b, "duplicate_ack");
	g->acked++;
	b->acks++;
	cb_hist_record(&b->h_ack, now - m->t0);
}

void cb_group_on_json(struct bench *b, struct conn *c, const char *type, void *jv)
{
	struct cb_group *g = b->grp;
	json_t *j = jv;
	const char *id = json_string_value(json_object_get(j, "id"));
	(void)c;
	if (!id)
		return;
	bool err = strcmp(type, "error") == 0;
	if (id[0] == 'g' && id[1] == 'a') {
		g->add_replies++;
		if (err) {
			g->add_failed++;
			const char *code = json_string_value(json_object_get(j, "code"));
			snprintf(g->add_error, sizeof g->add_error, "%s", code ? code : "?");
		}
	} else if (strcmp(id, "gl") == 0) {
		g->listed++;
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(j, "items"), i, it) {
			const char *cid = json_string_value(json_object_get(it, "conversation_id"));
			if (cid && g->conv && strcmp(cid, g->conv) == 0) {
				g->listed_ok++;
				break;
			}
		}
	} else if (id[0] == 'm' && err) {
		long k = strtol(id + 1, NULL, 10);
		if (k >= 0 && k < g->sent) {
			g->m[k].failed = true;
			g->send_errors++;
		}
	}
}

/* ---- set-up ----------------------------------------------------------------- */

static int wait_until(struct bench *b, bool (*done)(struct bench *), uint64_t timeout_ns)
{
	uint64_t limit = cb_now_ns() + timeout_ns;
	while (!done(b)) {
		if (cb_now_ns() > limit || b->c[0].st != CS_READY)
			return -1;
		cb_net_poll(b, 5);
	}
	return 0;
}

static bool created(struct bench *b)
{
	return b->conv_done + b->conv_failed > 0;
}

static bool add_answered(struct bench *b)
{
	return b->grp->add_replies == b->grp->adds;
}

/* Users [from, to) as a JSON array of "<prefix><i>". */
static json_t *user_ids(const struct bench *b, int from, int to)
{
	json_t *a = json_array();
	char u[80];
	for (int i = from; a && i < to; i++) {
		snprintf(u, sizeof u, "%s%d", b->o.prefix, i);
		json_array_append_new(a, json_string(u));
	}
	return a;
}

static int send_json(struct bench *b, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	int rc = s ? cb_net_send(b, &b->c[0], s, strlen(s)) : -1;
	free(s);
	return rc;
}

static int make_group(struct bench *b)
{
	struct cb_group *g = b->grp;
	int M = g->members;
	/* a batch must fit in one frame with the longest prefix */
	int batch = FRAME_BUDGET / ((int)strlen(b->o.prefix) + 9);
	int first = batch < CREATE_MAX ? batch : CREATE_MAX;
	batch = batch < ADD_MAX ? batch : ADD_MAX;
	int upto = 1 + first < M ? 1 + first : M;

	char title[64];
	snprintf(title, sizeof title, "bench-group-%s", b->nonce);
	json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "conv.create", "id", "c0",
				"kind", "group", "title", title, "members", user_ids(b, 1, upto));
	if (!req || send_json(b, req) < 0)
		return -1;
	if (wait_until(b, created, STEP_TIMEOUT) < 0 || !b->conv_id[0]) {
		fprintf(stderr, "chatbench: group: conv.create with %d members %s\n", upto,
			b->conv_failed ? "was refused (see errors)" : "got no answer in 30 s");
		return -1;
	}
	g->conv = b->conv_id[0];
	g->t_created = cb_now_ns();
	/* one conv.add at a time: the reply says the members are stored */
	for (int from = upto; from < M; from += batch) {
		int to = from + batch < M ? from + batch : M;
		char id[24];
		snprintf(id, sizeof id, "ga%d", g->adds);
		req = json_pack("{s:s, s:s, s:s, s:o}", "type", "conv.add", "id", id,
				"conversation_id", g->conv, "user_ids", user_ids(b, from, to));
		if (!req || send_json(b, req) < 0)
			return -1;
		g->adds++;
		if (wait_until(b, add_answered, STEP_TIMEOUT) < 0 || g->add_failed) {
			fprintf(stderr, "chatbench: group: conv.add of members %d..%d %s\n", from, to - 1,
				g->add_failed ? g->add_error : "got no answer in 30 s");
			if (g->add_failed)
				fprintf(stderr, "chatbench: group: (the server needs conv.add: storage ops "
					"for groups and conversations.max_members >= %d)\n", M);
			return -1;
		}
	}
	g->t_added = cb_now_ns();
	return 0;
}

static bool all_listed(struct bench *b)
{
	return b->grp->listed == b->grp->online - 1;
}

/* `ready` comes before the fan-out plugin can push to a user: the server
 * holds the user's commands until it can.  One conv.list per member, all
 * answered, means every member is registered (and sees the group). */
static int members_registered(struct bench *b)
{
	struct cb_group *g = b->grp;
	static const char req[] = "{\"type\":\"conv.list\",\"id\":\"gl\"}";
	for (int j = 1; j < g->online; j++)
		if (cb_net_send(b, &b->c[j], req, sizeof req - 1) < 0)
			return -1;
	uint64_t limit = cb_now_ns() + (uint64_t)(b->o.ready_timeout * (double)SEC);
	while (!all_listed(b) && cb_now_ns() < limit && b->n_ready == g->online)
		cb_net_poll(b, 5);
	if (!all_listed(b) || g->listed_ok != g->listed) {
		fprintf(stderr, "chatbench: group: %d of %d members answered conv.list, %d of them "
			"list the group\n", g->listed, g->online - 1, g->listed_ok);
		return -1;
	}
	return 0;
}

/* ---- the admin API's rows_written counter --------------------------------- */

/* http://HOST:PORT[/PREFIX] with a loopback HOST; fills addr and the path
 * prefix (without a trailing '/'). */
static int admin_addr(const char *url, struct sockaddr_storage *ss, socklen_t *sl, char *host,
		      size_t hostlen, char *prefix, size_t plen)
{
	if (strncmp(url, "http://", 7) != 0)
		return -1;
	const char *h = url + 7, *he;
	char name[64];
	if (*h == '[') {
		he = strchr(h, ']');
		if (!he || he - h - 1 >= (long)sizeof name)
			return -1;
		memcpy(name, h + 1, (size_t)(he - h - 1));
		name[he - h - 1] = '\0';
		he++;
	} else {
		he = h + strcspn(h, ":/");
		if (he == h || he - h >= (long)sizeof name)
			return -1;
		memcpy(name, h, (size_t)(he - h));
		name[he - h] = '\0';
	}
	long port = 80;
	if (*he == ':') {
		char *e;
		port = strtol(he + 1, &e, 10);
		if (e == he + 1 || port < 1 || port > 65535)
			return -1;
		he = e;
	}
	if (*he && *he != '/')
		return -1;
	snprintf(prefix, plen, "%s", he);
	size_t pl = strlen(prefix);
	while (pl && prefix[pl - 1] == '/')
		prefix[--pl] = '\0';
	if (strcmp(name, "localhost") == 0)
		snprintf(name, sizeof name, "127.0.0.1");
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, name, &s4->sin_addr) == 1 && (ntohl(s4->sin_addr.s_addr) >> 24) == 127) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof *s4;
		snprintf(host, hostlen, "%s:%ld", name, port);
	} else if (inet_pton(AF_INET6, name, &s6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof *s6;
		snprintf(host, hostlen, "[%s]:%ld", name, port);
	} else {
		return -1;
	}
	return 0;
}

int cb_group_admin_url_ok(const char *url)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[96], prefix[128];
	return admin_addr(url, &ss, &sl, host, sizeof host, prefix, sizeof prefix) == 0;
}

/* Undo chunked transfer coding in place; returns the body length or -1. */
static long unchunk(char *body, size_t len)
{
	char *in = body, *end = body + len, *out = body;
	for (;;) {
		char *e;
		unsigned long n = strtoul(in, &e, 16);
		char *crlf = memmem(e, (size_t)(end - e), "\r\n", 2);
		if (e == in || !crlf)
			return -1;
		in = crlf + 2;
		if (n == 0)
			return out - body;
		if (n > (unsigned long)(end - in))
			return -1;
		memmove(out, in, n);
		out += n;
		in += n + 2;
		if (in > end)
			return -1;
	}
}

/* GET <prefix>/v1/metrics; 0 with *value, 1 when the key is not there, -1
 * with why. */
static int admin_rows(struct bench *b, int64_t *value, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[96], prefix[128];
	if (admin_addr(b->o.admin_url, &ss, &sl, host, sizeof host, prefix, sizeof prefix) < 0) {
		snprintf(why, whylen, "--admin-url must be http://LOOPBACK-HOST:PORT");
		return -1;
	}
	const char *roles[] = { "admin", NULL };
	char *tok = NULL;
	if (auth_mint("HS256", b->o.secret, strlen(b->o.secret), "bench-admin", (int64_t)time(NULL),
		      3600, roles, &tok) != 0) {
		snprintf(why, whylen, "cannot mint the admin token");
		return -1;
	}
	char req[2048];
	int rl = snprintf(req, sizeof req,
			  "GET %s/v1/metrics HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
			  "Accept: application/json\r\nConnection: close\r\n\r\n", prefix, host, tok);
	free(tok);
	if (rl < 0 || rl >= (int)sizeof req) {
		snprintf(why, whylen, "request too long");
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	struct timeval tv = { .tv_sec = 5 };   /* bounds connect, send and each recv */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(why, whylen, "connect %s: %s", host, strerror(errno));
		goto out;
	}
	for (int off = 0; off < rl;) {
		ssize_t w = send(fd, req + off, (size_t)(rl - off), MSG_NOSIGNAL);
		if (w <= 0) {
			snprintf(why, whylen, "send: %s", strerror(errno));
			goto out;
		}
		off += (int)w;
	}
	uint64_t limit = cb_now_ns() + 10 * SEC;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			if (cap >= (1u << 20)) {
				snprintf(why, whylen, "answer over 1 MiB");
				goto out;
			}
			cap = cap ? cap * 2 : 16384;
			char *nb = realloc(buf, cap);
			if (!nb)
				goto out;
			buf = nb;
		}
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "recv: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (cb_now_ns() > limit) {
			snprintf(why, whylen, "answer took over 10 s");
			goto out;
		}
	}
	buf[len] = '\0';
	int status = 0;
	char *body = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !body) {
		snprintf(why, whylen, "not an HTTP answer");
		goto out;
	}
	*body = '\0';
	body += 4;
	size_t blen = len - (size_t)(body - buf);
	if (strcasestr(buf, "\r\nTransfer-Encoding: chunked")) {
		long n = unchunk(body, blen);
		if (n < 0) {
			snprintf(why, whylen, "bad chunked body");
			goto out;
		}
		blen = (size_t)n;
	}
	if (status != 200) {
		snprintf(why, whylen, "GET /v1/metrics: HTTP %d %.80s", status, body);
		goto out;
	}
	json_error_t jerr;
	json_t *j = json_loadb(body, blen, 0, &jerr);
	json_t *v = json_object_get(json_object_get(j, "metrics"), ROWS_KEY);
	if (!json_is_object(json_object_get(j, "metrics"))) {
		snprintf(why, whylen, "GET /v1/metrics: no \"metrics\" object");
	} else if (!json_is_integer(v)) {
		snprintf(why, whylen, "the server has no %s counter", ROWS_KEY);
		rc = 1;
	} else {
		*value = json_integer_value(v);
		rc = 0;
	}
	json_decref(j);
out:
	free(buf);
	close(fd);
	return rc;
}

static void rows_sample(struct bench *b, bool after)
{
	struct cb_group *g = b->grp;
	if (!b->o.admin_url[0] || g->rows_state < 0)
		return;
	int64_t v = 0;
	int rc = admin_rows(b, &v, g->rows_why, sizeof g->rows_why);
	if (rc != 0) {
		g->rows_state = -1;
		if (rc < 0)
			fprintf(stderr, "chatbench: group: rows written not measured: %s\n", g->rows_why);
		return;
	}
	*(after ? &g->rows_after : &g->rows_before) = v;
	g->rows_state = 1;
}

/* ---- the measured phase ----------------------------------------------------- */

static void send_msg(struct bench *b, int k)
{
	struct cb_group *g = b->grp;
	struct gmsg *m = &g->m[k];
	char text[4200];
	int tl = snprintf(text, sizeof text, "G%d:", k);
	while (tl < b->o.size && tl < (int)sizeof text - 1)
		text[tl++] = 'x';
	text[tl] = '\0';
	char buf[4600];
	int n = snprintf(buf, sizeof buf,
			 "{\"type\":\"send\",\"id\":\"m%d\",\"conversation_id\":\"%s\","
			 "\"client_message_id\":\"%s-g%d\",\"text\":\"%s\"}",
			 k, g->conv, b->nonce, k, text);
	g->sent = k + 1;
	m->t0 = cb_now_ns();
	if (n < 0 || n >= (int)sizeof buf || cb_net_send(b, &b->c[0], buf, (size_t)n) < 0) {
		m->failed = true;
		g->send_errors++;
		cb_err(b, "send_not_queued");
		return;
	}
	b->sends++;
	cb_net_poll(b, 0);   /* write it now */
}

static void measure(struct bench *b)
{
	struct cb_group *g = b->grp;
	uint64_t per = (uint64_t)(b->o.group_timeout * (double)SEC);
	b->srv_ok = b->o.server_pid > 0 && cb_proc_sample(b->o.server_pid, &b->srv_a) == 0;
	cb_proc_self(&b->self_a);
	b->measuring = true;
	b->m_start = cb_now_ns();
	uint64_t all = b->m_start + (uint64_t)(b->o.duration * (double)SEC);
	for (int k = 0; k < g->msgs; k++) {
		if (b->c[0].st != CS_READY) {
			g->owner_lost = true;
			break;
		}
		if (cb_now_ns() >= all) {
			g->stopped_early = true;
			break;
		}
		send_msg(b, k);
		struct gmsg *m = &g->m[k];
		uint64_t limit = m->t0 + per < all ? m->t0 + per : all;
		while (!(m->done && m->acked) && !m->failed && b->c[0].st == CS_READY &&
		       cb_now_ns() < limit)
			cb_net_poll(b, 5);
		m->closed = true;
		if (!m->done) {
			g->undelivered++;
			g->missing += (uint64_t)(g->online - 1 - m->got);
		}
		if (!m->acked && !m->failed)
			cb_err(b, "ack_timeout");
		if (b->o.verbose)
			fprintf(stderr, "chatbench: group: message %d seq %lld: ack %.2f ms, %d of %d members, "
				"last %.2f ms%s\n", k, (long long)m->seq,
				m->acked ? (double)(m->t_ack - m->t0) / 1e6 : -1.0, m->got, g->online - 1,
				m->done ? (double)(m->t_last - m->t0) / 1e6 : -1.0, m->failed ? " (refused)" : "");
	}
	b->m_end = cb_now_ns();
	b->measuring = false;
	if (b->srv_ok && cb_proc_sample(b->o.server_pid, &b->srv_b) < 0)
		b->srv_ok = false;
	cb_proc_self(&b->self_b);
	b->expected = (uint64_t)g->sent * (uint64_t)(g->online - 1);
}

static void settle(struct bench *b, uint64_t ns)
{
	uint64_t until = cb_now_ns() + ns;
	while (cb_now_ns() < until)
		cb_net_poll(b, 5);
}

int cb_run_group(struct bench *b)
{
	int M = b->o.group_members, O = b->o.n;
	struct cb_group *g = calloc(1, sizeof *g);
	b->grp = g;
	b->nconv = 1;
	b->conv_id = calloc(1, sizeof *b->conv_id);
	b->conv_base = calloc(1, sizeof *b->conv_base);
	b->conv_size = calloc(1, sizeof *b->conv_size);
	b->user_num = calloc((size_t)O, sizeof *b->user_num);
	if (!g || !b->conv_id || !b->conv_base || !b->conv_size || !b->user_num)
		return 2;
	g->members = M;
	g->online = O;
	g->msgs = b->o.group_msgs;
	g->m = calloc((size_t)g->msgs, sizeof *g->m);
	g->seen = calloc((size_t)O, sizeof *g->seen);
	if (!g->m || !g->seen)
		return 2;
	b->conv_size[0] = M;
	/* online members evenly spread over the member list; j = 0 is the owner */
	for (int j = 0; j < O; j++) {
		b->user_num[j] = (int)((int64_t)j * M / O);
		b->c[j].group = 0;
	}
	if (cb_mint_targets(b, 0, O) < 0)
		return 2;

	g->t_setup0 = cb_now_ns();
	if (cb_connect_all(b, 0, 1) < 1)
		return 3;
	if (make_group(b) < 0)
		return 3;
	/* members connect after the adds so they get none of the member_added events */
	if (cb_connect_all(b, 1, O) < O - 1 || members_registered(b) < 0)
		return 3;
	b->connected = b->n_ready;
	g->t_online = cb_now_ns();
	b->connect_t0 = g->t_setup0;
	b->connect_t1 = g->t_online;
	/* the owner's conv.event frames, the members' registration, and the
	 * set-up's rows published */
	settle(b, b->o.admin_url[0] ? ROWS_SETTLE : SEC / 4);
	rows_sample(b, false);
	measure(b);
	if (b->o.admin_url[0]) {
		settle(b, ROWS_SETTLE);
		rows_sample(b, true);
	}
	return 0;
}

/* ---- report ----------------------------------------------------------------- */

void cb_group_report(struct bench *b, void *jo, bool human)
{
	struct cb_group *g = b->grp;
	if (!g)
		return;
	double create_s = g->t_created ? (double)(g->t_created - g->t_setup0) / 1e9 : -1;
	double add_s = g->t_added && g->t_created ? (double)(g->t_added - g->t_created) / 1e9 : -1;
	double online_s = g->t_online && g->t_added ? (double)(g->t_online - g->t_added) / 1e9 : -1;
	bool rows = g->rows_state > 0 && g->sent > 0;
	double per = rows ? (double)(g->rows_after - g->rows_before) / g->sent : 0;
	if (human) {
		printf("group: %d members, %d online (the owner and %d others), %d messages of %d bytes, "
		       "one at a time\n", g->members, g->online, g->online - 1, g->msgs, b->o.size);
		printf("  set-up: created in %.2f s, %d conv.add in %.2f s, members online in %.2f s\n",
		       create_s, g->adds, add_s, online_s);
		printf("  sent %d, acked %d, delivered fully %d, undelivered %d (missing member "
		       "deliveries %llu, late %llu)%s\n", g->sent, g->acked, g->full, g->undelivered,
		       (unsigned long long)g->missing, (unsigned long long)g->late,
		       g->owner_lost ? "; the owner's connection was lost" :
		       g->stopped_early ? "; stopped at --duration" : "");
		cb_lat_line("to last member", &b->h_del);
		cb_lat_line("send->ack", &b->h_ack);
		if (rows)
			printf("  storage rows written per message: %.2f (%lld rows for %d messages)\n", per,
			       (long long)(g->rows_after - g->rows_before), g->sent);
		else
			printf("  storage rows written per message: n/a (%s)\n",
			       b->o.admin_url[0] ? g->rows_why : "no --admin-url");
		return;
	}
	json_t *r = json_object();
	json_object_set_new(r, "members", json_integer(g->members));
	json_object_set_new(r, "online", json_integer(g->online));
	json_object_set_new(r, "messages", json_integer(g->msgs));
	json_object_set_new(r, "sent", json_integer(g->sent));
	json_object_set_new(r, "acked", json_integer(g->acked));
	json_object_set_new(r, "delivered_fully", json_integer(g->full));
	json_object_set_new(r, "undelivered", json_integer(g->undelivered));
	json_object_set_new(r, "missing_deliveries", json_integer((json_int_t)g->missing));
	json_object_set_new(r, "late_deliveries", json_integer((json_int_t)g->late));
	json_object_set_new(r, "duplicate_deliveries", json_integer((json_int_t)g->dup));
	json_object_set_new(r, "send_errors", json_integer(g->send_errors));
	json_object_set_new(r, "timeout_s", json_real(b->o.group_timeout));
	json_object_set_new(r, "stopped_early", json_boolean(g->stopped_early || g->owner_lost));
	json_object_set_new(r, "time_to_last_member_ms", cb_lat_json(&b->h_del));
	json_object_set_new(r, "ack_ms", cb_lat_json(&b->h_ack));
	json_object_set_new(r, "rows_written_per_message", rows ? json_real(per) : json_null());
	json_object_set_new(r, "rows_written", rows ? json_integer(g->rows_after - g->rows_before)
						     : json_null());
	if (!rows)
		json_object_set_new(r, "rows_written_why", json_string(b->o.admin_url[0] ? g->rows_why
										  : "no --admin-url"));
	json_t *s = json_object();
	json_object_set_new(s, "create_s", json_real(create_s));
	json_object_set_new(s, "add_s", json_real(add_s));
	json_object_set_new(s, "adds", json_integer(g->adds));
	json_object_set_new(s, "online_s", json_real(online_s));
	json_object_set_new(r, "setup", s);
	json_object_set_new(jo, "group", r);
}

void cb_group_free(struct bench *b)
{
	if (b->grp) {
		free(b->grp->m);
		free(b->grp->seen);
		free(b->grp);
		b->grp = NULL;
	}
	free(b->user_num);
	b->user_num = NULL;
}
