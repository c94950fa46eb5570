/* pg_sql.c — the text of every prepared statement (see pg_sql.h). */
#include <stdio.h>
#include "pg_sql.h"

/* A conversation from the viewpoint of member m (m's columns may be NULL),
 * then m.history_from and c.created_seq: PG_CONV_NCOLS columns. */
#define CONV_COLS \
	"c.id, c.kind, c.title, c.last_seq, c.member_count, c.created_at, " \
	"c.last_activity, c.locked, c.typing, c.receipts, m.role, m.last_read_seq, " \
	"m.muted_until, CASE WHEN c.kind = 'direct' AND m.user_id IS NOT NULL THEN " \
	"(SELECT p.user_id FROM members p WHERE p.conversation_id = c.id " \
	"AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1) END, m.history_from, " \
	"c.created_seq"

#define MSG_COLS \
	"m.conversation_id, m.seq, m.message_id, m.sender_id, m.client_message_id, m.text, " \
	"m.media_id, m.reply_to, m.created_at, m.edited_at, m.deleted, m.visibility, " \
	"m.moderation, m.media_mime, m.media_size, m.media_thumbnail"

#define MEMBER_COLS "user_id, role, joined_at, muted_until, last_read_seq"

/* What viewer $4 may see: not deleted-for-me, and "normal" unless it is
 * their own.  No viewer (staff view): everything.  In SQL, so LIMIT counts
 * only visible rows and has_more stays exact. */
#define VISIBLE \
	"($4::text IS NULL OR ((m.visibility = 'normal' OR m.sender_id = $4) AND " \
	"NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $4 " \
	"AND h.conversation_id = m.conversation_id AND h.seq = m.seq)))"

/* A viewer added with history from join sees nothing up to history_from. */
#define HISTORY_WHERE \
	"m.conversation_id = $1 AND m.seq > GREATEST($2::bigint, COALESCE((SELECT " \
	"b.history_from FROM members b WHERE b.conversation_id = $1 AND b.user_id = $4), 0)) " \
	"AND m.seq < $3 AND " VISIBLE

#define AUDIT_COLS "id, ts, actor, event, subject, detail, prev_hash, hash"
#define ITEM_COLS \
	"id, kind, status, conversation_id, seq, subject_id, filed_by, reason, note, detail, " \
	"dedupe_key, created_at, actor, action, resolution_note, resolved_at"
#define MEDIA_COLS "media_id, owner_id, mime, name, size, hash, thumbnail, created_at, ready_at"
#define SANCTION_ACTIVE "lifted_at = 0 AND (until = 0 OR until > $1)"

