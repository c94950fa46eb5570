/* cb_ws.c — minimal RFC 6455 client pieces (see cb_ws.h). */
#include "cb_ws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- SHA-1 (RFC 3174), only for Sec-WebSocket-Accept ------------------- */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
		else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
		else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
		else { f = b ^ c ^ d; k = 0xCA62C1D6; }
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d; d = c; c = rol(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

static void sha1(const uint8_t *data, size_t len, uint8_t out[20])
{
	uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 };
	uint8_t blk[64];
	size_t i = 0;
	for (; i + 64 <= len; i += 64)
		sha1_block(h, data + i);
	size_t rem = len - i;
	memset(blk, 0, sizeof blk);
	memcpy(blk, data + i, rem);
	blk[rem] = 0x80;
	if (rem >= 56) {
		sha1_block(h, blk);
		memset(blk, 0, sizeof blk);
	}
	uint64_t bits = (uint64_t)len * 8;
	for (int j = 0; j < 8; j++)
		blk[63 - j] = (uint8_t)(bits >> (8 * j));
	sha1_block(h, blk);
	for (int j = 0; j < 5; j++) {
		out[4 * j] = (uint8_t)(h[j] >> 24);
		out[4 * j + 1] = (uint8_t)(h[j] >> 16);
		out[4 * j + 2] = (uint8_t)(h[j] >> 8);
		out[4 * j + 3] = (uint8_t)h[j];
	}
}

static void b64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

/* ---- handshake ---------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

void cb_ws_make_key(char out[CB_WS_KEY_LEN + 1], uint64_t *prng)
{
	uint8_t raw[16];
	uint64_t a = xorshift(prng), b = xorshift(prng);
	memcpy(raw, &a, 8);
	memcpy(raw + 8, &b, 8);
	b64(raw, 16, out);
}

void cb_ws_accept_for(const char *key, char out[CB_WS_ACCEPT_LEN + 1])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char cat[128];
	size_t kl = strlen(key);
	if (kl > sizeof cat - sizeof guid)
		kl = sizeof cat - sizeof guid;
	memcpy(cat, key, kl);
	memcpy(cat + kl, guid, sizeof guid - 1);
	uint8_t dig[20];
	sha1((const uint8_t *)cat, kl + sizeof guid - 1, dig);
	b64(dig, 20, out);
}

int cb_ws_request(char *out, size_t cap, const char *host, const char *path, const char *key)
{
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "\r\n",
			 path, host, key);
	return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

/* Find "Name:" at a line start inside [hdr, end) and copy its trimmed value. */
static int header_value(const char *hdr, const char *end, const char *name,
			char *val, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = hdr;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && isspace((unsigned char)ve[-1]))
				ve--;
			size_t l = (size_t)(ve - v);
			if (l >= cap)
				return -1;
			memcpy(val, v, l);
			val[l] = '\0';
			return 0;
		}
		p = eol + 1;
	}
	return -1;
}

int cb_ws_response(const char *buf, size_t len, const char *key, size_t *hdr_len, int *status)
{
	*status = 0;
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return len > 16384 ? -1 : 0;
	*hdr_len = (size_t)(end - buf) + 4;
	int st = 0;
	if (len < 12 || strncmp(buf, "HTTP/1.1 ", 9) != 0 || sscanf(buf + 9, "%3d", &st) != 1)
		return -1;
	*status = st;
	if (st != 101)
		return -1;
	char val[128], want[CB_WS_ACCEPT_LEN + 1];
	if (header_value(buf, end + 2, "Sec-WebSocket-Accept", val, sizeof val) < 0)
		return -1;
	cb_ws_accept_for(key, want);
	if (strcmp(val, want) != 0)
		return -1;
	if (header_value(buf, end + 2, "Sec-WebSocket-Extensions", val, sizeof val) == 0)
		return -1;   /* we offered none */
	return 1;
}

/* ---- client frames ------------------------------------------------------- */

size_t cb_ws_header_len(size_t len)
{
	return len < 126 ? 6 : len <= 0xFFFF ? 8 : 14;
}

size_t cb_ws_encode(uint8_t *out, int opcode, const void *payload, size_t len, uint32_t mask)
{
	size_t h = 0;
	out[h++] = (uint8_t)(0x80 | (opcode & 0x0F));
	if (len < 126) {
		out[h++] = (uint8_t)(0x80 | len);
	} else if (len <= 0xFFFF) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	uint8_t mk[4] = { (uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8), (uint8_t)mask };
	memcpy(out + h, mk, 4);
	h += 4;
	const uint8_t *src = payload;
	uint8_t *dst = out + h;
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] ^ mk[i & 3];
	return h + len;
}

/* ---- server frames -------------------------------------------------------- */

void cb_ws_rx_init(struct cb_ws_rx *rx)
{
	memset(rx, 0, sizeof *rx);
	rx->msg_op = -1;
	rx->max_msg = 16u << 20;
}

