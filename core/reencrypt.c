/* reencrypt.c — see reencrypt.h.
 *
 * Batch size and pace are fixed: 200 rows is one reader query and 200
 * compare-and-swap writes that the storage plugin groups into a few
 * transactions; sealing costs microseconds a row, so a batch holds the
 * core loop for a few milliseconds and the 20 ms pause lets live traffic
 * (and its writes) go first.  About 10,000 rows a second at most. */
#include "reencrypt.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include "core_loop.h"
#include "enc.h"
#include "log.h"

enum reenc_state { REENC_IDLE, REENC_RUNNING, REENC_DONE, REENC_FAILED };
static const char *const state_names[] = { "idle", "running", "done", "failed" };

struct counts {
	uint64_t scanned, rewritten, current, conflicts, failures;
};

static struct {
	struct core *core;
	enum reenc_state state;
	uint64_t gen;                  /* job number: stale completions are ignored */
	struct counts n;               /* this job's */
	struct counts total;           /* since start, every job (metrics) */
	uint64_t jobs_done, jobs_failed;
	int64_t started_at, finished_at;
	char key_id[ENC_KEY_ID_MAX + 1];
	char error[160];
	char *next;                    /* the cursor of the next batch; NULL: end */
	size_t pending;                /* text_replace calls in flight */
	bool scanning;
	struct event *timer;
} rj;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void finish(enum reenc_state st, const char *error)
{
	rj.state = st;
	rj.finished_at = now_ms();
	free(rj.next);
	rj.next = NULL;
	if (st == REENC_DONE) {
		rj.jobs_done++;
		log_info("core", "reenc.done",
			 "re-encryption to key %s done: %llu scanned, %llu rewritten, %llu already "
			 "current, %llu conflicts, %llu failures", rj.key_id,
			 (unsigned long long)rj.n.scanned, (unsigned long long)rj.n.rewritten,
			 (unsigned long long)rj.n.current, (unsigned long long)rj.n.conflicts,
			 (unsigned long long)rj.n.failures);
	} else {
		rj.jobs_failed++;
		snprintf(rj.error, sizeof rj.error, "%s", error ? error : "failed");
		log_error("core", "reenc.failed", "re-encryption to key %s failed: %s "
			  "(%llu rewritten so far; run it again)", rj.key_id, rj.error,
			  (unsigned long long)rj.n.rewritten);
	}
}

static void on_compacted(void *arg, int status)
{
	if ((uint64_t)(uintptr_t)arg != rj.gen || rj.state != REENC_RUNNING)
		return;
	if (status != CHATD_OK) {
		char e[128];
		snprintf(e, sizeof e, "erasing the old texts (texts_compact): %s",
			 chatd_strerror(status));
		finish(REENC_FAILED, e);
		return;
	}
	finish(REENC_DONE, NULL);
}

static void scan_next(void);

/* A batch is over when its scan has answered and every replace too. */
static void batch_over(void)
{
	if (rj.scanning || rj.pending || rj.state != REENC_RUNNING)
		return;
	if (rj.next) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = REENC_PACE_MS * 1000 };
		event_add(rj.timer, &tv);
		return;
	}
	const struct chatd_storage_ops *s = rj.core->storage;
	if (!CORE_HAS_OP(s, struct chatd_storage_ops, texts_compact)) {
		finish(REENC_DONE, NULL);
		return;
	}
	int st = s->texts_compact(rj.core->storage_inst, on_compacted, (void *)(uintptr_t)rj.gen);
	if (st != CHATD_OK)
		on_compacted((void *)(uintptr_t)rj.gen, st);
}

static void on_replaced(void *arg, int status)
{
	if ((uint64_t)(uintptr_t)arg != rj.gen || rj.state != REENC_RUNNING)
		return;
	rj.pending--;
	if (status == CHATD_OK) {
		rj.n.rewritten++;
		rj.total.rewritten++;
	} else if (status == CHATD_ERR_CONFLICT || status == CHATD_ERR_NOT_FOUND) {
		/* Edited (sealed with the active key by the wrapper), or gone. */
		rj.n.conflicts++;
		rj.total.conflicts++;
	} else {
		rj.n.failures++;
		rj.total.failures++;
		log_warn("core", "reenc.write_failed", "re-encryption: a row could not be "
			 "written back: %s", chatd_strerror(status));
	}
	batch_over();
}

