/* gw_accept.c — see gw_accept.h. */
#include "gw_accept.h"

#include <stdint.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "gw_conncap.h"
#include "hmap.h"
#include "log.h"

struct gw_accept {
	const struct chatd_config *cfg;
	struct core_metrics *metrics;
	struct gw_conncap cap;           /* per-address connection counts */
	struct hmap handshaking;         /* wsi key → (void *)1 until its request is read */
	bool pending;                    /* accepted; its wsi comes next (WSI_CREATE) */
	struct netaddr pending_addr;
};

static uint64_t wsi_key(const struct lws *wsi)
{
	return (uint64_t)(uintptr_t)wsi;
}

struct gw_accept *gw_accept_new(const struct chatd_config *cfg, struct core_metrics *metrics)
{
	struct gw_accept *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->cfg = cfg;
	a->metrics = metrics;
	if (hmap_init(&a->handshaking) < 0) {
		free(a);
		return NULL;
	}
	if (gw_conncap_init(&a->cap, (size_t)cfg->max_connections_per_ip, cfg->cap_exempt,
			    cfg->n_cap_exempt) < 0) {
		hmap_destroy(&a->handshaking);
		free(a);
		return NULL;
	}
	return a;
}

void gw_accept_free(struct gw_accept *a)
{
	if (!a)
		return;
	gw_conncap_destroy(&a->cap);
	hmap_destroy(&a->handshaking);
	free(a);
}

/* FILTER_NETWORK_CONNECTION: lws has accepted fd and, if we return 0,
 * creates its wsi at once (WSI_CREATE, same call stack), where it is
 * counted.  Counting from here makes half-open handshakes count. */
static int on_accept(struct gw_accept *a, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	a->pending = false;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    netaddr_from_sockaddr((struct sockaddr *)&ss, sl, &a->pending_addr) < 0)
		return 0;
	if (gw_conncap_check(&a->cap, &a->pending_addr) == GW_CAP_DROP) {
		cm_conn_refused_ip(a->metrics);
		return -1;
	}
	a->pending = true;
	return 0;
}

static void on_create(struct gw_accept *a, struct lws *wsi)
{
	if (!a->pending)
		return;
	a->pending = false;
	if (gw_conncap_add(&a->cap, wsi_key(wsi), &a->pending_addr) < 0)
		log_warn("gateway", "conncap.nomem", "connection not counted: out of memory");
}

/* SERVER_NEW_CLIENT_INSTANTIATED: the connection has
 * server.handshake_timeout_s to finish TLS and send a whole request. */
static void handshake_begin(struct gw_accept *a, struct lws *wsi)
{
	if (hmap_put64(&a->handshaking, wsi_key(wsi), (void *)1) == 0)
		lws_set_timer_usecs(wsi, (lws_usec_t)a->cfg->handshake_timeout_s * 1000000);
}

/* The request's headers are in (HTTP request or upgrade). */
static void handshake_done(struct gw_accept *a, struct lws *wsi)
{
	hmap_del64(&a->handshaking, wsi_key(wsi));
}

/* LWS_CALLBACK_TIMER of a connection still in its handshake: close it. */
static bool handshake_expired(struct gw_accept *a, struct lws *wsi)
{
	if (!hmap_del64(&a->handshaking, wsi_key(wsi)))
		return false;
	log_debug("gateway", "handshake.timeout", "no complete request within %lld s",
		  (long long)a->cfg->handshake_timeout_s);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	return true;
}

bool gw_accept_callback(struct gw_accept *a, struct lws *wsi, enum lws_callback_reasons reason,
			void *in, int *ret)
{
	*ret = 0;
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		*ret = on_accept(a, (int)(intptr_t)in);
		return true;
	case LWS_CALLBACK_WSI_CREATE:
		on_create(a, wsi);
		return true;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		handshake_begin(a, wsi);
		return true;
	case LWS_CALLBACK_WSI_DESTROY:
		handshake_done(a, wsi);
		gw_conncap_remove(&a->cap, wsi_key(wsi));
		return true;
	case LWS_CALLBACK_HTTP:
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		handshake_done(a, wsi);
		return false;
	case LWS_CALLBACK_TIMER:
		return handshake_expired(a, wsi);
	default:
		return false;
	}
}

bool gw_accept_refuses(struct gw_accept *a, struct lws *wsi, const char *what)
{
	if (!gw_conncap_over(&a->cap, wsi_key(wsi)))
		return false;
	cm_conn_refused_ip(a->metrics);
	char addr[INET6_ADDRSTRLEN] = "";
	const struct netaddr *na = gw_conncap_addr(&a->cap, wsi_key(wsi));
	if (na)
		netaddr_format(na, addr, sizeof addr);
	log_info("gateway", "conn.refused_ip", "%s from %s: over server.max_connections_per_ip "
		 "(%lld)", what, addr[0] ? addr : "?", (long long)a->cfg->max_connections_per_ip);
	return true;
}
