/* ids.c — see ids.h. */
#include "ids.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* Fill buf with n random bytes; retries on EINTR and short reads.  Returns 0
 * or -1 (getrandom unavailable or failing: callers must not fall back to a
 * weak source, ids are used where guessing one matters). */
static int fill_random(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int ids_random(char *buf, size_t buflen, const char *prefix)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[8];

	if (!buf || buflen == 0)
		return -1;
	buf[0] = '\0';
	if (!prefix)
		prefix = "";
	size_t plen = strlen(prefix);
	if (plen > buflen || buflen - plen < 17)
		return -1;
	if (fill_random(raw, sizeof raw) < 0)
		return -1;
	memcpy(buf, prefix, plen);
	for (size_t i = 0; i < sizeof raw; i++) {
		buf[plen + 2 * i] = hex[raw[i] >> 4];
		buf[plen + 2 * i + 1] = hex[raw[i] & 0x0f];
	}
	buf[plen + 16] = '\0';
	return 0;
}

uint64_t ids_random64(void)
{
	uint64_t v = 0;
	if (fill_random(&v, sizeof v) < 0) {
		/* getrandom(2) with flags 0 only fails where the syscall is
		 * missing or filtered (seccomp).  Library code must not exit
		 * and ids.h has no error channel here, so 0 is returned;
		 * callers needing a guarantee use ids_random(). */
		return 0;
	}
	return v;
}
