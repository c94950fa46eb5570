/* gw_write.h — a gateway session and its outbound path (gateway thread).
 *
 * Outbound frames wait in a per-session FIFO with a byte cap (a slow
 * consumer past it is closed with 4409).  On WRITEABLE, every pending frame
 * (up to 64 KiB, at least one) is copied — already framed — into one buffer
 * and written with ONE lws_write(LWS_WRITE_RAW): one syscall for many
 * frames, the 7× lever measured in DEPENDENCIES.md.  permessage-deflate is
 * therefore not offered. */
#ifndef CHATD_GW_WRITE_H
#define CHATD_GW_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libwebsockets.h>
#include "auth.h"
#include "frame.h"

struct core_metrics;

#define GW_SESSION_MAGIC 0x53455353u /* "SESS" */
#define GW_COALESCE_MAX 65536

enum gw_state { GW_NEW = 0, GW_AUTHED, GW_CLOSING };

struct gw_session {
	uint32_t magic;
	struct lws *wsi;
	uint64_t id;
	enum gw_state state;
	char user[AUTH_USER_MAX + 1];
	int64_t exp;                 /* token exp, seconds */
	/* inbound reassembly */
	unsigned char *rx;
	size_t rx_len, rx_cap;
	/* outbound FIFO (ring of frame references) */
	chatd_frame **q;
	size_t q_head, q_len, q_cap;
	size_t q_bytes;
	unsigned char *wbuf;
	size_t wbuf_cap;
	/* close after the queue drains */
	int close_code;              /* 0 = none */
	const char *close_reason;    /* static text sent with close_code, or NULL */
	int peer_close_code;         /* the client's close frame: 0 none, 1005 no code */
	struct core_metrics *metrics; /* queue gauges (core_metrics.h); may be NULL */
	/* flood guard: token bucket of frames */
	double tokens;
	int64_t tokens_at_ms;
};

/* Queue one reference of f (taken here).  Returns 0, or -1 when the byte
 * cap would be exceeded (nothing queued; the caller closes with 4409). */
int gw_queue_frame(struct gw_session *s, chatd_frame *f, size_t cap_bytes);
/* Drop every queued frame. */
void gw_queue_clear(struct gw_session *s);
/* Write what is queued; returns -1 when the connection must close now
 * (write error, or a pending close whose turn has come: the caller then
 * returns -1 from the callback after lws_close_reason was set). */
int gw_flush(struct gw_session *s);
/* Free every buffer of the session (on CLOSED). */
void gw_session_release(struct gw_session *s);

#endif
