/* test_storage_messages.c — storage_sqlite message ops (ABI 1.2). */
#include "unit.h"

void unit_register_storage_messages(void)
{
}
