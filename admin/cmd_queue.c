/* cmd_queue.c — the moderation queue: `reports list|show|resolve`,
 * `queue approve|reject` (held messages) and `appeals list|show|grant|deny`
 * (GET/POST /v1/queue…, /v1/appeals…). */
#include <stdlib.h>
#include <string.h>

#include "chatctl.h"
#include "table.h"

#define CONTEXT_MAX 20

/* ---- showing items ---- */

static void items_table(json_t *items)
{
	static const char *const head[] = { "ID", "KIND", "STATUS", "SUBJECT", "CONV", "SEQ",
					    "FILED_BY", "CREATED", "REASON" };
	struct table t;
	table_init(&t, 9, head);
	t.right = 1u | 1u << 5;
	t.maxw[4] = 24;
	t.maxw[8] = 40;
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) {
		char id[32], seq[32], created[32], reason[256];
		fmt_json(json_object_get(it, "id"), id, sizeof id);
		fmt_json(json_object_get(it, "seq"), seq, sizeof seq);
		fmt_time(json_integer_value(json_object_get(it, "created_at")), created,
			 sizeof created);
		/* An appeal's reason is "appeal"; its text is the note. */
		const char *r = json_string_value(json_object_get(it, "reason"));
		const char *note = json_string_value(json_object_get(it, "note"));
		snprintf(reason, sizeof reason, "%s%s%s", r ? r : "", note && *note ? ": " : "",
			 note ? note : "");
		const char *row[9] = {
			id, json_string_value(json_object_get(it, "kind")),
			json_string_value(json_object_get(it, "status")),
			json_string_value(json_object_get(it, "subject_id")),
			json_string_value(json_object_get(it, "conversation_id")), seq,
			json_string_value(json_object_get(it, "filed_by")), created, reason,
		};
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

static void item_fields(json_t *it)
{
	char buf[1024], t[40];
	static const char *const keys[][2] = {
		{ "id", "id" }, { "kind", "kind" }, { "status", "status" },
		{ "subject_id", "subject" }, { "conversation_id", "conversation" },
		{ "seq", "seq" }, { "filed_by", "filed by" }, { "reason", "reason" },
		{ "note", "note" },
	};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		json_t *v = json_object_get(it, keys[k][0]);
		if (!v || json_is_null(v))
			continue;
		fmt_json(v, buf, sizeof buf);
		kv_line(stdout, keys[k][1], buf);
	}
	fmt_time(json_integer_value(json_object_get(it, "created_at")), t, sizeof t);
	kv_line(stdout, "created", t);
	json_t *d = json_object_get(it, "detail");
	if (json_is_object(d) && json_object_size(d)) {
		fmt_json(d, buf, sizeof buf);
		kv_line(stdout, "detail", buf);
	}
	if (json_integer_value(json_object_get(it, "resolved_at")) > 0) {
		fmt_time(json_integer_value(json_object_get(it, "resolved_at")), t, sizeof t);
		const char *actor = json_string_value(json_object_get(it, "actor"));
		const char *action = json_string_value(json_object_get(it, "action"));
		snprintf(buf, sizeof buf, "%s by %s at %s", action ? action : "?",
			 actor ? actor : "?", t);
		kv_line(stdout, "resolved", buf);
		const char *rn = json_string_value(json_object_get(it, "resolution_note"));
		if (rn && *rn)
			kv_line(stdout, "resolution", rn);
	}
}

