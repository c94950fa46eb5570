"""11 — edit and delete: edits by the sender only, broadcast as
message_update (kind edited, text, at) to every session but the editing
one, through the moderation rules like sends; delete for everyone
(message_update kind deleted without text, history keeps the seq with
deleted:true) with the role table's permissions; delete for me (hidden from
that user's history and sync for good, others unaffected, only the user's
other sessions told); retention erasing the text of deleted messages from
the database files."""

import asyncio
import os
import time

from chatclient import (MAX_TEXT, Client, call_result, collect, db_file_bytes,
                        db_query, now_ms, run, sync_map)


def msg_by_seq(reply, seq):
    found = [m for m in reply["messages"] if m["seq"] == seq]
    assert len(found) <= 1, reply
    return found[0] if found else None


def check_edited_update(u, cid, seq, text, t0):
    assert u["type"] == "message_update", u
    assert u["conversation_id"] == cid and u["seq"] == seq, u
    assert u["kind"] == "edited", u
    assert u["text"] == text, u
    assert isinstance(u.get("at"), int) and t0 - 1000 <= u["at"] <= now_ms() + 1000, u


def check_deleted_update(u, cid, seq):
    assert u["type"] == "message_update", u
    assert u["conversation_id"] == cid and u["seq"] == seq, u
    assert u["kind"] == "deleted", u
    assert "text" not in u, "a deleted message_update has no text: %r" % u
    assert u.get("deleted") is True, "a deleted message_update has deleted:true: %r" % u
    assert u.get("scope", "everyone") == "everyone", u


def check_deleted_message(m, seq):
    assert m is not None, "the deleted message must keep its seq %d" % seq
    assert m["seq"] == seq
    assert m.get("deleted") is True, m
    assert "text" not in m, "a deleted message has no text: %r" % m
    assert "media" not in m, m


# --------------------------------------------------------------------------
# edit

def test_edit_by_sender(server):
    async def body():
        a1 = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c = await Client.login(server, "carol")
        x = await Client.login(server, "xavier")
        cid = await a1.group(["bob", "carol"])
        ack = await a1.send_text(cid, "helo")
        for s in (a2, b, c):
            await s.expect("message", seq=ack["seq"])
        t0 = now_ms()
        r = await a1.call({"type": "edit", "id": "e1", "conversation_id": cid,
                           "seq": ack["seq"], "text": "hello!"}, "result")
        assert r["id"] == "e1" and r["ok"] is True, r
        ups = {}
        for s in (a2, b, c):
            u = await s.expect("message_update", conversation_id=cid)
            check_edited_update(u, cid, ack["seq"], "hello!", t0)
            ups[s] = u
            await s.assert_no_frame(0.3, types={"message_update", "message"})
        assert len({u["at"] for u in ups.values()}) == 1, "one edit, one time: %r" % ups
        at = ups[b]["at"]
        await a1.assert_no_frame(0.5, types={"message_update"})
        await x.assert_no_frame(0.1)
        for s in (a1, b):
            h = await s.history(cid)
            m = msg_by_seq(h, ack["seq"])
            assert m["text"] == "hello!", m
            assert m["message_id"] == ack["message_id"], m
            assert m["ts"] == ack["ts"], "an edit keeps the original ts: %r" % m
            assert m.get("edited_at") == at, "edited_at is the edit's time: %r" % m
            assert not m.get("deleted"), m
        s = sync_map(await c.call({"type": "sync", "cursors": {cid: 0}}, "sync"))
        m = msg_by_seq(s[cid], ack["seq"])
        assert m["text"] == "hello!" and m.get("edited_at") == at, m
        # editing again: the newest text wins
        await call_result(a2, {"type": "edit", "conversation_id": cid, "seq": ack["seq"],
                               "text": "hello, again"})
        for s in (a1, b, c):
            u = await s.expect("message_update", conversation_id=cid)
            check_edited_update(u, cid, ack["seq"], "hello, again", t0)
        await a2.assert_no_frame(0.3, types={"message_update"})
        assert msg_by_seq(await b.history(cid), ack["seq"])["text"] == "hello, again"
        # an edit is not a new message
        info = await b.call({"type": "conv.info", "conversation_id": cid}, "conversation")
        assert info["conversation"]["last_seq"] == ack["seq"], info
    run(body())


