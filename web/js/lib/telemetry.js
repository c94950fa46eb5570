// telemetry.js — what the client tells the server about its health
// (POST /telemetry, docs/web-client.md): reconnects, messages stuck in
// "sending" for more than 5 s, and errors by code.  Counts add up between
// reports and are sent at most every intervalMs; a refused report (429,
// network) keeps them for the next.  No DOM: post(body) is injected.

const MAX_ERRORS = 20;
const CODE_RE = /^[a-z0-9_.-]{1,64}$/;

export class Telemetry {
  constructor({ post, intervalMs = 30000, setTimer = (f, ms) => setTimeout(f, ms),
                clearTimer = (t) => clearTimeout(t) }) {
    this.post = post;
    this.intervalMs = intervalMs;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.timer = null;
    this.sending = false;
    this.reset();
  }

  reset() {
    this.reconnects = 0;
    this.stuck_sends = 0;
    this.errors = [];
  }

  count(what, n = 1) {
    if (what === 'reconnects') this.reconnects = Math.min(1000, this.reconnects + n);
    else if (what === 'stuck_sends') this.stuck_sends = Math.min(1000, this.stuck_sends + n);
  }

  error(code, message = '') {
    const c = CODE_RE.test(String(code)) ? String(code) : 'other';
    if (this.errors.length >= MAX_ERRORS) return;
    this.errors.push({ code: c, message: String(message || '').slice(0, 300) });
  }

  get empty() {
    return !this.reconnects && !this.stuck_sends && !this.errors.length;
  }

  report() {
    const r = {};
    if (this.reconnects) r.reconnects = this.reconnects;
    if (this.stuck_sends) r.stuck_sends = this.stuck_sends;
    if (this.errors.length) r.errors = this.errors.slice();
    return r;
  }

  start() {
    this.stopTimer();
    this.timer = this.setTimer(async () => {
      this.timer = null;
      await this.flush();
      this.start();
    }, this.intervalMs);
  }

  stopTimer() {
    if (this.timer) this.clearTimer(this.timer);
    this.timer = null;
  }

  // Send what has been counted; true when the server took it.
  async flush({ keepalive = false } = {}) {
    if (this.empty || this.sending) return false;
    const body = this.report();
    this.reset();
    this.sending = true;
    let ok = false;
    try {
      ok = await this.post(body, { keepalive });
    } catch {
      ok = false;
    }
    this.sending = false;
    if (!ok) {
      // Put the counts back (bounded) for the next report.
      this.count('reconnects', body.reconnects || 0);
      this.count('stuck_sends', body.stuck_sends || 0);
      for (const e of body.errors || []) this.error(e.code, e.message);
    }
    return ok;
  }
}
