/* sqlite_ops_msg.c — message ops (ABI 1.2): get, edit, delete, hide, purge. */
#include "sqlite_ops.h"