void cb_ws_rx_free(struct cb_ws_rx *rx)
{
	free(rx->buf);
	free(rx->msg);
	cb_ws_rx_init(rx);
}

int cb_ws_close_code(const uint8_t *p, size_t len)
{
	return len >= 2 ? (p[0] << 8 | p[1]) : 1005;
}

static int grow(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 256;
	while (nc < need)
		nc *= 2;
	uint8_t *n = realloc(*p, nc);
	if (!n)
		return CB_WS_ENOMEM;
	*p = n;
	*cap = nc;
	return 0;
}

static int proto(struct cb_ws_rx *rx, const char *why)
{
	rx->error = why;
	return CB_WS_EPROTO;
}

/* Parse complete frames from p[0..n); *used = bytes consumed. */
static int parse(struct cb_ws_rx *rx, uint8_t *p, size_t n, size_t *used,
		 cb_ws_msg_fn fn, void *ud)
{
	size_t off = 0;
	int rc = 0;
	while (n - off >= 2) {
		const uint8_t *f = p + off;
		size_t avail = n - off;
		int fin = f[0] & 0x80, op = f[0] & 0x0F;
		int masked = f[1] & 0x80;
		uint64_t plen = f[1] & 0x7F;
		size_t h = 2;
		if (f[0] & 0x70) {
			rc = proto(rx, "RSV bits set");
			break;
		}
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = (uint64_t)f[2] << 8 | f[3];
			h = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | f[2 + i];
			h = 10;
			if (plen >> 63) {
				rc = proto(rx, "64-bit length with the top bit set");
				break;
			}
		}
		if (plen > rx->max_msg) {
			rc = proto(rx, "frame larger than the message limit");
			break;
		}
		size_t mh = masked ? 4 : 0;
		if (avail < h + mh + plen)
			break;
		uint8_t *pl = p + off + h + mh;
		if (masked) {   /* servers must not mask; tolerate it */
			const uint8_t *mk = f + h;
			for (uint64_t i = 0; i < plen; i++)
				pl[i] ^= mk[i & 3];
		}
		off += h + mh + (size_t)plen;
		if (op >= 0x8) {
			if (!fin || plen > 125) {
				rc = proto(rx, "fragmented or long control frame");
				break;
			}
			if (op != CB_WS_CLOSE && op != CB_WS_PING && op != CB_WS_PONG) {
				rc = proto(rx, "unknown control opcode");
				break;
			}
			if ((rc = fn(ud, op, pl, (size_t)plen)) != 0)
				break;
			continue;
		}
		if (op == CB_WS_CONT) {
			if (rx->msg_op < 0) {
				rc = proto(rx, "continuation without a message");
				break;
			}
		} else if (op == CB_WS_TEXT || op == CB_WS_BINARY) {
			if (rx->msg_op >= 0) {
				rc = proto(rx, "new message inside a fragmented one");
				break;
			}
			if (fin) {   /* the common case: no copy */
				if ((rc = fn(ud, op, pl, (size_t)plen)) != 0)
					break;
				continue;
			}
			rx->msg_op = op;
			rx->msg_len = 0;
		} else {
			rc = proto(rx, "unknown data opcode");
			break;
		}
		if (rx->msg_len + plen > rx->max_msg) {
			rc = proto(rx, "message larger than the limit");
			break;
		}
		if ((rc = grow(&rx->msg, &rx->msg_cap, rx->msg_len + (size_t)plen + 1)) != 0)
			break;
		memcpy(rx->msg + rx->msg_len, pl, (size_t)plen);
		rx->msg_len += (size_t)plen;
		if (fin) {
			int mop = rx->msg_op;
			rx->msg_op = -1;
			if ((rc = fn(ud, mop, rx->msg, rx->msg_len)) != 0)
				break;
		}
	}
	*used = off;
	return rc;
}

int cb_ws_rx_feed(struct cb_ws_rx *rx, const void *data, size_t n, cb_ws_msg_fn fn, void *ud)
{
	size_t used = 0;
	int rc;
	if (rx->len == 0) {
		/* Nothing pending: parse in place (the payload is unmasked in
		 * place only when masked, so drop the const for that case). */
		rc = parse(rx, (uint8_t *)(uintptr_t)data, n, &used, fn, ud);
		if (rc)
			return rc;
		if (used < n) {
			if ((rc = grow(&rx->buf, &rx->cap, n - used)) != 0)
				return rc;
			memcpy(rx->buf, (const uint8_t *)data + used, n - used);
			rx->len = n - used;
		}
		return 0;
	}
	if ((rc = grow(&rx->buf, &rx->cap, rx->len + n)) != 0)
		return rc;
	memcpy(rx->buf + rx->len, data, n);
	rx->len += n;
	rc = parse(rx, rx->buf, rx->len, &used, fn, ud);
	if (used) {
		memmove(rx->buf, rx->buf + used, rx->len - used);
		rx->len -= used;
	}
	return rc;
}
