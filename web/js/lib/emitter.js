// emitter.js — a tiny event emitter (no DOM: the logic modules run in Node
// for their unit tests as well as in the browser).

export class Emitter {
  constructor() {
    this._handlers = new Map();
  }

  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this._handlers.get(type)?.delete(fn);
  }

  emit(type, ...args) {
    for (const fn of [...(this._handlers.get(type) || [])]) {
      try {
        fn(...args);
      } catch (e) {
        // One listener's bug must not stop the others (nor the socket).
        if (type !== 'listener_error') this.emit('listener_error', e);
      }
    }
  }
}
