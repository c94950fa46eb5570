/* file_crypt.c — see file_crypt.h. */
#include "file_crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "chatd/status.h"

#define LABEL "chatd.file.v1"
#define NONCE_LEN 12
#define PREFIX_LEN 4
/* Header bytes after the key id, up to the wrap: chunk, size, prefix. */
#define FIXED_LEN (4 + 8 + PREFIX_LEN)
#define WRAP_LEN (NONCE_LEN + ENC_KEY_LEN + FC_TAG_LEN)

struct fc_reader {
	int fd;
	EVP_CIPHER_CTX *x;
	unsigned char key[ENC_KEY_LEN];
	unsigned char hdr[FC_HEADER_MAX];
	size_t hdr_len;
	uint32_t chunk;
	int64_t size;
	uint64_t n_chunks, next;
	unsigned char prefix[PREFIX_LEN];
	unsigned char *buf;              /* chunk + tag */
	bool failed;
};

bool fc_is_sealed(const unsigned char *head, size_t n)
{
	return head && n >= FC_MAGIC_LEN && memcmp(head, FC_MAGIC, FC_MAGIC_LEN) == 0;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static uint64_t chunks_of(int64_t size, uint32_t chunk)
{
	return size == 0 ? 1 : ((uint64_t)size + chunk - 1) / chunk;
}

/* The wrap's AAD: LABEL NUL context NUL header[0, pre_len).  Owned. */
static unsigned char *wrap_aad(const char *context, const unsigned char *hdr, size_t pre_len,
			       size_t *len)
{
	size_t lc = strlen(context);
	*len = sizeof LABEL + lc + 1 + pre_len;
	unsigned char *a = malloc(*len);
	if (!a)
		return NULL;
	memcpy(a, LABEL, sizeof LABEL);
	memcpy(a + sizeof LABEL, context, lc + 1);
	memcpy(a + sizeof LABEL + lc + 1, hdr, pre_len);
	return a;
}

/* One GCM operation with ctx x (reused).  enc: tag out; !enc: tag checked.
 * aad2 (may be NULL) follows aad.  True on success. */
static bool gcm(EVP_CIPHER_CTX *x, bool enc, const unsigned char *key, const unsigned char *nonce,
		const unsigned char *aad, size_t aad_len, const unsigned char *aad2, size_t aad2_len,
		const unsigned char *in, size_t in_len, unsigned char *out, unsigned char *tag)
{
	int len = 0;
	if (in_len > INT_MAX || aad_len > INT_MAX)
		return false;
	if (EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(x, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(x, NULL, &len, aad, (int)aad_len) != 1 ||
	    (aad2 && EVP_CipherUpdate(x, NULL, &len, aad2, (int)aad2_len) != 1))
		return false;
	if (in_len && EVP_CipherUpdate(x, out, &len, in, (int)in_len) != 1)
		return false;
	if (!enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, FC_TAG_LEN, tag) != 1)
		return false;
	if (EVP_CipherFinal_ex(x, out + (in_len ? len : 0), &len) != 1)
		return false;
	return !enc || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, FC_TAG_LEN, tag) == 1;
}

/* A chunk's nonce and second AAD part (index, last flag). */
static void chunk_params(const unsigned char *prefix, uint64_t i, bool last,
			 unsigned char nonce[NONCE_LEN], unsigned char aad2[9])
{
	memcpy(nonce, prefix, PREFIX_LEN);
	put_be(nonce + PREFIX_LEN, i, 8);
	put_be(aad2, i, 8);
	aad2[8] = last ? 1 : 0;
}

static bool read_full(int fd, unsigned char *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return true;
}

