/* chatbench.c — load generator for chatd: options, set-up, report.
 * See bench/README.md for the scenarios and how to read the numbers. */
#include "chatbench.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: chatbench --url ws://127.0.0.1:PORT/ws [--url ...] (--secret S | --config chatd.conf)\n"
"                 [options]\n"
"\n"
"  --url URL            server URL; the host must be loopback (127.x, localhost, ::1).\n"
"                       Repeat it (up to 16) to drive several nodes: connection i goes\n"
"                       to the (i mod K)-th URL, so with 2 nodes the two ends of every\n"
"                       pair are on different nodes (the report gives the share)\n"
"  --secret S           HS256 secret to mint tokens (auth_mint)\n"
"  --config FILE        read auth.secret from a chatd config instead\n"
"  --target chatd|relay relay = the raw-transport baseline (ws://H:P/?room=K, no auth,\n"
"                       every text frame relayed to the other room members, no acks)\n"
"  --scenario fanout|pairs|idle|resync|group   (default fanout)\n"
"  -n N                 connections (default 100)\n"
"  -m M                 conversation (group / room) size for fanout (default 10)\n"
"  --rate R             aggregate sends/s, open loop; 0 = as fast as the window allows\n"
"                       (default 100)\n"
"  --window W           un-acked sends per connection with --rate 0, and per peer in\n"
"                       resync (default 8)\n"
"  --size BYTES         message text size, >= 32 (default 100)\n"
"  --duration SECONDS   measured interval (default 10); idle: how long to hold;\n"
"                       group: the most the measured phase may take (default 120)\n"
"  --warmup SECONDS     sending before the measured interval (default 1)\n"
"  --drain SECONDS      wait for late acks/deliveries after it (default 2)\n"
"  --server-pid PID     sample the server's CPU and RSS from /proc (one process)\n"
"  --json               one JSON object on stdout instead of the table\n"
"  --user-prefix P      user ids are P0..P{N-1} (default u)\n"
"  --connect-rate R     new connections per second (default 2000)\n"
"  --connect-parallel K handshakes in progress at most (default 256)\n"
"  --ready-timeout S    seconds to wait for every `ready`, plus N/connect-rate (default 30)\n"
"  --resync-convs C     resync: conversations of user A (default 100)\n"
"  --resync-msgs K      resync: messages per conversation (default 100)\n"
"  --resync-history     resync: page with `history` after the first `sync`\n"
"  --group-members M    group: members including the owner (default 1000); the group\n"
"                       is created with up to 999 others, then grown with conv.add\n"
"  --online-pct P       group: percent of the members connected, evenly spread, the\n"
"                       owner and at least one other among them (default 10)\n"
"  --group-messages K   group: messages the owner sends, one at a time (default 50)\n"
"  --group-timeout S    group: seconds a message may take to reach every online\n"
"                       member before it counts as undelivered (default 5)\n"
"  --admin-url URL      group: http://127.0.0.1:PORT of chatd's admin API, to report\n"
"                       storage rows written per message (GET /v1/metrics)\n"
"  --progress           print \"chatbench: phase measure\" and \"... phase end\" on stderr\n"
"                       at the edges of the measured interval (for driving scripts)\n"
"  -v, --verbose        log connection problems to stderr\n"
"  -h, --help           this text\n"
"\n"
"Exit status: 0 run complete, 1 usage, 2 set-up failure, 3 could not connect/\n"
"create conversations (group: or add the members), 4 resync not verified.\n"
"-n is ignored by resync and group (they open the connections they need).\n");
}

