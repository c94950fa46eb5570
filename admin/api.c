/* api.c — calling the admin API: the request with the token, and every
 * failure turned into one clear message and an exit status (3 cannot
 * reach, 4 refused token, 1 anything else the server said no to). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chatctl.h"
#include "table.h"

/* ---- paths ---- */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '@';
}

bool api_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t o = 0;
	bool ok = true;
	for (const char *p = fmt; *p && ok; p++) {
		if (p[0] == '%' && p[1] == 's') {
			const unsigned char *a = va_arg(ap, const unsigned char *);
			for (; *a && ok; a++) {
				if (unreserved(*a)) {
					ok = o + 1 < size;
					if (ok)
						buf[o++] = (char)*a;
				} else {
					ok = o + 3 < size;
					if (ok) {
						snprintf(buf + o, 4, "%%%02X", *a);
						o += 3;
					}
				}
			}
			p++;
			continue;
		}
		ok = o + 1 < size;
		if (ok)
			buf[o++] = *p;
	}
	va_end(ap);
	if (size)
		buf[ok ? o : 0] = '\0';
	return ok;
}

/* ---- the token's claims, for messages ---- */

static int b64u_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* The (unverified) payload of a JWT, to say whose token was refused. */
static json_t *token_payload(const char *tok)
{
	const char *a = tok ? strchr(tok, '.') : NULL;
	const char *b = a ? strchr(a + 1, '.') : NULL;
	if (!b || b - a - 1 > 8192)
		return NULL;
	size_t n = (size_t)(b - a - 1);
	unsigned char out[6200];
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64u_val(a[1 + i]);
		if (v < 0)
			return NULL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= sizeof out)
				return NULL;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	json_error_t e;
	json_t *j = json_loadb((const char *)out, o, 0, &e);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void describe_token(const char *tok, char *buf, size_t n)
{
	json_t *p = token_payload(tok);
	if (!p) {
		snprintf(buf, n, "not a JWT");
		return;
	}
	const char *sub = json_string_value(json_object_get(p, "sub"));
	json_t *roles = json_object_get(p, "roles");
	char r[128] = "";
	size_t o = 0;
	for (size_t i = 0; json_is_array(roles) && i < json_array_size(roles); i++) {
		const char *s = json_string_value(json_array_get(roles, i));
		if (s && o < sizeof r)
			o += (size_t)snprintf(r + o, sizeof r - o, "%s%s", o ? "," : "", s);
	}
	char clean_sub[80], clean_r[140];
	fmt_clean(sub ? sub : "?", 64, clean_sub, sizeof clean_sub);
	fmt_clean(r, 64, clean_r, sizeof clean_r);
	snprintf(buf, n, "user %s, roles: %s", clean_sub, o ? clean_r : "none");
	json_decref(p);
}

/* ---- calls ---- */

static int transport(struct ctl *ctl, const char *method, const char *path, json_t *body,
		     struct http_response *resp)
{
	int rc = ctl_resolve(ctl);
	if (rc)
		return rc;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (body && !text) {
		fprintf(stderr, "chatctl: out of memory\n");
		return EXIT_RUNTIME;
	}
	struct http_request rq = {
		.method = method, .path = path, .bearer = ctl->token,
		.body = text, .body_len = text ? strlen(text) : 0,
		.connect_timeout_ms = CTL_CONNECT_TIMEOUT_MS, .timeout_ms = ctl->timeout_ms,
		.max_body = CTL_BODY_MAX, .cacert = ctl->cacert,
	};
	if (strcmp(path, "/metrics") == 0)
		rq.accept = "text/plain";
	char err[512];
	int hr = http_do(&ctl->url, &rq, resp, err, sizeof err);
	free(text);
	if (hr == HTTP_OK)
		return 0;
	if (hr == HTTP_E_CONNECT || hr == HTTP_E_TIMEOUT || hr == HTTP_E_TLS) {
		fprintf(stderr, "chatctl: cannot reach the admin API at %s (from %s): %s\n",
			ctl->url_text, ctl->url_source, err);
		if (hr == HTTP_E_CONNECT)
			fprintf(stderr, "chatctl: is chatd running with the admin API on? Set the "
				"address with --url, CHATCTL_URL or url = … in the chatctl config.\n");
		return EXIT_UNREACHABLE;
	}
	fprintf(stderr, "chatctl: %s %s: %s\n", method, path, err);
	if (hr == HTTP_E_PROTOCOL && ctl->url.kind == HTTP_URL_TCP && !ctl->url.tls)
		fprintf(stderr, "chatctl: if the admin API has TLS on (admin.tls_cert), use "
			"https://\n");
	return hr == HTTP_E_PROTOCOL ? EXIT_UNREACHABLE : EXIT_RUNTIME;
}

