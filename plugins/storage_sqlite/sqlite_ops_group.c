/* sqlite_ops_group.c — group management ops (ABI 1.2): conv_change, members_get. */
#include "sqlite_ops.h"
