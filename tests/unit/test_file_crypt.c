/* test_file_crypt.c — the sealed-file format (core/file_crypt.c): round
 * trips at chunk boundaries, every kind of tampering, truncation, chunk
 * reordering, a file moved over another name, unknown and wrong keys. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "file_crypt.h"
#include "chatd/status.h"

#define CHUNK 4096u

static struct enc_key keys[2];
static struct enc_keyring ring = { keys, 2, &keys[0] };
static char dir[64];

static void setup(void)
{
	memset(keys, 0, sizeof keys);
	strcpy(keys[0].id, "k1");
	memset(keys[0].key, 0x11, ENC_KEY_LEN);
	strcpy(keys[1].id, "k2");
	memset(keys[1].key, 0x22, ENC_KEY_LEN);
	if (!dir[0]) {
		strcpy(dir, "/tmp/chatd-fc-XXXXXX");
		CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	}
}

static void path_of(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static unsigned char *pattern(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + i / 251);
	return p;
}

static void write_file(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(p, 1, n, f), n);
	fclose(f);
}

static unsigned char *read_file(const char *path, size_t *n)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return NULL;
	unsigned char *p = malloc((size_t)st.st_size + 1);
	FILE *f = fopen(path, "rb");
	*n = fread(p, 1, (size_t)st.st_size, f);
	fclose(f);
	return p;
}

/* Opens path (context: its base name) and reads it all.  Returns the
 * status of the first failure, or CHATD_OK with *out, *n the plaintext. */
static int open_all(const char *path, const char *context, unsigned char **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return CHATD_ERR_IO;
	struct fc_reader *r;
	int st = fc_open(&ring, fd, context, &r, NULL);
	if (st != CHATD_OK) {
		close(fd);
		return st;
	}
	size_t cap = (size_t)fc_plain_size(r);
	unsigned char *buf = malloc(cap + fc_chunk_size(r));
	for (;;) {
		size_t len;
		st = fc_read(r, buf + *n, &len);
		if (st != CHATD_OK || len == 0)
			break;
		*n += len;
	}
	fc_close(r);
	close(fd);
	if (st != CHATD_OK) {
		free(buf);
		*n = 0;
		return st;
	}
	*out = buf;
	return CHATD_OK;
}

