/* cb_scen.c — the load scenarios: connect and authenticate, create the
 * conversations, send open-loop (or windowed) and time acks and deliveries;
 * and the idle-memory scenario.  Hot frames (ack, message) are scanned
 * without a JSON parser so the generator stays cheap per delivery; the rest
 * goes through jansson. */
#include "chatbench.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"

#define SEC 1000000000ULL

int cb_mint_targets(struct bench *b, int from, int to)
{
	int64_t now = (int64_t)time(NULL);
	int64_t ttl = (int64_t)(b->o.warmup + b->o.duration) + 3600;
	for (int i = from; i < to; i++) {
		struct conn *c = &b->c[i];
		snprintf(c->user, sizeof c->user, "%s%d", b->o.prefix, b->user_num ? b->user_num[i] : i);
		free(c->target);
		c->target = NULL;
		char *t = NULL;
		const char *path = b->o.node[c->node].path;
		if (b->o.target == TG_RELAY) {
			int room = b->o.m > 0 ? i / b->o.m : 0;
			if (asprintf(&t, "%s%sroom=%d", path, strchr(path, '?') ? "&" : "?", room) < 0)
				return -1;
		} else {
			char *tok = NULL;
			if (auth_mint("HS256", b->o.secret, strlen(b->o.secret), c->user, now, ttl, NULL, &tok) != 0) {
				fprintf(stderr, "chatbench: cannot mint a token for %s (secret under 16 bytes?)\n", c->user);
				return -1;
			}
			int rc = asprintf(&t, "%s%saccess_token=%s", path, strchr(path, '?') ? "&" : "?", tok);
			free(tok);
			if (rc < 0)
				return -1;
		}
		c->target = t;
	}
	return 0;
}

void cb_scen_on_ready(struct bench *b, struct conn *c)
{
	if (c->st == CS_OPEN) {
		c->st = CS_READY;
		b->n_connecting--;
		b->n_ready++;
	}
}

/* Connect [from, to) and wait for every `ready`.  Returns how many are
 * ready; prints why when not all are. */
int cb_connect_all(struct bench *b, int from, int to)
{
	int want = to - from;
	uint64_t t0 = cb_now_ns();
	uint64_t limit = t0 + (uint64_t)((b->o.ready_timeout + want / b->o.connect_rate) * (double)SEC);
	cb_net_start(b, from, to);
	for (;;) {
		int ready = 0, dead = 0;
		for (int i = from; i < to; i++) {
			if (b->c[i].st == CS_READY)
				ready++;
			else if (b->c[i].st == CS_CLOSED)
				dead++;
		}
		if (ready == want) {
			b->connected = b->n_ready;
			b->connect_t0 = t0;
			b->connect_t1 = cb_now_ns();
			return ready;
		}
		if (ready + dead == want || cb_now_ns() > limit) {
			fprintf(stderr, "chatbench: only %d of %d connections became ready (%d failed for good, "
				"%d still pending after %.1f s)\n", ready, want, dead, want - ready - dead,
				(double)(cb_now_ns() - t0) / SEC);
			for (int i = 0; i < b->err.n; i++)
				fprintf(stderr, "  %s: %llu\n", b->err.name[i], (unsigned long long)b->err.count[i]);
			return ready;
		}
		cb_net_poll(b, 5);
	}
}

/* ---- frames from the server ------------------------------------------------ */

static uint64_t scan_u64(const char *p, const char *end, const char **next)
{
	uint64_t v = 0;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	*next = p;
	return v;
}

static void on_delivery(struct bench *b, const char *data, size_t len)
{
	const char *end = data + len;
	const char *p = memmem(data, len, "\"text\":\"T", 9);
	if (!p)
		return;
	uint64_t ns = scan_u64(p + 9, end, &p);
	if (!ns)
		return;
	uint64_t now = cb_now_ns();
	if (b->m_start && ns >= b->m_start && ns < b->m_end) {
		b->deliveries++;
		cb_hist_record(&b->h_del, now > ns ? now - ns : 0);
	} else {
		b->late_frames++;
	}
}

static void send_one(struct bench *b, struct conn *c);

