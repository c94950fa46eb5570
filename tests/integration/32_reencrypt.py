"""32 — the re-encryption job (decision 62): `chatctl encryption reencrypt`
seals every stored message text that is not sealed with the active key —
plaintext rows from before encryption was turned on, rows sealed with an
older key — so that the old key can be removed; afterwards the SQLite
files hold none of the plaintexts and all history reads back.  A concurrent
edit is never lost (compare and swap), rows that cannot be opened are
counted and skipped, one job at a time, and no active key is refused.
Runs on storage_sqlite and storage_pg (the raw-file checks are SQLite's;
on pg the table is checked with psql)."""

import asyncio
import json
import os
import sqlite3
import subprocess
import time

import pytest

from chatclient import (Client, chatctl_bin, db_file_bytes, db_path, mint, pg_admin_dsn,
                        psql, run, storage_kind, uses_pg)

K1 = "11" * 32
K2_B64 = "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI="   # 32 bytes of 0x22


def enc(active="k1", **keys):
    return {"encryption": {"keys": keys or {"k1": K1}, "active": active}}


def restart(srv, **over):
    """Stop srv and start it again on the same database with overrides."""
    srv.stop()
    srv.overrides = dict(srv.overrides)
    srv.overrides.update(over)
    srv._configure(srv.port, srv.admin_port)
    srv.start()


def ctl(srv, *args, timeout=60):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": srv.dir,
           "LANG": "C.UTF-8",
           "CHATCTL_URL": "http://127.0.0.1:%d" % srv.cfg["admin"]["port"],
           "CHATCTL_TOKEN": mint("root", secret=srv.secret, roles=["admin"])}
    return subprocess.run([chatctl_bin()] + list(args), env=env, cwd=srv.dir,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=timeout)


def reencrypt_wait(srv):
    """Run the job through chatctl --wait; returns (exit code, final job)."""
    r = ctl(srv, "--json", "encryption", "reencrypt", "--wait")
    assert r.stdout, "chatctl: %d\n%s" % (r.returncode, r.stderr)
    return r.returncode, json.loads(r.stdout)["reencrypt"]


def stored_texts(srv):
    """Every stored text, as stored."""
    sql = "SELECT text FROM messages WHERE text IS NOT NULL"
    if uses_pg(srv):
        out = psql(sql + " ORDER BY conversation_id, seq", schema=srv.pg_schema)
        return [line for line in out.split("\n") if line]
    db = sqlite3.connect("file:%s?mode=ro" % db_path(srv), uri=True, timeout=5)
    try:
        return [r[0] for r in db.execute(sql).fetchall()]
    finally:
        db.close()


def assert_no_plaintext(srv, secrets):
    if uses_pg(srv):
        stored = "\n".join(stored_texts(srv))
        for t in secrets:
            assert t not in stored, "plaintext %r found in the messages table" % t
        return
    raw = db_file_bytes(srv)
    assert len(raw) > 0
    for t in secrets:
        assert t.encode() not in raw, "plaintext %r found in the database files" % t
        # the search index holds words lower-cased
        for w in t.split("-"):
            if len(w) > 5:
                assert w.lower().encode() not in raw, "word %r found in the files" % w


def texts_of(history):
    return [m.get("text") for m in history["messages"]]


async def fill(srv, texts, title="t", delete_first=False):
    """A group of alice and bob holding texts (the first deleted for
    everyone when asked); returns its id."""
    a = await Client.login(srv, "alice")
    cid = await a.group(["bob"], title=title)
    for t in texts:
        await a.send_text(cid, t)
    if delete_first:
        r = await a.call({"type": "delete", "id": "d", "conversation_id": cid, "seq": 1,
                          "scope": "everyone"},
                         "result")
        assert r["ok"] is True, r
    await a.close()
    return cid


async def read_all(srv, cid):
    b = await Client.login(srv, "bob")
    h = await b.history(cid, limit=100)
    await b.close()
    return h


def metric(srv, name, label):
    status, _ = srv.admin("GET", "/v1/status")
    assert status == 200
    conn_port = srv.cfg["admin"]["port"]
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", conn_port, timeout=5)
    try:
        conn.request("GET", "/metrics", headers={
            "Authorization": "Bearer " + mint("root", secret=srv.secret, roles=["admin"])})
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.split("\n"):
        if line.startswith(name + "{") and label in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no %s{%s} in /metrics" % (name, label))


