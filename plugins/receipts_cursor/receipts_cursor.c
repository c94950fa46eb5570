/* receipts_cursor — read cursors, written behind (TODO(receipts)). */
#include <stdlib.h>
#include "chatd/chatd.h"

static int mark_read(void *inst, const char *conversation_id, const char *user_id, int64_t seq,
		     int64_t stored, int64_t member_count)
{
	(void)inst; (void)conversation_id; (void)user_id; (void)seq; (void)stored; (void)member_count;
	return 0;
}

static int64_t cursor(void *inst, const char *conversation_id, const char *user_id, int64_t stored)
{
	(void)inst; (void)conversation_id; (void)user_id;
	return stored;
}

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	(void)host; (void)h;
	*instance = calloc(1, 1);
	return *instance ? CHATD_OK : CHATD_ERR_NOMEM;
}

static void fini(void *instance)
{
	free(instance);
}

static const struct chatd_receipts_ops ops = {
	.struct_size = sizeof(struct chatd_receipts_ops),
	.mark_read = mark_read,
	.cursor = cursor,
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_RECEIPTS,
	.name = "cursor",
	.version = "0.0.0",
	.description = "read cursors per member, written behind",
	.options = NULL,
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
