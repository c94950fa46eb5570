// connection.js — the WebSocket session: sign in with the first-frame
// `auth`, requests matched to replies by id (with a timeout), pushes handed
// on as 'frame' events, token refresh when a command fails with
// `token_expired`, application pings to notice a dead link, and automatic
// reconnection with backoff.  No DOM: the WebSocket constructor and the
// timers are injected (the unit tests use fakes).
//
// Events: 'state' (state: 'connecting' | 'open' | 'waiting' | 'stopped',
// detail {retryInMs, reason}), 'ready' ({ready, reconnect}), 'frame' (a
// frame that answers no request), 'signed_out' ({code, message}: the token
// is refused for good; the connection stops).

import { Backoff } from './backoff.js';
import { Emitter } from './emitter.js';
import { ProtocolError, parseFrame, randomId } from './protocol.js';

const CLOSE_UNAUTHORIZED = new Set([4401, 4408]);
const CLOSE_REVOKED = 4403;
const OFFLINE_RETRY_MS = 30000;

export class Connection extends Emitter {
  constructor({
    url, getToken, WebSocketImpl = globalThis.WebSocket, backoff = new Backoff(),
    setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(t),
    requestTimeoutMs = 10000, pingEveryMs = 15000, pongTimeoutMs = 6000,
    newId = () => randomId('r', 8),
  }) {
    super();
    this.url = url;
    this.getToken = getToken;
    this.WS = WebSocketImpl;
    this.backoff = backoff;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.requestTimeoutMs = requestTimeoutMs;
    this.pingEveryMs = pingEveryMs;
    this.pongTimeoutMs = pongTimeoutMs;
    this.newId = newId;
    this.state = 'idle';
    this.ws = null;
    this.inflight = new Map();  // id → {frame, resolve, reject, timer, refreshed}
    this.authId = null;
    this.readyFrame = null;
    this.everReady = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.refreshing = null;     // a token refresh in flight (Promise)
    this.authFailures = 0;      // refusals in a row at sign-in
    this.revokedAt = 0;
    this.offline = false;       // the browser said it is offline
  }

  get isOpen() {
    return this.state === 'open';
  }

  start() {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    this._connect();
  }

  stop() {
    this._setState('stopped');
    this._clearRetry();
    this._teardown(new ProtocolError('network', 'connection stopped'));
  }

  // Try now (the browser says it is online again, or the user asked).
  reconnectNow() {
    this.offline = false;
    if (this.state === 'stopped' || this.state === 'open' || this.state === 'connecting') return;
    this._clearRetry();
    this._connect();
  }

  // The browser went offline: drop the socket at once (it may linger for
  // minutes otherwise) and wait; reconnectNow() brings it back.
  goOffline() {
    if (this.state === 'stopped') return;
    this.offline = true;
    this._teardown(new ProtocolError('network', 'offline'));
    this._scheduleRetry('offline');
  }

  // Fire and forget (typing, read without id).  False when not open.
  send(frame) {
    if (!this.isOpen) return false;
    return this._write(frame);
  }

