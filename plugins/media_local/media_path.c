/* media_path.c — media URL paths and queries (see media_path.h). */
#include <string.h>
#include "chatd/status.h"
#include "media_path.h"

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Length of the id at the start of s (stops at the first other byte). */
static size_t id_span(const char *s)
{
	size_t n = 0;
	while (n <= MEDIA_ID_MAX && id_char(s[n]))
		n++;
	return n;
}

bool media_id_valid(const char *id)
{
	if (!id)
		return false;
	size_t n = id_span(id);
	return n >= 1 && n <= MEDIA_ID_MAX && id[n] == '\0';
}

int media_path_parse(const char *path, char id[MEDIA_ID_MAX + 1], bool *thumb)
{
	static const char prefix[] = "/media/";
	if (!path || strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return CHATD_ERR_NOT_FOUND;
	const char *p = path + sizeof(prefix) - 1;
	size_t n = id_span(p);
	if (n < 1 || n > MEDIA_ID_MAX)
		return CHATD_ERR_NOT_FOUND;
	const char *rest = p + n;
	if (*rest == '\0')
		*thumb = false;
	else if (strcmp(rest, "/thumb") == 0)
		*thumb = true;
	else
		return CHATD_ERR_NOT_FOUND;
	memcpy(id, p, n);
	id[n] = '\0';
	return CHATD_OK;
}

/* exp: 1..18 decimal digits (no sign, no overflow). */
static bool parse_exp(const char *v, size_t len, int64_t *out)
{
	if (len < 1 || len > 18)
		return false;
	int64_t x = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return true;
}

static bool parse_sig(const char *v, size_t len, char sig[MEDIA_SIG_HEX + 1])
{
	if (len != MEDIA_SIG_HEX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return false;
	memcpy(sig, v, len);
	sig[len] = '\0';
	return true;
}

int media_query_parse(const char *query, int64_t *exp, char sig[MEDIA_SIG_HEX + 1])
{
	if (!query || strnlen(query, MEDIA_QUERY_MAX + 1) > MEDIA_QUERY_MAX)
		return CHATD_ERR_INVALID;
	bool have_exp = false, have_sig = false, exp_ok = false, sig_ok = false;
	const char *p = query;
	while (*p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (!eq)
			return CHATD_ERR_INVALID;
		size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
		if (klen == 3 && memcmp(p, "exp", 3) == 0 && !have_exp) {
			have_exp = true;
			exp_ok = parse_exp(eq + 1, vlen, exp);
		} else if (klen == 3 && memcmp(p, "sig", 3) == 0 && !have_sig) {
			have_sig = true;
			sig_ok = parse_sig(eq + 1, vlen, sig);
		} else {
			return CHATD_ERR_INVALID;   /* another key, or one twice */
		}
		if (!end)
			break;
		p = end + 1;
		if (!*p)
			return CHATD_ERR_INVALID;   /* a trailing '&' */
	}
	return exp_ok && sig_ok ? CHATD_OK : CHATD_ERR_FORBIDDEN;
}
