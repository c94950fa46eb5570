/* media_local — uploads on local disk, HMAC-signed URLs (TODO(media)). */
#include <stdlib.h>
#include "chatd/chatd.h"

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	(void)host; (void)h; (void)instance;
	return CHATD_ERR_INTERNAL;
}

static void fini(void *instance)
{
	free(instance);
}

static const struct chatd_media_ops ops = {
	.struct_size = sizeof(struct chatd_media_ops),
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_MEDIA,
	.name = "local",
	.version = "0.0.0",
	.description = "uploads on local disk with HMAC-signed expiring URLs",
	.options = NULL,
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