  // Send a frame and wait for its reply (any frame with the same id);
  // rejects with a ProtocolError (`error` frames, 'timeout', 'network').
  request(frame, { timeoutMs = this.requestTimeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new ProtocolError('network', 'not connected', { retryable: true }));
        return;
      }
      const id = this.newId();
      const entry = { frame: { ...frame, id }, resolve, reject, timer: null, refreshed: false };
      entry.timer = this.setTimer(() => {
        this.inflight.delete(id);
        reject(new ProtocolError('timeout', `no answer to ${frame.type}`, { retryable: true }));
      }, timeoutMs);
      this.inflight.set(id, entry);
      if (!this._write(entry.frame)) {
        this.clearTimer(entry.timer);
        this.inflight.delete(id);
        reject(new ProtocolError('network', 'not connected', { retryable: true }));
      }
    });
  }

  // ---- internals ----

  _setState(state, detail = {}) {
    this.state = state;
    this.emit('state', state, detail);
  }

  _write(frame) {
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  async _connect() {
    this._setState('connecting');
    let token;
    try {
      token = await this.getToken({ refresh: false });
    } catch (e) {
      token = null;
    }
    if (this.state !== 'connecting') return;
    if (!token) {
      this._signedOut('unauthorized', 'no token');
      return;
    }
    let ws;
    try {
      ws = new this.WS(this.url);
    } catch {
      this._scheduleRetry('network');
      return;
    }
    this.ws = ws;
    this.authId = this.newId();
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this._write({ type: 'auth', id: this.authId, token });
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this._onMessage(ev.data);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws === ws) this._onClose(ev.code, ev.reason);
    };
  }

  _onMessage(data) {
    const f = typeof data === 'string' ? parseFrame(data) : null;
    if (!f) return;
    if (f.type === 'ready' && (f.id === this.authId || f.id === undefined) && this.state !== 'open') {
      this._opened(f);
      return;
    }
    if (f.type === 'ready' && this.state === 'open') {
      // A refresh answered (its id is a refresh id).
      this.readyFrame = f;
      this.emit('refreshed', f);
      this._settle(f);
      return;
    }
    if (f.id !== undefined && this.inflight.has(f.id)) {
      this._settle(f);
      return;
    }
    if (f.type === 'error' && this.state !== 'open') {
      this.lastAuthError = f;  // the close that follows says what to do
      return;
    }
    if (f.type === 'error' && f.code === 'revoked') {
      this.lastAuthError = f;
      return;
    }
    this.emit('frame', f);
  }

  _settle(f) {
    const e = this.inflight.get(f.id);
    if (!e) return;
    if (f.type === 'error' && f.code === 'token_expired' && !e.refreshed) {
      e.refreshed = true;
      this.clearTimer(e.timer);
      this._refresh().then(() => {
        if (!this.inflight.has(f.id)) return;
        e.timer = this.setTimer(() => {
          this.inflight.delete(f.id);
          e.reject(new ProtocolError('timeout', `no answer to ${e.frame.type}`));
        }, this.requestTimeoutMs);
        this._write(e.frame);
      }, (err) => {
        this.inflight.delete(f.id);
        e.reject(err);
      });
      return;
    }
    this.inflight.delete(f.id);
    this.clearTimer(e.timer);
    if (f.type === 'error') e.reject(ProtocolError.fromFrame(f));
    else e.resolve(f);
  }

  // Get a fresh token and send `auth` on this connection; one at a time.
  _refresh() {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      const token = await this.getToken({ refresh: true });
      if (!token) throw new ProtocolError('token_expired', 'no fresh token');
      const f = await this.request({ type: 'auth', token });
      return f;
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  _opened(ready) {
    const reconnect = this.everReady;
    this.everReady = true;
    this.readyFrame = ready;
    this.authFailures = 0;
    this.backoff.reset();
    this._setState('open');
    this._armPing();
    this.emit('ready', { ready, reconnect });
  }

  _armPing() {
    if (this.pingTimer) this.clearTimer(this.pingTimer);
    if (!this.pingEveryMs) return;
    this.pingTimer = this.setTimer(() => {
      this.pingTimer = null;
      if (!this.isOpen) return;
      this.request({ type: 'ping' }, { timeoutMs: this.pongTimeoutMs }).then(
        () => this._armPing(),
        (e) => {
          if (e.code === 'timeout') this._dropDead();
          else this._armPing();
        },
      );
    }, this.pingEveryMs);
  }

  // No pong: the link is dead even if the socket does not know yet.
  _dropDead() {
    if (!this.ws) return;
    this._teardown(new ProtocolError('network', 'connection lost', { retryable: true }));
    this._scheduleRetry('timeout');
  }

  _onClose(code, reason) {
    const wasOpen = this.state === 'open';
    const err = this.lastAuthError;
    this.lastAuthError = null;
    this._teardown(new ProtocolError('network', 'connection closed', { retryable: true }));
    if (this.state === 'stopped') return;
    if (CLOSE_UNAUTHORIZED.has(code)) {
      // The token was refused: one fresh token, then give up.
      this.authFailures += 1;
      if (this.authFailures > 1) {
        this._signedOut('unauthorized', err?.message || 'the token was refused');
        return;
      }
      this._setState('connecting');
      Promise.resolve(this.getToken({ refresh: true })).then((t) => {
        if (this.state !== 'connecting') return;
        if (t) this._connect();
        else this._signedOut('unauthorized', 'the token was refused');
      }, () => this._signedOut('unauthorized', 'the token was refused'));
      return;
    }
    if (code === CLOSE_REVOKED) {
      // A kick may reconnect at once; a revocation or ban refuses again.
      const now = Date.now();
      if (now - this.revokedAt < 10000) {
        this._signedOut('revoked', err?.message || 'signed out by the server');
        return;
      }
      this.revokedAt = now;
      this._connect();
      return;
    }
    this._scheduleRetry(wasOpen ? 'closed' : 'network', code, reason);
  }

  _teardown(err) {
    if (this.pingTimer) this.clearTimer(this.pingTimer);
    this.pingTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    for (const [id, e] of this.inflight) {
      this.clearTimer(e.timer);
      this.inflight.delete(id);
      e.reject(err);
    }
  }

  _scheduleRetry(reason, code) {
    if (this.state === 'stopped') return;
    this._clearRetry();
    // Offline: wait for the browser's 'online' (reconnectNow), with a slow
    // try now and then in case that event never comes.
    const ms = this.offline ? OFFLINE_RETRY_MS : this.backoff.next();
    this._setState('waiting', { retryInMs: ms, reason: this.offline ? 'offline' : reason, code,
      retryAt: Date.now() + ms });
    this.retryTimer = this.setTimer(() => {
      this.retryTimer = null;
      this._connect();
    }, ms);
  }

  _clearRetry() {
    if (this.retryTimer) this.clearTimer(this.retryTimer);
    this.retryTimer = null;
  }

  _signedOut(code, message) {
    this._clearRetry();
    this._teardown(new ProtocolError(code, message));
    this._setState('stopped', { reason: code });
    this.emit('signed_out', { code, message });
  }
}
