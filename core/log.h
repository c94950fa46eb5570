/* log.h — structured logs: one JSON object per line.
 *
 *   {"ts":"2026-11-28T06:44:36.123Z","level":"info","component":"gateway",
 *    "event":"session.open","msg":"…","trace":"4f1c…","user":"u:…"}
 *
 * Keys always in that order; `trace` and `user` only when the line belongs
 * to a message's path or a user (the thread's log context, below).  `user`
 * is never the raw id but "u:" + 16 hex digits of HMAC-SHA256(log key,
 * id).  Lines go to stderr or to log.file, one write(2) per line, so lines
 * of different threads never interleave.  Every function is thread-safe
 * except the set-up ones marked "before any thread". */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

#define LOG_LINE_MAX 4096      /* bytes of one line, newline included */
#define LOG_MSG_MAX 2048       /* bytes of the formatted message before escaping */
#define LOG_USER_HASH_LEN 18   /* "u:" + 16 hex digits */
#define LOG_USER_MAX 128       /* longest user id the context holds */
#define LOG_LINE_MIN 1280      /* room log_format_line needs at least */

/* Set the threshold; messages above it are dropped. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error" | "warn" | "info" | "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);

/* True when a line of `level` would be written: the macros below check it
 * before their arguments are evaluated, so a filtered line costs nothing. */
extern _Atomic int log_threshold;
static inline bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

void log_msg(enum log_level level, const char *subsys, const char *event,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_vmsg(enum log_level level, const char *subsys, const char *event,
	      const char *fmt, va_list ap);

#define LOG_AT_(lv, sub, ev, ...) \
	do { \
		if (log_enabled(lv)) \
			log_msg(lv, sub, ev, __VA_ARGS__); \
	} while (0)
/* A line about `user` whatever the context: its hash goes in "user" (the
 * trace stays).  For a line that names a user id at info and above:
 * never put the raw id in the message. */
void log_user(enum log_level level, const char *subsys, const char *event, const char *user,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_error(sub, ev, ...) LOG_AT_(LOG_ERROR, sub, ev, __VA_ARGS__)
#define log_warn(sub, ev, ...)  LOG_AT_(LOG_WARN, sub, ev, __VA_ARGS__)
#define log_info(sub, ev, ...)  LOG_AT_(LOG_INFO, sub, ev, __VA_ARGS__)
#define log_debug(sub, ev, ...) LOG_AT_(LOG_DEBUG, sub, ev, __VA_ARGS__)

/* ---- destination (log.file) ---------------------------------------------- */

/* Write to path (opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, 0640), or to
 * stderr when path is NULL or "".  Before any thread.  Returns 0, or -1
 * with the reason in err (the destination is then unchanged). */
int log_open(const char *path, char *err, size_t errlen);
/* Would log_open(path) succeed?  Creates nothing: the file must be
 * writable if it exists, else its directory (--check-config). */
int log_check_path(const char *path, char *err, size_t errlen);
/* Open log.file again (after logrotate moved it) and put the new file in
 * place of the old with dup2, so a thread writing meanwhile never sees a
 * closed descriptor.  One thread at a time (the core's).  Returns 1 when
 * reopened, 0 when logging to stderr (nothing to reopen), -1 with err set
 * when the file cannot be opened (the old one stays in use). */
int log_reopen(char *err, size_t errlen);
/* The file being written, or NULL for stderr. */
const char *log_path(void);
/* Close log.file (stderr again).  At exit, after every thread stopped. */
void log_close(void);

/* ---- hashed user ids ----------------------------------------------------- */

/* The HMAC key of user hashes (log.user_hash_key; copied).  Before any
 * thread.  Returns 0 or -1 (ENOMEM). */
int log_set_user_hash_key(const char *key);
/* out = "u:" + the first 16 hex digits of HMAC-SHA256(key, user), NUL
 * terminated (LOG_USER_HASH_LEN + 1 bytes).  Stable for a key. */
void log_user_hash(const char *user, char out[LOG_USER_HASH_LEN + 1]);

/* ---- the thread's log context ---------------------------------------------
 * What every line written by this thread carries until changed: the trace
 * id of the message being handled (0: none) and its user (NULL: none).
 * Set where work on a message or a user starts or resumes; save/restore
 * around a nested scope. */
struct log_ctx {
	uint64_t trace;
	bool has_user;
	char user[LOG_USER_MAX + 1];
};

/* user is copied. */
void log_ctx_set(uint64_t trace, const char *user);
void log_ctx_clear(void);
void log_ctx_save(struct log_ctx *out);
void log_ctx_restore(const struct log_ctx *saved);
/* The context's trace id (0: none). */
uint64_t log_ctx_trace(void);

/* A new trace id: never 0, unique in this process, unpredictable across
 * processes (a counter mixed under a random key). */
uint64_t log_trace_new(void);
/* "%016" PRIx64 into out (17 bytes). */
void log_trace_hex(uint64_t trace, char out[17]);

/* ---- the line writer (log_json.c; pure, for tests) -------------------------- */

struct log_line {
	int64_t ts_ms;             /* ms since the epoch, UTC */
	enum log_level level;
	const char *component;     /* escaped, cut at 64 bytes */
	const char *event;         /* escaped, cut at 96 bytes */
	const char *msg;           /* msg_len bytes, any bytes */
	size_t msg_len;
	bool msg_cut;              /* msg was cut before: mark it */
	uint64_t trace;            /* 0: no "trace" key */
	const char *user_hash;     /* NULL: no "user" key */
};

/* Write one JSON line (newline included, no NUL) into out, of cap bytes
 * (>= LOG_LINE_MIN).  Control characters, quotes and backslashes are escaped,
 * invalid UTF-8 becomes U+FFFD; a message that does not fit is cut at a
 * character and ends with "…", and the line stays valid JSON.  Returns the
 * line's length (<= cap); 0 when cap is below LOG_LINE_MIN. */
size_t log_format_line(char *out, size_t cap, const struct log_line *l);

#endif
