/* pg_schema_v2.c — migration 2 (plugin ABI 1.4): full-text search and
 * notification mutes (see pg_schema.c for how migrations run).
 *
 * Search (decision 50).  Every message carries search_doc, a tsvector of
 * its text under the 'simple' configuration, NULL once deleted for
 * everyone (or without text), and a GIN index over it; a BEFORE trigger
 * keeps it in step with append, edit, delete and purge, and the
 * conversation's removal takes its rows along.  The text is normalised
 * first (chatd_search_norm), so that words are what storage_sqlite's FTS5
 * tokenizer (unicode61 remove_diacritics 2) makes of it and the protocol
 * promises: a diacritic on a Latin letter is dropped (NFD, marks
 * U+0300..U+036F after A-Z/a-z removed, NFC), every ASCII character but a
 * letter or digit separates words (so "a-b", "x.y", "bob@example.com" are
 * several words, never the parser's hyphenated/host/email tokens), and the
 * parser splits the rest by the database's character classes; the
 * dictionary folds case.  Queries go through the same function.
 *
 * Hits come newest first by (created_at, conversation_id, seq), all
 * three descending: set when the message is stored, never moved by an
 * edit, and the same order on every shard, so the plugin merges shards
 * by it (pg_ops_search.c says how it pages).
 *
 * chatd_search is the op (one statement per shard): the query is built
 * from the terms with phraseto_tsquery (plain text in, never tsquery
 * syntax), a prefix term's last lexeme gets :* by re-reading PostgreSQL's
 * own output of the phrase (lexemes quoted by it); a term without a word
 * after normalisation matches nothing, as in FTS5.  Visibility is
 * history's.  For snippets it returns each hit's text with the matched
 * words marked by ts_headline (in C, from the index's own parser and
 * dictionary); the plugin cuts the window of about 12 words
 * (pg_snippet.c). */
#include "pg_sql.h"

/* Regex classes, as SQL escape strings (E'...'): one ASCII character that
 * is not a letter or digit; a combining diacritical mark. */
#define SQL_SEP "E'[\\\\x01-\\\\x2f\\\\x3a-\\\\x40\\\\x5b-\\\\x60\\\\x7b-\\\\x7f]"
#define SQL_MARKS "[\\\\u0300-\\\\u036f]"

/* A hit's columns (pg_read_msg's order) from table alias p, and the hit
 * order (ids compared bytewise, as the plugin's merge does). */
#define HIT_COLS(p) \
	p "conversation_id, " p "seq, " p "message_id, " p "sender_id, " p "client_message_id, " \
	p "text, " p "media_id, " p "reply_to, " p "created_at, " p "edited_at, " p "deleted, " \
	p "visibility, " p "moderation, " p "media_mime, " p "media_size, " p "media_thumbnail"
#define HIT_ORDER "m.created_at DESC, m.conversation_id COLLATE \"C\" DESC, m.seq DESC"

