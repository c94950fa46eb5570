/* mod_compile.h — building a rule host's set from a chatd config: the
 * pieces `chatd rules test`, `chatctl rules test`, the running server
 * (moderation.c) and the dry run (rules_dryrun.c) share.  They use only
 * the config's data and the rule host, so chatctl links them without the
 * daemon's core (libchatdrules.la). */
#ifndef CHATD_MOD_COMPILE_H
#define CHATD_MOD_COMPILE_H

#include <stddef.h>
#include "config.h"
#include "lua_host.h"

/* Compiles cfg's moderation.rules from its rules_dir into h (all or
 * nothing: on failure h keeps its set).  Returns 0 or -1 with the reason
 * (file and line when known) in err. */
int moderation_compile(const struct chatd_config *cfg, struct lua_host *h, char *err,
		       size_t errlen);
/* The options a host for cfg is made with (budget, memory cap, fail
 * mode); callbacks and env left unset. */
void moderation_host_opts(const struct chatd_config *cfg, struct lua_host_opts *o);
/* Replaces cfg's rule list by names, in that order: a name cfg lists keeps
 * its mode and options, any other runs in its file's mode with no
 * options.  Names are copied.  0, or -1 on ENOMEM (cfg unchanged). */
int moderation_select_rules(struct chatd_config *cfg, const char *const *names, size_t n);

#endif
