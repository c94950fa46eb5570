/* log.c — see log.h: level, destination, user hashes, the thread's context
 * and the write of one line (the line itself: log_json.c). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

_Atomic int log_threshold = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* Set before any thread starts (log_open) and changed after only by dup3
 * onto the same number (log_reopen): readers need no lock. */
static int out_fd = STDERR_FILENO;
static char *out_path;

static unsigned char *hash_key;
static size_t hash_key_len;

/* The thread's context; `hash` is the user's, computed on first use. */
static _Thread_local struct {
	struct log_ctx c;
	bool hashed;
	char hash[LOG_USER_HASH_LEN + 1];
} tl;

void log_set_level(enum log_level level) { atomic_store(&log_threshold, (int)level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&log_threshold); }

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (name && strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* ---- destination ---------------------------------------------------------- */

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_open(const char *path, char *err, size_t errlen)
{
	if (!path || !*path) {
		log_close();
		return 0;
	}
	char *copy = strdup(path);
	if (!copy) {
		snprintf(err, errlen, "log.file: out of memory");
		return -1;
	}
	int fd = open_file(path);
	if (fd < 0) {
		snprintf(err, errlen, "log.file: cannot open %s: %s", path, strerror(errno));
		free(copy);
		return -1;
	}
	log_close();
	out_fd = fd;
	out_path = copy;
	return 0;
}

int log_check_path(const char *path, char *err, size_t errlen)
{
	if (!path || !*path)
		return 0;
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == ENOENT) {
		char *copy = strdup(path);
		if (!copy) {
			snprintf(err, errlen, "log.file: out of memory");
			return -1;
		}
		int ok = access(dirname(copy), W_OK | X_OK);
		int e = errno;
		free(copy);
		if (ok == 0)
			return 0;
		errno = e;
	}
	snprintf(err, errlen, "log.file: cannot open %s: %s", path, strerror(errno));
	return -1;
}

int log_reopen(char *err, size_t errlen)
{
	if (!out_path)
		return 0;
	int fd = open_file(out_path);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", out_path, strerror(errno));
		return -1;
	}
	/* dup3 swaps the file under out_fd atomically and keeps O_CLOEXEC. */
	int rc = dup3(fd, out_fd, O_CLOEXEC);
	int e = errno;
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot reopen %s: %s", out_path, strerror(e));
		return -1;
	}
	return 1;
}

const char *log_path(void)
{
	return out_path;
}

void log_close(void)
{
	if (out_path) {
		close(out_fd);
		free(out_path);
	}
	out_fd = STDERR_FILENO;
	out_path = NULL;
}

/* ---- hashed user ids ------------------------------------------------------ */

int log_set_user_hash_key(const char *key)
{
	size_t n = key ? strlen(key) : 0;
	unsigned char *k = malloc(n + 1);
	if (!k)
		return -1;
	memcpy(k, key ? key : "", n + 1);
	free(hash_key);
	hash_key = k;
	hash_key_len = n;
	return 0;
}

void log_user_hash(const char *user, char out[LOG_USER_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	static const unsigned char no_key[1];
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	const char *u = user ? user : "";
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hash_key ? hash_key : no_key,
		       hash_key_len, (const unsigned char *)u, strlen(u), mac, sizeof mac,
		       &mac_len) ||
	    mac_len < 8) {
		/* Only when OpenSSL fails (memory): never fall back to the id. */
		snprintf(out, LOG_USER_HASH_LEN + 1, "u:unavailable");
		return;
	}
	out[0] = 'u';
	out[1] = ':';
	for (size_t i = 0; i < 8; i++) {
		out[2 + 2 * i] = hex[mac[i] >> 4];
		out[3 + 2 * i] = hex[mac[i] & 0xf];
	}
	out[LOG_USER_HASH_LEN] = '\0';
}

/* ---- context -------------------------------------------------------------- */

void log_ctx_set(uint64_t trace, const char *user)
{
	tl.c.trace = trace;
	tl.hashed = false;
	tl.c.has_user = user && *user;
	if (!tl.c.has_user) {
		tl.c.user[0] = '\0';
		return;
	}
	size_t n = strlen(user);
	if (n > LOG_USER_MAX) {
		/* Too long to keep: hash it whole now. */
		log_user_hash(user, tl.hash);
		tl.hashed = true;
		n = LOG_USER_MAX;
	}
	memcpy(tl.c.user, user, n);
	tl.c.user[n] = '\0';
}

void log_ctx_clear(void)
{
	log_ctx_set(0, NULL);
}

void log_ctx_save(struct log_ctx *out)
{
	out->trace = tl.c.trace;
	out->has_user = tl.c.has_user;
	snprintf(out->user, sizeof out->user, "%s", tl.c.has_user ? tl.c.user : "");
}

