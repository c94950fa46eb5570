"""The plugin loader: every refusal names the file and the reason, start-up
stops, and --list-plugins shows what a directory holds.  Uses the test-only
plugins built by `make check` in tests/plugins/."""

import os

import pytest

import chatclient

CASES = [
    # (storage name, words the error must contain)
    ("badmajor", ["storage_badmajor.so", "refused", "plugin ABI 2.0"]),
    ("badkind", ["storage_badkind.so", "refused", "presence plugin, expected a storage plugin"]),
    ("nosymbol", ["storage_nosymbol.so", "not a chatd plugin"]),
    ("failinit", ["storage_failinit.so", "init failed", "failing on purpose"]),
    ("absent", ["storage_absent.so", "no plugin file"]),
]


@pytest.fixture
def test_plugin_dir(build_dir, tmp_path):
    """A plugin directory holding the shipped plugins and the test ones, so
    a test plugin is the only thing that can go wrong."""
    src = os.path.join(build_dir, "tests", "plugins", ".libs")
    assert os.path.exists(os.path.join(src, "storage_badmajor.so")), (
        "test plugins are missing: build them with `make check TESTS=` in %s" % build_dir)
    d = tmp_path / "plugins"
    d.mkdir()
    for n in ["badmajor", "badkind", "nosymbol", "failinit"]:
        os.symlink(os.path.join(src, "storage_%s.so" % n), d / ("storage_%s.so" % n))
    for n in ["presence_local", "bus_local", "fanout_online", "fanout_hybrid",
              "receipts_cursor", "media_local", "presence_redis", "bus_redis"]:
        os.symlink(os.path.join(build_dir, "plugins", n, ".libs", n + ".so"), d / (n + ".so"))
    return str(d)


@pytest.mark.parametrize("name,words", CASES, ids=[c[0] for c in CASES])
def test_refused_plugin_stops_startup(chatd, test_plugin_dir, name, words):
    srv = chatd(start=False, plugin_dir=test_plugin_dir, plugins={"storage": name},
                storage_sqlite=None)
    p = srv.spawn()
    try:
        rc = p.wait(timeout=15)
    except Exception:
        p.kill()
        p.wait(timeout=5)
        raise AssertionError("chatd kept running with plugins.storage = %r" % name)
    log = srv.log_text()
    assert rc == 1, "start-up with plugin %s exited %s:\n%s" % (name, rc, log)
    for w in words:
        assert w in log, "error for %s lacks %r:\n%s" % (name, w, log)
    assert "listening" not in log, "the server started listening before failing:\n%s" % log


def test_check_config_names_refused_plugin(chatd, test_plugin_dir):
    srv = chatd(start=False, plugin_dir=test_plugin_dir, plugins={"storage": "badmajor"},
                storage_sqlite=None)
    r = chatclient.run_tool([chatclient.chatd_bin(), "--check-config", srv.config_path])
    assert r.returncode == 1, r
    assert "storage_badmajor.so" in r.stderr and "plugin ABI 2.0" in r.stderr, r.stderr


def test_list_plugins_shows_each_and_why(test_plugin_dir):
    r = chatclient.run_tool([chatclient.chatd_bin(), "--list-plugins", test_plugin_dir])
    assert r.returncode == 0, r
    out = r.stdout
    assert "failinit" in out and "storage" in out, out          # loadable: listed with kind
    assert "storage_badmajor.so: refused" in out, out
    assert "storage_nosymbol.so: not a chatd plugin" in out, out


def test_list_plugins_of_the_build(build_dir):
    r = chatclient.run_tool([chatclient.chatd_bin(), "--list-plugins",
                             os.path.join(build_dir, "plugins")])
    assert r.returncode == 0, r
    for kind, name in [("storage", "sqlite"), ("presence", "local"), ("bus", "local"),
                       ("fanout", "online")]:
        assert any(line.split()[:2] == [kind, name] for line in r.stdout.splitlines()), r.stdout
