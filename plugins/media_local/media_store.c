/* media_store.c — the files of media_local (see media_store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "chatd/status.h"
#include "media_store.h"

#define READ_CHUNK (64 * 1024)

/* mkdir -p path, mode 0700 for what it creates. */
static int mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strnlen(path, sizeof(buf));
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		buf[i] = c;
	}
	return 0;
}

static bool is_writable_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && access(path, W_OK | X_OK) == 0;
}

int media_store_init(const char *dir, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s/tmp", dir) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "dir \"%s\": path too long", dir);
		return CHATD_ERR_IO;
	}
	if (mkdirs(tmp) != 0 || !is_writable_dir(dir) || !is_writable_dir(tmp)) {
		snprintf(err, errlen, "dir \"%s\": cannot create or write it: %s", dir,
			 strerror(errno ? errno : EACCES));
		return CHATD_ERR_IO;
	}
	return CHATD_OK;
}

int media_store_part_path(const char *dir, const char *id, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[8];
	ssize_t n;
	do {
		n = getrandom(b, sizeof(b), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return CHATD_ERR_IO;
	char r[17];
	for (size_t i = 0; i < sizeof(b); i++) {
		r[2 * i] = hex[b[i] >> 4];
		r[2 * i + 1] = hex[b[i] & 15];
	}
	r[16] = '\0';
	int len = snprintf(out, cap, "%s/tmp/%s.%s.part", dir, id, r);
	return len > 0 && (size_t)len < cap ? CHATD_OK : CHATD_ERR_TOO_LARGE;
}

int media_store_file_path(const char *dir, const char *hash, bool thumb, char *out, size_t cap)
{
	if (!hash || strlen(hash) < 2)
		return CHATD_ERR_INVALID;
	int len = snprintf(out, cap, "%s/%.2s/%s%s", dir, hash, hash, thumb ? ".thumb" : "");
	return len > 0 && (size_t)len < cap ? CHATD_OK : CHATD_ERR_TOO_LARGE;
}

bool media_store_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read fd to its end into the digest and the sniffer; the byte count in
 * *total.  0, or -1 on a read or digest error. */
static int digest_all(int fd, EVP_MD_CTX *md, struct media_sniff *sn, int64_t *total)
{
	unsigned char *buf = malloc(READ_CHUNK);
	int rc = -1;
	*total = 0;
	while (buf) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n == 0 ? 0 : -1;
			break;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			break;
		media_sniff_feed(sn, buf, (size_t)n);
		*total += n;
	}
	free(buf);
	return rc;
}

enum media_check media_store_check(const char *part, enum media_type type, int64_t size,
				   char hash[MEDIA_HASH_HEX + 1], char *err, size_t errlen)
{
	return media_store_check_keyed(part, type, size, NULL, 0, hash, err, errlen);
}

#define HMAC_BLOCK 64
#define NAME_LABEL "chatd.media.name.v1"

/* HMAC-SHA-256 by hand over EVP_MD_CTX (so digest_all serves both): the
 * key block k0 (the key, or its SHA-256 when longer than a block). */
static bool hmac_key_block(const unsigned char *key, size_t keylen,
			   unsigned char k0[HMAC_BLOCK])
{
	memset(k0, 0, HMAC_BLOCK);
	if (keylen <= HMAC_BLOCK) {
		memcpy(k0, key, keylen);
		return true;
	}
	unsigned int n = 0;
	return EVP_Digest(key, keylen, k0, &n, EVP_sha256(), NULL) == 1;
}

static bool pad_update(EVP_MD_CTX *md, const unsigned char k0[HMAC_BLOCK], unsigned char x)
{
	unsigned char b[HMAC_BLOCK];
	for (int i = 0; i < HMAC_BLOCK; i++)
		b[i] = k0[i] ^ x;
	bool ok = EVP_DigestUpdate(md, b, sizeof b) == 1;
	OPENSSL_cleanse(b, sizeof b);
	return ok;
}

enum media_check media_store_check_keyed(const char *part, enum media_type type, int64_t size,
					 const unsigned char *name_key, size_t keylen,
					 char hash[MEDIA_HASH_HEX + 1], char *err, size_t errlen)
{
	unsigned char k0[HMAC_BLOCK] = { 0 };
	enum media_check res = MEDIA_CHECK_IO;
	EVP_MD_CTX *md = NULL;
	int fd = open(part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "open %s: %s", part, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != size) {
		snprintf(err, errlen, "%s: %lld bytes, %lld declared", part, (long long)st.st_size,
			 (long long)size);
		res = MEDIA_CHECK_SIZE;
		goto out;
	}
	struct media_sniff sn;
	media_sniff_init(&sn, type);
	int64_t total;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	errno = 0;
	if (!(md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    (name_key && (!hmac_key_block(name_key, keylen, k0) || !pad_update(md, k0, 0x36) ||
			  EVP_DigestUpdate(md, NAME_LABEL, sizeof NAME_LABEL) != 1)) ||
	    digest_all(fd, md, &sn, &total) != 0 || EVP_DigestFinal_ex(md, d, &dlen) != 1 ||
	    dlen * 2 != MEDIA_HASH_HEX ||
	    (name_key && (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
			  !pad_update(md, k0, 0x5c) || EVP_DigestUpdate(md, d, dlen) != 1 ||
			  EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen * 2 != MEDIA_HASH_HEX))) {
		snprintf(err, errlen, "read %s: %s", part, errno ? strerror(errno) : "digest failed");
		goto out;
	}
	if (total != size) {         /* changed while we read it */
		snprintf(err, errlen, "%s: read %lld bytes, %lld declared", part,
			 (long long)total, (long long)size);
		res = MEDIA_CHECK_SIZE;
		goto out;
	}
	if (!media_sniff_match(&sn)) {
		snprintf(err, errlen, "content is not %s", media_type_mime(type));
		res = MEDIA_CHECK_MISMATCH;
		goto out;
	}
	/* Durable before the row says "ready". */
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "fsync %s: %s", part, strerror(errno));
		goto out;
	}
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < dlen; i++) {
		hash[2 * i] = hex[d[i] >> 4];
		hash[2 * i + 1] = hex[d[i] & 15];
	}
	hash[MEDIA_HASH_HEX] = '\0';
	res = MEDIA_CHECK_OK;
