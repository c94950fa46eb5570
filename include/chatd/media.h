/* chatd/media.h — the media kind (ABI 1.3): uploads, files, signed URLs.
 *
 * The core answers `media.upload` and checks `media_id` on send through these
 * ops; the gateway hands every HTTP request under /media/ to the core, which
 * asks http_begin what to do with it (the gateway then moves the bytes, and
 * never decides anything itself).  Metadata lives in storage (the media_*
 * ops of chatd/storage.h), so every node sees the same uploads.
 *
 * All ops run on the core thread; callbacks too (they may run before the op
 * returns).  An op that returns a negative status does not call cb. */
#ifndef CHATD_MEDIA_H
#define CHATD_MEDIA_H

#include "chatd/plugin.h"

/* What a message shows of its media. */
struct chatd_media_ref {
	const char *media_id;
	const char *mime;
	int64_t size;
	bool thumbnail;                /* a thumbnail exists */
};

/* The answer to media.upload.  On error only message (and for
 * CHATD_ERR_RATE_LIMITED retry_after_ms) are set. */
struct chatd_media_upload {
	const char *media_id;
	const char *upload_url;        /* "/media/…?exp=…&sig=…" (opaque to clients) */
	int64_t expires_at;            /* ms since the epoch */
	int64_t retry_after_ms;
	const char *message;           /* for the client: why it was refused */
};
/* status: OK; INVALID (mime not allowed, bad size); TOO_LARGE (over the
 * maximum size or the user's quota); RATE_LIMITED; UNAVAILABLE. */
typedef void (*chatd_media_upload_cb)(void *arg, int status, const struct chatd_media_upload *u);
/* status: OK with m; NOT_FOUND; INVALID (upload not complete). */
typedef void (*chatd_media_ref_cb)(void *arg, int status, const struct chatd_media_ref *m);

/* An HTTP request under /media/, as the gateway received it. */
struct chatd_media_http_req {
	const char *method;            /* "GET", "HEAD" or "PUT" */
	const char *path;              /* "/media/…", without the query */
	const char *query;             /* after '?', "" when none */
	int64_t content_length;        /* PUT: the declared length; -1 unknown */
};

/* What the gateway does with it.
 *   status 0 and PUT: receive exactly `size` bytes into `file` (the gateway
 *     creates it, O_EXCL, mode 0600), then report with http_put_done; a body
 *     of another length gets 400 from the gateway (and put_done ok=false).
 *   status 0 and GET/HEAD: send `file` (`size` bytes) as `content_type`.
 *   status >= 100: reply that status with {"error": error, "message": …}. */
struct chatd_media_http_reply {
	int status;
	const char *file;
	const char *content_type;
	int64_t size;
	uint64_t upload;               /* PUT: the token to give http_put_done */
	const char *error;             /* short code, e.g. "forbidden" */
	const char *message;
};
typedef void (*chatd_media_http_cb)(void *arg, const struct chatd_media_http_reply *r);

struct chatd_media_ops {
	uint32_t struct_size;
	/* media.upload by user_id: mime as declared, size in bytes, name may
	 * be NULL. */
	int (*upload_begin)(void *inst, const char *user_id, const char *mime, int64_t size,
			    const char *name, chatd_media_upload_cb cb, void *arg);
	/* user_id sends a message with media_id: OK with the ref when the
	 * upload is theirs and complete; NOT_FOUND when it never existed or
	 * is someone else's; INVALID when the upload is not complete. */
	int (*check_send)(void *inst, const char *media_id, const char *user_id,
			  chatd_media_ref_cb cb, void *arg);
	/* user_id asks for media_id (to get fresh URLs): OK when they uploaded
	 * it or are a member of a conversation where a message carries it;
	 * else NOT_FOUND. */
	int (*lookup)(void *inst, const char *media_id, const char *user_id,
		      chatd_media_ref_cb cb, void *arg);
	/* Signed, expiring download URLs for m (sync, pure): url always,
	 * thumb ("" when m has no thumbnail).  Returns CHATD_OK, or
	 * CHATD_ERR_TOO_LARGE when a buffer is too small. */
	int (*urls)(void *inst, const struct chatd_media_ref *m, char *url, size_t url_cap,
		    char *thumb, size_t thumb_cap);
	/* HTTP: the start of a request under /media/. */
	int (*http_begin)(void *inst, const struct chatd_media_http_req *r,
			  chatd_media_http_cb cb, void *arg);
	/* HTTP: the body of the PUT `upload` is in its file (ok) or the
	 * transfer failed (ok false: the gateway has removed the file).  cb
	 * gets the final status (201 when the media is ready; 415 when the
	 * content does not match its type; …).  With ok false cb is still
	 * called (its reply is not sent anywhere). */
	int (*http_put_done)(void *inst, uint64_t upload, bool ok, chatd_media_http_cb cb,
			     void *arg);
};

#endif
