/* ctlconf.h — chatctl's own small config file (~/.config/chatctl.conf or
 * --ctl-config FILE):
 *
 *   # comments and blank lines are ignored
 *   url = http://127.0.0.1:8081      (or https://…, unix:/run/chatd/admin.sock)
 *   cacert = /etc/chatd/admin-ca.pem (https: the CA, or the server's own
 *                                     certificate, to trust)
 *   token = eyJhbGciOi…
 *   timeout = 30                     (seconds, 1..3600)
 *
 * A value may be wrapped in double quotes.  Unknown keys and repeated keys
 * are errors (with the line number). */
#ifndef CHATCTL_CTLCONF_H
#define CHATCTL_CTLCONF_H

#include <stddef.h>

struct ctlconf {
	char *url;       /* owned, NULL when absent */
	char *token;     /* owned, NULL when absent */
	char *cacert;    /* owned, NULL when absent */
	int timeout_s;   /* 0 when absent */
};

/* Parses text[0..len).  Returns 0, or -1 with "line N: what" in err (and
 * *out cleared). */
int ctlconf_parse(const char *text, size_t len, struct ctlconf *out, char *err, size_t errlen);
void ctlconf_free(struct ctlconf *c);

#endif
