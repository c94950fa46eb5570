/* fuzz_admin.c — libFuzzer target for the admin API's request parsing
 * (core/admin_parse.c) without a listener.  The input is
 *   <role byte> <METHOD> ' ' <request-target> '\n' <body>
 * The role byte (mod 3) is the token's role (user, moderator, admin).  The
 * request-target goes through the libevent parser evhttp uses for request
 * lines (evhttp_uri_parse_with_flags, EVHTTP_URI_NONCONFORMANT), then the
 * same steps as admin_http.c / admin_routes.c / the handlers: path and
 * query, body, route, the path's id checks, the query integers and the
 * body's arguments (every body parser runs on every body).
 * Oracles: a found route's pattern, filled with the parsed segments, spells
 * the path again and its method and role agree; every accepted argument is
 * inside its documented bounds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "admin_parse.h"
#include "auth.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_admin: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* The route's pattern with "*" → arg and "#" → id must be the path. */
static void check_route(const char *method, const char *path, enum admin_role role,
			enum admin_find f, const struct admin_target *t)
{
	if (f == ADMIN_FIND_NOT_FOUND || f == ADMIN_FIND_METHOD)
		return;
	CHECK(t->route < ADMIN_R_COUNT);
	const struct admin_route_def *d = &admin_route_defs[t->route];
	CHECK(strcmp(d->method, method) == 0);
	CHECK((f == ADMIN_FIND_FORBIDDEN) == (role < d->role));
	if (f != ADMIN_FIND_OK || t->arg_long)
		return;
	char again[4096];
	size_t n = 0;
	for (const char *q = d->pattern; *q && n < sizeof again - 32; q++) {
		if (*q == '*')
			n += (size_t)snprintf(again + n, sizeof again - n, "%s", t->arg);
		else if (*q == '#')
			n += (size_t)snprintf(again + n, sizeof again - n, "%lld", (long long)t->id);
		else
			again[n++] = *q;
		if (n >= sizeof again)
			return;
	}
	again[n] = '\0';
	CHECK(t->id >= 0);
	/* "#" may have had leading zeros ("/v1/queue/007"): compare loosely
	 * then, exactly otherwise. */
	if (!strchr(d->pattern, '#'))
		CHECK(strcmp(again, path) == 0);
	else
		CHECK(t->id > 0);
}

static void check_args(const struct admin_target *t)
{
	if (admin_user_arg_ok(t))
		CHECK(auth_user_id_valid(t->arg) && strlen(t->arg) <= 64 && !t->arg_long);
	if (admin_conv_arg_ok(t)) {
		size_t n = strlen(t->arg);
		CHECK(n >= 1 && n <= 64 && !strchr(t->arg, ' ') && !strchr(t->arg, '/'));
	}
}

static void check_query(struct evkeyvalq *q)
{
	static const struct { const char *key; long long min, max; } ints[] = {
		{ "after", 0, INT64_MAX }, { "limit", 1, 1000 }, { "newest", 0, 1 },
		{ "around", 1, 1LL << 53 }, { "context", 0, 20 }, { "offset", 0, 1LL << 31 },
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		const char *v = evhttp_find_header(q, ints[i].key);
		long long n = -7;
		if (v && admin_parse_int(v, ints[i].min, ints[i].max, &n))
			CHECK(n >= ints[i].min && n <= ints[i].max);
	}
	const char *st = evhttp_find_header(q, "status"), *kd = evhttp_find_header(q, "kind");
	if (admin_list_filter_ok(st, kd) && kd)
		CHECK(strcmp(kd, "report") == 0 || strcmp(kd, "flag") == 0 ||
		      strcmp(kd, "hold") == 0 || strcmp(kd, "appeal") == 0);
}

