/* proto_encode.c — see proto_encode.h. */
#include "proto_encode.h"

#include <string.h>

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
		if (m->media_id)
			json_object_set_new(o, "media", json_pack("{s:s}", "media_id", m->media_id));
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
