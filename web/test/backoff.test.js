import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../js/lib/backoff.js';

test('delays double up to the cap, with jitter in the upper half', () => {
  const hi = new Backoff({ baseMs: 500, maxMs: 8000, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => hi.next()), [500, 1000, 2000, 4000, 8000, 8000]);
  const lo = new Backoff({ baseMs: 500, maxMs: 8000, random: () => 0 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => lo.next()), [250, 500, 1000, 2000, 4000]);
});

test('reset starts again from the base; bounds are checked', () => {
  const b = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 1 });
  b.next();
  b.next();
  b.reset();
  assert.equal(b.next(), 100);
  assert.throws(() => new Backoff({ baseMs: 0 }));
  assert.throws(() => new Backoff({ baseMs: 100, maxMs: 50 }));
});

test('random jitter stays inside its range', () => {
  const b = new Backoff({ baseMs: 1000, maxMs: 30000 });
  for (let i = 1; i <= 10; i++) {
    const ceiling = Math.min(30000, 1000 * 2 ** (i - 1));
    const d = b.next();
    assert.ok(d >= Math.max(250, ceiling / 2) && d <= ceiling, `attempt ${i}: ${d}`);
  }
});
