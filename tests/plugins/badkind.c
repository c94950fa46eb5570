/* A presence plugin installed under a storage name: refused as wrong kind. */
#include "chatd/chatd.h"

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	(void)host;
	(void)h;
	*instance = (void *)1;
	return CHATD_OK;
}
static void fini(void *instance) { (void)instance; }
static const struct chatd_presence_ops ops = { .struct_size = sizeof ops };
static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_PRESENCE, .name = "badkind", .version = "0.0.1",
	.init = init, .fini = fini, .ops = &ops,
};
CHATD_PLUGIN_EXPORT(descriptor)
