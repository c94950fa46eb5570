/* audit.c — the audit log's writer and verifier (see moderation.h).
 *
 * Entry i's hash is SHA-256(hash of entry i-1 || canonical bytes of i), with
 * 32 zero bytes before entry 1.  The canonical bytes are a versioned,
 * length-prefixed rendering of (id, ts, actor, event, subject, detail), so no
 * choice of field contents can make two entries render alike.  The core
 * thread is the one writer: it keeps the last id and hash and sends entries
 * to storage in order, which keeps them in order too (one FIFO worker). */
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
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

static void on_appended(void *arg, int status)
{
	struct moderation *m = arg;
	m->audit_inflight--;
	if (status != CHATD_OK) {
		/* The chain now has a hole verify will point at; say so now. */
		m->audit_failures++;
		log_error("audit", "audit.write_failed", "an audit entry was not stored: %s",
			  chatd_strerror(status));
	}
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
	if (entry_hash(&e, m->audit_last_hash, hash_hex) != CHATD_OK) {
		log_error("audit", "audit.nomem", "audit entry %s not recorded", event);
		return 0;
	}
	e.prev_hash = prev_hex;
	e.hash = hash_hex;
	int st = c->storage->audit_append(c->storage_inst, &e, on_appended, m);
	if (st != CHATD_OK) {
		m->audit_failures++;
		log_error("audit", "audit.write_failed", "audit entry %s not queued: %s", event,
			  chatd_strerror(st));
		return 0;
	}
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
	if (!m->audit_ready) {
		/* The tail is loading: keep the entry, write it when it is known. */
		json_t *p = json_pack("{s:s, s:s, s:s, s:I, s:o}", "actor", actor, "event", event,
				      "subject", subject ? subject : "", "ts", (json_int_t)ts,
				      "detail", detail);
		if (!p || json_array_append_new(m->audit_pending, p) < 0)
			log_error("audit", "audit.nomem", "audit entry %s not recorded", event);
		return 0;
	}
	char *d = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (!d) {
		log_error("audit", "audit.nomem", "audit entry %s not recorded", event);
		return 0;
	}
	int64_t id = write_entry(c, actor, event, subject, ts, d);
	free(d);
	return id;
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
		m->audit_tail_retry = true;
		return;
	}
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
	size_t i;
	json_t *p;
	json_array_foreach(m->audit_pending, i, p) {
		char *d = json_dumps(json_object_get(p, "detail"), JSON_COMPACT | JSON_SORT_KEYS);
		if (d)
			write_entry(c, json_string_value(json_object_get(p, "actor")),
				    json_string_value(json_object_get(p, "event")),
				    json_string_value(json_object_get(p, "subject")),
				    json_integer_value(json_object_get(p, "ts")), d);
		free(d);
	}
	json_array_clear(m->audit_pending);
}

void audit_load_tail(struct core *c)
{
	struct moderation *m = c->mod;
	m->audit_tail_retry = false;
	int st = c->storage->audit_list(c->storage_inst, 0, 1, true, on_tail, c);
	if (st != CHATD_OK) {
		log_error("audit", "audit.tail_failed", "cannot read the audit log's tail: %s",
			  chatd_strerror(st));
		m->audit_tail_retry = true;
	}
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
