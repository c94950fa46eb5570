// resilience.test.js — the network of one window cut while both send, and
// chatd killed and restarted while both send: both windows end with the
// same messages in the same order, each exactly once.  Also: an expired
// token is refreshed on token_expired, and the client's telemetry reaches
// the server's metrics.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Chatd, launch, openDirect, sendText, shot, shownTexts, signIn } from '../lib/harness.js';

// Both pages show exactly `expected` (as sets), with nothing pending, and
// the same order; returns the common list.
async function converge(pages, expected, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let lists;
  for (;;) {
    lists = await Promise.all(pages.map(shownTexts));
    const pending = await Promise.all(pages.map((p) => p.locator('li.msg.pending').count()));
    const done = pending.every((n) => n === 0) &&
      lists.every((l) => l.length === expected.length && expected.every((t) => l.includes(t)));
    if (done) break;
    if (Date.now() > deadline) {
      assert.fail(`no convergence in ${timeoutMs} ms: ${JSON.stringify(lists)} pending ${pending}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const l of lists) assert.equal(new Set(l).size, l.length, `duplicates: ${JSON.stringify(l)}`);
  for (const l of lists.slice(1)) assert.deepEqual(l, lists[0], 'same order in every window');
  return lists[0];
}

async function sequential(page) {
  const seqs = await page.locator('.msg-list > li.msg[data-seq]').evaluateAll(
    (els) => els.map((e) => Number(e.dataset.seq)));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'shown in seq order');
  return seqs;
}

describe('reconnects', { timeout: 150000 }, () => {
  let srv;
  let browser;
  let a;
  let b;

  before(async () => {
    srv = await new Chatd().start();
    browser = await launch();
    a = await signIn(browser, srv, 'alice');
    b = await signIn(browser, srv, 'bob');
    await openDirect(a.page, 'bob');
    await sendText(a.page, 'before');
    await b.page.locator('.conv[data-title="alice"]').click();
    await b.page.locator('li.msg[data-seq="1"]').waitFor();
  });

  after(async () => {
    await browser?.close();
    const code = await srv?.stop();
    assert.equal(code, 0, srv?.log());
    srv?.cleanup();
  });

  test('one window offline while both send', async () => {
    await a.context.setOffline(true);
    await a.page.locator('.conn[data-state=waiting]').waitFor();
    for (const t of ['a-off-1', 'a-off-2', 'a-off-3']) await sendText(a.page, t);
    for (const t of ['b-on-1', 'b-on-2']) await sendText(b.page, t);
    await b.page.locator('li.msg[data-seq="3"]').waitFor();
    assert.equal(await a.page.locator('li.msg.pending').count(), 3, 'queued while offline');
    await shot(a.page, '11-offline-pending');
    await a.context.setOffline(false);
    await a.page.locator('.conn[data-state=open]').waitFor({ timeout: 15000 });
    const list = await converge([a.page, b.page],
      ['before', 'a-off-1', 'a-off-2', 'a-off-3', 'b-on-1', 'b-on-2']);
    // each sender's own messages keep their order
    const pos = (t) => list.indexOf(t);
    assert.ok(pos('a-off-1') < pos('a-off-2') && pos('a-off-2') < pos('a-off-3'), list);
    assert.ok(pos('b-on-1') < pos('b-on-2'), list);
    await sequential(a.page);
    await sequential(b.page);
  });

  test('chatd killed and restarted while both send', async () => {
    const sent = [];
    const sender = async (page, who, n) => {
      for (let i = 1; i <= n; i++) {
        const t = `${who}-k-${i}`;
        sent.push(t);
        await sendText(page, t);
        await page.waitForTimeout(120);
      }
    };
    const both = Promise.all([sender(a.page, 'a', 8), sender(b.page, 'b', 8)]);
    await a.page.waitForTimeout(400);
    await srv.restart(); // SIGKILL, then start again on the same port and database
    await both;
    await a.page.locator('.conn[data-state=open]').waitFor({ timeout: 20000 });
    await b.page.locator('.conn[data-state=open]').waitFor({ timeout: 20000 });
    const before = ['before', 'a-off-1', 'a-off-2', 'a-off-3', 'b-on-1', 'b-on-2'];
    const list = await converge([a.page, b.page], [...before, ...sent], 45000);
    for (const who of ['a', 'b']) {
      const mine = list.filter((t) => t.startsWith(`${who}-k-`));
      assert.deepEqual(mine, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `${who}-k-${i}`), 'own order kept');
    }
    await sequential(a.page);
    await shot(b.page, '12-after-restart');
  });

  test('a reopened page shows the cached conversations at once, then syncs', async () => {
    const shown = await shownTexts(a.page);
    // A second page of alice's (same IndexedDB) whose WebSocket never gets
    // an answer: everything it shows comes from the cache.
    const p2 = await a.context.newPage();
    await p2.routeWebSocket(/\/ws$/, () => {});
    await p2.goto(srv.url);
    await p2.locator('.conv[data-title="bob"]').click();
    await p2.locator('li.msg .text', { hasText: shown[shown.length - 1] }).waitFor();
    assert.deepEqual(await shownTexts(p2), shown.slice(-50));
    assert.notEqual(await p2.locator('.conn').getAttribute('data-state'), 'open');
    await shot(p2, '12b-from-the-cache');
    await p2.close();
    // and a page that can connect syncs on top of it
    const p3 = await a.context.newPage();
    await p3.goto(srv.url);
    await p3.locator('.conn[data-state=open]').waitFor();
    await sendText(b.page, 'after the cache');
    await p3.locator('.conv[data-title="bob"]').click();
    await p3.locator('li.msg .text', { hasText: 'after the cache' }).waitFor();
    await p3.close();
  });

  test('telemetry: the reconnects reach the server metrics', async () => {
    // The client reports every 30 s on its own; on a slow machine that
    // report may already have carried the reconnects, leaving nothing to
    // flush (false).  Either way they must reach the server's metrics.
    const flushed = await a.page.evaluate(() => window.chatd.telemetry.flush());
    const pending = await a.page.evaluate(() => !window.chatd.telemetry.empty);
    assert.ok(flushed || !pending, 'nothing left unreported');
    let m = await srv.metrics();
    for (let i = 0; i < 50 && !(m.chatd_client_reconnects_total >= 1); i++) {
      await a.page.waitForTimeout(100); // a report of the client's own may be on its way
      m = await srv.metrics();
    }
    assert.ok(m.chatd_client_reconnects_total >= 1, JSON.stringify(m.chatd_client_reconnects_total));
    assert.ok(m['chatd_client_telemetry_reports_total{result="accepted"}'] >= 1);
  });
});

describe('token refresh', { timeout: 60000 }, () => {
  test('an expired dev token is refreshed on token_expired and the message goes', async () => {
    const srv = await new Chatd({ devLoginTtl: 3 }).start();
    const browser = await launch();
    try {
      const a = await signIn(browser, srv, 'alice');
      const b = await signIn(browser, srv, 'bob');
      await openDirect(a.page, 'bob');
      const tok1 = await a.page.evaluate(() => JSON.parse(localStorage.getItem('chatd.auth')).token);
      await a.page.waitForTimeout(4000); // the token is past its exp now
      await sendText(a.page, 'after expiry');
      await b.page.locator('.conv[data-title="alice"]').click();
      await b.page.locator('li.msg .text', { hasText: 'after expiry' }).waitFor();
      const tok2 = await a.page.evaluate(() => JSON.parse(localStorage.getItem('chatd.auth')).token);
      assert.notEqual(tok1, tok2, 'a new token was fetched');
      assert.equal(await a.page.locator('li.msg.pending').count(), 0);
    } finally {
      await browser.close();
      await srv.stop();
      srv.cleanup();
    }
  });
});
