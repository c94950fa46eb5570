"""02 — the envelope: bad JSON and bad ids are `bad_request` on a connection
that stays usable, error shape, ping/pong, and the transport limits (binary
1003, invalid UTF-8 1007, frame size 1009 at exactly max_frame + 1, counted
after reassembly and decompression)."""

import pytest

from chatclient import (MAX_FRAME, OP_BIN, OP_CONT, OP_TEXT, Client, RawWS, check_error,
                        padded_json, run, served)


@pytest.mark.parametrize("payload", ['{"type":', "not json at all", "[1,2,3]",
                                     '[{"type":"ping","id":"p"}]', '"ping"', "42",
                                     "null", "true", ""])
def test_non_json_or_non_object_is_bad_request(server, payload):
    async def body():
        c = await Client.login(server, "alice")
        await c.send_raw(payload)
        e = await c.expect_error("bad_request")
        assert "id" not in e, "no id can be known for %r: %r" % (payload, e)
        # connection stays usable
        await c.ping()
        await c.assert_no_frame(0.3)
    run(body())


@pytest.mark.parametrize("bad_id", [5, 1.5, None, True, ["a"], {"a": 1}, "x" * 65])
def test_bad_id_is_bad_request_without_id(server, bad_id):
    async def body():
        c = await Client.login(server, "alice")
        await c.send_json({"type": "ping", "id": bad_id})
        e = await c.expect_error("bad_request")
        assert "id" not in e, "error for an invalid id must carry no id: %r" % e
        await c.ping()
    run(body())


def test_id_of_64_chars_is_echoed(server):
    async def body():
        c = await Client.login(server, "alice")
        rid = "i" * 64
        await c.send_json({"type": "ping", "id": rid})
        await c.expect("pong", id=rid)
        rid = "é" * 64   # 64 characters, 128 bytes
        await c.send_json({"type": "ping", "id": rid})
        await c.expect("pong", id=rid)
    run(body())


def test_unknown_type_is_bad_request_with_id(server):
    async def body():
        c = await Client.login(server, "alice")
        e = await c.call_error({"type": "frobnicate", "id": "u1"}, "bad_request")
        assert e["id"] == "u1"
        e = await c.call_error({"id": "u2"}, "bad_request")            # no type at all
        assert e["id"] == "u2"
        e = await c.call_error({"type": 7, "id": "u3"}, "bad_request")  # type not a string
        assert e["id"] == "u3"
        await c.ping()
    run(body())


@pytest.mark.parametrize("frame", [
    {"type": "send", "client_message_id": "m1", "text": "hi"},          # no conversation_id
    {"type": "history"},                                                 # no conversation_id
    {"type": "conv.create", "kind": "direct"},                           # no user_id
    {"type": "conv.info"},
    {"type": "sync", "cursors": "not an object"},
])
def test_missing_or_wrong_required_field_is_bad_request(server, frame):
    async def body():
        c = await Client.login(server, "alice")
        e = await c.call_error(frame, "bad_request")
        check_error(e)
        assert e["retryable"] is False
        await c.ping()
    run(body())


def test_error_shape(server):
    async def body():
        c = await Client.login(server, "alice")
        for frame, code in [({"type": "nope"}, "bad_request"),
                            ({"type": "history", "conversation_id": "cdoesnotexist"}, "not_found")]:
            e = await c.call_error(frame, code)
            check_error(e)
            assert e["retryable"] is False
            assert e["message"], "error message must be human text: %r" % e
    run(body())


def test_ping_pong(server):
    async def body():
        c = await Client.login(server, "alice")
        await c.send_json({"type": "ping", "id": "abc", "extra": {"ignored": [1, 2]}})
        await c.expect("pong", id="abc")
        await c.send_json({"type": "ping"})
        p = await c.expect("pong")
        assert "id" not in p, p
    run(body())


def test_binary_frame_closes_1003(server):
    async def body():
        c = await Client.login(server, "alice")
        await c.send_raw(b'{"type":"ping","id":"b"}')
        await c.expect_close(1003)
        await served(server)
    run(body())


@pytest.mark.parametrize("bad", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82",
                                 b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80"],
                         ids=["ff", "overlong", "surrogate", "truncated", "above-10ffff", "5-byte"])
def test_invalid_utf8_closes_1007(server, bad):
    r = RawWS.login(server, "alice")
    r.send_text(b'{"type":"ping","id":"' + bad + b'"}')
    assert r.expect_close() == 1007
    r.close()
    run(served(server))


def test_invalid_utf8_split_across_fragments_closes_1007(server):
    r = RawWS.login(server, "alice")
    r.send_frame(OP_TEXT, b'{"type":"ping","id":"\xe2\x82', fin=False)
    r.send_frame(OP_CONT, b'\x28"}', fin=True)        # \xe2\x82\x28 is invalid
    assert r.expect_close() == 1007
    r.close()
    run(served(server))


