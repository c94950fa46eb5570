/* proto_decode.h — the gateway's decoder for one complete client text
 * message: UTF-8, JSON, envelope (type, id).  Pure; used by the gateway and
 * the fuzzer. */
#ifndef CHATD_PROTO_DECODE_H
#define CHATD_PROTO_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define PROTO_ID_MAX 64
#define PROTO_TYPE_MAX 32

enum proto_decode_status {
	PD_OK = 0,
	PD_BAD_UTF8,     /* close 1007 */
	PD_BAD_REQUEST,  /* error bad_request; connection stays */
};

struct proto_envelope {
	json_t *root;                 /* owned; NULL unless PD_OK */
	char type[PROTO_TYPE_MAX + 1];
	char id[4 * PROTO_ID_MAX + 1]; /* up to 64 code points */
	bool has_id;                  /* a valid id was present (also set on PD_BAD_REQUEST when the id itself was fine) */
	char err[128];                /* why, on PD_BAD_REQUEST */
};

/* Decode buf[0..len).  On PD_OK the caller owns env->root. */
enum proto_decode_status proto_decode(const char *buf, size_t len, struct proto_envelope *env);

/* Field helpers for command handlers: each returns true and sets *out when
 * the field is valid; on false, err (at least 128 bytes) says why.
 * A missing optional field returns true with *out untouched. */
bool proto_get_id_string(json_t *o, const char *key, bool required, size_t min, size_t max,
			 const char **out, char *err);
bool proto_get_int(json_t *o, const char *key, bool required, long long min, long long max,
		   long long *out, char *err);
bool proto_get_bool(json_t *o, const char *key, bool *out, char *err);

#endif
