/* online_set.c — see online_set.h. */
#include "online_set.h"
typedef int online_set_placeholder;
