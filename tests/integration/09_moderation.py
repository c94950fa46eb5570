"""09 — moderation: the shipped Lua rules on the real server (rate limits,
spam escalation to shadow-ban and block, word filter masking, held
messages and approval), reports and appeals in the queue, sanctions,
the hash-chained audit log (verify, and tamper detection in the database),
observe mode, and rules that fail (loop, memory, syntax) under both fail
modes and across a reload."""

import os
import time

from chatclient import Client, db_exec, mint, new_cmid, run


def rules(*entries):
    return {"moderation": {"rules": list(entries)}}


def verify(srv):
    return srv.admin_ok("GET", "/v1/audit/verify")


def audit_events(srv, at_least=0, timeout=5.0, want=()):
    """The audit log's event names.  Entries are written behind the replies
    that caused them, so with at_least (a count) or want (event names, each
    as many times as listed) wait (bounded) until they are stored."""
    deadline = time.time() + timeout
    while True:
        events = [e["event"] for e in srv.admin_ok("GET", "/v1/audit?limit=1000")["entries"]]
        have = all(events.count(w) >= list(want).count(w) for w in want)
        if (len(events) >= at_least and have) or time.time() > deadline:
            return events
        time.sleep(0.05)


async def send(client, conv, text):
    """A send's reply (ack or error)."""
    return await client.request({"type": "send", "conversation_id": conv,
                                 "client_message_id": new_cmid(), "text": text})


def test_rate_limited_then_allowed_after_retry(chatd):
    srv = chatd(**rules({"name": "ratelimit",
                         "options": {"per_second": 2, "burst": 3, "per_minute": 1000}}))

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        for i in range(3):
            assert (await send(a, conv, "m%d" % i))["type"] == "ack"
        r = await send(a, conv, "one too many")
        assert r["type"] == "error" and r["code"] == "rate_limited", r
        assert r["retryable"] is True
        wait = r["retry_after_ms"]
        assert 0 < wait <= 1000, "2 msg/s: the next token is at most 500 ms away: %r" % r
        await __import__("asyncio").sleep(wait / 1000 + 0.05)
        assert (await send(a, conv, "after the wait"))["type"] == "ack"
    run(body())


def test_spam_escalates_to_shadow_ban_then_block(chatd):
    srv = chatd(**rules({"name": "spam", "options": {
        "duplicates": 2, "strikes_to_shadow": 2, "strikes_to_block": 3, "throttle_ms": 1,
        "rapid_per_10s": 1000}}, "audit"))
    spam = "BUY cheap watches at my shop today"

    async def body():
        a = await Client.login(srv, "alice")
        a2 = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.group(["bob"])
        await b.expect("conv.event")
        for _ in range(2):           # the first two are not yet repeats
            assert (await send(a, conv, spam))["type"] == "ack"
            await b.expect("message", text=spam)
        r = await send(a, conv, spam)        # strike 1: throttled
        assert r["type"] == "error" and r["code"] == "rate_limited", r
        ack = await send(a, conv, spam)      # strike 2: shadow-banned
        assert ack["type"] == "ack", "a shadow-banned sender must see a normal ack: %r" % ack
        mine = await a2.expect("message", seq=ack["seq"])
        assert mine["text"] == spam
        ack2 = await send(a, conv, "an innocent message")   # shadowed by the sanction
        assert ack2["type"] == "ack"
        await a2.expect("message", seq=ack2["seq"])
        await b.assert_no_frame(0.7, types={"message"})
        hb = await b.history(conv)
        assert [m["seq"] for m in hb["messages"]] == [1, 2], hb
        ha = await a.history(conv)
        assert [m["seq"] for m in ha["messages"]] == [1, 2, ack["seq"], ack2["seq"]], ha
        r = await send(a, conv, spam)        # strike 3: blocked
        assert r["type"] == "error" and r["code"] == "rejected" and r["reason"] == "spam", r
        r = await send(a, conv, "anything at all")
        assert r["type"] == "error" and r["code"] == "rejected" and r["reason"] == "blocked", r
        assert isinstance(r.get("until_ms"), int) and r["until_ms"] > time.time() * 1000
    run(body())
    s = srv.admin_ok("GET", "/v1/users/alice/sanctions")
    kinds = sorted(x["kind"] for x in s["sanctions"])
    assert kinds == ["block", "shadow"], s
    events = audit_events(srv, at_least=5)
    assert events.count("sanction") == 2, events
    # Rule verdicts: throttle, shadow, reject.  The innocent message was shadowed
    # by the sanction, not by a rule (its provenance says so).
    assert events.count("verdict") == 3, events
    v = verify(srv)
    assert v["ok"] is True and v["entries"] == len(events), v


