/* log_json.c — one log line as a JSON object (see log.h, log_format_line).
 *
 * Strings are escaped one unit at a time (a character, an escape, or the
 * U+FFFD that replaces a bad byte) and a unit is written whole or not at
 * all, so a cut line is still valid JSON and valid UTF-8. */
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "utf8.h"

#define COMPONENT_MAX 64
#define EVENT_MAX 96

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026 */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if the
 * bytes there are not one (utf8.c's strict rules). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
		     : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	return len && len <= n && utf8_valid((const char *)s, len) ? len : 0;
}

/* Escape len bytes of s into out (room bytes).  Returns the bytes written;
 * *cut is set when s did not fit whole. */
static size_t escape(char *out, size_t room, const char *s, size_t len, bool *cut)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;
	*cut = false;
	while (i < len) {
		char unit[8];
		const char *u = unit;
		size_t ulen, adv = 1;
		unsigned c = p[i];
		if (c == '"' || c == '\\') {
			unit[0] = '\\';
			unit[1] = (char)c;
			ulen = 2;
		} else if (c < 0x20 || c == 0x7f) {
			const char *short_esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
						: NULL;
			if (short_esc) {
				memcpy(unit, short_esc, 2);
				ulen = 2;
			} else {
				memcpy(unit, "\\u00", 4);
				unit[4] = hex[c >> 4];
				unit[5] = hex[c & 0xf];
				ulen = 6;
			}
		} else if (c < 0x80) {
			unit[0] = (char)c;
			ulen = 1;
		} else if ((adv = utf8_seq(p + i, len - i)) > 0) {
			u = (const char *)p + i;
			ulen = adv;
		} else {
			u = "\xef\xbf\xbd"; /* U+FFFD for the bad byte */
			ulen = 3;
			adv = 1;
		}
		if (ulen > room - o) {
			*cut = true;
			break;
		}
		memcpy(out + o, u, ulen);
		o += ulen;
		i += adv;
	}
	return o;
}

/* Append a literal; the caller reserved the room. */
static size_t put(char *out, size_t o, const char *s)
{
	size_t n = strlen(s);
	memcpy(out + o, s, n);
	return o + n;
}

static size_t put_field(char *out, size_t o, const char *key, const char *val, size_t max)
{
	bool cut;
	o = put(out, o, key);
	size_t len = val ? strnlen(val, max) : 0;
	/* Escaping grows a byte to at most 6: the room is reserved for that. */
	o += escape(out + o, 6 * max, val ? val : "", len, &cut);
	return put(out, o, "\"");
}

size_t log_format_line(char *out, size_t cap, const struct log_line *l)
{
	if (cap < LOG_LINE_MIN)
		return 0; /* the head alone may need ~1.1 KiB */
	char ts[80];
	time_t sec = (time_t)(l->ts_ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(l->ts_ms % 1000));
	int lv = l->level < LOG_ERROR ? LOG_ERROR : l->level > LOG_DEBUG ? LOG_DEBUG : l->level;

	/* The head never exceeds its bound: ts is 24 bytes, component and event
	 * escaped ≤ 6 × their caps, the keys ~60. */
	size_t o = 0;
	o = put(out, o, "{\"ts\":\"");
	o = put(out, o, ts);
	o = put(out, o, "\",\"level\":\"");
	o = put(out, o, level_names[lv]);
	o = put_field(out, o, "\",\"component\":\"", l->component, COMPONENT_MAX);
	o = put_field(out, o, ",\"event\":\"", l->event, EVENT_MAX);
	o = put(out, o, ",\"msg\":\"");

	char tail[96];
	size_t t = 0;
	t = put(tail, t, "\"");
	if (l->trace) {
		char hx[17];
		log_trace_hex(l->trace, hx);
		t = put(tail, t, ",\"trace\":\"");
		t = put(tail, t, hx);
		t = put(tail, t, "\"");
	}
	if (l->user_hash) {
		t = put(tail, t, ",\"user\":\"");
		memcpy(tail + t, l->user_hash, strnlen(l->user_hash, LOG_USER_HASH_LEN));
		t += strnlen(l->user_hash, LOG_USER_HASH_LEN);
		t = put(tail, t, "\"");
	}
	t = put(tail, t, "}\n");

	size_t mark = sizeof ellipsis - 1;
	size_t room = cap > o + t + mark ? cap - o - t - mark : 0;
	bool cut;
	o += escape(out + o, room, l->msg ? l->msg : "", l->msg ? l->msg_len : 0, &cut);
	if (cut || l->msg_cut)
		o = put(out, o, ellipsis);
	memcpy(out + o, tail, t);
	return o + t;
}
