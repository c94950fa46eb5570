"""10 — groups and roles: the permission matrix of protocol.md (every role
tries every management action on a target of every role), the refusals
(not_found, bad_request, too_large), conv.event frames for each change,
ownership passing on leave, removal cutting a member off at once (live,
history, sync), the history a new member sees (new_member_history), lock
and mute (with expiry)."""

import asyncio
import time

import pytest

from chatclient import (Client, call_result, collect, new_cmid, now_ms, run,
                        sync_map)

# --------------------------------------------------------------------------
# the permission table of protocol.md ("Precise rules", Conversations)

RANK = {"member": 0, "moderator": 1, "admin": 2, "owner": 3}
ROLES = ["owner", "admin", "moderator", "member"]

# Who may act, as the table says it; "lower" / "members" / a tuple of roles
# narrow the targets, on top of the rule that nobody acts on a member of
# equal or higher role.
TABLE = {
    "conv.add":      {"owner": "yes", "admin": "yes", "moderator": "no", "member": "no"},
    "conv.remove":   {"owner": "yes", "admin": "lower", "moderator": "no", "member": "no"},
    "conv.role":     {"owner": ("admin", "moderator", "member"),
                      "admin": ("moderator", "member"), "moderator": "no", "member": "no"},
    "conv.settings": {"owner": "yes", "admin": "yes", "moderator": "no", "member": "no"},
    "conv.mute":     {"owner": "yes", "admin": "yes", "moderator": "members", "member": "no"},
    "delete":        {"owner": "yes", "admin": "yes", "moderator": "yes", "member": "own"},
    "send_locked":   {"owner": "yes", "admin": "yes", "moderator": "no", "member": "no"},
}
TARGETED = {"conv.remove", "conv.role", "conv.mute", "delete"}

# Two users per role (one owner): the actor of role R is USERS[R][0]; a
# target of the actor's own role is USERS[R][1].
USERS = {"owner": ["olga"], "admin": ["adam", "abby"], "moderator": ["mona", "moe"],
         "member": ["mel", "meg"]}
NEWBIE = "nina"


def allowed(action, actor, target=None, new_role=None):
    cell = TABLE[action][actor]
    if cell == "no":
        return False
    if target is None:
        return True
    if target == "self":                 # delete of one's own message
        return True
    if RANK[target] >= RANK[actor]:
        return False
    if cell == "own":
        return False
    if cell == "members":
        return target == "member"
    if action == "conv.role":
        return new_role in cell
    return True


def cases():
    out = []
    for action in TABLE:
        for actor in ROLES:
            if action not in TARGETED:
                out.append(pytest.param(action, actor, None, None,
                                        id="%s-by-%s" % (action, actor)))
                continue
            targets = [t for t in ROLES if not (t == "owner" and actor == "owner")]
            if action == "delete":
                targets.append("self")
            for target in targets:
                if action == "conv.role":
                    for new_role in ("admin", "moderator", "member"):
                        if new_role == target:
                            continue
                        out.append(pytest.param(action, actor, target, new_role,
                                                id="%s-by-%s-on-%s-to-%s" % (
                                                    action, actor, target, new_role)))
                else:
                    out.append(pytest.param(action, actor, target, None,
                                            id="%s-by-%s-on-%s" % (action, actor, target)))
    return out


def target_user(actor, target):
    if target == "self":
        return USERS[actor][0]
    return USERS[target][1] if target == actor else USERS[target][0]


async def make_roles_group(owner):
    """olga's group with two admins, two moderators and two members."""
    members = [u for r in ("admin", "moderator", "member") for u in USERS[r]]
    cid = await owner.group(members, title="roles")
    for role in ("admin", "moderator"):
        for u in USERS[role]:
            await call_result(owner, {"type": "conv.role", "conversation_id": cid,
                                      "user_id": u, "role": role})
    return cid


async def members_of(client, cid):
    info = await client.call({"type": "conv.info", "conversation_id": cid}, "conversation")
    return {m["user_id"]: m["role"] for m in info["conversation"]["members"]}


async def info_of(client, cid):
    info = await client.call({"type": "conv.info", "conversation_id": cid}, "conversation")
    return info["conversation"]


async def send(client, conv, text):
    """A send's reply (ack or error)."""
    return await client.request({"type": "send", "conversation_id": conv,
                                 "client_message_id": new_cmid(), "text": text})


def expect_outcome(reply, ok, what):
    if ok:
        assert reply.get("type") != "error", "%s should be allowed: %r" % (what, reply)
    else:
        assert reply.get("type") == "error" and reply.get("code") == "forbidden", \
            "%s should be forbidden: %r" % (what, reply)


