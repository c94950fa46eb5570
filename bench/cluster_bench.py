"""bench/cluster_bench.py — the cluster scenario of scripts/bench (section 8).

One chatd node, then two, on the shared backends a cluster runs
(storage_pg + presence_redis + bus_redis, fanout_online: docs/scaling.md):
a throwaway PostgreSQL (scripts/pg-test-server, fsync on, as production has
it) and a throwaway Redis (scripts/redis-test-server), both on loopback
under the run's temporary directory, stopped and removed at the end, also
on failure or SIGTERM.

Each run gets a fresh database and an empty Redis.  chatbench drives every
node at once (one --url per node: connection i on node i mod K), so with
two nodes both ends of every pair are on different nodes and every message
crosses through Redis.  Runs: pairs at fixed offered rates (send→ack and
send→delivery latency) and windowed (the most it sustains), then idle
connections on one node (RSS per connection).

chatbench --progress marks the measured interval on stderr; at each mark
this module reads, itself: CPU time of every process (the chatd nodes, all
of PostgreSQL's, Redis), the nodes' counters (GET /metrics: messages
stored, storage_pg statements and batches, cluster events) and
PostgreSQL's WAL position.  Differences over the interval give CPU % per
component and storage writes per stored message.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

RATES = [1000, 2000, 0]          # offered msg/s; 0 = windowed (the most it sustains)
NODES = [1, 2]
CONNS = 1000                     # 500 pairs
WINDOW = 4                       # un-acked sends per connection in the windowed run
IDLE_CONNS = 10000
BUDGET_S = 900                   # the whole scenario; a run that would pass it is not started
PREFIX = "bench:"

# Counters read from each node's GET /metrics (Prometheus text).
COUNTERS = {
    "messages": "chatd_messages_accepted_total",
    "pg_statements": "chatd_plugin_storage_pg_queries",
    "pg_batches": "chatd_plugin_storage_pg_batches",
    "pg_errors": "chatd_plugin_storage_pg_query_errors",
    "pg_retries": "chatd_plugin_storage_pg_retries",
    "pg_reruns": "chatd_plugin_storage_pg_reruns",
    "member_cache_misses": "chatd_plugin_fanout_online_member_cache_misses_total",
    "locates": "chatd_plugin_presence_redis_locates_total",
    "frames_routed": 'chatd_cluster_events_total{event="frames_routed"}',
    "node_messages_published": 'chatd_cluster_events_total{event="messages_published"}',
    "publish_failed": 'chatd_cluster_events_total{event="publish_failed"}',
    "locate_failed": 'chatd_cluster_events_total{event="locate_failed"}',
}


class Ctx:
    """What scripts/bench hands over: paths, the secret, the rules, logging."""

    def __init__(self, root, build, secret, moderation, log, free_port, wait_port):
        self.root, self.build, self.secret = root, build, secret
        self.moderation, self.log = moderation, log
        self.free_port, self.wait_port = free_port, wait_port


def have_backends():
    """None when PostgreSQL 15 and redis-server are installed, else why not."""
    pgbin = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
    if not os.access(os.path.join(pgbin, "initdb"), os.X_OK):
        return "no %s/initdb (apt-get install postgresql)" % pgbin
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        return "no redis-server (apt-get install redis-server)"
    if not shutil.which("psql"):
        return "no psql"
    return None


# ---- processes -------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """utime + stime of pid in seconds, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_ticks():
    """(busy, all) jiffies of every CPU together, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]   # user nice system irq softirq steal
    return busy, busy + v[3] + v[4]                   # + idle iowait


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                text = f.read()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == ppid:
            out.append(int(d))
    return out


def read_pid(path):
    with open(path) as f:
        return int(f.readline().strip())


class Backends:
    """The throwaway PostgreSQL and Redis of the scenario."""

    def __init__(self, ctx, workdir):
        self.ctx = ctx
        self.pgdir = os.path.join(workdir, "pg")
        self.redisdir = os.path.join(workdir, "redis")
        self.pg_port = ctx.free_port()
        self.redis_port = ctx.free_port()
        self.pg_up = self.redis_up = False

    def start(self):
        # initdb runs as the user postgres when we are root: it must reach pgdir.
        os.chmod(os.path.dirname(self.pgdir), 0o711)
        env = dict(os.environ, PG_TEST_FSYNC="on")
        self.pg_up = True   # stop() is harmless if start failed half-way
        subprocess.run([os.path.join(self.ctx.root, "scripts", "pg-test-server"), "start",
                        self.pgdir, str(self.pg_port)], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        self.redis_up = True
        subprocess.run([os.path.join(self.ctx.root, "scripts", "redis-test-server"), "start",
                        self.redisdir, str(self.redis_port)], check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
        settings = self.psql("select current_setting('fsync') || ' ' || "
                             "current_setting('synchronous_commit') || ' ' || "
                             "current_setting('full_page_writes') || ' ' || version()")
        self.settings = settings
        self.ctx.log("cluster: PostgreSQL on %d (%s), Redis on %d" % (
            self.pg_port, settings.split(" on x86")[0], self.redis_port))

    def stop(self):
        if self.pg_up:
            subprocess.run([os.path.join(self.ctx.root, "scripts", "pg-test-server"), "stop",
                            self.pgdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
        if self.redis_up:
            subprocess.run([os.path.join(self.ctx.root, "scripts", "redis-test-server"), "stop",
                            self.redisdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=30)

    def psql(self, sql, db="postgres"):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
                            "-d", db, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, r.stderr.strip()))
        return r.stdout.strip()

    def dsn(self, db):
        return "host=127.0.0.1 port=%d user=postgres dbname=%s" % (self.pg_port, db)

    def wal_bytes(self):
        """The WAL position in bytes: exact at any moment (the row counts of
        pg_stat_user_tables are not: a busy pipelined backend publishes them
        late, some intervals showed none)."""
        return int(float(self.psql("select pg_current_wal_lsn() - '0/0'")))

    def redis_commands(self):
        """Commands Redis has processed (INFO stats), ours included."""
        r = subprocess.run(["redis-cli", "-p", str(self.redis_port), "info", "stats"],
                           capture_output=True, text=True, timeout=30, check=True)
        for line in r.stdout.splitlines():
            if line.startswith("total_commands_processed:"):
                return int(line.split(":")[1])
        return 0

    def flush_redis(self):
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "flushall"], check=True,
                       stdout=subprocess.DEVNULL, timeout=30)

    def pg_pids(self):
        pm = read_pid(os.path.join(self.pgdir, "data", "postmaster.pid"))
        return [pm] + children(pm)

    def redis_pid(self):
        return read_pid(os.path.join(self.redisdir, "redis.pid"))


class Node:
    """One chatd of a run, on the shared backends."""

    def __init__(self, ctx, workdir, k, be, db):
        self.ctx = ctx
        self.port, self.admin_port = ctx.free_port(), ctx.free_port()
        self.dir = os.path.join(workdir, "node%d" % k)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "chatd.conf")
        redis = 'host = "127.0.0.1", port = %d, prefix = "%s"' % (be.redis_port, PREFIX)
        with open(self.conf, "w") as f:
            f.write(f"""node_id = "n{k}"
