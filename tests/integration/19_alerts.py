"""19 — docs/alerts.yml, the Prometheus alerting rules shipped for operators:
the file's structure (groups -> rules, each with alert, expr, for, a
severity, a summary and a runbook_url), every runbook anchor a heading of
docs/runbook.md, and every metric and label the expressions name present in
a real scrape of a running chatd (histogram series as _bucket/_count/_sum of
a histogram family; rate/increase/deriv over the right types)."""

import http.client
import os
import re

import yaml

from chatclient import Client, mint, new_cmid, run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALERTS = os.path.join(ROOT, "docs", "alerts.yml")
RUNBOOK = os.path.join(ROOT, "docs", "runbook.md")

DURATION_RE = re.compile(r"^(0|(\d+(ms|s|m|h|d|w|y))+)$")
SELECTOR_RE = re.compile(r"\b(chatd_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?")
MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
GROUPING_RE = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
RANGE_FN_RE = re.compile(r"\b(rate|irate|increase|deriv|min_over_time|max_over_time)\s*\(\s*"
                         r"(chatd_[a-zA-Z0-9_]+)")
# labels Prometheus adds to every scraped series (not in chatd's text)
TARGET_LABELS = {"instance", "job"}
SEVERITIES = {"critical", "warning", "info"}


def load_rules():
    with open(ALERTS) as f:
        doc = yaml.safe_load(f)
    assert isinstance(doc, dict) and set(doc) == {"groups"}, "top level must be {groups: [...]}"
    groups = doc["groups"]
    assert isinstance(groups, list) and groups
    rules = []
    names = set()
    for g in groups:
        assert set(g) <= {"name", "interval", "rules"}, g.keys()
        assert isinstance(g.get("name"), str) and g["name"] not in names
        names.add(g["name"])
        assert isinstance(g.get("rules"), list) and g["rules"], g["name"]
        rules.extend(g["rules"])
    return rules


