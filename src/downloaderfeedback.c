#include "downloaderfeedback.h"

#include <math.h>
#include <string.h>

char *
fb_size_str(char *buf, size_t n, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, n, "%.1f %s", v, units[u]);
	return buf;
}

char *
fb_rate_str(char *buf, size_t n, double bps)
{
	char sz[32];

	if (!(bps > 0))
		bps = 0;
	fb_size_str(sz, sizeof(sz), (uint64_t)llround(bps));
	if (n > 0) {
		size_t l = strlen(sz);

		if (l > n - 1)
			l = n - 1;
		memcpy(buf, sz, l);
		buf[l] = '\0';
		if (l + 3 <= n)
			memcpy(buf + l, "/s", 3);
	}
	return buf;
}

char *
fb_eta_str(char *buf, size_t n, double secs)
{
	unsigned long long s;

	if (!(secs >= 0) || secs > 1e8) {
		snprintf(buf, n, "?");
		return buf;
	}
	s = (unsigned long long)llround(secs);
	if (s >= 3600)
		snprintf(buf, n, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(buf, n, "%llu:%02llu", s / 60, s % 60);
	return buf;
}

static double
fb_percent(const struct fb_status *s)
{
	if (s->total == 0)
		return 100.0;
	/* Never show 100.0 before the last byte is verified. */
	return floor((double)s->done * 1000.0 / (double)s->total) / 10.0;
}

char *
fb_tty_line(char *buf, size_t n, const struct fb_status *s, int cols)
{
	char done[32], total[32], down[32], up[32], eta[32], bar[32];
	double pct = fb_percent(s);
	int width = 20, fill = (int)(pct / 100.0 * width);

	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[width] = '\0';
	snprintf(buf, n, "[%s] %5.1f%% %s/%s down %s up %s peers %zu"
	    " (%zu seeds) eta %s %s", bar, pct,
	    fb_size_str(done, sizeof(done), s->done),
	    fb_size_str(total, sizeof(total), s->total),
	    fb_rate_str(down, sizeof(down), s->down_rate),
	    fb_rate_str(up, sizeof(up), s->up_rate), s->peers, s->seeds,
	    fb_eta_str(eta, sizeof(eta), s->eta), s->state);
	if (cols > 1 && (size_t)cols - 1 < n)
		buf[cols - 1] = '\0';
	return buf;
}

char *
fb_plain_line(char *buf, size_t n, const struct fb_status *s)
{
	snprintf(buf, n, "status=%s progress=%.1f done=%llu total=%llu "
	    "down=%.0f up=%.0f peers=%zu seeds=%zu eta=%.0f", s->state,
	    fb_percent(s), (unsigned long long)s->done,
	    (unsigned long long)s->total, s->down_rate > 0 ? s->down_rate : 0,
	    s->up_rate > 0 ? s->up_rate : 0, s->peers, s->seeds,
	    s->eta >= 0 && s->eta < 1e8 ? s->eta : -1.0);
	return buf;
}

char *
fb_spew_line(char *buf, size_t n, const struct fb_peer *p)
{
	char up[32], down[32];

	snprintf(buf, n, "%-24s %c up %12s %c%c%c down %12s %c%c%c %5.1f%%",
	    p->addr, p->local ? 'l' : 'r',
	    fb_rate_str(up, sizeof(up), p->up_rate),
	    p->optimistic ? '*' : ' ', p->peer_interested ? 'i' : ' ',
	    p->we_choke ? 'c' : ' ', fb_rate_str(down, sizeof(down),
	    p->down_rate), p->we_interested ? 'i' : ' ',
	    p->peer_chokes ? 'c' : ' ', p->snubbed ? 's' : ' ',
	    p->npieces ? 100.0 * p->pieces / p->npieces : 0.0);
	return buf;
}

void
fb_print(FILE *fp, bool tty, const struct fb_status *s, int cols)
{
	char line[FB_LINE_LEN];

	if (tty)
		fprintf(fp, "\r%s\033[K", fb_tty_line(line, sizeof(line), s,
		    cols));
	else
		fprintf(fp, "%s\n", fb_plain_line(line, sizeof(line), s));
	fflush(fp);
}
