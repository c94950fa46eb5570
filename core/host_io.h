/* host_io.h — the host API's fd watches and node id (ABI 1.4). */
#ifndef CHATD_HOST_IO_H
#define CHATD_HOST_IO_H

#include "chatd/host.h"

chatd_io_id host_io_add(chatd_plugin_handle *h, int fd, unsigned events, chatd_io_fn fn,
			void *arg);
int host_io_set(chatd_plugin_handle *h, chatd_io_id id, unsigned events);
void host_io_remove(chatd_plugin_handle *h, chatd_io_id id);
/* Every watch of h (at unload). */
void host_io_remove_all(chatd_plugin_handle *h);
const char *host_node_id(chatd_plugin_handle *h);

#endif
