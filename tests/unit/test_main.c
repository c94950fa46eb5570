/* test_main.c — runs every unit suite.  CUnit's runner returns 0 even when
 * asserts fail, so the exit status comes from the failure counts. */
#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "unit.h"

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	unit_register_utf8();
	unit_register_log();
	unit_register_proto_decode();
	unit_register_frame();
	unit_register_cluster_codec();
	unit_register_redis_plugins();
	unit_register_metrics();
	unit_register_host_io();
	unit_register_config();
	unit_register_auth();
	unit_register_storage_sqlite();
	unit_register_member_cache();
	unit_register_chatbench();
	unit_register_moderation();
	unit_register_lua_host();
	unit_register_storage_sqlite_mod();
	unit_register_storage_admin();
	unit_register_storage_groups();
	unit_register_storage_messages();
	unit_register_storage_texts();
	unit_register_online_set();
	unit_register_roles();
	unit_register_mod_dupe();
	unit_register_mod_sync();
	unit_register_receipts();
	unit_register_receipts_storage();
	unit_register_proto_media();
	unit_register_storage_media();
	unit_register_media_local();
	unit_register_media_local_flow();
	unit_register_media_local_gc();
	unit_register_chatctl();
	unit_register_web();
	unit_register_admin_parse();
	unit_register_media_parse();
	unit_register_pg_shard();
	unit_register_pg_search();
	unit_register_search();
	unit_register_notify();
	unit_register_enc();
	unit_register_conncap();
	unit_register_file_crypt();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		/* Run one suite by name: test_all SUITE */
		CU_pSuite s = CU_get_suite(argv[1]);
		if (!s) {
			fprintf(stderr, "no suite %s\n", argv[1]);
			CU_cleanup_registry();
			return 2;
		}
		CU_basic_run_suite(s);
	} else {
		CU_basic_run_tests();
	}
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
			  CU_get_number_of_suites_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	return (failed || run == 0) ? 1 : 0;
}
