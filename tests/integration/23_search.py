"""23 — search (protocol extension): words, phrases and prefixes across the
user's conversations, newest first, with highlighted snippets; exactly what
history shows that user (membership, removal, delete for everyone and for
me, edits, shadow-bans); hostile queries are words or bad_request, never an
SQL or FTS5 error; pages with `next`."""

import asyncio

from chatclient import Client, check_error, new_id, run


async def search(c, query, **kw):
    f = {"type": "search", "id": new_id("s"), "query": query}
    f.update(kw)
    return await c.call(f, "search")


def hits(reply):
    return [(m["conversation_id"], m["seq"]) for m in reply["results"]]


def test_search_words_phrases_prefix(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        g = await a.group(["bob"])
        d = await a.direct("dave")
        k1 = await a.send_text(g, "The quick brown fox")
        k2 = await b.send_text(g, "lazy dogs sleep all day")
        k3 = await a.send_text(d, "quick lunch tomorrow?")
        r = await search(a, "quick")
        assert hits(r) == [(d, k3["seq"]), (g, k1["seq"])], r
        assert r["next"] is None, r
        m = r["results"][1]
        assert m["text"] == "The quick brown fox" and m["sender_id"] == "alice", m
        assert "\u0002quick\u0003" in m["snippet"], m
        assert hits(await search(a, '"brown fox"')) == [(g, k1["seq"])]
        assert hits(await search(a, '"fox brown"')) == []
        assert hits(await search(a, "sle*")) == [(g, k2["seq"])]
        assert hits(await search(a, "quick fox")) == [(g, k1["seq"])]
        assert hits(await search(a, "quick", conversation_id=d)) == [(d, k3["seq"])]
        # bob is not in the direct conversation.
        assert hits(await search(b, "quick")) == [(g, k1["seq"])]
        # A conversation the user is not in, or that does not exist: nothing.
        assert hits(await search(b, "quick", conversation_id=d)) == []
    run(body())


def test_search_hostile_queries(server):
    async def body():
        a = await Client.login(server, "alice")
        g = await a.group(["bob"])
        k = await a.send_text(g, "select star from users")
        for q in ["'; DROP TABLE messages; --", "a OR b", "NEAR(select users)",
                  "body:select", "x' OR '1'='1", "-select", "select^", "\u00e9t\u00e9 \u2603"]:
            r = await search(a, q)
            assert isinstance(r["results"], list), (q, r)
        assert hits(await search(a, "(select) [users]")) == [(g, k["seq"])]
        for q, why in [("", "no words"), ("!!!", "no words"), ('"open', "unterminated"),
                       ("*", "follow a word"), ("x" * 65, "longer than 64"),
                       ("w " * 17, "too many words"), ("a" * 300, "longer than 256")]:
            r = await a.request({"type": "search", "id": new_id("s"), "query": q})
            check_error(r)
            assert r["code"] == "bad_request" and why in r["message"], (q, r)
        for f in [{}, {"query": 5}, {"query": "x", "limit": 0},
                  {"query": "x", "before": "1"}, {"query": "x", "conversation_id": ""}]:
            r = await a.request(dict(f, type="search", id=new_id("s")))
            check_error(r)
            assert r["code"] == "bad_request", (f, r)
        # The tables are all still there.
        assert hits(await search(a, "users")) == [(g, k["seq"])]
    run(body())


def test_search_visibility(server):
    async def body():
        a = await Client.login(server, "alice")
        b = await Client.login(server, "bob")
        c = await Client.login(server, "carol")
        m = await Client.login(server, "mallory")
        g = await a.group(["bob", "carol", "mallory"])
        k1 = await a.send_text(g, "otter one")
        k2 = await b.send_text(g, "otter two")
        k3 = await a.send_text(g, "otter three")
        # delete for everyone, delete for me
        await a.call({"type": "delete", "id": new_id(), "conversation_id": g,
                      "seq": k1["seq"], "scope": "everyone"}, "result")
        await c.call({"type": "delete", "id": new_id(), "conversation_id": g,
                      "seq": k2["seq"], "scope": "me"}, "result")
        assert hits(await search(b, "otter")) == [(g, k3["seq"]), (g, k2["seq"])]
        assert hits(await search(c, "otter")) == [(g, k3["seq"])]
        # edit: old words gone, new ones found
        await b.call({"type": "edit", "id": new_id(), "conversation_id": g,
                      "seq": k2["seq"], "text": "beaver two"}, "result")
        assert hits(await search(a, "otter")) == [(g, k3["seq"])]
        assert hits(await search(a, "beaver")) == [(g, k2["seq"])]
        # shadow-ban: mallory's own messages are hers alone
        server.admin_ok("POST", "/v1/users/mallory/sanctions", {"kind": "shadow"})
        k4 = await m.send_text(g, "otter spam")
        assert hits(await search(m, "spam")) == [(g, k4["seq"])]
        for s in (a, b, c):
            assert hits(await search(s, "spam")) == [], s.name
        # removal: a removed member finds nothing of the conversation
        await a.call({"type": "conv.remove", "id": new_id(), "conversation_id": g,
                      "user_id": "carol"}, "result")
        assert hits(await search(c, "otter")) == []
        assert hits(await search(c, "otter", conversation_id=g)) == []
    run(body())


def test_search_pages(server):
    async def body():
        a = await Client.login(server, "alice")
        g = await a.group(["bob"])
        seqs = []
        for i in range(23):
            seqs.append((await a.send_text(g, "walrus %d" % i))["seq"])
        got, before, pages = [], None, 0
        while True:
            kw = {"limit": 10}
            if before:
                kw["before"] = before
            r = await search(a, "walrus", **kw)
            got += [s for _, s in hits(r)]
            pages += 1
            before = r["next"]
            if before is None:
                break
            assert isinstance(before, int) and pages < 5, r
        assert pages == 3 and got == list(reversed(seqs)), got
        r = await search(a, "walrus", limit=1000)   # capped at 50
        assert len(r["results"]) == 23 and r["next"] is None
    run(body())
