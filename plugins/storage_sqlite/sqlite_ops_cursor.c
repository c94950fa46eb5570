/* sqlite_ops_cursor.c — read cursors moved forward in batches (ABI 1.3). */
#include "sqlite_ops.h"

int sqlite_op_cursors_advance_new(const struct chatd_read_cursor *c, size_t n, chatd_id_cb cb,
				  void *arg, struct sqlite_req **out)
{
	(void)c; (void)n; (void)cb; (void)arg; (void)out;
	return CHATD_ERR_INTERNAL; /* TODO(receipts): implement */
}
