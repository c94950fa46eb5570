/* cluster_codec.h — the body of a "node.<id>" bus message: a frame for some
 * users of the receiving node.  Pure functions (unit-tested).
 *
 * Format (bytes):  "1 " user *(" " user) "\n" payload
 * where "1" is the format version, users are chat user ids (they never hold
 * a space or newline: auth_user_id_valid) and payload is the frame's JSON
 * exactly as it goes on the wire to clients (never re-encoded). */
#ifndef CHATD_CLUSTER_CODEC_H
#define CHATD_CLUSTER_CODEC_H

#include <stddef.h>

#define CLUSTER_USERS_MAX 1024   /* users per message (and per locate) */

/* Encode into a new buffer (*out, caller frees; *out_len bytes, no NUL
 * counted).  Returns 0, or -1 on a bad user id, n out of range or ENOMEM. */
int cluster_encode(const char *const *users, size_t n, const char *payload, size_t len,
		   char **out, size_t *out_len);

/* Decode buf (len bytes; modified: separators become NUL).  users[] gets
 * up to max pointers into buf; *payload points into buf.  Returns the
 * number of users, or -1 when malformed. */
int cluster_decode(char *buf, size_t len, const char **users, size_t max, const char **payload,
		   size_t *payload_len);

#endif