/* Messages around the item's seq, the item's own marked with '>'. */
static void context_table(json_t *msgs, json_int_t mark)
{
	static const char *const head[] = { "", "SEQ", "SENDER", "TIME", "TEXT" };
	struct table t;
	table_init(&t, 5, head);
	t.right = 1u << 1;
	t.maxw[4] = 100;
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m) {
		char seq[32], ts[40], text[1024], body[1000];
		json_int_t s = json_integer_value(json_object_get(m, "seq"));
		snprintf(seq, sizeof seq, "%lld", (long long)s);
		fmt_time(json_integer_value(json_object_get(m, "ts")), ts, sizeof ts);
		const char *tx = json_string_value(json_object_get(m, "text"));
		const char *vis = json_string_value(json_object_get(m, "visibility"));
		if (json_is_true(json_object_get(m, "deleted")))
			snprintf(body, sizeof body, "(deleted)%s%.900s", tx ? " " : "", tx ? tx : "");
		else if (!tx && json_object_get(m, "media"))
			snprintf(body, sizeof body, "(media)");
		else
			snprintf(body, sizeof body, "%.900s", tx ? tx : "");
		/* Staff see everything: say what members do not see. */
		if (vis && strcmp(vis, "normal") != 0)
			snprintf(text, sizeof text, "[%.20s] %s", vis, body);
		else
			snprintf(text, sizeof text, "%s", body);
		const char *row[5] = { s == mark ? ">" : " ", seq,
				       json_string_value(json_object_get(m, "sender_id")), ts,
				       text };
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

/* ---- reports list ---- */

static const char usage_list[] =
	"Usage: chatctl reports list [--status STATUS] [--kind KIND] [--limit N] [--after ID]\n"
	"\n"
	"List items of the moderation queue, oldest first: reports filed by users,\n"
	"messages flagged or held by the rules, and appeals.\n"
	"\n"
	"Options:\n"
	"  --status STATUS  open (default), actioned, dismissed or all\n"
	"  --kind KIND      only report, flag, hold or appeal items\n"
	"  --limit N        at most N items, 1..1000 (default 100)\n"
	"  --after ID       items after this id (the next page; the last line of a\n"
	"                   full page says which)\n"
	"\n"
	"Examples:\n"
	"  chatctl reports list\n"
	"  chatctl reports list --kind hold\n"
	"  chatctl reports list --status all --json | jq '.items[].id'\n";

static const struct opt list_opts[] = {
	{ "--status", 0, OPT_VALUE },
	{ "--kind", 0, OPT_VALUE },
	{ "--limit", 'n', OPT_VALUE },
	{ "--after", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static bool one_of(const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return true;
	return false;
}

struct list_ctx {
	long long limit;
	const char *what;
};

static int show_items(json_t *j, void *arg)
{
	struct list_ctx *lc = arg;
	json_t *items = json_object_get(j, "items");
	if (!json_is_array(items))
		items = json_object_get(j, "appeals");
	if (!json_array_size(items)) {
		printf("no %s\n", lc->what);
		return 0;
	}
	items_table(items);
	json_t *next = json_object_get(j, "next_after");
	if ((long long)json_array_size(items) >= lc->limit && json_integer_value(next) > 0)
		printf("(more: --after %lld)\n", (long long)json_integer_value(next));
	return 0;
}

static int list_items(struct ctl *ctl, const struct cmd *self, int argc, char **argv,
		      bool appeals)
{
	static const char *const statuses[] = { "open", "actioned", "dismissed", "all", NULL };
	static const char *const kinds[] = { "report", "flag", "hold", "appeal", NULL };
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	const char *status = args_get(&a, "--status");
	const char *kind = appeals ? NULL : args_get(&a, "--kind");
	const char *limit_s = args_get(&a, "--limit"), *after_s = args_get(&a, "--after");
	long long limit = 100, after = 0;
	if (!status)
		status = "open";
	if (!one_of(status, statuses))
		return ctl_usage_error(self, "--status: open, actioned, dismissed or all");
	if (kind && !one_of(kind, kinds))
		return ctl_usage_error(self, "--kind: report, flag, hold or appeal");
	if (limit_s && !args_int(limit_s, 1, 1000, &limit))
		return ctl_usage_error(self, "--limit: a number, 1..1000");
	if (after_s && !args_int(after_s, 0, INT64_MAX, &after))
		return ctl_usage_error(self, "--after: an item id");
	char path[256];
	int n = snprintf(path, sizeof path, "%s?limit=%lld", appeals ? "/v1/appeals" : "/v1/queue",
			 limit);
	if (strcmp(status, "all") != 0)
		n += snprintf(path + n, sizeof path - (size_t)n, "&status=%s", status);
	if (kind)
		n += snprintf(path + n, sizeof path - (size_t)n, "&kind=%s", kind);
	if (after)
		snprintf(path + n, sizeof path - (size_t)n, "&after=%lld", after);
	char what[64];
	snprintf(what, sizeof what, "%s%s%s", strcmp(status, "all") ? status : "",
		 strcmp(status, "all") ? " " : "", appeals ? "appeals" : "items");
	struct list_ctx lc = { limit, what };
	return api_show(ctl, "GET", path, NULL, show_items, &lc);
}

static int run_reports_list(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	return list_items(ctl, self, argc, argv, false);
}

/* ---- reports show ---- */

static const char usage_show[] =
	"Usage: chatctl reports show ID [--context N]\n"
	"\n"
	"Show one queue item and, for an item about a message, that message with\n"
	"the N messages before and after it (marked '>').  Reading message content\n"
	"is recorded in the audit log with your name.\n"
	"\n"
	"Options:\n"
	"  --context N  messages on each side, 0..20 (default 3)\n";

static const struct opt show_opts[] = {
	{ "--context", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static bool parse_id(const char *s, long long *id)
{
	return args_int(s, 1, INT64_MAX, id);
}

struct show_ctx {
	struct ctl *ctl;
	long long context;
};

static int show_item(json_t *it, void *arg)
{
	struct show_ctx *sc = arg;
	item_fields(it);
	const char *conv = json_string_value(json_object_get(it, "conversation_id"));
	json_int_t seq = json_integer_value(json_object_get(it, "seq"));
	if (!conv || seq <= 0 || sc->context == 0)
		return 0;
	json_t *ctx = json_object_get(it, "context");
	json_t *fetched = NULL;
	if (!json_is_array(ctx)) {
		/* Older servers: ask for the messages around the seq directly. */
		char path[512], q[64];
		if (!api_path(path, sizeof path, "/v1/conversations/%s/messages", conv))
			return 0;
		snprintf(q, sizeof q, "?around=%lld&context=%lld", (long long)seq, sc->context);
		strncat(path, q, sizeof path - strlen(path) - 1);
		struct http_response raw;
		int status = 0;
		if (api_call_status(sc->ctl, "GET", path, NULL, &status, &raw) == 0) {
			json_error_t je;
			if (status == 200)
				fetched = json_loads(raw.body, 0, &je);
			http_response_free(&raw);
		}
		ctx = json_object_get(fetched, "messages");
	}
	printf("\n");
	if (json_is_array(ctx) && json_array_size(ctx))
		context_table(ctx, seq);
	else
		printf("(no messages around seq %lld: the server did not provide context)\n",
		       (long long)seq);
	json_decref(fetched);
	return 0;
}

static int run_show(struct ctl *ctl, const struct cmd *self, int argc, char **argv,
		    bool appeals)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0)
		return rc;
	long long id, context = appeals ? 0 : 3;
	if (!parse_id(a.pos[0], &id))
		return ctl_usage_error(self, "ID: a positive number, not '%s'", a.pos[0]);
	const char *c = appeals ? NULL : args_get(&a, "--context");
	if (c && !args_int(c, 0, CONTEXT_MAX, &context))
		return ctl_usage_error(self, "--context: 0..%d", CONTEXT_MAX);
	char path[128];
	if (appeals)
		snprintf(path, sizeof path, "/v1/appeals/%lld", id);
	else if (context > 0)
		snprintf(path, sizeof path, "/v1/queue/%lld?context=%lld", id, context);
	else
		snprintf(path, sizeof path, "/v1/queue/%lld", id);
	struct show_ctx sc = { ctl, context };
	return api_show(ctl, "GET", path, NULL, show_item, &sc);
}

static int run_reports_show(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	return run_show(ctl, self, argc, argv, false);
}

/* ---- resolving ---- */

static const char usage_resolve[] =
	"Usage: chatctl reports resolve ID --action ACTION [--duration D] [--note TEXT]\n"
	"\n"
	"Act on an open queue item and close it.  Actions:\n"
	"  dismiss    nothing wrong; close the item\n"
	"  delete     delete the message for everyone (members see it deleted)\n"
	"  remove     hide the message from everyone but its sender\n"
	"  warn       send the author a warning notice (--note is the text)\n"
	"  mute       the author cannot send for --duration\n"
	"  shadowban  the author's messages reach only themselves\n"
	"  ban        close the author's sessions (4403) and refuse new ones;\n"
	"             permanent unless --duration\n"
	"  approve, reject   for held messages (as `chatctl queue approve|reject`)\n"
	"  grant, deny       for appeals (as `chatctl appeals grant|deny`)\n"
	"The action and note are recorded in the audit log with your name.\n"
	"\n"
	"Options:\n"
	"  --action ACTION  one of the above (required)\n"
	"  --duration D     for mute and ban: 90s, 30m, 12h, 7d, 2w (a bare number is\n"
	"                   seconds)\n"
	"  --note TEXT      why; kept with the item\n"
	"\n"
	"Examples:\n"
	"  chatctl reports resolve 12 --action ban --note 'spam links'\n"
	"  chatctl reports resolve 13 --action mute --duration 1h\n";

static const struct opt resolve_opts[] = {
	{ "--action", 0, OPT_VALUE },
	{ "--duration", 0, OPT_VALUE },
	{ "--note", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static int show_resolved(json_t *j, void *arg)
{
	(void)arg;
	char id[32];
	fmt_json(json_object_get(j, "id"), id, sizeof id);
	const char *st = json_string_value(json_object_get(j, "status"));
	const char *ac = json_string_value(json_object_get(j, "action"));
	char line[256];
	snprintf(line, sizeof line, "item %s: %s (%s)", id, st ? st : "resolved", ac ? ac : "?");
	char clean[300];
	fmt_clean(line, 0, clean, sizeof clean);
	printf("%s\n", clean);
	return 0;
}

/* POST /v1/<base>/ID/<verb> with {"action"?, "note"?, "duration_ms"?}. */
static int post_resolve(struct ctl *ctl, const char *base, long long id, const char *verb,
			const char *action, const char *note, int64_t duration_ms)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/%s/%lld/%s", base, id, verb);
	json_t *body = json_object();
	if (action)
		json_object_set_new(body, "action", json_string(action));
	if (note)
		json_object_set_new(body, "note", json_string(note));
	if (duration_ms > 0)
		json_object_set_new(body, "duration_ms", json_integer(duration_ms));
	int rc = api_show(ctl, "POST", path, body, show_resolved, NULL);
	json_decref(body);
	return rc;
}

static int run_resolve(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	static const char *const actions[] = { "dismiss", "delete", "remove", "warn", "mute",
					       "block", "shadowban", "ban", "approve", "reject",
					       "grant", "deny", NULL };
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0)
		return rc;
	long long id;
	if (!parse_id(a.pos[0], &id))
		return ctl_usage_error(self, "ID: a positive number, not '%s'", a.pos[0]);
	const char *action = args_get(&a, "--action");
	if (!action)
		return ctl_usage_error(self, "--action is required (dismiss, delete, warn, mute, "
				       "shadowban, ban, …)");
	if (!one_of(action, actions))
		return ctl_usage_error(self, "unknown action '%s'", action);
	int64_t dur = 0;
	const char *d = args_get(&a, "--duration");
	if (d && !args_duration_ms(d, &dur))
		return ctl_usage_error(self, "--duration '%s': e.g. 90s, 30m, 12h, 7d", d);
	if ((strcmp(action, "mute") == 0 || strcmp(action, "block") == 0) && !d)
		return ctl_usage_error(self, "%s needs --duration", action);
	const char *note = args_get(&a, "--note");
	if (note && strlen(note) > 2000)
		return ctl_usage_error(self, "--note: at most 2000 bytes");
	return post_resolve(ctl, "queue", id, "resolve", action, note, dur);
}

/* ---- queue approve|reject, appeals grant|deny ---- */

static int run_verb(struct ctl *ctl, const struct cmd *self, int argc, char **argv,
		    const char *base)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 1, 1);
	if (rc >= 0)
		return rc;
	long long id;
	if (!parse_id(a.pos[0], &id))
		return ctl_usage_error(self, "ID: a positive number, not '%s'", a.pos[0]);
	const char *note = args_get(&a, "--note");
	if (note && strlen(note) > 2000)
		return ctl_usage_error(self, "--note: at most 2000 bytes");
	return post_resolve(ctl, base, id, self->name, NULL, note, 0);
}

static int run_queue_verb(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	return run_verb(ctl, self, argc, argv, "queue");
}

static int run_appeal_verb(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	return run_verb(ctl, self, argc, argv, "appeals");
}

static int run_appeals_list(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	return list_items(ctl, self, argc, argv, true);
}

static int run_appeals_show(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	return run_show(ctl, self, argc, argv, true);
}

static const struct opt note_opts[] = {
	{ "--note", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static const struct opt appeals_list_opts[] = {
	{ "--status", 0, OPT_VALUE },
	{ "--limit", 'n', OPT_VALUE },
	{ "--after", 0, OPT_VALUE },
	{ NULL, 0, 0 },
};

static const char usage_approve[] =
	"Usage: chatctl queue approve ID [--note TEXT]\n"
	"\n"
	"Approve a held message: it is delivered to the conversation's members now.\n"
	"For a flagged or reported message, approve means the content is fine (the\n"
	"item is dismissed).  Find held messages with `chatctl reports list --kind\n"
	"hold`.\n";

static const char usage_reject[] =
	"Usage: chatctl queue reject ID [--note TEXT]\n"
	"\n"
	"Reject a held message: nobody but its sender ever sees it.\n";

static const char usage_appeals_list[] =
	"Usage: chatctl appeals list [--status STATUS] [--limit N] [--after ID]\n"
	"\n"
	"List appeals, oldest first.  A sanctioned user files one with\n"
	"POST /v1/appeals (banned users cannot open a session).\n"
	"\n"
	"Options:\n"
	"  --status STATUS  open (default), actioned, dismissed or all\n"
	"  --limit N        at most N, 1..1000 (default 100)\n"
	"  --after ID       the next page\n";

static const char usage_appeals_show[] =
	"Usage: chatctl appeals show ID\n"
	"\n"
	"Show one appeal: who, which sanction (detail), their text (note).\n";

static const char usage_grant[] =
	"Usage: chatctl appeals grant ID [--note TEXT]\n"
	"\n"
	"Grant an appeal: the appealed sanction is lifted now.\n";

static const char usage_deny[] =
	"Usage: chatctl appeals deny ID [--note TEXT]\n"
	"\n"
	"Deny an appeal: the sanction stays; the appeal is closed.\n";

const struct cmd cmds_reports[] = {
	{ .name = "list", .args = "", .summary = "list queue items (open ones by default)",
	  .usage = usage_list, .run = run_reports_list, .opts = list_opts, .flags = CMD_SERVER },
	{ .name = "show", .args = "ID", .summary = "one item, with the message in context",
	  .usage = usage_show, .run = run_reports_show, .opts = show_opts, .flags = CMD_SERVER },
	{ .name = "resolve", .args = "ID --action ACTION", .summary = "act on an item and close it",
	  .usage = usage_resolve, .run = run_resolve, .opts = resolve_opts, .flags = CMD_SERVER },
	{ .name = NULL },
};

const struct cmd cmds_queue[] = {
	{ .name = "approve", .args = "ID", .summary = "deliver a held message",
	  .usage = usage_approve, .run = run_queue_verb, .opts = note_opts, .flags = CMD_SERVER },
	{ .name = "reject", .args = "ID", .summary = "drop a held message",
	  .usage = usage_reject, .run = run_queue_verb, .opts = note_opts, .flags = CMD_SERVER },
	{ .name = NULL },
};

const struct cmd cmds_appeals[] = {
	{ .name = "list", .args = "", .summary = "list appeals (open ones by default)",
	  .usage = usage_appeals_list, .run = run_appeals_list, .opts = appeals_list_opts,
	  .flags = CMD_SERVER },
	{ .name = "show", .args = "ID", .summary = "one appeal", .usage = usage_appeals_show,
	  .run = run_appeals_show, .flags = CMD_SERVER },
	{ .name = "grant", .args = "ID", .summary = "lift the appealed sanction",
	  .usage = usage_grant, .run = run_appeal_verb, .opts = note_opts, .flags = CMD_SERVER },
	{ .name = "deny", .args = "ID", .summary = "keep the sanction; close the appeal",
	  .usage = usage_deny, .run = run_appeal_verb, .opts = note_opts, .flags = CMD_SERVER },
	{ .name = NULL },
};
