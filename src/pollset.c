/*
 * pollset: the pollfd array with holes during a walk, see pollset.h.
 */
#include "pollset.h"

#include <stdlib.h>

#include "xmalloc.h"

void
ps_init(struct pollset *ps)
{
	ps->pfds = NULL;
	ps->owners = NULL;
	ps->n = ps->cap = 0;
	ps->walking = false;
	ps->holes = 0;
}

void
ps_release(struct pollset *ps)
{
	free(ps->pfds);
	free(ps->owners);
	ps_init(ps);
}

void
ps_add(struct pollset *ps, struct ps_link *o, int fd, short events)
{
	size_t i;

	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 16;
		ps->pfds = xreallocarray(ps->pfds, ps->cap, sizeof(*ps->pfds));
		ps->owners = xreallocarray(ps->owners, ps->cap,
		    sizeof(*ps->owners));
	}
	i = ps->n++;
	ps->pfds[i].fd = fd;
	ps->pfds[i].events = events;
	ps->pfds[i].revents = 0;
	ps->owners[i] = o;
	o->pidx = (int)i;
}

static void
ps_move(struct pollset *ps, size_t to, size_t from)
{
	ps->pfds[to] = ps->pfds[from];
	ps->owners[to] = ps->owners[from];
	if (ps->owners[to] != NULL)
		ps->owners[to]->pidx = (int)to;
}

void
ps_del(struct pollset *ps, struct ps_link *o)
{
	size_t i;

	if (o->pidx < 0)
		return;
	i = (size_t)o->pidx;
	o->pidx = -1;
	if (ps->walking) {
		ps->pfds[i].fd = -1;
		ps->pfds[i].revents = 0;
		ps->owners[i] = NULL;
		ps->holes++;
		return;
	}
	if (i != ps->n - 1)
		ps_move(ps, i, ps->n - 1);
	ps->n--;
}

void
ps_walk_begin(struct pollset *ps)
{
	ps->walking = true;
}

void
ps_walk_end(struct pollset *ps)
{
	size_t i = 0;

	ps->walking = false;
	while (ps->holes > 0 && i < ps->n) {
		if (ps->owners[i] != NULL) {
			i++;
			continue;
		}
		ps->holes--;
		ps->n--;
		if (i != ps->n)
			ps_move(ps, i, ps->n);
	}
	ps->holes = 0;
}