def test_valid_utf8_split_across_fragments_is_accepted(server):
    r = RawWS.login(server, "alice")
    r.send_frame(OP_TEXT, b'{"type":"ping","id":"\xe2\x82', fin=False)
    r.send_frame(OP_CONT, b'\xac"}', fin=True)        # U+20AC split in two
    f = r.recv_json()
    assert f == {"type": "pong", "id": "\u20ac"} or (f["type"] == "pong" and f["id"] == "\u20ac"), f
    r.close()


def test_binary_frame_raw_closes_1003(server):
    r = RawWS.login(server, "alice")
    r.send_frame(OP_BIN, b"\x00\x01\x02")
    assert r.expect_close() == 1003
    r.close()
    run(served(server))


def test_frame_of_exactly_max_frame_is_accepted(server):
    r = RawWS.login(server, "alice")
    r.send_text(padded_json({"type": "ping", "id": "exact"}, MAX_FRAME))
    f = r.recv_json()
    assert f.get("type") == "pong" and f.get("id") == "exact", f
    # unknown long field on another type is ignored too
    r.send_text(padded_json({"type": "conv.list", "id": "exact2"}, MAX_FRAME, "zzz_unknown"))
    f = r.recv_json()
    assert f.get("type") == "conversations" and f.get("id") == "exact2", f
    r.close()


def test_frame_of_max_frame_plus_one_closes_1009(server):
    r = RawWS.login(server, "alice")
    r.send_text(padded_json({"type": "ping", "id": "over"}, MAX_FRAME + 1))
    code = r.expect_close()
    assert code == 1009, "expected close 1009, got %s; frames %r" % (code, r.frames)
    r.close()
    run(served(server))


def test_fragmented_message_of_exactly_max_frame_is_accepted(server):
    data = padded_json({"type": "ping", "id": "frag-exact"}, MAX_FRAME)
    r = RawWS.login(server, "alice")
    third = len(data) // 3
    r.send_frame(OP_TEXT, data[:third], fin=False)
    r.send_frame(OP_CONT, data[third:2 * third], fin=False)
    r.send_frame(OP_CONT, data[2 * third:], fin=True)
    f = r.recv_json()
    assert f.get("type") == "pong" and f.get("id") == "frag-exact", f
    r.close()


def test_fragmented_message_over_limit_closes_1009(server):
    data = padded_json({"type": "ping", "id": "frag-over"}, MAX_FRAME + 1)
    r = RawWS.login(server, "alice")
    chunk = 8192
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for i, p in enumerate(pieces):
        if not r.send_frame(OP_TEXT if i == 0 else OP_CONT, p, fin=(i == len(pieces) - 1)):
            break
    code = r.expect_close()
    assert code == 1009, "expected close 1009, got %s; frames %r" % (code, r.frames)
    r.close()
    run(served(server))


def test_many_small_fragments_over_limit_closes_1009(server):
    # each fragment tiny, the sum far over the limit, never finished
    r = RawWS.login(server, "alice")
    r.send_frame(OP_TEXT, b'{"type":"ping","pad":"', fin=False)
    sent_ok = True
    for _ in range(80):
        if not r.send_frame(OP_CONT, b"x" * 1024, fin=False):
            sent_ok = False
            break
    code = r.expect_close()
    assert code == 1009, "expected close 1009 (sent_ok=%s), got %s" % (sent_ok, code)
    r.close()
    run(served(server))


def test_decompressed_size_counts(server):
    """With permessage-deflate negotiated, the limit applies after
    decompression: a tiny compressed frame that inflates past max_frame is
    closed with 1009.  (Without deflate the same message is simply too big.)"""
    async def body():
        c = await Client.login(server, "alice", compression="deflate")
        big_ok = padded_json({"type": "ping", "id": "z-ok"}, MAX_FRAME).decode()
        await c.send_raw(big_ok)
        await c.expect("pong", id="z-ok")
        too_big = padded_json({"type": "ping", "id": "z-over"}, MAX_FRAME * 3).decode()
        await c.send_raw(too_big)
        await c.expect_close(1009)
        await served(server)
    run(body())


def test_json_with_nul_and_deep_nesting_is_handled(server):
    async def body():
        c = await Client.login(server, "alice")
        await c.send_raw('{"type":"ping","id":"n\\u0000ul"}')
        f = await c.recv_json()
        assert f["type"] in ("pong", "error"), f
        if f["type"] == "error":
            check_error(f)
        deep = "[" * 5000 + "]" * 5000
        await c.send_raw('{"type":"ping","id":"deep","x":' + deep + "}")
        f = await c.recv_json()
        assert f["type"] in ("pong", "error"), f
        await c.ping()
    run(body())
