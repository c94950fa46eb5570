"""05 — durability: concurrent senders, SIGKILL mid-stream, restart on the
same database.  Every acknowledged message must be there exactly once, seqs
gap-free from 1; resending what was not acknowledged never makes two rows."""

import asyncio
import json
import time

import websockets

from chatclient import Client, mint, run

USERS = ["alice", "bob", "carol", "dave"]
WINDOW = 4          # sends in flight per client


async def sender(server, user, convs, acks, sent):
    """Send continuously round-robin over convs, WINDOW in flight; record
    every ack.  Ends when the connection drops."""
    ws = await websockets.connect(server.url, extra_headers={"Authorization": "Bearer " + mint(user)},
                                  max_size=None, ping_interval=None, close_timeout=1,
                                  compression=None)
    try:
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if msg.get("type") == "ready":
                break
        inflight = {}
        n = 0
        while True:
            while len(inflight) < WINDOW:
                conv = convs[n % len(convs)]
                cmid = "%s-%d" % (user, n)
                rid = "q%d" % n
                n += 1
                frame = {"type": "send", "id": rid, "conversation_id": conv,
                         "client_message_id": cmid, "text": "text of " + cmid}
                sent[cmid] = conv          # recorded before it leaves
                inflight[rid] = cmid
                await ws.send(json.dumps(frame))
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg.get("type") == "ack" and msg.get("id") in inflight:
                cmid = inflight.pop(msg["id"])
                assert msg["client_message_id"] == cmid, msg
                assert msg["duplicate"] is False, msg
                acks[cmid] = (msg["conversation_id"], msg["seq"], msg["message_id"])
            elif msg.get("type") == "error":
                raise AssertionError("%s: send refused during the stream: %r" % (user, msg))
    except (websockets.exceptions.ConnectionClosed, ConnectionError, asyncio.TimeoutError):
        return
    finally:
        await ws.close()


async def all_history(client, conv):
    """Every message of conv, paging backwards from the latest with
    `before` (independent of how after=0 is read)."""
    r = await client.call({"type": "history", "conversation_id": conv, "limit": 200},
                          "history", timeout=10)
    msgs = list(r["messages"])
    for _ in range(200):
        if not r["has_more"]:
            return sorted(msgs, key=lambda m: m["seq"])
        r = await client.call({"type": "history", "conversation_id": conv,
                               "before": msgs[0]["seq"] if msgs else 1 << 62, "limit": 200},
                              "history", timeout=10)
        msgs = list(r["messages"]) + msgs
    raise AssertionError("history paging did not end")


def test_acknowledged_messages_survive_sigkill(server):
    acks, sent = {}, {}

    async def phase1():
        a = await Client.login(server, "alice")
        convs = []
        for i in range(3):
            convs.append(await a.group(USERS[1:], title="dur%d" % i))
        await a.close()
        tasks = [asyncio.create_task(sender(server, u, convs, acks, sent)) for u in USERS]
        t0 = time.monotonic()
        while len(acks) < 60 or time.monotonic() - t0 < 0.7:
            await asyncio.sleep(0.02)
            if time.monotonic() - t0 > 20:
                break
            for t in tasks:
                if t.done():
                    t.result()     # surface an early failure
        assert len(acks) >= 20, "the server acknowledged only %d messages in 20 s" % len(acks)
        server.kill()              # SIGKILL mid-stream, senders still sending
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return convs

    convs = run(phase1(), timeout=60)
    assert server.proc.returncode == -9
    assert len(sent) > len(acks), "the kill did not land mid-stream (no send in flight)"
    server.start()

    async def phase2():
        a = await Client.login(server, "alice")
        rows = {}
        for conv in convs:
            msgs = await all_history(a, conv)
            s = [m["seq"] for m in msgs]
            assert s == list(range(1, len(s) + 1)), "seqs not gap-free from 1 in %s: %r" % (conv, s)
            rows[conv] = msgs
        by_text = {}
        for conv, msgs in rows.items():
            for m in msgs:
                by_text.setdefault(m["text"], []).append((conv, m))
        missing, wrong = [], []
        for cmid, (conv, seq, mid) in acks.items():
            found = by_text.get("text of " + cmid, [])
            if len(found) != 1:
                missing.append((cmid, len(found)))
                continue
            fconv, m = found[0]
            if (fconv, m["seq"], m["message_id"]) != (conv, seq, mid):
                wrong.append((cmid, (conv, seq, mid), (fconv, m["seq"], m["message_id"])))
            if "client_message_id" in m and m["sender_id"] == "alice":
                assert m["client_message_id"] == cmid, m
        assert not missing, "acknowledged messages lost or repeated after SIGKILL: %r" % missing[:10]
        assert not wrong, "acknowledged messages changed after restart: %r" % wrong[:10]
        dup = [t for t, v in by_text.items() if len(v) > 1]
        assert not dup, "messages stored twice: %r" % dup[:10]
        # Resend everything that was sent but not acknowledged (idempotent).
        unacked = {c: conv for c, conv in sent.items() if c not in acks}
        clients = {u: await Client.login(server, u) for u in USERS}
        for cmid, conv in unacked.items():
            user = cmid.rsplit("-", 1)[0]
            ack = await clients[user].call({"type": "send", "conversation_id": conv,
                                            "client_message_id": cmid,
                                            "text": "text of " + cmid}, "ack", timeout=10)
            if ack["duplicate"]:
                stored = [m for m in rows[conv] if m["seq"] == ack["seq"]]
                assert stored and stored[0]["text"] == "text of " + cmid, \
                    "duplicate ack points at another message: %r %r" % (ack, stored)
        # also resend a few acknowledged ones: must be duplicates with the same seq
        for cmid, (conv, seq, mid) in list(acks.items())[:8]:
            user = cmid.rsplit("-", 1)[0]
            ack = await clients[user].call({"type": "send", "conversation_id": conv,
                                            "client_message_id": cmid, "text": "changed"}, "ack")
            assert ack["duplicate"] is True and ack["seq"] == seq and ack["message_id"] == mid, ack
        for conv in convs:
            msgs = await all_history(a, conv)
            s = [m["seq"] for m in msgs]
            assert s == list(range(1, len(s) + 1)), "seqs not gap-free after resend: %r" % s
            texts = [m["text"] for m in msgs]
            assert len(texts) == len(set(texts)), "a resend made a second row in %s" % conv
        everything = {m["text"] for conv in convs for m in await all_history(a, conv)}
        for cmid in sent:
            assert "text of " + cmid in everything, "%s missing after resend" % cmid
        return len(acks), len(unacked)

    n_acked, n_unacked = run(phase2(), timeout=90)
    print("durability: %d acknowledged, %d in flight at SIGKILL" % (n_acked, n_unacked))
