"""12 — fan-out strategies: "hybrid" (inbox rows written with the message
below fanout_hybrid.write_threshold members, none above) and "online".
Whatever the strategy and the group size, every online session of every
member gets each message exactly once and every offline member recovers it
with sync; the strategy changes the storage writes (table inbox), not what
clients see.  Members added while online, members coming online after
being added, removed members, and a group growing past the threshold."""

import asyncio
import collections

import pytest

from chatclient import Client, call_result, collect, collect_until, db_query, run, sync_map

THRESHOLD = 5          # hybrid write_threshold in these tests
SMALL, LARGE = 3, 8    # group sizes clearly below and above it


def config(strategy, threshold=THRESHOLD):
    if strategy == "hybrid":
        return {"plugins": {"fanout": "hybrid"},
                "fanout_hybrid": {"write_threshold": threshold}}
    assert strategy == "online"
    return {"plugins": {"fanout": "online"}}


def inbox_rows(srv, cid):
    """The inbox rows of a conversation: {user_id: last_seq}."""
    rows = db_query(srv, "SELECT user_id, conversation_id, last_seq FROM inbox "
                         "WHERE conversation_id = ?", (cid,))
    out = {}
    for user, conv, last in rows:
        assert user not in out, "two inbox rows for %s: %r" % (user, rows)
        out[user] = last
    return out


def users(n):
    return ["u%d" % i for i in range(n)]


async def login_reachable(srv, user):
    """A logged-in session that has also had a command answered: `ready`
    may come before the fan-out registration completes (the core holds the
    user's commands until then), so once a core command is answered the
    session is surely reachable.  (`ping` would not do: the gateway answers
    it without the core.)"""
    c = await Client.login(srv, user)
    await c.call({"type": "conv.list"}, "conversations")
    return c


async def counts(sessions, cid, wants, extra=0.4):
    """Per session, how many times each seq of cid arrived as `message`:
    collected (all sessions at the same time) until every seq in wants[i]
    is there, at most 5 s, then `extra` s more to catch duplicates."""
    def until(want):
        want = set(want)
        return lambda frames: want <= {f["seq"] for f in frames}
    got = await asyncio.gather(*(collect_until(s, until(w), extra=extra, types={"message"},
                                               conversation_id=cid)
                                 for s, w in zip(sessions, wants)))
    return [collections.Counter(f["seq"] for f in frames) for frames in got]


async def build(srv, n, online):
    """u0 owns a group of n members; the first `online` members are logged
    in (u0 and u1 with two sessions each).  Returns (cid, sessions by user)."""
    names = users(n)
    sessions = {}
    for i, u in enumerate(names[:online]):
        sessions[u] = [await login_reachable(srv, u)]
        if i < 2:
            sessions[u].append(await login_reachable(srv, u))
    cid = await sessions["u0"][0].group(names[1:], title="fan")
    # everyone online has heard of every member by now
    for u, ss in sessions.items():
        for s in ss:
            for peer in names[1:]:
                await s.expect("conv.event", conversation_id=cid, event="member_added",
                               user_id=peer)
    return cid, sessions


async def deliver(srv, n, online, texts):
    """Send `texts` from u0's first session; check every other online
    session got each exactly once and the sending session none; the
    offline members then log in and sync.  Returns a transcript without
    ids or times, for comparing strategies."""
    cid, sessions = await build(srv, n, online)
    sender = sessions["u0"][0]
    acks = [await sender.send_text(cid, t) for t in texts]
    seqs = [a["seq"] for a in acks]
    assert seqs == list(range(1, len(texts) + 1)), acks
    others = [(u, i, s) for u, ss in sessions.items() for i, s in enumerate(ss)
              if s is not sender]
    cs = await counts([s for _, _, s in others] + [sender], cid, [seqs] * len(others) + [[]])
    problems = []
    for (u, i, _), c in zip(others, cs[:-1]):
        if c != collections.Counter(seqs):
            problems.append("%s session %d got %r (want each of %r once)" % (u, i, dict(c), seqs))
    if cs[-1]:
        problems.append("the sending session got its own messages: %r" % dict(cs[-1]))
    assert not problems, "\n".join(problems)
    transcript = {"live": {}, "sync": {}}
    for u, ss in sessions.items():
        h = await ss[-1].history(cid)
        assert [m["text"] for m in h["messages"]] == texts, h
    for u in users(n)[online:]:
        c = await Client.login(srv, u)
        s = sync_map(await c.call({"type": "sync"}, "sync"))
        assert cid in s, "%s: sync does not list the group: %r" % (u, list(s))
        msgs = s[cid]["messages"]
        assert [m["seq"] for m in msgs] == seqs, "%s: %r" % (u, msgs)
        assert [m["text"] for m in msgs] == texts, msgs
        assert all(m["sender_id"] == "u0" for m in msgs), msgs
        transcript["sync"][u] = [strip(m, cid) for m in msgs]
        await c.assert_no_frame(0.3, types={"message"})
    return cid, transcript


