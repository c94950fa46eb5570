"""Fixtures: a chatd server per test, started from $CHATD_BUILD_DIR with a
generated config, stopped with SIGTERM at teardown (exit code 0 is part of
the contract).  The server log is attached to every failing test report."""

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatclient  # noqa: E402
import redisutil  # noqa: E402

# CHATD_TEST_PRESENCE=redis / CHATD_TEST_BUS=redis: every server of the run
# uses presence_redis / bus_redis on a throwaway Redis (one per session,
# each server with a prefix of its own), unless a test picks its plugins.
REDIS_PLUGINS = {kind: os.environ.get("CHATD_TEST_" + kind.upper()) == "redis"
                 for kind in ("presence", "bus")}


def _require_build_dir():
    d = os.environ.get("CHATD_BUILD_DIR")
    if not d:
        pytest.exit("CHATD_BUILD_DIR is not set: export CHATD_BUILD_DIR=<build tree "
                    "holding chatd, chatctl and plugins/> and run again", returncode=4)
    if not os.access(os.path.join(d, "chatd"), os.X_OK):
        pytest.exit("CHATD_BUILD_DIR=%s has no executable chatd" % d, returncode=4)
    return d


@pytest.fixture(scope="session")
def build_dir():
    return _require_build_dir()


@pytest.fixture(scope="session", autouse=True)
def pg_schemas():
    """Under CHATD_TEST_STORAGE=pg: drop the servers' schemas at the end."""
    yield
    if chatclient.storage_kind() == "pg":
        chatclient.pg_drop_all()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for i, srv in enumerate(getattr(item, "_chatd_servers", [])):
            rep.sections.append(("chatd log (server %d, port %d)" % (i, srv.port),
                                 srv.log_text()))


@pytest.fixture(scope="session")
def redis_session(tmp_path_factory):
    """A Redis for the whole run: $CHATD_TEST_REDIS_URL (scripts/test starts
    one), else one started here on first use."""
    url = os.environ.get("CHATD_TEST_REDIS_URL")
    if url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        yield redisutil.RedisServer(tmp_path_factory.mktemp("redis"), port=port)
        return
    if not redisutil.have_redis():
        pytest.skip("redis-server is not installed (scripts/setup --test)")
    srv = redisutil.RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


@pytest.fixture
def redis_url(redis_session):
    """The URL of the run's throwaway Redis (redis://127.0.0.1:PORT)."""
    return redis_session.url


def _redis_defaults(request, index):
    """Overrides putting presence/bus on Redis when the environment asks."""
    if not any(REDIS_PLUGINS.values()):
        return {}
    r = request.getfixturevalue("redis_session")
    prefix = "t%s:" % uuid.uuid4().hex[:12]    # nothing left by another test
    out = {"plugins": {}}
    for kind, on in REDIS_PLUGINS.items():
        if on:
            out["plugins"][kind] = "redis"
            out[kind + "_redis"] = r.section(kind, prefix)
    return out


def _layer(base, over):
    """over on top of base, keeping over's None values (they delete keys
    of the default config later)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _layer(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.fixture
def chatd(request, tmp_path, build_dir):
    """Factory: chatd(server={...}, auth={...}, plugins={...}, extra_lua="",
    start=True) -> ChatdServer.  Dict overrides merge into the default config
    (a None value deletes a key)."""
    servers = []
    request.node._chatd_servers = servers

    def factory(extra_lua="", start=True, **overrides):
        base = _redis_defaults(request, len(servers))
        if base:
            picked = overrides.get("plugins") or {}
            for kind in ("presence", "bus"):
                if kind in picked:   # the test chose: keep its choice
                    base["plugins"].pop(kind, None)
                    base.pop(kind + "_redis", None)
            overrides = _layer(base, overrides)
        srv = chatclient.ChatdServer(tmp_path / ("srv%d" % len(servers)),
                                     overrides=overrides, extra_lua=extra_lua)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield factory

    problems = []
    for srv in servers:
        if srv.running:
            rc = srv.stop(timeout=10)
            if rc != 0:
                problems.append("server on port %d: SIGTERM gave exit %s (expected 0 within 10 s)"
                                % (srv.port, "timeout" if rc is None else rc))
    for srv in servers:
        if not srv.running:
            srv.drop_db()
    if problems:
        logs = "\n".join("--- log port %d ---\n%s" % (s.port, s.log_text()) for s in servers)
        pytest.fail("unclean shutdown: %s\n%s" % ("; ".join(problems), logs))


@pytest.fixture
def server(chatd):
    """A default server (HS256, sqlite, local plugins)."""
    return chatd()


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """RSA and EC P-256 key pairs made with the openssl CLI."""
    d = str(tmp_path_factory.mktemp("keys"))
    rsa_key, rsa_pub = chatclient.gen_rsa_key(d)
    ec_key, ec_pub = chatclient.gen_ec_key(d)
    return {"rsa": rsa_key, "rsa_pub": rsa_pub, "ec": ec_key, "ec_pub": ec_pub}
