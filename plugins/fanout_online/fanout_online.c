/* fanout_online — the first fan-out strategy: push every stored message to
 * every online session of every member (fan-out on read for everyone else:
 * offline members pull with sync).
 *
 * Members are read from storage in pages of PAGE, so a large conversation
 * is never loaded whole; the member list of a conversation smaller than a
 * page is cached (member_cache.c), so a message to it costs no read.
 * Sessions are looked up by the host, which only knows this node's online
 * sessions. */
#include <stdlib.h>
#include <string.h>
#include "chatd/chatd.h"
#include "member_cache.h"

#define PAGE 500
#define CACHE_CONVERSATIONS 16384

struct fanout {
	const struct chatd_host *host;
	chatd_plugin_handle *h;
	chatd_metric_id m_deliveries, m_cache_misses;
	struct job *jobs;                /* in flight; freed by fini if storage never answers */
	struct member_cache *cache;
	/* Bumped by members_changed: a read started before a change must
	 * not fill the cache with what it saw. */
	uint64_t generation;
};

/* One delivery in progress: a page of members at a time. */
struct job {
	struct job *next, **prevp;
	struct fanout *fo;
	char conv[CHATD_ID_MAX + 1];
	char sender[CHATD_ID_MAX + 1];   /* "" for deliver_members */
	chatd_frame *to_sender;          /* a reference each (may be the same frame) */
	chatd_frame *to_others;
	uint64_t except;
	size_t offset;
	uint64_t generation;             /* fo->generation when the job started */
};

static void job_free(struct job *j)
{
	*j->prevp = j->next;
	if (j->next)
		j->next->prevp = j->prevp;
	j->fo->host->frame_unref(j->to_sender);
	j->fo->host->frame_unref(j->to_others);
	free(j);
}

static int next_page(struct job *j);

static void push(struct fanout *fo, const char *sender, const char *const *users, size_t n,
		 chatd_frame *to_sender, chatd_frame *to_others, uint64_t except)
{
	int delivered = 0;
	for (size_t i = 0; i < n; i++) {
		bool is_sender = sender && sender[0] && strcmp(users[i], sender) == 0;
		delivered += fo->host->deliver_user(fo->h, users[i], is_sender ? to_sender : to_others,
						    except);
	}
	fo->host->metric_add(fo->h, fo->m_deliveries, delivered);
}

static void on_members(void *arg, int status, const struct chatd_conversation *conv,
		       const struct chatd_member *members, size_t n)
{
	(void)conv;
	struct job *j = arg;
	struct fanout *fo = j->fo;
	if (status != CHATD_OK) {
		fo->host->log(fo->h, CHATD_LOG_WARN, "fanout.members_failed",
			      "conversation %s: %s; members will sync", j->conv,
			      chatd_strerror(status));
		job_free(j);
		return;
	}
	const char *small[64] = { NULL };
	const char **users = n <= 64 ? small : malloc(n * sizeof *users);
	for (size_t i = 0; users && i < n; i++)
		users[i] = members[i].user_id;
	if (users) {
		push(fo, j->sender, users, n, j->to_sender, j->to_others, j->except);
		/* A whole conversation in one page: remember it. */
		if (j->offset == PAGE && n < PAGE && j->generation == fo->generation)
			member_cache_put(fo->cache, j->conv, users, n);
		if (users != small)
			free(users);
	}
	if (n < PAGE || next_page(j) != CHATD_OK)
		job_free(j);
}

static int next_page(struct job *j)
{
	const struct chatd_storage_ops *st;
	void *inst;
	j->fo->host->storage(j->fo->h, &st, &inst);
	size_t off = j->offset;
	j->offset += PAGE;
	return st->conv_get(inst, j->conv, NULL, off, PAGE, on_members, j);
}

static int start(struct fanout *fo, const char *conv, const char *sender, chatd_frame *to_sender,
		 chatd_frame *to_others, uint64_t except)
{
	if (strlen(conv) > CHATD_ID_MAX || (sender && strlen(sender) > CHATD_ID_MAX))
		return CHATD_ERR_INVALID;
	size_t n;
	const char *const *users = member_cache_get(fo->cache, conv, &n);
	if (users) {
		push(fo, sender, users, n, to_sender, to_others, except);
		return CHATD_OK;
	}
	fo->host->metric_add(fo->h, fo->m_cache_misses, 1);
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return CHATD_ERR_NOMEM;
	j->fo = fo;
	strcpy(j->conv, conv);
	strcpy(j->sender, sender ? sender : "");
	fo->host->frame_ref(to_sender);
	fo->host->frame_ref(to_others);
	j->to_sender = to_sender;
	j->to_others = to_others;
	j->except = except;
	j->generation = fo->generation;
	j->next = fo->jobs;
	j->prevp = &fo->jobs;
	if (fo->jobs)
		fo->jobs->prevp = &j->next;
	fo->jobs = j;
	int rc = next_page(j);
	if (rc != CHATD_OK)
		job_free(j);
	return rc;
}

static int deliver(void *inst, const struct chatd_fanout_msg *m)
{
	return start(inst, m->conversation_id, m->sender_id, m->to_sender, m->to_others,
		     m->origin_session);
}

static int deliver_members(void *inst, const char *conversation_id, chatd_frame *f,
			   uint64_t except_session)
{
	return start(inst, conversation_id, NULL, f, f, except_session);
}

static void members_changed(void *inst, const char *conversation_id)
{
	struct fanout *fo = inst;
	fo->generation++;
	member_cache_drop(fo->cache, conversation_id);
}

static int init(const struct chatd_host *host, chatd_plugin_handle *h, void **instance)
{
	struct fanout *fo = calloc(1, sizeof *fo);
	if (!fo)
		return CHATD_ERR_NOMEM;
	fo->host = host;
	fo->h = h;
	fo->m_deliveries = host->metric_counter(h, "deliveries_total",
						"frames queued to online sessions");
	fo->m_cache_misses = host->metric_counter(h, "member_cache_misses_total",
						  "messages whose members were read from storage");
	fo->cache = member_cache_new(CACHE_CONVERSATIONS);
	if (!fo->cache) {
		free(fo);
		return CHATD_ERR_NOMEM;
	}
	*instance = fo;
	return CHATD_OK;
}

static void fini(void *instance)
{
	struct fanout *fo = instance;
	while (fo->jobs)
		job_free(fo->jobs);
	member_cache_free(fo->cache);
	free(fo);
}

static const struct chatd_fanout_ops ops = {
	.struct_size = sizeof(struct chatd_fanout_ops),
	.deliver = deliver,
	.deliver_members = deliver_members,
	.members_changed = members_changed,
};

static const struct chatd_plugin descriptor = {
	CHATD_PLUGIN_HEADER,
	.kind = CHATD_KIND_FANOUT,
	.name = "online",
	.version = "1.0.0",
	.description = "push every message to every online member's sessions",
	.init = init,
	.fini = fini,
	.ops = &ops,
};

CHATD_PLUGIN_EXPORT(descriptor)