def github_anchor(heading):
    """The id GitHub gives a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def runbook_anchors():
    with open(RUNBOOK) as f:
        text = f.read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)   # '#' lines in code are no headings
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+)$", text, re.M)}


def test_alerts_file_structure():
    rules = load_rules()
    anchors = runbook_anchors()
    alerts = set()
    for r in rules:
        assert "record" not in r, "recording rules belong elsewhere: %r" % r
        assert set(r) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, r
        name = r.get("alert")
        assert isinstance(name, str) and re.match(r"^[A-Z][A-Za-z0-9]*$", name), r
        assert name not in alerts, "alert %s defined twice" % name
        alerts.add(name)
        assert isinstance(r.get("expr"), str) and r["expr"].strip(), name
        assert isinstance(r.get("for"), str) and DURATION_RE.match(r["for"]), \
            "%s: for %r is not a Prometheus duration" % (name, r.get("for"))
        assert r.get("labels", {}).get("severity") in SEVERITIES, name
        ann = r.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert isinstance(ann.get(key), str) and ann[key].strip(), "%s: no %s" % (name, key)
        m = re.match(r"^docs/runbook\.md#([a-z0-9-]+)$", ann["runbook_url"])
        assert m, "%s: runbook_url %r" % (name, ann["runbook_url"])
        assert m.group(1) in anchors, "%s: no heading for #%s in docs/runbook.md (have %s)" % (
            name, m.group(1), sorted(anchors))
        # brackets and parentheses balance (a cheap guard on the PromQL)
        expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', r["expr"])
        for o, c in ("()", "{}", "[]"):
            assert expr.count(o) == expr.count(c), "%s: unbalanced %s%s" % (name, o, c)
    # the list: each concern has an alert
    for needed in ("ChatdSendSuccessLow", "ChatdSendAckSlow", "ChatdOutboundOverflows",
                   "ChatdStorageErrors", "ChatdFanoutBacklogGrowing", "ChatdRuleFailures"):
        assert needed in alerts, needed


def test_runbook_anchor_check_catches_a_missing_section():
    """The anchor rule above is not vacuous."""
    anchors = runbook_anchors()
    assert "chatdrulefailures" in anchors
    assert "chatdnosuchalert" not in anchors
    assert github_anchor("Durability and the SQLite file") == "durability-and-the-sqlite-file"


# ---------------------------------------------------------------------------
# the scrape

def scrape_text(srv):
    token = mint("mod", secret=srv.secret, roles=["moderator"])
    conn = http.client.HTTPConnection("127.0.0.1", srv.cfg["admin"]["port"], timeout=5)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        body = r.read().decode("utf-8")
        assert r.status == 200, (r.status, body)
        return body
    finally:
        conn.close()


def families(text):
    """{family: {"type", "series": {sample name: [label dicts]}}}."""
    fams = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)$", line)
        if m:
            fams[m.group(1)] = {"type": m.group(2), "series": {}}
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? \S+$", line)
        assert m, line
        name = m.group(1)
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 m.group(2) or ""))
        fam = name
        if name not in fams:
            for suffix in ("_bucket", "_count", "_sum"):
                if name.endswith(suffix) and fams.get(name[:-len(suffix)], {}).get(
                        "type") == "histogram":
                    fam = name[:-len(suffix)]
        assert fam in fams, "sample %s has no family" % name
        fams[fam]["series"].setdefault(name, []).append(labels)
    return fams


def resolve(fams, name):
    """(family, type) for a series name used in PromQL; None when not exposed."""
    if name in fams and fams[name]["type"] != "histogram":
        return name, fams[name]["type"]
    for suffix in ("_bucket", "_count", "_sum"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and fams.get(base, {}).get("type") == "histogram":
            return base, "histogram"
    return None


RULES = {
    "nope": ('return { name = "nope", on_message = function(ctx)\n'
             '  if ctx.text and ctx.text:find("forbidden", 1, true) then\n'
             '    return reject("no_forbidden", "not allowed") end end }\n'),
}


async def traffic(srv):
    """One accepted send and one a rule rejects, so labelled series exist."""
    c = await Client.login(srv, "alice")
    try:
        conv = await c.group([], title="t")
        await c.send_text(conv, "hello")
        no = await c.request({"type": "send", "conversation_id": conv,
                              "client_message_id": new_cmid(), "text": "forbidden"})
        assert no["type"] == "error" and no["reason"] == "no_forbidden", no
    finally:
        await c.close()


def test_every_metric_and_label_in_the_alerts_is_scraped(chatd, tmp_path):
    d = str(tmp_path / "rules")
    os.makedirs(d)
    for name, text in RULES.items():
        with open(os.path.join(d, name + ".lua"), "w") as f:
            f.write(text)
    srv = chatd(moderation={"rules_dir": d, "rules": list(RULES)})
    run(traffic(srv))
    fams = families(scrape_text(srv))

    checked = set()
    for r in load_rules():
        name, expr = r["alert"], r["expr"]
        used = SELECTOR_RE.findall(expr)
        assert used, "%s: names no chatd metric" % name
        expr_labels = set()
        for metric, matchers in used:
            res = resolve(fams, metric)
            assert res, "%s: %s is not in the scrape (families: %s)" % (
                name, metric, sorted(fams))
            fam, typ = res
            checked.add(metric)
            series = fams[fam]["series"].get(metric, [])
            have = {k for labels in series for k in labels}
            expr_labels |= have
            body = (matchers or "{}")[1:-1]
            pos = 0
            while pos < len(body):
                m = MATCHER_RE.match(body, pos)
                assert m and m.end() > pos, "%s: bad matcher %r" % (name, body[pos:])
                pos = m.end()
                label, op, value = m.groups()
                assert label in have, "%s: %s has no label %r in the scrape (has %s)" % (
                    name, metric, label, sorted(have))
                if op == "=":
                    assert any(s.get(label) == value for s in series), \
                        "%s: no series %s{%s=%r}" % (name, metric, label, value)
        for fn, metric in RANGE_FN_RE.findall(expr):
            typ = resolve(fams, metric)[1]
            want = ("counter", "histogram") if fn in ("rate", "irate", "increase") else ("gauge",)
            assert typ in want, "%s: %s() over %s, a %s" % (name, fn, metric, typ)
        for metric, _ in used:
            if metric.endswith("_bucket"):
                assert re.search(r"histogram_quantile\(\s*0?\.\d+\s*,[^;]*" + metric, expr), \
                    "%s: %s outside histogram_quantile" % (name, metric)
        for grp in GROUPING_RE.findall(expr):
            for label in (x.strip() for x in grp.split(",") if x.strip()):
                assert label in expr_labels | TARGET_LABELS | {"le"}, \
                    "%s: groups by %r, a label none of its metrics has" % (name, label)
    # the metrics the issue names are all alerted on
    for must in ("chatd_messages_accepted_total", "chatd_messages_rejected_total",
                 "chatd_send_ack_seconds_bucket", "chatd_outbound_overflows_total",
                 "chatd_storage_errors_total", "chatd_storage_ready",
                 "chatd_outbound_queue_bytes", "chatd_rule_failures_total"):
        assert must in checked, must


def test_scrape_check_catches_unknown_names(chatd):
    """The resolver above refuses what chatd does not expose."""
    srv = chatd()
    fams = families(scrape_text(srv))
    assert resolve(fams, "chatd_send_ack_seconds_bucket") == ("chatd_send_ack_seconds",
                                                              "histogram")
    assert resolve(fams, "chatd_messages_accepted_total") == (
        "chatd_messages_accepted_total", "counter")
    assert resolve(fams, "chatd_send_ack_seconds") is None       # a histogram has no bare series
    assert resolve(fams, "chatd_messages_accepted") is None
    assert resolve(fams, "chatd_connections_bucket") is None      # a gauge has no buckets
