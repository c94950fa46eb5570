"""16 — the admin API of issue 7 over real HTTP against the real chatd:
status and plugins, token minting (HS256, RS256 with and without a private
key), users (show, kick, revoke — which survives a restart), conversations
(show, lock/unlock, staff delete, the messages around a seq), the queue's
context, delete/warn/mute actions, the appeal aliases; role refusals for
every endpoint, input validation, and the audit entries of actions and
content reads."""

import asyncio
import http.client
import json
import os
import time

import pytest

from chatclient import (Client, bad_token, call_result, collect, log_user_hash, make_jwt, mint,
                        new_cmid, now_ms, run)


# --------------------------------------------------------------------------
# helpers

def raw(srv, method, path, body=None, headers=None, timeout=5.0):
    """One HTTP request with exactly these headers; (status, parsed body)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.cfg["admin"]["port"], timeout=timeout)
    try:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        text = resp.read()
        try:
            return resp.status, json.loads(text) if text else None
        except ValueError:
            return resp.status, text
    finally:
        conn.close()


def err(srv, method, path, body=None, status=400, code=None, **kw):
    st, e = srv.admin(method, path, body, **kw)
    assert st == status, "%s %s: expected %d, got %d %r" % (method, path, status, st, e)
    assert isinstance(e, dict) and isinstance(e.get("error"), dict), e
    assert isinstance(e["error"].get("message"), str) and e["error"]["message"], e
    if code:
        assert e["error"]["code"] == code, e
    return e["error"]


def audit(srv, at_least=0, timeout=5.0):
    """Audit entries (they are written behind the replies: with at_least,
    wait until that many are stored)."""
    deadline = time.time() + timeout
    while True:
        entries = srv.admin_ok("GET", "/v1/audit?limit=1000")["entries"]
        if len(entries) >= at_least or time.time() > deadline:
            return entries
        time.sleep(0.05)


def audit_of(srv, event, n=1, timeout=5.0):
    """The entries of this event once there are at least n."""
    deadline = time.time() + timeout
    while True:
        got = [e for e in audit(srv) if e["event"] == event]
        if len(got) >= n or time.time() > deadline:
            assert len(got) >= n, "audit has %d %s entries, want %d: %r" % (
                len(got), event, n, audit(srv))
            return got
        time.sleep(0.05)


def verify_ok(srv):
    v = srv.admin_ok("GET", "/v1/audit/verify")
    assert v["ok"] is True, v


async def send(c, conv, text):
    return await c.call({"type": "send", "conversation_id": conv,
                         "client_message_id": new_cmid(), "text": text}, "ack")


def token_at(srv, sub, iat, ttl=3600, **extra):
    claims = {"sub": sub, "exp": int(time.time()) + ttl}
    if iat is not None:
        claims["iat"] = iat
    claims.update(extra)
    return make_jwt(claims, key=srv.secret)


# --------------------------------------------------------------------------
# role refusals for every endpoint

MOD_ENDPOINTS = [
    ("GET", "/v1/status", None),
    ("GET", "/v1/plugins", None),
    ("GET", "/v1/users/alice", None),
    ("POST", "/v1/users/alice/kick", None),
    ("POST", "/v1/users/alice/revoke", None),
    ("GET", "/v1/conversations/c1", None),
    ("POST", "/v1/conversations/c1/lock", None),
    ("POST", "/v1/conversations/c1/unlock", None),
    ("DELETE", "/v1/conversations/c1/messages/1", None),
    ("GET", "/v1/conversations/c1/messages?around=1", None),
    ("GET", "/v1/queue/1?context=2", None),
    ("POST", "/v1/queue/1/resolve", {"action": "warn", "note": "x"}),
    ("GET", "/v1/appeals?status=open", None),
    ("GET", "/v1/appeals/1", None),
    ("POST", "/v1/appeals/1/grant", {}),
    ("POST", "/v1/appeals/1/deny", {"note": "no"}),
]
ADMIN_ENDPOINTS = [
    ("POST", "/v1/tokens", {"sub": "alice"}),
]


def test_every_endpoint_refuses_missing_bad_expired_and_low_tokens(chatd):
    srv = chatd()
    for method, path, body in MOD_ENDPOINTS + ADMIN_ENDPOINTS:
        st, e = raw(srv, method, path, body)
        assert st == 401 and e["error"]["code"] == "unauthorized", (method, path, st, e)
        assert "Bearer" in e["error"]["message"]
        err(srv, method, path, body, status=401, code="unauthorized", token="garbage.x.y")
        expired = bad_token("expired", secret=srv.secret, sub="root")
        e2 = err(srv, method, path, body, status=401, code="token_expired", token=expired)
        assert "expired" in e2["message"]
        e3 = err(srv, method, path, body, status=403, code="forbidden", role=None, user="alice")
        assert ("admin" if path == "/v1/tokens" else "moderator") in e3["message"]
    for method, path, body in ADMIN_ENDPOINTS:
        e = err(srv, method, path, body, status=403, code="forbidden", role="moderator")
        assert "admin" in e["message"]
    # A moderator passes the role check of every moderator endpoint: what
    # comes back is about the (missing) objects, never 401/403.
    for method, path, body in MOD_ENDPOINTS:
        st, e = srv.admin(method, path, body, role="moderator", user="mod")
        assert st not in (401, 403, 405, 500), (method, path, st, e)
    # Nothing refused above changed anything: no kick, revoke or lock was
    # audited (only the moderator's own calls of the last loop were).
    assert {e["actor"] for e in audit(srv)} <= {"mod"}
    assert srv.running


# --------------------------------------------------------------------------
# status and plugins

def test_status_reports_uptime_connections_rate_plugins_and_storage(chatd):
    srv = chatd()
    before = now_ms()
    st = srv.admin_ok("GET", "/v1/status", role="moderator")
    assert st["node_id"] == "test" and isinstance(st["version"], str)
    assert st["connections"] == 0 and st["messages_per_s"] == 0
    assert st["started_at"] <= before and isinstance(st["uptime_s"], int) and st["uptime_s"] >= 0
    # the plugins of the server's config (sqlite and local ones, or on the
    # backend pass pg and redis ones)
    want = srv.cfg["plugins"]
    assert st["storage"] == {"ready": True, "plugin": want["storage"]}, st
    kinds = {(p["kind"], p["name"]) for p in st["plugins"]}
    assert {(k, want[k]) for k in ("storage", "presence", "bus", "fanout")} <= kinds, st["plugins"]
    assert all(p["version"] for p in st["plugins"])

    async def body():
        a = await Client.login(srv, "alice")
        await Client.login(srv, "alice")
        await Client.login(srv, "bob")
        conv = await a.direct("bob")
        for i in range(6):
            await send(a, conv, "m%d" % i)
        s2 = srv.admin_ok("GET", "/v1/status")
        assert s2["connections"] == 3, s2
        # 6 accepted sends over a 60 s window.
        assert abs(s2["messages_per_s"] - 6 / 60) < 1e-9, s2
        assert s2["uptime_s"] == (now_ms() - s2["started_at"]) // 1000 or \
            s2["uptime_s"] + 1 == (now_ms() - s2["started_at"]) // 1000
    run(body())


def test_plugins_lists_kind_name_version_description_and_file(chatd):
    srv = chatd()
    ps = srv.admin_ok("GET", "/v1/plugins", role="moderator")["plugins"]
    by = {p["kind"]: p for p in ps}
    assert set(by) >= {"storage", "presence", "bus", "fanout"}
    for p in ps:
        assert set(p) == {"kind", "name", "version", "description", "path"}, p
        assert p["description"] and os.path.isfile(p["path"]), p
        assert os.path.basename(p["path"]) == "%s_%s.so" % (p["kind"], p["name"]), p


# --------------------------------------------------------------------------
# tokens

def test_admin_mints_tokens_that_work_and_are_audited(chatd):
    srv = chatd()
    t0 = int(time.time())
    r = srv.admin_ok("POST", "/v1/tokens", {"sub": "carol", "ttl_s": 120})
    assert set(r) == {"token", "exp"} and t0 + 120 <= r["exp"] <= int(time.time()) + 121, r
    m = srv.admin_ok("POST", "/v1/tokens", {"sub": "mod2", "roles": ["moderator"]})
    assert m["exp"] - int(time.time()) in range(3595, 3601)   # default ttl 3600

    async def body():
        c = await Client.login(srv, "carol", token=r["token"])
        await c.ping()
    run(body())
    # The moderator token made here works on the API with that role only.
    assert srv.admin_ok("GET", "/v1/status", token=m["token"])["node_id"] == "test"
    err(srv, "POST", "/v1/tokens", {"sub": "x"}, status=403, token=m["token"])
    a = srv.admin_ok("POST", "/v1/tokens", {"sub": "boss", "roles": ["admin", "moderator"]})
    assert srv.admin_ok("POST", "/v1/tokens", {"sub": "y"}, token=a["token"])["token"]

    for bad in ({}, {"sub": ""}, {"sub": "a b"}, {"sub": "x" * 65}, {"sub": 5},
                {"sub": "u", "ttl_s": 0}, {"sub": "u", "ttl_s": 31536001},
                {"sub": "u", "ttl_s": "60"}, {"sub": "u", "ttl_s": 1.5},
                {"sub": "u", "roles": "admin"}, {"sub": "u", "roles": ["root"]},
                {"sub": "u", "roles": [1]}, {"sub": "u", "roles": ["admin", "admin", "x"]}):
        err(srv, "POST", "/v1/tokens", bad, code="bad_request")
    assert srv.admin_ok("POST", "/v1/tokens", {"sub": "u", "ttl_s": 31536000})["token"]

    minted = audit_of(srv, "token.mint", 5)
    assert [e["subject"] for e in minted] == ["carol", "mod2", "boss", "y", "u"], minted
    assert minted[0]["actor"] == "root" and minted[0]["detail"]["roles"] == []
    assert minted[1]["detail"]["roles"] == ["moderator"]
    assert minted[3]["actor"] == "boss"
    for e in minted:                 # the token itself is never written down
        assert r["token"] not in json.dumps(e) and m["token"] not in json.dumps(e)
    verify_ok(srv)


def test_rs256_server_without_private_key_refuses_to_mint(chatd, keys):
    auth = {"algorithm": "RS256", "public_key_file": keys["rsa_pub"], "secret": None}
    srv = chatd(auth=auth)
    admin_tok = mint("root", alg="RS256", key=keys["rsa"], roles=["admin"])
    e = err(srv, "POST", "/v1/tokens", {"sub": "alice"}, status=400, code="no_signing_key",
            token=admin_tok)
    assert "private_key_file" in e["message"] and "RS256" in e["message"], e


def test_rs256_server_with_private_key_mints(chatd, keys):
    auth = {"algorithm": "RS256", "public_key_file": keys["rsa_pub"],
            "private_key_file": keys["rsa"], "secret": None}
    srv = chatd(auth=auth)
    admin_tok = mint("root", alg="RS256", key=keys["rsa"], roles=["admin"])
    r = srv.admin_ok("POST", "/v1/tokens", {"sub": "alice"}, token=admin_tok)
    assert json.loads(__import__("base64").urlsafe_b64decode(
        r["token"].split(".")[0] + "=="))["alg"] == "RS256"

    async def body():
        c = await Client.login(srv, "alice", token=r["token"])
        await c.ping()
    run(body())


# --------------------------------------------------------------------------
# users

def test_user_show(chatd):
    srv = chatd()
    u = srv.admin_ok("GET", "/v1/users/nobody", role="moderator")
    assert u == {"user_id": "nobody", "log_id": log_user_hash("nobody"), "online": False,
                 "sessions": 0, "first_seen": None, "sanctions": [], "revoked_before": None}, u

    async def body():
        t0 = now_ms()
        await Client.login(srv, "alice")
        await Client.login(srv, "alice")
        deadline = time.time() + 5      # first seen is stored behind the session
        while True:
            u = srv.admin_ok("GET", "/v1/users/alice")
            if u["first_seen"] is not None or time.time() > deadline:
                break
            await asyncio.sleep(0.02)
        assert u["online"] is True and u["sessions"] == 2, u
        assert isinstance(u["first_seen"], int) and t0 - 1000 <= u["first_seen"] <= now_ms()
        srv.admin_ok("POST", "/v1/users/alice/sanctions", {"kind": "shadow"})
        s = srv.admin_ok("GET", "/v1/users/alice")["sanctions"]
        assert [(x["kind"], x["until"]) for x in s] == [("shadow", 0)], s
        return u["first_seen"]
    first = run(body())
    # Offline, first_seen comes from storage (written behind the session).
    deadline = time.time() + 5
    while True:
        u = srv.admin_ok("GET", "/v1/users/alice")
        if not u["online"] or time.time() > deadline:
            break
        time.sleep(0.05)
    assert u["online"] is False and u["sessions"] == 0 and u["first_seen"] == first, u
    for bad in ("a%20b", "x" * 65, "x" * 300, "bad!"):
        err(srv, "GET", "/v1/users/" + bad, code="bad_request")
        err(srv, "POST", "/v1/users/%s/kick" % bad, code="bad_request")
    err(srv, "GET", "/v1/users/", status=404, code="not_found")
    err(srv, "GET", "/v1/users/a%2Fb", status=404, code="not_found")   # decoded: a/b


def test_sanction_reasons_in_every_view_and_across_a_restart(chatd):
    srv = chatd()
    path = "/v1/users/mallory"
    r = srv.admin_ok("POST", path + "/sanctions",
                     {"kind": "ban", "reason": "spam links, third time"})
    assert r["sanctions"] == [{"user_id": "mallory", "kind": "ban", "until": 0,
                               "reason": "spam links, third time"}], r
    r = srv.admin_ok("POST", path + "/sanctions", {"kind": "block", "duration_ms": 3600000},
                     role="moderator")
    assert {x["kind"]: x["reason"] for x in r["sanctions"]} == \
        {"ban": "spam links, third time", "block": ""}, r
    # a new sanction of a kind replaces the old one, reason included
    srv.admin_ok("POST", path + "/sanctions", {"kind": "block", "duration_ms": 3600000,
                                              "reason": "cool down"})

    def reasons(view):
        return {x["kind"]: x["reason"] for x in view["sanctions"]}
    want = {"ban": "spam links, third time", "block": "cool down"}
    assert reasons(srv.admin_ok("GET", path)) == want
    assert reasons(srv.admin_ok("GET", path + "/sanctions")) == want
    srv.stop()
    srv.start()                      # loaded back from storage with their reasons
    assert reasons(srv.admin_ok("GET", path)) == want
    r = srv.admin_ok("DELETE", path + "/sanctions/block")
    assert reasons(r) == {"ban": "spam links, third time"}, r
    assert reasons(srv.admin_ok("GET", path + "/sanctions")) == {"ban": "spam links, third time"}


def test_kick_closes_every_session_and_lets_the_user_back(chatd):
    srv = chatd()

    async def body():
        b1 = await Client.login(srv, "bob")
        b2 = await Client.login(srv, "bob")
        a = await Client.login(srv, "alice")
        r = srv.admin_ok("POST", "/v1/users/bob/kick", role="moderator", user="mod")
        assert r == {"closed": 2}, r
        for b in (b1, b2):
            await b.expect_close(4403)
            errs = [f for f in b.buf if f.get("type") == "error"]
            assert errs and errs[0]["code"] == "revoked" and \
                errs[0]["message"] == "disconnected by a moderator", b.buf
        u = srv.admin_ok("GET", "/v1/users/bob")
        assert u["online"] is False and u["sessions"] == 0 and u["revoked_before"] is None, u
        await a.ping()                            # others are untouched
        back = await Client.login(srv, "bob")     # the same kind of token works
        await back.ping()
        assert srv.admin_ok("POST", "/v1/users/carol/kick") == {"closed": 0}
    run(body())
    kicks = audit_of(srv, "user.kick", 2)
    assert (kicks[0]["actor"], kicks[0]["subject"], kicks[0]["detail"]) == \
        ("mod", "bob", {"closed": 2}), kicks
    verify_ok(srv)


def test_revoke_closes_sessions_refuses_old_tokens_and_survives_restart(chatd):
    srv = chatd()
    old = token_at(srv, "bob", int(time.time()) - 10)
    no_iat = token_at(srv, "bob", None)
    state = {}

    async def before():
        b1 = await Client.login(srv, "bob", token=old)
        b2 = await Client.login(srv, "bob", token=no_iat)
        t0 = now_ms()
        r = srv.admin_ok("POST", "/v1/users/bob/revoke", role="moderator", user="mod")
        assert r["closed"] == 2 and t0 <= r["revoked_before"] <= now_ms(), r
        state["rb"] = r["revoked_before"]
        for b in (b1, b2):                        # both at once
            await b.expect_close(4403, timeout=2)
            assert any(f.get("code") == "revoked" for f in b.buf), b.buf
        for tok in (old, no_iat, token_at(srv, "bob", state["rb"] // 1000 - 1)):
            again = await Client.open(srv, tok)
            await again.expect_close(4403)
            assert any(f.get("code") == "revoked" for f in again.buf), again.buf
        # Issued at or after revoked_before (whole seconds): accepted.
        fresh = token_at(srv, "bob", -(-state["rb"] // 1000))
        c = await Client.login(srv, "bob", token=fresh)
        await c.ping()
        state["fresh"] = fresh
        # The server's own mint right after the revoke passes it too.
        m = srv.admin_ok("POST", "/v1/tokens", {"sub": "bob"})
        c2 = await Client.login(srv, "bob", token=m["token"])
        await c2.ping()
        await Client.login(srv, "alice")          # other users untouched
    run(before())
    u = srv.admin_ok("GET", "/v1/users/bob")
    assert u["revoked_before"] == state["rb"] and u["sanctions"] == [], u
    assert srv.stop() == 0
    srv.start()
    assert srv.admin_ok("GET", "/v1/users/bob")["revoked_before"] == state["rb"]

    async def after():
        again = await Client.open(srv, old)
        await again.expect_close(4403)
        c = await Client.login(srv, "bob", token=state["fresh"])
        await c.ping()
    run(after())
    e = audit_of(srv, "user.revoke")[0]
    assert (e["actor"], e["subject"]) == ("mod", "bob"), e
    assert e["detail"] == {"revoked_before": state["rb"], "closed": 2}, e
    verify_ok(srv)


def test_a_revoked_staff_token_is_refused_by_the_api(chatd):
    srv = chatd()
    tok = token_at(srv, "mod", int(time.time()) - 5, roles=["moderator"])
    assert srv.admin_ok("GET", "/v1/status", token=tok)
    srv.admin_ok("POST", "/v1/users/mod/revoke")
    e = err(srv, "GET", "/v1/status", status=401, code="token_revoked", token=tok)
    assert "revoked" in e["message"]
    fresh = token_at(srv, "mod", int(time.time()) + 1, roles=["moderator"])
    assert srv.admin_ok("GET", "/v1/status", token=fresh)


# --------------------------------------------------------------------------
# conversations

def test_conversation_show_has_settings_and_members_but_no_content(chatd):
    srv = chatd()

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.group(["bob", "carol"], title="ops")
        await call_result(a, {"type": "conv.role", "conversation_id": conv, "user_id": "bob",
                              "role": "admin"})
        await send(a, conv, "secret words")
        d = await a.direct("dave")
        return conv, d
    conv, direct = run(body())
    before = len(audit(srv))
    r = srv.admin_ok("GET", "/v1/conversations/" + conv, role="moderator")
    c = r["conversation"]
    assert (c["conversation_id"], c["kind"], c["title"], c["member_count"], c["last_seq"]) == \
        (conv, "group", "ops", 3, 1), c
    assert c["settings"] == {"locked": False, "typing": True, "receipts": True}, c
    roles = {m["user_id"]: (m["role"], m["muted_until"]) for m in r["members"]}
    assert roles == {"alice": ("owner", 0), "bob": ("admin", 0), "carol": ("member", 0)}
    assert "secret" not in json.dumps(r)
    assert len(audit(srv)) == before              # no content, no audit entry
    r2 = srv.admin_ok("GET", "/v1/conversations/%s?limit=1&offset=1" % conv)
    assert [m["user_id"] for m in r2["members"]] == ["bob"], r2
    d = srv.admin_ok("GET", "/v1/conversations/" + direct)
    assert d["conversation"]["kind"] == "direct" and len(d["members"]) == 2
    err(srv, "GET", "/v1/conversations/nope", status=404, code="not_found")
    err(srv, "GET", "/v1/conversations/" + "c" * 65, code="bad_request")
    err(srv, "GET", "/v1/conversations/%s?limit=10001" % conv, code="bad_request")
    err(srv, "GET", "/v1/conversations/%s?offset=-1" % conv, code="bad_request")


def test_lock_and_unlock_go_through_the_settings_path(chatd):
    srv = chatd()

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.group(["bob"])
        await b.expect("conv.event", event="member_added")
        assert srv.admin_ok("POST", "/v1/conversations/%s/lock" % conv, role="moderator",
                            user="mod") == {"locked": True}
        for c in (a, b):
            ev = await c.expect("conv.event", event="settings_changed")
            assert ev["by"] == "mod" and ev["conversation_id"] == conv, ev
            assert ev["settings"]["locked"] is True, ev
        info = srv.admin_ok("GET", "/v1/conversations/" + conv)["conversation"]
        assert info["settings"]["locked"] is True
        r = await b.request({"type": "send", "conversation_id": conv,
                             "client_message_id": new_cmid(), "text": "hello?"})
        assert r["type"] == "error" and r["code"] == "forbidden", r
        await send(a, conv, "owners may")          # the owner still may
        assert srv.admin_ok("POST", "/v1/conversations/%s/unlock" % conv) == {"locked": False}
        ev = await b.expect("conv.event", event="settings_changed")
        assert ev["settings"]["locked"] is False and ev["by"] == "root"
        await send(b, conv, "back")
        d = await a.direct("carol")
        err(srv, "POST", "/v1/conversations/%s/lock" % d, code="bad_request")
    run(body())
    err(srv, "POST", "/v1/conversations/nope/lock", status=404, code="not_found")
    locks = [e for e in audit(srv) if e["event"] in ("conv.lock", "conv.unlock")]
    assert [(e["event"], e["actor"]) for e in locks] == [("conv.lock", "mod"),
                                                         ("conv.unlock", "root")], locks
    verify_ok(srv)


def test_staff_delete_reaches_members_as_message_update(chatd):
    srv = chatd()

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.group(["bob"])
        ack = await send(a, conv, "delete me")
        await send(a, conv, "keep me")
        r = srv.admin_ok("DELETE", "/v1/conversations/%s/messages/%d" % (conv, ack["seq"]),
                         role="moderator", user="mod")
        assert r == {"deleted": True}
        for c in (a, b):
            u = await c.expect("message_update", seq=ack["seq"])
            assert u["kind"] == "deleted" and u["deleted"] is True, u
        h = await b.history(conv)
        first = h["messages"][0]
        assert first["seq"] == ack["seq"] and first.get("deleted") is True and \
            "text" not in first, h
        err(srv, "DELETE", "/v1/conversations/%s/messages/99" % conv, status=404,
            code="not_found")
        err(srv, "DELETE", "/v1/conversations/nope/messages/1", status=404)
        for bad in ("0", "-1", "abc", "1.5", "99999999999999999999999"):
            err(srv, "DELETE", "/v1/conversations/%s/messages/%s" % (conv, bad),
                code="bad_request")
        return conv, ack["seq"]
    conv, seq = run(body())
    e = audit_of(srv, "message.delete")[0]
    assert (e["actor"], e["subject"], e["detail"]) == ("mod", conv, {"seq": seq}), e


def test_messages_around_is_a_staff_view_and_an_audited_read(chatd):
    srv = chatd()

    async def body():
        a = await Client.login(srv, "alice")
        m = await Client.login(srv, "mallory")
        conv = await a.group(["mallory"])
        for i in range(1, 9):
            if i == 5:
                srv.admin_ok("POST", "/v1/users/mallory/sanctions", {"kind": "shadow"})
                await send(m, conv, "m5 hidden")
            else:
                await send(a, conv, "m%d" % i)
        return conv
    conv = run(body())
    n0 = len(audit(srv))
    r = srv.admin_ok("GET", "/v1/conversations/%s/messages?around=5&context=2" % conv,
                     role="moderator", user="mod")
    ms = r["messages"]
    assert [x["seq"] for x in ms] == [3, 4, 5, 6, 7], ms
    hidden = ms[2]
    assert hidden["text"] == "m5 hidden" and hidden["sender_id"] == "mallory"
    assert hidden["visibility"] == "shadow" and ms[0]["visibility"] == "normal"
    assert hidden["type"] == "message" and "moderation" in hidden, hidden
    d = srv.admin_ok("GET", "/v1/conversations/%s/messages?around=1" % conv)["messages"]
    assert [x["seq"] for x in d] == [1, 2, 3, 4], d          # default context 3
    z = srv.admin_ok("GET", "/v1/conversations/%s/messages?around=8&context=0" % conv)
    assert [x["seq"] for x in z["messages"]] == [8]
    reads = audit_of(srv, "content.read", 3)
    assert len(audit(srv)) == n0 + 3
    assert (reads[0]["actor"], reads[0]["subject"]) == ("mod", conv), reads
    assert reads[0]["detail"] == {"what": "messages", "around": 5, "count": 5}, reads
    err(srv, "GET", "/v1/conversations/%s/messages?around=9" % conv, status=404)
    err(srv, "GET", "/v1/conversations/nope/messages?around=1", status=404)
    for q in ("", "?context=2", "?around=0", "?around=x", "?around=1&context=21",
              "?around=1&context=-1"):
        err(srv, "GET", "/v1/conversations/%s/messages%s" % (conv, q), code="bad_request")
    assert len(audit(srv)) == n0 + 3           # refusals read nothing
    verify_ok(srv)


# --------------------------------------------------------------------------
# queue: context and the new actions

async def reported(srv, a, b, m, text="nasty"):
    """mallory's message in a group with alice and bob, reported by bob;
    returns (conv, seq, item id)."""
    conv = await m.group(["alice", "bob"])
    for c in (a, b):
        await c.expect("conv.event", event="member_added")
    ack = await send(m, conv, text)
    await b.expect("message", seq=ack["seq"])
    await a.expect("message", seq=ack["seq"])
    r = await b.call({"type": "report", "conversation_id": conv, "seq": ack["seq"],
                      "reason": "harassment"}, "result")
    return conv, ack["seq"], int(r["report_id"])


def test_queue_item_context_is_an_audited_read(chatd):
    srv = chatd()

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        m = await Client.login(srv, "mallory")
        conv, seq, item = await reported(srv, a, b, m)
        for i in range(3):
            await send(a, conv, "after %d" % i)
        return conv, seq, item
    conv, seq, item = run(body())
    n0 = len(audit(srv, 1))
    plain = srv.admin_ok("GET", "/v1/queue/%d" % item)
    assert "context" not in plain and plain["seq"] == seq
    assert len(audit(srv)) == n0
    r = srv.admin_ok("GET", "/v1/queue/%d?context=2" % item, role="moderator", user="mod")
    assert [x["seq"] for x in r["context"]] == [1, 2, 3], r
    assert r["context"][0]["text"] == "nasty" and r["id"] == item
    e = audit_of(srv, "content.read")[0]
    assert (e["actor"], e["subject"]) == ("mod", conv)
    assert e["detail"] == {"what": "queue_context", "item": item, "around": seq, "count": 3}, e
    err(srv, "GET", "/v1/queue/%d?context=21" % item, code="bad_request")
    err(srv, "GET", "/v1/queue/999?context=2", status=404)
    err(srv, "GET", "/v1/queue/abc", code="bad_request")


def test_resolve_delete_warn_and_mute(chatd):
    srv = chatd()

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        m = await Client.login(srv, "mallory")
        m2 = await Client.login(srv, "mallory")
        conv, seq, item = await reported(srv, a, b, m)
        # delete: every member gets the update
        r = srv.admin_ok("POST", "/v1/queue/%d/resolve" % item, {"action": "delete"},
                         role="moderator", user="mod")
        assert (r["status"], r["action"]) == ("actioned", "delete"), r
        for c in (a, b, m):
            u = await c.expect("message_update", seq=seq)
            assert u["kind"] == "deleted", u
        err(srv, "POST", "/v1/queue/%d/resolve" % item, {"action": "delete"}, status=409)
        # warn: a notice on each of the user's sessions
        ack = await send(m, conv, "again")
        r2 = await a.call({"type": "report", "conversation_id": conv, "seq": ack["seq"],
                           "reason": "spam"}, "result")
        w = int(r2["report_id"])
        err(srv, "POST", "/v1/queue/%d/resolve" % w, {"action": "warn"}, code="bad_request")
        srv.admin_ok("POST", "/v1/queue/%d/resolve" % w,
                     {"action": "warn", "note": "keep it civil"})
        for c in (m, m2):
            n = await c.expect("notice")
            assert n == {"type": "notice", "code": "warning", "message": "keep it civil"}, n
        await b.assert_no_frame(0.3, types={"notice"})
        assert srv.admin_ok("GET", "/v1/queue/%d" % w)["status"] == "actioned"
        # mute: a block for duration_ms
        ack = await send(m, conv, "third")
        r3 = await b.call({"type": "report", "conversation_id": conv, "seq": ack["seq"],
                           "reason": "spam"}, "result")
        mu = int(r3["report_id"])
        err(srv, "POST", "/v1/queue/%d/resolve" % mu, {"action": "mute"}, code="bad_request")
        err(srv, "POST", "/v1/queue/%d/resolve" % mu, {"action": "mute", "duration_ms": "1"},
            code="bad_request")
        err(srv, "POST", "/v1/queue/%d/resolve" % mu, {"action": "explode"}, code="bad_request")
        srv.admin_ok("POST", "/v1/queue/%d/resolve" % mu, {"action": "mute",
                                                          "duration_ms": 60000})
        s = srv.admin_ok("GET", "/v1/users/mallory")["sanctions"]
        assert [x["kind"] for x in s] == ["block"] and s[0]["until"] > now_ms() + 50000, s
        r = await m.request({"type": "send", "conversation_id": conv,
                             "client_message_id": new_cmid(), "text": "muted?"})
        assert r["type"] == "error" and r["code"] == "rejected" and r["reason"] == "blocked", r
        return conv, seq, item
    conv, seq, item = run(body())
    res = audit_of(srv, "queue.resolve", 3)
    assert [e["detail"]["action"] for e in res] == ["delete", "warn", "mute"], res
    assert res[0]["actor"] == "mod" and res[0]["detail"]["conversation_id"] == conv
    assert res[0]["detail"]["seq"] == seq and res[0]["subject"] == "mallory"
    assert res[1]["detail"]["sessions"] == 2
    assert any(e["event"] == "sanction" and e["detail"]["kind"] == "block" for e in audit(srv))
    verify_ok(srv)


def test_appeal_aliases(chatd):
    srv = chatd()

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        m = await Client.login(srv, "mallory")
        _, _, report = await reported(srv, a, b, m)
        return report
    report = run(body())
    ids = {}
    for user in ("mallory", "eve"):
        srv.admin_ok("POST", "/v1/users/%s/sanctions" % user, {"kind": "ban"})
        st, r = srv.admin("POST", "/v1/appeals", {"text": "sorry"},
                          token=mint(user, secret=srv.secret))
        assert st == 201, (st, r)
        ids[user] = int(r["appeal_id"])
    lst = srv.admin_ok("GET", "/v1/appeals?status=open", role="moderator")
    assert [i["id"] for i in lst["items"]] == [ids["mallory"], ids["eve"]], lst
    assert all(i["kind"] == "appeal" for i in lst["items"]) and lst["next_after"] == ids["eve"]
    one = srv.admin_ok("GET", "/v1/appeals/%d" % ids["eve"])
    assert one["subject_id"] == "eve" and one["detail"]["sanction"] == "ban"
    err(srv, "GET", "/v1/appeals/%d" % report, status=404, code="not_found")
    err(srv, "POST", "/v1/appeals/%d/grant" % report, {}, status=404)
    err(srv, "GET", "/v1/appeals?status=closed", code="bad_request")
    r = srv.admin_ok("POST", "/v1/appeals/%d/deny" % ids["mallory"], {"note": "no"})
    assert r["status"] == "dismissed"
    r = srv.admin_ok("POST", "/v1/appeals/%d/grant" % ids["eve"], {})
    assert r["status"] == "actioned"
    err(srv, "POST", "/v1/appeals/%d/grant" % ids["eve"], {}, status=409)
    assert srv.admin_ok("GET", "/v1/appeals?status=open")["items"] == []
    assert srv.admin_ok("GET", "/v1/users/eve")["sanctions"] == []
    assert srv.admin_ok("GET", "/v1/users/mallory")["sanctions"][0]["kind"] == "ban"
    assert srv.admin_ok("GET", "/v1/queue/%d" % report)["status"] == "open"

    async def back():
        e = await Client.login(srv, "eve")
        await e.ping()
    run(back())
    res = audit_of(srv, "queue.resolve", 2)
    assert [e["detail"]["action"] for e in res] == ["deny", "grant"], res
    verify_ok(srv)


# --------------------------------------------------------------------------
# robustness

def test_bad_input_gets_400_or_404_and_never_a_crash(chatd):
    srv = chatd()
    for method, path, body, status in [
            ("GET", "/v1/nothing", None, 404),
            ("GET", "/v2/status", None, 404),
            ("GET", "/v1/status/extra", None, 404),
            ("GET", "/v1/users/alice/nothing", None, 404),
            ("POST", "/v1/status", None, 405),
            ("DELETE", "/v1/users/alice", None, 405),
            ("GET", "/v1/queue/0", None, 400),
            ("GET", "/v1/appeals/-3", None, 400),
            ("POST", "/v1/queue/1/resolve", [1, 2], 400),
            ("POST", "/v1/queue/1/resolve", {"action": 7}, 400),
            ("POST", "/v1/queue/1/resolve", {"action": "ban", "duration_ms": -1}, 400),
            ("POST", "/v1/queue/1/resolve", {"action": "a" * 100}, 400),
            ("POST", "/v1/users/alice/sanctions", {"kind": "ban", "duration_ms": 2 ** 62},
             400),
            ("POST", "/v1/tokens", "not an object", 400)]:
        st, e = srv.admin(method, path, body)
        assert st == status, (method, path, body, st, e)
        assert e["error"]["code"] and e["error"]["message"], e
    for data in (b"{", b"\xff\xfe", b"[]", b'{"sub": "a", "sub": "b"}', b"null"):
        st, e = raw(srv, "POST", "/v1/tokens", data,
                    {"Authorization": "Bearer " + mint("root", secret=srv.secret,
                                                       roles=["admin"])})
        assert st == 400 and "body" in e["error"]["message"], (data, st, e)
    st, e = raw(srv, "GET", "/v1/status", headers={"Authorization": "Basic abc"})
    assert st == 401
    st, e = raw(srv, "GET", "/v1/status",
                headers={"Authorization": "Bearer " + "x" * 9000})
    assert st == 401
    assert srv.admin_ok("GET", "/v1/status")["node_id"] == "test"
    assert srv.running


# --------------------------------------------------------------------------
# rules dry-run with a chosen rule set

DRY_RULES = {
    "quiet": 'return { name = "quiet", on_message = function(ctx) end }\n',
    # rejects config.word (default "darn"); listed in the config with "heck"
    "words": ('local w = config.word or "darn"\n'
              'return { name = "words", on_message = function(ctx)\n'
              '  if ctx.text:find(w, 1, true) then return reject("bad_word", "no " .. w) end\n'
              'end }\n'),
    "broken": ('return { name = "broken", on_message = function(ctx)\n'
               '  return allow( end }\n'),
}


def dry_server(chatd, tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    for name, text in DRY_RULES.items():
        (d / (name + ".lua")).write_text(text)
    (d / "strict.lua").write_text(DRY_RULES["words"].replace('"words"', '"strict"'))
    return chatd(moderation={"rules_dir": str(d), "rules": [
        "quiet", {"name": "words", "options": {"word": "heck"}}]})


def test_dry_run_of_named_rules_and_of_the_latest_overall(chatd, tmp_path):
    srv = dry_server(chatd, tmp_path)

    async def body():
        a = await Client.login(srv, "alice")
        c1 = await a.direct("bob")
        c2 = await a.direct("carol")
        await send(a, c1, "darn it")
        r = await a.request({"type": "send", "conversation_id": c1,
                             "client_message_id": new_cmid(), "text": "heck no"})
        assert r["type"] == "error" and r["reason"] == "bad_word", r      # live: heck
        await send(a, c1, "fine")
        await send(a, c2, "darn again")
        return c1, c2
    c1, c2 = run(body())
    calls = {r["name"]: r["calls"] for r in srv.admin_ok("GET", "/v1/rules")["rules"]}
    before = len(audit(srv))

    # The config's options for a rule it lists: words still means "heck".
    r = srv.admin_ok("POST", "/v1/rules/dry-run", {"conversation_id": c1, "rules": ["words"]})
    assert r["rules"] == ["words"] and r["messages"] == 2, r
    assert r["would"] == {"allow": 2} and r["changed_total"] == 0, r
    # A rule the config does not list runs with its own defaults ("darn"):
    # it would reject what the running set let through.
    r = srv.admin_ok("POST", "/v1/rules/dry-run", {"conversation_id": c1,
                                                   "rules": ["quiet", "strict"]})
    assert r["rules"] == ["quiet", "strict"] and r["would"] == {"allow": 1, "reject": 1}, r
    ch = r["changed"]
    assert r["changed_total"] == 1 and len(ch) == 1, r
    assert (ch[0]["conversation_id"], ch[0]["seq"], ch[0]["was"], ch[0]["would"],
            ch[0]["rule"], ch[0]["code"]) == (c1, 1, "allow", "reject", "strict", "bad_word"), ch
    # No conversation: the latest messages of all of them (oldest first).
    r = srv.admin_ok("POST", "/v1/rules/dry-run", {"rules": ["strict"], "limit": 1000})
    assert r["messages"] == 3 and r["changed_total"] == 2, r
    assert [(m["conversation_id"], m["seq"]) for m in r["changed"]] == [(c1, 1), (c2, 1)], r
    r = srv.admin_ok("POST", "/v1/rules/dry-run", {"limit": 1})
    assert r["messages"] == 1 and r["rules"] == ["quiet", "words"], r   # the config's list
    # Unknown and broken rules: 400, naming the rule, the file and the line.
    e = err(srv, "POST", "/v1/rules/dry-run", {"rules": ["strict", "nosuch"]},
            code="unknown_rule")
    assert "nosuch" in e["message"] and "nosuch.lua" in e["message"], e
    e = err(srv, "POST", "/v1/rules/dry-run", {"rules": ["broken"]}, code="rules_invalid")
    assert "broken.lua:2:" in e["message"], e
    for bad in (["Bad-Name"], [], ["strict", "strict"], "strict", [1], ["x" * 64]):
        err(srv, "POST", "/v1/rules/dry-run", {"rules": bad}, code="bad_request")
    for bad in ({"conversation_id": ""}, {"conversation_id": 5}, {"limit": 0},
                {"limit": "9"}):
        err(srv, "POST", "/v1/rules/dry-run", bad, code="bad_request")
    # Nothing live changed: the same rules and counts, and the only audit
    # entries are the dry runs' content reads.
    rules = srv.admin_ok("GET", "/v1/rules")
    assert {x["name"]: x["calls"] for x in rules["rules"]} == calls, rules
    new = audit(srv, before + 4)[before:]
    assert [e["event"] for e in new] == ["content.read"] * 4, new
    assert new[1]["detail"]["rules"] == ["quiet", "strict"] and new[1]["subject"] == c1, new[1]
    assert new[2]["subject"] == "" and new[2]["detail"]["messages"] == 3, new[2]
    assert srv.admin_ok("GET", "/v1/users/alice")["sanctions"] == []
