/* storage_crypt.c — see storage_crypt.h.  Results are opened into copies
 * that live for the duration of the wrapped callback (what storage hands a
 * callback is borrowed for that long anyway).  A text that cannot be opened
 * fails the whole read with CHATD_ERR_INTERNAL and is logged: showing the
 * message without its text would hide the problem from the operator. */
#include "storage_crypt.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "core_loop.h"
#include "log.h"

static struct {
	struct chatd_storage_ops ops;
	const struct chatd_storage_ops *real;
	const struct enc_keyring *kr;
	uint64_t open_failures;
} sc;

/* The original callback and argument of a wrapped op. */
struct wrap {
	void (*cb)(void);
	void *arg;
};

static struct wrap *wrap_new(void (*cb)(void), void *arg)
{
	struct wrap *w = malloc(sizeof *w);
	if (w) {
		w->cb = cb;
		w->arg = arg;
	}
	return w;
}

/* The end of a wrapped call: st is the real op's answer; unless it took
 * the call (and with it w, freed in the callback), w is freed here. */
static int wrapped(struct wrap *w, int st)
{
	if (st != CHATD_OK)
		free(w);
	return st;
}

/* Plaintexts opened for one result, freed (wiped) after the callback. */
struct opened {
	char **texts;
	size_t n, cap;
};

static void opened_free(struct opened *o)
{
	for (size_t i = 0; i < o->n; i++) {
		OPENSSL_cleanse(o->texts[i], strlen(o->texts[i]));
		free(o->texts[i]);
	}
	free(o->texts);
	memset(o, 0, sizeof *o);
}

/* Opens *text in place (the pointer then points into o) when sealed. */
static int open_text(struct opened *o, const char *conv, int64_t seq, const char *sender,
		     const char **text)
{
	if (!enc_is_sealed(*text))
		return CHATD_OK;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 8;
		char **t = realloc(o->texts, cap * sizeof *t);
		if (!t)
			return CHATD_ERR_NOMEM;
		o->texts = t;
		o->cap = cap;
	}
	char kid[ENC_KEY_ID_MAX + 1] = "";
	char *plain = NULL;
	int st = enc_open(sc.kr, conv ? conv : "", sender ? sender : "", *text, &plain, kid);
	if (st == CHATD_ERR_NOMEM)
		return st;
	if (st != CHATD_OK) {
		sc.open_failures++;
		log_error("storage", "enc.open_failed",
			  "message %s/%lld: stored text cannot be opened: %s%s%s",
			  conv ? conv : "?", (long long)seq,
			  st == CHATD_ERR_NOT_FOUND ? "unknown key id " : "not authentic or malformed",
			  st == CHATD_ERR_NOT_FOUND ? kid : "",
			  st == CHATD_ERR_NOT_FOUND ? " (add it to encryption.keys)" : "");
		return CHATD_ERR_INTERNAL;
	}
	o->texts[o->n++] = plain;
	*text = plain;
	return CHATD_OK;
}

static int open_msg(struct opened *o, struct chatd_message *m)
{
	return open_text(o, m->conversation_id, m->seq, m->sender_id, &m->text);
}

/* For a callback's one message: on success a copy with its text opened
 * (into o); *status set when that fails. */
static const struct chatd_message *open_one(struct opened *o, const struct chatd_message *m,
					    struct chatd_message *copy, int *status)
{
	if (*status != CHATD_OK || !m)
		return m;
	*copy = *m;
	*status = open_msg(o, copy);
	return copy;
}

/* A copy of msgs[0..n) with its texts opened; *out NULL when n is 0. */
static int open_msgs(struct opened *o, const struct chatd_message *msgs, size_t n,
		     struct chatd_message **out)
{
	*out = NULL;
	if (!n)
		return CHATD_OK;
	struct chatd_message *c = malloc(n * sizeof *c);
	if (!c)
		return CHATD_ERR_NOMEM;
	memcpy(c, msgs, n * sizeof *c);
	for (size_t i = 0; i < n; i++) {
		int st = open_msg(o, &c[i]);
		if (st != CHATD_OK) {
			free(c);
			return st;
		}
	}
	*out = c;
	return CHATD_OK;
}

/* ---- sealing ------------------------------------------------------------ */

