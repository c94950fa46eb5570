/* cluster.c — see cluster.h. */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "cluster_codec.h"
#include "core_loop.h"
#include "core_metrics.h"
#include "frame.h"
#include "log.h"
#include "moderation.h"
#include "pipeline.h"
#include "typing.h"

#define NODE_MAX 64

/* The users one frame goes to, collected during one loop iteration. */
struct pend {
	struct pend *next;
	chatd_frame *f;             /* a reference */
	const char **users;         /* owned strings */
	size_t n, cap;
};

/* One locate in flight, then its messages waiting for their turn. */
struct batch {
	struct batch *next;
	struct cluster *cl;         /* NULL: orphaned by cluster_free */
	chatd_frame *f;
	char **users;
	size_t n;
	bool done;
	/* the result: one message per node */
	char **nodes, **bodies;
	size_t *lens, n_msgs;
};

enum { EV_ROUTED, EV_PUBLISHED, EV_PUBLISH_FAILED, EV_LOCATE_FAILED, EV_RECEIVED,
       EV_RECEIVED_BAD, EV_CONTROL_SENT, EV_CONTROL_RECEIVED, EV_FANOUT_SENT,
       EV_FANOUT_RECEIVED, EV__COUNT };
static const char *const ev_names[EV__COUNT] = {
	"frames_routed", "messages_published", "publish_failed", "locate_failed",
	"messages_received", "messages_malformed", "control_sent", "control_received",
	"fanout_sent", "fanout_received",
};

struct cluster {
	struct core *c;
	char node[NODE_MAX + 1];
	char topic[NODE_MAX + 8];
	struct pend *head, *tail;
	struct batch *bhead, *btail;
	struct event *flush_ev;
	struct metric *m[EV__COUNT];
	bool shared_fanout;         /* every node runs each fan-out (cluster.h) */
	bool stopped;               /* cluster_stop ran: nothing goes out or in */
};

static void count(struct cluster *cl, int ev, uint64_t n)
{
	if (cl->m[ev])
		metric_add(cl->m[ev], n);
}

static void pend_free(struct pend *p)
{
	for (size_t i = 0; i < p->n; i++)
		free((char *)p->users[i]);
	free(p->users);
	frame_unref(p->f);
	free(p);
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->users[i]);
	free(b->users);
	for (size_t i = 0; i < b->n_msgs; i++) {
		free(b->nodes[i]);
		free(b->bodies[i]);
	}
	free(b->nodes);
	free(b->bodies);
	free(b->lens);
	frame_unref(b->f);
	free(b);
}

/* Publish every finished batch at the head: order is kept. */
static void drain(struct cluster *cl)
{
	struct core *c = cl->c;
	while (cl->bhead && cl->bhead->done) {
		struct batch *b = cl->bhead;
		cl->bhead = b->next;
		if (!cl->bhead)
			cl->btail = NULL;
		for (size_t i = 0; i < b->n_msgs; i++) {
			char topic[NODE_MAX + 8];
			snprintf(topic, sizeof topic, "node.%s", b->nodes[i]);
			int st = c->bus->publish(c->bus_inst, topic, b->bodies[i], b->lens[i]);
			count(cl, st == CHATD_OK ? EV_PUBLISHED : EV_PUBLISH_FAILED, 1);
			cm_bus_status(c, "cluster", st);
		}
		batch_free(b);
	}
}

static void on_located(void *arg, int status, const struct chatd_presence_loc *locs, size_t n)
{
	struct batch *b = arg;
	struct cluster *cl = b->cl;
	if (!cl || cl->stopped) {
		batch_free(b);
		return;
	}
	b->done = true;
	if (status != CHATD_OK || n != b->n) {
		/* Local delivery happened; the remote sessions catch up by sync. */
		count(cl, EV_LOCATE_FAILED, 1);
		log_warn("core", "cluster.locate_failed", "%zu users not routed to other nodes: %s",
			 b->n, chatd_strerror(status != CHATD_OK ? status : CHATD_ERR_INVALID));
		drain(cl);
		return;
	}
	struct cluster_group *g = NULL;
	int ng = cluster_group((const char *const *)b->users, locs, n, cl->node, &g);
	if (ng < 0)
		goto nomem;
	if (ng > 0) {
		b->nodes = calloc((size_t)ng, sizeof *b->nodes);
		b->bodies = calloc((size_t)ng, sizeof *b->bodies);
		b->lens = calloc((size_t)ng, sizeof *b->lens);
		if (!b->nodes || !b->bodies || !b->lens)
			goto nomem;
	}
	for (int i = 0; i < ng; i++) {
		b->nodes[i] = strdup(g[i].node);
		b->n_msgs++;
		if (!b->nodes[i] ||
		    cluster_encode(g[i].users, g[i].n, (const char *)b->f->payload,
				   b->f->payload_len, &b->bodies[i], &b->lens[i]) < 0)
			goto nomem;
	}
	count(cl, EV_ROUTED, b->n_msgs ? 1 : 0);
	goto out;
nomem:
	log_error("core", "cluster.nomem", "a frame was not routed to other nodes");
	for (size_t i = 0; i < b->n_msgs; i++) {
		free(b->nodes[i]);
		free(b->bodies[i]);
	}
	b->n_msgs = 0;
out:
	cluster_groups_free(g, ng > 0 ? (size_t)ng : 0);
	drain(cl);
}