static bool write_full(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* ---- sealing ----------------------------------------------------------- */

/* Where the plaintext comes from: a plain file, or a sealed one (re-sealing
 * under another key decrypts it as it goes). */
struct source {
	int fd;
	struct fc_reader *r;         /* NULL: fd is plaintext */
	unsigned char *buf;          /* r's chunk */
	size_t have, off;
	int64_t pos;
};

/* The next len plaintext bytes into out.  CHATD_OK, CHATD_ERR_IO,
 * CHATD_ERR_INVALID (the sealed source fails authentication). */
static int source_read(struct source *s, unsigned char *out, size_t len)
{
	if (!s->r) {
		if (!read_full(s->fd, out, len, (off_t)s->pos))
			return CHATD_ERR_IO;
		s->pos += (int64_t)len;
		return CHATD_OK;
	}
	while (len) {
		if (s->off == s->have) {
			int st = fc_read(s->r, s->buf, &s->have);
			s->off = 0;
			if (st != CHATD_OK)
				return st;
			if (s->have == 0)
				return CHATD_ERR_INVALID;
		}
		size_t n = s->have - s->off < len ? s->have - s->off : len;
		memcpy(out, s->buf + s->off, n);
		s->off += n;
		out += n;
		len -= n;
	}
	return CHATD_OK;
}

/* Write the sealed form of src (size bytes) to out_fd. */
static int seal_fd(const struct enc_key *k, const char *context, struct source *src, int64_t size,
		   uint32_t chunk, int out_fd, char *err, size_t errlen)
{
	unsigned char hdr[FC_HEADER_MAX], dkey[ENC_KEY_LEN];
	size_t kl = strlen(k->id), o = 0;
	int st = CHATD_ERR_NOMEM;
	unsigned char *aad = NULL, *plain = malloc(chunk), *ct = malloc((size_t)chunk + FC_TAG_LEN);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	if (!plain || !ct || !x)
		goto out;
	memcpy(hdr, FC_MAGIC, FC_MAGIC_LEN);
	o = FC_MAGIC_LEN;
	hdr[o++] = (unsigned char)kl;
	memcpy(hdr + o, k->id, kl);
	o += kl;
	put_be(hdr + o, chunk, 4);
	put_be(hdr + o + 4, (uint64_t)size, 8);
	o += 12;
	st = CHATD_ERR_INTERNAL;
	if (RAND_bytes(hdr + o, PREFIX_LEN) != 1 || RAND_bytes(hdr + o + PREFIX_LEN, NONCE_LEN) != 1 ||
	    RAND_bytes(dkey, sizeof dkey) != 1)
		goto out;
	const unsigned char *prefix = hdr + o;
	o += PREFIX_LEN;
	size_t aad_len;
	if (!(aad = wrap_aad(context, hdr, o, &aad_len))) {
		st = CHATD_ERR_NOMEM;
		goto out;
	}
	unsigned char *wn = hdr + o;
	if (!gcm(x, true, k->key, wn, aad, aad_len, NULL, 0, dkey, ENC_KEY_LEN, wn + NONCE_LEN,
		 wn + NONCE_LEN + ENC_KEY_LEN))
		goto out;
	o += WRAP_LEN;
	st = CHATD_ERR_IO;
	if (!write_full(out_fd, hdr, o)) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		goto out;
	}
	uint64_t n = chunks_of(size, chunk);
	int64_t left = size;
	for (uint64_t i = 0; i < n; i++) {
		size_t len = left < (int64_t)chunk ? (size_t)left : chunk;
		int rs = len ? source_read(src, plain, len) : CHATD_OK;
		if (rs != CHATD_OK) {
			snprintf(err, errlen, "read: %s", rs == CHATD_ERR_INVALID
				 ? "the sealed source fails authentication"
				 : errno ? strerror(errno) : "short file");
			st = rs;
			goto out;
		}
		unsigned char nonce[NONCE_LEN], aad2[9];
		chunk_params(prefix, i, i + 1 == n, nonce, aad2);
		if (!gcm(x, true, dkey, nonce, hdr, o, aad2, sizeof aad2, plain, len, ct, ct + len)) {
			st = CHATD_ERR_INTERNAL;
			goto out;
		}
		if (!write_full(out_fd, ct, len + FC_TAG_LEN)) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			goto out;
		}
		left -= (int64_t)len;
	}
	st = CHATD_OK;
