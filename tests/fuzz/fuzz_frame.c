/* fuzz_frame.c — libFuzzer target for the gateway's frame decoder. */
#include <stddef.h>
#include <stdint.h>
#include "proto_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_envelope env;
	if (proto_decode((const char *)data, size, &env) == PD_OK) {
		const char *s = NULL;
		long long n = 0;
		bool b = false;
		char err[128];
		(void)proto_get_id_string(env.root, "client_message_id", true, 1, 64, &s, err);
		(void)proto_get_int(env.root, "seq", false, 1, (1LL << 53), &n, err);
		(void)proto_get_bool(env.root, "locked", &b, err);
		json_decref(env.root);
	}
	return 0;
}
