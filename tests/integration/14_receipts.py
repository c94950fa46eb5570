"""14 — read receipts: `read` moves the reader's cursor forward only (capped
to last_seq), `receipt` frames reach every session of every other member
(not the reader's own, not above receipts_cursor.max_members, not with the
conversation's receipts setting off), `receipts` counts and lists who has
seen a message (sender excluded, users sorted, at most 20), `unread` in
conv.list and sync, the write-behind (a burst of 1,000 reads is a handful
of storage writes; waiting cursors are written at SIGTERM and survive a
restart), and refusals (not_found, bad_request, forbidden)."""

import asyncio
import time

from chatclient import Client, call_result, collect, db_query, new_cmid, run, sync_map

RECEIPTS = {"plugins": {"receipts": "cursor"}}


def with_receipts(**section):
    cfg = dict(RECEIPTS)
    if section:
        cfg["receipts_cursor"] = section
    return cfg


def metric(srv, name):
    m = srv.admin_ok("GET", "/v1/metrics")["metrics"]
    return m.get("receipts_cursor." + name, 0)


def stored_cursor(srv, cid, user):
    rows = db_query(srv, "SELECT last_read_seq FROM members WHERE conversation_id = ? "
                         "AND user_id = ?", (cid, user))
    return rows[0][0] if rows else None