static int parse_opts(struct cb_opts *o, int argc, char **argv)
{
	enum { O_URL = 256, O_SECRET, O_CONFIG, O_TARGET, O_SCEN, O_RATE, O_WINDOW, O_SIZE,
	       O_DUR, O_WARM, O_DRAIN, O_PID, O_JSON, O_PREFIX, O_CRATE, O_CPAR, O_RTO,
	       O_RCONV, O_RMSG, O_RHIST, O_GMEM, O_GPCT, O_GMSG, O_GTO, O_ADMIN, O_PROGRESS };
	static const struct option lo[] = {
		{ "url", 1, 0, O_URL }, { "secret", 1, 0, O_SECRET }, { "config", 1, 0, O_CONFIG },
		{ "target", 1, 0, O_TARGET }, { "scenario", 1, 0, O_SCEN }, { "rate", 1, 0, O_RATE },
		{ "window", 1, 0, O_WINDOW }, { "size", 1, 0, O_SIZE }, { "duration", 1, 0, O_DUR },
		{ "warmup", 1, 0, O_WARM }, { "drain", 1, 0, O_DRAIN }, { "server-pid", 1, 0, O_PID },
		{ "json", 0, 0, O_JSON }, { "user-prefix", 1, 0, O_PREFIX },
		{ "connect-rate", 1, 0, O_CRATE }, { "connect-parallel", 1, 0, O_CPAR },
		{ "ready-timeout", 1, 0, O_RTO }, { "resync-convs", 1, 0, O_RCONV },
		{ "resync-msgs", 1, 0, O_RMSG }, { "resync-history", 0, 0, O_RHIST },
		{ "group-members", 1, 0, O_GMEM }, { "online-pct", 1, 0, O_GPCT },
		{ "group-messages", 1, 0, O_GMSG }, { "group-timeout", 1, 0, O_GTO },
		{ "admin-url", 1, 0, O_ADMIN }, { "progress", 0, 0, O_PROGRESS },
		{ "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	o->target = TG_CHATD;
	o->scenario = SC_FANOUT;
	o->n = 100;
	o->m = 10;
	o->rate = 100;
	o->window = 8;
	o->size = 100;
	o->duration = 10;
	o->warmup = 1;
	o->drain = 2;
	snprintf(o->prefix, sizeof o->prefix, "u");
	o->connect_rate = 2000;
	o->connect_parallel = 256;
	o->ready_timeout = 30;
	o->resync_convs = 100;
	o->resync_msgs = 100;
	o->group_members = 1000;
	o->online_pct = 10;
	o->group_msgs = 50;
	o->group_timeout = 5;
	bool too_many = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "n:m:vh", lo, NULL)) != -1) {
		switch (ch) {
		case O_URL:
			if (o->nnodes == CB_MAX_NODES || strlen(optarg) >= sizeof o->node[0].url)
				too_many = true;
			else
				snprintf(o->node[o->nnodes++].url, sizeof o->node[0].url, "%s", optarg);
			break;
		case O_SECRET: free(o->secret); o->secret = strdup(optarg); break;
		case O_CONFIG: snprintf(o->config, sizeof o->config, "%s", optarg); break;
		case O_TARGET:
			if (strcmp(optarg, "chatd") == 0) o->target = TG_CHATD;
			else if (strcmp(optarg, "relay") == 0) o->target = TG_RELAY;
			else { fprintf(stderr, "chatbench: --target chatd|relay\n"); return -1; }
			break;
		case O_SCEN:
			if (strcmp(optarg, "fanout") == 0) o->scenario = SC_FANOUT;
			else if (strcmp(optarg, "pairs") == 0) o->scenario = SC_PAIRS;
			else if (strcmp(optarg, "idle") == 0) o->scenario = SC_IDLE;
			else if (strcmp(optarg, "resync") == 0) o->scenario = SC_RESYNC;
			else if (strcmp(optarg, "group") == 0) o->scenario = SC_GROUP;
			else { fprintf(stderr, "chatbench: --scenario fanout|pairs|idle|resync|group\n"); return -1; }
			break;
		case 'n': o->n = atoi(optarg); break;
		case 'm': o->m = atoi(optarg); break;
		case O_RATE: o->rate = atof(optarg); break;
		case O_WINDOW: o->window = atoi(optarg); break;
		case O_SIZE: o->size = atoi(optarg); break;
		case O_DUR: o->duration = atof(optarg); o->duration_set = true; break;
		case O_WARM: o->warmup = atof(optarg); break;
		case O_DRAIN: o->drain = atof(optarg); break;
		case O_PID: o->server_pid = (pid_t)atoi(optarg); break;
		case O_JSON: o->json = true; break;
		case O_PREFIX: snprintf(o->prefix, sizeof o->prefix, "%s", optarg); break;
		case O_CRATE: o->connect_rate = atof(optarg); break;
		case O_CPAR: o->connect_parallel = atoi(optarg); break;
		case O_RTO: o->ready_timeout = atof(optarg); break;
		case O_RCONV: o->resync_convs = atoi(optarg); break;
		case O_RMSG: o->resync_msgs = atoi(optarg); break;
		case O_RHIST: o->resync_history = true; break;
		case O_GMEM: o->group_members = atoi(optarg); break;
		case O_GPCT: o->online_pct = atof(optarg); break;
		case O_GMSG: o->group_msgs = atoi(optarg); break;
		case O_GTO: o->group_timeout = atof(optarg); break;
		case O_ADMIN: snprintf(o->admin_url, sizeof o->admin_url, "%s", optarg); break;
		case O_PROGRESS: o->progress = true; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	const char *bad = NULL;
	if (optind < argc) bad = "unexpected argument";
	else if (too_many) bad = "at most 16 --url, each under 512 bytes";
	else if (!o->nnodes) bad = "--url is required";
	else if (o->n < 1 || o->n > 1000000) bad = "-n must be 1..1000000";
	else if (o->m < 2 && o->scenario == SC_FANOUT) bad = "-m must be >= 2";
	else if (o->rate < 0) bad = "--rate must be >= 0";
	else if (o->window < 1) bad = "--window must be >= 1";
	else if (o->size < 32 || o->size > 60000) bad = "--size must be 32..60000";
	else if (o->duration <= 0 || o->duration > 86400) bad = "--duration must be in (0, 86400]";
	else if (o->warmup < 0 || o->drain < 0) bad = "--warmup/--drain must be >= 0";
	else if (o->connect_rate <= 0 || o->connect_parallel < 1) bad = "bad --connect-rate/--connect-parallel";
	else if (o->resync_convs < 1 || o->resync_msgs < 1) bad = "--resync-convs/--resync-msgs must be >= 1";
	else if (o->group_members < 2 || o->group_members > 1000000) bad = "--group-members must be 2..1000000";
	else if (!(o->online_pct > 0 && o->online_pct <= 100)) bad = "--online-pct must be in (0, 100]";
	else if (o->group_msgs < 1 || o->group_msgs > 1000000) bad = "--group-messages must be 1..1000000";
	else if (!(o->group_timeout > 0 && o->group_timeout <= 3600)) bad = "--group-timeout must be in (0, 3600]";
	else if (o->admin_url[0] && !cb_group_admin_url_ok(o->admin_url))
		bad = "--admin-url must be http://HOST:PORT with a loopback HOST (127.x, localhost, ::1)";
	else if (o->target == TG_RELAY && o->scenario == SC_GROUP) bad = "--target relay has no groups";
	else if (o->target == TG_RELAY && o->scenario != SC_FANOUT && o->scenario != SC_IDLE)
		bad = "--target relay supports the fanout and idle scenarios";
	else if (o->target == TG_RELAY && o->rate == 0 && o->scenario == SC_FANOUT)
		bad = "--target relay needs --rate > 0 (there are no acks to window on)";
	if (bad) {
		fprintf(stderr, "chatbench: %s (see --help)\n", bad);
		return -1;
	}
	if (o->scenario == SC_PAIRS)
		o->m = 2;
	if (o->scenario == SC_RESYNC)
		o->n = o->resync_convs + 1;
	if (o->scenario == SC_GROUP) {
		o->n = cb_group_online(o->group_members, o->online_pct);
		o->m = o->group_members;
		if (!o->duration_set)
			o->duration = 120;
	}
	char err[256];
	for (int k = 0; k < o->nnodes; k++)
		if (cb_node_parse(&o->node[k], o->target == TG_RELAY, err, sizeof err) < 0) {
			fprintf(stderr, "chatbench: %s (%s)\n", err, o->node[k].url);
			return -1;
		}
	if (o->target == TG_CHATD && !o->secret) {
		if (!o->config[0]) {
			fprintf(stderr, "chatbench: --secret or --config is required for --target chatd\n");
			return -1;
		}
		struct chatd_config *cfg = NULL;
		struct cfg_errors errs = { 0 };
		if (cfg_load_file(o->config, &cfg, &errs) != 0) {
			fprintf(stderr, "chatbench: cannot read %s:\n", o->config);
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "  %s\n", errs.msgs[i]);
			cfg_errors_clear(&errs);
			return -1;
		}
		if (!cfg->auth_secret || (cfg->auth_algorithm && strcmp(cfg->auth_algorithm, "HS256") != 0)) {
			fprintf(stderr, "chatbench: %s has no HS256 auth.secret\n", o->config);
			cfg_free(cfg);
			return -1;
		}
		o->secret = strdup(cfg->auth_secret);
		cfg_free(cfg);
	}
	return 0;
}