plugin_dir = "{ctx.build}/plugins"
server = {{ host = "127.0.0.1", port = {self.port}, max_connections = 12000,
           frame_rate = 100000, frame_burst = 100000 }}
auth = {{ algorithm = "HS256", secret = "{ctx.secret}" }}
admin = {{ enabled = true, host = "127.0.0.1", port = {self.admin_port} }}
plugins = {{ storage = "pg", presence = "redis", bus = "redis", fanout = "online" }}
storage_pg = {{ dsn = "{be.dsn(db)}" }}
presence_redis = {{ {redis} }}
bus_redis = {{ {redis} }}
log = {{ level = "warn" }}
{ctx.moderation}
""")
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([os.path.join(ctx.build, "chatd"), "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     cwd=self.dir)
        self.url = "ws://127.0.0.1:%d/ws" % self.port
        self.token = None

    def wait_ready(self):
        self.ctx.wait_port(self.port, self.proc, timeout=30)

    def metrics(self):
        if self.token is None:
            r = subprocess.run([os.path.join(self.ctx.build, "chatctl"), "token", "mint",
                                "bench-admin", "--role", "admin", "--local", "-c", self.conf],
                               capture_output=True, text=True, timeout=30, check=True)
            self.token = r.stdout.strip().splitlines()[-1]
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.admin_port,
                                     headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        vals = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, v = line.rpartition(" ")
                vals[name] = float(v)
        return {k: vals.get(n, 0.0) for k, n in COUNTERS.items()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def snapshot(nodes, be):
    """Readings at one mark: CPU seconds per process and role, the nodes'
    counters (summed), PostgreSQL's WAL position and row counts."""
    t = time.monotonic()
    machine = machine_ticks()
    procs = {"chatd": [n.proc.pid for n in nodes], "postgres": be.pg_pids(),
             "redis": [be.redis_pid()]}
    cpu = {role: {pid: cpu_s(pid) for pid in pids} for role, pids in procs.items()}
    per_node = [n.metrics() for n in nodes]
    counters = {k: sum(m[k] for m in per_node) for k in COUNTERS}
    counters["wal_bytes"] = be.wal_bytes()
    counters["redis_commands"] = be.redis_commands()
    return {"t": t, "machine": machine, "cpu": cpu, "counters": counters,
            "per_node": per_node}


