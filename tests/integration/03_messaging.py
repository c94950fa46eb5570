"""03 — messaging: direct and group conversations, delivery to every
session but the sending one, client_message_id only to the sender's own
sessions, idempotent resend, validation of client_message_id and text
length (code points), per-conversation seq."""

import time

from chatclient import MAX_TEXT, Client, new_cmid, run

SETTINGS_DEFAULT = {"locked": False, "typing": True, "receipts": True}


def check_ack(ack, conv, cmid, rid=None):
    assert ack["type"] == "ack", ack
    if rid is not None:
        assert ack["id"] == rid
    assert ack["conversation_id"] == conv, ack
    assert ack["client_message_id"] == cmid, ack
    assert isinstance(ack["seq"], int) and ack["seq"] >= 1, ack
    assert isinstance(ack["message_id"], str) and ack["message_id"], ack
    assert isinstance(ack["ts"], int) and abs(ack["ts"] - time.time() * 1000) < 60000, ack
    assert ack["duplicate"] is False, ack


def check_message(msg, ack, sender, text, own_session):
    assert msg["type"] == "message"
    assert msg["conversation_id"] == ack["conversation_id"], msg
    assert msg["seq"] == ack["seq"], (msg, ack)
    assert msg["message_id"] == ack["message_id"], (msg, ack)
    assert msg["sender_id"] == sender, msg
    assert msg["text"] == text, msg
    assert msg["ts"] == ack["ts"], "message ts differs from the ack ts: %r %r" % (msg, ack)
    if own_session:
        assert msg.get("client_message_id") == ack["client_message_id"], \
            "sender's other session must get client_message_id: %r" % msg
    else:
        assert "client_message_id" not in msg, \
            "client_message_id leaked to another user: %r" % msg
    assert "deleted" not in msg or msg["deleted"] is False, msg


