/* test_online_set.c — fanout_hybrid's online member sets, and the plugin's
 * registration races with a fake storage.
 *
 * fanout_hybrid.c is not linked into test_all: the plugin tests include it
 * (its export is left out, storage_sqlite's is already in the binary). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../plugins/fanout_hybrid/online_set.h"
#include "stub_host.h"
#include "unit.h"

#define FANOUT_HYBRID_NO_EXPORT
#include "../../plugins/fanout_hybrid/fanout_hybrid.c"

/* ---- online_set ---------------------------------------------------- */

static size_t count_iter(const char *first, struct online_iter *it)
{
	size_t n = 0;
	for (const char *x = first; x; x = online_set_next(it))
		n++;
	return n;
}

static void test_add_remove(void)
{
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	size_t empty = online_set_bytes(s);
	CU_ASSERT_EQUAL(online_set_add(s, "c1", "alice"), 1);
	CU_ASSERT_EQUAL(online_set_add(s, "c1", "alice"), 0);
	CU_ASSERT_EQUAL(online_set_add(s, "c1", "bob"), 1);
	CU_ASSERT_EQUAL(online_set_add(s, "c2", "alice"), 1);
	CU_ASSERT_TRUE(online_set_has(s, "c1", "alice"));
	CU_ASSERT_TRUE(online_set_has(s, "c2", "alice"));
	CU_ASSERT_FALSE(online_set_has(s, "c2", "bob"));
	CU_ASSERT_EQUAL(online_set_conv_size(s, "c1"), 2);
	CU_ASSERT_EQUAL(online_set_user_size(s, "alice"), 2);
	CU_ASSERT_EQUAL(online_set_n_convs(s), 2);
	CU_ASSERT_EQUAL(online_set_n_users(s), 2);
	CU_ASSERT_EQUAL(online_set_n_pairs(s), 3);
	CU_ASSERT(online_set_bytes(s) > empty);

	CU_ASSERT_TRUE(online_set_remove(s, "c1", "alice"));
	CU_ASSERT_FALSE(online_set_remove(s, "c1", "alice"));
	CU_ASSERT_FALSE(online_set_has(s, "c1", "alice"));
	CU_ASSERT_TRUE(online_set_has(s, "c1", "bob"));
	CU_ASSERT_TRUE(online_set_has(s, "c2", "alice"));
	CU_ASSERT_TRUE(online_set_remove(s, "c1", "bob"));
	/* c1 and bob had nothing left: no entries. */
	CU_ASSERT_EQUAL(online_set_n_convs(s), 1);
	CU_ASSERT_EQUAL(online_set_n_users(s), 1);
	CU_ASSERT_TRUE(online_set_remove(s, "c2", "alice"));
	CU_ASSERT_EQUAL(online_set_n_convs(s), 0);
	CU_ASSERT_EQUAL(online_set_n_users(s), 0);
	CU_ASSERT_EQUAL(online_set_n_pairs(s), 0);
	CU_ASSERT_EQUAL(online_set_bytes(s), empty);
	online_set_free(s);
}

static void test_absent(void)
{
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	struct online_iter it;
	CU_ASSERT_FALSE(online_set_remove(s, "c", "u"));
	CU_ASSERT_FALSE(online_set_has(s, "c", "u"));
	CU_ASSERT_PTR_NULL(online_set_conv_first(s, "c", &it));
	CU_ASSERT_PTR_NULL(online_set_next(&it));
	CU_ASSERT_PTR_NULL(online_set_user_first(s, "u", &it));
	size_t n = 99;
	CU_ASSERT_PTR_NULL(online_set_remove_user(s, "u", &n));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(online_set_user_set(s, "u", NULL), 0);
	CU_ASSERT_PTR_NULL(online_set_user_data(s, "u"));
	CU_ASSERT_EQUAL(online_set_conv_size(s, "c"), 0);

	CU_ASSERT_EQUAL(online_set_add(s, "c1", "u1"), 1);
	CU_ASSERT_EQUAL(online_set_add(s, "c2", "u2"), 1);
	/* Both exist, the pair does not. */
	CU_ASSERT_FALSE(online_set_remove(s, "c1", "u2"));
	CU_ASSERT_FALSE(online_set_remove(s, "c2", "u1"));
	CU_ASSERT_FALSE(online_set_remove(s, "c3", "u1"));
	CU_ASSERT_FALSE(online_set_remove(s, "c1", "u3"));
	CU_ASSERT_EQUAL(online_set_n_pairs(s), 2);
	CU_ASSERT_TRUE(online_set_has(s, "c1", "u1"));
	CU_ASSERT_TRUE(online_set_has(s, "c2", "u2"));
	/* Empty ids are ids too. */
	CU_ASSERT_EQUAL(online_set_add(s, "", ""), 1);
	CU_ASSERT_TRUE(online_set_remove(s, "", ""));
	online_set_free(s);    /* with entries left: ASan checks they are freed */
}

