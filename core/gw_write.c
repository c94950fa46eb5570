/* gw_write.c — see gw_write.h. */
#include "gw_write.h"

#include <stdlib.h>
#include <string.h>
#include "core_metrics.h"

int gw_queue_frame(struct gw_session *s, chatd_frame *f, size_t cap_bytes)
{
	if (s->q_bytes + f->wire_len > cap_bytes && s->q_len > 0)
		return -1;
	if (s->q_len == s->q_cap) {
		size_t nc = s->q_cap ? s->q_cap * 2 : 16;
		chatd_frame **nq = malloc(nc * sizeof *nq);
		if (!nq)
			return -1;
		for (size_t i = 0; i < s->q_len; i++)
			nq[i] = s->q[(s->q_head + i) % s->q_cap];
		free(s->q);
		s->q = nq;
		s->q_cap = nc;
		s->q_head = 0;
	}
	frame_ref(f);
	s->q[(s->q_head + s->q_len) % s->q_cap] = f;
	s->q_len++;
	s->q_bytes += f->wire_len;
	cm_queue(s->metrics, 1, (int64_t)f->wire_len);
	return 0;
}

static chatd_frame *pop(struct gw_session *s)
{
	chatd_frame *f = s->q[s->q_head];
	s->q_head = (s->q_head + 1) % s->q_cap;
	s->q_len--;
	s->q_bytes -= f->wire_len;
	cm_queue(s->metrics, -1, -(int64_t)f->wire_len);
	return f;
}

void gw_queue_clear(struct gw_session *s)
{
	while (s->q_len)
		frame_unref(pop(s));
}

int gw_flush(struct gw_session *s)
{
	if (s->q_len == 0) {
		if (s->close_code) {
			const char *why = s->close_reason;
			lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
					 (unsigned char *)(uintptr_t)why, why ? strlen(why) : 0);
			return -1;
		}
		return 0;
	}
	/* How much to take: whole frames up to the coalescing limit, but
	 * always at least one (a frame may be larger than the limit). */
	size_t total = 0, n = 0;
	while (n < s->q_len) {
		chatd_frame *f = s->q[(s->q_head + n) % s->q_cap];
		if (n > 0 && total + f->wire_len > GW_COALESCE_MAX)
			break;
		total += f->wire_len;
		n++;
	}
	if (s->wbuf_cap < LWS_PRE + total) {
		unsigned char *nb = realloc(s->wbuf, LWS_PRE + total);
		if (!nb)
			return -1;
		s->wbuf = nb;
		s->wbuf_cap = LWS_PRE + total;
	}
	unsigned char *p = s->wbuf + LWS_PRE;
	for (size_t i = 0; i < n; i++) {
		chatd_frame *f = pop(s);
		memcpy(p, f->wire, f->wire_len);
		p += f->wire_len;
		frame_unref(f);
	}
	/* lws keeps any part the socket did not take and sends it before the
	 * next WRITEABLE, so a partial write needs nothing from us. */
	if (lws_write(s->wsi, s->wbuf + LWS_PRE, total, LWS_WRITE_RAW) < 0)
		return -1;
	/* Shrink a buffer grown for one huge frame. */
	if (s->wbuf_cap > 4 * GW_COALESCE_MAX) {
		free(s->wbuf);
		s->wbuf = NULL;
		s->wbuf_cap = 0;
	}
	if (s->q_len || s->close_code)
		lws_callback_on_writable(s->wsi);
	return 0;
}

void gw_session_release(struct gw_session *s)
{
	gw_queue_clear(s);
	free(s->q);
	s->q = NULL;
	s->q_cap = 0;
	free(s->rx);
	s->rx = NULL;
	free(s->wbuf);
	s->wbuf = NULL;
	s->magic = 0;
}
