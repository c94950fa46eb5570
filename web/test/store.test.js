import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../js/lib/emitter.js';
import { ProtocolError } from '../js/lib/protocol.js';
import { ChatStore } from '../js/lib/store.js';
import { Telemetry } from '../js/lib/telemetry.js';
import { fakeTimers, flush } from './fakes.js';

// A fake connection: requests are answered by handler(frame).
class FakeConn extends Emitter {
  constructor(handler) {
    super();
    this.handler = handler;
    this.isOpen = true;
    this.sent = [];
    this.requests = [];
  }
  start() {}
  stop() {}
  send(f) { this.sent.push(f); return true; }
  async request(f) {
    this.requests.push(f);
    const r = await this.handler(f);
    if (r instanceof Error) throw r;
    return r;
  }
}

const msg = (seq, text, extra = {}) => ({ type: 'message', conversation_id: 'c1', seq,
  message_id: `m${seq}`, sender_id: 'bob', text, ts: seq, ...extra });

function server(messages) {
  // history over a fixed set of stored messages, as the server answers it
  return (f) => {
    if (f.type === 'history') {
      let list = messages.filter((m) => (f.after === undefined || m.seq > f.after) &&
        (f.before === undefined || m.seq < f.before));
      const more = list.length > f.limit;
      list = f.after !== undefined ? list.slice(0, f.limit) : list.slice(-f.limit);
      return { type: 'history', conversation_id: f.conversation_id, messages: list, has_more: more };
    }
    if (f.type === 'conv.info') {
      return { type: 'conversation', conversation: { conversation_id: f.conversation_id, kind: 'direct', peer_id: 'bob', last_seq: 0 } };
    }
    return { type: 'result', ok: true };
  };
}

function setup(handler) {
  const t = fakeTimers();
  const conn = new FakeConn(handler);
  let n = 0;
  const store = new ChatStore({ conn, me: 'alice', setTimer: t.set, clearTimer: t.clear,
    now: () => t.now, newCmid: () => `k${++n}` });
  store.convs.set('c1', { conversation_id: 'c1', kind: 'direct', peer_id: 'bob', last_seq: 1, read_seq: 1 });
  return { t, conn, store };
}

test('a gap in live messages is filled from history; holes stay holes', async () => {
  const stored = [msg(1, 'a'), msg(2, 'b'), msg(4, 'd'), msg(5, 'e')]; // 3 is hidden
  const { conn, store } = setup(server(stored));
  await store.open('c1');
  assert.deepEqual(store.view('c1').messages.map((m) => m.seq), [1, 2, 4, 5]);
  conn.emit('frame', msg(7, 'g'));
  await flush();
  // 6 was missed: history(after 5, before 7) answers nothing → 6 is a hole
  const h = conn.requests.filter((f) => f.type === 'history').at(-1);
  assert.deepEqual([h.after, h.before], [5, 7]);
  assert.deepEqual(store.view('c1').messages.map((m) => m.seq), [1, 2, 4, 5, 7]);
  assert.deepEqual(store.view('c1').holes, [3, 6]);
  // the same message again changes nothing
  conn.emit('frame', msg(7, 'g'));
  await flush();
  assert.deepEqual(store.view('c1').messages.map((m) => m.seq), [1, 2, 4, 5, 7]);
});

test('a send is pending until its ack puts it at its seq; a resend is idempotent', async () => {
  const stored = [msg(1, 'a')];
  let acks = 0;
  const handler = (f) => {
    if (f.type === 'send') {
      acks += 1;
      return acks === 1 ? new ProtocolError('network', 'gone') // the link dropped
        : { type: 'ack', conversation_id: 'c1', client_message_id: f.client_message_id, seq: 2, message_id: 'm2', ts: 9, duplicate: acks > 2 };
    }
    return server(stored)(f);
  };
  const { t, conn, store } = setup(handler);
  await store.open('c1');
  store.send('c1', { text: 'hello' });
  await flush();
  assert.equal(store.view('c1').pending.length, 1, 'still pending after the network error');
  assert.equal(store.view('c1').pending[0].status, 'sending');
  await t.advance(2000); // the retry tick
  store._onTick();
  await flush();
  const sends = conn.requests.filter((f) => f.type === 'send');
  assert.ok(sends.length >= 2);
  assert.ok(sends.every((f) => f.client_message_id === 'k1'), 'the same client_message_id');
  assert.equal(store.view('c1').pending.length, 0);
  const shown = store.view('c1').messages;
  assert.deepEqual(shown.map((m) => [m.seq, m.text, m.sender_id]), [[1, 'a', 'bob'], [2, 'hello', 'alice']]);
  assert.equal(store.convs.get('c1').read_seq, 2, 'sending moves the own read cursor');
});

