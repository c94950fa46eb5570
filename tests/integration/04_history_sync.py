"""04 — history (bounds, limits, has_more exactly at the edges) and sync
(missed messages after a disconnect, cursors, read cursor, the per
conversation cap, foreign cursors)."""

import pytest

from chatclient import Client, new_cmid, run


async def fill(client, conv, n, prefix="m"):
    """Send n messages pipelined; return the acks in seq order."""
    rids = []
    for i in range(n):
        rid = "f-%s-%d-%s" % (prefix, i, new_cmid())
        rids.append(rid)
        await client.send_json({"type": "send", "id": rid, "conversation_id": conv,
                                "client_message_id": new_cmid(), "text": "%s%d" % (prefix, i)})
    acks = []
    for rid in rids:
        ack = await client.expect("ack", timeout=15, id=rid)
        acks.append(ack)
    acks.sort(key=lambda a: a["seq"])
    return acks


def seqs(reply):
    return [m["seq"] for m in reply["messages"]]


def check_messages(reply, conv):
    for m in reply["messages"]:
        assert m["conversation_id"] == conv, m
        assert isinstance(m["message_id"], str) and m["message_id"], m
        assert isinstance(m["ts"], int), m
        assert "sender_id" in m and "text" in m, m
    s = seqs(reply)
    assert s == sorted(s), "messages must be in ascending seq: %r" % s


# (request fields, expected seqs, expected has_more) over seqs 1..10
CASES = [
    ({}, list(range(1, 11)), False),
    ({"limit": 3}, [8, 9, 10], True),
    ({"limit": 10}, list(range(1, 11)), False),
    ({"limit": 11}, list(range(1, 11)), False),
    ({"before": 5}, [1, 2, 3, 4], False),
    ({"before": 5, "limit": 2}, [3, 4], True),
    ({"before": 4, "limit": 3}, [1, 2, 3], False),
    ({"before": 1}, [], False),
    ({"before": 11, "limit": 10}, list(range(1, 11)), False),
    ({"after": 7}, [8, 9, 10], False),
    ({"after": 7, "limit": 3}, [8, 9, 10], False),
    ({"after": 7, "limit": 2}, [8, 9], True),
    ({"after": 2, "limit": 3}, [3, 4, 5], True),
    ({"after": 10}, [], False),
    ({"after": 0, "limit": 10}, list(range(1, 11)), False),
    ({"after": 2, "before": 9, "limit": 3}, [3, 4, 5], True),
    ({"after": 2, "before": 9, "limit": 6}, [3, 4, 5, 6, 7, 8], False),
    ({"after": 2, "before": 9, "limit": 50}, [3, 4, 5, 6, 7, 8], False),
    ({"after": 2, "before": 9}, [3, 4, 5, 6, 7, 8], False),
    ({"after": 4, "before": 5}, [], False),
    ({"after": 4, "before": 6}, [5], False),
]


def test_history_bounds_and_has_more(server):
    async def body():
        a = await Client.login(server, "alice")
        cid = await a.direct("bob")
        acks = await fill(a, cid, 10)
        assert [x["seq"] for x in acks] == list(range(1, 11))
        failures = []
        for req, want, more in CASES:
            r = await a.history(cid, **req)
            assert r["conversation_id"] == cid
            check_messages(r, cid)
            if seqs(r) != want or r.get("has_more") is not more:
                failures.append("%r -> seqs %r has_more %r (want %r, %r)"
                                % (req, seqs(r), r.get("has_more"), want, more))
        assert not failures, "history mismatches:\n" + "\n".join(failures)
        # the stored messages are the sent ones
        r = await a.history(cid)
        assert [m["text"] for m in r["messages"]] == ["m%d" % i for i in range(10)]
        assert [m["message_id"] for m in r["messages"]] == [x["message_id"] for x in acks]
        assert all(m["sender_id"] == "alice" for m in r["messages"])
    run(body())


def test_history_of_empty_conversation(server):
    async def body():
        a = await Client.login(server, "alice")
        cid = await a.direct("bob")
        r = await a.history(cid, id="h1")
        assert r["id"] == "h1"
        assert r["messages"] == [] and r["has_more"] is False, r
    run(body())


@pytest.mark.parametrize("limit", [0, -1])
def test_history_limit_below_one_is_bad_request(server, limit):
    async def body():
        a = await Client.login(server, "alice")
        cid = await a.direct("bob")
        await a.send_text(cid, "x")
        await a.call_error({"type": "history", "conversation_id": cid, "limit": limit},
                           "bad_request")
    run(body())


def test_history_limit_capped_at_200(server):
    async def body():
        a = await Client.login(server, "alice")
        cid = await a.direct("bob")
        await fill(a, cid, 205)
        r = await a.history(cid, limit=500)
        assert seqs(r) == list(range(6, 206)), (len(r["messages"]), seqs(r)[:3])
        assert r["has_more"] is True
        r = await a.history(cid, after=0, limit=500)
        assert seqs(r) == list(range(1, 201))
        assert r["has_more"] is True
        r = await a.history(cid, after=5, limit=500)
        assert seqs(r) == list(range(6, 206))
        assert r["has_more"] is False
        r = await a.history(cid)        # default limit 50
        assert seqs(r) == list(range(156, 206))
        assert r["has_more"] is True
    run(body())


def sync_by_conv(reply):
    assert reply["type"] == "sync", reply
    out = {}
    for c in reply["conversations"]:
        assert c["conversation_id"] not in out, "conversation listed twice: %r" % c
        out[c["conversation_id"]] = c
    return out


