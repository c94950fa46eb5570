/* settings.c — where chatctl's URL, token and timeout come from, and the
 * server's chatd.conf for the commands that read it (token mint --local,
 * backup, rules test).
 *
 * Precedence: flags > environment (CHATCTL_URL, CHATCTL_TOKEN) > the ctl
 * config file > the chatd config's admin section (when -c names one) >
 * the default URL. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chatctl.h"
#include "ctlconf.h"
#include "chatd/status.h"
#include "../core/config.h" /* by path: "config.h" alone may find autoconf's */

#ifndef CHATD_SYSCONFDIR
#define CHATD_SYSCONFDIR "/usr/local/etc"
#endif

#define CTLCONF_MAX (64 * 1024)

char *ctl_read_file(const char *path, size_t max, size_t *len, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "chatctl: cannot open %s %s: %s\n", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (size_t)st.st_size > max) {
		fprintf(stderr, "chatctl: %s %s is not a regular file of at most %zu bytes\n", what,
			path, max);
		close(fd);
		return NULL;
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size + 1);
	if (!buf) {
		fprintf(stderr, "chatctl: out of memory\n");
		close(fd);
		return NULL;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "chatctl: cannot read %s %s: %s\n", what, path,
				r < 0 ? strerror(errno) : "file shrank while reading");
			close(fd);
			explicit_bzero(buf, size);
			free(buf);
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[size] = '\0';
	*len = size;
	return buf;
}

const char *ctl_chatd_config_path(const struct ctl *ctl)
{
	if (ctl->config_path)
		return ctl->config_path;
	const char *env = getenv("CHATD_CONF");
	if (env && *env)
		return env;
	if (access("chatd.conf", F_OK) == 0)
		return "chatd.conf";
	return CHATD_SYSCONFDIR "/chatd.conf";
}

struct chatd_config *ctl_load_chatd_config(const struct ctl *ctl)
{
	const char *path = ctl_chatd_config_path(ctl);
	if (access(path, R_OK) != 0) {
		int e = errno;
		fprintf(stderr, "chatctl: cannot read configuration %s: %s\n", path, strerror(e));
		if (!ctl->config_path && !(getenv("CHATD_CONF") && *getenv("CHATD_CONF")))
			fprintf(stderr, "chatctl: looked for ./chatd.conf and %s; "
				"use -c FILE or set CHATD_CONF\n", CHATD_SYSCONFDIR "/chatd.conf");
		return NULL;
	}
	struct chatd_config *cfg = NULL;
	struct cfg_errors errs = { 0 };
	int st = cfg_load_file(path, &cfg, &errs);
	if (st != CHATD_OK || !cfg) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		fprintf(stderr, "chatctl: %s: configuration is invalid (%zu error%s; %s)\n", path,
			errs.n, errs.n == 1 ? "" : "s", chatd_strerror(st));
		cfg_errors_clear(&errs);
		if (cfg)
			cfg_free(cfg);
		return NULL;
	}
	cfg_errors_clear(&errs);
	return cfg;
}

/* The ctl config file: --ctl-config (must exist), else
 * $XDG_CONFIG_HOME/chatctl.conf or ~/.config/chatctl.conf (optional). */
static int read_ctlconf(struct ctl *ctl, struct ctlconf *cc)
{
	memset(cc, 0, sizeof *cc);
	const char *explicit_path = ctl->ctlconf_flag;
	if (explicit_path) {
		snprintf(ctl->ctlconf_path, sizeof ctl->ctlconf_path, "%s", explicit_path);
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		if (xdg && *xdg == '/')
			snprintf(ctl->ctlconf_path, sizeof ctl->ctlconf_path, "%s/chatctl.conf", xdg);
		else if (home && *home)
			snprintf(ctl->ctlconf_path, sizeof ctl->ctlconf_path,
				 "%s/.config/chatctl.conf", home);
		if (!ctl->ctlconf_path[0] || access(ctl->ctlconf_path, F_OK) != 0) {
			ctl->ctlconf_path[0] = '\0';
			return 0;
		}
	}
	size_t len = 0;
	char *text = ctl_read_file(ctl->ctlconf_path, CTLCONF_MAX, &len, "chatctl config");
	if (!text)
		return EXIT_RUNTIME;
	char err[256];
	int rc = ctlconf_parse(text, len, cc, err, sizeof err);
	explicit_bzero(text, len);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "chatctl: %s: %s\n", ctl->ctlconf_path, err);
		return EXIT_RUNTIME;
	}
	struct stat st;
	if (cc->token && stat(ctl->ctlconf_path, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, "chatctl: warning: %s holds a token and other users can read it "
			"(chmod 600 %s)\n", ctl->ctlconf_path, ctl->ctlconf_path);
	return 0;
}

