/* rate_window.c — see rate_window.h. */
#include "rate_window.h"

void rate_window_init(struct rate_window *w, uint64_t now_ns, uint64_t count)
{
	*w = (struct rate_window){ .t0_ns = now_ns, .c0 = count };
}

void rate_window_sample(struct rate_window *w, uint64_t now_ns, uint64_t count)
{
	size_t i = w->n++ % RATE_WINDOW_SLOTS;
	w->s[i].t_ns = now_ns;
	w->s[i].count = count;
}

double rate_window_per_s(const struct rate_window *w, uint64_t now_ns, uint64_t count,
			 uint64_t span_ns)
{
	uint64_t base = w->c0;
	if (now_ns >= w->t0_ns + span_ns) {
		uint64_t from = now_ns - span_ns, best_t = w->t0_ns;
		size_t have = w->n < RATE_WINDOW_SLOTS ? w->n : RATE_WINDOW_SLOTS;
		for (size_t i = 0; i < have; i++)
			if (w->s[i].t_ns <= from && w->s[i].t_ns >= best_t) {
				best_t = w->s[i].t_ns;
				base = w->s[i].count;
			}
	}
	return count > base && span_ns ? (double)(count - base) / ((double)span_ns / 1e9) : 0.0;
}
