/* test_config.c — chatd.conf loading: sandbox, schema checks, error
 * collection with lines, plugin sections.
 *
 * The shipped sample is found through $CHATD_SRCDIR (the test runner sets it
 * to the source tree; out-of-tree builds need it), else the working
 * directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "config.h"

#define BASE \
	"plugins = { storage = \"sqlite\", presence = \"local\", bus = \"local\", fanout = \"online\" }\n" \
	"auth = { secret = \"0123456789abcdef\" }\n"

static int load(const char *text, struct chatd_config **cfg, struct cfg_errors *e)
{
	return cfg_load_string(text, strlen(text), "t.conf", cfg, e);
}

static bool has_err(const struct cfg_errors *e, const char *needle)
{
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->msgs[i], needle))
			return true;
	return false;
}

/* Set CHATD_TEST_VERBOSE to see the messages the loader produced. */
static void dump_errs(const struct cfg_errors *e)
{
	if (!getenv("CHATD_TEST_VERBOSE"))
		return;
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "  [config error] %s\n", e->msgs[i]);
}

/* Loads text expecting failure; the caller checks errs; frees nothing. */
static void expect_fail(const char *text, struct cfg_errors *e)
{
	struct chatd_config *cfg = (void *)1;
	CU_ASSERT_EQUAL(load(text, &cfg, e), CHATD_ERR_INVALID);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_TRUE(e->n > 0);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *read_sample(size_t *len)
{
	const char *dir = getenv("CHATD_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/chatd.conf.sample", dir && *dir ? dir : ".");
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

static void test_moderation_rules(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL_FATAL(load(BASE "moderation = { fail_mode = \"closed\", rules = {\n"
				   "  \"audit\",\n"
				   "  { name = \"ratelimit\", mode = \"observe\",\n"
				   "    options = { per_second = 2, words = { \"a\", \"b\" }, on = true } },\n"
				   "} }\n", &cfg, &e), CHATD_OK);
	dump_errs(&e);
	CU_ASSERT_STRING_EQUAL(cfg->mod_fail_mode, "closed");
	CU_ASSERT_EQUAL_FATAL(cfg->n_mod_rules, 2);
	CU_ASSERT_STRING_EQUAL(cfg->mod_rules[0].name, "audit");
	CU_ASSERT_EQUAL(cfg->mod_rules[0].mode, -1);
	CU_ASSERT_STRING_EQUAL(cfg->mod_rules[0].options_json, "{}");
	CU_ASSERT_STRING_EQUAL(cfg->mod_rules[1].name, "ratelimit");
	CU_ASSERT_EQUAL(cfg->mod_rules[1].mode, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(cfg->mod_rules[1].options_json, "\"per_second\":2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cfg->mod_rules[1].options_json, "\"words\":[\"a\",\"b\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cfg->mod_rules[1].options_json, "\"on\":true"));
	cfg_free(cfg);
	cfg_errors_clear(&e);

	/* Defaults: no rules, fail open. */
	cfg = NULL;
	CU_ASSERT_EQUAL_FATAL(load(BASE, &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg->n_mod_rules, 0);
	CU_ASSERT_STRING_EQUAL(cfg->mod_fail_mode, "open");
	cfg_free(cfg);

	/* Every bad entry is named. */
	expect_fail(BASE "moderation = { rules = {\n"
		    "  \"Bad Name\", { name = \"x\", mode = \"loud\" },\n"
		    "  { name = \"y\", options = { f = function() end } },\n"
		    "  { name = \"z\", colour = 1 }, \"audit\", \"audit\", 42,\n"
		    "  { name = \"w\", options = { 1, 2 } },\n"
		    "} }\n", &e);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules[1]: a rule name is"));
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules[2]: mode: expected"));
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules[3]: options: a value that is not"));
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules[4]: unknown key \"colour\""));
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules[6]: rule \"audit\" is listed twice"));
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules[7]: expected a rule name or a table"));
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules[8]: options: a list where"));
	cfg_errors_clear(&e);
	expect_fail(BASE "moderation = { rules = \"audit\", fail_mode = \"maybe\" }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "moderation.rules: expected a list of rules"));
	CU_ASSERT_TRUE(has_err(&e, "moderation.fail_mode"));
	cfg_errors_clear(&e);
}

