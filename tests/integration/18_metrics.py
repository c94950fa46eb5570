"""18 — GET /metrics on the admin listener: who may scrape (admin.metrics_auth),
the Prometheus text format 0.0.4 parsed strictly (grammar of every line, HELP
and TYPE for every metric, histograms cumulative and closed by +Inf =
_count), and counters that move by exactly what the test did: connections
opened and closed by code, sends accepted / duplicate / rejected by reason,
stage and send→ack histograms, storage ops, rule verdicts and failures
(kept across a reload), fan-out deliveries, outbound queue depth and a 4409
overflow, and every plugin counter equal to GET /v1/metrics."""

import http.client
import math
import os
import re
import socket
import time

from chatclient import Client, RawWS, mint, new_cmid, run

# ---------------------------------------------------------------------------
# a strict parser of the text format 0.0.4

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|NaN|[+-]Inf)"
SAMPLE_RE = re.compile(r"^(%s)(\{.*\})? (%s)(?: (-?\d+))?$" % (NAME, VALUE))
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
LABEL_RE = re.compile(r'(%s)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"' % LABEL_NAME)


def parse_labels(text, line):
    """'{a="x",b="y"}' -> (("a","x"),("b","y")); every byte accounted for."""
    assert text[0] == "{" and text[-1] == "}", line
    body, pos, out = text[1:-1], 0, []
    while pos < len(body):
        m = LABEL_RE.match(body, pos)
        assert m, "bad label syntax at %r in %r" % (body[pos:], line)
        value = re.sub(r"\\(.)", lambda e: {"n": "\n", "\\": "\\", '"': '"'}[e.group(1)],
                       m.group(2))
        assert m.group(1) not in dict(out), "label repeated in %r" % line
        out.append((m.group(1), value))
        pos = m.end()
        if pos < len(body):
            assert body[pos] == ",", "labels not separated by ',' in %r" % line
            pos += 1
    return tuple(out)


def parse_value(v):
    return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(v) if v in (
        "NaN", "+Inf", "-Inf") else float(v)


