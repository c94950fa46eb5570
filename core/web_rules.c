/* web_rules.c — see web_rules.h. */
#include "web_rules.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

#define URI_MAX 512

static bool seg_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

bool web_path_ok(const char *uri)
{
	if (!uri || uri[0] != '/' || strlen(uri) > URI_MAX)
		return false;
	if (uri[1] == '\0')
		return true;
	/* Every segment: non-empty, allowed characters, no leading dot (so
	 * no "..", no hidden files); no trailing slash (no listings). */
	const char *p = uri + 1;
	for (;;) {
		if (*p == '.' || *p == '/' || *p == '\0')
			return false;
		while (*p && *p != '/') {
			if (!seg_char(*p))
				return false;
			p++;
		}
		if (*p == '\0')
			return true;
		p++; /* the '/' */
	}
}

const char *web_mime(const char *name)
{
	static const char *const map[][2] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".webmanifest", "application/manifest+json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".woff2", "font/woff2" },
	};
	const char *dot = strrchr(name, '.');
	const char *slash = strrchr(name, '/');
	if (!dot || (slash && dot < slash))
		return NULL;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(dot, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* A Host header fit to be written into the policy: a name or an address
 * with an optional port, nothing that could end the header or the
 * directive. */
static bool host_ok(const char *h)
{
	size_t n = 0;
	for (; h[n]; n++) {
		char c = h[n];
		if (n >= 255 || !(seg_char(c) || c == ':' || c == '[' || c == ']'))
			return false;
	}
	return n > 0;
}

int web_static_headers(char *buf, size_t cap, const char *host)
{
	char ws[600] = "";
	if (host && host_ok(host))
		snprintf(ws, sizeof ws, " ws://%s wss://%s", host, host);
	int n = snprintf(buf, cap,
			 "Content-Security-Policy: default-src 'none'; script-src 'self'; "
			 "style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
			 "connect-src 'self'%s; manifest-src 'self'; base-uri 'none'; "
			 "form-action 'none'; frame-ancestors 'none'\r\n"
			 "X-Content-Type-Options: nosniff\r\n"
			 "X-Frame-Options: DENY\r\n"
			 "Referrer-Policy: no-referrer\r\n"
			 "Cache-Control: no-cache\r\n",
			 ws);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

const char *web_dev_login_parse(const char *body, size_t len, char *user, bool *moderator)
{
	*moderator = false;
	user[0] = '\0';
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *why = NULL;
	json_t *uid = root ? json_object_get(root, "user_id") : NULL;
	json_t *roles = root ? json_object_get(root, "roles") : NULL;
	if (!json_is_object(root))
		why = "the body must be a JSON object";
	else if (!json_is_string(uid) || !auth_user_id_valid(json_string_value(uid)))
		why = "user_id must be 1-64 characters of A-Za-z0-9._@-";
	else if (roles && !json_is_array(roles))
		why = "roles must be an array";
	if (!why && roles) {
		size_t i;
		json_t *v;
		json_array_foreach(roles, i, v) {
			if (json_is_string(v) && strcmp(json_string_value(v), "moderator") == 0)
				*moderator = true;
			else {
				why = "roles may only hold \"moderator\"";
				break;
			}
		}
	}
	if (!why)
		snprintf(user, AUTH_USER_MAX + 1, "%s", json_string_value(uid));
	json_decref(root);
	return why;
}

/* Bounded label values: every code a client may count, and nothing else. */
static const char *const known_codes[] = {
	/* the protocol's error codes */
	"bad_request", "unauthorized", "token_expired", "revoked", "forbidden", "not_found",
	"too_large", "rate_limited", "rejected", "unavailable", "internal",
	/* the web client's own (docs/web-client.md) */
	"network", "timeout", "upload_failed", "sync_failed", "storage", "script_error",
	"protocol",
};

const char *telemetry_code_label(const char *code)
{
	for (size_t i = 0; i < sizeof known_codes / sizeof known_codes[0]; i++)
		if (strcmp(code, known_codes[i]) == 0)
			return known_codes[i];
	return "other";
}

static bool code_ok(const char *s, size_t len)
{
	if (len == 0 || len > TELEMETRY_CODE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

static const char *count_field(json_t *root, const char *key, int64_t *out)
{
	json_t *v = json_object_get(root, key);
	*out = 0;
	if (!v)
		return NULL;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > TELEMETRY_COUNT_MAX)
		return "reconnects and stuck_sends must be integers 0..1000";
	*out = json_integer_value(v);
	return NULL;
}

static const char *parse_errors(json_t *errs, struct telemetry_report *out)
{
	if (!errs)
		return NULL;
	if (!json_is_array(errs))
		return "errors must be an array";
	if (json_array_size(errs) > TELEMETRY_ERRORS_MAX)
		return "errors holds at most 20 entries";
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e) {
		json_t *code = json_object_get(e, "code");
		json_t *msg = json_object_get(e, "message");
		if (!json_is_object(e))
			return "each error must be an object";
		if (!json_is_string(code) || !code_ok(json_string_value(code), json_string_length(code)))
			return "an error's code must be 1-64 characters of a-z0-9_.-";
		/* jansson strings are valid UTF-8: bytes bound the code points */
		if (msg && (!json_is_string(msg) ||
			    json_string_length(msg) > 4 * TELEMETRY_MESSAGE_MAX))
			return "an error's message must be a string of at most 1000 characters";
		if (msg) {
			size_t cps = 0;
			for (const unsigned char *p = (const unsigned char *)json_string_value(msg); *p; p++)
				cps += (*p & 0xc0) != 0x80;
			if (cps > TELEMETRY_MESSAGE_MAX)
				return "an error's message must be a string of at most 1000 characters";
		}
		memcpy(out->codes[out->n_errors], json_string_value(code),
		       json_string_length(code) + 1);
		out->n_errors++;
	}
	return NULL;
}

const char *telemetry_parse(const char *body, size_t len, struct telemetry_report *out)
{
	memset(out, 0, sizeof *out);
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *why = NULL;
	if (!json_is_object(root))
		why = "the body must be a JSON object";
	if (!why)
		why = count_field(root, "reconnects", &out->reconnects);
	if (!why)
		why = count_field(root, "stuck_sends", &out->stuck_sends);
	if (!why)
		why = parse_errors(json_object_get(root, "errors"), out);
	json_decref(root);
	if (why)
		memset(out, 0, sizeof *out);
	return why;
}

