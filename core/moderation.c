/* moderation.c — the rule set, its helpers' callbacks and the verdict
 * plumbing (see moderation.h).  Sanctions are in sanctions.c, the audit log
 * in audit.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core_loop.h"
#include "core_metrics.h"
#include "log.h"
#include "mod_cluster.h"
#include "mod_env.h"
#include "mod_sanctions.h"
#include "moderation.h"
#include "moderation_priv.h"
#include "pipeline.h"
#include "utf8.h"

int64_t mod_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- helpers' callbacks ---- */

static void on_rule_log(void *ud, const char *rule, const char *level, const char *msg)
{
	(void)ud;
	enum log_level lv = strcmp(level, "error") == 0 ? LOG_ERROR
			    : strcmp(level, "warn") == 0 ? LOG_WARN
			    : strcmp(level, "debug") == 0 ? LOG_DEBUG : LOG_INFO;
	log_msg(lv, "rules", "rule.log", "%s: %s", rule ? rule : "?", msg);
}

static int64_t on_rule_audit(void *ud, const char *rule, const char *event, const char *fields)
{
	struct core *c = ud;
	struct moderation *m = c->mod;
	json_error_t jerr;
	json_t *detail = fields ? json_loads(fields, 0, &jerr) : json_object();
	if (!json_is_object(detail)) {
		json_decref(detail);
		detail = json_object();
	}
	const struct lua_msg_ctx *x = m->run_ctx;
	const char *subject = "";
	if (x) {
		subject = x->sender_id ? x->sender_id : "";
		json_object_set_new(detail, "hook", json_string(lua_host_hook_name(m->run_hook)));
		if (x->conversation_id)
			json_object_set_new(detail, "conversation_id", json_string(x->conversation_id));
		if (x->client_message_id)
			json_object_set_new(detail, "client_message_id",
					    json_string(x->client_message_id));
		if (x->seq > 0)
			json_object_set_new(detail, "seq", json_integer(x->seq));
	}
	char actor[LUA_HOST_NAME_MAX + 8];
	snprintf(actor, sizeof actor, "rule:%s", rule ? rule : "?");
	int64_t id = audit_record(c, actor, event, subject, detail);
	if (id > 0 && m->run_ctx && m->run_audit_id == 0)
		m->run_audit_id = id;
	return id;
}

static int on_rule_sanction(void *ud, const char *rule, const char *user, const char *kind,
			    int64_t duration_ms, const char *reason)
{
	struct core *c = ud;
	char actor[LUA_HOST_NAME_MAX + 8];
	snprintf(actor, sizeof actor, "rule:%s", rule ? rule : "?");
	int64_t until = duration_ms > 0 ? mod_now_ms() + duration_ms : 0;
	return moderation_sanction(c, user, kind, until, reason, actor) == CHATD_OK ? 0 : -1;
}

/* ---- rule set ---- */