static void test_admin_socket(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL_FATAL(load(BASE, &cfg, &e), CHATD_OK);
	CU_ASSERT_PTR_NULL(cfg->admin_socket);          /* default: TCP */
	CU_ASSERT_EQUAL(cfg->admin_socket_mode, 0660);
	cfg_free(cfg);
	cfg = NULL;
	CU_ASSERT_EQUAL_FATAL(load(BASE "admin = { socket = \"/run/c/a.sock\", socket_mode = "
				   "\"600\" }\n", &cfg, &e), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(cfg->admin_socket, "/run/c/a.sock");
	CU_ASSERT_EQUAL(cfg->admin_socket_mode, 0600);
	cfg_free(cfg);
	char long_path[160];
	memset(long_path, 'x', sizeof long_path);
	memcpy(long_path, "/tmp/", 5);
	long_path[108] = '\0';                          /* 108 bytes: one too many */
	char text[512];
	snprintf(text, sizeof text, BASE "admin = { socket = \"%s\" }\n", long_path);
	expect_fail(text, &e);
	CU_ASSERT_TRUE(has_err(&e, "admin.socket: a Unix socket path is at most 107 bytes"));
	cfg_errors_clear(&e);
	long_path[107] = '\0';
	snprintf(text, sizeof text, BASE "admin = { socket = \"%s\" }\n", long_path);
	cfg = NULL;
	CU_ASSERT_EQUAL(load(text, &cfg, &e), CHATD_OK);
	cfg_free(cfg);
	const char *bad[] = { "\"0888\"", "\"66\"", "\"10660\"", "\"1777\"", "\"\"", "660" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, BASE "admin = { socket_mode = %s }\n", bad[i]);
		expect_fail(text, &e);
		CU_ASSERT_TRUE(has_err(&e, "admin.socket_mode"));
		cfg_errors_clear(&e);
	}
}

/* TLS keys: both or neither, a known minimum version, no TLS on a Unix
 * socket.  The files themselves are checked by core/tls.c (27_tls). */