void log_ctx_restore(const struct log_ctx *saved)
{
	if (saved->has_user && tl.c.has_user && strcmp(saved->user, tl.c.user) == 0) {
		tl.c.trace = saved->trace; /* same user: keep its hash */
		return;
	}
	log_ctx_set(saved->trace, saved->has_user ? saved->user : NULL);
}

uint64_t log_ctx_trace(void)
{
	return tl.c.trace;
}

static const char *ctx_hash(void)
{
	if (!tl.c.has_user)
		return NULL;
	if (!tl.hashed) {
		log_user_hash(tl.c.user, tl.hash);
		tl.hashed = true;
	}
	return tl.hash;
}

/* ---- trace ids ------------------------------------------------------------ */

static _Atomic uint64_t trace_counter;
static uint64_t trace_key;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;

static void trace_seed(void)
{
	uint64_t k = 0;
	if (getrandom(&k, sizeof k, 0) != (ssize_t)sizeof k)
		k = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u ^ (uint64_t)getpid();
	trace_key = k;
}

uint64_t log_trace_new(void)
{
	pthread_once(&trace_once, trace_seed);
	for (;;) {
		/* splitmix64's finalizer is a bijection: distinct counters give
		 * distinct ids. */
		uint64_t z = atomic_fetch_add(&trace_counter, 1) + trace_key;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		z ^= z >> 31;
		if (z)
			return z;
	}
}

void log_trace_hex(uint64_t trace, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, trace);
}

/* ---- writing -------------------------------------------------------------- */

static bool id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '@' || c == '-';
}

/* Replace every whole-word occurrence of user in msg (len bytes, cap
 * bytes of room) by its hash: a safety net under the call sites, for text
 * they do not control (a rule's log()).  Returns the new length. */
static size_t scrub(char *msg, size_t len, size_t cap, const char *user, const char *hash,
		    bool *cut)
{
	size_t ulen = strlen(user), hlen = strlen(hash);
	char out[LOG_MSG_MAX];
	size_t o = 0, i = 0;
	bool changed = false;
	if (cap > sizeof out)
		cap = sizeof out;
	while (i < len) {
		const char *hit = ulen ? memmem(msg + i, len - i, user, ulen) : NULL;
		if (!hit)
			break;
		size_t at = (size_t)(hit - msg);
		bool word = (at == 0 || !id_char((unsigned char)msg[at - 1])) &&
			    (at + ulen == len || !id_char((unsigned char)msg[at + ulen]));
		/* Not a whole word: keep one byte and look again from the next. */
		size_t keep = at - i + (word ? 0 : 1);
		const char *rep = word ? hash : NULL;
		if (o + keep + (rep ? hlen : 0) >= cap) {
			*cut = true;
			len = i; /* drop the rest */
			break;
		}
		memcpy(out + o, msg + i, keep);
		o += keep;
		if (rep) {
			memcpy(out + o, rep, hlen);
			o += hlen;
			changed = true;
		}
		i = word ? at + ulen : at + 1;
	}
	if (!changed)
		return len;
	size_t rest = len > i ? len - i : 0;
	if (o + rest >= cap) {
		rest = cap - 1 - o;
		*cut = true;
	}
	memcpy(out + o, msg + i, rest);
	o += rest;
	memcpy(msg, out, o);
	return o;
}

void log_vmsg(enum log_level level, const char *subsys, const char *event, const char *fmt,
	      va_list ap)
{
	if (!log_enabled(level))
		return;
	int saved_errno = errno;
	char msg[LOG_MSG_MAX];
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	bool cut = false;
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len >= sizeof msg) {
		len = sizeof msg - 1;
		cut = true;
	}
	const char *hash = ctx_hash();
	if (hash && level <= LOG_INFO)
		len = scrub(msg, len, sizeof msg, tl.c.user, hash, &cut);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct log_line l = {
		.ts_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		.level = level, .component = subsys, .event = event,
		.msg = msg, .msg_len = len, .msg_cut = cut,
		.trace = tl.c.trace, .user_hash = hash,
	};
	char line[LOG_LINE_MAX];
	size_t ll = log_format_line(line, sizeof line, &l);
	/* One write per line keeps lines whole across threads. */
	while (write(out_fd, line, ll) < 0 && errno == EINTR)
		;
	errno = saved_errno;
}

void log_user(enum log_level level, const char *subsys, const char *event, const char *user,
	      const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	struct log_ctx saved;
	log_ctx_save(&saved);
	log_ctx_set(saved.trace, user);
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, subsys, event, fmt, ap);
	va_end(ap);
	log_ctx_restore(&saved);
}

void log_msg(enum log_level level, const char *subsys, const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, subsys, event, fmt, ap);
	va_end(ap);
}
