/* cb_rate.h — open-loop rate control for chatbench.
 *
 * The schedule is absolute: send number k is due at start + k / rate, so
 * the long-run count never drifts whatever the call pattern (the due count
 * is recomputed from the elapsed time, never accumulated from increments).
 * After a stall (the process was descheduled, a loop pass took long) at most
 * `burst` sends are released at once; the rest of the backlog is skipped —
 * counted in `skipped` so a generator that falls behind is visible — and the
 * schedule continues from where it should be.  Rate 0 means "as fast as
 * allowed": every call releases `burst` and the caller limits itself (by a
 * per-connection window).  Pure computation over a caller-supplied clock;
 * no allocation. */
#ifndef CB_RATE_H
#define CB_RATE_H

#include <stdint.h>

struct cb_rate {
	double rate;         /* sends per second, aggregate; 0 = unlimited */
	uint64_t start_ns;   /* schedule origin (monotonic clock) */
	uint64_t issued;     /* slots handed out or skipped since start */
	uint64_t burst;      /* most sends released by one call (>= 1) */
	uint64_t skipped;    /* slots dropped because of the burst cap */
};

/* burst 0 picks a default: 10 ms worth of sends, at least 1 (and 1000 for
 * rate 0). */
void cb_rate_init(struct cb_rate *r, double rate, uint64_t now_ns, uint64_t burst);

/* Number of sends due at now_ns (0..burst).  The caller must send exactly
 * that many (or report them as it sees fit): they are counted as issued. */
uint64_t cb_rate_take(struct cb_rate *r, uint64_t now_ns);

/* Nanoseconds from now_ns until the next send is due (0 if one is due now;
 * 0 for rate 0). */
uint64_t cb_rate_next_in(const struct cb_rate *r, uint64_t now_ns);

#endif