static const char *const stmts[PG_STMT_COUNT] = {
	[PG_PRECHECK] =
		"SELECT d.seq, d.message_id, d.created_at, " CONV_COLS ", m.user_id, m.role, "
		"m.joined_at, m.muted_until, m.last_read_seq FROM (SELECT 1) x "
		"LEFT JOIN messages d ON d.conversation_id = $1 AND d.sender_id = $2 "
		"AND d.client_message_id = $3 "
		"LEFT JOIN (conversations c JOIN members m ON m.conversation_id = c.id "
		"AND m.user_id = $2) ON c.id = $1",
	[PG_APPEND] =
		"SELECT r_status, r_seq, r_mid, r_ts, r_dup FROM chatd_append($1, $2, $3, $4, $5, "
		"$6, $7, $8, $9, $10, $11, $12, $13)",
	[PG_MEDIA_META] = "SELECT mime, size, thumbnail FROM media WHERE media_id = $1",
	[PG_CONV_EXISTS] = "SELECT 1 FROM conversations WHERE id = $1",
	[PG_HISTORY_ASC] =
		"SELECT " MSG_COLS " FROM messages m WHERE " HISTORY_WHERE
		" ORDER BY m.seq ASC LIMIT $5",
	[PG_HISTORY_DESC] =
		"SELECT " MSG_COLS " FROM messages m WHERE " HISTORY_WHERE
		" ORDER BY m.seq DESC LIMIT $5",
	[PG_SYNC] = "SELECT * FROM chatd_sync($1, $2::text[], $3::bigint[], $4, $5)",
	[PG_MSG_GET] =
		"SELECT " MSG_COLS ", (SELECT b.role FROM members b WHERE b.conversation_id = "
		"m.conversation_id AND b.user_id = m.sender_id) FROM messages m "
		"WHERE m.conversation_id = $1 AND m.seq = $2",
	[PG_MSG_ONE] =
		"SELECT " MSG_COLS " FROM messages m WHERE m.conversation_id = $1 AND m.seq = $2",
	[PG_MSG_EDIT] = "SELECT chatd_message_edit($1, $2, $3, $4, $5, $6, $7)",
	/* Only a message not deleted yet: deleting again keeps the first time. */
	[PG_MSG_DELETE] =
		"UPDATE messages SET deleted = true, deleted_at = $3 "
		"WHERE conversation_id = $1 AND seq = $2 AND NOT deleted",
	[PG_MSG_HIDE] =
		"WITH e AS (SELECT 1 FROM messages WHERE conversation_id = $2 AND seq = $3), "
		"i AS (INSERT INTO hidden_messages(user_id, conversation_id, seq) "
		"SELECT $1, $2, $3 FROM e ON CONFLICT DO NOTHING) SELECT count(*) FROM e",
	/* The WHERE repeats messages_purge's own, so that index serves it. */
	[PG_PURGE] =
		"UPDATE messages SET text = NULL, media_id = NULL, moderation = NULL, "
		"media_mime = NULL, media_size = NULL, media_thumbnail = NULL "
		"WHERE deleted AND deleted_at <= $1 AND "
		"(text IS NOT NULL OR media_id IS NOT NULL OR moderation IS NOT NULL)",
	[PG_SET_VIS] =
		"UPDATE messages SET visibility = $3 WHERE conversation_id = $1 AND seq = $2",

	[PG_CONV_LIST] =
		"SELECT " CONV_COLS " FROM members m JOIN conversations c ON c.id = m.conversation_id "
		"WHERE m.user_id = $1",
	[PG_DIRECT_CLAIM] = "SELECT chatd_direct_claim($1, $2)",
	[PG_CONV_CREATE] = "SELECT chatd_conv_create($1, $2, $3, $4, $5, $6, $7, $8::text[])",
	[PG_CONV_VIEW] =
		"SELECT " CONV_COLS " FROM conversations c JOIN members m "
		"ON m.conversation_id = c.id AND m.user_id = $2 WHERE c.id = $1",
	[PG_CONV_ANON] =
		"SELECT " CONV_COLS " FROM conversations c LEFT JOIN members m ON false "
		"WHERE c.id = $1",
	[PG_MEMBERS_PAGE] =
		"SELECT " MEMBER_COLS " FROM members WHERE conversation_id = $1 "
		"ORDER BY joined_at, user_id LIMIT $2 OFFSET $3",
	[PG_MEMBERS_OF] =
		"SELECT b.user_id, b.role, b.joined_at, b.muted_until, b.last_read_seq "
		"FROM unnest($2::text[]) WITH ORDINALITY u(uid, ord) JOIN members b "
		"ON b.conversation_id = $1 AND b.user_id = u.uid ORDER BY u.ord",
	[PG_CONV_CHANGE] =
		"SELECT r_status, r_one, r_new_owner FROM chatd_conv_change($1, $2, $3, $4, "
		"$5::text[], $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
	/* A cursor only moves forward: the row matches only below the new
	 * seq, so the count is the cursors that moved; non-members have no
	 * row.  The rows are locked in key order (less room for deadlocks). */
	[PG_CURSORS] =
		"WITH c AS (SELECT u.cid, u.uid, max(u.seq) AS seq FROM unnest($1::text[], "
		"$2::text[], $3::bigint[]) AS u(cid, uid, seq) GROUP BY u.cid, u.uid), "
		"l AS (SELECT b.conversation_id, b.user_id FROM members b JOIN c "
		"ON b.conversation_id = c.cid AND b.user_id = c.uid AND b.last_read_seq < c.seq "
		"ORDER BY b.conversation_id, b.user_id FOR UPDATE OF b) "
		"UPDATE members b SET last_read_seq = c.seq FROM c, l "
		"WHERE b.conversation_id = c.cid AND b.user_id = c.uid AND "
		"l.conversation_id = c.cid AND l.user_id = c.uid AND b.last_read_seq < c.seq",

	/* The log is append-only: an id already there is never replaced, and
	 * an entry that does not extend the stored chain (prev_hash is not
	 * entry id - 1's hash: another node wrote there) inserts nothing. */
	[PG_AUDIT_INSERT] =
		"INSERT INTO audit_log(id, ts, actor, event, subject, detail, prev_hash, hash) "
		"SELECT $1::bigint, $2::bigint, $3, $4, $5, $6, $7, $8 WHERE $1::bigint = 1 OR "
		"EXISTS (SELECT 1 FROM audit_log WHERE id = $1::bigint - 1 AND hash = $7) "
		"ON CONFLICT (id) DO NOTHING",
	[PG_AUDIT_ASC] =
		"SELECT " AUDIT_COLS " FROM audit_log WHERE id > $1 ORDER BY id ASC LIMIT $2",
	[PG_AUDIT_NEWEST] =
		"SELECT " AUDIT_COLS " FROM audit_log WHERE id > $1 ORDER BY id DESC LIMIT $2",
	[PG_ITEM_ADD] =
		"SELECT r_status, r_id FROM chatd_mod_item_add($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	[PG_ITEM_ONE] = "SELECT " ITEM_COLS " FROM mod_items WHERE id = $1",
	[PG_ITEMS] =
		"SELECT " ITEM_COLS " FROM mod_items WHERE id > $1 AND ($3::text IS NULL OR "
		"status = $3) AND ($4::text IS NULL OR kind = $4) ORDER BY id LIMIT $2",
	[PG_ITEM_RESOLVE] =
		"WITH u AS (UPDATE mod_items SET status = $2, action = $3, actor = $4, "
		"resolution_note = $5, resolved_at = $6 WHERE id = $1 AND status = 'open' "
		"RETURNING 1) SELECT (SELECT count(*) FROM u), "
		"EXISTS (SELECT 1 FROM mod_items WHERE id = $1)",
	[PG_SANCTION_ADD] =
		"INSERT INTO sanctions(user_id, kind, until, reason, actor, created_at) "
		"VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
	[PG_SANCTION_LIFT] =
		"UPDATE sanctions SET lifted_at = $1 WHERE user_id = $2 AND kind = $3 AND "
		SANCTION_ACTIVE,
	[PG_SANCTIONS_ACTIVE] =
		"SELECT id, user_id, kind, until, reason, actor, created_at, lifted_at FROM sanctions "
		"WHERE " SANCTION_ACTIVE " ORDER BY user_id, kind, until",
	[PG_USER_SEEN] = "SELECT chatd_user_seen($1, $2)",
	[PG_USER_FIRST] = "SELECT first_seen FROM users WHERE user_id = $1",

	[PG_MEDIA_PUT] =
		"INSERT INTO media(media_id, owner_id, mime, name, size, created_at) "
		"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (media_id) DO NOTHING",
	[PG_MEDIA_GET] = "SELECT " MEDIA_COLS " FROM media WHERE media_id = $1",
	[PG_MEDIA_READY] =
		"UPDATE media SET hash = $2, thumbnail = $3, ready_at = $4 WHERE media_id = $1",
	[PG_MEDIA_USAGE] =
		"SELECT COALESCE(sum(size), 0), count(*) FILTER (WHERE created_at >= $2) FROM media "
		"WHERE owner_id = $1",
	[PG_MEDIA_OWNER] =
		"SELECT EXISTS (SELECT 1 FROM media WHERE media_id = $1 AND owner_id = $2)",
	/* Through a message the user can see: not deleted for everyone,
	 * "normal" unless theirs, after their history_from. */
	[PG_MEDIA_MSG_ACCESS] =
		"SELECT EXISTS (SELECT 1 FROM messages m JOIN members b "
		"ON b.conversation_id = m.conversation_id AND b.user_id = $2 "
		"WHERE m.media_id = $1 AND NOT m.deleted AND m.seq > b.history_from "
		"AND (m.visibility = 'normal' OR m.sender_id = $2))",
	[PG_MEDIA_ORPHANS] =
		"SELECT " MEDIA_COLS " FROM media d WHERE d.created_at < $1 AND NOT EXISTS "
		"(SELECT 1 FROM messages m WHERE m.media_id = d.media_id) "
		"ORDER BY d.created_at, d.media_id LIMIT $2",
	[PG_MEDIA_CANDIDATES] =
		"SELECT " MEDIA_COLS " FROM media WHERE created_at < $1 AND "
		"(created_at, media_id) > ($2::bigint, $3::text) ORDER BY created_at, media_id LIMIT $4",
	[PG_MEDIA_REFERENCED] =
		"SELECT DISTINCT media_id FROM messages WHERE media_id = ANY ($1::text[])",
	[PG_MEDIA_REMOVE] = "SELECT r_found, r_sharing FROM chatd_media_remove($1)",

	/* The hits as MSG_COLS, then the snippet (pg_schema_v2.c). */
	[PG_SEARCH] = "SELECT * FROM chatd_search($1, $2, $3::text[], $4::boolean[], $5, $6, $7)",
	/* Staff view: every message, newest first along messages_by_time
	 * (schema 2); ids compared bytewise, as the merge does. */
	[PG_MSGS_LATEST] =
		"SELECT " MSG_COLS " FROM messages m ORDER BY m.created_at DESC, "
		"m.conversation_id COLLATE \"C\" DESC, m.seq DESC LIMIT $1",
	[PG_NOTIFY_MUTE] =
		"UPDATE members SET notify_muted_until = $3 WHERE conversation_id = $1 AND user_id = $2",
	[PG_NOTIFY_TARGETS] =
		"SELECT user_id FROM members WHERE conversation_id = $1 AND user_id <> $2 "
		"AND notify_muted_until <= $3 ORDER BY user_id COLLATE \"C\" LIMIT $4",
	/* Along the primary key; deleted messages not purged yet included. */
	[PG_TEXTS_SCAN] =
		"SELECT conversation_id, seq, sender_id, text FROM messages "
		"WHERE (conversation_id, seq) > ($1, $2) AND text IS NOT NULL "
		"ORDER BY conversation_id, seq LIMIT $3",
	/* Compare and swap: under READ COMMITTED a concurrent edit makes the
	 * UPDATE re-check its WHERE on the edited row, which then fails.  Not
	 * an edit: edited_at stays; the search trigger follows the text. */
	[PG_TEXT_REPLACE] =
		"WITH u AS (UPDATE messages SET text = $4 WHERE conversation_id = $1 AND seq = $2 "
		"AND text = $3 RETURNING 1) SELECT (SELECT count(*) FROM u), "
		"(SELECT count(*) FROM messages WHERE conversation_id = $1 AND seq = $2)",

	[PG_SCHEMA_CHECK] = "SELECT COALESCE(max(version), 0) FROM schema_version",
};

const char *pg_stmt_name(int i)
{
	static char names[PG_STMT_COUNT][16];
	if (i < 0 || i >= PG_STMT_COUNT)
		return "";
	if (!names[i][0])
		snprintf(names[i], sizeof names[i], "chatd_%d", i);
	return names[i];
}

const char *pg_stmt_sql(int i)
{
	return i >= 0 && i < PG_STMT_COUNT ? stmts[i] : NULL;
}
