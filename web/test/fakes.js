// fakes.js — a fake WebSocket and fake timers for the connection and
// store tests.

export function fakeTimers() {
  const t = { now: 0, timers: new Map(), next: 1 };
  t.set = (fn, ms) => {
    const id = t.next++;
    t.timers.set(id, { fn, at: t.now + ms });
    return id;
  };
  t.clear = (id) => t.timers.delete(id);
  t.advance = async (ms) => {
    const end = t.now + ms;
    for (;;) {
      const due = [...t.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      t.now = Math.max(t.now, due[1].at);
      t.timers.delete(due[0]);
      due[1].fn();
      await flush();
    }
    t.now = end;
    await flush();
  };
  return t;
}

export async function flush() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

// Every socket the code opens; the test plays the server.
export function fakeSockets() {
  const all = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.closed = false;
      all.push(this);
    }
    send(text) {
      if (this.closed) throw new Error('closed');
      this.sent.push(JSON.parse(text));
    }
    close() {
      this.closed = true;
    }
    // server side
    open() {
      this.onopen?.();
    }
    push(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }
    drop(code = 1006) {
      this.closed = true;
      this.onclose?.({ code, reason: '' });
    }
    last(type) {
      return [...this.sent].reverse().find((f) => f.type === type);
    }
    reply(type, body) {
      const f = this.last(type);
      this.push({ ...body, id: f.id });
      return f;
    }
  }
  return { FakeWS, all, get current() { return all[all.length - 1]; } };
}
