/* chatbench.h — state shared by the chatbench sources: options, the
 * connection table, counters.  chatbench is one process and one thread:
 * an epoll loop over non-blocking sockets (cb_net.c), scenario drivers
 * (cb_scen.c, cb_resync.c, cb_group.c), and main/options/report
 * (chatbench.c). */
#ifndef CHATBENCH_H
#define CHATBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cb_hist.h"
#include "cb_nodes.h"
#include "cb_proc.h"
#include "cb_rate.h"
#include "cb_ws.h"

enum cb_scenario { SC_FANOUT, SC_PAIRS, SC_IDLE, SC_RESYNC, SC_GROUP };
enum cb_target { TG_CHATD, TG_RELAY };

struct cb_opts {
	struct cb_node node[CB_MAX_NODES];   /* one per --url; connection i on node i mod nnodes */
	int nnodes;
	char *secret;
	char config[512];
	enum cb_target target;
	enum cb_scenario scenario;
	int n, m;
	double rate;
	int window;
	int size;
	double duration, warmup, drain;
	pid_t server_pid;
	bool json;
	char prefix[48];
	double connect_rate;     /* new connections per second */
	int connect_parallel;    /* handshakes in progress at most */
	double ready_timeout;    /* seconds to wait for every ready */
	int resync_convs, resync_msgs;
	bool resync_history;     /* page with history instead of repeated sync */
	int group_members;       /* group: M, members including the owner */
	double online_pct;       /* group: share of the members connected */
	int group_msgs;          /* group: K, messages sent one at a time */
	double group_timeout;    /* group: seconds a message may take to reach everyone */
	char admin_url[256];     /* group: http://HOST:PORT of the admin API, "" none */
	bool duration_set;       /* --duration given (group: caps the measured phase) */
	bool verbose;
	bool progress;           /* "chatbench: phase NAME" lines on stderr */
};

enum conn_state { CS_IDLE, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN, CS_READY, CS_CLOSED };

struct conn {
	int fd;
	int idx;
	int node;                /* index into o.node */
	enum conn_state st;
	int attempts;
	uint64_t retry_at;       /* monotonic ns; 0 = not scheduled */
	char user[72];
	char *target;            /* request target incl. ?access_token= (owned) */
	char key[CB_WS_KEY_LEN + 1];
	char *hs;                /* handshake response bytes (owned, CS_HANDSHAKE) */
	size_t hs_len;
	struct cb_ws_rx rx;
	uint8_t *out;            /* bytes not yet written */
	size_t out_off, out_len, out_cap;
	bool want_out;           /* EPOLLOUT armed */
	bool dirty;              /* on the flush list */
	bool sender;             /* takes part in sending */
	int group;               /* conversation index, -1 none */
	uint32_t inflight;       /* sends not yet acked */
	uint64_t nsend;
	int close_code;
};

#define CB_MAX_ERR 32

struct cb_errors {
	char name[CB_MAX_ERR][32];
	uint64_t count[CB_MAX_ERR];
	int n;
};

struct bench {
	struct cb_opts o;
	int epfd;
	struct conn *c;
	int nconn;
	int *dirty;              /* indices of conns with output to flush */
	int ndirty;
	uint64_t prng;
	char nonce[24];          /* makes client_message_ids unique per run */

	int n_ready, n_connecting;
	int connected;           /* ready after the (last) connect phase */
	uint64_t connect_t0, connect_t1;

	/* conversations (fanout groups, pairs, resync peers) */
	int nconv;
	char **conv_id;          /* [nconv], NULL until created */
	int64_t *conv_base;      /* last_seq when created */
	int *conv_size;          /* members */
	int conv_done, conv_failed;