/* Start the locate of up to CLUSTER_USERS_MAX users of p from `from`. */
static void start_batch(struct cluster *cl, struct pend *p, size_t from, size_t n)
{
	struct core *c = cl->c;
	struct batch *b = calloc(1, sizeof *b);
	if (!b || !(b->users = calloc(n, sizeof *b->users))) {
		free(b);
		log_error("core", "cluster.nomem", "a frame was not routed to other nodes");
		return;
	}
	b->cl = cl;
	frame_ref(p->f);
	b->f = p->f;
	for (size_t i = 0; i < n; i++) {
		b->users[i] = (char *)p->users[from + i]; /* moved */
		p->users[from + i] = NULL;
	}
	b->n = n;
	if (cl->btail)
		cl->btail->next = b;
	else
		cl->bhead = b;
	cl->btail = b;
	int st = c->presence->locate(c->presence_inst, (const char *const *)b->users, n,
				     on_located, b);
	if (st != CHATD_OK) {
		b->done = true;
		count(cl, EV_LOCATE_FAILED, 1);
		cm_presence_status(c, "locate", st);
		drain(cl);
	}
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct cluster *cl = arg;
	struct pend *p = cl->head;
	cl->head = cl->tail = NULL;
	while (p) {
		struct pend *next = p->next;
		for (size_t i = 0; i < p->n; i += CLUSTER_USERS_MAX)
			start_batch(cl, p, i, p->n - i < CLUSTER_USERS_MAX ? p->n - i
									   : CLUSTER_USERS_MAX);
		p->n = 0; /* the users moved to their batches (or were dropped) */
		pend_free(p);
		p = next;
	}
}

void cluster_note(struct cluster *cl, const char *user, chatd_frame *f)
{
	if (!cl || !f || cl->stopped || f->fanned_out)
		return;
	struct pend *p = cl->tail;
	if (!p || p->f != f) {
		p = calloc(1, sizeof *p);
		if (!p)
			goto nomem;
		frame_ref(f);
		p->f = f;
		if (cl->tail)
			cl->tail->next = p;
		else
			cl->head = p;
		cl->tail = p;
		event_active(cl->flush_ev, EV_READ, 0);
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		const char **nu = realloc(p->users, cap * sizeof *nu);
		if (!nu)
			goto nomem;
		p->users = nu;
		p->cap = cap;
	}
	char *u = strdup(user);
	if (!u)
		goto nomem;
	p->users[p->n++] = u;
	return;
nomem:
	log_user(LOG_ERROR, "core", "cluster.nomem", user, "a frame was not routed to other nodes");
}

/* ---- receiving ---- */

static void on_node_msg(void *arg, const char *topic, const char *payload, size_t len)
{
	(void)topic;
	struct cluster *cl = arg;
	char *buf = cl->stopped ? NULL : malloc(len + 1);
	if (!buf)
		return;
	memcpy(buf, payload, len);
	buf[len] = '\0';
	const char *users[CLUSTER_USERS_MAX];
	const char *body;
	size_t body_len;
	int n = cluster_decode(buf, len, users, CLUSTER_USERS_MAX, &body, &body_len);
	chatd_frame *f = n > 0 ? frame_new(body, body_len) : NULL;
	if (!f) {
		count(cl, EV_RECEIVED_BAD, 1);
		log_warn("core", "cluster.bad_message", "a node message of %zu bytes was dropped",
			 len);
		free(buf);
		return;
	}
	count(cl, EV_RECEIVED, 1);
	int delivered = 0;
	for (int i = 0; i < n; i++)
		delivered += core_deliver_local(cl->c, users[i], f, 0);
	cm_deliveries(cl->c, delivered);
	frame_unref(f);
	free(buf);
}

