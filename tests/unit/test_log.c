/* test_log.c — the JSON line writer (escaping, invalid UTF-8, truncation
 * that stays valid JSON, context fields), user hashes (stable, keyed), the
 * thread's context, trace ids, and log.file (open, check, reopen).  Lines
 * are parsed back with jansson, which refuses invalid UTF-8. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>

#include "log.h"
#include "unit.h"

static char tmpdir[64];

/* Parse one line (it must end with exactly one newline). */
static json_t *parse(const char *line, size_t len)
{
	CU_ASSERT_TRUE_FATAL(len > 1 && line[len - 1] == '\n');
	CU_ASSERT_PTR_NULL(memchr(line, '\n', len - 1));
	json_error_t e;
	json_t *o = json_loadb(line, len - 1, JSON_ALLOW_NUL, &e);
	if (!o)
		fprintf(stderr, "\nnot JSON (%s): %.*s\n", e.text, (int)len, line);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	return o;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "(absent)";
}

/* Format msg (len bytes) with the given fields; returns the parsed line. */
static json_t *fmt(const char *msg, size_t len, uint64_t trace, const char *user_hash,
		   char *line, size_t *line_len)
{
	struct log_line l = {
		.ts_ms = 1795848276123LL, .level = LOG_INFO, .component = "gateway",
		.event = "session.open", .msg = msg, .msg_len = len, .trace = trace,
		.user_hash = user_hash,
	};
	*line_len = log_format_line(line, LOG_LINE_MAX, &l);
	CU_ASSERT_TRUE(*line_len <= LOG_LINE_MAX);
	return parse(line, *line_len);
}

static void test_fields_and_order(void)
{
	char line[LOG_LINE_MAX];
	size_t n;
	json_t *o = fmt("hello", 5, 0x4f1c00000000beefULL, "u:0123456789abcdef", line, &n);
	const char *want = "{\"ts\":\"2026-11-28T06:44:36.123Z\",\"level\":\"info\","
			   "\"component\":\"gateway\",\"event\":\"session.open\",\"msg\":\"hello\","
			   "\"trace\":\"4f1c00000000beef\",\"user\":\"u:0123456789abcdef\"}\n";
	CU_ASSERT_EQUAL(n, strlen(want));
	CU_ASSERT_NSTRING_EQUAL(line, want, strlen(want));
	json_decref(o);
	/* No trace, no user: no keys for them. */
	o = fmt("x", 1, 0, NULL, line, &n);
	CU_ASSERT_PTR_NULL(json_object_get(o, "trace"));
	CU_ASSERT_PTR_NULL(json_object_get(o, "user"));
	CU_ASSERT_EQUAL(json_object_size(o), 5);
	json_decref(o);
	/* Small trace ids keep their 16 digits. */
	o = fmt("x", 1, 1, NULL, line, &n);
	CU_ASSERT_STRING_EQUAL(str(o, "trace"), "0000000000000001");
	json_decref(o);
}

static void test_escaping(void)
{
	char line[LOG_LINE_MAX];
	size_t n;
	static const char msg[] = "a \"quoted\" back\\slash\nnew\ttab\r\x01\x1f\x7f end";
	json_t *o = fmt(msg, sizeof msg - 1, 0, NULL, line, &n);
	CU_ASSERT_STRING_EQUAL(str(o, "msg"), msg);
	/* The raw control bytes never reach the file. */
	for (size_t i = 0; i + 1 < n; i++)
		CU_ASSERT_TRUE((unsigned char)line[i] >= 0x20 && line[i] != 0x7f);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "\\u0001\\u001f\\u007f"));
	json_decref(o);
	/* An embedded NUL is escaped, not an end. */
	o = fmt("a\0b", 3, 0, NULL, line, &n);
	CU_ASSERT_EQUAL(json_string_length(json_object_get(o, "msg")), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "a\\u0000b"));
	json_decref(o);
	/* Component and event are escaped too. */
	struct log_line l = { .component = "we\"ird", .event = "ev\n", .msg = "", .msg_len = 0 };
	n = log_format_line(line, sizeof line, &l);
	o = parse(line, n);
	CU_ASSERT_STRING_EQUAL(str(o, "component"), "we\"ird");
	CU_ASSERT_STRING_EQUAL(str(o, "event"), "ev\n");
	json_decref(o);
}