def test_plaintext_then_rotation_then_old_key_removed(chatd, monkeypatch):
    srv = chatd()
    s1 = ["walrus-%02d-plainbefore" % i for i in range(12)]
    s2 = ["gone-zyqxdel-ocelot"] + ["narwhal-%02d-sekondo" % i for i in range(8)]
    c1 = run(fill(srv, s1, "one"))
    c2 = run(fill(srv, s2, "two", delete_first=True))
    n = len(s1) + len(s2)
    assert all(not t.startswith("\x01") for t in stored_texts(srv))

    restart(srv, **enc())
    st = srv.admin_ok("GET", "/v1/encryption")
    assert st["active_key_id"] == "k1" and st["key_ids"] == ["k1"], st
    assert st["reencrypt"]["state"] == "idle", st
    rc, job = reencrypt_wait(srv)
    assert rc == 0, job
    assert job["state"] == "done" and job["key_id"] == "k1", job
    # the deleted message's text is stored until purged: rewritten too
    assert (job["scanned"], job["rewritten"], job["already_current"], job["conflicts"],
            job["failures"]) == (n, n, 0, 0, 0), job
    stored = stored_texts(srv)
    assert len(stored) == n and all(t.startswith("\x01ce1:k1:") for t in stored), stored
    assert_no_plaintext(srv, s1 + s2)
    assert texts_of(run(read_all(srv, c1))) == s1
    h2 = run(read_all(srv, c2))
    assert texts_of(h2)[1:] == s2[1:] and h2["messages"][0].get("deleted") is True, h2
    # not an edit: no message reads as edited
    assert all(not m.get("edited_at") for m in h2["messages"][1:]), h2
    assert metric(srv, "chatd_reencrypt_rows_total", 'result="rewritten"') == n
    assert metric(srv, "chatd_reencrypt_jobs_total", 'outcome="done"') == 1

    # rotation: k2 (from the environment) becomes active, k1 stays to open
    monkeypatch.setenv("CHATD_TEST_KEY_K2", K2_B64)
    restart(srv, **enc(active="k2", k1=K1, k2="env:CHATD_TEST_KEY_K2"))
    c3 = run(fill(srv, ["sealed-with-k2-already"], "three"))
    r = ctl(srv, "encryption", "status")
    assert r.returncode == 0, r.stderr
    assert "k2" in r.stdout and "k1, k2" in r.stdout or "k2, k1" in r.stdout, r.stdout
    rc, job = reencrypt_wait(srv)
    assert rc == 0, job
    assert (job["scanned"], job["rewritten"], job["already_current"],
            job["failures"]) == (n + 1, n, 1, 0), job
    assert all(t.startswith("\x01ce1:k2:") for t in stored_texts(srv))
    # a rerun is idempotent: everything is current
    rc, job = reencrypt_wait(srv)
    assert rc == 0 and (job["rewritten"], job["already_current"]) == (0, n + 1), job

    # k1 removed from the config: everything still reads
    restart(srv, **enc(active="k2", k2="env:CHATD_TEST_KEY_K2"))
    st = srv.admin_ok("GET", "/v1/encryption")
    assert st["key_ids"] == ["k2"] and st["reencrypt"]["state"] == "idle", st
    assert texts_of(run(read_all(srv, c1))) == s1
    assert texts_of(run(read_all(srv, c2)))[1:] == s2[1:]
    assert texts_of(run(read_all(srv, c3))) == ["sealed-with-k2-already"]
    assert_no_plaintext(srv, s1 + s2)