def test_wordfilter_masks_text(chatd):
    srv = chatd(**rules({"name": "wordfilter", "options": {"words": ["darn", "héck+"]}},
                        "audit"))

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        ack = await send(a, conv, "well Darn it, héckk no, darning is fine")
        assert ack["type"] == "ack", ack
        m = await b.expect("message", seq=ack["seq"])
        assert m["text"] == "well **** it, ***** no, darning is fine", m
        h = await a.history(conv)
        assert h["messages"][-1]["text"] == m["text"]
        ok = await send(a, conv, "clean text")
        assert (await b.expect("message", seq=ok["seq"]))["text"] == "clean text"
    run(body())
    entries = srv.admin_ok("GET", "/v1/audit?limit=100")["entries"]
    verdicts = [e for e in entries if e["event"] == "verdict"]
    assert len(verdicts) == 1, entries
    assert verdicts[0]["detail"]["verdict"] == "rewrite"
    assert verdicts[0]["detail"]["rule"] == "wordfilter"
    assert verify(srv)["ok"] is True


def test_held_message_reaches_members_only_after_approval(chatd):
    srv = chatd(**rules({"name": "spam", "options": {"new_account_ms": 3600000}}, "audit"))

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        ack = await send(a, conv, "look at https://example.com/deal")
        assert ack["type"] == "ack", ack
        await b.assert_no_frame(0.7, types={"message"})
        assert (await b.history(conv))["messages"] == []
        q = srv.admin_ok("GET", "/v1/queue?kind=hold&status=open")["items"]
        assert len(q) == 1, q
        item = q[0]
        assert item["conversation_id"] == conv and item["seq"] == ack["seq"], item
        assert item["subject_id"] == "alice" and item["reason"] == "link from a new account"
        r = srv.admin_ok("POST", "/v1/queue/%d/approve" % item["id"], {"note": "fine"})
        assert r["status"] == "actioned", r
        m = await b.expect("message", seq=ack["seq"])
        assert m["text"] == "look at https://example.com/deal"
        assert [x["seq"] for x in (await b.history(conv))["messages"]] == [ack["seq"]]
        # A second one is rejected: bob never sees it; alice still does.
        ack2 = await send(a, conv, "and www.example.org")
        q = srv.admin_ok("GET", "/v1/queue?kind=hold&status=open")["items"]
        assert [i["seq"] for i in q] == [ack2["seq"]], q
        srv.admin_ok("POST", "/v1/queue/%d/reject" % q[0]["id"])
        await b.assert_no_frame(0.5, types={"message"})
        assert [x["seq"] for x in (await b.history(conv))["messages"]] == [ack["seq"]]
        assert ack2["seq"] in [x["seq"] for x in (await a.history(conv))["messages"]]
        st, err = srv.admin("POST", "/v1/queue/%d/approve" % q[0]["id"])
        assert st == 409, (st, err)
    run(body())
    events = audit_events(srv, want=("queue.resolve", "queue.resolve"))
    assert events.count("queue.resolve") == 2, events
    assert verify(srv)["ok"] is True


def test_report_lands_in_the_queue(chatd):
    srv = chatd(**rules("audit"))

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        m = await Client.login(srv, "mallory")
        conv = await m.group(["alice", "bob"])
        ack = await send(m, conv, "something nasty")
        await b.expect("message", seq=ack["seq"])
        r = await b.call({"type": "report", "conversation_id": conv, "seq": ack["seq"],
                          "reason": "harassment", "note": "not ok"}, "result")
        assert r["ok"] is True and isinstance(r["report_id"], str) and r["report_id"], r
        again = await b.call({"type": "report", "conversation_id": conv, "seq": ack["seq"],
                              "reason": "harassment"}, "result")
        assert again["report_id"] == r["report_id"] and again["duplicate"] is True
        outsider = await Client.login(srv, "eve")
        await outsider.call_error({"type": "report", "conversation_id": conv,
                                   "seq": ack["seq"], "reason": "spam"}, "not_found")
        await a.call_error({"type": "report", "conversation_id": conv, "seq": 99,
                            "reason": "spam"}, "not_found")
        await a.call_error({"type": "report", "conversation_id": conv, "seq": ack["seq"],
                            "user_id": "bob", "reason": "spam"}, "bad_request")
        await a.call_error({"type": "report", "conversation_id": conv, "seq": ack["seq"]},
                           "bad_request")
        items = srv.admin_ok("GET", "/v1/queue?kind=report&status=open")["items"]
        assert len(items) == 1, items
        it = items[0]
        assert str(it["id"]) == r["report_id"]
        assert (it["subject_id"], it["filed_by"], it["conversation_id"], it["seq"],
                it["reason"], it["note"]) == ("mallory", "bob", conv, ack["seq"],
                                              "harassment", "not ok"), it
        srv.admin_ok("POST", "/v1/queue/%d/resolve" % it["id"],
                     {"action": "shadowban", "note": "repeat offender"})
        assert srv.admin_ok("GET", "/v1/queue/%d" % it["id"])["status"] == "actioned"
        ack2 = await send(m, conv, "more")
        assert ack2["type"] == "ack"
        await b.assert_no_frame(0.5, types={"message"})
    run(body())
    events = audit_events(srv, want=("report.filed", "sanction", "queue.resolve"))
    for e in ("report.filed", "sanction", "queue.resolve"):
        assert e in events, events
    assert verify(srv)["ok"] is True


