/* pg_schema.c — the schema of a shard and its versioned migrations.
 *
 * Every shard gets the same schema (a shard only fills the tables of what
 * it holds: conversations everywhere, user-level data on shard 0), so one
 * list of migrations serves all.  schema_version holds one row: the
 * version the database is at.  Migration N takes it from N-1 to N; the
 * pending ones run in one transaction that first takes a transaction-level
 * advisory lock, so nodes starting together migrate one after the other
 * (the later ones find nothing to do).  A database newer than this code is
 * refused rather than guessed at.  To change the schema, append a
 * migration and raise PG_SCHEMA_VERSION; never edit a shipped one.
 *
 * The multi-step writes are SQL functions (plpgsql), one statement each
 * from the plugin, so one op is one statement in a pipelined batch.  They
 * never raise for an expected outcome (a duplicate, a conflict, a missing
 * row): they return a status (the chatd_status numbers) instead, so an
 * expected failure never aborts the batch around it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatd/status.h"
#include "pg_sql.h"

/* The advisory lock key of migrations: "chatdmig" as a big-endian int64. */
#define PG_MIGRATE_LOCK "7163384446592240999"

static const char *const migrations[PG_SCHEMA_VERSION] = {
	/* 1: everything of plugin ABI 1.3. */
	"CREATE TABLE conversations ("
	" id text PRIMARY KEY,"
	" kind text NOT NULL CHECK (kind IN ('direct', 'group')),"
	" title text,"
	" direct_key text,"                   /* the sorted pair, a \"\\n\" b (see direct_pairs) */
	" created_at bigint NOT NULL,"
	" last_seq bigint NOT NULL DEFAULT 0,"
	" last_activity bigint NOT NULL,"
	" member_count bigint NOT NULL DEFAULT 0,"
	" locked boolean NOT NULL DEFAULT false,"
	" typing boolean NOT NULL DEFAULT true,"
	" receipts boolean NOT NULL DEFAULT true,"
	" inbox boolean NOT NULL DEFAULT false,"   /* inbox rows exist */
	" created_seq bigint GENERATED ALWAYS AS IDENTITY);"   /* ties of last_activity */
	/* Direct conversations by pair, on shard 0 only: the one place that
	 * decides which conversation a pair has, whatever shard holds it. */
	"CREATE TABLE direct_pairs ("
	" direct_key text PRIMARY KEY,"
	" conversation_id text NOT NULL);"
	"CREATE TABLE members ("
	" conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
	" user_id text NOT NULL,"
	" role text NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member')),"
	" joined_at bigint NOT NULL,"
	" muted_until bigint NOT NULL DEFAULT 0,"
	" last_read_seq bigint NOT NULL DEFAULT 0,"
	" history_from bigint NOT NULL DEFAULT 0,"   /* sees seq > it */
	" PRIMARY KEY (conversation_id, user_id));"
	"CREATE INDEX members_by_user ON members(user_id);"
	"CREATE TABLE messages ("
	" conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
	" seq bigint NOT NULL,"
	" message_id text NOT NULL,"          /* 'm' || conversation id without its 'c' || '-' || seq */
	" sender_id text NOT NULL,"
	" client_message_id text NOT NULL,"
	" text text,"
	" media_id text,"
	" reply_to bigint NOT NULL DEFAULT 0,"
	" created_at bigint NOT NULL,"
	" edited_at bigint NOT NULL DEFAULT 0,"
	" deleted boolean NOT NULL DEFAULT false,"
	" deleted_at bigint NOT NULL DEFAULT 0,"
	" visibility text NOT NULL DEFAULT 'normal',"
	" moderation text,"                   /* provenance JSON; NULL: plainly allowed */
	/* The media row as it was at send time (a message carries only a
	 * complete upload, whose row no longer changes): media rows live on
	 * shard 0, messages on any shard. */
	" media_mime text,"
	" media_size bigint,"
	" media_thumbnail boolean,"
	" PRIMARY KEY (conversation_id, seq),"
	" UNIQUE (conversation_id, sender_id, client_message_id));"
	"CREATE INDEX messages_purge ON messages(deleted_at) WHERE deleted AND "
	"(text IS NOT NULL OR media_id IS NOT NULL OR moderation IS NOT NULL);"
	"CREATE INDEX messages_media ON messages(media_id) WHERE media_id IS NOT NULL;"
	"CREATE TABLE hidden_messages ("
	" user_id text NOT NULL,"
	" conversation_id text NOT NULL,"
	" seq bigint NOT NULL,"
	" PRIMARY KEY (user_id, conversation_id, seq));"
	"CREATE TABLE inbox ("
	" conversation_id text NOT NULL,"
	" user_id text NOT NULL,"
	" last_seq bigint NOT NULL,"
	" ts bigint NOT NULL,"
	" PRIMARY KEY (conversation_id, user_id));"
	"CREATE INDEX inbox_by_user ON inbox(user_id);"
	"CREATE TABLE audit_log ("
	" id bigint PRIMARY KEY,"             /* the chain position, given by the core */
	" ts bigint NOT NULL,"
	" actor text NOT NULL,"
	" event text NOT NULL,"
	" subject text NOT NULL,"
	" detail text NOT NULL,"
	" prev_hash text NOT NULL,"
	" hash text NOT NULL);"
	"CREATE TABLE mod_items ("
	" id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" kind text NOT NULL CHECK (kind IN ('report', 'flag', 'hold', 'appeal')),"
	" status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'actioned', 'dismissed')),"
	" conversation_id text,"
	" seq bigint NOT NULL DEFAULT 0,"
	" subject_id text NOT NULL,"
	" filed_by text NOT NULL,"
	" reason text NOT NULL,"
	" note text,"
	" detail text,"
	" dedupe_key text UNIQUE,"
	" created_at bigint NOT NULL,"
	" actor text,"
	" action text,"
	" resolution_note text,"
	" resolved_at bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX mod_items_by_status ON mod_items(status, id);"
	"CREATE TABLE sanctions ("
	" id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" user_id text NOT NULL,"
	" kind text NOT NULL CHECK (kind IN ('ban', 'shadow', 'block', 'revoke')),"
	" until bigint NOT NULL DEFAULT 0,"
	" reason text NOT NULL,"
	" actor text NOT NULL,"
	" created_at bigint NOT NULL,"
	" lifted_at bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX sanctions_active ON sanctions(user_id, kind, until) WHERE lifted_at = 0;"
	"CREATE TABLE users ("
	" user_id text PRIMARY KEY,"
	" first_seen bigint NOT NULL);"
	"CREATE TABLE media ("
	" media_id text PRIMARY KEY,"
	" owner_id text NOT NULL,"
	" mime text NOT NULL,"
	" name text,"
	" size bigint NOT NULL,"
	" hash text,"
	" thumbnail boolean NOT NULL DEFAULT false,"
	" created_at bigint NOT NULL,"
	" ready_at bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX media_by_owner ON media(owner_id, created_at, size);"
	"CREATE INDEX media_by_hash ON media(hash) WHERE hash IS NOT NULL;"
	"CREATE INDEX media_by_created ON media(created_at, media_id);"

	/* append: the conversation's row lock orders concurrent appends (from
	 * any node); seq = last_seq + 1 is assigned and the row inserted in
	 * the same transaction, so seqs are gap-free.  The duplicate check
	 * runs after the lock (a new snapshot in READ COMMITTED), so a retry
	 * racing its original sees it.  Status -3: no such conversation, or
	 * the sender is not a member. */
	"CREATE FUNCTION chatd_append(p_cid text, p_sender text, p_cmid text, p_text text,"
	" p_media text, p_reply bigint, p_ts bigint, p_vis text, p_mod text, p_inbox boolean,"
	" p_mime text, p_msize bigint, p_mthumb boolean)"
	" RETURNS TABLE(r_status int, r_seq bigint, r_mid text, r_ts bigint, r_dup boolean)"
	" LANGUAGE plpgsql AS $$\n"
	"DECLARE v_last bigint; v_inbox boolean; v_seq bigint; v_mid text; d record;\n"
	"BEGIN\n"
	" SELECT c.last_seq, c.inbox INTO v_last, v_inbox FROM conversations c"
	"  WHERE c.id = p_cid FOR UPDATE;\n"
	" IF NOT FOUND THEN\n"
	"  RETURN QUERY SELECT -3, 0::bigint, NULL::text, 0::bigint, false; RETURN;\n"
	" END IF;\n"
	" SELECT x.seq, x.message_id, x.created_at INTO d FROM messages x"
	"  WHERE x.conversation_id = p_cid AND x.sender_id = p_sender"
	"  AND x.client_message_id = p_cmid;\n"
	" IF FOUND THEN\n"
	"  RETURN QUERY SELECT 0, d.seq, d.message_id, d.created_at, true; RETURN;\n"
	" END IF;\n"
	" PERFORM 1 FROM members b WHERE b.conversation_id = p_cid AND b.user_id = p_sender;\n"
	" IF NOT FOUND THEN\n"
	"  RETURN QUERY SELECT -3, 0::bigint, NULL::text, 0::bigint, false; RETURN;\n"
	" END IF;\n"
	" v_seq := v_last + 1;\n"
	" v_mid := 'm' || substr(p_cid, 2) || '-' || v_seq;\n"
	" IF p_media IS NOT NULL AND p_mime IS NULL THEN\n"
	"  SELECT x.mime, x.size, x.thumbnail INTO p_mime, p_msize, p_mthumb FROM media x"
	"   WHERE x.media_id = p_media;\n"
	" END IF;\n"
	" UPDATE conversations SET last_seq = v_seq, last_activity = p_ts WHERE id = p_cid;\n"
	" INSERT INTO messages(conversation_id, seq, message_id, sender_id, client_message_id,"
	"  text, media_id, reply_to, created_at, visibility, moderation, media_mime, media_size,"
	"  media_thumbnail) VALUES (p_cid, v_seq, v_mid, p_sender, p_cmid, p_text, p_media,"
	"  p_reply, p_ts, COALESCE(p_vis, 'normal'), p_mod, p_mime, p_msize, p_mthumb);\n"
	" UPDATE members SET last_read_seq = GREATEST(last_read_seq, v_seq)"
	"  WHERE conversation_id = p_cid AND user_id = p_sender;\n"
	" IF p_inbox THEN\n"
	"  IF v_inbox THEN\n"
	"   UPDATE inbox SET last_seq = v_seq, ts = p_ts WHERE conversation_id = p_cid;\n"
	"  ELSE\n"
	"   INSERT INTO inbox(conversation_id, user_id, last_seq, ts)"
	"    SELECT p_cid, b.user_id, v_seq, p_ts FROM members b WHERE b.conversation_id = p_cid"
	"    ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_seq = EXCLUDED.last_seq,"
	"    ts = EXCLUDED.ts;\n"
	"   UPDATE conversations SET inbox = true WHERE id = p_cid;\n"
	"  END IF;\n"
	" ELSIF v_inbox THEN\n"
	"  DELETE FROM inbox WHERE conversation_id = p_cid;\n"
	"  UPDATE conversations SET inbox = false WHERE id = p_cid;\n"
	" END IF;\n"
	" RETURN QUERY SELECT 0, v_seq, v_mid, p_ts, false;\n"
	"END $$;"

	/* The conversation of a direct pair (shard 0): the first claim wins;
	 * a racing claim waits for it and reads the winner. */
	"CREATE FUNCTION chatd_direct_claim(p_key text, p_cid text) RETURNS text"
	" LANGUAGE plpgsql AS $$\n"
	"DECLARE v text;\n"
	"BEGIN\n"
	" INSERT INTO direct_pairs(direct_key, conversation_id) VALUES (p_key, p_cid)"
	"  ON CONFLICT (direct_key) DO NOTHING;\n"
	" SELECT conversation_id INTO v FROM direct_pairs WHERE direct_key = p_key;\n"
	" RETURN v;\n"
	"END $$;"

	/* Create a conversation with its members; false when the id exists
	 * (a direct conversation created before, or an id collision). */
	"CREATE FUNCTION chatd_conv_create(p_cid text, p_kind text, p_title text, p_key text,"
	" p_ts bigint, p_owner text, p_owner_role text, p_members text[]) RETURNS boolean"
	" LANGUAGE plpgsql AS $$\n"
	"BEGIN\n"
	" INSERT INTO conversations(id, kind, title, direct_key, created_at, last_activity)"
	"  VALUES (p_cid, p_kind, p_title, p_key, p_ts, p_ts) ON CONFLICT (id) DO NOTHING;\n"
	" IF NOT FOUND THEN RETURN false; END IF;\n"
	" INSERT INTO members(conversation_id, user_id, role, joined_at)"
	"  VALUES (p_cid, p_owner, p_owner_role, p_ts);\n"
	" INSERT INTO members(conversation_id, user_id, role, joined_at)"
	"  SELECT DISTINCT p_cid, u, 'member', p_ts FROM unnest(p_members) u"
	"  ON CONFLICT DO NOTHING;\n"
	" UPDATE conversations SET member_count ="
	"  (SELECT count(*) FROM members WHERE conversation_id = p_cid) WHERE id = p_cid;\n"
	" RETURN true;\n"
	"END $$;"

	/* A group change (struct chatd_conv_change), checks first, so an
	 * error changes nothing: -3 NOT_FOUND, -2 INVALID, -12 CONFLICT,
	 * -4 EXISTS (r_one: the first user already a member), -8 TOO_LARGE. */
	"CREATE FUNCTION chatd_conv_change(p_kind int, p_cid text, p_actor text, p_actor_role text,"
	" p_users text[], p_target_role text, p_role text, p_muted bigint, p_max bigint,"
	" p_hfj boolean, p_title_set boolean, p_title text, p_locked int, p_typing int,"
	" p_receipts int, p_ts bigint)"
	" RETURNS TABLE(r_status int, r_one text, r_new_owner text) LANGUAGE plpgsql AS $$\n"
	"DECLARE v_kind text; v_last bigint; v_count bigint; v_inbox boolean; v_self text;\n"
	" v_target text; v_one text; v_new text; v_n int; v_from bigint;\n"
	"BEGIN\n"
	" SELECT c.kind, c.last_seq, c.member_count, c.inbox INTO v_kind, v_last, v_count, v_inbox"
	"  FROM conversations c WHERE c.id = p_cid FOR UPDATE;\n"
	" IF NOT FOUND THEN RETURN QUERY SELECT -3, NULL::text, NULL::text; RETURN; END IF;\n"
	" SELECT b.role INTO v_self FROM members b WHERE b.conversation_id = p_cid"
	"  AND b.user_id = p_actor;\n"
	" IF NOT FOUND THEN RETURN QUERY SELECT -3, NULL::text, NULL::text; RETURN; END IF;\n"
	" IF v_kind = 'direct' THEN RETURN QUERY SELECT -2, NULL::text, NULL::text; RETURN; END IF;\n"
	" IF p_actor_role IS NOT NULL AND p_actor_role <> v_self THEN\n"
	"  RETURN QUERY SELECT -12, NULL::text, NULL::text; RETURN;\n"
	" END IF;\n"
	" IF p_kind = 1 THEN\n"   /* ADD */
	"  SELECT u.uid INTO v_one FROM unnest(p_users) WITH ORDINALITY u(uid, ord)"
	"   JOIN members b ON b.conversation_id = p_cid AND b.user_id = u.uid"
	"   ORDER BY u.ord LIMIT 1;\n"
	"  IF FOUND THEN RETURN QUERY SELECT -4, v_one, NULL::text; RETURN; END IF;\n"
	"  v_n := cardinality(p_users);\n"
	"  IF p_max > 0 AND v_count + v_n > p_max THEN\n"
	"   RETURN QUERY SELECT -8, NULL::text, NULL::text; RETURN;\n"
	"  END IF;\n"
	"  v_from := CASE WHEN p_hfj THEN v_last ELSE 0 END;\n"
	"  INSERT INTO members(conversation_id, user_id, role, joined_at, history_from,"
	"   last_read_seq) SELECT p_cid, u, 'member', p_ts, v_from, v_from FROM unnest(p_users) u;\n"
	"  IF v_inbox THEN\n"
	"   INSERT INTO inbox(conversation_id, user_id, last_seq, ts)"
	"    SELECT p_cid, u, v_last, p_ts FROM unnest(p_users) u ON CONFLICT DO NOTHING;\n"
	"  END IF;\n"
	"  UPDATE conversations SET member_count = member_count + v_n WHERE id = p_cid;\n"
	"  RETURN QUERY SELECT 0, NULL::text, NULL::text; RETURN;\n"
	" ELSIF p_kind = 3 THEN\n"   /* LEAVE */
	"  IF v_self = 'owner' THEN\n"
	"   SELECT b.user_id INTO v_new FROM members b WHERE b.conversation_id = p_cid"
	"    AND b.user_id <> p_actor ORDER BY (b.role = 'admin') DESC, b.joined_at, b.user_id"
	"    LIMIT 1;\n"
	"   IF FOUND THEN\n"
	"    UPDATE members SET role = 'owner' WHERE conversation_id = p_cid AND user_id = v_new;\n"
	"   END IF;\n"
	"  END IF;\n"
	"  DELETE FROM members WHERE conversation_id = p_cid AND user_id = p_actor;\n"
	"  DELETE FROM inbox WHERE conversation_id = p_cid AND user_id = p_actor;\n"
	"  UPDATE conversations SET member_count = member_count - 1 WHERE id = p_cid;\n"
	"  RETURN QUERY SELECT 0, p_actor, v_new; RETURN;\n"
	" ELSIF p_kind = 6 THEN\n"   /* SETTINGS */
	"  UPDATE conversations SET title = CASE WHEN p_title_set THEN p_title ELSE title END,"
	"   locked = CASE WHEN p_locked < 0 THEN locked ELSE p_locked = 1 END,"
	"   typing = CASE WHEN p_typing < 0 THEN typing ELSE p_typing = 1 END,"
	"   receipts = CASE WHEN p_receipts < 0 THEN receipts ELSE p_receipts = 1 END"
	"   WHERE id = p_cid;\n"
	"  RETURN QUERY SELECT 0, NULL::text, NULL::text; RETURN;\n"
	" END IF;\n"
	/* REMOVE (2), ROLE (4), MUTE (5) of users[1]. */
	" SELECT b.role INTO v_target FROM members b WHERE b.conversation_id = p_cid"
	"  AND b.user_id = p_users[1];\n"
	" IF NOT FOUND THEN RETURN QUERY SELECT -3, NULL::text, NULL::text; RETURN; END IF;\n"
	" IF p_target_role IS NOT NULL AND p_target_role <> v_target THEN\n"
	"  RETURN QUERY SELECT -12, NULL::text, NULL::text; RETURN;\n"
	" END IF;\n"
	" IF p_kind IN (2, 4) AND v_target = 'owner' THEN\n"
	"  RETURN QUERY SELECT -2, NULL::text, NULL::text; RETURN;\n"
	" END IF;\n"
	" IF p_kind = 2 THEN\n"
	"  DELETE FROM members WHERE conversation_id = p_cid AND user_id = p_users[1];\n"
	"  DELETE FROM inbox WHERE conversation_id = p_cid AND user_id = p_users[1];\n"
	"  UPDATE conversations SET member_count = member_count - 1 WHERE id = p_cid;\n"
	" ELSIF p_kind = 4 THEN\n"
	"  UPDATE members SET role = p_role WHERE conversation_id = p_cid AND user_id = p_users[1];\n"
	" ELSE\n"
	"  UPDATE members SET muted_until = p_muted WHERE conversation_id = p_cid"
	"   AND user_id = p_users[1];\n"
	" END IF;\n"
	" RETURN QUERY SELECT 0, p_users[1], NULL::text;\n"
	"END $$;"

	/* Edit by the sender: -3 no such message, -5 not the sender's, -2
	 * deleted for everyone. */
	"CREATE FUNCTION chatd_message_edit(p_cid text, p_seq bigint, p_editor text, p_text text,"
	" p_mod text, p_vis text, p_ts bigint) RETURNS int LANGUAGE plpgsql AS $$\n"
	"DECLARE v_sender text; v_deleted boolean;\n"
	"BEGIN\n"
	" SELECT sender_id, deleted INTO v_sender, v_deleted FROM messages"
	"  WHERE conversation_id = p_cid AND seq = p_seq FOR UPDATE;\n"
	" IF NOT FOUND THEN RETURN -3; END IF;\n"
	" IF v_sender <> p_editor THEN RETURN -5; END IF;\n"
	" IF v_deleted THEN RETURN -2; END IF;\n"
	" UPDATE messages SET text = p_text, edited_at = p_ts, moderation = COALESCE(p_mod, moderation),"
	"  visibility = COALESCE(p_vis, visibility) WHERE conversation_id = p_cid AND seq = p_seq;\n"
	" RETURN 0;\n"
	"END $$;"

	/* sync on one shard: every conversation of the user here, most
	 * recently active first; per conversation a 'c' row (take: how many
	 * messages the total cap still allows) and up to take + 1 'm' rows
	 * after the cursor (else the read cursor), never at or below
	 * history_from.  The plugin merges the shards and applies the caps
	 * again over all of them. */
	"CREATE FUNCTION chatd_sync(p_user text, p_cids text[], p_seqs bigint[], p_per_conv int,"
	" p_total int) RETURNS TABLE(r_kind text, r_take int,"
	" c_id text, c_kind text, c_title text, c_last_seq bigint, c_member_count bigint,"
	" c_created_at bigint, c_last_activity bigint, c_locked boolean, c_typing boolean,"
	" c_receipts boolean, c_role text, c_read_seq bigint, c_muted_until bigint, c_peer text,"
	" c_history_from bigint, c_created_seq bigint,"
	" m_cid text, m_seq bigint, m_mid text, m_sender text, m_cmid text, m_text text,"
	" m_media text, m_reply bigint, m_created bigint, m_edited bigint, m_deleted boolean,"
	" m_vis text, m_mod text, m_mime text, m_msize bigint, m_mthumb boolean)"
	" LANGUAGE plpgsql AS $$\n"
	"DECLARE c record; v_left int := p_total; v_take int; v_after bigint; v_n int;\n"
	"BEGIN\n"
	" FOR c IN SELECT k.id, k.kind, k.title, k.last_seq, k.member_count, k.created_at,"
	"  k.last_activity, k.locked, k.typing, k.receipts, m.role, m.last_read_seq,"
	"  m.muted_until, CASE WHEN k.kind = 'direct' THEN (SELECT p.user_id FROM members p"
	"  WHERE p.conversation_id = k.id AND p.user_id <> m.user_id ORDER BY p.user_id LIMIT 1)"
	"  END AS peer, m.history_from, k.created_seq, cur.seq AS cur_seq"
	"  FROM members m JOIN conversations k ON k.id = m.conversation_id"
	"  LEFT JOIN (SELECT u.cid, max(u.seq) AS seq FROM unnest(p_cids, p_seqs) AS u(cid, seq)"
	"  GROUP BY u.cid) cur ON cur.cid = k.id"
	"  WHERE m.user_id = p_user"
	"  ORDER BY k.last_activity DESC, k.created_at DESC, k.created_seq DESC\n"
	" LOOP\n"
	"  v_take := LEAST(v_left, p_per_conv);\n"
	"  v_after := c.last_read_seq;\n"
	"  IF c.cur_seq IS NOT NULL AND c.cur_seq > 0 THEN v_after := c.cur_seq; END IF;\n"
	"  v_after := GREATEST(v_after, c.history_from);\n"
	"  RETURN QUERY SELECT 'c'::text, v_take, c.id, c.kind, c.title, c.last_seq,"
	"   c.member_count, c.created_at, c.last_activity, c.locked, c.typing, c.receipts,"
	"   c.role, c.last_read_seq, c.muted_until, c.peer, c.history_from, c.created_seq,"
	"   NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text,"
	"   NULL::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::boolean, NULL::text,"
	"   NULL::text, NULL::text, NULL::bigint, NULL::boolean;\n"
	"  RETURN QUERY SELECT 'm'::text, NULL::int, NULL::text, NULL::text, NULL::text,"
	"   NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::boolean, NULL::boolean,"
	"   NULL::boolean, NULL::text, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint,"
	"   NULL::bigint, x.conversation_id, x.seq, x.message_id, x.sender_id,"
	"   x.client_message_id, x.text, x.media_id, x.reply_to, x.created_at, x.edited_at,"
	"   x.deleted, x.visibility, x.moderation, x.media_mime, x.media_size, x.media_thumbnail"
	"   FROM messages x WHERE x.conversation_id = c.id AND x.seq > v_after"
	"   AND (x.visibility = 'normal' OR x.sender_id = p_user)"
	"   AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = p_user"
	"   AND h.conversation_id = x.conversation_id AND h.seq = x.seq)"
	"   ORDER BY x.seq LIMIT v_take + 1;\n"
	"  GET DIAGNOSTICS v_n = ROW_COUNT;\n"
	"  v_left := v_left - LEAST(v_n, v_take);\n"
	" END LOOP;\n"
	"END $$;"

	/* Queue item; -4 with the holder's id when dedupe_key is taken. */
	"CREATE FUNCTION chatd_mod_item_add(p_kind text, p_cid text, p_seq bigint, p_subject text,"
	" p_filed_by text, p_reason text, p_note text, p_detail text, p_key text, p_created bigint)"
	" RETURNS TABLE(r_status int, r_id bigint) LANGUAGE plpgsql AS $$\n"
	"DECLARE v bigint;\n"
	"BEGIN\n"
	" INSERT INTO mod_items(kind, status, conversation_id, seq, subject_id, filed_by, reason,"
	"  note, detail, dedupe_key, created_at) VALUES (p_kind, 'open', p_cid, p_seq, p_subject,"
	"  p_filed_by, p_reason, p_note, p_detail, p_key, p_created)"
	"  ON CONFLICT (dedupe_key) DO NOTHING RETURNING id INTO v;\n"
	" IF v IS NOT NULL THEN RETURN QUERY SELECT 0, v; RETURN; END IF;\n"
	" SELECT id INTO v FROM mod_items WHERE dedupe_key = p_key;\n"
	" RETURN QUERY SELECT -4, COALESCE(v, 0);\n"
	"END $$;"

	/* The first time a user was seen (kept once stored). */
	"CREATE FUNCTION chatd_user_seen(p_user text, p_ts bigint) RETURNS bigint"
	" LANGUAGE plpgsql AS $$\n"
	"DECLARE v bigint;\n"
	"BEGIN\n"
	" INSERT INTO users(user_id, first_seen) VALUES (p_user, p_ts)"
	"  ON CONFLICT (user_id) DO NOTHING;\n"
	" SELECT first_seen INTO v FROM users WHERE user_id = p_user;\n"
	" RETURN v;\n"
	"END $$;"

	/* Remove a media row: whether there was one, and how many rows still
	 * share its content hash. */
	"CREATE FUNCTION chatd_media_remove(p_id text) RETURNS TABLE(r_found boolean, r_sharing bigint)"
	" LANGUAGE plpgsql AS $$\n"
	"DECLARE v_hash text;\n"
	"BEGIN\n"
	" DELETE FROM media WHERE media_id = p_id RETURNING hash INTO v_hash;\n"
	" IF NOT FOUND THEN RETURN QUERY SELECT false, 0::bigint; RETURN; END IF;\n"
	" IF v_hash IS NULL THEN RETURN QUERY SELECT true, 0::bigint; RETURN; END IF;\n"
	" RETURN QUERY SELECT true, count(*) FROM media WHERE hash = v_hash;\n"
	"END $$;",

	/* 2: search and notification mutes (ABI 1.4). */
	pg_migration_2,
};

