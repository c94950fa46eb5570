// signin.js — the sign-in view: a pasted token, or (when the server offers
// it) the development sign-in by user name.

import { h } from './dom.js';

export function renderSignIn(root, auth, { devOffer, onDone, message }) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  if (message) error.textContent = message;

  const tokenInput = h('textarea', { id: 'token', rows: 4, spellcheck: 'false',
    autocomplete: 'off', placeholder: 'eyJhbGciOi…', required: true });
  const tokenForm = h('form', { class: 'card', 'aria-labelledby': 'token-h', onsubmit: (ev) => {
    ev.preventDefault();
    try {
      auth.signInToken(tokenInput.value);
      onDone();
    } catch (e) {
      error.textContent = e.message;
    }
  } },
  h('h2', { id: 'token-h', text: 'Sign in with a token' }),
  h('p', { class: 'hint', text: 'A JWT signed by this server (for example from `chatctl token mint alice`).' }),
  h('label', { for: 'token', text: 'Token' }), tokenInput,
  h('button', { type: 'submit', class: 'primary', text: 'Sign in' }));

  let devForm = null;
  if (devOffer) {
    const user = h('input', { id: 'dev-user', name: 'user', autocomplete: 'username',
      required: true, pattern: '[A-Za-z0-9._@\\-]{1,64}', maxlength: 64 });
    const mod = h('input', { id: 'dev-mod', type: 'checkbox' });
    const btn = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
    devForm = h('form', { class: 'card dev', 'aria-labelledby': 'dev-h', onsubmit: async (ev) => {
      ev.preventDefault();
      btn.disabled = true;
      try {
        await auth.signInDev(user.value.trim(), { moderator: mod.checked });
        onDone();
      } catch (e) {
        error.textContent = e.message;
      } finally {
        btn.disabled = false;
      }
    } },
    h('h2', { id: 'dev-h', text: 'Development sign-in' }),
    h('p', { class: 'warn', text: 'This server lets anyone sign in as any user (auth.dev_login). Never use it in production.' }),
    h('label', { for: 'dev-user', text: 'User name' }), user,
    h('div', { class: 'check' }, mod, h('label', { for: 'dev-mod', text: 'with the moderator role' })),
    btn);
  }

  root.replaceChildren(h('main', { class: 'signin', 'aria-labelledby': 'signin-h' },
    h('h1', { id: 'signin-h', text: 'chatd' }), error, devForm, tokenForm));
  (devForm ? devForm.querySelector('input') : tokenInput).focus();
}
