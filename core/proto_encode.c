/* proto_encode.c — see proto_encode.h. */
#include "proto_encode.h"

#include <string.h>
#include "log.h"

#define MEDIA_URL_MAX 2048

/* The media plugin that signs URLs (core thread only). */
static const struct chatd_media_ops *media_ops;
static void *media_inst;

void proto_set_media(const struct chatd_media_ops *ops, void *inst)
{
	media_ops = ops;
	media_inst = inst;
}

json_t *proto_media(const struct chatd_media_ref *ref)
{
	json_t *o = json_pack("{s:s}", "media_id", ref->media_id);
	if (!o || !ref->mime)
		return o; /* the upload's row is gone: its id only */
	json_object_set_new(o, "mime", json_string(ref->mime));
	json_object_set_new(o, "size", json_integer(ref->size));
	if (!media_ops)
		return o;
	char url[MEDIA_URL_MAX], thumb[MEDIA_URL_MAX];
	url[0] = thumb[0] = '\0';
	int st = media_ops->urls(media_inst, ref, url, sizeof url, thumb, sizeof thumb);
	if (st != CHATD_OK) {
		log_error("media", "urls.failed", "%s: no URL: %s", ref->media_id, chatd_strerror(st));
		return o;
	}
	json_object_set_new(o, "url", json_string(url));
	if (ref->thumbnail && thumb[0])
		json_object_set_new(o, "thumbnail_url", json_string(thumb));
	return o;
}

json_t *proto_message(const struct chatd_message *m, bool with_cmid)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "type", "message",
			      "conversation_id", m->conversation_id, "seq", (json_int_t)m->seq,
			      "message_id", m->message_id, "sender_id", m->sender_id, "ts",
			      (json_int_t)m->ts);
	if (!o)
		return NULL;
	if (m->deleted) {
		json_object_set_new(o, "deleted", json_true());
	} else {
		if (m->text)
			json_object_set_new(o, "text", json_string(m->text));
		if (m->media_id) {
			struct chatd_media_ref ref = {
				.media_id = m->media_id, .mime = m->media_mime,
				.size = m->media_size, .thumbnail = m->media_thumbnail,
			};
			json_object_set_new(o, "media", proto_media(&ref));
		}
	}
	if (with_cmid && m->client_message_id)
		json_object_set_new(o, "client_message_id", json_string(m->client_message_id));
	if (m->reply_to > 0)
		json_object_set_new(o, "reply_to", json_integer(m->reply_to));
	if (m->edited_at > 0)
		json_object_set_new(o, "edited_at", json_integer(m->edited_at));
	return o;
}

json_t *proto_message_for(const struct chatd_message *m, const char *viewer)
{
	return proto_message(m, viewer && strcmp(viewer, m->sender_id) == 0);
}

json_t *proto_conversation(const struct chatd_conversation *c)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:{s:b, s:b, s:b}}", "conversation_id",
			      c->conversation_id, "kind", c->kind, "member_count",
			      (json_int_t)c->member_count, "last_seq", (json_int_t)c->last_seq,
			      "settings", "locked", c->locked, "typing", c->typing, "receipts",
			      c->receipts);
	if (!o)
		return NULL;
	if (c->title)
		json_object_set_new(o, "title", json_string(c->title));
	if (c->peer_id)
		json_object_set_new(o, "peer_id", json_string(c->peer_id));
	if (c->role) {
		json_object_set_new(o, "role", json_string(c->role));
		json_object_set_new(o, "read_seq", json_integer(c->read_seq));
		json_object_set_new(o, "unread", json_integer(c->last_seq > c->read_seq
								? c->last_seq - c->read_seq : 0));
	}
	if (c->muted_until > 0)
		json_object_set_new(o, "muted_until", json_integer(c->muted_until));
	json_object_set_new(o, "created_at", json_integer(c->created_at));
	json_object_set_new(o, "last_activity", json_integer(c->last_activity));
	return o;
}
