"""31 — encryption at rest of media (decision 61): with encryption.active set,
media_local stores every content and thumbnail sealed ("\\x01CMF1", AES-256-GCM
chunks) under a keyed name (HMAC-SHA256(secret, "chatd.media.name.v1" NUL
content), not the plaintext's SHA-256); the media directory holds none of the
plaintext; downloads (GET, HEAD, thumbnails) give exactly the bytes; media
stored before encryption, or under an older key, is still served and is
re-sealed with the active key by GC; a tampered or moved file gives a failed
download (500 before the headers, a cut connection after them), never
tampered bytes, is logged and counted, and the server keeps serving."""

import hashlib
import hmac
import http.client as httpc
import os
import time

from chatclient import Client, run

import importlib
media = importlib.import_module("15_media")

SECRET = media.SECRET
K1 = "11" * 32
K2 = "22" * 32
MAGIC = b"\x01CMF1"
MARK = b"QUOKKA-7f3a-PLAINTEXT-MARKER-"


def enc(active, **keys):
    return {"encryption": {"keys": keys, "active": active}}


def server(chatd, tmp_path, encryption=None, **opts):
    d = str(tmp_path / "media")
    cfg = {"dir": d, "secret": SECRET, "gc_interval_s": 1}
    cfg.update(opts)
    over = {"plugins": {"media": "local"}, "media_local": cfg}
    if encryption:
        over.update(encryption)
    srv = chatd(**over)
    srv.media_dir = d
    return srv


def restart(srv, **over):
    srv.stop()
    srv.overrides = dict(srv.overrides)
    srv.overrides.update(over)
    srv._configure(srv.port, srv.admin_port)
    srv.start()


def keyed_name(data):
    return hmac.new(SECRET.encode(), b"chatd.media.name.v1\x00" + data,
                    hashlib.sha256).hexdigest()


def stored_files(d):
    """{relative path: bytes} of every regular file under d."""
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def key_id(blob):
    assert blob[:5] == MAGIC, blob[:16]
    n = blob[5]
    return blob[6:6 + n].decode()


def content_files(d):
    """Contents and thumbnails (not tmp/, not unfinished seals)."""
    return {k: v for k, v in stored_files(d).items()
            if not k.startswith("tmp/") and not k.endswith(".seal")}


def metric(srv, name):
    st, text = srv.admin("GET", "/metrics")
    assert st == 200, st
    text = text.decode() if isinstance(text, bytes) else str(text)
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def get(srv, url, method="GET"):
    """(status, headers, body, cut): cut when the connection ended early."""
    c = httpc.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        c.request(method, url)
        r = c.getresponse()
        h = {k.lower(): v for k, v in r.getheaders()}
        try:
            return r.status, h, r.read(), False
        except httpc.IncompleteRead as e:
            return r.status, h, e.partial, True
    except (ConnectionError, httpc.RemoteDisconnected):
        return None, {}, b"", True
    finally:
        c.close()


async def url_of(client, media_id):
    return (await client.call({"type": "media.url", "media_id": media_id}, "media.url"))["media"]


def big_text(n):
    return b"".join(MARK + b"%08d\n" % i for i in range(n))