def test_audit_verify_names_a_tampered_row(chatd):
    srv = chatd(**rules({"name": "wordfilter", "options": {"words": ["darn"]}}, "audit"))

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        for i in range(4):
            await send(a, conv, "darn %d" % i)
    run(body())
    n = len(audit_events(srv))
    assert n == 4
    assert verify(srv) == {"ok": True, "entries": 4}
    assert srv.stop() == 0
    db_exec(srv, "UPDATE audit_log SET detail = replace(detail, 'rewrite', 'allow') WHERE id = 3")
    srv.start()
    v = verify(srv)
    assert v["ok"] is False and v["first_bad_id"] == 3, v
    assert "hash" in v["reason"], v


def test_observe_mode_changes_nothing_but_counts(chatd):
    srv = chatd(**rules({"name": "wordfilter", "mode": "observe",
                         "options": {"words": ["darn"]}}, "audit"))

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        ack = await send(a, conv, "darn it")
        assert ack["type"] == "ack"
        assert (await b.expect("message", seq=ack["seq"]))["text"] == "darn it"
    run(body())
    st = srv.admin_ok("GET", "/v1/rules")
    wf = [r for r in st["rules"] if r["name"] == "wordfilter"][0]
    assert wf["mode"] == "observe" and wf["verdicts"]["rewrite"] == 1, wf
    assert any(s["rule"] == "wordfilter" and s["verdict"] == "rewrite" for s in st["samples"]), st
    assert "verdict" not in audit_events(srv)


BROKEN = {
    "loop": 'return { name = "loop", on_message = function(ctx) while true do end end }\n',
    "bomb": ('return { name = "bomb", on_message = function(ctx)\n'
             '  local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end end }\n'),
    "marker": ('return { name = "marker", on_message = function(ctx)\n'
               '  return rewrite(ctx.text .. " [v1]") end }\n'),
}


def write_rules(d, files):
    os.makedirs(d, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(d, name + ".lua"), "w") as f:
            f.write(text)


def test_failing_rules_fail_open_and_reload_keeps_old_set(chatd, tmp_path):
    d = str(tmp_path / "rules")
    write_rules(d, BROKEN)
    srv = chatd(moderation={"rules_dir": d, "fail_mode": "open", "insn_budget": 100000,
                            "mem_cap_kib": 1024, "rules": ["loop", "bomb", "marker"]})

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        t0 = time.monotonic()
        ack = await send(a, conv, "hello")
        assert ack["type"] == "ack", ack
        assert (await b.expect("message", seq=ack["seq"]))["text"] == "hello [v1]"
        assert time.monotonic() - t0 < 2.0
        st = srv.admin_ok("GET", "/v1/rules")
        fails = {r["name"]: r["failures"] for r in st["rules"]}
        assert fails["loop"] == 1 and fails["bomb"] == 1 and fails["marker"] == 0, st
        assert st["failures_total"] >= 2
        version = st["version"]
        # A syntax error: the reload is refused, the old set keeps serving.
        write_rules(d, {"marker": 'return { name = "marker", on_message = function(ctx)\n'
                                  '  return rewrite(ctx.text .. " [v2]" end }\n'})
        status, err = srv.admin("POST", "/v1/rules/reload")
        assert status == 422 and err["error"]["code"] == "rules_invalid", (status, err)
        assert "marker.lua:2" in err["error"]["message"], err
        ack = await send(a, conv, "still")
        assert (await b.expect("message", seq=ack["seq"]))["text"] == "still [v1]"
        assert srv.admin_ok("GET", "/v1/rules")["version"] == version
        write_rules(d, {"marker": BROKEN["marker"].replace("v1", "v2")})
        r = srv.admin_ok("POST", "/v1/rules/reload")
        assert r["version"] == version + 1
        ack = await send(a, conv, "new")
        assert (await b.expect("message", seq=ack["seq"]))["text"] == "new [v2]"
    run(body())
    assert "rules.reload" in audit_events(srv, want=("rules.reload",))
    failed = srv.log_events("rule.log", "rules", level="error")
    assert any(e["msg"].startswith("loop: ") for e in failed), srv.log_text()
    assert any(e["msg"].startswith("bomb: ") for e in failed), srv.log_text()
    refused = srv.log_events("rules.reload_failed", "moderation", level="warn")
    assert refused and "marker.lua:2" in refused[0]["msg"], srv.log_text()