static void test_tls_keys(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL_FATAL(load(BASE, &cfg, &e), CHATD_OK);
	CU_ASSERT_PTR_NULL(cfg->tls_cert);
	CU_ASSERT_PTR_NULL(cfg->admin_tls_cert);
	CU_ASSERT_STRING_EQUAL(cfg->tls_min_version, "1.2");
	CU_ASSERT_STRING_EQUAL(cfg->admin_tls_min_version, "1.2");
	cfg_free(cfg);
	cfg = NULL;
	CU_ASSERT_EQUAL_FATAL(load(BASE "server = { tls_cert = \"/c.pem\", tls_key = \"/k.pem\",\n"
				   "  tls_min_version = \"1.3\" }\n"
				   "admin = { tls_cert = \"/a.pem\", tls_key = \"/b.pem\" }\n",
				   &cfg, &e), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(cfg->tls_cert, "/c.pem");
	CU_ASSERT_STRING_EQUAL(cfg->tls_key, "/k.pem");
	CU_ASSERT_STRING_EQUAL(cfg->tls_min_version, "1.3");
	CU_ASSERT_STRING_EQUAL(cfg->admin_tls_cert, "/a.pem");
	CU_ASSERT_STRING_EQUAL(cfg->admin_tls_key, "/b.pem");
	cfg_free(cfg);
	expect_fail(BASE "server = { tls_cert = \"/c.pem\" }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "server.tls_key: missing (server.tls_cert and server.tls_key "
			       "are set together)"));
	cfg_errors_clear(&e);
	expect_fail(BASE "admin = { tls_key = \"/k.pem\" }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "admin.tls_cert: missing"));
	cfg_errors_clear(&e);
	expect_fail(BASE "server = { tls_min_version = \"1.1\" }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "server.tls_min_version: unknown value (expected one of 1.2, "
			       "1.3)"));
	cfg_errors_clear(&e);
	expect_fail(BASE "admin = { socket = \"/tmp/a.sock\", tls_cert = \"/a\", "
		    "tls_key = \"/b\" }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "admin.tls_cert: not with admin.socket"));
	cfg_errors_clear(&e);
}

static void test_sample_loads(void)
{
	size_t len = 0;
	char *text = read_sample(&len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL(cfg_load_string(text, len, "chatd.conf.sample", &cfg, &e), CHATD_OK);
	dump_errs(&e);
	CU_ASSERT_EQUAL(e.n, 0);
	if (cfg) {
		CU_ASSERT_STRING_EQUAL(cfg->plugin_name[CHATD_KIND_STORAGE - 1], "sqlite");
		CU_ASSERT_STRING_EQUAL(cfg->plugin_name[CHATD_KIND_FANOUT - 1], "hybrid");
		CU_ASSERT_EQUAL(cfg->listen_port, 8080);
		CU_ASSERT_PTR_NOT_NULL(cfg->auth_secret);
		CU_ASSERT_EQUAL(cfg->n_mod_rules, 4);
		CU_ASSERT_TRUE(cfg->admin_enabled);
	}
	cfg_free(cfg);

	/* The commented storage_sqlite section is valid once uncommented. */
	char *with = malloc(len + 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(with);
	snprintf(with, len + 256, "%s\nstorage_sqlite = { path = \"chatd.db\", synchronous = "
		 "\"full\", batch_max = 256, busy_timeout_ms = 5000 }\n", text);
	cfg = NULL;
	CU_ASSERT_EQUAL(load(with, &cfg, &e), CHATD_OK);
	dump_errs(&e);
	if (cfg) {
		CU_ASSERT_EQUAL(cfg->n_sections, 1);
		const struct cfg_value *v = cfg_section_value(cfg, "storage_sqlite", "batch_max");
		CU_ASSERT_TRUE(v && v->type == CHATD_OPT_INT && v->num == 256);
		v = cfg_section_value(cfg, "storage_sqlite", "path");
		CU_ASSERT_TRUE(v && v->type == CHATD_OPT_STRING && strcmp(v->str, "chatd.db") == 0);
	}
	cfg_free(cfg);
	cfg_errors_clear(&e);
	free(with);
	free(text);
}

static void test_defaults(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL_FATAL(load(BASE, &cfg, &e), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(cfg->path, "t.conf");
	CU_ASSERT_STRING_EQUAL(cfg->node_id, "node-1");
	CU_ASSERT_PTR_NOT_NULL(cfg->plugin_dir);
	CU_ASSERT_STRING_EQUAL(cfg->listen_host, "127.0.0.1");
	CU_ASSERT_EQUAL(cfg->listen_port, 8080);
	CU_ASSERT_EQUAL(cfg->max_frame, 65536);
	CU_ASSERT_EQUAL(cfg->max_text, 4096);
	CU_ASSERT_EQUAL(cfg->outbound_queue_bytes, 4 << 20);
	CU_ASSERT_EQUAL(cfg->auth_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->ping_interval_s, 30);
	CU_ASSERT_EQUAL(cfg->idle_timeout_s, 75);
	CU_ASSERT_EQUAL(cfg->max_connections, 10000);
	CU_ASSERT_EQUAL(cfg->frame_rate, 100);
	CU_ASSERT_EQUAL(cfg->frame_burst, 400);
	CU_ASSERT_TRUE(cfg->web_enabled);
	CU_ASSERT_PTR_NOT_NULL(strstr(cfg->web_root, "/web"));
	CU_ASSERT_STRING_EQUAL(cfg->auth_algorithm, "HS256");
	CU_ASSERT_STRING_EQUAL(cfg->auth_secret, "0123456789abcdef");
	CU_ASSERT_PTR_NULL(cfg->auth_public_key_file);
	CU_ASSERT_EQUAL(cfg->auth_leeway_s, 0);
	CU_ASSERT_FALSE(cfg->auth_dev_login);
	CU_ASSERT_EQUAL(cfg->auth_dev_login_ttl_s, 900);
	CU_ASSERT_EQUAL(cfg->auth_default_ttl_s, 86400);
	CU_ASSERT_STRING_EQUAL(cfg->log_level, "info");
	CU_ASSERT_STRING_EQUAL(cfg->log_file, "");
	CU_ASSERT_STRING_EQUAL(cfg->log_user_hash_key, "");
	CU_ASSERT_STRING_EQUAL(cfg->plugin_name[CHATD_KIND_BUS - 1], "local");
	CU_ASSERT_PTR_NULL(cfg->plugin_name[CHATD_KIND_MEDIA - 1]);
	CU_ASSERT_EQUAL(cfg->n_sections, 0);
	cfg_free(cfg);
}

static void test_values_set(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	/* A float with an integral value is an integer; relative paths stay as
	 * written; field assignment after the table works too. */
	CU_ASSERT_EQUAL_FATAL(load(BASE "server = { port = 0, max_frame = 2048.0, max_text = 10 }\n"
				   "web = { root = \"web\", enabled = false }\nserver.host = \"::\"\n"
				   "auth.dev_login = true\nlog = { level = 'debug' }\n"
				   "local helper = 5\nnode_id = 'n' .. helper\n", &cfg, &e), CHATD_OK);
	dump_errs(&e);
	CU_ASSERT_EQUAL(cfg->listen_port, 0);
	CU_ASSERT_EQUAL(cfg->max_frame, 2048);
	CU_ASSERT_STRING_EQUAL(cfg->web_root, "web");
	CU_ASSERT_FALSE(cfg->web_enabled);
	CU_ASSERT_STRING_EQUAL(cfg->listen_host, "::");
	CU_ASSERT_TRUE(cfg->auth_dev_login);
	CU_ASSERT_STRING_EQUAL(cfg->log_level, "debug");
	CU_ASSERT_STRING_EQUAL(cfg->node_id, "n5");
	cfg_free(cfg);
}

static void test_unknown_key(void)
{
	struct cfg_errors e = { 0 };
	expect_fail(BASE "server = {\n  prot = 80,\n}\nfrobnicate = 1\n", &e);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:4: server.prot: unknown key"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:6: frobnicate: unknown key"));
	CU_ASSERT_EQUAL(e.n, 2);
	cfg_errors_clear(&e);
	/* Globals that are not strings or tables where tables belong. */
	expect_fail(BASE "log = 'debug'\nsrv = {}\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:3: log: expected a table, got a string"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:4: srv: unknown key"));
	cfg_errors_clear(&e);
}

static void test_wrong_type(void)
{
	struct cfg_errors e = { 0 };
	expect_fail(BASE "server = { port = \"80\" }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:3: server.port: expected an integer, got a string"));
	cfg_errors_clear(&e);
	expect_fail(BASE "server = { port = 80.5 }\nauth.dev_login = 1\nnode_id = {}\n", &e);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:3: server.port: expected an integer, got a number with a fraction"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:4: auth.dev_login: expected a boolean, got an integer"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:5: node_id: expected a string, got a table"));
	cfg_errors_clear(&e);
}

static void test_range(void)
{
	struct cfg_errors e = { 0 };
	expect_fail(BASE "server = { port = 70000, max_frame = 512 }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:3: server.port: 70000 is out of range (0..65535)"));
	CU_ASSERT_TRUE(has_err(&e, "server.max_frame: 512 is out of range"));
	cfg_errors_clear(&e);
	expect_fail(BASE "server = { max_frame = 2048, max_text = 4096 }\n"
		    "log = { level = 'loud' }\nnode_id = 'a b'\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "server.max_text: must not exceed server.max_frame"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:4: log.level: unknown value"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:5: node_id:"));
	cfg_errors_clear(&e);
}

static void test_multiple_errors(void)
{
	struct cfg_errors e = { 0 };
	expect_fail("plugins = { storage = 'sqlite', presence = 'local', bus = 'Local' }\n"
		    "server = {\n  port = 'x',\n  max_connections = 0,\n  colour = 'red',\n}\n"
		    "auth = { algorithm = 'RS256' }\n", &e);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:1: plugins.bus: plugin names are [a-z0-9]+"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:3: server.port: expected an integer"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:4: server.max_connections: 0 is out of range"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:5: server.colour: unknown key"));
	CU_ASSERT_TRUE(has_err(&e, "plugins.fanout: missing (required)"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:7: auth.public_key_file: missing (required for RS256)"));
	CU_ASSERT_EQUAL(e.n, 6);
	/* In file order. */
	if (e.n == 6) {
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msgs[0], "plugins.bus"));
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msgs[1], "server.port"));
	}
	cfg_errors_clear(&e);
}

