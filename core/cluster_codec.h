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
#include <stdint.h>
#include "chatd/presence.h"

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

/* The body of a "cluster.fanout" bus message: a fan-out every node runs
 * for its own sessions (when the fan-out plugin pushes only to members
 * online on its own node, as fanout_hybrid does).
 *
 * Format (bytes):
 *   "F1 " kind " " origin " " conv " " sender " " seq " " member_count " "
 *   len1 "\n" frame1 frame2
 * kind 'd' (a stored message: frame1 = to_sender, frame2 = to_others) or
 * 'm' (an event to the members: frame1, sender "-", no frame2); origin is
 * the sending node's id; ids are [A-Za-z0-9._@-]{1,64}; numbers decimal. */
struct cluster_fan {
	char kind;                     /* 'd' or 'm' */
	const char *origin, *conv, *sender;
	int64_t seq, member_count;
	const char *f1, *f2;
	size_t f1_len, f2_len;
};

/* Encode m into a new buffer (*out, caller frees).  Returns 0, or -1 on a
 * bad field or ENOMEM. */
int cluster_fan_encode(const struct cluster_fan *m, char **out, size_t *out_len);
/* Decode buf (len bytes; modified: separators become NUL); m's pointers
 * point into buf.  Returns 0, or -1 when malformed. */
int cluster_fan_decode(char *buf, size_t len, struct cluster_fan *m);

/* The users of one node, from a locate answer. */
struct cluster_group {
	const char *node;          /* borrowed from locs */
	const char **users;        /* borrowed from users[]; owned array */
	size_t n;
};

/* Group users[i] by the nodes locs[i] lists, skipping `self`, empty ids
 * and ids over 64 bytes; groups in order of first appearance, users in
 * their order.  *out (free with cluster_groups_free).  Returns the number
 * of groups, or -1 on ENOMEM. */
int cluster_group(const char *const *users, const struct chatd_presence_loc *locs, size_t n,
		  const char *self, struct cluster_group **out);
void cluster_groups_free(struct cluster_group *g, size_t n);

#endif
