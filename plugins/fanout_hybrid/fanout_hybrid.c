/* fanout_hybrid — fan-out on write (an inbox row per member, written by
 * storage with the message) up to write_threshold members, fan-out on read
 * above it; either way, stored messages are pushed to the members online
 * on this node.
 *
 * Membership is never read per message.  The plugin keeps, per
 * conversation, its members online on this node (online_set.c): a user's
 * conversations are read once when their first session comes up
 * (user_online), and member_joined/member_left keep the sets current from
 * then on.  A message to a 10,000-member group with 300 members online
 * here touches those 300 and nothing else.
 *
 * The read at user_online races with joins, leaves and the user going
 * away.  Each registration is a `struct load` attached to the user in the
 * set while it is in flight:
 *   - a join during the load adds the pair at once (and the read result,
 *     which may or may not contain it, cannot remove it);
 *   - a leave during the load removes the pair at once and is remembered
 *     in the load, so the read, which may have seen the user still a
 *     member, does not add it back;
 *   - user_offline detaches the load (abandoned): its result is dropped
 *     and ready is never called; a later user_online starts a new load.
 * Storage calls every completion exactly once on the core thread, and
 * drops undelivered ones at its own fini, which the core runs after ours
 * (storage goes last): so fini frees loads still in flight and no
 * completion can reach them afterwards — as fanout_online does with its
 * jobs. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"
#include "online_set.h"

#define FANOUT_MAGIC 0x46484231u /* "FHB1" */
#define LOAD_MAGIC 0x464c4431u   /* "FLD1" */

static const struct chatd_option hybrid_options[] = {
	{ .key = "write_threshold", .type = CHATD_OPT_INT, .def = "100", .min = 0,
	  .max = INT64_MAX,
	  .help = "conversations with at most this many members get an inbox row per member "
		  "with each message (fan-out on write); larger ones none (fan-out on read)" },
	{ .key = NULL },
};

struct fanout {
	uint32_t magic;
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	int64_t write_threshold;
	struct online_set *set;
	struct load *loads;        /* in flight, abandoned ones included */
	chatd_metric_id m_deliveries, m_online, m_registrations, m_reg_failed, m_reg_dropped,
		m_update_failed;
};

/* A user's registration: their conversation list being read. */
struct load {
	uint32_t magic;
	struct load *next, **prevp;
	struct fanout *fo;
	void (*ready)(void *arg, const char *user_id, int status);
	void *arg;
	bool abandoned;            /* the user went offline: drop the result */
	bool lost_leave;           /* a leave could not be recorded: do not apply the result */
	char **left;               /* conversations left while the read was in flight */
	size_t n_left, cap_left;
	char user[CHATD_ID_MAX + 1];
};

/* The user data of a user whose registration is done.  A load in flight
 * is attached instead; users with no data are not online. */
static char registered_mark;
#define REGISTERED ((void *)&registered_mark)

static struct fanout *fanout_of(void *inst)
{
	struct fanout *fo = inst;
	assert(fo && fo->magic == FANOUT_MAGIC);
	return fo;
}

static bool id_ok(const char *id)
{
	return id && id[0] && strlen(id) <= CHATD_ID_MAX;
}

/* ---- loads --------------------------------------------------------- */

static void load_forget_left(struct load *l)
{
	for (size_t i = 0; i < l->n_left; i++)
		free(l->left[i]);
	free(l->left);
	l->left = NULL;
	l->n_left = l->cap_left = 0;
}

static void load_free(struct load *l)
{
	*l->prevp = l->next;
	if (l->next)
		l->next->prevp = l->prevp;
	load_forget_left(l);
	l->magic = 0;
	free(l);
}

static bool load_has_left(const struct load *l, const char *conv)
{
	for (size_t i = 0; i < l->n_left; i++)
		if (strcmp(l->left[i], conv) == 0)
			return true;
	return false;
}

/* Remember that the user left conv while their read was in flight. */
static void load_note_leave(struct load *l, const char *conv)
{
	if (l->lost_leave || load_has_left(l, conv))
		return;
	if (l->n_left == l->cap_left) {
		size_t nc = l->cap_left ? l->cap_left * 2 : 4;
		char **v = realloc(l->left, nc * sizeof *v);
		if (!v)
			goto lost;
		l->left = v;
		l->cap_left = nc;
	}
	if (!(l->left[l->n_left] = strdup(conv)))
		goto lost;
	l->n_left++;
	return;
lost:
	/* The read result cannot be trusted without the leave: discard it
	 * (the user relies on sync) rather than push to a removed member. */
	l->lost_leave = true;
	load_forget_left(l);
}

