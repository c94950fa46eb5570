/* media_parse.c — see media_parse.h.  Moved out of cmd_media.c and
 * gw_media.c, behaviour unchanged, so that the fuzzer reaches it. */
#include "media_parse.h"

#include <stdio.h>
#include <string.h>
#include "proto_decode.h"

/* RFC 7230 tchar: what a MIME type or subtype may be made of. */
static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

bool media_mime_ok(const char *s, size_t len)
{
	if (len < 1 || len > MEDIA_MIME_MAX || strlen(s) != len)
		return false;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || slash[1] == '\0')
		return false;
	for (const char *p = s; *p; p++)
		if (p != slash && !is_tchar((unsigned char)*p))
			return false;
	return true;
}

bool media_parse_upload(json_t *msg, struct media_upload_args *a, char *err)
{
	json_t *mime = json_object_get(msg, "mime");
	if (!json_is_string(mime) || !media_mime_ok(json_string_value(mime),
						    json_string_length(mime))) {
		snprintf(err, 128, "mime must be a type/subtype of 1 to 127 characters");
		return false;
	}
	json_t *size = json_object_get(msg, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 1 ||
	    json_integer_value(size) > MEDIA_SIZE_MAX_JSON) {
		snprintf(err, 128, "size must be an integer >= 1");
		return false;
	}
	const char *name = NULL;
	if (!proto_get_id_string(msg, "name", false, 0, MEDIA_NAME_MAX_CHARS, &name, err))
		return false;
	a->mime = json_string_value(mime);
	a->size = (int64_t)json_integer_value(size);
	a->name = name && name[0] ? name : NULL;
	return true;
}

bool media_parse_content_length(const char *s, int64_t *out)
{
	if (!*s)
		return false;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

bool media_query_append(char *out, size_t cap, size_t *n, const char *frag, size_t len)
{
	if (len == 0)
		return true;
	if (*n + (*n ? 1 : 0) + len + 1 > cap)
		return false;
	if (*n)
		out[(*n)++] = '&';
	memcpy(out + *n, frag, len);
	*n += len;
	out[*n] = '\0';
	return true;
}
