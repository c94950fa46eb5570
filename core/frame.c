/* frame.c — see frame.h. */
#include "frame.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

size_t frame_ws_header(unsigned char *hdr, size_t len)
{
	hdr[0] = 0x81; /* FIN | text */
	if (len < 126) {
		hdr[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (unsigned char)(len >> 8);
		hdr[3] = (unsigned char)len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

chatd_frame *frame_new(const char *json, size_t len)
{
	if (len > SIZE_MAX - sizeof(struct chatd_frame) - 10)
		return NULL;
	chatd_frame *f = malloc(sizeof *f + 10 + len);
	if (!f)
		return NULL;
	f->magic = FRAME_MAGIC;
	atomic_init(&f->refs, 1);
	f->trace = log_ctx_trace();
	f->fanned_out = false;
	size_t h = frame_ws_header(f->wire, len);
	memcpy(f->wire + h, json, len);
	f->payload = f->wire + h;
	f->payload_len = len;
	f->wire_len = h + len;
	return f;
}

void frame_ref(chatd_frame *f)
{
	assert(f && f->magic == FRAME_MAGIC);
	atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void frame_unref(chatd_frame *f)
{
	if (!f)
		return;
	assert(f->magic == FRAME_MAGIC);
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
		f->magic = 0;
		free(f);
	}
}
