/* cmd_search.c — full-text search (protocol extension `search`): the
 * user's text parsed by search_query.c, answered by the storage plugin's
 * search op (ABI 1.4), which applies history's visibility for the user. */
#include <stdlib.h>
#include <string.h>
#include "core_metrics.h"
#include "pipeline.h"
#include "proto_decode.h"
#include "proto_encode.h"
#include "search_query.h"
#include "storage_crypt.h"

#define SEARCH_DEFAULT 20

struct search_cmd {
	struct cmd base;
	struct search_query q;
};

static void on_search(void *arg, int status, const struct chatd_search_hit *hits, size_t n,
		      int64_t next)
{
	struct search_cmd *s = arg;
	cm_storage_done(s->base.core, "search", s->base.t_op_ns);
	if (!cmd_failed(&s->base, status)) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++) {
			json_t *m = proto_message_for(&hits[i].msg, s->base.user);
			if (m)
				json_object_set_new(m, "snippet", json_string(hits[i].snippet));
			json_array_append_new(a, m);
		}
		cmd_reply(&s->base, json_pack("{s:s, s:o, s:o}", "type", "search", "results", a,
					      "next", next > 0 ? json_integer(next) : json_null()));
	}
	cmd_free(&s->base);
}

void cmd_search(struct cmd *c)
{
	struct core *core = c->core;
	if (!CORE_HAS_OP(core->storage, struct chatd_storage_ops, search)) {
		cmd_error(c, "unavailable", "the storage plugin cannot search");
		return;
	}
	/* The index would hold ciphertext: search is off while text is sealed. */
	if (storage_crypt_sealing()) {
		cmd_error(c, "unavailable", "search is off: messages are encrypted at rest");
		return;
	}
	const char *text = NULL, *conv = NULL;
	long long before = 0, limit = SEARCH_DEFAULT;
	json_t *qv = json_object_get(c->msg, "query");
	if (!json_is_string(qv)) {
		cmd_error(c, "bad_request", "query must be a string");
		return;
	}
	text = json_string_value(qv);
	if (!proto_get_id_string(c->msg, "conversation_id", false, 1, CHATD_ID_MAX, &conv, c->err) ||
	    !proto_get_int(c->msg, "before", false, 1, (1LL << 53), &before, c->err) ||
	    !proto_get_int(c->msg, "limit", false, 1, (1LL << 53), &limit, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	if (limit > CHATD_SEARCH_LIMIT_MAX)
		limit = CHATD_SEARCH_LIMIT_MAX;
	struct search_cmd *s = cmd_clone(c, sizeof *s);
	if (!s) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	/* The clone owns msg now: text and conv still point into it. */
	if (search_query_parse(text, json_string_length(qv), &s->q, s->base.err,
			       sizeof s->base.err) < 0) {
		cmd_error(&s->base, "bad_request", s->base.err);
		cmd_free(&s->base);
		return;
	}
	struct chatd_search_req req = {
		.viewer = s->base.user,
		.conversation_id = conv,
		.terms = s->q.terms,
		.n_terms = s->q.n_terms,
		.before = before,
		.limit = (int)limit,
	};
	s->base.t_op_ns = cm_now();
	int st = core->storage->search(core->storage_inst, &req, on_search, s);
	if (st != CHATD_OK) {
		cmd_failed(&s->base, st);
		cmd_free(&s->base);
	}
}