/* Another node's fan-out, run here for this node's sessions. */
static void on_fanout(void *arg, const char *topic, const char *payload, size_t len)
{
	(void)topic;
	struct cluster *cl = arg;
	struct core *c = cl->c;
	char *buf = cl->stopped || !c->fanout ? NULL : malloc(len + 1);
	if (!buf)
		return;
	memcpy(buf, payload, len);
	buf[len] = '\0';
	struct cluster_fan m;
	if (cluster_fan_decode(buf, len, &m) < 0) {
		count(cl, EV_RECEIVED_BAD, 1);
		log_warn("core", "cluster.bad_message", "a fan-out message of %zu bytes was dropped",
			 len);
		free(buf);
		return;
	}
	if (strcmp(m.origin, cl->node) == 0) {
		free(buf);
		return;
	}
	chatd_frame *f1 = frame_new(m.f1, m.f1_len);
	chatd_frame *f2 = m.kind == 'd' ? frame_new(m.f2, m.f2_len) : NULL;
	if (!f1 || (m.kind == 'd' && !f2)) {
		log_error("core", "cluster.nomem", "a fan-out of %s from node %s was dropped", m.conv,
			  m.origin);
	} else {
		count(cl, EV_FANOUT_RECEIVED, 1);
		f1->fanned_out = true;
		if (f2)
			f2->fanned_out = true;
		if (m.kind == 'd') {
			struct chatd_fanout_msg fm = {
				.conversation_id = m.conv,
				.sender_id = m.sender,
				.seq = m.seq,
				.member_count = m.member_count,
				.origin_session = 0, /* it is on the origin node */
				.to_sender = f1,
				.to_others = f2,
			};
			c->fanout->deliver(c->fanout_inst, &fm);
		} else {
			c->fanout->deliver_members(c->fanout_inst, m.conv, f1, 0);
		}
	}
	if (f1)
		frame_unref(f1);
	if (f2)
		frame_unref(f2);
	free(buf);
}

bool cluster_shares_fanout(const struct cluster *cl)
{
	return cl && cl->shared_fanout && !cl->stopped;
}

void cluster_fanout_send(struct cluster *cl, const struct chatd_fanout_msg *fm, const char *conv,
			 chatd_frame *f)
{
	if (!cluster_shares_fanout(cl))
		return;
	struct cluster_fan m = { .origin = cl->node };
	if (fm) {
		m.kind = 'd';
		m.conv = fm->conversation_id;
		m.sender = fm->sender_id;
		m.seq = fm->seq;
		m.member_count = fm->member_count;
		m.f1 = (const char *)fm->to_sender->payload;
		m.f1_len = fm->to_sender->payload_len;
		m.f2 = (const char *)fm->to_others->payload;
		m.f2_len = fm->to_others->payload_len;
	} else {
		m.kind = 'm';
		m.conv = conv;
		m.f1 = (const char *)f->payload;
		m.f1_len = f->payload_len;
	}
	char *body;
	size_t len;
	if (cluster_fan_encode(&m, &body, &len) < 0) {
		log_error("core", "cluster.nomem", "a fan-out of %s was not sent to other nodes",
			  m.conv);
		return;
	}
	struct core *c = cl->c;
	int st = c->bus->publish(c->bus_inst, "cluster.fanout", body, len);
	cm_bus_status(c, "cluster", st);
	count(cl, st == CHATD_OK ? EV_FANOUT_SENT : EV_PUBLISH_FAILED, 1);
	free(body);
}

static bool from_self(struct cluster *cl, json_t *o)
{
	const char *origin = json_string_value(json_object_get(o, "origin"));
	return !origin || strcmp(origin, cl->node) == 0;
}

static void on_close_user(void *arg, const char *topic, const char *payload, size_t len)
{
	(void)topic;
	struct cluster *cl = arg;
	json_t *o = cl->stopped ? NULL : json_loadb(payload, len, 0, NULL);
	if (o && !from_self(cl, o)) {
		count(cl, EV_CONTROL_RECEIVED, 1);
		sanctions_cluster_close(cl->c, o);
	}
	json_decref(o);
}

static void on_conv_changed(void *arg, const char *topic, const char *payload, size_t len)
{
	(void)topic;
	struct cluster *cl = arg;
	struct core *c = cl->c;
	json_t *o = cl->stopped ? NULL : json_loadb(payload, len, 0, NULL);
	const char *conv = json_string_value(json_object_get(o, "conversation_id"));
	if (!o || !conv || from_self(cl, o)) {
		json_decref(o);
		return;
	}
	count(cl, EV_CONTROL_RECEIVED, 1);
	typing_conv_changed(c->typing, conv);
	if (c->fanout) {
		c->fanout->members_changed(c->fanout_inst, conv);
		json_t *joined = json_object_get(o, "joined");
		const char *left = json_string_value(json_object_get(o, "left"));
		size_t i;
		json_t *v;
		if (CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, member_joined))
			json_array_foreach(joined, i, v)
				if (json_is_string(v))
					c->fanout->member_joined(c->fanout_inst, conv,
								 json_string_value(v));
		if (left && CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, member_left))
			c->fanout->member_left(c->fanout_inst, conv, left);
	}
	json_decref(o);
}

/* ---- sending control ---- */

