// dialogs.js — modal dialogs (<dialog>: focus is kept inside, Escape
// closes): a new direct chat or group, reporting a message, and asking for
// a fresh token.

import { validUserId } from '../lib/protocol.js';
import { h } from './dom.js';

function modal(titleText, content, { onClose } = {}) {
  const id = `dlg-${Math.random().toString(36).slice(2)}`;
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': id },
    h('h2', { id, text: titleText }), content);
  d.addEventListener('close', () => {
    d.remove();
    onClose?.();
  });
  document.body.append(d);
  d.showModal();
  return d;
}

export function newChatDialog(store, { onOpened }) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const user = h('input', { id: 'new-direct-user', autocomplete: 'off', required: true,
    maxlength: 64, placeholder: 'bob' });
  const title = h('input', { id: 'new-group-title', autocomplete: 'off', required: true,
    maxlength: 256, placeholder: 'team' });
  const members = h('input', { id: 'new-group-members', autocomplete: 'off', required: true,
    placeholder: 'bob, carol' });
  let d;
  const direct = h('form', { class: 'dlg-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const u = user.value.trim();
    if (!validUserId(u)) {
      error.textContent = 'A user id is 1-64 characters of A-Z a-z 0-9 . _ @ -';
      return;
    }
    try {
      const c = await store.createDirect(u);
      d.close();
      onOpened(c.conversation_id);
    } catch (e) {
      error.textContent = e.message;
    }
  } }, h('h3', { text: 'Direct chat' }), h('label', { for: 'new-direct-user', text: 'User' }), user,
  h('button', { type: 'submit', class: 'primary', text: 'Start chat' }));
  const group = h('form', { class: 'dlg-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const ids = members.value.split(/[\s,]+/).filter(Boolean);
    if (!ids.length || !ids.every(validUserId)) {
      error.textContent = 'Members: user ids separated by commas';
      return;
    }
    try {
      const c = await store.createGroup(title.value.trim(), ids);
      d.close();
      onOpened(c.conversation_id);
    } catch (e) {
      error.textContent = e.message;
    }
  } }, h('h3', { text: 'Group' }), h('label', { for: 'new-group-title', text: 'Title' }), title,
  h('label', { for: 'new-group-members', text: 'Members' }), members,
  h('button', { type: 'submit', class: 'primary', text: 'Create group' }));
  d = modal('New conversation', h('div', {}, error, direct, group,
    h('form', { method: 'dialog', class: 'dlg-close' }, h('button', { text: 'Cancel' }))));
  user.focus();
}

export function reportDialog(store, m) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const reason = h('select', { id: 'report-reason' },
    ['spam', 'abuse', 'harassment', 'other'].map((r) => h('option', { value: r, text: r })));
  const note = h('textarea', { id: 'report-note', rows: 3, maxlength: 1000 });
  let d;
  const form = h('form', { class: 'dlg-form', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await store.report(m.conversation_id, m.seq, reason.value, note.value.trim());
      d.close();
    } catch (e) {
      error.textContent = e.message;
    }
  } }, h('p', { class: 'hint', text: `Message from ${m.sender_id}: ${(m.text || 'attachment').slice(0, 120)}` }),
  h('label', { for: 'report-reason', text: 'Reason' }), reason,
  h('label', { for: 'report-note', text: 'Note for the moderators (optional)' }), note,
  h('button', { type: 'submit', class: 'primary', text: 'Report' }));
  d = modal('Report a message', h('div', {}, error, form,
    h('form', { method: 'dialog', class: 'dlg-close' }, h('button', { text: 'Cancel' }))));
  reason.focus();
}

// Resolves with a pasted token, or null when the user gives up.
export function askTokenDialog(reason) {
  return new Promise((resolve) => {
    const input = h('textarea', { id: 'new-token', rows: 4, spellcheck: 'false' });
    let value = null;
    const d = modal('Sign in again', h('form', { class: 'dlg-form', onsubmit: (ev) => {
      ev.preventDefault();
      value = input.value.trim() || null;
      d.close();
    } }, h('p', { text: reason }), h('label', { for: 'new-token', text: 'New token' }), input,
    h('button', { type: 'submit', class: 'primary', text: 'Continue' })),
    { onClose: () => resolve(value) });
    input.focus();
  });
}