/* The URL of the admin listener named in the chatd config given with -c;
 * with admin.tls_cert, *cert gets that certificate (owned) to trust. */
static char *url_from_chatd_config(const struct ctl *ctl, char **cert, int *rc)
{
	struct chatd_config *cfg = ctl_load_chatd_config(ctl);
	if (!cfg) {
		*rc = EXIT_RUNTIME;
		return NULL;
	}
	const char *host = cfg->admin_host ? cfg->admin_host : "127.0.0.1";
	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	char buf[320];
	if (cfg->admin_socket)
		snprintf(buf, sizeof buf, "unix:%s", cfg->admin_socket);
	else
		snprintf(buf, sizeof buf, strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
			 cfg->admin_tls_cert ? "https" : "http", host, cfg->admin_port);
	if (cfg->admin_tls_cert && !cfg->admin_socket && !(*cert = strdup(cfg->admin_tls_cert))) {
		fprintf(stderr, "chatctl: out of memory\n");
		*rc = EXIT_RUNTIME;
	}
	if (!cfg->admin_enabled)
		fprintf(stderr, "chatctl: warning: %s has admin.enabled = false: the server does "
			"not serve the admin API\n", ctl_chatd_config_path(ctl));
	cfg_free(cfg);
	char *s = *rc ? NULL : strdup(buf);
	if (!s && !*rc) {
		fprintf(stderr, "chatctl: out of memory\n");
		*rc = EXIT_RUNTIME;
	}
	return s;
}

/* A token as given, without surrounding blanks (e.g. a file's newline). */
static char *clean_token(const char *t)
{
	while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
		t++;
	size_t n = strlen(t);
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\n' ||
			 t[n - 1] == '\r'))
		n--;
	return n ? strndup(t, n) : NULL;
}

int ctl_resolve(struct ctl *ctl)
{
	if (ctl->resolved)
		return 0;
	struct ctlconf cc;
	int rc = read_ctlconf(ctl, &cc);
	if (rc)
		return rc;
	const char *env_url = getenv("CHATCTL_URL"), *env_tok = getenv("CHATCTL_TOKEN");
	const char *env_ca = getenv("CHATCTL_CACERT");
	char *conf_cert = NULL;       /* admin.tls_cert of the chatd config (-c) */
	if (ctl->url_flag) {
		ctl->url_text = strdup(ctl->url_flag);
		ctl->url_source = "--url";
	} else if (env_url && *env_url) {
		ctl->url_text = strdup(env_url);
		ctl->url_source = "CHATCTL_URL";
	} else if (cc.url) {
		ctl->url_text = strdup(cc.url);
		ctl->url_source = ctl->ctlconf_path;
	} else if (ctl->config_path) {
		ctl->url_text = url_from_chatd_config(ctl, &conf_cert, &rc);
		ctl->url_source = ctl->config_path;
		if (rc)
			goto out;
	} else {
		ctl->url_text = strdup(CTL_DEFAULT_URL);
		ctl->url_source = "the default";
	}
	if (!ctl->url_text) {
		fprintf(stderr, "chatctl: out of memory\n");
		rc = EXIT_RUNTIME;
		goto out;
	}
	char err[256];
	if (http_url_parse(ctl->url_text, &ctl->url, err, sizeof err) < 0) {
		fprintf(stderr, "chatctl: bad URL from %s: %s\n", ctl->url_source, err);
		rc = EXIT_USAGE;
		goto out;
	}
	if (ctl->token_flag) {
		ctl->token = clean_token(ctl->token_flag);
		ctl->token_source = "--token";
	} else if (env_tok && *env_tok) {
		ctl->token = clean_token(env_tok);
		ctl->token_source = "CHATCTL_TOKEN";
	} else if (cc.token) {
		ctl->token = clean_token(cc.token);
		ctl->token_source = ctl->ctlconf_path;
	}
	const char *ca = ctl->cacert_flag ? ctl->cacert_flag : env_ca && *env_ca ? env_ca
			 : cc.cacert ? cc.cacert : conf_cert;
	if (ca && !(ctl->cacert = strdup(ca))) {
		fprintf(stderr, "chatctl: out of memory\n");
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (ctl->timeout_ms == 0)
		ctl->timeout_ms = cc.timeout_s ? cc.timeout_s * 1000 : CTL_DEFAULT_TIMEOUT_MS;
	ctl->resolved = true;
out:
	free(conf_cert);
	ctlconf_free(&cc);
	return rc;
}

void ctl_release(struct ctl *ctl)
{
	free(ctl->url_text);
	ctl->url_text = NULL;
	free(ctl->cacert);
	ctl->cacert = NULL;
	if (ctl->token) {
		explicit_bzero(ctl->token, strlen(ctl->token));
		free(ctl->token);
		ctl->token = NULL;
	}
	ctl->resolved = false;
}
