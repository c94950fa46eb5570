"""20 — structured logs: every line one JSON object (ts, level, component,
event, msg, then trace and user when they apply); one send followed by its
trace id through the gateway, the pipeline, moderation, storage and fan-out;
no raw user id at info level, only its keyed hash (also shown by the admin
API and `chatctl user show`); SIGHUP reopens log.file after a rotation and
changes nothing else; a log.file that cannot be opened stops start-up."""

import json
import os
import re
import signal
import subprocess
import time

import chatclient
from chatclient import Client, chatctl_bin, log_user_hash, mint, parse_log, run

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
KEY = "log-key-for-the-integration-test"


def read_log(path):
    with open(path, "rb") as f:
        raw = f.read()
    return raw.decode("utf-8")  # the log is valid UTF-8 throughout


def check_lines(text):
    """Every line is a JSON object with the fields in their order; returns
    them parsed."""
    lines = text.splitlines()
    assert lines, "the log file is empty"
    out = []
    for line in lines:
        obj = json.loads(line)   # raises on a line that is not JSON
        assert isinstance(obj, dict), line
        keys = list(obj)
        assert keys[:5] == ["ts", "level", "component", "event", "msg"], line
        assert set(keys[5:]) <= {"trace", "user"}, line
        if "trace" in obj and "user" in obj:
            assert keys[5:] == ["trace", "user"], line
        assert TS_RE.match(obj["ts"]), line
        assert obj["level"] in ("error", "warn", "info", "debug"), line
        assert obj["component"] and obj["event"], line
        if "trace" in obj:
            assert re.fullmatch(r"[0-9a-f]{16}", obj["trace"]), line
        if "user" in obj:
            assert re.fullmatch(r"u:[0-9a-f]{16}", obj["user"]), line
        out.append(obj)
    return out


def wait_for(cond, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("%s not met within %.1f s" % (what, timeout))
        time.sleep(0.02)


def log_has(path, event):
    try:
        return any(e.get("event") == event for e in parse_log(read_log(path)))
    except OSError:
        return False


async def send_to_bob(srv, user, text="hello"):
    a = await Client.login(srv, user)
    b = await Client.login(srv, "bob")
    conv = await a.direct("bob")
    ack = await a.send_text(conv, text)
    msg = await b.expect("message", seq=ack["seq"])
    assert msg["text"] == text
    return conv, ack


def test_one_send_followed_by_its_trace(chatd, tmp_path):
    path = str(tmp_path / "logs" / "chatd.log")
    os.makedirs(os.path.dirname(path))
    srv = chatd(log={"level": "debug", "file": path, "user_hash_key": KEY})
    conv, ack = run(send_to_bob(srv, "alice"))
    lines = check_lines(read_log(path))
    # The send's frame in the gateway: its trace is the send's.
    frames = [e for e in lines if e["component"] == "gateway" and e["event"] == "frame.in"
              and ": send," in e["msg"]]
    assert len(frames) == 1, frames
    trace = frames[0]["trace"]
    assert frames[0]["user"] == log_user_hash("alice", KEY), frames[0]
    path_lines = [e for e in lines if e.get("trace") == trace]
    by_component = {}
    for e in path_lines:
        by_component.setdefault(e["component"], []).append(e)
    for comp in ("gateway", "pipeline", "moderation", "storage", "fanout"):
        assert comp in by_component, "no %s line with trace %s:\n%s" % (
            comp, trace, "\n".join(json.dumps(e) for e in path_lines))
    events = {(e["component"], e["event"]) for e in path_lines}
    assert ("pipeline", "command.start") in events, events
    assert ("moderation", "moderation.verdict") in events, events
    assert ("storage", "message.stored") in events, events
    assert ("fanout", "fanout.start") in events, events
    assert ("fanout", "fanout.delivered") in events, events
    verdict = [e for e in by_component["moderation"] if e["event"] == "moderation.verdict"][0]
    assert "allow" in verdict["msg"], verdict
    stored = [e for e in by_component["storage"] if e["event"] == "message.stored"][0]
    assert conv in stored["msg"] and "/%d " % ack["seq"] in stored["msg"], stored
    # Bob's delivery is on the path; it is the fan-out plugin's (hybrid).
    assert any("bob" in e["msg"] and "fanout_hybrid" in e["msg"]
               for e in by_component["fanout"] if e["event"] == "fanout.delivered"), \
        by_component["fanout"]
    # The core's lines for the send carry the sender's hash.
    for e in path_lines:
        if e["component"] in ("pipeline", "moderation", "storage"):
            assert e.get("user") == log_user_hash("alice", KEY), e


def test_no_raw_user_id_at_info(chatd, tmp_path):
    user = "alice-raw-id-check"
    path = str(tmp_path / "chatd.log")
    srv = chatd(log={"level": "info", "file": path, "user_hash_key": KEY})
    run(send_to_bob(srv, user))
    # The admin API and chatctl show the same hash, keyed.
    u = srv.admin_ok("GET", "/v1/users/" + user, role="moderator")
    assert u["log_id"] == log_user_hash(user, KEY), u
    assert u["log_id"] != log_user_hash(user), "the hash ignores log.user_hash_key"
    tok = mint("mod", secret=srv.secret, roles=["moderator"])
    r = subprocess.run([chatctl_bin(), "user", "show", user], capture_output=True, text=True,
                       timeout=20, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                        "HOME": str(tmp_path),
                                        "CHATCTL_URL": "http://127.0.0.1:%d" % srv.admin_port,
                                        "CHATCTL_TOKEN": tok})
    assert r.returncode == 0, r
    assert re.search(r"log id\s+%s" % re.escape(u["log_id"]), r.stdout), r.stdout
    assert srv.stop() == 0
    text = read_log(path)
    lines = check_lines(text)
    assert user not in text, [line for line in text.splitlines() if user in line]
    mine = [e for e in lines if e.get("user") == log_user_hash(user, KEY)]
    assert {e["event"] for e in mine} >= {"session.open", "session.close"}, mine
    assert all(e["level"] != "debug" for e in lines)


