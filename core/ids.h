/* ids.h — opaque ids made by the server. */
#ifndef CHATD_IDS_H
#define CHATD_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Fill buf with prefix followed by 16 random lowercase hex digits (from
 * getrandom).  buf must hold strlen(prefix) + 17 bytes. Returns 0 or -1. */
int ids_random(char *buf, size_t buflen, const char *prefix);
/* 64 random bits. */
uint64_t ids_random64(void);

#endif
