/* storage_crypt.h — encryption at rest between the core and the storage
 * plugin: a storage ops table that seals message text on its way to storage
 * (append, message_edit) and opens it in every result that carries messages
 * (history, sync, message_get, message_edit, message_set_visibility,
 * message_delete, messages_latest, search), so every reader (commands, the
 * admin API, plugins that read through host->storage) sees plaintext.  Other
 * ops pass straight through.  See enc.h for the sealed form.
 *
 * One storage per process: the wrapper's state is this module's.  Core
 * thread only. */
#ifndef CHATD_STORAGE_CRYPT_H
#define CHATD_STORAGE_CRYPT_H

#include <stdbool.h>
#include <stdint.h>
#include "enc.h"
#include "chatd/storage.h"

/* The table to use instead of real: real itself when kr has no keys.  kr
 * is borrowed and must outlive every op (the config's ring).  Ops the real
 * table lacks stay absent (same struct_size, NULL fields). */
const struct chatd_storage_ops *storage_crypt_wrap(const struct chatd_storage_ops *real,
						   const struct enc_keyring *kr);

/* True when new text is sealed (encryption.active set). */
bool storage_crypt_sealing(void);

/* Stored texts that could not be opened since start (unknown key id,
 * tampered, malformed); each also logged as enc.open_failed. */
uint64_t storage_crypt_open_failures(void);

#endif