def delta(a, b):
    """CPU % per role (and per chatd node) and counter differences between two
    snapshots.  A process that started in between counts from zero; one that
    ended in between is left out (its last seconds are lost)."""
    wall = b["t"] - a["t"]
    out = {"wall_s": wall, "cpu_pct": {}, "counters": {}}
    for role in b["cpu"]:
        total = 0.0
        for pid, v in b["cpu"][role].items():
            if v is None:
                continue
            v0 = a["cpu"].get(role, {}).get(pid) or 0.0
            total += v - v0
        out["cpu_pct"][role] = 100.0 * total / wall if wall > 0 else None
    # The whole VM, in the same unit (100 = one core): what else ran shows as
    # the machine minus our processes.
    busy, alls = (b["machine"][0] - a["machine"][0], b["machine"][1] - a["machine"][1])
    out["cpu_pct"]["machine"] = 100.0 * os.cpu_count() * busy / alls if alls > 0 else None
    out["cpu_pct"]["chatd_nodes"] = [
        100.0 * ((b["cpu"]["chatd"][pid] or 0) - (a["cpu"]["chatd"].get(pid) or 0)) / wall
        for pid in b["cpu"]["chatd"]] if wall > 0 else []
    for k in b["counters"]:
        out["counters"][k] = b["counters"][k] - a["counters"].get(k, 0.0)
    out["messages_per_node"] = [bn["messages"] - an["messages"]
                                for an, bn in zip(a["per_node"], b["per_node"])]
    return out


def run_chatbench(ctx, args, nodes, be, timeout):
    """chatbench with --progress; snapshots at "phase measure" and "phase end"."""
    cmd = [os.path.join(ctx.build, "bench", "chatbench"), "--secret", ctx.secret, "--json",
           "--progress"]
    for n in nodes:
        cmd += ["--url", n.url]
    cmd += [str(x) for x in args]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    marks, errors, tail, out = {}, [], [], []

    def stdout_reader():
        out.append(p.stdout.read())

    def reader():
        for line in p.stderr:
            tail.append(line)
            del tail[:-40]
            line = line.strip()
            if line.startswith("chatbench: phase "):
                try:
                    marks[line.split()[-1]] = snapshot(nodes, be)
                except Exception as e:   # reported below; the run still ends
                    errors.append("snapshot at %s: %s" % (line, e))
    # Each pipe has its own reader (communicate() would take stderr's lines).
    threads = [threading.Thread(target=f, daemon=True) for f in (reader, stdout_reader)]
    for th in threads:
        th.start()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError("chatbench %s took over %d s" % (" ".join(map(str, args)), timeout))
    finally:
        if p.poll() is None:   # timeout, SIGTERM, Ctrl-C
            p.kill()
            p.wait()
        for th in threads:
            th.join(timeout=10)
        p.stdout.close()
        p.stderr.close()
    if p.returncode != 0:
        raise RuntimeError("chatbench %s exited %d: %s" % (" ".join(map(str, args)), p.returncode,
                                                            "".join(tail)[-2000:]))
    if errors:
        raise RuntimeError("; ".join(errors))
    if "measure" not in marks or "end" not in marks:
        raise RuntimeError("chatbench gave no phase marks (is it built with --progress?)")
    r = json.loads(out[0] if out else "")
    r["cluster"] = delta(marks["measure"], marks["end"])
    return r


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def check(self, need, what):
        if time.monotonic() + need > self.end:
            raise RuntimeError("cluster: %s would pass the %d s budget: stopped" % (what, BUDGET_S))


