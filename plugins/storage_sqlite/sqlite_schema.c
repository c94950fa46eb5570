/* sqlite_schema.c — schema creation and versioned migrations.
 *
 * schema_version holds one row: the version the file is at.  Migration N
 * takes the file from N-1 to N; all pending ones run in one transaction, so
 * a file is always at a version some code knew.  A file newer than this code
 * is refused rather than guessed at.  To change the schema, append a
 * migration and raise SQLITE_SCHEMA_VERSION; never edit a shipped one. */
#include <stdio.h>
#include "sqlite_ops.h"

static const char *const migrations[SQLITE_SCHEMA_VERSION] = {
	/* 1: conversations, members, messages, hidden messages. */
	"CREATE TABLE conversations ("
	" id TEXT PRIMARY KEY,"
	" kind TEXT NOT NULL CHECK (kind IN ('direct', 'group')),"
	" title TEXT,"
	" direct_key TEXT UNIQUE,"            /* the sorted pair, a "\n" b */
	" created_at INTEGER NOT NULL,"
	" last_seq INTEGER NOT NULL DEFAULT 0,"
	" last_activity INTEGER NOT NULL,"
	" member_count INTEGER NOT NULL DEFAULT 0,"
	" locked INTEGER NOT NULL DEFAULT 0,"
	" typing INTEGER NOT NULL DEFAULT 1,"
	" receipts INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE members ("
	" conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
	" user_id TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member')),"
	" joined_at INTEGER NOT NULL,"
	" muted_until INTEGER NOT NULL DEFAULT 0,"
	" last_read_seq INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID;"
	"CREATE INDEX members_by_user ON members(user_id);"
	"CREATE TABLE messages ("
	" conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
	" seq INTEGER NOT NULL,"
	" message_id TEXT NOT NULL,      /* \"m\" + conversation id + \"-\" + seq */"
	" sender_id TEXT NOT NULL,"
	" client_message_id TEXT NOT NULL,"
	" text TEXT,"
	" media_id TEXT,"
	" reply_to INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" edited_at INTEGER NOT NULL DEFAULT 0,"
	" deleted INTEGER NOT NULL DEFAULT 0,"
	" visibility TEXT NOT NULL DEFAULT 'normal',"
	" PRIMARY KEY (conversation_id, seq),"
	" UNIQUE (conversation_id, sender_id, client_message_id)) WITHOUT ROWID;"
	"CREATE TABLE hidden_messages ("
	" user_id TEXT NOT NULL,"
	" conversation_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" PRIMARY KEY (user_id, conversation_id, seq)) WITHOUT ROWID;",

	/* 2 (ABI 1.1): moderation provenance of messages, the audit log, the
	 * moderation queue, sanctions and first-seen times of users. */
	"ALTER TABLE messages ADD COLUMN moderation TEXT;"   /* JSON; NULL: plainly allowed */
	"CREATE TABLE audit_log ("
	" id INTEGER PRIMARY KEY,"            /* the chain position, given by the core */
	" ts INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" event TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" detail TEXT NOT NULL,"
	" prev_hash TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	/* AUTOINCREMENT: an id is never handed out twice, even after a purge,
	 * since audit entries refer to items and sanctions by id. */
	"CREATE TABLE mod_items ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind TEXT NOT NULL CHECK (kind IN ('report', 'flag', 'hold', 'appeal')),"
	" status TEXT NOT NULL DEFAULT 'open'"
	"  CHECK (status IN ('open', 'actioned', 'dismissed')),"
	" conversation_id TEXT,"
	" seq INTEGER NOT NULL DEFAULT 0,"
	" subject_id TEXT NOT NULL,"
	" filed_by TEXT NOT NULL,"
	" reason TEXT NOT NULL,"
	" note TEXT,"
	" detail TEXT,"
	" dedupe_key TEXT UNIQUE,"            /* NULLs are distinct: many allowed */
	" created_at INTEGER NOT NULL,"
	" actor TEXT,"
	" action TEXT,"
	" resolution_note TEXT,"
	" resolved_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX mod_items_by_status ON mod_items(status, id);"
	"CREATE TABLE sanctions ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user_id TEXT NOT NULL,"
	" kind TEXT NOT NULL CHECK (kind IN ('ban', 'shadow', 'block')),"
	" until INTEGER NOT NULL DEFAULT 0,"  /* 0: permanent */
	" reason TEXT NOT NULL,"
	" actor TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" lifted_at INTEGER NOT NULL DEFAULT 0);"
	/* Only the sanctions not lifted: lift searches it by (user_id, kind),
	 * list_active scans it in its order instead of the whole history. */
	"CREATE INDEX sanctions_active ON sanctions(user_id, kind, until) WHERE lifted_at = 0;"
	"CREATE TABLE users ("
	" user_id TEXT PRIMARY KEY,"
	" first_seen INTEGER NOT NULL) WITHOUT ROWID;",

	/* 3 (ABI 1.2): history from join, delete for everyone with a purge
	 * time, and the inbox rows of fan-out on write. */
	"ALTER TABLE members ADD COLUMN history_from INTEGER NOT NULL DEFAULT 0;" /* sees seq > it */
	"ALTER TABLE messages ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE conversations ADD COLUMN inbox INTEGER NOT NULL DEFAULT 0;" /* 1: rows exist */
	/* One row per (conversation, member) while the conversation fans out
	 * on write; rows exist only for current members.  Clustered by
	 * conversation, so the per-message update of all of a conversation's
	 * rows touches a page or two, not one page per member; the user index
	 * (the read side: a user's changed conversations) holds no last_seq,
	 * so that update never touches it. */
	"CREATE TABLE inbox ("
	" conversation_id TEXT NOT NULL,"
	" user_id TEXT NOT NULL,"
	" last_seq INTEGER NOT NULL,"
	" ts INTEGER NOT NULL,"
	" PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID;"
	"CREATE INDEX inbox_by_user ON inbox(user_id);"
	/* Only deleted messages that still hold content: purge_deleted
	 * searches it by deleted_at, and a purged row leaves it. */
	"CREATE INDEX messages_purge ON messages(deleted_at) WHERE deleted = 1 AND "
	"(text IS NOT NULL OR media_id IS NOT NULL OR moderation IS NOT NULL);",

	/* 4 (ABI 1.3): media metadata.  A row is pending (hash NULL,
	 * ready_at 0) until its upload completes.  Uploads with the same
	 * content share one file, found by hash. */
	"CREATE TABLE media ("
	" media_id TEXT PRIMARY KEY,"
	" owner_id TEXT NOT NULL,"
	" mime TEXT NOT NULL,"
	" name TEXT,"
	" size INTEGER NOT NULL,"
	" hash TEXT,"
	" thumbnail INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" ready_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	/* media_usage: an owner's bytes and recent uploads from the index
	 * alone (size is in it). */
	"CREATE INDEX media_by_owner ON media(owner_id, created_at, size);"
	/* media_remove: the rows still sharing a file. */
	"CREATE INDEX media_by_hash ON media(hash) WHERE hash IS NOT NULL;"
	/* media_orphans: oldest first. */
	"CREATE INDEX media_by_created ON media(created_at);"
	/* media_orphans and media_access: the messages carrying a media. */
	"CREATE INDEX messages_media ON messages(media_id) WHERE media_id IS NOT NULL;",

	/* 5 (ABI 1.3): sanctions of kind 'revoke' (token revocations).  A
	 * CHECK cannot be altered in SQLite: the table is rebuilt with its ids
	 * and AUTOINCREMENT counter (the rename carries the counter along). */
	"CREATE TABLE sanctions_v5 ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user_id TEXT NOT NULL,"
	" kind TEXT NOT NULL CHECK (kind IN ('ban', 'shadow', 'block', 'revoke')),"
	" until INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT NOT NULL,"
	" actor TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" lifted_at INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO sanctions_v5(id, user_id, kind, until, reason, actor, created_at, lifted_at) "
	" SELECT id, user_id, kind, until, reason, actor, created_at, lifted_at FROM sanctions;"
	"UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'sanctions')"
	" WHERE name = 'sanctions_v5';"
	"DROP TABLE sanctions;"
	"ALTER TABLE sanctions_v5 RENAME TO sanctions;"
	"CREATE INDEX sanctions_active ON sanctions(user_id, kind, until) WHERE lifted_at = 0;",

	/* 6 (ABI 1.4): full-text search.  FTS5 needs integer rowids and
	 * messages has none (WITHOUT ROWID): search_rows gives each indexed
	 * message one, kept across edits (hits page by it).  The index is
	 * external-content (the text is read back from messages through the
	 * view, not stored twice).  Indexed: every message with text not
	 * deleted for everyone; triggers keep it in step with inserts, edits,
	 * deletes, purges and conversation removal (foreign-key cascades fire
	 * triggers).  An FTS5 'delete' must be given the exact text indexed:
	 * the triggers give old.text.  Existing rows are indexed here. */
	"CREATE TABLE search_rows ("
	" id INTEGER PRIMARY KEY,"
	" conversation_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" UNIQUE (conversation_id, seq));"
	"CREATE VIEW search_content AS SELECT s.id AS id, m.text AS body FROM search_rows s "
	" JOIN messages m ON m.conversation_id = s.conversation_id AND m.seq = s.seq;"
	"CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='search_content',"
	" content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
	"CREATE TRIGGER search_insert AFTER INSERT ON messages"
	" WHEN new.deleted = 0 AND new.text IS NOT NULL BEGIN"
	" INSERT INTO search_rows(conversation_id, seq) VALUES (new.conversation_id, new.seq);"
	" INSERT INTO messages_fts(rowid, body) SELECT id, new.text FROM search_rows"
	"  WHERE conversation_id = new.conversation_id AND seq = new.seq;"
	" END;"
	"CREATE TRIGGER search_update AFTER UPDATE OF text, deleted ON messages"
	" WHEN old.text IS NOT new.text OR old.deleted IS NOT new.deleted BEGIN"
	" INSERT INTO messages_fts(messages_fts, rowid, body) SELECT 'delete', id, old.text"
	"  FROM search_rows WHERE conversation_id = old.conversation_id AND seq = old.seq;"
	" DELETE FROM search_rows WHERE conversation_id = old.conversation_id AND seq = old.seq"
	"  AND (new.deleted <> 0 OR new.text IS NULL);"
	" INSERT OR IGNORE INTO search_rows(conversation_id, seq)"
	"  SELECT new.conversation_id, new.seq WHERE new.deleted = 0 AND new.text IS NOT NULL;"
	" INSERT INTO messages_fts(rowid, body) SELECT id, new.text FROM search_rows"
	"  WHERE conversation_id = new.conversation_id AND seq = new.seq;"
	" END;"
	"CREATE TRIGGER search_delete AFTER DELETE ON messages BEGIN"
	" INSERT INTO messages_fts(messages_fts, rowid, body) SELECT 'delete', id, old.text"
	"  FROM search_rows WHERE conversation_id = old.conversation_id AND seq = old.seq;"
	" DELETE FROM search_rows WHERE conversation_id = old.conversation_id AND seq = old.seq;"
	" END;"
	"INSERT INTO search_rows(conversation_id, seq) SELECT conversation_id, seq FROM messages"
	" WHERE deleted = 0 AND text IS NOT NULL ORDER BY created_at, conversation_id, seq;"
	"INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');",

	/* 7 (ABI 1.4): a member's notification mute (conv.notify), apart from
	 * the moderation mute muted_until. */
	"ALTER TABLE members ADD COLUMN notify_muted_until INTEGER NOT NULL DEFAULT 0;",
};

