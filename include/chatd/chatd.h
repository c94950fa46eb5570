/* chatd/chatd.h — everything a plugin author includes. */
#ifndef CHATD_CHATD_H
#define CHATD_CHATD_H
#include "chatd/status.h"
#include "chatd/plugin.h"
#include "chatd/host.h"
#include "chatd/storage.h"
#include "chatd/presence.h"
#include "chatd/bus.h"
#include "chatd/fanout.h"
#include "chatd/receipts.h"
#include "chatd/notify.h"
#include "chatd/media.h"
#endif
