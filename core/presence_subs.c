/* presence_subs.c — presence.subscribe / unsubscribe and change pushes. */
#include <stdlib.h>
#include "pipeline.h"
#include "presence_subs.h"

struct presence_subs {
	struct core *c;
};

struct presence_subs *presence_subs_new(struct core *c)
{
	struct presence_subs *ps = calloc(1, sizeof *ps);
	if (ps)
		ps->c = c;
	return ps;
}

void presence_subs_free(struct presence_subs *ps)
{
	free(ps);
}

void presence_subs_session_closed(struct presence_subs *ps, uint64_t session)
{
	(void)ps;
	(void)session;
}

void cmd_presence_subscribe(struct cmd *c)
{
	cmd_error(c, "bad_request", "not implemented yet");
}

void cmd_presence_unsubscribe(struct cmd *c)
{
	cmd_error(c, "bad_request", "not implemented yet");
}
