// store.js — the client's chat state and everything it does over the
// connection: the conversation list, each conversation's ordered log,
// the pending outgoing queue, members, presence, typing, receipts.  The UI
// reads the state and listens to the events; it never talks to the socket.
// No DOM (file uploads go through an injected putFile).
//
// Events: 'convs' (the list changed), 'messages' (convId), 'members'
// (convId), 'presence' (userId), 'typing' (convId), 'seen' (convId),
// 'current' (convId), 'conn' (state, detail), 'notice' ({kind, text}),
// 'signed_out' ({code, message}).

import { Emitter } from './emitter.js';
import { OrderedLog } from './ordering.js';
import { PendingQueue } from './pending.js';
import { cmd, isStaff, normalizeMessage, randomId } from './protocol.js';

const HISTORY_PAGE = 50;
const FILL_PAGE = 200;
const CATCH_UP_PAGES = 5;
const PRELOAD_CONVS = 20;
const TYPING_TTL_MS = 8000;
const RETRY_TICK_MS = 2000;
const PRESENCE_MAX = 500;

function unreadOf(c) {
  return Math.max(0, (c.last_seq || 0) - (c.read_seq || 0));
}

export class ChatStore extends Emitter {
  constructor({ conn, me, claims = null, cache = null, telemetry = null, putFile = null,
                now = () => Date.now(), setTimer = (f, ms) => setTimeout(f, ms),
                clearTimer = (t) => clearTimeout(t), newCmid = () => randomId('c', 12) }) {
    super();
    this.conn = conn;
    this.me = me;
    this.claims = claims;
    this.staff = isStaff(claims);
    this.cache = cache;
    this.telemetry = telemetry;
    this.putFile = putFile;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.newCmid = newCmid;
    this.convs = new Map();
    this.logs = new Map();
    this.pending = new PendingQueue({ now });
    this.presence = new Map();
    this.typing = new Map();
    this.typingTimers = new Map();
    this.seen = new Map();
    this.members = new Map();
    this.current = null;
    this.visible = true;
    this.connState = 'idle';
    this.connDetail = {};
    this.filling = new Set();
    this.sending = new Set();
    this.subscribed = new Set();
    this.fresh = new Set();        // conversations refreshed since the last ready
    this.seenTimer = null;
    this.tick = null;

    conn.on('state', (state, detail) => {
      this.connState = state;
      this.connDetail = detail || {};
      if (state !== 'open') this.subscribed.clear();
      this.emit('conn', state, detail);
    });
    conn.on('ready', (info) => this._onReady(info));
    conn.on('frame', (f) => this._onFrame(f));
    conn.on('signed_out', (info) => this.emit('signed_out', info));
  }

  start() {
    this.tick = this.setTimer(() => this._onTick(), RETRY_TICK_MS);
    this.conn.start();
  }

  stop() {
    if (this.tick) this.clearTimer(this.tick);
    this.tick = null;
    this.conn.stop();
  }

  // ---- reading the state ----

  log(id) {
    let l = this.logs.get(id);
    if (!l) {
      l = new OrderedLog();
      this.logs.set(id, l);
    }
    return l;
  }

  // Conversations, most recently active first.
  convList() {
    return [...this.convs.values()].sort((a, b) =>
      (b.last_activity || 0) - (a.last_activity || 0) || a.conversation_id.localeCompare(b.conversation_id));
  }

  convTitle(c) {
    if (!c) return '';
    if (c.kind === 'direct') return c.peer_id || c.title || 'direct chat';
    return c.title || 'group';
  }

  // What the message view shows: stored messages, then this client's
  // pending ones.
  view(id) {
    const l = this.logs.get(id);
    return {
      messages: l ? l.list() : [],
      holes: l ? l.holesList() : [],
      pending: this.pending.forConversation(id),
      hasMoreBefore: l ? l.initialized && l.hasMoreBefore : false,
      loaded: !!l && l.initialized,
    };
  }

  // ---- the cache (IndexedDB): shown at once, then synced ----

  loadCached({ convs = [], messages = {}, pending = [] }) {
    for (const c of convs) {
      if (!c || !c.conversation_id) continue;
      this.convs.set(c.conversation_id, { ...c, unread: unreadOf(c) });
      const msgs = (messages[c.conversation_id] || []).map(normalizeMessage).filter(Boolean);
      if (msgs.length) this.log(c.conversation_id).setBase(msgs, { hasMore: true });
    }
    this.pending.load(pending);
    this.emit('convs');
    if (this.current) this.emit('messages', this.current);
  }

