"""28 — crash and restart soak: a mixed workload (several users, direct and
group conversations, sends with client_message_id, edits, deletes,
reconnects with `sync`) while chatd is SIGKILLed at random moments and
restarted.  Then everything is checked against the clients' own records:

- every acknowledged message is stored exactly once, at its acked seq;
- seqs are gap-free from 1 in every conversation;
- nothing is stored that no client sent, and everything stored was
  acknowledged in the end (a message whose ack was lost in a kill is resent
  with the same client_message_id and answered `duplicate`, never stored
  twice);
- an acknowledged delete holds; a message's text is its last acknowledged
  edit or one sent after it (an edit whose ack was lost may have landed);
- every member's own record (live `message` frames plus `sync` and
  `history` after each reconnect) holds every seq of its conversations.

Bounded here (SOAK_SECONDS, default 20 s of workload, at most SOAK_KILLS
kills, default 5); `scripts/soak` runs it longer.  On whatever storage the
suite runs on (CHATD_TEST_STORAGE=pg: storage_pg)."""

import asyncio
import json
import os
import random
import time

import websockets

from chatclient import mint, run

USERS = ["ann", "ben", "cat", "dan", "eve"]
SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))
KILLS = int(os.environ.get("SOAK_KILLS", "5"))
SEED = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
WINDOW = 3          # requests in flight per client


class Conn(Exception):
    """The connection went away (a kill): reconnect."""


