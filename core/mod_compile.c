/* mod_compile.c — see mod_compile.h. */
#include "mod_compile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int moderation_compile(const struct chatd_config *cfg, struct lua_host *h, char *err,
			size_t errlen)
{
	size_t n = cfg->n_mod_rules;
	struct lua_rule_spec *specs = calloc(n ? n : 1, sizeof *specs);
	char (*paths)[PATH_MAX] = calloc(n ? n : 1, PATH_MAX);
	char lists[PATH_MAX];
	int rc = -1;
	if (!specs || !paths) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(lists, sizeof lists, "%s/lists", cfg->mod_rules_dir);
	for (size_t i = 0; i < n; i++) {
		const struct cfg_rule *r = &cfg->mod_rules[i];
		if ((size_t)snprintf(paths[i], PATH_MAX, "%s/%s.lua", cfg->mod_rules_dir, r->name) >=
		    PATH_MAX) {
			snprintf(err, errlen, "rule %s: path too long", r->name);
			goto out;
		}
		specs[i].path = paths[i];
		specs[i].mode = r->mode < 0 ? -1 : r->mode ? LUA_RULE_OBSERVE : LUA_RULE_ENFORCE;
		specs[i].options_json = r->options_json;
		specs[i].lists_dir = lists;
	}
	rc = lua_host_load_specs(h, specs, n, err, errlen);
out:
	free(specs);
	free(paths);
	return rc;
}

void moderation_host_opts(const struct chatd_config *cfg, struct lua_host_opts *o)
{
	memset(o, 0, sizeof *o);
	o->mem_cap = (size_t)cfg->mod_mem_cap_kib * 1024;
	o->insn_budget = (uint64_t)cfg->mod_insn_budget;
	o->fail_mode = strcmp(cfg->mod_fail_mode, "closed") == 0 ? LUA_FAIL_CLOSED : LUA_FAIL_OPEN;
}

int moderation_select_rules(struct chatd_config *cfg, const char *const *names, size_t n)
{
	struct cfg_rule *r = calloc(n ? n : 1, sizeof *r);
	if (!r)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_rule *old = NULL;
		for (size_t j = 0; j < cfg->n_mod_rules && !old; j++)
			if (strcmp(cfg->mod_rules[j].name, names[i]) == 0)
				old = &cfg->mod_rules[j];
		r[i].name = strdup(names[i]);
		r[i].mode = old ? old->mode : -1;
		r[i].options_json = strdup(old ? old->options_json : "{}");
		if (!r[i].name || !r[i].options_json) {
			for (size_t k = 0; k <= i; k++) {
				free(r[k].name);
				free(r[k].options_json);
			}
			free(r);
			return -1;
		}
	}
	for (size_t j = 0; j < cfg->n_mod_rules; j++) {
		free(cfg->mod_rules[j].name);
		free(cfg->mod_rules[j].options_json);
	}
	free(cfg->mod_rules);
	cfg->mod_rules = r;
	cfg->n_mod_rules = n;
	return 0;
}
