/*
 * currentratemeasure: mainline CurrentRateMeasure.Measure with the clock
 * passed in.  See the header for the model.
 */
#include "currentratemeasure.h"

void
crm_init(struct crm *m, double max_rate_period, double fudge, double now)
{
	m->max_rate_period = max_rate_period;
	m->ratesince = now - fudge;
	m->last = m->ratesince;
	m->rate = 0.0;
	m->total = 0;
}

void
crm_update_rate(struct crm *m, double now, uint64_t amount)
{
	double span;

	m->total += amount;
	if (now < m->last)
		now = m->last;
	/*
	 * rate * (last - ratesince) is the byte count the old rate stands
	 * for; add the new bytes and spread them over the longer window.
	 */
	span = now - m->ratesince;
	if (span > 0)
		m->rate = (m->rate * (m->last - m->ratesince) +
		    (double)amount) / span;
	m->last = now;
	/* Forget what happened before the window, so old history fades. */
	if (m->ratesince < now - m->max_rate_period)
		m->ratesince = now - m->max_rate_period;
}

double
crm_get_rate(struct crm *m, double now)
{
	crm_update_rate(m, now, 0);
	return m->rate;
}

double
crm_get_rate_noupdate(const struct crm *m)
{
	return m->rate;
}

double
crm_time_until_rate(const struct crm *m, double now, double newrate)
{
	double t;

	if (newrate <= 0 || m->rate <= newrate)
		return 0.0;
	/*
	 * Solve newrate * (t + wait) = rate * t: the bytes already counted,
	 * spread over a window that grows by `wait` idle seconds.
	 */
	t = now - m->ratesince;
	if (t < 0)
		t = 0;
	return m->rate * t / newrate - t;
}

uint64_t
crm_total(const struct crm *m)
{
	return m->total;
}
