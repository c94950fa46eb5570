import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Telemetry } from '../js/lib/telemetry.js';

test('counts add up between reports and a refused report keeps them', async () => {
  let ok = false;
  const posted = [];
  const tl = new Telemetry({ post: async (b) => { posted.push(b); return ok; } });
  assert.equal(await tl.flush(), false, 'nothing to send');
  assert.equal(posted.length, 0);
  tl.count('reconnects');
  tl.count('reconnects', 2);
  tl.count('stuck_sends');
  tl.error('network', 'socket closed');
  tl.error('Not A Code!');
  assert.equal(await tl.flush(), false);
  assert.deepEqual(posted[0], { reconnects: 3, stuck_sends: 1,
    errors: [{ code: 'network', message: 'socket closed' }, { code: 'other', message: '' }] });
  ok = true;
  tl.count('reconnects');
  assert.equal(await tl.flush(), true);
  assert.equal(posted[1].reconnects, 4);
  assert.equal(tl.empty, true);
});

test('reports stay within the server limits', async () => {
  const posted = [];
  const tl = new Telemetry({ post: async (b) => { posted.push(b); return true; } });
  for (let i = 0; i < 50; i++) tl.error('timeout', 'x'.repeat(2000));
  tl.count('reconnects', 5000);
  await tl.flush();
  assert.equal(posted[0].errors.length, 20);
  assert.ok(posted[0].errors.every((e) => e.message.length <= 300));
  assert.equal(posted[0].reconnects, 1000);
});
