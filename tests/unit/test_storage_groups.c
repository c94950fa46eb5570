/* test_storage_groups.c — storage_sqlite ABI 1.2 ops. */
#include "unit.h"

void unit_register_storage_groups(void)
{
}
