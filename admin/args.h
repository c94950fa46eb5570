/* args.h — chatctl's command-line parsing: options and positional
 * arguments in any order, values as "--opt V", "--opt=V", "-o V" or "-oV",
 * "--" ends options.  Plus the value parsers (counts, durations).
 *
 * Pure functions: no I/O, nothing allocated; results borrow argv. */
#ifndef CHATCTL_ARGS_H
#define CHATCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARGS_MAX_OPTS 32     /* options one parse knows (global + command) */
#define ARGS_MAX_POS 16      /* positional arguments */
#define ARGS_MAX_REPEAT 8    /* values of one repeatable option */

/* One option.  Arrays end with an entry whose lng is NULL. */
struct opt {
	const char *lng;         /* "--role" */
	char shrt;               /* 'r', or 0 */
	unsigned flags;
};
#define OPT_VALUE 1u             /* takes a value */
#define OPT_REPEAT 2u            /* may be given several times (values kept in order) */

struct args {
	const struct opt *opts[ARGS_MAX_OPTS];      /* the options known, in order */
	size_t nopts;
	const char *val[ARGS_MAX_OPTS][ARGS_MAX_REPEAT]; /* flags: "" when given */
	int nval[ARGS_MAX_OPTS];
	const char *pos[ARGS_MAX_POS];
	int npos;
};

/* Parses argv[0..argc) against the options of every NULL-terminated array
 * in lists (up to nlists of them).  Returns 0, or -1 with a message in err
 * (unknown option, missing value, value given to a flag, repeated option
 * that does not repeat, too many arguments). */
int args_parse(const struct opt *const *lists, size_t nlists, int argc, char **argv,
	       struct args *a, char *err, size_t errlen);

/* The (last) value of the option named lng, "" for a given flag, or NULL
 * when absent. */
const char *args_get(const struct args *a, const char *lng);
bool args_has(const struct args *a, const char *lng);
/* Every value of a repeatable option; *n gets the count. */
const char *const *args_all(const struct args *a, const char *lng, int *n);

/* A whole number in [min, max]; false otherwise. */
bool args_int(const char *s, long long min, long long max, long long *out);
/* A duration: a number with a unit ms, s, m, h, d or w ("90s", "15m",
 * "2h30m", "7d"); a bare number is seconds.  Into milliseconds, > 0 and
 * at most ten years.  False when malformed. */
bool args_duration_ms(const char *s, int64_t *out_ms);

#endif
