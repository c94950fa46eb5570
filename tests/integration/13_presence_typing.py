"""13 — presence and typing: online while any session lives (multi-device),
offline on the last close or when a session stops answering pings (within
the TTL), one push per real change (a quick reconnect is no change),
subscription limits; typing throttled to one change per 2 s (coalesced to
the latest state), expiring 6 s after a start, aggregated (5 names plus the
count, never the recipient), nothing to the typist's own sessions, silent
above typing.max_members and when the conversation turns typing off."""

import asyncio
import time

from chatclient import Client, RawWS, call_result, collect, mint, run


def presence_of(frames, user):
    return [f for f in frames if f.get("type") == "presence" and f.get("user_id") == user]


# --------------------------------------------------------------------------
# presence

def test_presence_multi_device_one_push_per_change(server):
    async def main():
        bob = await Client.login(server, "bob")
        await call_result(bob, {"type": "presence.subscribe", "user_ids": ["alice"]})
        first = await bob.expect("presence", user_id="alice")
        assert first["status"] == "offline" and first["last_seen"] is None, first
        assert "id" not in first

        a1 = await Client.login(server, "alice")
        on = await bob.expect("presence", user_id="alice", status="online")
        assert isinstance(on["last_seen"], int)
        a2 = await Client.login(server, "alice")     # a second device
        await a2.close()                              # ... and gone again
        # Still online: neither change is a change of alice's status.
        assert presence_of(await collect(bob, 2.5, types=("presence",)), "alice") == []

        t0 = time.monotonic()
        await a1.close()
        off = await bob.expect("presence", timeout=3, user_id="alice", status="offline")
        assert time.monotonic() - t0 <= 2.2, "offline came later than 2 s after the close"
        assert isinstance(off["last_seen"], int) and off["last_seen"] > on["last_seen"] - 1
        assert presence_of(await collect(bob, 1.0, types=("presence",)), "alice") == []
    run(main())


def test_presence_quick_reconnect_is_not_a_change(server):
    async def main():
        alice = await Client.login(server, "alice")
        bob = await Client.login(server, "bob")
        await call_result(bob, {"type": "presence.subscribe", "user_ids": ["alice"]})
        await bob.expect("presence", user_id="alice", status="online")
        for _ in range(3):                            # flapping between connections
            await alice.close()
            await asyncio.sleep(0.1)
            alice = await Client.login(server, "alice")
        assert presence_of(await collect(bob, 2.5, types=("presence",)), "alice") == []
        # A second subscriber now gets the current status at once.
        carol = await Client.login(server, "carol")
        await call_result(carol, {"type": "presence.subscribe", "user_ids": ["alice", "bob"]})
        got = {f["user_id"]: f["status"] for f in await collect(carol, 1.0, types=("presence",))}
        assert got == {"alice": "online", "bob": "online"}
    run(main())


def test_presence_expires_when_pings_stop(chatd):
    srv = chatd(server={"ping_interval_s": 1, "idle_timeout_s": 3})

    async def main():
        bob = await Client.login(srv, "bob")
        await call_result(bob, {"type": "presence.subscribe", "user_ids": ["dora"]})
        await bob.expect("presence", user_id="dora", status="offline")
        # A raw client that completes the handshake and then never reads:
        # it answers no ping, and sends no close frame.
        dead = RawWS(srv.port)
        dead.handshake(mint("dora", secret=srv.secret))
        await bob.expect("presence", user_id="dora", status="online")
        t0 = time.monotonic()
        off = await bob.expect("presence", timeout=10, user_id="dora", status="offline")
        took = time.monotonic() - t0
        # TTL: idle_timeout_s (3) after the last sign of life, plus the
        # offline debounce (1 s); never before the first ping was missed.
        assert 1.0 <= took <= 6.5, took
        assert isinstance(off["last_seen"], int)
        dead.close()
    run(main())


