/* notify_webhook.c — the notify plugin "webhook" (ABI 1.4): offline
 * notifications POSTed as signed JSON to one URL, batched per recipient,
 * retried with exponential backoff, on a worker thread (nw_worker.c).
 * This file: options, init/fini, the op, metrics. */
#include <stdlib.h>
#include <string.h>
#include "nw.h"

static const struct chatd_option options[] = {
	{ .key = "url", .type = CHATD_OPT_STRING, .required = true,
	  .help = "where notifications are POSTed: http://host[:port][/path] (no TLS: put a "
		  "local proxy in front of an https gateway)" },
	{ .key = "secret", .type = CHATD_OPT_STRING, .required = true, .secret = true,
	  .help = "HMAC-SHA256 key of the X-Chatd-Signature header, at least 16 characters" },
	{ .key = "preview", .type = CHATD_OPT_STRING, .def = "truncated",
	  .help = "message text in the payload: full, truncated (preview_chars) or none" },
	{ .key = "preview_chars", .type = CHATD_OPT_INT, .def = "80", .min = 1, .max = 4096,
	  .help = "characters kept by preview = truncated" },
	{ .key = "batch_window_ms", .type = CHATD_OPT_INT, .def = "2000", .min = 0,
	  .max = 600000, .help = "a recipient's messages within this window go in one POST" },
	{ .key = "batch_max", .type = CHATD_OPT_INT, .def = "50", .min = 1, .max = 1000,
	  .help = "a batch is sent at once when it holds this many messages" },
	{ .key = "timeout_ms", .type = CHATD_OPT_INT, .def = "5000", .min = 100, .max = 60000,
	  .help = "bound of one POST (connect, send, first answer bytes)" },
	{ .key = "max_attempts", .type = CHATD_OPT_INT, .def = "5", .min = 1, .max = 20,
	  .help = "attempts of a batch before it is dropped (counted)" },
	{ .key = "backoff_ms", .type = CHATD_OPT_INT, .def = "1000", .min = 10, .max = 60000,
	  .help = "wait before the first retry; doubles each retry, at most 60000" },
	{ .key = "queue_max", .type = CHATD_OPT_INT, .def = "10000", .min = 1, .max = 10000000,
	  .help = "messages waiting (batches and retries) above which new ones are dropped" },
	{ .key = NULL },
};

static void metrics_flush(void *arg)
{
	struct nw *w = arg;
	struct {
		atomic_uint_fast64_t *c;
		uint64_t *f;
		chatd_metric_id m;
	} rows[] = {
		{ &w->c_queued, &w->f_queued, w->m_queued },
		{ &w->c_sent, &w->f_sent, w->m_sent },
		{ &w->c_failed, &w->f_failed, w->m_failed },
		{ &w->c_dropped, &w->f_dropped, w->m_dropped },
		{ &w->c_overflow, &w->f_overflow, w->m_overflow },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		uint64_t v = atomic_load(rows[i].c);
		if (rows[i].m && v != *rows[i].f)
			w->host->metric_add(w->h, rows[i].m, (int64_t)(v - *rows[i].f));
		*rows[i].f = v;
	}
}

static int cfg_int(struct nw *w, const char *key, int64_t *out)
{
	return w->host->config_int(w->h, key, out);
}

static void nw_free(struct nw *w)
{
	if (!w)
		return;
	nw_worker_stop(w);
	free(w->secret);
	free(w);
}

static int nw_init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	struct nw *w = calloc(1, sizeof *w);
	if (!w)
		return CHATD_ERR_NOMEM;
	w->host = host;
	w->h = h;
	const char *url = NULL, *secret = NULL, *preview = NULL;
	char err[160];
	int st = CHATD_ERR_INVALID;
	if (host->config_string(h, "url", &url) != CHATD_OK ||
	    host->config_string(h, "secret", &secret) != CHATD_OK ||
	    host->config_string(h, "preview", &preview) != CHATD_OK)
		goto fail;
	if (nw_url_parse(url, &w->url, err, sizeof err) < 0) {
		host->log(h, CHATD_LOG_ERROR, "webhook.bad_url", "url: %s", err);
		goto fail;
	}
	if (strlen(secret) < 16) {
		host->log(h, CHATD_LOG_ERROR, "webhook.bad_secret",
			  "secret must be at least 16 characters");
		goto fail;
	}
	if (strcmp(preview, "full") == 0)
		w->preview = NW_PREVIEW_FULL;
	else if (strcmp(preview, "truncated") == 0)
		w->preview = NW_PREVIEW_TRUNCATED;
	else if (strcmp(preview, "none") == 0)
		w->preview = NW_PREVIEW_NONE;
	else {
		host->log(h, CHATD_LOG_ERROR, "webhook.bad_preview",
			  "preview must be full, truncated or none");
		goto fail;
	}
	if (cfg_int(w, "preview_chars", &w->preview_chars) != CHATD_OK ||
	    cfg_int(w, "batch_window_ms", &w->window_ms) != CHATD_OK ||
	    cfg_int(w, "batch_max", &w->batch_max) != CHATD_OK ||
	    cfg_int(w, "timeout_ms", &w->timeout_ms) != CHATD_OK ||
	    cfg_int(w, "max_attempts", &w->max_attempts) != CHATD_OK ||
	    cfg_int(w, "backoff_ms", &w->backoff_ms) != CHATD_OK ||
	    cfg_int(w, "queue_max", &w->queue_max) != CHATD_OK)
		goto fail;
	st = CHATD_ERR_NOMEM;
	if (!(w->secret = strdup(secret)))
		goto fail;
	w->m_queued = host->metric_counter(h, "queued_total", "messages queued for a notification");
	w->m_sent = host->metric_counter(h, "sent_total", "batches the receiver accepted (2xx)");
	w->m_failed = host->metric_counter(h, "failed_attempts_total",
					   "POSTs that failed (network, timeout, non-2xx)");
	w->m_dropped = host->metric_counter(h, "dropped_total",
					    "batches dropped after max_attempts (or at stop)");
	w->m_overflow = host->metric_counter(h, "overflow_total",
					     "messages dropped because queue_max were waiting");
	if ((st = nw_worker_start(w)) != CHATD_OK)
		goto fail;
	w->timer = host->timer_add(h, 1000, true, metrics_flush, w);
	host->log(h, CHATD_LOG_INFO, "webhook.started",
		  "POST http://%s:%s%s (preview %s, window %lld ms, %lld attempts)", w->url.host,
		  w->url.port, w->url.path, preview, (long long)w->window_ms,
		  (long long)w->max_attempts);
	*instance = w;
	return CHATD_OK;
fail:
	nw_free(w);
	return st;
}

static void nw_fini(void *inst)
{
	struct nw *w = inst;
	if (w->timer)
		w->host->timer_cancel(w->h, w->timer);
	nw_worker_stop(w);
	metrics_flush(w);
	nw_free(w);
}

static int op_offline(void *inst, const struct chatd_notify_msg *m)
{
	return nw_enqueue(inst, m);
}

static const struct chatd_notify_ops ops = {
	.struct_size = sizeof(struct chatd_notify_ops),
	.offline = op_offline,
};

static const struct chatd_plugin notify_webhook_plugin = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_NOTIFY,
	.name = "webhook",
	.version = "1.0.0",
	.description = "offline notifications as signed, batched webhook POSTs",
	.options = options,
	.init = nw_init,
	.fini = nw_fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(notify_webhook_plugin)
