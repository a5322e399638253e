/*
 * pollset: the reactor's struct pollfd array, with the owner of each slot
 * beside it, so that adding, removing and re-arming a descriptor is O(1).
 *
 * It owns the two arrays.  An owner embeds a struct ps_link, in which the
 * set keeps the owner's slot (pidx) up to date as entries move.  Removal
 * swap-removes at once; but between ps_walk_begin() and ps_walk_end(),
 * while the caller walks the slots and its callbacks may remove anything,
 * nothing moves: a removal only leaves a hole (owner NULL, fd -1, which
 * poll() ignores), and ps_walk_end() fills the holes by swap-remove
 * (libuv posix-poll.c does the same).  Entries added during a walk go to
 * the end, past the walk's bound.
 *
 * The struct is embedded and read directly by its owner: pfds and n go to
 * poll(), owners[i] (NULL for a hole) says whose pfds[i] is.
 */
#ifndef BT_POLLSET_H
#define BT_POLLSET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

/* Embedded in each owner: its slot, or -1 when not in the set. */
struct ps_link {
	int pidx;
};

struct pollset {
	struct pollfd *pfds;
	struct ps_link **owners; /* owners[i] watches pfds[i]; NULL: hole */
	size_t n, cap;
	bool walking;
	size_t holes;
};

void ps_init(struct pollset *ps);
void ps_release(struct pollset *ps);

/* Watch fd for events on behalf of o (o->pidx is set). */
void ps_add(struct pollset *ps, struct ps_link *o, int fd, short events);
/* Stop watching for o; a no-op when o is not in the set (pidx -1). */
void ps_del(struct pollset *ps, struct ps_link *o);

/* From here to ps_walk_end(), ps_del() leaves holes instead of moving. */
void ps_walk_begin(struct pollset *ps);
/* End the walk and compact the holes. */
void ps_walk_end(struct pollset *ps);

static inline void
ps_set_events(struct pollset *ps, const struct ps_link *o, short events)
{
	if (o->pidx >= 0)
		ps->pfds[o->pidx].events = events;
}

/* Change the fd poll() sees for o (a negative fd hides it from poll). */
static inline void
ps_set_fd(struct pollset *ps, const struct ps_link *o, int fd)
{
	if (o->pidx >= 0)
		ps->pfds[o->pidx].fd = fd;
}

#endif