out:
	if (st == CHATD_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	else if (st == CHATD_ERR_INTERNAL)
		snprintf(err, errlen, "encryption failed");
	OPENSSL_cleanse(dkey, sizeof dkey);
	if (plain)
		OPENSSL_cleanse(plain, chunk);
	free(plain);
	free(ct);
	free(aad);
	EVP_CIPHER_CTX_free(x);
	return st;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *s = strrchr(path, '/');
	size_t n = s ? (size_t)(s - path) : 0;
	if (n >= sizeof dir)
		return -1;
	if (n == 0) {
		dir[0] = s ? '/' : '.';
		dir[1] = '\0';
	} else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int fc_seal_file(const struct enc_key *k, const struct enc_keyring *kr, const char *src,
		 const char *dst, uint32_t chunk, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	unsigned char r[8];
	if (!k || !src || !dst)
		return CHATD_ERR_INVALID;
	if (chunk == 0)
		chunk = FC_CHUNK_DEFAULT;
	if (chunk < FC_CHUNK_MIN || chunk > FC_CHUNK_MAX || RAND_bytes(r, sizeof r) != 1 ||
	    snprintf(tmp, sizeof tmp, "%s.%02x%02x%02x%02x%02x%02x%02x%02x.seal", dst, r[0], r[1],
		     r[2], r[3], r[4], r[5], r[6], r[7]) >= (int)sizeof tmp) {
		snprintf(err, errlen, "bad chunk size or path");
		return CHATD_ERR_INVALID;
	}
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "open %s: %s", src, in < 0 ? strerror(errno) : "not a file");
		if (in >= 0)
			close(in);
		return CHATD_ERR_IO;
	}
	struct source so = { .fd = in };
	int64_t size = (int64_t)st.st_size;
	unsigned char head[FC_MAGIC_LEN];
	if (pread(in, head, sizeof head, 0) == (ssize_t)sizeof head &&
	    fc_is_sealed(head, sizeof head)) {
		char kid[ENC_KEY_ID_MAX + 1] = "";
		int os = fc_open(kr, in, base_name(src), &so.r, kid);
		if (os == CHATD_OK && !(so.buf = malloc(fc_chunk_size(so.r))))
			os = CHATD_ERR_NOMEM;
		if (os != CHATD_OK) {
			snprintf(err, errlen, "%s is sealed%s%s and cannot be opened: %s", src,
				 kid[0] ? " with key " : "", kid, chatd_strerror(os));
			fc_close(so.r);
			close(in);
			return os;
		}
		size = fc_plain_size(so.r);
	}
	int out = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	int rc = CHATD_ERR_IO;
	if (out < 0)
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
	else
		rc = seal_fd(k, base_name(dst), &so, size, chunk, out, err, errlen);
	if (so.buf)
		OPENSSL_cleanse(so.buf, fc_chunk_size(so.r));
	free(so.buf);
	fc_close(so.r);
	close(in);
	if (out < 0)
		return rc;
	if (rc == CHATD_OK && fsync(out) != 0) {
		snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		rc = CHATD_ERR_IO;
	}
	if (close(out) != 0 && rc == CHATD_OK) {
		snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
		rc = CHATD_ERR_IO;
	}
	if (rc == CHATD_OK && rename(tmp, dst) != 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		rc = CHATD_ERR_IO;
	}
	if (rc != CHATD_OK) {
		unlink(tmp);
		return rc;
	}
	if (fsync_parent(dst) != 0) {
		snprintf(err, errlen, "fsync the directory of %s: %s", dst, strerror(errno));
		return CHATD_ERR_IO;
	}
	return CHATD_OK;
}

/* ---- opening ----------------------------------------------------------- */

/* Read and check the header's shape from fd: *hdr_len, key id, chunk,
 * size.  CHATD_OK, CHATD_ERR_NOT_FOUND (not sealed), CHATD_ERR_INVALID,
 * CHATD_ERR_IO. */