static void row_failed(const struct chatd_stored_text *t, const char *why)
{
	rj.n.failures++;
	rj.total.failures++;
	log_warn("core", "reenc.row_failed", "re-encryption: message %s/%lld skipped: %s",
		 t->conversation_id, (long long)t->seq, why);
}

/* Rewrite one row unless it is current. */
static void one_row(const struct chatd_storage_ops *s, const struct enc_keyring *kr,
		    const struct chatd_stored_text *t)
{
	rj.n.scanned++;
	rj.total.scanned++;
	char kid[ENC_KEY_ID_MAX + 1] = "";
	if (enc_is_sealed(t->text) && enc_sealed_key_id(t->text, kid) &&
	    strcmp(kid, kr->active->id) == 0) {
		rj.n.current++;
		rj.total.current++;
		return;
	}
	char *plain = NULL;
	const char *from = t->text;
	if (enc_is_sealed(t->text)) {
		int st = enc_open(kr, t->conversation_id, t->sender_id, t->text, &plain, kid);
		if (st != CHATD_OK) {
			char why[96];
			if (st == CHATD_ERR_NOT_FOUND)
				snprintf(why, sizeof why, "unknown key id %s (add it to "
					 "encryption.keys)", kid);
			else
				snprintf(why, sizeof why, "%s", st == CHATD_ERR_NOMEM ? "out of memory"
					 : "not authentic or malformed");
			row_failed(t, why);
			return;
		}
		from = plain;
	}
	char *sealed = NULL;
	int st = enc_seal(kr->active, t->conversation_id, t->sender_id, from, &sealed);
	if (plain) {
		OPENSSL_cleanse(plain, strlen(plain));
		free(plain);
	}
	if (st != CHATD_OK) {
		row_failed(t, chatd_strerror(st));
		return;
	}
	st = s->text_replace(rj.core->storage_inst, t->conversation_id, t->seq, t->text, sealed,
			     on_replaced, (void *)(uintptr_t)rj.gen);
	free(sealed);
	if (st == CHATD_OK)
		rj.pending++;
	else
		row_failed(t, chatd_strerror(st));
}

static void on_scanned(void *arg, int status, const struct chatd_stored_text *rows, size_t n,
		       const char *next)
{
	if ((uint64_t)(uintptr_t)arg != rj.gen || rj.state != REENC_RUNNING)
		return;
	rj.scanning = false;
	free(rj.next);
	rj.next = NULL;
	if (status != CHATD_OK) {
		char e[128];
		snprintf(e, sizeof e, "reading stored texts: %s", chatd_strerror(status));
		/* Replaces of this job are all answered (a scan runs alone). */
		finish(REENC_FAILED, e);
		return;
	}
	if (next && !(rj.next = strdup(next))) {
		finish(REENC_FAILED, "out of memory");
		return;
	}
	const struct enc_keyring *kr = &rj.core->cfg->enc;
	for (size_t i = 0; i < n; i++)
		one_row(rj.core->storage, kr, &rows[i]);
	batch_over();
}

static void scan_next(void)
{
	const struct chatd_storage_ops *s = rj.core->storage;
	int st = s->texts_scan(rj.core->storage_inst, rj.next, REENC_BATCH, on_scanned,
			       (void *)(uintptr_t)rj.gen);
	if (st != CHATD_OK) {
		char e[128];
		snprintf(e, sizeof e, "reading stored texts: %s", chatd_strerror(st));
		finish(REENC_FAILED, e);
		return;
	}
	rj.scanning = true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (rj.state != REENC_RUNNING)
		return;
	scan_next();
}

