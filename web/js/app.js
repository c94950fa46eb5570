// app.js — the web client's entry point: sign in, then the chat.
//
// Modules: lib/ holds everything that is not UI (protocol codec, ordering
// buffer, pending queue, backoff, connection, store, cache, telemetry,
// auth) and runs in Node for the unit tests; ui/ draws it.

import { Auth } from './lib/auth.js';
import { openCache } from './lib/cache.js';
import { Connection } from './lib/connection.js';
import { ChatStore } from './lib/store.js';
import { Telemetry } from './lib/telemetry.js';
import { askTokenDialog } from './ui/dialogs.js';
import { Shell } from './ui/shell.js';
import { renderSignIn } from './ui/signin.js';

const root = document.getElementById('app');
const auth = new Auth();
auth.askToken = askTokenDialog;
let session = null;

function wsUrl() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}

// PUT the bytes to the signed upload URL, reporting progress (0..1).
function putFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
    };
    xhr.onload = () => {
      if (xhr.status === 201) resolve();
      else {
        let msg = `HTTP ${xhr.status}`;
        try {
          msg = JSON.parse(xhr.responseText).message || msg;
        } catch {
          // not JSON
        }
        reject(new Error(msg));
      }
    };
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(file);
  });
}

async function startSession() {
  const telemetry = new Telemetry({
    post: async (body, { keepalive }) => {
      const token = auth.token;
      if (!token) return false;
      const r = await fetch('/telemetry', {
        method: 'POST', keepalive, cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      return r.status === 204 || r.status === 400; // 400: drop what the server refuses
    },
  });
  const conn = new Connection({ url: wsUrl(), getToken: (o) => auth.getToken(o) });
  const cache = await openCache(auth.user);
  const store = new ChatStore({ conn, me: auth.user, claims: auth.claims, cache, telemetry, putFile });
  store.on('listener_error', (e) => telemetry.error('script_error', e?.message));
  const shell = new Shell(root, { store, auth, onSignOut: () => signOut() });
  session = { store, telemetry, cache, shell };
  window.chatd = session; // for debugging and the end-to-end tests
  if (cache) store.loadCached(await cache.loadAll());
  store.on('signed_out', (info) => {
    signOut(info.code === 'revoked' ? `Signed out by the server: ${info.message}`
      : `Please sign in again (${info.message}).`);
  });
  addEventListener('online', () => conn.reconnectNow());
  addEventListener('offline', () => conn.goOffline());
  addEventListener('pagehide', () => {
    telemetry.flush({ keepalive: true });
    cache?.flush();
  });
  telemetry.start();
  store.start();
}

async function signOut(message) {
  if (session) {
    session.store.stop();
    session.telemetry.stopTimer();
    await session.telemetry.flush();
    session = null;
  }
  auth.signOut();
  showSignIn(message);
}

async function showSignIn(message) {
  const devOffer = await auth.devLoginOffered();
  renderSignIn(root, auth, { devOffer, message, onDone: () => startSession() });
}

addEventListener('error', (ev) => session?.telemetry.error('script_error', ev.message));
addEventListener('unhandledrejection', (ev) => {
  const code = ev.reason?.code;
  if (code === 'network' || code === 'timeout') return;
  session?.telemetry.error('script_error', String(ev.reason?.message || ev.reason));
});

if (auth.restore()) startSession();
else showSignIn();