def test_rows_that_cannot_be_opened_are_counted_and_skipped(chatd, monkeypatch):
    srv = chatd(**enc())
    c1 = run(fill(srv, ["first-k1", "second-k1", "third-k1"], "one"))
    c2 = run(fill(srv, ["other-k1"], "two"))
    # one sealed text moved to another conversation: no longer authentic
    moved = [t for t in stored_texts(srv)]
    srv.stop()
    if uses_pg(srv):
        psql("UPDATE messages SET text = (SELECT text FROM messages WHERE conversation_id = "
             "'%s' AND seq = 1) WHERE conversation_id = '%s'" % (c1, c2),
             schema=srv.pg_schema)
    else:
        db = sqlite3.connect(db_path(srv))
        t1 = db.execute("SELECT text FROM messages WHERE conversation_id = ? AND seq = 1",
                        (c1,)).fetchone()[0]
        db.execute("UPDATE messages SET text = ? WHERE conversation_id = ?", (t1, c2))
        db.commit()
        db.close()
    assert len(moved) == 4
    monkeypatch.setenv("CHATD_TEST_KEY_K2", K2_B64)
    srv.overrides = dict(srv.overrides)
    srv.overrides.update(enc(active="k2", k1=K1, k2="env:CHATD_TEST_KEY_K2"))
    srv._configure(srv.port, srv.admin_port)
    srv.start()
    rc, job = reencrypt_wait(srv)
    assert rc == 1, job          # done, but a row could not be rewritten
    assert job["state"] == "done", job
    assert (job["scanned"], job["rewritten"], job["failures"]) == (4, 3, 1), job
    ev = srv.wait_log_event("reenc.row_failed")
    assert c2 in ev["msg"] and "not authentic" in ev["msg"], ev
    assert texts_of(run(read_all(srv, c1))) == ["first-k1", "second-k1", "third-k1"]
    st = srv.admin_ok("GET", "/v1/encryption")
    assert st["reencrypt"]["failures"] == 1, st


# bulk sends above the default per-connection frame rate
FAST = {"server": {"frame_rate": 100000, "frame_burst": 100000}}


