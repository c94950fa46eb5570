/* cb_proc.c — /proc and getrusage sampling (see cb_proc.h). */
#include "cb_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

int cb_proc_parse_stat(const char *text, uint64_t *ut, uint64_t *st)
{
	const char *p = strrchr(text, ')');
	if (!p)
		return -1;
	p++;
	/* after ')' come field 3 (state) onwards; utime is field 14 */
	for (int field = 3; field <= 15; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -1;
		if (field == 14 || field == 15) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(p, &end, 10);
			if (end == p || errno)
				return -1;
			if (field == 14)
				*ut = v;
			else
				*st = v;
			p = end;
		} else {
			while (*p && *p != ' ')
				p++;
		}
	}
	return 0;
}

int cb_proc_parse_status_kb(const char *text, const char *key, uint64_t *bytes)
{
	size_t kl = strlen(key);
	const char *p = text;
	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			char *end;
			unsigned long long v = strtoull(p + kl + 1, &end, 10);
			if (end == p + kl + 1)
				return -1;
			*bytes = (uint64_t)v * 1024;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

int cb_proc_sample(pid_t pid, struct cb_proc_sample *out)
{
	char path[64], buf[4096];
	memset(out, 0, sizeof *out);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	uint64_t ut = 0, st = 0;
	if (cb_proc_parse_stat(buf, &ut, &st) < 0) {
		errno = EINVAL;
		return -1;
	}
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	out->cpu_ns = (ut + st) * (1000000000ULL / (uint64_t)hz);
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	if (cb_proc_parse_status_kb(buf, "VmRSS", &out->rss_bytes) < 0)
		out->rss_bytes = 0;   /* a zombie has no VmRSS */
	if (cb_proc_parse_status_kb(buf, "VmHWM", &out->hwm_bytes) < 0)
		out->hwm_bytes = 0;
	return 0;
}

int cb_proc_self(struct cb_proc_sample *out)
{
	struct rusage ru;
	memset(out, 0, sizeof *out);
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	out->cpu_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_utime.tv_usec * 1000ULL +
		      (uint64_t)ru.ru_stime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_stime.tv_usec * 1000ULL;
	out->hwm_bytes = (uint64_t)ru.ru_maxrss * 1024;
	char buf[4096];
	if (read_small("/proc/self/status", buf, sizeof buf) >= 0)
		cb_proc_parse_status_kb(buf, "VmRSS", &out->rss_bytes);
	return 0;
}

double cb_proc_cpu_pct(const struct cb_proc_sample *a, const struct cb_proc_sample *b,
		       uint64_t wall_ns)
{
	if (!wall_ns || b->cpu_ns < a->cpu_ns)
		return 0.0;
	return 100.0 * (double)(b->cpu_ns - a->cpu_ns) / (double)wall_ns;
}