static void test_round_trip(void)
{
	setup();
	size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * 1024 * 1024 + 17 };
	char src[128], dst[128], kid[ENC_KEY_ID_MAX + 1], err[256];
	path_of("plain", src, sizeof src);
	path_of("sealed", dst, sizeof dst);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		unsigned char *p = pattern(sizes[i]), *got;
		size_t n, sn;
		write_file(src, p, sizes[i]);
		CU_ASSERT_EQUAL_FATAL(fc_seal_file(&keys[1], &ring, src, dst, CHUNK, err, sizeof err), CHATD_OK);
		unsigned char *sealed = read_file(dst, &sn);
		CU_ASSERT_TRUE(fc_is_sealed(sealed, sn));
		size_t chunks = sizes[i] ? (sizes[i] + CHUNK - 1) / CHUNK : 1;
		CU_ASSERT_EQUAL(sn, 82 + 2 + sizes[i] + 16 * chunks);
		/* No run of plaintext survives (a 32-byte window). */
		if (sizes[i] >= 64)
			CU_ASSERT_PTR_NULL(memmem(sealed, sn, p + 16, 32));
		free(sealed);
		CU_ASSERT_EQUAL(fc_file_key_id(dst, kid), CHATD_OK);
		CU_ASSERT_STRING_EQUAL(kid, "k2");
		CU_ASSERT_EQUAL(fc_file_key_id(src, kid), CHATD_ERR_NOT_FOUND);
		CU_ASSERT_EQUAL_FATAL(open_all(dst, "sealed", &got, &n), CHATD_OK);
		CU_ASSERT_EQUAL(n, sizes[i]);
		CU_ASSERT_TRUE(n == sizes[i] && memcmp(got, p, n) == 0);
		free(got);
		free(p);
	}
	/* Re-sealing in place under another key (default chunk) decrypts
	 * the sealed source: the plaintext stays the same. */
	unsigned char *p = pattern(100000), *got;
	size_t n;
	write_file(src, p, 100000);
	CU_ASSERT_EQUAL(fc_seal_file(&keys[1], &ring, src, dst, CHUNK, err, sizeof err), CHATD_OK);
	CU_ASSERT_EQUAL(fc_seal_file(&keys[0], &ring, dst, dst, 0, err, sizeof err), CHATD_OK);
	CU_ASSERT_EQUAL(fc_file_key_id(dst, kid), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(kid, "k1");
	CU_ASSERT_EQUAL_FATAL(open_all(dst, "sealed", &got, &n), CHATD_OK);
	CU_ASSERT_TRUE(n == 100000 && memcmp(got, p, n) == 0);
	free(got);
	/* A plaintext sealed in place. */
	write_file(dst, p, 100000);
	CU_ASSERT_EQUAL(fc_seal_file(&keys[0], &ring, dst, dst, 0, err, sizeof err), CHATD_OK);
	CU_ASSERT_EQUAL_FATAL(open_all(dst, "sealed", &got, &n), CHATD_OK);
	CU_ASSERT_TRUE(n == 100000 && memcmp(got, p, n) == 0);
	free(got);
	/* A sealed source whose key is gone is refused, dst untouched. */
	struct enc_keyring only1 = { &keys[0], 1, &keys[0] };
	CU_ASSERT_EQUAL(fc_seal_file(&keys[1], &ring, dst, dst, 0, err, sizeof err), CHATD_OK);
	CU_ASSERT_EQUAL(fc_seal_file(&keys[0], &only1, dst, dst, 0, err, sizeof err),
			CHATD_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(fc_file_key_id(dst, kid), CHATD_OK);
	CU_ASSERT_STRING_EQUAL(kid, "k2");
	free(p);
	unlink(src);
	unlink(dst);
}

/* Seal a 3-chunk file; returns its sealed bytes (and length). */
static unsigned char *sealed_sample(const char *name, size_t *sn)
{
	char src[128], dst[128], err[256];
	path_of("plain", src, sizeof src);
	path_of(name, dst, sizeof dst);
	unsigned char *p = pattern(2 * CHUNK + 100);
	write_file(src, p, 2 * CHUNK + 100);
	free(p);
	CU_ASSERT_EQUAL(fc_seal_file(&keys[0], &ring, src, dst, CHUNK, err, sizeof err), CHATD_OK);
	unlink(src);
	return read_file(dst, sn);
}

static void test_tamper(void)
{
	setup();
	size_t sn;
	char path[128];
	path_of("t", path, sizeof path);
	unsigned char *orig = sealed_sample("t", &sn), *got;
	size_t n, hdr = sn - (2 * CHUNK + 100) - 3 * 16;
	CU_ASSERT_EQUAL(hdr, 84);
	/* Every header byte, and bytes of each chunk (first, middle, tag). */
	size_t spots[] = { 5, 6, 7, 8, 11, 12, 19, 20, 23, 24, 30, 40, 60, 83, hdr, hdr + 100,
			   hdr + CHUNK + 15, hdr + CHUNK + 16, hdr + 2 * CHUNK + 40, sn - 1 };
	for (size_t i = 0; i < hdr; i++) {
		unsigned char *t = malloc(sn);
		memcpy(t, orig, sn);
		t[i] ^= 0x01;
		write_file(path, t, sn);
		int st = open_all(path, "t", &got, &n);
		CU_ASSERT_NOT_EQUAL(st, CHATD_OK);
		if (st == CHATD_OK)
			fprintf(stderr, "header byte %zu changed, still opens\n", i);
		free(got);
		free(t);
	}
	for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
		unsigned char *t = malloc(sn);
		memcpy(t, orig, sn);
		t[spots[i]] ^= 0x80;
		write_file(path, t, sn);
		CU_ASSERT_NOT_EQUAL(open_all(path, "t", &got, &n), CHATD_OK);
		free(got);
		free(t);
	}
	/* Truncated: by a byte, by a whole chunk; one byte appended. */
	write_file(path, orig, sn - 1);
	CU_ASSERT_EQUAL(open_all(path, "t", &got, &n), CHATD_ERR_INVALID);
	write_file(path, orig, sn - 100 - 16);
	CU_ASSERT_EQUAL(open_all(path, "t", &got, &n), CHATD_ERR_INVALID);
	unsigned char *longer = malloc(sn + 1);
	memcpy(longer, orig, sn);
	longer[sn] = 0;
	write_file(path, longer, sn + 1);
	CU_ASSERT_EQUAL(open_all(path, "t", &got, &n), CHATD_ERR_INVALID);
	free(longer);
	/* Chunks 0 and 1 swapped (same length). */
	unsigned char *sw = malloc(sn);
	memcpy(sw, orig, sn);
	memcpy(sw + hdr, orig + hdr + CHUNK + 16, CHUNK + 16);
	memcpy(sw + hdr + CHUNK + 16, orig + hdr, CHUNK + 16);
	write_file(path, sw, sn);
	CU_ASSERT_EQUAL(open_all(path, "t", &got, &n), CHATD_ERR_INVALID);
	free(sw);
	/* Untouched it opens. */
	write_file(path, orig, sn);
	CU_ASSERT_EQUAL(open_all(path, "t", &got, &n), CHATD_OK);
	free(got);
	free(orig);
	unlink(path);
}

