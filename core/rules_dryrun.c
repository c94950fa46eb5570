/* rules_dryrun.c — replay a conversation's latest stored messages through a
 * candidate rule set (the config file's moderation section as it is now on
 * disk) and summarise what would have changed.  The candidate runs in a host
 * of its own with fresh helper state and no callbacks: a dry run never
 * audits, sanctions or touches the live rules' limiters and strikes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mod_env.h"
#include "moderation.h"
#include "rules_dryrun.h"

#define CHANGED_MAX 100

struct dryrun {
	struct core *c;
	struct lua_host *h;
	struct mod_env *env;
	dryrun_cb done;
	void *arg;
};

static void dryrun_free(struct dryrun *d)
{
	lua_host_free(d->h);
	mod_env_free(d->env);
	free(d);
}

/* The verdict a stored message got, from its provenance ("allow" if none). */
static const char *stored_verdict(const struct chatd_message *m, json_t **prov)
{
	json_error_t e;
	*prov = m->moderation ? json_loads(m->moderation, 0, &e) : NULL;
	const char *v = json_string_value(json_object_get(*prov, "verdict"));
	return v ? v : "allow";
}

static void on_history(void *arg, int status, const struct chatd_message *msgs, size_t n,
		       bool has_more)
{
	(void)has_more;
	struct dryrun *d = arg;
	if (status != CHATD_OK) {
		d->done(d->arg, status, NULL);
		dryrun_free(d);
		return;
	}
	json_t *counts = json_object(), *changed = json_array();
	size_t n_changed = 0;
	for (size_t i = 0; i < n; i++) {
		const struct chatd_message *m = &msgs[i];
		if (m->deleted || !m->text)
			continue;
		struct lua_msg_ctx x = {
			.sender_id = m->sender_id, .conversation_id = m->conversation_id,
			.text = m->text, .text_len = strlen(m->text),
			.client_message_id = m->client_message_id, .ts = m->ts, .seq = m->seq,
		};
		struct lua_decision dec = { 0 };
		lua_host_run(d->h, LUA_HOOK_MESSAGE, &x, &dec);
		const char *would = lua_host_verdict_name(dec.kind);
		json_t *cnt = json_object_get(counts, would);
		json_object_set_new(counts, would, json_integer(json_integer_value(cnt) + 1));
		json_t *prov = NULL;
		const char *was = stored_verdict(m, &prov);
		if (strcmp(was, would) != 0) {
			if (n_changed++ < CHANGED_MAX) {
				json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
						      (json_int_t)m->seq, "sender_id", m->sender_id,
						      "was", was, "would", would, "rule", dec.rule,
						      "code", dec.code, "reason", dec.reason);
				if (o && dec.text)
					json_object_set_new(o, "text", json_stringn(dec.text,
										  dec.text_len));
				json_array_append_new(changed, o);
			}
		}
		json_decref(prov);
		lua_decision_clear(&dec);
	}
	json_t *r = json_pack("{s:I, s:I, s:o, s:I, s:o}", "messages", (json_int_t)n,
			      "rules_version", (json_int_t)lua_host_version(d->h), "would",
			      counts, "changed_total", (json_int_t)n_changed, "changed", changed);
	d->done(d->arg, CHATD_OK, r);
	dryrun_free(d);
}

int rules_dryrun(struct core *c, const char *conversation_id, int limit, dryrun_cb done,
		 void *arg, char *err, size_t errlen)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors errs = { 0 };
	if (!c->cfg->path || c->cfg->path[0] == '<') {
		snprintf(err, errlen, "the server was not started from a config file");
		return CHATD_ERR_INVALID;
	}
	if (cfg_load_file(c->cfg->path, &cfg, &errs) != CHATD_OK) {
		snprintf(err, errlen, "%s", errs.n ? errs.msgs[0] : "the config does not load");
		cfg_errors_clear(&errs);
		return CHATD_ERR_INVALID;
	}
	cfg_errors_clear(&errs);
	struct dryrun *d = calloc(1, sizeof *d);
	struct lua_host_opts o;
	moderation_host_opts(cfg, &o);
	if (d)
		d->env = mod_env_new(NULL);
	o.env = d ? d->env : NULL;
	if (!d || !d->env || !(d->h = lua_host_new(&o, err, errlen)) ||
	    moderation_compile(cfg, d->h, err, errlen) < 0) {
		if (!d)
			snprintf(err, errlen, "out of memory");
		if (d)
			dryrun_free(d);
		cfg_free(cfg);
		return CHATD_ERR_INVALID;
	}
	cfg_free(cfg);
	d->c = c;
	d->done = done;
	d->arg = arg;
	struct chatd_history_req q = {
		.conversation_id = conversation_id, .user_id = NULL, .before = 0, .after = -1,
		.limit = limit,
	};
	int st = c->storage->history(c->storage_inst, &q, on_history, d);
	if (st != CHATD_OK) {
		snprintf(err, errlen, "%s", chatd_strerror(st));
		dryrun_free(d);
	}
	return st;
}