static void test_user_data(void)
{
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	size_t empty = online_set_bytes(s);
	int tag1, tag2;
	/* Data keeps a user with no conversation. */
	CU_ASSERT_EQUAL(online_set_user_set(s, "u", &tag1), 0);
	CU_ASSERT_PTR_EQUAL(online_set_user_data(s, "u"), &tag1);
	CU_ASSERT_EQUAL(online_set_n_users(s), 1);
	CU_ASSERT_EQUAL(online_set_user_size(s, "u"), 0);
	CU_ASSERT_EQUAL(online_set_add(s, "c", "u"), 1);
	CU_ASSERT_TRUE(online_set_remove(s, "c", "u"));
	CU_ASSERT_PTR_EQUAL(online_set_user_data(s, "u"), &tag1);
	CU_ASSERT_EQUAL(online_set_user_set(s, "u", &tag2), 0);
	CU_ASSERT_PTR_EQUAL(online_set_user_data(s, "u"), &tag2);
	/* Detached with no conversation: gone. */
	CU_ASSERT_EQUAL(online_set_user_set(s, "u", NULL), 0);
	CU_ASSERT_EQUAL(online_set_n_users(s), 0);
	CU_ASSERT_EQUAL(online_set_bytes(s), empty);
	/* Detached with a conversation: stays until the last removal. */
	CU_ASSERT_EQUAL(online_set_add(s, "c", "u"), 1);
	CU_ASSERT_EQUAL(online_set_user_set(s, "u", &tag1), 0);
	CU_ASSERT_EQUAL(online_set_user_set(s, "u", NULL), 0);
	CU_ASSERT_EQUAL(online_set_n_users(s), 1);
	CU_ASSERT_PTR_NULL(online_set_user_data(s, "u"));
	CU_ASSERT_TRUE(online_set_remove(s, "c", "u"));
	CU_ASSERT_EQUAL(online_set_n_users(s), 0);
	/* remove_user hands the data back. */
	CU_ASSERT_EQUAL(online_set_user_set(s, "v", &tag2), 0);
	CU_ASSERT_EQUAL(online_set_add(s, "c1", "v"), 1);
	CU_ASSERT_EQUAL(online_set_add(s, "c2", "v"), 1);
	CU_ASSERT_EQUAL(online_set_add(s, "c2", "w"), 1);
	size_t n = 0;
	CU_ASSERT_PTR_EQUAL(online_set_remove_user(s, "v", &n), &tag2);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(online_set_n_convs(s), 1);
	CU_ASSERT_TRUE(online_set_has(s, "c2", "w"));
	CU_ASSERT_PTR_NULL(online_set_remove_user(s, "w", &n));
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(online_set_bytes(s), empty);
	online_set_free(s);
}

/* One user in 2,000 conversations: past the point where the user gets an
 * index; removals from the middle, then all at once. */
