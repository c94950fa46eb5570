/* A storage plugin built for a future ABI major: the loader must refuse it. */
#include "chatd/chatd.h"

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	(void)host;
	(void)h;
	*instance = (void *)1;
	return CHATD_OK;
}
static void fini(void *instance) { (void)instance; }
static const struct chatd_storage_ops ops = { .struct_size = sizeof ops };
static const struct chatd_plugin descriptor = {
	.abi_major = CHATD_ABI_MAJOR + 1, .abi_minor = 0, .struct_size = sizeof(struct chatd_plugin),
	.kind = CHATD_KIND_STORAGE, .name = "badmajor", .version = "0.0.1",
	.init = init, .fini = fini, .ops = &ops,
};
CHATD_PLUGIN_EXPORT(descriptor)
