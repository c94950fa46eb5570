// media_staff.test.js — an image upload (progress, then the thumbnail in
// the other window), and what a moderator sees: a "held for review" badge
// where a held message leaves a gap, while members see nothing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Chatd, launch, openDirect, sendText, shot, shownTexts, signIn } from '../lib/harness.js';
import { gradientPng } from '../lib/png.js';

describe('media and moderation', { timeout: 120000 }, () => {
  let srv;
  let browser;

  before(async () => {
    // wordfilter holds messages with a listed word ("darn") for review
    srv = await new Chatd({ rules: '{ { name = "wordfilter", options = { action = "hold" } } }' }).start();
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    const code = await srv?.stop();
    assert.equal(code, 0, srv?.log());
    srv?.cleanup();
  });

  test('an image upload shows its thumbnail on the other side', async () => {
    const a = (await signIn(browser, srv, 'alice')).page;
    const b = (await signIn(browser, srv, 'bob')).page;
    await openDirect(a, 'bob');
    await sendText(a, 'a picture follows');
    await a.getByLabel('Message', { exact: true }).fill('the gradient');
    await a.locator('#attach').setInputFiles({ name: 'gradient.png', mimeType: 'image/png',
      buffer: gradientPng() });
    await a.locator('li.msg[data-seq="2"] img.thumb').waitFor();
    await b.locator('.conv[data-title="alice"]').click();
    const img = b.locator('li.msg[data-seq="2"] img.thumb');
    await img.waitFor();
    // the thumbnail the server made, loaded for real
    await b.waitForFunction(() => {
      const i = document.querySelector('li.msg[data-seq="2"] img.thumb');
      return i && i.complete && i.naturalWidth > 0;
    });
    const src = await img.getAttribute('src');
    assert.match(src, /^\/media\//);
    const w = await img.evaluate((i) => i.naturalWidth);
    assert.ok(w > 0 && w <= 320, `thumbnail width ${w}`);
    assert.equal(await b.locator('li.msg[data-seq="2"] .text').textContent(), 'the gradient');
    // the link opens the full image
    const href = await b.locator('li.msg[data-seq="2"] a.media').getAttribute('href');
    const r = await fetch(new URL(href, srv.url));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    await shot(b, '13-image-thumbnail');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });

  test('a held message: moderators see the badge, members a gapless chat', async () => {
    const a = (await signIn(browser, srv, 'alice')).page;
    const b = (await signIn(browser, srv, 'bob')).page;
    const m = (await signIn(browser, srv, 'mod1', { moderator: true })).page;
    await a.getByRole('button', { name: 'New conversation' }).click();
    await a.getByLabel('Title').fill('moderated');
    await a.getByLabel('Members').fill('bob, mod1');
    await a.getByRole('button', { name: 'Create group' }).click();
    await a.locator('.chat-title', { hasText: 'moderated' }).waitFor();
    await sendText(a, 'first');
    await a.locator('li.msg[data-seq="1"]').waitFor();
    await sendText(a, 'darn it'); // held for review: acked to alice like any message
    await a.locator('li.msg[data-seq="2"]').waitFor();
    await sendText(a, 'third');
    await a.locator('li.msg[data-seq="3"]').waitFor();
    for (const p of [b, m]) {
      await p.locator('.conv[data-title="moderated"]').click();
      await p.locator('li.msg[data-seq="3"]').waitFor();
      assert.deepEqual(await shownTexts(p), ['first', 'third']);
    }
    await m.locator('li.hole .badge.held', { hasText: 'held for review' }).waitFor();
    assert.equal(await b.locator('li.hole').count(), 0, 'members see no badge');
    assert.deepEqual(await shownTexts(a), ['first', 'darn it', 'third']);
    await shot(m, '14-moderator-held-badge');
  });
});
