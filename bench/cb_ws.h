/* cb_ws.h — the client side of RFC 6455 for chatbench: the HTTP upgrade
 * (request, response check including Sec-WebSocket-Accept), masked client
 * frames, and an incremental parser of server frames (7/16/64-bit lengths,
 * fragmented messages, control frames interleaved, close with a code).
 * No sockets here: the caller moves bytes, so everything is unit-testable.
 * No extensions are negotiated (RSV bits set are a protocol error). */
#ifndef CB_WS_H
#define CB_WS_H

#include <stddef.h>
#include <stdint.h>

enum {
	CB_WS_CONT = 0x0, CB_WS_TEXT = 0x1, CB_WS_BINARY = 0x2,
	CB_WS_CLOSE = 0x8, CB_WS_PING = 0x9, CB_WS_PONG = 0xA,
};

#define CB_WS_MAX_HEADER 14      /* 2 + 8 (64-bit length) + 4 (mask) */
#define CB_WS_KEY_LEN 24         /* base64 of 16 bytes */
#define CB_WS_ACCEPT_LEN 28      /* base64 of a SHA-1 */

/* ---- handshake ---------------------------------------------------------- */

/* A random Sec-WebSocket-Key (24 chars + NUL) from a caller-kept PRNG state. */
void cb_ws_make_key(char out[CB_WS_KEY_LEN + 1], uint64_t *prng);
/* The Sec-WebSocket-Accept the server must answer for key. */
void cb_ws_accept_for(const char *key, char out[CB_WS_ACCEPT_LEN + 1]);
/* Write the GET request.  host: the Host header value ("127.0.0.1:8080");
 * path: request target including any query.  Returns its length, or -1 if
 * it does not fit in cap. */
int cb_ws_request(char *out, size_t cap, const char *host, const char *path, const char *key);
/* Check the server's answer in buf[0..len).  Returns 1 when a complete
 * "101" response with the right accept value is there (*hdr_len = bytes of
 * it; frames may follow in the same buffer), 0 when more bytes are needed,
 * -1 when it is refused (*status = the HTTP status, 0 if unparsable). */
int cb_ws_response(const char *buf, size_t len, const char *key, size_t *hdr_len, int *status);

/* ---- client frames ------------------------------------------------------- */

/* Header length of a client frame carrying len payload bytes. */
size_t cb_ws_header_len(size_t len);
/* Write one final, masked frame (opcode, payload) into out, which must hold
 * cb_ws_header_len(len) + len bytes.  Returns the bytes written. */
size_t cb_ws_encode(uint8_t *out, int opcode, const void *payload, size_t len, uint32_t mask);

/* ---- server frames -------------------------------------------------------- */

/* Called for each complete message (TEXT/BINARY, reassembled when it came in
 * fragments) and each control frame (CLOSE, PING, PONG), in order.  data is
 * valid only during the call.  A nonzero return stops cb_ws_rx_feed, which
 * returns it. */
typedef int (*cb_ws_msg_fn)(void *ud, int opcode, const uint8_t *data, size_t len);

struct cb_ws_rx {
	uint8_t *buf;            /* bytes of a frame not yet complete */
	size_t len, cap;
	uint8_t *msg;            /* fragments gathered so far */
	size_t msg_len, msg_cap;
	int msg_op;              /* opcode of the message being reassembled, -1 none */
	uint64_t max_msg;        /* largest message accepted (default 16 MiB) */
	const char *error;       /* why the last feed returned CB_WS_EPROTO */
};

#define CB_WS_EPROTO (-1)
#define CB_WS_ENOMEM (-2)

void cb_ws_rx_init(struct cb_ws_rx *rx);
void cb_ws_rx_free(struct cb_ws_rx *rx);
/* Consume n bytes received from the server.  Returns 0, CB_WS_EPROTO (see
 * rx->error), CB_WS_ENOMEM, or the callback's nonzero value. */
int cb_ws_rx_feed(struct cb_ws_rx *rx, const void *data, size_t n, cb_ws_msg_fn fn, void *ud);

/* Status code of a close payload: 1005 when it has none. */
int cb_ws_close_code(const uint8_t *payload, size_t len);

#endif