static int read_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL) != SQLITE_OK)
		return CHATD_ERR_IO;
	int rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;   /* NULL: empty, 0 */
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CHATD_OK : CHATD_ERR_IO;
}

static int fail(sqlite3 *db, char *err, size_t errlen, const char *what, int status)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return status;
}

int sqlite_schema_migrate(sqlite3 *db, int target, int *found, char *err, size_t errlen)
{
	*found = 0;
	if (target < 1 || target > SQLITE_SCHEMA_VERSION) {
		snprintf(err, errlen, "no schema version %d", target);
		return CHATD_ERR_INVALID;
	}
	/* IMMEDIATE: two processes opening a new file must not both migrate. */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "begin: %s", sqlite3_errmsg(db));
		return CHATD_ERR_IO;
	}
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "create schema_version", CHATD_ERR_IO);
	int version;
	if (read_version(db, &version) < 0)
		return fail(db, err, errlen, "read schema_version", CHATD_ERR_IO);
	*found = version;
	if (version > target) {
		snprintf(err, errlen,
			 "database schema version %d is newer than this chatd knows (%d); "
			 "refusing to open it", version, target);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return CHATD_ERR_ABI;
	}
	for (int v = version + 1; v <= target; v++) {
		if (sqlite3_exec(db, migrations[v - 1], NULL, NULL, NULL) != SQLITE_OK) {
			char what[32];
			snprintf(what, sizeof(what), "migration %d", v);
			return fail(db, err, errlen, what, CHATD_ERR_IO);
		}
	}
	if (version < target) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM schema_version; "
			 "INSERT INTO schema_version(version) VALUES(%d)", target);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return fail(db, err, errlen, "write schema_version", CHATD_ERR_IO);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "commit", CHATD_ERR_IO);
	return CHATD_OK;
}

int sqlite_schema_apply(sqlite3 *db, int *found, char *err, size_t errlen)
{
	return sqlite_schema_migrate(db, SQLITE_SCHEMA_VERSION, found, err, errlen);
}