@pytest.mark.parametrize("action,actor_role,target_role,new_role", cases())
def test_permission_matrix(chatd, action, actor_role, target_role, new_role):
    srv = chatd()
    ok = allowed(action, actor_role, target_role, new_role)
    what = "%s by %s%s%s" % (action, actor_role,
                             "" if target_role is None else " on " + target_role,
                             "" if new_role is None else " to " + new_role)

    async def body():
        owner = await Client.login(srv, "olga")
        cid = await make_roles_group(owner)
        actor_name = USERS[actor_role][0]
        actor = owner if actor_role == "owner" else await Client.login(srv, actor_name)
        target = None if target_role is None else target_user(actor_role, target_role)
        before = await members_of(owner, cid)
        assert before[actor_name] == actor_role, before
        if target is not None:
            want = actor_role if target_role == "self" else target_role
            assert before[target] == want, before

        if action == "conv.add":
            r = await actor.request({"type": "conv.add", "conversation_id": cid,
                                     "user_ids": [NEWBIE]})
            expect_outcome(r, ok, what)
            after = await members_of(owner, cid)
            if ok:
                assert r["type"] == "result" and r["ok"] is True, r
                assert after == dict(before, **{NEWBIE: "member"}), after
            else:
                assert after == before, after

        elif action == "conv.remove":
            r = await actor.request({"type": "conv.remove", "conversation_id": cid,
                                     "user_id": target})
            expect_outcome(r, ok, what)
            after = await members_of(owner, cid)
            if ok:
                assert r["type"] == "result" and r["ok"] is True, r
                want = dict(before)
                del want[target]
                assert after == want, after
            else:
                assert after == before, after

        elif action == "conv.role":
            r = await actor.request({"type": "conv.role", "conversation_id": cid,
                                     "user_id": target, "role": new_role})
            expect_outcome(r, ok, what)
            after = await members_of(owner, cid)
            if ok:
                assert r["type"] == "result" and r["ok"] is True, r
                assert after == dict(before, **{target: new_role}), after
            else:
                assert after == before, after

        elif action == "conv.settings":
            r = await actor.request({"type": "conv.settings", "conversation_id": cid,
                                     "title": "renamed", "receipts": False})
            expect_outcome(r, ok, what)
            conv = await info_of(owner, cid)
            if ok:
                assert r["type"] == "result" and r["ok"] is True, r
                assert conv["title"] == "renamed", conv
                assert conv["settings"]["receipts"] is False, conv
            else:
                assert conv["title"] == "roles", conv
                assert conv["settings"]["receipts"] is True, conv

        elif action == "conv.mute":
            victim = await Client.login(srv, target)
            r = await actor.request({"type": "conv.mute", "conversation_id": cid,
                                     "user_id": target, "until_ms": now_ms() + 60000})
            expect_outcome(r, ok, what)
            s = await send(victim, cid, "am I muted?")
            if ok:
                assert r["type"] == "result" and r["ok"] is True, r
                assert s["type"] == "error" and s["code"] == "forbidden", \
                    "a muted member's send must be forbidden: %r" % s
            else:
                assert s["type"] == "ack", "the refused mute must not hold: %r" % s

        elif action == "delete":
            sender = actor if target_role == "self" else await Client.login(srv, target)
            text = "message of %s" % target
            ack = await sender.send_text(cid, text)
            r = await actor.request({"type": "delete", "conversation_id": cid,
                                     "seq": ack["seq"], "scope": "everyone"})
            expect_outcome(r, ok, what)
            h = await owner.history(cid)
            m = [x for x in h["messages"] if x["seq"] == ack["seq"]]
            assert len(m) == 1, h
            if ok:
                assert r["type"] == "result" and r["ok"] is True, r
                assert m[0].get("deleted") is True and "text" not in m[0], m[0]
            else:
                assert m[0]["text"] == text and not m[0].get("deleted"), m[0]

        elif action == "send_locked":
            await call_result(owner, {"type": "conv.settings", "conversation_id": cid,
                                      "locked": True})
            r = await send(actor, cid, "while locked")
            expect_outcome(r, ok, what)
            h = await owner.history(cid)
            texts = [x.get("text") for x in h["messages"]]
            if ok:
                assert r["type"] == "ack", r
                assert texts == ["while locked"], h
            else:
                assert texts == [], "a refused send must store nothing: %r" % h
        else:
            raise AssertionError(action)
    run(body(), timeout=40)