static void test_user_in_many(void)
{
	enum { N = 2000 };
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	size_t empty = online_set_bytes(s);
	char conv[32];
	for (int i = 0; i < N; i++) {
		snprintf(conv, sizeof conv, "conv-%d", i);
		CU_ASSERT_EQUAL(online_set_add(s, conv, "busy"), 1);
		CU_ASSERT_EQUAL(online_set_add(s, conv, "other"), 1);
	}
	CU_ASSERT_EQUAL(online_set_add(s, "conv-7", "busy"), 0);
	CU_ASSERT_EQUAL(online_set_user_size(s, "busy"), N);
	/* Remove every odd one. */
	for (int i = 1; i < N; i += 2) {
		snprintf(conv, sizeof conv, "conv-%d", i);
		CU_ASSERT_TRUE(online_set_remove(s, conv, "busy"));
	}
	CU_ASSERT_EQUAL(online_set_user_size(s, "busy"), N / 2);
	bool ok = true;
	for (int i = 0; i < N; i++) {
		snprintf(conv, sizeof conv, "conv-%d", i);
		ok &= online_set_has(s, conv, "busy") == (i % 2 == 0);
		ok &= online_set_has(s, conv, "other");
		ok &= online_set_conv_size(s, conv) == (size_t)(i % 2 == 0 ? 2 : 1);
	}
	CU_ASSERT_TRUE(ok);
	/* Iteration sees each remaining conversation once. */
	char *seen = calloc(N, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	struct online_iter it;
	size_t n = 0;
	for (const char *c = online_set_user_first(s, "busy", &it); c; c = online_set_next(&it)) {
		int i = atoi(c + 5);
		ok &= i >= 0 && i < N && i % 2 == 0 && !seen[i];
		seen[i] = 1;
		n++;
	}
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(n, N / 2);
	free(seen);
	/* Down through the index's shrink and drop. */
	for (int i = 0; i < N - 20; i += 2) {
		snprintf(conv, sizeof conv, "conv-%d", i);
		CU_ASSERT_TRUE(online_set_remove(s, conv, "busy"));
	}
	CU_ASSERT_EQUAL(online_set_user_size(s, "busy"), 10);
	CU_ASSERT_TRUE(online_set_has(s, "conv-1998", "busy"));
	CU_ASSERT_TRUE(online_set_has(s, "conv-1996", "other"));
	CU_ASSERT_PTR_NULL(online_set_remove_user(s, "busy", &n));
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT_EQUAL(online_set_n_convs(s), N);
	CU_ASSERT_PTR_NULL(online_set_remove_user(s, "other", &n));
	CU_ASSERT_EQUAL(n, N);
	CU_ASSERT_EQUAL(online_set_n_convs(s), 0);
	CU_ASSERT_EQUAL(online_set_n_pairs(s), 0);
	CU_ASSERT_EQUAL(online_set_bytes(s), empty);
	online_set_free(s);
}

/* One conversation with 10,000 users online. */
static void test_conv_with_many(void)
{
	enum { N = 10000 };
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	size_t empty = online_set_bytes(s);
	char user[32];
	for (int i = 0; i < N; i++) {
		snprintf(user, sizeof user, "user-%d", i);
		CU_ASSERT_EQUAL(online_set_add(s, "big", user), 1);
	}
	CU_ASSERT_EQUAL(online_set_conv_size(s, "big"), N);
	char *seen = calloc(N, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	struct online_iter it;
	bool ok = true;
	size_t n = 0;
	for (const char *u = online_set_conv_first(s, "big", &it); u; u = online_set_next(&it)) {
		int i = atoi(u + 5);
		ok &= i >= 0 && i < N && !seen[i];
		seen[i] = 1;
		n++;
	}
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(n, N);
	/* Remove in a scrambled order (7919 is prime to N): the swap-remove
	 * must keep every twin's position right. */
	for (int k = 0; k < N; k++) {
		int i = (int)(((long)k * 7919) % N);
		snprintf(user, sizeof user, "user-%d", i);
		ok &= online_set_remove(s, "big", user);
		ok &= !online_set_has(s, "big", user);
		if (k % 1000 == 999)
			ok &= online_set_conv_size(s, "big") == (size_t)(N - k - 1);
	}
	CU_ASSERT_TRUE(ok);
	free(seen);
	CU_ASSERT_EQUAL(online_set_n_convs(s), 0);
	CU_ASSERT_EQUAL(online_set_n_users(s), 0);
	CU_ASSERT_EQUAL(online_set_bytes(s), empty);
	online_set_free(s);
}

/* Random operations against a plain matrix: every count, membership and
 * iteration must agree after each step.  Users reach past the index
 * threshold and fall back below it. */
static void test_random_model(void)
{
	enum { U = 40, C = 60, STEPS = 60000 };
	static bool model[U][C];
	static void *data[U];
	memset(model, 0, sizeof model);
	memset(data, 0, sizeof data);
	int marks[U];
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	size_t empty = online_set_bytes(s);
	unsigned seed = 12345;
	char user[16], conv[16];
	bool ok = true;
	for (int step = 0; step < STEPS && ok; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		int u = (int)(r % U), c = (int)((r / U) % C), op = (int)((r / U / C) % 100);
		snprintf(user, sizeof user, "u%d", u);
		snprintf(conv, sizeof conv, "c%d", c);
		/* Phases: mostly adds, then mostly removes, so users cross the
		 * index thresholds both ways. */
		bool adding = (step / 10000) % 2 == 0;
		if (op < (adding ? 70 : 30)) {
			ok &= online_set_add(s, conv, user) == (model[u][c] ? 0 : 1);
			model[u][c] = true;
		} else if (op < 97) {
			ok &= online_set_remove(s, conv, user) == model[u][c];
			model[u][c] = false;
		} else if (op < 99) {
			void *d = (r & 1) ? &marks[u] : NULL;
			ok &= online_set_user_set(s, user, d) == 0;
			data[u] = d;
		} else {
			size_t n = 99;
			ok &= online_set_remove_user(s, user, &n) == data[u];
			size_t want = 0;
			for (int j = 0; j < C; j++) {
				want += model[u][j];
				model[u][j] = false;
			}
			ok &= n == want;
			data[u] = NULL;
		}
		if (step % 97 != 0)
			continue;
		size_t pairs = 0, users = 0, convs = 0;
		for (int i = 0; i < U; i++) {
			snprintf(user, sizeof user, "u%d", i);
			size_t n = 0;
			for (int j = 0; j < C; j++) {
				snprintf(conv, sizeof conv, "c%d", j);
				ok &= online_set_has(s, conv, user) == model[i][j];
				n += model[i][j];
			}
			ok &= online_set_user_size(s, user) == n;
			ok &= online_set_user_data(s, user) == data[i];
			struct online_iter it;
			size_t seen = 0;
			for (const char *x = online_set_user_first(s, user, &it); x;
			     x = online_set_next(&it)) {
				ok &= model[i][atoi(x + 1)];
				seen++;
			}
			ok &= seen == n;
			pairs += n;
			users += n > 0 || data[i];
		}
		for (int j = 0; j < C; j++) {
			snprintf(conv, sizeof conv, "c%d", j);
			size_t n = 0;
			for (int i = 0; i < U; i++)
				n += model[i][j];
			struct online_iter it;
			size_t seen = 0;
			for (const char *x = online_set_conv_first(s, conv, &it); x;
			     x = online_set_next(&it)) {
				ok &= model[atoi(x + 1)][j];
				seen++;
			}
			ok &= seen == n;
			convs += n > 0;
		}
		ok &= online_set_n_pairs(s) == pairs;
		ok &= online_set_n_users(s) == users;
		ok &= online_set_n_convs(s) == convs;
		if (!ok)
			fprintf(stderr, "model mismatch at step %d\n", step);
	}
	CU_ASSERT_TRUE(ok);
	for (int i = 0; i < U; i++) {
		snprintf(user, sizeof user, "u%d", i);
		(void)online_set_remove_user(s, user, NULL);
	}
	CU_ASSERT_EQUAL(online_set_n_pairs(s), 0);
	CU_ASSERT_EQUAL(online_set_bytes(s), empty);
	online_set_free(s);
}

/* The brief's budget: 10,000 online users in a handful of conversations
 * each must cost a few hundred bytes per user. */
static void test_memory_cost(void)
{
	enum { USERS = 10000, PER_USER = 5, GROUPS = 2000 };
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	size_t empty = online_set_bytes(s);
	char user[32], conv[32];
	unsigned seed = 7;
	for (int u = 0; u < USERS; u++) {
		snprintf(user, sizeof user, "user-%08d", u);
		CU_ASSERT_EQUAL(online_set_user_set(s, user, &seed), 0);
		for (int k = 0; k < PER_USER; k++) {
			seed = seed * 1103515245u + 12345u;
			snprintf(conv, sizeof conv, "group-%08u", (seed >> 8) % GROUPS);
			CU_ASSERT(online_set_add(s, conv, user) >= 0);
		}
	}
	size_t pairs = online_set_n_pairs(s);
	size_t bytes = online_set_bytes(s) - empty;
	printf("\n    %d users, %zu pairs in %zu conversations: %zu bytes, "
	       "%.0f per user, %.1f per pair ",
	       USERS, pairs, online_set_n_convs(s), bytes, (double)bytes / USERS,
	       (double)bytes / (double)pairs);
	CU_ASSERT(bytes / USERS < 400);
	for (int u = 0; u < USERS; u++) {
		snprintf(user, sizeof user, "user-%08d", u);
		CU_ASSERT_PTR_EQUAL(online_set_remove_user(s, user, NULL), &seed);
	}
	CU_ASSERT_EQUAL(online_set_bytes(s), empty);
	online_set_free(s);
}

static void test_iterate_unchanged(void)
{
	struct online_set *s = online_set_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	const char *users[] = { "a", "b", "c", "d", "e" };
	for (size_t i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(online_set_add(s, "conv", users[i]), 1);
	CU_ASSERT_TRUE(online_set_remove(s, "conv", "b"));
	struct online_iter it1, it2;
	/* Two walks side by side give the same sequence. */
	const char *x = online_set_conv_first(s, "conv", &it1);
	const char *y = online_set_conv_first(s, "conv", &it2);
	size_t n = 0;
	int mask = 0;
	while (x && y) {
		CU_ASSERT_STRING_EQUAL(x, y);
		mask |= 1 << (x[0] - 'a');
		n++;
		x = online_set_next(&it1);
		y = online_set_next(&it2);
	}
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_PTR_NULL(y);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(mask, 0x1d);
	/* Past the end stays at the end. */
	CU_ASSERT_PTR_NULL(online_set_next(&it1));
	CU_ASSERT_EQUAL(count_iter(online_set_user_first(s, "a", &it1), &it1), 1);
	online_set_free(s);
}

/* ---- the plugin, with a fake storage and a recording host ---------- */

/* A conv_list request the test completes by hand. */
struct fake_req {
	char user[CHATD_ID_MAX + 1];
	chatd_conv_list_cb cb;
	void *arg;
};

#define MAX_REQS 16
#define MAX_DELIV 20000

static struct {
	struct fake_req reqs[MAX_REQS];
	size_t n_reqs;
	int refuse;                 /* conv_list returns this when < 0 */
	const char *const *sync_convs; /* non-NULL: complete inside conv_list */
	size_t n_sync;
} FS;

static struct {
	struct { char user[CHATD_ID_MAX + 1]; chatd_frame *f; uint64_t except; } d[MAX_DELIV];
	size_t n;
} DL;

static struct {
	char user[CHATD_ID_MAX + 1];
	int status;
	int calls;
	bool offline_inside;        /* ready calls user_offline */
} RD;

static struct chatd_host T_host;
static void *T_inst;

static void complete_list(chatd_conv_list_cb cb, void *arg, int status,
			  const char *const *convs, size_t n)
{
	struct chatd_conversation items[64];
	memset(items, 0, sizeof items);
	for (size_t i = 0; i < n && i < 64; i++) {
		items[i].conversation_id = convs[i];
		items[i].kind = "group";
		items[i].member_count = 2;
	}
	cb(arg, status, status == CHATD_OK ? items : NULL, status == CHATD_OK ? n : 0);
}

static int fake_conv_list(void *inst, const char *user_id, chatd_conv_list_cb cb, void *arg)
{
	(void)inst;
	if (FS.refuse < 0)
		return FS.refuse;
	if (FS.sync_convs) {
		complete_list(cb, arg, CHATD_OK, FS.sync_convs, FS.n_sync);
		return CHATD_OK;
	}
	if (FS.n_reqs == MAX_REQS)
		return CHATD_ERR_NOMEM;
	struct fake_req *r = &FS.reqs[FS.n_reqs++];
	snprintf(r->user, sizeof r->user, "%s", user_id);
	r->cb = cb;
	r->arg = arg;
	return CHATD_OK;
}

static const struct chatd_storage_ops fake_storage = {
	.struct_size = sizeof(struct chatd_storage_ops),
	.conv_list = fake_conv_list,
};

/* Complete request i (requests are kept in issue order). */
static void fake_complete(size_t i, int status, const char *const *convs, size_t n)
{
	CU_ASSERT_FATAL(i < FS.n_reqs);
	struct fake_req r = FS.reqs[i];
	memmove(&FS.reqs[i], &FS.reqs[i + 1], (FS.n_reqs - i - 1) * sizeof r);
	FS.n_reqs--;
	complete_list(r.cb, r.arg, status, convs, n);
}

static int rec_deliver_user(chatd_plugin_handle *h, const char *user_id, chatd_frame *f,
			    uint64_t except_session)
{
	(void)h;
	if (DL.n < MAX_DELIV) {
		snprintf(DL.d[DL.n].user, sizeof DL.d[DL.n].user, "%s", user_id);
		DL.d[DL.n].f = f;
		DL.d[DL.n].except = except_session;
		DL.n++;
	}
	return 1;   /* one session each */
}

static void on_ready(void *arg, const char *user_id, int status)
{
	(void)arg;
	snprintf(RD.user, sizeof RD.user, "%s", user_id);
	RD.status = status;
	RD.calls++;
	if (RD.offline_inside)
		hybrid_ops.user_offline(T_inst, user_id);
}

static bool delivered_to(const char *user)
{
	for (size_t i = 0; i < DL.n; i++)
		if (strcmp(DL.d[i].user, user) == 0)
			return true;
	return false;
}

/* A host whose deliver_user records; the plugin with its defaults. */
static int plugin_up(const char *threshold)
{
	memset(&FS, 0, sizeof FS);
	memset(&DL, 0, sizeof DL);
	memset(&RD, 0, sizeof RD);
	const char *kv[] = { "write_threshold", threshold, NULL };
	if (stub_host_setup(threshold ? kv : NULL) != 0)
		return -1;
	stub_host_set_schema(hybrid_options);
	stub_host_set_storage(&fake_storage, NULL);
	stub_host_quiet(true);
	T_host = *stub_host();
	T_host.deliver_user = rec_deliver_user;
	T_inst = NULL;
	return hybrid_plugin.init(&T_host, stub_handle(), &T_inst);
}

static void plugin_down(void)
{
	if (T_inst)
		hybrid_plugin.fini(T_inst);
	T_inst = NULL;
	FS.n_reqs = 0;           /* storage drops them at its own fini */
	stub_host_teardown();
}

static void send_msg(const char *conv, const char *sender, chatd_frame *to_sender,
		     chatd_frame *to_others, uint64_t origin)
{
	struct chatd_fanout_msg m = {
		.conversation_id = conv, .sender_id = sender, .seq = 1, .member_count = 2,
		.origin_session = origin, .to_sender = to_sender, .to_others = to_others,
	};
	CU_ASSERT_EQUAL(hybrid_ops.deliver(T_inst, &m), CHATD_OK);
}

/* Bring user online and complete their read with convs. */
static void online(const char *user, const char *const *convs, size_t n)
{
	size_t before = FS.n_reqs;
	int calls = RD.calls;
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, user, on_ready, NULL), CHATD_OK);
	CU_ASSERT_EQUAL_FATAL(FS.n_reqs, before + 1);
	fake_complete(FS.n_reqs - 1, CHATD_OK, convs, n);
	CU_ASSERT_EQUAL(RD.calls, calls + 1);
	CU_ASSERT_EQUAL(RD.status, CHATD_OK);
}

static void test_plugin_threshold(void)
{
	CU_ASSERT_EQUAL_FATAL(plugin_up(NULL), CHATD_OK);
	CU_ASSERT_TRUE(hybrid_ops.write_inbox(T_inst, "c", 2));
	CU_ASSERT_TRUE(hybrid_ops.write_inbox(T_inst, "c", 100));
	CU_ASSERT_FALSE(hybrid_ops.write_inbox(T_inst, "c", 101));
	plugin_down();
	CU_ASSERT_EQUAL_FATAL(plugin_up("0"), CHATD_OK);
	CU_ASSERT_FALSE(hybrid_ops.write_inbox(T_inst, "c", 2));
	plugin_down();
	CU_ASSERT_EQUAL_FATAL(plugin_up("5000"), CHATD_OK);
	CU_ASSERT_TRUE(hybrid_ops.write_inbox(T_inst, "c", 5000));
	CU_ASSERT_FALSE(hybrid_ops.write_inbox(T_inst, "c", 5001));
	plugin_down();
	CU_ASSERT_EQUAL(plugin_up("-1"), CHATD_ERR_INVALID);
	plugin_down();
}

static void test_plugin_deliver(void)
{
	CU_ASSERT_EQUAL_FATAL(plugin_up(NULL), CHATD_OK);
	chatd_frame *fs = T_host.frame_new(stub_handle(), "{\"s\":1}", 7);
	chatd_frame *fo = T_host.frame_new(stub_handle(), "{\"o\":1}", 7);
	const char *a_convs[] = { "c1", "c2" };
	const char *b_convs[] = { "c1" };
	online("alice", a_convs, 2);
	CU_ASSERT_STRING_EQUAL(RD.user, "alice");
	online("bob", b_convs, 1);
	CU_ASSERT_EQUAL(stub_metric("online_users"), 2);

	send_msg("c1", "alice", fs, fo, 42);
	CU_ASSERT_EQUAL_FATAL(DL.n, 2);
	for (size_t i = 0; i < DL.n; i++) {
		bool is_alice = strcmp(DL.d[i].user, "alice") == 0;
		CU_ASSERT_PTR_EQUAL(DL.d[i].f, is_alice ? fs : fo);
		CU_ASSERT_EQUAL(DL.d[i].except, 42);
	}
	CU_ASSERT_EQUAL(stub_metric("deliveries_total"), 2);
	DL.n = 0;
	send_msg("c2", "bob", fs, fo, 7);   /* bob is not in c2: only alice */
	CU_ASSERT_EQUAL(DL.n, 1);
	CU_ASSERT_TRUE(delivered_to("alice"));
	DL.n = 0;
	send_msg("nobody-here", "alice", fs, fo, 1);
	CU_ASSERT_EQUAL(DL.n, 0);

	CU_ASSERT_EQUAL(hybrid_ops.deliver_members(T_inst, "c1", fo, 9), CHATD_OK);
	CU_ASSERT_EQUAL(DL.n, 2);
	CU_ASSERT_EQUAL(DL.d[0].except, 9);
	CU_ASSERT_PTR_EQUAL(DL.d[1].f, fo);
	hybrid_ops.members_changed(T_inst, "c1"); /* nothing changes */
	DL.n = 0;
	send_msg("c1", "x", fs, fo, 0);
	CU_ASSERT_EQUAL(DL.n, 2);

	/* Leave: nothing more reaches bob from c1. */
	hybrid_ops.member_left(T_inst, "c1", "bob");
	DL.n = 0;
	send_msg("c1", "alice", fs, fo, 0);
	CU_ASSERT_EQUAL(DL.n, 1);
	CU_ASSERT_FALSE(delivered_to("bob"));
	/* Join: bob gets c2 from now on; carol is offline: not added. */
	hybrid_ops.member_joined(T_inst, "c2", "bob");
	hybrid_ops.member_joined(T_inst, "c2", "carol");
	DL.n = 0;
	send_msg("c2", "alice", fs, fo, 0);
	CU_ASSERT_EQUAL(DL.n, 2);
	CU_ASSERT_TRUE(delivered_to("bob"));
	CU_ASSERT_FALSE(delivered_to("carol"));
	/* Offline: gone from every conversation. */
	hybrid_ops.user_offline(T_inst, "alice");
	hybrid_ops.user_offline(T_inst, "alice");   /* twice: harmless */
	hybrid_ops.user_offline(T_inst, "never");
	CU_ASSERT_EQUAL(stub_metric("online_users"), 1);
	DL.n = 0;
	send_msg("c1", "x", fs, fo, 0);
	send_msg("c2", "x", fs, fo, 0);
	CU_ASSERT_EQUAL(DL.n, 1);
	CU_ASSERT_FALSE(delivered_to("alice"));
	T_host.frame_unref(fs);
	T_host.frame_unref(fo);
	plugin_down();
}

/* A 10,000-member group with 300 online: 300 deliveries, no read. */
static void test_plugin_big_group(void)
{
	CU_ASSERT_EQUAL_FATAL(plugin_up("100"), CHATD_OK);
	const char *convs[] = { "big" };
	char user[32];
	for (int i = 0; i < 300; i++) {
		snprintf(user, sizeof user, "member-%d", i);
		online(user, convs, 1);
	}
	CU_ASSERT_FALSE(hybrid_ops.write_inbox(T_inst, "big", 10000));
	chatd_frame *f = T_host.frame_new(stub_handle(), "{}", 2);
	DL.n = 0;
	send_msg("big", "member-0", f, f, 1);
	CU_ASSERT_EQUAL(DL.n, 300);
	CU_ASSERT_EQUAL(FS.n_reqs, 0);
	T_host.frame_unref(f);
	plugin_down();
}

static void test_plugin_offline_during_load(void)
{
	CU_ASSERT_EQUAL_FATAL(plugin_up(NULL), CHATD_OK);
	const char *c1[] = { "c1" }, *c2[] = { "c2" };
	chatd_frame *f = T_host.frame_new(stub_handle(), "{}", 2);

	/* Offline before the read returns: no ready, nothing added. */
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "a", on_ready, NULL), CHATD_OK);
	hybrid_ops.user_offline(T_inst, "a");
	fake_complete(0, CHATD_OK, c1, 1);
	CU_ASSERT_EQUAL(RD.calls, 0);
	send_msg("c1", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 0);
	CU_ASSERT_EQUAL(stub_metric("registrations_dropped_total"), 1);
	CU_ASSERT_EQUAL(stub_metric("online_users"), 0);

	/* Offline then online again, the old read answering last: only the
	 * new one counts, and ready comes once. */
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "a", on_ready, NULL), CHATD_OK);
	hybrid_ops.user_offline(T_inst, "a");
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "a", on_ready, NULL), CHATD_OK);
	CU_ASSERT_EQUAL_FATAL(FS.n_reqs, 2);
	fake_complete(1, CHATD_OK, c2, 1);      /* the new one */
	CU_ASSERT_EQUAL(RD.calls, 1);
	fake_complete(0, CHATD_OK, c1, 1);      /* the stale one */
	CU_ASSERT_EQUAL(RD.calls, 1);
	send_msg("c1", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 0);
	send_msg("c2", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 1);
	hybrid_ops.user_offline(T_inst, "a");

	/* Same, the old read answering first. */
	RD.calls = 0;
	DL.n = 0;
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "a", on_ready, NULL), CHATD_OK);
	hybrid_ops.user_offline(T_inst, "a");
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "a", on_ready, NULL), CHATD_OK);
	fake_complete(0, CHATD_OK, c1, 1);      /* stale */
	CU_ASSERT_EQUAL(RD.calls, 0);
	send_msg("c1", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 0);
	fake_complete(0, CHATD_OK, c2, 1);
	CU_ASSERT_EQUAL(RD.calls, 1);
	send_msg("c2", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 1);

	/* Reads in flight at fini (one abandoned, one live) are freed. */
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "b", on_ready, NULL), CHATD_OK);
	hybrid_ops.user_offline(T_inst, "b");
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "b", on_ready, NULL), CHATD_OK);
	hybrid_ops.member_left(T_inst, "c9", "b");   /* a leave list to free too */
	CU_ASSERT_EQUAL(FS.n_reqs, 2);
	CU_ASSERT_EQUAL(RD.calls, 1);
	T_host.frame_unref(f);
	plugin_down();
}

