/* test_redis_plugins.c — presence_redis and bus_redis against a real,
 * throwaway redis-server (started here on a free loopback port, nothing
 * saved).  Without redis-server on PATH the suite is registered inactive
 * (the Run Summary's "Inactive" column says so; nothing reports it as
 * passed); one that does not start fails the suite.  The
 * plugins are the built shared objects, loaded with dlopen. */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>
#include "chatd/chatd.h"
#include "stub_host.h"
#include "unit.h"

static pid_t redis_pid;
static int redis_port;
static char port_text[16];
static redisContext *rc;      /* a plain connection to look at the keys */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int suite_init(void)
{
	redis_port = free_port();
	if (redis_port < 0)
		return 1;
	snprintf(port_text, sizeof port_text, "%d", redis_port);
	redis_pid = fork();
	if (redis_pid == 0) {
		int devnull = open("/dev/null", 1);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--dir", "/tmp", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && redis_pid > 0; i++) {
		struct timeval tv = { 0, 200000 };
		rc = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
		if (rc && !rc->err)
			return 0;
		if (rc)
			redisFree(rc);
		rc = NULL;
		int st;
		if (waitpid(redis_pid, &st, WNOHANG) == redis_pid) {
			redis_pid = 0;
			break;
		}
		usleep(50000);
	}
	fprintf(stderr, "redis_plugins: redis-server did not start on port %d\n", redis_port);
	return 1; /* a suite init failure: counted as failed */
}

static int suite_clean(void)
{
	if (rc)
		redisFree(rc);
	rc = NULL;
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	redis_pid = 0;
	return 0;
}

/* The built plugin: beside this binary's build tree. */
static const struct chatd_plugin *load(const char *name, void **dl)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	const char *build = getenv("CHATD_BUILD_DIR");
	for (int up = 0; up < 2 && !build; up++) {
		/* BUILD/tests/unit/test_all or BUILD/tests/unit/.libs/test_all */
		char *s = strstr(exe, "/tests/unit/");
		if (s) {
			*s = '\0';
			build = exe;
		}
	}
	if (!build)
		return NULL;
	snprintf(path, sizeof path, "%s/plugins/%s/.libs/%s.so", build, name, name);
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl)
		return NULL;
	const struct chatd_plugin *(*describe)(void) =
		(const struct chatd_plugin *(*)(void))dlsym(*dl, "chatd_plugin_describe");
	return describe ? describe() : NULL;
}

static void *start(const struct chatd_plugin *p)
{
	const char *kv[] = { "host", "127.0.0.1", "port", port_text, "prefix", "unit:", NULL };
	if (stub_host_setup(kv) != 0)
		return NULL;
	stub_host_set_schema(p->options);
	void *inst = NULL;
	if (p->init(stub_host(), stub_handle(), &inst) != CHATD_OK)
		return NULL;
	return inst;
}

/* Loads the built plugin `name` and starts it against the suite's Redis;
 * a failure ends the test. */
