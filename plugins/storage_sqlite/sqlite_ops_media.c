/* sqlite_ops_media.c — media metadata rows (ABI 1.3). */
#include "sqlite_ops.h"

/* TODO(media): implement every op below. */
int sqlite_op_media_put_new(const struct chatd_media_row *row, chatd_status_cb cb, void *arg,
			    struct sqlite_req **out)
{ (void)row; (void)cb; (void)arg; (void)out; return CHATD_ERR_INTERNAL; }
int sqlite_op_media_get_new(const char *media_id, chatd_media_row_cb cb, void *arg,
			    struct sqlite_req **out)
{ (void)media_id; (void)cb; (void)arg; (void)out; return CHATD_ERR_INTERNAL; }
int sqlite_op_media_ready_new(const char *media_id, const char *hash, bool thumbnail, int64_t ts,
			      chatd_status_cb cb, void *arg, struct sqlite_req **out)
{ (void)media_id; (void)hash; (void)thumbnail; (void)ts; (void)cb; (void)arg; (void)out; return CHATD_ERR_INTERNAL; }
int sqlite_op_media_usage_new(const char *owner_id, int64_t since, chatd_media_usage_cb cb,
			      void *arg, struct sqlite_req **out)
{ (void)owner_id; (void)since; (void)cb; (void)arg; (void)out; return CHATD_ERR_INTERNAL; }
int sqlite_op_media_access_new(const char *media_id, const char *user_id, chatd_id_cb cb,
			       void *arg, struct sqlite_req **out)
{ (void)media_id; (void)user_id; (void)cb; (void)arg; (void)out; return CHATD_ERR_INTERNAL; }
int sqlite_op_media_orphans_new(int64_t before, int limit, chatd_media_rows_cb cb, void *arg,
				struct sqlite_req **out)
{ (void)before; (void)limit; (void)cb; (void)arg; (void)out; return CHATD_ERR_INTERNAL; }
int sqlite_op_media_remove_new(const char *media_id, chatd_id_cb cb, void *arg,
			       struct sqlite_req **out)
{ (void)media_id; (void)cb; (void)arg; (void)out; return CHATD_ERR_INTERNAL; }
