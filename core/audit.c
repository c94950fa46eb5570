/* audit.c — the audit log's writer and verifier (see moderation.h).
 *
 * Entry i's hash is SHA-256(hash of entry i-1 || canonical bytes of i), with
 * 32 zero bytes before entry 1.  The canonical bytes are a versioned,
 * length-prefixed rendering of (id, ts, actor, event, subject, detail), so no
 * choice of field contents can make two entries render alike.  The core
 * thread is this node's one writer: it keeps the last id and hash and sends
 * entries to storage in order; other nodes' entries are handled below
 * (re-chaining after a refusal). */
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "core_loop.h"
#include "log.h"
#include "mod_auditchain.h"
#include "moderation.h"
#include "moderation_priv.h"

#define VERIFY_PAGE 1000

static char *canon(const struct chatd_audit_entry *e, size_t *len)
{
	const char *f[4] = { e->actor, e->event, e->subject, e->detail };
	size_t total = 64;
	for (int i = 0; i < 4; i++)
		total += (f[i] ? strlen(f[i]) : 0) + 24;
	char *buf = malloc(total);
	if (!buf)
		return NULL;
	int n = snprintf(buf, total, "chatd-audit-1\n%lld\n%lld\n", (long long)e->id,
			 (long long)e->ts);
	size_t off = (size_t)n;
	for (int i = 0; i < 4; i++) {
		const char *s = f[i] ? f[i] : "";
		size_t sl = strlen(s);
		off += (size_t)snprintf(buf + off, total - off, "%zu:", sl);
		memcpy(buf + off, s, sl);
		off += sl;
		buf[off++] = '\n';
	}
	*len = off;
	return buf;
}

/* hash = H(prev || canon(e)) as hex into out (65 bytes). */
static int entry_hash(const struct chatd_audit_entry *e, const unsigned char prev[32],
		      char out[MOD_AUDIT_HEX_LEN + 1])
{
	size_t len;
	char *c = canon(e, &len);
	if (!c)
		return CHATD_ERR_NOMEM;
	unsigned char h[MOD_AUDIT_HASH_LEN];
	int st = mod_audit_hash(prev, (const unsigned char *)c, len, h);
	free(c);
	if (st == CHATD_OK)
		st = mod_audit_hex_encode(h, sizeof h, out, MOD_AUDIT_HEX_LEN + 1);
	return st;
}

/* Several nodes append to one log: storage refuses (EXISTS) an entry whose
 * id is taken or whose prev_hash is not the stored hash of entry id - 1.
 * Every entry written is kept (m->audit_sent) until all in flight are
 * answered; after a refusal the core reads back what was stored from the
 * first of them on, keeps those stored under its own hash, and writes the
 * others again on the new tail, in their order, before anything newer. */
#define AUDIT_ROUNDS_MAX 20   /* re-chain rounds without progress, then drop */
#define AUDIT_RETRY_MS 1000

static void reconcile_start(struct core *c);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct core *c = arg;
	if (c->mod->audit_conflict)
		reconcile_start(c);
	else if (!c->mod->audit_ready)
		audit_load_tail(c);
}

static void retry_later(struct core *c)
{
	struct moderation *m = c->mod;
	if (!m->audit_retry && !(m->audit_retry = evtimer_new(c->base, on_retry, c))) {
		log_error("audit", "audit.nomem", "the audit log's tail will not be read again");
		return;
	}
	struct timeval tv = { AUDIT_RETRY_MS / 1000, (AUDIT_RETRY_MS % 1000) * 1000 };
	evtimer_add(m->audit_retry, &tv);
}

static void on_appended(void *arg, int status)
{
	struct core *c = arg;
	struct moderation *m = c->mod;
	if (!m)
		return;
	m->audit_inflight--;
	if (status == CHATD_ERR_EXISTS) {
		/* Another node wrote there: what comes next waits in pending. */
		m->audit_conflict = true;
		m->audit_ready = false;
	} else if (status != CHATD_OK) {
		/* The chain now has a hole verify will point at; say so now. */
		m->audit_failures++;
		log_error("audit", "audit.write_failed", "an audit entry was not stored: %s",
			  chatd_strerror(status));
	}
	if (m->audit_inflight > 0)
		return;
	if (m->audit_conflict)
		reconcile_start(c);
	else
		json_array_clear(m->audit_sent);
}

