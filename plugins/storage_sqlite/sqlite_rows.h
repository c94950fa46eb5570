/* sqlite_rows.h — pieces the storage ops share (sqlite_rows.c).
 *
 * Threads: the storage_checks.h helpers run anywhere; everything
 * taking a connection or statement runs on the worker thread that owns it.
 * Strings and arrays that the readers return live in the request's arena
 * (freed with the request). */
#ifndef SQLITE_ROWS_H
#define SQLITE_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "chatd/storage.h"
#include "sqlite_worker.h"
#include "../common/storage_checks.h"   /* store_valid_str, store_make_id, ... */

/* An SQLite result code as a chatd status. */
int sqlite_db_status(int rc);
/* Step a bound statement that returns no row, then reset it: CHATD_OK on
 * SQLITE_DONE, else the error as a status. */
int sqlite_step_done(sqlite3_stmt *st);
/* Bind s as text (borrowed until the statement is reset), or NULL. */
void sqlite_bind_str(sqlite3_stmt *st, int i, const char *s);
/* Column i as an arena copy (NULL for SQL NULL; *oom set on failure). */
char *sqlite_col_text(struct sqlite_req *r, sqlite3_stmt *st, int i, bool *oom);
/* Make room for element n of an arena array of *cap elements. */
bool sqlite_grow(struct sqlite_req *r, void **arr, size_t *cap, size_t n, size_t elem);

/* Row readers for the column lists of sqlite_rows.c's queries.  A message
 * deleted for everyone is read with text, media_id and moderation NULL.
 * Messages carry their media row's mime, size and thumbnail (ABI 1.3). */
typedef bool (*sqlite_row_reader)(struct sqlite_req *r, sqlite3_stmt *st, void *out);
bool sqlite_read_conv(struct sqlite_req *r, sqlite3_stmt *st, void *out);
bool sqlite_read_msg(struct sqlite_req *r, sqlite3_stmt *st, void *out);
bool sqlite_read_member(struct sqlite_req *r, sqlite3_stmt *st, void *out);
/* Step a bound statement to its end, appending each row (decoded by fn into
 * an element of `elem` bytes) to the arena array *arr of *n.  At most `max`
 * rows are kept; *more (if given) says another row existed.  Resets st. */
int sqlite_read_rows(struct sqlite_req *r, sqlite3_stmt *st, size_t max, size_t elem,
		     sqlite_row_reader fn, void **arr, size_t *n, bool *more);

/* The message columns sqlite_read_msg reads, from SQLITE_MSG_FROM. */
#define SQLITE_MSG_COLS \
	"m.conversation_id, m.seq, m.message_id, m.sender_id, m.client_message_id, m.text, " \
	"m.media_id, m.reply_to, m.created_at, m.edited_at, m.deleted, m.visibility, " \
	"m.moderation, d.mime, d.size, d.thumbnail"
/* The media row of a message (ABI 1.3), absent when it has none or the row
 * is gone: a primary-key lookup per message read. */
#define SQLITE_MSG_FROM "messages m LEFT JOIN media d ON d.media_id = m.media_id"
/* What viewer ?4 may see: not deleted-for-me, and "normal" unless it is
 * their own.  No viewer (staff view): everything.  In SQL, so that LIMIT
 * (take + 1) counts only visible rows and has_more stays exact. */
#define SQLITE_MSG_VISIBLE \
	"(?4 IS NULL OR ((m.visibility = 'normal' OR m.sender_id = ?4) AND " \
	"NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?4 " \
	"AND h.conversation_id = m.conversation_id AND h.seq = m.seq)))"

/* Conversation rows (sqlite_read_conv's) also carry the viewer's
 * members.history_from in this column (NULL: no viewer). */
#define SQLITE_CONV_COL_HISTORY_FROM 14

/* Queries more than one op runs (?1 = user / conversation). */
extern const char sqlite_sql_conv_list[];    /* a user's conversations, most active first */
extern const char sqlite_sql_members_page[]; /* ?1 conv, ?2 limit, ?3 offset */

/* Conversation cid as seen by viewer (NULL: nobody).  CHATD_OK,
 * CHATD_ERR_NOT_FOUND (no such conversation, or viewer not a member), or an
 * error. */
int sqlite_load_conv(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		     const char *viewer, struct chatd_conversation *out);
/* The stored result of (cid, sender, cmid).  CHATD_OK with *found. */
int sqlite_find_dup(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		    const char *sender, const char *cmid, struct chatd_send_result *res,
		    bool *found);
/* user's membership of cid: CHATD_OK or CHATD_ERR_NOT_FOUND. */
int sqlite_load_member(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		       const char *user, struct chatd_member *out);
/* Messages of cid in (after, before) that viewer may see (not deleted for
 * them, and "normal" unless they sent it; viewer NULL: all), ascending, at
 * most `take`; *more when a further one exists in that range (`latest`
 * keeps the newest end, else the oldest).  The viewer's history_from is
 * the caller's: it raises `after` to it. */
int sqlite_load_msgs(struct sqlite_conn *c, struct sqlite_req *r, const char *cid,
		     const char *viewer, int64_t after, int64_t before, bool latest,
		     size_t take, struct chatd_message **out, size_t *n, bool *more);
/* The latest `take` messages of all conversations (staff view), oldest
 * first; *more when an older one exists (messages_latest, ABI 1.4). */
int sqlite_load_latest(struct sqlite_conn *c, struct sqlite_req *r, size_t take,
		       struct chatd_message **out, size_t *n, bool *more);
/* Message (cid, seq), whatever its visibility.  CHATD_OK,
 * CHATD_ERR_NOT_FOUND or an error. */
int sqlite_load_msg(struct sqlite_conn *c, struct sqlite_req *r, const char *cid, int64_t seq,
		    struct chatd_message *out);

#endif
