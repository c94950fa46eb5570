/* rules_dryrun.c — replay stored messages (a conversation's latest, or the
 * latest of all) through a candidate rule set (the config file's list as it
 * is now on disk, or rules named by the caller) and summarise what would
 * have changed.  The candidate runs in a host of its own with fresh helper
 * state and no callbacks: a dry run never audits, sanctions or touches the
 * live rules' limiters and strikes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "mod_env.h"
#include "moderation.h"
#include "rules_dryrun.h"

#define CHANGED_MAX 100

struct dryrun {
	struct core *c;
	struct lua_host *h;
	struct mod_env *env;
	json_t *rules;                 /* the names compiled */
	dryrun_cb done;
	void *arg;
};

static void dryrun_free(struct dryrun *d)
{
	lua_host_free(d->h);
	mod_env_free(d->env);
	json_decref(d->rules);
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
				json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}",
						      "conversation_id", m->conversation_id, "seq",
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
	json_t *r = json_pack("{s:I, s:I, s:O, s:o, s:I, s:o}", "messages", (json_int_t)n,
			      "rules_version", (json_int_t)lua_host_version(d->h), "rules", d->rules,
			      "would", counts, "changed_total", (json_int_t)n_changed, "changed",
			      changed);
	d->done(d->arg, CHATD_OK, r);
	dryrun_free(d);
}

/* Every named rule has its file in rules_dir; false (err set) at the first
 * that does not. */
static bool rules_exist(const struct chatd_config *cfg, const struct dryrun_req *q, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < q->n_rules; i++) {
		char path[4096];
		struct stat st;
		int n = snprintf(path, sizeof path, "%s/%s.lua", cfg->mod_rules_dir, q->rules[i]);
		if (n < 0 || (size_t)n >= sizeof path) {
			snprintf(err, errlen, "rule %s: path too long", q->rules[i]);
			return false;
		}
		const char *why = stat(path, &st) < 0 ? strerror(errno)
				  : !S_ISREG(st.st_mode) ? "not a file" : NULL;
		if (why) {
			snprintf(err, errlen, "no rule '%s' in rules_dir: %s: %s", q->rules[i], path,
				 why);
			return false;
		}
	}
	return true;
}

/* The candidate host for q, compiled: NULL with *why and err set. */
static struct dryrun *candidate(struct core *c, const struct dryrun_req *q,
				enum dryrun_refusal *why, char *err, size_t errlen)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors errs = { 0 };
	*why = DRYRUN_CONFIG;
	if (!c->cfg->path || c->cfg->path[0] == '<') {
		snprintf(err, errlen, "the server was not started from a config file");
		return NULL;
	}
	if (cfg_load_file(c->cfg->path, &cfg, &errs) != CHATD_OK) {
		snprintf(err, errlen, "%s", errs.n ? errs.msgs[0] : "the config does not load");
		cfg_errors_clear(&errs);
		return NULL;
	}
	cfg_errors_clear(&errs);
	struct dryrun *d = NULL;
	if (q->rules) {
		*why = DRYRUN_UNKNOWN_RULE;
		if (!rules_exist(cfg, q, err, errlen))
			goto fail;
		if (moderation_select_rules(cfg, q->rules, q->n_rules) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		*why = DRYRUN_RULE_INVALID;
	}
	struct lua_host_opts o;
	moderation_host_opts(cfg, &o);
	if (!(d = calloc(1, sizeof *d)) || !(d->env = mod_env_new(NULL)) ||
	    !(d->rules = json_array())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	o.env = d->env;
	if (!(d->h = lua_host_new(&o, err, errlen)) || moderation_compile(cfg, d->h, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < cfg->n_mod_rules; i++)
		json_array_append_new(d->rules, json_string(cfg->mod_rules[i].name));
	cfg_free(cfg);
	return d;
fail:
	if (d)
		dryrun_free(d);
	cfg_free(cfg);
	return NULL;
}

int rules_dryrun(struct core *c, const struct dryrun_req *q, dryrun_cb done, void *arg,
		 enum dryrun_refusal *why, char *err, size_t errlen)
{
	if (!q->conversation_id &&
	    !CORE_HAS_OP(c->storage, struct chatd_storage_ops, messages_latest)) {
		*why = DRYRUN_NO_LATEST;
		snprintf(err, errlen, "the storage plugin cannot list the latest messages of all "
			 "conversations (it predates plugin ABI 1.4): give conversation_id");
		return CHATD_ERR_INVALID;
	}
	struct dryrun *d = candidate(c, q, why, err, errlen);
	if (!d)
		return CHATD_ERR_INVALID;
	d->c = c;
	d->done = done;
	d->arg = arg;
	int st;
	if (q->conversation_id) {
		struct chatd_history_req h = {
			.conversation_id = q->conversation_id, .user_id = NULL, .before = 0,
			.after = -1, .limit = q->limit,
		};
		st = c->storage->history(c->storage_inst, &h, on_history, d);
	} else {
		st = c->storage->messages_latest(c->storage_inst, q->limit, on_history, d);
	}
	if (st != CHATD_OK) {
		snprintf(err, errlen, "%s", chatd_strerror(st));
		dryrun_free(d);
	}
	return st;
}