def one_run(ctx, workdir, be, nnodes, db, args, timeout):
    be.psql("create database %s" % db)
    be.flush_redis()
    nodes = []
    try:
        for k in range(1, nnodes + 1):
            nodes.append(Node(ctx, workdir, k, be, db))
            nodes[-1].wait_ready()
        return run_chatbench(ctx, args, nodes, be, timeout)
    finally:
        for n in nodes:
            n.stop()
        for n in nodes:
            shutil.rmtree(n.dir, ignore_errors=True)
        be.psql("drop database if exists %s with (force)" % db)


def scenario(ctx, a, workdir, res):
    why = have_backends()
    if why:
        raise RuntimeError("the cluster scenario needs PostgreSQL 15 and Redis: " + why)
    deadline = Deadline(BUDGET_S)
    be = Backends(ctx, workdir)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        be.start()
        dur, warm = a.duration, 2
        per_run = dur + warm + 15
        rows = {(n, r): [] for n in NODES for r in RATES}
        idle = []
        k = 0
        for rep in range(a.reps):
            for n in NODES:
                for rate in RATES:
                    k += 1
                    deadline.check(per_run, "run %d" % k)
                    label = "window %d" % WINDOW if rate == 0 else "%d/s" % rate
                    ctx.log("cluster %d node(s), pairs -n %d, %s, rep %d" % (n, CONNS, label,
                                                                             rep + 1))
                    args = ["--scenario", "pairs", "-n", CONNS, "--rate", rate, "--duration", dur,
                            "--warmup", warm, "--user-prefix", "c%d_%d_" % (k, n)]
                    if rate == 0:
                        args += ["--window", WINDOW]
                    rows[(n, rate)].append(one_run(ctx, workdir, be, n, "bench_%d" % k, args,
                                                   timeout=per_run + 90))
            k += 1
            deadline.check(40, "idle run")
            ctx.log("cluster idle -n %d on one node, rep %d" % (IDLE_CONNS, rep + 1))
            idle.append(idle_run(ctx, workdir, be, "bench_%d" % k))
        res["cluster"] = {
            "conns": CONNS, "window": WINDOW, "duration_s": dur, "warmup_s": warm,
            "idle_conns": IDLE_CONNS, "backends": be.settings,
            "rows": [[n, rate, rows[(n, rate)]] for n in NODES for rate in RATES],
            "idle": idle}
    finally:
        signal.signal(signal.SIGTERM, old)
        be.stop()
        shutil.rmtree(be.pgdir, ignore_errors=True)
        shutil.rmtree(be.redisdir, ignore_errors=True)


