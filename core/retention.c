/* retention.c — the retention job: every retention.interval_s, erase for
 * real the content of messages deleted for everyone more than
 * retention.purge_deleted_after_s ago (storage's purge_deleted).  One purge
 * at a time; the callback's argument is the core itself, so a purge still
 * queued when storage stops leaks nothing. */
#include <event2/event.h>
#include "log.h"
#include "moderation.h"
#include "pipeline.h"

static void on_purged(void *arg, int status, int64_t count)
{
	struct core *c = arg;
	c->retention_running = false;
	if (status != CHATD_OK)
		log_warn("core", "retention.failed", "purge of deleted messages failed: %s; "
			 "next try in %lld s", chatd_strerror(status),
			 (long long)c->cfg->retention_interval_s);
	else if (count > 0)
		log_info("core", "retention.purged", "erased the content of %lld deleted message(s)",
			 (long long)count);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct core *c = arg;
	if (c->retention_running || c->shutting_down || !c->storage_groups)
		return;
	int64_t before = mod_now_ms() - c->cfg->retention_purge_after_s * 1000;
	int st = c->storage->purge_deleted(c->storage_inst, before, on_purged, c);
	if (st == CHATD_OK)
		c->retention_running = true;
	else
		log_warn("core", "retention.failed", "purge not started: %s", chatd_strerror(st));
}

int retention_start(struct core *c)
{
	if (!c->storage_groups)
		return 0;
	c->retention_ev = event_new(c->base, -1, EV_PERSIST, on_tick, c);
	if (!c->retention_ev) {
		log_error("core", "retention.nomem", "cannot create the retention timer");
		return -1;
	}
	struct timeval tv = { .tv_sec = (time_t)c->cfg->retention_interval_s };
	event_add(c->retention_ev, &tv);
	return 0;
}

void retention_stop(struct core *c)
{
	if (c->retention_ev)
		event_free(c->retention_ev);
	c->retention_ev = NULL;
}