  _persistConv(c) {
    this.cache?.putConv(c);
  }

  _persistMessages(id) {
    const l = this.logs.get(id);
    if (l && this.cache) this.cache.putMessages(id, l.list().slice(-HISTORY_PAGE));
  }

  _persistPending() {
    this.cache?.putPending(this.pending.toJSON());
  }

  // ---- connection ----

  async _onReady({ reconnect }) {
    if (reconnect) this.telemetry?.count('reconnects');
    this.fresh.clear();
    try {
      const list = await this.conn.request(cmd.convList());
      for (const c of list.items || []) this._mergeConv(c);
      const cursors = {};
      for (const [id, l] of this.logs) if (l.initialized && this.convs.has(id)) cursors[id] = l.last;
      const s = await this.conn.request(cmd.sync(cursors), { timeoutMs: 30000 });
      for (const e of s.conversations || []) this._applySync(e, id => cursors[id] !== undefined);
      this.emit('convs');
      this._resendPending();
      this._subscribePeers();
      this._preload();
      if (this.current) this.open(this.current);
    } catch (e) {
      this._error(e);
    }
  }

  _applySync(e, hadCursor) {
    const id = e.conversation_id;
    const c = this.convs.get(id);
    if (!c) return;
    c.last_seq = Math.max(c.last_seq || 0, e.last_seq || 0);
    if (Number.isInteger(e.read_seq)) c.read_seq = Math.max(c.read_seq || 0, e.read_seq);
    c.unread = unreadOf(c);
    const msgs = (e.messages || []).map(normalizeMessage).filter(Boolean);
    const l = this.log(id);
    if (l.initialized && hadCursor(id)) {
      this._insertAll(id, msgs);
      if (e.has_more) this._catchUp(id);
    } else if (msgs.length && !e.has_more) {
      c.last_message = msgs[msgs.length - 1];
    }
    this._persistConv(c);
  }

  _onTick() {
    this.tick = this.setTimer(() => this._onTick(), RETRY_TICK_MS);
    const stuck = this.pending.collectStuck();
    if (stuck) this.telemetry?.count('stuck_sends', stuck);
    if (this.conn.isOpen) this._resendPending();
  }

  _resendPending() {
    for (const e of this.pending.toSend()) this._sendPending(e);
  }

  _error(e, what) {
    const code = e?.code || 'internal';
    if (code === 'network' || code === 'timeout') return; // the connection recovers
    this.telemetry?.error(code, e?.message);
    this.emit('notice', { kind: 'error', text: `${what ? what + ': ' : ''}${e?.message || code}` });
  }

  // ---- frames pushed by the server ----

  _onFrame(f) {
    switch (f.type) {
      case 'message': return this._onMessage(f);
      case 'message_update': return this._onUpdate(f);
      case 'conv.event': return this._onConvEvent(f);
      case 'presence':
        if (typeof f.user_id === 'string') {
          this.presence.set(f.user_id, { status: f.status, last_seen: f.last_seen });
          this.emit('presence', f.user_id);
        }
        return undefined;
      case 'typing': return this._onTyping(f);
      case 'receipt':
        if (f.conversation_id === this.current) this.refreshSeen(f.conversation_id);
        return undefined;
      case 'notice':
        this.emit('notice', { kind: 'info', text: String(f.message || '') });
        return undefined;
      case 'error':
        this._error(f);
        return undefined;
      default:
        return undefined;
    }
  }

  _onMessage(f) {
    const m = normalizeMessage(f);
    if (!m) return;
    const id = m.conversation_id;
    if (!this.convs.has(id)) {
      this._fetchConv(id);
    }
    // Our own message from another of our sessions: drop a pending twin.
    if (m.client_message_id && this.pending.get(m.client_message_id)) {
      this.pending.ack(m.client_message_id);
      this._persistPending();
    }
    this._insertAll(id, [m]);
    const c = this.convs.get(id);
    if (c) {
      c.last_activity = Math.max(c.last_activity || 0, m.ts || this.now());
      if (m.sender_id === this.me) c.read_seq = Math.max(c.read_seq || 0, m.seq);
    }
    // Typing ends when the typist's message arrives.
    const t = this.typing.get(id);
    if (t && t.users.includes(m.sender_id)) {
      const users = t.users.filter((u) => u !== m.sender_id);
      this._setTyping(id, users, Math.max(users.length, t.count - 1));
    }
    this.emit('convs');
  }

