/* fanout_hybrid — fan-out on write up to write_threshold members, on read above. */
#include "online_set.h"
typedef int fanout_hybrid_placeholder;