def test_the_matrix_covers_the_table():
    """The table itself: a few cells spelled out, so a typo in TABLE or
    allowed() cannot silently turn the matrix into a tautology."""
    assert allowed("conv.remove", "owner", "admin")
    assert not allowed("conv.remove", "admin", "admin")
    assert allowed("conv.remove", "admin", "moderator")
    assert not allowed("conv.role", "admin", "member", "admin")
    assert allowed("conv.role", "admin", "member", "moderator")
    assert allowed("conv.role", "owner", "member", "admin")
    assert allowed("conv.mute", "moderator", "member")
    assert not allowed("conv.mute", "moderator", "moderator")
    assert not allowed("conv.mute", "member", "member")
    assert allowed("delete", "member", "self")
    assert not allowed("delete", "member", "member")
    assert allowed("delete", "moderator", "member")
    assert not allowed("delete", "moderator", "admin")
    assert not allowed("send_locked", "moderator")
    n = len(cases())
    assert n > 80, n


# --------------------------------------------------------------------------
# refusals

def test_acting_on_a_non_member_is_not_found(server):
    async def body():
        o = await Client.login(server, "olga")
        cid = await o.group(["mel"])
        before = await members_of(o, cid)
        for f in ({"type": "conv.remove", "user_id": "ghost"},
                  {"type": "conv.role", "user_id": "ghost", "role": "admin"},
                  {"type": "conv.mute", "user_id": "ghost", "until_ms": now_ms() + 60000}):
            f["conversation_id"] = cid
            await o.call_error(f, "not_found")
        assert await members_of(o, cid) == before
    run(body())


def test_acting_on_oneself_is_bad_request(server):
    async def body():
        o = await Client.login(server, "olga")
        a = await Client.login(server, "adam")
        cid = await o.group(["adam", "mel"])
        await call_result(o, {"type": "conv.role", "conversation_id": cid, "user_id": "adam",
                              "role": "admin"})
        before = await members_of(o, cid)
        for c in (o, a):
            for f in ({"type": "conv.remove", "user_id": c.user},
                      {"type": "conv.role", "user_id": c.user, "role": "member"},
                      {"type": "conv.mute", "user_id": c.user, "until_ms": now_ms() + 60000}):
                f["conversation_id"] = cid
                await c.call_error(f, "bad_request")
        assert await members_of(o, cid) == before
        ack = await send(a, cid, "not muted")
        assert ack["type"] == "ack", ack
    run(body())


def test_role_owner_is_bad_request(server):
    async def body():
        o = await Client.login(server, "olga")
        cid = await o.group(["mel", "adam"])
        await call_result(o, {"type": "conv.role", "conversation_id": cid, "user_id": "adam",
                              "role": "admin"})
        await o.call_error({"type": "conv.role", "conversation_id": cid, "user_id": "mel",
                            "role": "owner"}, "bad_request")
        await o.call_error({"type": "conv.role", "conversation_id": cid, "user_id": "adam",
                            "role": "owner"}, "bad_request")
        assert await members_of(o, cid) == {"olga": "owner", "mel": "member", "adam": "admin"}
    run(body())


