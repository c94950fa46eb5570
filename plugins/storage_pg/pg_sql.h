/* pg_sql.h — the prepared statements of storage_pg and the schema.
 *
 * Every statement is prepared on every connection (at start-up, and again
 * after each reconnection) under the name "chatd_<index>"; ops refer to
 * them by enum pg_stmt.  Column lists: conversations as pg_read_conv
 * reads them (PG_CONV_NCOLS columns), messages as pg_read_msg
 * (PG_MSG_NCOLS), members as pg_read_member (PG_MEMBER_NCOLS). */
#ifndef PG_SQL_H
#define PG_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

enum pg_stmt {
	/* messages (pg_ops_msg.c) */
	PG_PRECHECK,         /* $1 cid, $2 sender, $3 cmid: dup (3) + conv + member */
	PG_APPEND,           /* chatd_append(...13) */
	PG_MEDIA_META,       /* $1 media_id: mime, size, thumbnail */
	PG_CONV_EXISTS,      /* $1 cid */
	PG_HISTORY_ASC,      /* $1 cid, $2 after, $3 before, $4 viewer, $5 limit */
	PG_HISTORY_DESC,
	PG_SYNC,             /* chatd_sync($1 user, $2 cids, $3 seqs, $4 per_conv, $5 total) */
	PG_MSG_GET,          /* $1 cid, $2 seq: message + sender's role */
	PG_MSG_ONE,          /* $1 cid, $2 seq */
	PG_MSG_EDIT,         /* chatd_message_edit(...7) */
	PG_MSG_DELETE,       /* $1 cid, $2 seq, $3 ts */
	PG_MSG_HIDE,         /* $1 user, $2 cid, $3 seq: 1 when the message exists */
	PG_PURGE,            /* $1 before */
	PG_SET_VIS,          /* $1 cid, $2 seq, $3 visibility */
	/* conversations (pg_ops_conv.c) */
	PG_CONV_LIST,        /* $1 user */
	PG_DIRECT_CLAIM,     /* $1 key, $2 cid */
	PG_CONV_CREATE,      /* chatd_conv_create(...8) */
	PG_CONV_VIEW,        /* $1 cid, $2 viewer */
	PG_CONV_ANON,        /* $1 cid */
	PG_MEMBERS_PAGE,     /* $1 cid, $2 limit, $3 offset */
	PG_MEMBERS_OF,       /* $1 cid, $2 users text[] */
	PG_CONV_CHANGE,      /* chatd_conv_change(...16) */
	PG_CURSORS,          /* $1 cids, $2 users, $3 seqs */
	/* moderation (pg_ops_mod.c) */
	PG_AUDIT_INSERT,     /* 8 columns */
	PG_AUDIT_ASC,        /* $1 after, $2 limit */
	PG_AUDIT_NEWEST,
	PG_ITEM_ADD,         /* chatd_mod_item_add(...10) */
	PG_ITEM_ONE,         /* $1 id */
	PG_ITEMS,            /* $1 after, $2 limit, $3 status, $4 kind */
	PG_ITEM_RESOLVE,     /* $1 id .. $6 ts: (updated, exists) */
	PG_SANCTION_ADD,
	PG_SANCTION_LIFT,    /* $1 ts, $2 user, $3 kind */
	PG_SANCTIONS_ACTIVE, /* $1 now */
	PG_USER_SEEN,        /* $1 user, $2 ts */
	PG_USER_FIRST,       /* $1 user */
	/* media (pg_ops_media.c) */
	PG_MEDIA_PUT,
	PG_MEDIA_GET,        /* $1 id */
	PG_MEDIA_READY,      /* $1 id, $2 hash, $3 thumbnail, $4 ts */
	PG_MEDIA_USAGE,      /* $1 owner, $2 since */
	PG_MEDIA_OWNER,      /* $1 id, $2 user */
	PG_MEDIA_MSG_ACCESS, /* $1 id, $2 user */
	PG_MEDIA_ORPHANS,    /* $1 before, $2 limit: one shard holds everything */
	PG_MEDIA_CANDIDATES, /* $1 before, $2 after created_at, $3 after media_id, $4 limit */
	PG_MEDIA_REFERENCED, /* $1 ids text[] */
	PG_MEDIA_REMOVE,     /* $1 id */
	/* ABI 1.4 (pg_ops_search.c, pg_ops_notify.c) */
	PG_SEARCH,           /* chatd_search($1 viewer, $2 cid, $3 terms, $4 prefix, $5 ts, $6 skip, $7 limit) */
	PG_MSGS_LATEST,      /* $1 limit: the shard's latest messages, newest first */
	PG_NOTIFY_MUTE,      /* $1 cid, $2 user, $3 muted_until */
	PG_NOTIFY_TARGETS,   /* $1 cid, $2 exclude, $3 now, $4 limit */
	/* ABI 1.5 (pg_ops_texts.c) */
	PG_TEXTS_SCAN,       /* $1 after cid ("": first), $2 after seq, $3 limit */
	PG_TEXT_REPLACE,     /* $1 cid, $2 seq, $3 expected, $4 text: (replaced, exists) */
	/* connection set-up */
	PG_SCHEMA_CHECK,     /* the version a new connection finds */
	PG_STMT_COUNT
};

/* The name and SQL of statement i. */
const char *pg_stmt_name(int i);
const char *pg_stmt_sql(int i);

/* The newest schema version this code knows, and migrations past the
 * first (pg_schema_v2.c: search, notification mutes). */
#define PG_SCHEMA_VERSION 2
extern const char pg_migration_2[];

/* Blocking, on a fresh connection (not in pipeline mode): take the
 * migration lock and bring the database to `target` (1..PG_SCHEMA_VERSION)
 * in one transaction; with migrate false only check that it is there.
 * CHATD_OK; CHATD_ERR_ABI when the database is newer than target (*found
 * says what it is); CHATD_ERR_INVALID when it is older and migrate is
 * false; CHATD_ERR_IO otherwise.  `err` gets a message on failure. */
int pg_schema_apply(PGconn *pg, bool migrate, int target, int *found, char *err, size_t errlen);

#endif
