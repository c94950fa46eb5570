/* typing.h — typing indicators: throttle, expiry, aggregation (never stored). */
#ifndef CHATD_TYPING_H
#define CHATD_TYPING_H

#include <stdint.h>

struct core;
struct typing;

struct typing *typing_new(struct core *c);
void typing_free(struct typing *t);

#endif
