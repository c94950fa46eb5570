/* cb_rate.c — open-loop schedule (see cb_rate.h). */
#include "cb_rate.h"

void cb_rate_init(struct cb_rate *r, double rate, uint64_t now_ns, uint64_t burst)
{
	r->rate = rate > 0 ? rate : 0;
	r->start_ns = now_ns;
	r->issued = 0;
	r->skipped = 0;
	if (!burst) {
		if (r->rate == 0)
			burst = 1000;
		else {
			burst = (uint64_t)(r->rate / 100.0);
			if (burst < 1)
				burst = 1;
		}
	}
	r->burst = burst;
}

/* Slots due since the origin: floor(elapsed * rate), in long double so an
 * hour at a million per second is still exact to the unit. */
static uint64_t slots_due(const struct cb_rate *r, uint64_t now_ns)
{
	if (now_ns <= r->start_ns)
		return 0;
	long double el = (long double)(now_ns - r->start_ns);
	return (uint64_t)(el * (long double)r->rate / 1e9L);
}

uint64_t cb_rate_take(struct cb_rate *r, uint64_t now_ns)
{
	if (r->rate == 0)
		return r->burst;
	uint64_t due = slots_due(r, now_ns);
	if (due <= r->issued)
		return 0;
	uint64_t n = due - r->issued;
	if (n > r->burst) {
		r->skipped += n - r->burst;
		n = r->burst;
	}
	r->issued = due;
	return n;
}

uint64_t cb_rate_next_in(const struct cb_rate *r, uint64_t now_ns)
{
	if (r->rate == 0)
		return 0;
	/* slot k = issued + 1 falls due at start + k / rate */
	long double at = (long double)r->start_ns + (long double)(r->issued + 1) * 1e9L / (long double)r->rate;
	if ((long double)now_ns >= at)
		return 0;
	uint64_t d = (uint64_t)(at - (long double)now_ns);
	return d ? d : 1;
}