static void test_missing_storage(void)
{
	struct cfg_errors e = { 0 };
	expect_fail("plugins = { presence = 'local', bus = 'local', fanout = 'online' }\n"
		    "auth = { secret = '0123456789abcdef' }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf: plugins.storage: missing (required)"));
	CU_ASSERT_EQUAL(e.n, 1);
	cfg_errors_clear(&e);
	expect_fail("", &e);
	CU_ASSERT_TRUE(has_err(&e, "plugins.storage: missing"));
	CU_ASSERT_TRUE(has_err(&e, "auth.secret: missing"));
	cfg_errors_clear(&e);
}

static void test_short_secret(void)
{
	struct cfg_errors e = { 0 };
	expect_fail("plugins = { storage = 'sqlite', presence = 'local', bus = 'local', fanout = 'online' }\n"
		    "auth = { secret = 'hunter2' }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:2: auth.secret: too short (7 bytes"));
	CU_ASSERT_FALSE(has_err(&e, "hunter2"));
	cfg_errors_clear(&e);
	/* RS256 needs no secret. */
	struct chatd_config *cfg = NULL;
	CU_ASSERT_EQUAL(load("plugins = { storage = 'sqlite', presence = 'local', bus = 'local', "
			     "fanout = 'online' }\nauth = { algorithm = 'ES256', public_key_file = "
			     "'k.pem' }\n", &cfg, &e), CHATD_OK);
	if (cfg)
		CU_ASSERT_STRING_EQUAL(cfg->auth_public_key_file, "k.pem");
	cfg_free(cfg);
	cfg_errors_clear(&e);
}