def idle_run(ctx, workdir, be, db):
    be.psql("create database %s" % db)
    be.flush_redis()
    node = None
    try:
        node = Node(ctx, workdir, 1, be, db)
        node.wait_ready()
        cmd = [os.path.join(ctx.build, "bench", "chatbench"), "--url", node.url, "--secret",
               ctx.secret, "--json", "--scenario", "idle", "-n", IDLE_CONNS, "--duration", 3,
               "--server-pid", node.proc.pid, "--user-prefix", "ci_"]
        r = subprocess.run([str(x) for x in cmd], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("chatbench idle exited %d: %s" % (r.returncode, r.stderr[-2000:]))
        out = json.loads(r.stdout)
        out["redis_used_memory"] = redis_memory(be)
        return out
    finally:
        if node:
            node.stop()
            shutil.rmtree(node.dir, ignore_errors=True)
        be.psql("drop database if exists %s with (force)" % db)


def redis_memory(be):
    r = subprocess.run(["redis-cli", "-p", str(be.redis_port), "info", "memory"],
                       capture_output=True, text=True, timeout=30)
    for line in r.stdout.splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return None


# ---- report ----------------------------------------------------------------

def _get(d, path):
    for k in path.split("."):
        if isinstance(d, list):
            d = d[int(k)] if int(k) < len(d) else None
        elif isinstance(d, dict):
            d = d.get(k)
        if d is None:
            return None
    return d


def _med(runs, fn):
    vals = [v for v in (fn(r) for r in runs) if v is not None]
    return statistics.median(vals) if vals else None


def _f(v, digits=0):
    return "–" if v is None else ("{:,.%df}" % digits).format(v)


def per_msg(r, counter):
    c = _get(r, "cluster.counters")
    if not c or not c.get("messages"):
        return None
    return c[counter] / c["messages"]


def report(w, data, machine_line):
    rows, idle = data["rows"], data["idle"]
    w("## 8. Cluster: one node against two on PostgreSQL and Redis")
    w("")
    w("`scripts/bench --only cluster` starts a throwaway PostgreSQL (`scripts/pg-test-server` "
      "with `PG_TEST_FSYNC=on`: %s) and a throwaway Redis (`scripts/redis-test-server`), "
      "both on loopback; each run gets a fresh database, an empty Redis and fresh chatd "
      "nodes on `storage_pg` + `presence_redis` + `bus_redis` with `fanout = \"online\"` "
      "(docs/scaling.md) and the shipped rules.  `chatbench --scenario pairs -n %d` "
      "(%d direct conversations, 100-byte messages) with one `--url` per node: "
      "connection i goes to node i mod K, so with two nodes **both ends of every pair "
      "are on different nodes** and every message is delivered through Redis "
      "(`cross_node_pct` = %s).  Fixed rates are open loop; \"window\" keeps %d un-acked "
      "sends per connection, which gives the most it sustains.  %d s measured after %d s "
      "of warm-up.  CPU is per component over the measured interval, read from /proc at "
      "chatbench's `--progress` marks (100 = one core; PostgreSQL = "
      "all its processes; \"machine\" = every CPU of the VM from /proc/stat, and in "
      "brackets what of it was not ours: other work on the VM)." % (
          _short_pg(data.get("backends", "")), data["conns"], data["conns"] // 2,
          _cross(rows), data["window"], data["duration_s"], data["warmup_s"]))
    w("")
    w(machine_line)
    w("")
    w("| nodes | offered | acks/s | undelivered % | send→ack p50 / p99 ms | "
      "send→delivery p50 / p99 ms | CPU %: chatd (per node) | PostgreSQL | Redis | "
      "generator | machine (other work) |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, rate, runs in rows:
        label = "window %d" % data["window"] if rate == 0 else "%s msg/s" % _f(rate)
        node_cpu = " + ".join(_f(_med(runs, lambda r, i=i: _get(r, "cluster.cpu_pct.chatd_nodes.%d" % i)))
                              for i in range(n))
        chatd = _med(runs, lambda r: _get(r, "cluster.cpu_pct.chatd"))
        pg = _med(runs, lambda r: _get(r, "cluster.cpu_pct.postgres"))
        rd = _med(runs, lambda r: _get(r, "cluster.cpu_pct.redis"))
        gen = _med(runs, lambda r: _get(r, "generator.cpu_pct"))
        mach = _med(runs, lambda r: _get(r, "cluster.cpu_pct.machine"))
        other = _med(runs, lambda r: _get(r, "cluster.cpu_pct.machine") - sum(
            _get(r, "cluster.cpu_pct.%s" % k) or 0 for k in ("chatd", "postgres", "redis")) -
            (_get(r, "generator.cpu_pct") or 0) if _get(r, "cluster.cpu_pct.machine") is not None
            else None)
        w("| %d | %s | **%s** | %s | %s / %s | %s / %s | %s%s | %s | %s | %s | %s |" % (
            n, label, _f(_med(runs, lambda r: r.get("acks_per_s"))),
            _f(_med(runs, lambda r: r.get("undelivered_pct")), 3),
            _f(_med(runs, lambda r: _get(r, "latency_ms.ack.p50")), 1),
            _f(_med(runs, lambda r: _get(r, "latency_ms.ack.p99")), 1),
            _f(_med(runs, lambda r: _get(r, "latency_ms.delivery.p50")), 1),
            _f(_med(runs, lambda r: _get(r, "latency_ms.delivery.p99")), 1),
            _f(chatd), " (%s)" % node_cpu if n > 1 else "", _f(pg), _f(rd), _f(gen),
            "%s (%s)" % (_f(mach), _f(other))))
    w("")
    w("Runs of the windowed rows, acks/s: %s." % "; ".join(
        "%d node%s: %s" % (n, "s" if n > 1 else "", " / ".join(_f(r.get("acks_per_s")) for r in runs))
        for n, rate, runs in rows if rate == 0))
    w("")
    w("### Storage writes per stored message (storage_pg)")
    w("")
    w("Over the measured interval, from the nodes' counters (`chatd_messages_accepted_total`, "
      "`storage_pg.queries`, `storage_pg.batches`: one batch is one transaction ended by "
      "one sync; a batch of reads only flushes no WAL) and PostgreSQL's WAL position "
      "(`pg_current_wal_lsn()`, full-page images after checkpoints included).  Redis "
      "commands: `total_commands_processed` of INFO, which counts the commands run "
      "inside scripts too.")
    w("")
    w("| nodes | offered | statements / message | batches (syncs) / message | statements / batch | "
      "WAL bytes / message | "
      "node messages published / message | Redis commands / message |")
    w("|---|---|---|---|---|---|---|---|")
    for n, rate, runs in rows:
        label = "window %d" % data["window"] if rate == 0 else "%s msg/s" % _f(rate)
        st = _med(runs, lambda r: per_msg(r, "pg_statements"))
        bt = _med(runs, lambda r: per_msg(r, "pg_batches"))
        spc = _med(runs, lambda r: (_get(r, "cluster.counters.pg_statements") or 0) /
                   (_get(r, "cluster.counters.pg_batches") or 1) if
                   _get(r, "cluster.counters.pg_batches") else None)
        w("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            n, label, _f(st, 2), _f(bt, 3), _f(spc, 1),
            _f(_med(runs, lambda r: per_msg(r, "wal_bytes"))),
            _f(_med(runs, lambda r: per_msg(r, "node_messages_published")), 2),
            _f(_med(runs, lambda r: per_msg(r, "redis_commands")), 2)))
    w("")
    if idle:
        per = _med(idle, lambda r: _get(r, "server.rss_per_conn_bytes"))
        w("### Idle connections on one node")
        w("")
        w("`chatbench --scenario idle -n %d` against one node on the same backends "
          "(`server.max_connections = 12000`): every connection authenticated and registered "
          "in presence_redis.  Server RSS %s MiB before, %s MiB with all %s ready: "
          "**%s bytes per connection, %s MiB per 1,000** (runs: %s); connecting took %s s "
          "(paced by chatbench at 2,000/s); Redis used %s MiB afterwards." % (
              data["idle_conns"],
              _f(_med(idle, lambda r: (_get(r, "server.rss_before") or 0) / 1048576.0), 1),
              _f(_med(idle, lambda r: (_get(r, "server.rss_ready") or 0) / 1048576.0), 1),
              _f(data["idle_conns"]), _f(per),
              _f(per * 1000 / 1048576.0, 2) if per is not None else "–",
              " / ".join(_f(_get(r, "server.rss_per_conn_bytes")) for r in idle),
              _f(_med(idle, lambda r: r.get("connect_s")), 2),
              _f(_med(idle, lambda r: (r.get("redis_used_memory") or 0) / 1048576.0), 1)))
        w("")


def _short_pg(s):
    parts = s.split(" ", 3)
    if len(parts) < 4:
        return "fsync on"
    return "fsync = %s, synchronous_commit = %s, full_page_writes = %s, %s" % (
        parts[0], parts[1], parts[2], " ".join(parts[3].split()[:2]))


def _cross(rows):
    vals = sorted({_f(r.get("cross_node_pct"), 0) for n, rate, runs in rows for r in runs
                   if n > 1 and r.get("cross_node_pct") is not None})
    return (" / ".join(vals) + " %") if vals else "–"


if __name__ == "__main__":
    sys.exit("bench/cluster_bench.py is run by scripts/bench --only cluster")
