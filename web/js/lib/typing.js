// typing.js — typing indicators: the sentence shown for a conversation's
// typing set, and when this client tells the server it types.  No DOM.

// "alice is typing…", "alice and bob are typing…", "3 people typing…"
export function typingText(users, count) {
  const names = Array.isArray(users) ? users.filter((u) => typeof u === 'string') : [];
  const n = Number.isInteger(count) && count >= names.length ? count : names.length;
  if (n <= 0) return '';
  if (n === 1 && names.length === 1) return `${names[0]} is typing…`;
  if (n === 2 && names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${n} people typing…`;
}

// Decides the `typing` frames of one composer: `start` on the first
// keystroke and again every renewMs while typing (the server expires a start
// after 6 s), `stop` after idleMs without a keystroke, on send and on blur.
// send(state) is called with 'start' or 'stop'; timers are injectable.
export class TypingSender {
  constructor(send, { renewMs = 4000, idleMs = 3000, now = () => Date.now(),
                      setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (t) => clearTimeout(t) } = {}) {
    this.send = send;
    this.renewMs = renewMs;
    this.idleMs = idleMs;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.active = false;
    this.lastStart = 0;
    this.timer = null;
  }

  input() {
    const t = this.now();
    if (!this.active || t - this.lastStart >= this.renewMs) {
      this.active = true;
      this.lastStart = t;
      this.send('start');
    }
    if (this.timer) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => this.stop(), this.idleMs);
  }

  stop() {
    if (this.timer) this.clearTimer(this.timer);
    this.timer = null;
    if (!this.active) return;
    this.active = false;
    this.send('stop');
  }
}
