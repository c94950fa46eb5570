"""29 — encryption at rest: with encryption.active set, message text (sends
and edits) is stored sealed (AES-256-GCM, "\\x01ce1:<key id>:<base64>") and
clients read plaintext everywhere (live delivery, history, sync, edits); the
SQLite files hold none of the plaintext bytes; rows stored before
encryption was turned on still read; a row sealed with a key id the server
no longer has, or moved to another conversation, is an error (logged), not
a crash; search is refused while sealing; the config is checked up front
and never echoes a key."""

import os
import sqlite3

import pytest

from chatclient import (Client, chatd_bin, db_file_bytes, db_path, run, run_tool,
                        storage_kind, sync_map)

K1 = "11" * 32
K2_B64 = "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI="   # 32 bytes of 0x22
SQLITE = {"plugins": {"storage": "sqlite"}}

pytestmark = pytest.mark.skipif(storage_kind() == "pg",
                                reason="reads the SQLite files (the wrapper is the same for pg)")


def enc(active="k1", **keys):
    return {"encryption": {"keys": keys or {"k1": K1}, "active": active}}


def restart(srv, **over):
    """Stop srv and start it again on the same database with overrides."""
    srv.stop()
    srv.overrides = dict(srv.overrides)
    srv.overrides.update(over)
    srv._configure(srv.port, srv.admin_port)
    srv.start()


def stored_texts(srv):
    return [r[0] for r in sqlite_rows(srv, "SELECT text FROM messages WHERE text IS NOT NULL")]