static void test_plugin_membership_during_load(void)
{
	CU_ASSERT_EQUAL_FATAL(plugin_up(NULL), CHATD_OK);
	chatd_frame *f = T_host.frame_new(stub_handle(), "{}", 2);
	/* The read saw a, b, c, d (it ran before the changes below). */
	const char *seen[] = { "ca", "cb", "cc", "cd" };
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "u", on_ready, NULL), CHATD_OK);
	hybrid_ops.member_left(T_inst, "ca", "u");      /* leave */
	hybrid_ops.member_joined(T_inst, "cj", "u");    /* join (not in the read) */
	hybrid_ops.member_left(T_inst, "cb", "u");      /* leave, then join again */
	hybrid_ops.member_joined(T_inst, "cb", "u");
	hybrid_ops.member_joined(T_inst, "ck", "u");    /* join, then leave */
	hybrid_ops.member_left(T_inst, "ck", "u");
	hybrid_ops.member_left(T_inst, "ca", "u");      /* twice */
	/* A join during the load is pushed at once (the message is stored:
	 * the sync after ready returns it too). */
	send_msg("cj", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 1);
	fake_complete(0, CHATD_OK, seen, 4);
	CU_ASSERT_EQUAL(RD.calls, 1);
	CU_ASSERT_EQUAL(RD.status, CHATD_OK);
	const char *want_in[] = { "cb", "cc", "cd", "cj" };
	const char *want_out[] = { "ca", "ck" };
	for (size_t i = 0; i < 4; i++) {
		DL.n = 0;
		send_msg(want_in[i], "x", f, f, 0);
		CU_ASSERT_EQUAL(DL.n, 1);
	}
	for (size_t i = 0; i < 2; i++) {
		DL.n = 0;
		send_msg(want_out[i], "x", f, f, 0);
		CU_ASSERT_EQUAL(DL.n, 0);
	}
	/* After the load, a leave of a conversation in the read sticks. */
	hybrid_ops.member_left(T_inst, "cc", "u");
	DL.n = 0;
	send_msg("cc", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 0);

	/* The read ran after the leave (does not list it): fine too. */
	const char *after[] = { "cd" };
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "v", on_ready, NULL), CHATD_OK);
	hybrid_ops.member_left(T_inst, "cc", "v");
	fake_complete(0, CHATD_OK, after, 1);
	DL.n = 0;
	send_msg("cc", "x", f, f, 0);
	send_msg("cd", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 2);   /* u and v in cd */
	T_host.frame_unref(f);
	plugin_down();
}