/* {actor, event, subject, ts, d (detail JSON text)}: a pending entry. */
static json_t *entry_json(const char *actor, const char *event, const char *subject, int64_t ts,
			  const char *detail)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:s}", "actor", actor, "event", event, "subject",
			 subject ? subject : "", "ts", (json_int_t)ts, "d", detail);
}

/* Chains and writes one entry now (the tail is known). */
static int64_t write_entry(struct core *c, const char *actor, const char *event,
			   const char *subject, int64_t ts, const char *detail)
{
	struct moderation *m = c->mod;
	struct chatd_audit_entry e = {
		.id = m->audit_last_id + 1, .ts = ts, .actor = actor, .event = event,
		.subject = subject ? subject : "", .detail = detail,
	};
	char prev_hex[MOD_AUDIT_HEX_LEN + 1], hash_hex[MOD_AUDIT_HEX_LEN + 1];
	mod_audit_hex_encode(m->audit_last_hash, MOD_AUDIT_HASH_LEN, prev_hex, sizeof prev_hex);
	json_t *sent = entry_json(actor, event, subject, ts, detail);
	if (!sent || entry_hash(&e, m->audit_last_hash, hash_hex) != CHATD_OK ||
	    json_object_set_new(sent, "id", json_integer(e.id)) < 0 ||
	    json_object_set_new(sent, "hash", json_string(hash_hex)) < 0) {
		json_decref(sent);
		log_error("audit", "audit.nomem", "audit entry %s not recorded", event);
		return 0;
	}
	e.prev_hash = prev_hex;
	e.hash = hash_hex;
	int st = c->storage->audit_append(c->storage_inst, &e, on_appended, c);
	if (st != CHATD_OK) {
		json_decref(sent);
		m->audit_failures++;
		log_error("audit", "audit.write_failed", "audit entry %s not queued: %s", event,
			  chatd_strerror(st));
		return 0;
	}
	json_array_append_new(m->audit_sent, sent);
	m->audit_inflight++;
	m->audit_last_id = e.id;
	size_t w;
	mod_audit_hex_decode(hash_hex, MOD_AUDIT_HEX_LEN, m->audit_last_hash, MOD_AUDIT_HASH_LEN, &w);
	return e.id;
}

int64_t audit_record(struct core *c, const char *actor, const char *event, const char *subject,
		     json_t *detail)
{
	struct moderation *m = c->mod;
	if (!detail)
		detail = json_object();
	int64_t ts = mod_now_ms();
	if (!m || !m->storage_ok) {
		json_decref(detail);
		return 0;
	}
	char *d = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (!d) {
		log_error("audit", "audit.nomem", "audit entry %s not recorded", event);
		return 0;
	}
	int64_t id = 0;
	if (!m->audit_ready) {
		/* The tail is loading (or being read again): keep the entry and
		 * write it when the tail is known. */
		json_t *p = entry_json(actor, event, subject, ts, d);
		if (!p || json_array_append_new(m->audit_pending, p) < 0)
			log_error("audit", "audit.nomem", "audit entry %s not recorded", event);
	} else {
		id = write_entry(c, actor, event, subject, ts, d);
	}
	free(d);
	return id;
}

/* The tail is known: write what waited, in order. */
static void write_pending(struct core *c)
{
	struct moderation *m = c->mod;
	json_t *pending = m->audit_pending;
	if (!(m->audit_pending = json_array())) {
		m->audit_pending = pending;
		log_error("audit", "audit.nomem", "audit entries wait in memory");
		return;
	}
	size_t i;
	json_t *p;
	json_array_foreach(pending, i, p)
		write_entry(c, json_string_value(json_object_get(p, "actor")),
			    json_string_value(json_object_get(p, "event")),
			    json_string_value(json_object_get(p, "subject")),
			    json_integer_value(json_object_get(p, "ts")),
			    json_string_value(json_object_get(p, "d")));
	json_decref(pending);
}

