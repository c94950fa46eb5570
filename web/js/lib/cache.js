// cache.js — the local copy in IndexedDB: conversations, the latest page of
// each conversation's messages and the pending outgoing queue, so a
// reopened page shows recent conversations at once and then syncs.  One
// database per user.  Writes are batched.  Every failure is swallowed: the
// cache only ever speeds things up.  (Browser API, no DOM.)

const VERSION = 1;
const FLUSH_MS = 250;

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export async function openCache(user, idb = globalThis.indexedDB) {
  if (!idb) return null;
  try {
    const open = idb.open(`chatd:${user}`, VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('convs')) db.createObjectStore('convs', { keyPath: 'conversation_id' });
      if (!db.objectStoreNames.contains('messages')) db.createObjectStore('messages', { keyPath: 'conversation_id' });
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: 'key' });
    };
    const db = await req(open);
    return new Cache(db);
  } catch {
    return null;
  }
}

export class Cache {
  constructor(db) {
    this.db = db;
    this.convs = new Map();
    this.messages = new Map();
    this.deleted = new Set();
    this.pending = null;
    this.timer = null;
  }

  async loadAll() {
    try {
      const tx = this.db.transaction(['convs', 'messages', 'meta'], 'readonly');
      const [convs, msgs, pend] = await Promise.all([
        req(tx.objectStore('convs').getAll()),
        req(tx.objectStore('messages').getAll()),
        req(tx.objectStore('meta').get('pending')),
      ]);
      const messages = {};
      for (const m of msgs) messages[m.conversation_id] = m.list;
      return { convs, messages, pending: pend?.value || [] };
    } catch {
      return { convs: [], messages: {}, pending: [] };
    }
  }

  putConv(c) {
    this.convs.set(c.conversation_id, JSON.parse(JSON.stringify(c)));
    this.deleted.delete(c.conversation_id);
    this._later();
  }

  putMessages(id, list) {
    this.messages.set(id, list.map((m) => ({ ...m })));
    this._later();
  }

  putPending(list) {
    this.pending = list;
    this._later();
  }

  deleteConv(id) {
    this.convs.delete(id);
    this.messages.delete(id);
    this.deleted.add(id);
    this._later();
  }

  _later() {
    if (!this.timer) this.timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  async flush() {
    this.timer = null;
    const convs = [...this.convs.values()];
    const messages = [...this.messages.entries()];
    const deleted = [...this.deleted];
    const pending = this.pending;
    this.convs.clear();
    this.messages.clear();
    this.deleted.clear();
    this.pending = null;
    try {
      const tx = this.db.transaction(['convs', 'messages', 'meta'], 'readwrite');
      for (const c of convs) tx.objectStore('convs').put(c);
      for (const [id, list] of messages) tx.objectStore('messages').put({ conversation_id: id, list });
      for (const id of deleted) {
        tx.objectStore('convs').delete(id);
        tx.objectStore('messages').delete(id);
      }
      if (pending) tx.objectStore('meta').put({ key: 'pending', value: pending });
      await new Promise((resolve) => {
        tx.oncomplete = resolve;
        tx.onerror = resolve;
        tx.onabort = resolve;
      });
    } catch {
      // quota or a closed database: the next write tries again
    }
  }

  async clear() {
    try {
      const tx = this.db.transaction(['convs', 'messages', 'meta'], 'readwrite');
      tx.objectStore('convs').clear();
      tx.objectStore('messages').clear();
      tx.objectStore('meta').clear();
    } catch {
      // nothing to clear
    }
  }
}