def test_one_job_at_a_time_and_no_active_key_refused(chatd):
    srv = chatd(**FAST)
    code, body = srv.admin("POST", "/v1/encryption/reencrypt")
    assert code == 409 and body["error"]["code"] == "no_active_key", body
    assert "encryption.active" in body["error"]["message"], body
    r = ctl(srv, "encryption", "reencrypt")
    assert r.returncode == 1 and "no_active_key" in (r.stdout + r.stderr), r
    # moderators may not
    code, body = srv.admin("POST", "/v1/encryption/reencrypt", role="moderator")
    assert code == 403, body
    # enough rows for several batches (200 a batch, 20 ms apart)
    texts = ["bulk-%04d" % i for i in range(650)]

    async def bulk():
        a = await Client.login(srv, "alice")
        cid = await a.group(["bob"], title="bulk")
        for t in texts:
            await a.send_text(cid, t)
        await a.close()
        return cid

    cid = run(bulk())
    restart(srv, **enc())
    first = srv.admin_ok("POST", "/v1/encryption/reencrypt")
    assert first["reencrypt"]["state"] == "running", first
    code, body = srv.admin("POST", "/v1/encryption/reencrypt")
    assert code == 409 and body["error"]["code"] == "already_running", body
    deadline = time.monotonic() + 30
    while srv.admin_ok("GET", "/v1/encryption")["reencrypt"]["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    job = srv.admin_ok("GET", "/v1/encryption")["reencrypt"]
    assert (job["state"], job["rewritten"], job["failures"]) == ("done", 650, 0), job
    # over: another may start
    rc, job = reencrypt_wait(srv)
    assert rc == 0 and job["already_current"] == 650, job
    assert sorted(texts_of(run(read_all(srv, cid)))) == texts[-100:]


def test_shutdown_mid_job_then_rerun(chatd):
    """A job is not resumed after a restart; a rerun finishes it."""
    srv = chatd(**FAST)
    texts = ["stop-%04d-quetzal" % i for i in range(650)]

    async def bulk():
        a = await Client.login(srv, "alice")
        cid = await a.group(["bob"], title="stop")
        for t in texts:
            await a.send_text(cid, t)
        await a.close()
        return cid

    cid = run(bulk())
    restart(srv, **enc())
    srv.admin_ok("POST", "/v1/encryption/reencrypt")
    srv.stop()                       # a clean exit while the job runs (or just ended)
    assert srv.log_events("reenc.interrupted") or srv.log_events("reenc.done")
    srv.start()
    assert srv.admin_ok("GET", "/v1/encryption")["reencrypt"]["state"] == "idle"
    rc, job = reencrypt_wait(srv)
    assert rc == 0, job
    assert job["rewritten"] + job["already_current"] == 650 and job["failures"] == 0, job
    assert all(t.startswith("\x01ce1:k1:") for t in stored_texts(srv))
    assert_no_plaintext(srv, texts[:50])
    assert sorted(texts_of(run(read_all(srv, cid)))) == texts[-100:]

def test_concurrent_edits_are_never_lost(chatd):
    """Edits racing the job: each either lands before the row is scanned
    (then it is current), or between scan and write-back (the compare and
    swap refuses the stale write: a conflict), or after (it overwrites the
    rewritten row).  In every case the edit is what reads back."""
    srv = chatd(**FAST)
    texts = ["race-%04d" % i for i in range(600)]

    async def bulk():
        a = await Client.login(srv, "alice")
        cid = await a.group(["bob"], title="race")
        for t in texts:
            await a.send_text(cid, t)
        await a.close()
        return cid

    cid = run(bulk())
    restart(srv, **enc())

    async def race():
        a = await Client.login(srv, "alice")
        srv.admin_ok("POST", "/v1/encryption/reencrypt")
        # edits pipelined (not waiting for each answer) over the whole
        # range, from both ends, while the job walks it
        seqs = list(range(1, 601, 3))
        order = [x for pair in zip(seqs, reversed(seqs)) for x in pair][:len(seqs)]
        edited = {}
        for seq in order:
            await a.send_json({"type": "edit", "id": "e%d" % seq, "conversation_id": cid,
                               "seq": seq, "text": "edited-%d" % seq})
            edited[seq] = "edited-%d" % seq
        for _ in order:
            r = await a.expect("result", timeout=30)
            assert r["ok"] is True, r
        await a.close()
        return edited

    edited = run(race())
    deadline = time.monotonic() + 30
    while True:
        job = srv.admin_ok("GET", "/v1/encryption")["reencrypt"]
        if job["state"] != "running":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job["state"] == "done" and job["failures"] == 0, job
    assert job["scanned"] == 600, job
    assert job["rewritten"] + job["already_current"] + job["conflicts"] == 600, job

    async def check():
        b = await Client.login(srv, "bob")
        got = {}
        before = None
        while True:
            kw = {"limit": 100}
            if before:
                kw["before"] = before
            h = await b.history(cid, **kw)
            for m in h["messages"]:
                got[m["seq"]] = m["text"]
            if not h.get("has_more"):
                break
            before = min(m["seq"] for m in h["messages"])
        await b.close()
        return got

    got = run(check())
    assert len(got) == 600
    for seq in range(1, 601):
        want = edited.get(seq, texts[seq - 1])
        assert got[seq] == want, (seq, got[seq], want)
    assert all(t.startswith("\x01ce1:k1:") for t in stored_texts(srv))


# ---- storage_pg: two shards ---------------------------------------------

@pytest.fixture
def two_dbs():
    names = ["chatd_reenc_%s_%d" % (os.urandom(4).hex(), i) for i in range(2)]
    for n in names:
        psql("CREATE DATABASE %s" % n)
    yield names
    for n in names:
        psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % n)


@pytest.mark.skipif(storage_kind() != "pg", reason="storage_pg's shards (the PostgreSQL pass)")
def test_pg_two_shards(two_dbs, chatd):
    dsns = [pg_admin_dsn() + " dbname=" + n for n in two_dbs]
    srv = chatd(plugins={"storage": "pg"}, storage_sqlite=None,
                storage_pg={"shards": "\n".join(dsns)}, **FAST)
    convs = {}
    for i in range(12):
        texts = ["shard-%02d-%d-kestrel" % (i, k) for k in range(2)]
        convs[run(fill(srv, texts, "g%d" % i))] = texts

    def shard_texts(db):
        out = psql("SELECT text FROM messages WHERE text IS NOT NULL",
                   dsn=pg_admin_dsn() + " dbname=" + db)
        return [t for t in out.split("\n") if t]

    before = [shard_texts(db) for db in two_dbs]
    assert all(before) and sum(map(len, before)) == 24, before   # both shards hold some
    restart(srv, **enc())
    rc, job = reencrypt_wait(srv)
    assert rc == 0 and (job["scanned"], job["rewritten"]) == (24, 24), job
    for db in two_dbs:
        stored = shard_texts(db)
        assert stored and all(t.startswith("\x01ce1:k1:") for t in stored), stored
    for cid, texts in convs.items():
        assert texts_of(run(read_all(srv, cid))) == texts