static void test_invalid_utf8(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },                       /* a stray byte */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                 /* overlong '/' */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* a surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* > U+10FFFF */
		{ "end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd" },           /* cut sequence */
		{ "\x80x", "\xef\xbf\xbdx" },                               /* lone continuation */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char line[LOG_LINE_MAX];
		size_t n;
		json_t *o = fmt(cases[i].in, strlen(cases[i].in), 0, NULL, line, &n);
		CU_ASSERT_STRING_EQUAL(str(o, "msg"), cases[i].out);
		json_decref(o);
	}
}

/* A message far over the cap, of units 1, 2 (é), 6 (\u0001) and 2 (\")
 * bytes: the line fills up to the cap, stays valid, keeps its trace and
 * user, and its msg ends with "…". */
static void test_truncation(void)
{
	static const char *const units[] = { "a", "\xc3\xa9", "\x01", "\"", "ab\xc3\xa9\x01" };
	size_t big = 3 * LOG_LINE_MAX;
	char *msg = malloc(big + 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t ul = strlen(units[u]), len = 0;
		while (len + ul <= big) {
			memcpy(msg + len, units[u], ul);
			len += ul;
		}
		char line[LOG_LINE_MAX];
		size_t n;
		json_t *o = fmt(msg, len, 42, "u:0123456789abcdef", line, &n);
		CU_ASSERT_TRUE(n > LOG_LINE_MAX - 16 && n <= LOG_LINE_MAX);
		const char *m = str(o, "msg");
		size_t ml = strlen(m);
		CU_ASSERT_TRUE(ml > 3 && strcmp(m + ml - 3, "\xe2\x80\xa6") == 0);
		/* What is kept is a prefix of the message. */
		CU_ASSERT_EQUAL(memcmp(m, msg, ml - 3), 0);
		CU_ASSERT_STRING_EQUAL(str(o, "trace"), "000000000000002a");
		CU_ASSERT_STRING_EQUAL(str(o, "user"), "u:0123456789abcdef");
		json_decref(o);
	}
	/* Cut before (msg_cut): marked though it fits. */
	struct log_line l = { .component = "c", .event = "e", .msg = "abc", .msg_len = 3,
			      .msg_cut = true };
	char line[LOG_LINE_MAX];
	size_t n = log_format_line(line, sizeof line, &l);
	json_t *o = parse(line, n);
	CU_ASSERT_STRING_EQUAL(str(o, "msg"), "abc\xe2\x80\xa6");
	json_decref(o);
	/* The smallest buffer allowed still makes a whole line. */
	memset(msg, 'z', big);
	l = (struct log_line){ .component = "c", .event = "e", .msg = msg, .msg_len = big,
			       .trace = 7, .user_hash = "u:0123456789abcdef" };
	n = log_format_line(line, LOG_LINE_MIN, &l);
	CU_ASSERT_TRUE(n <= LOG_LINE_MIN);
	json_decref(parse(line, n));
	CU_ASSERT_EQUAL(log_format_line(line, LOG_LINE_MIN - 1, &l), 0);
	free(msg);
}

static void test_user_hash(void)
{
	char a[LOG_USER_HASH_LEN + 1], b[LOG_USER_HASH_LEN + 1];
	/* HMAC-SHA256(key, "alice"), first 8 bytes: Python's hmac agrees. */
	CU_ASSERT_EQUAL(log_set_user_hash_key(""), 0);
	log_user_hash("alice", a);
	CU_ASSERT_STRING_EQUAL(a, "u:ce3837f76a54a635");
	CU_ASSERT_EQUAL(log_set_user_hash_key("k1"), 0);
	log_user_hash("alice", a);
	log_user_hash("alice", b);
	CU_ASSERT_STRING_EQUAL(a, "u:aff3e2227d2581ae");
	CU_ASSERT_STRING_EQUAL(a, b);                     /* stable */
	log_user_hash("alicf", b);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_EQUAL(log_set_user_hash_key("k2"), 0);
	log_user_hash("alice", b);
	CU_ASSERT_STRING_EQUAL(b, "u:fadce5e876ecdb84");  /* keyed */
	CU_ASSERT_EQUAL(log_set_user_hash_key(""), 0);
}

/* ---- through log_msg into a file ---------------------------------------- */

static char path_buf[128];

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 16);
	*len = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

/* The lines of path, parsed; *n of them. */
static json_t **lines_of(const char *path, size_t *n)
{
	size_t len;
	char *text = slurp(path, &len);
	*n = 0;
	if (!text)
		return NULL;
	json_t **out = calloc(64, sizeof *out);
	char *p = text;
	while (*p && *n < 64) {
		char *nl = strchr(p, '\n');
		CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
		out[(*n)++] = parse(p, (size_t)(nl - p) + 1);
		p = nl + 1;
	}
	free(text);
	return out;
}

