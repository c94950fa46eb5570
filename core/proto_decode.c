/* proto_decode.c — see proto_decode.h. */
#include "proto_decode.h"

#include <stdio.h>
#include <string.h>
#include "utf8.h"

static enum proto_decode_status bad(struct proto_envelope *env, const char *why)
{
	snprintf(env->err, sizeof env->err, "%s", why);
	if (env->root) {
		json_decref(env->root);
		env->root = NULL;
	}
	return PD_BAD_REQUEST;
}

enum proto_decode_status proto_decode(const char *buf, size_t len, struct proto_envelope *env)
{
	memset(env, 0, sizeof *env);
	if (!utf8_valid(buf, len))
		return PD_BAD_UTF8;
	json_error_t jerr;
	/* Duplicate keys are refused: two "type"s make a frame mean two
	 * things.  JSON_ALLOW_NUL is off: strings with NUL are refused. */
	env->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!env->root)
		return bad(env, "malformed JSON");
	if (!json_is_object(env->root))
		return bad(env, "a frame must be a JSON object");

	json_t *id = json_object_get(env->root, "id");
	if (id) {
		if (!json_is_string(id) || json_string_length(id) > 4 * PROTO_ID_MAX ||
		    strlen(json_string_value(id)) != json_string_length(id) ||
		    utf8_codepoints(json_string_value(id), json_string_length(id)) > PROTO_ID_MAX)
			return bad(env, "id must be a string of at most 64 characters");
		memcpy(env->id, json_string_value(id), json_string_length(id));
		env->id[json_string_length(id)] = '\0';
		env->has_id = true;
	}
	json_t *type = json_object_get(env->root, "type");
	if (!type || !json_is_string(type))
		return bad(env, "type must be a string");
	size_t tl = json_string_length(type);
	if (tl == 0 || tl > PROTO_TYPE_MAX)
		return bad(env, "unknown type");
	memcpy(env->type, json_string_value(type), tl);
	env->type[tl] = '\0';
	return PD_OK;
}

bool proto_get_id_string(json_t *o, const char *key, bool required, size_t min, size_t max,
			 const char **out, char *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, 128, "%s is required", key);
		return !required;
	}
	if (!json_is_string(v)) {
		snprintf(err, 128, "%s must be a string", key);
		return false;
	}
	size_t n = utf8_codepoints(json_string_value(v), json_string_length(v));
	if (n < min || n > max || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, 128, "%s must be %zu to %zu characters", key, min, max);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

bool proto_get_int(json_t *o, const char *key, bool required, long long min, long long max,
		   long long *out, char *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, 128, "%s is required", key);
		return !required;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(err, 128, "%s must be an integer from %lld to %lld", key, min, max);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

bool proto_get_bool(json_t *o, const char *key, bool *out, char *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return true;
	if (!json_is_boolean(v)) {
		snprintf(err, 128, "%s must be true or false", key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}