class Worker:
    """One user's client: its own record of what it sent, what was
    acknowledged and what it saw."""

    def __init__(self, srv, user, convs, rnd):
        self.srv, self.user, self.convs, self.rnd = srv, user, convs, rnd
        self.pending = {}      # cmid -> (conv, text): sent, not yet acked
        self.acked = {}        # cmid -> (conv, seq, message_id)
        self.dups = 0          # resends answered duplicate
        self.edit_sent = {}    # (conv, seq) -> highest edit number sent
        self.edit_acked = {}   # (conv, seq) -> highest edit number acked
        self.del_sent = set()  # (conv, seq)
        self.del_acked = set()
        self.seen = {c: set() for c in convs}   # seqs this user has seen
        self.n = 0
        self.reconnects = 0
        self.inflight = {}     # request id -> (kind, data)

    def contiguous(self, conv):
        s, k = self.seen[conv], 0
        while k + 1 in s:
            k += 1
        return k

    async def connect(self, deadline):
        while True:
            try:
                ws = await websockets.connect(
                    self.srv.url, extra_headers={"Authorization": "Bearer " + mint(self.user)},
                    max_size=None, ping_interval=None, close_timeout=1, compression=None,
                    open_timeout=2)
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 3))
                    if m.get("type") == "ready":
                        return ws
            except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError,
                    websockets.exceptions.InvalidStatusCode):
                if time.monotonic() > deadline:
                    raise AssertionError("%s: no connection before the deadline" % self.user)
                await asyncio.sleep(0.1)

    def take(self, m):
        """Record one frame; returns True when it answered a request."""
        t = m.get("type")
        if t == "message":
            self.seen.setdefault(m["conversation_id"], set()).add(m["seq"])
            return False
        rid = m.get("id")
        if rid not in self.inflight:
            if t == "error":
                raise AssertionError("%s: unsolicited error %r" % (self.user, m))
            return False
        kind, data = self.inflight.pop(rid)
        if t == "error":
            # Storage may be briefly unavailable right after a restart.
            if m.get("code") in ("unavailable", "timeout"):
                return True
            raise AssertionError("%s: %s refused: %r" % (self.user, kind, m))
        if kind == "send":
            assert t == "ack", m
            cmid = data
            conv, text = self.pending.pop(cmid, (None, None))
            assert m["client_message_id"] == cmid and m["conversation_id"] == conv, m
            if cmid in self.acked:   # acked before: same seq, duplicate
                assert (conv, m["seq"], m["message_id"]) == self.acked[cmid], (m, self.acked[cmid])
                assert m["duplicate"] is True, m
            if m["duplicate"]:
                self.dups += 1
            self.acked[cmid] = (conv, m["seq"], m["message_id"])
            self.seen[conv].add(m["seq"])
        elif kind == "edit":
            key, num = data
            self.edit_acked[key] = max(self.edit_acked.get(key, 0), num)
        elif kind == "delete":
            self.del_acked.add(data)
        elif kind == "sync":
            for c in m["conversations"]:
                conv = c["conversation_id"]
                for msg in c["messages"]:
                    self.seen[conv].add(msg["seq"])
        elif kind == "history":
            for msg in m["messages"]:
                self.seen[data].add(msg["seq"])
        return True

    async def request(self, ws, frame, kind, data):
        rid = "r%d" % self.n
        self.n += 1
        frame["id"] = rid
        self.inflight[rid] = (kind, data)
        await ws.send(json.dumps(frame))

    async def drain(self, ws, until_empty, timeout=5):
        """Read frames until fewer than WINDOW (or none, until_empty)
        requests are in flight."""
        limit = 0 if until_empty else WINDOW - 1
        while len(self.inflight) > limit:
            self.take(json.loads(await asyncio.wait_for(ws.recv(), timeout)))

    async def resync(self, ws):
        """After a reconnect: sync from this client's own cursors, page on
        with history, resend everything not acknowledged."""
        cursors = {c: self.contiguous(c) for c in self.convs}
        await self.request(ws, {"type": "sync", "cursors": cursors}, "sync", None)
        await self.drain(ws, True)
        for conv in self.convs:
            for _ in range(1000):
                before = len(self.seen[conv])
                await self.request(ws, {"type": "history", "conversation_id": conv,
                                        "after": self.contiguous(conv), "limit": 200},
                                   "history", conv)
                await self.drain(ws, True)
                if len(self.seen[conv]) == before:
                    break
        for cmid, (conv, text) in list(self.pending.items()):
            await self.request(ws, {"type": "send", "conversation_id": conv,
                                    "client_message_id": cmid, "text": text}, "send", cmid)
            await self.drain(ws, False)
        await self.drain(ws, True)

    def mine(self):
        """One of this user's acked, not deleted messages."""
        keys = [(c, s) for (c, s, _m) in self.acked.values() if (c, s) not in self.del_sent]
        return self.rnd.choice(keys) if keys else None

    async def step(self, ws):
        r = self.rnd.random()
        target = self.mine() if r < 0.25 else None
        if target and r < 0.17:
            num = self.edit_sent.get(target, 0) + 1
            self.edit_sent[target] = num
            await self.request(ws, {"type": "edit", "conversation_id": target[0], "seq": target[1],
                                    "text": self.text_of(target) + "#e%d" % num},
                               "edit", (target, num))
        elif target:
            self.del_sent.add(target)
            await self.request(ws, {"type": "delete", "conversation_id": target[0],
                                    "seq": target[1], "scope": "everyone"}, "delete", target)
        else:
            conv = self.rnd.choice(self.convs)
            cmid = "%s-%d" % (self.user, self.n)
            text = "soak " + cmid
            self.pending[cmid] = (conv, text)       # recorded before it leaves
            await self.request(ws, {"type": "send", "conversation_id": conv,
                                    "client_message_id": cmid, "text": text}, "send", cmid)

    def text_of(self, key):
        for cmid, (c, s, _m) in self.acked.items():
            if (c, s) == key:
                return "soak " + cmid
        raise KeyError(key)

    async def session(self, stop_at, deadline):
        """Connect, resync, work until stop_at or the connection dies."""
        ws = await self.connect(deadline)
        try:
            self.inflight.clear()
            await self.resync(ws)
            while time.monotonic() < stop_at:
                await self.step(ws)
                await self.drain(ws, False)
                await asyncio.sleep(self.rnd.random() * 0.01)
            await self.drain(ws, True)
            return True
        except (websockets.exceptions.ConnectionClosed, ConnectionError, asyncio.TimeoutError):
            return False
        finally:
            await ws.close()

    async def run(self, stop_at, deadline):
        while not await self.session(stop_at, deadline):
            self.reconnects += 1
            if time.monotonic() > deadline:
                raise AssertionError("%s: still failing at the deadline" % self.user)
        # the final pass: one more clean session that resends what is left
        while not await self.session(0, deadline) or self.pending:
            if time.monotonic() > deadline:
                raise AssertionError("%s: %d sends never acknowledged" % (self.user, len(self.pending)))


async def killer(srv, stop_at, rnd, kills):
    loop = asyncio.get_running_loop()
    while kills[0] < KILLS and time.monotonic() < stop_at - 1:
        await asyncio.sleep(0.5 + rnd.random() * max(0.5, SECONDS / max(KILLS, 1) - 0.5))
        if time.monotonic() >= stop_at - 0.5:
            break
        await loop.run_in_executor(None, srv.kill)
        assert srv.proc.returncode == -9
        kills[0] += 1
        await asyncio.sleep(rnd.random() * 0.3)
        await loop.run_in_executor(None, srv.start)


async def full_history(ws, conv):
    msgs, after = [], 0
    for _ in range(10000):
        await ws.send(json.dumps({"type": "history", "id": "h", "conversation_id": conv,
                                  "after": after, "limit": 200}))
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if m.get("type") in ("history", "error") and m.get("id") == "h":
                break
        assert m["type"] == "history", m
        msgs += m["messages"]
        if not m["messages"]:
            return msgs
        after = m["messages"][-1]["seq"]
    raise AssertionError("history paging did not end")