def test_sealed_at_rest_and_served_in_clear(chatd, tmp_path):
    srv = server(chatd, tmp_path, enc("k1", k1=K1))
    image = media.png(120, 90, seed=31)
    text = big_text(9000)            # ~350 KB: several 64 KiB chunks
    small = MARK + b"tiny\n"

    async def go():
        a = await Client.login(srv, "alice")
        ids = {}
        for name, data, mime in (("image", image, "image/png"), ("text", text, "text/plain"),
                                 ("small", small, "text/plain")):
            ids[name] = await media.upload(srv, a, data, mime)
        files = content_files(srv.media_dir)
        # contents and the thumbnail, all sealed with k1, no .part left
        assert len(files) == 4, sorted(files)
        assert not [k for k in stored_files(srv.media_dir)
                    if k.startswith("tmp/") or k.endswith(".seal")]
        for k, blob in files.items():
            assert key_id(blob) == "k1", k
            assert MARK not in blob and image[16:48] not in blob, k
            assert b"\xff\xd8\xff" not in blob[:64] and b"\x89PNG" not in blob, k
        # keyed names, not the plaintext's SHA-256
        for data in (image, text, small):
            h = keyed_name(data)
            assert "%s/%s" % (h[:2], h) in files, (h, sorted(files))
            s = hashlib.sha256(data).hexdigest()
            assert not any(s in k for k in files), s
        himg = keyed_name(image)
        assert "%s/%s.thumb" % (himg[:2], himg) in files, sorted(files)

        # downloads are the exact bytes; HEAD has the plaintext's length
        for name, data, mime in (("image", image, "image/png"), ("text", text, "text/plain"),
                                 ("small", small, "text/plain")):
            u = await url_of(a, ids[name])
            st, h, body, cut = get(srv, u["url"])
            assert st == 200 and not cut and body == data, (name, st, len(body))
            assert h["content-length"] == str(len(data)) and h["content-type"] == mime, h
            assert h["cache-control"].startswith("private, max-age="), h
            st, h, body, _ = get(srv, u["url"], "HEAD")
            assert st == 200 and body == b"" and h["content-length"] == str(len(data)), (st, h)
        u = await url_of(a, ids["image"])
        st, h, thumb, cut = get(srv, u["thumbnail_url"])
        assert st == 200 and not cut and thumb[:3] == b"\xff\xd8\xff", (st, thumb[:8])
        assert h["content-type"] == "image/jpeg" and h["content-length"] == str(len(thumb)), h
        # the same content again is deduplicated under its keyed name
        again = await media.upload(srv, a, small, "text/plain")
        assert len(content_files(srv.media_dir)) == 4
        st, _, body, _ = get(srv, (await url_of(a, again))["url"])
        assert st == 200 and body == small

    run(go())
    assert metric(srv, "chatd_media_decrypt_failures_total") == 0


