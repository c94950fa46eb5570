/* typing.h — typing indicators: throttle, expiry, aggregation (never stored). */
#ifndef CHATD_TYPING_H
#define CHATD_TYPING_H

#include <stdint.h>

struct core;
struct typing;

struct typing *typing_new(struct core *c);
void typing_free(struct typing *t);
/* conv's members or settings changed: read them again before telling. */
void typing_conv_changed(struct typing *t, const char *conv);

#endif
