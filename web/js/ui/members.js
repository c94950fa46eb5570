// members.js — a group's member panel: who is in it, their role and
// presence, and the management actions the viewer's role allows
// (protocol.md's permission table).

import { cmd, may, rank, validUserId } from '../lib/protocol.js';
import { h } from './dom.js';

const ROLES = ['admin', 'moderator', 'member'];
const MUTE_MS = 60 * 60 * 1000;

export function renderMembers(panel, store, id, { onClose }) {
  const c = store.convs.get(id);
  const members = store.members.get(id) || [];
  const role = store.myRole(id);
  const title = c ? store.convTitle(c) : '';
  const body = [];
  const run = (frame, what) => store.manage(frame, what).catch(() => {});

  body.push(h('div', { class: 'panel-head' },
    h('h2', { id: 'members-h', text: c?.kind === 'direct' ? 'Chat details' : 'Members' }),
    h('button', { type: 'button', class: 'icon', 'aria-label': 'Close the member list', text: '✕',
      onclick: onClose })));
  body.push(h('p', { class: 'hint', text: `${title} · your role: ${role}` }));

  const list = h('ul', { class: 'member-list' });
  const sorted = [...members].sort((a, b) => rank(b.role) - rank(a.role) || a.user_id.localeCompare(b.user_id));
  for (const m of sorted) {
    const p = store.presence.get(m.user_id);
    const online = m.user_id === store.me || p?.status === 'online';
    const li = h('li', { class: 'member', dataset: { user: m.user_id } },
      h('span', { class: `dot ${online ? 'online' : 'offline'}`, role: 'img',
        'aria-label': online ? 'online' : 'offline' }),
      h('span', { class: 'member-name', text: m.user_id === store.me ? `${m.user_id} (you)` : m.user_id }),
      h('span', { class: `role role-${m.role}`, text: m.role }));
    if (c?.kind === 'group' && m.user_id !== store.me) {
      const acts = h('div', { class: 'member-actions' });
      const allowed = ROLES.filter((r) => r !== m.role && may('role', role, m.role, r));
      if (allowed.length) {
        const sel = h('select', { 'aria-label': `Role of ${m.user_id}` },
          h('option', { value: '', text: 'Change role…' }),
          allowed.map((r) => h('option', { value: r, text: r })));
        sel.addEventListener('change', () => {
          if (sel.value) run(cmd.role(id, m.user_id, sel.value), 'role');
        });
        acts.append(sel);
      }
      if (may('mute', role, m.role)) {
        acts.append(h('button', { type: 'button', text: 'Mute 1 h',
          onclick: () => run(cmd.mute(id, m.user_id, Date.now() + MUTE_MS), 'mute') }));
        acts.append(h('button', { type: 'button', text: 'Unmute',
          onclick: () => run(cmd.mute(id, m.user_id, 0), 'unmute') }));
      }
      if (may('remove', role, m.role)) {
        acts.append(h('button', { type: 'button', class: 'danger', text: 'Remove',
          onclick: () => {
            if (confirm(`Remove ${m.user_id} from the group?`)) run(cmd.remove(id, m.user_id), 'remove');
          } }));
      }
      if (acts.childElementCount) li.append(acts);
    }
    list.append(li);
  }
  body.push(list);

  if (c?.kind === 'group' && may('add', role)) {
    const input = h('input', { id: 'add-members', placeholder: 'carol, dave', autocomplete: 'off' });
    body.push(h('form', { class: 'panel-form', onsubmit: (ev) => {
      ev.preventDefault();
      const ids = input.value.split(/[\s,]+/).filter(Boolean);
      if (!ids.length || !ids.every(validUserId)) {
        store.emit('notice', { kind: 'error', text: 'user ids: 1-64 characters of A-Z a-z 0-9 . _ @ -' });
        return;
      }
      run(cmd.add(id, ids), 'add');
      input.value = '';
    } }, h('label', { for: 'add-members', text: 'Add members' }), input,
    h('button', { type: 'submit', text: 'Add' })));
  }
  if (c?.kind === 'group' && may('settings', role)) {
    const t = h('input', { id: 'group-title', value: c.title || '', maxlength: 256 });
    const locked = h('input', { id: 'group-locked', type: 'checkbox', checked: !!c.settings?.locked });
    body.push(h('form', { class: 'panel-form', onsubmit: (ev) => {
      ev.preventDefault();
      const changes = {};
      if (t.value.trim() && t.value.trim() !== c.title) changes.title = t.value.trim();
      if (locked.checked !== !!c.settings?.locked) changes.locked = locked.checked;
      if (Object.keys(changes).length) run(cmd.settings(id, changes), 'settings');
    } }, h('label', { for: 'group-title', text: 'Title' }), t,
    h('div', { class: 'check' }, locked, h('label', { for: 'group-locked', text: 'Only admins may send' })),
    h('button', { type: 'submit', text: 'Save settings' })));
  }
  if (c?.kind === 'group') {
    body.push(h('button', { type: 'button', class: 'danger leave', text: 'Leave the group',
      onclick: () => {
        if (confirm('Leave this group?')) run(cmd.leave(id), 'leave');
      } }));
  }
  panel.replaceChildren(...body);
}