def test_plaintext_and_old_keys_resealed_by_gc(chatd, tmp_path):
    srv = server(chatd, tmp_path)
    image = media.png(64, 48, seed=7)
    text = big_text(500)
    later = MARK + b"sealed under k1\n"

    def all_sealed_with(kid):
        files = content_files(srv.media_dir)
        return files and all(b[:5] == MAGIC and key_id(b) == kid for b in files.values())

    async def urls(ids):
        a = await Client.login(srv, "alice")
        return [await url_of(a, i) for i in ids]

    async def before():
        a = await Client.login(srv, "alice")
        return [await media.upload(srv, a, image), await media.upload(srv, a, text, "text/plain")]

    ids = run(before())
    files = content_files(srv.media_dir)
    assert len(files) == 3 and MARK in b"".join(files.values())   # plaintext, pre-encryption

    def check_all(us, datas):
        for u, data in zip(us, datas):
            st, _, body, cut = get(srv, u["url"])
            assert st == 200 and not cut and body == data, (st, len(body))
        st, _, thumb, _ = get(srv, us[0]["thumbnail_url"])
        assert st == 200 and thumb[:3] == b"\xff\xd8\xff", st

    # a seal that never finished (crash before its rename), an hour old,
    # and a fresh one (maybe another node's, in progress)
    sub = os.path.join(srv.media_dir, sorted(files)[0].split("/")[0])
    stale = os.path.join(sub, "%s.0123456789abcdef.seal" % ("ab" * 32))
    fresh = os.path.join(sub, "%s.fedcba9876543210.seal" % ("ab" * 32))
    for p in (stale, fresh):
        with open(p, "wb") as f:
            f.write(MAGIC + b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    # turn encryption on: old files are served, then re-sealed by GC
    restart(srv, **enc("k1", k1=K1))
    check_all(run(urls(ids)), [image, text])
    assert media.wait_for(lambda: all_sealed_with("k1"), 15), \
        {k: v[:12] for k, v in content_files(srv.media_dir).items()}
    assert not os.path.exists(stale) and os.path.exists(fresh)
    os.unlink(fresh)
    assert MARK not in b"".join(content_files(srv.media_dir).values())
    # the counter moves on the core thread just after the worker's renames
    assert media.wait_for(lambda: metric(srv, "chatd_plugin_media_local_files_resealed") == 3,
                          5), metric(srv, "chatd_plugin_media_local_files_resealed")
    check_all(run(urls(ids)), [image, text])

    async def upload_later():
        a = await Client.login(srv, "alice")
        return await media.upload(srv, a, later, "text/plain")
    ids.append(run(upload_later()))

    # rotate to k2 (k1 still configured): everything moves to k2
    restart(srv, **enc("k2", k1=K1, k2=K2))
    assert media.wait_for(lambda: all_sealed_with("k2"), 15)
    # the counter moves on the core thread just after the worker's renames
    assert media.wait_for(lambda: metric(srv, "chatd_plugin_media_local_files_resealed") == 4,
                          5), metric(srv, "chatd_plugin_media_local_files_resealed")
    check_all(run(urls(ids)), [image, text, later])

    # k1 retired: all still readable
    restart(srv, **enc("k2", k2=K2))
    check_all(run(urls(ids)), [image, text, later])
    time.sleep(1.5)      # a GC pass finds nothing to do
    assert metric(srv, "chatd_plugin_media_local_files_resealed") == 0


def test_tampered_or_moved_file_fails_and_server_keeps_serving(chatd, tmp_path):
    srv = server(chatd, tmp_path, enc("k1", k1=K1))
    text = big_text(9000)
    other = MARK + b"other\n"
    image = media.png(50, 40, seed=3)

    async def go():
        a = await Client.login(srv, "alice")
        tid = await media.upload(srv, a, text, "text/plain")
        oid = await media.upload(srv, a, other, "text/plain")
        iid = await media.upload(srv, a, image)
        return a, {k: await url_of(a, v) for k, v in (("t", tid), ("o", oid), ("i", iid))}

    async def flow():
        a, u = await go()
        ht, ho = keyed_name(text), keyed_name(other)
        pt = os.path.join(srv.media_dir, ht[:2], ht)
        po = os.path.join(srv.media_dir, ho[:2], ho)
        # a byte of the 4th chunk flipped: the first chunks arrive, then the cut
        with open(pt, "r+b") as f:
            off = 84 + 3 * (65536 + 16) + 100      # header: 84 bytes with key id "k1"
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x40]))
        st, h, body, cut = get(srv, u["t"]["url"])
        assert st == 200 and h["content-length"] == str(len(text)), (st, h)
        assert cut and len(body) < len(text), (cut, len(body))
        assert text.startswith(body) and len(body) <= 3 * 65536, len(body)
        # a header byte changed: refused before any byte
        with open(po, "r+b") as f:
            f.seek(20)
            b = f.read(1)
            f.seek(20)
            f.write(bytes([b[0] ^ 1]))
        st, _, body, _ = get(srv, u["o"]["url"])
        assert st == 500 and MARK not in body, (st, body)
        # a valid sealed file moved over another name is refused too
        hi = keyed_name(image)
        with open(os.path.join(srv.media_dir, hi[:2], hi), "rb") as f:
            good = f.read()
        with open(po, "wb") as f:
            f.write(good)
        st, _, body, _ = get(srv, u["o"]["url"])
        assert st == 500 and b"\x89PNG" not in body, st
        # the server keeps serving
        st, _, body, cut = get(srv, u["i"]["url"])
        assert st == 200 and not cut and body == image
        assert await a.direct("bob")

    run(flow())
    assert metric(srv, "chatd_media_decrypt_failures_total") == 3
    assert "media.decrypt_failed" in srv.log_text()
