/* cb_resync.c — the reconnect-and-resync scenario: user A (connection 0)
 * has a direct conversation with each of C peers; A goes offline; each peer
 * sends K messages and waits for the acks; A comes back and pages with
 * `sync` (or `sync` then `history`) until no conversation has more.  The
 * time from the first sync to the last message is reported, and the count
 * is checked per conversation. */
#include "chatbench.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000ULL

struct cb_resync {
	int convs, msgs;
	int64_t *cursor;         /* highest seq seen per conversation */
	int *got;                /* messages counted per conversation */
	int *sent;               /* sends made per peer */
	uint64_t total_got, acks, dup_or_old;
	int outstanding;         /* sync/history requests in flight */
	int requests, syncs, histories;
	bool failed;
	uint64_t t_peers0, t_peers1, t_sync0, t_sync1, bytes0, bytes1;
};

static int conv_index(struct bench *b, const char *cid)
{
	for (int i = 0; cid && i < b->nconv; i++)
		if (b->conv_id[i] && strcmp(b->conv_id[i], cid) == 0)
			return i;
	return -1;
}

static void peer_send(struct bench *b, struct conn *c)
{
	struct cb_resync *rs = b->rs;
	int p = c->idx - 1;
	char text[4200];
	int tl = snprintf(text, sizeof text, "resync %d/%d ", p, rs->sent[p]);
	while (tl < b->o.size && tl < (int)sizeof text - 1)
		text[tl++] = 'y';
	text[tl] = '\0';
	char buf[4600];
	int n = snprintf(buf, sizeof buf,
			 "{\"type\":\"send\",\"id\":\"p%d.%d\",\"conversation_id\":\"%s\","
			 "\"client_message_id\":\"%s-r%d-%d\",\"text\":\"%s\"}",
			 p, rs->sent[p], b->conv_id[p], b->nonce, p, rs->sent[p], text);
	if (cb_net_send(b, c, buf, (size_t)n) == 0) {
		rs->sent[p]++;
		c->inflight++;
		b->sends++;
	}
}

static void peers_top_up(struct bench *b, struct conn *c)
{
	struct cb_resync *rs = b->rs;
	while (c->st == CS_READY && c->inflight < (uint32_t)b->o.window && rs->sent[c->idx - 1] < rs->msgs)
		peer_send(b, c);
}

static void send_sync(struct bench *b)
{
	struct cb_resync *rs = b->rs;
	json_t *req = json_object(), *cur = json_object();
	char id[24];
	snprintf(id, sizeof id, "s%d", rs->requests++);
	json_object_set_new(req, "type", json_string("sync"));
	json_object_set_new(req, "id", json_string(id));
	for (int i = 0; i < b->nconv; i++)
		json_object_set_new(cur, b->conv_id[i], json_integer(rs->cursor[i]));
	json_object_set_new(req, "cursors", cur);
	char *s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (s && cb_net_send(b, &b->c[0], s, strlen(s)) == 0) {
		rs->outstanding++;
		rs->syncs++;
	} else {
		rs->failed = true;
	}
	free(s);
}

static void send_history(struct bench *b, int i)
{
	struct cb_resync *rs = b->rs;
	char buf[512];
	int n = snprintf(buf, sizeof buf,
			 "{\"type\":\"history\",\"id\":\"h%d\",\"conversation_id\":\"%s\",\"after\":%lld,\"limit\":200}",
			 i, b->conv_id[i], (long long)rs->cursor[i]);
	if (cb_net_send(b, &b->c[0], buf, (size_t)n) == 0) {
		rs->outstanding++;
		rs->histories++;
		rs->requests++;
	} else {
		rs->failed = true;
	}
}

/* Count the messages of one conversation; returns how many were new. */
static int take_messages(struct bench *b, int i, json_t *msgs)
{
	struct cb_resync *rs = b->rs;
	int fresh = 0;
	size_t k;
	json_t *m;
	json_array_foreach(msgs, k, m) {
		int64_t seq = json_integer_value(json_object_get(m, "seq"));
		if (seq > rs->cursor[i]) {
			rs->cursor[i] = seq;
			rs->got[i]++;
			rs->total_got++;
			fresh++;
		} else {
			rs->dup_or_old++;
		}
	}
	return fresh;
}

