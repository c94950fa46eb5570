/* chatd/status.h — the one status enum of the project.
 *
 * Every function that can fail returns 0 (CHATD_OK) or a negative
 * chatd_status.  chatd_strerror() names a code for logs. */
#ifndef CHATD_STATUS_H
#define CHATD_STATUS_H

typedef enum chatd_status {
	CHATD_OK = 0,
	CHATD_ERR_NOMEM = -1,       /* allocation failed */
	CHATD_ERR_INVALID = -2,     /* bad argument or input */
	CHATD_ERR_NOT_FOUND = -3,   /* no such object */
	CHATD_ERR_EXISTS = -4,      /* already there (e.g. a duplicate) */
	CHATD_ERR_FORBIDDEN = -5,   /* not allowed */
	CHATD_ERR_UNAVAILABLE = -6, /* backend down; retryable */
	CHATD_ERR_IO = -7,          /* I/O or engine error */
	CHATD_ERR_TOO_LARGE = -8,   /* over a limit */
	CHATD_ERR_INTERNAL = -9,    /* a bug */
	CHATD_ERR_ABI = -10,        /* plugin ABI or kind mismatch */
	CHATD_ERR_SHUTDOWN = -11,   /* refused: shutting down */
	CHATD_ERR_CONFLICT = -12,   /* what the caller read changed meanwhile (ABI 1.2) */
	CHATD_ERR_RATE_LIMITED = -13, /* over a rate; retry later (ABI 1.3) */
} chatd_status;

static inline const char *chatd_strerror(int st)
{
	switch (st) {
	case CHATD_OK: return "ok";
	case CHATD_ERR_NOMEM: return "out of memory";
	case CHATD_ERR_INVALID: return "invalid argument";
	case CHATD_ERR_NOT_FOUND: return "not found";
	case CHATD_ERR_EXISTS: return "already exists";
	case CHATD_ERR_FORBIDDEN: return "forbidden";
	case CHATD_ERR_UNAVAILABLE: return "unavailable";
	case CHATD_ERR_IO: return "i/o error";
	case CHATD_ERR_TOO_LARGE: return "too large";
	case CHATD_ERR_INTERNAL: return "internal error";
	case CHATD_ERR_ABI: return "plugin ABI mismatch";
	case CHATD_ERR_SHUTDOWN: return "shutting down";
	case CHATD_ERR_CONFLICT: return "changed meanwhile";
	case CHATD_ERR_RATE_LIMITED: return "rate limited";
	default: return "unknown status";
	}
}

#endif