def sqlite_rows(srv, sql, args=()):
    db = sqlite3.connect("file:%s?mode=ro" % db_path(srv), uri=True, timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def texts_of(history):
    return [m.get("text") for m in history["messages"]]


def test_sealed_at_rest_plaintext_to_clients(chatd):
    srv = chatd(**SQLITE, **enc())
    secrets = ["zebra-%d-quokka" % i for i in range(5)]

    async def body():
        a = await Client.login(srv, "alice")
        b = await Client.login(srv, "bob")
        cid = await a.group(["bob"])
        seqs = []
        for t in secrets[:4]:
            ack = await a.send_text(cid, t)
            live = await b.expect("message", seq=ack["seq"])
            assert live["text"] == t, live
            seqs.append(ack["seq"])
        r = await a.call({"type": "edit", "id": "e1", "conversation_id": cid,
                          "seq": seqs[0], "text": secrets[4]}, "result")
        assert r["ok"] is True, r
        u = await b.expect("message_update", conversation_id=cid)
        assert u["text"] == secrets[4], u
        h = await b.history(cid)
        assert texts_of(h) == [secrets[4]] + secrets[1:4], h
        s = sync_map(await b.call({"type": "sync", "id": "s1", "cursors": {cid: 0}}, "sync"))
        got = [m["text"] for m in s[cid]["messages"]]
        assert got == [secrets[4]] + secrets[1:4], s
        # search would index ciphertext: refused, clearly
        e = await a.request({"type": "search", "id": "q", "query": "zebra"})
        assert e["type"] == "error" and e["code"] == "unavailable", e
        assert "encrypted" in e["message"], e
        # the admin API's view is plaintext too
        return cid

    cid = run(body())
    view = srv.admin_ok("GET", "/v1/conversations/%s/messages?around=1&context=5" % cid)
    assert [m.get("text") for m in view["messages"]] == [secrets[4]] + secrets[1:4], view
    stored = stored_texts(srv)
    assert len(stored) == 4 and all(t.startswith("\x01ce1:k1:") for t in stored), stored
    raw = db_file_bytes(srv)
    assert len(raw) > 0
    for t in secrets:
        assert t.encode() not in raw, "plaintext %r found in the database files" % t
        assert b"quokka" not in raw


def test_rows_before_enabling_still_read_and_key_rotation_by_config(chatd, monkeypatch):
    srv = chatd(**SQLITE)

    async def send(texts):
        a = await Client.login(srv, "alice")
        cid = await a.group(["bob"], title="t")
        for t in texts:
            await a.send_text(cid, t)
        return cid

    async def read(cid):
        b = await Client.login(srv, "bob")
        return texts_of(await b.history(cid))

    c0 = run(send(["plain-before"]))
    restart(srv, **enc())
    c1 = run(send(["sealed-with-k1"]))
    assert run(read(c0)) == ["plain-before"]
    # k2 becomes active (from the environment); k1 stays to open old rows
    monkeypatch.setenv("CHATD_TEST_KEY_K2", K2_B64)
    restart(srv, **enc(active="k2", k1=K1, k2="env:CHATD_TEST_KEY_K2"))
    c2 = run(send(["sealed-with-k2"]))
    assert run(read(c0)) == ["plain-before"]
    assert run(read(c1)) == ["sealed-with-k1"]
    assert run(read(c2)) == ["sealed-with-k2"]
    kinds = sorted(t[:8] for t in stored_texts(srv))
    assert kinds == sorted(["plain-be", "\x01ce1:k1:", "\x01ce1:k2:"]), kinds


def test_unknown_key_id_is_an_error_not_a_crash(chatd):
    srv = chatd(**SQLITE, **enc())

    async def send():
        a = await Client.login(srv, "alice")
        cid = await a.group(["bob"])
        await a.send_text(cid, "only-k1-opens-this")
        return cid

    cid = run(send())
    restart(srv, **enc(active="k2", k2=K1.replace("1", "3")))

    async def read():
        b = await Client.login(srv, "bob")
        e = await b.request({"type": "history", "id": "h", "conversation_id": cid})
        assert e["type"] == "error" and e["code"] == "internal", e
        # the server goes on: a new conversation works
        c2 = await b.group(["alice"])
        await b.send_text(c2, "fresh")
        assert texts_of(await b.history(c2)) == ["fresh"]

    run(read())
    assert srv.healthz()
    ev = srv.wait_log_event("enc.open_failed")
    assert "unknown key id k1" in ev["msg"], ev


def test_sealed_text_moved_to_another_conversation_fails(chatd):
    srv = chatd(**SQLITE, **enc())

    async def send():
        a = await Client.login(srv, "alice")
        c1 = await a.group(["bob"], title="one")
        c2 = await a.group(["bob"], title="two")
        await a.send_text(c1, "for-one")
        await a.send_text(c2, "for-two")
        return c1, c2

    c1, c2 = run(send())
    srv.stop()
    db = sqlite3.connect(db_path(srv))
    t1 = db.execute("SELECT text FROM messages WHERE conversation_id = ?", (c1,)).fetchone()[0]
    db.execute("UPDATE messages SET text = ? WHERE conversation_id = ?", (t1, c2))
    db.commit()
    db.close()
    srv.start()

    async def read():
        b = await Client.login(srv, "bob")
        assert texts_of(await b.history(c1)) == ["for-one"]
        e = await b.request({"type": "history", "id": "h", "conversation_id": c2})
        assert e["type"] == "error" and e["code"] == "internal", e

    run(read())
    ev = srv.wait_log_event("enc.open_failed")
    assert "not authentic" in ev["msg"], ev


def test_leading_soh_refused(chatd):
    srv = chatd(**SQLITE)

    async def body():
        a = await Client.login(srv, "alice")
        cid = await a.group(["bob"])
        e = await a.request({"type": "send", "id": "s", "conversation_id": cid,
                             "client_message_id": "x1", "text": "\x01ce1:k1:AAAA"})
        assert e["type"] == "error" and e["code"] == "bad_request", e
        ack = await a.send_text(cid, "ok")
        e = await a.request({"type": "edit", "id": "e", "conversation_id": cid,
                             "seq": ack["seq"], "text": "\x01x"})
        assert e["type"] == "error" and e["code"] == "bad_request", e

    run(body())


@pytest.mark.parametrize("encryption,expect", [
    ({"keys": {"k1": "abcd"}, "active": "k1"}, "k1: a key must be 32 bytes"),
    ({"keys": {"k1": K1}, "active": "k9"}, "names no key of encryption.keys"),
    ({"keys": {"k1": "env:CHATD_TEST_NO_SUCH_VAR"}}, "environment variable is not set"),
])
def test_check_config_refuses_bad_keys(chatd, encryption, expect):
    srv = chatd(start=False, **SQLITE, encryption=encryption)
    r = run_tool([chatd_bin(), "--check-config", srv.config_path])
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert expect in out, out
    assert K1 not in out and "abcd" not in out.replace("encryption", ""), out


def test_check_config_refuses_bad_key_id(chatd):
    srv = chatd(start=False, **SQLITE,
                extra_lua='encryption = { keys = { ["bad id!"] = "%s" } }' % K1)
    r = run_tool([chatd_bin(), "--check-config", srv.config_path])
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "a key id must be" in out, out
    assert K1 not in out, out


def test_check_config_accepts_good_keys(chatd, monkeypatch):
    monkeypatch.setenv("CHATD_TEST_KEY_K2", K2_B64)
    srv = chatd(start=False, **SQLITE, **enc(active="k2", k1=K1, k2="env:CHATD_TEST_KEY_K2"))
    r = run_tool([chatd_bin(), "--check-config", srv.config_path])
    assert r.returncode == 0, r.stdout + r.stderr
