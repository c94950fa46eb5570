/* test_host_io.c — the host API's fd watches (core/host_io.c, ABI 1.4):
 * read and write readiness on a socketpair, changing and pausing the
 * interest set, removal from inside the callback, removal of all at unload,
 * bad arguments, and the node id. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "core_loop.h"
#include "host_api.h"
#include "host_io.h"
#include "unit.h"

struct fixture {
	struct core core;
	struct chatd_config cfg;
	struct chatd_plugin_handle h;
	int sv[2];
};

struct seen {
	int reads, writes;
	chatd_plugin_handle *remove_from; /* remove the watch on the first call */
	chatd_io_id id;
};

static void on_io(void *arg, int fd, unsigned events)
{
	(void)fd;
	struct seen *s = arg;
	if (events & CHATD_IO_READ)
		s->reads++;
	if (events & CHATD_IO_WRITE)
		s->writes++;
	if (s->remove_from)
		host_io_remove(s->remove_from, s->id);
}

static void fx_init(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	f->core.base = event_base_new();
	f->cfg.node_id = "node-7";
	f->core.cfg = &f->cfg;
	f->h.magic = HANDLE_MAGIC;
	f->h.core = &f->core;
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv), 0);
}

static void fx_fini(struct fixture *f)
{
	host_io_remove_all(&f->h);
	CU_ASSERT_PTR_NULL(f->h.ios);
	close(f->sv[0]);
	close(f->sv[1]);
	event_base_free(f->core.base);
}

static void loop_once(struct fixture *f)
{
	event_base_loop(f->core.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void test_read_write_and_set(void)
{
	struct fixture f;
	fx_init(&f);
	struct seen s = { 0 };
	chatd_io_id id = host_io_add(&f.h, f.sv[0], CHATD_IO_READ, on_io, &s);
	CU_ASSERT_NOT_EQUAL(id, 0);
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads, 0); /* nothing to read yet */
	CU_ASSERT_EQUAL(write(f.sv[1], "x", 1), 1);
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads, 1);
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads, 2); /* level-triggered: still unread */
	CU_ASSERT_EQUAL(s.writes, 0);

	CU_ASSERT_EQUAL(host_io_set(&f.h, id, CHATD_IO_WRITE), CHATD_OK);
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads, 2);
	CU_ASSERT_EQUAL(s.writes, 1);

	CU_ASSERT_EQUAL(host_io_set(&f.h, id, 0), CHATD_OK); /* paused */
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads + s.writes, 3);

	CU_ASSERT_EQUAL(host_io_set(&f.h, id, CHATD_IO_READ | CHATD_IO_WRITE), CHATD_OK);
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads, 3);
	CU_ASSERT_EQUAL(s.writes, 2);

	CU_ASSERT_EQUAL(host_io_set(&f.h, id + 100, CHATD_IO_READ), CHATD_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(host_io_set(&f.h, id, 8), CHATD_ERR_NOT_FOUND);
	fx_fini(&f);
}

static void test_remove_inside_callback(void)
{
	struct fixture f;
	fx_init(&f);
	struct seen s = { .remove_from = &f.h };
	s.id = host_io_add(&f.h, f.sv[0], CHATD_IO_READ | CHATD_IO_WRITE, on_io, &s);
	CU_ASSERT_NOT_EQUAL(s.id, 0);
	CU_ASSERT_EQUAL(write(f.sv[1], "x", 1), 1);
	loop_once(&f);
	/* Both events were ready; the first call removed the watch, so the
	 * second never ran. */
	CU_ASSERT_EQUAL(s.reads + s.writes, 1);
	CU_ASSERT_PTR_NULL(f.h.ios);
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads + s.writes, 1);
	fx_fini(&f);
}

static void test_bad_arguments_and_remove_all(void)
{
	struct fixture f;
	fx_init(&f);
	struct seen s = { 0 };
	CU_ASSERT_EQUAL(host_io_add(&f.h, -1, CHATD_IO_READ, on_io, &s), 0);
	CU_ASSERT_EQUAL(host_io_add(&f.h, f.sv[0], CHATD_IO_READ, NULL, &s), 0);
	CU_ASSERT_EQUAL(host_io_add(&f.h, f.sv[0], 4, on_io, &s), 0);
	chatd_io_id a = host_io_add(&f.h, f.sv[0], 0, on_io, &s);
	chatd_io_id b = host_io_add(&f.h, f.sv[1], CHATD_IO_WRITE, on_io, &s);
	CU_ASSERT(a && b && a != b);
	host_io_remove(&f.h, 999); /* unknown: nothing happens */
	host_io_remove_all(&f.h);
	loop_once(&f);
	CU_ASSERT_EQUAL(s.reads + s.writes, 0);
	CU_ASSERT_STRING_EQUAL(host_node_id(&f.h), "node-7");
	fx_fini(&f);
}

void unit_register_host_io(void)
{
	CU_pSuite s = CU_add_suite("host_io", NULL, NULL);
	CU_add_test(s, "read, write, set, pause", test_read_write_and_set);
	CU_add_test(s, "remove inside the callback", test_remove_inside_callback);
	CU_add_test(s, "bad arguments, remove all, node id", test_bad_arguments_and_remove_all);
}