def test_presence_limits_and_unsubscribe(chatd):
    srv = chatd(presence={"max_subscriptions": 3})

    async def main():
        bob = await Client.login(srv, "bob")
        await call_result(bob, {"type": "presence.subscribe",
                                "user_ids": ["u1", "u2", "u1", "u3"]})
        got = await collect(bob, 1.0, types=("presence",))
        assert sorted(f["user_id"] for f in got) == ["u1", "u2", "u3"], got
        r = await bob.call_error({"type": "presence.subscribe", "user_ids": ["u4"]}, "too_large")
        assert "3" in r["message"]
        # Already watched users do not count again.
        await call_result(bob, {"type": "presence.subscribe", "user_ids": ["u2"]})
        await call_result(bob, {"type": "presence.unsubscribe", "user_ids": ["u1", "nobody"]})
        await call_result(bob, {"type": "presence.subscribe", "user_ids": ["u4"]})
        await bob.expect("presence", user_id="u4", status="offline")
        # u1 is no longer watched: its coming online is not pushed.
        u1 = await Client.login(srv, "u1")
        u4 = await Client.login(srv, "u4")
        await bob.expect("presence", user_id="u4", status="online")
        assert presence_of(await collect(bob, 0.5, types=("presence",)), "u1") == []
        await u1.close()
        await u4.close()
        for bad in ([], "u1", ["bad id!"], [7], None):
            frame = {"type": "presence.subscribe"}
            if bad is not None:
                frame["user_ids"] = bad
            await bob.call_error(frame, "bad_request")
        await bob.call_error({"type": "presence.subscribe", "user_ids": ["x%d" % i
                                                                      for i in range(1001)]},
                             "too_large")
        # A session's subscriptions end with it.
        await bob.close()
        bob2 = await Client.login(srv, "bob")
        u2 = await Client.login(srv, "u2")
        assert presence_of(await collect(bob2, 0.5, types=("presence",)), "u2") == []
        await u2.close()
    run(main())


# --------------------------------------------------------------------------
# typing

def typing_frames(frames):
    return [f for f in frames if f.get("type") == "typing"]


async def group_of(server, owner, others):
    o = await Client.login(server, owner)
    conv = await o.group(others)
    return o, conv


def test_typing_reaches_others_not_own_sessions(server):
    async def main():
        alice, conv = await group_of(server, "alice", ["bob", "carol"])
        alice2 = await Client.login(server, "alice")
        bob = await Client.login(server, "bob")
        carol = await Client.login(server, "carol")
        await alice.send_json({"type": "typing", "conversation_id": conv, "state": "start"})
        for c in (bob, carol):
            f = await c.expect("typing", conversation_id=conv)
            assert f["users"] == ["alice"] and f["count"] == 1, f
            assert "id" not in f
        assert typing_frames(await collect(alice2, 0.5)) == []
        assert typing_frames(await collect(alice, 0.1)) == []
        # After the window, a stop is told at once.
        await asyncio.sleep(2.1)
        t0 = time.monotonic()
        await alice.send_json({"type": "typing", "conversation_id": conv, "state": "stop"})
        f = await bob.expect("typing", conversation_id=conv)
        assert f["users"] == [] and f["count"] == 0
        assert time.monotonic() - t0 < 1.0
        # Nothing stored: history has no trace of it.
        h = await bob.history(conv)
        assert h["messages"] == []
        assert typing_frames(await collect(alice2, 0.3)) == []
    run(main())


def test_typing_throttle_coalesces_to_latest_state(server):
    async def main():
        alice, conv = await group_of(server, "alice", ["bob"])
        bob = await Client.login(server, "bob")
        t0 = time.monotonic()
        # A burst inside one window that ends where it began: one frame.
        for state in ("start", "stop", "start", "stop", "start"):
            await alice.send_json({"type": "typing", "conversation_id": conv, "state": state})
        frames = typing_frames(await collect(bob, 3.0))
        assert [f["count"] for f in frames] == [1], frames
        # start then stop inside the window: the stop comes when it ends.
        await asyncio.sleep(max(0.0, 2.2 - (time.monotonic() - t0)))
        await alice.send_json({"type": "typing", "conversation_id": conv, "state": "stop"})
        await bob.expect("typing", count=0)
        await asyncio.sleep(2.1)                          # that stop's window is over
        t1 = time.monotonic()
        await alice.send_json({"type": "typing", "conversation_id": conv, "state": "start"})
        await alice.send_json({"type": "typing", "conversation_id": conv, "state": "stop"})
        now = await bob.expect("typing", timeout=1, count=1)
        assert now["users"] == ["alice"]
        end = await bob.expect("typing", timeout=4, count=0)
        waited = time.monotonic() - t1
        assert 1.5 <= waited <= 3.0, "the coalesced stop should come at the window's end: %.2f" \
            % waited
        assert end["users"] == []
        assert typing_frames(await collect(bob, 2.5)) == []
    run(main())


