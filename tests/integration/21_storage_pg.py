"""21 — what is specific to storage_pg: schema versions (a newer schema is
refused, migrate = false), two databases as two shards (conversations land
on both, placed by the documented hash, and everything still works;
search pages exactly once through hits of both shards, also hits stored in
the same millisecond; the latest messages merge both; notification mutes
live with their conversation), the search index built for existing rows by
the schema 2 migration, connection loss (the cluster stopped mid-stream, backends terminated,
a hung connection: sends get `unavailable`, /readyz turns 503, then every
acknowledged message is there exactly once with gap-free seqs), and two
chatd processes appending to one conversation of one database.

Runs in the PostgreSQL pass (CHATD_TEST_STORAGE=pg with CHATD_TEST_PG_DSN,
as scripts/test sets them); the outage test starts a private cluster of its
own with scripts/pg-test-server, so stopping it disturbs no other test."""

import asyncio
import http.client
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from chatclient import (SRC_DIR, Client, call_result, free_port, pg_admin_dsn, pg_create_schema,
                        pg_drop_schema, pg_schema_dsn, psql, run, storage_kind, sync_map)

pytestmark = pytest.mark.skipif(
    storage_kind() != "pg",
    reason="storage_pg tests run in the PostgreSQL pass (CHATD_TEST_STORAGE=pg)")

PG_SCRIPT = os.path.join(SRC_DIR, "scripts", "pg-test-server")
SCHEMA_VERSION = 2   # PG_SCHEMA_VERSION of plugins/storage_pg/pg_sql.h


def pg_config(dsn=None, shards=None, **opts):
    """Overrides that run a server on storage_pg with these options."""
    section = dict(opts)
    if dsn:
        section["dsn"] = dsn
    if shards:
        section["shards"] = "\n".join(shards)
    # The streams below send as fast as acks come: above the default
    # per-connection frame rate cap.
    return {"plugins": {"storage": "pg"}, "storage_sqlite": None, "storage_pg": section,
            "server": {"frame_rate": 100000, "frame_burst": 100000}}