  // Insert messages into a log, fill gaps, keep the conversation's
  // summary; emits 'messages'.
  _insertAll(id, msgs) {
    const l = this.log(id);
    const c = this.convs.get(id);
    let gap = false;
    for (const m of msgs) {
      const r = l.insert(m);
      if (r.gap) gap = true;
      if (c) {
        c.last_seq = Math.max(c.last_seq || 0, m.seq);
        if (!c.last_message || m.seq >= c.last_message.seq) c.last_message = l.get(m.seq) || m;
      }
    }
    if (!l.initialized && id === this.current) this._loadLatest(id);
    if (gap) this._fillGap(id);
    if (c) {
      c.unread = unreadOf(c);
      this._persistConv(c);
    }
    this._persistMessages(id);
    this.emit('messages', id);
    if (id === this.current) this.markRead(id);
  }

  _onUpdate(f) {
    const id = f.conversation_id;
    const l = this.logs.get(id);
    if (!l || !Number.isInteger(f.seq)) return;
    if (f.kind === 'deleted' && f.scope === 'me') l.remove(f.seq);
    else if (f.kind === 'deleted') l.update(f.seq, { deleted: true });
    else if (f.kind === 'edited') l.update(f.seq, { text: String(f.text ?? ''), edited_at: f.at || this.now() });
    this._afterChange(id);
  }

  _afterChange(id) {
    const c = this.convs.get(id);
    const l = this.logs.get(id);
    if (c && l && c.last_message && l.get(c.last_message.seq)) c.last_message = l.get(c.last_message.seq);
    this._persistMessages(id);
    this.emit('messages', id);
    this.emit('convs');
  }

  _onConvEvent(f) {
    const id = f.conversation_id;
    if (!id) return;
    const aboutMe = f.user_id === this.me;
    if ((f.event === 'member_removed' || f.event === 'member_left') && aboutMe) {
      this.convs.delete(id);
      this.logs.delete(id);
      this.cache?.deleteConv(id);
      if (this.current === id) this.setCurrent(null);
      this.emit('convs');
      this.emit('notice', { kind: 'info', text: f.event === 'member_removed'
        ? `You were removed from ${f.title || 'a group'}` : 'You left the group' });
      return;
    }
    this._fetchConv(id);
  }

  _onTyping(f) {
    if (!f.conversation_id) return;
    const users = Array.isArray(f.users) ? f.users.filter((u) => u !== this.me) : [];
    this._setTyping(f.conversation_id, users, Number.isInteger(f.count) ? f.count : users.length);
  }

  _setTyping(id, users, count) {
    const old = this.typingTimers.get(id);
    if (old) this.clearTimer(old);
    if (count > 0) {
      this.typing.set(id, { users, count });
      // The server expires a typist after 6 s; a lost frame must not leave
      // the line forever.
      this.typingTimers.set(id, this.setTimer(() => this._setTyping(id, [], 0), TYPING_TTL_MS));
    } else {
      this.typing.delete(id);
      this.typingTimers.delete(id);
    }
    this.emit('typing', id);
  }

  // ---- conversations ----

  _mergeConv(raw) {
    if (!raw || typeof raw.conversation_id !== 'string') return null;
    const id = raw.conversation_id;
    const old = this.convs.get(id) || {};
    const c = { ...old, ...raw };
    delete c.members;
    c.last_seq = Math.max(old.last_seq || 0, raw.last_seq || 0);
    c.read_seq = Math.max(old.read_seq || 0, raw.read_seq || 0);
    c.unread = unreadOf(c);
    if (old.last_message) c.last_message = old.last_message;
    this.convs.set(id, c);
    if (Array.isArray(raw.members)) {
      this.members.set(id, raw.members.filter((m) => m && typeof m.user_id === 'string'));
      this.emit('members', id);
      this._subscribe(raw.members.slice(0, PRESENCE_MAX).map((m) => m.user_id));
    }
    if (c.kind === 'direct' && c.peer_id) this._subscribe([c.peer_id]);
    this._persistConv(c);
    return c;
  }