static void on_ack(struct bench *b, struct conn *c, const char *data, size_t len)
{
	const char *end = data + len, *p = memmem(data, len, "\"id\":\"", 6);
	if (c->inflight)
		c->inflight--;
	if (p) {
		uint64_t ns = scan_u64(p + 6, end, &p);
		uint64_t now = cb_now_ns();
		if (b->m_start && ns >= b->m_start && ns < b->m_end) {
			b->acks++;
			cb_hist_record(&b->h_ack, now > ns ? now - ns : 0);
			if (c->group >= 0)
				b->expected += (uint64_t)(b->conv_size[c->group] - 1);
		}
	}
	if (b->o.rate == 0 && b->rate.start_ns && cb_now_ns() < b->m_end && c->sender)
		while (c->inflight < (uint32_t)b->o.window && c->st == CS_READY)
			send_one(b, c);
}

static void on_json(struct bench *b, struct conn *c, const char *data, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(data, len, 0, &jerr);
	if (!j || !json_is_object(j)) {
		cb_err(b, "bad_json_from_server");
		json_decref(j);
		return;
	}
	const char *type = json_string_value(json_object_get(j, "type"));
	const char *id = json_string_value(json_object_get(j, "id"));
	if (!type) {
		cb_err(b, "no_type_from_server");
	} else if (strcmp(type, "ready") == 0) {
		cb_scen_on_ready(b, c);
	} else if (strcmp(type, "conversation") == 0 && id && id[0] == 'c') {
		int g = atoi(id + 1);
		json_t *conv = json_object_get(j, "conversation");
		const char *cid = json_string_value(json_object_get(conv, "conversation_id"));
		if (g >= 0 && g < b->nconv && cid && !b->conv_id[g]) {
			b->conv_id[g] = strdup(cid);
			b->conv_base[g] = json_integer_value(json_object_get(conv, "last_seq"));
			b->conv_done++;
		}
	} else if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(j, "code"));
		char name[32];
		snprintf(name, sizeof name, "%s", code ? code : "error_without_code");
		cb_err(b, name);
		if (b->o.verbose)
			fprintf(stderr, "chatbench: conn %d: error %.*s\n", c->idx, (int)len, data);
		if (id && id[0] == 'c')
			b->conv_failed++;
		else if (id && id[0] >= '0' && id[0] <= '9' && c->inflight)
			c->inflight--;
		else if (id && b->rs)
			cb_resync_on_json(b, c, type, j);
		else if (id && b->grp)
			cb_group_on_json(b, c, type, j);
	} else if (b->grp && (strcmp(type, "result") == 0 || strcmp(type, "conversations") == 0)) {
		cb_group_on_json(b, c, type, j);
	} else if (b->grp && strcmp(type, "message") == 0) {
		cb_group_on_message(b, c, data, len);   /* not in the usual key order */
	} else if (b->grp && strcmp(type, "ack") == 0) {
		cb_group_on_ack(b, c, data, len);
	} else if (b->rs && (strcmp(type, "sync") == 0 || strcmp(type, "history") == 0 ||
			     strcmp(type, "ack") == 0)) {
		cb_resync_on_json(b, c, type, j);
	}
	/* conv.event, pong, presence, typing…: not measured */
	json_decref(j);
}

void cb_scen_on_text(struct bench *b, struct conn *c, const char *data, size_t len)
{
	if (b->o.target == TG_RELAY) {
		on_delivery(b, data, len);
		return;
	}
	if (len > 9 && memcmp(data, "{\"type\":\"", 9) == 0) {
		const char *t = data + 9;
		size_t rest = len - 9;
		if (rest > 8 && memcmp(t, "message\"", 8) == 0) {
			if (b->grp)
				cb_group_on_message(b, c, data, len);
			else if (!b->rs)
				on_delivery(b, data, len);
			return;
		}
		if (rest > 4 && memcmp(t, "ack\"", 4) == 0 && !b->rs) {
			if (b->grp)
				cb_group_on_ack(b, c, data, len);
			else
				on_ack(b, c, data, len);
			return;
		}
	}
	on_json(b, c, data, len);
}

/* ---- sending ------------------------------------------------------------------ */

