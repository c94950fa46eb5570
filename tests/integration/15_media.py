"""Media: media.upload, the PUT of the bytes, send with media_id, the media
object of messages (history, sync), downloads and thumbnails, signed URLs
(expired, tampered), size/type/quota/rate refusals, media.url access, the
orphan GC, and a server without a media plugin.  Runs media_local with a
known secret, so the tests can sign URLs of their own (an expired one, a
valid one for comparison) the way media_local does:
HMAC-SHA256(secret, method "\\n" path "\\n" exp) in lowercase hex."""

import hashlib
import hmac
import http.client as httpc
import json
import os
import socket
import struct
import threading
import time
import urllib.parse
import zlib

import pytest

from chatclient import Client, new_cmid, now_ms, run, db_exec

SECRET = "media-test-secret-0123456789abcdef0123"


# --------------------------------------------------------------------------
# helpers

def png(width=40, height=30, seed=0):
    """A valid RGB PNG with a gradient (seed makes each image distinct)."""
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 7 + seed) & 255, (y * 5) & 255, (x + y + seed) & 255))
                           for x in range(width))
        for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200
TEXT_BYTES = b"hello, this is plain text and not an image\n" * 4


def media_server(chatd, tmp_path, **media):
    d = str(tmp_path / "media")
    cfg = {"dir": d, "secret": SECRET}
    cfg.update(media)
    srv = chatd(plugins={"media": "local"}, media_local=cfg)
    srv.media_dir = d
    return srv


def http(srv, method, url, body=None, headers=None, conn=None, timeout=10):
    """One HTTP request; returns (status, headers (lowercase names), body)."""
    c = conn or httpc.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        c.request(method, url, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if conn is None:
            c.close()


def http_json(srv, method, url, body=None, **kw):
    st, h, data = http(srv, method, url, body, **kw)
    return st, (json.loads(data) if data else None)


def files_in(d):
    """Every regular file under d (relative paths)."""
    out = set()
    for root, _, names in os.walk(d):
        for n in names:
            out.add(os.path.relpath(os.path.join(root, n), d))
    return out


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def sign(method, path, exp):
    return hmac.new(SECRET.encode(), ("%s\n%s\n%d" % (method, path, exp)).encode(),
                    hashlib.sha256).hexdigest()


def resigned(url, method, exp):
    """url with its exp replaced and signed again with the test's secret."""
    path = urllib.parse.urlsplit(url).path
    return "%s?exp=%d&sig=%s" % (path, exp, sign(method, path, exp))


def with_query(url, **repl):
    parts = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(parts.query))
    q.update(repl)
    return parts.path + "?" + urllib.parse.urlencode(q)


async def begin(client, data, mime="image/png", name=None):
    f = {"type": "media.upload", "mime": mime, "size": len(data)}
    if name is not None:
        f["name"] = name
    r = await client.call(f, "media.upload")
    assert r["method"] == "PUT", r
    assert r["upload_url"].startswith("/media/"), r
    assert isinstance(r["expires_at"], int) and r["expires_at"] > now_ms(), r
    assert isinstance(r["media_id"], str) and r["media_id"], r
    return r


async def upload(srv, client, data, mime="image/png", name=None):
    """media.upload then PUT; returns the media_id."""
    r = await begin(client, data, mime, name)
    st, body = http_json(srv, "PUT", r["upload_url"], data)
    assert st == 201, (st, body)
    return r["media_id"]


async def send_media(client, conv, media_id, text=None, cmid=None):
    f = {"type": "send", "conversation_id": conv, "client_message_id": cmid or new_cmid(),
         "media_id": media_id}
    if text is not None:
        f["text"] = text
    return await client.call(f, "ack")


def check_media_object(m, media_id, mime, size, thumbnail):
    assert set(m) >= {"media_id", "mime", "size", "url"}, m
    assert m["media_id"] == media_id and m["mime"] == mime and m["size"] == size, m
    assert m["url"].startswith("/media/") and "sig=" in m["url"] and "exp=" in m["url"], m
    if thumbnail:
        assert m.get("thumbnail_url", "").startswith("/media/"), m
    else:
        assert "thumbnail_url" not in m, m


# --------------------------------------------------------------------------
# round trip