def test_direct_is_the_same_from_either_side(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        r = await a.call({"type": "conv.create", "id": "d1", "kind": "direct", "user_id": "bob"},
                         "conversation")
        assert r["id"] == "d1"
        conv = r["conversation"]
        assert conv["kind"] == "direct", conv
        assert conv["member_count"] == 2, conv
        assert conv["last_seq"] == 0, conv
        assert conv["role"] == "member", conv
        cid = conv["conversation_id"]
        assert isinstance(cid, str) and cid
        assert await b.direct("alice") == cid, "bob got a different direct conversation"
        assert await a.direct("bob") == cid, "creating the direct again gave another one"
    run(body())


def test_direct_with_oneself_is_bad_request(server):
    async def body():
        a = await Client.login(server, "alice")
        await a.call_error({"type": "conv.create", "kind": "direct", "user_id": "alice"},
                           "bad_request")
    run(body())


def test_direct_message_delivery(server):
    async def body():
        a1 = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        cid = await a1.direct("bob")
        cmid = new_cmid()
        ack = await a1.call({"type": "send", "id": "s1", "conversation_id": cid,
                             "client_message_id": cmid, "text": "hello bob"}, "ack")
        check_ack(ack, cid, cmid, "s1")
        assert ack["seq"] == 1
        check_message(await b.expect("message"), ack, "alice", "hello bob", own_session=False)
        check_message(await a2.expect("message"), ack, "alice", "hello bob", own_session=True)
        await a1.assert_no_frame(0.5, types={"message"})
        # and the other way round
        cmid2 = new_cmid()
        ack2 = await b.send_text(cid, "hi alice", cmid2)
        check_ack(ack2, cid, cmid2)
        assert ack2["seq"] == 2
        check_message(await a1.expect("message", seq=2), ack2, "bob", "hi alice", own_session=False)
        check_message(await a2.expect("message", seq=2), ack2, "bob", "hi alice", own_session=False)
        await b.assert_no_frame(0.3, types={"message"})
    run(body())


def test_group_multi_device(server):
    async def body():
        a = await Client.login(server, "alice")
        b1 = await Client.login(server, "bob")
        b2 = await Client.login(server, "bob")
        c1 = await Client.login(server, "carol")
        c2 = await Client.login(server, "carol")
        cid = await a.group(["bob", "carol"])
        cmid = new_cmid()
        ack = await c1.send_text(cid, "from carol", cmid)
        check_ack(ack, cid, cmid)
        for peer in (a, b1, b2):
            check_message(await peer.expect("message"), ack, "carol", "from carol", own_session=False)
        check_message(await c2.expect("message"), ack, "carol", "from carol", own_session=True)
        await c1.assert_no_frame(0.5, types={"message"})
        # each session got it exactly once
        for s in (a, b1, b2, c2):
            await s.assert_no_frame(0.2, types={"message"})
    run(body())


def test_group_create_events_and_shape(server):
    async def body():
        a1 = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c = await Client.login(server, "carol")
        r = await a1.call({"type": "conv.create", "kind": "group", "title": "team",
                           "members": ["bob", "carol", "alice"]}, "conversation")
        conv = r["conversation"]
        cid = conv["conversation_id"]
        assert conv["kind"] == "group", conv
        assert conv["title"] == "team", conv
        assert conv["member_count"] == 3, "creator listed in members must be ignored: %r" % conv
        assert conv["last_seq"] == 0, conv
        assert conv["role"] == "owner", conv
        settings = conv.get("settings", {})
        assert {k: settings.get(k) for k in SETTINGS_DEFAULT} == SETTINGS_DEFAULT, conv
        for s in (a1, a2, b, c):
            for u in ("bob", "carol"):
                ev = await s.expect("conv.event", conversation_id=cid, user_id=u)
                assert ev["event"] == "member_added", ev
                assert ev["by"] == "alice", ev
            await s.assert_no_frame(0.3, types={"conv.event"})
    run(body())


def test_conv_list_and_info(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        d = await Client.login(server, "dave")
        gid = await a.group(["bob", "carol"], title="g")
        did = await a.direct("bob")
        r = await a.call({"type": "conv.list", "id": "l1"}, "conversations")
        assert r["id"] == "l1"
        ids = {i["conversation_id"] for i in r["items"]}
        assert ids == {gid, did}, r
        roles = {i["conversation_id"]: i.get("role") for i in r["items"]}
        assert roles == {gid: "owner", did: "member"}, r
        r = await b.call({"type": "conv.list"}, "conversations")
        assert {i["conversation_id"] for i in r["items"]} == {gid, did}, r
        r = await d.call({"type": "conv.list"}, "conversations")
        assert r["items"] == [], r
        info = await b.call({"type": "conv.info", "id": "i1", "conversation_id": gid}, "conversation")
        assert info["id"] == "i1"
        conv = info["conversation"]
        assert conv["conversation_id"] == gid
        assert conv["title"] == "g"
        assert conv["role"] == "member", conv
        members = {m["user_id"]: m["role"] for m in conv["members"]}
        assert members == {"alice": "owner", "bob": "member", "carol": "member"}, conv
        info = await a.call({"type": "conv.info", "conversation_id": did}, "conversation")
        members = {m["user_id"]: m["role"] for m in info["conversation"]["members"]}
        assert members == {"alice": "member", "bob": "member"}, info
        await d.call_error({"type": "conv.info", "conversation_id": gid}, "not_found")
    run(body())


def test_non_member_and_unknown_conversation_are_not_found(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        m = await Client.login(server, "mallory")
        cid = await a.direct("bob")
        gid = await a.group(["bob"])
        for conv in (cid, gid, "cdoesnotexist0000", "x"):
            e = await m.call_error({"type": "send", "conversation_id": conv,
                                    "client_message_id": new_cmid(), "text": "let me in"},
                                   "not_found")
            assert e["retryable"] is False
            await m.call_error({"type": "history", "conversation_id": conv}, "not_found")
        await b.assert_no_frame(0.3, types={"message"})
        await a.assert_no_frame(0.1, types={"message"})
        h = await a.history(cid)
        assert h["messages"] == [], h
    run(body())


def test_duplicate_send(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        cid = await a.direct("bob")
        cmid = new_cmid()
        ack1 = await a.send_text(cid, "original", cmid)
        await b.expect("message", seq=ack1["seq"])
        ack2 = await a.call({"type": "send", "id": "dup", "conversation_id": cid,
                             "client_message_id": cmid, "text": "changed"}, "ack")
        assert ack2["id"] == "dup"
        assert ack2["duplicate"] is True, ack2
        assert ack2["seq"] == ack1["seq"], (ack1, ack2)
        assert ack2["message_id"] == ack1["message_id"], (ack1, ack2)
        assert ack2["client_message_id"] == cmid
        await b.assert_no_frame(0.7, types={"message"})
        # also a duplicate from another session of the same user
        a2 = await Client.login(server, "alice")
        ack3 = await a2.call({"type": "send", "conversation_id": cid,
                              "client_message_id": cmid, "text": "x"}, "ack")
        assert ack3["duplicate"] is True and ack3["seq"] == ack1["seq"], ack3
        await b.assert_no_frame(0.3, types={"message"})
        h = await a.history(cid)
        assert [m["seq"] for m in h["messages"]] == [1], h
        assert h["messages"][0]["text"] == "original", h
        # the same client_message_id from another user is a different message
        ackb = await b.send_text(cid, "bob's own", cmid)
        assert ackb["duplicate"] is False and ackb["seq"] == 2, ackb
        # the next new message continues the sequence without a gap
        ack4 = await a.send_text(cid, "next")
        assert ack4["seq"] == 3, ack4
    run(body())


def test_client_message_id_validation(server):
    async def body():
        a = await Client.login(server, "alice")
        cid = await a.direct("bob")
        base = {"type": "send", "conversation_id": cid, "text": "hi"}
        await a.call_error(base, "bad_request")                                   # missing
        await a.call_error(dict(base, client_message_id=""), "bad_request")       # empty
        await a.call_error(dict(base, client_message_id="c" * 65), "bad_request")  # 65 chars
        await a.call_error(dict(base, client_message_id=12345), "bad_request")    # not a string
        ack = await a.call(dict(base, client_message_id="c" * 64), "ack")          # 64 is fine
        assert ack["seq"] == 1, "rejected sends must not consume seqs: %r" % ack
        ack = await a.call(dict(base, client_message_id="é" * 64), "ack")          # 64 characters
        assert ack["seq"] == 2
        h = await a.history(cid)
        assert [m["seq"] for m in h["messages"]] == [1, 2]
    run(body())


def test_text_length_counts_code_points(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        cid = await a.direct("bob")
        ok = "é" * MAX_TEXT
        ack = await a.send_text(cid, ok)
        msg = await b.expect("message", seq=ack["seq"])
        assert msg["text"] == ok
        ack = await a.send_text(cid, "\U0001F600" * MAX_TEXT)     # 4-byte characters
        msg = await b.expect("message", seq=ack["seq"])
        assert msg["text"] == "\U0001F600" * MAX_TEXT
        ack = await a.send_text(cid, "a" * MAX_TEXT)
        for text in ("é" * (MAX_TEXT + 1), "a" * (MAX_TEXT + 1), "\U0001F600" * (MAX_TEXT + 1)):
            e = await a.call_error({"type": "send", "conversation_id": cid,
                                    "client_message_id": new_cmid(), "text": text}, "too_large")
            assert e["retryable"] is False
        await b.expect("message", seq=3)
        await b.assert_no_frame(0.3, types={"message"})
        # neither text nor media_id
        await a.call_error({"type": "send", "conversation_id": cid,
                            "client_message_id": new_cmid()}, "bad_request")
        ack = await a.send_text(cid, "after")
        assert ack["seq"] == 4, ack
    run(body())


def test_seq_increases_by_one_per_conversation(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c1 = await a.direct("bob")
        c2 = await a.group(["bob"])
        seqs1, seqs2 = [], []
        for i in range(5):
            seqs1.append((await a.send_text(c1, "m%d" % i))["seq"])
            seqs2.append((await b.send_text(c2, "n%d" % i))["seq"])
        seqs1.append((await b.send_text(c1, "from bob"))["seq"])
        assert seqs1 == [1, 2, 3, 4, 5, 6], seqs1
        assert seqs2 == [1, 2, 3, 4, 5], seqs2
        info = await a.call({"type": "conv.info", "conversation_id": c1}, "conversation")
        assert info["conversation"]["last_seq"] == 6, info
        # pipelined sends: acks in any order, seqs still 7..16 with no gap or repeat
        rids = []
        for i in range(10):
            rid = "pipe%d" % i
            rids.append(rid)
            await a.send_json({"type": "send", "id": rid, "conversation_id": c1,
                               "client_message_id": new_cmid(), "text": "p%d" % i})
        got = []
        for rid in rids:
            ack = await a.expect("ack", id=rid)
            got.append(ack["seq"])
        assert sorted(got) == list(range(7, 17)), got
    run(body())
