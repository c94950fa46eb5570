import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../js/lib/backoff.js';
import { Connection } from '../js/lib/connection.js';
import { fakeSockets, fakeTimers, flush } from './fakes.js';

function setup({ tokens = ['t1', 't2', 't3'] } = {}) {
  const t = fakeTimers();
  const s = fakeSockets();
  let n = 0;
  const asked = [];
  const conn = new Connection({
    url: 'ws://x/ws',
    getToken: async ({ refresh }) => {
      asked.push(refresh);
      if (refresh) n += 1;
      return tokens[Math.min(n, tokens.length - 1)];
    },
    WebSocketImpl: s.FakeWS,
    backoff: new Backoff({ baseMs: 1000, maxMs: 8000, random: () => 1 }),
    setTimer: t.set, clearTimer: t.clear, requestTimeoutMs: 5000, pingEveryMs: 0,
    newId: (() => { let i = 0; return () => `r${++i}`; })(),
  });
  const events = [];
  conn.on('state', (st, d) => events.push([st, d.retryInMs]));
  conn.on('ready', (r) => events.push(['ready', r.reconnect]));
  return { t, s, conn, events, asked };
}

async function openUp(s) {
  await flush();
  const ws = s.current;
  ws.open();
  const auth = ws.last('auth');
  ws.push({ type: 'ready', id: auth.id, user_id: 'alice', session_id: 's1' });
  return ws;
}

test('signs in with a first auth frame and matches replies by id', async () => {
  const { s, conn, events } = setup();
  conn.start();
  const ws = await openUp(s);
  assert.equal(ws.sent[0].type, 'auth');
  assert.equal(ws.sent[0].token, 't1');
  assert.deepEqual(events.slice(-2), [['open', undefined], ['ready', false]]);
  const p = conn.request({ type: 'conv.list' });
  const q = conn.request({ type: 'history', conversation_id: 'c' });
  ws.reply('history', { type: 'history', messages: [] });
  ws.reply('conv.list', { type: 'conversations', items: [1] });
  assert.deepEqual((await p).items, [1]);
  assert.equal((await q).type, 'history');
  const pushed = [];
  conn.on('frame', (f) => pushed.push(f.type));
  ws.push({ type: 'message', conversation_id: 'c', seq: 1 });
  assert.deepEqual(pushed, ['message']);
});

test('an error reply rejects with the protocol code; a request times out', async () => {
  const { s, t, conn } = setup();
  conn.start();
  const ws = await openUp(s);
  const p = conn.request({ type: 'send' });
  ws.reply('send', { type: 'error', code: 'forbidden', message: 'muted', retryable: false });
  await assert.rejects(p, (e) => e.code === 'forbidden' && e.message === 'muted');
  const q = assert.rejects(conn.request({ type: 'conv.list' }), (e) => e.code === 'timeout');
  await t.advance(5001);
  await q;
});

test('token_expired: a fresh token on the same connection, then the command again', async () => {
  const { s, conn, asked } = setup();
  conn.start();
  const ws = await openUp(s);
  const p = conn.request({ type: 'send', text: 'x' });
  const first = ws.reply('send', { type: 'error', code: 'token_expired', message: 'expired' });
  await flush();
  const auth = ws.last('auth');
  assert.equal(auth.token, 't2');
  assert.deepEqual(asked, [false, true]);
  ws.push({ type: 'ready', id: auth.id, user_id: 'alice' });
  await flush();
  const again = ws.last('send');
  assert.equal(again.id, first.id);
  assert.equal(ws.sent.filter((f) => f.type === 'send').length, 2);
  ws.push({ type: 'ack', id: again.id, seq: 4 });
  assert.equal((await p).seq, 4);
});

test('a dropped connection fails what is in flight and reconnects with backoff', async () => {
  const { s, t, conn, events } = setup();
  conn.start();
  const ws = await openUp(s);
  const p = conn.request({ type: 'conv.list' });
  ws.drop(1006);
  await assert.rejects(p, (e) => e.code === 'network');
  assert.deepEqual(events.at(-1), ['waiting', 1000]);
  assert.equal(s.all.length, 1);
  await t.advance(999);
  assert.equal(s.all.length, 1);
  await t.advance(1);
  assert.equal(s.all.length, 2);
  s.current.drop(1006); // refused again: longer wait
  await flush();
  assert.deepEqual(events.at(-1), ['waiting', 2000]);
  await t.advance(2000);
  await openUp(s);
  assert.deepEqual(events.at(-1), ['ready', true], 'the second ready is a reconnect');
  // backoff starts again after a good connection
  s.current.drop(1001);
  await flush();
  assert.deepEqual(events.at(-1), ['waiting', 1000]);
});

test('offline drops the socket at once; online reconnects without waiting', async () => {
  const { s, conn } = setup();
  conn.start();
  const ws = await openUp(s);
  const states = [];
  conn.on('state', (st, d) => states.push([st, d.reason, d.retryInMs]));
  conn.goOffline();
  assert.equal(ws.closed, true);
  assert.deepEqual(states.at(-1), ['waiting', 'offline', 30000], 'no fast retries while offline');
  conn.reconnectNow();
  await flush();
  assert.equal(s.all.length, 2);
  assert.equal(conn.state, 'connecting');
});

test('a refused token is refreshed once; a second refusal signs out', async () => {
  const { s, conn } = setup();
  const out = [];
  conn.on('signed_out', (i) => out.push(i.code));
  conn.start();
  await flush();
  s.current.open();
  s.current.push({ type: 'error', code: 'unauthorized', message: 'invalid token' });
  s.current.drop(4401);
  await flush();
  assert.equal(s.all.length, 2);
  assert.equal(s.all[1].url, 'ws://x/ws');
  s.current.open();
  assert.equal(s.current.last('auth').token, 't2');
  s.current.drop(4401);
  await flush();
  assert.deepEqual(out, ['unauthorized']);
  assert.equal(conn.state, 'stopped');
});

test('pings find a dead link', async () => {
  const t = fakeTimers();
  const s = fakeSockets();
  const conn = new Connection({
    url: 'ws://x', getToken: async () => 't', WebSocketImpl: s.FakeWS,
    backoff: new Backoff({ baseMs: 1000, random: () => 1 }), setTimer: t.set, clearTimer: t.clear,
    pingEveryMs: 1000, pongTimeoutMs: 500,
  });
  conn.start();
  const ws = await openUp(s);
  await t.advance(1000);
  ws.reply('ping', { type: 'pong' });
  await flush();
  await t.advance(1000);
  assert.equal(ws.sent.filter((f) => f.type === 'ping').length, 2);
  await t.advance(500); // no pong
  assert.equal(ws.closed, true);
  assert.equal(conn.state, 'waiting');
});
