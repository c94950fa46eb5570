// shell.js — the signed-in view: top bar with the connection indicator,
// the conversation list, the open conversation (messages, typing, "seen
// by", composer with replies and uploads) and the member panel.  On a
// narrow screen the list and the conversation are two pages.

import { codePoints } from '../lib/protocol.js';
import { TypingSender, typingText } from '../lib/typing.js';
import { newChatDialog, reportDialog } from './dialogs.js';
import { fmtTime, h } from './dom.js';
import { renderMembers } from './members.js';
import { MessageList } from './messages.js';

const ACCEPT = 'image/jpeg,image/png,image/webp,image/gif,application/pdf,text/plain,audio/mpeg,audio/ogg,video/mp4';

export class Shell {
  constructor(root, { store, auth, onSignOut }) {
    this.root = root;
    this.store = store;
    this.auth = auth;
    this.onSignOut = onSignOut;
    this.replyTo = null;
    this.editing = null;
    this.membersOpen = false;
    this.countdown = null;
    this._build();
    this._wire();
  }

  _build() {
    const s = this.store;
    this.connDot = h('span', { class: 'dot', 'aria-hidden': 'true' });
    this.connText = h('span', { class: 'conn-text', text: 'Connecting…' });
    this.retryBtn = h('button', { type: 'button', class: 'link', hidden: true, text: 'Retry now',
      onclick: () => s.conn.reconnectNow() });
    this.conn = h('div', { class: 'conn', role: 'status', 'aria-live': 'polite',
      dataset: { state: 'connecting' } }, this.connDot, this.connText, this.retryBtn);
    const top = h('header', { class: 'topbar' },
      h('button', { type: 'button', class: 'icon back', 'aria-label': 'Back to the conversations',
        text: '←', onclick: () => this.showList() }),
      h('h1', { text: 'chatd' }), this.conn,
      h('span', { class: 'me', text: `${s.me}${s.staff ? ' · moderator' : ''}` }),
      h('button', { type: 'button', class: 'link', text: 'Sign out', onclick: () => this.onSignOut() }));

    this.convList = h('ul', { class: 'conv-list', 'aria-label': 'Conversations' });
    const side = h('nav', { class: 'sidebar', 'aria-label': 'Conversations' },
      h('div', { class: 'side-actions' },
        h('button', { type: 'button', class: 'primary', text: 'New conversation',
          onclick: () => newChatDialog(s, { onOpened: (id) => this.openConv(id) }) })),
      this.convList);

    this.list = new MessageList({
      store: s,
      onReply: (m) => this.setReply(m),
      onEdit: (m) => this.startEdit(m),
      onReport: (m) => reportDialog(s, m),
    });
    this.title = h('h2', { class: 'chat-title', id: 'chat-title' });
    this.sub = h('span', { class: 'chat-sub' });
    this.membersBtn = h('button', { type: 'button', class: 'members-btn', 'aria-expanded': 'false',
      'aria-controls': 'members', text: 'Members', onclick: () => this.toggleMembers() });
    this.typingLine = h('div', { class: 'typing', 'aria-live': 'polite' });
    this.seenLine = h('div', { class: 'seen' });
    this.replyBar = h('div', { class: 'reply-bar', hidden: true });
    this.progress = h('progress', { class: 'upload-progress', max: 100, value: 0, hidden: true,
      'aria-label': 'Upload progress' });
    this.file = h('input', { type: 'file', id: 'attach', class: 'visually-hidden', accept: ACCEPT });
    this.input = h('textarea', { id: 'composer-input', rows: 1, 'aria-label': 'Message',
      placeholder: 'Write a message…', maxlength: 20000 });
    this.sendBtn = h('button', { type: 'submit', class: 'primary send', text: 'Send' });
    this.composer = h('form', { class: 'composer' }, this.replyBar, this.progress,
      h('div', { class: 'composer-row' },
        h('label', { for: 'attach', class: 'attach', title: 'Attach a file' },
          h('span', { 'aria-hidden': 'true', text: '+' }),
          h('span', { class: 'visually-hidden', text: 'Attach a file' })),
        this.file, this.input, this.sendBtn));
    this.empty = h('div', { class: 'chat-empty' },
      h('p', { text: 'Pick a conversation, or start a new one.' }));
    this.chatInner = h('div', { class: 'chat-inner', hidden: true },
      h('header', { class: 'chat-head' }, h('div', { class: 'chat-names' }, this.title, this.sub),
        this.membersBtn),
      this.list.scroller, this.typingLine, this.seenLine, this.composer);
    this.chat = h('main', { class: 'chat', 'aria-labelledby': 'chat-title' }, this.empty, this.chatInner);
    this.members = h('aside', { class: 'members', id: 'members', 'aria-labelledby': 'members-h',
      hidden: true });
    this.toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    this.layout = h('div', { class: 'layout' }, side, this.chat, this.members);
    this.root.replaceChildren(h('div', { class: 'app-shell' }, top, this.layout), this.toasts);
  }