const char pg_migration_2[] =
	/* normalize() works on UTF8 databases only; chat text is Unicode. */
	"DO $$ BEGIN\n"
	" IF current_setting('server_encoding') <> 'UTF8' THEN\n"
	"  RAISE EXCEPTION 'chatd needs a database of encoding UTF8 (this one is %)',\n"
	"   current_setting('server_encoding');\n"
	" END IF;\n"
	"END $$;\n"
	/* A member's own notification mute (conv.notify), apart from the
	 * moderation mute muted_until. */
	"ALTER TABLE members ADD COLUMN notify_muted_until bigint NOT NULL DEFAULT 0;\n"
	"ALTER TABLE messages ADD COLUMN search_doc tsvector;\n"
	"CREATE FUNCTION chatd_search_fold(p text) RETURNS text LANGUAGE sql IMMUTABLE STRICT\n"
	" PARALLEL SAFE AS $$\n"
	" SELECT CASE WHEN octet_length(p) <> char_length(p) THEN normalize(regexp_replace(\n"
	"  normalize(p, NFD), E'([A-Za-z])" SQL_MARKS "+', E'\\\\1', 'g'), NFC) ELSE p END $$;\n"
	"CREATE FUNCTION chatd_search_norm(p text) RETURNS text LANGUAGE sql IMMUTABLE STRICT\n"
	" PARALLEL SAFE AS $$\n"
	" SELECT regexp_replace(chatd_search_fold(p), " SQL_SEP "+', ' ', 'g') $$;\n"
	"CREATE FUNCTION chatd_messages_search() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN\n"
	" NEW.search_doc := CASE WHEN NEW.deleted OR NEW.text IS NULL THEN NULL\n"
	"  ELSE to_tsvector('simple', chatd_search_norm(NEW.text)) END;\n"
	" RETURN NEW;\n"
	"END $$;\n"
	/* Existing rows. */
	"UPDATE messages SET search_doc = to_tsvector('simple', chatd_search_norm(text))\n"
	" WHERE NOT deleted AND text IS NOT NULL;\n"
	"CREATE TRIGGER messages_search BEFORE INSERT OR UPDATE OF text, deleted ON messages\n"
	" FOR EACH ROW EXECUTE FUNCTION chatd_messages_search();\n"
	"CREATE INDEX messages_search ON messages USING gin (search_doc);\n"
	/* The hit order: for words common among the viewer's messages the
	 * planner walks it newest first and stops at a page (as FTS5 walks
	 * its rowids), GIN otherwise; messages_latest reads it. */
	"CREATE INDEX messages_by_time ON messages (created_at, conversation_id COLLATE \"C\", seq);\n"

	/* The text as ts_headline() reads it to mark the matched words for
	 * the snippet (pg_snippet.c builds it): the same characters, one for
	 * one, so that the marks map back onto the text: ASCII separators
	 * made spaces, Latin diacritics dropped when that keeps the length
	 * (always, but for decomposed marks). */
	"CREATE FUNCTION chatd_search_align(p text) RETURNS text LANGUAGE sql IMMUTABLE STRICT\n"
	" PARALLEL SAFE AS $$\n"
	" SELECT CASE WHEN char_length(f) = char_length(s) THEN f ELSE s END\n"
	"  FROM (SELECT s, chatd_search_fold(s) AS f\n"
	"  FROM (SELECT regexp_replace(p, " SQL_SEP "', ' ', 'g') AS s) x) y $$;\n"

	/* p_terms: each term's words joined by one space (words hold none);
	 * p_prefix: whether its last word may go on.  Hits created at or
	 * before p_ts, the first p_skip + p_limit + 1 of them in hit order,
	 * for the first p_skip + p_limit with r_marked: the aligned text with
	 * every matched word between U+0002 and U+0003 (the plugin skips up
	 * to p_skip of those created at p_ts; the last row only tells that
	 * more follow).  Custom plans always: how common the words are
	 * decides the plan. */
	"CREATE FUNCTION chatd_search(p_viewer text, p_cid text, p_terms text[],\n"
	" p_prefix boolean[], p_ts bigint, p_skip int, p_limit int)\n"
	" RETURNS TABLE(m_cid text, m_seq bigint, m_mid text, m_sender text, m_cmid text,\n"
	" m_text text, m_media text, m_reply bigint, m_created bigint, m_edited bigint,\n"
	" m_deleted boolean, m_vis text, m_mod text, m_mime text, m_msize bigint,\n"
	" m_mthumb boolean, r_marked text)\n"
	" LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$\n"
	"DECLARE q tsquery; t tsquery;\n"
	"BEGIN\n"
	/* A viewer in no conversation (here) has nothing to find: the
	 * planner, not knowing that, might walk every message. */
	" PERFORM 1 FROM members b WHERE b.user_id = p_viewer\n"
	"  AND (p_cid IS NULL OR b.conversation_id = p_cid) LIMIT 1;\n"
	" IF NOT FOUND THEN\n"
	"  RETURN;\n"
	" END IF;\n"
	" FOR i IN 1 .. COALESCE(cardinality(p_terms), 0) LOOP\n"
	"  t := phraseto_tsquery('simple', chatd_search_norm(p_terms[i]));\n"
	"  IF numnode(t) = 0 THEN\n"
	"   RETURN;\n"
	"  END IF;\n"
	"  IF p_prefix[i] THEN\n"
	"   t := (t::text || ':*')::tsquery;\n"
	"  END IF;\n"
	"  q := CASE WHEN q IS NULL THEN t ELSE q && t END;\n"
	" END LOOP;\n"
	" IF q IS NULL THEN\n"
	"  RETURN;\n"
	" END IF;\n"
	" RETURN QUERY SELECT " HIT_COLS("h.") ",\n"
	"  CASE WHEN h.n <= p_skip + p_limit THEN ts_headline('simple', chatd_search_align(h.text),\n"
	"  q, 'HighlightAll=true, StartSel=' || chr(2) || ', StopSel=' || chr(3)) END\n"
	"  FROM (SELECT " HIT_COLS("m.") ", row_number() OVER (ORDER BY " HIT_ORDER ") AS n\n"
	"  FROM (SELECT " HIT_COLS("m.") " FROM messages m JOIN members b\n"
	"  ON b.conversation_id = m.conversation_id AND b.user_id = p_viewer\n"
	"  WHERE m.search_doc @@ q AND m.created_at <= p_ts\n"
	"  AND (p_cid IS NULL OR m.conversation_id = p_cid)\n"
	"  AND m.seq > b.history_from AND NOT m.deleted\n"
	"  AND (m.visibility = 'normal' OR m.sender_id = p_viewer)\n"
	"  AND NOT EXISTS (SELECT 1 FROM hidden_messages x WHERE x.user_id = p_viewer\n"
	"  AND x.conversation_id = m.conversation_id AND x.seq = m.seq)\n"
	"  ORDER BY " HIT_ORDER " LIMIT p_skip + p_limit + 1) m) h ORDER BY h.n;\n"
	"END $$;\n";