out:
	OPENSSL_cleanse(k0, sizeof k0);
	EVP_MD_CTX_free(md);
	if (fd >= 0)
		close(fd);
	if (res != MEDIA_CHECK_OK)
		unlink(part);
	return res;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int media_store_subdir(const char *dir, const char *hash, char *err, size_t errlen)
{
	char sub[PATH_MAX];
	if (!hash || strlen(hash) < 2 ||
	    snprintf(sub, sizeof(sub), "%s/%.2s", dir, hash) >= (int)sizeof(sub)) {
		snprintf(err, errlen, "path too long");
		return CHATD_ERR_IO;
	}
	if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", sub, strerror(errno));
		return CHATD_ERR_IO;
	}
	return CHATD_OK;
}

int media_store_place(const char *dir, const char *part, const char *hash, bool *existed,
		      char *err, size_t errlen)
{
	char sub[PATH_MAX], final[PATH_MAX];
	*existed = false;
	if (snprintf(sub, sizeof(sub), "%s/%.2s", dir, hash) >= (int)sizeof(sub) ||
	    media_store_file_path(dir, hash, false, final, sizeof(final)) != CHATD_OK) {
		snprintf(err, errlen, "path too long");
		return CHATD_ERR_IO;
	}
	if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", sub, strerror(errno));
		return CHATD_ERR_IO;
	}
	if (media_store_exists(final)) {
		/* The same content is stored already: keep that one. */
		*existed = true;
		unlink(part);
		return CHATD_OK;
	}
	if (rename(part, final) != 0) {
		snprintf(err, errlen, "rename %s to %s: %s", part, final, strerror(errno));
		return CHATD_ERR_IO;
	}
	if (fsync_dir(sub) != 0) {
		snprintf(err, errlen, "fsync %s: %s", sub, strerror(errno));
		return CHATD_ERR_IO;
	}
	return CHATD_OK;
}

int media_store_unlink(const char *dir, const char *hash)
{
	char path[PATH_MAX];
	int n = 0;
	for (int thumb = 0; thumb < 2; thumb++)
		if (media_store_file_path(dir, hash, thumb, path, sizeof(path)) == CHATD_OK &&
		    unlink(path) == 0)
			n++;
	return n;
}

static bool kept(const char *path, const char *const *keep, size_t n_keep)
{
	for (size_t i = 0; i < n_keep; i++)
		if (strcmp(path, keep[i]) == 0)
			return true;
	return false;
}

int media_store_sweep(const char *dir, int64_t cutoff_ms, const char *const *keep, size_t n_keep)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s/tmp", dir) >= (int)sizeof(tmp))
		return 0;
	DIR *d = opendir(tmp);
	if (!d)
		return 0;
	int removed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".part") != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name) >= (int)sizeof(path))
			continue;
		struct stat st;
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		if (mtime >= cutoff_ms || kept(path, keep, n_keep))
			continue;
		if (unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
