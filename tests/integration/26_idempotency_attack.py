"""26 — idempotency attacks: a send's client_message_id (cmid) dedups only
the same sender's resends in the same conversation.  Another member who
re-uses (or guesses first) someone's cmid cannot suppress or replace their
message: both messages are stored, each sender gets their own ack.  A
member of another conversation cannot touch it either.  Replays by the
sender still dedup, also when they race.  Other members never see a
sender's cmid (it is echoed only to the sender's own sessions)."""

import asyncio

from chatclient import Client, collect, db_query, new_cmid, run


async def send(c, conv, cmid, text):
    return await c.request({"type": "send", "conversation_id": conv,
                            "client_message_id": cmid, "text": text})


def stored(srv, conv):
    """(seq, sender, cmid, text) of every stored message of conv."""
    return db_query(srv, "SELECT seq, sender_id, client_message_id, text FROM messages "
                         "WHERE conversation_id = ? ORDER BY seq", (conv,))


def by_seq(history):
    return {m["seq"]: m for m in history["messages"]}


def test_another_member_cannot_suppress_or_replace_a_message(server):
    async def body():
        a = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice")     # alice's other device
        b = await Client.login(server, "bob")
        conv = await a.group(["bob"])
        cmid = new_cmid("victim")
        first = await send(a, conv, cmid, "alice's words")
        assert first["type"] == "ack" and first["duplicate"] is False, first
        # bob re-uses alice's cmid: his own new message, not alice's ack.
        mine = await send(b, conv, cmid, "bob's replacement")
        assert mine["type"] == "ack", mine
        assert mine["duplicate"] is False, "bob's send was taken for alice's: %r" % mine
        assert mine["seq"] == first["seq"] + 1 and mine["message_id"] != first["message_id"]
        # alice's resend is still a duplicate of hers, not of bob's.
        again = await send(a, conv, cmid, "alice's words")
        assert again["duplicate"] is True and again["seq"] == first["seq"], again
        assert again["message_id"] == first["message_id"]
        # bob's resend dedups to his own.
        bagain = await send(b, conv, cmid, "whatever")
        assert bagain["duplicate"] is True and bagain["seq"] == mine["seq"], bagain
        h = by_seq(await a.history(conv))
        assert (h[first["seq"]]["sender_id"], h[first["seq"]]["text"]) == ("alice", "alice's words")
        assert (h[mine["seq"]]["sender_id"], h[mine["seq"]]["text"]) == ("bob", "bob's replacement")
        assert sorted(h) == [first["seq"], mine["seq"]], h
        # alice's other device got bob's message, and nothing for the duplicates.
        got = await collect(a2, 0.5, types={"message"}, conversation_id=conv)
        assert [(m["seq"], m["sender_id"]) for m in got] == [
            (first["seq"], "alice"), (mine["seq"], "bob")], got
        return conv, first, mine
    conv, first, mine = run(body())
    assert stored(server, conv) == [(first["seq"], "alice", first["client_message_id"],
                                     "alice's words"),
                                    (mine["seq"], "bob", mine["client_message_id"],
                                     "bob's replacement")]


def test_a_squatted_cmid_does_not_block_its_owner(server):
    """bob guesses alice's next cmid and sends it first: alice's send is
    still stored and acked as new, with its own seq."""
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        conv = await a.direct("bob")
        cmid = "predictable-0001"
        squat = await send(b, conv, cmid, "squatting")
        assert squat["type"] == "ack" and squat["duplicate"] is False, squat
        real = await send(a, conv, cmid, "the real one")
        assert real["type"] == "ack", real
        assert real["duplicate"] is False and real["seq"] != squat["seq"], real
        got = await b.expect("message", seq=real["seq"])
        assert got["sender_id"] == "alice" and got["text"] == "the real one", got
        return conv
    conv = run(body())
    assert [(r[1], r[3]) for r in stored(server, conv)] == [("bob", "squatting"),
                                                            ("alice", "the real one")]


def test_other_conversations_are_separate(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c = await Client.login(server, "carol")
        conv1 = await a.group(["bob"], title="one")
        conv2 = await c.group(["bob"], title="two")
        cmid = new_cmid("shared")
        first = await send(a, conv1, cmid, "in one")
        # carol, not a member of conv1, cannot write there with it...
        r = await send(c, conv1, cmid, "intrusion")
        assert r["type"] == "error" and r["code"] == "not_found", r
        # ...and the same cmid in her own conversation is her own message.
        other = await send(c, conv2, cmid, "in two")
        assert other["type"] == "ack" and other["duplicate"] is False, other
        assert other["conversation_id"] == conv2 and other["seq"] == 1, other
        # alice herself in another conversation: a new message too.
        conv3 = await a.direct("carol")
        mine = await send(a, conv3, cmid, "in three")
        assert mine["duplicate"] is False and mine["seq"] == 1, mine
        again = await send(a, conv1, cmid, "in one")
        assert again["duplicate"] is True and again["seq"] == first["seq"], again
        hb = await b.history(conv1)
        assert [(m["sender_id"], m["text"]) for m in hb["messages"]] == [("alice", "in one")]
        return conv1, conv2, conv3
    conv1, conv2, conv3 = run(body())
    assert [(r[1], r[3]) for r in stored(server, conv1)] == [("alice", "in one")]
    assert [(r[1], r[3]) for r in stored(server, conv2)] == [("carol", "in two")]
    assert [(r[1], r[3]) for r in stored(server, conv3)] == [("alice", "in three")]


def test_racing_sends_with_one_cmid(server):
    """alice's two devices and bob send the same cmid at once: alice's
    pair is one message (one new ack, one duplicate with the same seq),
    bob's is another."""
    async def body():
        a1 = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        conv = await a1.group(["bob"])
        for round_ in range(5):
            cmid = new_cmid("race%d" % round_)
            r1, r2, rb = await asyncio.gather(send(a1, conv, cmid, "a"), send(a2, conv, cmid, "a"),
                                              send(b, conv, cmid, "b"))
            assert {r1["type"], r2["type"], rb["type"]} == {"ack"}, (r1, r2, rb)
            assert r1["seq"] == r2["seq"] and r1["message_id"] == r2["message_id"], (r1, r2)
            assert sorted([r1["duplicate"], r2["duplicate"]]) == [False, True], (r1, r2)
            assert rb["duplicate"] is False and rb["seq"] != r1["seq"], (r1, rb)
        return conv
    conv = run(body())
    rows = stored(server, conv)
    assert len(rows) == 10, rows
    assert sorted(r[1] for r in rows) == ["alice"] * 5 + ["bob"] * 5


def test_cmid_is_shown_only_to_its_sender(server):
    async def body():
        a = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        conv = await a.group(["bob"])
        cmid = new_cmid("secret")
        ack = await a.send_text(conv, "hi", cmid=cmid)
        mb = await b.expect("message", seq=ack["seq"])
        assert "client_message_id" not in mb, mb
        ma = await a2.expect("message", seq=ack["seq"])
        assert ma.get("client_message_id") == cmid, ma
        hb = by_seq(await b.history(conv))[ack["seq"]]
        assert "client_message_id" not in hb, hb
        sb = await b.call({"type": "sync", "cursors": {conv: 0}}, "sync")
        for cv in sb["conversations"]:
            for m in cv["messages"]:
                assert "client_message_id" not in m, m
        ha = by_seq(await a.history(conv))[ack["seq"]]
        assert ha.get("client_message_id") == cmid, ha
    run(body())
