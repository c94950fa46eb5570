import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingQueue } from '../js/lib/pending.js';

test('entries keep creation order and leave on ack', () => {
  let t = 1000;
  const q = new PendingQueue({ now: () => t });
  q.add({ conversation_id: 'c1', client_message_id: 'a', text: 'one' });
  q.add({ conversation_id: 'c2', client_message_id: 'b', text: 'two' });
  q.add({ conversation_id: 'c1', client_message_id: 'c', text: 'three' });
  assert.deepEqual(q.toSend().map((e) => e.client_message_id), ['a', 'b', 'c']);
  assert.deepEqual(q.forConversation('c1').map((e) => e.text), ['one', 'three']);
  assert.equal(q.ack('b').text, 'two');
  assert.equal(q.ack('b'), null, 'a second ack (a duplicate) is not ours any more');
  assert.equal(q.size, 2);
});

test('adding the same client_message_id twice keeps one entry', () => {
  const q = new PendingQueue();
  const e1 = q.add({ conversation_id: 'c1', client_message_id: 'x', text: 'hi' });
  const e2 = q.add({ conversation_id: 'c1', client_message_id: 'x', text: 'hi again' });
  assert.equal(e1, e2);
  assert.equal(q.size, 1);
  assert.throws(() => q.add({ conversation_id: 'c1' }));
});

test('failed entries are kept, not resent, until retried', () => {
  const q = new PendingQueue();
  q.add({ conversation_id: 'c1', client_message_id: 'a', text: 'x' });
  q.fail('a', { code: 'forbidden', message: 'muted' });
  assert.equal(q.get('a').status, 'failed');
  assert.deepEqual(q.toSend(), []);
  q.retry('a');
  assert.deepEqual(q.toSend().map((e) => e.client_message_id), ['a']);
  assert.equal(q.discard('a'), true);
  assert.equal(q.size, 0);
});

test('stuck entries (sending for more than 5 s) are counted once', () => {
  let t = 0;
  const q = new PendingQueue({ now: () => t });
  q.add({ conversation_id: 'c1', client_message_id: 'a', text: 'x' });
  t = 4000;
  q.add({ conversation_id: 'c1', client_message_id: 'b', text: 'y' });
  assert.equal(q.collectStuck(), 0);
  t = 5001;
  assert.equal(q.collectStuck(), 1);
  assert.equal(q.collectStuck(), 0);
  t = 9500;
  assert.equal(q.collectStuck(), 1);
  q.fail('a', { code: 'x' });
  q.retry('a');
  t = 20000;
  assert.equal(q.collectStuck(), 1, 'a retried entry may be stuck again');
});

test('the queue survives a reload through toJSON/load, resent from scratch', () => {
  const q = new PendingQueue();
  q.add({ conversation_id: 'c1', client_message_id: 'a', text: 'x', media_preview: 'blob:1' });
  q.markSent('a');
  const saved = JSON.parse(JSON.stringify(q.toJSON()));
  assert.equal(saved[0].media_preview, undefined);
  const q2 = new PendingQueue();
  q2.load(saved);
  q2.load([{ bogus: true }, null]);
  assert.equal(q2.size, 1);
  assert.equal(q2.get('a').sent_at, 0);
  assert.equal(q2.get('a').attempts, 1);
});