static void test_plugin_failures(void)
{
	CU_ASSERT_EQUAL_FATAL(plugin_up(NULL), CHATD_OK);
	chatd_frame *f = T_host.frame_new(stub_handle(), "{}", 2);
	/* The read fails: ready with the error, the user stays online for
	 * joins (and relies on sync for the rest). */
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "a", on_ready, NULL), CHATD_OK);
	fake_complete(0, CHATD_ERR_IO, NULL, 0);
	CU_ASSERT_EQUAL(RD.calls, 1);
	CU_ASSERT_EQUAL(RD.status, CHATD_ERR_IO);
	CU_ASSERT_EQUAL(stub_metric("registrations_failed_total"), 1);
	CU_ASSERT_EQUAL(stub_log_count("fanout.register_failed"), 1);
	hybrid_ops.member_joined(T_inst, "c1", "a");
	send_msg("c1", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 1);

	/* Storage refuses the read: ready (with the error) before returning. */
	FS.refuse = CHATD_ERR_SHUTDOWN;
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "b", on_ready, NULL), CHATD_OK);
	CU_ASSERT_EQUAL(RD.calls, 2);
	CU_ASSERT_EQUAL(RD.status, CHATD_ERR_SHUTDOWN);
	CU_ASSERT_STRING_EQUAL(RD.user, "b");
	FS.refuse = 0;

	/* A completion inside conv_list (before it returns). */
	const char *convs[] = { "c1", "c2" };
	FS.sync_convs = convs;
	FS.n_sync = 2;
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "c", on_ready, NULL), CHATD_OK);
	CU_ASSERT_EQUAL(RD.calls, 3);
	CU_ASSERT_EQUAL(RD.status, CHATD_OK);
	FS.sync_convs = NULL;
	DL.n = 0;
	send_msg("c1", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 2);

	/* Already registered: ready at once.  In flight: refused (the
	 * registration in flight owns the one ready). */
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "c", on_ready, NULL), CHATD_OK);
	CU_ASSERT_EQUAL(RD.calls, 4);
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "d", on_ready, NULL), CHATD_OK);
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "d", on_ready, NULL), CHATD_ERR_EXISTS);
	CU_ASSERT_EQUAL(FS.n_reqs, 1);
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, NULL, on_ready, NULL), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "", on_ready, NULL), CHATD_ERR_INVALID);
	char longid[CHATD_ID_MAX + 2];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, longid, on_ready, NULL),
			CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(hybrid_ops.user_online(T_inst, "e", NULL, NULL), CHATD_ERR_INVALID);

	/* ready goes offline at once: the user is gone, nothing dangles. */
	RD.offline_inside = true;
	fake_complete(0, CHATD_OK, convs, 2);
	CU_ASSERT_EQUAL(RD.calls, 5);
	RD.offline_inside = false;
	DL.n = 0;
	send_msg("c2", "x", f, f, 0);
	CU_ASSERT_EQUAL(DL.n, 1);      /* only c */
	CU_ASSERT_FALSE(delivered_to("d"));
	T_host.frame_unref(f);
	plugin_down();
}

void unit_register_online_set(void)
{
	CU_pSuite s = CU_add_suite("online_set", NULL, NULL);
	CU_add_test(s, "add, remove, entries freed", test_add_remove);
	CU_add_test(s, "absent entries", test_absent);
	CU_add_test(s, "user data keeps a user", test_user_data);
	CU_add_test(s, "a user in 2,000 conversations", test_user_in_many);
	CU_add_test(s, "a conversation with 10,000 users", test_conv_with_many);
	CU_add_test(s, "random operations against a model", test_random_model);
	CU_add_test(s, "memory per online user", test_memory_cost);
	CU_add_test(s, "iteration while unchanged", test_iterate_unchanged);
	CU_add_test(s, "plugin: write threshold", test_plugin_threshold);
	CU_add_test(s, "plugin: deliver, join, leave, offline", test_plugin_deliver);
	CU_add_test(s, "plugin: big group touches online members only", test_plugin_big_group);
	CU_add_test(s, "plugin: offline while the read is in flight",
		    test_plugin_offline_during_load);
	CU_add_test(s, "plugin: joins and leaves while the read is in flight",
		    test_plugin_membership_during_load);
	CU_add_test(s, "plugin: failures and re-entry", test_plugin_failures);
}