	/* measurement */
	bool measuring;
	uint64_t m_start, m_end; /* monotonic ns */
	uint64_t sends, acks, deliveries, expected;
	uint64_t warm_sends, late_frames;
	uint64_t backpressure_skips;
	uint64_t bytes_in, bytes_out;
	struct cb_hist h_ack, h_del;
	struct cb_errors err;
	struct cb_rate rate;
	int rr;                  /* round-robin cursor over senders */

	/* resync (cb_resync.c) */
	struct cb_resync *rs;

	/* group (cb_group.c) */
	struct cb_group *grp;
	int *user_num;           /* conn i is user <prefix><user_num[i]>; NULL: <prefix><i> */

	/* resource samples */
	struct cb_proc_sample srv_a, srv_b, srv_idle0, srv_idle1, srv_idle2, self_a, self_b;
	bool srv_ok;
};

/* ---- cb_net.c ---- */
uint64_t cb_now_ns(void);
int cb_net_init(struct bench *b, int nconn);
void cb_net_free(struct bench *b);
/* Begin connecting conns [from, to); pace and retries are handled by
 * cb_net_poll.  Returns 0. */
int cb_net_start(struct bench *b, int from, int to);
/* One loop pass: start due connects, wait up to timeout_ms for events,
 * handle them, flush output. */
void cb_net_poll(struct bench *b, int timeout_ms);
/* Queue a text frame on a connection (coalesced; flushed by cb_net_poll).
 * Returns 0, or -1 when the connection is not open or its buffer is full. */
int cb_net_send(struct bench *b, struct conn *c, const char *text, size_t len);
void cb_net_close(struct bench *b, struct conn *c, bool graceful);
/* Forget a closed connection's state so it can be started again. */
void cb_net_reset(struct bench *b, struct conn *c);
void cb_err(struct bench *b, const char *name);
uint64_t cb_err_total(const struct bench *b);

/* ---- cb_scen.c: called by cb_net for every complete text message ---- */
void cb_scen_on_text(struct bench *b, struct conn *c, const char *data, size_t len);
void cb_scen_on_ready(struct bench *b, struct conn *c);
int cb_run_load(struct bench *b);     /* fanout, pairs */
int cb_run_idle(struct bench *b);
int cb_connect_all(struct bench *b, int from, int to);
int cb_mint_targets(struct bench *b, int from, int to);

/* ---- cb_resync.c ---- */
int cb_run_resync(struct bench *b);
void cb_resync_on_json(struct bench *b, struct conn *c, const char *type, void *json);
void cb_resync_report(struct bench *b, void *json_obj, bool human);
void cb_resync_free(struct bench *b);
bool cb_resync_ok(const struct bench *b);

/* ---- cb_group.c: one owner, a group of M members, P % of them online ---- */
/* Number of connections the group scenario opens for M members and P %. */
int cb_group_online(int members, double pct);
int cb_run_group(struct bench *b);
/* Is url http://HOST:PORT[/PATH] with a loopback HOST? */
int cb_group_admin_url_ok(const char *url);
/* The hot frames of the owner (ack) and of the members (message). */
void cb_group_on_ack(struct bench *b, struct conn *c, const char *data, size_t len);
void cb_group_on_message(struct bench *b, struct conn *c, const char *data, size_t len);
/* result / error frames whose id the group scenario made ("ga…", "m…"). */
void cb_group_on_json(struct bench *b, struct conn *c, const char *type, void *json);
void cb_group_report(struct bench *b, void *json_obj, bool human);
void cb_group_free(struct bench *b);

/* ---- chatbench.c: report helpers shared with the scenario reports ---- */
/* {count, p50, p95, p99, max, mean} in ms (a new jansson object). */
void *cb_lat_json(const struct cb_hist *h);
void cb_lat_line(const char *what, const struct cb_hist *h);
/* With --progress: "chatbench: phase NAME" on stderr, flushed at once, so a
 * driving script can take its own readings at the edges of the measured
 * interval ("measure" at its start, "end" at its end). */
void cb_phase(const struct bench *b, const char *name);

#endif
