"""Helpers for the chatd integration tests.

- ChatdServer: writes a Lua config into a per-test directory, starts the real
  binary ($CHATD_BUILD_DIR/chatd -c CONFIG, optionally behind $CHATD_WRAPPER),
  waits for /healthz, stops it with SIGTERM (exit code returned) or SIGKILL.
  Its log (stderr: one JSON object per line) is parsed by log_lines() and
  searched by log_events().
- JWT helpers: mint HS256 tokens in Python, RS256/ES256 via the openssl CLI,
  and malformed tokens for the refusal tests.
- Client: an asyncio wrapper around websockets 10.4 (legacy asyncio API).
- RawWS: a minimal blocking WebSocket client on a plain socket, for frames a
  normal library refuses to send (invalid UTF-8, exact sizes, fragments,
  lying length headers) and for reading close codes byte-exactly.
- run(): runs a coroutine under a hard timeout and closes every Client it
  opened, so each sync test function stays bounded.

Only the standard library, pytest and websockets 10.4 are used.
"""

import asyncio
import base64
import contextvars
import hashlib
import hmac
import http.client
import itertools
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import warnings
import urllib.parse

import websockets
import websockets.exceptions

SECRET = "integration-test-secret-0123456789"
MAX_FRAME = 65536
MAX_TEXT = 4096
AUTH_TIMEOUT_MS = 1000

ERROR_CODES = {
    "bad_request", "unauthorized", "token_expired", "revoked", "forbidden",
    "not_found", "too_large", "rate_limited", "rejected", "unavailable",
    "internal",
}
RETRYABLE = {"rate_limited", "unavailable"}


# --------------------------------------------------------------------------
# environment

def build_dir():
    d = os.environ.get("CHATD_BUILD_DIR")
    if not d:
        raise RuntimeError(
            "CHATD_BUILD_DIR is not set: point it at the chatd build tree "
            "(the directory holding chatd, chatctl and plugins/)")
    return d


def chatd_bin():
    return os.path.join(build_dir(), "chatd")


def sanitizer_build():
    """"ASan", "TSan" or None: which sanitizer the chatd under test was built
    with (its runtime's symbols are in the binary).  Memory bounds (RSS)
    mean nothing there: the sanitizers' own quarantine and shadow memory
    grow with every allocation."""
    with open(chatd_bin(), "rb") as f:
        data = f.read()
    if b"__asan_init" in data:
        return "ASan"
    if b"__tsan_init" in data:
        return "TSan"
    return None


def chatctl_bin():
    return os.path.join(build_dir(), "chatctl")


def wrapper_prefix():
    w = os.environ.get("CHATD_WRAPPER", "").strip()
    return shlex.split(w) if w else []


# Which storage the default test config uses: "sqlite" (default) or "pg"
# (CHATD_TEST_STORAGE=pg, with CHATD_TEST_PG_DSN a libpq DSN of a throwaway
# cluster's superuser, e.g. from scripts/pg-test-server): each server then
# gets a fresh, empty schema of its own in that database (its DSN pins
# search_path to it), dropped after use.  A schema, not a database:
# CREATE + DROP DATABASE cost about a second per server here, a schema a
# few milliseconds, and isolates the same.
def storage_kind():
    return os.environ.get("CHATD_TEST_STORAGE", "sqlite").strip() or "sqlite"


def pg_admin_dsn():
    dsn = os.environ.get("CHATD_TEST_PG_DSN", "").strip()
    if not dsn:
        raise RuntimeError("CHATD_TEST_STORAGE=pg needs CHATD_TEST_PG_DSN "
                           "(see scripts/pg-test-server)")
    return dsn


def pg_schema_dsn(schema, dsn=None):
    """A DSN whose sessions see only `schema` (search_path)."""
    return "%s options='-c search_path=%s'" % (dsn or pg_admin_dsn(), schema)


def psql(sql, schema=None, dsn=None, timeout=30):
    """Run SQL with psql on the test cluster (in `schema` when given);
    returns stdout (unaligned, tuples only).  Raises on an error."""
    conn = pg_schema_dsn(schema, dsn) if schema else (dsn or pg_admin_dsn())
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", conn,
                        "-c", sql], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, text=True)
    if r.returncode != 0:
        raise RuntimeError("psql failed (%d): %s" % (r.returncode, r.stderr.strip()))
    return r.stdout


# Schemas are made 32 at a time and dropped in the same psql call that makes
# the next ones (and at the end of the session: pg_drop_all): one psql
# process costs ~0.1 s, two per server were a quarter of the pass.
_schema_pool, _schema_trash = [], []


