// messages.js — the message list of the open conversation: stored
// messages in seq order, then this client's pending ones; each with its
// actions (reply, edit, delete, report).  Elements are reused by key while
// their content is unchanged, so images do not reload and screen readers
// (role="log") hear only what is new.

import { may } from '../lib/protocol.js';
import { fmtSize, fmtTime, h, safeUrl } from './dom.js';

function signature(m, extra) {
  return JSON.stringify([m.text, m.deleted, m.edited_at, m.media?.url, m.media?.thumbnail_url,
    m.status, m.error?.code, m.reply_to, extra]);
}

export class MessageList {
  constructor({ store, onReply, onEdit, onReport, onToast }) {
    this.store = store;
    this.onReply = onReply;
    this.onEdit = onEdit;
    this.onReport = onReport;
    this.onToast = onToast;
    this.cache = new Map();       // key → {sig, el}
    this.openMenu = null;
    this.list = h('ol', { class: 'msg-list' });
    this.older = h('button', { class: 'load-older', type: 'button', text: 'Load older messages',
      onclick: () => this.loadOlder() });
    this.sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
    this.scroller = h('div', { class: 'messages', role: 'log', 'aria-label': 'Messages',
      'aria-live': 'polite', tabindex: '0' }, this.sentinel, this.older, this.list);
    this.convId = null;
    if (typeof IntersectionObserver !== 'undefined') {
      this.io = new IntersectionObserver((es) => {
        if (es.some((e) => e.isIntersecting)) this.loadOlder();
      }, { root: this.scroller, rootMargin: '200px 0px 0px 0px' });
      this.io.observe(this.sentinel);
    }
  }

  setConversation(id) {
    if (id !== this.convId) {
      this.convId = id;
      this.cache.clear();
      this.list.replaceChildren();
      this.stickToBottom = true;
    }
    this.render();
  }

