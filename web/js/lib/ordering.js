// ordering.js — one conversation's messages in seq order, without
// duplicates, with a small buffer for messages that arrive past a gap.
//
// Seqs increase by one per stored message, but a client does not see every
// seq: held and shadowed messages of others and messages it deleted "for
// me" leave gaps (docs/decisions.md 16).  So a gap is first *suspected*
// (a message arrives with seq > last + 1: it waits in the buffer and the
// caller asks `history` for what lies between), then *confirmed* by the
// history answer (fillGap): seqs it did not return are holes and the log
// moves past them.  Until then nothing after the gap is shown, so both
// sides of a chat always show the same messages in the same order.
//
// The log knows a contiguous range [first, last] of seqs (messages and
// confirmed holes).  It starts empty and uninitialized: the first history
// (setBase) or sync answer anchors it.  No DOM.

export class OrderedLog {
  constructor({ maxBuffer = 500 } = {}) {
    this.maxBuffer = maxBuffer;
    this.reset();
  }

  reset() {
    this.msgs = new Map();      // seq → message (applied)
    this.holes = new Set();     // seqs confirmed absent for this viewer
    this.buffer = new Map();    // seq → message waiting past a gap
    this.first = 0;             // lowest seq known (0: none)
    this.last = 0;              // highest seq applied: everything up to it is known
    this.initialized = false;
    this.hasMoreBefore = true;  // older messages may exist (history before first)
  }

  get size() {
    return this.msgs.size;
  }

  has(seq) {
    return this.msgs.has(seq);
  }

  get(seq) {
    return this.msgs.get(seq);
  }

  // Anchor an empty log on a page of the latest messages (ascending seqs),
  // or on a known last seq with no message (lastSeq, e.g. from conv.list).
  setBase(messages, { hasMore = false, lastSeq = 0 } = {}) {
    const keep = [...this.buffer.values()];
    this.reset();
    this.initialized = true;
    const sorted = [...messages].sort((a, b) => a.seq - b.seq);
    if (sorted.length) {
      this.first = sorted[0].seq;
      this.last = sorted[0].seq - 1;
      this.hasMoreBefore = hasMore || this.first > 1;
      this._applyRange(sorted, this.first, sorted[sorted.length - 1].seq + 1);
    } else {
      this.first = lastSeq + 1;
      this.last = lastSeq;
      this.hasMoreBefore = hasMore || lastSeq > 0;
    }
    for (const m of keep) this.insert(m);
  }

  // Insert a live or resent message.  Returns
  //   {applied: [messages now shown, in order], duplicate, updated, gap}
  // where gap, when not null, is {after, before}: the caller asks
  // `history` for the seqs strictly between and calls fillGap.
  insert(m) {
    const res = { applied: [], duplicate: false, updated: false, gap: null };
    if (!this.initialized) {
      this._buffer(m);
      return res;
    }
    if (this.msgs.has(m.seq)) {
      res.duplicate = true;
      res.updated = this._merge(m);
      return res;
    }
    if (m.seq <= this.last || m.seq < this.first) {
      // Below what we know (a hole that history did not return, or older
      // than the loaded page): a hole can come back when a moderator
      // approves a held message.
      if (this.holes.has(m.seq)) {
        this.holes.delete(m.seq);
        this.msgs.set(m.seq, m);
        res.applied.push(m);
      } else {
        res.duplicate = true;
      }
      return res;
    }
    if (m.seq === this.last + 1) {
      this.msgs.set(m.seq, m);
      this.last = m.seq;
      res.applied.push(m, ...this._drain());
      return res;
    }
    if (this.buffer.has(m.seq)) {
      res.duplicate = true;
      this._merge(m, this.buffer);
      return res;
    }
    this._buffer(m);
    res.gap = this.gap();
    return res;
  }

  // The first gap to fill, or null.
  gap() {
    if (!this.buffer.size) return null;
    return { after: this.last, before: Math.min(...this.buffer.keys()) };
  }

