/* sqlite_search_sql.c — the search query, in a file of its own so that
 * bench/search_bench.c times the very SQL the plugin runs. */
#include "sqlite_ops.h"
#include "sqlite_rows.h"

/* ?1 expression, ?2 limit + 1, ?3 before (rowid), ?4 viewer, ?5
 * conversation (NULL: all).  The FTS table drives (rowids descending, the
 * bound pushed into it); each hit is checked against the viewer's
 * membership, history_from and history's visibility. */
const char sqlite_sql_search[] =
	"SELECT " SQLITE_MSG_COLS ", "
	"snippet(messages_fts, 0, char(2), char(3), '…', 12), f.rowid "
	"FROM messages_fts f "
	"CROSS JOIN search_rows s ON s.id = f.rowid "
	"CROSS JOIN members b ON b.conversation_id = s.conversation_id AND b.user_id = ?4 "
	"CROSS JOIN " SQLITE_MSG_FROM " "
	"WHERE messages_fts MATCH ?1 AND f.rowid < ?3 "
	"AND (?5 IS NULL OR s.conversation_id = ?5) "
	"AND m.conversation_id = s.conversation_id AND m.seq = s.seq "
	"AND m.seq > b.history_from AND m.deleted = 0 AND " SQLITE_MSG_VISIBLE " "
	"ORDER BY f.rowid DESC LIMIT ?2";
