/* gw_static.c — see gw_static.h.  Gateway thread only. */
#include "gw_static.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include "web_rules.h"

struct gw_static {
	bool enabled;
	char *root;             /* realpath of web.root, NULL when missing */
	size_t root_len;
};

struct gw_static *gw_static_new(const char *root, bool enabled)
{
	struct gw_static *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->enabled = enabled;
	if (!enabled || !root)
		return s;
	char real[PATH_MAX];
	struct stat st;
	errno = 0;
	if (!realpath(root, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_warn("gateway", "web.root_missing", "web.root %s: %s; GET / answers 404 "
			 "(set web.root to the web client's directory, or web.enabled = false)",
			 root, errno ? strerror(errno) : "not a directory");
		return s;
	}
	s->root = strdup(real);
	if (!s->root) {
		free(s);
		return NULL;
	}
	s->root_len = strlen(real);
	return s;
}

void gw_static_free(struct gw_static *s)
{
	if (!s)
		return;
	free(s->root);
	free(s);
}

static int not_found(struct lws *wsi)
{
	static const char body[] = "{\"error\":\"not_found\"}";
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof hdr - 1;
	static const char nosniff[] = "nosniff";
	if (lws_add_http_common_headers(wsi, 404, "application/json", sizeof body - 1, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
					(const unsigned char *)nosniff, sizeof nosniff - 1, &p,
					end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	unsigned char b[LWS_PRE + sizeof body];
	memcpy(b + LWS_PRE, body, sizeof body - 1);
	if (lws_write(wsi, b + LWS_PRE, sizeof body - 1, LWS_WRITE_HTTP_FINAL) < 0)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int gw_static_serve(struct gw_static *s, struct lws *wsi, const char *uri)
{
	if (!s->enabled || !s->root || !web_path_ok(uri))
		return not_found(wsi);
	const char *rel = strcmp(uri, "/") == 0 ? "/index.html" : uri;
	const char *mime = web_mime(rel);
	if (!mime)
		return not_found(wsi);
	char path[PATH_MAX], real[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s%s", s->root, rel);
	struct stat st;
	/* A symlink may point anywhere: the resolved path must stay inside. */
	if (n < 0 || (size_t)n >= sizeof path || !realpath(path, real) ||
	    strncmp(real, s->root, s->root_len) != 0 || real[s->root_len] != '/' ||
	    stat(real, &st) != 0 || !S_ISREG(st.st_mode))
		return not_found(wsi);
	char host[300] = "", other[1200];
	if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) < 0)
		host[0] = '\0';
	int len = web_static_headers(other, sizeof other, host);
	if (len < 0)
		return -1;
	n = lws_serve_http_file(wsi, real, mime, other, len);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}
