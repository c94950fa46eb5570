"""29 — backend faults not covered elsewhere: SQLite on a full disk.  The
disk is made full without privileges by `storage_sqlite.max_db_bytes`
(PRAGMA max_page_count: SQLite then answers SQLITE_FULL, exactly as on a
full disk).  Sends must get `unavailable` (retryable), reads keep working,
the server never crashes, and after the space comes back (a restart with
the cap raised) every acknowledged message is there exactly once, seqs are
gap-free and the refused send goes through on its resend.

PostgreSQL stopped, backends terminated and a hung connection are in
21_storage_pg.py; Redis gone is in 22_cluster.py."""

import os

from chatclient import Client, run

CAP = 256 * 1024
TEXT = "x" * 1000


def test_sqlite_full_disk_is_unavailable_then_recovers(chatd, tmp_path):
    path = str(tmp_path / "full.db")
    srv = chatd(storage_sqlite={"path": path, "max_db_bytes": CAP}, plugins={"storage": "sqlite"})
    acks, refused = [], []

    async def fill():
        a = await Client.login(srv, "alice")
        conv = await a.direct("bob")
        for i in range(2000):
            cmid = "full-%d" % i
            r = await a.request({"type": "send", "conversation_id": conv,
                                 "client_message_id": cmid, "text": TEXT + cmid})
            if r["type"] == "error":
                assert r["code"] == "unavailable", r
                refused.append(cmid)
                if len(refused) == 3:
                    break
                continue
            assert r["type"] == "ack" and r["duplicate"] is False, r
            acks.append((cmid, r["seq"]))
        # reads still work on a full disk
        h = await a.call({"type": "history", "conversation_id": conv, "limit": 5}, "history")
        assert h["messages"][-1]["seq"] == acks[-1][1], h
        await a.close()
        return conv

    conv = run(fill(), timeout=60)
    assert refused, "the cap never filled (%d messages acked)" % len(acks)
    assert len(acks) >= 20, "the cap is too small to test anything: %d acked" % len(acks)
    assert os.path.getsize(path) <= CAP, os.path.getsize(path)
    assert srv.running, "chatd died on a full disk"
    assert srv.healthz() == 200
    assert srv.stop() == 0

    # the space comes back: same file, no cap
    srv2 = chatd(storage_sqlite={"path": path, "max_db_bytes": 0}, plugins={"storage": "sqlite"})

    async def check():
        a = await Client.login(srv2, "alice")
        msgs, after = [], 0
        while True:
            h = await a.call({"type": "history", "conversation_id": conv, "after": after,
                              "limit": 200}, "history")
            if not h["messages"]:
                break
            msgs += h["messages"]
            after = msgs[-1]["seq"]
        seqs = [m["seq"] for m in msgs]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        assert [(m["client_message_id"], m["seq"]) for m in msgs] == acks
        for cmid in refused:   # the resends are new messages, once each
            ack = await a.send_text(conv, TEXT + cmid, cmid=cmid)
            assert ack["duplicate"] is False and ack["seq"] == after + 1, ack
            after += 1
            again = await a.send_text(conv, TEXT + cmid, cmid=cmid)
            assert again["duplicate"] is True and again["seq"] == ack["seq"], again
        await a.close()

    run(check(), timeout=30)
