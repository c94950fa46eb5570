/* chatctl.h — what chatctl's pieces share: the global options, the command
 * tables, exit codes and the helpers every command uses.
 *
 * Layout: main.c (global options, dispatch, help), args.c (option parsing),
 * ctlconf.c (where the URL and token come from), http.c (HTTP/1.1 client),
 * api.c (admin API calls: auth, errors to exit codes), table.c/fmt.c
 * (output), prom.c (Prometheus text), and one cmd_*.c per command group.
 *
 * One thread; nothing here exits the process except main(). */
#ifndef CHATCTL_H
#define CHATCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "args.h"
#include "http.h"

/* Exit status, documented in `chatctl --help`. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,     /* the server said no, or a local failure */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_UNREACHABLE = 3, /* no connection, or no answer in time */
	EXIT_AUTH = 4,        /* 401 or 403: no, bad or too weak a token */
};

#define CTL_DEFAULT_URL "http://127.0.0.1:8081"
#define CTL_CONNECT_TIMEOUT_MS 5000
#define CTL_DEFAULT_TIMEOUT_MS 30000
#define CTL_BODY_MAX (16u * 1024 * 1024)   /* largest response accepted */

/* Global options (accepted before or after the command) and what they
 * resolve to.  Strings are borrowed from argv or owned (the *_own ones). */
struct ctl {
	const char *url_flag;        /* --url */
	const char *cacert_flag;     /* --cacert */
	const char *token_flag;      /* --token */
	const char *ctlconf_flag;    /* --ctl-config */
	const char *config_path;     /* -c/--config: the server's chatd.conf */
	bool json;                   /* --json */
	int timeout_ms;              /* --timeout (seconds on the command line) */

	/* Filled by ctl_resolve(): */
	bool resolved;
	struct http_url url;
	char *url_text;              /* owned */
	const char *url_source;      /* "--url", "CHATCTL_URL", file path, … */
	char *token;                 /* owned; NULL: none */
	const char *token_source;
	char *cacert;                /* owned; https: CA file to trust, NULL: the system's */
	char ctlconf_path[4096];     /* the ctl config file read ("" if none) */
};

/* A command: a leaf (run != NULL) or a group (subs != NULL). */
struct cmd {
	const char *name;
	const char *args;            /* shown after the name, e.g. "USER" */
	const char *summary;         /* one line for command lists */
	const char *usage;           /* leaf: the whole help; group: its description */
	int (*run)(struct ctl *ctl, const struct cmd *self, int argc, char **argv);
	const struct cmd *subs;      /* ends with a NULL name */
	const struct opt *opts;      /* leaf: its own options (NULL-terminated), or NULL */
	unsigned flags;
	const struct cmd *impl;      /* a top-level row whose leaf is defined elsewhere */
};
#define CMD_SERVER 1u                /* talks to the admin API: common options apply */

/* The command groups (each defined in its cmd_*.c). */
extern const struct cmd cmds_token[], cmds_reports[], cmds_queue[], cmds_user[],
	cmds_message[], cmds_conv[], cmds_appeals[], cmds_audit[], cmds_rules[],
	cmds_encryption[];
extern const struct cmd cmd_status_cmd, cmd_plugins_cmd, cmd_backup_cmd, cmd_metrics_cmd;

/* ---- main.c ---- */
/* Parses a leaf command's argv (global options allowed anywhere), applies
 * the global ones to ctl and handles --help.  Returns -1 when parsed (go
 * on), else the exit status to return now (0 after --help, 2 after a usage
 * error, which has been printed). */
int ctl_parse(struct ctl *ctl, const struct cmd *self, int argc, char **argv, struct args *a);
/* ctl_parse, then checks there are min..max positional arguments (named
 * in self->args for the message). */
int ctl_parse_pos(struct ctl *ctl, const struct cmd *self, int argc, char **argv,
		  struct args *a, int min, int max);
/* Prints "chatctl: <msg>\nTry 'chatctl <path> --help'." and returns 2. */
int ctl_usage_error(const struct cmd *self, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ctl_print_help(FILE *f, const struct cmd *c);
/* The command's full name ("user ban") for messages. */
const char *ctl_cmd_path(const struct cmd *c);

/* ---- ctlconf.c ---- */
/* Works out the URL and token (flags > env > ctl config file > the chatd
 * config's admin section when -c was given > default).  Returns 0, or an
 * exit status after printing why. */
int ctl_resolve(struct ctl *ctl);
void ctl_release(struct ctl *ctl);
/* Where the chatd config comes from: -c, $CHATD_CONF, ./chatd.conf, sysconfdir. */
const char *ctl_chatd_config_path(const struct ctl *ctl);
/* Loads and checks it, printing every problem.  NULL on failure. */
struct chatd_config *ctl_load_chatd_config(const struct ctl *ctl);
/* A whole regular file of at most max bytes, NUL-terminated (caller frees);
 * NULL after printing why ("cannot open <what> <path>: …"). */
char *ctl_read_file(const char *path, size_t max, size_t *len, const char *what);

/* ---- api.c ---- */
/* One admin API call.  body: borrowed JSON or NULL.  On 2xx: *out gets the
 * parsed reply (owned; may be NULL if out is NULL), *raw (when not NULL)
 * the response, and 0 is returned.  Otherwise the problem is printed and
 * the exit status returned (1, 3 or 4). */
int api_call(struct ctl *ctl, const char *method, const char *path, json_t *body, json_t **out,
	     struct http_response *raw);
/* Like api_call, but a non-2xx reply is returned in *raw / *status instead
 * of being reported (transport failures are still printed and returned). */
int api_call_status(struct ctl *ctl, const char *method, const char *path, json_t *body,
		    int *status, struct http_response *raw);
/* Prints an error reply (status, {"error":…}) as api_call does; returns the
 * exit status. */
int api_report_error(struct ctl *ctl, const char *method, const char *path, int status,
		     const struct http_response *raw);
/* Calls the API and shows the reply: with --json the body unchanged, else
 * show(reply, arg), whose return is the exit status. */
typedef int (*api_show_fn)(json_t *reply, void *arg);
int api_show(struct ctl *ctl, const char *method, const char *path, json_t *body,
	     api_show_fn show, void *arg);
/* For --json: the server's body as is (with a final newline). */
int api_print_raw(const struct http_response *raw);
/* Path building with every argument percent-encoded: api_path(buf, size,
 * "/v1/users/%s/kick", user).  Only %s; false when it does not fit. */
bool api_path(char *buf, size_t size, const char *fmt, ...);

/* ---- cmd_metrics.c ---- */
struct prom;
/* GET /metrics parsed into *p (prom_free it).  Returns 0, or an exit status
 * (transport failures printed; a non-200 answer or bad text silently 1). */
int metrics_fetch(struct ctl *ctl, struct prom *p);
/* "p50 …, p99 … (N observations)" of the rules' pipeline stage. */
void metrics_rule_latency(const struct prom *p, char *buf, size_t n);

#endif