class Scrape:
    """families: name -> {"type", "help", "samples": {(sample_name, labels): value}}."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        current = None
        finished = set()
        seen = set()
        assert text.endswith("\n"), "the exposition must end with a newline"
        for line in text.split("\n")[:-1]:
            if line == "":
                continue
            if line.startswith("#"):
                m = HELP_RE.match(line) or TYPE_RE.match(line)
                if not m:
                    assert line.startswith("# ") and not line.startswith(("# HELP", "# TYPE")), \
                        "malformed comment line %r" % line
                    continue
                name = m.group(1)
                fam = self.families.setdefault(name, {"type": None, "help": None,
                                                      "samples": {}})
                key = "help" if line.startswith("# HELP") else "type"
                assert fam[key] is None, "second %s line for %s" % (key.upper(), name)
                assert not fam["samples"], "%s line for %s after its samples" % (key, name)
                assert name not in finished, "%s appears again after other metrics" % name
                if current and current != name:
                    finished.add(current)
                current = name
                if key == "help":
                    assert "\\" not in re.sub(r"\\[\\n]", "", m.group(2)), \
                        "bad escape in HELP %r" % line
                fam[key] = m.group(2)
                continue
            m = SAMPLE_RE.match(line)
            assert m, "not a sample line: %r" % line
            sname, labels = m.group(1), parse_labels(m.group(2), line) if m.group(2) else ()
            fname = self._family_of(sname)
            assert fname is not None, "sample %r before its # TYPE line" % line
            assert fname not in finished, "samples of %s are not together" % fname
            if current and current != fname:
                finished.add(current)
            current = fname
            key = (sname, labels)
            assert key not in seen, "duplicate series %r" % line
            seen.add(key)
            self.families[fname]["samples"][key] = parse_value(m.group(3))
        for name, fam in self.families.items():
            assert fam["type"] is not None, "%s has no # TYPE line" % name
            assert fam["help"] is not None, "%s has no # HELP line" % name
            if fam["type"] == "histogram":
                self._check_histogram(name, fam)
            elif fam["type"] == "counter":
                for (sname, labels), v in fam["samples"].items():
                    assert sname == name, "counter %s has sample %s" % (name, sname)
                    assert v >= 0 and v == int(v), "counter %s%r = %r" % (name, labels, v)

    def _family_of(self, sname):
        if sname in self.families and self.families[sname]["type"] not in (None, "histogram"):
            return sname
        for suffix in ("_bucket", "_sum", "_count"):
            base = sname[:-len(suffix)] if sname.endswith(suffix) else None
            if base and self.families.get(base, {}).get("type") == "histogram":
                return base
        return None

    @staticmethod
    def _check_histogram(name, fam):
        groups = {}
        for (sname, labels), v in fam["samples"].items():
            rest = tuple(kv for kv in labels if kv[0] != "le")
            g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
            if sname == name + "_bucket":
                le = dict(labels).get("le")
                assert le is not None, "bucket without le in %s%r" % (name, labels)
                g["buckets"].append((parse_value(le), v))
            elif sname == name + "_sum":
                g["sum"] = v
            elif sname == name + "_count":
                g["count"] = v
            else:
                raise AssertionError("histogram %s has sample %s" % (name, sname))
        for rest, g in groups.items():
            b = g["buckets"]
            assert b, "%s%r: no buckets" % (name, rest)
            les = [le for le, _ in b]
            assert les == sorted(les) and len(set(les)) == len(les), \
                "%s%r: buckets out of order %r" % (name, rest, les)
            assert les[-1] == math.inf, "%s%r: last bucket is not +Inf" % (name, rest)
            counts = [c for _, c in b]
            assert all(x <= y for x, y in zip(counts, counts[1:])), \
                "%s%r: buckets not cumulative %r" % (name, rest, counts)
            assert g["count"] is not None and g["sum"] is not None, \
                "%s%r: _sum or _count missing" % (name, rest)
            assert counts[-1] == g["count"], "%s%r: +Inf %r != _count %r" % (
                name, rest, counts[-1], g["count"])

    def value(self, name, default=None, **labels):
        """The sample `name` with exactly these labels (histograms: name_count etc.)."""
        key = (name, tuple(sorted(labels.items())))
        for fam in self.families.values():
            for (sname, ls), v in fam["samples"].items():
                if (sname, tuple(sorted(ls))) == key:
                    return v
        if default is not None:
            return default
        raise AssertionError("no sample %s%r in the scrape" % (name, labels))


def test_parser_rejects_bad_text():
    """The parser is strict: each of these breaks one rule."""
    good = ("# HELP a_total a\n# TYPE a_total counter\na_total 1\n"
            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
            "h_sum 3\nh_count 2\n")
    Scrape(good)
    bad = [
        good.replace("a_total 1", "a_total one"),                   # value
        good.replace("# HELP a_total a\n", ""),                     # no HELP
        good.replace("h_bucket{le=\"+Inf\"} 2", "h_bucket{le=\"2\"} 2"),   # no +Inf
        good.replace("h_count 2", "h_count 3"),                     # +Inf != count
        good.replace("h_bucket{le=\"1\"} 1", "h_bucket{le=\"1\"} 5"),      # not cumulative
        good.replace("a_total 1", "a_total{x=\"a\"b\"} 1"),         # unescaped quote
        good + "a_total 2\n",                                       # not together / dup
        good.replace("a_total 1", "a_total{x=\"1\"} 1\na_total{x=\"1\"} 1"),  # duplicate
        good.rstrip("\n"),                                          # no final newline
    ]
    for text in bad:
        try:
            Scrape(text)
        except AssertionError:
            continue
        raise AssertionError("accepted: %r" % text)


# ---------------------------------------------------------------------------
# helpers

def get_metrics(srv, token=None, method="GET"):
    """(status, headers, body text) of /metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.cfg["admin"]["port"], timeout=5)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        conn.request(method, "/metrics", headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode("utf-8")
    finally:
        conn.close()


def mod_token(srv):
    return mint("mod", secret=srv.secret, roles=["moderator"])


def scrape(srv):
    status, headers, body = get_metrics(srv, mod_token(srv))
    assert status == 200, (status, body)
    assert headers.get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8", headers
    return Scrape(body)


def wait_for(srv, cond, what, timeout=10.0):
    """Scrape until cond(scrape) holds; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        s = scrape(srv)
        if cond(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError("metrics: %s not reached within %.0f s" % (what, timeout))
        time.sleep(0.05)


class Delta:
    """Counter values now, to compare with a later scrape."""

    def __init__(self, srv):
        self.before = scrape(srv)

    def of(self, after, name, **labels):
        return after.value(name, 0, **labels) - self.before.value(name, 0, **labels)


RULES = {
    "nope": ('return { name = "nope", on_message = function(ctx)\n'
             '  if ctx.text and ctx.text:find("forbidden", 1, true) then\n'
             '    return reject("no_forbidden", "that word is not allowed") end end }\n'),
    "boom": ('return { name = "boom", on_message = function(ctx)\n'
             '  if ctx.text == "boom" then error("boom on purpose") end end }\n'),
}


def rules_server(chatd, tmp_path, **over):
    d = str(tmp_path / "rules")
    os.makedirs(d, exist_ok=True)
    for name, text in RULES.items():
        with open(os.path.join(d, name + ".lua"), "w") as f:
            f.write(text)
    return chatd(moderation={"rules_dir": d, "fail_mode": "open", "rules": ["nope", "boom"]},
                 **over)


async def send(client, conv, text=None, cmid=None):
    frame = {"type": "send", "conversation_id": conv, "client_message_id": cmid or new_cmid()}
    if text is not None:
        frame["text"] = text
    return await client.request(frame)


# ---------------------------------------------------------------------------
# tests

def test_metrics_need_a_staff_token_by_default(server):
    status, _, body = get_metrics(server)
    assert status == 401 and '"unauthorized"' in body, (status, body)
    status, _, body = get_metrics(server, "not-a-token")
    assert status == 401, (status, body)
    status, _, body = get_metrics(server, mint("carol", secret=server.secret))
    assert status == 403 and '"forbidden"' in body, (status, body)
    for role in ("moderator", "admin"):
        status, headers, body = get_metrics(server, mint("staff", secret=server.secret,
                                                        roles=[role]))
        assert status == 200, (role, status, body)
        info = Scrape(body).families["chatd_build_info"]["samples"]
        assert len(info) == 1 and list(info.values()) == [1], info
        assert dict(list(info)[0][1])["node_id"] == "test", info
    status, _, _ = get_metrics(server, mint("staff", secret=server.secret, roles=["admin"]),
                               method="POST")
    assert status == 405


def test_metrics_open_when_metrics_auth_is_false(chatd):
    srv = chatd(admin={"metrics_auth": False})
    status, headers, body = get_metrics(srv)
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    s = Scrape(body)
    assert s.value("chatd_storage_ready") == 1
    # only /metrics is open: the rest of the API still wants a token
    conn = http.client.HTTPConnection("127.0.0.1", srv.cfg["admin"]["port"], timeout=5)
    try:
        conn.request("GET", "/v1/status")
        r = conn.getresponse()
        r.read()
        assert r.status == 401
    finally:
        conn.close()


def test_every_metric_is_well_formed_and_named(chatd, tmp_path):
    srv = rules_server(chatd, tmp_path, plugins={"receipts": "cursor"})
    # a scrape between two equal readings of GET /v1/metrics (the storage
    # plugin may commit in the background meanwhile: then read again)
    for _ in range(50):
        plugin = srv.admin_ok("GET", "/v1/metrics")["metrics"]
        s = scrape(srv)
        if srv.admin_ok("GET", "/v1/metrics")["metrics"] == plugin:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the plugin counters never held still")
    for name, fam in s.families.items():
        assert name.startswith("chatd_"), name
        if fam["type"] == "counter" and not name.startswith("chatd_plugin_"):
            assert name.endswith("_total"), "counter without _total: %s" % name
        if fam["type"] == "histogram":
            assert name.endswith("_seconds"), "histogram without its unit: %s" % name
    for required in ("chatd_connections", "chatd_connections_opened_total",
                     "chatd_connections_closed_total", "chatd_messages_accepted_total",
                     "chatd_messages_rejected_total", "chatd_rule_verdicts_total",
                     "chatd_pipeline_stage_seconds", "chatd_send_ack_seconds",
                     "chatd_fanout_deliveries_total", "chatd_outbound_queue_bytes",
                     "chatd_outbound_overflows_total", "chatd_storage_op_seconds",
                     "chatd_storage_errors_total", "chatd_presence_errors_total",
                     "chatd_bus_errors_total", "chatd_rule_failures_total"):
        assert required in s.families, "missing %s" % required
    # every plugin counter the host keeps, with the value GET /v1/metrics has
    assert any(k.startswith("receipts_cursor.") for k in plugin), plugin
    for key, v in plugin.items():
        section, counter = key.split(".", 1)
        name = "chatd_plugin_%s_%s" % (section, counter)
        assert s.value(name) == v, (name, v)
        assert s.families[name]["type"] == ("counter" if counter.endswith("_total")
                                            else "untyped")


def test_counters_move_as_messages_flow(chatd, tmp_path):
    srv = rules_server(chatd, tmp_path)

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        await a.history(conv)                 # settle the conversation's creation
        d = Delta(srv)
        acks = [await send(a, conv, "hello %d" % i) for i in range(3)]
        assert all(r["type"] == "ack" for r in acks), acks
        for r in acks:
            await b.expect("message", seq=r["seq"])
        dup = await send(a, conv, "hello 0 again", cmid=acks[0]["client_message_id"])
        assert dup["type"] == "ack" and dup["duplicate"] is True, dup
        r = await send(a, conv, "a forbidden word")
        assert r["type"] == "error" and r["reason"] == "no_forbidden", r
        r = await send(a, conv)                # no text: bad_request
        assert r["type"] == "error" and r["code"] == "bad_request", r
        boom = await send(a, conv, "boom")     # the rule fails; fail open lets it through
        assert boom["type"] == "ack", boom
        await b.expect("message", seq=boom["seq"])
        await a.history(conv)
        await a.call({"type": "sync"}, "sync")
        s = scrape(srv)
        sent = 4                               # 3 + boom
        assert d.of(s, "chatd_messages_accepted_total") == sent
        assert d.of(s, "chatd_messages_duplicate_total") == 1
        assert d.of(s, "chatd_messages_rejected_total", reason="no_forbidden") == 1
        assert d.of(s, "chatd_messages_rejected_total", reason="bad_request") == 1
        assert d.of(s, "chatd_send_ack_seconds_count") == sent
        assert d.of(s, "chatd_command_seconds_count", command="send") == sent + 3
        # stages: authorize for every precheck (not the bad_request), moderate
        # for every non-duplicate, persist and fan-out for stored ones
        assert d.of(s, "chatd_pipeline_stage_seconds_count", stage="authorize") == sent + 2
        assert d.of(s, "chatd_pipeline_stage_seconds_count", stage="moderate") == sent + 1
        assert d.of(s, "chatd_pipeline_stage_seconds_count", stage="persist") == sent
        assert d.of(s, "chatd_pipeline_stage_seconds_count", stage="fanout") == sent
        assert d.of(s, "chatd_storage_op_seconds_count", op="precheck") == sent + 2
        assert d.of(s, "chatd_storage_op_seconds_count", op="append") == sent
        assert d.of(s, "chatd_storage_op_seconds_count", op="history") == 1
        assert d.of(s, "chatd_storage_op_seconds_count", op="sync") == 1
        assert s.value("chatd_send_ack_seconds_sum") > 0
        # bob's one session gets each message (alice has no other session)
        assert d.of(s, "chatd_fanout_deliveries_total") == sent
        assert d.of(s, "chatd_plugin_fanout_hybrid_deliveries_total") == sent
        if os.environ.get("CHATD_TEST_BUS") == "redis":     # the backend pass
            assert d.of(s, "chatd_plugin_bus_redis_events_total") == sent
        else:
            assert d.of(s, "chatd_plugin_bus_local_events_published_total") == sent
        # rules: nope saw the 5 non-duplicate sends with text, boom failed once
        assert d.of(s, "chatd_rule_verdicts_total", rule="nope", mode="enforce",
                    verdict="reject") == 1
        assert d.of(s, "chatd_rule_calls_total", rule="nope") == sent + 1
        assert d.of(s, "chatd_rule_failures_total", rule="boom") == 1
        assert d.of(s, "chatd_rule_failures_total", rule="nope") == 0
        assert s.value("chatd_sessions") == 2
        assert s.value("chatd_storage_errors_total", 0, command="send", error="io") == 0
        # A reload starts the rule host's statistics from zero: the
        # counters carry on from where they were.
        version = s.value("chatd_rules_version")
        srv.admin_ok("POST", "/v1/rules/reload")
        r = await send(a, conv, "forbidden again")
        assert r["type"] == "error" and r["reason"] == "no_forbidden", r
        s2 = scrape(srv)
        assert s2.value("chatd_rules_version") == version + 1
        assert d.of(s2, "chatd_rule_verdicts_total", rule="nope", mode="enforce",
                    verdict="reject") == 2
        assert d.of(s2, "chatd_rule_failures_total", rule="boom") == 1
        assert d.of(s2, "chatd_rule_calls_total", rule="nope") == sent + 2
        assert d.of(s2, "chatd_messages_rejected_total", reason="no_forbidden") == 2
    run(body())


def test_connections_opened_and_closed_by_code(server):
    def closed(s, code):
        return s.value("chatd_connections_closed_total", 0, code=str(code))

    d = Delta(server)
    assert d.before.value("chatd_connections") == 0

    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        s = wait_for(server, lambda s: s.value("chatd_sessions") == 2, "two sessions")
        assert s.value("chatd_connections") == 2
        assert d.of(s, "chatd_connections_opened_total") == 2
        await a.close()                                   # the client closes: 1000
        bad = await Client.open(server, "not-a-jwt", via="frame")
        await bad.expect_close(4401)
        raw = RawWS.login(server, "carol")                # the TCP connection drops: 1006
        raw.close()
        # the gateway counts a close at once; the core's session count
        # follows when the close crosses the bridge
        s = wait_for(server, lambda s: s.value("chatd_connections") == 1 and
                     s.value("chatd_sessions") == 1 and
                     closed(s, 1006) - closed(d.before, 1006) == 1, "three closes")
        assert d.of(s, "chatd_connections_opened_total") == 4
        assert closed(s, 1000) - closed(d.before, 1000) == 1
        assert closed(s, 4401) - closed(d.before, 4401) == 1
        assert s.value("chatd_sessions") == 1
        total = sum(v for (_, _), v in s.families["chatd_connections_closed_total"]
                    ["samples"].items())
        before = sum(v for (_, _), v in d.before.families["chatd_connections_closed_total"]
                     ["samples"].items())
        assert total - before == 3, "one count per close, no more"
        await b.close()
    run(body())
    wait_for(server, lambda s: s.value("chatd_connections") == 0 and
             s.value("chatd_sessions") == 0, "all closed")


def test_outbound_queue_depth_and_overflow(chatd):
    """A client that stops reading: its queue grows (the gauges show it),
    then goes over outbound_queue_bytes and is closed with 4409."""
    srv = chatd(server={"outbound_queue_bytes": 1 << 20})

    async def fill():
        a = await Client.login(srv, "alice")
        conv = await a.direct("slow")
        for i in range(40):
            await a.send_text(conv, ("%02d" % i) * 2000)
        return conv
    conv = run(fill())
    d = Delta(srv)
    s = d.before
    assert s.value("chatd_outbound_queue_bytes") == 0 and s.value("chatd_outbound_queue_frames") == 0
    # a raw client with a tiny receive window that never reads again
    r = RawWS.__new__(RawWS)
    r.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    r.sock.settimeout(5)
    r.sock.connect(("127.0.0.1", srv.port))
    r.port, r.rbuf, r.frames, r.status = srv.port, b"", [], None
    r.handshake(mint("slow", secret=srv.secret))
    assert r.recv_json()["type"] == "ready"
    peak = 0
    try:
        for i in range(300):                  # ~160 KB per history reply
            r.send_json({"type": "history", "conversation_id": conv, "limit": 40,
                         "id": "h%d" % i})
            s = scrape(srv)
            peak = max(peak, s.value("chatd_outbound_queue_bytes"))
            if d.of(s, "chatd_outbound_overflows_total") >= 1:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("no overflow after 300 history replies; peak queue %d" % peak)
        assert peak > 0 or s.value("chatd_outbound_queue_frames") > 0, \
            "the queue gauges never moved before the overflow"
        assert d.of(s, "chatd_outbound_overflows_total") == 1
    finally:
        r.close()
    s = wait_for(srv, lambda s: s.value("chatd_connections") == 0, "the slow client closed")
    assert d.of(s, "chatd_connections_closed_total", code="4409") == 1
    assert d.of(s, "chatd_outbound_overflows_total") == 1
    assert s.value("chatd_outbound_queue_bytes") == 0
    assert s.value("chatd_outbound_queue_frames") == 0


def test_rule_durations_are_timed_per_call_and_survive_a_reload(chatd, tmp_path):
    """chatd_rule_duration_seconds{rule}: one observation per hook call (its
    count is chatd_rule_calls_total), a slow rule lands in higher buckets
    than a trivial one, GET /v1/rules shows the same calls as latency_us,
    and a reload carries the histogram on while /v1/rules starts over."""
    d = str(tmp_path / "rules")
    os.makedirs(d)
    with open(os.path.join(d, "quick.lua"), "w") as f:
        f.write('return { name = "quick", on_message = function(ctx) end }\n')
    # ~400k VM instructions when asked: well over a millisecond here
    with open(os.path.join(d, "slow.lua"), "w") as f:
        f.write('return { name = "slow", on_message = function(ctx)\n'
                '  if ctx.text:find("slow", 1, true) then\n'
                '    local x = 0; for i = 1, 200000 do x = x + i end end end }\n')
    srv = chatd(moderation={"rules_dir": d, "rules": ["quick", "slow"]})

    def hist(s, rule):
        return {dict(ls)["le"]: v for (n, ls), v in
                s.families["chatd_rule_duration_seconds"]["samples"].items()
                if n.endswith("_bucket") and dict(ls)["rule"] == rule}

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        before = Delta(srv)
        assert srv.admin_ok("GET", "/v1/rules")["rules"][0]["latency_us"] == \
            {"mean": None, "p50": None, "p99": None, "max": None}
        for i in range(3):
            assert (await send(a, conv, "slow %d" % i))["type"] == "ack"
        for i in range(2):
            assert (await send(a, conv, "fast %d" % i))["type"] == "ack"
        s = scrape(srv)
        assert s.families["chatd_rule_duration_seconds"]["type"] == "histogram"
        for rule in ("quick", "slow"):
            assert before.of(s, "chatd_rule_duration_seconds_count", rule=rule) == 5
            assert before.of(s, "chatd_rule_calls_total", rule=rule) == 5
        # the three slow calls took over 250 µs each, the quick ones never did
        slow, quick = hist(s, "slow"), hist(s, "quick")
        assert slow["0.00025"] == 2 and slow["+Inf"] == 5, slow
        assert quick["0.00025"] == 5, quick
        assert s.value("chatd_rule_duration_seconds_sum", rule="slow") > 3 * 0.00025
        rules = {r["name"]: r for r in srv.admin_ok("GET", "/v1/rules")["rules"]}
        ls, lq = rules["slow"]["latency_us"], rules["quick"]["latency_us"]
        assert rules["slow"]["calls"] == 5
        assert ls["max"] > 250 and ls["p99"] > 250 and ls["p99"] <= ls["max"], ls
        assert ls["p50"] <= ls["p99"] and ls["mean"] > 3 * 250 / 5, ls
        assert abs(ls["mean"] * 5 / 1e6 -
                   s.value("chatd_rule_duration_seconds_sum", rule="slow")) < 1e-6, ls
        assert 0 < lq["max"] < 250 and lq["p99"] <= lq["max"], lq
        # reload: the histogram goes on, /v1/rules starts from zero
        srv.admin_ok("POST", "/v1/rules/reload")
        assert srv.admin_ok("GET", "/v1/rules")["rules"][1]["latency_us"]["max"] is None
        assert (await send(a, conv, "slow again"))["type"] == "ack"
        s2 = scrape(srv)
        assert before.of(s2, "chatd_rule_duration_seconds_count", rule="slow") == 6
        assert hist(s2, "slow")["+Inf"] == 6 and hist(s2, "slow")["0.00025"] == 2
        r = {r["name"]: r for r in srv.admin_ok("GET", "/v1/rules")["rules"]}["slow"]
        assert r["calls"] == 1 and r["latency_us"]["max"] > 250, r
    run(body())
