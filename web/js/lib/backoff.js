// backoff.js — reconnect delays: exponential with full jitter, capped.
//
// next() gives the delay before the next attempt: a random value in
// [base * 2^(n-1) / 2, base * 2^(n-1)] (never below minMs), capped at maxMs;
// reset() after a connection that held (the server said `ready`).

export class Backoff {
  constructor({ baseMs = 500, maxMs = 30000, minMs = 250, random = Math.random } = {}) {
    if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new RangeError('bad backoff bounds');
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.minMs = Math.min(minMs, baseMs);
    this.random = random;
    this.attempt = 0;
  }

  next() {
    this.attempt += 1;
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt - 1, 30));
    const delay = ceiling / 2 + this.random() * (ceiling / 2);
    return Math.max(this.minMs, Math.round(delay));
  }

  reset() {
    this.attempt = 0;
  }
}