static void free_lines(json_t **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(l[i]);
	free(l);
}

static int setup_file(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/chatd-test-log-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path_buf, sizeof path_buf, "%s/chatd.log", tmpdir);
	return 0;
}

static int teardown_file(void)
{
	char p[160];
	log_close();
	log_set_level(LOG_INFO);
	log_ctx_clear();
	snprintf(p, sizeof p, "%s/chatd.log", tmpdir);
	unlink(p);
	snprintf(p, sizeof p, "%s/chatd.log.1", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

static void test_context_and_levels(void)
{
	char err[256];
	unlink(path_buf);
	CU_ASSERT_EQUAL_FATAL(log_open(path_buf, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(log_path(), path_buf);
	log_set_level(LOG_INFO);
	CU_ASSERT_FALSE(log_enabled(LOG_DEBUG));
	log_debug("t", "filtered", "never %s", "written");
	log_ctx_set(0x1234, "bob.smith");
	errno = EAGAIN;
	log_info("t", "one", "bob.smith said hi to bob.smithers; bob.smith!");
	CU_ASSERT_EQUAL(errno, EAGAIN);                   /* logging keeps errno */
	struct log_ctx saved;
	log_ctx_save(&saved);
	log_ctx_set(0x99, NULL);
	log_warn("t", "two", "no user here");
	log_ctx_restore(&saved);
	CU_ASSERT_EQUAL(log_ctx_trace(), 0x1234);
	log_set_level(LOG_DEBUG);
	log_debug("t", "three", "raw at debug: bob.smith");
	log_user(LOG_ERROR, "t", "four", "carol", "about carol, not bob.smith");
	CU_ASSERT_EQUAL(log_ctx_trace(), 0x1234);         /* log_user restored it */
	log_ctx_clear();
	log_info("t", "five", "bob.smith without a context");

	char bob[LOG_USER_HASH_LEN + 1], carol[LOG_USER_HASH_LEN + 1];
	log_user_hash("bob.smith", bob);
	log_user_hash("carol", carol);
	size_t n;
	json_t **l = lines_of(path_buf, &n);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	CU_ASSERT_STRING_EQUAL(str(l[0], "event"), "one");
	CU_ASSERT_STRING_EQUAL(str(l[0], "trace"), "0000000000001234");
	CU_ASSERT_STRING_EQUAL(str(l[0], "user"), bob);
	/* At info the context's raw id is replaced by its hash (whole words). */
	char want[256];
	snprintf(want, sizeof want, "%s said hi to bob.smithers; %s!", bob, bob);
	CU_ASSERT_STRING_EQUAL(str(l[0], "msg"), want);
	CU_ASSERT_STRING_EQUAL(str(l[1], "trace"), "0000000000000099");
	CU_ASSERT_PTR_NULL(json_object_get(l[1], "user"));
	CU_ASSERT_STRING_EQUAL(str(l[2], "msg"), "raw at debug: bob.smith");
	CU_ASSERT_STRING_EQUAL(str(l[2], "user"), bob);
	CU_ASSERT_STRING_EQUAL(str(l[2], "level"), "debug");
	CU_ASSERT_STRING_EQUAL(str(l[3], "user"), carol);
	CU_ASSERT_STRING_EQUAL(str(l[3], "trace"), "0000000000001234");
	/* log_user's user is the one scrubbed; the context's is not. */
	snprintf(want, sizeof want, "about %s, not bob.smith", carol);
	CU_ASSERT_STRING_EQUAL(str(l[3], "msg"), want);
	CU_ASSERT_PTR_NULL(json_object_get(l[4], "trace"));
	CU_ASSERT_PTR_NULL(json_object_get(l[4], "user"));
	free_lines(l, n);
	log_set_level(LOG_INFO);
}

static void test_reopen(void)
{
	char err[256], rotated[160];
	unlink(path_buf);
	CU_ASSERT_EQUAL_FATAL(log_open(path_buf, err, sizeof err), 0);
	log_info("t", "before", "x");
	snprintf(rotated, sizeof rotated, "%s.1", path_buf);
	CU_ASSERT_EQUAL_FATAL(rename(path_buf, rotated), 0);
	log_info("t", "moved", "still the old file");
	CU_ASSERT_EQUAL(log_reopen(err, sizeof err), 1);
	log_info("t", "after", "the new file");
	size_t n;
	json_t **l = lines_of(rotated, &n);
	CU_ASSERT_EQUAL(n, 2);
	free_lines(l, n);
	l = lines_of(path_buf, &n);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(str(l[0], "event"), "after");
	free_lines(l, n);
	/* A reopen that cannot open keeps the old file. */
	CU_ASSERT_EQUAL_FATAL(unlink(path_buf), 0);
	CU_ASSERT_EQUAL_FATAL(unlink(rotated), 0);
	CU_ASSERT_EQUAL_FATAL(rmdir(tmpdir), 0);
	CU_ASSERT_EQUAL(log_reopen(err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file or directory"));
	log_info("t", "lost", "to the unlinked file, not to stderr");
	CU_ASSERT_EQUAL_FATAL(mkdir(tmpdir, 0700), 0);
	/* On stderr there is nothing to reopen. */
	log_close();
	CU_ASSERT_PTR_NULL(log_path());
	CU_ASSERT_EQUAL(log_reopen(err, sizeof err), 0);
}

static void test_open_and_check(void)
{
	char err[256], missing[200];
	snprintf(missing, sizeof missing, "%s/nope/chatd.log", tmpdir);
	CU_ASSERT_EQUAL(log_check_path(missing, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "log.file: cannot open"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, missing));
	CU_ASSERT_EQUAL(log_open(missing, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file or directory"));
	CU_ASSERT_PTR_NULL(log_path());                   /* unchanged: stderr */
	/* A file that does not exist yet in a writable directory: fine, and
	 * the check creates nothing. */
	unlink(path_buf);
	CU_ASSERT_EQUAL(log_check_path(path_buf, err, sizeof err), 0);
	CU_ASSERT_NOT_EQUAL(access(path_buf, F_OK), 0);
	CU_ASSERT_EQUAL(log_check_path("", err, sizeof err), 0);
	CU_ASSERT_EQUAL(log_check_path(tmpdir, err, sizeof err), -1); /* a directory */
	CU_ASSERT_EQUAL(log_open(NULL, err, sizeof err), 0);
	CU_ASSERT_PTR_NULL(log_path());
}

static void test_trace_ids(void)
{
	enum { N = 20000 };
	uint64_t *ids = malloc(N * sizeof *ids);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
	for (size_t i = 0; i < N; i++) {
		ids[i] = log_trace_new();
		CU_ASSERT_NOT_EQUAL(ids[i], 0);
	}
	/* Distinct (a small open-addressing set), and not a plain counter. */
	size_t cap = 1 << 16, dup = 0, step1 = 0;
	uint64_t *set = calloc(cap, sizeof *set);
	CU_ASSERT_PTR_NOT_NULL_FATAL(set);
	for (size_t i = 0; i < N; i++) {
		size_t h = (size_t)(ids[i] & (cap - 1));
		while (set[h] && set[h] != ids[i])
			h = (h + 1) & (cap - 1);
		dup += set[h] == ids[i];
		set[h] = ids[i];
		if (i && ids[i] == ids[i - 1] + 1)
			step1++;
	}
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_TRUE(step1 < 10);
	char hex[17];
	log_trace_hex(0xabcULL, hex);
	CU_ASSERT_STRING_EQUAL(hex, "0000000000000abc");
	free(set);
	free(ids);
}

static void test_level_parse(void)
{
	CU_ASSERT_EQUAL(log_level_parse("error"), LOG_ERROR);
	CU_ASSERT_EQUAL(log_level_parse("debug"), LOG_DEBUG);
	CU_ASSERT_EQUAL(log_level_parse("trace"), -1);
	CU_ASSERT_EQUAL(log_level_parse(NULL), -1);
}

void unit_register_log(void)
{
	CU_pSuite s = CU_add_suite("log_json", NULL, NULL);
	CU_add_test(s, "fields in order", test_fields_and_order);
	CU_add_test(s, "escaping", test_escaping);
	CU_add_test(s, "invalid UTF-8 becomes U+FFFD", test_invalid_utf8);
	CU_add_test(s, "truncation stays valid JSON", test_truncation);
	CU_add_test(s, "user hash stable and keyed", test_user_hash);
	CU_add_test(s, "trace ids", test_trace_ids);
	CU_add_test(s, "level names", test_level_parse);
	s = CU_add_suite("log_file", setup_file, teardown_file);
	CU_add_test(s, "context, levels, scrub", test_context_and_levels);
	CU_add_test(s, "reopen after rotation", test_reopen);
	CU_add_test(s, "open and check", test_open_and_check);
}