  async loadOlder() {
    const id = this.convId;
    if (!id || this.loading) return;
    const v = this.store.view(id);
    if (!v.hasMoreBefore) return;
    this.loading = true;
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    await this.store.loadOlder(id);
    this.loading = false;
    if (id === this.convId) this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  render() {
    const id = this.convId;
    if (!id) return;
    const stick = this.list.childElementCount === 0 || this.atBottom();
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    const v = this.store.view(id);
    const byseq = new Map(v.messages.map((m) => [m.seq, m]));
    const items = [];
    // Staff see where messages are hidden from members (held for review,
    // shadowed, or removed) as a badge between the messages.
    const holes = this.store.staff ? new Set(v.holes) : new Set();
    let run = 0;
    let runStart = 0;
    const flushRun = (beforeSeq) => {
      if (run) items.push({ key: `hole:${runStart}`, hole: run, at: beforeSeq });
      run = 0;
    };
    const seqs = [...v.messages.map((m) => m.seq), ...holes].sort((a, b) => a - b);
    for (const s of seqs) {
      if (holes.has(s) && !byseq.has(s)) {
        if (!run) runStart = s;
        run += 1;
        continue;
      }
      flushRun(s);
      const m = byseq.get(s);
      items.push({ key: `s:${m.seq}`, m });
    }
    flushRun(0);
    for (const p of v.pending) items.push({ key: `p:${p.client_message_id}`, p });

    const els = items.map((it) => this._element(it, byseq));
    this.list.replaceChildren(...els);
    this.older.hidden = !v.hasMoreBefore;
    if (stick) this.scroller.scrollTop = this.scroller.scrollHeight;
    else this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
  }

  _element(it, byseq) {
    const extra = it.m ? (this.openMenu === it.key) : it.p ? this.openMenu === it.key : it.hole;
    const sig = it.hole !== undefined ? `hole${it.hole}` : signature(it.m || it.p, extra);
    const c = this.cache.get(it.key);
    if (c && c.sig === sig) return c.el;
    let el;
    if (it.hole !== undefined) {
      el = h('li', { class: 'hole', dataset: { holeStart: String(it.key.slice(5)) } },
        h('span', { class: 'badge held', text: 'held for review' }),
        ` ${it.hole} message${it.hole > 1 ? 's' : ''} hidden from members (held, shadowed or removed)`);
    } else if (it.m) {
      el = this._stored(it.m, byseq, it.key);
    } else {
      el = this._pending(it.p, it.key);
    }
    this.cache.set(it.key, { sig, el });
    return el;
  }

  _replyQuote(seq, byseq) {
    if (!Number.isInteger(seq)) return null;
    const r = byseq.get(seq);
    const text = r ? (r.deleted ? 'deleted message' : (r.text || (r.media ? 'attachment' : ''))) : `message #${seq}`;
    return h('blockquote', { class: 'reply-quote' },
      h('span', { class: 'reply-who', text: r ? r.sender_id : '' }), ' ', text.slice(0, 140));
  }

  _media(media, alt, onRenew) {
    const url = safeUrl(media.url);
    if (!url) return null;
    const thumb = safeUrl(media.thumbnail_url) || (media.mime.startsWith('image/') || url.startsWith('blob:') ? url : '');
    if (thumb) {
      const img = h('img', { class: 'thumb', src: thumb, alt: alt || 'image', loading: 'lazy',
        decoding: 'async' });
      img.addEventListener('error', () => {
        if (!img.dataset.renewed && onRenew) {
          img.dataset.renewed = '1';
          onRenew();
        }
      }, { once: true });
      return h('a', { class: 'media', href: url, target: '_blank', rel: 'noopener noreferrer' }, img);
    }
    return h('a', { class: 'media file', href: url, target: '_blank', rel: 'noopener noreferrer' },
      `${media.mime || 'file'} (${fmtSize(media.size || 0)})`);
  }

  _stored(m, byseq, key) {
    const store = this.store;
    const own = m.sender_id === store.me;
    const li = h('li', { class: `msg${own ? ' own' : ''}${m.deleted ? ' deleted' : ''}`,
      dataset: { seq: String(m.seq), sender: m.sender_id, status: 'sent' } });
    li.append(h('div', { class: 'msg-meta' },
      h('span', { class: 'sender', text: own ? 'You' : m.sender_id }),
      h('time', { datetime: new Date(m.ts || 0).toISOString(), text: fmtTime(m.ts) }),
      m.edited_at && !m.deleted ? h('span', { class: 'edited', text: '(edited)' }) : null));
    if (m.deleted) {
      li.append(h('p', { class: 'text muted', text: 'This message was deleted.' }));
      return li;
    }
    const q = this._replyQuote(m.reply_to, byseq);
    if (q) li.append(q);
    if (m.text) li.append(h('p', { class: 'text', text: m.text }));
    if (m.media) {
      const md = this._media(m.media, `image from ${m.sender_id}`,
        () => store.renewMedia(m.conversation_id, m.seq));
      if (md) li.append(md);
    }
    li.append(this._actions(m, own, key));
    return li;
  }

  _actions(m, own, key) {
    const store = this.store;
    const id = m.conversation_id;
    const role = store.myRole(id);
    const open = this.openMenu === key;
    const toggle = h('button', { class: 'icon msg-actions-btn', type: 'button',
      'aria-expanded': open ? 'true' : 'false',
      'aria-label': `Actions for the message from ${own ? 'you' : m.sender_id}`, text: '⋯',
      onclick: () => {
        this.openMenu = open ? null : key;
        this.render();
        if (!open) this.list.querySelector(`[data-seq="${m.seq}"] .msg-actions button`)?.focus();
      } });
    const wrap = h('div', { class: 'msg-actions-wrap' }, toggle);
    if (!open) return wrap;
    const close = () => {
      this.openMenu = null;
      this.render();
    };
    const act = (label, fn, cls = '') => h('button', { type: 'button', class: cls, text: label,
      onclick: async () => {
        close();
        try {
          await fn();
        } catch {
          // the store showed the error
        }
      } });
    const senderRole = store.members.get(id)?.find((x) => x.user_id === m.sender_id)?.role || 'member';
    const canDeleteAll = own || may('delete_others', role, senderRole);
    wrap.append(h('div', { class: 'msg-actions', role: 'group', 'aria-label': 'Message actions' },
      act('Reply', () => this.onReply(m)),
      own && m.text ? act('Edit', () => this.onEdit(m)) : null,
      canDeleteAll ? act('Delete for everyone', () => {
        if (confirm('Delete this message for everyone?')) return store.deleteMessage(id, m.seq, 'everyone');
        return undefined;
      }, 'danger') : null,
      act('Delete for me', () => store.deleteMessage(id, m.seq, 'me')),
      !own ? act('Report', () => this.onReport(m)) : null));
    return wrap;
  }

  _pending(p, key) {
    const failed = p.status === 'failed';
    const li = h('li', { class: `msg own pending${failed ? ' failed' : ''}`,
      dataset: { cmid: p.client_message_id, status: failed ? 'failed' : 'sending' } });
    li.append(h('div', { class: 'msg-meta' }, h('span', { class: 'sender', text: 'You' })));
    if (p.text) li.append(h('p', { class: 'text', text: p.text }));
    if (p.media_preview) {
      li.append(h('a', { class: 'media' }, h('img', { class: 'thumb', src: safeUrl(p.media_preview),
        alt: 'your image, sending' })));
    }
    if (failed) {
      li.append(h('div', { class: 'status error', role: 'alert' },
        `Not sent: ${p.error?.message || p.error?.code || 'refused'} `,
        h('button', { type: 'button', text: 'Retry', onclick: () => this.store.retry(p.client_message_id) }),
        h('button', { type: 'button', text: 'Discard', onclick: () => this.store.discard(p.client_message_id) })));
    } else {
      li.append(h('div', { class: 'status', text: 'Sending…' }));
    }
    void key;
    return li;
  }
}