def test_management_of_a_direct_conversation_is_bad_request(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        did = await a.direct("bob")
        await collect(b, 0.3)
        for f in ({"type": "conv.add", "user_ids": ["carol"]},
                  {"type": "conv.remove", "user_id": "bob"},
                  {"type": "conv.role", "user_id": "bob", "role": "admin"},
                  {"type": "conv.leave"}):
            f["conversation_id"] = did
            await a.call_error(f, "bad_request")
        await b.call_error({"type": "conv.leave", "conversation_id": did}, "bad_request")
        assert await members_of(a, did) == {"alice": "member", "bob": "member"}
        await b.assert_no_frame(0.3, types={"conv.event"})
        ack = await send(b, did, "still here")
        assert ack["type"] == "ack", ack
    run(body())


MGMT = [
    {"type": "conv.add", "user_ids": ["nina"]},
    {"type": "conv.remove", "user_id": "mel"},
    {"type": "conv.leave"},
    {"type": "conv.role", "user_id": "mel", "role": "moderator"},
    {"type": "conv.settings", "title": "mine now"},
    {"type": "conv.mute", "user_id": "mel", "until_ms": 4102444800000},
]


def test_non_member_and_unknown_conversation_are_not_found(server):
    async def body():
        o = await Client.login(server, "olga")
        x = await Client.login(server, "xavier")
        cid = await o.group(["mel"])
        before = await info_of(o, cid)
        await collect(o, 0.3)
        for f in MGMT:
            for conv in (cid, "cnosuchconversation0", "x"):
                await x.call_error(dict(f, conversation_id=conv), "not_found")
            await o.call_error(dict(f, conversation_id="cnosuchconversation0"), "not_found")
        after = await info_of(o, cid)
        assert after["title"] == before["title"]
        assert after["members"] == before["members"]
        await o.assert_no_frame(0.3, types={"conv.event"})
    run(body())


BAD = [
    {"type": "conv.add"},                                           # no user_ids
    {"type": "conv.add", "user_ids": "nina"},                       # not an array
    {"type": "conv.add", "user_ids": ["nina", 7]},                  # not a string
    {"type": "conv.add", "user_ids": ["bad id"]},                   # space
    {"type": "conv.add", "user_ids": ["nina", "no/slash"]},
    {"type": "conv.add", "user_ids": [""]},
    {"type": "conv.add", "user_ids": ["u" * 65]},                   # 65 characters
    {"type": "conv.remove"},                                        # no user_id
    {"type": "conv.remove", "user_id": 12},
    {"type": "conv.remove", "user_id": "bad id"},
    {"type": "conv.role", "user_id": "mel"},                        # no role
    {"type": "conv.role", "user_id": "mel", "role": "boss"},
    {"type": "conv.role", "role": "admin"},                         # no user_id
    {"type": "conv.mute", "user_id": "mel"},                        # no until_ms
    {"type": "conv.mute", "user_id": "mel", "until_ms": "soon"},
    {"type": "conv.mute", "until_ms": 0},                           # no user_id
    {"type": "conv.settings", "locked": "yes"},
    {"type": "conv.settings", "title": 5},
]


def test_invalid_fields_are_bad_request(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        cid = await o.group(["mel"])
        before = await info_of(o, cid)
        await collect(m, 0.3)
        failures = []
        for f in BAD:
            r = await o.request(dict(f, conversation_id=cid))
            if r.get("type") != "error" or r.get("code") != "bad_request":
                failures.append("%r -> %r" % (f, r))
        # and without conversation_id at all
        for f in MGMT:
            r = await o.request(dict(f))
            if r.get("type") != "error" or r.get("code") != "bad_request":
                failures.append("%r (no conversation_id) -> %r" % (f, r))
        assert not failures, "expected bad_request:\n" + "\n".join(failures)
        after = await info_of(o, cid)
        assert after["members"] == before["members"], after
        assert after["title"] == before["title"] and after["settings"] == before["settings"]
        ack = await send(m, cid, "not muted")
        assert ack["type"] == "ack", ack
        await m.assert_no_frame(0.3, types={"conv.event"})
    run(body())


def test_adding_a_member_again_is_bad_request_and_adds_nobody(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        n = await Client.login(server, "nina")
        cid = await o.group(["mel"])
        await m.expect("conv.event", conversation_id=cid, event="member_added", user_id="mel")
        e = await o.call_error({"type": "conv.add", "conversation_id": cid,
                                "user_ids": ["nina", "mel"]}, "bad_request")
        assert "mel" in e["message"], "the error must name the member: %r" % e
        assert await members_of(o, cid) == {"olga": "owner", "mel": "member"}
        await n.call_error({"type": "history", "conversation_id": cid}, "not_found")
        for c in (m, n):
            await c.assert_no_frame(0.4, types={"conv.event"})
        # adding oneself: already a member
        e = await o.call_error({"type": "conv.add", "conversation_id": cid,
                                "user_ids": ["olga"]}, "bad_request")
        assert "olga" in e["message"], e
        assert await members_of(o, cid) == {"olga": "owner", "mel": "member"}
    run(body())


def test_adding_past_max_members_is_too_large(chatd):
    srv = chatd(conversations={"max_members": 4})

    async def body():
        o = await Client.login(srv, "olga")
        cid = await o.group(["mel", "meg"])                # 3 members
        e = await o.call_error({"type": "conv.add", "conversation_id": cid,
                                "user_ids": ["nina", "ned"]}, "too_large")
        assert e["retryable"] is False
        conv = await info_of(o, cid)
        assert conv["member_count"] == 3, conv
        assert {x["user_id"] for x in conv["members"]} == {"olga", "mel", "meg"}
        await call_result(o, {"type": "conv.add", "conversation_id": cid,
                              "user_ids": ["nina"]})           # 4: the limit
        await o.call_error({"type": "conv.add", "conversation_id": cid,
                            "user_ids": ["ned"]}, "too_large")
        conv = await info_of(o, cid)
        assert conv["member_count"] == 4, conv
        assert {x["user_id"] for x in conv["members"]} == {"olga", "mel", "meg", "nina"}
        # a free place after a removal can be filled again
        await call_result(o, {"type": "conv.remove", "conversation_id": cid, "user_id": "meg"})
        await call_result(o, {"type": "conv.add", "conversation_id": cid, "user_ids": ["ned"]})
        assert (await info_of(o, cid))["member_count"] == 4
    run(body())


# --------------------------------------------------------------------------
# conv.event frames

def check_event(ev, cid, event, user, by=None):
    assert ev["type"] == "conv.event", ev
    assert ev["conversation_id"] == cid, ev
    assert ev["event"] == event, ev
    assert ev["user_id"] == user, ev
    if by is not None:
        assert ev.get("by") == by, ev


def test_member_added_events(server):
    async def body():
        o1 = await Client.login(server, "olga")
        o2 = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        n1 = await Client.login(server, "nina")
        n2 = await Client.login(server, "nina")
        p = await Client.login(server, "pete")
        x = await Client.login(server, "xavier")
        cid = await o1.group(["mel"])
        for c in (o1, o2, m):
            await c.expect("conv.event", conversation_id=cid, user_id="mel")
        r = await o1.call({"type": "conv.add", "id": "add1", "conversation_id": cid,
                           "user_ids": ["nina", "pete"]}, "result")
        assert r["id"] == "add1" and r["ok"] is True, r
        for c in (o1, o2, m, n1, n2, p):
            for u in ("nina", "pete"):
                ev = await c.expect("conv.event", conversation_id=cid, user_id=u)
                check_event(ev, cid, "member_added", u, "olga")
            await c.assert_no_frame(0.3, types={"conv.event"})
        await x.assert_no_frame(0.2)
        # the new members are members: they receive and may send
        ack = await o1.send_text(cid, "welcome")
        for c in (n1, n2, p, m, o2):
            assert (await c.expect("message", seq=ack["seq"]))["text"] == "welcome"
        ack = await p.send_text(cid, "thanks")
        assert (await o1.expect("message", seq=ack["seq"]))["sender_id"] == "pete"
        conv = await info_of(n1, cid)
        assert conv["role"] == "member" and conv["member_count"] == 4, conv
        r = await n1.call({"type": "conv.list"}, "conversations")
        assert cid in {i["conversation_id"] for i in r["items"]}, r
    run(body())


def test_member_removed_events(server):
    async def body():
        o = await Client.login(server, "olga")
        a = await Client.login(server, "adam")
        m = await Client.login(server, "mel")
        r1 = await Client.login(server, "rita")
        cid = await o.group(["adam", "mel", "rita"])
        await call_result(o, {"type": "conv.role", "conversation_id": cid, "user_id": "adam",
                              "role": "admin"})
        for c in (o, a, m, r1):
            await collect(c, 0.3, types={"conv.event"})
        await call_result(a, {"type": "conv.remove", "conversation_id": cid, "user_id": "rita"})
        for c in (o, m, r1):
            ev = await c.expect("conv.event", conversation_id=cid, event="member_removed")
            check_event(ev, cid, "member_removed", "rita", "adam")
        await a.expect("conv.event", conversation_id=cid, event="member_removed",
                       user_id="rita")   # the actor's own session is a member's session too
        assert await members_of(o, cid) == {"olga": "owner", "adam": "admin", "mel": "member"}
    run(body())


def test_removed_member_receives_nothing_and_loses_history_and_sync(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        r1 = await Client.login(server, "rita")
        r2 = await Client.login(server, "rita")
        cid = await o.group(["mel", "rita"])
        other = await o.group(["rita"], title="other")
        ack = await o.send_text(cid, "before")
        own = await r1.send_text(cid, "rita was here")
        for c in (r1, r2):
            await c.expect("message", conversation_id=cid, seq=ack["seq"])
        await r2.expect("message", conversation_id=cid, seq=own["seq"])
        for c in (r1, r2):
            await collect(c, 0.3)                     # drop the creation events
        await call_result(o, {"type": "conv.remove", "conversation_id": cid, "user_id": "rita"})
        for c in (r1, r2):
            ev = await c.expect("conv.event", conversation_id=cid, event="member_removed")
            check_event(ev, cid, "member_removed", "rita", "olga")
        # everything that happens in the conversation afterwards
        a2 = await o.send_text(cid, "after the removal")
        await m.expect("message", seq=a2["seq"])
        a3 = await m.send_text(cid, "bye rita")
        await call_result(o, {"type": "conv.settings", "conversation_id": cid, "title": "t2"})
        await call_result(o, {"type": "conv.add", "conversation_id": cid, "user_ids": ["nina"]})
        await m.expect("conv.event", conversation_id=cid, event="member_added", user_id="nina")
        await o.expect("message", seq=a3["seq"])
        await call_result(o, {"type": "edit", "conversation_id": cid, "seq": a2["seq"],
                              "text": "after the removal (edited)"})
        await call_result(o, {"type": "delete", "conversation_id": cid, "seq": ack["seq"],
                              "scope": "everyone"})
        await call_result(o, {"type": "delete", "conversation_id": cid, "seq": own["seq"],
                              "scope": "everyone"})        # rita's own, now a non-member's
        for kind in ("edited", "deleted"):
            await m.expect("message_update", conversation_id=cid, kind=kind)
        for c in (r1, r2):
            await c.assert_no_frame(0.8, conversation_id=cid)
        # the other conversation still works for rita
        a4 = await o.send_text(other, "still with you")
        for c in (r1, r2):
            assert (await c.expect("message", conversation_id=other))["seq"] == a4["seq"]
        for c in (r1, r2):
            await c.call_error({"type": "history", "conversation_id": cid}, "not_found")
            await c.call_error({"type": "edit", "conversation_id": cid, "seq": own["seq"],
                                "text": "edit after removal"}, "not_found")
            await c.call_error({"type": "delete", "conversation_id": cid, "seq": ack["seq"],
                                "scope": "me"}, "not_found")
            await c.call_error({"type": "send", "conversation_id": cid,
                                "client_message_id": new_cmid(), "text": "let me back"},
                               "not_found")
            await c.call_error({"type": "conv.info", "conversation_id": cid}, "not_found")
            s = sync_map(await c.call({"type": "sync", "cursors": {cid: 0, other: 0}}, "sync"))
            assert set(s) == {other}, "sync still lists the conversation: %r" % list(s)
            lst = await c.call({"type": "conv.list"}, "conversations")
            assert {i["conversation_id"] for i in lst["items"]} == {other}, lst
        # a fresh session of rita: the same
        r3 = await Client.login(server, "rita")
        s = sync_map(await r3.call({"type": "sync"}, "sync"))
        assert set(s) == {other}, list(s)
        await r3.call_error({"type": "history", "conversation_id": cid}, "not_found")
        a5 = await o.send_text(cid, "and later")
        await m.expect("message", seq=a5["seq"])
        await r3.assert_no_frame(0.5, conversation_id=cid)
    run(body())


def test_leave_emits_member_left(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        l1 = await Client.login(server, "leo")
        cid = await o.group(["mel", "leo"])
        for c in (o, m):
            await collect(c, 0.3, types={"conv.event"})
        r = await l1.call({"type": "conv.leave", "id": "lv", "conversation_id": cid}, "result")
        assert r["id"] == "lv" and r["ok"] is True, r
        for c in (o, m):
            ev = await c.expect("conv.event", conversation_id=cid, event="member_left")
            check_event(ev, cid, "member_left", "leo", "leo")
            await c.assert_no_frame(0.3, types={"conv.event"}, event="role_changed")
        assert await members_of(o, cid) == {"olga": "owner", "mel": "member"}
        await l1.call_error({"type": "history", "conversation_id": cid}, "not_found")
        await l1.call_error({"type": "conv.leave", "conversation_id": cid}, "not_found")
        ack = await o.send_text(cid, "after leo left")
        await m.expect("message", seq=ack["seq"])
        await l1.assert_no_frame(0.5, conversation_id=cid, types={"message"})
    run(body())


async def add_one_by_one(owner, cid, users):
    """Separate adds, a few ms apart, so join times are strictly ordered."""
    for u in users:
        await asyncio.sleep(0.02)
        await call_result(owner, {"type": "conv.add", "conversation_id": cid, "user_ids": [u]})


def test_owner_leaving_passes_ownership_to_longest_standing_admin(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        cid = await o.group(["mel"])
        await add_one_by_one(o, cid, ["mona", "abe", "ann"])
        # ann is made admin before abe: the order of promotion does not count,
        # the time of joining does (abe joined first)
        for u, role in (("ann", "admin"), ("abe", "admin"), ("mona", "moderator")):
            await call_result(o, {"type": "conv.role", "conversation_id": cid,
                                  "user_id": u, "role": role})
        abe = await Client.login(server, "abe")
        await collect(m, 0.3, types={"conv.event"})
        await call_result(o, {"type": "conv.leave", "conversation_id": cid})
        for c in (m, abe):
            ev = await c.expect("conv.event", conversation_id=cid, event="member_left")
            check_event(ev, cid, "member_left", "olga", "olga")
            ev = await c.expect("conv.event", conversation_id=cid, event="role_changed")
            check_event(ev, cid, "role_changed", "abe")
            assert "by" not in ev or ev["by"] is None, "ownership passing has no `by`: %r" % ev
            assert ev.get("role", "owner") == "owner", ev
        assert await members_of(m, cid) == {"mel": "member", "mona": "moderator",
                                            "abe": "owner", "ann": "admin"}
        assert (await info_of(abe, cid))["role"] == "owner"
        # the new owner can manage
        await call_result(abe, {"type": "conv.role", "conversation_id": cid,
                                "user_id": "ann", "role": "member"})
        await o.call_error({"type": "history", "conversation_id": cid}, "not_found")
    run(body())


def test_owner_leaving_without_admins_passes_to_longest_standing_member(server):
    async def body():
        o = await Client.login(server, "olga")
        cid = await o.group(["mel"])
        await add_one_by_one(o, cid, ["mona", "meg"])
        await call_result(o, {"type": "conv.role", "conversation_id": cid,
                              "user_id": "mona", "role": "moderator"})
        mona = await Client.login(server, "mona")
        await call_result(o, {"type": "conv.leave", "conversation_id": cid})
        ev = await mona.expect("conv.event", conversation_id=cid, event="role_changed")
        check_event(ev, cid, "role_changed", "mel")
        assert "by" not in ev or ev["by"] is None, ev
        assert await members_of(mona, cid) == {"mel": "owner", "mona": "moderator",
                                               "meg": "member"}
    run(body())


def test_last_member_may_leave(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        cid = await o.group(["mel"])
        await o.send_text(cid, "hello")
        await call_result(m, {"type": "conv.leave", "conversation_id": cid})
        await o.expect("conv.event", conversation_id=cid, event="member_left", user_id="mel")
        await call_result(o, {"type": "conv.leave", "conversation_id": cid})
        for c in (o, m):
            await c.call_error({"type": "conv.info", "conversation_id": cid}, "not_found")
            lst = await c.call({"type": "conv.list"}, "conversations")
            assert cid not in {i["conversation_id"] for i in lst["items"]}, lst
            await c.call_error({"type": "send", "conversation_id": cid,
                                "client_message_id": new_cmid(), "text": "x"}, "not_found")
    run(body())


def test_role_changed_event(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        x = await Client.login(server, "xavier")
        cid = await o.group(["mel", "meg"])
        await collect(m, 0.3, types={"conv.event"})
        await call_result(o, {"type": "conv.role", "conversation_id": cid,
                              "user_id": "meg", "role": "moderator"})
        for c in (o, m):
            ev = await c.expect("conv.event", conversation_id=cid, event="role_changed")
            check_event(ev, cid, "role_changed", "meg", "olga")
            assert ev.get("role", "moderator") == "moderator", ev
        await x.assert_no_frame(0.3)
        assert (await members_of(m, cid))["meg"] == "moderator"
    run(body())


def test_settings_changed_event_and_lock(server):
    async def body():
        o = await Client.login(server, "olga")
        a = await Client.login(server, "adam")
        mo = await Client.login(server, "mona")
        m = await Client.login(server, "mel")
        cid = await o.group(["adam", "mona", "mel"], title="before")
        for u, role in (("adam", "admin"), ("mona", "moderator")):
            await call_result(o, {"type": "conv.role", "conversation_id": cid,
                                  "user_id": u, "role": role})
        for c in (o, a, mo, m):
            await collect(c, 0.3, types={"conv.event"})
        await call_result(a, {"type": "conv.settings", "conversation_id": cid,
                              "locked": True, "title": "locked room"})
        for c in (o, a, mo, m):
            ev = await c.expect("conv.event", conversation_id=cid, event="settings_changed")
            assert ev.get("by") == "adam", ev
            want = {"locked": True, "typing": True, "receipts": True}
            assert {k: ev.get("settings", {}).get(k) for k in want} == want, \
                "settings_changed carries the new settings: %r" % ev
        conv = await info_of(m, cid)
        assert conv["title"] == "locked room" and conv["settings"]["locked"] is True, conv
        for c in (mo, m):
            r = await send(c, cid, "may I?")
            assert r["type"] == "error" and r["code"] == "forbidden", r
        acks = [await send(c, cid, "staff only") for c in (o, a)]
        assert all(x["type"] == "ack" for x in acks), acks
        assert [x["seq"] for x in acks] == [1, 2], "refused sends must not take seqs: %r" % acks
        for seq in (1, 2):
            await m.expect("message", seq=seq)
        await call_result(o, {"type": "conv.settings", "conversation_id": cid, "locked": False})
        ev = await m.expect("conv.event", conversation_id=cid, event="settings_changed",
                            by="olga")
        assert ev["settings"]["locked"] is False, ev
        r = await send(m, cid, "unlocked")
        assert r["type"] == "ack" and r["seq"] == 3, r
    run(body())


def test_mute_forbids_send_and_zero_unmutes(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        g = await Client.login(server, "meg")
        cid = await o.group(["mel", "meg"])
        for c in (o, m, g):
            await collect(c, 0.3, types={"conv.event"})
        until = now_ms() + 60000
        await call_result(o, {"type": "conv.mute", "conversation_id": cid, "user_id": "mel",
                              "until_ms": until})
        for c in (o, m, g):
            ev = await c.expect("conv.event", conversation_id=cid, event="member_muted")
            check_event(ev, cid, "member_muted", "mel", "olga")
            assert ev["until_ms"] == until, ev
        r = await send(m, cid, "muted?")
        assert r["type"] == "error" and r["code"] == "forbidden", r
        assert r["retryable"] is False
        assert (await send(g, cid, "meg is not muted"))["type"] == "ack"
        # other members still receive; mel still receives too
        await m.expect("message", sender_id="meg")
        await call_result(o, {"type": "conv.mute", "conversation_id": cid, "user_id": "mel",
                              "until_ms": 0})
        ev = await g.expect("conv.event", conversation_id=cid, event="member_muted",
                            user_id="mel")
        assert ev["until_ms"] == 0, ev
        r = await send(m, cid, "free again")
        assert r["type"] == "ack" and r["seq"] == 2, r
    run(body())


def test_mute_expires(server):
    async def body():
        o = await Client.login(server, "olga")
        m = await Client.login(server, "mel")
        cid = await o.group(["mel"])
        until = now_ms() + 1500
        await call_result(o, {"type": "conv.mute", "conversation_id": cid, "user_id": "mel",
                              "until_ms": until})
        ev = await m.expect("conv.event", conversation_id=cid, event="member_muted")
        assert ev["until_ms"] == until, ev
        r = await send(m, cid, "too early")
        assert r["type"] == "error" and r["code"] == "forbidden", r
        deadline = time.monotonic() + 8
        while True:
            r = await send(m, cid, "after the mute")
            if r["type"] == "ack":
                break
            assert r["code"] == "forbidden", r
            assert time.monotonic() < deadline, "the mute did not expire within 6.5 s of until_ms"
            await asyncio.sleep(0.1)
        assert now_ms() >= until - 100, "the mute ended %d ms early" % (until - now_ms())
        assert r["seq"] == 1, r
    run(body())


# --------------------------------------------------------------------------
# the history a new member sees

@pytest.mark.parametrize("mode", [None, "all", "join"])
def test_new_member_history(chatd, mode):
    srv = chatd(conversations={"new_member_history": mode}) if mode else chatd()

    async def body():
        o = await Client.login(srv, "olga")
        cid = await o.group(["mel"])
        for i in range(3):
            await o.send_text(cid, "old %d" % i)
        await call_result(o, {"type": "conv.add", "conversation_id": cid, "user_ids": ["nina"]})
        await o.send_text(cid, "new 0")
        await o.send_text(cid, "new 1")
        n = await Client.login(srv, "nina")
        h = await n.history(cid)
        s = sync_map(await n.call({"type": "sync"}, "sync"))
        assert cid in s, s
        conv = s[cid]
        assert conv["last_seq"] == 5, conv
        if mode == "join":
            want = [4, 5]
        else:
            want = [1, 2, 3, 4, 5]
        assert [m["seq"] for m in h["messages"]] == want, h
        assert h["has_more"] is False, h
        assert [m["seq"] for m in conv["messages"]] == want, conv
        texts = [m["text"] for m in h["messages"]]
        assert texts == (["new 0", "new 1"] if mode == "join" else
                         ["old 0", "old 1", "old 2", "new 0", "new 1"]), texts
        h2 = await n.history(cid, before=4)
        assert [m["seq"] for m in h2["messages"]] == ([] if mode == "join" else [1, 2, 3]), h2
        s = sync_map(await n.call({"type": "sync", "cursors": {cid: 1}}, "sync"))
        assert [m["seq"] for m in s[cid]["messages"]] == ([4, 5] if mode == "join" else
                                                          [2, 3, 4, 5]), s[cid]
        # the members from before see everything whatever the setting
        m = await Client.login(srv, "mel")
        assert [x["seq"] for x in (await m.history(cid))["messages"]] == [1, 2, 3, 4, 5]
    run(body())