IDS = {"message_id", "ts", "id", "at", "session_id", "server_time"}


def strip(frame, cid):
    """A frame without its ids and times, the conversation id replaced."""
    out = {}
    for k, v in frame.items():
        if k in IDS:
            continue
        if k == "client_message_id":
            v = "<cmid>"
        out[k] = "<conv>" if v == cid else v
    return out


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["below", "above"])
@pytest.mark.parametrize("strategy", ["hybrid", "online"])
def test_every_session_once_and_offline_members_sync(chatd, strategy, size):
    srv = chatd(**config(strategy))

    async def body():
        online = (size + 1) // 2          # 2 of 3, 4 of 8
        cid, _ = await deliver(srv, size, online, ["one", "two", "three"])
        rows = inbox_rows(srv, cid)
        if strategy == "hybrid" and size < THRESHOLD:
            assert rows == {u: 3 for u in users(size)}, \
                "hybrid below the threshold writes an inbox row per member: %r" % rows
        else:
            assert rows == {}, "no inbox rows for %s with %d members: %r" % (strategy, size, rows)
    run(body(), timeout=60)


def test_strategy_changes_storage_not_what_clients_see(chatd):
    """The same scenario under three configurations: the frames and sync
    results (minus ids and times) are the same, the inbox rows are not."""
    confs = [("hybrid, below", config("hybrid", threshold=6), True),
             ("hybrid, above", config("hybrid", threshold=2), False),
             ("online", config("online"), False)]
    texts = ["alpha", "beta", "gamma", "delta"]
    results = []
    for name, conf, want_rows in confs:
        srv = chatd(**conf)

        async def body():
            cid, sessions = await build(srv, 4, 2)
            sender = sessions["u0"][0]
            for t in texts:
                await sender.send_text(cid, t)
            # everything else the other sessions saw of the conversation
            names = ["%s/%d" % (u, i) for u, ss in sorted(sessions.items())
                     for i, s in enumerate(ss) if s is not sender]
            others = [s for u, ss in sorted(sessions.items()) for s in ss if s is not sender]
            last = len(texts)
            got = await asyncio.gather(*(collect_until(
                s, lambda fr: any(f.get("seq") == last for f in fr), conversation_id=cid)
                for s in others))
            live = {k: sorted((strip(f, cid) for f in frames),
                              key=lambda f: (f["type"], f.get("seq", 0)))
                    for k, frames in zip(names, got)}
            h = await sessions["u1"][0].history(cid)
            hist = [strip(m, cid) for m in h["messages"]]
            offline = {}
            for u in ("u2", "u3"):
                c = await Client.login(srv, u)
                s = sync_map(await c.call({"type": "sync"}, "sync"))
                offline[u] = [strip(m, cid) for m in s[cid]["messages"]]
            rows = inbox_rows(srv, cid)
            return {"live": live, "history": hist, "sync": offline}, rows
        view, rows = run(body(), timeout=60)
        if want_rows:
            assert rows == {u: len(texts) for u in users(4)}, (name, rows)
        else:
            assert rows == {}, (name, rows)
        results.append((name, view))
    base_name, base = results[0]
    for name, view in results[1:]:
        assert view == base, "clients see different things with %s than with %s:\n%r\n%r" % (
            name, base_name, view, base)
    # and the view is the full one: 3 live sessions x 4 messages, 2 synced members
    assert sorted(base["live"]) == ["u0/1", "u1/0", "u1/1"], base["live"]
    for k, msgs in base["live"].items():
        assert [m["text"] for m in msgs] == texts, (k, msgs)
    assert [m["text"] for m in base["history"]] == texts
    assert all([m["text"] for m in v] == texts for v in base["sync"].values()), base["sync"]


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["below", "above"])
@pytest.mark.parametrize("strategy", ["hybrid", "online"])
def test_member_added_while_online_receives_at_once(chatd, strategy, size):
    srv = chatd(**config(strategy))

    async def body():
        cid, sessions = await build(srv, size, size)
        n1 = await login_reachable(srv, "newbie")
        n2 = await login_reachable(srv, "newbie")
        owner = sessions["u0"][0]
        await call_result(owner, {"type": "conv.add", "conversation_id": cid,
                                  "user_ids": ["newbie"]})
        ack = await owner.send_text(cid, "right after the add")
        for s in (n1, n2):
            ev = await s.expect("conv.event", conversation_id=cid, event="member_added")
            assert ev["user_id"] == "newbie" and ev["by"] == "u0", ev
        ack2 = await sessions["u1"][0].send_text(cid, "and from u1")
        everyone = [n1, n2] + [s for ss in sessions.values() for s in ss]
        wants = [[ack2["seq"]] if s is owner else [ack["seq"]] if s is sessions["u1"][0]
                 else [ack["seq"], ack2["seq"]] for s in everyone]
        cs = await counts(everyone, cid, wants)
        both = collections.Counter([ack["seq"], ack2["seq"]])
        assert cs[0] == both, cs[0]
        assert cs[1] == both, cs[1]
        for s, c in zip(everyone[2:], cs[2:]):
            if s is owner:
                assert c == collections.Counter([ack2["seq"]]), (s.name, c)
            elif s is sessions["u1"][0]:
                assert c == collections.Counter([ack["seq"]]), (s.name, c)
            else:
                assert c == both, (s.name, c)
        rows = inbox_rows(srv, cid)
        if strategy == "hybrid" and size + 1 < THRESHOLD:
            assert rows.get("newbie") == ack2["seq"], rows
        else:
            assert rows == {}, rows
    run(body(), timeout=60)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["below", "above"])
