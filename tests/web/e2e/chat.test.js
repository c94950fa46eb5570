// chat.test.js — two browser contexts as two users: a 1:1 chat and a
// group, typing and presence in the other window, replies, edits and
// deletes, "seen by", reports and the staff badge; screenshots of the main
// views for a person to look at.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Chatd, launch, openDirect, sendText, shot, shownSeqs, shownTexts, signIn,
} from '../lib/harness.js';

describe('chat in two windows', { timeout: 120000 }, () => {
  let srv;
  let browser;
  let alice;
  let bob;

  before(async () => {
    srv = await new Chatd().start();
    browser = await launch();
    const s = await signIn(browser, srv, 'alice');
    alice = s.page;
    await shot(alice, '01-empty');
    bob = (await signIn(browser, srv, 'bob')).page;
  });

  after(async () => {
    await browser?.close();
    const code = await srv?.stop();
    assert.equal(code, 0, `chatd exit ${code}\n${srv?.log()}`);
    for (const p of [alice, bob]) assert.deepEqual(p?.errors || [], [], 'no page errors');
    srv?.cleanup();
  });

  test('sign-in page offers the development sign-in', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(srv.url);
    await p.getByRole('heading', { name: 'Development sign-in' }).waitFor();
    await p.getByRole('heading', { name: 'Sign in with a token' }).waitFor();
    await shot(p, '00-sign-in');
    await ctx.close();
  });

  test('1:1: messages both ways, presence and typing in the other window', async () => {
    await openDirect(alice, 'bob');
    // bob is online: alice's list shows a green dot for him
    await alice.locator('.conv[data-title="bob"] .dot[data-presence=online]').waitFor();
    await sendText(alice, 'hello bob');
    await alice.locator('li.msg[data-seq="1"]').waitFor();
    // bob sees the new conversation with one unread message
    const conv = bob.locator('.conv[data-title="alice"]');
    await conv.locator('.unread-badge', { hasText: '1' }).waitFor();
    await conv.click();
    await bob.locator('li.msg[data-seq="1"] .text', { hasText: 'hello bob' }).waitFor();
    // typing: bob types, alice sees it
    await bob.getByLabel('Message', { exact: true }).pressSequentially('hi al', { delay: 30 });
    await alice.locator('.typing', { hasText: 'bob is typing…' }).waitFor();
    await shot(alice, '02-typing');
    await bob.getByLabel('Message', { exact: true }).press('End');
    await bob.getByLabel('Message', { exact: true }).pressSequentially('ice');
    await bob.getByLabel('Message', { exact: true }).press('Enter');
    await alice.locator('li.msg[data-seq="2"] .text', { hasText: 'hi alice' }).waitFor();
    await alice.locator('.typing:empty').waitFor();
    // read receipts: bob read alice's message
    await sendText(alice, 'did you see this?');
    await bob.locator('li.msg[data-seq="3"]').waitFor();
    await alice.locator('.seen', { hasText: 'Seen by 1' }).waitFor();
    assert.deepEqual(await shownTexts(alice), ['hello bob', 'hi alice', 'did you see this?']);
    assert.deepEqual(await shownTexts(bob), await shownTexts(alice));
    await shot(alice, '03-direct-chat');
    await shot(bob, '04-direct-chat-bob');
  });

  test('presence: bob leaves, alice sees him offline; he comes back', async () => {
    const ctx = bob.context();
    await ctx.close();
    await alice.locator('.conv[data-title="bob"] .dot[data-presence=offline]').waitFor({ timeout: 8000 });
    await alice.locator('.chat-sub', { hasText: /offline|last seen/ }).waitFor();
    bob = (await signIn(browser, srv, 'bob')).page;
    await alice.locator('.conv[data-title="bob"] .dot[data-presence=online]').waitFor();
    // the reopened page shows the conversation (cache, then sync)
    await bob.locator('.conv[data-title="alice"]').click();
    await bob.locator('li.msg[data-seq="3"]').waitFor();
  });

  test('reply, edit, delete for everyone', async () => {
    const m2 = alice.locator('li.msg[data-seq="2"]');
    await m2.getByRole('button', { name: /Actions for the message from bob/ }).click();
    await m2.getByRole('button', { name: 'Reply' }).click();
    await sendText(alice, 'a reply');
    const r = alice.locator('li.msg[data-seq="4"]');
    await r.locator('.reply-quote', { hasText: 'hi alice' }).waitFor();
    await bob.locator('li.msg[data-seq="4"] .reply-quote', { hasText: 'hi alice' }).waitFor();
    // edit her own message
    await r.getByRole('button', { name: /Actions for the message from you/ }).click();
    await r.getByRole('button', { name: 'Edit' }).click();
    await alice.getByLabel('Message', { exact: true }).fill('an edited reply');
    await alice.getByLabel('Message', { exact: true }).press('Enter');
    await bob.locator('li.msg[data-seq="4"] .text', { hasText: 'an edited reply' }).waitFor();
    await bob.locator('li.msg[data-seq="4"] .edited').waitFor();
    // delete for everyone
    alice.once('dialog', (d) => d.accept());
    const m3 = alice.locator('li.msg[data-seq="3"]');
    await m3.getByRole('button', { name: /Actions/ }).click();
    await m3.getByRole('button', { name: 'Delete for everyone' }).click();
    await bob.locator('li.msg[data-seq="3"].deleted').waitFor();
    await shot(bob, '05-reply-edit-delete');
  });

  test('report a message', async () => {
    const m = bob.locator('li.msg[data-seq="1"]');
    await m.getByRole('button', { name: /Actions/ }).click();
    await m.getByRole('button', { name: 'Report' }).click();
    await bob.getByLabel('Reason').selectOption('spam');
    await bob.getByLabel(/Note for the moderators/).fill('testing reports');
    await shot(bob, '06-report-dialog');
    await bob.getByRole('button', { name: 'Report', exact: true }).click();
    await bob.locator('.toast', { hasText: 'Reported to the moderators' }).waitFor();
    const q = await fetch(`http://127.0.0.1:${srv.adminPort}/v1/queue?kind=report`, {
      headers: { Authorization: `Bearer ${await modToken(srv)}` },
    }).then((r) => r.json());
    assert.equal(q.items.length, 1);
  });

  test('group: create, both chat, members with roles and actions', async () => {
    await alice.getByRole('button', { name: 'New conversation' }).click();
    await alice.getByLabel('Title').fill('team');
    await alice.getByLabel('Members').fill('bob, carol');
    await alice.getByRole('button', { name: 'Create group' }).click();
    await alice.locator('.chat-title', { hasText: 'team' }).waitFor();
    await sendText(alice, 'welcome to the team');
    await bob.locator('.conv[data-title="team"]').click();
    await bob.locator('li.msg[data-seq="1"] .text', { hasText: 'welcome to the team' }).waitFor();
    await sendText(bob, 'thanks!');
    await sendText(alice, 'carol joins later');
    await alice.locator('li.msg[data-seq="3"]').waitFor();
    await bob.locator('li.msg[data-seq="3"]').waitFor();
    assert.deepEqual(await shownTexts(bob), ['welcome to the team', 'thanks!', 'carol joins later']);
    assert.deepEqual(await shownTexts(alice), await shownTexts(bob));
    // members: alice (owner) may change roles and remove; bob (member) may not
    await alice.getByRole('button', { name: 'Members' }).click();
    const carol = alice.locator('.member[data-user="carol"]');
    await carol.locator('.role', { hasText: 'member' }).waitFor();
    await carol.getByLabel('Role of carol').selectOption('moderator');
    await carol.locator('.role', { hasText: 'moderator' }).waitFor();
    await shot(alice, '07-group-members');
    await bob.getByRole('button', { name: 'Members' }).click();
    await bob.locator('.member[data-user="carol"] .role', { hasText: 'moderator' }).waitFor();
    assert.equal(await bob.locator('.member-actions').count(), 0, 'a member has no management actions');
    assert.equal(await bob.getByLabel('Add members').count(), 0);
    await shot(bob, '08-group-member-view');
    await bob.getByRole('button', { name: 'Close the member list' }).click();
    // typing in the group: the server tells one change per typist every
    // 2 s, so the start after bob's last send may be held back that long
    await bob.waitForTimeout(2100);
    await bob.getByLabel('Message', { exact: true }).pressSequentially('hmm', { delay: 100 });
    await alice.locator('.typing', { hasText: 'bob is typing…' }).waitFor();
  });

  test('a phone-sized screen shows the list, then the conversation', async () => {
    const s = await signIn(browser, srv, 'carol', { viewport: { width: 390, height: 760 } });
    const p = s.page;
    await p.locator('.conv[data-title="team"]').waitFor();
    await shot(p, '09-phone-list');
    await p.locator('.conv[data-title="team"]').click();
    await p.locator('li.msg[data-seq="3"]').waitFor();
    assert.equal(await p.locator('.sidebar').isVisible(), false);
    await shot(p, '10-phone-chat');
    await p.getByRole('button', { name: 'Back to the conversations' }).click();
    await p.locator('.sidebar').waitFor();
    assert.deepEqual(p.errors, []);
    await s.context.close();
  });

  test('keyboard: the composer, send with Enter, new line with Shift+Enter', async () => {
    await alice.locator('.conv[data-title="bob"]').click();
    const box = alice.getByLabel('Message', { exact: true });
    await box.focus();
    await alice.keyboard.type('line one');
    await alice.keyboard.press('Shift+Enter');
    await alice.keyboard.type('line two');
    await alice.keyboard.press('Enter');
    await bob.locator('.conv[data-title="alice"]').click();
    await bob.locator('li.msg .text', { hasText: 'line one\nline two' }).waitFor();
    const seqs = await shownSeqs(bob);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  });
});