static void send_one(struct bench *b, struct conn *c)
{
	static char buf[70000];
	uint64_t ns = cb_now_ns();
	const char *cid = b->o.target == TG_RELAY ? "relay" : b->conv_id[c->group];
	int n = snprintf(buf, sizeof buf,
			 "{\"type\":\"send\",\"id\":\"%llu.%d.%llu\",\"conversation_id\":\"%s\","
			 "\"client_message_id\":\"%s-%d-%llu\",\"text\":\"",
			 (unsigned long long)ns, c->idx, (unsigned long long)c->nsend, cid,
			 b->nonce, c->idx, (unsigned long long)c->nsend);
	int tn = snprintf(buf + n, sizeof buf - (size_t)n, "T%lluS%d:", (unsigned long long)ns, c->idx);
	int pad = b->o.size - tn;
	if (pad > 0) {
		memset(buf + n + tn, 'x', (size_t)pad);
		tn += pad;
	}
	n += tn;
	memcpy(buf + n, "\"}", 2);
	n += 2;
	if (cb_net_send(b, c, buf, (size_t)n) < 0)
		return;
	c->nsend++;
	if (b->o.target == TG_CHATD)
		c->inflight++;
	if (b->m_start && ns >= b->m_start) {
		b->sends++;
		if (b->o.target == TG_RELAY && c->group >= 0)
			b->expected += (uint64_t)(b->conv_size[c->group] - 1);
	} else {
		b->warm_sends++;
	}
}

/* Round-robin over the senders for the open-loop schedule. */
static void send_due(struct bench *b, uint64_t k)
{
	int tries = 0;
	while (k && tries < b->nconn) {
		struct conn *c = &b->c[b->rr];
		b->rr = (b->rr + 1) % b->nconn;
		if (!c->sender || c->st != CS_READY) {
			tries++;
			continue;
		}
		tries = 0;
		send_one(b, c);
		k--;
	}
	if (k)
		b->backpressure_skips += k;   /* no live sender left */
}

static void top_up_windows(struct bench *b)
{
	for (int i = 0; i < b->nconn; i++) {
		struct conn *c = &b->c[i];
		while (c->sender && c->st == CS_READY && c->inflight < (uint32_t)b->o.window)
			send_one(b, c);
	}
}

/* Conversations: groups of M (fanout), pairs (M = 2).  The first member of
 * each creates it; the id is shared in memory. */
static int create_convs(struct bench *b)
{
	int m = b->o.scenario == SC_PAIRS ? 2 : b->o.m;
	int n = b->o.n;
	b->nconv = (n + m - 1) / m;
	b->conv_id = calloc((size_t)b->nconv, sizeof *b->conv_id);
	b->conv_base = calloc((size_t)b->nconv, sizeof *b->conv_base);
	b->conv_size = calloc((size_t)b->nconv, sizeof *b->conv_size);
	if (!b->conv_id || !b->conv_base || !b->conv_size)
		return -1;
	int wanted = 0;
	for (int g = 0; g < b->nconv; g++) {
		int first = g * m, last = first + m < n ? first + m : n;
		b->conv_size[g] = last - first;
		if (last - first < 2)
			continue;   /* a lone member has nobody to talk to */
		for (int i = first; i < last; i++) {
			b->c[i].group = g;
			b->c[i].sender = true;
		}
		wanted++;
		if (b->o.target == TG_RELAY) {
			b->conv_done++;
			continue;
		}
		json_t *req = json_object();
		char id[24];
		snprintf(id, sizeof id, "c%d", g);
		json_object_set_new(req, "id", json_string(id));
		json_object_set_new(req, "type", json_string("conv.create"));
		if (m == 2 && b->o.scenario == SC_PAIRS) {
			json_object_set_new(req, "kind", json_string("direct"));
			json_object_set_new(req, "user_id", json_string(b->c[first + 1].user));
		} else {
			char title[32];
			snprintf(title, sizeof title, "bench-%d", g);
			json_object_set_new(req, "kind", json_string("group"));
			json_object_set_new(req, "title", json_string(title));
			json_t *mem = json_array();
			for (int i = first + 1; i < last; i++)
				json_array_append_new(mem, json_string(b->c[i].user));
			json_object_set_new(req, "members", mem);
		}
		char *s = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		if (!s || cb_net_send(b, &b->c[first], s, strlen(s)) < 0) {
			free(s);
			return -1;
		}
		free(s);
	}
	uint64_t limit = cb_now_ns() + (30 + (uint64_t)b->nconv / 100) * SEC;
	while (b->conv_done + b->conv_failed < wanted && cb_now_ns() < limit)
		cb_net_poll(b, 5);
	if (b->conv_done < wanted) {
		fprintf(stderr, "chatbench: only %d of %d conversations were created (%d refused)\n",
			b->conv_done, wanted, b->conv_failed);
		return -1;
	}
	/* let the member_added events drain before timing starts */
	uint64_t settle = cb_now_ns() + SEC / 5;
	while (cb_now_ns() < settle)
		cb_net_poll(b, 5);
	return 0;
}