test('a refused send is marked failed and counted in telemetry', async () => {
  const posted = [];
  const handler = (f) => (f.type === 'send' ? new ProtocolError('forbidden', 'muted')
    : server([msg(1, 'a')])(f));
  const { store } = setup(handler);
  store.telemetry = new Telemetry({ post: async (b) => { posted.push(b); return true; } });
  await store.open('c1');
  store.send('c1', { text: 'x' });
  await flush();
  assert.equal(store.view('c1').pending[0].status, 'failed');
  await store.telemetry.flush();
  assert.deepEqual(posted[0].errors.map((e) => e.code), ['forbidden']);
});

test('edits, deletes and deletes for me arrive as message_update', async () => {
  const { conn, store } = setup(server([msg(1, 'a'), msg(2, 'b'), msg(3, 'c')]));
  await store.open('c1');
  conn.emit('frame', { type: 'message_update', conversation_id: 'c1', seq: 1, kind: 'edited', text: 'A', at: 5 });
  conn.emit('frame', { type: 'message_update', conversation_id: 'c1', seq: 2, kind: 'deleted', deleted: true });
  conn.emit('frame', { type: 'message_update', conversation_id: 'c1', seq: 3, kind: 'deleted', scope: 'me' });
  const v = store.view('c1');
  assert.deepEqual(v.messages.map((m) => [m.seq, m.text, !!m.deleted]), [[1, 'A', false], [2, undefined, true]]);
});

test('reading the open conversation sends read once per new seq', async () => {
  const { conn, store } = setup(server([msg(1, 'a'), msg(2, 'b')]));
  store.convs.get('c1').last_seq = 2;
  await store.open('c1');
  assert.deepEqual(conn.sent.filter((f) => f.type === 'read').map((f) => f.seq), [2]);
  store.markRead('c1');
  assert.equal(conn.sent.filter((f) => f.type === 'read').length, 1);
  assert.equal(store.convs.get('c1').unread, 0);
  store.setVisible(false);
  conn.emit('frame', msg(3, 'c'));
  await flush();
  assert.equal(store.convs.get('c1').unread, 1);
  store.setVisible(true);
  assert.deepEqual(conn.sent.filter((f) => f.type === 'read').map((f) => f.seq), [2, 3]);
});

test('typing sets expire without a stop', async () => {
  const { t, conn, store } = setup(server([]));
  conn.emit('frame', { type: 'typing', conversation_id: 'c1', users: ['bob', 'alice'], count: 2 });
  assert.deepEqual(store.typing.get('c1'), { users: ['bob'], count: 2 });
  await t.advance(8001);
  assert.equal(store.typing.get('c1'), undefined);
});

test('a new send never overtakes an older one waiting for a retry', async () => {
  let up = false;
  const order = [];
  const handler = (f) => {
    if (f.type === 'send') {
      if (!up) return new ProtocolError('network', 'gone');
      order.push(f.client_message_id);
      return { type: 'ack', conversation_id: 'c1', client_message_id: f.client_message_id,
        seq: order.length + 1, message_id: `m${order.length + 1}`, ts: 9 };
    }
    return server([msg(1, 'a')])(f);
  };
  const { conn, store } = setup(handler);
  await store.open('c1');
  store.send('c1', { text: 'first' });   // lost with the link
  await flush();
  up = true;                              // back: a new send comes first
  store.send('c1', { text: 'second' });
  await flush();
  assert.deepEqual(order, [], 'second waits for first');
  store._resendPending();                 // what a reconnect or the tick does
  await flush();
  assert.deepEqual(order, ['k1', 'k2']);
  assert.deepEqual(store.view('c1').messages.map((m) => m.text), ['a', 'first', 'second']);
  assert.equal(conn.requests.filter((f) => f.type === 'send').length, 3);
});
