/* loader.c — see loader.h. */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "config.h"

static bool file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int loader_open_path(const char *path, chatd_plugin_kind expected_kind, const char *expected_name,
		     struct loaded_plugin **out, char *err, size_t errlen)
{
	*out = NULL;
	/* RTLD_LOCAL: plugins cannot see each other's symbols; RTLD_NOW:
	 * an unresolved symbol fails here, not in the middle of a request. */
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
		return CHATD_ERR_NOT_FOUND;
	}
	chatd_plugin_describe_fn fn;
	*(void **)&fn = dlsym(dl, CHATD_PLUGIN_SYMBOL);
	if (!fn) {
		snprintf(err, errlen, "%s: not a chatd plugin (no %s symbol)", path,
			 CHATD_PLUGIN_SYMBOL);
		dlclose(dl);
		return CHATD_ERR_ABI;
	}
	const struct chatd_plugin *d = fn();
	const char *why = NULL;
	char buf[160];
	if (!d)
		why = "descriptor is NULL";
	else if (d->abi_major != CHATD_ABI_MAJOR) {
		snprintf(buf, sizeof buf, "built for plugin ABI %u.%u, this chatd speaks %d.%d",
			 d->abi_major, d->abi_minor, CHATD_ABI_MAJOR, CHATD_ABI_MINOR);
		why = buf;
	} else if (d->abi_minor > CHATD_ABI_MINOR) {
		snprintf(buf, sizeof buf, "needs plugin ABI %u.%u, newer than this chatd's %d.%d",
			 d->abi_major, d->abi_minor, CHATD_ABI_MAJOR, CHATD_ABI_MINOR);
		why = buf;
	} else if (d->struct_size < sizeof(struct chatd_plugin))
		why = "descriptor is smaller than struct chatd_plugin";
	else if (!d->name || !d->version || !d->init || !d->fini || !d->ops)
		why = "descriptor lacks name, version, init, fini or ops";
	else if (expected_kind && d->kind != expected_kind) {
		snprintf(buf, sizeof buf, "is a %s plugin, expected a %s plugin",
			 cfg_kind_name(d->kind) ? cfg_kind_name(d->kind) : "unknown-kind",
			 cfg_kind_name(expected_kind));
		why = buf;
	} else if (expected_name && strcmp(d->name, expected_name) != 0) {
		snprintf(buf, sizeof buf, "calls itself \"%s\", expected \"%s\"", d->name,
			 expected_name);
		why = buf;
	}
	if (why) {
		snprintf(err, errlen, "%s: refused: %s", path, why);
		dlclose(dl);
		return CHATD_ERR_ABI;
	}
	struct loaded_plugin *lp = calloc(1, sizeof *lp);
	if (!lp || !(lp->path = strdup(path))) {
		free(lp);
		dlclose(dl);
		snprintf(err, errlen, "%s: out of memory", path);
		return CHATD_ERR_NOMEM;
	}
	lp->dl = dl;
	lp->desc = d;
	*out = lp;
	return CHATD_OK;
}

int loader_open(const char *dir, chatd_plugin_kind kind, const char *name,
		struct loaded_plugin **out, char *err, size_t errlen)
{
	const char *kn = cfg_kind_name(kind);
	char p1[4096], p2[4096];
	if (!kn || !name || strlen(name) > 64) {
		snprintf(err, errlen, "invalid plugin kind or name");
		return CHATD_ERR_INVALID;
	}
	snprintf(p1, sizeof p1, "%s/%s_%s.so", dir, kn, name);
	snprintf(p2, sizeof p2, "%s/%s_%s/.libs/%s_%s.so", dir, kn, name, kn, name);
	const char *path = file_exists(p1) ? p1 : file_exists(p2) ? p2 : NULL;
	if (!path) {
		snprintf(err, errlen, "plugins.%s = \"%s\": no plugin file %s (nor %s)", kn, name,
			 p1, p2);
		*out = NULL;
		return CHATD_ERR_NOT_FOUND;
	}
	return loader_open_path(path, kind, name, out, err, errlen);
}

void loader_close(struct loaded_plugin *lp)
{
	if (!lp)
		return;
	/* Under sanitizers keep the object mapped so leak reports can
	 * still symbolize plugin frames. */
#ifndef CHATD_KEEP_PLUGINS_MAPPED
	dlclose(lp->dl);
#endif
	free(lp->path);
	free(lp);
}

static void list_one(const char *path, int *count)
{
	struct loaded_plugin *lp;
	char err[512];
	if (loader_open_path(path, 0, NULL, &lp, err, sizeof err) == CHATD_OK) {
		const char *kn = cfg_kind_name(lp->desc->kind);
		printf("%-10s %-12s %-8s %s\n           %s\n", kn ? kn : "?", lp->desc->name,
		       lp->desc->version, lp->desc->description ? lp->desc->description : "",
		       path);
		loader_close(lp);
	} else {
		printf("%-10s %-12s %-8s %s\n", "-", "-", "-", err);
	}
	(*count)++;
}

static bool has_so_suffix(const char *n)
{
	size_t l = strlen(n);
	return l > 3 && strcmp(n + l - 3, ".so") == 0;
}

int loader_list(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "cannot open plugin directory %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int count = 0;
	printf("%-10s %-12s %-8s %s\n", "KIND", "NAME", "VERSION", "DESCRIPTION / FILE");
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (has_so_suffix(e->d_name)) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			list_one(path, &count);
		} else {
			snprintf(path, sizeof path, "%s/%s/.libs/%s.so", dir, e->d_name, e->d_name);
			if (file_exists(path))
				list_one(path, &count);
		}
	}
	closedir(d);
	return count;
}
