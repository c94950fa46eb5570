/* log.h — structured logs: level, subsystem, stable event id, message.
 *
 * One line per event on stderr:
 *   2026-11-27T21:00:00.123Z info core listen.ok: listening on 127.0.0.1:8080
 * Thread-safe (one write(2) per line). */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the threshold; messages above it are dropped. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error" | "warn" | "info" | "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *subsys, const char *event,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_vmsg(enum log_level level, const char *subsys, const char *event,
	      const char *fmt, va_list ap);

#define log_error(sub, ev, ...) log_msg(LOG_ERROR, sub, ev, __VA_ARGS__)
#define log_warn(sub, ev, ...)  log_msg(LOG_WARN, sub, ev, __VA_ARGS__)
#define log_info(sub, ev, ...)  log_msg(LOG_INFO, sub, ev, __VA_ARGS__)
#define log_debug(sub, ev, ...) log_msg(LOG_DEBUG, sub, ev, __VA_ARGS__)

#endif
