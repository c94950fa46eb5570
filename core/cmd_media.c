/* cmd_media.c — media.upload and media.url through the media plugin.
 *
 * The core checks the fields' shape (media_parse.c); the plugin decides
 * the rest (allowed types, sizes, quota, rate) and says why it refused. */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "media_parse.h"
#include "pipeline.h"
#include "proto_decode.h"
#include "proto_encode.h"

static bool media_enabled(struct cmd *c)
{
	if (c->core->media)
		return true;
	cmd_error(c, "bad_request", "media is not enabled on this server");
	return false;
}

/* ---- media.upload -------------------------------------------------------- */

static void on_upload(void *arg, int status, const struct chatd_media_upload *u)
{
	struct cmd *c = arg;
	cmd_resume(c);
	const char *msg = u && u->message ? u->message : NULL;
	switch (status) {
	case CHATD_OK:
		if (!u || !u->media_id || !u->upload_url) {
			log_error("media", "upload.bad_reply", "the media plugin answered OK "
				  "without media_id or upload_url");
			cmd_error(c, "internal", "internal error");
			break;
		}
		cmd_reply(c, json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "media.upload",
				       "media_id", u->media_id, "upload_url", u->upload_url,
				       "method", "PUT", "expires_at", (json_int_t)u->expires_at));
		break;
	case CHATD_ERR_INVALID:
		cmd_error(c, "bad_request", msg ? msg : "upload refused");
		break;
	case CHATD_ERR_TOO_LARGE:
		cmd_error(c, "too_large", msg ? msg : "over the size limit or the quota");
		break;
	case CHATD_ERR_RATE_LIMITED: {
		int64_t after = u && u->retry_after_ms > 0 ? u->retry_after_ms : 1000;
		cmd_reply(c, json_pack("{s:s, s:s, s:s, s:b, s:I}", "type", "error", "code",
				       "rate_limited", "message", msg ? msg : "too many uploads",
				       "retryable", 1, "retry_after_ms", (json_int_t)after));
		break;
	}
	case CHATD_ERR_UNAVAILABLE:
	case CHATD_ERR_IO:
	case CHATD_ERR_SHUTDOWN:
		cmd_error(c, "unavailable", msg ? msg : "media is unavailable; retry");
		break;
	default:
		log_error("media", "upload.error", "%s", chatd_strerror(status));
		cmd_error(c, "internal", "internal error");
		break;
	}
	cmd_free(c);
}

void cmd_media_upload(struct cmd *c)
{
	if (!media_enabled(c))
		return;
	struct media_upload_args a;
	if (!media_parse_upload(c->msg, &a, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	struct cmd *m = cmd_clone(c, sizeof *m);
	if (!m) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	struct core *core = m->core;
	/* The strings point into m->msg, which m now owns. */
	int st = core->media->upload_begin(core->media_inst, m->user, a.mime, a.size, a.name,
					   on_upload, m);
	if (st != CHATD_OK) {
		on_upload(m, st, NULL); /* answers and frees m */
	}
}

/* ---- media.url ----------------------------------------------------------- */

static void on_lookup(void *arg, int status, const struct chatd_media_ref *ref)
{
	struct cmd *c = arg;
	cmd_resume(c);
	if (status == CHATD_OK && ref && ref->media_id) {
		cmd_reply(c, json_pack("{s:s, s:o}", "type", "media.url", "media", proto_media(ref)));
	} else if (status == CHATD_OK || status == CHATD_ERR_NOT_FOUND) {
		cmd_error(c, "not_found", "no such media");
	} else if (status == CHATD_ERR_INVALID) {
		cmd_error(c, "bad_request", "upload not complete");
	} else {
		cmd_failed(c, status);
	}
	cmd_free(c);
}

void cmd_media_url(struct cmd *c)
{
	if (!media_enabled(c))
		return;
	const char *media_id;
	if (!proto_get_id_string(c->msg, "media_id", true, 1, 64, &media_id, c->err)) {
		cmd_error(c, "bad_request", c->err);
		return;
	}
	struct cmd *m = cmd_clone(c, sizeof *m);
	if (!m) {
		cmd_error(c, "internal", "out of memory");
		return;
	}
	int st = m->core->media->lookup(m->core->media_inst, media_id, m->user, on_lookup, m);
	if (st != CHATD_OK)
		on_lookup(m, st, NULL);
}
