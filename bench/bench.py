#!/usr/bin/python3
"""tls_bridge benchmark: our plugin against the reference tls_bridge.so and
against Squid, side by side on loopback.

    client --> ingress (ours | reference | squid) ==TLS, mutual certs==> peer ATS --> origins

One peer ATS, one set of origins (nginx, an asyncio echo/sink/source, redis,
PostgreSQL), three ingresses configured identically except for what bridges
(our plugin, the reference plugin, Squid).  Every measurement runs in rounds,
the ingresses alternating inside each round (ours, reference, squid, ours,
...); every figure is reported as the median of the per-round ratios to the
reference, with their spread, and the absolute medians.

    bench/bench.py            # full run (~20-25 min): `make bench`
    bench/bench.py --quick    # every row, small sizes (~1-2 min): `make bench-quick`
    TB_ATS=/opt/ats-10.2.0 bench/bench.py --quick   # on ATS 10.x: `make bench-quick ATS=...`
    bench/bench.py --ours PATH                      # another build of ours (env BENCH_OURS)

Which Traffic Server every instance runs is the e2e harness's switch, TB_ATS
(tests/e2e/harness.py): unset, Debian's 9.2 and its reference plugin; a
prefix, that install (ATS 10.x) and its own reference tls_bridge.so, with
ours from build/ats<major>/.  On 9.2 the bench writes
bench/results/latest.json, docs/benchmarks.png, docs/benchmarks-slow.png and
the section of docs/benchmarks.md between <!-- bench:begin --> and
<!-- bench:end -->; on 10.x bench/results/latest-ats10.json,
docs/benchmarks-ats10*.png and the section between <!-- bench:ats10:begin -->
and <!-- bench:ats10:end -->, so neither overwrites the other.
Not a test: nothing asserts a timing.  See docs/benchmarks.md.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, HERE)
import harness  # noqa: E402 (puts tests/lib on sys.path)
import fakepeer  # noqa: E402
import load  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import stats  # noqa: E402
from tbtest import proc  # noqa: E402
from tbtest.net import close_rst  # noqa: E402
from tbtest.wait import WaitTimeout, wait_until  # noqa: E402

OURS = harness.DEFAULT_PLUGIN  # --ours / BENCH_OURS replace it
REFERENCE = harness.REFERENCE_PLUGIN
SERVICE = "service.internal"
INGRESSES = ("ours", "reference", "squid")
# "" on Debian's 9.2, "ats10" on 10.x: where results go (report.variant).
VARIANT = report.variant(harness.ATS.major)

# Records for every ATS instance here on top of the harness's (debug is off).
BENCH_RECORDS = {
    # 10,000 tunnels = 20,000 connections at the ingress and at the peer.
    "proxy.config.net.connections_throttle": ("INT", "60000"),
    "proxy.config.net.max_connections_in": ("INT", "60000"),
    # Tunnels opened first wait idle while the rest of 10,000 open.
    "proxy.config.http.transaction_no_activity_timeout_in": ("INT", "300"),
    "proxy.config.http.transaction_no_activity_timeout_out": ("INT", "300"),
    # No access log: Squid runs with `access_log none` too.
    "proxy.config.log.logging_enabled": ("INT", "0"),
}

# The peer admits all of 127.0.0.0/8: Squid connects from 127.0.0.2.
PEER_IP_ALLOW = harness.ip_allow_yaml(in_addrs='[127.0.0.0/8, "::1"]')


def max_tunnels(nofile):
    """The most simultaneous tunnels one Traffic Server can hold with this
    RLIMIT_NOFILE: ATS keeps 192 descriptors for itself (its throttle is
    capped at the limit minus 192), stops accepting at 1/1.1 of the throttle
    (accept headroom), and every tunnel holds two connections at the ingress
    and two at the peer.  5% margin, rounded down to 500."""
    n = (nofile - 192) / 1.1 / 2 * 0.95
    return max(500, int(n) // 500 * 500)


FULL = {
    "rounds": 5,
    "bulk_mib": 512,
    "setup_tunnels": 300,
    "conc": [1000, 10000],
    "conc_rounds": 3,
    "slow_tunnels": 4,
    "slow_seconds": 12.0,
    "slow_cap_mib": 1024,
    "rule_counts": [1, 1000, 10000, 50000],
    "rule_tunnels": 200,
    "rule_rounds": 3,
    "redis_requests": 40000,
    "pgbench_seconds": 8,
    "client_rounds": 3,
    "fds_left_wait_s": 3,
    "fo_rounds": 3,
    "fo_tunnels": 60,
    "fo_stall_tunnels": 10,
}
QUICK = {
    "rounds": 2,
    "bulk_mib": 32,
    "setup_tunnels": 40,
    "conc": [100, 1000],
    "conc_rounds": 1,
    "slow_tunnels": 2,
    "slow_seconds": 3.0,
    "slow_cap_mib": 256,
    "rule_counts": [1, 1000, 10000, 50000],
    "rule_tunnels": 30,
    "rule_rounds": 1,
    "redis_requests": 3000,
    "pgbench_seconds": 2,
    "client_rounds": 1,
    "fds_left_wait_s": 1,
    "fo_rounds": 2,
    "fo_tunnels": 30,
    "fo_stall_tunnels": 5,
}
SECTIONS = ("bulk", "setup", "clients", "rules", "concurrency", "slow", "failover")


def _fmt(v):
    return "-" if v is None else "%.3g" % v


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def raise_nofile(want=200000):
    """Root may raise its own hard limit; every child inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError) as e:
        log("cannot raise RLIMIT_NOFILE to %d (%s); keeping %d" % (want, e, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def cmd_out(argv, timeout=20):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        return r.stdout.strip()
    except Exception as e:
        return "unknown (%s)" % e


# --------------------------------------------------------------------------
# Ingress configurations and slots.


class RuleSet:
    """What an ingress bridges: regexes (in order) and a host that matches
    (the last rule) to probe and measure with."""

    def __init__(self, name, regexes, probe_host):
        self.name = name
        self.regexes = list(regexes)
        self.probe_host = probe_host


def scale_rules(n):
    """n rules: n-1 that do not match (exact names and suffix patterns,
    alternating), then the one that matches svc<n>.example.test."""
    out = []
    for i in range(1, n):
        if i % 2:
            out.append(r"svc%d[.]example[.]test" % i)
        else:
            out.append(r".*[.]zone%d[.]test" % i)
    out.append(r"svc%d[.]example[.]test" % n)
    return RuleSet("rules-%d" % n, out, "svc%d.example.test" % n)


BASE_RULES = RuleSet("base", [r"service[.]internal"], SERVICE)


# --------------------------------------------------------------------------
# Failover cost (ours only; the reference has no failover).  One ingress of
# ours per pool setting, with one rule per case; each CONNECT host picks its
# case.  The live peer is the bench's peer ATS; "dead" is a port where
# nothing listens (connection refused at once); "stall" is a fake peer
# (tests/e2e/fakepeer.py, TLS_STALL) that accepts TCP and never answers the
# TLS handshake, so the first attempt lasts its share of connect_timeout.
FO_CASES = ("single", "dead_cold", "dead_down", "stall_cold", "stall_down")
FO_POOLS = (("on", 2), ("off", 0))
# The whole set-up's budget for the failover rules: with two peers the
# first attempt gets half of it, at least 1 s (docs/configuration.md, Health).
FO_CONNECT_TIMEOUT = "2s"
# Cold rules: the top-level health (warm-ups are judged by it too) needs
# 100 consecutive failures, the most allowed, so the first peer stays up
# for the whole case; down rules need 3 (the default) and are marked down
# before they are measured; down_for is long enough that no trial tunnel
# falls inside a measurement.
FO_COLD_FAILURES = 100
FO_DOWN_FAILURES = 3
FO_DOWN_FOR = "3600s"


def fo_host(case):
    """The CONNECT host whose rule is the case's."""
    return "fo-%s.test" % case.replace("_", "-")


def fo_yaml(pool_size, live, first):
    """The ingress's tls_bridge.yaml: `first` maps each case but single to
    its first (failing) peer, host:port."""
    lines = ["pool: {size: %d}" % pool_size,
             "connect_timeout: %s" % FO_CONNECT_TIMEOUT,
             "health: {failures: %d, down_for: %s}" % (FO_COLD_FAILURES, FO_DOWN_FOR),
             "rules:",
             "  - {name: single, host: '%s', peer: '%s'}" % (fo_host("single").replace(".", "[.]"),
                                                              live)]
    for case in FO_CASES[1:]:
        health = (", health: {failures: %d}" % FO_DOWN_FAILURES) if case.endswith("_down") \
            else ""
        lines.append("  - {name: %s, host: '%s', peers: ['%s', '%s']%s}"
                     % (case, fo_host(case).replace(".", "[.]"), first[case], live, health))
    return "\n".join(lines) + "\n"


def fo_metric(hostport, name):
    """The per-peer metric's short name (docs/configuration.md, Health)."""
    host, port = hostport.rsplit(":", 1)
    host = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in host)
    return "peer.%s_%s.%s" % (host, port, name)


class Slot:
    """One ingress column: ours, reference or squid.  make(ruleset) builds a
    fresh instance (new directory, same port); restart() keeps the config."""

    def __init__(self, bench, kind):
        self.b = bench
        self.kind = kind
        self.port = bench.ports["ing_" + kind]
        self.inst = None
        self.ruleset = None
        self.restarts = 0
        self.events = []

    def make(self, ruleset):
        if self.inst is not None:
            self.inst.stop()
        self.ruleset = ruleset
        b = self.b
        if self.kind == "squid":
            self.inst = servers.Squid(b.ws, b.certs, self.port, b.ports["peer"],
                                      ["^%s$" % r for r in ruleset.regexes],
                                      name="squid-" + ruleset.name)
            return
        path = os.path.join(b.ws.path, "%s-%s.rules" % (self.kind, ruleset.name))
        peer = "%s:%d" % (harness.PEER_HOST, b.ports["peer"])
        with open(path, "w") as f:
            for r in ruleset.regexes:
                f.write("%s %s\n" % (r, peer))
        plugin = b.ours_copy if self.kind == "ours" else REFERENCE
        extra = b.ours_args if self.kind == "ours" else []
        self.inst = harness.make_ingress(
            b.ws, b.certs, self.port, plugin, ["--file", path] + extra, b.ingress_connect_ports(),
            {harness.PEER_HOST: "127.0.0.1"}, name="%s-%s" % (self.kind, ruleset.name),
            debug=False, extra_records=BENCH_RECORDS)

    def start(self):
        self.inst.start()

    def stop(self):
        if self.inst is not None:
            self.inst.stop()

    @property
    def pid(self):
        return self.inst.pid

    def alive(self):
        return self.inst is not None and self.inst.alive()

    def probe(self, timeout=3.0):
        with harness.open_tunnel(self.port, self.ruleset.probe_host, self.b.ports["echo"],
                                 timeout=timeout) as t:
            if t.status // 100 != 2:
                return False
            t.sendall(b"ping\n")
            ok = t.recv_exact(5) == b"ping\n"
            close_rst(t.sock)
            return ok

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        if not harness.wait_for_port(self.port, timeout=timeout, proc_alive=self.alive):
            raise harness.StartupError("%s: not listening on %d\n%s"
                                       % (self.kind, self.port, self.inst.log_tail()))
        if self.kind != "squid" and harness.ATS.hosts_file_late:
            # 10.x: no CONNECT before the hosts file is read (a name looked
            # up earlier stays unresolved: harness.AtsInstall.hosts_file_late).
            self.inst.wait_hosts_file(timeout=max(1.0, deadline - time.monotonic()))
        try:
            wait_until(self.probe, max(0.0, deadline - time.monotonic()), "a bridged echo",
                       retry=(Exception,), stop_if=lambda: not self.alive() and "it exited")
        except WaitTimeout as e:
            raise harness.StartupError("%s: %s\n%s" % (self.kind, e, self.inst.log_tail()))

    def restart(self, why, planned=True):
        self.restarts += 1
        if not planned:
            self.events.append("%s: restarted (%s)" % (time.strftime("%H:%M:%S"), why))
        log("%s: restart (%s)" % (self.kind, why))
        self.stop()
        self.inst.start()
        self.wait_ready()


def restart_all(slots, ruleset=None, why="fresh state"):
    """Stop every slot, start them all at once (with a new ruleset if
    given) and wait until each bridges.  A slot that does not come up is
    left down: its measurements then fail and say so."""
    for s in slots:
        s.stop()
    for s in slots:
        if ruleset is not None:
            s.make(ruleset)
        s.restarts += 1
        s.inst.start()
    for s in slots:
        try:
            s.wait_ready()
        except Exception as e:
            s.events.append("%s: did not start (%s): %s" % (time.strftime("%H:%M:%S"), why,
                                                            str(e).splitlines()[0]))
            log("%s: did not come up: %s" % (s.kind, str(e)[:2000]))


# --------------------------------------------------------------------------
# The benchmark.


class Bench:
    def __init__(self, args):
        self.args = args
        self.ours_args = shlex.split(args.ours_args)
        self.notes = []
        self.cfg = dict(QUICK if args.quick else FULL)
        if args.conc:
            self.cfg["conc"] = [int(x) for x in args.conc.split(",")][:2]
        self.conc_requested = list(self.cfg["conc"])
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        cap = max_tunnels(nofile)
        if self.cfg["conc"][1] > cap:
            self.cfg["conc"] = [min(self.cfg["conc"][0], cap), cap]
            self.notes.append(
                "concurrency: %s tunnels asked for, %s run: the hard RLIMIT_NOFILE here is %d "
                "and cannot be raised (no CAP_SYS_RESOURCE), and a tunnel holds 2 descriptors "
                "at the ingress and 2 at the peer (see max_tunnels in bench/bench.py)"
                % ("{:,}".format(self.conc_requested[1]), "{:,}".format(cap), nofile))
        if args.rounds:
            for k in ("rounds", "conc_rounds", "rule_rounds", "client_rounds", "fo_rounds"):
                self.cfg[k] = args.rounds
        self.metrics = {}  # key -> {"values": {ing: [..]}, "errors": {ing: [..]}, ...}
        self.extra = {}    # per-section raw details (time series, counts)
        self.durations = {}
        self.ws = harness.Workspace(prefix="tb-bench-", keep=args.keep)
        names = ["peer", "nginx_http", "nginx_https", "echo", "sink", "source", "stats",
                 "redis", "pg", "ing_ours", "ing_reference", "ing_squid",
                 "socat_redis_ours", "socat_redis_reference", "socat_redis_squid",
                 "socat_pg_ours", "socat_pg_reference", "socat_pg_squid",
                 "fo_ing_on", "fo_ing_off", "fo_dead_cold", "fo_dead_down"]
        self.ports = dict(zip(names, harness.free_ports(len(names))))
        self.slots = []
        self.socats = {}

    # -- ports
    def service_ports(self):
        p = self.ports
        return [p[k] for k in ("nginx_http", "echo", "sink", "source", "redis", "pg")]

    def ingress_connect_ports(self):
        return [self.ports["peer"]] + self.service_ports()

    # -- recording
    def record(self, key, ing, rnd, value, error=None):
        m = self.metrics.setdefault(key, {"values": {i: [] for i in INGRESSES},
                                          "errors": {i: [] for i in INGRESSES}})
        vals = m["values"][ing]
        while len(vals) <= rnd:
            vals.append(None)
        vals[rnd] = value
        if error:
            m["errors"][ing].append("round %d: %s" % (rnd + 1, error))

    def fail(self, keys, ing, rnd, error):
        for k in keys:
            self.record(k, ing, rnd, None, error)

    def guarded(self, slot, rnd, keys, fn):
        """Run fn() for one ingress in one round.  fn returns {key: value}.
        An exception or a dead ingress marks every key failed for that round
        (with the reason) and the ingress is restarted."""
        if not slot.alive():
            try:
                slot.restart("found dead before a measurement", planned=False)
            except Exception as e:
                self.fail(keys, slot.kind, rnd, "ingress down: %s" % str(e).splitlines()[0])
                return None
        try:
            res = fn()
        except Exception as e:
            err = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            if not slot.alive():
                err = "ingress died (exit %s) during the measurement; %s" % (
                    slot.inst.process.returncode() if hasattr(slot.inst, "process") else "?",
                    err)
            log("%s round %d: %s" % (slot.kind, rnd + 1, err))
            self.fail(keys, slot.kind, rnd, err)
            if not slot.alive():
                try:
                    slot.restart("died during a measurement", planned=False)
                except Exception as e2:
                    log("%s: restart failed: %s" % (slot.kind, str(e2)[:500]))
            return None
        if not slot.alive():
            # Measured, but the ingress died right after: keep the numbers, say so.
            slot.events.append("died right after a measurement in round %d" % (rnd + 1))
            try:
                slot.restart("died right after a measurement", planned=False)
            except Exception:
                pass
        for k, v in res.items():
            self.record(k, slot.kind, rnd, v)
        return res

    # -- set-up
    def start(self):
        a = self.args
        p = self.ports
        log("workspace %s" % self.ws.path)
        # The commit the plugin was built from (taken now: HEAD may move
        # during a 15-minute run).
        # With --ours, the checkout that build of ours sits in (if any).
        tree = REPO
        if OURS != harness.DEFAULT_PLUGIN:
            top = subprocess.run(["git", "-C", os.path.dirname(OURS), "rev-parse",
                                  "--show-toplevel"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            tree = top.stdout.strip() if top.returncode == 0 else None
        if tree:
            commit = cmd_out(["git", "-C", tree, "rev-parse", "--short", "HEAD"])
            dirty = cmd_out(["git", "-C", tree, "status", "--porcelain", "--", "src"])
            self.git = commit + (" (src/ modified)" if dirty else "")
        else:
            self.git = "unknown (ours from %s)" % OURS
        # A private copy of our plugin: `make build` elsewhere during the run
        # must not change what the ingresses restarted later load.
        self.ours_copy = os.path.join(self.ws.path, "tls_bridge-ours.so")
        shutil.copy2(OURS, self.ours_copy)
        with open(self.ours_copy, "rb") as f:
            self.ours_sha = hashlib.sha256(f.read()).hexdigest()[:16]
        self.certs = harness.Certs(os.path.join(self.ws.path, "certs"))
        # Squid reads the client key as the proxy user.
        servers._chmod_tree(self.certs.dir, 0o755, 0o644)
        bulk = self.cfg["bulk_mib"] << 20
        self.nginx = harness.Nginx(self.ws, self.certs, p["nginx_http"], p["nginx_https"],
                                   {"small.txt": b"ok\n"})
        with open(self.nginx.conf) as f:
            conf = f.read()
        # sendfile: the origin should cost as little CPU as possible.
        conf = conf.replace("default_type application/octet-stream;",
                            "default_type application/octet-stream;\n    sendfile on;")
        with open(self.nginx.conf, "w") as f:
            f.write(conf)
        with open(os.path.join(self.nginx.root, "bulk.bin"), "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(bulk >> 20):
                f.write(block)
        self.nginx.start()
        self.origin = servers.Origin(self.ws, p["echo"], p["sink"], p["source"], p["stats"],
                                     self.cfg["slow_cap_mib"] << 20).start()
        self.redis = servers.Redis(self.ws, p["redis"]).start()
        self.pg = servers.Postgres(self.ws, p["pg"]).start()
        r = subprocess.run(["pgbench", "-i", "-q", "-s", "2", "-h", "127.0.0.1", "-p",
                            str(p["pg"]), "-U", "postgres", "postgres"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120, env=dict(os.environ, PGSSLMODE="disable"))
        if r.returncode != 0:
            raise harness.StartupError("pgbench -i failed:\n" + r.stdout[-2000:])
        peer_hosts = {SERVICE: "127.0.0.1"}
        for case in FO_CASES:
            peer_hosts[fo_host(case)] = "127.0.0.1"
        for n in self.cfg["rule_counts"]:
            peer_hosts["svc%d.example.test" % n] = "127.0.0.1"
        self.peer = harness.make_peer(self.ws, self.certs, p["peer"], self.service_ports(),
                                      peer_hosts, debug=False, extra_records=BENCH_RECORDS)
        # Admit all of 127.0.0.0/8 (Squid connects from 127.0.0.2, see
        # servers.Squid); written over the harness's file before the start.
        with open(os.path.join(self.peer.etc, "ip_allow.yaml"), "w") as f:
            f.write(PEER_IP_ALLOW)
        self.wait_peer()
        time.sleep(0.5)
        self.peer_fds = proc.fd_count(self.peer.pid)
        self.slots = [Slot(self, k) for k in INGRESSES if k in a.ingresses]
        restart_all(self.slots, BASE_RULES, why="start")
        for s in self.slots:
            for svc, tport in (("redis", p["redis"]), ("pg", p["pg"])):
                name = "socat_%s_%s" % (svc, s.kind)
                self.socats[name] = servers.Socat(self.ws, name, p[name], s.port, SERVICE,
                                                  tport).start()

    def stop(self):
        for obj in list(self.socats.values()) + self.slots + [
                getattr(self, n, None) for n in ("peer", "pg", "redis", "origin", "nginx")]:
            if obj is None:
                continue
            try:
                obj.stop()
            except Exception as e:
                log("stopping %r: %r" % (obj, e))
        harness.stop_all()

    def wait_peer(self):
        """Start the peer and wait until it answers a CONNECT (its hosts
        file is loaded a moment after it starts listening)."""
        self.peer.start()
        self.peer.wait_ready(lambda: harness.peer_connect_status(
            self.ports["peer"], self.certs, SERVICE, self.ports["echo"], timeout=3)[0] == 200,
            timeout=60, what="the peer answering 200 to a CONNECT")

    def cleanup(self, s, why):
        """Restart an ingress right after its measurement: whatever it still
        holds (tunnels it failed to end, buffers) goes, so the next
        ingress's turn starts with the peer and the machine clean."""
        try:
            s.restart(why)
        except Exception as e:
            log("%s: restart failed: %s" % (s.kind, str(e)[:1000]))

    def peer_clean(self, s):
        """Make sure the shared peer has let go of the previous measurement's
        connections (it holds two descriptors per tunnel, and its throttle is
        shared by every ingress): wait up to 20 s for its descriptor count to
        come back to what it was after start-up, else restart it (and say so)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            n = proc.fd_count(self.peer.pid)
            if n <= self.peer_fds + 64:
                return
            time.sleep(0.5)
        msg = ("peer still held %d descriptors (%d after start-up) before %s's turn; "
               "restarted the peer" % (n, self.peer_fds, s.kind))
        log(msg)
        self.notes.append(msg)
        self.peer.stop()
        self.wait_peer()
        try:
            s.wait_ready()
        except Exception as e:
            log("%s: not ready after the peer restart: %s" % (s.kind, str(e)[:1000]))

    def ensure_base(self, why="back to the base rules"):
        """All ingresses on the base rules, freshly started: what one section
        left behind (tunnels the reference never ends, buffers) does not
        weigh on the next."""
        restart_all(self.slots, BASE_RULES if any(s.ruleset is not BASE_RULES
                                                  for s in self.slots) else None, why=why)

    # -- sections
    def sec_bulk(self):
        c = self.cfg
        size = c["bulk_mib"] << 20
        gib = size / float(1 << 30)
        p = self.ports
        timeout = max(60.0, c["bulk_mib"] / 10.0)  # 10 MiB/s floor
        keys_dl = ["dl_mibps", "dl_cpu_s_per_gib"]
        keys_ul = ["ul_mibps", "ul_cpu_s_per_gib"]
        for rnd in range(c["rounds"]):
            for s in self.slots:
                def dl():
                    c0 = proc.cpu_seconds(s.pid)
                    el = load.download(s.port, SERVICE, p["nginx_http"], "/bulk.bin", size,
                                       timeout)
                    c1 = proc.cpu_seconds(s.pid)
                    return {"dl_mibps": c["bulk_mib"] / el, "dl_cpu_s_per_gib": (c1 - c0) / gib}
                self.guarded(s, rnd, keys_dl, dl)
            for s in self.slots:
                def ul():
                    c0 = proc.cpu_seconds(s.pid)
                    el = load.upload(s.port, SERVICE, p["sink"], size, timeout)
                    c1 = proc.cpu_seconds(s.pid)
                    return {"ul_mibps": c["bulk_mib"] / el, "ul_cpu_s_per_gib": (c1 - c0) / gib}
                self.guarded(s, rnd, keys_ul, ul)
            log("bulk round %d/%d done" % (rnd + 1, c["rounds"]))

    def _fresh(self, s, host, n, prefix):
        """n sequential fresh tunnels through slot s; {prefix_*: value}."""
        c0 = proc.cpu_seconds(s.pid)
        deadline = time.monotonic() + max(60.0, n * 0.5)
        ready, fb, fails = load.fresh_tunnels(s.port, host, self.ports["echo"], n, 10.0,
                                              deadline)
        c1 = proc.cpu_seconds(s.pid)
        if len(ready) < max(1, n // 2):
            raise load.BenchError("%d of %d tunnels failed; first: %s"
                                  % (len(fails), n, fails[0] if fails else "?"))
        if fails:
            self.notes.append("%s, %s: %d of %d fresh tunnels failed (first: %s)"
                              % (prefix, s.kind, len(fails), n, fails[0]))
        ms = 1000.0
        return {prefix + "_ready_p50_ms": stats.percentile(ready, 50) * ms,
                prefix + "_ready_p99_ms": stats.percentile(ready, 99) * ms,
                prefix + "_fb_p50_ms": stats.percentile(fb, 50) * ms,
                prefix + "_fb_p99_ms": stats.percentile(fb, 99) * ms,
                prefix + "_cpu_ms": (c1 - c0) * ms / len(ready),
                prefix + "_failed": len(fails)}

    def sec_setup(self):
        c = self.cfg
        keys = ["setup_ready_p50_ms", "setup_ready_p99_ms", "setup_fb_p50_ms",
                "setup_fb_p99_ms", "setup_cpu_ms", "setup_failed"]
        for rnd in range(c["rounds"]):
            for s in self.slots:
                self.guarded(s, rnd, keys,
                             lambda: self._fresh(s, SERVICE, c["setup_tunnels"], "setup"))
            log("setup round %d/%d done" % (rnd + 1, c["rounds"]))

    def sec_concurrency(self):
        c = self.cfg
        for idx, n in enumerate(c["conc"]):
            tag = "concS" if idx == 0 else "concL"
            keys = [tag + k for k in ("_ok", "_open_s", "_kib_per_tunnel", "_rss_mib",
                                      "_fds_left")]
            self.extra.setdefault(tag, {"tunnels": n, "rounds": []})
            if idx == 0:
                self.ensure_base("fresh ingresses for the concurrency rounds")
            for rnd in range(c["conc_rounds"]):
                for s in self.slots:
                    self.peer_clean(s)
                    def run():
                        time.sleep(0.5)
                        base = proc.rss_kib(s.pid)
                        peer_fds = proc.fd_count(self.peer.pid)
                        base_fds = proc.fd_count(s.pid)

                        def sample(opened):
                            time.sleep(0.5)
                            return {"rss_kib": proc.rss_kib(s.pid),
                                    "fds": proc.fd_count(s.pid), "opened": opened}
                        r = load.concurrent_tunnels(
                            n, s.port, SERVICE, self.ports["echo"], sample,
                            in_flight=256, timeout=60.0,
                            phase_timeout=max(60.0, n * 0.04))
                        smp = r.pop("sample")
                        if "error" in smp:
                            raise load.BenchError("reading the ingress with all tunnels open: %s"
                                                  % smp["error"])
                        # Descriptors the ingress still holds a few seconds after every
                        # client reset its tunnel (tunnels it failed to end).
                        time.sleep(c["fds_left_wait_s"])
                        r["ingress_fds_left"] = max(0, proc.fd_count(s.pid) - base_fds)
                        r.update({"ingress": s.kind, "round": rnd + 1, "rss_base_kib": base,
                                  "rss_open_kib": smp["rss_kib"], "fds_open": smp["fds"],
                                  "peer_fds_before": peer_fds})
                        self.extra[tag]["rounds"].append(r)
                        if r["error_count"]:
                            self.notes.append("%d tunnels, %s, round %d: %d errors, first %s"
                                              % (n, s.kind, rnd + 1, r["error_count"],
                                                 r["errors"][:1]))
                        per = ((smp["rss_kib"] - base) / r["opened"]) if r["opened"] else None
                        return {tag + "_ok": r["ok"], tag + "_open_s": r["open_time_s"],
                                tag + "_kib_per_tunnel": per,
                                tag + "_rss_mib": smp["rss_kib"] / 1024.0,
                                tag + "_fds_left": r["ingress_fds_left"]}
                    self.guarded(s, rnd, keys, run)
                    self.cleanup(s, "after %d tunnels" % n)
                    log("%d tunnels, %s, round %d: %s" % (
                        n, s.kind, rnd + 1,
                        {k: self.metrics[k]["values"][s.kind][rnd] for k in keys}))

    def sec_slow(self):
        c = self.cfg
        k = c["slow_tunnels"]
        keys = ["slow_growth_mib", "slow_offered_mib", "slow_growth_pct", "slow_late_mib",
                "slow_growth_per_tunnel_kib"]
        self.extra["slow"] = {"tunnels": k, "seconds": c["slow_seconds"],
                              "cap_mib": c["slow_cap_mib"], "series": []}
        self.ensure_base("fresh ingresses for the slow readers")
        for rnd in range(c["conc_rounds"]):
            for s in self.slots:
                self.peer_clean(s)
                def run():
                    time.sleep(0.5)
                    base = proc.rss_kib(s.pid)
                    peer_base = proc.rss_kib(self.peer.pid)
                    q0 = self.origin.stats()["source_queued"]
                    socks = load.stalled_readers(s.port, SERVICE, self.ports["source"], k, 10.0)
                    series = []
                    t0 = time.monotonic()
                    capped = False
                    try:
                        while time.monotonic() - t0 < c["slow_seconds"]:
                            time.sleep(0.25)
                            if not s.alive():
                                raise load.BenchError("ingress died with stalled readers")
                            g = (proc.rss_kib(s.pid) - base) / 1024.0
                            off = (self.origin.stats()["source_queued"] - q0) / float(1 << 20)
                            pg = (proc.rss_kib(self.peer.pid) - peer_base) / 1024.0
                            series.append((round(time.monotonic() - t0, 2), round(g, 2),
                                           round(off, 2), round(pg, 2)))
                            if g > c["slow_cap_mib"]:
                                capped = True
                                break
                    finally:
                        for so in socks:
                            close_rst(so)
                    self.extra["slow"]["series"].append({"ingress": s.kind, "round": rnd + 1,
                                                         "capped": capped,
                                                         "t_growth_offered_peer": series})
                    if capped:
                        self.notes.append("slow reader, %s, round %d: ingress grew past %d MiB "
                                          "after %.1f s; stopped there" % (
                                              s.kind, rnd + 1, c["slow_cap_mib"], series[-1][0]))
                    g_end, off_end = series[-1][1], series[-1][2]
                    mid = [x for x in series if x[0] <= series[-1][0] / 2.0]
                    g_mid = mid[-1][1] if mid else 0.0
                    return {"slow_growth_mib": g_end, "slow_offered_mib": off_end,
                            "slow_growth_pct": 100.0 * g_end / off_end if off_end > 0 else None,
                            "slow_late_mib": g_end - g_mid,
                            "slow_growth_per_tunnel_kib": g_end * 1024.0 / k}
                self.guarded(s, rnd, keys, run)
                # The reference's buffers stay allocated: restart after each turn.
                self.cleanup(s, "after the slow readers")
                log("slow reader, %s, round %d: %s" % (
                    s.kind, rnd + 1, {kk: self.metrics[kk]["values"][s.kind][rnd] for kk in keys}))

    def sec_rules(self):
        c = self.cfg
        self.extra["rules"] = {"counts": c["rule_counts"], "tunnels": c["rule_tunnels"]}
        for n in c["rule_counts"]:
            rs = scale_rules(n)
            t0 = time.monotonic()
            restart_all(self.slots, rs, why="%d rules" % n)
            self.extra["rules"]["start_s_%d" % n] = round(time.monotonic() - t0, 2)
            pref = "rules%d" % n
            keys = [pref + k for k in ("_ready_p50_ms", "_ready_p99_ms", "_fb_p50_ms",
                                       "_fb_p99_ms", "_cpu_ms", "_failed")]
            for rnd in range(c["rule_rounds"]):
                for s in self.slots:
                    self.guarded(s, rnd, keys,
                                 lambda: self._fresh(s, rs.probe_host, c["rule_tunnels"], pref))
            log("%d rules: cpu ms/tunnel %s" % (n, {s.kind: self.metrics[pref + "_cpu_ms"]
                                                     ["values"][s.kind] for s in self.slots}))
        # Derived: setup CPU at the largest count over setup CPU at 1 rule, per round.
        lo, hi = c["rule_counts"][0], c["rule_counts"][-1]
        for ing in INGRESSES:
            a = self.metrics.get("rules%d_cpu_ms" % hi, {}).get("values", {}).get(ing, [])
            b = self.metrics.get("rules%d_cpu_ms" % lo, {}).get("values", {}).get(ing, [])
            for rnd, (x, y) in enumerate(zip(a, b)):
                self.record("rules_cpu_growth", ing, rnd,
                            (x / y) if (x is not None and y) else None)

    def sec_failover(self):
        """Set-up latency through a rule whose first peer fails, against the
        same rule with the live peer alone, ours only, pool on and off.  Per
        round and pool setting a fresh ingress (fresh health); the down
        cases' first peers are marked down first (a few tunnels); then the
        cases' tunnels, one at a time, the cases taking turns."""
        c = self.cfg
        if "ours" not in [s.kind for s in self.slots]:
            self.notes.append("failover: skipped (ours is not among the ingresses)")
            return
        p = self.ports
        stalls = {case: fakepeer.FakePeer(self.certs, mode=fakepeer.TLS_STALL, hold_timeout=30.0,
                                          name="stall-" + case)
                  for case in ("stall_cold", "stall_down")}
        live = "%s:%d" % (harness.PEER_HOST, p["peer"])
        first = {"dead_cold": "127.0.0.1:%d" % p["fo_dead_cold"],
                 "dead_down": "127.0.0.1:%d" % p["fo_dead_down"],
                 "stall_cold": "127.0.0.1:%d" % stalls["stall_cold"].port,
                 "stall_down": "127.0.0.1:%d" % stalls["stall_down"].port}
        ports = [p["fo_dead_cold"], p["fo_dead_down"]] + [f.port for f in stalls.values()]
        self.extra["failover"] = {
            "tunnels": c["fo_tunnels"], "stall_tunnels": c["fo_stall_tunnels"],
            "connect_timeout": FO_CONNECT_TIMEOUT, "cold_failures": FO_COLD_FAILURES,
            "down_failures": FO_DOWN_FAILURES, "down_for": FO_DOWN_FOR,
            "pools": dict(FO_POOLS), "cases": []}
        inst = None
        try:
            for rnd in range(c["fo_rounds"]):
                for pool, size in FO_POOLS:
                    inst = self._fo_ingress(pool, size, rnd, live, first, ports)
                    try:
                        self._fo_round(inst, pool, rnd, first)
                    finally:
                        inst.stop()
                        inst = None
                log("failover round %d/%d: ready p50 ms %s" % (rnd + 1, c["fo_rounds"], {
                    "%s/%s" % (pool, case): _fmt(self.metrics.get(
                        "fo_%s_%s_ready_p50_ms" % (pool, case), {}).get("values", {})
                        .get("ours", [None] * (rnd + 1))[rnd])
                    for pool, _ in FO_POOLS for case in FO_CASES}))
        finally:
            if inst is not None:
                inst.stop()
            for f in stalls.values():
                f.stop()

    def _fo_ingress(self, pool, size, rnd, live, first, ports):
        port = self.ports["fo_ing_" + pool]
        inst = harness.make_ingress(
            self.ws, self.certs, port, self.ours_copy, ["--config", "tls_bridge.yaml"],
            self.ingress_connect_ports() + ports, {harness.PEER_HOST: "127.0.0.1"},
            name="fo-pool-%s-r%d" % (pool, rnd + 1), debug=False, extra_records=BENCH_RECORDS,
            extra_files={"etc/tls_bridge.yaml": fo_yaml(size, live, first)},
            extra_plugin_lines=["stats_over_http.so"])
        inst.start()

        def probe():
            with harness.open_tunnel(port, fo_host("single"), self.ports["echo"],
                                     timeout=3.0) as t:
                if t.status // 100 != 2:
                    return False
                t.sendall(b"ping\n")
                ok = t.recv_exact(5) == b"ping\n"
                close_rst(t.sock)
                return ok
        # Listening and (10.x) its hosts file read before the first CONNECT:
        # one earlier would fail for want of the peer's name and count
        # against the live peer's health.
        inst.wait_ready(probe, timeout=60, what="a bridged echo through the single-peer rule")
        # Warm connections made (pool on); the same pause with the pool off.
        time.sleep(1.0)
        return inst

    def _fo_sync(self, inst, first, expect):
        """One tunnel through the dead_cold rule, then the plugin's metrics
        once its dead peer's attempts reach `expect` + 1: Traffic Server
        publishes plugin metrics every few seconds, and this reading has
        everything before that tunnel in it.  Returns (reading, attempts)."""
        att = fo_metric(first["dead_cold"], "attempts")
        load.fresh_tunnels(inst.port, fo_host("dead_cold"), self.ports["echo"], 1, 10.0,
                           time.monotonic() + 30)
        m = inst.wait_metrics({att: expect + 1}, timeout=15.0)
        if m.get(att, 0) < expect + 1:
            raise load.BenchError("failover: the plugin's metrics did not show the sync tunnel "
                                  "within 15 s (%s = %s, expected %d)"
                                  % (att, m.get(att), expect + 1))
        return m, m[att]

    def _fo_round(self, inst, pool, rnd, first):
        c = self.cfg
        port = inst.port
        echo = self.ports["echo"]
        # The down cases' first peers: FO_DOWN_FAILURES tunnels each, which
        # marks them down (their state is read below and reported).
        for case in ("dead_down", "stall_down"):
            load.fresh_tunnels(port, fo_host(case), echo, FO_DOWN_FAILURES, 10.0,
                               time.monotonic() + 60)
        m0, base = self._fo_sync(inst, first, 0)
        # The cases take turns tunnel by tunnel (single, dead_cold,
        # dead_down, single, ...), then the stall cases likewise: with the
        # pool on, whether a tunnel finds a warm connection on its thread
        # depends on how fast the pool refills, and blocks of one case after
        # another measured that drift rather than the case.
        counts = {case: c["fo_stall_tunnels"] if case.startswith("stall") else c["fo_tunnels"]
                  for case in FO_CASES}
        got = {case: ([], [], []) for case in FO_CASES}
        deadline = time.monotonic() + max(120.0, sum(counts.values()) * 3.0)
        for group in ([k for k in FO_CASES if not k.startswith("stall")],
                      [k for k in FO_CASES if k.startswith("stall")]):
            for _ in range(max(counts[k] for k in group)):
                for case in group:
                    r, f, e = load.fresh_tunnels(port, fo_host(case), echo, 1, 10.0, deadline)
                    got[case][0].extend(r)
                    got[case][1].extend(f)
                    got[case][2].extend(e)
        for case in FO_CASES:
            pref = "fo_%s_%s" % (pool, case)
            keys = [pref + k for k in ("_ready_p50_ms", "_ready_p99_ms", "_fb_p50_ms",
                                       "_failed")]
            n = counts[case]
            ready, fb, fails = got[case]
            if len(ready) < max(1, n // 2):
                err = "%d of %d tunnels failed; first: %s" % (len(fails), n,
                                                              fails[0] if fails else "?")
                log("failover %s, pool %s, round %d: %s" % (case, pool, rnd + 1, err))
                self.fail(keys, "ours", rnd, err)
                continue
            if fails:
                self.notes.append("failover %s, pool %s, round %d: %d of %d tunnels failed "
                                  "(first: %s)" % (case, pool, rnd + 1, len(fails), n, fails[0]))
            ms = 1000.0
            vals = {pref + "_ready_p50_ms": stats.percentile(ready, 50) * ms,
                    pref + "_ready_p99_ms": stats.percentile(ready, 99) * ms,
                    pref + "_fb_p50_ms": stats.percentile(fb, 50) * ms,
                    pref + "_failed": len(fails)}
            for k, v in vals.items():
                self.record(k, "ours", rnd, v)
            self.extra["failover"]["cases"].append({
                "pool": pool, "case": case, "round": rnd + 1, "tunnels": n,
                "ok": len(ready), "ready_ms": [round(x * ms, 3) for x in ready],
                "first_peer": first.get(case)})
        if not inst.alive():
            raise load.BenchError("the failover ingress (pool %s) died" % pool)
        # How many of the measured tunnels tried each case's first peer, and
        # its state before and after (0 up, 1 down).
        m1, _ = self._fo_sync(inst, first, base + counts["dead_cold"])
        for rec in self.extra["failover"]["cases"]:
            if rec["pool"] != pool or rec["round"] != rnd + 1 or rec["case"] not in first:
                continue
            att = fo_metric(first[rec["case"]], "attempts")
            st = fo_metric(first[rec["case"]], "state")
            rec["first_peer_attempts"] = m1.get(att, 0) - m0.get(att, 0) - (
                1 if rec["case"] == "dead_cold" else 0)
            rec["first_peer_state_before"] = m0.get(st)
            rec["first_peer_state_after"] = m1.get(st)
            rec["first_peer_failures"] = {
                k: m1.get(fo_metric(first[rec["case"]], k), 0) -
                m0.get(fo_metric(first[rec["case"]], k), 0)
                for k in ("failures.unreachable", "failures.timeout", "failures.closed",
                          "failures.other")}

    def sec_clients(self):
        c = self.cfg
        env = dict(os.environ, PGSSLMODE="disable")
        keys_r = ["redis_set_rps", "redis_get_rps"]
        keys_p = ["pgbench_tps"]
        for rnd in range(c["client_rounds"]):
            for s in self.slots:
                def redis():
                    port = self.ports["socat_redis_" + s.kind]
                    r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
                                        "-c", "20", "-n", str(c["redis_requests"]),
                                        "-t", "set,get", "--csv"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, timeout=max(60, c["redis_requests"] / 200))
                    out = {}
                    for line in r.stdout.splitlines():
                        parts = [x.strip('"') for x in line.split(",")]
                        if len(parts) >= 2 and parts[0] in ("SET", "GET"):
                            out["redis_%s_rps" % parts[0].lower()] = float(parts[1])
                    if r.returncode != 0 or len(out) != 2:
                        raise load.BenchError("redis-benchmark exit %d: %s"
                                              % (r.returncode, r.stdout[-300:]))
                    return out
                self.guarded(s, rnd, keys_r, redis)
            for s in self.slots:
                def pgbench():
                    port = self.ports["socat_pg_" + s.kind]
                    r = subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(port),
                                        "-U", "postgres", "-c", "8", "-j", "2", "-S",
                                        "-M", "prepared", "-n",
                                        "-T", str(c["pgbench_seconds"]), "postgres"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, env=env, timeout=c["pgbench_seconds"] + 60)
                    tps = None
                    for line in r.stdout.splitlines():
                        if line.startswith("tps = ") and "without initial" in line:
                            tps = float(line.split()[2])
                    if r.returncode != 0 or tps is None:
                        raise load.BenchError("pgbench exit %d: %s"
                                              % (r.returncode, r.stdout[-300:]))
                    return {"pgbench_tps": tps}
                self.guarded(s, rnd, keys_p, pgbench)
            log("clients round %d/%d: redis set %s, pgbench %s" % (
                rnd + 1, c["client_rounds"],
                {s.kind: self.metrics["redis_set_rps"]["values"][s.kind][rnd] for s in self.slots},
                {s.kind: self.metrics["pgbench_tps"]["values"][s.kind][rnd] for s in self.slots}))

    # -- meta
    def meta(self, started, command):
        try:
            with open("/proc/cpuinfo") as f:
                model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")),
                             "unknown")
        except OSError:
            model = "unknown"
        mem = "unknown"
        with open("/proc/meminfo") as f:
            for l in f:
                if l.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(l.split()[1]) / 1048576.0)
        ats = cmd_out([harness.ATS.traffic_server, "-V"]).splitlines()
        ats_v = next((l for l in ats if "Apache Traffic Server" in l), ats[0] if ats else "?")
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command,
            "mode": "quick" if self.args.quick else "full",
            "config": self.cfg,
            "conc_requested": self.conc_requested,
            "rlimit_nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
            "machine": {"nproc": os.cpu_count(), "cpu": model, "memory": mem,
                        "kernel": platform.release()},
            "versions": {"ats": ats_v.strip(), "squid": servers.squid_version(),
                         "redis": cmd_out(["redis-server", "--version"]),
                         "postgres": cmd_out([os.path.join(servers.pg_bindir(), "postgres"),
                                              "--version"]),
                         "python": platform.python_version()},
            "plugins": {"ours": OURS, "reference": REFERENCE},
            "ats_install": str(harness.ATS),
            "ats_major": harness.ATS.major,
            "variant": VARIANT,
            "ours_args": self.ours_args,
            "ours_sha256": getattr(self, "ours_sha", None),
            "git": getattr(self, "git", "unknown"),
            "elapsed_s": round(time.monotonic() - started, 1),
            "section_s": self.durations,
            "events": {s.kind: s.events for s in self.slots},
            "notes": self.notes,
        }


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main():
    global OURS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few rounds (~1-2 min)")
    ap.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    ap.add_argument("--conc", default="",
                    help="override the two concurrency counts, e.g. 1000,10000")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="comma-separated subset of: %s" % ", ".join(SECTIONS))
    ap.add_argument("--ingresses", default=",".join(INGRESSES),
                    help="comma-separated subset of: ours, reference, squid")
    ap.add_argument("--ours-args", default=os.environ.get("BENCH_OURS_ARGS", ""),
                    help="extra plugin.config arguments for our plugin only (e.g. '--pool 4'); "
                         "default: none, so both plugins get the same arguments "
                         "(env BENCH_OURS_ARGS)")
    ap.add_argument("--ours", default=os.environ.get("BENCH_OURS") or OURS,
                    help="our plugin's .so (env BENCH_OURS; default %s, the build for "
                         "the selected ATS, %s)" % (OURS, harness.ATS))
    ap.add_argument("--json", default=os.path.join(HERE, "results",
                                                   report.json_name(VARIANT)),
                    help="where the results go (default: bench/results/%s on this ATS)"
                         % report.json_name(VARIANT))
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "benchmarks.md"),
                    help="markdown file whose bench section (the one of this ATS) is "
                         "replaced ('' = none)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    OURS = os.path.abspath(args.ours)
    args.ingresses = [x for x in args.ingresses.split(",") if x]
    sections = [x for x in args.sections.split(",") if x]
    for x in sections:
        if x not in SECTIONS:
            ap.error("unknown section %r" % x)
    for p in (OURS, REFERENCE):
        if not os.path.isfile(p):
            print("bench: %s not found (make build; install trafficserver-experimental-plugins)"
                  % p, file=sys.stderr)
            return 2
    command = os.environ.get("BENCH_COMMAND") or " ".join(
        ["bench/bench.py"] + [shlex.quote(a) for a in sys.argv[1:]])
    signal.signal(signal.SIGTERM, _raise_interrupt)
    lim = raise_nofile()
    log("RLIMIT_NOFILE %s" % (lim,))
    started = time.monotonic()
    b = Bench(args)
    rc = 0
    try:
        t = time.monotonic()
        b.start()
        b.durations["start"] = round(time.monotonic() - t, 1)
        log("set-up done in %.1f s" % b.durations["start"])
        # Order: memory-hungry and restart-heavy sections last.
        for name in SECTIONS:
            if name not in sections:
                continue
            t = time.monotonic()
            log("== %s" % name)
            try:
                if name in ("bulk", "setup", "clients"):
                    b.ensure_base("fresh ingresses for the %s section" % name)
                getattr(b, "sec_" + name)()
            except KeyboardInterrupt:
                raise
            except Exception:
                tb = traceback.format_exc()
                log("section %s failed:\n%s" % (name, tb))
                b.notes.append("section %s aborted: %s" % (name, tb.strip().splitlines()[-1]))
                rc = 1
            b.durations[name] = round(time.monotonic() - t, 1)
            log("== %s done in %.1f s" % (name, b.durations[name]))
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    except Exception:
        log("set-up failed:\n%s" % traceback.format_exc())
        b.ws.mark_failed()
        rc = 2
    finally:
        b.stop()
    if rc in (0, 1) and b.metrics:
        meta = b.meta(started, command)
        data = {"meta": meta, "metrics": b.metrics, "extra": b.extra}
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        log("wrote %s" % args.json)
        if args.doc:
            report.write(data, args.doc)
            log("wrote %s" % args.doc)
        print(report.summary_text(data), flush=True)
    log("total %.1f s" % (time.monotonic() - started))
    return rc


if __name__ == "__main__":
    sys.exit(main())
