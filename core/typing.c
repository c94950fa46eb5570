/* typing.c — typing indicators. */
#include <stdlib.h>
#include "pipeline.h"
#include "typing.h"

struct typing {
	struct core *c;
};

struct typing *typing_new(struct core *c)
{
	struct typing *t = calloc(1, sizeof *t);
	if (t)
		t->c = c;
	return t;
}

void typing_free(struct typing *t)
{
	free(t);
}

void cmd_typing(struct cmd *c)
{
	cmd_error(c, "bad_request", "not implemented yet");
}