def test_crash_restart_soak(server):
    rnd = random.Random(SEED)
    print("soak seed %d, %.0f s, at most %d kills" % (SEED, SECONDS, KILLS))

    async def setup():
        from chatclient import Client
        convs = {}
        a = await Client.login(server, USERS[0])
        convs["g1"] = await a.group(USERS[1:], title="soak1")
        b = await Client.login(server, USERS[1])
        convs["g2"] = await b.group([USERS[2], USERS[3]], title="soak2")
        convs["d01"] = await a.direct(USERS[1])
        c = await Client.login(server, USERS[2])
        convs["d23"] = await c.direct(USERS[3])
        convs["d24"] = await c.direct(USERS[4])
        for x in (a, b, c):
            await x.close()
        return convs

    convs = run(setup(), timeout=20)
    members = {convs["g1"]: set(USERS), convs["g2"]: {USERS[1], USERS[2], USERS[3]},
               convs["d01"]: {USERS[0], USERS[1]}, convs["d23"]: {USERS[2], USERS[3]},
               convs["d24"]: {USERS[2], USERS[4]}}
    workers = [Worker(server, u, [c for c, m in members.items() if u in m],
                      random.Random(rnd.random())) for u in USERS]
    kills = [0]

    async def soak():
        t0 = time.monotonic()
        stop_at = t0 + SECONDS
        deadline = stop_at + 60
        k = asyncio.create_task(killer(server, stop_at, random.Random(rnd.random()), kills))
        await asyncio.gather(*(w.run(stop_at, deadline) for w in workers))
        await k
        # no more kills: every client syncs once more, so each sees what
        # the others resent in their own final pass
        for w in workers:
            assert await w.session(0, deadline), w.user

    run(soak(), timeout=SECONDS + 120)
    assert kills[0] >= min(KILLS, 1), "no kill landed"

    async def check():
        import websockets as w
        out = {}
        for conv, mem in members.items():
            user = sorted(mem)[0]
            ws = await w.connect(server.url, extra_headers={"Authorization": "Bearer " + mint(user)},
                                 max_size=None, ping_interval=None, compression=None)
            while json.loads(await asyncio.wait_for(ws.recv(), 5)).get("type") != "ready":
                pass
            out[conv] = await full_history(ws, conv)
            await ws.close()
        return out

    stored = run(check(), timeout=120)
    acked = {}       # (conv, seq) -> (worker, cmid)
    for w in workers:
        assert not w.pending, (w.user, w.pending)
        for cmid, (conv, seq, _mid) in w.acked.items():
            assert (conv, seq) not in acked, "two acks for seq %d of %s" % (seq, conv)
            acked[(conv, seq)] = (w, cmid)
    total = 0
    for conv, msgs in stored.items():
        seqs = [m["seq"] for m in msgs]
        assert seqs == list(range(1, len(seqs) + 1)), "seqs not gap-free in %s: %r" % (conv, seqs)
        texts = [m.get("text") for m in msgs if not m.get("deleted")]
        assert len(texts) == len(set(texts)), "a message stored twice in %s" % conv
        for m in msgs:
            key = (conv, m["seq"])
            assert key in acked, "stored but never acknowledged: %r" % m
            w, cmid = acked.pop(key)
            assert m["sender_id"] == w.user, m
            if key in w.del_acked:
                assert m.get("deleted") is True and "text" not in m, m
            elif not m.get("deleted"):
                assert key not in w.del_acked
                base = "soak " + cmid
                text = m["text"]
                num = int(text.split("#e")[1]) if "#e" in text else 0
                assert text == base + ("#e%d" % num if num else ""), (text, base)
                assert w.edit_acked.get(key, 0) <= num <= w.edit_sent.get(key, 0), \
                    (m, w.edit_acked.get(key), w.edit_sent.get(key))
            else:
                assert key in w.del_sent, "deleted but no delete was sent: %r" % m
        total += len(msgs)
        for u in members[conv]:
            wk = next(x for x in workers if x.user == u)
            missing = set(seqs) - wk.seen[conv]
            assert not missing, "%s never saw seqs %r of %s" % (u, sorted(missing), conv)
    assert not acked, "acknowledged but not stored: %r" % sorted(acked)
    assert total >= 50, "only %d messages in the soak" % total
    print("soak: %d kills, %d messages, %d duplicates on resend, %d reconnects, %d edits, %d deletes"
          % (kills[0], total, sum(w.dups for w in workers), sum(w.reconnects for w in workers),
             sum(len(w.edit_acked) for w in workers), sum(len(w.del_acked) for w in workers)))
