/* storage_pg.c — the "pg" storage plugin: descriptor, options, init/fini,
 * health and the ops table.
 *
 * One connection per shard, driven on the core loop (no thread of its
 * own): libpq in non-blocking pipeline mode, the socket watched with the
 * host's io_add (pg_conn.c).  init connects to every shard (blocking, at
 * start-up only), applies the schema migrations and prepares every
 * statement; it fails, with the reason logged, when a shard cannot be
 * reached or holds a newer schema than this plugin knows. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/host.h"
#include "chatd/storage.h"
#include "pg_conn.h"
#include "pg_ops.h"
#include "pg_sql.h"

#define TICK_MS 100

static const struct chatd_option pg_options[] = {
	{ .key = "dsn", .type = CHATD_OPT_STRING, .secret = true,
	  .help = "libpq connection string or URI of the one database (one shard); "
		  "set this or shards" },
	{ .key = "shards", .type = CHATD_OPT_STRING, .secret = true,
	  .help = "several databases: one connection string per line, in a fixed order "
		  "(the first also holds users, sanctions, audit, queue, media)" },
	{ .key = "migrate", .type = CHATD_OPT_BOOL, .def = "true",
	  .help = "apply pending schema migrations at start (false: refuse to start "
		  "unless the schema is current)" },
	{ .key = "batch_max", .type = CHATD_OPT_INT, .def = "256", .min = 1, .max = 10000,
	  .help = "most statements in one pipelined batch (one transaction)" },
	{ .key = "pipeline_depth", .type = CHATD_OPT_INT, .def = "4", .min = 1, .max = 64,
	  .help = "batches in flight per connection" },
	{ .key = "op_timeout_ms", .type = CHATD_OPT_INT, .def = "10000", .min = 100,
	  .max = 600000, .help = "a batch unanswered this long drops the connection: its "
				 "ops fail with unavailable" },
	{ .key = "connect_timeout_ms", .type = CHATD_OPT_INT, .def = "5000", .min = 100,
	  .max = 600000, .help = "how long one connection attempt may take" },
	{ .key = "reconnect_min_ms", .type = CHATD_OPT_INT, .def = "100", .min = 10,
	  .max = 600000, .help = "first delay before reconnecting (doubled per failure)" },
	{ .key = "reconnect_max_ms", .type = CHATD_OPT_INT, .def = "5000", .min = 10,
	  .max = 600000, .help = "longest delay between reconnection attempts" },
	{ .key = NULL },
};

static void tick(void *arg)
{
	struct pg_store *s = arg;
	for (size_t i = 0; i < s->n_shards; i++)
		pg_conn_tick(s->shards[i]);
}

static int pg_health(void *inst)
{
	struct pg_store *s = pg_store_of(inst);
	for (size_t i = 0; i < s->n_shards; i++)
		if (!pg_conn_ready(s->shards[i]))
			return CHATD_ERR_UNAVAILABLE;
	return CHATD_OK;
}

static void pg_fini(void *inst)
{
	struct pg_store *s = pg_store_of(inst);
	s->stopping = true;
	if (s->tick)
		s->host->timer_cancel(s->h, s->tick);
	for (size_t i = 0; i < s->n_shards; i++)
		pg_conn_close(s->shards[i]);
	s->magic = 0;
	free(s);
}

static int bad_option(const struct chatd_host *host, chatd_plugin_handle *h, const char *msg)
{
	host->log(h, CHATD_LOG_ERROR, "pg.bad_option", "%s", msg);
	return CHATD_ERR_INVALID;
}

static int pg_init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	if (host->struct_size < offsetof(struct chatd_host, io_remove) + sizeof(host->io_remove) ||
	    !host->io_add || !host->io_set || !host->io_remove) {
		host->log(h, CHATD_LOG_ERROR, "pg.host_too_old",
			  "storage_pg needs a chatd with plugin ABI 1.4 (fd watches)");
		return CHATD_ERR_ABI;
	}
	const char *dsn = NULL, *shards = NULL;
	if (host->config_string(h, "dsn", &dsn) < 0)
		dsn = NULL;
	if (host->config_string(h, "shards", &shards) < 0)
		shards = NULL;
	if ((dsn && *dsn) == (shards && *shards))
		return bad_option(host, h, "set exactly one of dsn (one database) and shards "
				  "(one connection string per line)");
	struct pg_store *s = calloc(1, sizeof(*s));
	if (!s)
		return CHATD_ERR_NOMEM;
	s->magic = PG_STORE_MAGIC;
	s->host = host;
	s->h = h;
	int64_t v;
	bool migrate = true;
	host->config_bool(h, "migrate", &migrate);
	host->config_int(h, "batch_max", &v);
	s->batch_max = (int)v;
	host->config_int(h, "pipeline_depth", &v);
	s->pipeline_depth = (int)v;
	host->config_int(h, "op_timeout_ms", &s->op_timeout_ms);
	host->config_int(h, "connect_timeout_ms", &s->connect_timeout_ms);
	host->config_int(h, "reconnect_min_ms", &s->reconnect_min_ms);
	host->config_int(h, "reconnect_max_ms", &s->reconnect_max_ms);
	if (s->reconnect_max_ms < s->reconnect_min_ms) {
		free(s);
		return bad_option(host, h, "reconnect_max_ms is below reconnect_min_ms");
	}

	char *list[PG_SHARDS_MAX];
	int n = dsn && *dsn ? pg_split_dsns(dsn, list, 1) : pg_split_dsns(shards, list, PG_SHARDS_MAX);
	if (n == -1) {
		free(s);
		return CHATD_ERR_NOMEM;
	}
	if (n <= 0) {
		free(s);
		return bad_option(host, h, n == 0 ? "dsn/shards: no connection string"
				  : dsn && *dsn ? "dsn: one connection string (several: use shards)"
				  : "shards: more than 64 connection strings");
	}
	s->m_queries = host->metric_counter(h, "queries", "statements sent to PostgreSQL");
	s->m_batches = host->metric_counter(h, "batches", "pipelined batches committed");
	s->m_errors = host->metric_counter(h, "query_errors", "statements that failed");
	s->m_retries = host->metric_counter(h, "retries",
					    "statements run again after a deadlock or serialization failure");
	s->m_reruns = host->metric_counter(h, "reruns", "statements sent again, alone, because "
					   "another statement of their batch failed");
	s->m_reconnects = host->metric_counter(h, "reconnects", "connections established again");
	s->m_timeouts = host->metric_counter(h, "timeouts", "connections dropped for a batch "
							    "unanswered within op_timeout_ms");
	s->m_unavailable = host->metric_counter(h, "unavailable",
						"ops failed because a shard was not connected");
	int st = CHATD_OK;
	for (int i = 0; i < n; i++) {
		if (st == CHATD_OK) {
			st = pg_conn_open(s, (size_t)i, list[i], migrate, &s->shards[i]);
			if (st == CHATD_OK)
				s->n_shards++;
		}
		free(list[i]);
	}
	if (st == CHATD_OK && !(s->tick = host->timer_add(h, TICK_MS, true, tick, s)))
		st = CHATD_ERR_NOMEM;
	if (st < 0) {
		s->stopping = true;
		for (size_t i = 0; i < s->n_shards; i++)
			pg_conn_close(s->shards[i]);
		free(s);
		return st;
	}
	host->log(h, CHATD_LOG_INFO, "pg.started", "%zu shard%s, schema %d", s->n_shards,
		  s->n_shards == 1 ? "" : "s", PG_SCHEMA_VERSION);
	*instance = s;
	return CHATD_OK;
}

static const struct chatd_storage_ops pg_ops = {
	.struct_size = sizeof(struct chatd_storage_ops),
	.precheck = pg_precheck,
	.append = pg_append,
	.history = pg_history,
	.sync = pg_sync,
	.conv_create_direct = pg_conv_create_direct,
	.conv_create_group = pg_conv_create_group,
	.conv_list = pg_conv_list,
	.conv_get = pg_conv_get,
	.health = pg_health,
	.audit_append = pg_audit_append,
	.audit_list = pg_audit_list,
	.mod_item_add = pg_mod_item_add,
	.mod_item_list = pg_mod_item_list,
	.mod_item_resolve = pg_mod_item_resolve,
	.message_set_visibility = pg_set_visibility,
	.sanction_add = pg_sanction_add,
	.sanction_lift = pg_sanction_lift,
	.sanction_list_active = pg_sanction_list_active,
	.user_seen = pg_user_seen,
	.conv_change = pg_conv_change,
	.members_get = pg_members_get,
	.message_get = pg_message_get,
	.message_edit = pg_message_edit,
	.message_delete = pg_message_delete,
	.message_hide = pg_message_hide,
	.purge_deleted = pg_purge_deleted,
	.cursors_advance = pg_cursors_advance,
	.media_put = pg_media_put,
	.media_get = pg_media_get,
	.media_ready = pg_media_ready,
	.media_usage = pg_media_usage,
	.media_access = pg_media_access,
	.media_orphans = pg_media_orphans,
	.media_remove = pg_media_remove,
	.user_first_seen = pg_user_first_seen,
	.messages_latest = pg_messages_latest,
	.search = pg_search,
	.notify_mute_set = pg_notify_mute_set,
	.notify_targets = pg_notify_targets,
	.texts_scan = pg_texts_scan,
	.text_replace = pg_text_replace,
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_STORAGE,
	.name = "pg",
	.version = "1.1.0",
	.description = "PostgreSQL (libpq pipeline mode on the core loop; shards by conversation)",
	.options = pg_options,
	.init = pg_init,
	.fini = pg_fini,
	.ops = &pg_ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