static int fail(PGconn *pg, char *err, size_t errlen, const char *what, PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(pg);
	snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "failed");
	size_t n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	if (r)
		PQclear(r);
	PQclear(PQexec(pg, "ROLLBACK"));
	return CHATD_ERR_IO;
}

/* Run one command; NULL on success, else the failed result (or NULL
 * with *bad when there is none). */
static bool run(PGconn *pg, const char *sql, PGresult **bad)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(r);
		*bad = NULL;
		return true;
	}
	*bad = r;
	return false;
}

int pg_schema_apply(PGconn *pg, bool migrate, int target, int *found, char *err, size_t errlen)
{
	PGresult *bad;
	*found = 0;
	if (target < 1 || target > PG_SCHEMA_VERSION) {
		snprintf(err, errlen, "no schema version %d", target);
		return CHATD_ERR_INVALID;
	}
	if (!run(pg, "BEGIN", &bad))
		return fail(pg, err, errlen, "begin", bad);
	/* Held until COMMIT/ROLLBACK: nodes starting at once take turns. */
	if (!run(pg, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", &bad))
		return fail(pg, err, errlen, "advisory lock", bad);
	if (!run(pg, "CREATE TABLE IF NOT EXISTS schema_version (version int NOT NULL)", &bad))
		return fail(pg, err, errlen, "create schema_version", bad);
	PGresult *r = PQexec(pg, "SELECT COALESCE(max(version), 0) FROM schema_version");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return fail(pg, err, errlen, "read schema_version", r);
	int version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	*found = version;
	if (version > target) {
		snprintf(err, errlen,
			 "database schema version %d is newer than this chatd knows (%d); "
			 "refusing to use it", version, target);
		PQclear(PQexec(pg, "ROLLBACK"));
		return CHATD_ERR_ABI;
	}
	if (version < target && !migrate) {
		snprintf(err, errlen,
			 "database schema version %d, this chatd needs %d and migrate = false: "
			 "run chatd once with migrate = true", version, target);
		PQclear(PQexec(pg, "ROLLBACK"));
		return CHATD_ERR_INVALID;
	}
	for (int v = version + 1; v <= target; v++) {
		if (!run(pg, migrations[v - 1], &bad)) {
			char what[32];
			snprintf(what, sizeof what, "migration %d", v);
			return fail(pg, err, errlen, what, bad);
		}
	}
	if (version < target) {
		char sql[96];
		snprintf(sql, sizeof sql, "DELETE FROM schema_version; "
			 "INSERT INTO schema_version(version) VALUES (%d)", target);
		if (!run(pg, sql, &bad))
			return fail(pg, err, errlen, "write schema_version", bad);
	}
	if (!run(pg, "COMMIT", &bad))
		return fail(pg, err, errlen, "commit", bad);
	return CHATD_OK;
}
