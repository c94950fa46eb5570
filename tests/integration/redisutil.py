"""Throwaway Redis servers for tests: loopback, nothing saved, under a
temporary directory; and a tiny RESP client (no Python redis package)."""

import os
import shutil
import socket
import subprocess
import time

import chatclient


def have_redis():
    return shutil.which("redis-server") is not None


class RedisServer:
    def __init__(self, tmpdir, port=None, password=None):
        self.dir = str(tmpdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or chatclient.free_port()
        self.password = password    # requirepass; cmd() authenticates with it
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile",
             os.path.join(self.dir, "redis.log")] +
            (["--requirepass", self.password] if self.password else []),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.cmd("PING") == "PONG":
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self.log_text())
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer in %.0f s" % timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return f.read()[-5000:]
        except OSError:
            return "(no log)"

    def cmd(self, *args, timeout=5.0):
        """One command; returns the decoded reply (errors raise)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            cmds = ([("AUTH", self.password)] if self.password else []) + [args]
            out = b""
            for c in cmds:
                out += b"*%d\r\n" % len(c)
                for a in c:
                    a = a if isinstance(a, bytes) else str(a).encode()
                    out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            if self.password:
                _read(f)
            return _read(f)

    def section(self, name, prefix):
        """Config overrides of a plugin section pointing at this server."""
        return {"host": "127.0.0.1", "port": self.port, "prefix": prefix}


def _read(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise RuntimeError("bad RESP reply %r" % line)
