/* proto_encode.h — server frames built from storage records. */
#ifndef CHATD_PROTO_ENCODE_H
#define CHATD_PROTO_ENCODE_H

#include <stdbool.h>
#include <jansson.h>
#include "chatd/media.h"
#include "chatd/storage.h"

/* A `message` object.  with_cmid: include client_message_id (only for the
 * sender's own sessions).  Returns a new reference or NULL. */
json_t *proto_message(const struct chatd_message *m, bool with_cmid);
/* The same for a viewer: client_message_id only when viewer is the sender. */
json_t *proto_message_for(const struct chatd_message *m, const char *viewer);
/* The media plugin whose urls() signs the media URLs of messages (NULL:
 * none, objects then carry no URL).  Core thread only: set when the
 * plugin is loaded, cleared when it is unloaded. */
void proto_set_media(const struct chatd_media_ops *ops, void *inst);
/* A message's `media` object: media_id, mime, size, url and thumbnail_url
 * (only when there is a thumbnail).  Returns a new reference or NULL. */
json_t *proto_media(const struct chatd_media_ref *ref);
/* A conversation object (without "type"); with the viewer's role,
 * read_seq and unread = max(0, last_seq - read_seq) when c->role is set. */
json_t *proto_conversation(const struct chatd_conversation *c);

#endif