static void test_sandbox_surface(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	setenv("CHATD_TEST_NODE", "envnode", 1);
	CU_ASSERT_EQUAL(load(BASE "assert(io == nil and require == nil and load == nil)\n"
			     "assert(dofile == nil and loadfile == nil and collectgarbage == nil)\n"
			     "assert(string.dump == nil and os.execute == nil and debug == nil)\n"
			     "assert(setmetatable == nil and package == nil and print == nil)\n"
			     "assert(os.getenv('CHATD_NO_SUCH_VAR_X') == nil)\n"
			     "assert(string.rep('ab', 3) == 'ababab' and ('x'):rep(2) == 'xx')\n"
			     "assert(string.rep('', 1e18) == '' and math.max(1, 2) == 2)\n"
			     "node_id = os.getenv('CHATD_TEST_NODE')\n", &cfg, &e), CHATD_OK);
	dump_errs(&e);
	if (cfg)
		CU_ASSERT_STRING_EQUAL(cfg->node_id, "envnode");
	cfg_free(cfg);
	unsetenv("CHATD_TEST_NODE");
	/* Bytecode is refused outright. */
	expect_fail("\x1bLua\x54\x00", &e);
	CU_ASSERT_TRUE(has_err(&e, "binary chunk"));
	cfg_errors_clear(&e);
	/* A runtime error carries its line. */
	expect_fail(BASE "\nlocal x = nil\nx.y = 1\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:5: attempt to index"));
	cfg_errors_clear(&e);
}

