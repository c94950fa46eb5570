/* test_storage_sqlite_mod.c — storage_sqlite moderation ops (ABI 1.1). */
#include "unit.h"

void unit_register_storage_sqlite_mod(void)
{
}