  async _fetchConv(id) {
    try {
      const isNew = !this.convs.has(id);
      const r = await this.conn.request(cmd.convInfo(id));
      this._mergeConv(r.conversation);
      this.emit('convs');
      // A conversation we just learnt of: its latest page gives the preview.
      if (isNew && !this.logs.get(id)?.initialized) this._loadLatest(id);
    } catch (e) {
      if (e.code === 'not_found') {
        this.convs.delete(id);
        this.emit('convs');
      }
    }
  }

  _subscribe(users) {
    const fresh = users.filter((u) => u && u !== this.me && !this.subscribed.has(u));
    if (!fresh.length || !this.conn.isOpen) return;
    for (const u of fresh) this.subscribed.add(u);
    this.conn.request(cmd.subscribe(fresh)).catch(() => {
      for (const u of fresh) this.subscribed.delete(u);
    });
  }

  _subscribePeers() {
    const peers = [];
    for (const c of this.convs.values()) if (c.kind === 'direct' && c.peer_id) peers.push(c.peer_id);
    for (const ms of this.members.values()) for (const m of ms) peers.push(m.user_id);
    this._subscribe([...new Set(peers)].slice(0, PRESENCE_MAX));
  }

  // Load the latest page of the most recent conversations (previews, and
  // instant opening).
  _preload() {
    let n = 0;
    for (const c of this.convList()) {
      if (n++ >= PRELOAD_CONVS) break;
      const l = this.logs.get(c.conversation_id);
      if (!l || !l.initialized) this._loadLatest(c.conversation_id);
    }
  }

  setCurrent(id) {
    this.current = id;
    this.emit('current', id);
  }

  async open(id) {
    this.setCurrent(id);
    if (!id) return;
    this.emit('messages', id);
    if (!this.fresh.has(id) && this.conn.isOpen) {
      this.fresh.add(id);
      await this._loadLatest(id);
      this._fetchConv(id);
    }
    this.markRead(id);
    this.refreshSeen(id);
  }

  async _loadLatest(id) {
    const key = `latest:${id}`;
    if (this.filling.has(key)) return;
    this.filling.add(key);
    try {
      const r = await this.conn.request(cmd.history(id, { limit: HISTORY_PAGE }));
      const msgs = (r.messages || []).map(normalizeMessage).filter(Boolean);
      const l = this.log(id);
      const c = this.convs.get(id);
      if (!l.initialized) {
        l.setBase(msgs, { hasMore: !!r.has_more, lastSeq: c ? c.last_seq : 0 });
        if (c && msgs.length) c.last_message = l.get(msgs[msgs.length - 1].seq);
        if (l.gap()) this._fillGap(id);
        this._afterChange(id);
        if (id === this.current) this.markRead(id);
      } else {
        // Merge: edits and deletes made while we were away update the page.
        this._insertAll(id, msgs);
      }
    } catch (e) {
      this._error(e);
    } finally {
      this.filling.delete(key);
    }
  }

  async loadOlder(id) {
    const l = this.logs.get(id);
    const key = `older:${id}`;
    if (!l || !l.initialized || !l.hasMoreBefore || this.filling.has(key)) return 0;
    this.filling.add(key);
    try {
      const r = await this.conn.request(cmd.history(id, { before: l.first, limit: HISTORY_PAGE }));
      const msgs = (r.messages || []).map(normalizeMessage).filter(Boolean);
      const added = l.prepend(msgs, !!r.has_more);
      this.emit('messages', id);
      return added.length;
    } catch (e) {
      this._error(e);
      return 0;
    } finally {
      this.filling.delete(key);
    }
  }

  // Ask history for what a gap hides, until the log is whole again.
  async _fillGap(id) {
    const key = `gap:${id}`;
    if (this.filling.has(key)) return;
    this.filling.add(key);
    try {
      for (let i = 0; i < 20; i++) {
        const l = this.logs.get(id);
        const gap = l && l.gap();
        if (!gap) break;
        const r = await this.conn.request(cmd.history(id, {
          after: gap.after, before: gap.before, limit: FILL_PAGE,
        }));
        const msgs = (r.messages || []).map(normalizeMessage).filter(Boolean);
        l.fillGap(gap.after, gap.before, msgs, !!r.has_more);
        this._afterChange(id);
      }
    } catch (e) {
      this._error(e);
    } finally {
      this.filling.delete(key);
    }
    if (id === this.current) this.markRead(id);
  }