static void on_conv_list(void *arg, int status, const struct chatd_conversation *items,
			 size_t n)
{
	struct load *l = arg;
	assert(l && l->magic == LOAD_MAGIC);
	struct fanout *fo = l->fo;
	if (l->abandoned) {
		fo->host->metric_add(fo->h, fo->m_reg_dropped, 1);
		load_free(l);
		return;
	}
	assert(online_set_user_data(fo->set, l->user) == l);
	size_t added = 0;
	if (status == CHATD_OK && l->lost_leave)
		status = CHATD_ERR_NOMEM;
	for (size_t i = 0; status == CHATD_OK && i < n; i++) {
		const char *conv = items[i].conversation_id;
		if (!conv || load_has_left(l, conv))
			continue;
		int rc = online_set_add(fo->set, conv, l->user);
		if (rc < 0)
			status = CHATD_ERR_NOMEM;
		else
			added += (size_t)rc;
	}
	/* The user stays online either way: joins from now on still reach
	 * them; on failure they miss pushes of the conversations they were
	 * already in and rely on sync. */
	(void)online_set_user_set(fo->set, l->user, REGISTERED); /* replaces data: cannot fail */
	if (status != CHATD_OK) {
		/* No user id above debug: log lines carry hashed ids only. */
		fo->host->log(fo->h, CHATD_LOG_WARN, "fanout.register_failed",
			      "reading a user's conversations: %s; their pushes rely on sync",
			      chatd_strerror(status));
		fo->host->log(fo->h, CHATD_LOG_DEBUG, "fanout.register_failed.detail",
			      "the user was %s", l->user);
		fo->host->metric_add(fo->h, fo->m_reg_failed, 1);
	} else {
		fo->host->log(fo->h, CHATD_LOG_DEBUG, "fanout.registered",
			      "user %s: online in %zu of %zu conversations", l->user, added, n);
	}
	/* Unlinked before the call: ready may re-enter (user_offline, a
	 * send that fans out, even user_online again). */
	void (*ready)(void *, const char *, int) = l->ready;
	void *ready_arg = l->arg;
	char user[CHATD_ID_MAX + 1];
	memcpy(user, l->user, sizeof user);
	load_free(l);
	ready(ready_arg, user, status);
}

/* ---- ops ----------------------------------------------------------- */

static bool write_inbox(void *inst, const char *conversation_id, int64_t member_count)
{
	(void)conversation_id;
	return member_count <= fanout_of(inst)->write_threshold;
}

static int user_online(void *inst, const char *user_id,
		       void (*ready)(void *arg, const char *user_id, int status), void *arg)
{
	struct fanout *fo = fanout_of(inst);
	if (!id_ok(user_id) || !ready)
		return CHATD_ERR_INVALID;
	void *data = online_set_user_data(fo->set, user_id);
	if (data == REGISTERED) {
		/* Not the first session after all: nothing to read. */
		ready(arg, user_id, CHATD_OK);
		return CHATD_OK;
	}
	if (data) /* a registration in flight owns the one ready call */
		return CHATD_ERR_EXISTS;

	struct load *l = calloc(1, sizeof *l);
	if (!l)
		return CHATD_ERR_NOMEM;
	l->magic = LOAD_MAGIC;
	l->fo = fo;
	l->ready = ready;
	l->arg = arg;
	strcpy(l->user, user_id);
	if (online_set_user_set(fo->set, user_id, l) < 0) {
		free(l);
		return CHATD_ERR_NOMEM;
	}
	l->next = fo->loads;
	l->prevp = &fo->loads;
	if (fo->loads)
		fo->loads->prevp = &l->next;
	fo->loads = l;
	fo->host->metric_add(fo->h, fo->m_registrations, 1);
	fo->host->metric_add(fo->h, fo->m_online, 1);

	const struct chatd_storage_ops *st = NULL;
	void *st_inst = NULL;
	fo->host->storage(fo->h, &st, &st_inst);
	int rc = st && st->conv_list ? st->conv_list(st_inst, user_id, on_conv_list, l)
				     : CHATD_ERR_UNAVAILABLE;
	if (rc == CHATD_OK)
		return CHATD_OK; /* l may be gone already: a completion before return */
	/* Not queued, so no completion: finish the registration here, as the
	 * completion would have with an error. */
	on_conv_list(l, rc, NULL, 0);
	return CHATD_OK;
}

static void user_offline(void *inst, const char *user_id)
{
	struct fanout *fo = fanout_of(inst);
	if (!user_id)
		return;
	size_t n = 0;
	void *data = online_set_remove_user(fo->set, user_id, &n);
	if (!data)
		return; /* not online here (or never registered) */
	fo->host->metric_add(fo->h, fo->m_online, -1);
	if (data != REGISTERED) {
		struct load *l = data;
		assert(l->magic == LOAD_MAGIC);
		l->abandoned = true;
		load_forget_left(l);
	}
}

static void member_joined(void *inst, const char *conversation_id, const char *user_id)
{
	struct fanout *fo = fanout_of(inst);
	if (!conversation_id || !user_id || !online_set_user_data(fo->set, user_id))
		return;
	if (online_set_add(fo->set, conversation_id, user_id) < 0) {
		fo->host->log(fo->h, CHATD_LOG_WARN, "fanout.join_failed",
			      "a user joined %s: out of memory; their pushes from it rely on sync",
			      conversation_id);
		fo->host->log(fo->h, CHATD_LOG_DEBUG, "fanout.join_failed.detail",
			      "the user was %s", user_id);
		fo->host->metric_add(fo->h, fo->m_update_failed, 1);
	}
}