describe('history', { timeout: 90000 }, () => {
  test('scrolling back loads older pages until the first message', async () => {
    const srv = await new Chatd().start();
    const browser = await launch();
    try {
      const a = (await signIn(browser, srv, 'alice')).page;
      await openDirect(a, 'bob');
      // 120 messages through the client's own send path
      await a.evaluate(() => {
        const s = window.chatd.store;
        for (let i = 1; i <= 120; i++) s.send(s.current, { text: `n${i}` });
      });
      await a.locator('li.msg[data-seq="120"]').waitFor({ timeout: 20000 });
      const b = (await signIn(browser, srv, 'bob')).page;
      await b.locator('.conv[data-title="alice"]').click();
      await b.locator('li.msg[data-seq="120"]').waitFor();
      assert.equal(await b.locator('li.msg[data-seq]').count(), 50, 'the latest page first');
      for (let i = 0; i < 10 && !(await b.locator('li.msg[data-seq="1"]').count()); i++) {
        await b.locator('.messages').evaluate((el) => { el.scrollTop = 0; });
        await b.waitForTimeout(300);
      }
      await b.locator('li.msg[data-seq="1"]').waitFor();
      const texts = await shownTexts(b);
      assert.deepEqual(texts, Array.from({ length: 120 }, (_, i) => `n${i + 1}`));
      assert.equal(await b.locator('.load-older').isVisible(), false, 'nothing older to load');
    } finally {
      await browser.close();
      await srv.stop();
      srv.cleanup();
    }
  });
});

async function modToken(srv) {
  const r = await fetch(`${srv.url}auth/dev-login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: 'mod', roles: ['moderator'] }),
  });
  return (await r.json()).token;
}