static void control(struct cluster *cl, const char *topic, json_t *o)
{
	struct core *c = cl->c;
	char *s = o && !cl->stopped ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s) {
		log_error("core", "cluster.nomem", "%s not sent to other nodes", topic);
		return;
	}
	int st = c->bus->publish(c->bus_inst, topic, s, strlen(s));
	cm_bus_status(c, "cluster", st);
	count(cl, st == CHATD_OK ? EV_CONTROL_SENT : EV_PUBLISH_FAILED, 1);
	if (st != CHATD_OK)
		log_warn("core", "cluster.control_failed", "%s not sent to other nodes: %s", topic,
			 chatd_strerror(st));
	free(s);
}

void cluster_close_user(struct cluster *cl, const char *user, const char *message, bool forget,
			json_t *extra)
{
	if (!cl) {
		json_decref(extra);
		return;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:b}", "origin", cl->node, "user", user,
			      "message", message, "code", 4403, "forget", forget);
	if (o && extra)
		json_object_update(o, extra);
	json_decref(extra);
	control(cl, "cluster.close_user", o);
}

void cluster_conv_changed(struct cluster *cl, const char *conv, const char *const *users,
			  size_t n, const char *left)
{
	if (!cl)
		return;
	json_t *o = json_pack("{s:s, s:s}", "origin", cl->node, "conversation_id", conv);
	if (o && n) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, json_string(users[i]));
		json_object_set_new(o, "joined", a);
	}
	if (o && left)
		json_object_set_new(o, "left", json_string(left));
	control(cl, "cluster.conv_changed", o);
}

/* ---- life ---- */

struct cluster *cluster_new(struct core *c, bool *failed)
{
	*failed = false;
	if (!c->bus || !CORE_HAS_OP(c->presence, struct chatd_presence_ops, locate))
		return NULL;
	struct cluster *cl = calloc(1, sizeof *cl);
	if (!cl)
		goto fail;
	cl->c = c;
	snprintf(cl->node, sizeof cl->node, "%s", c->cfg->node_id ? c->cfg->node_id : "");
	snprintf(cl->topic, sizeof cl->topic, "node.%s", cl->node);
	cl->flush_ev = event_new(c->base, -1, 0, on_flush, cl);
	if (!cl->flush_ev)
		goto fail;
	if (c->metrics) {
		struct metric_family *fam = metrics_counter(
			c->metrics->reg, "chatd_cluster_events_total",
			"cross-node delivery and control messages, by event", "event");
		for (int i = 0; fam && i < EV__COUNT; i++)
			cl->m[i] = metric_series1(fam, ev_names[i]);
	}
	/* A fan-out plugin that tracks who is online on its own node (it has
	 * user_online, as fanout_hybrid) pushes only to them: every node then
	 * runs each fan-out for its own sessions. */
	cl->shared_fanout = CORE_HAS_OP(c->fanout, struct chatd_fanout_ops, user_online);
	if (c->bus->subscribe(c->bus_inst, cl->topic, on_node_msg, cl) != CHATD_OK ||
	    c->bus->subscribe(c->bus_inst, "cluster.close_user", on_close_user, cl) != CHATD_OK ||
	    c->bus->subscribe(c->bus_inst, "cluster.conv_changed", on_conv_changed, cl) !=
		    CHATD_OK ||
	    (cl->shared_fanout &&
	     c->bus->subscribe(c->bus_inst, "cluster.fanout", on_fanout, cl) != CHATD_OK)) {
		log_error("core", "cluster.subscribe_failed", "cannot subscribe to %s", cl->topic);
		goto fail;
	}
	log_info("core", "cluster.on", "node %s: delivering across nodes through the bus (%s)",
		 cl->node, cl->shared_fanout ? "every node runs each fan-out for its own sessions"
					     : "fan-out pushes routed to the nodes by presence");
	return cl;
fail:
	if (cl && cl->flush_ev)
		event_free(cl->flush_ev);
	free(cl);
	*failed = true;
	return NULL;
}

void cluster_stop(struct cluster *cl)
{
	if (!cl || cl->stopped)
		return;
	cl->stopped = true;
	/* Collected but not flushed: dropped (shutting down). */
	while (cl->head) {
		struct pend *p = cl->head;
		cl->head = p->next;
		pend_free(p);
	}
	cl->tail = NULL;
	/* Waiting for locate: orphaned, their cb frees them; the others now. */
	for (struct batch *b = cl->bhead, *next; b; b = next) {
		next = b->next;
		b->next = NULL;
		if (b->done)
			batch_free(b);
		else
			b->cl = NULL;
	}
	cl->bhead = cl->btail = NULL;
}

void cluster_free(struct cluster *cl)
{
	if (!cl)
		return;
	cluster_stop(cl);
	event_free(cl->flush_ev);
	free(cl);
}
