"""27 — TLS: the chat port with server.tls_cert/tls_key serves wss:// and
https:// only (sign-in, messages, the web client, /healthz, /readyz, the
development sign-in, /telemetry, media), refuses plain text, offers only
http/1.1 in ALPN and honours tls_min_version; bad certificate or key files
stop the start and --check-config with a clear message (exit 1); the admin
API with admin.tls_* serves https:// and chatctl talks to it verifying the
certificate; key material and the Redis password never reach the log;
storage_pg hands sslmode/sslrootcert in its DSN to libpq unchanged (a
private cluster with ssl=on: verify-full connects over TLS, a wrong CA
stops the start).

Certificates are made here with the openssl CLI (self-signed, P-256)."""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time

import pytest
import websockets

from chatclient import (SRC_DIR, Client, chatctl_bin, chatd_bin, free_port, mint, new_cmid,
                        openssl, psql, run, run_tool)
import redisutil


def make_cert(d, name, cn="localhost", days=2):
    """A self-signed certificate for cn, 127.0.0.1 and localhost; returns
    (cert path, key path)."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    subprocess.run([openssl(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def key_body_lines(key):
    """The base64 lines of a PEM key: none of them may appear in any output."""
    with open(key) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("-----")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    good_cert, good_key = make_cert(d, "good")
    other_cert, other_key = make_cert(d, "other")
    enc_key = os.path.join(d, "encrypted.key")
    subprocess.run([openssl(), "pkey", "-in", good_key, "-aes256", "-passout", "pass:x",
                    "-out", enc_key], check=True, capture_output=True, timeout=30)
    not_pem = os.path.join(d, "not.pem")
    with open(not_pem, "w") as f:
        f.write("this is not a certificate\n")
    return {"dir": d, "cert": good_cert, "key": good_key, "other_cert": other_cert,
            "other_key": other_key, "enc_key": enc_key, "not_pem": not_pem}


def tls_server(chatd, pki, **over):
    server = dict({"tls_cert": pki["cert"], "tls_key": pki["key"]}, **over.pop("server", {}))
    return chatd(server=server, **over)


def https(srv, method, path, body=None, headers=None, ctx=None):
    """(status, {lower-case header: value}, body) over TLS to the chat port."""
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5,
                                       context=ctx or srv.tls)
    try:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def assert_key_not_in(text, pki):
    for line in key_body_lines(pki["key"]):
        assert line not in text, "key material in the output:\n" + text


# ---- the chat port ---------------------------------------------------------

def test_wss_sign_in_send_and_receive(chatd, pki):
    srv = tls_server(chatd, pki)
    assert srv.url.startswith("wss://")

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        cid = await a.direct("bob")
        ack = await a.call({"type": "send", "conversation_id": cid,
                            "client_message_id": new_cmid(), "text": "over tls"}, "ack")
        m = await b.expect("message", conversation_id=cid)
        assert m["text"] == "over tls" and m["seq"] == ack["seq"], m
        # and back, with the token in the URL this time
        c = await Client.login(srv, "bob", via="url")
        await c.call({"type": "send", "conversation_id": cid,
                      "client_message_id": new_cmid(), "text": "reply"}, "ack")
        m = await a.expect("message", conversation_id=cid, text="reply")
        assert m["sender_id"] == "bob", m
    run(body())
    log = srv.log_text()
    ev = srv.log_events("tls.on", "gateway")
    assert ev and pki["cert"] in ev[0]["msg"] and "CN = localhost" in ev[0]["msg"], log
    assert srv.log_events("listen.ok", msg_has="wss://"), log
    assert_key_not_in(log, pki)


def test_https_serves_the_web_client_health_dev_login_and_telemetry(chatd, pki):
    srv = tls_server(chatd, pki, auth={"dev_login": True})
    st, h, page = https(srv, "GET", "/")
    assert st == 200 and h["content-type"].startswith("text/html"), (st, h)
    assert b"<title>chatd</title>" in page
    assert https(srv, "GET", "/healthz")[0] == 200
    st, _, ready = https(srv, "GET", "/readyz")
    assert st == 200 and json.loads(ready)["status"] == "ready", ready
    st, _, tok = https(srv, "POST", "/auth/dev-login", {"user_id": "carol"},
                       headers={"Content-Type": "application/json"})
    assert st == 200, tok
    token = json.loads(tok)["token"]
    st, _, _ = https(srv, "POST", "/telemetry", {"reconnects": 1},
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer " + token})
    assert st == 204

    async def body():
        c = await Client.login(srv, "carol", token=token)
        assert c.ready["user_id"] == "carol"
    run(body())


def test_media_upload_and_download_over_https(chatd, pki, tmp_path):
    srv = tls_server(chatd, pki, plugins={"media": "local"},
                     media_local={"dir": str(tmp_path / "media"),
                                  "secret": "media-test-secret-0123456789abcdef"})
    data = b"plain text, not an image\n" * 8

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        cid = await a.direct("bob")
        r = await a.call({"type": "media.upload", "mime": "text/plain", "size": len(data)},
                         "media.upload")
        st, _, out = https(srv, "PUT", r["upload_url"], data,
                           headers={"Content-Type": "text/plain"})
        assert st == 201, (st, out)
        await a.call({"type": "send", "conversation_id": cid, "client_message_id": new_cmid(),
                      "media_id": r["media_id"]}, "ack")
        m = await b.expect("message", conversation_id=cid)
        st, h, got = https(srv, "GET", m["media"]["url"])
        assert st == 200 and got == data, (st, h)
    run(body())


def test_plain_text_on_the_tls_port_is_refused(chatd, pki):
    srv = tls_server(chatd, pki)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/healthz")
        conn.getresponse().read()
    conn.close()

    async def plain_ws():
        with pytest.raises((OSError, websockets.exceptions.InvalidHandshake,
                            websockets.exceptions.ConnectionClosed, EOFError)):
            await websockets.connect("ws://127.0.0.1:%d/ws" % srv.port, open_timeout=5)
    run(plain_ws())
    # a client that does not trust the certificate is refused by its own check
    with pytest.raises(ssl.SSLCertVerificationError):
        https(srv, "GET", "/healthz", ctx=ssl.create_default_context())
    # and the server is still serving TLS
    assert srv.healthz() == 200


def test_alpn_offers_http11_only(chatd, pki):
    srv = tls_server(chatd, pki)
    ctx = srv.tls
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5, context=ctx)
    try:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200
        assert conn.sock.selected_alpn_protocol() == "http/1.1"
        r.read()
    finally:
        conn.close()


def test_tls_min_version_13(chatd, pki):
    srv = tls_server(chatd, pki, server={"tls_min_version": "1.3"})
    old = srv.tls
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        https(srv, "GET", "/healthz", ctx=old)
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5, context=srv.tls)
    try:
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        assert conn.sock.version() == "TLSv1.3"
    finally:
        conn.close()


def test_an_expired_certificate_is_served_the_client_decides(chatd, pki):
    """chatd checks that the files load and match, nothing more: an expired
    certificate starts; a verifying client refuses it, one told to accept
    it gets through."""
    d = pki["dir"]
    csr, expired = os.path.join(d, "exp.csr"), os.path.join(d, "expired.crt")
    for args in (["req", "-new", "-key", pki["key"], "-subj", "/CN=localhost", "-out", csr],
                 ["x509", "-req", "-in", csr, "-signkey", pki["key"], "-days", "-1",
                  "-out", expired]):
        subprocess.run([openssl()] + args, check=True, capture_output=True, timeout=30)
    srv = chatd(start=False, server={"tls_cert": expired, "tls_key": pki["key"]})
    r = run_tool([chatd_bin(), "--check-config", srv.config_path], timeout=30)
    assert r.returncode == 0, r.stderr
    srv.spawn()
    loose = ssl.create_default_context()
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    for _ in range(200):
        try:
            if https(srv, "GET", "/healthz", ctx=loose)[0] == 200:
                break
        except OSError:
            pass
        assert srv.running, srv.log_text()
        time.sleep(0.05)
    else:
        raise AssertionError("no answer over TLS:\n" + srv.log_text())
    strict = ssl.create_default_context(cafile=expired)
    strict.check_hostname = False           # only the dates are wrong with it
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        https(srv, "GET", "/healthz", ctx=strict)


# ---- bad files ------------------------------------------------------------

BAD_FILES = {
    # case: (server overrides, what the message says)
    "missing cert": ({"tls_cert": "/nonexistent/chatd.crt"},
                     "server.tls_cert: cannot read /nonexistent/chatd.crt: No such file"),
    "missing key": ({"tls_key": "/nonexistent/chatd.key"},
                    "server.tls_key: cannot read /nonexistent/chatd.key: No such file"),
    "cert not pem": ({"tls_cert": "not_pem"}, "holds no usable PEM certificate (no start line)"),
    "key not pem": ({"tls_key": "not_pem"}, "holds no PEM private key"),
    "cert is a directory": ({"tls_cert": "dir"}, "is not a regular file"),
    "key of another cert": ({"tls_key": "other_key"}, "does not match the certificate in"),
    "encrypted key": ({"tls_key": "enc_key"}, "is an encrypted private key"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_tls_files_stop_the_start_and_check_config(chatd, pki, case):
    over, says = BAD_FILES[case]
    over = {k: pki[v] if v in pki else v for k, v in over.items()}
    srv = tls_server(chatd, pki, start=False, server=over)
    r = run_tool([chatd_bin(), "--check-config", srv.config_path], timeout=30)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert says in r.stderr, r.stderr
    assert "ok" not in r.stdout
    assert_key_not_in(r.stdout + r.stderr, pki)
    rc = srv.spawn().wait(timeout=30)
    log = srv.log_text()
    assert rc == 1, log
    assert says in log, log
    assert_key_not_in(log, pki)


def test_cert_without_key_is_a_config_error(chatd, pki):
    srv = chatd(start=False, server={"tls_cert": pki["cert"]})
    r = run_tool([chatd_bin(), "--check-config", srv.config_path], timeout=30)
    assert r.returncode == 1
    assert ("server.tls_key: missing (server.tls_cert and server.tls_key are set together)"
            in r.stderr), r.stderr
    srv = chatd(start=False, server={"tls_key": pki["key"], "tls_min_version": "1.1"})
    r = run_tool([chatd_bin(), "--check-config", srv.config_path], timeout=30)
    assert r.returncode == 1
    assert "server.tls_cert: missing" in r.stderr, r.stderr
    assert "server.tls_min_version: unknown value (expected one of 1.2, 1.3)" in r.stderr
    srv = tls_server(chatd, pki, start=False)
    r = run_tool([chatd_bin(), "--check-config", srv.config_path], timeout=30)
    assert r.returncode == 0 and r.stdout.endswith(": ok\n"), (r.stdout, r.stderr)


# ---- the admin API and chatctl ---------------------------------------------

def ctl(srv, home, *args, env=None):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LANG": "C.UTF-8",
         "CHATCTL_TOKEN": mint("root", secret=srv.secret, roles=["admin"])}
    e.update(env or {})
    return subprocess.run([chatctl_bin()] + list(args), env=e, cwd=home,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=30)


def test_admin_api_over_https_and_chatctl(chatd, pki, tmp_path):
    srv = chatd(admin={"tls_cert": pki["cert"], "tls_key": pki["key"]})
    st, body = srv.admin("GET", "/v1/status")           # https, trusting the cert
    assert st == 200 and body["version"], body
    # plain HTTP to the admin port gets no answer
    conn = http.client.HTTPConnection("127.0.0.1", srv.admin_port, timeout=5)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/v1/status")
        conn.getresponse().read()
    conn.close()
    assert srv.log_events("admin.listening", msg_has="https://"), srv.log_text()

    home = str(tmp_path / "home")
    os.makedirs(home)
    url = "https://127.0.0.1:%d" % srv.admin_port
    r = ctl(srv, home, "--url", url, "--cacert", pki["cert"], "--json", "status")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"]
    # by name too (the certificate names localhost), the CA from the environment
    r = ctl(srv, home, "--json", "status", env={
        "CHATCTL_URL": "https://localhost:%d" % srv.admin_port, "CHATCTL_CACERT": pki["cert"]})
    assert r.returncode == 0, r.stderr
    # -c: https and the certificate to trust come from the chatd config
    r = ctl(srv, home, "-c", srv.config_path, "--json", "status")
    assert r.returncode == 0, r.stderr
    # the settings file's cacert = …
    conf = os.path.join(home, "ctl.conf")
    with open(conf, "w") as f:
        f.write("url = %s\ncacert = %s\n" % (url, pki["cert"]))
    r = ctl(srv, home, "--ctl-config", conf, "--json", "status")
    assert r.returncode == 0, r.stderr

    # not trusted: the system CAs do not know it, nor does another certificate
    for extra in ([], ["--cacert", pki["other_cert"]]):
        r = ctl(srv, home, "--url", url, *extra, "status")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "certificate is not trusted" in r.stderr, r.stderr
    # plain http to the TLS listener: a hint
    r = ctl(srv, home, "--url", "http://127.0.0.1:%d" % srv.admin_port, "status")
    assert r.returncode == 3 and "use https://" in r.stderr, r.stderr
    # https to a plain listener fails in the handshake
    plain = chatd()
    r = ctl(plain, home, "--url", "https://127.0.0.1:%d" % plain.admin_port, "--cacert",
            pki["cert"], "status")
    assert r.returncode == 3 and "TLS handshake failed" in r.stderr, r.stderr


def test_admin_tls_checks(chatd, pki, tmp_path):
    srv = chatd(start=False, admin={"tls_cert": pki["cert"], "tls_key": pki["other_key"]})
    r = run_tool([chatd_bin(), "--check-config", srv.config_path], timeout=30)
    assert r.returncode == 1
    assert "admin.tls_key: the key in %s does not match" % pki["other_key"] in r.stderr
    rc = srv.spawn().wait(timeout=30)
    assert rc == 1 and "admin.tls_key" in srv.log_text()
    sock = str(tmp_path / "admin.sock")
    srv = chatd(start=False, admin={"tls_cert": pki["cert"], "tls_key": pki["key"],
                                    "socket": sock})
    r = run_tool([chatd_bin(), "--check-config", srv.config_path], timeout=30)
    assert r.returncode == 1 and "admin.tls_cert: not with admin.socket" in r.stderr, r.stderr


# ---- secrets in the log ----------------------------------------------------

def test_redis_password_never_logged(chatd, tmp_path):
    if not redisutil.have_redis():
        pytest.skip("redis-server is not installed")
    password = "hunter3-redis-secret"
    r = redisutil.RedisServer(tmp_path / "redis", password=password).start()
    try:
        def section(pw):
            return dict(r.section(None, "tls%s:" % os.urandom(4).hex()), password=pw)
        # a wrong password: refused, said without the password
        wrong = "wrong-" + password
        srv = chatd(plugins={"presence": "redis", "bus": "redis"}, log={"level": "debug"},
                    presence_redis=section(wrong), bus_redis=section(wrong))
        srv.wait_log_event("redis.refused", timeout=10)
        srv.stop()
        log = srv.log_text(limit=10 ** 7)
        assert "WRONGPASS" in log or "NOAUTH" in log, log
        assert "hunter3" not in log, "the Redis password reached the log:\n" + log
        # the right one works (a message crosses the bus) and is not logged either
        srv = chatd(plugins={"presence": "redis", "bus": "redis"}, log={"level": "debug"},
                    presence_redis=section(password), bus_redis=section(password))

        async def body():
            a = await Client.login(srv, "alice")
            b = await Client.login(srv, "bob")
            cid = await a.direct("bob")
            await a.call({"type": "send", "conversation_id": cid,
                          "client_message_id": new_cmid(), "text": "hi"}, "ack")
            await b.expect("message", conversation_id=cid)
        run(body())
        srv.stop()
        log = srv.log_text(limit=10 ** 7)
        assert not srv.log_events("redis.refused"), log
        assert "hunter3" not in log, "the Redis password reached the log:\n" + log
    finally:
        r.stop()


# ---- PostgreSQL over TLS: the DSN goes to libpq unchanged --------------------

PG_SCRIPT = os.path.join(SRC_DIR, "scripts", "pg-test-server")


@pytest.fixture
def ssl_cluster(pki):
    if not os.access(PG_SCRIPT, os.X_OK) or not os.path.exists(
            "/usr/lib/postgresql/15/bin/initdb") or not shutil.which("psql"):
        pytest.skip("PostgreSQL 15 is not installed (scripts/setup --test)")
    d = tempfile.mkdtemp(prefix="chatd-pg-tls-")
    port = free_port()
    env = dict(os.environ, PG_TEST_SSL_CERT=pki["cert"], PG_TEST_SSL_KEY=pki["key"])
    r = subprocess.run([PG_SCRIPT, "start", d, str(port)], capture_output=True, text=True,
                       env=env, timeout=60)
    try:
        assert r.returncode == 0, "pg-test-server start failed: %s" % r.stderr
        yield r.stdout.strip()
    finally:
        subprocess.run([PG_SCRIPT, "stop", d], capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


def test_storage_pg_over_tls(chatd, pki, ssl_cluster, monkeypatch):
    # Under ASan: libpq keeps a BIO_METHOD for TLS in a static it never frees
    # (tests/lsan.supp); the suppression needs the full allocation stack.
    if "ASAN_OPTIONS" in os.environ:
        monkeypatch.setenv("ASAN_OPTIONS", os.environ["ASAN_OPTIONS"] +
                           ":fast_unwind_on_malloc=0")
        monkeypatch.setenv("LSAN_OPTIONS", "suppressions=" +
                           os.path.join(SRC_DIR, "tests", "lsan.supp"))
    dsn = ssl_cluster + " sslmode=verify-full sslrootcert=%s" % pki["cert"]
    srv = chatd(plugins={"storage": "pg"}, storage_sqlite=None, storage_pg={"dsn": dsn})

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        cid = await a.direct("bob")
        await a.call({"type": "send", "conversation_id": cid,
                      "client_message_id": new_cmid(), "text": "stored over tls"}, "ack")
        await b.expect("message", conversation_id=cid)
    run(body())
    # chatd's connections (application_name chatd) are encrypted
    rows = psql("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                "WHERE a.application_name = 'chatd'", dsn=ssl_cluster).split()
    assert rows and all(x == "t" for x in rows), rows
    assert psql("SELECT count(*) FROM messages", dsn=ssl_cluster).strip() == "1"
    # a CA that did not sign the server's certificate: no connection, no start
    bad = chatd(start=False, plugins={"storage": "pg"}, storage_sqlite=None,
                storage_pg={"dsn": ssl_cluster + " sslmode=verify-full sslrootcert=%s "
                            "password=hunter4-pg" % pki["other_cert"],
                            "connect_timeout_ms": 2000})
    rc = bad.spawn().wait(timeout=30)
    log = bad.log_text()
    assert rc == 1 and "pg.connect_failed" in log, log
    assert "certificate verify failed" in log, log
    assert "hunter4" not in log, log
