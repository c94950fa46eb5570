/* proto_encode.h — server frames built from storage records. */
#ifndef CHATD_PROTO_ENCODE_H
#define CHATD_PROTO_ENCODE_H

#include <stdbool.h>
#include <jansson.h>
#include "chatd/storage.h"

/* A `message` object.  with_cmid: include client_message_id (only for the
 * sender's own sessions).  Returns a new reference or NULL. */
json_t *proto_message(const struct chatd_message *m, bool with_cmid);
/* The same for a viewer: client_message_id only when viewer is the sender. */
json_t *proto_message_for(const struct chatd_message *m, const char *viewer);
/* A conversation object (without "type"); with the viewer's role,
 * read_seq and unread = max(0, last_seq - read_seq) when c->role is set. */
json_t *proto_conversation(const struct chatd_conversation *c);

#endif
