"""25 — authorization matrix: every client command type against every
relationship the actor can have to the conversation, the message or their
own account, each cell with the exact expected result; and every admin API
route against every kind of token.

Where the list of command types comes from (so a new command cannot slip
through without a row): the server's own dispatch tables, parsed from the
source — core/pipeline.c's `handlers[]` (`{ "type", cmd_… }` entries: every
command the core runs) plus the types core/gateway.c answers itself
(`strcmp(env.type, "…")`: auth, ping).  Adding a command means adding an
entry there, which makes test_every_command_type_has_a_row fail until
MATRIX has a row for it.  The admin routes come from core/admin_parse.c's
route table the same way (ADMIN_MATRIX).

Cells: `ok` = the command's success reply (the reply type in COMMANDS);
an error code = an `error` frame with exactly that code; `closed` = the
connection is refused before the command is answered (`error` `revoked`,
then close 4403, and no reply carries the command's id).  Bans and
revocations are the core's state: the gateway, which verified the token's
signature, sends `ready` and answers `ping` / `auth` itself, so for those
two a `pong` / `ready` may come before the close (as the handshake's own
`ready` does); nothing else may.

Each cell runs on a fresh group conversation (conversation state such as
roles, mutes and members is never shared between cells) made by `own`:
  own (owner), adm (admin), mod (moderator), mem, mut (muted after sending
  one message), tgt (a member: the user acted on, and the author of the
  "other" message), shd (shadow-banned by the admin API), ban (banned),
  rev (its tokens revoked), exp (a session whose token has expired);
  out is in no conversation.
"""

import asyncio
import os
import re
import time

import http.client
import json

from chatclient import (Client, SRC_DIR, make_jwt, mint, new_cmid, new_id, now_ms, run,
                        storage_kind)

RELATIONS = ("nonmember", "member", "muted", "moderator", "admin", "owner", "banned",
             "shadow", "revoked", "expired", "other_msg", "staff_other")

# Who acts, and whose message (if the command is about a message) they act on.
ACTOR = {"nonmember": "out", "member": "mem", "muted": "mut", "moderator": "mod",
         "admin": "adm", "owner": "own", "banned": "ban", "shadow": "shd", "revoked": "rev",
         "expired": "exp", "other_msg": "mem", "staff_other": "mod"}
MSG_OF = {"other_msg": "tgt", "staff_other": "tgt", "nonmember": "tgt", "expired": "tgt",
          "banned": "tgt", "revoked": "tgt"}

# Rows: a command type, or type:variant.  Columns: RELATIONS, in order.
MATRIX_TEXT = """
command              nonmember member    muted     moderator admin     owner     banned shadow    revoked expired       other_msg staff_other
send                 not_found ok        forbidden ok        ok        ok        closed ok        closed  token_expired ok        ok
history              not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
sync                 ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
conv.create          ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
conv.create:direct   ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
conv.list            ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
conv.info            not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
report               not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
appeal               ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
conv.add             not_found forbidden forbidden forbidden ok        ok        closed forbidden closed  token_expired forbidden forbidden
conv.remove          not_found forbidden forbidden forbidden ok        ok        closed forbidden closed  token_expired forbidden forbidden
conv.leave           not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
conv.role            not_found forbidden forbidden forbidden ok        ok        closed forbidden closed  token_expired forbidden forbidden
conv.settings        not_found forbidden forbidden forbidden ok        ok        closed forbidden closed  token_expired forbidden forbidden
conv.mute            not_found forbidden forbidden ok        ok        ok        closed forbidden closed  token_expired forbidden ok
edit                 not_found ok        forbidden ok        ok        ok        closed ok        closed  token_expired forbidden forbidden
delete               not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired forbidden ok
delete:me            not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
presence.subscribe   ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
presence.unsubscribe ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
typing               not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
read                 not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
receipts             not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
media.upload         ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
media.url            not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
conv.notify          not_found ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
search               ok        ok        ok        ok        ok        ok        closed ok        closed  token_expired ok        ok
ping                 ok        ok        ok        ok        ok        ok        closed ok        closed  ok            ok        ok
auth                 ok        ok        ok        ok        ok        ok        closed ok        closed  ok            ok        ok
"""


