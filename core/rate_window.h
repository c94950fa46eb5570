/* rate_window.h — the rate of a monotonic counter over a trailing window,
 * from periodic samples of it (status' messages_per_s, from the metrics
 * registry's chatd_messages_accepted_total).  Times are monotonic ns;
 * nothing here reads a clock.  One thread. */
#ifndef CHATD_RATE_WINDOW_H
#define CHATD_RATE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#define RATE_WINDOW_SLOTS 64     /* samples kept: 63 s at one per second */

struct rate_window {
	uint64_t t0_ns, c0;          /* the first reading: nothing counted before it */
	size_t n;                    /* samples taken (ring index = n % SLOTS) */
	struct {
		uint64_t t_ns, count;
	} s[RATE_WINDOW_SLOTS];
};

/* Starts the window with a first reading. */
void rate_window_init(struct rate_window *w, uint64_t now_ns, uint64_t count);
/* Keeps a reading (take one about every second). */
void rate_window_sample(struct rate_window *w, uint64_t now_ns, uint64_t count);
/* (count now − the counter span_ns ago) / span in seconds.  "span_ns ago"
 * is the latest sample at or before it; when the window started later,
 * its first reading (nothing happened before).  span_ns must be covered by
 * the samples kept (span < SLOTS − 1 sample periods). */
double rate_window_per_s(const struct rate_window *w, uint64_t now_ns, uint64_t count,
			 uint64_t span_ns);

#endif