static void on_tail(void *arg, int status, const struct chatd_audit_entry *items, size_t n)
{
	struct core *c = arg;
	struct moderation *m = c->mod;
	if (!m)
		return;
	if (status != CHATD_OK) {
		log_error("audit", "audit.tail_failed", "cannot read the audit log's tail: %s; "
			  "audit entries are kept in memory until it can be read", chatd_strerror(status));
		retry_later(c);
		return;
	}
	m->audit_last_id = 0;
	memset(m->audit_last_hash, 0, sizeof m->audit_last_hash);
	if (n > 0) {
		size_t w = 0;
		m->audit_last_id = items[n - 1].id;
		if (!items[n - 1].hash ||
		    mod_audit_hex_decode(items[n - 1].hash, strlen(items[n - 1].hash),
					 m->audit_last_hash, MOD_AUDIT_HASH_LEN, &w) != CHATD_OK ||
		    w != MOD_AUDIT_HASH_LEN)
			log_error("audit", "audit.tail_bad", "audit entry %lld has no valid hash; "
				  "audit verify will report it", (long long)items[n - 1].id);
	}
	m->audit_ready = true;
	write_pending(c);
}

void audit_load_tail(struct core *c)
{
	int st = c->storage->audit_list(c->storage_inst, 0, 1, true, on_tail, c);
	if (st != CHATD_OK) {
		log_error("audit", "audit.tail_failed", "cannot read the audit log's tail: %s",
			  chatd_strerror(st));
		retry_later(c);
	}
}

/* ---- re-chaining after a refusal ---- */

static void read_back(struct core *c, int64_t after_id);

static void on_stored(void *arg, int status, const struct chatd_audit_entry *items, size_t n)
{
	struct core *c = arg;
	struct moderation *m = c->mod;
	if (!m)
		return;
	m->audit_reconciling = false;
	if (status != CHATD_OK) {
		log_error("audit", "audit.tail_failed", "cannot read back the audit log: %s; "
			  "retrying", chatd_strerror(status));
		retry_later(c);
		return;
	}
	if (!m->audit_refused && !(m->audit_refused = json_array())) {
		retry_later(c);
		return;
	}
	/* sent[] is in id order: drop those stored under our hash, move the
	 * others (in order) to audit_refused, up to the end of this page. */
	size_t k = 0;
	int64_t last_read = n ? items[n - 1].id : 0;
	bool page_full = n == VERIFY_PAGE;
	while (json_array_size(m->audit_sent) > 0) {
		json_t *e = json_array_get(m->audit_sent, 0);
		int64_t id = json_integer_value(json_object_get(e, "id"));
		if (page_full && id > last_read)
			break;                   /* the next page says */
		while (k < n && items[k].id < id)
			k++;
		const char *mine = json_string_value(json_object_get(e, "hash"));
		if (k < n && items[k].id == id && items[k].hash && mine &&
		    strcmp(items[k].hash, mine) == 0)
			m->audit_rounds = 0;     /* stored: progress */
		else
			json_array_append(m->audit_refused, e);
		json_array_remove(m->audit_sent, 0);
	}
	if (json_array_size(m->audit_sent) > 0) {
		read_back(c, last_read);
		return;
	}
	json_t *again = m->audit_refused;
	m->audit_refused = NULL;
	if (++m->audit_rounds > AUDIT_ROUNDS_MAX) {
		m->audit_failures += json_array_size(again);
		log_error("audit", "audit.write_failed", "%zu audit entries dropped: refused %d "
			  "times in a row", json_array_size(again), AUDIT_ROUNDS_MAX);
		json_array_clear(again);
		m->audit_rounds = 0;
	}
	log_info("audit", "audit.rechained", "another node appended to the audit log: %zu "
		 "entries written again on the new tail", json_array_size(again));
	/* The refused first, then what was recorded meanwhile. */
	json_array_extend(again, m->audit_pending);
	json_decref(m->audit_pending);
	m->audit_pending = again;
	m->audit_conflict = false;
	audit_load_tail(c);
}

static void read_back(struct core *c, int64_t after_id)
{
	struct moderation *m = c->mod;
	m->audit_reconciling = true;
	int st = c->storage->audit_list(c->storage_inst, after_id, VERIFY_PAGE, false, on_stored, c);
	if (st != CHATD_OK) {
		m->audit_reconciling = false;
		log_error("audit", "audit.tail_failed", "cannot read back the audit log: %s",
			  chatd_strerror(st));
		retry_later(c);
	}
}