@pytest.mark.parametrize("strategy", ["hybrid", "online"])
def test_member_coming_online_after_the_add_receives(chatd, strategy, size):
    srv = chatd(**config(strategy))

    async def body():
        cid, sessions = await build(srv, size, 2)
        owner = sessions["u0"][0]
        await call_result(owner, {"type": "conv.add", "conversation_id": cid,
                                  "user_ids": ["newbie"]})
        ack1 = await owner.send_text(cid, "before newbie is online")
        n = await Client.login(srv, "newbie")
        s = sync_map(await n.call({"type": "sync"}, "sync"))
        assert [m["seq"] for m in s[cid]["messages"]] == [ack1["seq"]], s[cid]
        ack2 = await owner.send_text(cid, "now that newbie is online")
        n2 = await login_reachable(srv, "newbie")
        ack3 = await owner.send_text(cid, "to both sessions")
        cs = await counts([n, n2], cid, [[ack2["seq"], ack3["seq"]], [ack3["seq"]]])
        assert cs[0] == collections.Counter([ack2["seq"], ack3["seq"]]), cs[0]
        assert cs[1] == collections.Counter([ack3["seq"]]), cs[1]
        # an offline member who logs in later still catches up by sync
        late = users(size)[-1]
        c = await Client.login(srv, late)
        s = sync_map(await c.call({"type": "sync"}, "sync"))
        assert [m["seq"] for m in s[cid]["messages"]] == [1, 2, 3], s[cid]
    run(body(), timeout=60)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["below", "above"])
@pytest.mark.parametrize("strategy", ["hybrid", "online"])
def test_removed_member_receives_nothing(chatd, strategy, size):
    srv = chatd(**config(strategy))

    async def body():
        cid, sessions = await build(srv, size, size)
        owner = sessions["u0"][0]
        victim = users(size)[1]                  # u1: two sessions
        ack = await owner.send_text(cid, "before")
        for s in sessions[victim]:
            await s.expect("message", conversation_id=cid, seq=ack["seq"])
            await collect(s, 0.2)
        await call_result(owner, {"type": "conv.remove", "conversation_id": cid,
                                  "user_id": victim})
        for s in sessions[victim]:
            await s.expect("conv.event", conversation_id=cid, event="member_removed",
                           user_id=victim)
        ack2 = await owner.send_text(cid, "after")
        rest = [s for u, ss in sessions.items() if u != victim for s in ss if s is not owner]
        cs = await counts(rest + sessions[victim], cid,
                          [[ack2["seq"]]] * len(rest) + [[]] * len(sessions[victim]), extra=0.8)
        for c in cs[:len(rest)]:
            assert c[ack2["seq"]] == 1, cs
        for c in cs[len(rest):]:
            assert not c, "the removed member still receives: %r" % cs
        rows = inbox_rows(srv, cid)
        assert rows.get(victim) != ack2["seq"], \
            "the removed member's inbox entry advanced: %r" % rows
        if strategy == "hybrid" and size - 1 < THRESHOLD:
            for u in set(users(size)) - {victim}:
                assert rows.get(u) == ack2["seq"], rows
    run(body(), timeout=60)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["below", "above"])
