/* test_proto_media.c — the `media` object of messages (core/proto_encode.c)
 * with a stub media plugin that signs URLs. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "unit.h"
#include "../../core/proto_encode.h"

static int urls_status = CHATD_OK;
static int urls_calls;

static int stub_urls(void *inst, const struct chatd_media_ref *m, char *url, size_t url_cap,
		     char *thumb, size_t thumb_cap)
{
	CU_ASSERT_PTR_EQUAL(inst, (void *)&urls_calls);
	urls_calls++;
	if (urls_status != CHATD_OK)
		return urls_status;
	snprintf(url, url_cap, "/media/%s?sig=u", m->media_id);
	snprintf(thumb, thumb_cap, "%s", m->thumbnail ? "/media/t?sig=t" : "");
	return CHATD_OK;
}

static const struct chatd_media_ops stub_ops = {
	.struct_size = sizeof(struct chatd_media_ops),
	.urls = stub_urls,
};

static struct chatd_message msg(void)
{
	return (struct chatd_message){
		.conversation_id = "c1", .seq = 3, .message_id = "m1", .sender_id = "alice",
		.ts = 1, .media_id = "md1", .media_mime = "image/png", .media_size = 42,
	};
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void test_with_and_without_thumbnail(void)
{
	proto_set_media(&stub_ops, &urls_calls);
	urls_status = CHATD_OK;
	struct chatd_message m = msg();
	json_t *o = proto_message(&m, false);
	json_t *md = json_object_get(o, "media");
	CU_ASSERT_STRING_EQUAL(str(md, "media_id"), "md1");
	CU_ASSERT_STRING_EQUAL(str(md, "mime"), "image/png");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(md, "size")), 42);
	CU_ASSERT_STRING_EQUAL(str(md, "url"), "/media/md1?sig=u");
	CU_ASSERT_PTR_NULL(json_object_get(md, "thumbnail_url"));
	json_decref(o);

	m.media_thumbnail = true;
	o = proto_message(&m, false);
	md = json_object_get(o, "media");
	CU_ASSERT_STRING_EQUAL(str(md, "thumbnail_url"), "/media/t?sig=t");
	json_decref(o);
	proto_set_media(NULL, NULL);
}

/* Deleted: no media; no text or media id: no object. */
static void test_deleted_and_none(void)
{
	proto_set_media(&stub_ops, &urls_calls);
	struct chatd_message m = msg();
	m.deleted = true;
	json_t *o = proto_message(&m, false);
	CU_ASSERT_PTR_NULL(json_object_get(o, "media"));
	json_decref(o);
	m = msg();
	m.media_id = NULL;
	m.text = "hi";
	o = proto_message(&m, false);
	CU_ASSERT_PTR_NULL(json_object_get(o, "media"));
	json_decref(o);
	proto_set_media(NULL, NULL);
}

/* The upload's row gone, no plugin, or signing failed: what is known. */
static void test_degraded(void)
{
	struct chatd_message m = msg();
	m.media_mime = NULL;
	proto_set_media(&stub_ops, &urls_calls);
	int before = urls_calls;
	json_t *o = proto_message(&m, false);
	json_t *md = json_object_get(o, "media");
	CU_ASSERT_STRING_EQUAL(str(md, "media_id"), "md1");
	CU_ASSERT_EQUAL(json_object_size(md), 1);
	CU_ASSERT_EQUAL(urls_calls, before);
	json_decref(o);

	m = msg();
	urls_status = CHATD_ERR_TOO_LARGE;
	o = proto_message(&m, false);
	md = json_object_get(o, "media");
	CU_ASSERT_STRING_EQUAL(str(md, "mime"), "image/png");
	CU_ASSERT_PTR_NULL(json_object_get(md, "url"));
	json_decref(o);
	urls_status = CHATD_OK;

	proto_set_media(NULL, NULL);
	o = proto_message(&m, false);
	md = json_object_get(o, "media");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(md, "size")), 42);
	CU_ASSERT_PTR_NULL(json_object_get(md, "url"));
	json_decref(o);
}

void unit_register_proto_media(void)
{
	CU_pSuite s = CU_add_suite("proto_media", NULL, NULL);
	CU_add_test(s, "url, thumbnail_url only with a thumbnail", test_with_and_without_thumbnail);
	CU_add_test(s, "deleted or no media: no object", test_deleted_and_none);
	CU_add_test(s, "row gone, signing failed, no plugin", test_degraded);
}
