/* cmd_encryption.c — `chatctl encryption status` (GET /v1/encryption) and
 * `chatctl encryption reencrypt [--wait]` (POST /v1/encryption/reencrypt,
 * then GET /v1/encryption until the job is over). */
#include <string.h>
#include <time.h>

#include "chatctl.h"
#include "table.h"

#define WAIT_POLL_MS 250

static const char usage_status[] =
	"Usage: chatctl encryption status [--json]\n"
	"\n"
	"Show encryption at rest: the active key id (new texts are sealed with it),\n"
	"every key id of the config's encryption.keys (never a key), and the\n"
	"re-encryption job of this node: state (idle, running, done, failed) and\n"
	"its counts.  Needs an admin token.  GET /v1/encryption.\n";

static const char usage_reencrypt[] =
	"Usage: chatctl encryption reencrypt [--wait] [--json]\n"
	"\n"
	"Start the re-encryption job on this node: every stored message text that\n"
	"is not sealed with the active key (plaintext from before encryption was\n"
	"turned on, or sealed with an older key) is sealed with the active key and\n"
	"written back, in the background, in small batches.  A row edited meanwhile\n"
	"is left as the edit wrote it (counted as a conflict); a row that cannot be\n"
	"opened (its key is missing, or it is damaged) is logged, counted as a\n"
	"failure and skipped.  Once a run ends with 0 failures no stored text needs\n"
	"an older key: remove it from encryption.keys (docs/operations.md, Key\n"
	"rotation).  A job is not resumed after a restart; running it again is safe.\n"
	"Needs an admin token.  POST /v1/encryption/reencrypt.\n"
	"\n"
	"Options:\n"
	"  --wait    poll until the job is over and print its counts; exit 1 when\n"
	"            it failed or any row could not be rewritten\n"
	"\n"
	"Exit 1 also when a job is running already (409 already_running) or no key\n"
	"is active (409 no_active_key).\n";

static void show_job(const json_t *job)
{
	char buf[256], t[64];
	fmt_json(json_object_get(job, "state"), buf, sizeof buf);
	const char *key = json_string_value(json_object_get(job, "key_id"));
	if (key) {
		size_t n = strlen(buf);
		snprintf(buf + n, sizeof buf - n, " (to key %s)", key);
	}
	kv_line(stdout, "reencrypt", buf);
	json_int_t started = json_integer_value(json_object_get(job, "started_at"));
	if (started) {
		fmt_time(started, t, sizeof t);
		kv_line(stdout, "started", t);
	}
	json_int_t finished = json_integer_value(json_object_get(job, "finished_at"));
	if (finished) {
		fmt_time(finished, t, sizeof t);
		kv_line(stdout, "finished", t);
	}
	static const char *const counts[] = { "scanned", "rewritten", "already_current",
					      "conflicts", "failures" };
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		fmt_json(json_object_get(job, counts[i]), buf, sizeof buf);
		kv_line(stdout, counts[i], buf);
	}
	const char *err = json_string_value(json_object_get(job, "error"));
	if (err) {
		fmt_clean(err, 200, buf, sizeof buf);
		kv_line(stdout, "error", buf);
	}
}

static int show_status(json_t *j, void *arg)
{
	(void)arg;
	char buf[1024];
	const char *active = json_string_value(json_object_get(j, "active_key_id"));
	kv_line(stdout, "active key", active ? active : "(none: new texts are stored as sent)");
	buf[0] = '\0';
	size_t i, n = 0;
	json_t *id;
	json_array_foreach(json_object_get(j, "key_ids"), i, id) {
		const char *s = json_string_value(id);
		if (s && n + strlen(s) + 3 < sizeof buf)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", s);
	}
	kv_line(stdout, "keys", n ? buf : "(none)");
	show_job(json_object_get(j, "reencrypt"));
	return 0;
}

static int run_status(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	return api_show(ctl, "GET", "/v1/encryption", NULL, show_status, NULL);
}

static const struct opt reencrypt_opts[] = {
	{ "--wait", 0, 0 },
	{ NULL, 0, 0 },
};

static bool job_running(const json_t *j)
{
	const char *st = json_string_value(json_object_get(json_object_get(j, "reencrypt"),
							    "state"));
	return st && strcmp(st, "running") == 0;
}

/* 0 when the job is done with no failure, else EXIT_RUNTIME. */
static int job_outcome(const json_t *j)
{
	const json_t *job = json_object_get(j, "reencrypt");
	const char *st = json_string_value(json_object_get(job, "state"));
	if (!st || strcmp(st, "done") != 0)
		return EXIT_RUNTIME;
	return json_integer_value(json_object_get(job, "failures")) ? EXIT_RUNTIME : 0;
}

static int run_reencrypt(struct ctl *ctl, const struct cmd *self, int argc, char **argv)
{
	struct args a;
	int rc = ctl_parse_pos(ctl, self, argc, argv, &a, 0, 0);
	if (rc >= 0)
		return rc;
	bool wait = args_has(&a, "--wait");
	json_t *j = NULL;
	struct http_response raw;
	rc = api_call(ctl, "POST", "/v1/encryption/reencrypt", NULL, &j, &raw);
	if (rc)
		return rc;
	if (!wait) {
		if (ctl->json)
			rc = api_print_raw(&raw);
		else
			printf("re-encryption started; 'chatctl encryption status' shows its "
			       "progress\n");
		json_decref(j);
		http_response_free(&raw);
		return rc;
	}
	while (job_running(j)) {
		http_response_free(&raw);
		nanosleep(&(struct timespec){ .tv_nsec = WAIT_POLL_MS * 1000000L }, NULL);
		json_decref(j);
		j = NULL;
		rc = api_call(ctl, "GET", "/v1/encryption", NULL, &j, &raw);
		if (rc)
			return rc;
	}
	if (ctl->json)
		rc = api_print_raw(&raw);
	else
		show_job(json_object_get(j, "reencrypt"));
	http_response_free(&raw);
	if (!rc)
		rc = job_outcome(j);
	json_decref(j);
	return rc;
}

const struct cmd cmds_encryption[] = {
	{ .name = "status", .args = "", .summary = "keys and the re-encryption job",
	  .usage = usage_status, .run = run_status, .flags = CMD_SERVER },
	{ .name = "reencrypt", .args = "", .summary = "seal every stored text with the active key",
	  .usage = usage_reencrypt, .run = run_reencrypt, .opts = reencrypt_opts,
	  .flags = CMD_SERVER },
	{ .name = NULL },
};