def test_failing_rule_fails_closed(chatd, tmp_path):
    d = str(tmp_path / "rules")
    write_rules(d, BROKEN)
    srv = chatd(moderation={"rules_dir": d, "fail_mode": "closed", "insn_budget": 100000,
                            "rules": ["loop"]})

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        r = await send(a, conv, "hello")
        assert r["type"] == "error" and r["code"] == "unavailable", r
        await a.ping()
    run(body())


def test_rule_with_syntax_error_refuses_start(chatd, tmp_path):
    d = str(tmp_path / "rules")
    write_rules(d, {"bad": 'return { name = "bad", on_message = function(ctx) return end end\n'})
    srv = chatd(start=False, moderation={"rules_dir": d, "rules": ["bad"]})
    srv.spawn()
    rc = srv.proc.wait(timeout=20)
    assert rc != 0
    invalid = srv.log_events("rules.invalid", "moderation", level="error")
    assert invalid and "bad.lua:1" in invalid[0]["msg"], srv.log_text()


def test_ban_disconnects_refuses_and_appeal_lifts_it(chatd):
    srv = chatd(**rules("audit"))

    async def body():
        m = await Client.login(srv, "mallory")
        srv.admin_ok("POST", "/v1/users/mallory/sanctions", {"kind": "ban", "reason": "abuse"})
        await m.expect_close(4403)
        assert any(f.get("code") == "revoked" for f in m.buf), m.buf
        again = await Client.open(srv, mint("mallory", secret=srv.secret))
        await again.expect_close(4403)
        tok = mint("mallory", secret=srv.secret)
        st, r = srv.admin("POST", "/v1/appeals", {"text": "it was my brother"}, token=tok)
        assert st == 201 and r["ok"] is True, (st, r)
        st, r2 = srv.admin("POST", "/v1/appeals", {"text": "please"}, token=tok)
        assert st == 200 and r2["duplicate"] is True and r2["appeal_id"] == r["appeal_id"]
        items = srv.admin_ok("GET", "/v1/queue?kind=appeal")["items"]
        assert len(items) == 1 and items[0]["subject_id"] == "mallory", items
        assert items[0]["detail"]["sanction"] == "ban"
        srv.admin_ok("POST", "/v1/queue/%d/resolve" % items[0]["id"], {"action": "grant"})
        back = await Client.login(srv, "mallory")
        await back.ping()
    run(body())
    events = audit_events(srv, want=("sanction", "appeal.filed", "sanction.lift",
                                     "queue.resolve"))
    for e in ("sanction", "appeal.filed", "sanction.lift", "queue.resolve"):
        assert e in events, events
    assert verify(srv)["ok"] is True


def test_admin_api_roles_and_errors(chatd):
    srv = chatd()
    st, _ = srv.admin("GET", "/v1/queue", role=None, user="alice")
    assert st == 403
    st, _ = srv.admin("GET", "/v1/queue", token="not-a-token")
    assert st == 401
    st, _ = srv.admin("POST", "/v1/rules/reload", role="moderator")
    assert st == 403
    assert srv.admin_ok("GET", "/v1/queue", role="moderator")["items"] == []
    st, e = srv.admin("GET", "/v1/queue?limit=0")
    assert st == 400 and e["error"]["code"] == "bad_request", e
    st, e = srv.admin("GET", "/v1/nothing")
    assert st == 404
    st, e = srv.admin("POST", "/v1/users/alice/sanctions", {"kind": "exile"})
    assert st == 400, (st, e)
    st, e = srv.admin("POST", "/v1/queue/77/approve")
    assert st == 404, (st, e)