static void member_left(void *inst, const char *conversation_id, const char *user_id)
{
	struct fanout *fo = fanout_of(inst);
	if (!conversation_id || !user_id)
		return;
	(void)online_set_remove(fo->set, conversation_id, user_id);
	void *data = online_set_user_data(fo->set, user_id);
	if (data && data != REGISTERED)
		load_note_leave(data, conversation_id);
}

static int deliver(void *inst, const struct chatd_fanout_msg *m)
{
	struct fanout *fo = fanout_of(inst);
	if (!m || !m->conversation_id)
		return CHATD_ERR_INVALID;
	const char *sender = m->sender_id ? m->sender_id : "";
	int64_t delivered = 0;
	struct online_iter it;
	/* deliver_user only queues: it cannot re-enter and change the set. */
	for (const char *u = online_set_conv_first(fo->set, m->conversation_id, &it); u;
	     u = online_set_next(&it)) {
		chatd_frame *f = strcmp(u, sender) == 0 ? m->to_sender : m->to_others;
		delivered += fo->host->deliver_user(fo->h, u, f, m->origin_session);
	}
	if (delivered)
		fo->host->metric_add(fo->h, fo->m_deliveries, delivered);
	return CHATD_OK;
}

static int deliver_members(void *inst, const char *conversation_id, chatd_frame *f,
			   uint64_t except_session)
{
	struct fanout *fo = fanout_of(inst);
	if (!conversation_id || !f)
		return CHATD_ERR_INVALID;
	int64_t delivered = 0;
	struct online_iter it;
	for (const char *u = online_set_conv_first(fo->set, conversation_id, &it); u;
	     u = online_set_next(&it))
		delivered += fo->host->deliver_user(fo->h, u, f, except_session);
	if (delivered)
		fo->host->metric_add(fo->h, fo->m_deliveries, delivered);
	return CHATD_OK;
}

static void members_changed(void *inst, const char *conversation_id)
{
	/* member_joined / member_left carry the change. */
	(void)inst;
	(void)conversation_id;
}

/* ---- init / fini --------------------------------------------------- */

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	int64_t threshold = 100;
	int rc = host->config_int(h, "write_threshold", &threshold);
	if (rc != CHATD_OK && rc != CHATD_ERR_NOT_FOUND)
		return rc;
	if (threshold < 0) {
		host->log(h, CHATD_LOG_ERROR, "fanout.bad_option",
			  "write_threshold must be >= 0 (got %lld)", (long long)threshold);
		return CHATD_ERR_INVALID;
	}
	struct fanout *fo = calloc(1, sizeof *fo);
	if (!fo)
		return CHATD_ERR_NOMEM;
	fo->set = online_set_new();
	if (!fo->set) {
		free(fo);
		return CHATD_ERR_NOMEM;
	}
	fo->magic = FANOUT_MAGIC;
	fo->host = host;
	fo->h = h;
	fo->write_threshold = threshold;
	fo->m_deliveries = host->metric_counter(h, "deliveries_total",
						"frames queued to online sessions");
	fo->m_online = host->metric_counter(h, "online_users",
					    "users online on this node (goes down as well as up)");
	fo->m_registrations = host->metric_counter(h, "registrations_total",
						   "users whose first session came up");
	fo->m_reg_failed = host->metric_counter(h, "registrations_failed_total",
						"registrations whose conversation list could not be "
						"read or kept (the user relies on sync)");
	fo->m_reg_dropped = host->metric_counter(h, "registrations_dropped_total",
						 "conversation lists discarded: the user went offline "
						 "before they arrived");
	fo->m_update_failed = host->metric_counter(h, "join_failed_total",
						   "joins not applied to an online member (out of "
						   "memory)");
	host->log(h, CHATD_LOG_INFO, "fanout.start", "write_threshold %lld",
		  (long long)threshold);
	*instance = fo;
	return CHATD_OK;
}

static void fini(void *instance)
{
	struct fanout *fo = fanout_of(instance);
	while (fo->loads)
		load_free(fo->loads);
	online_set_free(fo->set);
	fo->magic = 0;
	free(fo);
}

static const struct chatd_fanout_ops hybrid_ops = {
	.struct_size = sizeof(struct chatd_fanout_ops),
	.deliver = deliver,
	.deliver_members = deliver_members,
	.members_changed = members_changed,
	.write_inbox = write_inbox,
	.user_online = user_online,
	.user_offline = user_offline,
	.member_joined = member_joined,
	.member_left = member_left,
};

static const struct chatd_plugin hybrid_plugin = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_FANOUT,
	.name = "hybrid",
	.version = "1.0.0",
	.description = "inbox rows up to write_threshold members; push to online members "
		       "from per-conversation online sets",
	.options = hybrid_options,
	.init = init,
	.fini = fini,
	.ops = &hybrid_ops,
};

/* The unit tests include this file (to test the registration races with a
 * fake storage) next to another plugin's export. */
#ifndef FANOUT_HYBRID_NO_EXPORT
CHATD_PLUGIN_EXPORT(hybrid_plugin)
#endif