def test_sync_after_disconnect(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c = await Client.login(server, "carol")
        d1 = await a.direct("bob")
        g1 = await a.group(["bob", "carol"])
        other = await a.direct("carol")           # bob is not a member
        await fill(a, d1, 3, "d")
        await fill(c, g1, 2, "g")
        await fill(a, other, 2, "o")
        # bob saw everything so far
        await b.expect("message", conversation_id=d1, seq=3)
        await b.expect("message", conversation_id=g1, seq=2)
        await b.close()
        # while bob is away
        await fill(a, d1, 3, "dd")               # d1: 4..6
        await fill(c, g1, 4, "gg")               # g1: 3..6
        d2 = await c.direct("bob")                # new conversation bob is in
        await fill(c, d2, 2, "new")              # d2: 1..2
        b = await Client.login(server, "bob")
        r = await b.call({"type": "sync", "id": "sy", "cursors": {d1: 3, g1: 2, other: 0,
                                                                  "cnosuchconv": 5}}, "sync")
        assert r["id"] == "sy"
        convs = sync_by_conv(r)
        assert set(convs) == {d1, g1, d2}, "sync must list exactly bob's conversations: %r" % list(convs)
        assert seqs(convs[d1]) == [4, 5, 6]
        assert [m["text"] for m in convs[d1]["messages"]] == ["dd0", "dd1", "dd2"]
        assert seqs(convs[g1]) == [3, 4, 5, 6]
        assert seqs(convs[d2]) == [1, 2], "no cursor means after the read cursor (0 here)"
        for cid, last in ((d1, 6), (g1, 6), (d2, 2)):
            assert convs[cid]["last_seq"] == last, convs[cid]
            assert convs[cid]["read_seq"] == 0, convs[cid]
            assert convs[cid]["has_more"] is False, convs[cid]
            check_messages(convs[cid], cid)
            for m in convs[cid]["messages"]:
                assert "client_message_id" not in m or m["sender_id"] == "bob", m
        assert r["has_more"] is False
        # sync with everything up to date lists all conversations without messages
        r = await b.call({"type": "sync", "cursors": {d1: 6, g1: 6, d2: 2}}, "sync")
        convs = sync_by_conv(r)
        assert set(convs) == {d1, g1, d2}
        assert all(seqs(v) == [] for v in convs.values()), r
    run(body())


def test_sync_cursor_zero_uses_read_cursor(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        cid = await a.direct("bob")
        g = await a.group(["bob"])
        await fill(a, cid, 3, "a")               # 1..3
        ack = await b.send_text(cid, "bob says")  # 4: advances bob's read cursor to 4
        assert ack["seq"] == 4
        await fill(a, cid, 2, "b")               # 5..6
        await fill(a, g, 2, "g")                 # g: 1..2, bob never read
        r = await b.call({"type": "sync", "cursors": {cid: 0}}, "sync")
        convs = sync_by_conv(r)
        assert seqs(convs[cid]) == [5, 6], convs[cid]
        assert convs[cid]["read_seq"] == 4, convs[cid]
        assert seqs(convs[g]) == [1, 2], convs[g]
        r = await b.call({"type": "sync"}, "sync")          # no cursors at all
        convs = sync_by_conv(r)
        assert seqs(convs[cid]) == [5, 6] and seqs(convs[g]) == [1, 2], r
        # bob sending again moves his cursor to the new seq (7)
        ack = await b.send_text(cid, "bob again")
        assert ack["seq"] == 7
        r = await b.call({"type": "sync", "cursors": {cid: 0}}, "sync")
        convs = sync_by_conv(r)
        assert seqs(convs[cid]) == [], convs[cid]
        assert convs[cid]["read_seq"] == 7 and convs[cid]["last_seq"] == 7, convs[cid]
        # an explicit cursor wins over the read cursor
        r = await b.call({"type": "sync", "cursors": {cid: 1}}, "sync")
        assert seqs(sync_by_conv(r)[cid]) == [2, 3, 4, 5, 6, 7]
    run(body())


def test_sync_per_conversation_cap(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        cid = await a.direct("bob")
        await fill(a, cid, 105)
        r = await b.call({"type": "sync", "cursors": {cid: 0}}, "sync", timeout=10)
        conv = sync_by_conv(r)[cid]
        assert seqs(conv) == list(range(1, 101)), "the oldest 100 after the cursor: %r" % seqs(conv)[:3]
        assert conv["has_more"] is True
        assert conv["last_seq"] == 105
        assert r["has_more"] is False, "top-level has_more is only for the 1000 cap"
        r = await b.call({"type": "sync", "cursors": {cid: 100}}, "sync")
        conv = sync_by_conv(r)[cid]
        assert seqs(conv) == [101, 102, 103, 104, 105]
        assert conv["has_more"] is False
        r = await b.call({"type": "sync", "cursors": {cid: 5}}, "sync")
        conv = sync_by_conv(r)[cid]
        assert seqs(conv) == list(range(6, 106)) and conv["has_more"] is False
    run(body())


def test_sync_ignores_foreign_cursor(server):
    async def body():
        a = await Client.login(server, "alice")
        m = await Client.login(server, "mallory")
        secret = await a.direct("bob")
        await fill(a, secret, 3, "secret")
        own = await m.direct("carol")
        r = await m.call({"type": "sync", "cursors": {secret: 0, own: 0}}, "sync")
        convs = sync_by_conv(r)
        assert set(convs) == {own}, "a foreign conversation leaked into sync: %r" % r
        assert all("secret" not in (msg.get("text") or "") for c in convs.values()
                   for msg in c["messages"])
    run(body())