def test_png_round_trip_history_sync(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    image = png(80, 60, seed=1)

    async def go():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        r = await begin(a, image, "image/png", name="cat.png")
        st, h, body = http(srv, "PUT", r["upload_url"], image,
                           headers={"Content-Type": "image/png"})
        assert st == 201 and json.loads(body) == {"ok": True}, (st, body)
        assert h["content-type"].startswith("application/json"), h
        assert h["connection"] == "close", h
        media_id = r["media_id"]
        ack = await send_media(a, conv, media_id, text="look")
        m = await b.expect("message", conversation_id=conv, seq=ack["seq"])
        assert m["text"] == "look", m
        check_media_object(m["media"], media_id, "image/png", len(image), thumbnail=True)

        # the other member downloads exactly the bytes
        st, h, body = http(srv, "GET", m["media"]["url"])
        assert st == 200 and body == image, (st, h, len(body))
        assert h["content-type"] == "image/png", h
        assert h["content-length"] == str(len(image)), h
        assert h["cache-control"].startswith("private, max-age="), h
        st, h, body = http(srv, "HEAD", m["media"]["url"])
        assert st == 200 and body == b"" and h["content-length"] == str(len(image)), (st, h)

        # the thumbnail is an image
        st, h, thumb = http(srv, "GET", m["media"]["thumbnail_url"])
        assert st == 200 and h["content-type"].startswith("image/"), (st, h)
        assert thumb[:8] == b"\x89PNG\r\n\x1a\n" or thumb[:3] == b"\xff\xd8\xff", thumb[:16]

        # history and sync show the media too, with working URLs
        hist = await b.history(conv)
        [hm] = [x for x in hist["messages"] if x["seq"] == ack["seq"]]
        check_media_object(hm["media"], media_id, "image/png", len(image), thumbnail=True)
        assert http(srv, "GET", hm["media"]["url"])[2] == image
        s = await b.call({"type": "sync", "cursors": {conv: 0}}, "sync")
        [sc] = [c for c in s["conversations"] if c["conversation_id"] == conv]
        [sm] = [x for x in sc["messages"] if x["seq"] == ack["seq"]]
        check_media_object(sm["media"], media_id, "image/png", len(image), thumbnail=True)
        own = await a.history(conv)
        [om] = [x for x in own["messages"] if x["seq"] == ack["seq"]]
        check_media_object(om["media"], media_id, "image/png", len(image), thumbnail=True)

        # a message deleted for everyone shows no media
        await a.call({"type": "delete", "conversation_id": conv, "seq": ack["seq"],
                      "scope": "everyone"}, "result")
        hist = await b.history(conv)
        [hm] = [x for x in hist["messages"] if x["seq"] == ack["seq"]]
        assert hm.get("deleted") is True and "media" not in hm, hm

    run(go())


def test_media_only_message_and_duplicate_send(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    data = TEXT_BYTES

    async def go():
        a = await Client.login(srv, "alice")
        a2 = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        media_id = await upload(srv, a, data, "text/plain")
        cmid = new_cmid()
        ack = await send_media(a, conv, media_id, cmid=cmid)
        assert ack["duplicate"] is False
        m = await b.expect("message", seq=ack["seq"])
        assert "text" not in m, m
        check_media_object(m["media"], media_id, "text/plain", len(data), thumbnail=False)
        mine = await a2.expect("message", seq=ack["seq"])
        assert mine["client_message_id"] == cmid and mine["media"]["media_id"] == media_id
        # the same send again: the original ack, nothing delivered again
        again = await send_media(a, conv, media_id, cmid=cmid)
        assert again["duplicate"] is True and again["seq"] == ack["seq"], again
        await b.assert_no_frame(0.5, types={"message"})
        # the same media may go into a second message
        ack2 = await send_media(a, conv, media_id, text="again")
        m2 = await b.expect("message", seq=ack2["seq"])
        assert m2["media"]["media_id"] == media_id

    run(go())


# --------------------------------------------------------------------------
# refusals of send and of the PUT

def test_send_media_refusals(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)

    async def go():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        pending = await begin(a, png(seed=2))
        f = {"type": "send", "conversation_id": conv, "client_message_id": new_cmid(),
             "media_id": pending["media_id"]}
        await a.call_error(f, "bad_request")
        bobs = await upload(srv, b, png(seed=3))
        await a.call_error(dict(f, client_message_id=new_cmid(), media_id=bobs), "not_found")
        await a.call_error(dict(f, client_message_id=new_cmid(), media_id="nosuchmedia"),
                           "not_found")
        # still not_found for the conversation first
        await a.call_error(dict(f, client_message_id=new_cmid(), conversation_id="cnope",
                                media_id=bobs), "not_found")
        # the refusals stored nothing
        hist = await b.history(conv)
        assert hist["messages"] == [], hist

    run(go())


def test_put_wrong_size_and_type(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    image = png(seed=4)

    async def go():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        r = await begin(a, image)
        url = r["upload_url"]
        st, body = http_json(srv, "PUT", url, image + b"x")
        assert st == 400 and body["error"] == "bad_size", (st, body)
        st, body = http_json(srv, "PUT", url, image[:-1])
        assert st == 400 and body["error"] == "bad_size", (st, body)
        # the body cut short: Content-Length right, the client goes away
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (url, len(image))).encode() + image[:len(image) // 2])
        time.sleep(0.3)
        s.close()
        f = {"type": "send", "conversation_id": conv, "media_id": r["media_id"]}
        await a.call_error(dict(f, client_message_id=new_cmid()), "bad_request")
        # no part file is left behind
        assert wait_for(lambda: not any(n for n in files_in(srv.media_dir)
                                        if r["media_id"] in n or n.endswith(".part")), 5), \
            files_in(srv.media_dir)
        # the upload URL still works for the exact bytes, once
        conn = httpc.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        st, _, body = http(srv, "PUT", url, b"z" * 10, conn=conn)  # keep-alive after a 400
        assert st == 400, body
        st, _, body = http(srv, "PUT", url, image, conn=conn)
        assert st == 201, body
        st, _, body = http(srv, "PUT", url, image, conn=conn)
        assert st == 409, body
        conn.close()
        await send_media(a, conv, r["media_id"])

        # declared image/png, other bytes: 415, and the media is not ready
        for other in (JPEG_BYTES, TEXT_BYTES):
            r = await begin(a, other, "image/png")
            st, body = http_json(srv, "PUT", r["upload_url"], other)
            assert st == 415, (st, body)
            await a.call_error(dict(f, client_message_id=new_cmid(), media_id=r["media_id"]),
                               "bad_request")

    run(go())


def test_upload_refusals(chatd, tmp_path):
    srv = media_server(chatd, tmp_path, max_size=5000, quota_bytes=12000,
                       uploads_per_minute=4)

    async def go():
        a = await Client.login(srv, "alice")
        base = {"type": "media.upload", "mime": "image/png", "size": 100}
        for bad in ({"mime": "png"}, {"mime": "image/"}, {"mime": "image/png; q=1"},
                    {"mime": "a/" + "b" * 130}, {"mime": 5}, {"size": 0}, {"size": -3},
                    {"size": 1.5}, {"size": "100"}, {"name": "n" * 256}, {"name": 7}):
            e = await a.call_error(dict(base, **bad), "bad_request")
            assert e["message"], e
        e = await a.call_error(dict(base, mime="application/x-msdownload"), "bad_request")
        assert e["message"], e
        await a.call_error(dict(base, size=5001), "too_large")
        # the quota counts pending uploads too
        await a.call(dict(base, size=5000, name="ümlaut.png"), "media.upload")
        await a.call(dict(base, size=5000), "media.upload")
        e = await a.call_error(dict(base, size=2001), "too_large")
        assert "quota" in e["message"], e
        await a.call(dict(base, size=2000), "media.upload")
        # 4 per minute (refused ones do not count)
        b = await Client.login(srv, "bob")
        for _ in range(4):
            await b.call(dict(base, size=10), "media.upload")
        e = await b.call_error(dict(base, size=10), "rate_limited")
        assert e["retryable"] is True and e["retry_after_ms"] > 0, e
        # another user has their own quota and rate
        c = await Client.login(srv, "carol")
        await c.call(dict(base, size=5000), "media.upload")

    run(go())


# --------------------------------------------------------------------------
# signed URLs

def test_expired_and_tampered_urls(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    image = png(seed=5)

    async def go():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        r = await begin(a, image)
        url = r["upload_url"]
        exp = int(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["exp"])
        sig = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["sig"]
        flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
        for bad in (with_query(url, sig=flipped), with_query(url, exp=str(exp + 1000)),
                    urllib.parse.urlsplit(url).path, resigned(url, "PUT", now_ms() - 1000),
                    resigned(url, "GET", exp)):
            st, body = http_json(srv, "PUT", bad, image)
            assert st == 403 and body["error"] == "forbidden", (bad, st, body)
        # the test signs like the server: a fresh signature of its own works
        st, body = http_json(srv, "PUT", resigned(url, "PUT", now_ms() + 60000), image)
        assert st == 201, (st, body)
        await send_media(a, conv, r["media_id"])
        u = (await a.call({"type": "media.url", "media_id": r["media_id"]}, "media.url"))["media"]
        assert http(srv, "GET", u["url"])[0] == 200
        for bad in (with_query(u["url"], sig=flipped), resigned(u["url"], "GET", now_ms() - 1),
                    resigned(u["url"], "PUT", now_ms() + 60000), u["url"].split("?")[0],
                    with_query(u["thumbnail_url"], sig=dict(urllib.parse.parse_qsl(
                        urllib.parse.urlsplit(u["url"]).query))["sig"])):
            for method in ("GET", "HEAD"):
                st, h, body = http(srv, method, bad)
                assert st == 403, (method, bad, st, body)
                assert body == b"" if method == "HEAD" else \
                    json.loads(body)["error"] == "forbidden", body
        st, h, body = http(srv, "GET", resigned(u["url"], "GET", now_ms() + 60000))
        assert st == 200 and body == image
        # an id that does not exist, a path media_local never makes
        assert http(srv, "GET", "/media/nope?exp=1&sig=" + "0" * 64)[0] in (403, 404)
        assert http(srv, "GET", "/media/")[0] == 404
        st, body = http_json(srv, "POST", u["url"], b"x")
        assert st == 405 and body["error"] == "method_not_allowed", (st, body)
        st, body = http_json(srv, "DELETE", u["url"])
        assert st == 405, (st, body)

    run(go())


def test_refused_put_of_a_big_body_still_gets_its_status(chatd, tmp_path):
    """The client sends its whole body before it reads: the server reads
    and drops it after refusing, so the status arrives (no reset)."""
    srv = media_server(chatd, tmp_path)
    big = b"t" * 5000000

    async def go():
        a = await Client.login(srv, "alice")
        r = await begin(a, big, "text/plain")
        conn = httpc.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        st, _, body = http(srv, "PUT", with_query(r["upload_url"], sig="0" * 64), big, conn=conn)
        assert st == 403, (st, body)
        st, _, body = http(srv, "PUT", r["upload_url"], big + b"x", conn=conn)
        assert st == 400, (st, body)
        st, _, body = http(srv, "PUT", r["upload_url"], big, conn=conn)
        assert st == 201, (st, body)
        conn.close()

    run(go())


def test_pipelined_puts_do_not_wedge_the_gateway(chatd, tmp_path):
    """A PUT never keeps its connection (lws 4.1.6 mishandles a body that
    follows another on a kept-alive connection): the first upload is
    stored, the second request is not read, the server stays responsive."""
    srv = media_server(chatd, tmp_path)

    async def go():
        a = await Client.login(srv, "alice")
        b1, b2 = b"a" * 3000, b"b" * 3000
        r1, r2 = await begin(a, b1, "text/plain"), await begin(a, b2, "text/plain")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        put = lambda r, b: ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                            % (r["upload_url"], len(b))).encode() + b
        s.sendall(put(r1, b1) + put(r2, b2))
        data = b""
        while True:
            try:
                x = s.recv(65536)
            except OSError:
                break
            if not x:
                break
            data += x
        s.close()
        assert data.startswith(b"HTTP/1.1 201") and data.count(b"HTTP/1.1") == 1, data
        assert b"connection: close" in data.lower(), data
        u = await a.call({"type": "media.url", "media_id": r1["media_id"]}, "media.url")
        assert http(srv, "GET", u["media"]["url"])[2] == b1
        e = await a.call_error({"type": "media.url", "media_id": r2["media_id"]}, "bad_request")
        assert "not complete" in e["message"], e
        assert srv.healthz(timeout=1.0) == 200
        await a.ping(1.0)

    run(go())


def test_upload_url_expires(chatd, tmp_path):
    """A real wait: the shortest upload URL lifetime (10 s)."""
    srv = media_server(chatd, tmp_path, upload_url_ttl_s=10)
    image = png(seed=6)

    async def go():
        a = await Client.login(srv, "alice")
        r = await begin(a, image)
        assert r["expires_at"] <= now_ms() + 10500, r
        time.sleep(max(0.0, (r["expires_at"] - now_ms()) / 1000.0) + 0.3)
        st, body = http_json(srv, "PUT", r["upload_url"], image)
        assert st == 403, (st, body)

    run(go(), timeout=30)


# --------------------------------------------------------------------------
# media.url access

def test_media_url_access(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    image = png(seed=7)

    async def go():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        c = await Client.login(srv, "carol")
        conv = await a.direct("bob")
        media_id = await upload(srv, a, image)
        # before any message: the uploader only
        u = await a.call({"type": "media.url", "media_id": media_id}, "media.url")
        check_media_object(u["media"], media_id, "image/png", len(image), thumbnail=True)
        await b.call_error({"type": "media.url", "media_id": media_id}, "not_found")
        await send_media(a, conv, media_id)
        u = await b.call({"type": "media.url", "media_id": media_id}, "media.url")
        check_media_object(u["media"], media_id, "image/png", len(image), thumbnail=True)
        assert http(srv, "GET", u["media"]["url"])[2] == image
        await c.call_error({"type": "media.url", "media_id": media_id}, "not_found")
        await c.call_error({"type": "media.url", "media_id": "nosuch"}, "not_found")
        await c.call_error({"type": "media.url"}, "bad_request")

    run(go())


# --------------------------------------------------------------------------
# concurrency, GC, shutdown

def test_concurrent_uploads(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    n = 6
    blobs = [(b"%d " % i) * (150000 + i) for i in range(n)]

    async def go():
        a = await Client.login(srv, "alice")
        rs = [await begin(a, blob, "text/plain") for blob in blobs]
        results = {}

        def put(i):
            results[i] = http(srv, "PUT", rs[i]["upload_url"], blobs[i], timeout=20)[0]
        ts = [threading.Thread(target=put, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert results == {i: 201 for i in range(n)}, results
        for i in range(n):
            u = await a.call({"type": "media.url", "media_id": rs[i]["media_id"]}, "media.url")
            assert http(srv, "GET", u["media"]["url"])[2] == blobs[i]

    run(go())


def test_gc_removes_orphans(chatd, tmp_path):
    srv = media_server(chatd, tmp_path, gc_interval_s=1, orphan_ttl_s=60, upload_url_ttl_s=60)
    orphan, kept = png(seed=8), png(seed=9)

    async def go():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        orphan_id = await upload(srv, a, orphan)
        kept_id = await upload(srv, a, kept)
        await send_media(a, conv, kept_id)
        pending = (await begin(a, png(seed=10)))["media_id"]
        url = (await a.call({"type": "media.url", "media_id": orphan_id}, "media.url"))["media"]
        assert http(srv, "GET", url["url"])[2] == orphan
        before = files_in(srv.media_dir)
        assert before, "no file in the media dir"
        # age every upload past orphan_ttl_s (the SQLite file is shared in WAL mode)
        db_exec(srv, "UPDATE media SET created_at = created_at - 3600000")
        ids = lambda: {r[0] for r in chatclient_rows(srv, "SELECT media_id FROM media")}
        assert wait_for(lambda: orphan_id not in ids() and pending not in ids(), 10), ids()
        assert kept_id in ids()
        # the orphan's file is gone, the kept one's is not
        after = files_in(srv.media_dir)
        assert after < before, (before, after)
        st, body = http_json(srv, "GET", url["url"])
        assert st == 404 and body["error"] == "not_found", (st, body)
        await a.call_error({"type": "media.url", "media_id": orphan_id}, "not_found")
        u = await a.call({"type": "media.url", "media_id": kept_id}, "media.url")
        assert http(srv, "GET", u["media"]["url"])[2] == kept

    run(go())


def chatclient_rows(srv, sql):
    from chatclient import db_query
    return db_query(srv, sql)


def test_shutdown_with_requests_in_flight(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    big = b"t" * 3000000

    async def go():
        a = await Client.login(srv, "alice")
        r = await begin(a, big, "text/plain")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (r["upload_url"], len(big))).encode() + big[:1000000])
        # a second one waiting for its headers' end
        s2 = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s2.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n" % r["upload_url"]).encode())
        assert wait_for(lambda: files_in(srv.media_dir), 5), "the upload did not start"
        await a.close()
        t0 = time.monotonic()
        rc = srv.stop(timeout=10)
        assert rc == 0, rc
        assert time.monotonic() - t0 < 6
        s.close()
        s2.close()
        left = [n for n in files_in(srv.media_dir)]
        assert not left, left

    run(go())


# --------------------------------------------------------------------------
# no media plugin

def test_without_media_plugin(server):
    async def go():
        a = await Client.login(server, "alice")
        conv = await a.direct("bob")
        e = await a.call_error({"type": "media.upload", "mime": "image/png", "size": 10},
                               "bad_request")
        assert "not enabled" in e["message"], e
        await a.call_error({"type": "media.url", "media_id": "x"}, "bad_request")
        await a.call_error({"type": "send", "conversation_id": conv,
                            "client_message_id": new_cmid(), "media_id": "x"}, "not_found")
    run(go())
    for method in ("GET", "HEAD", "PUT"):
        st, h, body = http(server, method, "/media/x?exp=1&sig=2",
                           body=b"abc" if method == "PUT" else None)
        assert st == 404, (method, st, body)
        if method != "HEAD":
            assert json.loads(body)["error"] == "not_found", body
