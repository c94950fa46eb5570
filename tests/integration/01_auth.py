"""01 — authentication: the three token transports, the `ready` frame,
refusals (4401), the auth timeout (4408), refresh, token expiry, RS256/ES256
and tokens minted by chatctl."""

import asyncio
import os
import time

import pytest
import websockets

from chatclient import (AUTH_TIMEOUT_MS, MAX_FRAME, MAX_TEXT, Client, bad_token,
                        check_error, chatctl_bin, make_jwt, mint, run, run_tool)

TRANSPORTS = ["header", "url", "frame"]


def check_ready(ready, user):
    assert ready["type"] == "ready"
    assert ready["user_id"] == user
    assert isinstance(ready.get("session_id"), str) and ready["session_id"], ready
    now_ms = time.time() * 1000
    assert isinstance(ready.get("server_time"), int), ready
    assert abs(ready["server_time"] - now_ms) < 60000, "server_time is not ms since the epoch: %r" % ready
    assert ready.get("limits", {}).get("max_text") == MAX_TEXT, ready
    assert ready.get("limits", {}).get("max_frame") == MAX_FRAME, ready


@pytest.mark.parametrize("via", TRANSPORTS)
def test_token_transport_gives_ready(server, via):
    async def body():
        c = await Client.open(server, mint("alice"), via=via)
        ready = await c.expect("ready")
        check_ready(ready, "alice")
        await c.ping()
        # authenticated session can do a real command
        r = await c.call({"type": "conv.list"}, "conversations")
        assert r.get("items") == [], r
    run(body())


def test_sessions_have_distinct_ids(server):
    async def body():
        a1 = await Client.login(server, "alice")
        a2 = await Client.login(server, "alice", via="url")
        assert a1.session_id != a2.session_id
    run(body())


@pytest.mark.parametrize("via", TRANSPORTS)
@pytest.mark.parametrize("kind", ["alg_none", "wrong_alg", "bad_signature", "expired",
                                  "missing_exp", "missing_sub", "bad_sub_chars",
                                  "sub_too_long", "garbage"])
def test_bad_token_refused(server, keys, kind, via):
    tok = bad_token(kind, rsa_key=keys["rsa"])

    async def body():
        # The upgrade itself must complete (no HTTP 401) so browsers see why.
        try:
            c = await Client.open(server, tok, via=via)
        except websockets.exceptions.InvalidStatusCode as e:
            pytest.fail("handshake refused with HTTP %s instead of completing and "
                        "closing with 4401" % e.status_code)
        await c.expect_error("unauthorized")
        await c.expect_close(4401)
    run(body())


def test_auth_timeout_4408(server):
    async def body():
        c = await Client.open(server, None)
        t0 = time.monotonic()
        await c.expect_error("unauthorized", timeout=AUTH_TIMEOUT_MS / 1000 + 3)
        elapsed = time.monotonic() - t0
        await c.expect_close(4408)
        assert elapsed >= AUTH_TIMEOUT_MS / 1000 * 0.8, \
            "closed after %.2f s, before auth_timeout_ms" % elapsed
        assert elapsed <= AUTH_TIMEOUT_MS / 1000 + 2.5, "auth timeout took %.2f s" % elapsed
    run(body())


def test_auth_frame_in_time_is_accepted(server):
    async def body():
        c = await Client.open(server, None)
        await asyncio.sleep(AUTH_TIMEOUT_MS / 1000 * 0.5)
        await c.send_json({"type": "auth", "token": mint("alice")})
        check_ready(await c.expect("ready"), "alice")
        # the session must outlive the auth timer
        await asyncio.sleep(AUTH_TIMEOUT_MS / 1000 * 0.8)
        await c.ping()
    run(body())


@pytest.mark.parametrize("first", [{"type": "ping", "id": "p1"},
                                   {"type": "conv.list", "id": "l1"},
                                   {"type": "send", "id": "s1", "conversation_id": "c1",
                                    "client_message_id": "x", "text": "hi"}])
