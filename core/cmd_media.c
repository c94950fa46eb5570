/* cmd_media.c — media.upload and media.url through the media plugin. */
#include "pipeline.h"

void cmd_media_upload(struct cmd *c)
{
	cmd_error(c, "bad_request", "not implemented yet"); /* TODO(media) */
}

void cmd_media_url(struct cmd *c)
{
	cmd_error(c, "bad_request", "not implemented yet"); /* TODO(media) */
}
