/* sqlite_fixture.h — the storage_sqlite plugin under test: open a store on
 * a real file in the suite's temporary directory, and call every op
 * synchronously (the stub host's loop runs until the callback has copied
 * its results).  Used by test_storage_sqlite.c. */
#ifndef CHATD_SQLITE_FIXTURE_H
#define CHATD_SQLITE_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chatd/plugin.h"
#include "chatd/storage.h"

const struct chatd_plugin *chatd_plugin_describe(void);

#define WAIT_MS 30000
#define HMAX 256
#define SMAX 32

extern char g_dir[PATH_MAX];     /* the suite's mkdtemp directory */
extern int g_pending;            /* callbacks still expected */
extern const char *const g_two[]; /* { "bob" } */

struct store {
	const struct chatd_plugin *p;
	const struct chatd_storage_ops *ops;
	void *inst;
};

struct send_out {
	int status;
	int64_t seq, ts;
	char mid[64];
	bool dup;
};

struct conv_out {
	int status;
	bool created;
	char cid[32], kind[16], role[16], peer[64], title[64];
	int64_t member_count, last_seq, read_seq, last_activity;
	bool has_peer, has_title;
};

struct hist_out {
	int status;
	size_t n;
	int64_t seqs[HMAX];
	char first_text[32];
	bool has_more;
};

struct sync_out {
	int status;
	size_t n;
	bool has_more;
	size_t total;
	struct {
		char cid[32];
		size_t n;
		int64_t first, last, last_seq, read_seq;
		bool has_more, ascending;
	} c[SMAX];
};

struct list_out {
	int status;
	size_t n;
	char cids[SMAX][32];
	char roles[SMAX][16];
};

struct get_out {
	int status;
	struct conv_out conv;
	size_t n;
	char users[SMAX][16];
	char roles[SMAX][16];
};

struct pre_out {
	int status;
	bool has_dup, has_conv, has_self;
	int64_t dup_seq;
	char role[16];
};

bool wait_all(void);
void db_path(char *buf, size_t len, const char *file);
void host_up(const char *file, const char *const *extra);
int store_open(struct store *s);
void store_close(struct store *s);
int send_async(struct store *s, const char *cid, const char *sender, const char *cmid,
		      const char *text, int64_t ts, struct send_out *out);
int send_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		     const char *text, int64_t ts, struct send_out *out);
int direct_async(struct store *s, const char *a, const char *b, int64_t ts,
			struct conv_out *o);
int group_sync(struct store *s, const char *owner, const char *title,
		      const char *const *members, size_t n, int64_t ts, struct conv_out *o);
int history_sync(struct store *s, const char *cid, const char *viewer, int64_t before,
			int64_t after, int limit, struct hist_out *o);
bool seqs_are(const struct hist_out *o, int64_t from, int64_t to);
int sync_sync(struct store *s, const char *user, const struct chatd_cursor *cur,
		     size_t n_cur, struct sync_out *o);
int list_sync(struct store *s, const char *user, struct list_out *o);
int get_sync(struct store *s, const char *cid, const char *viewer, size_t off,
		    size_t lim, struct get_out *o);
int pre_sync(struct store *s, const char *cid, const char *sender, const char *cmid,
		    struct pre_out *o);
int64_t sql_int(const char *file, const char *sql);

#endif