static void test_swap_and_keys(void)
{
	setup();
	size_t sa, sb, n;
	char pa[128], pb[128];
	path_of("a", pa, sizeof pa);
	path_of("b", pb, sizeof pb);
	unsigned char *a = sealed_sample("a", &sa), *b = sealed_sample("b", &sb), *got;
	/* b's file put in a's place: its context (name) does not match. */
	write_file(pa, b, sb);
	CU_ASSERT_EQUAL(open_all(pa, "a", &got, &n), CHATD_ERR_INVALID);
	CU_ASSERT_EQUAL(open_all(pa, "b", &got, &n), CHATD_OK);
	free(got);
	/* A chunk of b spliced into a (same index): another data key. */
	unsigned char *mix = malloc(sa);
	memcpy(mix, a, sa);
	memcpy(mix + 84 + CHUNK + 16, b + 84 + CHUNK + 16, CHUNK + 16);
	write_file(pa, mix, sa);
	CU_ASSERT_EQUAL(open_all(pa, "a", &got, &n), CHATD_ERR_INVALID);
	free(mix);
	/* An unknown key id: NOT_FOUND with the id reported. */
	write_file(pa, a, sa);
	struct enc_keyring only2 = { &keys[1], 1, &keys[1] };
	int fd = open(pa, O_RDONLY);
	struct fc_reader *r = NULL;
	char kid[ENC_KEY_ID_MAX + 1] = "";
	CU_ASSERT_EQUAL(fc_open(&only2, fd, "a", &r, kid), CHATD_ERR_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(kid, "k1");
	CU_ASSERT_PTR_NULL(r);
	/* The right id with the wrong key material. */
	struct enc_key wrong = keys[0];
	wrong.key[0] ^= 1;
	struct enc_keyring bad = { &wrong, 1, &wrong };
	CU_ASSERT_EQUAL(fc_open(&bad, fd, "a", &r, NULL), CHATD_ERR_INVALID);
	close(fd);
	/* A plaintext file is not sealed; a file cut inside its header is
	 * malformed. */
	write_file(pa, (const unsigned char *)"\x01" "CMF1\x02k1", 8);
	CU_ASSERT_EQUAL(fc_file_key_id(pa, kid), CHATD_ERR_INVALID);
	write_file(pa, (const unsigned char *)"\xFF\xD8\xFF", 3);
	CU_ASSERT_EQUAL(fc_file_key_id(pa, kid), CHATD_ERR_NOT_FOUND);
	free(a);
	free(b);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
}

void unit_register_file_crypt(void)
{
	CU_pSuite s = CU_add_suite("file_crypt", NULL, NULL);
	CU_add_test(s, "round trip at chunk boundaries", test_round_trip);
	CU_add_test(s, "tampering, truncation, reordering fail", test_tamper);
	CU_add_test(s, "moved files, spliced chunks, unknown and wrong keys", test_swap_and_keys);
}