# Commands a storage plugin does not implement (optional ABI ops) would
# answer `unavailable` to everyone who gets that far, whatever the
# relationship (closed sessions and expired tokens are refused before).
# Both storage plugins implement every op today.
UNAVAILABLE_ON = {}


def expected(name, rel):
    want = MATRIX[name][rel]
    if name.split(":")[0] in UNAVAILABLE_ON.get(storage_kind(), ()) and \
            want not in ("closed", "token_expired"):
        return "unavailable"
    return want


def parse_matrix(text):
    lines = [ln.split() for ln in text.strip().splitlines()]
    head, rows = lines[0], lines[1:]
    assert tuple(head[1:]) == RELATIONS, head
    out = {}
    for r in rows:
        assert len(r) == len(RELATIONS) + 1, r
        assert r[0] not in out, "row %s twice" % r[0]
        out[r[0]] = dict(zip(RELATIONS, r[1:]))
    return out


MATRIX = parse_matrix(MATRIX_TEXT)


def server_command_types():
    """The command types the server dispatches, from its source."""
    with open(os.path.join(SRC_DIR, "core", "pipeline.c")) as f:
        pipeline = f.read()
    with open(os.path.join(SRC_DIR, "core", "gateway.c")) as f:
        gateway = f.read()
    core_types = re.findall(r'\{\s*"([a-z][a-z._]*)",\s*cmd_\w+\s*\}', pipeline)
    gw_types = re.findall(r'strcmp\(env\.type,\s*"([a-z][a-z._]*)"\)', gateway)
    assert len(core_types) >= 20, "the handlers table of core/pipeline.c was not found"
    assert set(gw_types) >= {"auth", "ping"}, gw_types
    return set(core_types) | set(gw_types)


def test_every_command_type_has_a_row():
    types = server_command_types()
    rows = {k.split(":")[0] for k in MATRIX}
    assert not types - rows, "command types without a row in MATRIX: %s" % sorted(types - rows)
    assert not rows - types, "rows for types the server does not have: %s" % sorted(rows - types)
    assert set(COMMANDS) == set(MATRIX), "COMMANDS and MATRIX differ: %s" % sorted(
        set(COMMANDS) ^ set(MATRIX))


# --------------------------------------------------------------------------
# the commands: frame builder (ctx, relation) and the reply type of success

def _msg_seq(ctx, rel):
    return ctx["seq"][MSG_OF.get(rel, ACTOR[rel])]


