// auth.js — where the client's token comes from: pasted by the user, or
// the server's development sign-in (POST /auth/dev-login, only when the
// server offers it).  Kept in storage so a reopened page signs in at once.
// A refresh (the server said token_expired) asks the dev sign-in again, or
// the user for a new token (askToken, set by the UI).  No DOM: fetch and
// storage are injected.

import { tokenClaims, validUserId } from './protocol.js';

const KEY = 'chatd.auth';

export class Auth {
  constructor({ fetchImpl = (...a) => fetch(...a), storage = globalThis.localStorage,
                now = () => Date.now() } = {}) {
    this.fetch = fetchImpl;
    this.storage = storage;
    this.now = now;
    this.mode = null;        // 'dev' | 'token'
    this.token = null;
    this.claims = null;
    this.moderator = false;
    this.askToken = null;    // async (reason) => token | null
  }

  get user() {
    return this.claims?.sub || '';
  }

  restore() {
    try {
      const s = JSON.parse(this.storage?.getItem(KEY) || 'null');
      if (s && typeof s.token === 'string' && (s.mode === 'dev' || s.mode === 'token')) {
        const c = tokenClaims(s.token);
        if (c && validUserId(c.sub)) {
          this.mode = s.mode;
          this.token = s.token;
          this.claims = c;
          this.moderator = !!s.moderator;
          return true;
        }
      }
    } catch {
      // a damaged entry: sign in again
    }
    return false;
  }

  _save() {
    try {
      this.storage?.setItem(KEY, JSON.stringify({ mode: this.mode, token: this.token,
        moderator: this.moderator }));
    } catch {
      // storage full or off: the session still works
    }
  }

  signOut() {
    this.mode = this.token = this.claims = null;
    try {
      this.storage?.removeItem(KEY);
    } catch {
      // nothing kept
    }
  }

  // Is the development sign-in offered?  {ttl_s} or null.
  async devLoginOffered() {
    try {
      const r = await this.fetch('/auth/dev-login', { method: 'GET', cache: 'no-store' });
      if (r.status !== 200) return null;
      const b = await r.json();
      return b && b.enabled ? b : null;
    } catch {
      return null;
    }
  }

  async _devToken(user, moderator) {
    const body = { user_id: user };
    if (moderator) body.roles = ['moderator'];
    const r = await this.fetch('/auth/dev-login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body), cache: 'no-store',
    });
    let b = null;
    try {
      b = await r.json();
    } catch {
      b = null;
    }
    if (r.status !== 200 || !b || typeof b.token !== 'string') {
      const err = new Error(b?.message || `sign-in refused (${r.status})`);
      err.code = b?.error || 'unauthorized';
      throw err;
    }
    return b.token;
  }

  async signInDev(user, { moderator = false } = {}) {
    if (!validUserId(user)) throw new Error('a user name is 1-64 characters of A-Z a-z 0-9 . _ @ -');
    const token = await this._devToken(user, moderator);
    this.mode = 'dev';
    this.moderator = moderator;
    this._set(token);
  }

  signInToken(token) {
    const t = String(token || '').trim();
    const c = tokenClaims(t);
    if (!c || !validUserId(c.sub)) throw new Error('this is not a chatd token (a JWT with a user id in sub)');
    if (c.exp && c.exp * 1000 <= this.now()) throw new Error('this token has expired');
    this.mode = 'token';
    this._set(t);
  }

  _set(token) {
    this.token = token;
    this.claims = tokenClaims(token);
    this._save();
  }

  expired(marginMs = 5000) {
    return !this.claims || (this.claims.exp && this.claims.exp * 1000 - marginMs <= this.now());
  }

  // The connection's token source.
  async getToken({ refresh = false } = {}) {
    if (!this.token) return null;
    if (!refresh && !this.expired()) return this.token;
    if (this.mode === 'dev') {
      const user = this.user;
      this._set(await this._devToken(user, this.moderator));
      return this.token;
    }
    if (!this.askToken) return null;
    const t = await this.askToken('Your token has expired. Paste a new one to go on.');
    if (!t) return null;
    const c = tokenClaims(t);
    if (!c || c.sub !== this.user) return null;
    this._set(String(t).trim());
    return this.token;
  }
}
