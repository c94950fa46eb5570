"""17 — chatctl as an operator and a moderator use it, against a real chatd:
help for every command, the first admin token minted locally and then
tokens minted by the server, a report resolved with a ban (the session
closed with 4403, no reconnect), revoke closing two sessions at once,
audit verify passing and then failing on a tampered row, a broken rule
reload refused with nothing changed, refused tokens (401/403) with clear
messages and exit 4, --json output, exit codes, the settings precedence,
Unix sockets, timeouts and size caps against fake servers, backup while the
server writes, and a moderator's day through the queue."""

import asyncio
import json
import os
import queue
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

import chatclient
from chatclient import (Client, bad_token, chatctl_bin, db_exec, db_query, free_port, mint,
                        new_cmid, now_ms, run)

ADMIN = object()      # "use the admin token minted at set-up"


class Ctl:
    """Runs chatctl with a clean environment: its own HOME (no settings
    file unless a test writes one), no CHATD_CONF, the server's admin URL
    and a token in CHATCTL_URL / CHATCTL_TOKEN."""

    def __init__(self, srv, tmp_path):
        self.srv = srv
        self.home = str(tmp_path / "home")
        os.makedirs(self.home, exist_ok=True)
        self.url = "http://127.0.0.1:%d" % srv.admin_port
        # The bootstrap: the first admin token, signed locally from the config.
        r = self.run("token", "mint", "root", "--role", "admin", "--local", "-c",
                     srv.config_path, token=None)
        assert r.returncode == 0 and r.stdout.count(".") == 2, r
        self.admin = r.stdout.strip()

    def env(self, token, url, extra):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
             "LANG": "C.UTF-8"}
        if url is not None:
            e["CHATCTL_URL"] = url
        if token is ADMIN:
            token = self.admin
        if token is not None:
            e["CHATCTL_TOKEN"] = token
        e.update(extra or {})
        return e

    def run(self, *args, token=ADMIN, url="", env=None, timeout=20):
        url = self.url if url == "" else url
        return subprocess.run([chatctl_bin()] + list(args), env=self.env(token, url, env),
                              cwd=self.home, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, "chatctl %s -> %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr)
        return r

    def json(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw).stdout)

    async def arun(self, *args, **kw):
        return await asyncio.to_thread(self.run, *args, **kw)

    async def aok(self, *args, **kw):
        return await asyncio.to_thread(self.ok, *args, **kw)


@pytest.fixture
def ctl_for(tmp_path):
    def make(srv):
        return Ctl(srv, tmp_path)
    return make


async def send(c, conv, text):
    return await c.request({"type": "send", "conversation_id": conv,
                            "client_message_id": new_cmid(), "text": text})


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("%s not met within %.1f s" % (what, timeout))


def audit_events(srv):
    return [e["event"] for e in srv.admin_ok("GET", "/v1/audit?limit=1000")["entries"]]


# --------------------------------------------------------------------------
# help

ISSUE_COMMANDS = {
    "status", "plugins", "metrics", "token mint", "reports list", "reports show",
    "reports resolve", "queue approve", "queue reject", "user show", "user ban",
    "user unban", "user shadowban", "user unshadowban", "user mute", "user kick",
    "user revoke", "message delete", "conv show", "conv lock", "conv unlock",
    "appeals list", "appeals show", "appeals grant", "appeals deny", "audit tail",
    "audit verify", "backup", "rules list", "rules reload", "rules test", "rules dry-run",
}


def listed_commands(help_text):
    lines = help_text.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    out = []
    for line in lines:
        words = line[2:36].split()      # the name column: "  %-34s summary"
        path = []
        for w in words:
            if not w.islower() or not w.replace("-", "").isalpha():
                break
            path.append(w)
        out.append(" ".join(path))
    return out