def _schema_batch(create):
    names = ["chatd_t_" + os.urandom(6).hex() for _ in range(create)]
    sql = ["SET client_min_messages = warning;"]
    sql += ["DROP SCHEMA IF EXISTS %s CASCADE;" % n for n in _schema_trash]
    sql += ["CREATE SCHEMA %s;" % n for n in names]
    if len(sql) > 1:
        psql(" ".join(sql))
    del _schema_trash[:]
    _schema_pool.extend(names)


def pg_create_schema():
    """A fresh, empty schema (its name)."""
    if not _schema_pool:
        _schema_batch(32)
    return _schema_pool.pop()


def pg_drop_schema(name):
    """Drop it (with the next batch; its servers must be stopped)."""
    _schema_trash.append(name)


def pg_drop_all():
    """Drop every schema made or given back (end of the session)."""
    _schema_trash.extend(_schema_pool)
    del _schema_pool[:]
    _schema_batch(0)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# --------------------------------------------------------------------------
# config

def lua_value(v, indent=1):
    pad = "  " * indent
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            if ch == "\\":
                out.append("\\\\")
            elif ch == '"':
                out.append('\\"')
            elif ch == "\n":
                out.append("\\n")
            elif ord(ch) < 32:
                out.append("\\%03d" % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = ["%s%s = %s" % (pad, k, lua_value(x, indent + 1)) for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * (indent - 1) + "}"
    if isinstance(v, (list, tuple)):
        return "{ " + ", ".join(lua_value(x, indent + 1) for x in v) + " }"
    raise TypeError("cannot write %r as Lua" % (v,))


def merge(base, over):
    """Merge `over` into a copy of `base`; dicts merge, None deletes."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def storage_chosen(overrides):
    """The test picks its storage itself (a storage section, or a storage
    plugin): it keeps it, whatever CHATD_TEST_STORAGE says."""
    return ("storage_sqlite" in overrides or "storage_pg" in overrides or
            "storage" in (overrides.get("plugins") or {}))


SRC_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RULES_DIR = os.path.join(SRC_DIR, "moderation", "rules")
WEB_DIR = os.path.join(SRC_DIR, "web")


def default_config(tmpdir, port, admin_port):
    return {
        "node_id": "test",
        "plugin_dir": os.path.join(build_dir(), "plugins"),
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "auth_timeout_ms": AUTH_TIMEOUT_MS,
            "max_frame": MAX_FRAME,
            "max_text": MAX_TEXT,
        },
        "auth": {"algorithm": "HS256", "secret": SECRET},
        "plugins": {"storage": "sqlite", "presence": "local", "bus": "local",
                    "fanout": "hybrid", "receipts": "cursor"},
        "storage_sqlite": {"path": os.path.join(str(tmpdir), "chatd.db")},
        "log": {"level": "info"},
        "admin": {"port": admin_port},
        "moderation": {"rules_dir": RULES_DIR},
        "web": {"root": WEB_DIR},
    }


def render_config(cfg, extra_lua=""):
    lines = ["-- generated by tests/integration"]
    for k, v in cfg.items():
        lines.append("%s = %s" % (k, lua_value(v)))
    if extra_lua:
        lines.append(extra_lua)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# server log: one JSON object per line

LOG_KEYS = ("ts", "level", "component", "event", "msg")


def log_user_hash(user, key=""):
    """The hashed user id log lines carry: "u:" + 16 hex digits of
    HMAC-SHA256(log.user_hash_key, user)."""
    return "u:" + hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()[:16]


def parse_log(text):
    """The JSON log lines of text, parsed, in order.  Lines that are not a
    JSON object (the harness's "=== start" markers, anything a library or a
    sanitizer wrote to stderr) are skipped."""
    out = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def match_events(lines, event=None, component=None, level=None, msg_has=None, **fields):
    """The lines with this event id (and component, level, a substring of
    msg, other fields equal)."""
    def ok(e):
        return ((event is None or e.get("event") == event) and
                (component is None or e.get("component") == component) and
                (level is None or e.get("level") == level) and
                (msg_has is None or msg_has in e.get("msg", "")) and
                all(e.get(k) == v for k, v in fields.items()))
    return [e for e in lines if ok(e)]


# --------------------------------------------------------------------------
# server process

class ServerStartError(AssertionError):
    pass


class ChatdServer:
    def __init__(self, tmpdir, overrides=None, extra_lua="", port=None):
        self.dir = str(tmpdir)
        os.makedirs(self.dir, exist_ok=True)
        self.fixed_port = port is not None
        self.overrides = overrides or {}
        self.extra_lua = extra_lua
        self.config_path = os.path.join(self.dir, "chatd.conf")
        # Under CHATD_TEST_STORAGE=pg a server whose test does not choose
        # its storage itself gets a fresh PostgreSQL schema.
        self.pg_schema = None
        if storage_kind() == "pg" and not storage_chosen(self.overrides):
            self.pg_schema = pg_create_schema()
        self._configure(port or free_port(), free_port())
        self.log_path = os.path.join(self.dir, "chatd.log")
        self.proc = None
        self.starts = 0

    def _configure(self, port, admin_port):
        self.port = port
        self.admin_port = admin_port
        base = default_config(self.dir, self.port, self.admin_port)
        if self.pg_schema:
            base["plugins"]["storage"] = "pg"
            del base["storage_sqlite"]
            base["storage_pg"] = {"dsn": self.pg_dsn}
        self.cfg = merge(base, self.overrides)
        with open(self.config_path, "w") as f:
            f.write(render_config(self.cfg, self.extra_lua))

    @property
    def pg_dsn(self):
        """The DSN of this server's own schema (pg mode), else None."""
        return pg_schema_dsn(self.pg_schema) if self.pg_schema else None

    def drop_db(self):
        """Drop this server's schema (pg mode; after it stopped)."""
        if self.pg_schema:
            pg_drop_schema(self.pg_schema)
            self.pg_schema = None

    def _lost_port_race(self):
        """The first start failed only because another process took one of
        the free ports picked for it (tests run beside other suites)."""
        if self.fixed_port or self.starts != 1:
            return False
        lines = self.log_lines()
        return bool(match_events(lines, "listen.failed", "gateway") or
                    match_events(lines, "admin.bind", "admin"))

    # The auth secret, for tests that mint tokens.
    @property
    def secret(self):
        return self.cfg.get("auth", {}).get("secret", SECRET)

    @property
    def tls(self):
        """An SSL context trusting server.tls_cert (the tests' certificates
        are self-signed), or None when the chat port is plain."""
        return tls_context(self.cfg.get("server", {}).get("tls_cert"))

    @property
    def admin_tls(self):
        return tls_context(self.cfg.get("admin", {}).get("tls_cert"))

    @property
    def url(self):
        return "%s://127.0.0.1:%d/ws" % ("wss" if self.tls else "ws", self.port)

    def http_conn(self, timeout=5.0):
        """An HTTP(S) connection to the chat port."""
        ctx = self.tls
        if ctx:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def admin(self, method, path, body=None, token=None, role="admin", user="root",
              timeout=5.0):
        """Call the admin API; returns (status, parsed JSON body)."""
        if token is None:
            token = mint(user, secret=self.secret, roles=[role] if role else None)
        ctx = self.admin_tls
        if ctx:
            conn = http.client.HTTPSConnection("127.0.0.1", self.cfg["admin"]["port"],
                                               timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.cfg["admin"]["port"],
                                              timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Authorization": "Bearer " + token}
            if data is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw
            return resp.status, parsed
        finally:
            conn.close()

    def admin_ok(self, method, path, body=None, **kw):
        status, data = self.admin(method, path, body, **kw)
        assert 200 <= status < 300, "admin %s %s: %s %r" % (method, path, status, data)
        return data

    def log_text(self, limit=20000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return "(no log)"
        text = data.decode("utf-8", "replace")
        if len(text) > limit:
            text = "...(truncated)...\n" + text[-limit:]
        return text

    def log_lines(self):
        """The server's JSON log lines so far (every start), parsed."""
        try:
            with open(self.log_path, "rb") as f:
                return parse_log(f.read().decode("utf-8", "replace"))
        except OSError:
            return []

    def log_events(self, event=None, component=None, **kw):
        """Log lines with this event id (see match_events)."""
        return match_events(self.log_lines(), event, component, **kw)

    def wait_log_event(self, event, component=None, timeout=5.0, **kw):
        """Wait until a line with this event id is logged; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.log_events(event, component, **kw)
            if found:
                return found[-1]
            if time.monotonic() >= deadline:
                raise AssertionError("no %s log line within %.1f s:\n%s"
                                     % (event, timeout, self.log_text()))
            time.sleep(0.02)

    def spawn(self):
        """Start the process without waiting for health (for start-up failure tests)."""
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(("=== start %d ===\n" % self.starts).encode())
        log.flush()
        cmd = wrapper_prefix() + [chatd_bin(), "-c", self.config_path]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, cwd=self.dir)
        log.close()
        return self.proc

    def healthz(self, timeout=1.0):
        conn = self.http_conn(timeout)
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            return r.status
        finally:
            conn.close()

    def start(self, timeout=None):
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except ServerStartError:
                if attempt == 2 or not self._lost_port_race():
                    raise
                self.starts = 0
                self._configure(free_port(), free_port())

    def _start_once(self, timeout=None):
        if timeout is None:
            timeout = 60.0 if wrapper_prefix() else 10.0
        if not os.path.exists(chatd_bin()):
            raise ServerStartError("no chatd binary at %s" % chatd_bin())
        self.spawn()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerStartError("chatd exited with %s during start-up\n--- log ---\n%s"
                                       % (rc, self.log_text()))
            try:
                status = self.healthz(timeout=0.5)
                if status == 200:
                    return self
                last = "status %d" % status
            except OSError as e:
                last = repr(e)
            except http.client.HTTPException as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill()
        raise ServerStartError("GET /healthz did not answer 200 within %.0f s (last: %s)\n"
                               "--- log ---\n%s" % (timeout, last, self.log_text()))

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit code, or None if it did not exit in time
        (then it is SIGKILLed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
            if rc == -signal.SIGABRT and self._lsan_tool_failed():
                # LeakSanitizer's own tracer crashed in the exit-time leak
                # scan (seen once in ~1,000 ASan server stops here): a tool
                # failure, not a finding; no leak was checked for this
                # server, and the run's summary says so as a warning.
                warnings.warn("chatd on port %d: LeakSanitizer's tracer crashed at exit "
                              "(\"LeakSanitizer has encountered a fatal error\"); no leak "
                              "check for this server" % self.port)
                return 0
            return rc
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None

    def _lsan_tool_failed(self):
        """The log ends in LSan's own fatal error, with no sanitizer
        finding (a leak report or an ASan/UBSan error) anywhere in it."""
        text = self.log_text()
        return ("LeakSanitizer has encountered a fatal error" in text and
                "detected memory leaks" not in text and
                "ERROR: AddressSanitizer" not in text and "runtime error:" not in text)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def tls_context(cafile):
    """A client SSL context trusting the PEM file cafile (None: None)."""
    if not cafile:
        return None
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx


def run_tool(args, timeout=20):
    """Run a command; returns CompletedProcess with text output."""
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, text=True, errors="replace")


# --------------------------------------------------------------------------
# JWT

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_b64(obj):
    return b64u(json.dumps(obj, separators=(",", ":")))


def openssl():
    path = shutil.which("openssl")
    if not path:
        raise AssertionError("the openssl CLI is required by these tests and was not found")
    return path


def gen_rsa_key(directory):
    key = os.path.join(directory, "rsa.pem")
    pub = os.path.join(directory, "rsa.pub.pem")
    subprocess.run([openssl(), "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
    subprocess.run([openssl(), "pkey", "-in", key, "-pubout", "-out", pub],
                   check=True, capture_output=True)
    return key, pub


def gen_ec_key(directory):
    key = os.path.join(directory, "ec.pem")
    pub = os.path.join(directory, "ec.pub.pem")
    subprocess.run([openssl(), "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
    subprocess.run([openssl(), "pkey", "-in", key, "-pubout", "-out", pub],
                   check=True, capture_output=True)
    return key, pub


def _der_ecdsa_to_raw(der, size=32):
    """DER SEQUENCE { INTEGER r, INTEGER s } -> r||s, each `size` bytes."""
    def read_len(buf, i):
        n = buf[i]
        i += 1
        if n < 0x80:
            return n, i
        k = n & 0x7F
        return int.from_bytes(buf[i:i + k], "big"), i + k
    assert der[0] == 0x30, "not a DER sequence"
    _, i = read_len(der, 1)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02, "not a DER integer"
        n, i = read_len(der, i + 1)
        v = int.from_bytes(der[i:i + n], "big")
        i += n
        out += v.to_bytes(size, "big")
    return out


def sign(alg, signing_input, key):
    """key: the secret (HS256) or a PEM private key path (RS256/ES256)."""
    if alg == "HS256":
        k = key.encode() if isinstance(key, str) else key
        return hmac.new(k, signing_input, hashlib.sha256).digest()
    if alg in ("RS256", "ES256"):
        r = subprocess.run([openssl(), "dgst", "-sha256", "-sign", key],
                           input=signing_input, capture_output=True, check=True)
        sig = r.stdout
        if alg == "ES256":
            sig = _der_ecdsa_to_raw(sig)
        return sig
    raise ValueError(alg)


def make_jwt(claims, alg="HS256", key=SECRET, header=None):
    h = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing_input = ("%s.%s" % (_json_b64(h), _json_b64(claims))).encode()
    if alg == "none":
        return signing_input.decode() + "."
    return signing_input.decode() + "." + b64u(sign(alg, signing_input, key))


def claims_for(sub="alice", ttl=3600, **extra):
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + ttl}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def mint(sub="alice", ttl=3600, secret=SECRET, alg="HS256", key=None, **extra):
    return make_jwt(claims_for(sub, ttl, **extra), alg=alg,
                    key=key if key is not None else secret)


BAD_TOKEN_KINDS = ["alg_none", "wrong_alg", "bad_signature", "expired",
                   "missing_exp", "missing_sub", "bad_sub_chars", "sub_too_long",
                   "empty_sub", "garbage"]


def bad_token(kind, rsa_key=None, secret=SECRET, sub="alice"):
    now = int(time.time())
    if kind == "alg_none":
        return make_jwt(claims_for(sub), alg="none",
                        header={"alg": "none", "typ": "JWT"})
    if kind == "wrong_alg":
        assert rsa_key, "wrong_alg needs an RSA private key"
        return make_jwt(claims_for(sub), alg="RS256", key=rsa_key)
    if kind == "bad_signature":
        return make_jwt(claims_for(sub), key=secret + "-not-the-secret")
    if kind == "expired":
        return make_jwt({"sub": sub, "iat": now - 120, "exp": now - 60}, key=secret)
    if kind == "missing_exp":
        return make_jwt({"sub": sub, "iat": now}, key=secret)
    if kind == "missing_sub":
        return make_jwt({"iat": now, "exp": now + 3600}, key=secret)
    if kind == "bad_sub_chars":
        return make_jwt(claims_for("alice bob!"), key=secret)
    if kind == "sub_too_long":
        return make_jwt(claims_for("a" * 65), key=secret)
    if kind == "empty_sub":
        return make_jwt(claims_for(""), key=secret)
    if kind == "garbage":
        return "this-is-not-a-jwt"
    raise ValueError(kind)


# --------------------------------------------------------------------------
# asyncio client

_ids = itertools.count(1)
_open_clients = contextvars.ContextVar("open_clients", default=None)


def new_id(prefix="r"):
    return "%s%d" % (prefix, next(_ids))


_cmids = itertools.count(1)


def new_cmid(prefix="cm"):
    return "%s-%d-%d" % (prefix, os.getpid(), next(_cmids))


def check_error(frame):
    """Every error has code, message and retryable (true exactly for
    rate_limited/unavailable)."""
    assert frame.get("type") == "error", frame
    code = frame.get("code")
    assert code in ERROR_CODES, "unknown error code in %r" % (frame,)
    assert isinstance(frame.get("message"), str), "error without message text: %r" % (frame,)
    assert isinstance(frame.get("retryable"), bool), "error without boolean retryable: %r" % (frame,)
    assert frame["retryable"] == (code in RETRYABLE), \
        "retryable must be true exactly for rate_limited/unavailable: %r" % (frame,)
    if code == "rate_limited":
        assert isinstance(frame.get("retry_after_ms"), int), frame
    return frame


class Closed(AssertionError):
    pass


class Client:
    """One WebSocket session.  Frames read while waiting for something else
    are kept in `buf` so that later expectations can still find them."""

    def __init__(self, ws, name=""):
        self.ws = ws
        self.name = name
        self.buf = []
        self.ready = None
        self.close_code = None
        reg = _open_clients.get()
        if reg is not None:
            reg.append(self)

    # -- opening
    @classmethod
    async def open(cls, server, token=None, via="header", compression=None,
                   name="", path="/ws", open_timeout=5):
        ctx = server.tls
        uri = "%s://127.0.0.1:%d%s" % ("wss" if ctx else "ws", server.port, path)
        headers = {}
        if token is not None and via == "header":
            headers["Authorization"] = "Bearer " + token
        elif token is not None and via == "url":
            uri += "?access_token=" + urllib.parse.quote(token, safe="")
        ws = await websockets.connect(uri, extra_headers=headers, max_size=None, ssl=ctx,
                                      ping_interval=None, close_timeout=2,
                                      open_timeout=open_timeout, compression=compression)
        c = cls(ws, name=name)
        if token is not None and via == "frame":
            await c.send_json({"type": "auth", "token": token})
        return c

    @classmethod
    async def login(cls, server, user="alice", via="header", token=None, **kw):
        tok = token or mint(user, secret=server.secret)
        c = await cls.open(server, tok, via=via, name=user, **kw)
        c.ready = await c.expect("ready")
        assert c.ready.get("user_id") == user, c.ready
        return c

    @property
    def user(self):
        return self.ready["user_id"] if self.ready else self.name

    @property
    def session_id(self):
        return self.ready["session_id"]

    # -- sending
    async def send_json(self, obj):
        await self.ws.send(json.dumps(obj))

    async def send_raw(self, data):
        await self.ws.send(data)

    # -- receiving
    async def _read(self, timeout):
        try:
            msg = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise
        except websockets.exceptions.ConnectionClosed:
            self.close_code = self.ws.close_code
            raise Closed("%s: connection closed (code %s, reason %r) while waiting; "
                         "unconsumed frames: %r" % (self.name, self.ws.close_code,
                                                    self.ws.close_reason, self.buf[-10:]))
        assert isinstance(msg, str), "%s: server sent a binary frame: %r" % (self.name, msg[:100])
        try:
            frame = json.loads(msg)
        except ValueError:
            raise AssertionError("%s: server sent non-JSON text: %r" % (self.name, msg[:200]))
        assert isinstance(frame, dict), "%s: server sent a non-object: %r" % (self.name, frame)
        return frame

    async def recv_json(self, timeout=5.0):
        if self.buf:
            return self.buf.pop(0)
        try:
            return await self._read(timeout)
        except asyncio.TimeoutError:
            raise AssertionError("%s: no frame within %.1f s" % (self.name, timeout))

    @staticmethod
    def _matches(frame, type_, match):
        if type_ is not None and frame.get("type") != type_:
            return False
        return all(frame.get(k) == v for k, v in match.items())

    async def expect(self, type_=None, timeout=5.0, **match):
        """The first frame (buffered or new) of this type whose fields equal
        `match`; other frames stay buffered."""
        for i, f in enumerate(self.buf):
            if self._matches(f, type_, match):
                return self.buf.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: no %s frame matching %r within %.1f s; got instead: %r"
                                     % (self.name, type_, match, timeout, self.buf[-10:]))
            try:
                f = await self._read(left)
            except asyncio.TimeoutError:
                continue
            if self._matches(f, type_, match):
                return f
            self.buf.append(f)

    async def expect_error(self, code, timeout=5.0, **match):
        f = await self.expect("error", timeout, **match)
        check_error(f)
        assert f["code"] == code, "%s: expected error %s, got %r" % (self.name, code, f)
        return f

    async def request(self, frame, timeout=5.0):
        """Send a frame with an id and return the reply carrying that id."""
        frame = dict(frame)
        frame.setdefault("id", new_id())
        await self.send_json(frame)
        reply = await self.expect(None, timeout, id=frame["id"])
        if reply.get("type") == "error":
            check_error(reply)
        return reply

    async def call(self, frame, reply_type=None, timeout=5.0):
        """request() and assert the reply is not an error (and of reply_type)."""
        r = await self.request(frame, timeout)
        assert r.get("type") != "error", "%s: %s failed: %r" % (self.name, frame.get("type"), r)
        if reply_type is not None:
            assert r.get("type") == reply_type, "%s: expected %s, got %r" % (self.name, reply_type, r)
        return r

    async def call_error(self, frame, code, timeout=5.0):
        r = await self.request(frame, timeout)
        assert r.get("type") == "error", "%s: expected error %s for %r, got %r" % (
            self.name, code, frame, r)
        assert r["code"] == code, "%s: expected error %s for %r, got %r" % (
            self.name, code, frame, r)
        return r

    async def assert_no_frame(self, window=0.5, types=None, **match):
        """Nothing (of these types / matching) arrives within `window` s."""
        def bad(f):
            return (types is None or f.get("type") in types) and \
                all(f.get(k) == v for k, v in match.items())
        for f in self.buf:
            assert not bad(f), "%s: unexpected frame %r" % (self.name, f)
        deadline = time.monotonic() + window
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                f = await self._read(left)
            except asyncio.TimeoutError:
                return
            assert not bad(f), "%s: unexpected frame %r" % (self.name, f)
            self.buf.append(f)

    async def expect_close(self, code, timeout=5.0):
        """Read until the server closes; assert the close code.  Returns the
        frames that arrived before the close."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: connection not closed within %.1f s (expected %s); "
                                     "frames: %r" % (self.name, timeout, code, frames[-10:]))
            try:
                msg = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            except websockets.exceptions.ConnectionClosed:
                break
            frames.append(msg)
        self.close_code = self.ws.close_code
        assert self.ws.close_code == code, "%s: closed with %s (reason %r), expected %s" % (
            self.name, self.ws.close_code, self.ws.close_reason, code)
        self.buf.extend(json.loads(m) for m in frames if isinstance(m, str))
        return frames

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            pass

    # -- chat helpers
    async def ping(self, timeout=5.0):
        rid = new_id("p")
        await self.send_json({"type": "ping", "id": rid})
        f = await self.expect("pong", timeout, id=rid)
        return f

    async def direct(self, peer):
        r = await self.call({"type": "conv.create", "kind": "direct", "user_id": peer},
                            "conversation")
        return r["conversation"]["conversation_id"]

    async def group(self, members, title="team"):
        r = await self.call({"type": "conv.create", "kind": "group", "title": title,
                             "members": list(members)}, "conversation")
        return r["conversation"]["conversation_id"]

    async def send_text(self, conv, text="hi", cmid=None, timeout=5.0):
        cmid = cmid or new_cmid()
        ack = await self.call({"type": "send", "conversation_id": conv,
                               "client_message_id": cmid, "text": text}, "ack", timeout)
        return ack

    async def history(self, conv, **kw):
        f = {"type": "history", "conversation_id": conv}
        f.update(kw)
        return await self.call(f, "history")


async def served(server, user="watchdog", timeout=5.0):
    """A fresh, well-behaved client can log in and get a pong."""
    c = await Client.login(server, user)
    await c.ping(timeout)
    await c.close()


def run(coro, timeout=60.0):
    """Run a coroutine to completion under a hard timeout, closing every
    Client opened inside it afterwards."""
    async def main():
        reg = []
        _open_clients.set(reg)
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            await asyncio.gather(*(c.close() for c in reg), return_exceptions=True)
    return asyncio.run(main())


# --------------------------------------------------------------------------
# raw WebSocket client

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class RawWS:
    """Blocking, byte-exact WebSocket client for misbehaviour tests."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.port = port
        self.rbuf = b""
        self.frames = []          # text payloads (decoded JSON) seen so far
        self.status = None

    def handshake(self, token=None, path="/ws", via="header", extra_headers=None):
        key = base64.b64encode(os.urandom(16)).decode()
        if token is not None and via == "url":
            path += "?access_token=" + urllib.parse.quote(token, safe="")
        lines = ["GET %s HTTP/1.1" % path,
                 "Host: 127.0.0.1:%d" % self.port,
                 "Upgrade: websocket",
                 "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key,
                 "Sec-WebSocket-Version: 13"]
        if token is not None and via == "header":
            lines.append("Authorization: Bearer " + token)
        for k, v in (extra_headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.rbuf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed during the handshake: %r" % self.rbuf)
            self.rbuf += chunk
        head, self.rbuf = self.rbuf.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.status = int(status_line.split()[1])
        assert self.status == 101, "handshake refused: %r" % head
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert accept.encode() in head, "bad Sec-WebSocket-Accept in %r" % head
        return self

    @classmethod
    def login(cls, server, user="alice", timeout=5.0):
        r = cls(server.port, timeout)
        r.handshake(mint(user, secret=server.secret))
        ready = r.recv_json()
        assert ready.get("type") == "ready", ready
        return r

    @staticmethod
    def encode_frame(opcode, payload, fin=True, mask=True, rsv=0, declared_len=None):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if declared_len is None else declared_len
        mbit = 0x80 if mask else 0
        if n < 126:
            hdr = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) \
                if len(payload) < 4096 else _mask_fast(payload, key)
            return hdr + key + body
        return hdr + payload

    def send_frame(self, opcode, payload, **kw):
        if isinstance(payload, str):
            payload = payload.encode()
        data = self.encode_frame(opcode, payload, **kw)
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_text(self, payload, **kw):
        return self.send_frame(OP_TEXT, payload, **kw)

    def send_json(self, obj):
        return self.send_text(json.dumps(obj))

    def _recv_exact(self, n, deadline):
        while len(self.rbuf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            chunk = self.sock.recv(max(65536, n - len(self.rbuf)))
            if not chunk:
                raise EOFError()
            self.rbuf += chunk
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def recv_frame(self, timeout=5.0):
        """(fin, opcode, payload); raises EOFError on EOF, socket.timeout."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._recv_exact(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._recv_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._recv_exact(8, deadline))[0]
        if b1 & 0x80:
            key = self._recv_exact(4, deadline)
            payload = _mask_fast(self._recv_exact(n, deadline), key)
        else:
            payload = self._recv_exact(n, deadline)
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_json(self, timeout=5.0):
        """Next text message as JSON (answers pings, fails on close)."""
        deadline = time.monotonic() + timeout
        while True:
            fin, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_CLOSE:
                raise AssertionError("server closed (code %s) while a frame was expected"
                                     % _close_code(payload))
            assert op == OP_TEXT and fin, "unexpected frame op=%d fin=%s" % (op, fin)
            f = json.loads(payload.decode("utf-8"))
            self.frames.append(f)
            return f

    def expect_close(self, timeout=5.0):
        """Read until a close frame; returns its code (None if the
        connection ended without one).  Text frames go to self.frames."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no close frame within %.1f s; frames: %r"
                                     % (timeout, self.frames[-5:]))
            try:
                fin, op, payload = self.recv_frame(left)
            except socket.timeout:
                continue
            except (EOFError, ConnectionResetError):
                return None
            if op == OP_CLOSE:
                code = _close_code(payload)
                self.send_frame(OP_CLOSE, payload[:2])
                return code
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
            elif op == OP_TEXT:
                try:
                    self.frames.append(json.loads(payload.decode("utf-8")))
                except ValueError:
                    self.frames.append(payload)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _mask_fast(payload, key):
    if not payload:
        return b""
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def _close_code(payload):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0]
    return 1005


def padded_json(obj, size, pad_key="pad"):
    """A JSON text of exactly `size` bytes: obj plus a padding field."""
    base = dict(obj)
    base[pad_key] = ""
    n = len(json.dumps(base, separators=(",", ":")).encode())
    assert n <= size
    base[pad_key] = "x" * (size - n)
    s = json.dumps(base, separators=(",", ":")).encode()
    assert len(s) == size
    return s


def in_thread(fn, *args):
    """Start fn(*args) in a daemon thread; returns (thread, result dict)."""
    result = {}

    def target():
        try:
            result["value"] = fn(*args)
        except BaseException as e:   # reported by the caller
            result["error"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, result


# --------------------------------------------------------------------------
# helpers for groups, edit/delete and fan-out (10_groups, 11_edit_delete,
# 12_fanout)

async def collect(client, window=0.5, types=None, **match):
    """Every frame (buffered ones first) of these types / matching that is
    there or arrives within `window` s, in order; other frames stay
    buffered."""
    def want(f):
        return (types is None or f.get("type") in types) and \
            all(f.get(k) == v for k, v in match.items())
    got = [f for f in client.buf if want(f)]
    client.buf = [f for f in client.buf if not want(f)]
    deadline = time.monotonic() + window
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        try:
            f = await client._read(left)
        except asyncio.TimeoutError:
            return got
        if want(f):
            got.append(f)
        else:
            client.buf.append(f)


async def call_result(client, frame, timeout=5.0):
    """A management command answered by {"type":"result","ok":true}."""
    r = await client.call(frame, "result", timeout)
    assert r.get("ok") is True, "%s: %s: result without ok:true: %r" % (
        client.name, frame.get("type"), r)
    return r


def sync_map(reply):
    """A sync reply's conversations by id (each listed once)."""
    assert reply.get("type") == "sync", reply
    out = {}
    for c in reply["conversations"]:
        assert c["conversation_id"] not in out, "conversation listed twice: %r" % c
        out[c["conversation_id"]] = c
    return out


def uses_pg(server):
    return bool(getattr(server, "pg_schema", None))


def db_path(server):
    if uses_pg(server):
        import pytest
        pytest.skip("reads the SQLite file, and this server runs on storage_pg")
    return server.cfg["storage_sqlite"]["path"]


def db_file_bytes(server):
    """The raw bytes of the SQLite database and its -wal / -journal files
    (those that exist), concatenated."""
    out = b""
    base = db_path(server)
    for p in (base, base + "-wal", base + "-journal"):
        try:
            with open(p, "rb") as f:
                out += f.read()
        except FileNotFoundError:
            pass
    return out


def _pg_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _pg_rows(server, sql, args=()):
    """Rows of a query on the server's PostgreSQL database, as tuples of
    Python values (typed through JSON).  `?` placeholders as in SQLite;
    "PRAGMA table_info(T)" is answered from information_schema."""
    import re
    m = re.match(r"\s*PRAGMA\s+table_info\((\w+)\)\s*$", sql, re.I)
    if m:
        sql = ("SELECT ordinal_position - 1, column_name FROM information_schema.columns "
               "WHERE table_name = '%s' ORDER BY ordinal_position" % m.group(1))
    parts = sql.split("?")
    assert len(parts) == len(args) + 1, "placeholders and arguments differ: %r" % sql
    text = parts[0] + "".join(_pg_literal(a) + p for a, p in zip(args, parts[1:]))
    out = psql("SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % text, schema=server.pg_schema)
    return json.loads(out, object_pairs_hook=lambda pairs: tuple(v for _, v in pairs))


def db_exec(server, sql):
    """Run a statement on the server's database (SQLite file or PostgreSQL)."""
    if uses_pg(server):
        psql(sql, schema=server.pg_schema)
        return
    import sqlite3
    db = sqlite3.connect(db_path(server), timeout=10)
    try:
        db.execute(sql)
        db.commit()
    finally:
        db.close()


def db_query(server, sql, args=()):
    """Rows of a read-only query on the server's SQLite file (safe while
    the server runs: WAL readers do not block the writer), or on its
    PostgreSQL database under CHATD_TEST_STORAGE=pg."""
    if uses_pg(server):
        return _pg_rows(server, sql, args)
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(db_path(server)),
                         uri=True, timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def now_ms():
    return int(time.time() * 1000)


async def collect_until(client, done, timeout=5.0, extra=0.3, types=None, **match):
    """Like collect(), but keeps collecting until done(frames) is true (or
    `timeout` s pass), then `extra` s more, to catch duplicates.  Returns
    the frames; the caller asserts on them."""
    frames = []
    deadline = time.monotonic() + timeout
    while not done(frames) and time.monotonic() < deadline:
        frames += await collect(client, min(0.1, max(0.0, deadline - time.monotonic())),
                                types=types, **match)
    frames += await collect(client, extra, types=types, **match)
    return frames
