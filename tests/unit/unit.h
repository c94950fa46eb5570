/* unit.h — the unit test binary's registry: each test_<area>.c defines
 * one unit_register_<area>() that adds its CUnit suite(s). */
#ifndef CHATD_UNIT_H
#define CHATD_UNIT_H
#include <CUnit/CUnit.h>

void unit_register_utf8(void);
void unit_register_log(void);
void unit_register_proto_decode(void);
void unit_register_frame(void);
void unit_register_cluster_codec(void);
void unit_register_redis_plugins(void);
void unit_register_metrics(void);
void unit_register_host_io(void);
void unit_register_config(void);
void unit_register_auth(void);
void unit_register_storage_sqlite(void);
void unit_register_member_cache(void);
void unit_register_chatbench(void);
void unit_register_moderation(void);
void unit_register_lua_host(void);
void unit_register_storage_sqlite_mod(void);
void unit_register_storage_admin(void);
void unit_register_storage_groups(void);
void unit_register_storage_messages(void);
void unit_register_storage_texts(void);
void unit_register_online_set(void);
void unit_register_roles(void);
void unit_register_mod_dupe(void);
void unit_register_mod_sync(void);
void unit_register_receipts(void);
void unit_register_receipts_storage(void);
void unit_register_proto_media(void);
void unit_register_storage_media(void);
void unit_register_media_local(void);
void unit_register_media_local_flow(void);
void unit_register_media_local_gc(void);
void unit_register_chatctl(void);
void unit_register_web(void);
void unit_register_admin_parse(void);
void unit_register_media_parse(void);
void unit_register_pg_shard(void);
void unit_register_pg_search(void);
void unit_register_search(void);
void unit_register_notify(void);
void unit_register_enc(void);
void unit_register_conncap(void);
void unit_register_file_crypt(void);

#endif