@pytest.mark.parametrize("strategy", ["hybrid", "online"])
def test_updates_and_events_reach_every_session_once(chatd, strategy, size):
    """message_update (edit, delete) and conv.event go out through the same
    fan-out: every online session but the acting one, exactly once."""
    srv = chatd(**config(strategy))

    async def body():
        cid, sessions = await build(srv, size, size)
        owner = sessions["u0"][0]
        ack = await owner.send_text(cid, "typo")
        ack2 = await owner.send_text(cid, "to delete")
        others = [s for ss in sessions.values() for s in ss if s is not owner]
        await counts(others, cid, [[ack["seq"], ack2["seq"]]] * len(others))
        await call_result(owner, {"type": "edit", "conversation_id": cid, "seq": ack["seq"],
                                  "text": "fixed"})
        await call_result(owner, {"type": "delete", "conversation_id": cid,
                                  "seq": ack2["seq"], "scope": "everyone"})
        await call_result(owner, {"type": "conv.settings", "conversation_id": cid,
                                  "title": "renamed"})

        def done(frames):
            kinds = {(f["type"], f.get("kind"), f.get("event")) for f in frames}
            return {("message_update", "edited", None), ("message_update", "deleted", None),
                    ("conv.event", None, "settings_changed")} <= kinds
        def owner_done(frames):
            return any(f.get("event") == "settings_changed" for f in frames)
        got = await asyncio.gather(*(collect_until(s, owner_done if s is owner else done,
                                                   conversation_id=cid,
                                                   types={"message_update", "conv.event"})
                                     for s in others + [owner]))
        for s, frames in zip(others, got[:-1]):
            seen = sorted((f["type"], f.get("kind") or f.get("event"), f.get("seq", 0))
                          for f in frames)
            assert seen == [("conv.event", "settings_changed", 0),
                            ("message_update", "deleted", ack2["seq"]),
                            ("message_update", "edited", ack["seq"])], (s.name, frames)
            for f in frames:
                if f.get("kind") == "edited":
                    assert f["text"] == "fixed", f
                if f.get("kind") == "deleted":
                    assert "text" not in f, f
        mine = [f for f in got[-1] if f["type"] == "message_update"]
        assert mine == [], "the acting session gets result, not message_update: %r" % mine
        assert [f.get("event") for f in got[-1]] == ["settings_changed"], got[-1]
    run(body(), timeout=60)


def test_group_growing_past_the_threshold_switches(chatd):
    srv = chatd(**config("hybrid", threshold=4))

    async def body():
        cid, sessions = await build(srv, 3, 2)          # u0, u1 online; u2 offline
        owner = sessions["u0"][0]
        a1 = await owner.send_text(cid, "small group")
        assert inbox_rows(srv, cid) == {"u0": a1["seq"], "u1": a1["seq"], "u2": a1["seq"]}
        late = await login_reachable(srv, "u3")
        await call_result(owner, {"type": "conv.add", "conversation_id": cid,
                                  "user_ids": ["u3", "u4", "u5"]})   # 6 members
        a2 = await owner.send_text(cid, "large group")
        rows = inbox_rows(srv, cid)
        assert rows == {}, "past the threshold the inbox rows go with the next message: %r" % rows
        live = sessions["u0"][1:] + sessions["u1"] + [late]
        cs = await counts(live, cid, [[a1["seq"], a2["seq"]]] * 3 + [[a2["seq"]]])
        assert cs[0] == cs[1] == cs[2] == collections.Counter([a1["seq"], a2["seq"]]), cs
        assert cs[3] == collections.Counter([a2["seq"]]), cs
        # shrinking below it again brings them back
        for u in ("u3", "u4", "u5"):
            await call_result(owner, {"type": "conv.remove", "conversation_id": cid,
                                      "user_id": u})
        a3 = await owner.send_text(cid, "small again")
        assert inbox_rows(srv, cid) == {"u0": a3["seq"], "u1": a3["seq"], "u2": a3["seq"]}
        for u in ("u2", "u4"):
            c = await Client.login(srv, u)
            s = sync_map(await c.call({"type": "sync", "cursors": {cid: 0}}, "sync"))
            if u == "u2":
                assert [m["text"] for m in s[cid]["messages"]] == \
                    ["small group", "large group", "small again"], s[cid]
            else:
                assert cid not in s, "a removed member's sync lists the group: %r" % list(s)
    run(body(), timeout=60)


def test_inbox_table_has_the_documented_columns(chatd):
    srv = chatd(**config("online"))

    async def body():
        a = await Client.login(srv, "alice")
        await a.group(["bob"])
    run(body())
    cols = [r[1] for r in db_query(srv, "PRAGMA table_info(inbox)")]
    for c in ("user_id", "conversation_id", "last_seq"):
        assert c in cols, "table inbox lacks %s: %r" % (c, cols)
