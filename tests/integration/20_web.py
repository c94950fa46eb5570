"""20 — the web client's HTTP side on the chat port: the static files at
GET / (types, security headers, no traversal, no listings, web.enabled),
the development sign-in (POST /auth/dev-login: off by default, a token that
authenticates on /ws when on, input checks, a per-address rate limit, HS256
only) and the client telemetry (POST /telemetry: bearer token, input
checks, a per-user rate limit, the chatd_client_* metrics)."""

import base64
import glob
import http.client
import json
import os
import socket
import time

import pytest

from chatclient import Client, WEB_DIR, mint, run



def request(srv, method, path, body=None, headers=None, port=None):
    """(status, {lower-case header: value}, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port or srv.port, timeout=5)
    try:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def raw_get(srv, target):
    """Send a request line exactly as written (no client-side normalising)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                   % target).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]), data
    finally:
        s.close()


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def scrape(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.cfg["admin"]["port"], timeout=5)
    try:
        conn.request("GET", "/metrics", headers={
            "Authorization": "Bearer " + mint("mod", secret=srv.secret, roles=["moderator"])})
        r = conn.getresponse()
        assert r.status == 200
        text = r.read().decode()
    finally:
        conn.close()
    values = {}
    for line in text.splitlines():
        if line.startswith("chatd_client_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def first(pattern):
    found = sorted(glob.glob(os.path.join(WEB_DIR, pattern)))
    assert found, "no %s in %s" % (pattern, WEB_DIR)
    return "/" + os.path.relpath(found[0], WEB_DIR)


# --------------------------------------------------------------------------
# static files

def check_security_headers(h, port):
    csp = h.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "script-src 'self'" in csp, csp
    assert "connect-src 'self' ws://127.0.0.1:%d" % port in csp, csp
    assert "frame-ancestors 'none'" in csp, csp
    assert h.get("x-content-type-options") == "nosniff", h


def test_static_files_with_types_and_headers(server):
    status, h, body = request(server, "GET", "/")
    assert status == 200
    assert h["content-type"] == "text/html; charset=utf-8"
    with open(os.path.join(WEB_DIR, "index.html"), "rb") as f:
        assert body == f.read()
    check_security_headers(h, server.port)
    js = first("js/*.js")
    status, h, body = request(server, "GET", js)
    assert status == 200 and h["content-type"] == "text/javascript; charset=utf-8", (js, h)
    check_security_headers(h, server.port)
    with open(os.path.join(WEB_DIR, js[1:]), "rb") as f:
        assert body == f.read()
    status, h, _ = request(server, "GET", first("css/*.css"))
    assert status == 200 and h["content-type"] == "text/css; charset=utf-8"
    status, h, body = request(server, "HEAD", "/index.html")
    assert status == 200 and body == b"" and int(h["content-length"]) > 0
    # /healthz and /ws are still there
    assert request(server, "GET", "/healthz")[0] == 200

    async def ws():
        c = await Client.login(server, "alice")
        await c.ping()
    run(ws())


@pytest.mark.parametrize("target", [
    "/../chatd.conf", "/js/../../README.md", "/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2fetc%2fpasswd", "/.git/config", "/js/", "/js", "/nothing.html",
    "/index.html/", "//etc/passwd", "/js/%00.js", "/README.md", "/test/",
])
def test_traversal_and_listings_refused(server, target):
    status, data = raw_get(server, target)
    assert status in (400, 403, 404), (target, data[:200])
    assert b"root:" not in data and b"chatd.conf" not in data[data.find(b"\r\n\r\n"):]


def test_symlink_out_of_the_root_refused(chatd, tmp_path):
    root = tmp_path / "web"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(str(secret), str(root / "leak.txt"))
    srv = chatd(web={"root": str(root)})
    assert request(srv, "GET", "/")[0] == 200
    status, _, body = request(srv, "GET", "/leak.txt")
    assert status == 404 and b"top secret" not in body


def test_web_disabled_and_missing_root(chatd, tmp_path):
    srv = chatd(web={"enabled": False})
    assert request(srv, "GET", "/")[0] == 404
    assert request(srv, "GET", first("js/*.js"))[0] == 404
    assert request(srv, "GET", "/healthz")[0] == 200
    srv2 = chatd(web={"root": str(tmp_path / "none")})
    assert request(srv2, "GET", "/")[0] == 404
    assert "web.root_missing" in srv2.log_text()


def test_other_methods(server):
    assert request(server, "DELETE", "/")[0] == 405
    # a POST to a path that is no endpoint: 404 once its body is read
    status, h, body = request(server, "POST", "/index.html", body={"x": 1})
    assert status == 404 and h["connection"] == "close"
    assert json.loads(body)["error"] == "not_found"


# --------------------------------------------------------------------------
# development sign-in

def dev_login(srv, body, headers=None):
    return request(srv, "POST", "/auth/dev-login", body=body,
                headers=headers or {"Content-Type": "application/json"})


def test_dev_login_off_by_default(server):
    status, _, body = dev_login(server, {"user_id": "alice"})
    assert status == 404, body
    assert request(server, "GET", "/auth/dev-login")[0] == 404
    assert "DEVELOPMENT SIGN-IN" not in server.log_text()


def test_dev_login_token_authenticates(chatd):
    srv = chatd(auth={"dev_login": True, "dev_login_ttl_s": 120})
    assert "DEVELOPMENT SIGN-IN IS ON" in srv.log_text()
    status, h, body = request(srv, "GET", "/auth/dev-login")
    assert status == 200 and json.loads(body) == {"enabled": True, "ttl_s": 120}
    before = int(time.time())
    status, h, body = dev_login(srv, {"user_id": "alice"})
    assert status == 200, body
    assert h["content-type"] == "application/json" and h["cache-control"] == "no-store"
    reply = json.loads(body)
    claims = jwt_claims(reply["token"])
    assert claims["sub"] == "alice" and reply["user_id"] == "alice"
    assert before + 119 <= reply["exp"] == claims["exp"] <= int(time.time()) + 121
    assert "roles" not in claims

    async def ws():
        c = await Client.login(srv, "alice", token=reply["token"])
        assert c.ready["user_id"] == "alice"
        # and through the first-frame auth the web client uses
        c2 = await Client.open(srv, reply["token"], via="frame")
        assert (await c2.expect("ready"))["user_id"] == "alice"
    run(ws())
    # a moderator token for trying the staff view
    status, _, body = dev_login(srv, {"user_id": "mod1", "roles": ["moderator"]})
    assert status == 200 and jwt_claims(json.loads(body)["token"])["roles"] == ["moderator"]


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b"{}", b'{"user_id":""}', b'{"user_id":"a b"}',
    b'{"user_id":"' + b"x" * 65 + b'"}', b'{"user_id":"bob","roles":["admin"]}',
    b'{"user_id":12}',
])
def test_dev_login_bad_input(chatd, body):
    srv = chatd(auth={"dev_login": True})
    status, _, reply = dev_login(srv, body)
    assert status == 400, (body, reply)
    assert json.loads(reply)["error"] == "bad_request"