def test_dry_run_replays_history_through_candidate_rules(chatd):
    import chatclient
    srv = chatd(**rules("audit"))

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
    r = srv.admin_ok("POST", "/v1/rules/dry-run", {"conversation_id": conv})
    assert r["messages"] == 2 and r["would"] == {"allow": 1, "rewrite": 1}, r
    assert r["changed_total"] == 1
    ch = r["changed"][0]
    assert (ch["seq"], ch["was"], ch["would"], ch["rule"], ch["text"]) == \
        (1, "allow", "rewrite", "wordfilter", "**** it"), ch
    # Nothing live changed: no reload happened, nothing was audited.
    assert srv.admin_ok("GET", "/v1/rules")["rules"][0]["name"] == "audit"
    assert "verdict" not in audit_events(srv)
    st, e = srv.admin("POST", "/v1/rules/dry-run", {"conversation_id": conv},
                      role="moderator")
    assert st == 403
    with open(srv.config_path, "a") as f:
        f.write("moderation.rules = { 'nosuchrule' }\n")
    st, e = srv.admin("POST", "/v1/rules/dry-run", {"conversation_id": conv})
    assert st == 422 and "nosuchrule.lua" in e["error"]["message"], (st, e)


def test_flag_then_rewrite_is_queued_and_bad_rewrites_are_ignored(chatd, tmp_path):
    d = str(tmp_path / "rules")
    write_rules(d, {
        "flagger": 'return { name = "flagger", on_message = function(ctx)\n'
                   '  if ctx.text:find("flagme", 1, true) then return flag("looks odd") end end }\n',
        "masker": 'return { name = "masker", on_message = function(ctx)\n'
                  '  if ctx.text:find("bad", 1, true) then return rewrite("\\xff\\xfe") end\n'
                  '  if ctx.text:find("long", 1, true) then return rewrite(string.rep("x", 5000)) end\n'
                  '  return rewrite(ctx.text .. "!") end }\n',
    })
    srv = chatd(moderation={"rules_dir": d, "rules": ["flagger", "masker"]})

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        conv = await a.direct("bob")
        ack = await send(a, conv, "flagme please")
        assert (await b.expect("message", seq=ack["seq"]))["text"] == "flagme please!"
        items = srv.admin_ok("GET", "/v1/queue?kind=flag")["items"]
        assert [(i["seq"], i["reason"]) for i in items] == [(ack["seq"], "looks odd")], items
        for text in ("bad text", "long text"):
            ack = await send(a, conv, text)
            assert ack["type"] == "ack", ack
            assert (await b.expect("message", seq=ack["seq"]))["text"] == text
    run(body())
    bad = srv.log_events("rule.bad_rewrite", "rules", level="error")
    assert len(bad) == 2, srv.log_text()
    assert all(e["msg"].startswith("masker: ") for e in bad), bad


CASE_FILES = sorted(f[:-6] for f in os.listdir(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "moderation", "rules", "tests"))
    if f.endswith(".jsonl"))


def test_shipped_rules_pass_their_case_files():
    import chatclient
    assert CASE_FILES == ["ratelimit", "spam", "wordfilter"], CASE_FILES
    for name in CASE_FILES:
        cases = os.path.join(chatclient.RULES_DIR, "tests", name + ".jsonl")
        r = chatclient.run_tool([chatclient.chatd_bin(), "rules", "test", "--rules-dir",
                                 chatclient.RULES_DIR, "--rule", name, cases], timeout=60)
        assert r.returncode == 0, "%s:\n%s%s" % (name, r.stdout, r.stderr)
        assert " 0 failed" in r.stdout, r.stdout
    ex = os.path.join(chatclient.SRC_DIR, "docs", "examples", "rules")
    r = chatclient.run_tool([chatclient.chatd_bin(), "rules", "test", "--rules-dir", ex,
                             "--rule", "capslock", os.path.join(ex, "capslock.jsonl")])
    assert r.returncode == 0, r.stdout + r.stderr


def test_rules_test_reports_a_failing_case(tmp_path):
    import chatclient
    f = tmp_path / "cases.jsonl"
    f.write_text('{"sender":"a","text":"darn","expect":"allow"}\nnot json\n')
    r = chatclient.run_tool([chatclient.chatd_bin(), "rules", "test", "--rules-dir",
                             chatclient.RULES_DIR, "--rule", "wordfilter", str(f)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "2 cases, 0 passed, 2 failed" in r.stdout, r.stdout