COMMANDS = {
    "send": ("ack", lambda c, r: {"type": "send", "conversation_id": c["conv"],
                                  "client_message_id": new_cmid(), "text": "matrix"}),
    "history": ("history", lambda c, r: {"type": "history", "conversation_id": c["conv"]}),
    "sync": ("sync", lambda c, r: {"type": "sync", "cursors": {c["conv"]: 0}}),
    "conv.create": ("conversation", lambda c, r: {"type": "conv.create", "kind": "group",
                                                  "title": "t", "members": ["tgt"]}),
    "conv.create:direct": ("conversation", lambda c, r: {"type": "conv.create",
                                                         "kind": "direct", "user_id": "tgt"}),
    "conv.list": ("conversations", lambda c, r: {"type": "conv.list"}),
    "conv.info": ("conversation", lambda c, r: {"type": "conv.info",
                                                "conversation_id": c["conv"]}),
    "report": ("result", lambda c, r: {"type": "report", "conversation_id": c["conv"],
                                       "seq": c["seq"]["tgt"], "reason": "spam"}),
    "appeal": ("result", lambda c, r: {"type": "appeal", "text": "please"}),
    "conv.add": ("result", lambda c, r: {"type": "conv.add", "conversation_id": c["conv"],
                                         "user_ids": [c["fresh"]]}),
    "conv.remove": ("result", lambda c, r: {"type": "conv.remove",
                                            "conversation_id": c["conv"], "user_id": "tgt"}),
    "conv.leave": ("result", lambda c, r: {"type": "conv.leave",
                                           "conversation_id": c["conv"]}),
    "conv.role": ("result", lambda c, r: {"type": "conv.role", "conversation_id": c["conv"],
                                          "user_id": "tgt", "role": "moderator"}),
    "conv.settings": ("result", lambda c, r: {"type": "conv.settings",
                                              "conversation_id": c["conv"], "title": "new"}),
    "conv.mute": ("result", lambda c, r: {"type": "conv.mute", "conversation_id": c["conv"],
                                          "user_id": "tgt", "until_ms": now_ms() + 600000}),
    "edit": ("result", lambda c, r: {"type": "edit", "conversation_id": c["conv"],
                                     "seq": _msg_seq(c, r), "text": "edited"}),
    "delete": ("result", lambda c, r: {"type": "delete", "conversation_id": c["conv"],
                                       "seq": _msg_seq(c, r), "scope": "everyone"}),
    "delete:me": ("result", lambda c, r: {"type": "delete", "conversation_id": c["conv"],
                                          "seq": _msg_seq(c, r), "scope": "me"}),
    "presence.subscribe": ("result", lambda c, r: {"type": "presence.subscribe",
                                                   "user_ids": ["tgt"]}),
    "presence.unsubscribe": ("result", lambda c, r: {"type": "presence.unsubscribe",
                                                     "user_ids": ["tgt"]}),
    "typing": ("result", lambda c, r: {"type": "typing", "conversation_id": c["conv"],
                                       "state": "start"}),
    "read": ("result", lambda c, r: {"type": "read", "conversation_id": c["conv"],
                                     "seq": c["seq"]["tgt"]}),
    "receipts": ("receipts", lambda c, r: {"type": "receipts", "conversation_id": c["conv"],
                                           "seq": c["seq"]["tgt"]}),
    "media.upload": ("media.upload", lambda c, r: {"type": "media.upload",
                                                   "mime": "text/plain", "size": 10}),
    "media.url": ("media.url", lambda c, r: {"type": "media.url", "media_id": c["media"]}),
    "conv.notify": ("result", lambda c, r: {"type": "conv.notify",
                                            "conversation_id": c["conv"],
                                            "muted_until_ms": now_ms() + 600000}),
    "search": ("search", lambda c, r: {"type": "search", "query": "from",
                                       "conversation_id": c["conv"]}),
    "ping": ("pong", lambda c, r: {"type": "ping"}),
    "auth": ("ready", lambda c, r: {"type": "auth", "token": c["token"](ACTOR[r])}),
}


def check_search(reply, ctx, rel):
    """A search answers only what history would show the actor: nothing to
    a non-member, never another user's shadowed message."""
    actor = ACTOR[rel]
    res = reply.get("results", [])
    if any(m.get("conversation_id") != ctx["conv"] for m in res):
        return "results from another conversation: %r" % res
    senders = sorted({m.get("sender_id") for m in res})
    if rel == "nonmember":
        return None if not res else "a non-member found %r" % senders
    if "shd" in senders and actor != "shd":
        return "found shd's shadowed message: %r" % senders
    want = sorted(set(SPEAKERS) - ({"shd"} if actor != "shd" else set()))
    return None if senders == want else "found messages of %r, want %r" % (senders, want)


# Extra checks of an `ok` reply's content: None when fine, else why not.
CHECKS = {"search": check_search}

MEMBERS = ["adm", "mod", "mem", "mut", "tgt", "shd", "ban", "rev", "exp"]
SPEAKERS = ["own", "adm", "mod", "mem", "mut", "tgt", "shd"]   # one message each per cell
TEXT = b"plain text media for the matrix\n"


def media_server(chatd, tmp_path, **extra):
    return chatd(plugins={"media": "local"},
                 media_local={"dir": str(tmp_path / "media"),
                              "secret": "matrix-media-secret-0123456789abcdef"},
                 server={"frame_rate": 100000, "frame_burst": 1000000}, **extra)


async def fresh_conv(cl, ctx, n):
    """A new group with every role in place; one message of each speaker."""
    own = cl["own"]
    conv = await own.group(MEMBERS, title="m%d" % n)
    for user, role in (("adm", "admin"), ("mod", "moderator")):
        r = await own.request({"type": "conv.role", "conversation_id": conv, "user_id": user,
                               "role": role})
        assert r.get("ok") is True, r
    seq = {}
    for u in SPEAKERS:
        seq[u] = (await cl[u].send_text(conv, "from " + u))["seq"]
    await own.call({"type": "send", "conversation_id": conv, "client_message_id": new_cmid(),
                    "media_id": ctx["media_id"]}, "ack")
    r = await own.request({"type": "conv.mute", "conversation_id": conv, "user_id": "mut",
                           "until_ms": now_ms() + 3600000})
    assert r.get("ok") is True, r
    return {"conv": conv, "seq": seq, "fresh": "new%d" % n, "media": ctx["media_id"],
            "token": ctx["token"]}