static void expect_stopped(const char *text, const char *needle)
{
	struct cfg_errors e = { 0 };
	double t0 = now_s();
	expect_fail(text, &e);
	double dt = now_s() - t0;
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, needle));
	CU_ASSERT_TRUE(dt < 2.0);
	cfg_errors_clear(&e);
}

static void test_budgets(void)
{
	expect_stopped("while true do end", "t.conf:1: script stopped: instruction budget");
	expect_stopped("\nwhile true do pcall(function() while true do end end) end",
		       "script stopped: instruction budget");
	expect_stopped("local function f() return f() end\nf()", "script stopped");
	expect_stopped("x = string.rep('x', 1e9)", "memory limit");
	expect_stopped("x = ('x'):rep(1e6):rep(1e3, ',')", "memory limit");
	expect_stopped("local t = {}\nfor i = 1, 1e9 do t[i] = i end", "memory limit");
	/* Memory or the clock, whichever runs out first (ASan is slower). */
	expect_stopped("local t = {}\nwhile true do t[#t + 1] = ('x'):rep(64) .. #t end",
		       "script stopped");
	expect_stopped("local t = {}\nfor i = 1, 2e5 do t[i] = -i end\n"
		       "while true do table.sort(t) end", "script stopped");
	/* A caught memory error does not stop the script, and that is fine. */
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL(load(BASE "local ok = pcall(string.rep, 'x', 1e8)\nassert(not ok)\n",
			     &cfg, &e), CHATD_OK);
	dump_errs(&e);
	cfg_free(cfg);
}