void cb_resync_on_json(struct bench *b, struct conn *c, const char *type, void *jv)
{
	struct cb_resync *rs = b->rs;
	json_t *j = jv;
	const char *id = json_string_value(json_object_get(j, "id"));
	if (!id)
		return;
	if (strcmp(type, "ack") == 0 && id[0] == 'p') {
		rs->acks++;
		b->acks++;
		if (c->inflight)
			c->inflight--;
		peers_top_up(b, c);
		return;
	}
	if (strcmp(type, "error") == 0) {
		if (id[0] == 'p' && c->inflight)
			c->inflight--;   /* counted by the caller; the peer will not finish */
		if (id[0] == 's' || id[0] == 'h') {
			rs->outstanding--;
			rs->failed = true;
		}
		return;
	}
	if (strcmp(type, "sync") == 0 && id[0] == 's') {
		rs->outstanding--;
		bool more = json_is_true(json_object_get(j, "has_more"));
		int fresh = 0;
		size_t k;
		json_t *cv;
		json_array_foreach(json_object_get(j, "conversations"), k, cv) {
			int i = conv_index(b, json_string_value(json_object_get(cv, "conversation_id")));
			if (i < 0)
				continue;
			fresh += take_messages(b, i, json_object_get(cv, "messages"));
			bool cmore = json_is_true(json_object_get(cv, "has_more"));
			if (cmore && b->o.resync_history)
				send_history(b, i);
			else if (cmore)
				more = true;
		}
		if (more && !fresh && rs->syncs > 2 * b->nconv + 20) {
			fprintf(stderr, "chatbench: resync: sync makes no progress\n");
			rs->failed = true;
			return;
		}
		if (more && (!b->o.resync_history || rs->outstanding == 0))
			send_sync(b);
	} else if (strcmp(type, "history") == 0 && id[0] == 'h') {
		rs->outstanding--;
		int i = atoi(id + 1);
		if (i < 0 || i >= b->nconv)
			return;
		int fresh = take_messages(b, i, json_object_get(j, "messages"));
		if (json_is_true(json_object_get(j, "has_more")) && fresh)
			send_history(b, i);
	}
	if (rs->outstanding == 0 && !rs->t_sync1) {
		rs->t_sync1 = cb_now_ns();
		rs->bytes1 = b->bytes_in;
	}
}

static int create_directs(struct bench *b)
{
	for (int i = 0; i < b->nconv; i++) {
		char buf[256];
		int n = snprintf(buf, sizeof buf,
				 "{\"type\":\"conv.create\",\"id\":\"c%d\",\"kind\":\"direct\",\"user_id\":\"%s\"}",
				 i, b->c[i + 1].user);
		if (cb_net_send(b, &b->c[0], buf, (size_t)n) < 0)
			return -1;
		b->c[i + 1].group = i;
		b->conv_size[i] = 2;
	}
	uint64_t limit = cb_now_ns() + 30 * SEC;
	while (b->conv_done + b->conv_failed < b->nconv && cb_now_ns() < limit)
		cb_net_poll(b, 5);
	if (b->conv_done < b->nconv) {
		fprintf(stderr, "chatbench: resync: only %d of %d conversations created\n", b->conv_done, b->nconv);
		return -1;
	}
	return 0;
}

static void wait_ms(struct bench *b, int ms)
{
	uint64_t until = cb_now_ns() + (uint64_t)ms * 1000000ULL;
	while (cb_now_ns() < until)
		cb_net_poll(b, 5);
}

int cb_run_resync(struct bench *b)
{
	int C = b->o.resync_convs, K = b->o.resync_msgs;
	struct cb_resync *rs = calloc(1, sizeof *rs);
	b->rs = rs;
	b->nconv = C;
	b->conv_id = calloc((size_t)C, sizeof *b->conv_id);
	b->conv_base = calloc((size_t)C, sizeof *b->conv_base);
	b->conv_size = calloc((size_t)C, sizeof *b->conv_size);
	if (!rs || !b->conv_id || !b->conv_base || !b->conv_size)
		return 2;
	rs->convs = C;
	rs->msgs = K;
	rs->cursor = calloc((size_t)C, sizeof *rs->cursor);
	rs->got = calloc((size_t)C, sizeof *rs->got);
	rs->sent = calloc((size_t)C, sizeof *rs->sent);
	if (!rs->cursor || !rs->got || !rs->sent)
		return 2;
	if (cb_mint_targets(b, 0, C + 1) < 0)
		return 2;
	if (cb_connect_all(b, 0, C + 1) < C + 1)
		return 3;
	if (create_directs(b) < 0)
		return 3;
	for (int i = 0; i < C; i++)
		rs->cursor[i] = b->conv_base[i];

	/* A leaves; the server must have dropped the session before the peers
	 * send, or some messages would go out live to a dying socket (they would
	 * still be in sync, but the test would be less clear). */
	cb_net_close(b, &b->c[0], true);
	wait_ms(b, 300);

	rs->t_peers0 = cb_now_ns();
	for (int i = 1; i <= C; i++)
		peers_top_up(b, &b->c[i]);
	uint64_t limit = cb_now_ns() + (60 + (uint64_t)C * K / 200) * SEC;
	uint64_t last_sweep = cb_now_ns();
	while (rs->acks < (uint64_t)C * K && cb_now_ns() < limit) {
		cb_net_poll(b, 5);
		if (cb_now_ns() - last_sweep > 50000000ULL) {
			for (int i = 1; i <= C; i++)
				peers_top_up(b, &b->c[i]);
			last_sweep = cb_now_ns();
		}
		bool any_live = false;
		for (int i = 1; i <= C && !any_live; i++)
			any_live = b->c[i].st == CS_READY;
		if (!any_live)
			break;
	}
	rs->t_peers1 = cb_now_ns();
	if (rs->acks < (uint64_t)C * K) {
		fprintf(stderr, "chatbench: resync: only %llu of %d sends were acked\n",
			(unsigned long long)rs->acks, C * K);
		return 3;
	}

	/* A comes back */
	cb_net_reset(b, &b->c[0]);
	if (cb_mint_targets(b, 0, 1) < 0)
		return 2;
	if (cb_connect_all(b, 0, 1) < 1)
		return 3;
	b->srv_ok = b->o.server_pid > 0 && cb_proc_sample(b->o.server_pid, &b->srv_a) == 0;
	cb_proc_self(&b->self_a);
	rs->t_sync0 = b->m_start = cb_now_ns();
	rs->bytes0 = b->bytes_in;
	send_sync(b);
	limit = cb_now_ns() + (60 + (uint64_t)C * K / 1000) * SEC;
	while (!rs->t_sync1 && !rs->failed && cb_now_ns() < limit && b->c[0].st == CS_READY)
		cb_net_poll(b, 5);
	b->m_end = cb_now_ns();
	if (b->srv_ok && cb_proc_sample(b->o.server_pid, &b->srv_b) < 0)
		b->srv_ok = false;
	cb_proc_self(&b->self_b);
	if (!rs->t_sync1)
		rs->failed = true;
	return 0;
}