def outcome(reply, want_type):
    if reply.get("type") == "error":
        return reply.get("code")
    if reply.get("type") == want_type and reply.get("ok", True) is not False:
        return "ok"
    return "unexpected %r" % (reply,)


GATEWAY_ANSWERS = {"ping": "pong", "auth": "ready"}


async def refused_cell(srv, token, frame):
    """A banned user or a revoked token: connect, send the command at once;
    the session must be closed 4403 with `revoked` and never answer (but
    see GATEWAY_ANSWERS)."""
    c = await Client.open(srv, token, name="refused")
    try:
        await c.send_json(frame)
    except Exception:
        pass                       # already closed: fine
    try:
        frames = await c.expect_close(4403, timeout=5)
    except AssertionError as e:
        return "not closed 4403: %s" % e
    got = [f for f in (c.buf) if isinstance(f, dict)]
    answers = [f for f in got if f.get("id") == frame["id"]]
    if any(f.get("type") != GATEWAY_ANSWERS.get(frame["type"]) for f in answers):
        return "answered %r" % answers
    if not any(f.get("type") == "error" and f.get("code") == "revoked" for f in got):
        return "closed 4403 without error revoked: %r (%d frames)" % (got, len(frames))
    return "closed"


def test_client_command_matrix(chatd, tmp_path):
    srv = media_server(chatd, tmp_path)
    secret = srv.secret
    now = int(time.time())
    revoked_token = make_jwt({"sub": "rev", "iat": now - 30, "exp": now + 3600}, key=secret)
    exp_at = now + 2

    def token(user):
        return mint(user, secret=secret)

    async def body():
        cl = {}
        for u in ["own", "adm", "mod", "mem", "mut", "tgt", "shd", "out"]:
            cl[u] = await Client.login(srv, u)
        cl["exp"] = await Client.login(srv, "exp", token=make_jwt(
            {"sub": "exp", "iat": now, "exp": exp_at}, key=secret))
        srv.admin_ok("POST", "/v1/users/shd/sanctions", {"kind": "shadow"})
        srv.admin_ok("POST", "/v1/users/ban/sanctions", {"kind": "ban"})
        srv.admin_ok("POST", "/v1/users/rev/revoke")
        up = await cl["own"].call({"type": "media.upload", "mime": "text/plain",
                                   "size": len(TEXT)}, "media.upload")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("PUT", up["upload_url"], body=TEXT)
        resp = conn.getresponse()
        assert resp.status == 201, (resp.status, resp.read())
        conn.close()
        ctx = {"media_id": up["media_id"], "token": token}
        while time.time() <= exp_at + 0.05:          # exp's token has run out
            await asyncio.sleep(0.05)

        shared = await fresh_conv(cl, ctx, 0)        # for cells that never reach a conversation
        wrong = []
        n = 0
        for name in MATRIX:
            want_type, build = COMMANDS[name]
            for rel in RELATIONS:
                want = expected(name, rel)
                if rel in ("banned", "revoked", "expired"):
                    c = shared
                else:
                    n += 1
                    c = await fresh_conv(cl, ctx, n)
                frame = build(c, rel)
                frame["id"] = new_id("mx")
                if rel in ("banned", "revoked"):
                    tok = token("ban") if rel == "banned" else revoked_token
                    if name == "auth":
                        frame["token"] = tok
                    got = await refused_cell(srv, tok, frame)
                else:
                    actor = cl[ACTOR[rel]]
                    reply = await actor.request(frame, timeout=5)
                    got = outcome(reply, want_type)
                    if got == "ok" and name in CHECKS:
                        got = CHECKS[name](reply, c, rel) or "ok"

                if got != want:
                    wrong.append("%-20s %-11s want %-13s got %s" % (name, rel, want, got))
                for x in cl.values():
                    x.buf.clear()
        assert not wrong, "authorization matrix: %d cell(s) differ:\n%s" % (
            len(wrong), "\n".join(wrong))
    run(body(), timeout=240)


