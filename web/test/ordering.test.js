import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderedLog } from '../js/lib/ordering.js';

const m = (seq, extra = {}) => ({ conversation_id: 'c1', seq, text: `m${seq}`, ...extra });
const seqs = (l) => l.list().map((x) => x.seq);

test('in-order messages apply at once; duplicates are dropped', () => {
  const l = new OrderedLog();
  l.setBase([m(1), m(2)]);
  assert.deepEqual(l.insert(m(3)).applied.map((x) => x.seq), [3]);
  const dup = l.insert(m(3));
  assert.equal(dup.duplicate, true);
  assert.deepEqual(dup.applied, []);
  assert.equal(l.insert(m(1)).duplicate, true);
  assert.deepEqual(seqs(l), [1, 2, 3]);
  assert.equal(l.last, 3);
});

test('a message past a gap waits in the buffer and asks for the gap', () => {
  const l = new OrderedLog();
  l.setBase([m(1)]);
  const r = l.insert(m(4));
  assert.deepEqual(r.applied, []);
  assert.deepEqual(r.gap, { after: 1, before: 4 });
  assert.deepEqual(seqs(l), [1]);
  // 2 arrives live: applied; 4 still waits for 3
  assert.deepEqual(l.insert(m(2)).applied.map((x) => x.seq), [2]);
  assert.deepEqual(l.gap(), { after: 2, before: 4 });
  // 3 arrives: 3 and the buffered 4 are applied, in order
  assert.deepEqual(l.insert(m(3)).applied.map((x) => x.seq), [3, 4]);
  assert.equal(l.gap(), null);
  assert.deepEqual(seqs(l), [1, 2, 3, 4]);
});

test('history confirms a gap: missing seqs become holes and the log moves on', () => {
  const l = new OrderedLog();
  l.setBase([m(1)]);
  l.insert(m(5));
  l.insert(m(6));
  const applied = l.fillGap(1, 5, [m(3)], false);
  assert.deepEqual(applied.map((x) => x.seq), [3, 5, 6]);
  assert.deepEqual(seqs(l), [1, 3, 5, 6]);
  assert.deepEqual(l.holesList(), [2, 4]);
  assert.equal(l.last, 6);
  // a held message approved later comes back into its hole
  assert.deepEqual(l.insert(m(2)).applied.map((x) => x.seq), [2]);
  assert.deepEqual(l.holesList(), [4]);
});

test('a history page that left messages out fills only what it covered', () => {
  const l = new OrderedLog();
  l.setBase([m(1)]);
  l.insert(m(10));
  l.fillGap(1, 10, [m(2), m(3)], true);
  assert.deepEqual(seqs(l), [1, 2, 3]);
  assert.deepEqual(l.gap(), { after: 3, before: 10 });
  l.fillGap(3, 10, [m(4), m(9)], false);
  assert.deepEqual(seqs(l), [1, 2, 3, 4, 9, 10]);
  assert.deepEqual(l.holesList(), [5, 6, 7, 8]);
});

test('a stale gap answer (the log moved) only inserts', () => {
  const l = new OrderedLog();
  l.setBase([m(1)]);
  l.insert(m(3));
  l.insert(m(2)); // 2 and 3 applied before the answer came
  const applied = l.fillGap(1, 3, [m(2)], false);
  assert.deepEqual(applied, []);
  assert.deepEqual(seqs(l), [1, 2, 3]);
  assert.deepEqual(l.holesList(), []);
});

test('messages before the base is set are kept and applied by setBase', () => {
  const l = new OrderedLog();
  assert.deepEqual(l.insert(m(7)).applied, []);
  l.setBase([m(5), m(6)], { hasMore: true });
  assert.deepEqual(seqs(l), [5, 6, 7]);
  assert.equal(l.hasMoreBefore, true);
  const empty = new OrderedLog();
  empty.setBase([], { lastSeq: 0 });
  assert.equal(empty.hasMoreBefore, false);
  assert.deepEqual(empty.insert(m(1)).applied.map((x) => x.seq), [1]);
});

test('scrolling back prepends older pages; holes below the first page', () => {
  const l = new OrderedLog();
  l.setBase([m(8), m(9)], { hasMore: true });
  assert.equal(l.first, 8);
  const older = l.prepend([m(5), m(7)], true);
  assert.deepEqual(older.map((x) => x.seq), [5, 7]);
  assert.deepEqual(seqs(l), [5, 7, 8, 9]);
  assert.deepEqual(l.holesList(), [6]);
  assert.equal(l.hasMoreBefore, true);
  l.prepend([m(2)], false);
  assert.equal(l.hasMoreBefore, false);
  assert.deepEqual(seqs(l), [2, 5, 7, 8, 9]);
  assert.deepEqual(l.holesList(), [1, 3, 4, 6]);
});

test('edits merge into the stored message; deletes drop the text', () => {
  const l = new OrderedLog();
  l.setBase([m(1), m(2)]);
  l.update(1, { text: 'changed', edited_at: 5 });
  assert.equal(l.get(1).text, 'changed');
  // a resent copy with a newer edit replaces; an older one does not
  assert.equal(l.insert(m(1, { text: 'older' })).updated, false);
  assert.equal(l.get(1).text, 'changed');
  assert.equal(l.insert(m(1, { text: 'newer', edited_at: 9 })).updated, true);
  assert.equal(l.get(1).text, 'newer');
  l.update(2, { deleted: true });
  assert.equal(l.get(2).text, undefined);
  assert.equal(l.get(2).deleted, true);
  assert.equal(l.remove(2), true);
  assert.deepEqual(seqs(l), [1]);
  assert.deepEqual(l.holesList(), [2]);
});

test('the buffer is bounded', () => {
  const l = new OrderedLog({ maxBuffer: 3 });
  l.setBase([m(1)]);
  for (const s of [10, 11, 12, 13]) l.insert(m(s));
  assert.equal(l.buffer.size, 3);
  assert.deepEqual(l.gap(), { after: 1, before: 11 });
});