def test_dev_login_limits(chatd):
    srv = chatd(auth={"dev_login": True})
    # a body over 16 KiB is refused before it is read
    status, _, _ = dev_login(srv, b'{"user_id":"a","pad":"' + b"p" * 17000 + b'"}')
    assert status == 413
    # per address: a burst of 20, then 429 with Retry-After
    codes = [dev_login(srv, {"user_id": "u%d" % i})[0] for i in range(24)]
    assert codes[:19].count(200) == 19 and 429 in codes[19:], codes
    status, h, _ = dev_login(srv, {"user_id": "late"})
    assert status == 429 and int(h["retry-after"]) >= 1


def test_dev_login_needs_hs256(chatd, keys):
    srv = chatd(start=False, auth={"algorithm": "RS256", "secret": None, "dev_login": True,
                                   "public_key_file": keys["rsa_pub"]})
    srv.spawn()
    assert srv.proc.wait(timeout=10) != 0
    assert "auth.dev_login = true needs auth.algorithm" in srv.log_text()


# --------------------------------------------------------------------------
# telemetry

def telemetry(srv, body, token=None, raw=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    return request(srv, "POST", "/telemetry", body=raw if raw is not None else body,
                headers=headers)


def test_telemetry_moves_the_metrics(server):
    tok = mint("alice", secret=server.secret)
    before = scrape(server)
    status, _, body = telemetry(server, {
        "reconnects": 3, "stuck_sends": 2,
        "errors": [{"code": "network", "message": "socket closed"},
                   {"code": "token_expired"}, {"code": "made_up_code", "message": "x"}],
        "unknown_field": True}, tok)
    assert status == 204, body
    after = scrape(server)

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)
    assert delta("chatd_client_reconnects_total") == 3
    assert delta("chatd_client_stuck_sends_total") == 2
    assert delta('chatd_client_errors_total{code="network"}') == 1
    assert delta('chatd_client_errors_total{code="token_expired"}') == 1
    assert delta('chatd_client_errors_total{code="other"}') == 1
    assert 'chatd_client_errors_total{code="made_up_code"}' not in after
    assert delta('chatd_client_telemetry_reports_total{result="accepted"}') == 1