# --------------------------------------------------------------------------
# the admin API: every route of core/admin_parse.c against every kind of
# token.  `ok` = authorization passed: any status but 401/403 and not the
# route-level 404/405 (the route's own answer, e.g. 404 for an unknown
# queue item, is not this test's concern); otherwise the exact status and
# error code.

TOKENS = ("none", "bad_sig", "expired", "revoked", "user", "banned_user", "moderator",
          "admin")

# (method, pattern) → the least role, written out here (not read from the
# source) so that a change of a route's role fails this test.
ADMIN_ROUTES = {
    ("POST", "/v1/appeals"): "user",
    ("GET", "/v1/status"): "moderator",
    ("GET", "/v1/plugins"): "moderator",
    ("GET", "/v1/metrics"): "moderator",
    ("POST", "/v1/tokens"): "admin",
    ("GET", "/v1/rules"): "moderator",
    ("POST", "/v1/rules/reload"): "admin",
    ("POST", "/v1/rules/dry-run"): "admin",
    ("GET", "/v1/queue"): "moderator",
    ("GET", "/v1/queue/#"): "moderator",
    ("POST", "/v1/queue/#/resolve"): "moderator",
    ("POST", "/v1/queue/#/approve"): "moderator",
    ("POST", "/v1/queue/#/reject"): "moderator",
    ("GET", "/v1/appeals"): "moderator",
    ("GET", "/v1/appeals/#"): "moderator",
    ("POST", "/v1/appeals/#/grant"): "moderator",
    ("POST", "/v1/appeals/#/deny"): "moderator",
    ("GET", "/v1/audit"): "moderator",
    ("GET", "/v1/audit/verify"): "moderator",
    ("GET", "/v1/users/*"): "moderator",
    ("POST", "/v1/users/*/kick"): "moderator",
    ("POST", "/v1/users/*/revoke"): "moderator",
    ("GET", "/v1/users/*/sanctions"): "moderator",
    ("POST", "/v1/users/*/sanctions"): "moderator",
    ("DELETE", "/v1/users/*/sanctions/ban"): "moderator",
    ("DELETE", "/v1/users/*/sanctions/shadow"): "moderator",
    ("DELETE", "/v1/users/*/sanctions/block"): "moderator",
    ("GET", "/v1/conversations/*"): "moderator",
    ("POST", "/v1/conversations/*/lock"): "moderator",
    ("POST", "/v1/conversations/*/unlock"): "moderator",
    ("GET", "/v1/conversations/*/messages"): "moderator",
    ("DELETE", "/v1/conversations/*/messages/#"): "moderator",
    ("GET", "/v1/encryption"): "admin",
    ("POST", "/v1/encryption/reencrypt"): "admin",
}
BODIES = {
    ("POST", "/v1/appeals"): {"text": "please"},
    ("POST", "/v1/tokens"): {"sub": "someone"},
    ("POST", "/v1/rules/dry-run"): {},
    ("POST", "/v1/queue/#/resolve"): {"action": "dismiss"},
    ("POST", "/v1/users/*/sanctions"): {"kind": "shadow"},
}
RANK = {"user": 0, "moderator": 1, "admin": 2}


def admin_expected(least, tok):
    fixed = {"none": (401, "unauthorized"), "bad_sig": (401, "unauthorized"),
             "expired": (401, "token_expired"), "revoked": (401, "token_revoked")}
    if tok in fixed:
        return fixed[tok]
    role = {"user": "user", "banned_user": "user", "moderator": "moderator",
            "admin": "admin"}[tok]
    return "ok" if RANK[role] >= RANK[least] else (403, "forbidden")


def server_admin_routes():
    with open(os.path.join(SRC_DIR, "core", "admin_parse.c")) as f:
        src = f.read()
    found = re.findall(r'\[ADMIN_R_\w+\]\s*=\s*\{\s*"([A-Z]+)",\s*"([^"]+)",\s*ADMIN_ROLE_\w+\s*\}',
                       src)
    assert len(found) >= 30, "the route table of core/admin_parse.c was not found"
    return set(found)


def test_every_admin_route_has_a_row():
    routes = server_admin_routes()
    assert routes == set(ADMIN_ROUTES), "routes without a row: %s; rows without a route: %s" % (
        sorted(routes - set(ADMIN_ROUTES)), sorted(set(ADMIN_ROUTES) - routes))