static uint64_t total_inflight(const struct bench *b)
{
	uint64_t t = 0;
	for (int i = 0; i < b->nconn; i++)
		if (b->c[i].st == CS_READY)
			t += b->c[i].inflight;
	return t;
}

int cb_run_load(struct bench *b)
{
	if (cb_mint_targets(b, 0, b->o.n) < 0)
		return 2;
	if (cb_connect_all(b, 0, b->o.n) < b->o.n)
		return 3;
	if (create_convs(b) < 0)
		return 3;
	uint64_t t0 = cb_now_ns();
	b->m_start = t0 + (uint64_t)(b->o.warmup * SEC);
	b->m_end = b->m_start + (uint64_t)(b->o.duration * SEC);
	cb_rate_init(&b->rate, b->o.rate, t0, 0);
	if (b->o.rate == 0)
		top_up_windows(b);
	uint64_t last_sweep = t0;
	for (;;) {
		uint64_t now = cb_now_ns();
		if (!b->measuring && now >= b->m_start) {
			b->measuring = true;
			b->srv_ok = b->o.server_pid > 0 && cb_proc_sample(b->o.server_pid, &b->srv_a) == 0;
			cb_proc_self(&b->self_a);
			cb_phase(b, "measure");
		}
		if (now >= b->m_end)
			break;
		int timeout = 5;
		if (b->o.rate > 0) {
			send_due(b, cb_rate_take(&b->rate, now));
			uint64_t nx = cb_rate_next_in(&b->rate, cb_now_ns());
			timeout = (int)((nx + 999999) / 1000000);
			if (timeout > 5)
				timeout = 5;
		} else if (now - last_sweep > 5000000) {
			top_up_windows(b);   /* conns whose sends were refused */
			last_sweep = now;
		}
		cb_net_poll(b, timeout);
	}
	if (b->srv_ok && cb_proc_sample(b->o.server_pid, &b->srv_b) < 0)
		b->srv_ok = false;
	cb_proc_self(&b->self_b);
	cb_phase(b, "end");
	/* drain: wait for outstanding acks and deliveries, at most --drain s */
	uint64_t limit = b->m_end + (uint64_t)(b->o.drain * SEC);
	while (cb_now_ns() < limit) {
		cb_net_poll(b, 10);
		bool acks_done = b->o.target == TG_RELAY || total_inflight(b) == 0;
		if (acks_done && b->deliveries >= b->expected)
			break;
	}
	if (b->o.target == TG_RELAY)
		b->expected = b->expected ? b->expected : 0;
	return 0;
}

int cb_run_idle(struct bench *b)
{
	if (cb_mint_targets(b, 0, b->o.n) < 0)
		return 2;
	b->srv_ok = b->o.server_pid > 0 && cb_proc_sample(b->o.server_pid, &b->srv_idle0) == 0;
	if (cb_connect_all(b, 0, b->o.n) < b->o.n)
		return 3;
	/* let the server settle its per-connection allocations */
	uint64_t settle = cb_now_ns() + SEC / 2;
	while (cb_now_ns() < settle)
		cb_net_poll(b, 10);
	if (b->srv_ok && cb_proc_sample(b->o.server_pid, &b->srv_idle1) < 0)
		b->srv_ok = false;
	b->m_start = cb_now_ns();
	b->m_end = b->m_start + (uint64_t)(b->o.duration * SEC);
	if (b->srv_ok)
		cb_proc_sample(b->o.server_pid, &b->srv_a);
	cb_proc_self(&b->self_a);
	cb_phase(b, "measure");
	while (cb_now_ns() < b->m_end)
		cb_net_poll(b, 50);
	cb_phase(b, "end");
	if (b->srv_ok && cb_proc_sample(b->o.server_pid, &b->srv_idle2) < 0)
		b->srv_ok = false;
	b->srv_b = b->srv_idle2;
	cb_proc_self(&b->self_b);
	return b->n_ready == b->o.n ? 0 : 4;
}