def test_sighup_reopens_the_log_file(chatd, tmp_path):
    path = str(tmp_path / "chatd.log")
    srv = chatd(log={"level": "info", "file": path})
    run(send_to_bob(srv, "alice", "before"))
    rotated = path + ".1"
    os.rename(path, rotated)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: log_has(path, "log.reopened"), what="log.reopened in the new file")
    assert srv.running, "SIGHUP stopped chatd"
    run(send_to_bob(srv, "carol", "after"))
    assert srv.stop() == 0
    new = check_lines(read_log(path))
    old = check_lines(read_log(rotated))
    assert new[0]["event"] == "log.reopened" and path in new[0]["msg"], new[0]
    carol = log_user_hash("carol")
    assert any(e["event"] == "session.open" and e.get("user") == carol for e in new), new
    assert not any(e.get("user") == carol for e in old), "a line after SIGHUP went to the old file"
    assert any(e["event"] == "listen.ok" for e in old) and \
        not any(e["event"] == "listen.ok" for e in new)
    assert any(e["event"] == "shutdown.done" for e in new)
    starts = [e for e in new + old if e["event"] == "shutdown.start"]
    assert len(starts) == 1 and starts[0]["msg"].startswith("signal 15:"), starts


def test_sighup_reopen_failure_and_stderr(chatd, tmp_path):
    # A reopen that fails keeps writing to the old file and says why.
    d = tmp_path / "logs"
    d.mkdir()
    path = str(d / "chatd.log")
    srv = chatd(log={"level": "info", "file": path})
    moved = str(tmp_path / "logs.gone")
    os.rename(str(d), moved)
    srv.proc.send_signal(signal.SIGHUP)
    old = os.path.join(moved, "chatd.log")
    wait_for(lambda: log_has(old, "log.reopen_failed"), what="log.reopen_failed")
    failed = [e for e in parse_log(read_log(old)) if e["event"] == "log.reopen_failed"][0]
    assert failed["level"] == "error" and path in failed["msg"], failed
    run(send_to_bob(srv, "alice"))
    assert srv.stop() == 0
    assert any(e["event"] == "shutdown.done" for e in check_lines(read_log(old)))
    assert not os.path.exists(path)
    # Logging to stderr: nothing to reopen, and nothing else happens.
    srv2 = chatd()
    srv2.proc.send_signal(signal.SIGHUP)
    srv2.wait_log_event("log.reopen_skipped", "core", level="info")
    assert srv2.running
    run(send_to_bob(srv2, "alice"))


def test_unopenable_log_file_stops_start_up(chatd, tmp_path):
    path = str(tmp_path / "missing" / "chatd.log")
    srv = chatd(start=False, log={"file": path})
    r = subprocess.run([chatclient.chatd_bin(), "-c", srv.config_path], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    # A config error: exit 1 like the others (docs/operations.md), nothing started.
    assert r.returncode == 1, r
    assert "log.file: cannot open %s: No such file or directory" % path in r.stderr, r.stderr
    assert r.stderr.startswith("chatd: %s: " % srv.config_path), r.stderr
    assert "listen.ok" not in r.stderr
    # --check-config says the same.
    r = subprocess.run([chatclient.chatd_bin(), "--check-config", srv.config_path],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "log.file: cannot open %s" % path in r.stderr, r
    assert not os.path.exists(os.path.dirname(path))