def admin_call(srv, method, path, body, token):
    conn = http.client.HTTPConnection("127.0.0.1", srv.cfg["admin"]["port"], timeout=5)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return resp.status, parsed
    finally:
        conn.close()


def test_admin_route_matrix(chatd):
    srv = chatd()
    secret = srv.secret
    now = int(time.time())
    srv.admin_ok("POST", "/v1/users/bnd/sanctions", {"kind": "ban"})
    old = make_jwt({"sub": "radm", "iat": now - 30, "exp": now + 3600, "roles": ["admin"]},
                   key=secret)
    srv.admin_ok("POST", "/v1/users/radm/revoke")
    tokens = {
        "none": None,
        "bad_sig": mint("root", secret=secret + "-wrong", roles=["admin"]),
        "expired": make_jwt({"sub": "root", "iat": now - 120, "exp": now - 60,
                             "roles": ["admin"]}, key=secret),
        "revoked": old,
        "user": mint("plain", secret=secret),
        "banned_user": mint("bnd", secret=secret),
        "moderator": mint("mod", secret=secret, roles=["moderator"]),
        "admin": mint("root", secret=secret, roles=["admin"]),
    }
    wrong = []
    for (method, pattern), least in ADMIN_ROUTES.items():
        # "tgt" as user or conversation id, 1 as item id; other routes act
        # on objects that may not exist: their 404 is not a refusal.
        path = pattern.replace("*", "tgt").replace("#", "1")
        if pattern.endswith("/messages"):
            path += "?around=1"
        for tok in TOKENS:
            want = admin_expected(least, tok)
            status, body = admin_call(srv, method, path, BODIES.get((method, pattern)),
                                      tokens[tok])
            err = (body or {}).get("error", {}) if isinstance(body, dict) else {}
            if want == "ok":
                routed = not (status == 405 or (status == 404 and err.get(
                    "message", "").startswith("no such route")))
                got = "ok" if status not in (401, 403) and routed else (status, err.get("code"))
            else:
                got = (status, err.get("code"))
            if got != want:
                wrong.append("%-7s %-34s %-12s want %s got %s %r" % (
                    method, pattern, tok, want, got, body))
    assert not wrong, "admin authorization matrix: %d cell(s) differ:\n%s" % (
        len(wrong), "\n".join(wrong))


def test_refresh_with_a_revoked_token_ends_the_session(server):
    """A live session (a token issued after the revoke) refreshed with a
    token issued before it: the refresh is refused like a connection with
    that token would be (error revoked, close 4403), and the session runs
    no command after it."""
    secret = server.secret
    now = int(time.time())
    old = make_jwt({"sub": "rita", "iat": now - 30, "exp": now + 86400}, key=secret)
    rb = server.admin_ok("POST", "/v1/users/rita/revoke")["revoked_before"]
    # The first second whose tokens pass, from the revoke's answer rather
    # than from `now`: a slow revoke (ASan on PostgreSQL) can land in the
    # second after `now`, which made "now + 1" a revoked iat.
    first_ok = -(-rb // 1000)
    fresh = make_jwt({"sub": "rita", "iat": first_ok, "exp": first_ok + 3600}, key=secret)

    async def body():
        while time.time() < first_ok:           # iat must not be in the future
            await asyncio.sleep(0.05)
        r = await Client.login(server, "rita", token=fresh)
        await r.ping()
        await r.send_json({"type": "auth", "id": "re1", "token": old})
        await r.send_json({"type": "conv.create", "id": "after", "kind": "direct",
                           "user_id": "bob"})
        await r.expect_close(4403)
        assert any(f.get("type") == "error" and f.get("code") == "revoked" for f in r.buf), r.buf
        assert not any(f.get("id") == "after" and f.get("type") != "error" for f in r.buf), r.buf
        # A refresh with a token issued after the revoke is fine.
        r2 = await Client.login(server, "rita", token=fresh)
        await r2.send_json({"type": "auth", "id": "re2", "token": make_jwt(
            {"sub": "rita", "iat": first_ok, "exp": first_ok + 7200}, key=secret)})
        await r2.expect("ready", id="re2")
        await r2.ping()
    run(body())
