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

int sqlite_schema_apply(sqlite3 *db, int *found, char *err, size_t errlen)
{
	*found = 0;
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
	if (version > SQLITE_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "database schema version %d is newer than this chatd knows (%d); "
			 "refusing to open it", version, SQLITE_SCHEMA_VERSION);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return CHATD_ERR_ABI;
	}
	for (int v = version + 1; v <= SQLITE_SCHEMA_VERSION; v++) {
		if (sqlite3_exec(db, migrations[v - 1], NULL, NULL, NULL) != SQLITE_OK)
			return fail(db, err, errlen, "migration", CHATD_ERR_IO);
	}
	if (version < SQLITE_SCHEMA_VERSION) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM schema_version; "
			 "INSERT INTO schema_version(version) VALUES(%d)", SQLITE_SCHEMA_VERSION);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return fail(db, err, errlen, "write schema_version", CHATD_ERR_IO);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "commit", CHATD_ERR_IO);
	return CHATD_OK;
}
