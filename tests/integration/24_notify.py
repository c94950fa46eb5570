"""24 — offline notifications through notify_webhook: one signed, batched
POST for a member with no online session (none for an online one, the
sender or a conversation muted with conv.notify), retries on 500 until the
receiver accepts, and acks that stay fast while the receiver hangs."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chatclient import Client, check_error, new_id, run

SECRET = "webhook-test-secret-0123456789"


class Receiver:
    """A webhook receiver on loopback: answers `statuses` in turn (then
    200), or sleeps `hang` seconds before answering."""

    def __init__(self, statuses=(), hang=0.0):
        self.requests = []
        self.statuses = list(statuses)
        self.hang = hang
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.requests.append({"headers": dict(self.headers), "body": body,
                                           "at": time.monotonic(), "path": self.path})
                    status = outer.statuses.pop(0) if outer.statuses else 200
                if outer.hang:
                    time.sleep(outer.hang)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            raise AssertionError("expected %d requests, got %r" % (n, self.requests))


def server_with(chatd, rx, core=None, **opts):
    cfg = {"url": rx.url(), "secret": SECRET, "batch_window_ms": 300, "backoff_ms": 100,
           "timeout_ms": 1000}
    cfg.update(opts)
    extra = {"notify": core} if core else {}
    return chatd(plugins={"notify": "webhook"}, notify_webhook=cfg, **extra)


def verify(req):
    """The signature: HMAC-SHA256(secret, "<t>." + body) as v1, t recent."""
    sig = req["headers"]["X-Chatd-Signature"]
    parts = dict(p.split("=", 1) for p in sig.split(","))
    t = int(parts["t"])
    assert abs(time.time() - t) < 60, sig
    want = hmac.new(SECRET.encode(), str(t).encode() + b"." + req["body"],
                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], want), "bad signature %r" % sig
    # a tampered body does not verify
    bad = hmac.new(SECRET.encode(), str(t).encode() + b"." + req["body"] + b" ",
                   hashlib.sha256).hexdigest()
    assert bad != parts["v1"]
    return json.loads(req["body"])


def test_one_batched_signed_notification(chatd):
    rx = Receiver()
    try:
        srv = server_with(chatd, rx, preview="truncated", preview_chars=10)

        async def body():
            a = await Client.login(srv, "alice")
            c = await Client.login(srv, "carol")        # online: nothing
            d = await Client.login(srv, "dave")         # mutes: nothing
            g = await a.group(["bob", "carol", "dave"])  # bob never connects
            r = await d.call({"type": "conv.notify", "id": new_id(), "conversation_id": g,
                              "muted_until_ms": int(time.time() * 1000) + 3600_000},
                             "result")
            assert r["ok"] is True
            bad = await d.request({"type": "conv.notify", "id": new_id(),
                                   "conversation_id": g})
            check_error(bad)
            assert bad["code"] == "bad_request", bad
            await d.close()
            time.sleep(0.3)                             # dave's session is gone
            k1 = await a.send_text(g, "first message of the batch")
            k2 = await a.send_text(g, "second")
            k3 = await a.send_text(g, "third \u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9")
            reqs = rx.wait(1)
            time.sleep(0.8)                             # nothing else comes
            assert len(rx.requests) == 1, rx.requests
            p = verify(reqs[0])
            assert reqs[0]["path"] == "/hook"
            assert p["type"] == "chatd.notification" and p["recipient"] == "bob", p
            assert p["count"] == 3 and len(p["messages"]) == 3, p
            assert [m["seq"] for m in p["messages"]] == [k1["seq"], k2["seq"], k3["seq"]]
            m1, m2, m3 = p["messages"]
            assert m1["conversation_id"] == g and m1["sender_id"] == "alice", m1
            assert m1["text"] == "first mess" and m1["truncated"] is True, m1
            assert m2["text"] == "second" and "truncated" not in m2, m2
            assert m3["text"] == "third \u00e9\u00e9\u00e9\u00e9" and m3["truncated"], m3
            assert reqs[0]["headers"]["X-Chatd-Delivery"] == p["delivery_id"]
            # dave unmutes: the next message reaches him (and bob) again
            d = await Client.login(srv, "dave")
            await d.call({"type": "conv.notify", "id": new_id(), "conversation_id": g,
                          "muted_until_ms": 0}, "result")
            await d.close()
            time.sleep(0.3)
            await c.send_text(g, "hello")
            reqs = rx.wait(3)
            who = sorted(verify(r)["recipient"] for r in reqs[1:])
            assert who == ["bob", "dave"], who
        run(body())
    finally:
        rx.close()


def test_preview_none_and_full(chatd):
    rx = Receiver()
    try:
        srv = server_with(chatd, rx, preview="none", batch_window_ms=0)

        async def body():
            a = await Client.login(srv, "alice")
            g = await a.direct("bob")
            await a.send_text(g, "a secret text")
            p = verify(rx.wait(1)[0])
            assert "text" not in p["messages"][0] and b"secret" not in rx.requests[0]["body"]
        run(body())
    finally:
        rx.close()


def test_retries_on_500_until_accepted(chatd):
    rx = Receiver(statuses=[500, 500])
    try:
        srv = server_with(chatd, rx, batch_window_ms=0, max_attempts=5)

        async def body():
            a = await Client.login(srv, "alice")
            g = await a.direct("bob")
            await a.send_text(g, "ping")
            reqs = rx.wait(3)
            time.sleep(0.5)
            assert len(rx.requests) == 3, rx.requests
            ids = {r["headers"]["X-Chatd-Delivery"] for r in reqs}
            assert len(ids) == 1, ids
            assert [r["headers"]["X-Chatd-Attempt"] for r in reqs] == ["1", "2", "3"]
            for r in reqs:
                verify(r)
            # exponential backoff: the second wait is longer than the first
            assert reqs[2]["at"] - reqs[1]["at"] > reqs[1]["at"] - reqs[0]["at"], reqs
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                m = srv.admin_ok("GET", "/v1/metrics")["metrics"]
                if m.get("notify_webhook.sent_total") == 1:
                    break
                time.sleep(0.1)
            assert m.get("notify_webhook.sent_total") == 1, m
            assert m.get("notify_webhook.failed_attempts_total") == 2, m
            assert m.get("notify_webhook.dropped_total", 0) == 0, m
        run(body())
    finally:
        rx.close()


def test_dropped_after_the_bound(chatd):
    rx = Receiver(statuses=[500] * 10)
    try:
        srv = server_with(chatd, rx, batch_window_ms=0, max_attempts=2)

        async def body():
            a = await Client.login(srv, "alice")
            g = await a.direct("bob")
            await a.send_text(g, "ping")
            rx.wait(2)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                m = srv.admin_ok("GET", "/v1/metrics")["metrics"]
                if m.get("notify_webhook.dropped_total") == 1:
                    break
                time.sleep(0.1)
            assert m.get("notify_webhook.dropped_total") == 1, m
            time.sleep(0.5)
            assert len(rx.requests) == 2, rx.requests
        run(body())
    finally:
        rx.close()


def test_hanging_receiver_does_not_slow_acks(chatd):
    rx = Receiver(hang=3.0)
    try:
        srv = server_with(chatd, rx, batch_window_ms=0, timeout_ms=2000)

        async def body():
            a = await Client.login(srv, "alice")
            g = await a.direct("bob")
            await a.send_text(g, "warm up")
            rx.wait(1)                                # the receiver now hangs
            worst = 0.0
            for i in range(20):
                t0 = time.monotonic()
                await a.send_text(g, "msg %d" % i)
                worst = max(worst, time.monotonic() - t0)
            assert worst < 0.5, "an ack took %.3f s while the receiver hung" % worst
            h = await a.history(g)
            assert len(h["messages"]) == 21
        run(body())
    finally:
        rx.close()


def test_large_groups_are_not_notified(chatd):
    rx = Receiver()
    try:
        srv = server_with(chatd, rx, core={"max_members": 3}, batch_window_ms=0)

        async def body():
            a = await Client.login(srv, "alice")
            big = await a.group(["b1", "b2", "b3"])     # 4 members: over the bound
            small = await a.group(["s1", "s2"])         # 3 members
            await a.send_text(big, "to the big group")
            await a.send_text(small, "to the small group")
            reqs = rx.wait(2)
            time.sleep(0.5)
            who = sorted(verify(r)["recipient"] for r in rx.requests)
            assert who == ["s1", "s2"], who
        run(body())
    finally:
        rx.close()