static int seal(const char *conv, const char *sender, const char *text, char **out)
{
	*out = NULL;
	if (!text || !sc.kr->active)
		return CHATD_OK;
	return enc_seal(sc.kr->active, conv, sender, text, out);
}

static int w_append(void *inst, const struct chatd_send_req *req, chatd_send_cb cb, void *arg)
{
	char *sealed = NULL;
	int st = seal(req->conversation_id, req->sender_id, req->text, &sealed);
	if (st != CHATD_OK)
		return st;
	if (!sealed)
		return sc.real->append(inst, req, cb, arg);
	struct chatd_send_req r = *req;
	r.text = sealed;
	st = sc.real->append(inst, &r, cb, arg);
	free(sealed);
	return st;
}

/* ---- single messages ---------------------------------------------------- */

static void on_message(void *arg, int status, const struct chatd_message *m)
{
	struct wrap *w = arg;
	chatd_message_cb cb = (chatd_message_cb)w->cb;
	void *a = w->arg;
	free(w);
	struct opened o = { 0 };
	struct chatd_message copy;
	m = open_one(&o, m, &copy, &status);
	cb(a, status, status == CHATD_OK ? m : NULL);
	opened_free(&o);
}

static int w_message_edit(void *inst, const struct chatd_message_edit *e, chatd_message_cb cb,
			  void *arg)
{
	char *sealed = NULL;
	int st = seal(e->conversation_id, e->editor, e->text, &sealed);
	if (st != CHATD_OK)
		return st;
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w) {
		free(sealed);
		return CHATD_ERR_NOMEM;
	}
	struct chatd_message_edit ed = *e;
	if (sealed)
		ed.text = sealed;
	st = wrapped(w, sc.real->message_edit(inst, &ed, on_message, w));
	free(sealed);
	return st;
}

static int w_message_set_visibility(void *inst, const char *conv, int64_t seq,
				    const char *visibility, chatd_message_cb cb, void *arg)
{
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w)
		return CHATD_ERR_NOMEM;
	return wrapped(w, sc.real->message_set_visibility(inst, conv, seq, visibility,
							  on_message, w));
}

static int w_message_delete(void *inst, const char *conv, int64_t seq, int64_t ts,
			    chatd_message_cb cb, void *arg)
{
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w)
		return CHATD_ERR_NOMEM;
	return wrapped(w, sc.real->message_delete(inst, conv, seq, ts, on_message, w));
}

static void on_message_role(void *arg, int status, const struct chatd_message *m,
			    const char *role)
{
	struct wrap *w = arg;
	chatd_message_role_cb cb = (chatd_message_role_cb)w->cb;
	void *a = w->arg;
	free(w);
	struct opened o = { 0 };
	struct chatd_message copy;
	m = open_one(&o, m, &copy, &status);
	cb(a, status, status == CHATD_OK ? m : NULL, status == CHATD_OK ? role : NULL);
	opened_free(&o);
}

static int w_message_get(void *inst, const char *conv, int64_t seq, chatd_message_role_cb cb,
			 void *arg)
{
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w)
		return CHATD_ERR_NOMEM;
	return wrapped(w, sc.real->message_get(inst, conv, seq, on_message_role, w));
}

/* ---- lists -------------------------------------------------------------- */

static void on_history(void *arg, int status, const struct chatd_message *msgs, size_t n,
		       bool has_more)
{
	struct wrap *w = arg;
	chatd_history_cb cb = (chatd_history_cb)w->cb;
	void *a = w->arg;
	free(w);
	struct opened o = { 0 };
	struct chatd_message *copy = NULL;
	if (status == CHATD_OK)
		status = open_msgs(&o, msgs, n, &copy);
	if (status == CHATD_OK)
		cb(a, status, copy, n, has_more);
	else
		cb(a, status, NULL, 0, false);
	free(copy);
	opened_free(&o);
}

static int w_history(void *inst, const struct chatd_history_req *req, chatd_history_cb cb,
		     void *arg)
{
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w)
		return CHATD_ERR_NOMEM;
	return wrapped(w, sc.real->history(inst, req, on_history, w));
}

static int w_messages_latest(void *inst, int limit, chatd_history_cb cb, void *arg)
{
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w)
		return CHATD_ERR_NOMEM;
	return wrapped(w, sc.real->messages_latest(inst, limit, on_history, w));
}