bool cb_resync_ok(const struct bench *b)
{
	const struct cb_resync *rs = b->rs;
	if (!rs || rs->failed || rs->total_got != (uint64_t)rs->convs * rs->msgs)
		return false;
	for (int i = 0; i < rs->convs; i++)
		if (rs->got[i] != rs->msgs)
			return false;
	return true;
}

void cb_resync_report(struct bench *b, void *jo, bool human)
{
	struct cb_resync *rs = b->rs;
	if (!rs)
		return;
	double sync_ms = rs->t_sync1 ? (double)(rs->t_sync1 - rs->t_sync0) / 1e6 : -1;
	double peers_s = (double)(rs->t_peers1 - rs->t_peers0) / 1e9;
	uint64_t expect = (uint64_t)rs->convs * rs->msgs;
	int short_convs = 0;
	for (int i = 0; i < rs->convs; i++)
		short_convs += rs->got[i] != rs->msgs;
	bool ok = cb_resync_ok(b);
	if (human) {
		printf("resync: %d conversations x %d messages = %llu expected\n", rs->convs, rs->msgs,
		       (unsigned long long)expect);
		printf("  peers sent and acked in %.2f s (%.0f acks/s)\n", peers_s,
		       peers_s > 0 ? (double)rs->acks / peers_s : 0);
		printf("  sync -> all messages: %.1f ms, %llu received, %llu bytes, %d requests (%d sync, %d history)\n",
		       sync_ms, (unsigned long long)rs->total_got,
		       (unsigned long long)(rs->bytes1 - rs->bytes0), rs->requests, rs->syncs, rs->histories);
		printf("  verified: %s%s\n", ok ? "yes" : "NO",
		       ok ? "" : (short_convs ? " (some conversations incomplete)" : " (count mismatch or failure)"));
		return;
	}
	json_t *r = json_object();
	json_object_set_new(r, "conversations", json_integer(rs->convs));
	json_object_set_new(r, "messages_per_conversation", json_integer(rs->msgs));
	json_object_set_new(r, "expected", json_integer((json_int_t)expect));
	json_object_set_new(r, "received", json_integer((json_int_t)rs->total_got));
	json_object_set_new(r, "duplicates_or_old", json_integer((json_int_t)rs->dup_or_old));
	json_object_set_new(r, "incomplete_conversations", json_integer(short_convs));
	json_object_set_new(r, "sync_ms", json_real(sync_ms));
	json_object_set_new(r, "sync_bytes", json_integer((json_int_t)(rs->bytes1 - rs->bytes0)));
	json_object_set_new(r, "requests", json_integer(rs->requests));
	json_object_set_new(r, "sync_requests", json_integer(rs->syncs));
	json_object_set_new(r, "history_requests", json_integer(rs->histories));
	json_object_set_new(r, "peer_send_s", json_real(peers_s));
	json_object_set_new(r, "verified", json_boolean(ok));
	json_object_set_new(jo, "resync", r);
}

void cb_resync_free(struct bench *b)
{
	if (!b->rs)
		return;
	free(b->rs->cursor);
	free(b->rs->got);
	free(b->rs->sent);
	free(b->rs);
	b->rs = NULL;
}
