/* presence_subs.h — presence.subscribe: who watches whom, and the pushes. */
#ifndef CHATD_PRESENCE_SUBS_H
#define CHATD_PRESENCE_SUBS_H

#include <stdint.h>

struct core;
struct presence_subs;

/* Create (and register with the presence plugin's watch op, if it has it);
 * NULL on ENOMEM. */
struct presence_subs *presence_subs_new(struct core *c);
void presence_subs_free(struct presence_subs *ps);
/* A session closed: drop its subscriptions. */
void presence_subs_session_closed(struct presence_subs *ps, uint64_t session);

#endif