def test_edit_by_others_is_forbidden(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c = await Client.login(server, "carol")
        cid = await a.group(["bob", "carol"])
        ack = await b.send_text(cid, "bob's words")
        await a.expect("message", seq=ack["seq"])
        await c.expect("message", seq=ack["seq"])
        # not even the owner of the group may edit someone else's message
        for s in (a, c):
            e = await s.call_error({"type": "edit", "conversation_id": cid, "seq": ack["seq"],
                                    "text": "put words in bob's mouth"}, "forbidden")
            assert e["retryable"] is False
        did = await a.direct("bob")
        ack2 = await a.send_text(did, "alice in direct")
        await b.call_error({"type": "edit", "conversation_id": did, "seq": ack2["seq"],
                            "text": "changed"}, "forbidden")
        for s in (a, b, c):
            await s.assert_no_frame(0.5, types={"message_update"})
        h = await a.history(cid)
        m = msg_by_seq(h, ack["seq"])
        assert m["text"] == "bob's words" and "edited_at" not in m, m
        assert msg_by_seq(await b.history(did), ack2["seq"])["text"] == "alice in direct"
    run(body())


def test_edit_refusals(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        m = await Client.login(server, "mallory")
        cid = await a.direct("bob")
        ack = await a.send_text(cid, "original")
        base = {"type": "edit", "conversation_id": cid, "seq": ack["seq"]}
        await a.call_error(dict(base), "bad_request")                         # no text
        await a.call_error(dict(base, text=5), "bad_request")
        await a.call_error({"type": "edit", "conversation_id": cid, "text": "x"},
                           "bad_request")                                      # no seq
        await a.call_error(dict(base, seq="one", text="x"), "bad_request")
        await a.call_error(dict(base, text="a" * (MAX_TEXT + 1)), "too_large")
        await a.call_error(dict(base, seq=99, text="x"), "not_found")
        await m.call_error(dict(base, text="x"), "not_found")                 # non-member
        await a.call_error(dict(base, conversation_id="cnosuchconversation0", text="x"),
                           "not_found")
        await b.assert_no_frame(0.4, types={"message_update"})
        assert msg_by_seq(await b.history(cid), ack["seq"])["text"] == "original"
        # exactly max_text code points is fine
        await call_result(a, dict(base, text="é" * MAX_TEXT))
        u = await b.expect("message_update", seq=ack["seq"])
        assert u["text"] == "é" * MAX_TEXT
    run(body())


def test_edit_passes_the_word_filter(chatd):
    srv = chatd(moderation={"rules": ["wordfilter"]})       # the shipped list (darn, heck, frak)

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        cid = await a.direct("bob")
        ack = await a.send_text(cid, "a clean message")
        await b.expect("message", seq=ack["seq"])
        await call_result(a, {"type": "edit", "conversation_id": cid, "seq": ack["seq"],
                              "text": "oh Darn, a frak-ing typo"})
        u = await b.expect("message_update", seq=ack["seq"])
        assert u["kind"] == "edited" and u["text"] == "oh ****, a ****-ing typo", u
        m = msg_by_seq(await b.history(cid), ack["seq"])
        assert m["text"] == "oh ****, a ****-ing typo", m
        m = msg_by_seq(await a.history(cid), ack["seq"])
        assert m["text"] == "oh ****, a ****-ing typo", "the sender sees the stored text too: %r" % m
        # and a send right after is filtered the same way (the rule runs at all)
        ack2 = await a.send_text(cid, "heck")
        assert (await b.expect("message", seq=ack2["seq"]))["text"] == "****"
    run(body())


def test_edit_refused_by_a_rule_changes_nothing(chatd):
    srv = chatd(moderation={"rules": [{"name": "wordfilter",
                                       "options": {"action": "reject"}}]})

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        cid = await a.direct("bob")
        ack = await a.send_text(cid, "fine words")
        await b.expect("message", seq=ack["seq"])
        e = await a.call_error({"type": "edit", "conversation_id": cid, "seq": ack["seq"],
                                "text": "darn words"}, "rejected")
        assert e.get("reason") == "blocked_word", e
        await b.assert_no_frame(0.5, types={"message_update"})
        m = msg_by_seq(await b.history(cid), ack["seq"])
        assert m["text"] == "fine words" and "edited_at" not in m, m
    run(body())


# --------------------------------------------------------------------------
# delete for everyone

def test_delete_for_everyone_by_sender(server):
    async def body():
        a1 = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c = await Client.login(server, "carol")
        cid = await a1.group(["bob", "carol"])
        acks = [await a1.send_text(cid, "m%d" % i) for i in range(3)]
        target = acks[1]
        for s in (a2, b, c):
            await s.expect("message", seq=acks[2]["seq"])
        r = await a1.call({"type": "delete", "id": "d1", "conversation_id": cid,
                           "seq": target["seq"], "scope": "everyone"}, "result")
        assert r["id"] == "d1" and r["ok"] is True, r
        for s in (a2, b, c):
            u = await s.expect("message_update", conversation_id=cid)
            check_deleted_update(u, cid, target["seq"])
            assert isinstance(u.get("at"), int), u
            await s.assert_no_frame(0.3, types={"message_update"})
        await a1.assert_no_frame(0.3, types={"message_update"})
        for s in (a1, b):
            h = await s.history(cid)
            assert [m["seq"] for m in h["messages"]] == [1, 2, 3], h
            check_deleted_message(msg_by_seq(h, target["seq"]), target["seq"])
            assert msg_by_seq(h, acks[0]["seq"])["text"] == "m0"
            assert msg_by_seq(h, acks[2]["seq"])["text"] == "m2"
            assert msg_by_seq(h, target["seq"])["message_id"] == target["message_id"]
        s = sync_map(await c.call({"type": "sync", "cursors": {cid: 0}}, "sync"))
        assert [m["seq"] for m in s[cid]["messages"]] == [1, 2, 3], s[cid]
        check_deleted_message(msg_by_seq(s[cid], target["seq"]), target["seq"])
        # a deleted message cannot be edited back to life
        r = await a1.request({"type": "edit", "conversation_id": cid, "seq": target["seq"],
                              "text": "resurrected"})
        assert r["type"] == "error", r
        check_deleted_message(msg_by_seq(await b.history(cid), target["seq"]), target["seq"])
        # the sequence goes on
        ack = await b.send_text(cid, "next")
        assert ack["seq"] == 4, ack
    run(body())


def test_delete_for_everyone_permissions(server):
    async def body():
        o = await Client.login(server, "olga")
        mo = await Client.login(server, "mona")
        m = await Client.login(server, "mel")
        g = await Client.login(server, "meg")
        cid = await o.group(["mona", "mel", "meg"])
        await call_result(o, {"type": "conv.role", "conversation_id": cid, "user_id": "mona",
                              "role": "moderator"})
        a_mel = await m.send_text(cid, "mel 1")
        a_mel2 = await m.send_text(cid, "mel 2")
        a_owner = await o.send_text(cid, "owner's")
        a_mona = await mo.send_text(cid, "mona's")
        # a member may not delete others' messages, nor may staff of lower role
        await g.call_error({"type": "delete", "conversation_id": cid, "seq": a_mel["seq"],
                            "scope": "everyone"}, "forbidden")
        await m.call_error({"type": "delete", "conversation_id": cid, "seq": a_mona["seq"],
                            "scope": "everyone"}, "forbidden")
        await mo.call_error({"type": "delete", "conversation_id": cid, "seq": a_owner["seq"],
                             "scope": "everyone"}, "forbidden")
        # a moderator deletes a member's message, a member their own,
        # the owner a moderator's
        await call_result(mo, {"type": "delete", "conversation_id": cid, "seq": a_mel["seq"],
                               "scope": "everyone"})
        await call_result(m, {"type": "delete", "conversation_id": cid, "seq": a_mel2["seq"],
                              "scope": "everyone"})
        await call_result(o, {"type": "delete", "conversation_id": cid, "seq": a_mona["seq"],
                              "scope": "everyone"})
        h = await g.history(cid)
        for a in (a_mel, a_mel2, a_mona):
            check_deleted_message(msg_by_seq(h, a["seq"]), a["seq"])
        assert msg_by_seq(h, a_owner["seq"])["text"] == "owner's"
        # deleting again is fine and changes nothing
        r = await o.request({"type": "delete", "conversation_id": cid, "seq": a_mel["seq"],
                             "scope": "everyone"})
        assert r["type"] in ("result", "error"), r
        check_deleted_message(msg_by_seq(await g.history(cid), a_mel["seq"]), a_mel["seq"])
    run(body())


def test_delete_refusals(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        x = await Client.login(server, "xavier")
        cid = await a.direct("bob")
        ack = await a.send_text(cid, "keep me")
        base = {"type": "delete", "conversation_id": cid, "seq": ack["seq"]}
        await a.call_error(dict(base, scope="nobody"), "bad_request")
        await a.call_error(dict(base, seq="1", scope="everyone"), "bad_request")
        await a.call_error({"type": "delete", "conversation_id": cid, "scope": "everyone"},
                           "bad_request")
        await a.call_error(dict(base, seq=99, scope="everyone"), "not_found")
        await a.call_error(dict(base, seq=99, scope="me"), "not_found")
        for scope in ("everyone", "me"):
            await x.call_error(dict(base, scope=scope), "not_found")
            await x.call_error(dict(base, conversation_id="cnosuchconversation0", scope=scope),
                               "not_found")
        await b.call_error(dict(base, scope="everyone"), "forbidden")    # not bob's
        await b.assert_no_frame(0.4, types={"message_update"})
        assert msg_by_seq(await b.history(cid), ack["seq"])["text"] == "keep me"
        assert msg_by_seq(await a.history(cid), ack["seq"])["text"] == "keep me"
    run(body())


# --------------------------------------------------------------------------
# delete for me

def test_delete_for_me(server):
    async def body():
        b1 = await Client.login(server, "bob")
        b2 = await Client.login(server, "bob")
        a = await Client.login(server, "alice")
        c = await Client.login(server, "carol")
        cid = await a.group(["bob", "carol"])
        acks = [await a.send_text(cid, "m%d" % i) for i in range(3)]      # seqs 1..3
        for s in (b1, b2, c):
            await s.expect("message", seq=3)
            await collect(s, 0.2)
        hide = acks[1]["seq"]
        r = await b1.call({"type": "delete", "id": "dm", "conversation_id": cid, "seq": hide,
                           "scope": "me"}, "result")
        assert r["id"] == "dm" and r["ok"] is True, r
        u = await b2.expect("message_update", conversation_id=cid)
        assert u["seq"] == hide and u["kind"] == "deleted" and u.get("scope") == "me", u
        assert "text" not in u, u
        for s in (a, c, b1):
            await s.assert_no_frame(0.5, types={"message_update"})
        for s in (b1, b2):
            assert [m["seq"] for m in (await s.history(cid))["messages"]] == [1, 3]
            # bob's read cursor is 0: cursor 0 means from the start
            sy = sync_map(await s.call({"type": "sync", "cursors": {cid: 0}}, "sync"))
            assert [m["seq"] for m in sy[cid]["messages"]] == [1, 3], sy[cid]
            assert sy[cid]["last_seq"] == 3, sy[cid]
        # anyone may delete for themselves, also their own message
        mine = await b1.send_text(cid, "bob's own")            # seq 4; bob's cursor is 4 now
        await b2.expect("message", seq=mine["seq"])
        await call_result(b2, {"type": "delete", "conversation_id": cid, "seq": mine["seq"],
                               "scope": "me"})
        u = await b1.expect("message_update", conversation_id=cid)
        assert u["seq"] == mine["seq"] and u.get("scope") == "me", u
        await c.assert_no_frame(0.3, types={"message_update"})
        for s in (b1, b2):
            assert [m["seq"] for m in (await s.history(cid))["messages"]] == [1, 3]
            sy = sync_map(await s.call({"type": "sync", "cursors": {cid: 1}}, "sync"))
            assert [m["seq"] for m in sy[cid]["messages"]] == [3], sy[cid]
            sy = sync_map(await s.call({"type": "sync", "cursors": {cid: 3}}, "sync"))
            assert sy[cid]["messages"] == [] and sy[cid]["last_seq"] == 4, sy[cid]
        for s in (a, c):
            h = await s.history(cid)
            assert [m["seq"] for m in h["messages"]] == [1, 2, 3, 4], h
            assert msg_by_seq(h, hide)["text"] == "m1"
            assert not msg_by_seq(h, hide).get("deleted"), h
            assert msg_by_seq(h, mine["seq"])["text"] == "bob's own"
        # it stays hidden after reconnecting and syncing
        await b1.close()
        await b2.close()
        ack5 = await a.send_text(cid, "while bob is away")
        b3 = await Client.login(server, "bob")
        sy = sync_map(await b3.call({"type": "sync"}, "sync"))      # after the read cursor (4)
        assert [m["seq"] for m in sy[cid]["messages"]] == [ack5["seq"]], sy[cid]
        sy = sync_map(await b3.call({"type": "sync", "cursors": {cid: 1}}, "sync"))
        assert [m["seq"] for m in sy[cid]["messages"]] == [3, 5], sy[cid]
        assert [m["seq"] for m in (await b3.history(cid))["messages"]] == [1, 3, 5]
        assert [m["seq"] for m in (await b3.history(cid, after=1))["messages"]] == [3, 5]
        assert [m["seq"] for m in (await b3.history(cid, before=5))["messages"]] == [1, 3]
        # deleting for me again is harmless
        await call_result(b3, {"type": "delete", "conversation_id": cid, "seq": hide,
                               "scope": "me"})
        assert [m["seq"] for m in (await b3.history(cid))["messages"]] == [1, 3, 5]
        assert [m["seq"] for m in (await c.history(cid))["messages"]] == [1, 2, 3, 4, 5]
    run(body())


# --------------------------------------------------------------------------
# retention

def test_retention_erases_deleted_text_from_the_database_file(chatd):
    srv = chatd(retention={"purge_deleted_after_s": 0, "interval_s": 1})
    tag = os.urandom(6).hex()
    secret = "XYLOPHONE-secret-%s-%s" % (tag, "q" * 40)
    keep = "ZEBRAQUARTZ-keep-%s" % tag

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        cid = await a.direct("bob")
        await a.send_text(cid, keep)
        ack = await a.send_text(cid, secret)
        await a.send_text(cid, "after")
        raw = db_file_bytes(srv)
        assert secret.encode() in raw, "the test is only real if the text is in the file first"
        await call_result(a, {"type": "delete", "conversation_id": cid, "seq": ack["seq"],
                              "scope": "everyone"})
        deadline = time.monotonic() + 10
        while secret.encode() in db_file_bytes(srv) or tag.encode() + b"-qqqq" in db_file_bytes(srv):
            assert time.monotonic() < deadline, \
                "the deleted text is still in the database files 10 s after the delete " \
                "(purge_deleted_after_s = 0, interval_s = 1)"
            await asyncio.sleep(0.25)
        raw = db_file_bytes(srv)
        assert keep.encode() in raw, "a message not deleted must stay in the file"
        rows = db_query(srv, "SELECT text, deleted FROM messages "
                             "WHERE conversation_id = ? AND seq = ?", (cid, ack["seq"]))
        assert rows == [(None, 1)], rows
        rows = db_query(srv, "SELECT text FROM messages WHERE conversation_id = ? ORDER BY seq",
                        (cid,))
        assert rows == [(keep,), (None,), ("after",)], rows
        h = await b.history(cid)
        assert [m["seq"] for m in h["messages"]] == [1, 2, 3], h
        check_deleted_message(msg_by_seq(h, ack["seq"]), ack["seq"])
        assert msg_by_seq(h, 1)["text"] == keep
        return cid
    cid = run(body())
    assert srv.stop() == 0
    raw = db_file_bytes(srv)
    assert secret.encode() not in raw and keep.encode() in raw
    srv.start()

    async def again():
        b = await Client.login(srv, "bob")
        h = await b.history(cid)
        assert [m.get("text") for m in h["messages"]] == [keep, None, "after"], h
    run(again())


def test_retention_keeps_recent_deletes(chatd):
    """purge_deleted_after_s is an age: a delete younger than it keeps its
    bytes (the row only reads as deleted)."""
    srv = chatd(retention={"purge_deleted_after_s": 3600, "interval_s": 1})
    tag = os.urandom(6).hex()
    secret = "WALRUS-secret-%s" % tag

    async def body():
        a = await Client.login(srv, "alice")
        cid = await a.direct("bob")
        ack = await a.send_text(cid, secret)
        await call_result(a, {"type": "delete", "conversation_id": cid, "seq": ack["seq"],
                              "scope": "everyone"})
        await asyncio.sleep(2.5)
        rows = db_query(srv, "SELECT text FROM messages WHERE conversation_id = ? AND seq = ?",
                        (cid, ack["seq"]))
        assert rows == [(secret,)], rows
        check_deleted_message(msg_by_seq(await a.history(cid), ack["seq"]), ack["seq"])
    run(body())
