/* receipts_cursor — read cursors per member, written behind: a burst of
 * read frames becomes one storage write per flush interval
 * (cursor_writer.c), and the cursors waiting meanwhile overlay what
 * storage returns (cursor_map.c).  This file is the descriptor, the
 * options and the glue. */
#include <stddef.h>
#include <stdint.h>
#include "chatd/chatd.h"
#include "cursor_writer.h"

static const struct chatd_option options[] = {
	{ .key = "max_members", .type = CHATD_OPT_INT, .def = "100", .min = 0, .max = INT64_MAX,
	  .help = "`receipt` frames are pushed to the other members only in conversations "
		  "with at most this many members (0: never); cursors move in every one" },
	{ .key = "flush_interval_ms", .type = CHATD_OPT_INT, .def = "1000", .min = 50,
	  .max = 60000,
	  .help = "how often waiting read cursors are written to storage, all in one call" },
	{ .key = "max_pending", .type = CHATD_OPT_INT, .def = "10000", .min = 1,
	  .max = CW_BATCH_MAX,
	  .help = "this many cursors waiting make the write start at once" },
	{ .key = NULL },
};

static int mark_read(void *inst, const char *conversation_id, const char *user_id, int64_t seq,
		     int64_t stored, int64_t member_count)
{
	return cw_mark_read(inst, conversation_id, user_id, seq, stored, member_count);
}

static int64_t cursor(void *inst, const char *conversation_id, const char *user_id, int64_t stored)
{
	return cw_cursor(inst, conversation_id, user_id, stored);
}

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	const struct chatd_storage_ops *st = NULL;
	void *st_inst = NULL;
	host->storage(h, &st, &st_inst);
	if (!st || st->struct_size < offsetof(struct chatd_storage_ops, cursors_advance) +
						 sizeof st->cursors_advance ||
	    !st->cursors_advance) {
		host->log(h, CHATD_LOG_ERROR, "receipts.no_storage_op",
			  "the storage plugin has no cursors_advance (plugin ABI < 1.3)");
		return CHATD_ERR_ABI;
	}
	struct cw_config cfg;
	if (host->config_int(h, "max_members", &cfg.max_members) != CHATD_OK ||
	    host->config_int(h, "flush_interval_ms", &cfg.flush_interval_ms) != CHATD_OK ||
	    host->config_int(h, "max_pending", &cfg.max_pending) != CHATD_OK)
		return CHATD_ERR_INVALID;
	struct cw *w = NULL;
	int rc = cw_new(host, h, st, st_inst, &cfg, &w);
	if (rc != CHATD_OK)
		return rc;
	*instance = w;
	return CHATD_OK;
}

static void fini(void *instance)
{
	cw_free(instance);
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
	.version = "1.0.0",
	.description = "read cursors per member, written behind in batches",
	.options = options,
	.init = init,
	.fini = fini,
	.ops = &ops,
};

/* The unit tests include this file next to another plugin's export. */
#ifndef RECEIPTS_CURSOR_NO_EXPORT
CHATD_PLUGIN_EXPORT(descriptor)
#endif