static void check_bodies(json_t *body)
{
	struct admin_sanction_args s;
	if (!admin_parse_sanction(body, &s)) {
		CHECK(s.kind && (strcmp(s.kind, "ban") == 0 || strcmp(s.kind, "shadow") == 0 ||
				 strcmp(s.kind, "block") == 0));
		CHECK(s.duration_ms >= 0 && s.duration_ms <= (1LL << 50));
		CHECK(strcmp(s.kind, "block") != 0 || s.duration_ms > 0);
		CHECK(!s.reason || strlen(s.reason) <= 1000);
	}
	struct admin_token_args tk;
	if (!admin_parse_token(body, &tk)) {
		CHECK(auth_user_id_valid(tk.sub));
		CHECK(tk.ttl_s >= 1 && tk.ttl_s <= ADMIN_TOKEN_TTL_MAX);
		for (int i = 0; tk.roles[i]; i++) {
			CHECK(i < 2);
			CHECK(strcmp(tk.roles[i], "admin") == 0 || strcmp(tk.roles[i], "moderator") == 0);
		}
		CHECK(!tk.roles[0] || !tk.roles[1] || strcmp(tk.roles[0], tk.roles[1]) != 0);
		CHECK(tk.roles[2] == NULL);
	}
	static const char *const fixed[] = { NULL, "approve", "reject", "grant", "deny" };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		struct admin_resolve_args r;
		if (!admin_parse_resolve(body, fixed[i], &r)) {
			CHECK(r.action && strlen(r.action) < ADMIN_ACTION_MAX);
			CHECK(!fixed[i] || r.action == fixed[i]);
			CHECK(!r.note || strlen(r.note) < ADMIN_NOTE_BYTES);
			CHECK(r.duration_ms >= 0 && r.duration_ms <= (1LL << 50));
		}
	}
	const char *text;
	if (!admin_parse_appeal(body, &text))
		CHECK(text && text[0] && strlen(text) <= 8000);
	struct admin_dryrun_args d;
	if (!admin_parse_dryrun(body, &d)) {
		CHECK(d.limit >= 1 && d.limit <= ADMIN_DRYRUN_LIMIT);
		CHECK(d.n_rules <= ADMIN_DRYRUN_RULES_MAX);
		CHECK(!d.conversation_id || (d.conversation_id[0] &&
					     strlen(d.conversation_id) <= 64));
		for (size_t i = 0; i < d.n_rules; i++) {
			CHECK(cfg_rule_name_ok(d.rules[i], strlen(d.rules[i])));
			for (size_t j = 0; j < i; j++)
				CHECK(strcmp(d.rules[i], d.rules[j]) != 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > ADMIN_BODY_MAX + 8192)
		return 0;
	enum admin_role role = (enum admin_role)(data[0] % 3);
	const char *line = (const char *)data + 1;
	const char *nl = memchr(line, '\n', size - 1);
	size_t llen = nl ? (size_t)(nl - line) : size - 1;
	const char *body = nl ? nl + 1 : line + llen;
	size_t blen = size - 1 - llen - (nl ? 1 : 0);

	char *req = strndup(line, llen);   /* cut at a NUL, as a C parser would */
	if (!req)
		return 0;
	char *sp = strchr(req, ' ');
	const char *method = req;
	const char *uri = sp ? sp + 1 : "";
	if (sp)
		*sp = '\0';
	bool method_ok = strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ||
			 strcmp(method, "DELETE") == 0;

	struct evhttp_uri *u = evhttp_uri_parse_with_flags(uri, EVHTTP_URI_NONCONFORMANT);
	struct evkeyvalq query;
	TAILQ_INIT(&query);
	char *path = NULL;
	if (u && admin_parse_target(evhttp_uri_get_path(u), evhttp_uri_get_query(u), &path,
				    &query) == 0) {
		CHECK(path != NULL);
		check_query(&query);
		struct admin_target t;
		if (method_ok) {
			enum admin_find f = admin_route_find(method, path, role, &t);
			check_route(method, path, role, f, &t);
			check_args(&t);
		}
	} else {
		CHECK(path == NULL);
	}
	json_t *jb = NULL;
	char msg[240];
	int code = admin_parse_body(body, blen, &jb, msg, sizeof msg);
	CHECK(code == 0 || code == 400 || code == 413);
	CHECK(code != 0 || (blen == 0) == (jb == NULL));
	CHECK(!jb || json_is_object(jb));
	if (code == 0)
		check_bodies(jb);
	json_decref(jb);
	evhttp_clear_headers(&query);
	free(path);
	if (u)
		evhttp_uri_free(u);
	free(req);
	return 0;
}
