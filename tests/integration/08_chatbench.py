"""08 — the load generator, bench/chatbench, as a smoke test against a real
chatd: a tiny fanout (every ack delivered to the other group members, no
errors), a tiny pairs run, a tiny resync (verified count), a tiny group
(every message reached every online member), the loopback-only refusal, a
server that dies under it (clean report, no crash), and two nodes at once
(one --url each, sharing storage and Redis: connections alternate between
them, both ends of every pair on different nodes, every message delivered,
the --progress marks around the measured interval).

The binary must be at $CHATD_BUILD_DIR/bench/chatbench; a missing binary is a
failure, not a skip."""

import json
import os
import signal
import subprocess
import time

import pytest

import redisutil
from chatclient import build_dir

TIMEOUT = 60


def chatbench_bin():
    path = os.path.join(build_dir(), "bench", "chatbench")
    if not os.access(path, os.X_OK):
        pytest.fail("no executable chatbench at %s: build it (make bench/chatbench) "
                    "in $CHATD_BUILD_DIR" % path)
    return path


def bench(server, *args, check=True):
    cmd = [chatbench_bin(), "--url", server.url, "--config", server.config_path,
           "--server-pid", str(server.proc.pid), "--json"] + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT, text=True)
    if check and p.returncode != 0:
        pytest.fail("chatbench exited %d\ncmd: %s\nstdout: %s\nstderr: %s"
                    % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    return p


def result(p):
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, "expected one JSON line, got: %r" % p.stdout
    return json.loads(lines[0])


def test_help_lists_options():
    p = subprocess.run([chatbench_bin(), "--help"], stdout=subprocess.PIPE, text=True,
                       timeout=10)
    assert p.returncode == 0
    for opt in ("--url", "--secret", "--config", "--target", "--scenario", "-n", "-m",
                "--rate", "--window", "--size", "--duration", "--warmup", "--server-pid",
                "--json", "--user-prefix", "--resync-convs", "--resync-msgs",
                "--group-members", "--online-pct", "--group-messages", "--admin-url",
                "--progress"):
        assert opt in p.stdout, opt


def test_fanout_smoke(server):
    r = result(bench(server, "--scenario", "fanout", "-n", 20, "-m", 5, "--rate", 200,
                     "--duration", 2, "--warmup", 0.5))
    assert r["connected"] == 20
    assert r["sends"] > 0
    assert r["acks"] > 0 and r["acks"] == r["sends"], r
    assert r["deliveries"] > 0
    assert r["expected_deliveries"] == r["acks"] * 4
    assert r["deliveries"] == r["expected_deliveries"], r
    assert r["undelivered_pct"] == 0
    assert r["errors"] == {} and r["error_total"] == 0, r["errors"]
    lat = r["latency_ms"]
    assert lat["ack"]["count"] == r["acks"]
    assert 0 < lat["ack"]["p50"] <= lat["ack"]["p99"] <= lat["ack"]["max"]
    assert lat["delivery"]["count"] == r["deliveries"]
    assert r["server"]["rss_bytes"] > 0 and r["server"]["cpu_pct"] is not None
    # about 200/s over 2 s
    assert 300 <= r["sends"] <= 420, r["sends"]


def test_pairs_smoke(chatd):
    # --rate 0 runs as fast as acks come back: lift the per-connection frame
    # cap (100/s by default, closes with 1008) so it measures storage.
    server = chatd(server={"frame_rate": 100000, "frame_burst": 100000})
    r = result(bench(server, "--scenario", "pairs", "-n", 10, "--rate", 0, "--window", 2,
                     "--duration", 1, "--warmup", 0.2))
    assert r["connected"] == 10 and r["ready_at_end"] == 10
    assert r["acks"] > 0 and r["acks_per_s"] > 0
    assert r["deliveries"] == r["acks"], r    # M = 2: one other member
    assert r["error_total"] == 0, r["errors"]


def test_resync_smoke(server):
    r = result(bench(server, "--scenario", "resync", "--resync-convs", 10,
                     "--resync-msgs", 10))
    rs = r["resync"]
    assert rs["verified"] is True, rs
    assert rs["received"] == rs["expected"] == 100
    assert rs["incomplete_conversations"] == 0
    assert rs["sync_ms"] > 0
    assert r["error_total"] == 0, r["errors"]


def test_resync_pages_with_history(server):
    # 150 messages per conversation: more than one sync page holds
    r = result(bench(server, "--scenario", "resync", "--resync-convs", 3,
                     "--resync-msgs", 150, "--resync-history", "--user-prefix", "h"))
    rs = r["resync"]
    assert rs["verified"] is True, rs
    assert rs["received"] == 450
    assert rs["history_requests"] >= 3


def test_group_smoke(server):
    # 30 members, 20 % online: the owner and 5 others; 5 messages one at a time
    r = result(bench(server, "--scenario", "group", "--group-members", 30, "--online-pct", 20,
                     "--group-messages", 5, "--duration", 20, "--user-prefix", "gs",
                     "--admin-url", "http://127.0.0.1:%d" % server.admin_port))
    g = r["group"]
    assert (g["members"], g["online"], g["messages"]) == (30, 6, 5), g
    assert r["connected"] == 6 and r["ready_at_end"] == 6
    assert g["sent"] == g["acked"] == 5, g
    assert g["delivered_fully"] == 5 and g["undelivered"] == 0, g
    assert g["missing_deliveries"] == 0 and g["duplicate_deliveries"] == 0, g
    assert r["deliveries"] == r["expected_deliveries"] == 5 * 5, r
    t = g["time_to_last_member_ms"]
    assert t["count"] == 5 and 0 < t["p50"] <= t["max"], t
    assert r["latency_ms"]["delivery"]["count"] == 5
    assert g["ack_ms"]["count"] == 5
    # the storage counter may not exist yet: a number or null, never a failure
    per = g["rows_written_per_message"]
    assert per is None or per >= 1, g
    assert r["error_total"] == 0, r["errors"]


def test_group_grows_with_conv_add(server):
    # past conv.create's 1000 members: the group is grown with conv.add
    r = result(bench(server, "--scenario", "group", "--group-members", 1200, "--online-pct", 1,
                     "--group-messages", 3, "--duration", 30, "--user-prefix", "ga"))
    g = r["group"]
    assert g["setup"]["adds"] == 1, g
    assert g["online"] == 12 and g["delivered_fully"] == 3, g
    assert r["error_total"] == 0, r["errors"]


def test_refuses_non_loopback(server):
    p = subprocess.run([chatbench_bin(), "--url", "ws://10.1.2.3:%d/ws" % server.port,
                        "--secret", server.secret, "--duration", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    assert p.returncode == 1
    assert "loopback" in p.stderr


def test_refuses_bad_node_lists(server):
    def run(*urls):
        cmd = [chatbench_bin(), "--secret", server.secret, "--duration", "1"]
        for u in urls:
            cmd += ["--url", u]
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=10)
    p = run(server.url, "ws://10.1.2.3:%d/ws" % server.port)   # the second is not loopback
    assert p.returncode == 1 and "loopback" in p.stderr and "10.1.2.3" in p.stderr
    p = run(*[server.url] * 17)
    assert p.returncode == 1 and "at most 16 --url" in p.stderr


def node_metric(srv, name):
    status, text = srv.admin("GET", "/metrics")
    assert status == 200
    body = text.decode() if isinstance(text, bytes) else str(text)
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError("no metric %s" % name)


@pytest.mark.skipif(not redisutil.have_redis(),
                    reason="redis-server is not installed (scripts/setup --test)")
def test_two_nodes(chatd, tmp_path):
    redis = redisutil.RedisServer(tmp_path / "redis").start()
    try:
        nodes = []
        for i in range(2):
            sect = redis.section("", "cb:")
            nodes.append(chatd(node_id="n%d" % (i + 1),
                               plugins={"presence": "redis", "bus": "redis", "fanout": "online"},
                               storage_sqlite={"path": str(tmp_path / "shared.db")},
                               presence_redis=dict(sect), bus_redis=dict(sect)))
        cmd = [chatbench_bin(), "--url", nodes[0].url, "--url", nodes[1].url, "--config",
               nodes[0].config_path, "--json", "--progress", "--scenario", "pairs", "-n", 20,
               "--rate", 100, "--duration", 2, "--warmup", 0.5]
        p = subprocess.run([str(a) for a in cmd], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        r = result(p)
        assert [n["url"] for n in r["nodes"]] == [nodes[0].url, nodes[1].url]
        assert [n["connections"] for n in r["nodes"]] == [10, 10], r["nodes"]
        assert [n["ready_at_end"] for n in r["nodes"]] == [10, 10], r["nodes"]
        assert r["cross_node_pct"] == 100
        assert r["acks"] > 0 and r["acks"] == r["sends"], r
        # every message reached the other end, on the other node
        assert r["deliveries"] == r["expected_deliveries"] == r["acks"], r
        assert r["error_total"] == 0, r["errors"]
        assert [l for l in p.stderr.splitlines() if l.startswith("chatbench: phase")] == [
            "chatbench: phase measure", "chatbench: phase end"]
        # the nodes saw the placement: ten connections each, and each routed
        # its senders' messages to the other node
        for n in nodes:
            assert node_metric(n, "chatd_connections_opened_total") == 10
            assert node_metric(n, 'chatd_cluster_events_total{event="frames_routed"}') > 0
    finally:
        redis.stop()


def test_server_dies_under_load(chatd):
    srv = chatd()
    cmd = [chatbench_bin(), "--url", srv.url, "--secret", srv.secret, "-n", 20, "-m", 5,
           "--rate", 200, "--duration", 3, "--warmup", 0, "--json"]
    p = subprocess.Popen([str(a) for a in cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    out, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 0, (p.returncode, err)   # a report, not a crash
    r = json.loads(out)
    assert r["error_total"] > 0          # the drops are counted
    assert r["sends"] > 0