int moderation_new(struct core *c, struct moderation **out, char *err, size_t errlen)
{
	*out = NULL;
	struct moderation *m = calloc(1, sizeof *m);
	if (!m || !(m->audit_pending = json_array()) || !(m->audit_sent = json_array())) {
		if (m)
			json_decref(m->audit_pending);
		free(m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->c = c;
	m->storage_ok = CORE_HAS_OP(c->storage, struct chatd_storage_ops, user_seen);
	m->env = mod_env_new(NULL);
	m->sanctions = mod_sanctions_new(0);
	if (!m->env || !m->sanctions || hmap_init(&m->revoked) < 0) {
		snprintf(err, errlen, "out of memory");
		moderation_free(m);
		return -1;
	}
	const struct chatd_config *cfg = c->cfg;
	struct lua_host_opts o;
	moderation_host_opts(cfg, &o);
	o.log_cb = on_rule_log;
	o.log_ud = c;
	o.env = m->env;
	o.cb = (struct lua_host_callbacks){ .ud = c, .audit = on_rule_audit,
					    .sanction = on_rule_sanction };
	m->host = lua_host_new(&o, err, errlen);
	if (!m->host) {
		moderation_free(m);
		return -1;
	}
	if (cfg->n_mod_rules && !m->storage_ok) {
		snprintf(err, errlen, "moderation rules need a storage plugin with ABI 1.1 "
			 "(audit log, queue, sanctions); plugins.storage has an older one");
		moderation_free(m);
		return -1;
	}
	/* The core is not running yet: the helpers' callbacks see no c->mod and
	 * a rule's top-level audit() is dropped, which is what we want. */
	if (moderation_compile(cfg, m->host, err, errlen) < 0) {
		moderation_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

static void on_sanctions_loaded(void *arg, int status, const struct chatd_sanction *items,
				size_t n)
{
	struct core *c = arg;
	struct moderation *m = c->mod;
	if (!m)
		return;
	if (status != CHATD_OK) {
		log_error("moderation", "sanctions.load_failed",
			  "cannot read sanctions: %s; none are enforced until restart",
			  chatd_strerror(status));
		return;
	}
	for (size_t i = 0; i < n; i++)
		sanctions_loaded_row(m, &items[i]);
	m->sanctions_loaded = true;
	log_info("moderation", "sanctions.loaded", "%zu active sanctions", n);
}

void moderation_start(struct core *c)
{
	struct moderation *m = c->mod;
	if (!m)
		return;
	m->cluster = mod_cluster_start(c, m->env);
	if (!m->storage_ok)
		return;
	int st = c->storage->sanction_list_active(c->storage_inst, mod_now_ms(),
						  on_sanctions_loaded, c);
	if (st != CHATD_OK)
		log_error("moderation", "sanctions.load_failed", "cannot read sanctions: %s",
			  chatd_strerror(st));
	audit_load_tail(c);
	log_info("moderation", "rules.loaded", "%zu rules, version %llu, fail mode %s",
		 c->cfg->n_mod_rules, (unsigned long long)lua_host_version(m->host),
		 c->cfg->mod_fail_mode);
}

static void seen_unlink(struct moderation *m, struct seen_req *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		m->seen = q->next;
	if (q->next)
		q->next->prev = q->prev;
	free(q);
}

static void on_user_seen(void *arg, int status, int64_t first_seen)
{
	struct seen_req *q = arg;
	struct core *c = q->c;
	if (status == CHATD_OK)
		sessions_set_first_seen(&c->sessions, q->user, first_seen);
	else
		log_user(LOG_WARN, "moderation", "user_seen.failed", q->user,
			 "first-seen time unknown: %s", chatd_strerror(status));
	seen_unlink(c->mod, q);
}

void moderation_user_seen(struct core *c, const char *user)
{
	struct moderation *m = c->mod;
	if (!m || !m->storage_ok)
		return;
	size_t ul = strlen(user) + 1;
	struct seen_req *q = calloc(1, sizeof *q + ul);
	if (!q)
		return;
	q->c = c;
	memcpy(q->user, user, ul);
	q->next = m->seen;
	if (m->seen)
		m->seen->prev = q;
	m->seen = q;
	if (c->storage->user_seen(c->storage_inst, user, mod_now_ms(), on_user_seen, q) != CHATD_OK)
		seen_unlink(m, q);
}

void moderation_free(struct moderation *m)
{
	if (!m)
		return;
	while (m->seen)
		seen_unlink(m, m->seen);
	mod_cluster_free(m->cluster);
	lua_host_free(m->host);
	mod_env_free(m->env);
	mod_sanctions_free(m->sanctions);
	sanctions_free_revoked(m);
	json_decref(m->audit_pending);
	json_decref(m->audit_sent);
	json_decref(m->audit_refused);
	if (m->audit_retry)
		event_free(m->audit_retry);
	free(m);
}

/* Re-reads the config file for its moderation.rules (list, modes,
 * options, rules_dir); NULL (err set) when it no longer loads.  A config
 * given as a string (tests) is reused as is. */
static struct chatd_config *reread_config(struct core *c, char *err, size_t errlen)
{
	struct chatd_config *fresh = NULL;
	if (!c->cfg->path || c->cfg->path[0] == '<')
		return NULL;
	struct cfg_errors errs = { 0 };
	if (cfg_load_file(c->cfg->path, &fresh, &errs) != CHATD_OK) {
		snprintf(err, errlen, "%s", errs.n ? errs.msgs[0] : "the config does not load");
		cfg_errors_clear(&errs);
		return NULL;
	}
	cfg_errors_clear(&errs);
	return fresh;
}

/* Failures counted by the current set's rules (reset when a set is swapped). */
static uint64_t set_failures(const struct moderation *m)
{
	struct lua_rule_stats st[LUA_HOST_MAX_RULES];
	size_t n = lua_host_stats(m->host, st, LUA_HOST_MAX_RULES);
	uint64_t sum = 0;
	for (size_t i = 0; i < n && i < LUA_HOST_MAX_RULES; i++)
		sum += st[i].failures;
	return sum;
}

int moderation_reload(struct core *c, const char *actor, char *err, size_t errlen)
{
	struct moderation *m = c->mod;
	uint64_t before = lua_host_version(m->host);
	uint64_t old_failures = set_failures(m);
	struct mod_metrics_snap *old_stats = mod_metrics_snapshot(c);
	err[0] = '\0';
	struct chatd_config *fresh = reread_config(c, err, errlen);
	int rc = err[0] ? -1 : moderation_compile(fresh ? fresh : c->cfg, m->host, err, errlen);
	if (rc == 0)
		m->rule_failures += old_failures;   /* keep the total across sets */
	mod_metrics_carry(c, old_stats, rc == 0);
	if (rc == 0 && fresh) {
		/* The new list is in force: keep it (and its rules_dir). */
		struct cfg_rule *r = c->cfg->mod_rules;
		size_t n = c->cfg->n_mod_rules;
		char *dir = c->cfg->mod_rules_dir;
		c->cfg->mod_rules = fresh->mod_rules;
		c->cfg->n_mod_rules = fresh->n_mod_rules;
		c->cfg->mod_rules_dir = fresh->mod_rules_dir;
		fresh->mod_rules = r;
		fresh->n_mod_rules = n;
		fresh->mod_rules_dir = dir;
	}
	cfg_free(fresh);
	json_t *d = rc == 0 ? json_pack("{s:b, s:I, s:I}", "ok", 1, "version",
					(json_int_t)lua_host_version(m->host), "rules",
					(json_int_t)c->cfg->n_mod_rules)
			    : json_pack("{s:b, s:I, s:s}", "ok", 0, "kept_version",
					(json_int_t)before, "error", err);
	audit_record(c, actor, "rules.reload", "", d);
	if (rc == 0)
		log_info("moderation", "rules.reloaded", "version %llu, %zu rules",
			 (unsigned long long)lua_host_version(m->host), c->cfg->n_mod_rules);
	else
		log_warn("moderation", "rules.reload_failed", "kept version %llu: %s",
			 (unsigned long long)before, err);
	return rc;
}

void moderation_run(struct core *c, enum lua_hook hk, const struct lua_msg_ctx *ctx,
		    struct lua_decision *d, int64_t *audit_id)
{
	struct moderation *m = c->mod;
	*audit_id = 0;
	if (!m) {
		memset(d, 0, sizeof *d);
		return;
	}
	m->run_ctx = ctx;
	m->run_hook = hk;
	m->run_audit_id = 0;
	lua_host_run(m->host, hk, ctx, d);
	*audit_id = m->run_audit_id;
	m->run_ctx = NULL;
}

char *moderation_provenance(const struct lua_decision *d, int64_t audit_id, bool shadowed)
{
	if (d->kind == LUA_VERDICT_ALLOW && !shadowed)
		return NULL;
	json_t *p = json_pack("{s:s, s:s, s:I}", "verdict", lua_host_verdict_name(d->kind),
			      "rule", d->rule, "version", (json_int_t)d->version);
	if (!p)
		return NULL;
	if (shadowed && (d->kind == LUA_VERDICT_ALLOW || d->kind == LUA_VERDICT_FLAG ||
			 d->kind == LUA_VERDICT_REWRITE)) {
		json_object_set_new(p, "verdict", json_string("shadow"));
		json_object_set_new(p, "rule", json_string("sanction:shadow"));
		if (d->kind != LUA_VERDICT_ALLOW)
			json_object_set_new(p, "rules_verdict",
					    json_string(lua_host_verdict_name(d->kind)));
	}
	if (d->code[0])
		json_object_set_new(p, "code", json_string(d->code));
	if (d->reason[0])
		json_object_set_new(p, "reason", json_string(d->reason));
	if (d->nflags) {
		json_t *f = json_array();
		for (size_t i = 0; i < d->nflags; i++)
			json_array_append_new(f, json_string(d->flags[i]));
		json_object_set_new(p, "flags", f);
	}
	if (audit_id > 0)
		json_object_set_new(p, "audit_id", json_integer(audit_id));
	char *s = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	return s;
}

void moderation_reply_reject(struct cmd *cmd, const struct lua_decision *d)
{
	if (strcmp(d->code, "rate_limited") == 0) {
		json_t *e = json_pack("{s:s, s:s, s:s, s:b, s:I}", "type", "error", "code",
				      "rate_limited", "message",
				      d->reason[0] ? d->reason : "too many messages; slow down",
				      "retryable", 1, "retry_after_ms",
				      (json_int_t)(d->retry_after_ms > 0 ? d->retry_after_ms : 1000));
		cmd_reply(cmd, e);
		return;
	}
	if (strcmp(d->code, "unavailable") == 0) {
		cmd_error(cmd, "unavailable", "moderation is unavailable; try again");
		return;
	}
	json_t *e = json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "error", "code", "rejected",
			      "message", d->reason[0] ? d->reason : "refused by moderation",
			      "retryable", 0, "reason", d->code[0] ? d->code : "rejected");
	cmd_reply(cmd, e);
}

uint64_t moderation_rules_version(struct core *c)
{
	return c->mod ? lua_host_version(c->mod->host) : 0;
}

/* A rule's call latency in µs since its set was loaded: mean and max
 * exact, p50 and p99 estimated from the histogram; null before any call. */
static json_t *latency_json(const struct lua_rule_latency *l)
{
	uint64_t n = lua_rule_latency_count(l);
	if (n == 0)
		return json_pack("{s:n, s:n, s:n, s:n}", "mean", "p50", "p99", "max");
	return json_pack("{s:f, s:f, s:f, s:f}", "mean", (double)l->sum_ns / (double)n / 1e3,
			 "p50", lua_rule_latency_quantile(l, 0.5) / 1e3, "p99",
			 lua_rule_latency_quantile(l, 0.99) / 1e3, "max", (double)l->max_ns / 1e3);
}

json_t *moderation_rules_json(struct core *c)
{
	struct moderation *m = c->mod;
	struct lua_rule_stats st[LUA_HOST_MAX_RULES];
	size_t n = lua_host_stats(m->host, st, LUA_HOST_MAX_RULES);
	if (n > LUA_HOST_MAX_RULES)
		n = LUA_HOST_MAX_RULES;
	json_t *rules = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object();
		for (int k = 0; k < LUA_VERDICT__COUNT; k++)
			json_object_set_new(v, lua_host_verdict_name((enum lua_verdict)k),
					    json_integer((json_int_t)st[i].verdicts[k]));
		json_array_append_new(rules, json_pack("{s:s, s:s, s:I, s:o, s:I, s:s, s:o}", "name",
			st[i].name, "mode", st[i].mode == LUA_RULE_OBSERVE ? "observe" : "enforce",
			"calls", (json_int_t)st[i].calls, "verdicts", v, "failures",
			(json_int_t)st[i].failures, "last_error", st[i].last_error, "latency_us",
			latency_json(&st[i].lat)));
	}
	struct lua_observe_sample smp[LUA_HOST_SAMPLES];
	size_t ns = lua_host_samples(m->host, smp, LUA_HOST_SAMPLES);
	json_t *samples = json_array();
	for (size_t i = 0; i < ns; i++)
		json_array_append_new(samples, json_pack("{s:s, s:s, s:s, s:s, s:s}", "rule",
			smp[i].rule, "hook", lua_host_hook_name(smp[i].hook), "verdict",
			lua_host_verdict_name(smp[i].verdict), "code", smp[i].code, "reason",
			smp[i].reason));
	char lines[LUA_HOST_LOG_LINES][LUA_HOST_REASON_MAX];
	size_t nl = lua_host_log_lines(m->host, lines, LUA_HOST_LOG_LINES);
	json_t *log = json_array();
	for (size_t i = 0; i < nl; i++)
		json_array_append_new(log, json_string(lines[i]));
	return json_pack("{s:I, s:s, s:I, s:I, s:o, s:o, s:o}", "version",
			 (json_int_t)lua_host_version(m->host), "fail_mode", c->cfg->mod_fail_mode,
			 "failures_total", (json_int_t)(m->rule_failures + set_failures(m)), "mem_used",
			 (json_int_t)lua_host_mem_used(m->host), "rules", rules, "samples", samples,
			 "log", log);
}

/* Rewritten text must be valid UTF-8 within max_text, like a client's. */
bool moderation_rewrite_ok(struct core *c, const struct lua_decision *d)
{
	size_t n = utf8_codepoints(d->text, d->text_len);
	if (!utf8_valid(d->text, d->text_len) || memchr(d->text, '\0', d->text_len) ||
	    n > (size_t)c->cfg->max_text) {
		mod_metrics_rule_failed(c, d->rule);
		log_error("rules", "rule.bad_rewrite", "%s: rewrite() gave %s; ignored", d->rule,
			  n > (size_t)c->cfg->max_text ? "text longer than max_text"
			  : "invalid UTF-8");
		return false;
	}
	return true;
}

bool moderation_check_content(struct cmd *cmd, enum lua_hook hk, const struct lua_msg_ctx *x,
			      struct lua_decision *d, int64_t *audit_id, bool *shadowed)
{
	struct core *c = cmd->core;
	int64_t until = 0;
	const char *stop = moderation_blocking(c, cmd->user, x->ts, &until);
	if (stop)
		log_debug("moderation", "moderation.verdict", "%s: refused, the sender is under a "
			  "%s sanction", lua_host_hook_name(hk), stop);
	if (stop && strcmp(stop, "ban") == 0) {
		cm_command_error(cmd, "revoked");
		core_close_session(c, cmd->session,
				   json_pack("{s:s, s:s, s:s, s:b}", "type", "error", "code", "revoked",
					     "message", "you are banned", "retryable", 0), 4403);
		return false;
	}
	if (stop) {
		json_t *e = json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "error", "code",
				      "rejected", "message", "you are temporarily blocked from sending",
				      "retryable", 0, "reason", "blocked");
		if (e && until)
			json_object_set_new(e, "until_ms", json_integer(until));
		cmd_reply(cmd, e);
		return false;
	}
	*audit_id = 0;
	moderation_run(c, hk, x, d, audit_id);
	log_debug("moderation", "moderation.verdict", "%s: %s (rule %s%s%s)", lua_host_hook_name(hk),
		  lua_host_verdict_name(d->kind), d->rule[0] ? d->rule : "none",
		  d->code[0] ? ", code " : "", d->code);
	if (d->kind == LUA_VERDICT_REJECT) {
		moderation_reply_reject(cmd, d);
		lua_decision_clear(d);
		return false;
	}
	if (d->text && !moderation_rewrite_ok(c, d)) {
		/* A rule produced text we cannot store: a rule failure. */
		if (c->mod && strcmp(c->cfg->mod_fail_mode, "closed") == 0) {
			cmd_error(cmd, "unavailable", "moderation is unavailable; try again");
			lua_decision_clear(d);
			return false;
		}
		free(d->text);
		d->text = NULL;
	}
	*shadowed = moderation_shadowed(c, cmd->user, x->ts);
	return true;
}
