import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ProtocolError, cmd, codePoints, isStaff, may, normalizeMessage, parseFrame, randomId,
  tokenClaims, validUserId,
} from '../js/lib/protocol.js';

test('user ids as the protocol defines them', () => {
  for (const ok of ['alice', 'a.b-c_d@e', 'x'.repeat(64)]) assert.ok(validUserId(ok), ok);
  for (const bad of ['', 'a b', 'x'.repeat(65), 'é', null, 5]) assert.ok(!validUserId(bad), String(bad));
});

test('ids are hex, within 64 characters, and differ', () => {
  const a = randomId('c', 12);
  assert.match(a, /^c[0-9a-f]{24}$/);
  assert.notEqual(a, randomId('c', 12));
});

test('frames: only objects with a type', () => {
  assert.deepEqual(parseFrame('{"type":"pong","id":"1"}'), { type: 'pong', id: '1' });
  for (const bad of ['nope', '[]', '{"id":1}', 'null', '{"type":3}']) assert.equal(parseFrame(bad), null);
});

test('messages are checked and reduced', () => {
  assert.equal(normalizeMessage({ conversation_id: 'c', seq: 0 }), null);
  assert.equal(normalizeMessage({ conversation_id: 'c', seq: 1.5 }), null);
  const m = normalizeMessage({ type: 'message', conversation_id: 'c', seq: 3, message_id: 'm3',
    sender_id: 'bob', text: 'hi', ts: 5, reply_to: 2, junk: 1,
    media: { media_id: 'x', mime: 'image/png', size: 9, url: '/media/x', thumbnail_url: '/media/x/t' } });
  assert.deepEqual(m, { conversation_id: 'c', seq: 3, message_id: 'm3', sender_id: 'bob', ts: 5,
    text: 'hi', reply_to: 2,
    media: { media_id: 'x', mime: 'image/png', size: 9, url: '/media/x', thumbnail_url: '/media/x/t' } });
  const d = normalizeMessage({ conversation_id: 'c', seq: 4, deleted: true, text: 'x', media: { url: '/m' } });
  assert.equal(d.deleted, true);
  assert.equal(d.text, undefined);
  assert.equal(d.media, undefined);
});

test('command frames', () => {
  assert.deepEqual(cmd.send('c', 'k', { text: 'hi', reply_to: 4 }),
    { type: 'send', conversation_id: 'c', client_message_id: 'k', text: 'hi', reply_to: 4 });
  assert.deepEqual(cmd.send('c', 'k', { media_id: 'm' }),
    { type: 'send', conversation_id: 'c', client_message_id: 'k', media_id: 'm' });
  assert.deepEqual(cmd.history('c', { after: 3, before: 9, limit: 200 }),
    { type: 'history', conversation_id: 'c', limit: 200, before: 9, after: 3 });
  assert.deepEqual(cmd.history('c'), { type: 'history', conversation_id: 'c', limit: 50 });
  assert.deepEqual(cmd.del('c', 2, 'me'), { type: 'delete', conversation_id: 'c', seq: 2, scope: 'me' });
  assert.deepEqual(cmd.sync({ c: 4 }), { type: 'sync', cursors: { c: 4 } });
  assert.equal(cmd.upload('image/png', 10, 'x'.repeat(300)).name.length, 255);
});

test('code points, as max_text counts', () => {
  assert.equal(codePoints('héllo'), 5);
  assert.equal(codePoints('😀😀'), 2);
});

test('permissions follow the protocol table', () => {
  assert.ok(may('add', 'owner') && may('add', 'admin') && !may('add', 'moderator'));
  assert.ok(may('remove', 'admin', 'moderator') && !may('remove', 'admin', 'admin'));
  assert.ok(may('role', 'owner', 'member', 'admin') && !may('role', 'admin', 'member', 'admin'));
  assert.ok(may('role', 'admin', 'member', 'moderator') && !may('role', 'owner', 'member', 'owner'));
  assert.ok(may('mute', 'moderator', 'member') && !may('mute', 'moderator', 'moderator'));
  assert.ok(!may('settings', 'moderator') && may('settings', 'admin'));
  assert.ok(may('delete_others', 'moderator', 'member') && !may('delete_others', 'member', 'member'));
});

test('token claims are read, not trusted', () => {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const t = `${enc({ alg: 'HS256' })}.${enc({ sub: 'alice', exp: 99, roles: ['moderator', 3] })}.sig`;
  assert.deepEqual(tokenClaims(t), { sub: 'alice', exp: 99, roles: ['moderator'], name: '' });
  assert.ok(isStaff(tokenClaims(t)));
  assert.equal(tokenClaims('a.b'), null);
  assert.equal(tokenClaims('x.!!.y'), null);
  assert.ok(!isStaff(null));
});

test('errors carry the protocol fields', () => {
  const e = ProtocolError.fromFrame({ type: 'error', code: 'rate_limited', message: 'slow', retryable: true, retry_after_ms: 300 });
  assert.equal(e.code, 'rate_limited');
  assert.equal(e.retryable, true);
  assert.equal(e.retry_after_ms, 300);
  assert.equal(new ProtocolError('forbidden').retryable, false);
});
