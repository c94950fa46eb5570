/* cmd_receipts.c — read and receipts: read cursors through the receipts plugin. */
#include "pipeline.h"

void cmd_read(struct cmd *c)
{
	cmd_error(c, "bad_request", "not implemented yet"); /* TODO(receipts) */
}

void cmd_receipts(struct cmd *c)
{
	cmd_error(c, "bad_request", "not implemented yet"); /* TODO(receipts) */
}
