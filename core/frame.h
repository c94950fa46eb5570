/* frame.h — server→client frames, encoded once and shared.
 *
 * A frame holds the complete WebSocket wire form of one unmasked text
 * message (FIN+opcode, length, payload), so the gateway copies bytes and
 * never re-encodes per recipient.  The refcount is atomic: the core creates
 * a frame, the gateway thread drops the last references. */
#ifndef CHATD_FRAME_H
#define CHATD_FRAME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chatd/host.h"

#define FRAME_MAGIC 0x46524d45u /* "FRME" */

struct chatd_frame {
	uint32_t magic;
	_Atomic uint32_t refs;
	size_t wire_len;         /* header + payload */
	size_t payload_len;
	uint64_t trace;          /* the log trace id it was made under (0: none) */
	bool fanned_out;         /* every node runs its own fan-out of it: pushes
				  * of it are not routed to other nodes (cluster.h) */
	unsigned char *payload;  /* points into wire[] after the header */
	unsigned char wire[];
};

/* New frame with one reference owned by the caller; NULL on ENOMEM.  It
 * carries the calling thread's log trace id (log.h), so deliveries of it
 * are logged under the trace of the message that made it. */
chatd_frame *frame_new(const char *json, size_t len);
void frame_ref(chatd_frame *f);
void frame_unref(chatd_frame *f);
/* Write the header of an unmasked final text frame of len bytes into hdr
 * (at least 10 bytes); returns the header length. */
size_t frame_ws_header(unsigned char *hdr, size_t len);

#endif
