/* gw_media.h — the gateway's side of HTTP under /media/ (TODO(media)). */
#ifndef CHATD_GW_MEDIA_H
#define CHATD_GW_MEDIA_H
#endif