static void reconcile_start(struct core *c)
{
	struct moderation *m = c->mod;
	if (m->audit_reconciling || m->audit_inflight > 0)
		return;
	json_t *first = json_array_get(m->audit_sent, 0);
	if (!first) {
		m->audit_conflict = false;
		audit_load_tail(c);
		return;
	}
	read_back(c, json_integer_value(json_object_get(first, "id")) - 1);
}

/* ---- verify ---- */

struct verify {
	struct core *c;
	audit_verify_cb done;
	void *arg;
	int64_t next_id;                     /* the id the next entry must have */
	unsigned char prev[MOD_AUDIT_HASH_LEN];
	int64_t checked;
};

static void verify_finish(struct verify *v, int64_t bad_id, const char *reason)
{
	json_t *r = bad_id ? json_pack("{s:b, s:I, s:I, s:s}", "ok", 0, "entries",
				       (json_int_t)v->checked, "first_bad_id", (json_int_t)bad_id,
				       "reason", reason)
			   : json_pack("{s:b, s:I}", "ok", 1, "entries", (json_int_t)v->checked);
	v->done(v->arg, r);
	free(v);
}

static void verify_page(void *arg, int status, const struct chatd_audit_entry *items, size_t n);

static void verify_next(struct verify *v)
{
	int st = v->c->storage->audit_list(v->c->storage_inst, v->next_id - 1, VERIFY_PAGE, false,
					   verify_page, v);
	if (st != CHATD_OK) {
		json_t *r = json_pack("{s:b, s:s}", "ok", 0, "error", chatd_strerror(st));
		v->done(v->arg, r);
		free(v);
	}
}

static void verify_page(void *arg, int status, const struct chatd_audit_entry *items, size_t n)
{
	struct verify *v = arg;
	if (status != CHATD_OK) {
		json_t *r = json_pack("{s:b, s:s}", "ok", 0, "error", chatd_strerror(status));
		v->done(v->arg, r);
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct chatd_audit_entry *e = &items[i];
		if (e->id != v->next_id) {
			verify_finish(v, v->next_id, "entry missing (ids jump)");
			return;
		}
		unsigned char prev[MOD_AUDIT_HASH_LEN], hash[MOD_AUDIT_HASH_LEN];
		size_t w1 = 0, w2 = 0;
		if (!e->prev_hash || !e->hash ||
		    mod_audit_hex_decode(e->prev_hash, strlen(e->prev_hash), prev, sizeof prev, &w1) ||
		    mod_audit_hex_decode(e->hash, strlen(e->hash), hash, sizeof hash, &w2) ||
		    w1 != sizeof prev || w2 != sizeof hash) {
			verify_finish(v, e->id, "stored hash is not 64 hex digits");
			return;
		}
		if (memcmp(prev, v->prev, sizeof prev) != 0) {
			verify_finish(v, e->id, "link to the previous entry is broken");
			return;
		}
		char want[MOD_AUDIT_HEX_LEN + 1];
		if (entry_hash(e, prev, want) != CHATD_OK) {
			verify_finish(v, e->id, "out of memory");
			return;
		}
		if (strcasecmp(want, e->hash) != 0) {
			verify_finish(v, e->id, "content does not match its hash");
			return;
		}
		memcpy(v->prev, hash, sizeof hash);
		v->next_id++;
		v->checked++;
	}
	if (n == VERIFY_PAGE)
		verify_next(v);
	else
		verify_finish(v, 0, NULL);
}

int audit_verify(struct core *c, audit_verify_cb done, void *arg)
{
	if (!c->mod || !c->mod->storage_ok)
		return CHATD_ERR_UNAVAILABLE;
	struct verify *v = calloc(1, sizeof *v);
	if (!v)
		return CHATD_ERR_NOMEM;
	v->c = c;
	v->done = done;
	v->arg = arg;
	v->next_id = 1;
	int st = c->storage->audit_list(c->storage_inst, 0, VERIFY_PAGE, false, verify_page, v);
	if (st != CHATD_OK)
		free(v);
	return st;
}
