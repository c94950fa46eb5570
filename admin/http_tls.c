/* http_tls.c — see http_tls.h. */
#include "http_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http.h"

struct http_tls {
	SSL_CTX *ctx;
	SSL *ssl;
};

/* OpenSSL's reason for the last error, emptying its queue. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "no reason given";
}

static bool is_ip(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int setup(struct http_tls *t, int fd, const char *host, const char *cacert, char *err,
		 size_t errlen)
{
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen, "cannot create a TLS context: %s", ssl_reason());
		return HTTP_E_IO;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	/* A close without close_notify reads as the end of the stream; the
	 * HTTP parser still sees a truncated body (Content-Length, chunks). */
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (cacert) {
		if (SSL_CTX_load_verify_locations(t->ctx, cacert, NULL) != 1) {
			snprintf(err, errlen, "cannot load the CA file %s: %s", cacert, ssl_reason());
			return HTTP_E_IO;
		}
		/* A certificate in the file is trusted as it is, CA or not: the
		 * server's own (self-signed or not) can be given, as with curl. */
		X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(t->ctx), X509_V_FLAG_PARTIAL_CHAIN);
	} else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		snprintf(err, errlen, "cannot load the system's CAs: %s", ssl_reason());
		return HTTP_E_IO;
	}
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
		snprintf(err, errlen, "cannot create a TLS session: %s", ssl_reason());
		return HTTP_E_IO;
	}
	/* The certificate must name the host of the URL. */
	X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
	int ok;
	if (is_ip(host)) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, host);
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = X509_VERIFY_PARAM_set1_host(vp, host, 0) &&
		     SSL_set_tlsext_host_name(t->ssl, host);
	}
	if (!ok) {
		snprintf(err, errlen, "cannot set the name to verify (%s): %s", host, ssl_reason());
		return HTTP_E_IO;
	}
	return HTTP_OK;
}

int http_tls_open(int fd, const char *host, const char *cacert, int64_t deadline,
		  struct http_tls **out, char *err, size_t errlen)
{
	*out = NULL;
	ERR_clear_error();
	struct http_tls *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return HTTP_E_IO;
	}
	int rc = setup(t, fd, host, cacert, err, errlen);
	while (rc == HTTP_OK) {
		int r = SSL_connect(t->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(t->ssl, r);
		short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (ev) {
			int w = http_wait_fd(fd, ev, deadline);
			if (w == 0) {
				snprintf(err, errlen, "timed out in the TLS handshake");
				rc = HTTP_E_TIMEOUT;
			} else if (w < 0) {
				snprintf(err, errlen, "poll: %s", strerror(errno));
				rc = HTTP_E_IO;
			}
			continue;
		}
		long v = SSL_get_verify_result(t->ssl);
		if (v != X509_V_OK)
			snprintf(err, errlen, "the server's certificate is not trusted: %s (give the "
				 "CA with --cacert FILE)", X509_verify_cert_error_string(v));
		else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			snprintf(err, errlen, "the TLS handshake failed: the server closed the "
				 "connection (is it an https:// listener?)");
		else
			snprintf(err, errlen, "the TLS handshake failed: %s (is it an https:// "
				 "listener?)", ssl_reason());
		rc = HTTP_E_TLS;
	}
	if (rc != HTTP_OK) {
		http_tls_close(t);
		return rc;
	}
	*out = t;
	return HTTP_OK;
}

/* Maps the outcome of one SSL_read/SSL_write call. */
static ssize_t io_result(struct http_tls *t, int r, short *want)
{
	if (r > 0)
		return r;
	int e = SSL_get_error(t->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0; /* close_notify: the end of the answer */
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0)
			errno = ECONNRESET; /* EOF without close_notify: the caller's EOF */
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

ssize_t http_tls_write(struct http_tls *t, const void *buf, size_t n, short *want)
{
	ERR_clear_error();
	errno = 0;
	int len = n > (size_t)(1 << 30) ? 1 << 30 : (int)n;
	return io_result(t, SSL_write(t->ssl, buf, len), want);
}

ssize_t http_tls_read(struct http_tls *t, void *buf, size_t n, short *want)
{
	ERR_clear_error();
	errno = 0;
	int len = n > (size_t)(1 << 30) ? 1 << 30 : (int)n;
	return io_result(t, SSL_read(t->ssl, buf, len), want);
}

void http_tls_close(struct http_tls *t)
{
	if (!t)
		return;
	if (t->ssl) {
		(void)SSL_shutdown(t->ssl); /* one try: a close_notify, no waiting */
		SSL_free(t->ssl);
	}
	SSL_CTX_free(t->ctx);
	ERR_clear_error();
	free(t);
}
