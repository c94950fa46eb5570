/* tls.h — the server side of TLS: checking the certificate and key files
 * named in the config (server.tls_*, admin.tls_*) and building the admin
 * listener's SSL_CTX.  The chat port's TLS is run by libwebsockets, which
 * loads the same files itself (gateway.c); checking them here first turns
 * a bad file into a clear config error instead of an lws log line.
 *
 * Key material never leaves OpenSSL: messages name files (paths) and
 * OpenSSL's reason, nothing read from them.  A key with a passphrase is
 * refused (there is nobody to ask at start-up), never prompted for.
 *
 * Thread: any (main thread at start-up in practice).  Nothing here exits. */
#ifndef CHATD_TLS_H
#define CHATD_TLS_H

#include <stddef.h>
#include "config.h"

typedef struct ssl_ctx_st SSL_CTX;

/* The protocol version constant for "1.2" / "1.3" (NULL: "1.2"); 0 for
 * anything else. */
int tls_min_proto(const char *version);

/* A server context for cert (PEM chain) and key (PEM), refusing versions
 * older than min_version.  `what` names the config table in messages
 * ("server" or "admin").  Returns an owned context (SSL_CTX_free), or
 * NULL with the reason in err ("admin.tls_key: /path: ..."). */
SSL_CTX *tls_server_ctx(const char *what, const char *cert, const char *key,
			const char *min_version, char *err, size_t errlen);

/* Checks every TLS pair the config sets (each file readable, a PEM
 * certificate / unencrypted private key, the key matching the
 * certificate); adds one message per problem to errs.  Returns the number
 * of problems (0: all good or no TLS configured). */
int tls_check_config(const struct chatd_config *cfg, struct cfg_errors *errs);

/* "CN=chat.example.org, expires Nov 27 12:00:00 2027 GMT" for the first
 * certificate of a PEM file, for the start-up log; "" when unreadable. */
void tls_cert_summary(const char *cert, char *out, size_t outlen);

#endif