  // After a sync that left messages out: page on with history; past a few
  // pages, start again from the latest page (scrolling back loads the rest).
  async _catchUp(id) {
    const key = `catch:${id}`;
    if (this.filling.has(key)) return;
    this.filling.add(key);
    try {
      for (let i = 0; i < CATCH_UP_PAGES; i++) {
        const l = this.logs.get(id);
        const r = await this.conn.request(cmd.history(id, { after: l.last, limit: FILL_PAGE }));
        const msgs = (r.messages || []).map(normalizeMessage).filter(Boolean);
        this._insertAll(id, msgs);
        if (!r.has_more) return;
      }
      this.logs.delete(id);
      await this._loadLatest(id);
    } catch (e) {
      this._error(e);
    } finally {
      this.filling.delete(key);
    }
  }

  markRead(id) {
    if (!this.visible || id !== this.current) return;
    const l = this.logs.get(id);
    const c = this.convs.get(id);
    if (!l || !c || !l.initialized || l.last < 1 || l.last <= (c.read_seq || 0)) return;
    c.read_seq = l.last;
    c.unread = unreadOf(c);
    this.conn.send(cmd.read(id, l.last));
    this._persistConv(c);
    this.emit('convs');
  }

  setVisible(v) {
    this.visible = v;
    if (v && this.current) this.markRead(this.current);
  }

  // "Seen by N" for this user's latest message in the conversation.
  refreshSeen(id) {
    if (this.seenTimer) return;
    this.seenTimer = this.setTimer(async () => {
      this.seenTimer = null;
      const l = this.logs.get(id);
      if (!l || !this.conn.isOpen) return;
      const own = l.list().filter((m) => m.sender_id === this.me && !m.deleted);
      if (!own.length) {
        if (this.seen.delete(id)) this.emit('seen', id);
        return;
      }
      const seq = own[own.length - 1].seq;
      try {
        const r = await this.conn.request(cmd.receipts(id, seq));
        this.seen.set(id, { seq: r.seq, seen_by: r.seen_by || 0, users: r.users || [] });
        this.emit('seen', id);
      } catch (e) {
        if (e.code !== 'forbidden') this._error(e);
      }
    }, 300);
  }

  // ---- sending ----

  send(id, { text = '', media_id, reply_to, media_preview } = {}) {
    const e = this.pending.add({
      conversation_id: id, client_message_id: this.newCmid(), text: text || undefined,
      media_id, reply_to, media_preview,
    });
    this._persistPending();
    this.emit('messages', id);
    this._sendPending(e);
    return e;
  }

  retry(cmid) {
    const e = this.pending.retry(cmid);
    if (!e) return;
    this.emit('messages', e.conversation_id);
    this._sendPending(e);
  }

  discard(cmid) {
    const e = this.pending.get(cmid);
    if (!e) return;
    this.pending.discard(cmid);
    this._persistPending();
    this.emit('messages', e.conversation_id);
  }

  // An older message of the same conversation that is waiting (not on the
  // wire now) goes first: a new send must not overtake a retry, or the
  // server would give it the lower seq.  Requests on one connection are
  // answered in order, so older ones already on the wire are fine.
  _blockedByOlder(e) {
    for (const o of this.pending.forConversation(e.conversation_id)) {
      if (o === e) return false;
      if (o.status === 'sending' && !this.sending.has(o.client_message_id)) return true;
    }
    return false;
  }

