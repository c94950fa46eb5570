/* gw_media.c — the gateway's side of HTTP under /media/ (TODO(media)). */
#include "gw_media.h"
