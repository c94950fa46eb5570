/* A storage plugin whose init fails after registering a timer and a metric:
 * start-up must stop with a clear error and the host must clean up. */
#include "chatd/chatd.h"

static void tick(void *arg) { (void)arg; }
static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	(void)instance;
	host->timer_add(h, 1000, true, tick, NULL);
	host->metric_counter(h, "never_total", "registered before failing");
	host->log(h, CHATD_LOG_ERROR, "failinit.init", "failing on purpose");
	return CHATD_ERR_UNAVAILABLE;
}
static void fini(void *instance) { (void)instance; }
static const struct chatd_storage_ops ops = { .struct_size = sizeof ops };
static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_STORAGE, .name = "failinit", .version = "0.0.1",
	.init = init, .fini = fini, .ops = &ops,
};
CHATD_PLUGIN_EXPORT(descriptor)