@pytest.mark.parametrize("body", [
    b"nope", b"[]", b'{"reconnects":-1}', b'{"reconnects":1001}', b'{"stuck_sends":"2"}',
    b'{"errors":{}}', b'{"errors":[{"message":"no code"}]}', b'{"errors":[{"code":"A B"}]}',
    b'{"errors":[' + b",".join([b'{"code":"c"}'] * 21) + b']}',
    b'{"errors":[{"code":"c","message":"' + b"m" * 1001 + b'"}]}',
])
def test_telemetry_bad_input(server, body):
    before = scrape(server)
    status, _, reply = telemetry(server, None, mint("bob", secret=server.secret), raw=body)
    assert status == 400, (body[:80], reply)
    assert json.loads(reply)["error"] == "bad_request"
    after = scrape(server)
    assert after.get("chatd_client_reconnects_total") == before.get("chatd_client_reconnects_total")


def test_telemetry_needs_a_valid_token(server):
    status, h, body = telemetry(server, {"reconnects": 1})
    assert status == 401 and h["www-authenticate"].startswith("Bearer")
    assert json.loads(body)["error"] == "unauthorized"
    for tok in ["garbage", mint("alice", secret="another-secret-0123456789"),
                mint("alice", secret=server.secret, ttl=-10)]:
        assert telemetry(server, {"reconnects": 1}, tok)[0] == 401
    assert scrape(server).get("chatd_client_reconnects_total", 0) == 0
    # a revoked user's old token is refused too
    tok = mint("carol", secret=server.secret, iat=int(time.time()) - 60)
    assert telemetry(server, {}, tok)[0] == 204
    server.admin_ok("POST", "/v1/users/carol/revoke")
    assert telemetry(server, {}, tok)[0] == 401


def test_telemetry_rate_limited_per_user(server):
    tok = mint("dave", secret=server.secret)
    codes = [telemetry(server, {"reconnects": 1}, tok)[0] for _ in range(5)]
    assert codes == [204] * 5
    status, h, body = telemetry(server, {"reconnects": 1}, tok)
    assert status == 429 and int(h["retry-after"]) >= 1
    assert json.loads(body)["error"] == "rate_limited"
    # another user is not held back
    assert telemetry(server, {"reconnects": 1}, mint("erin", secret=server.secret))[0] == 204
    assert scrape(server)["chatd_client_reconnects_total"] == 6


def test_every_client_file_is_installed():
    """Makefile.am installs web/ (web.root's default); a file added to the
    client and not listed there would be missing from an installed chatd."""
    with open(os.path.join(WEB_DIR, "..", "Makefile.am")) as f:
        text = f.read().replace("\\\n", " ")
    listed = set()
    for line in text.splitlines():
        if line.startswith("dist_web") and "_DATA" in line:
            listed.update(w for w in line.split("=", 1)[1].split())
    present = set()
    for d, dirs, files in os.walk(WEB_DIR):
        dirs[:] = [x for x in dirs if x != "test"]
        for name in files:
            present.add(os.path.relpath(os.path.join(d, name), os.path.dirname(WEB_DIR)))
    assert present == listed, {"not installed": sorted(present - listed),
                               "listed, absent": sorted(listed - present)}