static void raise_nofile(int need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)need + 32 > rl.rlim_cur)
		fprintf(stderr, "chatbench: warning: open-file limit %llu is below %d connections\n",
			(unsigned long long)rl.rlim_cur, need);
}

static const char *scen_name(enum cb_scenario s)
{
	return s == SC_FANOUT ? "fanout" : s == SC_PAIRS ? "pairs" : s == SC_IDLE ? "idle"
	     : s == SC_RESYNC ? "resync" : "group";
}

void *cb_lat_json(const struct cb_hist *h)
{
	json_t *o = json_object();
	json_object_set_new(o, "count", json_integer((json_int_t)h->count));
	json_object_set_new(o, "p50", json_real(cb_hist_percentile(h, 50) / 1e6));
	json_object_set_new(o, "p95", json_real(cb_hist_percentile(h, 95) / 1e6));
	json_object_set_new(o, "p99", json_real(cb_hist_percentile(h, 99) / 1e6));
	json_object_set_new(o, "max", json_real(cb_hist_percentile(h, 100) / 1e6));
	json_object_set_new(o, "mean", json_real(cb_hist_mean(h) / 1e6));
	return o;
}

void cb_phase(const struct bench *b, const char *name)
{
	if (b->o.progress) {
		fprintf(stderr, "chatbench: phase %s\n", name);
		fflush(stderr);
	}
}