def test_typing_start_expires_after_6s(server):
    async def main():
        alice, conv = await group_of(server, "alice", ["bob"])
        bob = await Client.login(server, "bob")
        await call_result(alice, {"type": "typing", "conversation_id": conv, "state": "start"})
        await bob.expect("typing", count=1)
        t0 = time.monotonic()
        f = await bob.expect("typing", timeout=9, count=0)
        took = time.monotonic() - t0
        assert 5.0 <= took <= 7.5, took
        assert f["users"] == []
    run(main())


def test_typing_aggregates_five_names_and_count(server):
    async def main():
        typists = ["t%d" % i for i in range(7)]
        owner, conv = await group_of(server, "owner", typists + ["watcher"])
        watcher = await Client.login(server, "watcher")
        clients = [await Client.login(server, u) for u in typists]
        for c in clients:
            await c.send_json({"type": "typing", "conversation_id": conv, "state": "start"})
        last = await watcher.expect("typing", timeout=5, count=7)
        assert last["users"] == typists[:5], last          # in the order they started
        # A typist sees the others, never themselves.
        t0_frames = typing_frames(await collect(clients[0], 1.0))
        assert t0_frames, "t0 saw nobody typing"
        for f in t0_frames:
            assert "t0" not in f["users"] and f["count"] <= 6, f
        assert t0_frames[-1]["count"] == 6
        assert t0_frames[-1]["users"] == typists[1:6]
        # The owner (not typing) sees the whole set.
        o = typing_frames(await collect(owner, 1.0))
        assert o[-1]["count"] == 7
    run(main())


def test_typing_silent_in_large_groups_and_when_off(chatd):
    srv = chatd(typing={"max_members": 3})

    async def main():
        alice = await Client.login(srv, "alice")
        big = await alice.group(["bob", "carol", "dave"])        # 4 members
        small = await alice.group(["bob"])
        bob = await Client.login(srv, "bob")
        await call_result(alice, {"type": "typing", "conversation_id": big, "state": "start"})
        assert typing_frames(await collect(bob, 1.0)) == []
        await call_result(alice, {"type": "conv.settings", "conversation_id": small,
                                  "typing": False})
        await call_result(alice, {"type": "typing", "conversation_id": small, "state": "start"})
        assert typing_frames(await collect(bob, 1.0)) == []
        await call_result(alice, {"type": "conv.settings", "conversation_id": small,
                                  "typing": True})
        await call_result(alice, {"type": "typing", "conversation_id": small, "state": "start"})
        await bob.expect("typing", conversation_id=small, count=1)
        # Errors.
        eve = await Client.login(srv, "eve")
        await eve.call_error({"type": "typing", "conversation_id": small, "state": "start"},
                             "not_found")
        await eve.call_error({"type": "typing", "conversation_id": "c-nope", "state": "start"},
                             "not_found")
        await alice.call_error({"type": "typing", "conversation_id": small, "state": "maybe"},
                               "bad_request")
        await alice.call_error({"type": "typing", "conversation_id": small}, "bad_request")
        await alice.call_error({"type": "typing", "state": "start"}, "bad_request")
        assert typing_frames(await collect(eve, 0.3)) == []
    run(main())


def test_typing_removed_member_leaves_the_set(server):
    async def main():
        alice, conv = await group_of(server, "alice", ["bob", "carol"])
        bob = await Client.login(server, "bob")
        carol = await Client.login(server, "carol")
        await bob.send_json({"type": "typing", "conversation_id": conv, "state": "start"})
        await carol.expect("typing", count=1, users=["bob"])
        await call_result(alice, {"type": "conv.remove", "conversation_id": conv,
                                  "user_id": "bob"})
        f = await carol.expect("typing", timeout=3, count=0)
        assert f["users"] == []
        # bob, no longer a member, cannot type there.
        await bob.call_error({"type": "typing", "conversation_id": conv, "state": "start"},
                             "not_found")
    run(main())