  // The answer of `history` {after, before}: messages strictly between and
  // whether more were left out.  When nothing was left out, the seqs that
  // did not come are holes.  Returns the messages now applied, in order.
  fillGap(after, before, messages, hasMore) {
    const applied = [];
    if (!this.initialized || after !== this.last) {
      // The log moved meanwhile: just insert what came.
      for (const m of messages) applied.push(...this.insert(m).applied);
      return applied;
    }
    const sorted = messages.filter((m) => m.seq > after && m.seq < before)
      .sort((a, b) => a.seq - b.seq);
    const end = hasMore ? (sorted.length ? sorted[sorted.length - 1].seq + 1 : after + 1) : before;
    applied.push(...this._applyRange(sorted, after + 1, end));
    applied.push(...this._drain());
    return applied;
  }

  // Older messages (history before first): prepended.  Returns them in order.
  prepend(messages, hasMore) {
    if (!this.initialized) return [];
    const older = messages.filter((m) => m.seq < this.first).sort((a, b) => a.seq - b.seq);
    const out = [];
    if (older.length) {
      // Seqs between the page and the old first that did not come are holes.
      let i = 0;
      for (let s = older[0].seq; s < this.first; s++) {
        if (i < older.length && older[i].seq === s) {
          this.msgs.set(s, older[i]);
          out.push(older[i]);
          i++;
        } else {
          this.holes.add(s);
        }
      }
      this.first = older[0].seq;
    }
    if (!hasMore) {
      // Nothing older exists for this viewer: what is below is hidden.
      for (let s = 1; s < this.first; s++) this.holes.add(s);
      this.first = Math.min(this.first, 1);
      this.hasMoreBefore = false;
    } else {
      this.hasMoreBefore = this.first > 1;
    }
    return out;
  }

  // An edit or delete (message_update) of a known message: true when shown.
  update(seq, changes) {
    const m = this.msgs.get(seq) || this.buffer.get(seq);
    if (!m) return false;
    Object.assign(m, changes);
    if (changes.deleted) {
      delete m.text;
      delete m.media;
    }
    return this.msgs.has(seq);
  }

  // Delete for me: the message leaves this viewer's log for good.
  remove(seq) {
    if (!this.msgs.delete(seq)) return false;
    this.holes.add(seq);
    return true;
  }

  // Everything shown, ascending.
  list() {
    return [...this.msgs.values()].sort((a, b) => a.seq - b.seq);
  }

  // Confirmed holes above the first shown message (for the staff badge).
  holesList() {
    return [...this.holes].filter((s) => s >= this.first).sort((a, b) => a - b);
  }

  _buffer(m) {
    this.buffer.set(m.seq, m);
    if (this.buffer.size > this.maxBuffer) {
      // Far behind: the caller resyncs; keep the newest.
      const oldest = Math.min(...this.buffer.keys());
      this.buffer.delete(oldest);
    }
  }

  _merge(m, where = this.msgs) {
    const old = where.get(m.seq);
    const newer = !!((m.edited_at || 0) > (old.edited_at || 0) || (m.deleted && !old.deleted) ||
      (m.media && !old.media) || (m.media && old.media && m.media.url !== old.media.url));
    if (newer) where.set(m.seq, { ...old, ...m });
    return newer;
  }

  // Apply sorted messages covering [from, end): missing seqs become holes.
  _applyRange(sorted, from, end) {
    const out = [];
    let i = 0;
    for (let s = from; s < end; s++) {
      if (i < sorted.length && sorted[i].seq === s) {
        if (!this.msgs.has(s)) {
          this.msgs.set(s, sorted[i]);
          out.push(sorted[i]);
        }
        this.buffer.delete(s);
        i++;
      } else if (!this.msgs.has(s)) {
        const b = this.buffer.get(s);
        if (b) {
          this.msgs.set(s, b);
          this.buffer.delete(s);
          out.push(b);
        } else {
          this.holes.add(s);
        }
      }
      this.last = Math.max(this.last, s);
    }
    return out;
  }

  _drain() {
    const out = [];
    while (this.buffer.has(this.last + 1)) {
      const m = this.buffer.get(this.last + 1);
      this.buffer.delete(this.last + 1);
      this.msgs.set(m.seq, m);
      this.last = m.seq;
      out.push(m);
    }
    for (const s of [...this.buffer.keys()]) if (s <= this.last) this.buffer.delete(s);
    return out;
  }
}
