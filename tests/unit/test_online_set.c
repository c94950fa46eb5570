/* test_online_set.c — fanout_hybrid's online member sets. */
#include "unit.h"

void unit_register_online_set(void)
{
}