  async _sendPending(e) {
    const cmid = e.client_message_id;
    if (this.sending.has(cmid) || !this.conn.isOpen || e.status !== 'sending') return;
    if (e.not_before && this.now() < e.not_before) return;
    if (this._blockedByOlder(e)) return;
    this.sending.add(cmid);
    this.pending.markSent(cmid);
    let retryIn = 0;
    try {
      const ack = await this.conn.request(cmd.send(e.conversation_id, cmid, e));
      this._acked(e, ack);
    } catch (err) {
      if (err.code === 'network' || err.code === 'timeout') {
        // Stays "sending": the next tick or the next ready sends it again.
      } else if (err.retryable) {
        retryIn = Math.max(200, err.retry_after_ms || 1000);
        e.not_before = this.now() + retryIn;
      } else {
        this.pending.fail(cmid, err);
        this._persistPending();
        this.telemetry?.error(err.code, err.message);
        this.emit('messages', e.conversation_id);
      }
    }
    this.sending.delete(cmid);
    if (retryIn) this.setTimer(() => this._sendPending(e), retryIn);
    else if (this.pending.get(cmid) === undefined || e.status === 'failed') {
      // Done with this one: the ones it held back may go now.
      for (const o of this.pending.forConversation(e.conversation_id)) this._sendPending(o);
    }
  }

  _acked(e, ack) {
    if (!this.pending.ack(e.client_message_id)) return;
    this._persistPending();
    const m = {
      conversation_id: e.conversation_id, seq: ack.seq, message_id: ack.message_id || '',
      sender_id: this.me, ts: ack.ts || this.now(), client_message_id: e.client_message_id,
    };
    if (e.text) m.text = e.text;
    if (Number.isInteger(e.reply_to)) m.reply_to = e.reply_to;
    if (e.media_id) {
      m.media = { media_id: e.media_id, mime: '', size: 0, url: e.media_preview || '' };
      this._refreshMedia(e.conversation_id, ack.seq, e.media_id);
    }
    const c = this.convs.get(e.conversation_id);
    if (c) {
      c.read_seq = Math.max(c.read_seq || 0, ack.seq);
      c.last_activity = Math.max(c.last_activity || 0, m.ts);
    }
    this._insertAll(e.conversation_id, [m]);
    this.emit('convs');
    if (e.conversation_id === this.current) this.refreshSeen(e.conversation_id);
  }

  async _refreshMedia(id, seq, mediaId) {
    try {
      const r = await this.conn.request(cmd.mediaUrl(mediaId));
      const l = this.logs.get(id);
      if (l && r.media) {
        l.update(seq, { media: { ...r.media } });
        this._afterChange(id);
      }
    } catch (e) {
      this._error(e);
    }
  }

  // Fresh signed URLs for a message's media (an old URL expired).
  async renewMedia(id, seq) {
    const m = this.logs.get(id)?.get(seq);
    if (m?.media?.media_id) await this._refreshMedia(id, seq, m.media.media_id);
  }

  async upload(file, onProgress) {
    const r = await this.conn.request(cmd.upload(file.type || 'application/octet-stream',
      file.size, file.name));
    try {
      await this.putFile(r.upload_url, file, onProgress);
    } catch (e) {
      this.telemetry?.error('upload_failed', e?.message);
      throw e;
    }
    return r.media_id;
  }

  // ---- the other commands ----

  async _do(frame, what) {
    try {
      return await this.conn.request(frame);
    } catch (e) {
      this._error(e, what);
      throw e;
    }
  }

  async edit(id, seq, text) {
    await this._do(cmd.edit(id, seq, text), 'edit');
    this.logs.get(id)?.update(seq, { text, edited_at: this.now() });
    this._afterChange(id);
  }

  async deleteMessage(id, seq, scope) {
    await this._do(cmd.del(id, seq, scope), 'delete');
    const l = this.logs.get(id);
    if (scope === 'me') l?.remove(seq);
    else l?.update(seq, { deleted: true });
    this._afterChange(id);
  }

  async report(id, seq, reason, note) {
    const r = await this._do(cmd.report(id, seq, reason, note), 'report');
    this.emit('notice', { kind: 'info', text: r.duplicate ? 'You already reported this message'
      : 'Reported to the moderators' });
    return r;
  }

  async createDirect(user) {
    const r = await this._do(cmd.createDirect(user), 'new chat');
    const c = this._mergeConv(r.conversation);
    this.emit('convs');
    return c;
  }

  async createGroup(title, members) {
    const r = await this._do(cmd.createGroup(title, members), 'new group');
    const c = this._mergeConv(r.conversation);
    this.emit('convs');
    return c;
  }

  async manage(frame, what) {
    await this._do(frame, what);
    await this._fetchConv(frame.conversation_id);
  }

  typingState(id, state) {
    this.conn.send(cmd.typing(id, state));
  }

  myRole(id) {
    return this.convs.get(id)?.role || 'member';
  }
}