def wait_stored(srv, cid, user, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = stored_cursor(srv, cid, user)
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError("stored cursor of %s in %s is %r, want %r" % (user, cid, got, want))


async def login(srv, user):
    """A session whose commands are surely served (see 12_fanout)."""
    c = await Client.login(srv, user)
    await c.call({"type": "conv.list"}, "conversations")
    return c


async def conv_item(client, cid):
    r = await client.call({"type": "conv.list"}, "conversations")
    items = [i for i in r["items"] if i["conversation_id"] == cid]
    assert len(items) == 1, r
    return items[0]


async def read(client, cid, seq):
    await call_result(client, {"type": "read", "conversation_id": cid, "seq": seq})


async def receipts(client, cid, seq):
    return await client.call({"type": "receipts", "conversation_id": cid, "seq": seq},
                             "receipts")


async def send_n(client, cid, n):
    return [(await client.send_text(cid, "m%d" % i))["seq"] for i in range(n)]


def test_cursor_forward_only_and_capped(chatd):
    srv = chatd(**RECEIPTS)

    async def go():
        alice = await login(srv, "alice")
        bob = await login(srv, "bob")
        cid = await alice.group(["bob", "carol"])
        assert await send_n(alice, cid, 6) == [1, 2, 3, 4, 5, 6]
        await read(bob, cid, 5)
        await read(bob, cid, 3)
        item = await conv_item(bob, cid)
        assert item["read_seq"] == 5 and item["unread"] == 1, item
        # without an id: no reply at all
        await bob.send_json({"type": "read", "conversation_id": cid, "seq": 2})
        await bob.ping()
        await bob.assert_no_frame(0.3, types={"result", "error"})
        assert (await conv_item(bob, cid))["read_seq"] == 5
        # beyond last_seq: capped to it
        await read(bob, cid, 10 ** 12)
        item = await conv_item(bob, cid)
        assert item["read_seq"] == 6 and item["unread"] == 0, item
        # the sender's own cursor follows their sends; others start at 0
        assert (await conv_item(alice, cid))["unread"] == 0
        carol = await login(srv, "carol")
        item = await conv_item(carol, cid)
        assert item["read_seq"] == 0 and item["unread"] == 6, item
        # the write behind reaches storage
        await asyncio.get_running_loop().run_in_executor(None, wait_stored, srv, cid, "bob", 6)
        # an empty conversation: nothing to read, nothing seen
        empty = await alice.group(["bob"], title="empty")
        await read(bob, empty, 1)
        assert (await conv_item(bob, empty))["read_seq"] == 0
        r = await receipts(bob, empty, 3)
        assert (r["seq"], r["seen_by"], r["users"]) == (0, 0, []), r

    run(go())


def test_receipt_frames_reach_other_members_only(chatd):
    srv = chatd(**RECEIPTS)

    async def go():
        a1, a2 = await login(srv, "alice"), await login(srv, "alice")
        b1, b2 = await login(srv, "bob"), await login(srv, "bob")
        carol = await login(srv, "carol")
        cid = await a1.group(["bob", "carol", "dave"])
        await send_n(a1, cid, 3)
        await read(b1, cid, 2)
        want = {"type": "receipt", "conversation_id": cid, "user_id": "bob", "seq": 2}
        for c in (a1, a2, carol):
            f = await c.expect("receipt", conversation_id=cid)
            assert {k: f[k] for k in want} == want and "id" not in f, f
        for c in (b1, b2):
            await c.assert_no_frame(0.3, types={"receipt"})
        # no move, no receipt
        await read(b2, cid, 2)
        await read(b2, cid, 1)
        for c in (a1, a2, carol, b1, b2):
            await c.assert_no_frame(0.3, types={"receipt"})
        # a direct conversation too
        d = await a1.direct("bob")
        await a1.send_text(d)
        await read(b1, d, 1)
        for c in (a1, a2):
            await c.expect("receipt", conversation_id=d, user_id="bob", seq=1)
        await carol.assert_no_frame(0.3, types={"receipt"})
        assert metric(srv, "reads") == 2

    run(go())


def test_no_receipts_above_max_members(chatd):
    srv = chatd(**with_receipts(max_members=2))

    async def go():
        alice = await login(srv, "alice")
        bob = await login(srv, "bob")
        carol = await login(srv, "carol")
        cid = await alice.group(["bob", "carol"])     # 3 members > 2
        await send_n(alice, cid, 2)
        await read(bob, cid, 2)
        for c in (alice, carol):
            await c.assert_no_frame(0.5, types={"receipt"})
        # the cursor moved all the same, and receipts answers
        assert (await conv_item(bob, cid))["read_seq"] == 2
        r = await receipts(alice, cid, 2)
        assert (r["seen_by"], r["users"]) == (1, ["bob"]), r
        # 2 members: pushed
        d = await alice.direct("carol")
        await alice.send_text(d)
        await read(carol, d, 1)
        await alice.expect("receipt", conversation_id=d, user_id="carol", seq=1)

    run(go())


def test_receipts_setting_off(chatd):
    srv = chatd(**RECEIPTS)

    async def go():
        alice = await login(srv, "alice")
        bob = await login(srv, "bob")
        cid = await alice.group(["bob"])
        await send_n(alice, cid, 3)
        await call_result(alice, {"type": "conv.settings", "conversation_id": cid,
                                  "receipts": False})
        await read(bob, cid, 2)
        await alice.assert_no_frame(0.5, types={"receipt"})
        assert (await conv_item(bob, cid))["read_seq"] == 2
        r = await alice.call_error({"type": "receipts", "conversation_id": cid, "seq": 1},
                                   "forbidden")
        assert "receipts are off" in r["message"], r
        await call_result(alice, {"type": "conv.settings", "conversation_id": cid,
                                  "receipts": True})
        r = await receipts(alice, cid, 2)
        assert (r["seen_by"], r["users"]) == (1, ["bob"]), r
        await read(bob, cid, 3)
        await alice.expect("receipt", conversation_id=cid, user_id="bob", seq=3)

    run(go())


def test_seen_by(chatd):
    srv = chatd(**RECEIPTS)

    async def go():
        s = {u: await login(srv, u) for u in ("alice", "bob", "carol", "dave", "erin")}
        cid = await s["alice"].group(["erin", "dave", "carol", "bob"])
        await s["alice"].send_text(cid)                 # seq 1, alice's cursor 1
        await s["bob"].send_text(cid)                   # seq 2, bob's cursor 2
        await read(s["dave"], cid, 1)
        await read(s["carol"], cid, 2)
        # seq 2 (bob's): carol only; alice is at 1, bob is the sender
        r = await receipts(s["erin"], cid, 2)
        assert r["type"] == "receipts" and r["conversation_id"] == cid and r["seq"] == 2, r
        assert (r["seen_by"], r["users"]) == (1, ["carol"]), r
        # seq 1 (alice's): bob, carol, dave, in order; alice excluded
        r = await receipts(s["bob"], cid, 1)
        assert (r["seen_by"], r["users"]) == (3, ["bob", "carol", "dave"]), r
        # capped to last_seq
        r = await receipts(s["bob"], cid, 99)
        assert (r["seq"], r["seen_by"], r["users"]) == (2, 1, ["carol"]), r
        # without an id the reply comes all the same, without one
        await s["erin"].send_json({"type": "receipts", "conversation_id": cid, "seq": 1})
        f = await s["erin"].expect("receipts")
        assert "id" not in f and f["seen_by"] == 3, f
        # the same once the cursors are written
        await asyncio.get_running_loop().run_in_executor(None, wait_stored, srv, cid, "dave", 1)
        r = await receipts(s["alice"], cid, 1)
        assert (r["seen_by"], r["users"]) == (3, ["bob", "carol", "dave"]), r

    run(go())


def test_seen_by_lists_first_20(chatd):
    srv = chatd(**RECEIPTS)
    # byte order: upper case before lower case, "u10" before "u2"
    names = ["u%d" % i for i in range(1, 21)] + ["Zed", "Amy", "x.y", "b-c", "quiet"]

    async def go():
        owner = await login(srv, "owner")
        cid = await owner.group(names)
        await owner.send_text(cid)
        readers = [n for n in names if n != "quiet"]
        for n in reversed(readers):
            c = await Client.login(srv, n)
            await read(c, cid, 1)
            await c.close()
        r = await receipts(owner, cid, 1)
        assert r["seen_by"] == len(readers) == 24, r
        assert r["users"] == sorted(readers)[:20], r
        assert r["users"][:3] == ["Amy", "Zed", "b-c"], r

    run(go())


def test_burst_of_reads_is_a_few_writes(chatd):
    srv = chatd(server={"frame_rate": 100000, "frame_burst": 100000}, **RECEIPTS)
    n = 1000

    async def go():
        alice = await login(srv, "alice")
        bob = await login(srv, "bob")
        cid = await alice.group(["bob"])
        for i in range(n):
            await alice.send_json({"type": "send", "id": "s%d" % i, "conversation_id": cid,
                                   "client_message_id": new_cmid(), "text": "m%d" % i})
        for i in range(n):
            await alice.expect("ack", timeout=20, id="s%d" % i)
        writes0, reads0 = metric(srv, "cursor_writes"), metric(srv, "reads")
        t0 = time.monotonic()
        for seq in range(1, n + 1):
            await bob.send_json({"type": "read", "conversation_id": cid, "seq": seq})
        await read(bob, cid, n)                        # all of them were handled
        took = time.monotonic() - t0
        assert (await conv_item(bob, cid))["read_seq"] == n
        await asyncio.get_running_loop().run_in_executor(None, wait_stored, srv, cid, "bob", n)
        writes = metric(srv, "cursor_writes") - writes0
        assert metric(srv, "reads") - reads0 == n
        assert 1 <= writes <= 3, "%d reads in %.2f s made %d cursor writes" % (n, took, writes)
        assert metric(srv, "cursor_rows") >= 1
        # alice was told, in order, ending at n
        got = await collect(alice, 1.0, types={"receipt"})
        assert got and max(f["seq"] for f in got) == n, got[-3:]

    run(go(), timeout=120)


def test_unread_in_sync_and_conv_list(chatd):
    srv = chatd(**with_receipts(flush_interval_ms=60000))

    async def go():
        alice = await login(srv, "alice")
        bob = await login(srv, "bob")
        cid = await alice.group(["bob"])
        other = await alice.direct("bob")
        await send_n(alice, cid, 4)
        await send_n(alice, other, 2)
        item = await conv_item(bob, cid)
        assert (item["read_seq"], item["unread"], item["last_seq"]) == (0, 4, 4), item
        await read(bob, cid, 3)
        s = sync_map(await bob.call({"type": "sync"}, "sync"))
        assert (s[cid]["read_seq"], s[cid]["unread"]) == (3, 1), s[cid]
        # after the (not yet written) cursor: only seq 4
        assert [m["seq"] for m in s[cid]["messages"]] == [4], s[cid]
        assert (s[other]["read_seq"], s[other]["unread"]) == (0, 2), s[other]
        assert [m["seq"] for m in s[other]["messages"]] == [1, 2]
        # a cursor given by the client decides
        s = sync_map(await bob.call({"type": "sync", "cursors": {cid: 1}}, "sync"))
        assert [m["seq"] for m in s[cid]["messages"]] == [2, 3, 4], s[cid]
        assert s[cid]["unread"] == 1
        sa = sync_map(await alice.call({"type": "sync"}, "sync"))
        assert sa[cid]["unread"] == 0 and sa[cid]["read_seq"] == 4
        info = await bob.call({"type": "conv.info", "conversation_id": cid}, "conversation")
        assert info["conversation"]["read_seq"] == 3 and info["conversation"]["unread"] == 1
        assert stored_cursor(srv, cid, "bob") == 0      # still waiting to be written

    run(go())


def test_cursor_survives_restart(chatd):
    srv = chatd(**with_receipts(flush_interval_ms=60000))

    async def first():
        alice = await login(srv, "alice")
        bob = await login(srv, "bob")
        cid = await alice.group(["bob"])
        await send_n(alice, cid, 3)
        await read(bob, cid, 2)
        return cid

    cid = run(first())
    assert stored_cursor(srv, cid, "bob") == 0          # written behind, not yet
    assert srv.stop() == 0
    assert stored_cursor(srv, cid, "bob") == 2          # written at SIGTERM
    srv.start()

    async def second():
        bob = await login(srv, "bob")
        item = await conv_item(bob, cid)
        assert (item["read_seq"], item["unread"]) == (2, 1), item

    run(second())
    assert srv.log_events("receipts.final_write", "receipts_cursor", level="info"), srv.log_text()


def test_refusals(chatd):
    srv = chatd(**RECEIPTS)

    async def go():
        alice = await login(srv, "alice")
        eve = await login(srv, "eve")
        cid = await alice.group(["bob"])
        await alice.send_text(cid)
        for t in ("read", "receipts"):
            await eve.call_error({"type": t, "conversation_id": cid, "seq": 1}, "not_found")
            await eve.call_error({"type": t, "conversation_id": "c-none", "seq": 1},
                                 "not_found")
            bad = [{}, {"seq": 1}, {"conversation_id": cid}, {"conversation_id": 5, "seq": 1},
                   {"conversation_id": "", "seq": 1}, {"conversation_id": cid, "seq": 0},
                   {"conversation_id": cid, "seq": -3}, {"conversation_id": cid, "seq": "1"},
                   {"conversation_id": cid, "seq": 1.5}, {"conversation_id": cid, "seq": None},
                   {"conversation_id": cid, "seq": True}]
            for extra in bad:
                f = {"type": t}
                f.update(extra)
                r = await alice.call_error(f, "bad_request")
                assert r["message"], r
        # eve's attempts moved nothing and told nobody
        await alice.assert_no_frame(0.3, types={"receipt"})
        assert metric(srv, "reads") == 0

    run(go())


def test_without_receipts_plugin(chatd):
    srv = chatd(plugins={"receipts": None})

    async def go():
        alice = await login(srv, "alice")
        bob = await login(srv, "bob")
        cid = await alice.group(["bob"])
        await send_n(alice, cid, 3)
        await read(bob, cid, 2)
        assert stored_cursor(srv, cid, "bob") == 2      # written through at once
        await read(bob, cid, 1)
        assert stored_cursor(srv, cid, "bob") == 2
        await alice.assert_no_frame(0.5, types={"receipt"})
        r = await receipts(alice, cid, 2)
        assert (r["seen_by"], r["users"]) == (1, ["bob"]), r
        item = await conv_item(bob, cid)
        assert (item["read_seq"], item["unread"]) == (2, 1), item

    run(go())
