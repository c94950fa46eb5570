/* media_plugin.c — media_local's one exported symbol.  Apart from the rest
 * so that the unit tests can link the plugin next to storage_sqlite's,
 * which exports the same name. */
#include "media_local.h"

CHATD_PLUGIN_EXPORT(media_local_plugin)
