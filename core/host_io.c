/* host_io.c — file descriptors watched on the core loop for plugins (host
 * ABI 1.4: io_add / io_set / io_remove), and the node id.
 *
 * A watch is two persistent libevent events on the fd, one for reading and
 * one for writing, each added while asked for (libevent cannot change the
 * flags of an event).  Removal inside the callback frees the events at
 * once: libevent 2.1 allows event_free of the event whose callback runs. */
#include "host_io.h"

#include <assert.h>
#include <stdlib.h>
#include <event2/event.h>
#include "core_loop.h"
#include "host_api.h"

struct host_io {
	struct host_io *next;
	struct chatd_plugin_handle *h;
	chatd_io_id id;
	unsigned events;
	chatd_io_fn fn;
	void *arg;
	struct event *rev, *wev; /* persistent; added while asked for */
};

static void io_fire(evutil_socket_t fd, short what, void *arg)
{
	struct host_io *w = arg;
	unsigned ready = ((what & EV_READ) ? CHATD_IO_READ : 0) |
			 ((what & EV_WRITE) ? CHATD_IO_WRITE : 0);
	w->fn(w->arg, (int)fd, ready);
}

static int io_arm(struct host_io *w, unsigned events)
{
	int rc = 0;
	if ((events & CHATD_IO_READ) && !(w->events & CHATD_IO_READ))
		rc |= event_add(w->rev, NULL);
	else if (!(events & CHATD_IO_READ) && (w->events & CHATD_IO_READ))
		event_del(w->rev);
	if ((events & CHATD_IO_WRITE) && !(w->events & CHATD_IO_WRITE))
		rc |= event_add(w->wev, NULL);
	else if (!(events & CHATD_IO_WRITE) && (w->events & CHATD_IO_WRITE))
		event_del(w->wev);
	w->events = events;
	return rc ? CHATD_ERR_INTERNAL : CHATD_OK;
}

static void io_free(struct host_io *w)
{
	if (w->rev)
		event_free(w->rev);
	if (w->wev)
		event_free(w->wev);
	free(w);
}

static struct host_io **io_find(chatd_plugin_handle *h, chatd_io_id id)
{
	struct host_io **pp = &h->ios;
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

chatd_io_id host_io_add(chatd_plugin_handle *h, int fd, unsigned events, chatd_io_fn fn,
			void *arg)
{
	assert(h && h->magic == HANDLE_MAGIC);
	if (fd < 0 || !fn || (events & ~(CHATD_IO_READ | CHATD_IO_WRITE)))
		return 0;
	struct host_io *w = calloc(1, sizeof *w);
	if (!w)
		return 0;
	w->h = h;
	w->fn = fn;
	w->arg = arg;
	w->rev = event_new(h->core->base, fd, EV_READ | EV_PERSIST, io_fire, w);
	w->wev = event_new(h->core->base, fd, EV_WRITE | EV_PERSIST, io_fire, w);
	if (!w->rev || !w->wev || io_arm(w, events) != CHATD_OK) {
		io_free(w);
		return 0;
	}
	w->id = ++h->next_io_id;
	w->next = h->ios;
	h->ios = w;
	return w->id;
}

int host_io_set(chatd_plugin_handle *h, chatd_io_id id, unsigned events)
{
	assert(h && h->magic == HANDLE_MAGIC);
	struct host_io *w = *io_find(h, id);
	if (!w || (events & ~(CHATD_IO_READ | CHATD_IO_WRITE)))
		return CHATD_ERR_NOT_FOUND;
	return io_arm(w, events);
}

void host_io_remove(chatd_plugin_handle *h, chatd_io_id id)
{
	assert(h && h->magic == HANDLE_MAGIC);
	struct host_io **pp = io_find(h, id);
	struct host_io *w = *pp;
	if (!w)
		return;
	*pp = w->next;
	io_free(w);
}

void host_io_remove_all(chatd_plugin_handle *h)
{
	while (h->ios)
		host_io_remove(h, h->ios->id);
}

const char *host_node_id(chatd_plugin_handle *h)
{
	assert(h && h->magic == HANDLE_MAGIC);
	return h->core->cfg->node_id;
}