def test_first_frame_not_auth_4401(server, first):
    async def body():
        c = await Client.open(server, None)
        await c.send_json(first)
        await c.expect_error("unauthorized")
        await c.expect_close(4401)
    run(body())


def test_refresh_same_user_keeps_session(server):
    async def body():
        c = await Client.login(server, "alice")
        sid = c.session_id
        await c.send_json({"type": "auth", "token": mint("alice", ttl=7200)})
        r = await c.expect("ready")
        check_ready(r, "alice")
        assert r["session_id"] == sid, "refresh changed the session_id"
        await c.call({"type": "conv.list"}, "conversations")
    run(body())


def test_refresh_other_user_4401(server):
    async def body():
        c = await Client.login(server, "alice")
        await c.send_json({"type": "auth", "token": mint("bob")})
        await c.expect_error("unauthorized")
        await c.expect_close(4401)
    run(body())


def test_refresh_with_bad_token_4401(server):
    async def body():
        c = await Client.login(server, "alice")
        await c.send_json({"type": "auth", "token": bad_token("bad_signature")})
        await c.expect_error("unauthorized")
        await c.expect_close(4401)
    run(body())


def test_token_expiry_and_refresh(server):
    async def body():
        exp = int(time.time()) + 2
        tok = make_jwt({"sub": "alice", "iat": exp - 2, "exp": exp})
        c = await Client.login(server, "alice", token=tok)
        sid = c.session_id
        await c.call({"type": "conv.list"}, "conversations")
        # wait until exp is clearly in the past (leeway 0)
        await asyncio.sleep(max(0.0, exp + 1.2 - time.time()))
        e = await c.call_error({"type": "conv.list"}, "token_expired")
        check_error(e)
        assert e["retryable"] is False
        # token_expired wins over every other error
        await c.call_error({"type": "no.such.type"}, "token_expired")
        await c.call_error({"type": "send", "conversation_id": "cnope"}, "token_expired")
        # ping still works, the connection stays
        await c.ping()
        # refresh on the same connection
        await c.send_json({"type": "auth", "token": mint("alice")})
        r = await c.expect("ready")
        assert r["session_id"] == sid
        await c.call({"type": "conv.list"}, "conversations")
    run(body())


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_asymmetric_algorithms(chatd, keys, algorithm):
    key, pub = (keys["rsa"], keys["rsa_pub"]) if algorithm == "RS256" else (keys["ec"], keys["ec_pub"])
    srv = chatd(auth={"algorithm": algorithm, "secret": None, "public_key_file": pub})
    with open(pub) as f:
        pub_pem = f.read()
    other = "ES256" if algorithm == "RS256" else "RS256"
    other_key = keys["ec"] if algorithm == "RS256" else keys["rsa"]

    async def body():
        for via in TRANSPORTS:
            c = await Client.open(srv, mint("alice", alg=algorithm, key=key), via=via)
            check_ready(await c.expect("ready"), "alice")
            await c.ping()
            await c.close()
        refused = [
            mint("alice"),                                        # HS256 with the test secret
            mint("alice", alg="HS256", key=pub_pem),              # key confusion: HMAC keyed by the public key
            mint("alice", alg=other, key=other_key),              # the other asymmetric algorithm
            make_jwt({"sub": "alice", "exp": int(time.time()) - 10}, alg=algorithm, key=key),
            bad_token("alg_none"),
        ]
        for tok in refused:
            c = await Client.open(srv, tok)
            await c.expect_error("unauthorized")
            await c.expect_close(4401)
    run(body())


def test_chatctl_minted_token(server):
    assert os.access(chatctl_bin(), os.X_OK), "no executable chatctl at %s" % chatctl_bin()
    r = run_tool([chatctl_bin(), "token", "mint", "alice", "-c", server.config_path])
    assert r.returncode == 0, "chatctl token mint failed (%d): %s" % (r.returncode, r.stderr)
    tok = r.stdout.strip()
    assert tok.count(".") == 2 and "\n" not in tok, "stdout is not a single JWT: %r" % r.stdout

    async def body():
        c = await Client.open(server, tok)
        check_ready(await c.expect("ready"), "alice")
        await c.ping()
    run(body())
