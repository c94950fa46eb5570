// pending.js — messages this client sent (or is about to send) that the
// server has not acknowledged yet.
//
// Each has a client_message_id made once, so sending it again after a
// reconnect is idempotent: the server answers a resend with the original
// ack ("duplicate": true) and stores nothing.  Entries stay in creation
// order; one is "sending" until its ack, "failed" when the server refused it
// for good (it is then kept for the user to retry or discard).  An entry in
// "sending" for more than stuckMs is reported once as stuck (telemetry).
// No DOM; toJSON/fromJSON let the page keep the queue across reloads.

export class PendingQueue {
  constructor({ stuckMs = 5000, now = () => Date.now() } = {}) {
    this.stuckMs = stuckMs;
    this.now = now;
    this.entries = new Map(); // client_message_id → entry (insertion order)
  }

  get size() {
    return this.entries.size;
  }

  // A new outgoing message; returns its entry.
  add({ conversation_id, client_message_id, text, media_id, reply_to, media_preview }) {
    if (!conversation_id || !client_message_id) throw new TypeError('conversation and cmid needed');
    if (this.entries.has(client_message_id)) return this.entries.get(client_message_id);
    const e = {
      conversation_id, client_message_id, created_at: this.now(),
      status: 'sending', attempts: 0, sent_at: 0, stuck_reported: false,
    };
    if (text) e.text = text;
    if (media_id) e.media_id = media_id;
    if (Number.isInteger(reply_to)) e.reply_to = reply_to;
    if (media_preview) e.media_preview = media_preview;
    this.entries.set(client_message_id, e);
    return e;
  }

  get(cmid) {
    return this.entries.get(cmid);
  }

  // The frame went out (again).
  markSent(cmid) {
    const e = this.entries.get(cmid);
    if (!e) return;
    e.attempts += 1;
    if (!e.sent_at) e.sent_at = this.now();
  }

  // The ack came: the entry leaves the queue and is returned (null when it
  // was not ours, e.g. acked twice).
  ack(cmid) {
    const e = this.entries.get(cmid);
    if (!e) return null;
    this.entries.delete(cmid);
    return e;
  }

  // Refused for good (not retryable): kept, marked failed.
  fail(cmid, error) {
    const e = this.entries.get(cmid);
    if (!e) return;
    e.status = 'failed';
    e.error = { code: error?.code || 'internal', message: error?.message || '' };
  }

  // The user asked to try a failed one again.
  retry(cmid) {
    const e = this.entries.get(cmid);
    if (!e) return null;
    e.status = 'sending';
    delete e.error;
    e.sent_at = 0;
    e.stuck_reported = false;
    return e;
  }

  discard(cmid) {
    return this.entries.delete(cmid);
  }

  // What to (re)send now, in creation order: everything in "sending".
  toSend() {
    return [...this.entries.values()].filter((e) => e.status === 'sending');
  }

  forConversation(conversationId) {
    return [...this.entries.values()].filter((e) => e.conversation_id === conversationId);
  }

  // Entries in "sending" for more than stuckMs since they were created,
  // each counted once.  Returns how many are newly stuck.
  collectStuck() {
    const t = this.now();
    let n = 0;
    for (const e of this.entries.values()) {
      if (e.status === 'sending' && !e.stuck_reported && t - e.created_at > this.stuckMs) {
        e.stuck_reported = true;
        n += 1;
      }
    }
    return n;
  }

  toJSON() {
    return [...this.entries.values()].map((e) => {
      const { media_preview, ...rest } = e; // eslint-disable-line no-unused-vars
      return rest;
    });
  }

  // Restore saved entries (a reload): they are all sent again.
  load(list) {
    for (const e of Array.isArray(list) ? list : []) {
      if (!e || !e.client_message_id || !e.conversation_id || this.entries.has(e.client_message_id)) {
        continue;
      }
      this.entries.set(e.client_message_id, { ...e, sent_at: 0 });
    }
  }
}