/* {url, connections, ready_at_end} per node, in --url order. */
static void *nodes_json(const struct bench *b)
{
	json_t *a = json_array();
	for (int k = 0; k < b->o.nnodes; k++) {
		int conns = 0, ready = 0;
		for (int i = 0; i < b->nconn; i++)
			if (b->c[i].node == k) {
				conns++;
				ready += b->c[i].st == CS_READY;
			}
		json_t *o = json_object();
		json_object_set_new(o, "url", json_string(b->o.node[k].url));
		json_object_set_new(o, "connections", json_integer(conns));
		json_object_set_new(o, "ready_at_end", json_integer(ready));
		json_array_append_new(a, o);
	}
	return a;
}

void cb_lat_line(const char *what, const struct cb_hist *h)
{
	if (!h->count) {
		printf("  %-18s (no samples)\n", what);
		return;
	}
	printf("  %-18s p50 %8.2f  p95 %8.2f  p99 %8.2f  max %8.2f ms  (%llu samples)\n", what,
	       cb_hist_percentile(h, 50) / 1e6, cb_hist_percentile(h, 95) / 1e6,
	       cb_hist_percentile(h, 99) / 1e6, cb_hist_percentile(h, 100) / 1e6,
	       (unsigned long long)h->count);
}

static int report(struct bench *b)
{
	const struct cb_opts *o = &b->o;
	double secs = (double)(b->m_end - b->m_start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	bool load = o->scenario == SC_FANOUT || o->scenario == SC_PAIRS;
	bool relay = o->target == TG_RELAY;
	double undel = b->expected ? 100.0 * (1.0 - (double)b->deliveries / (double)b->expected) : 0.0;
	if (undel < 0)
		undel = 0;   /* more than expected: counted in extra_deliveries */
	double srv_cpu = b->srv_ok ? cb_proc_cpu_pct(&b->srv_a, &b->srv_b, b->m_end - b->m_start) : -1;
	double gen_cpu = cb_proc_cpu_pct(&b->self_a, &b->self_b, b->m_end - b->m_start);
	struct cb_proc_sample self;
	cb_proc_self(&self);
	bool gen_bound = gen_cpu > 90.0;
	double idle_per = b->srv_ok && o->n ? ((double)b->srv_idle1.rss_bytes - (double)b->srv_idle0.rss_bytes) / o->n : 0;
	double cross = load ? cb_cross_node_pct(o->n, o->m, o->nnodes) : -1;

	if (o->json) {
		json_t *j = json_object();
		json_object_set_new(j, "scenario", json_string(scen_name(o->scenario)));
		json_object_set_new(j, "target", json_string(relay ? "relay" : "chatd"));
		json_object_set_new(j, "n", json_integer(o->n));
		json_object_set_new(j, "m", json_integer(o->m));
		json_object_set_new(j, "rate", json_real(o->rate));
		json_object_set_new(j, "window", json_integer(o->window));
		json_object_set_new(j, "size", json_integer(o->size));
		json_object_set_new(j, "nodes", nodes_json(b));
		json_object_set_new(j, "cross_node_pct", cross >= 0 ? json_real(cross) : json_null());
		json_object_set_new(j, "connected", json_integer(b->connected));
		json_object_set_new(j, "ready_at_end", json_integer(b->n_ready));
		json_object_set_new(j, "connect_s", json_real((double)(b->connect_t1 - b->connect_t0) / 1e9));
		json_object_set_new(j, "duration_s", json_real(secs));
		json_object_set_new(j, "sends", json_integer((json_int_t)b->sends));
		json_object_set_new(j, "acks", relay ? json_null() : json_integer((json_int_t)b->acks));
		json_object_set_new(j, "acks_applicable", json_boolean(!relay));
		json_object_set_new(j, "deliveries", json_integer((json_int_t)b->deliveries));
		json_object_set_new(j, "expected_deliveries", json_integer((json_int_t)b->expected));
		json_object_set_new(j, "extra_deliveries", json_integer(b->deliveries > b->expected ?
			(json_int_t)(b->deliveries - b->expected) : 0));
		json_object_set_new(j, "undelivered_pct", json_real(undel));
		/* rates only mean something over the measured send interval */
		json_object_set_new(j, "sends_per_s", load ? json_real(b->sends / secs) : json_null());
		json_object_set_new(j, "acks_per_s", load && !relay ? json_real(b->acks / secs) : json_null());
		json_object_set_new(j, "deliveries_per_s", load ? json_real(b->deliveries / secs) : json_null());
		json_object_set_new(j, "skipped_sends", json_integer((json_int_t)(b->rate.skipped + b->backpressure_skips)));
		json_t *lat = json_object();
		json_object_set_new(lat, "ack", relay ? json_null() : cb_lat_json(&b->h_ack));
		json_object_set_new(lat, "delivery", cb_lat_json(&b->h_del));
		json_object_set_new(j, "latency_ms", lat);
		json_t *errs = json_object();
		for (int i = 0; i < b->err.n; i++)
			json_object_set_new(errs, b->err.name[i], json_integer((json_int_t)b->err.count[i]));
		json_object_set_new(j, "errors", errs);
		json_object_set_new(j, "error_total", json_integer((json_int_t)cb_err_total(b)));
		json_t *srv = json_object();
		json_object_set_new(srv, "pid", json_integer(o->server_pid));
		json_object_set_new(srv, "cpu_pct", b->srv_ok ? json_real(srv_cpu) : json_null());
		json_object_set_new(srv, "rss_bytes", b->srv_ok ? json_integer((json_int_t)b->srv_b.rss_bytes) : json_null());
		json_object_set_new(srv, "rss_peak_bytes", b->srv_ok ? json_integer((json_int_t)b->srv_b.hwm_bytes) : json_null());
		if (o->scenario == SC_IDLE && b->srv_ok) {
			json_object_set_new(srv, "rss_before", json_integer((json_int_t)b->srv_idle0.rss_bytes));
			json_object_set_new(srv, "rss_ready", json_integer((json_int_t)b->srv_idle1.rss_bytes));
			json_object_set_new(srv, "rss_after_hold", json_integer((json_int_t)b->srv_idle2.rss_bytes));
			json_object_set_new(srv, "rss_per_conn_bytes", json_real(idle_per));
		}
		json_object_set_new(j, "server", srv);
		json_t *gen = json_object();
		json_object_set_new(gen, "cpu_pct", json_real(gen_cpu));
		json_object_set_new(gen, "rss_bytes", json_integer((json_int_t)self.rss_bytes));
		json_object_set_new(gen, "bound", json_boolean(gen_bound));
		json_object_set_new(j, "generator", gen);
		if (o->scenario == SC_RESYNC)
			cb_resync_report(b, j, false);
		if (o->scenario == SC_GROUP)
			cb_group_report(b, j, false);
		char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(j);
	} else {
		if (o->scenario == SC_GROUP)
			printf("chatbench group -> chatd %s: members=%d online=%d messages=%d size=%d\n",
			       o->node[0].url, o->group_members, o->n, o->group_msgs, o->size);
		else
			printf("chatbench %s -> %s %s: n=%d m=%d rate=%g%s size=%d\n", scen_name(o->scenario),
			       relay ? "relay" : "chatd", o->node[0].url, o->n, o->m, o->rate,
			       o->rate == 0 ? " (window)" : "", o->size);
		if (o->nnodes > 1) {
			printf("  %d nodes, connection i on node i mod %d:", o->nnodes, o->nnodes);
			for (int k = 0; k < o->nnodes; k++)
				printf(" %s", o->node[k].url);
			printf("\n");
			if (cross >= 0)
				printf("  sender and recipient on different nodes: %.1f %% of the pairs\n", cross);
		}
		printf("  connected %d in %.2f s (%d still open at the end); measured %.2f s\n", b->connected,
		       (double)(b->connect_t1 - b->connect_t0) / 1e9, b->n_ready, secs);
		if (load) {
			printf("  sends      %10llu  %10.1f /s\n", (unsigned long long)b->sends, b->sends / secs);
			if (relay)
				printf("  acks              n/a  (the relay baseline has no acks)\n");
			else
				printf("  acks       %10llu  %10.1f /s\n", (unsigned long long)b->acks, b->acks / secs);
			printf("  deliveries %10llu  %10.1f /s  (expected %llu, undelivered %.3f %%)\n",
			       (unsigned long long)b->deliveries, b->deliveries / secs,
			       (unsigned long long)b->expected, undel);
			if (b->rate.skipped + b->backpressure_skips)
				printf("  skipped sends: %llu (generator behind schedule or output full)\n",
				       (unsigned long long)(b->rate.skipped + b->backpressure_skips));
			if (!relay)
				cb_lat_line("send->ack", &b->h_ack);
			cb_lat_line("send->delivery", &b->h_del);
		}
		if (o->scenario == SC_RESYNC)
			cb_resync_report(b, NULL, true);
		if (o->scenario == SC_GROUP)
			cb_group_report(b, NULL, true);
		printf("  errors: %llu", (unsigned long long)cb_err_total(b));
		for (int i = 0; i < b->err.n; i++)
			printf("  %s=%llu", b->err.name[i], (unsigned long long)b->err.count[i]);
		printf("\n");
		if (b->srv_ok) {
			printf("  server pid %d: CPU %.1f %%  RSS %.1f MiB (peak %.1f MiB)\n", (int)o->server_pid,
			       srv_cpu, b->srv_b.rss_bytes / 1048576.0, b->srv_b.hwm_bytes / 1048576.0);
			if (o->scenario == SC_IDLE)
				printf("  idle RSS: before %.1f MiB, all ready %.1f MiB, after hold %.1f MiB; "
				       "%.0f bytes per connection\n", b->srv_idle0.rss_bytes / 1048576.0,
				       b->srv_idle1.rss_bytes / 1048576.0, b->srv_idle2.rss_bytes / 1048576.0, idle_per);
		} else if (o->server_pid) {
			printf("  server pid %d: not readable\n", (int)o->server_pid);
		}
		printf("  generator: CPU %.1f %%  RSS %.1f MiB\n", gen_cpu, self.rss_bytes / 1048576.0);
	}
	if (gen_bound)
		fprintf(stderr, "chatbench: WARNING: the generator used %.0f %% of a core: the numbers may "
			"measure chatbench, not the server\n", gen_cpu);
	if (o->scenario == SC_RESYNC && !cb_resync_ok(b))
		return 4;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b;
	memset(&b, 0, sizeof b);
	b.epfd = -1;
	signal(SIGPIPE, SIG_IGN);
	if (parse_opts(&b.o, argc, argv) < 0) {
		free(b.o.secret); /* parse_opts may have copied it before failing */
		return 1;
	}
	raise_nofile(b.o.n);
	b.prng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ cb_now_ns();
	snprintf(b.nonce, sizeof b.nonce, "%llx", (unsigned long long)(b.prng & 0xFFFFFFFFFFULL));
	cb_hist_init(&b.h_ack);
	cb_hist_init(&b.h_del);
	if (cb_net_init(&b, b.o.n) < 0) {
		fprintf(stderr, "chatbench: out of memory\n");
		return 2;
	}
	int rc;
	switch (b.o.scenario) {
	case SC_IDLE: rc = cb_run_idle(&b); break;
	case SC_RESYNC: rc = cb_run_resync(&b); break;
	case SC_GROUP: rc = cb_run_group(&b); break;
	default: rc = cb_run_load(&b); break;
	}
	if (rc == 0 || rc == 4 || (b.o.scenario == SC_RESYNC && rc == 3 && b.rs)) {
		int r2 = report(&b);
		if (!rc)
			rc = r2;
	}
	for (int i = 0; i < b.o.n; i++)
		cb_net_close(&b, &b.c[i], true);
	cb_net_free(&b);
	cb_resync_free(&b);
	cb_group_free(&b);
	for (int g = 0; b.conv_id && g < b.nconv; g++)
		free(b.conv_id[g]);
	free(b.conv_id);
	free(b.conv_base);
	free(b.conv_size);
	free(b.o.secret);
	return rc;
}
