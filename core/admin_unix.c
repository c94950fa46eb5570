/* admin_unix.c — the admin API on a Unix socket (admin.socket): who may
 * connect is decided by the socket file's permissions (admin.socket_mode)
 * before any token is looked at.
 *
 * A socket file left by a process that died is replaced; one another
 * process still answers on, or any other kind of file, is refused, so two
 * servers never steal each other's socket.  Clean shutdown removes the file
 * if it is still the one made here. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/listener.h>

/* sun_path filled from path; false when it does not fit (with its NUL). */
static bool sockaddr_of(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof sa->sun_path)
		return false;
	memcpy(sa->sun_path, path, n + 1);
	return true;
}

/* What is at path now: 0 nothing (or a stale socket, removed), -1 a
 * reason to refuse (err set). */
static int clear_path(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "admin.socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "admin.socket %s exists and is not a socket; remove it or "
			 "choose another path", path);
		return -1;
	}
	/* Someone listening accepts (or, with a full backlog, says EAGAIN);
	 * a socket file nobody listens on refuses. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "admin.socket: socket(): %s", strerror(errno));
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	int e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
		snprintf(err, errlen, "admin.socket %s: another process is serving on it (is chatd "
			 "already running?)", path);
		return -1;
	}
	if (e != ECONNREFUSED && e != ENOENT) {
		snprintf(err, errlen, "admin.socket %s: cannot tell whether a process serves on it: "
			 "%s", path, strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "admin.socket %s: cannot remove the stale socket: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int admin_unix_bind(struct admin *a, const char *path, int mode, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	if (!sockaddr_of(path, &sa)) {
		snprintf(err, errlen, "admin.socket: a path of 1 to %zu bytes",
			 sizeof sa.sun_path - 1);
		return -1;
	}
	if (clear_path(path, &sa, err, errlen) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "admin.socket: socket(): %s", strerror(errno));
		return -1;
	}
	struct stat st;
	/* The mode is set between bind and listen: until listen, a connect is
	 * refused, so nobody gets in under the umask's permissions. */
	const char *step = "bind";
	if (bind(fd, (const struct sockaddr *)&sa, sizeof sa) < 0)
		goto fail;
	step = "chmod";
	if (chmod(path, (mode_t)mode) < 0)
		goto fail_unlink;
	step = "stat";
	if (lstat(path, &st) < 0)
		goto fail_unlink;
	step = "listen";
	if (listen(fd, 64) < 0)
		goto fail_unlink;
	struct evconnlistener *l = evconnlistener_new(a->c->base, NULL, NULL,
						      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
						      0, fd);
	if (!l) {
		errno = ENOMEM;
		step = "evconnlistener_new";
		goto fail_unlink;
	}
	if (!evhttp_bind_listener(a->http, l)) {
		evconnlistener_free(l);     /* closes fd */
		unlink(path);
		snprintf(err, errlen, "admin.socket %s: evhttp_bind_listener failed", path);
		return -1;
	}
	a->sock_path = strdup(path);
	if (!a->sock_path) {
		/* the listener is the evhttp's now; admin_free tidies up */
		unlink(path);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->sock_dev = st.st_dev;
	a->sock_ino = st.st_ino;
	return 0;
fail_unlink: {
		int e = errno;
		unlink(path);
		errno = e;
	}
fail:
	snprintf(err, errlen, "admin.socket %s: %s: %s", path, step, strerror(errno));
	close(fd);
	return -1;
}

void admin_unix_unlink(struct admin *a)
{
	if (!a->sock_path)
		return;
	struct stat st;
	/* Only our own socket: never a file someone put there since. */
	if (lstat(a->sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == a->sock_dev &&
	    st.st_ino == a->sock_ino)
		unlink(a->sock_path);
	free(a->sock_path);
	a->sock_path = NULL;
}
