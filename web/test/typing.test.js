import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypingSender, typingText } from '../js/lib/typing.js';

test('the typing sentence', () => {
  assert.equal(typingText([], 0), '');
  assert.equal(typingText(['alice'], 1), 'alice is typing…');
  assert.equal(typingText(['alice', 'bob'], 2), 'alice and bob are typing…');
  assert.equal(typingText(['a', 'b', 'c'], 3), '3 people typing…');
  assert.equal(typingText(['a', 'b', 'c', 'd', 'e'], 7), '7 people typing…');
  assert.equal(typingText(['a'], 2), '2 people typing…');
  assert.equal(typingText(undefined, 0), '');
});

function fakeTimers() {
  const t = { now: 0, timers: new Map(), next: 1 };
  t.set = (fn, ms) => {
    const id = t.next++;
    t.timers.set(id, { fn, at: t.now + ms });
    return id;
  };
  t.clear = (id) => t.timers.delete(id);
  t.advance = (ms) => {
    t.now += ms;
    for (const [id, x] of [...t.timers]) {
      if (x.at <= t.now) {
        t.timers.delete(id);
        x.fn();
      }
    }
  };
  return t;
}

test('start once, renewed while typing, stop when idle, on send and never twice', () => {
  const t = fakeTimers();
  const sent = [];
  const s = new TypingSender((st) => sent.push(st), {
    renewMs: 4000, idleMs: 3000, now: () => t.now, setTimer: t.set, clearTimer: t.clear,
  });
  s.input();
  t.advance(1000);
  s.input();
  t.advance(1000);
  s.input();
  assert.deepEqual(sent, ['start']);
  t.advance(2500);
  s.input(); // 4.5 s after the start: renewed
  assert.deepEqual(sent, ['start', 'start']);
  t.advance(3000); // idle
  assert.deepEqual(sent, ['start', 'start', 'stop']);
  s.stop();
  assert.deepEqual(sent, ['start', 'start', 'stop']);
  s.input();
  s.stop(); // the message was sent
  assert.deepEqual(sent, ['start', 'start', 'stop', 'start', 'stop']);
  t.advance(10000);
  assert.equal(sent.length, 5);
});