  _wire() {
    const s = this.store;
    s.on('convs', () => {
      this.renderConvs();
      if (s.current) this.renderHead();
    });
    s.on('messages', (id) => {
      if (id === s.current) {
        this.list.render();
        this.renderSeen();
      }
    });
    s.on('current', () => this.renderCurrent());
    s.on('members', (id) => {
      if (id === s.current) {
        this.renderHead();
        if (this.membersOpen) this.renderMembers();
        this.list.render();
      }
    });
    s.on('presence', () => {
      this.renderConvs();
      if (s.current) this.renderHead();
      if (this.membersOpen) this.renderMembers();
    });
    s.on('typing', (id) => {
      if (id === s.current) this.renderTyping();
      this.renderConvs();
    });
    s.on('seen', (id) => {
      if (id === s.current) this.renderSeen();
    });
    s.on('conn', (state, detail) => this.renderConn(state, detail));
    s.on('notice', (n) => this.toast(n));

    this.typingSender = new TypingSender((state) => {
      if (s.current) s.typingState(s.current, state);
    });
    this.input.addEventListener('input', () => {
      if (this.input.value) this.typingSender.input();
      this.autosize();
    });
    this.input.addEventListener('blur', () => this.typingSender.stop());
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.submit();
      } else if (ev.key === 'Escape' && (this.replyTo || this.editing)) {
        this.setReply(null);
        this.cancelEdit();
      }
    });
    this.composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    this.file.addEventListener('change', () => this.attach());
    document.addEventListener('visibilitychange', () => s.setVisible(!document.hidden));
    s.setVisible(!document.hidden);
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  // ---- conversation list ----

  renderConvs() {
    const s = this.store;
    const items = s.convList().map((c) => {
      const id = c.conversation_id;
      const title = s.convTitle(c);
      const typing = s.typing.get(id);
      const last = c.last_message;
      let preview = '';
      if (typing) preview = typingText(typing.users, typing.count);
      else if (last) {
        const who = last.sender_id === s.me ? 'You' : last.sender_id;
        preview = `${who}: ${last.deleted ? 'deleted message' : last.text || (last.media ? 'attachment' : '')}`;
      }
      const presence = c.kind === 'direct' ? s.presence.get(c.peer_id) : null;
      const online = presence?.status === 'online';
      const unread = c.unread || 0;
      const label = `${title}${c.kind === 'direct' ? (online ? ', online' : ', offline') : ', group'}` +
        `${unread ? `, ${unread} unread` : ''}`;
      return h('li', {}, h('button', { type: 'button',
        class: `conv${id === s.current ? ' active' : ''}${unread ? ' unread' : ''}`,
        'aria-current': id === s.current ? 'true' : undefined, 'aria-label': label,
        dataset: { conv: id, title }, onclick: () => this.openConv(id) },
      c.kind === 'direct'
        ? h('span', { class: `dot ${online ? 'online' : 'offline'}`, dataset: { presence: online ? 'online' : 'offline' } })
        : h('span', { class: 'avatar', 'aria-hidden': 'true', text: '#' }),
      h('span', { class: 'conv-body' },
        h('span', { class: 'conv-title', text: title }),
        h('span', { class: `conv-last${typing ? ' is-typing' : ''}`, text: preview })),
      h('span', { class: 'conv-side' },
        h('span', { class: 'conv-time', text: last ? fmtTime(last.ts) : '' }),
        unread ? h('span', { class: 'badge unread-badge', text: String(unread) }) : null)));
    });
    if (!items.length) items.push(h('li', { class: 'hint empty-list', text: 'No conversations yet.' }));
    this.convList.replaceChildren(...items);
  }

  openConv(id) {
    this.typingSender.stop();
    this.setReply(null);
    this.cancelEdit();
    this.store.open(id);
    this.root.querySelector('.app-shell').classList.add('show-chat');
    this.input.focus();
  }

  showList() {
    this.root.querySelector('.app-shell').classList.remove('show-chat');
    this.store.setCurrent(null);
  }

  // ---- the open conversation ----

  renderCurrent() {
    const id = this.store.current;
    this.empty.hidden = !!id;
    this.chatInner.hidden = !id;
    this.renderConvs();
    if (!id) {
      this.members.hidden = true;
      return;
    }
    this.list.setConversation(id);
    this.renderHead();
    this.renderTyping();
    this.renderSeen();
    if (this.membersOpen) this.renderMembers();
  }

  renderHead() {
    const s = this.store;
    const c = s.convs.get(s.current);
    if (!c) return;
    this.title.textContent = s.convTitle(c);
    if (c.kind === 'direct') {
      const p = s.presence.get(c.peer_id);
      this.sub.textContent = !p ? '' : p.status === 'online' ? 'online'
        : p.last_seen ? `last seen ${fmtTime(p.last_seen)}` : 'offline';
    } else {
      const locked = c.settings?.locked ? ' · only admins may send' : '';
      this.sub.textContent = `${c.member_count || (s.members.get(c.conversation_id) || []).length} members · ${c.role || 'member'}${locked}`;
    }
    this.membersBtn.textContent = c.kind === 'direct' ? 'Details' : 'Members';
  }

  renderTyping() {
    const t = this.store.typing.get(this.store.current);
    this.typingLine.textContent = t ? typingText(t.users, t.count) : '';
  }

  renderSeen() {
    const s = this.store;
    const seen = s.seen.get(s.current);
    const l = s.logs.get(s.current);
    const own = l ? l.list().filter((m) => m.sender_id === s.me && !m.deleted) : [];
    const last = own[own.length - 1];
    if (seen && last && seen.seq === last.seq && seen.seen_by > 0) {
      this.seenLine.textContent = `Seen by ${seen.seen_by}`;
      this.seenLine.title = seen.users.join(', ');
    } else {
      this.seenLine.textContent = '';
      this.seenLine.title = '';
    }
  }

  toggleMembers() {
    this.membersOpen = !this.membersOpen;
    this.membersBtn.setAttribute('aria-expanded', String(this.membersOpen));
    this.members.hidden = !this.membersOpen;
    if (this.membersOpen) this.renderMembers();
  }

  renderMembers() {
    const id = this.store.current;
    if (!id) return;
    renderMembers(this.members, this.store, id, { onClose: () => this.toggleMembers() });
  }

  // ---- composing ----

  setReply(m) {
    this.replyTo = m;
    this.replyBar.hidden = !m;
    if (!m) {
      this.replyBar.replaceChildren();
      return;
    }
    this.replyBar.replaceChildren(
      h('span', { text: `Replying to ${m.sender_id === this.store.me ? 'yourself' : m.sender_id}: ` }),
      h('span', { class: 'reply-text', text: (m.text || 'attachment').slice(0, 80) }),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Cancel the reply', text: '✕',
        onclick: () => this.setReply(null) }));
    this.input.focus();
  }

  startEdit(m) {
    this.setReply(null);
    this.editing = m;
    this.input.value = m.text || '';
    this.sendBtn.textContent = 'Save';
    this.replyBar.hidden = false;
    this.replyBar.replaceChildren(h('span', { text: 'Editing your message' }),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Cancel the edit', text: '✕',
        onclick: () => this.cancelEdit() }));
    this.input.focus();
    this.autosize();
  }

  cancelEdit() {
    if (!this.editing) return;
    this.editing = null;
    this.input.value = '';
    this.sendBtn.textContent = 'Send';
    this.replyBar.hidden = true;
    this.replyBar.replaceChildren();
  }

  submit() {
    const s = this.store;
    const id = s.current;
    const text = this.input.value.trim();
    if (!id || !text) return;
    const max = s.conn.readyFrame?.limits?.max_text || 4096;
    if (codePoints(text) > max) {
      this.toast({ kind: 'error', text: `A message is at most ${max} characters.` });
      return;
    }
    this.typingSender.stop();
    if (this.editing) {
      const m = this.editing;
      this.cancelEdit();
      s.edit(id, m.seq, text).catch(() => {});
      return;
    }
    s.send(id, { text, reply_to: this.replyTo?.seq });
    this.input.value = '';
    this.autosize();
    this.setReply(null);
    this.typingSender.stop();
    this.list.stickToBottom = true;
  }

  async attach() {
    const s = this.store;
    const f = this.file.files[0];
    this.file.value = '';
    const id = s.current;
    if (!f || !id) return;
    const preview = f.type.startsWith('image/') ? URL.createObjectURL(f) : '';
    this.progress.hidden = false;
    this.progress.value = 0;
    try {
      const mediaId = await s.upload(f, (p) => {
        this.progress.value = Math.round(p * 100);
      });
      const text = this.input.value.trim();
      this.input.value = '';
      s.send(id, { media_id: mediaId, text, reply_to: this.replyTo?.seq, media_preview: preview });
      this.setReply(null);
    } catch (e) {
      this.toast({ kind: 'error', text: `Upload failed: ${e.message || e.code || 'error'}` });
    } finally {
      this.progress.hidden = true;
    }
  }

  // ---- connection and notices ----

  renderConn(state, detail = {}) {
    if (this.countdown) clearInterval(this.countdown);
    this.countdown = null;
    this.conn.dataset.state = state;
    this.retryBtn.hidden = state !== 'waiting';
    const label = {
      idle: 'Starting…', connecting: 'Connecting…', open: 'Connected', stopped: 'Signed out',
    }[state];
    if (state === 'waiting' && detail.reason === 'offline') {
      this.connText.textContent = 'Offline — waiting for the network';
    } else if (state === 'waiting') {
      const tick = () => {
        const left = Math.max(0, Math.ceil(((detail.retryAt || Date.now()) - Date.now()) / 1000));
        this.connText.textContent = `Offline — reconnecting in ${left} s`;
      };
      tick();
      this.countdown = setInterval(tick, 1000);
    } else {
      this.connText.textContent = label || state;
    }
  }

  toast(n) {
    const t = h('div', { class: `toast ${n.kind || 'info'}`, text: n.text });
    this.toasts.append(t);
    setTimeout(() => t.remove(), n.kind === 'error' ? 8000 : 4000);
  }
}
