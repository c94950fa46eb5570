// protocol.js — protocol v1 (docs/protocol.md) as the client speaks it:
// ids, the command frames, checks of the server's frames, token claims.
// No DOM, no I/O.

export const USER_ID_RE = /^[A-Za-z0-9._@-]{1,64}$/;
export const RETRYABLE = new Set(['rate_limited', 'unavailable']);
export const ROLE_RANK = { owner: 4, admin: 3, moderator: 2, member: 1 };

export function validUserId(s) {
  return typeof s === 'string' && USER_ID_RE.test(s);
}

// A random id of hex digits (request ids, client_message_ids: 1..64 chars).
export function randomId(prefix = '', bytes = 12, rnd = globalThis.crypto) {
  const b = new Uint8Array(bytes);
  rnd.getRandomValues(b);
  return prefix + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// Count Unicode code points, as the server's max_text does.
export function codePoints(s) {
  let n = 0;
  for (const _ of s) n += 1; // eslint-disable-line no-unused-vars
  return n;
}

// Parse one text frame from the server: an object with a string `type`, or
// null (the client ignores what it cannot read).
export function parseFrame(text) {
  let f;
  try {
    f = JSON.parse(text);
  } catch {
    return null;
  }
  if (!f || typeof f !== 'object' || Array.isArray(f) || typeof f.type !== 'string') return null;
  return f;
}

// A message as the server sends it, checked and reduced to what the client
// keeps; null when malformed.
export function normalizeMessage(m) {
  if (!m || typeof m.conversation_id !== 'string' || !Number.isInteger(m.seq) || m.seq < 1) {
    return null;
  }
  const out = {
    conversation_id: m.conversation_id,
    seq: m.seq,
    message_id: typeof m.message_id === 'string' ? m.message_id : '',
    sender_id: typeof m.sender_id === 'string' ? m.sender_id : '',
    ts: Number.isFinite(m.ts) ? m.ts : 0,
  };
  if (m.deleted === true) out.deleted = true;
  else if (typeof m.text === 'string') out.text = m.text;
  if (typeof m.client_message_id === 'string') out.client_message_id = m.client_message_id;
  if (Number.isInteger(m.reply_to)) out.reply_to = m.reply_to;
  if (Number.isFinite(m.edited_at)) out.edited_at = m.edited_at;
  if (!out.deleted && m.media && typeof m.media === 'object' && typeof m.media.url === 'string') {
    out.media = {
      media_id: String(m.media.media_id || ''),
      mime: String(m.media.mime || ''),
      size: Number(m.media.size) || 0,
      url: m.media.url,
    };
    if (typeof m.media.thumbnail_url === 'string') out.media.thumbnail_url = m.media.thumbnail_url;
  }
  return out;
}

// An error frame (or anything else a request was refused with) as an Error
// carrying the protocol's fields.
export class ProtocolError extends Error {
  constructor(code, message, extra = {}) {
    super(message || code);
    this.code = code;
    this.retryable = extra.retryable ?? RETRYABLE.has(code);
    if (extra.retry_after_ms !== undefined) this.retry_after_ms = extra.retry_after_ms;
    if (extra.reason !== undefined) this.reason = extra.reason;
  }

  static fromFrame(f) {
    return new ProtocolError(String(f.code || 'internal'), String(f.message || ''), f);
  }
}

// ---- command frames (each returns a plain object; `id` is added by the
// connection when a reply is awaited) ----

export const cmd = {
  auth: (token) => ({ type: 'auth', token }),
  ping: () => ({ type: 'ping' }),
  send: (conversation_id, client_message_id, { text, media_id, reply_to } = {}) => {
    const f = { type: 'send', conversation_id, client_message_id };
    if (text) f.text = text;
    if (media_id) f.media_id = media_id;
    if (Number.isInteger(reply_to)) f.reply_to = reply_to;
    return f;
  },
  edit: (conversation_id, seq, text) => ({ type: 'edit', conversation_id, seq, text }),
  del: (conversation_id, seq, scope) => ({ type: 'delete', conversation_id, seq, scope }),
  history: (conversation_id, { before, after, limit = 50 } = {}) => {
    const f = { type: 'history', conversation_id, limit };
    if (before !== undefined) f.before = before;
    if (after !== undefined) f.after = after;
    return f;
  },
  sync: (cursors) => ({ type: 'sync', cursors }),
  convList: () => ({ type: 'conv.list' }),
  convInfo: (conversation_id) => ({ type: 'conv.info', conversation_id }),
  createDirect: (user_id) => ({ type: 'conv.create', kind: 'direct', user_id }),
  createGroup: (title, members) => ({ type: 'conv.create', kind: 'group', title, members }),
  add: (conversation_id, user_ids) => ({ type: 'conv.add', conversation_id, user_ids }),
  remove: (conversation_id, user_id) => ({ type: 'conv.remove', conversation_id, user_id }),
  leave: (conversation_id) => ({ type: 'conv.leave', conversation_id }),
  role: (conversation_id, user_id, role) => ({ type: 'conv.role', conversation_id, user_id, role }),
  settings: (conversation_id, changes) => ({ type: 'conv.settings', conversation_id, ...changes }),
  mute: (conversation_id, user_id, until_ms) =>
    ({ type: 'conv.mute', conversation_id, user_id, until_ms }),
  subscribe: (user_ids) => ({ type: 'presence.subscribe', user_ids }),
  typing: (conversation_id, state) => ({ type: 'typing', conversation_id, state }),
  read: (conversation_id, seq) => ({ type: 'read', conversation_id, seq }),
  receipts: (conversation_id, seq) => ({ type: 'receipts', conversation_id, seq }),
  report: (conversation_id, seq, reason, note) => {
    const f = { type: 'report', conversation_id, seq, reason };
    if (note) f.note = note;
    return f;
  },
  upload: (mime, size, name) => {
    const f = { type: 'media.upload', mime, size };
    if (name) f.name = name.slice(0, 255);
    return f;
  },
  mediaUrl: (media_id) => ({ type: 'media.url', media_id }),
};

// ---- permissions (the table of protocol.md), for what the UI offers ----

export function rank(role) {
  return ROLE_RANK[role] || 0;
}

// May a member of role `actor` do `action` to a member of role `target`?
export function may(action, actor, target, toRole) {
  const a = rank(actor);
  const t = rank(target);
  switch (action) {
    case 'add':
    case 'settings':
      return a >= 3;
    case 'remove':
      return a >= 3 && t < a;
    case 'role':
      return a >= 3 && t < a && rank(toRole) >= 1 && rank(toRole) < a;
    case 'mute':
      return a >= 2 && t < a;
    case 'delete_others':
      return a >= 2 && t < a;
    default:
      return false;
  }
}

// ---- tokens (read, never verified: the server does that) ----

function b64urlDecode(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// {sub, exp, roles, name} of a JWT, or null when it does not look like one.
export function tokenClaims(token) {
  if (typeof token !== 'string') return null;
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const c = JSON.parse(b64urlDecode(parts[1]));
    if (!c || typeof c !== 'object') return null;
    return {
      sub: typeof c.sub === 'string' ? c.sub : '',
      exp: Number.isFinite(c.exp) ? c.exp : 0,
      roles: Array.isArray(c.roles) ? c.roles.filter((r) => typeof r === 'string') : [],
      name: typeof c.name === 'string' ? c.name : '',
    };
  } catch {
    return null;
  }
}

export function isStaff(claims) {
  return !!claims && (claims.roles.includes('moderator') || claims.roles.includes('admin'));
}