static void on_sync(void *arg, int status, const struct chatd_sync_conv *convs, size_t n,
		    bool has_more)
{
	struct wrap *w = arg;
	chatd_sync_cb cb = (chatd_sync_cb)w->cb;
	void *a = w->arg;
	free(w);
	struct opened o = { 0 };
	struct chatd_sync_conv *copy = NULL;
	if (status == CHATD_OK && n) {
		copy = calloc(n, sizeof *copy);
		if (!copy)
			status = CHATD_ERR_NOMEM;
		for (size_t i = 0; copy && i < n && status == CHATD_OK; i++) {
			struct chatd_message *m = NULL;
			copy[i] = convs[i];
			status = open_msgs(&o, convs[i].messages, convs[i].n_messages, &m);
			if (m)
				copy[i].messages = m;
		}
	}
	if (status == CHATD_OK)
		cb(a, status, copy, n, has_more);
	else
		cb(a, status, NULL, 0, false);
	for (size_t i = 0; copy && i < n; i++)
		if (copy[i].messages != convs[i].messages)
			free((void *)copy[i].messages);
	free(copy);
	opened_free(&o);
}

static int w_sync(void *inst, const char *user_id, const struct chatd_cursor *cursors,
		  size_t n_cursors, int per_conv, int total, chatd_sync_cb cb, void *arg)
{
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w)
		return CHATD_ERR_NOMEM;
	return wrapped(w, sc.real->sync(inst, user_id, cursors, n_cursors, per_conv, total,
					on_sync, w));
}

/* Search runs only with keys but no active key (sealing refuses it in
 * cmd_search): a hit on a sealed row can only match its base64, which is
 * no real match, so such hits are dropped. */
static void on_search(void *arg, int status, const struct chatd_search_hit *hits, size_t n,
		      int64_t next)
{
	struct wrap *w = arg;
	chatd_search_cb cb = (chatd_search_cb)w->cb;
	void *a = w->arg;
	free(w);
	struct chatd_search_hit *copy = NULL;
	size_t k = 0;
	if (status == CHATD_OK && n) {
		copy = malloc(n * sizeof *copy);
		if (!copy)
			status = CHATD_ERR_NOMEM;
		for (size_t i = 0; copy && i < n; i++)
			if (!enc_is_sealed(hits[i].msg.text))
				copy[k++] = hits[i];
	}
	if (status == CHATD_OK)
		cb(a, status, copy, k, next);
	else
		cb(a, status, NULL, 0, 0);
	free(copy);
}

static int w_search(void *inst, const struct chatd_search_req *req, chatd_search_cb cb,
		    void *arg)
{
	if (sc.kr->active)
		return CHATD_ERR_UNAVAILABLE;
	struct wrap *w = wrap_new((void (*)(void))cb, arg);
	if (!w)
		return CHATD_ERR_NOMEM;
	return wrapped(w, sc.real->search(inst, req, on_search, w));
}

/* ---- the table ---------------------------------------------------------- */

#define HAS(field) CORE_HAS_OP(real, struct chatd_storage_ops, field)

const struct chatd_storage_ops *storage_crypt_wrap(const struct chatd_storage_ops *real,
						   const struct enc_keyring *kr)
{
	if (!real || !kr || kr->n == 0)
		return real;
	memset(&sc, 0, sizeof sc);
	sc.real = real;
	sc.kr = kr;
	size_t size = real->struct_size < sizeof sc.ops ? real->struct_size : sizeof sc.ops;
	memcpy(&sc.ops, real, size);
	sc.ops.struct_size = (uint32_t)size;
	sc.ops.append = w_append;
	sc.ops.history = w_history;
	sc.ops.sync = w_sync;
	if (HAS(message_set_visibility))
		sc.ops.message_set_visibility = w_message_set_visibility;
	if (HAS(message_get))
		sc.ops.message_get = w_message_get;
	if (HAS(message_edit))
		sc.ops.message_edit = w_message_edit;
	if (HAS(message_delete))
		sc.ops.message_delete = w_message_delete;
	if (HAS(messages_latest))
		sc.ops.messages_latest = w_messages_latest;
	if (HAS(search))
		sc.ops.search = w_search;
	return &sc.ops;
}

bool storage_crypt_sealing(void)
{
	return sc.kr && sc.kr->active;
}

uint64_t storage_crypt_open_failures(void)
{
	return sc.open_failures;
}