static void test_syntax_error(void)
{
	struct cfg_errors e = { 0 };
	expect_fail("server = {\n  port = 80\n  host = 'x'\n}\n", &e);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:3: '}' expected (to close '{' at line 1)"));
	CU_ASSERT_EQUAL(e.n, 1);
	cfg_errors_clear(&e);
	/* Embedded NULs and a missing file. */
	struct chatd_config *cfg = NULL;
	CU_ASSERT_EQUAL(cfg_load_string("x = 1\0y", 7, NULL, &cfg, &e), CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(e.n > 0 && strncmp(e.msgs[0], "<string>:1:", 11) == 0);
	cfg_errors_clear(&e);
	CU_ASSERT_EQUAL(cfg_load_file("/nonexistent/chatd.conf", &cfg, &e), CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(has_err(&e, "/nonexistent/chatd.conf: cannot open"));
	cfg_errors_clear(&e);
	CU_ASSERT_EQUAL(cfg_load_string(NULL, 0, NULL, NULL, NULL), CHATD_ERR_INVALID);
}

static const struct chatd_option test_schema[] = {
	{ "path", CHATD_OPT_STRING, "chatd.db", 0, -1, false, false, "database file" },
	{ "batch_max", CHATD_OPT_INT, "256", 1, 4096, false, false, "writes per txn" },
	{ "wal", CHATD_OPT_BOOL, "true", 0, -1, false, false, "WAL mode" },
	{ "offset", CHATD_OPT_INT, "-5", 1, 0, false, false, "unbounded" },
	{ "password", CHATD_OPT_STRING, NULL, 0, -1, false, true, "secret" },
	{ "pin", CHATD_OPT_INT, NULL, 0, 9999, false, true, "secret number" },
	{ "dsn", CHATD_OPT_STRING, NULL, 0, -1, true, false, "required" },
	{ NULL, 0, NULL, 0, 0, false, false, NULL },
};

static void test_plugin_section(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL_FATAL(load(BASE "storage_sqlite = {\n  dsn = 'x',\n  batch_max = 8,\n"
				   "  password = 'sesame',\n}\n", &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg_check_plugin_section(cfg, "storage_sqlite", test_schema, &e), CHATD_OK);
	dump_errs(&e);
	const struct cfg_value *v = cfg_section_value(cfg, "storage_sqlite", "batch_max");
	CU_ASSERT_TRUE(v && v->num == 8 && v->line == 5);
	v = cfg_section_value(cfg, "storage_sqlite", "path");
	CU_ASSERT_TRUE(v && v->type == CHATD_OPT_STRING && strcmp(v->str, "chatd.db") == 0);
	v = cfg_section_value(cfg, "storage_sqlite", "wal");
	CU_ASSERT_TRUE(v && v->type == CHATD_OPT_BOOL && v->flag);
	v = cfg_section_value(cfg, "storage_sqlite", "offset");
	CU_ASSERT_TRUE(v && v->num == -5);
	CU_ASSERT_PTR_NULL(cfg_section_value(cfg, "storage_sqlite", "pin"));
	/* Idempotent. */
	CU_ASSERT_EQUAL(cfg_check_plugin_section(cfg, "storage_sqlite", test_schema, &e), CHATD_OK);
	/* An absent section is empty: required keys are missing. */
	CU_ASSERT_EQUAL(cfg_check_plugin_section(cfg, "presence_local", test_schema, &e),
			CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(has_err(&e, "t.conf: presence_local.dsn: missing (required)"));
	CU_ASSERT_PTR_NOT_NULL(cfg_section_value(cfg, "presence_local", "batch_max"));
	cfg_errors_clear(&e);
	/* No schema: everything is unknown. */
	CU_ASSERT_EQUAL(cfg_check_plugin_section(cfg, "storage_sqlite", NULL, &e), CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(has_err(&e, "storage_sqlite.dsn: unknown key"));
	cfg_errors_clear(&e);
	cfg_free(cfg);

	CU_ASSERT_EQUAL_FATAL(load(BASE "storage_sqlite = {\n  colour = 'red',\n  batch_max = 'many',\n"
				   "  wal = 'yes', path = 5,\n  password = 1, pin = 12345,\n"
				   "  offset = 1e15,\n}\n", &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg_check_plugin_section(cfg, "storage_sqlite", test_schema, &e),
			CHATD_ERR_INVALID);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:4: storage_sqlite.colour: unknown key"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:5: storage_sqlite.batch_max: expected an integer, got a string"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:6: storage_sqlite.wal: expected a boolean, got a string"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:6: storage_sqlite.path: expected a string, got an integer"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:7: storage_sqlite.password: expected a string"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:7: storage_sqlite.pin: out of range (0..9999)"));
	CU_ASSERT_FALSE(has_err(&e, "12345"));
	CU_ASSERT_TRUE(has_err(&e, "storage_sqlite.dsn: missing (required)"));
	CU_ASSERT_EQUAL(e.n, 7);
	cfg_errors_clear(&e);
	cfg_free(cfg);

	/* A plugin whose default does not parse is reported, not trusted. */
	static const struct chatd_option bad_def[] = {
		{ "n", CHATD_OPT_INT, "12abc", 0, 100, false, false, NULL },
		{ NULL, 0, NULL, 0, 0, false, false, NULL },
	};
	CU_ASSERT_EQUAL_FATAL(load(BASE, &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg_check_plugin_section(cfg, "bus_local", bad_def, &e), CHATD_ERR_INVALID);
	CU_ASSERT_TRUE(has_err(&e, "bus_local.n: the plugin's default does not parse"));
	cfg_errors_clear(&e);
	cfg_free(cfg);
}

static void test_section_not_enabled(void)
{
	struct cfg_errors e = { 0 };
	expect_fail(BASE "storage_pg = { dsn = 'x' }\nmedia_s3 = {}\nstorage_sqlite = 5\n", &e);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "t.conf:3: storage_pg: section for a plugin not enabled "
			       "(plugins.storage = \"sqlite\")"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:4: media_s3: section for a plugin not enabled "
			       "(plugins.media is not set)"));
	CU_ASSERT_TRUE(has_err(&e, "t.conf:5: storage_sqlite: a plugin section must be a table"));
	cfg_errors_clear(&e);
	expect_fail(BASE "storage_sqlite = { nested = {}, [1] = 2 }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "storage_sqlite: has a number key"));
	cfg_errors_clear(&e);
}

static void test_kind_names(void)
{
	CU_ASSERT_STRING_EQUAL(cfg_kind_name(CHATD_KIND_STORAGE), "storage");
	CU_ASSERT_STRING_EQUAL(cfg_kind_name(CHATD_KIND_RECEIPTS), "receipts");
	CU_ASSERT_EQUAL(cfg_kind_from_name("fanout"), CHATD_KIND_FANOUT);
	CU_ASSERT_EQUAL(cfg_kind_from_name("media"), CHATD_KIND_MEDIA);
	CU_ASSERT_EQUAL(cfg_kind_from_name("nope"), 0);
	CU_ASSERT_EQUAL(cfg_kind_from_name(NULL), 0);
	cfg_free(NULL);
	cfg_errors_clear(NULL);
}

/* conversations and retention: defaults, values, choices and ranges. */
static void test_groups_retention(void)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors e = { 0 };
	CU_ASSERT_EQUAL_FATAL(load(BASE, &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg->conv_max_members, 10000);
	CU_ASSERT_STRING_EQUAL(cfg->conv_new_member_history, "all");
	CU_ASSERT_EQUAL(cfg->retention_purge_after_s, 2592000);
	CU_ASSERT_EQUAL(cfg->retention_interval_s, 3600);
	cfg_free(cfg);
	cfg = NULL;
	CU_ASSERT_EQUAL_FATAL(load(BASE "conversations = { max_members = 50, "
				   "new_member_history = \"join\" }\n"
				   "retention = { purge_deleted_after_s = 0, interval_s = 1 }\n",
				   &cfg, &e), CHATD_OK);
	CU_ASSERT_EQUAL(cfg->conv_max_members, 50);
	CU_ASSERT_STRING_EQUAL(cfg->conv_new_member_history, "join");
	CU_ASSERT_EQUAL(cfg->retention_purge_after_s, 0);
	CU_ASSERT_EQUAL(cfg->retention_interval_s, 1);
	cfg_free(cfg);
	expect_fail(BASE "conversations = { new_member_history = \"some\" }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "conversations.new_member_history"));
	cfg_errors_clear(&e);
	expect_fail(BASE "conversations = { max_members = 1 }\n", &e);
	CU_ASSERT_TRUE(has_err(&e, "conversations.max_members"));
	cfg_errors_clear(&e);
	expect_fail(BASE "retention = { interval_s = 0, every = 3 }\n", &e);
	dump_errs(&e);
	CU_ASSERT_TRUE(has_err(&e, "retention.interval_s"));
	CU_ASSERT_TRUE(has_err(&e, "retention.every"));
	cfg_errors_clear(&e);
}

void unit_register_config(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "sample config loads", test_sample_loads);
	CU_add_test(s, "moderation.rules", test_moderation_rules);
	CU_add_test(s, "defaults filled", test_defaults);
	CU_add_test(s, "values set", test_values_set);
	CU_add_test(s, "unknown key named", test_unknown_key);
	CU_add_test(s, "wrong type named", test_wrong_type);
	CU_add_test(s, "range errors", test_range);
	CU_add_test(s, "all errors reported", test_multiple_errors);
	CU_add_test(s, "missing plugins.storage", test_missing_storage);
	CU_add_test(s, "HS256 short secret refused", test_short_secret);
	CU_add_test(s, "sandbox surface", test_sandbox_surface);
	CU_add_test(s, "cpu and memory budgets", test_budgets);
	CU_add_test(s, "syntax error has a line", test_syntax_error);
	CU_add_test(s, "plugin section checks", test_plugin_section);
	CU_add_test(s, "section for a plugin not enabled", test_section_not_enabled);
	CU_add_test(s, "kind names", test_kind_names);
	CU_add_test(s, "conversations and retention", test_groups_retention);
	CU_add_test(s, "admin socket and its mode", test_admin_socket);
	CU_add_test(s, "TLS keys", test_tls_keys);
}
