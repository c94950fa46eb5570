/* tls.c — see tls.h. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

int tls_min_proto(const char *version)
{
	if (!version || strcmp(version, "1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(version, "1.3") == 0)
		return TLS1_3_VERSION;
	return 0;
}

/* Returning 0 makes OpenSSL fail the decryption instead of asking on the
 * terminal (its default), which would hang a daemon. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* OpenSSL's reason for the first error queued (the root cause: "no start
 * line" rather than the "PEM lib" wrapped around it), emptying the queue. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "no reason given";
}

/* Whether a PEM file's headers say its key is encrypted (PKCS#8
 * "ENCRYPTED PRIVATE KEY" or the old "Proc-Type: 4,ENCRYPTED").  Only
 * header lines are compared; the buffer is wiped. */
static bool pem_encrypted(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[256];
	bool enc = false;
	while (!enc && fgets(line, sizeof line, f))
		enc = (strncmp(line, "-----BEGIN ", 11) == 0 && strstr(line, "ENCRYPTED")) ||
		      strncmp(line, "Proc-Type: 4,ENCRYPTED", 22) == 0;
	explicit_bzero(line, sizeof line);
	fclose(f);
	return enc;
}

/* Opens path for reading, explaining why not in err. */
static FILE *open_file(const char *key, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a regular file", key, path);
		return NULL;
	}
	FILE *f = fopen(path, "r");
	if (!f)
		snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
	return f;
}

static EVP_PKEY *read_key(const char *key_name, const char *path, char *err, size_t errlen)
{
	FILE *f = open_file(key_name, path, err, errlen);
	if (!f)
		return NULL;
	EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!pk) {
		const char *why = ssl_reason();
		if (pem_encrypted(path))
			snprintf(err, errlen, "%s: %s is an encrypted private key; chatd cannot ask "
				 "for a passphrase (decrypt it: openssl pkey -in KEY -out KEY.plain)",
				 key_name, path);
		else
			snprintf(err, errlen, "%s: %s holds no PEM private key (%s)", key_name, path,
				 why);
	}
	return pk;
}

SSL_CTX *tls_server_ctx(const char *what, const char *cert, const char *key,
			const char *min_version, char *err, size_t errlen)
{
	char cert_key[32], key_key[32];
	snprintf(cert_key, sizeof cert_key, "%s.tls_cert", what);
	snprintf(key_key, sizeof key_key, "%s.tls_key", what);
	int proto = tls_min_proto(min_version);
	if (!proto) {
		snprintf(err, errlen, "%s.tls_min_version: unknown version", what);
		return NULL;
	}
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, proto)) {
		snprintf(err, errlen, "%s: cannot create a TLS context (%s)", what, ssl_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	FILE *f = open_file(cert_key, cert, err, errlen);
	if (!f) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	fclose(f);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "%s: %s holds no usable PEM certificate (%s)", cert_key, cert,
			 ssl_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	EVP_PKEY *pk = read_key(key_key, key, err, errlen);
	if (!pk) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* SSL_CTX_use_PrivateKey compares the key with the certificate. */
	int ok = SSL_CTX_use_PrivateKey(ctx, pk) == 1 && SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(pk);
	if (!ok) {
		snprintf(err, errlen, "%s: the key in %s does not match the certificate in %s (%s)",
			 key_key, key, cert, ssl_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int check_pair(const char *what, const char *cert, const char *key, const char *minv,
		      struct cfg_errors *errs)
{
	if (!cert || !key)
		return 0; /* both or neither is the schema's check */
	char err[1024];
	SSL_CTX *ctx = tls_server_ctx(what, cert, key, minv, err, sizeof err);
	if (!ctx) {
		cfg_errors_add(errs, "%s", err);
		return 1;
	}
	SSL_CTX_free(ctx);
	return 0;
}

int tls_check_config(const struct chatd_config *cfg, struct cfg_errors *errs)
{
	return check_pair("server", cfg->tls_cert, cfg->tls_key, cfg->tls_min_version, errs) +
	       check_pair("admin", cfg->admin_tls_cert, cfg->admin_tls_key,
			  cfg->admin_tls_min_version, errs);
}

void tls_cert_summary(const char *cert, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	FILE *f = fopen(cert, "r");
	if (!f)
		return;
	X509 *x = PEM_read_X509(f, NULL, no_passphrase, NULL);
	fclose(f);
	BIO *b = x ? BIO_new(BIO_s_mem()) : NULL;
	if (b) {
		/* ONELINE escapes control and non-ASCII bytes: the log stays ASCII. */
		X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_ONELINE);
		BIO_puts(b, ", expires ");
		ASN1_TIME_print(b, X509_get0_notAfter(x));
		char *p;
		long n = BIO_get_mem_data(b, &p);
		if (n > 0)
			snprintf(out, outlen, "%.*s", (int)n, p);
	}
	BIO_free(b);
	X509_free(x);
	ERR_clear_error();
}