def test_help_exists_for_every_command_and_subcommand(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}

    def ctl(*args):
        return subprocess.run([chatctl_bin()] + list(args), env=env, cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=10)
    top = ctl("--help")
    assert top.returncode == 0 and top.stdout.startswith("Usage: chatctl"), top
    for text in ("Exit status", "2 bad usage", "3 cannot reach", "4 unauthorized",
                 "CHATCTL_URL", "CHATCTL_TOKEN", "chatctl.conf", "--json"):
        assert text in top.stdout, text
    cmds = listed_commands(top.stdout)
    assert ISSUE_COMMANDS <= set(cmds), ISSUE_COMMANDS - set(cmds)
    groups = set()
    for path in cmds:
        words = path.split()
        r = ctl(*(words + ["--help"]))
        assert r.returncode == 0, (path, r.stderr)
        assert r.stdout.startswith("Usage: chatctl " + path), (path, r.stdout[:200])
        assert "Exit status" in r.stdout, path
        assert r.stderr == "", (path, r.stderr)
        assert ctl("help", *words).stdout == r.stdout, path
        if len(words) > 1:
            groups.add(words[0])
    for g in groups:
        r = ctl(g, "--help")
        assert r.returncode == 0 and "Subcommands:" in r.stdout, (g, r)
        subs = [p for p in cmds if p.startswith(g + " ")]
        assert all(s in r.stdout for s in subs), (g, r.stdout)
        bare = ctl(g)
        assert bare.returncode == 2 and "Subcommands:" in bare.stderr, (g, bare)
    # Server commands document the server options.
    assert "--url URL" in ctl("user", "ban", "--help").stdout
    assert "pg_dump" in ctl("backup", "--help").stdout
    r = ctl()
    assert r.returncode == 2 and "Commands:" in r.stderr
    r = ctl("frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = ctl("user", "frobnicate", "x")
    assert r.returncode == 2 and "unknown command 'user frobnicate'" in r.stderr
    r = ctl("--version")
    assert r.returncode == 0 and r.stdout.startswith("chatctl (chatd) ")


def test_usage_errors_exit_2_without_contacting_anything(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "CHATCTL_URL": "http://127.0.0.1:1"}
    cases = [
        (["user", "ban"], "missing argument"),
        (["user", "ban", "a", "b"], "unexpected argument 'b'"),
        (["user", "ban", "bad user!"], "invalid USER"),
        (["user", "mute", "alice"], "mute needs --duration"),
        (["user", "ban", "alice", "--duration", "soon"], "--duration"),
        (["reports", "resolve", "3"], "--action is required"),
        (["reports", "resolve", "3", "--action", "explode"], "unknown action"),
        (["reports", "resolve", "x", "--action", "ban"], "ID"),
        (["reports", "list", "--status", "weird"], "--status"),
        (["reports", "show", "1", "--context", "99"], "--context"),
        (["message", "delete", "c1", "zero"], "SEQ"),
        (["audit", "tail", "-n", "0"], "--lines"),
        (["rules", "dry-run", "config"], "--last N is required"),
        (["rules", "dry-run", "Bad-Name", "--last", "3"], "RULESET"),
        (["status", "--bogus"], "unknown option '--bogus'"),
        (["status", "--timeout", "0"], "--timeout"),
        (["--url", "ftp://x", "status"], "bad URL"),
        (["token", "mint"], "missing USER"),
        (["rules", "test"], "missing argument"),
        (["rules", "test", "x.jsonl", "--rule"], "--rule needs a value"),
        (["token", "mint", "a", "--role", "king"], "unknown role"),
        (["token", "mint", "a", "--ttl", "2y"], "--ttl"),
    ]
    for args, text in cases:
        r = subprocess.run([chatctl_bin()] + args, env=env, cwd=str(tmp_path),
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert text in r.stderr, (args, r.stderr)
        assert r.stdout == "", (args, r.stdout)


# --------------------------------------------------------------------------
# the acceptance points

def test_moderator_resolves_a_report_with_ban(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)
    # Tokens made by the server for an admin (POST /v1/tokens).
    mod = ctl.ok("token", "mint", "mod", "--role", "moderator", "--ttl", "1h").stdout.strip()
    assert mod.count(".") == 2

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        m = await Client.login(srv, "mallory")
        conv = await m.group(["alice", "bob"])
        for c in (a, b):
            await c.expect("conv.event", event="member_added")
        before = await send(m, conv, "before it")
        nasty = await send(m, conv, "you are all \x1b[31mterrible")
        after = await send(a, conv, "after it")
        await b.expect("message", seq=after["seq"])
        r = await b.call({"type": "report", "conversation_id": conv, "seq": nasty["seq"],
                          "reason": "harassment"}, "result")
        rid = r["report_id"]

        lst = await ctl.aok("reports", "list", token=mod)
        rows = [ln.split() for ln in lst.stdout.splitlines()]
        assert rows[0][:4] == ["ID", "KIND", "STATUS", "SUBJECT"], lst.stdout
        assert [rid, "report", "open", "mallory"] == rows[1][:4], lst.stdout
        j = json.loads((await ctl.aok("--json", "reports", "list", token=mod)).stdout)
        assert [str(i["id"]) for i in j["items"]] == [rid], j

        show = (await ctl.aok("reports", "show", rid, token=mod)).stdout
        assert "harassment" in show and "mallory" in show
        marked = [ln for ln in show.splitlines() if ln.startswith(">")]
        assert len(marked) == 1 and "terrible" in marked[0], show
        assert "\x1b" not in show, "escape sequences must not reach the terminal"
        assert "before it" in show and "after it" in show, show

        res = await ctl.aok("reports", "resolve", rid, "--action", "ban", "--note",
                            "harassment, second time", token=mod)
        assert res.stdout.strip() == "item %s: actioned (ban)" % rid, res.stdout
        await m.expect_close(4403, timeout=3)
        assert any(f.get("code") == "revoked" for f in m.buf), m.buf
        again = await Client.open(srv, mint("mallory", secret=srv.secret))
        await again.expect_close(4403)
        await a.ping()                                   # others untouched
        # Closed already: the server says no (409), exit 1.
        r2 = await ctl.arun("reports", "resolve", rid, "--action", "dismiss", token=mod)
        assert r2.returncode == 1 and "409" in r2.stderr, r2
        u = json.loads((await ctl.aok("--json", "user", "show", "mallory", token=mod)).stdout)
        assert [(s["kind"], s["reason"]) for s in u["sanctions"]] == \
            [("ban", "harassment, second time")], u
        shown = (await ctl.aok("user", "show", "mallory", token=mod)).stdout
        row = [ln.split(None, 2) for ln in shown.splitlines() if ln.startswith("ban ")]
        assert row == [["ban", "permanent", "harassment, second time"]], shown
        return before
    run(body())
    ev = wait_for(lambda: [e for e in srv.admin_ok("GET", "/v1/audit?limit=1000")["entries"]
                           if e["event"] == "queue.resolve"], what="queue.resolve audited")
    assert ev[0]["actor"] == "mod" and ev[0]["subject"] == "mallory", ev
    assert ev[0]["detail"]["action"] == "ban"


def test_revoke_logs_a_user_out_of_two_sessions_at_once(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)

    async def body():
        old = mint("bob", secret=srv.secret, iat=int(time.time()) - 5)
        b1 = await Client.login(srv, "bob", token=old)
        b2 = await Client.login(srv, "bob", token=old)
        alice = await Client.login(srv, "alice")
        r = await ctl.aok("user", "revoke", "bob")
        assert "bob: 2 sessions closed" in r.stdout, r.stdout
        assert "are refused from now on" in r.stdout, r.stdout
        await asyncio.gather(b1.expect_close(4403, timeout=2), b2.expect_close(4403, timeout=2))
        for b in (b1, b2):
            assert any(f.get("code") == "revoked" for f in b.buf), b.buf
        again = await Client.open(srv, old)
        await again.expect_close(4403)
        # A token the server mints now works (chatctl asks the server as
        # it has an admin token).
        fresh = (await ctl.aok("token", "mint", "bob")).stdout.strip()
        c = await Client.login(srv, "bob", token=fresh)
        await c.ping()
        await alice.ping()
        u = json.loads((await ctl.aok("--json", "user", "show", "bob")).stdout)
        assert u["online"] is True and u["sessions"] == 1 and u["revoked_before"], u
        k = await ctl.aok("user", "kick", "bob")
        assert "bob: 1 session closed" in k.stdout, k.stdout
        await c.expect_close(4403)
        back = await Client.login(srv, "bob", token=fresh)     # a kick is no sanction
        await back.ping()
    run(body())
    assert "user.revoke" in audit_events(srv)


def test_audit_verify_passes_then_fails_on_a_tampered_row(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)
    for cmd in (["user", "ban", "eve", "--reason", "spam"], ["user", "unban", "eve"],
                ["user", "shadowban", "eve", "--duration", "1h"], ["user", "unshadowban", "eve"]):
        ctl.ok(*cmd)
    wait_for(lambda: len(audit_events(srv)) >= 4, what="4 audit entries")
    r = ctl.ok("audit", "verify")
    assert r.stdout.startswith("audit log ok: 4 entries"), r.stdout
    assert ctl.json("audit", "verify") == {"ok": True, "entries": 4}
    tail = ctl.ok("audit", "tail", "-n", "3").stdout.splitlines()
    assert [ln.split()[0] for ln in tail] == ["#2", "#3", "#4"], tail
    assert tail[0].split()[3:6] == ["root", "sanction.lift", "eve"], tail
    assert srv.stop() == 0
    db_exec(srv, "UPDATE audit_log SET detail = replace(detail, 'spam', 'ham') WHERE id = 1")
    assert "ham" in db_query(srv, "SELECT detail FROM audit_log WHERE id = 1")[0][0]
    srv.start()
    r = ctl.run("audit", "verify")
    assert r.returncode == 1, r
    assert "audit log BROKEN at entry 1" in r.stdout and "hash" in r.stdout, r.stdout
    r = ctl.run("--json", "audit", "verify")
    assert r.returncode == 1
    v = json.loads(r.stdout)
    assert v["ok"] is False and v["first_bad_id"] == 1, v


MARKER = ('return { name = "marker", on_message = function(ctx)\n'
          '  return rewrite(ctx.text .. " [v1]") end }\n')


def test_rules_reload_of_a_broken_rule_reports_it_and_changes_nothing(chatd, ctl_for,
                                                                     tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    (d / "marker.lua").write_text(MARKER)
    srv = chatd(moderation={"rules_dir": str(d), "rules": ["marker"]})
    ctl = ctl_for(srv)
    lst = ctl.ok("rules", "list").stdout
    assert "rule set version 1" in lst and "marker" in lst, lst
    assert ctl.json("rules", "list")["version"] == 1
    (d / "marker.lua").write_text('return { name = "marker", on_message = function(ctx)\n'
                                  '  return rewrite(ctx.text .. " [v2]" end }\n')
    r = ctl.run("rules", "reload")
    assert r.returncode == 1, r
    assert "marker.lua:2" in r.stderr and "rules_invalid" in r.stderr, r.stderr
    assert "version 1 keeps running" in r.stderr, r.stderr
    assert r.stdout == ""
    assert ctl.json("rules", "list")["version"] == 1

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        ack = await send(a, conv, "still")
        assert (await b.expect("message", seq=ack["seq"]))["text"] == "still [v1]"
        return conv
    run(body())
    # marker ran once: its latency (mean / p99, GET /v1/rules latency_us)
    lst = ctl.ok("rules", "list").stdout
    assert "LATENCY avg/p99" in lst, lst
    row = [ln for ln in lst.splitlines() if ln.startswith("marker")][0]
    assert re.search(r" \d+(us|\.\dms) / \d+(us|\.\dms)$", row), lst
    lat = ctl.json("rules", "list")["rules"][0]["latency_us"]
    assert lat["mean"] > 0 and lat["max"] >= lat["p99"] > 0, lat
    # A moderator may not reload (403, exit 4); an admin may, once it compiles.
    mod = mint("mod", secret=srv.secret, roles=["moderator"])
    r = ctl.run("rules", "reload", token=mod)
    assert r.returncode == 4 and "needs the admin role" in r.stderr, r
    (d / "marker.lua").write_text(MARKER.replace("v1", "v2"))
    assert "rules reloaded: version 2" in ctl.ok("rules", "reload").stdout
    lst = ctl.ok("rules", "list").stdout
    row = [ln.split() for ln in lst.splitlines() if ln.startswith("marker")][0]
    assert row[:4] == ["marker", "enforce", "0", "0"], lst   # counts start again
    assert row[-3:] == ["-", "/", "-"], lst                  # no call timed yet
    assert "latency of the rules per message" in lst, lst


def test_a_moderator_token_is_refused_for_token_mint(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)
    mod = ctl.ok("token", "mint", "mod", "--role", "moderator").stdout.strip()
    r = ctl.run("token", "mint", "carol", token=mod)
    assert r.returncode == 4, r
    assert r.stdout == ""
    assert "forbidden" in r.stderr and "admin role" in r.stderr, r.stderr
    assert "user mod, roles: moderator" in r.stderr, r.stderr
    # With --token on the command line, and the moderator can still read.
    r = ctl.run("--token", mod, "token", "mint", "carol", token=None)
    assert r.returncode == 4
    ctl.ok("status", token=mod)
    # The admin's: the token works, and --json carries its expiry.
    j = ctl.json("token", "mint", "carol", "--ttl", "10m")
    assert j["exp"] - time.time() == pytest.approx(600, abs=5)

    async def body():
        c = await Client.login(srv, "carol", token=j["token"])
        await c.ping()
    run(body())
    # --local still signs from the config, no server involved.
    r = ctl.run("token", "mint", "dave", "--local", "-c", srv.config_path, "--json",
                url="http://127.0.0.1:1")
    assert r.returncode == 0 and json.loads(r.stdout)["token"].count(".") == 2, r


def test_missing_or_bad_tokens_get_401_and_a_clear_message(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)
    st, body = srv.admin("GET", "/v1/status", token="garbage")
    assert st == 401 and body["error"]["code"] == "unauthorized", body
    r = ctl.run("status", token=None)
    assert r.returncode == 4 and r.stdout == "", r
    assert "the admin API needs a token" in r.stderr, r.stderr
    assert "--token, CHATCTL_TOKEN" in r.stderr and "--local" in r.stderr, r.stderr
    r = ctl.run("reports", "list", token="garbage")
    assert r.returncode == 4 and "refused the token from CHATCTL_TOKEN" in r.stderr, r.stderr
    r = ctl.run("status", token=bad_token("expired", secret=srv.secret))
    assert r.returncode == 4 and "token_expired" in r.stderr, r.stderr
    r = ctl.run("status", token=bad_token("bad_signature", secret=srv.secret))
    assert r.returncode == 4 and "refused the token" in r.stderr, r.stderr
    user = mint("alice", secret=srv.secret)
    r = ctl.run("queue", "approve", "1", token=user)
    assert r.returncode == 4 and "forbidden" in r.stderr and "roles: none" in r.stderr, r
    # A revoked staff token: 401 token_revoked.
    mod = mint("mod", secret=srv.secret, roles=["moderator"], iat=int(time.time()) - 5)
    ctl.ok("user", "revoke", "mod")
    r = ctl.run("status", token=mod)
    assert r.returncode == 4 and "token_revoked" in r.stderr, r.stderr


# --------------------------------------------------------------------------
# exit codes, --json, settings, transports

def test_json_output_parses_and_is_the_servers(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.group(["bob"])
        await send(a, conv, "hello")
        return conv
    conv = run(body())
    st = ctl.json("status")
    assert st == srv.admin_ok("GET", "/v1/status") | {"uptime_s": st["uptime_s"],
                                                      "messages_per_s": st["messages_per_s"]}
    storage = srv.cfg["plugins"]["storage"]
    assert any(p["name"] == storage for p in ctl.json("plugins")["plugins"])
    for args in (["reports", "list"], ["reports", "list", "--status", "all", "--kind", "hold"],
                 ["appeals", "list"], ["user", "show", "alice"], ["audit", "tail"],
                 ["rules", "list"], ["conv", "show", conv], ["metrics"]):
        j = ctl.json(*args)
        assert isinstance(j, dict), (args, j)
    assert ctl.json("conv", "show", conv)["conversation"]["member_count"] == 2
    m = ctl.json("metrics")
    acc = [x for x in m["metrics"] if x["name"] == "chatd_messages_accepted_total"]
    assert acc and acc[0]["value"] == 1, m
    raw = ctl.ok("metrics", "--raw").stdout
    assert "# TYPE chatd_messages_accepted_total counter" in raw
    human = ctl.ok("metrics").stdout
    assert "1 accepted" in human and "send->ack" in human, human
    status = ctl.ok("status").stdout
    assert "storage        %s, ready" % storage in status and "uptime" in status, status


def test_exit_codes_for_unreachable_not_found_and_conflict(chatd, ctl_for, tmp_path):
    srv = chatd()
    ctl = ctl_for(srv)
    t0 = time.monotonic()
    r = ctl.run("status", url="http://127.0.0.1:%d" % free_port())
    assert r.returncode == 3 and "cannot reach the admin API" in r.stderr, r
    r = ctl.run("status", url="unix:%s" % (tmp_path / "nope.sock"))
    assert r.returncode == 3 and "nope.sock" in r.stderr, r
    assert time.monotonic() - t0 < 5
    # The chat port is not the admin API: 404 there, exit 1.
    r = ctl.run("status", url="http://127.0.0.1:%d" % srv.port)
    assert r.returncode in (1, 3), r
    r = ctl.run("reports", "show", "999")
    assert r.returncode == 1 and "404" in r.stderr, r
    r = ctl.run("appeals", "show", "999")
    assert r.returncode == 1
    r = ctl.run("message", "delete", "nosuchconv", "1")
    assert r.returncode == 1 and "404" in r.stderr, r
    r = ctl.run("user", "unban", "nobody")
    assert r.returncode in (0, 1), r


class FakeServer:
    """A loopback TCP (or Unix) server that answers each connection with
    handler(conn)."""

    def __init__(self, handler, unix_path=None):
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.url = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.conns = []
        self.t = threading.Thread(target=self.loop, args=(handler,), daemon=True)
        self.t.start()

    def loop(self, handler):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(c)
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    def close(self):
        self.stop = True
        self.t.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


def read_request(c):
    c.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_timeouts_size_cap_and_garbage_from_a_fake_server(ctl_for, chatd):
    ctl = ctl_for(chatd())

    def silent(c):
        read_request(c)
        time.sleep(10)

    def huge(c):
        read_request(c)
        try:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
            chunk = b"x" * 65536
            for _ in range(20 * 16 + 1):            # 20 MiB and a bit
                c.sendall(chunk)
        except OSError:
            pass
        c.close()

    def garbage(c):
        read_request(c)
        c.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
        c.close()

    def chunked(c):
        req = read_request(c)
        assert b"Authorization: Bearer " in req
        body = b'{"ok":true,"entries":7}'
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        c.close()

    for handler, rc, text in ((silent, 3, "no complete answer within 1.0 s"),
                              (huge, 1, "larger than"),
                              (garbage, 3, "not an HTTP/1.x response"),
                              (chunked, 0, "")):
        fake = FakeServer(handler)
        try:
            t0 = time.monotonic()
            r = ctl.run("audit", "verify", "--timeout", "1", url=fake.url)
            took = time.monotonic() - t0
        finally:
            fake.close()
        assert r.returncode == rc, (handler.__name__, r)
        assert text in r.stderr, (handler.__name__, r.stderr)
        assert took < 4, (handler.__name__, took)
        if handler is chunked:
            assert "audit log ok: 7 entries" in r.stdout


def sock_server(chatd, tmp_path, **admin):
    """A server whose admin API is on a Unix socket only (admin.socket)."""
    path = str(tmp_path / "adm.sock")
    return chatd(admin=dict({"socket": path}, **admin)), path


def refused_start(srv, what, timeout=10.0):
    """Starts srv expecting it to give up at once, naming `what` in its log."""
    proc = srv.spawn()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("chatd kept running:\n" + srv.log_text())
    assert rc != 0, srv.log_text()
    assert what in srv.log_text(), srv.log_text()


def test_admin_api_on_a_unix_socket(chatd, ctl_for, tmp_path):
    """admin.socket replaces host:port: the socket has admin.socket_mode,
    chatctl reaches it with --url unix:PATH (or finds it in the chatd
    config), the TCP port is closed, and a clean stop removes the file."""
    srv, path = sock_server(chatd, tmp_path, socket_mode="0600")
    ctl = ctl_for(srv)
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.admin_port), timeout=2).close()
    r = ctl.ok("status", url="unix:" + path)
    assert "node" in r.stdout and "test" in r.stdout, r.stdout
    assert ctl.json("user", "show", "alice", url="unix://" + path)["user_id"] == "alice"
    # no URL anywhere: chatctl takes admin.socket from the chatd config
    assert ctl.json("status", "-c", srv.config_path, url=None)["node_id"] == "test"
    # a 401 through the socket too
    r = ctl.run("status", url="unix:" + path, token="not-a-token")
    assert r.returncode == 4, r
    assert srv.stop() == 0
    assert not os.path.exists(path), "the socket file outlived a clean stop"


def test_admin_socket_default_mode_and_bad_values(chatd, tmp_path):
    srv, path = sock_server(chatd, tmp_path)
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o660
    srv.stop()
    long_path = "/tmp/" + "x" * 110 + ".sock"
    for over, what in (({"socket": long_path}, "at most 107 bytes"),
                       ({"socket": path, "socket_mode": "0888"}, "octal text"),
                       ({"socket": path, "socket_mode": 660}, "admin.socket_mode")):
        bad = chatd(start=False, admin=over)
        refused_start(bad, what)


def test_admin_socket_left_by_a_crash_is_replaced(chatd, ctl_for, tmp_path):
    srv, path = sock_server(chatd, tmp_path)
    srv.kill()                                  # SIGKILL: the file stays behind
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    srv.start()
    ctl = ctl_for(srv)
    assert ctl.json("status", url="unix:" + path)["node_id"] == "test"


def test_admin_socket_a_live_one_or_a_plain_file_is_refused(chatd, tmp_path):
    path = str(tmp_path / "adm.sock")
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(path)
    other.listen(4)
    try:
        srv = chatd(start=False, admin={"socket": path})
        refused_start(srv, "another process is serving on it")
        # the other process keeps its socket
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(2)
        c.connect(path)
        c.close()
    finally:
        other.close()
    os.unlink(path)
    with open(path, "w") as f:
        f.write("not a socket\n")
    srv2 = chatd(start=False, admin={"socket": path})
    refused_start(srv2, "exists and is not a socket")
    with open(path) as f:
        assert f.read() == "not a socket\n"


def test_settings_come_from_flags_env_file_then_the_chatd_config(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)
    conf_dir = os.path.join(ctl.home, ".config")
    os.makedirs(conf_dir)
    conf = os.path.join(conf_dir, "chatctl.conf")
    with open(conf, "w") as f:
        f.write("# mine\nurl = %s\ntoken = %s\ntimeout = 5\n" % (ctl.url, ctl.admin))
    os.chmod(conf, 0o600)
    dead = "http://127.0.0.1:%d" % free_port()
    r = ctl.ok("status", token=None, url=None)                 # the file alone
    assert r.stderr == ""
    r = ctl.run("status", token=None, url=dead)                # env beats the file
    assert r.returncode == 3 and "from CHATCTL_URL" in r.stderr, r.stderr
    ctl.ok("--url", ctl.url, "status", token=None, url=dead)   # the flag beats env
    ctl.ok("status", "--url", ctl.url, token=None, url=dead)   # after the command too
    r = ctl.run("status", token="garbage", url=None)           # env token beats the file's
    assert r.returncode == 4
    r = ctl.run("--token", ctl.admin, "status", token="garbage", url=None)
    assert r.returncode == 0, r
    os.chmod(conf, 0o644)
    r = ctl.ok("status", token=None, url=None)
    assert "other users can read it" in r.stderr, r.stderr
    with open(conf, "a") as f:
        f.write("colour = blue\n")
    r = ctl.run("status", token=None, url=None)
    assert r.returncode == 1 and "line 5: unknown key" in r.stderr, r.stderr
    other = os.path.join(ctl.home, "other.conf")
    with open(other, "w") as f:
        f.write("url = %s\n" % ctl.url)
    ctl.ok("--ctl-config", other, "status", url=None)
    r = ctl.run("--ctl-config", other + ".missing", "status")
    assert r.returncode == 1 and "cannot open chatctl config" in r.stderr, r
    # With -c and nothing else: the admin listener of that chatd config.
    os.remove(conf)
    r = ctl.ok("-c", srv.config_path, "status", url=None)
    assert "connections" in r.stdout


# --------------------------------------------------------------------------
# backup

def test_backup_while_the_server_keeps_writing(chatd, ctl_for, tmp_path):
    srv = chatd()
    if chatclient.uses_pg(srv):
        pytest.skip("backs up the SQLite file, and this server runs on storage_pg "
                    "(chatctl refuses it: test_backup_refuses_a_store_that_is_not_sqlite)")
    ctl = ctl_for(srv)
    dest = str(tmp_path / "backup.db")
    state = {}

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.group(["bob"])
        acked = []
        for i in range(150):
            ack = await send(a, conv, "filler %d %s" % (i, "x" * 1500))
            acked.append(ack["seq"])
        during = []
        stop = asyncio.Event()

        async def writer():
            i = 0
            while not stop.is_set():
                ack = await send(a, conv, "during %d" % i)
                assert ack["type"] == "ack", ack
                during.append(ack["seq"])
                i += 1
        w = asyncio.create_task(writer())
        await asyncio.sleep(0.05)
        r = await ctl.arun("backup", dest, "-c", srv.config_path, "--step-pages", "1")
        n_during = len(during)
        stop.set()
        await w
        assert r.returncode == 0, r
        assert "written to " + dest in r.stdout, r.stdout
        assert n_during > 0, "the server did not write while the backup ran"
        state.update(conv=conv, acked=acked, during=during, out=r.stdout)
        ack = await send(a, conv, "after the backup")      # still serving
        assert ack["type"] == "ack"
    run(body(), timeout=120)
    db = sqlite3.connect("file:%s?mode=ro" % dest, uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = {s for (s,) in db.execute("SELECT seq FROM messages WHERE conversation_id = ?",
                                         (state["conv"],))}
        text = db.execute("SELECT text FROM messages WHERE conversation_id = ? AND seq = ?",
                          (state["conv"], state["acked"][7])).fetchone()[0]
    finally:
        db.close()
    assert set(state["acked"]) <= seqs, "messages acked before the backup are missing"
    assert text.startswith("filler 7 ")
    # A snapshot: a prefix of the sends, never a gap.
    assert seqs == set(range(1, max(seqs) + 1)), "the copy has gaps"
    # It does not overwrite without --force; with it, it does.
    r = ctl.run("backup", dest, "-c", srv.config_path)
    assert r.returncode == 1 and "--force" in r.stderr, r
    j = ctl.json("backup", dest, "-c", srv.config_path, "--force")
    assert j["file"] == dest and j["pages"] > 0, j
    assert not [f for f in os.listdir(str(tmp_path)) if ".tmp-" in f]


def test_backup_refuses_a_store_that_is_not_sqlite(chatd, ctl_for, tmp_path):
    srv = chatd(start=False, plugins={"storage": "pg"}, storage_sqlite=None)
    ctl = Ctl.__new__(Ctl)
    ctl.home = str(tmp_path / "h")
    os.makedirs(ctl.home)
    ctl.url, ctl.admin = "http://127.0.0.1:1", None
    r = ctl.run("backup", str(tmp_path / "b.db"), "-c", srv.config_path, token=None)
    assert r.returncode == 1 and "pg_dump" in r.stderr and '"pg"' in r.stderr, r
    assert not os.path.exists(str(tmp_path / "b.db"))


# --------------------------------------------------------------------------
# a moderator's day

def test_a_moderators_day_through_the_queue(chatd, ctl_for):
    srv = chatd(moderation={"rules": [{"name": "spam",
                                       "options": {"new_account_ms": 3600000}}, "audit"]})
    ctl = ctl_for(srv)
    mod = ctl.ok("token", "mint", "mod", "--role", "moderator").stdout.strip()

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.group(["bob"], title="team")
        await b.expect("conv.event", event="member_added")
        # Held messages: approve one, reject the other.
        h1 = await send(a, conv, "look at https://example.com/deal")
        h2 = await send(a, conv, "and www.example.org")
        held = json.loads((await ctl.aok("--json", "reports", "list", "--kind", "hold",
                                         token=mod)).stdout)["items"]
        assert [i["seq"] for i in held] == [h1["seq"], h2["seq"]], held
        await ctl.aok("queue", "approve", str(held[0]["id"]), "--note", "fine", token=mod)
        assert (await b.expect("message", seq=h1["seq"]))["text"].startswith("look at")
        out = await ctl.aok("queue", "reject", str(held[1]["id"]), token=mod)
        assert "actioned (reject)" in out.stdout, out.stdout
        await b.assert_no_frame(0.4, types={"message"})
        # Nothing open is left.
        assert "no open items" in (await ctl.aok("reports", "list", token=mod)).stdout

        # A conversation: look, lock, unlock.
        shown = (await ctl.aok("conv", "show", conv, token=mod)).stdout
        assert "team" in shown and "settings.locked" in shown and "bob" in shown, shown
        assert (await ctl.aok("conv", "lock", conv, token=mod)).stdout.strip() == \
            "%s: locked" % conv
        ev = await b.expect("conv.event", event="settings_changed")
        assert ev.get("by") == "mod", ev
        await ctl.aok("conv", "unlock", conv, token=mod)
        await b.expect("conv.event", event="settings_changed")

        # Delete a message for everyone.
        m = await send(a, conv, "oops, my password")
        await b.expect("message", seq=m["seq"])
        out = await ctl.aok("message", "delete", conv, str(m["seq"]), token=mod)
        assert "deleted for everyone" in out.stdout
        upd = await b.expect("message_update", seq=m["seq"])
        assert upd.get("kind") == "deleted", upd

        # Mute, then lift it.
        out = await ctl.aok("user", "mute", "alice", "--duration", "10m", "--reason",
                            "cool down", token=mod)
        assert "alice: muted" in out.stdout and "mute (block)" in out.stdout, out.stdout
        row = [ln for ln in out.stdout.splitlines() if ln.startswith("mute (block)")]
        assert row and row[0].rstrip().endswith("cool down"), out.stdout
        shown = (await ctl.aok("user", "show", "alice", token=mod)).stdout
        assert [ln for ln in shown.splitlines() if ln.startswith("mute (block)")][0] \
            .rstrip().endswith("cool down"), shown
        r = await send(a, conv, "can I talk?")
        assert r["type"] == "error" and r["code"] == "rejected", r
        await ctl.aok("user", "unmute", "alice", token=mod)
        assert (await send(a, conv, "thanks"))["type"] == "ack"

        # A ban, an appeal, the appeal granted.
        await ctl.aok("user", "ban", "bob", "--duration", "1d", token=mod)
        await b.expect_close(4403)
        st, ap = srv.admin("POST", "/v1/appeals", {"text": "it was my brother"},
                           token=mint("bob", secret=srv.secret))
        assert st == 201, (st, ap)
        lst = (await ctl.aok("appeals", "list", token=mod)).stdout
        assert "appeal" in lst and "it was my brother" in lst, lst
        one = (await ctl.aok("appeals", "show", ap["appeal_id"], token=mod)).stdout
        assert "ban" in one and "it was my brother" in one, one
        out = await ctl.aok("appeals", "grant", ap["appeal_id"], "--note", "ok", token=mod)
        assert "actioned (grant)" in out.stdout, out.stdout
        back = await Client.login(srv, "bob")
        await back.ping()
        assert "no open appeals" in (await ctl.aok("appeals", "list", token=mod)).stdout
    run(body())
    events = audit_events(srv)
    for e in ("queue.resolve", "sanction", "sanction.lift", "appeal.filed"):
        assert e in events, events
    assert "audit log ok" in ctl.ok("audit", "verify", token=mod).stdout


def test_audit_tail_follow_prints_new_entries_and_stops_on_sigint(chatd, ctl_for):
    srv = chatd()
    ctl = ctl_for(srv)
    ctl.ok("user", "ban", "zed")
    p = subprocess.Popen([chatctl_bin(), "audit", "tail", "-f", "--interval", "100ms"],
                         env=ctl.env(ADMIN, ctl.url, None), cwd=ctl.home,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(ln) for ln in p.stdout], daemon=True)
    reader.start()
    try:
        seen = []

        def read_until(word, timeout=5.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    break
                seen.append(line)
                if word in line:
                    return line
            raise AssertionError("no %r line within %.0f s; got %r" % (word, timeout, seen))
        first = read_until("sanction")
        assert first.startswith("#1 ") and "zed" in first, first
        ctl.ok("user", "unban", "zed")
        second = read_until("sanction.lift")
        assert second.startswith("#2 "), second
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=5) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
        p.stdout.close()
        p.stderr.close()


# --------------------------------------------------------------------------
# rules, locally and on the server

def test_rules_test_runs_locally_like_chatd(tmp_path, chatd, ctl_for):
    srv = chatd(start=False)
    ctl = Ctl.__new__(Ctl)
    ctl.home = str(tmp_path / "h")
    os.makedirs(ctl.home)
    ctl.url, ctl.admin = "http://127.0.0.1:1", None
    cases = os.path.join(chatclient.RULES_DIR, "tests", "wordfilter.jsonl")
    r = ctl.run("rules", "test", "--rules-dir", chatclient.RULES_DIR, "--rule", "wordfilter",
                cases, token=None)
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout + r.stderr
    f = tmp_path / "cases.jsonl"
    f.write_text('{"sender":"a","text":"darn","expect":"allow"}\n')
    r = ctl.run("rules", "test", "--rule", "wordfilter", "-c", srv.config_path, str(f),
                token=None)
    assert r.returncode == 1 and "1 cases, 0 passed, 1 failed" in r.stdout, r.stdout
    r = ctl.run("--json", "rules", "test", "--rules-dir", chatclient.RULES_DIR, "--rule",
                "wordfilter", cases, token=None)
    assert r.returncode == 0
    assert json.loads(r.stdout.strip().splitlines()[-1])["summary"]["failed"] == 0
    r = ctl.run("rules", "test", str(f), token=None)
    assert r.returncode == 2 and "no rules" in r.stderr, r


def test_rules_dry_run_replays_a_conversation(chatd, ctl_for):
    srv = chatd(moderation={"rules": ["audit"]})
    ctl = ctl_for(srv)

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        await send(a, conv, "darn it")
        await send(a, conv, "all clean")
        return conv
    conv = run(body())
    srv.cfg["moderation"]["rules"] = [{"name": "wordfilter", "options": {"words": ["darn"]}},
                                      "audit"]
    with open(srv.config_path, "w") as f:
        f.write(chatclient.render_config(srv.cfg))
    out = ctl.ok("rules", "dry-run", "config", "--last", "50", "--conv", conv).stdout
    assert "replayed 2 messages of %s through wordfilter, audit:" % conv in out, out
    assert "1 would be decided differently" in out, out
    row = [ln for ln in out.splitlines() if ln.startswith(conv)]
    assert row and "allow" in row[0] and "rewrite" in row[0] and "**** it" in row[0], out
    j = ctl.json("rules", "dry-run", "config", "--last", "50", "--conv", conv)
    assert j["changed_total"] == 1
    # Nothing live changed.
    assert ctl.json("rules", "list")["rules"][0]["name"] == "audit"
    mod = mint("mod", secret=srv.secret, roles=["moderator"])
    assert ctl.run("rules", "dry-run", "config", "--last", "5", "--conv", conv,
                   token=mod).returncode == 4



DRY_RULES = {
    "quiet": 'return { name = "quiet", on_message = function(ctx) end }\n',
    "strict": ('return { name = "strict", on_message = function(ctx)\n'
               '  if ctx.text:find("darn", 1, true) then return reject("bad_word", "no") end\n'
               'end }\n'),
    "broken": ('return { name = "broken", on_message = function(ctx)\n'
               '  return allow( end }\n'),
}


def test_rules_dry_run_of_a_chosen_rule_set(chatd, ctl_for, tmp_path):
    """RULESET as rule names: the server compiles exactly those from
    rules_dir and echoes them; without --conv the latest messages of all
    conversations are replayed; unknown and broken rules are refused."""
    d = tmp_path / "rules"
    d.mkdir()
    for name, text in DRY_RULES.items():
        (d / (name + ".lua")).write_text(text)
    srv = chatd(moderation={"rules_dir": str(d), "rules": ["quiet"]})
    ctl = ctl_for(srv)

    async def body():
        a = await Client.login(srv, "alice")
        c1 = await a.direct("bob")
        c2 = await a.direct("carol")
        await send(a, c1, "darn it")
        await send(a, c2, "all clean")
        await send(a, c2, "darn again")
        return c1, c2
    c1, c2 = run(body())
    out = ctl.ok("rules", "dry-run", "strict", "--last", "50", "--conv", c1).stdout
    assert "replayed 1 message of %s through strict: reject 1" % c1 in out, out
    row = [ln for ln in out.splitlines() if ln.startswith(c1)]
    assert row and row[0].split()[1:6] == ["1", "alice", "allow", "reject", "strict"], out
    # the latest of all conversations (no --conv): both of darn's messages
    out = ctl.ok("rules", "dry-run", "quiet,strict", "--last", "500").stdout
    assert "replayed 3 messages (the latest of all conversations) through quiet, strict" \
        in out, out
    assert "2 would be decided differently" in out, out
    assert {ln.split()[0] for ln in out.splitlines() if "strict" in ln.split()[5:6]} == \
        {c1, c2}, out
    j = ctl.json("rules", "dry-run", "strict", "--last", "2")
    assert j["rules"] == ["strict"] and j["messages"] == 2 and j["changed_total"] == 1, j
    r = ctl.run("rules", "dry-run", "strict,nosuch", "--last", "5")
    assert r.returncode == 1 and "unknown_rule" in r.stderr and "nosuch" in r.stderr, r
    r = ctl.run("rules", "dry-run", "broken", "--last", "5")
    assert r.returncode == 1 and "broken.lua:2:" in r.stderr, r
    # nothing live changed
    assert [x["name"] for x in ctl.json("rules", "list")["rules"]] == ["quiet"]