int api_report_error(struct ctl *ctl, const char *method, const char *path, int status,
		     const struct http_response *raw)
{
	json_error_t je;
	json_t *j = raw && raw->body ? json_loads(raw->body, 0, &je) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char cmsg[600], ccode[64], who[300];
	if (!msg && raw && raw->body && raw->body_len && !j)
		msg = raw->body;          /* not JSON: show the start of it */
	fmt_clean(msg ? msg : "(no message)", 300, cmsg, sizeof cmsg);
	fmt_clean(code ? code : "error", 40, ccode, sizeof ccode);
	int rc = EXIT_RUNTIME;
	if (status == 401) {
		rc = EXIT_AUTH;
		if (!ctl->token) {
			fprintf(stderr, "chatctl: the admin API needs a token (401 %s: %s).\n"
				"chatctl: give one with --token, CHATCTL_TOKEN or token = … in %s;\n"
				"chatctl: an admin mints the first one with: chatctl token mint root "
				"--role admin --local -c chatd.conf\n", ccode, cmsg,
				ctl->ctlconf_path[0] ? ctl->ctlconf_path : "~/.config/chatctl.conf");
		} else {
			describe_token(ctl->token, who, sizeof who);
			fprintf(stderr, "chatctl: the server refused the token from %s (401 %s: %s; "
				"%s).\nchatctl: is it expired, revoked, or signed with another key? "
				"Mint a new one: chatctl token mint USER --role moderator\n",
				ctl->token_source, ccode, cmsg, who);
		}
	} else if (status == 403) {
		rc = EXIT_AUTH;
		describe_token(ctl->token, who, sizeof who);
		fprintf(stderr, "chatctl: forbidden: %s (the token from %s is for %s)\n", cmsg,
			ctl->token_source ? ctl->token_source : "nowhere", who);
	} else if (status == 404 && msg && strstr(msg, "no such route")) {
		fprintf(stderr, "chatctl: the server has no %s %s (404): is it an older chatd? "
			"See docs/admin-api.md\n", method, path);
	} else if (status == 422) {
		json_t *kept = json_object_get(j, "kept_version");
		fprintf(stderr, "chatctl: refused (422 %s): %s\n", ccode, cmsg);
		if (json_is_integer(kept))
			fprintf(stderr, "chatctl: nothing changed: rule set version %lld keeps "
				"running\n", (long long)json_integer_value(kept));
	} else {
		fprintf(stderr, "chatctl: %s (%d %s)\n", cmsg, status, ccode);
	}
	json_decref(j);
	return rc;
}

int api_call_status(struct ctl *ctl, const char *method, const char *path, json_t *body,
		    int *status, struct http_response *raw)
{
	int rc = transport(ctl, method, path, body, raw);
	if (rc == 0)
		*status = raw->status;
	return rc;
}

int api_call(struct ctl *ctl, const char *method, const char *path, json_t *body, json_t **out,
	     struct http_response *raw)
{
	struct http_response local;
	struct http_response *r = raw ? raw : &local;
	if (out)
		*out = NULL;
	int rc = transport(ctl, method, path, body, r);
	if (rc)
		return rc;
	if (r->status < 200 || r->status > 299) {
		rc = api_report_error(ctl, method, path, r->status, r);
		http_response_free(r);
		return rc;
	}
	if (out) {
		json_error_t je;
		*out = json_loadb(r->body, r->body_len, 0, &je);
		if (!*out) {
			fprintf(stderr, "chatctl: %s %s: the answer is not JSON (%s)\n", method, path,
				je.text);
			http_response_free(r);
			return EXIT_RUNTIME;
		}
	}
	if (!raw)
		http_response_free(r);
	return 0;
}

int api_print_raw(const struct http_response *raw)
{
	if (raw->body_len && fwrite(raw->body, 1, raw->body_len, stdout) != raw->body_len)
		return EXIT_RUNTIME;
	if (!raw->body_len || raw->body[raw->body_len - 1] != '\n')
		fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

int api_show(struct ctl *ctl, const char *method, const char *path, json_t *body,
	     api_show_fn show, void *arg)
{
	struct http_response raw;
	json_t *j = NULL;
	int rc = api_call(ctl, method, path, body, &j, &raw);
	if (rc)
		return rc;
	rc = ctl->json ? api_print_raw(&raw) : show(j, arg);
	if (!ctl->json && fflush(stdout) != 0)
		rc = EXIT_RUNTIME;
	json_decref(j);
	http_response_free(&raw);
	return rc;
}
