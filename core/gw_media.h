/* gw_media.h — the gateway's side of HTTP under /media/ (gateway thread).
 *
 * The gateway decides nothing about media: each request (GET, HEAD, PUT) is
 * handed to the core as a BIN_HTTP item and waits, reading no body, for the
 * core's answer (BOUT_HTTP): an HTTP status to send, a file to send, or a
 * file to receive a PUT body into.  A received body is reported to the core
 * (put-done) and the core's final status goes back to the client.
 *
 * A request lives in a struct of its own, found from the connection's
 * per-session data (struct gw_media_pss) and by id from the core's answers;
 * an answer for a request that is gone is dropped (an upload it allowed is
 * reported failed, so the plugin forgets it).
 *
 * A file to send that starts with the sealed magic (core/file_crypt.h) is
 * sent decrypted as it is read, chunk by chunk (Content-Length is the
 * plaintext's; no plaintext touches the disk).  A sealed file that cannot
 * be opened (unknown key, tampered header) gets 500; a chunk that fails
 * authentication once the headers are out ends the response by closing
 * the connection, so the client sees a short body, never unauthenticated
 * bytes.  Both are logged and counted (chatd_media_decrypt_failures_total).
 * Range requests are not served (lws is built without LWS_WITH_RANGES):
 * every GET gets the whole file, plaintext or sealed. */
#ifndef CHATD_GW_MEDIA_H
#define CHATD_GW_MEDIA_H

#include <stdbool.h>
#include <stdint.h>
#include <libwebsockets.h>
#include "bridge.h"

#define GW_MEDIA_MAGIC 0x4d454449u /* "MEDI" */
#define GW_MEDIA_PREFIX "/media/"

struct gw_media;
struct gw_media_req;

/* What an HTTP connection's per-session data holds while it serves a media
 * request (lws zeroes it for every transaction). */
struct gw_media_pss {
	uint32_t magic;              /* GW_MEDIA_MAGIC */
	struct gw_media_req *req;
};

struct enc_keyring;
struct core_metrics;

/* to_core: the queue media items go to; kr: the key ring sealed files
 * are opened with (decision 61); metrics (may be NULL).  All borrowed and
 * outlive m. */
struct gw_media *gw_media_new(struct bridge_queue *to_core, const struct enc_keyring *kr,
			      struct core_metrics *metrics);
/* After lws_context_destroy: frees what is left (partial files removed). */
void gw_media_free(struct gw_media *m);

/* LWS_CALLBACK_HTTP for a path under /media/: returns the callback's
 * return value.  stopping: the server is shutting down (503). */
int gw_media_http(struct gw_media *m, struct lws *wsi, void *pss, const char *path,
		  bool stopping);
/* True when pss serves a media request: its other HTTP callbacks then go
 * to gw_media_callback. */
bool gw_media_owns(const void *pss);
int gw_media_callback(struct gw_media *m, struct lws *wsi, enum lws_callback_reasons reason,
		      void *pss, void *in, size_t len);
/* The core's answer (ownership passes). */
void gw_media_reply(struct gw_media *m, struct bridge_http *h);
/* Requests in flight (for logs). */
size_t gw_media_pending(const struct gw_media *m);

#endif