static int read_header(int fd, unsigned char *hdr, size_t *hdr_len, char *kid, uint32_t *chunk,
		       int64_t *size)
{
	ssize_t n;
	do {
		n = pread(fd, hdr, FC_HEADER_MAX, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return CHATD_ERR_IO;
	if (!fc_is_sealed(hdr, (size_t)n))
		return CHATD_ERR_NOT_FOUND;
	if (n < FC_MAGIC_LEN + 1)
		return CHATD_ERR_INVALID;
	size_t kl = hdr[FC_MAGIC_LEN];
	size_t len = FC_MAGIC_LEN + 1 + kl + FIXED_LEN + WRAP_LEN;
	if (!enc_key_id_ok((const char *)hdr + FC_MAGIC_LEN + 1, kl) || (size_t)n < len)
		return CHATD_ERR_INVALID;
	memcpy(kid, hdr + FC_MAGIC_LEN + 1, kl);
	kid[kl] = '\0';
	const unsigned char *p = hdr + FC_MAGIC_LEN + 1 + kl;
	*chunk = (uint32_t)get_be(p, 4);
	uint64_t sz = get_be(p + 4, 8);
	if (*chunk < FC_CHUNK_MIN || *chunk > FC_CHUNK_MAX || sz > (uint64_t)INT64_MAX / 2)
		return CHATD_ERR_INVALID;
	*size = (int64_t)sz;
	*hdr_len = len;
	return CHATD_OK;
}

int fc_file_key_id(const char *path, char *key_id)
{
	unsigned char hdr[FC_HEADER_MAX];
	size_t hl;
	uint32_t chunk;
	int64_t size;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return CHATD_ERR_IO;
	int st = read_header(fd, hdr, &hl, key_id, &chunk, &size);
	close(fd);
	return st;
}

int fc_open(const struct enc_keyring *kr, int fd, const char *context, struct fc_reader **out,
	    char *key_id)
{
	*out = NULL;
	char kid[ENC_KEY_ID_MAX + 1];
	struct fc_reader *r = calloc(1, sizeof *r);
	if (!r)
		return CHATD_ERR_NOMEM;
	r->fd = fd;
	int st = read_header(fd, r->hdr, &r->hdr_len, kid, &r->chunk, &r->size);
	if (st == CHATD_ERR_NOT_FOUND)
		st = CHATD_ERR_INVALID;        /* the caller said it is sealed */
	if (st != CHATD_OK)
		goto fail;
	if (key_id)
		memcpy(key_id, kid, strlen(kid) + 1);
	const struct enc_key *k = enc_key_find(kr, kid, strlen(kid));
	if (!k) {
		st = CHATD_ERR_NOT_FOUND;
		goto fail;
	}
	r->n_chunks = chunks_of(r->size, r->chunk);
	struct stat sb;
	st = CHATD_ERR_IO;
	if (fstat(fd, &sb) != 0)
		goto fail;
	st = CHATD_ERR_INVALID;
	if ((uint64_t)sb.st_size != r->hdr_len + (uint64_t)r->size + FC_TAG_LEN * r->n_chunks)
		goto fail;
	size_t pre = r->hdr_len - WRAP_LEN, aad_len;
	memcpy(r->prefix, r->hdr + pre - PREFIX_LEN, PREFIX_LEN);
	unsigned char *aad = wrap_aad(context ? context : "", r->hdr, pre, &aad_len);
	r->x = EVP_CIPHER_CTX_new();
	r->buf = malloc((size_t)r->chunk + FC_TAG_LEN);
	if (!aad || !r->x || !r->buf) {
		free(aad);
		st = CHATD_ERR_NOMEM;
		goto fail;
	}
	unsigned char *wn = r->hdr + pre;
	unsigned char wrapped[ENC_KEY_LEN];
	memcpy(wrapped, wn + NONCE_LEN, ENC_KEY_LEN);
	bool ok = gcm(r->x, false, k->key, wn, aad, aad_len, NULL, 0, wrapped, ENC_KEY_LEN, r->key,
		      wn + NONCE_LEN + ENC_KEY_LEN);
	free(aad);
	if (!ok)
		goto fail;
	*out = r;
	return CHATD_OK;
fail:
	fc_close(r);
	return st;
}

int64_t fc_plain_size(const struct fc_reader *r)
{
	return r->size;
}

uint32_t fc_chunk_size(const struct fc_reader *r)
{
	return r->chunk;
}

int fc_read(struct fc_reader *r, unsigned char *out, size_t *len)
{
	*len = 0;
	if (r->failed)
		return CHATD_ERR_INVALID;
	if (r->next >= r->n_chunks)
		return CHATD_OK;
	uint64_t i = r->next;
	bool last = i + 1 == r->n_chunks;
	size_t clen = last ? (size_t)((uint64_t)r->size - i * r->chunk) : r->chunk;
	off_t off = (off_t)(r->hdr_len + i * ((uint64_t)r->chunk + FC_TAG_LEN));
	if (!read_full(r->fd, r->buf, clen + FC_TAG_LEN, off)) {
		r->failed = true;
		return CHATD_ERR_IO;
	}
	unsigned char nonce[NONCE_LEN], aad2[9];
	chunk_params(r->prefix, i, last, nonce, aad2);
	if (!gcm(r->x, false, r->key, nonce, r->hdr, r->hdr_len, aad2, sizeof aad2, r->buf, clen,
		 out, r->buf + clen)) {
		OPENSSL_cleanse(out, clen);
		r->failed = true;
		return CHATD_ERR_INVALID;
	}
	r->next++;
	*len = clen;
	return CHATD_OK;
}

void fc_close(struct fc_reader *r)
{
	if (!r)
		return;
	OPENSSL_cleanse(r->key, sizeof r->key);
	EVP_CIPHER_CTX_free(r->x);
	free(r->buf);
	free(r);
}