static void *load_and_start(const char *name, void **dl, const struct chatd_plugin **p)
{
	*p = load(name, dl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*p);
	void *inst = start(*p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(inst);
	return inst;
}

static long long r_int(const char *fmt, const char *arg)
{
	redisReply *r = redisCommand(rc, fmt, arg);
	long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
	if (r)
		freeReplyObject(r);
	return v;
}

/* ---- bus_redis: counters_add ---- */

struct ctr_result {
	int calls, status;
	int64_t totals[4];
	size_t n;
};

static void on_totals(void *arg, int status, const int64_t *totals, size_t n)
{
	struct ctr_result *r = arg;
	r->calls++;
	r->status = status;
	r->n = n;
	for (size_t i = 0; i < n && i < 4; i++)
		r->totals[i] = totals[i];
}

static bool got_call(void *arg)
{
	return ((struct ctr_result *)arg)->calls > 0;
}

static bool bus_up(void *arg)
{
	(void)arg;
	return stub_metric("published_total") >= 0 && stub_log_count("redis.connected") >= 2;
}

static int add(const struct chatd_bus_ops *ops, void *inst, const char *const *keys,
	       const int64_t *d, const int64_t *ttl, size_t n, struct ctr_result *out)
{
	memset(out, 0, sizeof *out);
	int st = ops->counters_add(inst, keys, d, ttl, n, on_totals, out);
	if (st != CHATD_OK)
		return st;
	CU_ASSERT_EQUAL(out->calls, 0); /* never inside the call */
	CU_ASSERT(stub_run_until(got_call, out, 3000));
	return CHATD_OK;
}

static void test_counters_add(void)
{
	void *dl = NULL;
	const struct chatd_plugin *p = NULL;
	void *inst = load_and_start("bus_redis", &dl, &p);
	const struct chatd_bus_ops *ops = p->ops;
	CU_ASSERT(stub_run_until(bus_up, NULL, 3000));

	const char *keys[] = { "rate:alice", "count:bob" };
	int64_t d1[] = { 2, 5 }, ttl[] = { 300, 0 };
	struct ctr_result r;
	CU_ASSERT_EQUAL(add(ops, inst, keys, d1, ttl, 2, &r), CHATD_OK);
	CU_ASSERT_EQUAL(r.status, CHATD_OK);
	CU_ASSERT_EQUAL(r.n, 2);
	CU_ASSERT_EQUAL(r.totals[0], 2);
	CU_ASSERT_EQUAL(r.totals[1], 5);
	long long pttl = r_int("PTTL %s", "unit:ctr:rate:alice");
	CU_ASSERT(pttl > 0 && pttl <= 300);
	CU_ASSERT_EQUAL(r_int("PTTL %s", "unit:ctr:count:bob"), -1); /* ttl 0: none */
	/* 150 ms later: adds, and the lifetime is not extended */
	stub_run_until(NULL, NULL, 150);
	int64_t d2[] = { 3, -1 };
	CU_ASSERT_EQUAL(add(ops, inst, keys, d2, ttl, 2, &r), CHATD_OK);
	CU_ASSERT_EQUAL(r.totals[0], 5);
	CU_ASSERT_EQUAL(r.totals[1], 4);
	pttl = r_int("PTTL %s", "unit:ctr:rate:alice");
	CU_ASSERT(pttl > 0 && pttl <= 160);
	/* past the lifetime: a new counter */
	stub_run_until(NULL, NULL, 250);
	CU_ASSERT_EQUAL(add(ops, inst, keys, d2, ttl, 1, &r), CHATD_OK);
	CU_ASSERT_EQUAL(r.n, 1);
	CU_ASSERT_EQUAL(r.totals[0], 3);
	/* refusals, without a callback */
	CU_ASSERT_EQUAL(ops->counters_add(inst, keys, d1, ttl, 0, on_totals, &r),
			CHATD_ERR_INVALID);
	p->fini(inst);
	stub_host_teardown();
	dlclose(dl);
}

/* ---- bus_redis: topics ---- */

struct seen {
	char log[512];
	int n;
};

static void on_bus(void *arg, const char *topic, const char *payload, size_t len)
{
	struct seen *s = arg;
	size_t used = strlen(s->log);
	snprintf(s->log + used, sizeof s->log - used, "%s=%.*s;", topic, (int)len, payload);
	s->n++;
}

static bool seen3(void *arg)
{
	return ((struct seen *)arg)->n >= 3;
}

static void test_bus_topics(void)
{
	void *dl = NULL;
	const struct chatd_plugin *p = NULL;
	void *inst = load_and_start("bus_redis", &dl, &p);
	const struct chatd_bus_ops *ops = p->ops;
	struct seen s = { .n = 0 };
	CU_ASSERT_EQUAL(ops->subscribe(inst, "node.unit-node", on_bus, &s), CHATD_OK);
	CU_ASSERT_EQUAL(ops->subscribe(inst, "cluster.x", on_bus, &s), CHATD_OK);
	CU_ASSERT(stub_run_until(bus_up, NULL, 3000));
	stub_run_until(NULL, NULL, 100); /* the SUBSCRIBEs are answered */
	redisReply *del = redisCommand(rc, "DEL unit:events");
	freeReplyObject(del);
	CU_ASSERT_EQUAL(ops->publish(inst, "node.unit-node", "a\0b", 3), CHATD_OK);
	CU_ASSERT_EQUAL(ops->publish(inst, "node.other", "no", 2), CHATD_OK);
	CU_ASSERT_EQUAL(ops->publish(inst, "cluster.x", "c", 1), CHATD_OK);
	CU_ASSERT_EQUAL(ops->publish(inst, "message.created", "{\"seq\":1}", 9), CHATD_OK);
	CU_ASSERT_EQUAL(ops->publish(inst, "node.unit-node", "d", 1), CHATD_OK);
	CU_ASSERT_EQUAL(s.n, 0); /* never inside publish */
	CU_ASSERT(stub_run_until(seen3, &s, 3000));
	stub_run_until(NULL, NULL, 100);
	CU_ASSERT_EQUAL(s.n, 3);
	/* in order; binary payloads intact (the NUL ends %.*s early here) */
	CU_ASSERT_STRING_EQUAL(s.log, "node.unit-node=a;cluster.x=c;node.unit-node=d;");
	CU_ASSERT_EQUAL(r_int("XLEN %s", "unit:events"), 1);
	p->fini(inst);
	stub_host_teardown();
	dlclose(dl);
}

/* ---- presence_redis: session_up_ready and locate ---- */

struct loc_result {
	int calls, status, ready;
	char nodes[2][64];
	size_t n_nodes[2];
};

static void on_ready(void *arg, const char *user, int status)
{
	(void)user;
	struct loc_result *r = arg;
	r->ready = status == CHATD_OK ? 1 : -1;
}

static bool ready(void *arg)
{
	return ((struct loc_result *)arg)->ready != 0;
}

static void on_loc(void *arg, int status, const struct chatd_presence_loc *locs, size_t n)
{
	struct loc_result *r = arg;
	r->calls++;
	r->status = status;
	for (size_t i = 0; i < n && i < 2; i++) {
		r->n_nodes[i] = locs[i].n_nodes;
		if (locs[i].n_nodes)
			snprintf(r->nodes[i], sizeof r->nodes[i], "%s", locs[i].nodes[0]);
	}
}

static bool located(void *arg)
{
	return ((struct loc_result *)arg)->calls > 0;
}

static void test_presence_locate(void)
{
	void *dl = NULL;
	const struct chatd_plugin *p = NULL;
	void *inst = load_and_start("presence_redis", &dl, &p);
	const struct chatd_presence_ops *ops = p->ops;
	CU_ASSERT(stub_run_until(bus_up, NULL, 3000));
	struct loc_result r = { 0 };
	CU_ASSERT_EQUAL(ops->session_up_ready(inst, "alice", 1, on_ready, &r), CHATD_OK);
	CU_ASSERT(stub_run_until(ready, &r, 3000));
	CU_ASSERT_EQUAL(r.ready, 1);
	const char *users[] = { "alice", "bob" };
	CU_ASSERT_EQUAL(ops->locate(inst, users, 2, on_loc, &r), CHATD_OK);
	CU_ASSERT_EQUAL(r.calls, 0);
	CU_ASSERT(stub_run_until(located, &r, 3000));
	CU_ASSERT_EQUAL(r.status, CHATD_OK);
	CU_ASSERT_EQUAL(r.n_nodes[0], 1);
	CU_ASSERT_STRING_EQUAL(r.nodes[0], "unit-node");
	CU_ASSERT_EQUAL(r.n_nodes[1], 0);
	CU_ASSERT_EQUAL(ops->locate(inst, users, 0, on_loc, &r), CHATD_ERR_INVALID);
	/* fini leaves presence at once */
	p->fini(inst);
	CU_ASSERT_EQUAL(r_int("ZCARD %s", "unit:pu:alice"), 0);
	stub_host_teardown();
	dlclose(dl);
}

/* A hung Redis (SIGSTOP): the watchdog fails the call after timeout_ms
 * and the connection comes back once Redis answers again. */
static void test_presence_hung_redis(void)
{
	void *dl = NULL;
	const struct chatd_plugin *p = NULL;
	void *inst = load_and_start("presence_redis", &dl, &p);
	const struct chatd_presence_ops *ops = p->ops;
	CU_ASSERT(stub_run_until(bus_up, NULL, 3000));
	stub_host_quiet(true);
	const char *users[] = { "alice" };
	struct loc_result r = { 0 };
	kill(redis_pid, SIGSTOP);
	CU_ASSERT_EQUAL(ops->locate(inst, users, 1, on_loc, &r), CHATD_OK);
	/* timeout_ms defaults to 1000; the watchdog looks every 100 ms */
	CU_ASSERT(stub_run_until(located, &r, 2500));
	CU_ASSERT_EQUAL(r.calls, 1);
	CU_ASSERT_NOT_EQUAL(r.status, CHATD_OK);
	CU_ASSERT(stub_log_count("redis.timeout") >= 1);
	/* refused at once while reconnecting */
	kill(redis_pid, SIGCONT);
	int connected = stub_log_count("redis.connected");
	for (int i = 0; i < 60 && stub_log_count("redis.connected") == connected; i++)
		stub_run_until(NULL, NULL, 100);
	CU_ASSERT(stub_log_count("redis.connected") > connected);
	memset(&r, 0, sizeof r);
	CU_ASSERT_EQUAL(ops->locate(inst, users, 1, on_loc, &r), CHATD_OK);
	CU_ASSERT(stub_run_until(located, &r, 3000));
	CU_ASSERT_EQUAL(r.status, CHATD_OK);
	p->fini(inst);
	stub_host_teardown();
	dlclose(dl);
}

static bool refused(void *arg)
{
	(void)arg;
	return stub_log_count("redis.refused") >= 1;
}

/* requirepass: with the password the plugin works, without it the
 * connection is refused (logged) and retried. */
static void test_bus_password(void)
{
	redisReply *x = redisCommand(rc, "CONFIG SET requirepass s3cret");
	CU_ASSERT(x && x->type == REDIS_REPLY_STATUS);
	freeReplyObject(x);
	x = redisCommand(rc, "AUTH s3cret");
	freeReplyObject(x);
	/* without: refused */
	void *dl = NULL;
	const struct chatd_plugin *p = NULL;
	void *inst = load_and_start("bus_redis", &dl, &p);
	stub_host_quiet(true);
	CU_ASSERT(stub_run_until(refused, NULL, 3000));
	const char *keys[] = { "pw" };
	int64_t d[] = { 1 }, ttl[] = { 1000 };
	struct ctr_result r;
	CU_ASSERT_EQUAL(add(p->ops, inst, keys, d, ttl, 1, &r), CHATD_ERR_UNAVAILABLE);
	p->fini(inst);
	stub_host_teardown();
	/* with */
	const char *kv[] = { "host", "127.0.0.1", "port", port_text, "prefix", "unit:",
			     "password", "s3cret", NULL };
	CU_ASSERT_EQUAL_FATAL(stub_host_setup(kv), 0);
	stub_host_set_schema(p->options);
	CU_ASSERT_EQUAL_FATAL(p->init(stub_host(), stub_handle(), &inst), CHATD_OK);
	CU_ASSERT(stub_run_until(bus_up, NULL, 3000));
	CU_ASSERT_EQUAL(add(p->ops, inst, keys, d, ttl, 1, &r), CHATD_OK);
	CU_ASSERT_EQUAL(r.status, CHATD_OK);
	CU_ASSERT_EQUAL(r.totals[0], 1);
	p->fini(inst);
	stub_host_teardown();
	dlclose(dl);
	x = redisCommand(rc, "CONFIG SET requirepass %s", "");
	freeReplyObject(x);
}

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX], file[PATH_MAX + 64];
	while (path && *path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && n < sizeof dir) {
			memcpy(dir, path, n);
			dir[n] = '\0';
			snprintf(file, sizeof file, "%s/%s", dir, prog);
			if (access(file, X_OK) == 0)
				return true;
		}
		path += n + (path[n] == ':');
	}
	return false;
}

void unit_register_redis_plugins(void)
{
	CU_pSuite s = CU_add_suite("redis_plugins", suite_init, suite_clean);
	if (s && !on_path("redis-server")) {
		fprintf(stderr, "redis_plugins: redis-server not installed: suite inactive, not run\n");
		CU_set_suite_active(s, CU_FALSE);
	}
	CU_add_test(s, "bus_redis counters_add: totals, lifetime not extended", test_counters_add);
	CU_add_test(s, "bus_redis topics: node, cluster, events stream", test_bus_topics);
	CU_add_test(s, "presence_redis session_up_ready, locate, leave", test_presence_locate);
	CU_add_test(s, "bus_redis: requirepass, with and without the password", test_bus_password);
	CU_add_test(s, "presence_redis: a hung Redis times out, then recovers",
		    test_presence_hung_redis);
}
