/* chatd/receipts.h — the receipts kind (ABI 1.3): read cursors.
 *
 * The core checks membership, caps seq to the conversation's last_seq and
 * reads the stored cursor; the plugin decides whether the cursor moves
 * (forward only), when it is written (write-behind, through the storage op
 * cursors_advance) and whether the other members are told.  Sync ops, core
 * thread only. */
#ifndef CHATD_RECEIPTS_H
#define CHATD_RECEIPTS_H

#include "chatd/plugin.h"

/* mark_read result flags */
#define CHATD_RECEIPT_MOVED 1   /* the cursor moved forward */
#define CHATD_RECEIPT_PUSH  2   /* tell the other members (`receipt` frame) */

struct chatd_receipts_ops {
	uint32_t struct_size;
	/* user_id has read conversation_id up to seq.  `stored` is their
	 * cursor as the core just read it from storage; `member_count` the
	 * conversation's size.  Returns CHATD_RECEIPT_* flags (0: nothing
	 * changed) or a negative status. */
	int (*mark_read)(void *inst, const char *conversation_id, const char *user_id,
			 int64_t seq, int64_t stored, int64_t member_count);
	/* The user's cursor as readers must see it: the larger of `stored`
	 * and what is waiting to be written. */
	int64_t (*cursor)(void *inst, const char *conversation_id, const char *user_id,
			  int64_t stored);
};

#endif
