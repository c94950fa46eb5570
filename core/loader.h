/* loader.h — finds, opens and checks plugin shared objects.
 *
 * A plugin of kind K and name N is the file K_N.so in the plugin directory,
 * or K_N/.libs/K_N.so (the layout of a build tree, so a freshly built tree
 * runs without installing).  Every refusal names the file and the reason:
 * dlopen failure, no chatd_plugin_describe symbol, ABI major differs, ABI
 * minor newer than the host's, descriptor too small, wrong kind, wrong
 * name, missing init/fini/ops. */
#ifndef CHATD_LOADER_H
#define CHATD_LOADER_H

#include <stddef.h>
#include "chatd/plugin.h"

struct loaded_plugin {
	char *path;                         /* the file opened (owned) */
	void *dl;                           /* dlopen handle */
	const struct chatd_plugin *desc;    /* inside the object */
};

/* Open and check; on failure returns a negative status and writes a message
 * naming the file into err. */
int loader_open(const char *dir, chatd_plugin_kind kind, const char *name,
		struct loaded_plugin **out, char *err, size_t errlen);
/* Open and check one file whose kind is not known in advance (for
 * --list-plugins). expected_kind 0 = any. */
int loader_open_path(const char *path, chatd_plugin_kind expected_kind, const char *expected_name,
		     struct loaded_plugin **out, char *err, size_t errlen);
void loader_close(struct loaded_plugin *lp);

/* Print every plugin found in dir (name, kind, version, file, or why it is
 * refused) to stdout.  Returns the number found. */
int loader_list(const char *dir);

#endif