def readyz(srv, timeout=1.0):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request("GET", "/readyz")
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def wait_for(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


async def await_for(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


# ---- the documented shard hash (docs/scaling.md), in Python -----------------

def fnv1a64(s):
    h = 14695981039346656037
    for b in s.encode():
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def jump_hash(key, buckets):
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def shard_of(conversation_id, n):
    return jump_hash(fnv1a64(conversation_id), n)


# Pinned: stored data is placed by these, so they must never change (the
# same values are in tests/unit/test_pg_shard.c and docs/scaling.md).
HASH_REFERENCE = [
    # id, fnv1a64, shard of 2, 3, 4, 16
    ("c0000000000000000", 0x61305fa7482c5872, 0, 0, 0, 14),
    ("c0123456789abcdef", 0x61b35d277f407002, 1, 1, 1, 1),
    ("cffffffffffffffff", 0x33070a156c7d6752, 0, 2, 2, 4),
    ("cdeadbeefcafef00d", 0xd66450882d5a3bb1, 1, 2, 2, 10),
]


def test_hash_reference_values():
    for cid, h, s2, s3, s4, s16 in HASH_REFERENCE:
        assert fnv1a64(cid) == h, cid
        assert [shard_of(cid, n) for n in (1, 2, 3, 4, 16)] == [0, s2, s3, s4, s16], cid
    # appending a shard moves conversations only to the new one, about 1/n
    moved = 0
    for i in range(4000):
        cid = "c%016x" % (i * 7919)
        a, b = shard_of(cid, 3), shard_of(cid, 4)
        assert b == a or b == 3, (cid, a, b)
        moved += a != b
    assert 700 < moved < 1300, moved


# ---- sending helpers -------------------------------------------------------

async def stream(client, conv, prefix, acks, failed, stop, window=4, pause_on_error=0.02):
    """Send to conv with `window` sends in flight until stop is set; acks:
    cmid -> (seq, message_id); failed: cmid -> error code."""
    inflight = {}
    n = 0
    while not stop.is_set() or inflight:
        while not stop.is_set() and len(inflight) < window:
            cmid = "%s-%d" % (prefix, n)
            rid = "r-%s" % cmid
            n += 1
            inflight[rid] = cmid
            await client.send_json({"type": "send", "id": rid, "conversation_id": conv,
                                    "client_message_id": cmid, "text": "text of " + cmid})
        f = await client.recv_json(timeout=15)
        rid = f.get("id")
        if rid not in inflight:
            continue
        cmid = inflight.pop(rid)
        if f.get("type") == "ack":
            assert f["client_message_id"] == cmid, f
            acks[cmid] = (f["seq"], f["message_id"])
        else:
            assert f.get("type") == "error", f
            failed[cmid] = f["code"]
            await asyncio.sleep(pause_on_error)


async def resend_until_acked(client, conv, cmids, timeout=20):
    """Resend each cmid (same text) until acked; returns cmid -> ack."""
    out = {}
    deadline = time.monotonic() + timeout
    for cmid in cmids:
        while True:
            r = await client.request({"type": "send", "conversation_id": conv,
                                      "client_message_id": cmid, "text": "text of " + cmid},
                                     timeout=10)
            if r.get("type") == "ack":
                out[cmid] = r
                break
            assert r.get("code") == "unavailable", r
            assert time.monotonic() < deadline, "%s still unavailable" % cmid
            await asyncio.sleep(0.2)
    return out


async def all_history(client, conv):
    r = await client.call({"type": "history", "conversation_id": conv, "limit": 200},
                          "history", timeout=10)
    msgs = list(r["messages"])
    for _ in range(500):
        if not r["has_more"]:
            return sorted(msgs, key=lambda m: m["seq"])
        r = await client.call({"type": "history", "conversation_id": conv,
                               "before": msgs[0]["seq"], "limit": 200}, "history", timeout=10)
        msgs = list(r["messages"]) + msgs
    raise AssertionError("history paging did not end")


async def check_exactly_once(client, conv, acks, resent):
    """Every acknowledged and every resent message is stored exactly once,
    acknowledged ones with their acknowledged seq; seqs gap-free from 1."""
    msgs = await all_history(client, conv)
    seqs = [m["seq"] for m in msgs]
    assert seqs == list(range(1, len(seqs) + 1)), "seqs not gap-free: %r" % seqs
    by_text = {}
    for m in msgs:
        by_text.setdefault(m["text"], []).append(m)
    dup = [t for t, v in by_text.items() if len(v) > 1]
    assert not dup, "stored twice: %r" % dup[:10]
    for cmid, (seq, mid) in acks.items():
        found = by_text.get("text of " + cmid)
        assert found, "acknowledged %s lost" % cmid
        assert (found[0]["seq"], found[0]["message_id"]) == (seq, mid), (cmid, seq, found[0])
    for cmid, ack in resent.items():
        found = by_text.get("text of " + cmid)
        assert found and found[0]["seq"] == ack["seq"], (cmid, ack, found)
    return len(msgs)


# ---- schema versions -----------------------------------------------------

def test_refuses_a_newer_schema(chatd):
    srv = chatd()
    assert srv.pg_schema, "this test needs the default pg config"
    assert psql("SELECT version FROM schema_version", schema=srv.pg_schema).split() == [
        str(SCHEMA_VERSION)]
    assert srv.stop() == 0
    psql("UPDATE schema_version SET version = 999", schema=srv.pg_schema)
    proc = srv.spawn()
    rc = proc.wait(timeout=30)
    log = srv.log_text()
    assert rc == 1, "chatd started on a newer schema (exit %s)\n%s" % (rc, log)
    assert "pg.schema_too_new" in log, log
    assert ("database schema version 999 is newer than this chatd knows (%d)" % SCHEMA_VERSION
            in log), log
    # nothing was changed by the refusal
    assert psql("SELECT version FROM schema_version", schema=srv.pg_schema).split() == ["999"]


def test_migrate_false_refuses_an_empty_database(chatd):
    schema = pg_create_schema()
    try:
        srv = chatd(start=False, **pg_config(pg_schema_dsn(schema), migrate=False))
        rc = srv.spawn().wait(timeout=30)
        log = srv.log_text()
        assert rc == 1, log
        assert "migrate = false" in log and "pg.schema_failed" in log, log
        assert psql("SELECT to_regclass('conversations') IS NULL", schema=schema).strip() == "t"
    finally:
        pg_drop_schema(schema)


def test_unreachable_database_refuses_to_start(chatd):
    srv = chatd(start=False, **pg_config("host=127.0.0.1 port=%d user=postgres dbname=x "
                                         "password=hunter2-secret" % free_port(),
                                         connect_timeout_ms=1000))
    rc = srv.spawn().wait(timeout=30)
    log = srv.log_text()
    assert rc == 1, log
    assert "pg.connect_failed" in log, log
    assert "hunter2" not in log, "the DSN's password reached the log:\n" + log


# ---- two shards ------------------------------------------------------------

@pytest.fixture
def two_dbs():
    names = ["chatd_shard_%s_%d" % (os.urandom(4).hex(), i) for i in range(2)]
    for n in names:
        psql("CREATE DATABASE %s" % n)
    yield names
    for n in names:
        psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % n)


def shard_rows(db, sql):
    return psql(sql, dsn=pg_admin_dsn() + " dbname=" + db).split()


def test_two_shards(two_dbs, chatd):
    dsns = [pg_admin_dsn() + " dbname=" + n for n in two_dbs]
    srv = chatd(**pg_config(shards=dsns))
    users = ["bob", "carol", "dave"]

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        groups = [await a.group(users, title="g%d" % i) for i in range(10)]
        directs = [await a.direct("u%d" % i) for i in range(6)]
        assert await a.direct("u0") == directs[0], "a direct pair made a second conversation"
        convs = groups + directs
        for c in convs:
            for k in range(3):
                await a.send_text(c, "m%d of %s" % (k, c))
        # a conversation on each shard gets group changes, an edit, a delete
        for c in groups:
            await call_result(a, {"type": "conv.add", "conversation_id": c,
                                  "user_ids": ["erin"]})
        hist = await b.history(groups[0])
        assert [m["text"] for m in hist["messages"]] == ["m%d of %s" % (k, groups[0])
                                                        for k in range(3)]
        await call_result(a, {"type": "edit", "conversation_id": groups[1], "seq": 1,
                              "text": "edited"})
        await call_result(a, {"type": "delete", "conversation_id": groups[2], "seq": 2,
                              "scope": "everyone"})
        # lists and sync gather from both shards
        lst = await a.call({"type": "conv.list"}, "conversations")
        ids = [c["conversation_id"] for c in lst["items"]]
        assert set(ids) == set(convs), ids
        # most recently active first, across the shards
        assert ids[0] == directs[-1], ids
        lb = await b.call({"type": "conv.list"}, "conversations")
        assert {c["conversation_id"] for c in lb["items"]} == set(groups)
        carol = await Client.login(srv, "carol")
        got = sync_map(await carol.call({"type": "sync"}, "sync", timeout=10))
        assert set(got) == set(groups), list(got)
        assert sum(len(c["messages"]) for c in got.values()) == 30, got
        h1 = await b.history(groups[1])
        assert h1["messages"][0]["text"] == "edited"
        h2 = await b.history(groups[2])
        assert h2["messages"][1].get("text") is None, h2
        return groups, directs

    groups, directs = run(body(), timeout=60)
    convs = groups + directs
    placed = [set(shard_rows(n, "SELECT id FROM conversations")) for n in two_dbs]
    assert placed[0] and placed[1], "conversations did not land on both shards: %r" % placed
    assert placed[0] | placed[1] == set(convs) and not placed[0] & placed[1], placed
    for c in convs:
        assert c in placed[shard_of(c, 2)], "%s is not on shard %d (the documented hash)" % (
            c, shard_of(c, 2))
    # messages and members live with their conversation
    for i, n in enumerate(two_dbs):
        for c in shard_rows(n, "SELECT DISTINCT conversation_id FROM messages"):
            assert shard_of(c, 2) == i, (c, i)
    # user-level data on the first shard only
    assert shard_rows(two_dbs[0], "SELECT count(*) FROM direct_pairs") == ["6"]
    assert shard_rows(two_dbs[1], "SELECT count(*) FROM direct_pairs") == ["0"]
    assert int(shard_rows(two_dbs[0], "SELECT count(*) FROM users")[0]) >= 2
    assert shard_rows(two_dbs[1], "SELECT count(*) FROM users") == ["0"]
    # a restart finds everything where it was
    assert srv.stop() == 0
    srv.start()

    async def again():
        a = await Client.login(srv, "alice")
        for c in convs:
            h = await a.history(c)
            assert len(h["messages"]) == 3, (c, h)
        await a.send_text(groups[-1], "after restart")
    run(again(), timeout=30)


# ---- search, latest messages, notification mutes across shards -------------

async def search_all(client, query, limit, **kw):
    """Every hit of a search, page by page: (hits in order, pages)."""
    got, before, pages = [], None, 0
    while True:
        f = {"type": "search", "query": query, "limit": limit}
        f.update(kw)
        if before:
            f["before"] = before
        r = await client.call(f, "search")
        got += [(m["conversation_id"], m["seq"]) for m in r["results"]]
        pages += 1
        before = r["next"]
        if before is None:
            return got, pages
        assert isinstance(before, int) and 0 < before <= 2 ** 53 and pages < 100, r


def newest_first(rows):
    """(ts, conversation_id, seq) rows in the order search and the latest
    messages use: all three descending (ids bytewise)."""
    return sorted(rows, key=lambda r: (r[0], r[1].encode(), r[2]), reverse=True)


def test_search_latest_and_notify_across_two_shards(two_dbs, chatd, tmp_path):
    dsns = [pg_admin_dsn() + " dbname=" + n for n in two_dbs]
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "strict.lua").write_text(
        'return { name = "strict", on_message = function(ctx)\n'
        '  if ctx.text:find("walrus", 1, true) then return reject("bad_word", "no") end\n'
        'end }\n')
    over = pg_config(shards=dsns)
    over["moderation"] = {"rules_dir": str(rules)}
    srv = chatd(**over)

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        groups = [await a.group(["bob"], title="g%d" % i) for i in range(6)]
        on = {shard_of(g, 2) for g in groups}
        assert on == {0, 1}, "the groups did not land on both shards"
        sent = []
        for i in range(24):
            g = groups[i % len(groups)]
            ack = await (a if i % 3 else b).send_text(g, "walrus number %d" % i)
            sent.append((ack["ts"], g, ack["seq"]))
        want = [(g, seq) for _, g, seq in newest_first(sent)]
        # every hit exactly once, newest first, whatever the page size
        for limit in (1, 5, 7, 50):
            got, pages = await search_all(a, "walrus", limit)
            assert got == want, (limit, got, want)
            assert pages == -(-len(want) // limit), (limit, pages)
        # one conversation: its shard only
        got, _ = await search_all(b, "walrus", 4, conversation_id=groups[1])
        assert got == [(g, s) for g, s in want if g == groups[1]], got
        # notification mutes live on the conversation's shard
        for g in groups:
            await call_result(b, {"type": "conv.notify", "conversation_id": g,
                                  "muted_until_ms": 4102444800000})
        return sent, groups

    sent, groups = run(body(), timeout=60)
    for i, n in enumerate(two_dbs):
        mine = [g for g in groups if shard_of(g, 2) == i]
        assert sorted(shard_rows(n, "SELECT conversation_id FROM members WHERE "
                                    "user_id = 'bob' AND notify_muted_until > 0")) == sorted(mine)
    # messages_latest (the rules dry-run over all conversations): the newest
    # of both shards, merged, oldest first
    r = srv.admin_ok("POST", "/v1/rules/dry-run", {"rules": ["strict"], "limit": 10})
    assert r["messages"] == 10 and r["changed_total"] == 10, r
    latest = [(g, seq) for _, g, seq in newest_first(sent)[:10]][::-1]
    assert [(m["conversation_id"], m["seq"]) for m in r["changed"]] == latest, r


def test_search_pages_through_ties_across_shards(two_dbs, chatd):
    """Hits stored in the same millisecond on both shards (rows written
    directly) page exactly once each, in the documented order."""
    dsns = [pg_admin_dsn() + " dbname=" + n for n in two_dbs]
    srv = chatd(**pg_config(shards=dsns))

    async def body():
        a = await Client.login(srv, "alice")
        return [await a.group(["bob"], title="t%d" % i) for i in range(6)]
    groups = run(body())
    rows = []
    for k in range(30):
        g = groups[k % len(groups)]
        ts = 1000 + (k % 3 == 0)                     # 20 at 1000, 10 at 1001
        rows.append((ts, g, 100 + k))
        psql("INSERT INTO messages(conversation_id, seq, message_id, sender_id, "
             "client_message_id, text, created_at) VALUES ('%s', %d, 'x%d', 'alice', 'k%d', "
             "'narwhal tusk %d', %d)" % (g, 100 + k, k, k, k, ts),
             dsn=dsns[shard_of(g, 2)])
    want = [(g, seq) for _, g, seq in newest_first(rows)]

    async def pages():
        a = await Client.login(srv, "alice")
        for limit in (1, 3, 4, 50):
            got, _ = await search_all(a, "narwhal", limit)
            assert got == want, (limit, got, want)
        r = await a.call({"type": "search", "query": "narwhal tusk", "limit": 2}, "search")
        m = r["results"][0]
        assert m["text"] == "narwhal tusk %d" % (want[0][1] - 100), m
        assert m["snippet"].startswith("\u0002narwhal\u0003 \u0002tusk\u0003"), m
    run(pages(), timeout=60)


def test_search_index_built_on_upgrade(chatd):
    """A database at schema 1 with messages: migration 2 indexes them (not
    the deleted ones, edits by their new text)."""
    srv = chatd()
    assert srv.pg_schema, "this test needs the default pg config"

    async def body():
        a = await Client.login(srv, "alice")
        g = await a.group(["bob"])
        k1 = await a.send_text(g, "Crème brûlée recipe")
        k2 = await a.send_text(g, "old beaver text")
        k3 = await a.send_text(g, "secret beaver plans")
        await call_result(a, {"type": "edit", "conversation_id": g, "seq": k2["seq"],
                              "text": "new otter text"})
        await call_result(a, {"type": "delete", "conversation_id": g, "seq": k3["seq"],
                              "scope": "everyone"})
        return g, k1["seq"], k2["seq"]
    g, s1, s2 = run(body())
    assert srv.stop() == 0
    # back to schema 1: what migration 2 added, removed
    psql("DROP FUNCTION chatd_search; DROP FUNCTION chatd_search_align; "
         "DROP TRIGGER messages_search ON messages; DROP FUNCTION chatd_messages_search; "
         "ALTER TABLE messages DROP COLUMN search_doc; DROP INDEX messages_by_time; "
         "DROP FUNCTION chatd_search_norm; "
         "DROP FUNCTION chatd_search_fold; ALTER TABLE members DROP COLUMN notify_muted_until; "
         "UPDATE schema_version SET version = 1", schema=srv.pg_schema)
    srv.start()
    assert "schema 1 -> %d" % SCHEMA_VERSION in srv.log_text(), srv.log_text()

    async def after():
        b = await Client.login(srv, "bob")
        hits = {}
        for q in ("creme", "BRULEE", "recip*", "otter", "beaver", "plans"):
            r = await b.call({"type": "search", "query": q}, "search")
            hits[q] = [(m["conversation_id"], m["seq"]) for m in r["results"]]
        assert hits == {"creme": [(g, s1)], "BRULEE": [(g, s1)], "recip*": [(g, s1)],
                        "otter": [(g, s2)], "beaver": [], "plans": []}, hits
        r = await b.call({"type": "search", "query": "creme"}, "search")
        assert r["results"][0]["snippet"] == "\u0002Crème\u0003 brûlée recipe", r
    run(after())


# ---- connection loss ------------------------------------------------------

class Cluster:
    """A private PostgreSQL cluster (scripts/pg-test-server) this test may
    stop and start at will."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-pg-outage-")
        self.port = free_port()
        self.dsn = self._run("start").strip()

    def _run(self, cmd):
        r = subprocess.run([PG_SCRIPT, cmd, self.dir, str(self.port)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, "pg-test-server %s failed: %s" % (cmd, r.stderr)
        return r.stdout

    def stop(self):
        self._run("stop")

    def start(self):
        self._run("start")

    def remove(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    if not os.access(PG_SCRIPT, os.X_OK):
        pytest.skip("no scripts/pg-test-server")
    c = Cluster()
    yield c
    c.remove()


def test_cluster_stopped_mid_stream(cluster, chatd):
    srv = chatd(**pg_config(cluster.dsn, op_timeout_ms=3000, reconnect_min_ms=50,
                            reconnect_max_ms=400))
    acks, failed = {}, {}

    async def body():
        a = await Client.login(srv, "alice")
        conv = await a.group(["bob"])
        for i in range(5):
            await a.send_text(conv, "text of warm-%d" % i, cmid="warm-%d" % i)
        stop = asyncio.Event()
        task = asyncio.create_task(stream(a, conv, "s", acks, failed, stop))
        assert await await_for(lambda: len(acks) >= 30, 20), "no traffic before the outage"
        t = threading.Thread(target=cluster.stop)
        t.start()
        # sends fail with unavailable (retryable), /readyz turns 503
        assert await await_for(lambda: failed, 20), "no send failed while PostgreSQL was down"
        assert await await_for(lambda: readyz(srv) == 503, 10), "/readyz stayed 200"
        t.join()
        n_failed = len(failed)
        assert await await_for(lambda: len(failed) > n_failed + 5, 10)
        assert set(failed.values()) == {"unavailable"}, set(failed.values())
        acked_during = len(acks)
        await asyncio.sleep(0.5)
        assert len(acks) == acked_during, "acks while PostgreSQL was stopped"
        await asyncio.get_running_loop().run_in_executor(None, cluster.start)
        assert await await_for(lambda: readyz(srv) == 200, 20), "/readyz not back to 200"
        n_acked = len(acks)
        assert await await_for(lambda: len(acks) > n_acked + 10, 20), "no acks after recovery"
        stop.set()
        await asyncio.wait_for(task, 20)
        resent = await resend_until_acked(a, conv, [c for c in failed if c not in acks])
        for i in range(5):
            acks["warm-%d" % i] = None
        acks2 = {c: v for c, v in acks.items() if v}
        total = await check_exactly_once(a, conv, acks2, resent)
        assert total == 5 + len(acks2) + len(resent), (total, len(acks2), len(resent))
        return len(acks2), len(resent)

    n_acked, n_resent = run(body(), timeout=120)
    print("outage: %d acknowledged, %d resent after the outage" % (n_acked, n_resent))
    m = srv.admin_ok("GET", "/v1/metrics")["metrics"]
    assert m.get("storage_pg.reconnects", 0) >= 1, m
    assert "pg.lost" in srv.log_text() and "pg.reconnected" in srv.log_text()


def test_backends_terminated_mid_stream(chatd):
    app = "chatd_%s" % os.urandom(4).hex()
    schema = pg_create_schema()
    srv = None
    try:
        srv = chatd(**pg_config(pg_schema_dsn(schema) + " application_name=" + app))
        acks, failed = {}, {}

        async def body():
            a = await Client.login(srv, "alice")
            conv = await a.group(["bob"])
            stop = asyncio.Event()
            task = asyncio.create_task(stream(a, conv, "k", acks, failed, stop, window=8))
            killed = 0
            for _ in range(4):
                n = len(acks)
                assert await await_for(lambda: len(acks) > n + 20, 20), "no progress"
                out = await asyncio.get_running_loop().run_in_executor(None, lambda: psql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = '%s'" % app))
                killed += int(out.strip())
            n = len(acks)
            assert await await_for(lambda: len(acks) > n + 20, 20), "no progress at the end"
            stop.set()
            await asyncio.wait_for(task, 20)
            assert killed >= 4, killed
            assert set(failed.values()) <= {"unavailable"}, set(failed.values())
            resent = await resend_until_acked(a, conv, [c for c in failed if c not in acks])
            await check_exactly_once(a, conv, acks, resent)

        run(body(), timeout=120)
        assert srv.log_text().count("pg.reconnected") >= 4, srv.log_text()
    finally:
        if srv and srv.running:
            assert srv.stop() == 0
        pg_drop_schema(schema)


def test_hung_connection_times_out(chatd):
    """A statement stuck behind a lock past op_timeout_ms completes with
    unavailable (the plugin's own timer), then service resumes."""
    schema = pg_create_schema()
    srv = chatd(**pg_config(pg_schema_dsn(schema), op_timeout_ms=1000, reconnect_min_ms=50,
                            reconnect_max_ms=300))
    locker = None
    try:
        async def body():
            nonlocal locker
            a = await Client.login(srv, "alice")
            conv = await a.group(["bob"])
            await a.send_text(conv, "before")
            locker = subprocess.Popen(
                ["psql", "-X", "-q", "-d", pg_schema_dsn(schema), "-c",
                 "BEGIN; LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE; "
                 "SELECT pg_sleep(3); COMMIT;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert await await_for(lambda: psql(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'conversations' AND l.mode = 'AccessExclusiveLock' "
                "AND l.granted").strip() != "0", 10), "the lock was not taken"
            t0 = time.monotonic()
            r = await a.request({"type": "send", "conversation_id": conv,
                                 "client_message_id": "hung-1", "text": "text of hung-1"},
                                timeout=10)
            took = time.monotonic() - t0
            assert r.get("type") == "error" and r["code"] == "unavailable", r
            assert 0.8 <= took <= 4.0, "answered after %.2f s (op_timeout_ms 1000)" % took
            resent = await resend_until_acked(a, conv, ["hung-1"], timeout=20)
            h = await all_history(a, conv)
            assert [m["text"] for m in h] == ["before", "text of hung-1"], h
            assert resent["hung-1"]["seq"] == 2

        run(body(), timeout=60)
        m = srv.admin_ok("GET", "/v1/metrics")["metrics"]
        assert m.get("storage_pg.timeouts", 0) >= 1, m
        assert "pg.timeout" in srv.log_text()
    finally:
        if locker:
            locker.wait(timeout=20)
        if srv.running:
            assert srv.stop() == 0
        pg_drop_schema(schema)


# ---- a statement that fails inside a batch -----------------------------------

FAULTS = """
CREATE SEQUENCE t_deadlocks;
CREATE FUNCTION t_faults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.text = 'boom' THEN
    RAISE EXCEPTION 'boom (a test trigger)';
  END IF;
  -- a sequence is not rolled back: only the first try fails
  IF NEW.text = 'deadlock-once' AND nextval('t_deadlocks') = 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'deadlock_detected', MESSAGE = 'test deadlock';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER t_faults BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION t_faults();
"""


def test_a_failing_statement_undoes_only_its_own_op(chatd):
    """PostgreSQL rolls a whole pipelined batch back when one statement of
    it fails: the failing op gets an error, the others of the batch run
    again alone and are acknowledged; a deadlock is retried."""
    schema = pg_create_schema()
    srv = chatd(**pg_config(pg_schema_dsn(schema)))
    try:
        psql(FAULTS, schema=schema)

        async def body():
            a = await Client.login(srv, "alice")
            conv = await a.group(["bob"])
            texts = ["boom" if i == 15 else "text of b-%d" % i for i in range(30)]
            for i, t in enumerate(texts):     # one burst: the appends share batches
                await a.send_json({"type": "send", "id": "b%d" % i, "conversation_id": conv,
                                   "client_message_id": "b-%d" % i, "text": t})
            replies = {}
            while len(replies) < len(texts):
                f = await a.recv_json(timeout=10)
                if f.get("id", "").startswith("b"):
                    replies[f["id"]] = f
            assert replies["b15"]["type"] == "error", replies["b15"]
            assert replies["b15"]["code"] in ("unavailable", "internal"), replies["b15"]
            acks = {"b-%d" % i: (r["seq"], r["message_id"]) for i, r in
                    ((int(k[1:]), r) for k, r in replies.items()) if i != 15}
            assert all(replies["b%d" % i]["type"] == "ack" for i in range(30) if i != 15), \
                [r for r in replies.values() if r["type"] != "ack"]
            assert await check_exactly_once(a, conv, acks, {}) == 29
            ack = await a.send_text(conv, "deadlock-once", cmid="d-1")
            assert ack["seq"] == 30 and ack["duplicate"] is False, ack

        run(body(), timeout=60)
        m = srv.admin_ok("GET", "/v1/metrics")["metrics"]
        assert m.get("storage_pg.query_errors", 0) >= 1, m
        assert m.get("storage_pg.reruns", 0) >= 1, "the burst did not share a batch: %r" % m
        assert m.get("storage_pg.retries", 0) == 1, m
        assert "boom (a test trigger)" in srv.log_text()
    finally:
        if srv.running:
            assert srv.stop() == 0
        pg_drop_schema(schema)


# ---- several chatd processes on one database ---------------------------------

def test_two_nodes_append_to_one_conversation(chatd):
    schema = pg_create_schema()
    dsn = pg_schema_dsn(schema)
    nodes = []
    try:
        nodes = [chatd(start=False, node_id="n%d" % i, **pg_config(dsn)) for i in range(2)]
        # both start at once on an empty schema: the migration lock makes
        # one migrate and the other find it done
        ts = [threading.Thread(target=n.start) for n in nodes]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert all(n.running for n in nodes), [n.log_text() for n in nodes]
        assert psql("SELECT version FROM schema_version", schema=schema).split() == [
            str(SCHEMA_VERSION)]
        senders = [("alice", 0), ("bob", 1), ("carol", 0), ("dave", 1)]
        acks = {u: {} for u, _ in senders}

        async def body():
            a = await Client.login(nodes[0], "alice")
            conv = await a.group(["bob", "carol", "dave"], title="hot")
            clients = [a if u == "alice" else await Client.login(nodes[i], u)
                       for u, i in senders]
            stop = asyncio.Event()
            failed = {}
            tasks = [asyncio.create_task(stream(c, conv, u, acks[u], failed, stop, window=8))
                     for c, (u, _) in zip(clients, senders)]
            assert await await_for(lambda: all(len(x) >= 60 for x in acks.values()), 60), \
                {u: len(x) for u, x in acks.items()}
            stop.set()
            await asyncio.gather(*tasks)
            assert not failed, failed
            seqs = sorted(s for x in acks.values() for s, _ in x.values())
            assert seqs == list(range(1, len(seqs) + 1)), "seqs from two nodes: gaps or " \
                "duplicates: %r" % seqs
            all_acks = {c: v for x in acks.values() for c, v in x.items()}
            for node in nodes:
                c = await Client.login(node, "alice")
                assert await check_exactly_once(c, conv, all_acks, {}) == len(seqs)
            return len(seqs)

        n = run(body(), timeout=120)
        print("two nodes: %d messages, gap-free" % n)
    finally:
        for n in nodes:
            if n.running:
                n.stop()
        pg_drop_schema(schema)
