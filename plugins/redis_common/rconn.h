/* rconn.h — one hiredis async connection driven by the core loop through
 * the host's io_add/io_set/io_remove (plugins cannot see libevent), shared
 * by presence_redis and bus_redis.
 *
 * hiredis 0.14 has no async timeouts: every command sent through rconn_cmd
 * carries its send time and a watchdog drops the connection when the
 * oldest one waits longer than timeout_ms (its callback then gets NULL,
 * like every pending one).  A lost connection is retried with exponential
 * backoff and jitter (100 ms doubling up to 5 s, each delay 50-100 %). */
#ifndef CHATD_RCONN_H
#define CHATD_RCONN_H

#include <stdbool.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include "chatd/chatd.h"

struct rconn;

/* reply is NULL when the connection failed or was dropped; borrowed. */
typedef void (*rconn_reply_fn)(void *arg, redisReply *reply);
/* The connection is up (after a successful PING) / went down. */
typedef void (*rconn_state_fn)(void *arg, bool up);

struct rconn_opts {
	const char *name;          /* for logs: "cmd", "sub" */
	const char *host;
	int port;
	const char *password;      /* NULL or "": no AUTH */
	int64_t timeout_ms;
	rconn_state_fn on_state;
	void *arg;
};

/* The options every Redis plugin takes, first in its option table. */
#define RCONN_OPTIONS                                                                         \
	{ .key = "host", .type = CHATD_OPT_STRING, .def = "127.0.0.1",                        \
	  .help = "Redis host (no TLS: loopback, a private network or a tunnel)" },           \
	{ .key = "port", .type = CHATD_OPT_INT, .def = "6379", .min = 1, .max = 65535,        \
	  .help = "Redis port" },                                                             \
	{ .key = "password", .type = CHATD_OPT_STRING, .def = NULL, .secret = true,           \
	  .help = "sent with AUTH on connect (requirepass); unset: none" },                   \
	{ .key = "prefix", .type = CHATD_OPT_STRING, .def = "chatd:",                         \
	  .help = "prefix of every key and channel (one per cluster sharing a Redis)" },      \
	{ .key = "timeout_ms", .type = CHATD_OPT_INT, .def = "1000", .min = 50, .max = 60000, \
	  .help = "a Redis command unanswered this long drops the connection (reconnect with " \
		  "backoff)" }

/* Fills o's host, port, password and timeout_ms, and *prefix, from the
 * plugin's config (RCONN_OPTIONS' defaults when unset); the strings are
 * the config's (valid until fini). */
void rconn_opts_from_config(const struct chatd_host *host, chatd_plugin_handle *h,
			    struct rconn_opts *o, const char **prefix);

/* Starts connecting at once.  NULL on ENOMEM.  Strings are copied. */
struct rconn *rconn_new(const struct chatd_host *host, chatd_plugin_handle *h,
			const struct rconn_opts *o);
/* Drops the connection: pending callbacks get NULL (inside this call). */
void rconn_free(struct rconn *rc);
bool rconn_up(const struct rconn *rc);

/* Send one command (argv form, binary safe).  CHATD_OK (fn runs exactly
 * once later, possibly with NULL), CHATD_ERR_UNAVAILABLE when not
 * connected (fn never runs), CHATD_ERR_NOMEM. */
int rconn_cmd(struct rconn *rc, rconn_reply_fn fn, void *arg, int argc, const char **argv,
	      const size_t *argvlen);
/* A command whose callback hiredis keeps (SUBSCRIBE): not timed; fn gets
 * every reply of the subscription until the connection drops. */
int rconn_subscribe(struct rconn *rc, redisCallbackFn *fn, void *privdata, int argc,
		    const char **argv, const size_t *argvlen);

#endif
