/* fuzz_config.c — libFuzzer target for the config loader: the input is run
 * as chatd.conf in the sandbox and checked; every outcome must end quickly,
 * without a crash or a leak.  Successful loads also go through a plugin
 * section check so that path is covered too. */
#include <stddef.h>
#include <stdint.h>
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct chatd_option fuzz_schema[] = {
	{ "path", CHATD_OPT_STRING, "chatd.db", 0, -1, false, false, NULL },
	{ "batch_max", CHATD_OPT_INT, "256", 1, 4096, false, false, NULL },
	{ "wal", CHATD_OPT_BOOL, "true", 0, -1, false, false, NULL },
	{ "password", CHATD_OPT_STRING, NULL, 0, -1, false, true, NULL },
	{ NULL, 0, NULL, 0, 0, false, false, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chatd_config *cfg = NULL;
	struct cfg_errors errs = { 0 };
	if (cfg_load_string((const char *)data, size, "fuzz.conf", &cfg, &errs) == CHATD_OK) {
		(void)cfg_check_plugin_section(cfg, "storage_sqlite", fuzz_schema, &errs);
		(void)cfg_section_value(cfg, "storage_sqlite", "path");
		cfg_free(cfg);
	}
	cfg_errors_clear(&errs);
	return 0;
}