int reenc_start(struct core *c, char *why, size_t whylen)
{
	char dummy[8];
	if (!why) {
		why = dummy;
		whylen = sizeof dummy;
	}
	if (rj.state == REENC_RUNNING) {
		snprintf(why, whylen, "a re-encryption job is running already");
		return CHATD_ERR_EXISTS;
	}
	if (!c->cfg->enc.active) {
		snprintf(why, whylen, "no active key: set encryption.active (and restart) first");
		return CHATD_ERR_UNAVAILABLE;
	}
	const struct chatd_storage_ops *s = c->storage;
	if (!CORE_HAS_OP(s, struct chatd_storage_ops, texts_scan) ||
	    !CORE_HAS_OP(s, struct chatd_storage_ops, text_replace)) {
		snprintf(why, whylen, "the storage plugin cannot rewrite stored texts "
			 "(it needs texts_scan and text_replace, ABI 1.5)");
		return CHATD_ERR_ABI;
	}
	if (c->shutting_down) {
		snprintf(why, whylen, "the server is shutting down");
		return CHATD_ERR_SHUTDOWN;
	}
	if (!rj.timer && !(rj.timer = event_new(c->base, -1, 0, on_timer, NULL))) {
		snprintf(why, whylen, "out of memory");
		return CHATD_ERR_NOMEM;
	}
	rj.core = c;
	rj.gen++;
	rj.state = REENC_RUNNING;
	memset(&rj.n, 0, sizeof rj.n);
	rj.started_at = now_ms();
	rj.finished_at = 0;
	rj.error[0] = '\0';
	rj.pending = 0;
	rj.scanning = false;
	snprintf(rj.key_id, sizeof rj.key_id, "%s", c->cfg->enc.active->id);
	free(rj.next);
	rj.next = NULL;
	log_info("core", "reenc.started", "re-encryption of stored texts to key %s started",
		 rj.key_id);
	scan_next();
	if (rj.state != REENC_RUNNING) {
		snprintf(why, whylen, "%s", rj.error);
		return CHATD_ERR_UNAVAILABLE;
	}
	return CHATD_OK;
}

json_t *reenc_status_json(void)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "state", state_names[rj.state],
			      "scanned", (json_int_t)rj.n.scanned,
			      "rewritten", (json_int_t)rj.n.rewritten,
			      "already_current", (json_int_t)rj.n.current,
			      "conflicts", (json_int_t)rj.n.conflicts,
			      "failures", (json_int_t)rj.n.failures);
	if (!o)
		return NULL;
	if (rj.state != REENC_IDLE) {
		json_object_set_new(o, "key_id", json_string(rj.key_id));
		json_object_set_new(o, "started_at", json_integer(rj.started_at));
	}
	if (rj.finished_at)
		json_object_set_new(o, "finished_at", json_integer(rj.finished_at));
	if (rj.state == REENC_FAILED)
		json_object_set_new(o, "error", json_string(rj.error));
	return o;
}

void reenc_stop(struct core *c)
{
	(void)c;
	if (rj.state == REENC_RUNNING) {
		/* Interrupted, not broken: a warning, and a rerun after the
		 * restart finishes it. */
		rj.state = REENC_FAILED;
		rj.finished_at = now_ms();
		rj.jobs_failed++;
		snprintf(rj.error, sizeof rj.error, "interrupted by shutdown");
		log_warn("core", "reenc.interrupted", "re-encryption to key %s interrupted by "
			 "shutdown after %llu rewritten; run it again after the restart", rj.key_id,
			 (unsigned long long)rj.n.rewritten);
	}
	/* Completions still in flight compare their gen with this one's, and
	 * return. */
	rj.gen++;
	if (rj.timer)
		event_free(rj.timer);
	rj.timer = NULL;
	free(rj.next);
	rj.next = NULL;
}

void reenc_metrics_collect(struct metrics_buf *b)
{
	metrics_write_header(b, "chatd_reencrypt_running",
			     "1 while a re-encryption job runs on this node", METRIC_GAUGE);
	metrics_write_sample(b, "chatd_reencrypt_running", NULL, NULL, 0,
			     rj.state == REENC_RUNNING ? 1 : 0);
	static const char *const res_l[] = { "result" };
	static const char *const res_v[] = { "rewritten", "current", "conflict", "failed" };
	const uint64_t vals[] = { rj.total.rewritten, rj.total.current, rj.total.conflicts,
				  rj.total.failures };
	metrics_write_header(b, "chatd_reencrypt_rows_total",
			     "stored texts the re-encryption jobs visited, by result: rewritten "
			     "(sealed with the active key now), current (already were), conflict "
			     "(changed meanwhile: left alone), failed (could not be opened or "
			     "written)", METRIC_COUNTER);
	for (int i = 0; i < 4; i++)
		metrics_write_sample_u64(b, "chatd_reencrypt_rows_total", res_l, &res_v[i], 1,
					 vals[i]);
	static const char *const out_l[] = { "outcome" };
	static const char *const out_v[] = { "done", "failed" };
	const uint64_t jobs[] = { rj.jobs_done, rj.jobs_failed };
	metrics_write_header(b, "chatd_reencrypt_jobs_total",
			     "re-encryption jobs finished on this node, by outcome", METRIC_COUNTER);
	for (int i = 0; i < 2; i++)
		metrics_write_sample_u64(b, "chatd_reencrypt_jobs_total", out_l, &out_v[i], 1,
					 jobs[i]);
}
