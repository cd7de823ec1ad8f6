#!/usr/bin/python3
"""Soak test of tls_bridge (`make soak`): many tunnels through real Traffic
Server instances, then check that the ingress gave back what it took.

    client (this script, asyncio) --CONNECT--> ingress ATS + tls_bridge.so
        ==TLS, mutual certs==> peer ATS --> origins (tests/soak/origin.py)

What it does:

1. Starts the origins (echo; bulk source/sink over a seeded 8 MiB block), a
   peer ATS and an ingress ATS with the plugin (a private copy of it, so a
   rebuild during the run changes nothing) and stats_over_http, with
   tests/e2e/harness.py.  Debug output is off; each ATS writes an access
   log (log/access.log: client address and port, bytes each way) and the
   ingress the plugin's tls_bridge.log, kept with everything else when the
   soak fails.
2. Warm-up: --warmup tunnels of the same mix at the same concurrency, so
   ATS's free lists and buffers reach their working size.  Then the ingress
   is drained (plugin.tls_bridge.tunnels.active is 0) and its descriptor
   count and RSS are the baseline.
3. The run: --tunnels tunnels, at most --concurrency open at once, split
   into --checkpoints parts (4; 2 below 20,000 tunnels); after each part the
   ingress is drained and measured again.  The mix (--mix, percentages):
     echo   1-4 exchanges of 1-4096 random bytes with the echo server, each
            checked byte for byte, with pauses of up to --hold-max seconds
            (so thousands of tunnels are open at once, mostly idle); then
            closed by a reset, by a close (FIN) or by a half-close and a
            wait for the tunnel to end (at most --close-wait s);
     abort  set-ups the client gives up: reset right after the CONNECT,
            close (FIN) right after it, a reset in the middle of the request
            line, a reset 0-20 ms after the CONNECT (before reading the
            answer), a FIN then a reset 0-20 ms later;
     bulk   --bulk-min..--bulk-max bytes (log-uniform) down from the source
            (then the service's FIN must arrive), up to the sink (which
            compares every byte and answers OK/BAD), or both ways at once
            through the echo server.  Every byte is compared with what was
            sent.
4. Verdict (exit status 1 if any fails):
     - every tunnel ran, no unexpected failure (errors, non-2xx answers,
       timeouts; --max-failures, default 0) and no transfer that was not
       byte-exact (wrong, missing or extra bytes: always fatal);
     - both ATS instances still running; tunnels.active back to 0;
     - ingress descriptors after the run at most baseline + --fd-tolerance
       (default 32: a leaked tunnel holds 2, so 16 leaked tunnels fail it);
     - ingress RSS after the run at most baseline + --rss-tolerance-mib
       (default 64 MiB: 0.65 KiB per tunnel over 100,000 tunnels), and at
       most --rss-late-tolerance-mib (default 16 MiB: 0.22 KiB per tunnel
       over the last 75,000) above its value at the first checkpoint (runs
       of 20,000 tunnels or more; shorter ones are still filling ATS's free
       lists after their first part).  ATS
       keeps freed memory in its free lists, so growth up to the busiest
       moment stays (the stock peer grows the same way); a leak keeps
       growing with the count, checkpoint after checkpoint;
     - no line of a crash or an abort (FATAL, EMERGENCY, ALERT, signal,
       assert) in either instance's logs after the warm-up.
   A JSON summary goes to --json (default build/soak.json): figures per
   kind, per part and per checkpoint, the plugin's metrics over the run,
   close reasons from tls_bridge.log, and each failed tunnel (up to 50) with
   its plan and client port and, for the first 10, its lines in
   tls_bridge.log and in both access logs.  The plan of tunnel i depends
   only on --seed and i, so two runs do the same work and their byte
   counters compare.  100,000 tunnels take about 8 minutes on 2 cores.

`make soak` builds the plugin and runs this with build/tls_bridge.so;
`make soak SOAK_TUNNELS=2000` is a quick run, SOAK_CONCURRENCY sets the
concurrency and SOAK_ARGS passes any other option (--help lists them).
Run directly, the defaults also come from the environment: SOAK_TUNNELS,
SOAK_CONCURRENCY, SOAK_WARMUP, SOAK_PLUGIN_ARGS, TB_PLUGIN (the plugin .so);
TB_E2E_KEEP=1 keeps the temp dir (it is kept anyway when the soak fails).
"""

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, HERE)
import harness  # noqa: E402 (puts tests/lib on sys.path)
import origin as origin_mod  # noqa: E402
from tbtest import aio_origin, metrics, proc  # noqa: E402
from tbtest.net import close_rst as _rst  # noqa: E402
from tbtest.wait import WaitTimeout, wait_steady, wait_until  # noqa: E402

PYTHON = "/usr/bin/python3"
LOOP = "127.0.0.1"
SERVICE = "service.internal"
KINDS = ("echo", "abort", "bulk_down", "bulk_up", "bulk_echo")
ABORTS = ("rst-after-connect", "fin-after-connect", "rst-mid-request", "rst-0-20ms-after",
          "fin-then-rst-0-20ms")
ECHO_CLOSES = ("rst", "fin", "halfclose")
ATS_RECORDS = {
    # Room for the access logs of 100,000 tunnels (about 30 MB per instance).
    "proxy.config.log.max_space_mb_for_logs": ("INT", "1000"),
    "proxy.config.log.max_space_mb_headroom": ("INT", "50"),
    # Room for a few thousand tunnels (2 connections each at each ATS).
    "proxy.config.net.connections_throttle": ("INT", "19000"),
}
# One access log line per transaction, with the client's port and the bytes
# each way (for a CONNECT tunnel cqcl/pscl count the tunnel's bytes, the
# 2xx header included in pscl): a failure's client port finds its line on
# the ingress, its byte counts the peer's line, so the log shows which hop
# stopped moving bytes.
ACCESS_LOG = """\
logging:
  formats:
    - name: soak
      format: '%<cqtq> %<ttms> %<chi>:%<chp> %<cqhm> %<cquc> %<crc>/%<pssc> %<sssc> up=%<cqcl> down=%<pscl>'
  logs:
    - filename: access
      format: soak
      mode: ascii
"""


def log(msg):
    print("[soak %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def env_default(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def cpu_seconds(pid):
    try:
        return proc.cpu_seconds(pid)
    except OSError:
        return None


def pct(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(math.ceil(q / 100.0 * len(s))) - 1)]


class Failure(Exception):
    """A tunnel that did not do what it should.  category: 'mismatch'
    (wrong bytes), 'short' (bytes missing: EOF or reset early), 'extra'
    (more bytes than sent), 'failure' (anything else unexpected)."""

    def __init__(self, category, msg):
        super().__init__(msg)
        self.category = category


class Ctx:
    __slots__ = ("stage", "t0", "port")

    def __init__(self):
        self.stage = "start"
        self.t0 = time.monotonic()
        self.port = None  # the client's port: client=127.0.0.1:PORT in tls_bridge.log


class Soak:
    def __init__(self, args):
        self.a = args
        self.block = origin_mod.block(args.seed)
        self.loop = None
        w = args.mix
        self.mix = [("echo", w["echo"]), ("abort", w["abort"]), ("bulk", w["bulk"])]
        self.mix_total = float(sum(v for _, v in self.mix))
        self.ws = None
        self.log_marks = {}  # log sizes after the warm-up: later lines are the run's
        self.fatal = []
        self.notes = []
        self.reset_counters()
        self.totals = {k: self._kind_counters() for k in KINDS}
        self.failure_examples = []
        self.setup_s = []
        self.halfclose_s = []
        self.closes = {}
        self.aborts = {}

    # ------------------------------------------------------------------ set-up
    def start(self):
        a = self.a
        self.ws = harness.Workspace(prefix="tb-soak-")
        log("workspace %s" % self.ws.path)
        self.plugin = os.path.join(self.ws.path, "tls_bridge.so")
        shutil.copy2(a.plugin, self.plugin)
        with open(self.plugin, "rb") as f:
            self.plugin_sha = hashlib.sha256(f.read()).hexdigest()[:16]
        self.git = self._git()
        p = dict(zip(("ingress", "peer", "echo", "bulk", "stats"), harness.free_ports(5)))
        self.ports = p
        self.certs = harness.Certs(os.path.join(self.ws.path, "certs"))
        odir = self.ws.mkdir("origin")
        self.origin = harness.ManagedProcess(
            "origin", [PYTHON, os.path.join(HERE, "origin.py"), "--echo", str(p["echo"]),
                       "--bulk", str(p["bulk"]), "--stats", str(p["stats"]),
                       "--seed", str(a.seed)], odir, os.path.join(odir, "origin.out"))
        self.origin.start()
        for port in (p["echo"], p["bulk"], p["stats"]):
            if not harness.wait_for_port(port, timeout=20, proc_alive=self.origin.alive):
                raise harness.StartupError("origin did not listen on %d:\n%s" % (
                    port, harness.tail_file(self.origin.stdout_path)))
        services = [p["echo"], p["bulk"]]
        self.peer = harness.make_peer(self.ws, self.certs, p["peer"], services,
                                      {SERVICE: LOOP}, debug=False, extra_records=ATS_RECORDS)
        with open(os.path.join(self.peer.etc, "logging.yaml"), "w") as f:
            f.write(ACCESS_LOG)
        self.peer.start()
        self.peer.wait_ready(lambda: harness.peer_connect_status(p["peer"], self.certs, SERVICE,
                                                                 p["echo"], timeout=3)[0] == 200,
                             timeout=60.0, what="the peer answering 200 to a CONNECT")
        rules = [r"service[.]internal", "%s:%d" % (harness.PEER_HOST, p["peer"])]
        self.ingress = harness.make_ingress(
            self.ws, self.certs, p["ingress"], self.plugin, a.plugin_args + rules,
            [p["peer"]] + services, {harness.PEER_HOST: LOOP}, debug=False,
            extra_records=ATS_RECORDS, extra_files={"etc/logging.yaml": ACCESS_LOG},
            extra_plugin_lines=["stats_over_http.so"])
        self.ingress.start()
        self.ingress.wait_ready(self._probe, timeout=60.0, what="a bridged echo")
        log("ingress pid %d on %d, peer pid %d on %d, origin pid %d; plugin %s (sha256 %s)"
            % (self.ingress.pid, p["ingress"], self.peer.pid, p["peer"], self.origin.pid,
               a.plugin, self.plugin_sha))

    def _git(self):
        try:
            c = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               timeout=10).stdout.strip()
            d = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               timeout=10).stdout.strip()
            return c + (" (src/ modified)" if d else "")
        except Exception:
            return "unknown"

    def _probe(self):
        with harness.open_tunnel(self.ports["ingress"], SERVICE, self.ports["echo"],
                                 timeout=3) as t:
            if t.status != 200:
                return False
            t.sendall(b"ping\n")
            return t.recv_exact(5) == b"ping\n"

    def stop(self):
        for obj in (getattr(self, n, None) for n in ("ingress", "peer", "origin")):
            if obj is not None:
                try:
                    obj.stop()
                except Exception as e:
                    log("stopping %s: %r" % (getattr(obj, "name", obj), e))
        harness.stop_all()

    # ------------------------------------------------------------- readings
    def read_stats(self):
        g = metrics.stats_over_http(self.ports["ingress"], timeout=10)
        out = metrics.plugin_metrics(g)
        for k in ("proxy.process.net.connections_currently_open",
                  "proxy.process.http.current_client_connections",
                  "proxy.process.http.current_server_connections"):
            if k in g:
                out["ats:" + k.split(".", 2)[2]] = int(float(g[k]))
        return out

    def origin_stats(self):
        return aio_origin.read_stats(self.ports["stats"], timeout=10)

    def proc_sample(self, inst):
        try:
            return {"fds": proc.fd_count(inst.pid),
                    "rss_kib": proc.rss_kib(inst.pid), "cpu_s": cpu_seconds(inst.pid)}
        except OSError:
            return {"fds": None, "rss_kib": None, "cpu_s": None}

    def min_fds(self, inst, n=5, gap=0.4):
        vals = []
        for i in range(n):
            if i:
                time.sleep(gap)
            vals.append(proc.fd_count(inst.pid))
        return min(vals)

    def drain(self, label, baseline=None):
        """Wait until the ingress has ended every tunnel (tunnels.active 0
        in two readings with tunnels.started unchanged, at least 2 s apart)
        and, given a baseline, until its descriptors are back within the
        tolerance; then measure both instances."""
        a = self.a
        t0 = time.monotonic()
        deadline = t0 + a.drain_timeout
        prev = None
        stats = None
        drained = False
        while True:
            if not self.ingress.alive():
                break
            try:
                stats = self.read_stats()
            except Exception as e:
                stats = {"error": repr(e)}
            if prev is not None and "error" not in stats and "error" not in prev \
                    and stats.get("tunnels.active") == 0 and prev.get("tunnels.active") == 0 \
                    and stats.get("tunnels.started") == prev.get("tunnels.started"):
                drained = True
                break
            if time.monotonic() > deadline:
                break
            prev = stats
            time.sleep(2.0)  # the criterion: two readings at least 2 s apart
        # At rest: the ended tunnels' descriptors are closed (the count has
        # not moved for 1 s); then the readings below.
        try:
            wait_steady(lambda: proc.fd_count(self.ingress.pid), 1.0, min(10.0, a.fd_settle))
        except OSError:
            pass  # the ingress died: the sample says so
        fds = None
        fd_deadline = time.monotonic() + a.fd_settle
        while self.ingress.alive():
            fds = self.min_fds(self.ingress)
            if baseline is None or fds <= baseline + a.fd_tolerance \
                    or time.monotonic() > fd_deadline:
                break
            time.sleep(1.0)
        ing = self.proc_sample(self.ingress)
        if fds is not None:
            ing["fds"] = fds
        peer = self.proc_sample(self.peer)
        if self.peer.alive():
            peer["fds"] = self.min_fds(self.peer)
        try:
            ostats = self.origin_stats()
        except Exception as e:
            ostats = {"error": repr(e)}
        sample = {"label": label, "drained": drained, "drain_s": round(time.monotonic() - t0, 1),
                  "stats": stats, "ingress": ing, "peer": peer, "origin": ostats,
                  "ingress_alive": self.ingress.alive(), "peer_alive": self.peer.alive()}
        log("%s: drained=%s in %.1f s; ingress fds %s rss %s MiB; peer fds %s rss %s MiB; "
            "tunnels.active %s started %s" % (
                label, drained, sample["drain_s"], ing["fds"], _mib(ing["rss_kib"]),
                peer["fds"], _mib(peer["rss_kib"]), stats.get("tunnels.active"),
                stats.get("tunnels.started")))
        return sample

    # --------------------------------------------------------------- tunnels
    @staticmethod
    def _kind_counters():
        return {"count": 0, "ok": 0, "failure": 0, "mismatch": 0, "short": 0, "extra": 0,
                "bytes_up": 0, "bytes_down": 0}

    def reset_counters(self):
        self.phase = {k: self._kind_counters() for k in KINDS}
        self.in_flight = 0
        self.max_in_flight = 0

    def plan(self, i):
        rng = random.Random(self.a.seed * 1000003 + i)
        x = rng.random() * self.mix_total
        for kind, w in self.mix:
            if x < w:
                break
            x -= w
        a = self.a
        if kind == "echo":
            rounds = rng.randint(1, 4)
            msgs = [rng.randbytes(rng.randint(1, 4096)) for _ in range(rounds)]
            pauses = [rng.uniform(0, a.hold_max) for _ in range(rounds)]
            close = rng.choices(ECHO_CLOSES, weights=(4, 3, 3))[0]
            return "echo", {"msgs": msgs, "pauses": pauses, "close": close}
        if kind == "abort":
            return "abort", {"variant": rng.choice(ABORTS), "delay": rng.uniform(0, 0.02),
                             "cut": rng.random()}
        n = int(math.exp(rng.uniform(math.log(a.bulk_min), math.log(a.bulk_max))))
        off = rng.randrange(0, origin_mod.MAX_TRANSFER)
        sub = rng.choice(("bulk_down", "bulk_up", "bulk_echo"))
        return sub, {"n": n, "off": off, "close": rng.choice(("rst", "halfclose"))}

    def request(self, port):
        t = "%s:%d" % (SERVICE, port)
        return ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (t, t)).encode()

    async def _connect(self, s, ctx, port):
        loop = self.loop
        ctx.stage = "connect"
        await loop.sock_connect(s, (LOOP, self.ports["ingress"]))
        ctx.port = s.getsockname()[1]
        ctx.stage = "send CONNECT"
        await loop.sock_sendall(s, self.request(port))
        ctx.stage = "read CONNECT answer"
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = await loop.sock_recv(s, 4096)
            if not d:
                raise Failure("failure", "EOF before the CONNECT answer (%r)" % buf[:200])
            buf += d
            if len(buf) > 32768:
                raise Failure("failure", "CONNECT answer header over 32 KiB")
        head, _, rest = buf.partition(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0]
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise Failure("failure", "bad CONNECT answer %r" % line[:200])
        status = int(parts[1])
        if status // 100 != 2:
            err = re.search(rb"X-TLS-Bridge-Error: ([^\r\n]*)", head)
            raise Failure("failure", "CONNECT answered %r%s" % (
                line[:100].decode("latin-1"),
                (" (" + err.group(1).decode("latin-1") + ")") if err else ""))
        self.setup_s.append(time.monotonic() - ctx.t0)
        return rest

    async def _recv_verify(self, s, ctx, pending, expected, pos, n, buf):
        """Receive exactly n bytes (pending first) and check them against
        expected[pos:pos+n]."""
        got = 0
        if pending:
            k = min(len(pending), n)
            if not expected.startswith(pending[:k], pos):
                raise Failure("mismatch", "byte %d of %d differs" % (
                    origin_mod.first_mismatch(pending[:k], expected[pos:pos + k]), n))
            got = k
            if len(pending) > n:
                raise Failure("extra", "%d bytes more than the %d expected" % (len(pending) - n, n))
        mv = memoryview(buf)
        loop = self.loop
        while got < n:
            try:
                k = await loop.sock_recv_into(s, mv[:min(len(buf), n - got)])
            except ConnectionResetError:
                raise Failure("short", "reset after %d of %d bytes (%s)" % (got, n, ctx.stage))
            if k == 0:
                raise Failure("short", "EOF after %d of %d bytes (%s)" % (got, n, ctx.stage))
            if not expected.startswith(mv[:k], pos + got):
                bad = origin_mod.first_mismatch(
                    mv[:k], memoryview(expected)[pos + got:pos + got + k], got)
                raise Failure("mismatch", "byte %d of %d differs (%s)" % (bad, n, ctx.stage))
            got += k
        return got

    async def _expect_end(self, s, ctx, timeout, what, allow_reset):
        """Wait until the ingress ends the connection: EOF (or a reset when
        allow_reset); any byte is 'extra'.  Returns the seconds waited."""
        t0 = time.monotonic()
        ctx.stage = what
        try:
            d = await asyncio.wait_for(self.loop.sock_recv(s, 65536), timeout)
        except asyncio.TimeoutError:
            raise Failure("failure", "%s: connection still open after %.0f s" % (what, timeout))
        except ConnectionResetError:
            if not allow_reset:
                raise Failure("failure", "%s: reset instead of EOF" % what)
            return time.monotonic() - t0
        if d:
            raise Failure("extra", "%s: %d unexpected bytes" % (what, len(d)))
        return time.monotonic() - t0

    async def _service_fin(self, s, ctx, what):
        """The service closes after a bulk transfer: its FIN (an EOF, not a
        reset) must reach the client within --close-wait; then close."""
        await self._expect_end(s, ctx, self.a.close_wait, what, False)
        self.closes["service-fin"] = self.closes.get("service-fin", 0) + 1
        s.close()

    async def _close(self, s, ctx, how):
        self.closes[how] = self.closes.get(how, 0) + 1
        if how == "rst":
            _rst(s)
        elif how == "fin":
            s.close()
        else:  # halfclose: FIN, then the tunnel must end soon
            ctx.stage = "half-close"
            s.shutdown(socket.SHUT_WR)
            w = await self._expect_end(s, ctx, self.a.close_wait,
                                       "end of tunnel after the client's FIN", True)
            self.halfclose_s.append(w)
            s.close()

    async def t_echo(self, s, ctx, p, c):
        loop = self.loop
        pending = await self._connect(s, ctx, self.ports["echo"])
        for r, (msg, pause) in enumerate(zip(p["msgs"], p["pauses"])):
            ctx.stage = "echo round %d send" % (r + 1)
            await loop.sock_sendall(s, msg)
            c["bytes_up"] += len(msg)
            ctx.stage = "echo round %d receive" % (r + 1)
            n = await self._recv_verify(s, ctx, pending, msg, 0, len(msg), bytearray(4096))
            pending = b""
            c["bytes_down"] += n
            ctx.stage = "echo round %d pause" % (r + 1)
            await asyncio.sleep(pause)
        await self._close(s, ctx, p["close"])

    async def t_abort(self, s, ctx, p, c):
        loop = self.loop
        v = p["variant"]
        self.aborts[v] = self.aborts.get(v, 0) + 1
        req = self.request(self.ports["echo"])
        ctx.stage = "connect"
        await loop.sock_connect(s, (LOOP, self.ports["ingress"]))
        ctx.stage = "send CONNECT"
        if v == "rst-mid-request":
            await loop.sock_sendall(s, req[:1 + int(p["cut"] * (len(req) - 2))])
            _rst(s)
            return
        await loop.sock_sendall(s, req)
        if v == "rst-after-connect":
            _rst(s)
        elif v == "fin-after-connect":
            s.close()
        elif v == "rst-0-20ms-after":
            await asyncio.sleep(p["delay"])
            _rst(s)
        else:  # fin-then-rst-0-20ms
            s.shutdown(socket.SHUT_WR)
            await asyncio.sleep(p["delay"])
            _rst(s)

    async def t_bulk_down(self, s, ctx, p, c):
        n, off = p["n"], p["off"]
        pending = await self._connect(s, ctx, self.ports["bulk"])
        ctx.stage = "send SOURCE"
        await self.loop.sock_sendall(s, b"SOURCE %d %d\n" % (n, off))
        ctx.stage = "download"
        got = await self._recv_verify(s, ctx, pending, self.block, off, n, bytearray(256 << 10))
        c["bytes_down"] += got
        # The source closes after the last byte: its FIN must reach us.
        await self._service_fin(s, ctx, "the service's FIN after a download")

    async def t_bulk_up(self, s, ctx, p, c):
        n, off = p["n"], p["off"]
        loop = self.loop
        pending = await self._connect(s, ctx, self.ports["bulk"])
        if pending:
            raise Failure("extra", "%d bytes before the upload" % len(pending))
        ctx.stage = "upload"
        await loop.sock_sendall(s, b"SINK %d %d\n" % (n, off))
        await loop.sock_sendall(s, memoryview(self.block)[off:off + n])
        c["bytes_up"] += n
        ctx.stage = "read the sink's answer"
        reply = b""
        while not reply.endswith(b"\n"):
            try:
                d = await loop.sock_recv(s, 256)
            except ConnectionResetError:
                d = b""
            if not d:
                raise Failure("failure", "no answer from the sink after the upload (%r)" % reply)
            reply += d
        if reply != b"OK %d\n" % n:
            cat = "mismatch" if reply.startswith(b"BAD") else "failure"
            raise Failure(cat, "sink answered %r to %d bytes at offset %d" % (reply, n, off))
        await self._service_fin(s, ctx, "the service's FIN after an upload")

    async def t_bulk_echo(self, s, ctx, p, c):
        n, off = p["n"], p["off"]
        loop = self.loop
        pending = await self._connect(s, ctx, self.ports["echo"])
        ctx.stage = "bulk echo"
        send = asyncio.ensure_future(loop.sock_sendall(s, memoryview(self.block)[off:off + n]))
        try:
            got = await self._recv_verify(s, ctx, pending, self.block, off, n,
                                          bytearray(256 << 10))
            await send
        finally:
            if not send.done():
                send.cancel()
                await asyncio.gather(send, return_exceptions=True)
        c["bytes_up"] += n
        c["bytes_down"] += got
        await self._close(s, ctx, p["close"])

    async def one(self, i):
        kind, p = self.plan(i)
        c = self.phase[kind]
        c["count"] += 1
        ctx = Ctx()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        fn = getattr(self, "t_" + kind)
        try:
            await asyncio.wait_for(fn(s, ctx, p, c), self.a.tunnel_timeout)
            c["ok"] += 1
        except Failure as e:
            self._fail(i, kind, p, ctx, e.category, str(e))
        except asyncio.TimeoutError:
            self._fail(i, kind, p, ctx, "failure",
                       "no progress within %.0f s (at: %s)" % (self.a.tunnel_timeout, ctx.stage))
        except (OSError, EOFError) as e:
            self._fail(i, kind, p, ctx, "failure", "%s: %r" % (ctx.stage, e))
        finally:
            if s.fileno() >= 0:
                _rst(s)

    def _fail(self, i, kind, p, ctx, cat, msg):
        self.phase[kind][cat] += 1
        if len(self.failure_examples) < 50:
            desc = {k: v for k, v in p.items() if k not in ("msgs",)}
            if "msgs" in p:
                desc["sizes"] = [len(m) for m in p["msgs"]]
            self.failure_examples.append({
                "tunnel": i, "kind": kind, "category": cat, "error": msg,
                "client": "%s:%s" % (LOOP, ctx.port),
                "after_s": round(time.monotonic() - ctx.t0, 3), "time": time.strftime("%H:%M:%S"),
                "epoch": round(time.time(), 3),
                "plan": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in desc.items()
                         if not isinstance(v, list) or k == "sizes"}})
        if cat != "failure" or len(self.failure_examples) <= 10:
            log("tunnel %d (%s, client port %s): %s: %s" % (i, kind, ctx.port, cat, msg))

    async def worker(self, delay):
        # Staggered starts: workers started together would stay in step
        # (every set-up of a wave queued behind the others).
        await asyncio.sleep(delay)
        while not self.stopping and self.next < self.end:
            i = self.next
            self.next += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await self.one(i)
            finally:
                self.in_flight -= 1
                self.done += 1

    async def monitor(self, label, total, t_start):
        last_t, last_done = t_start, 0
        while True:
            await asyncio.sleep(self.a.progress)
            now = time.monotonic()
            rate = (self.done - last_done) / max(1e-6, now - last_t)
            last_t, last_done = now, self.done
            ing = self.proc_sample(self.ingress)
            peer = self.proc_sample(self.peer)
            f = sum(c[k] for c in self.phase.values() for k in ("failure", "mismatch", "short",
                                                               "extra"))
            moved = sum(c["bytes_up"] + c["bytes_down"] for c in self.phase.values())
            log("%s %d/%d (%.0f%%) %.0f/s, open %d | echo %d abort %d bulk %d | bad %d | "
                "%.2f GiB | ingress fds %s rss %s MiB | peer fds %s rss %s MiB" % (
                    label, self.done, total, 100.0 * self.done / max(1, total), rate,
                    self.in_flight, self.phase["echo"]["count"], self.phase["abort"]["count"],
                    sum(self.phase[k]["count"] for k in ("bulk_down", "bulk_up", "bulk_echo")),
                    f, moved / float(1 << 30), ing["fds"], _mib(ing["rss_kib"]), peer["fds"],
                    _mib(peer["rss_kib"])))
            if not self.ingress.alive() or not self.peer.alive():
                self.fatal.append("%s died during %s (ingress alive=%s, peer alive=%s)" % (
                    "ingress" if not self.ingress.alive() else "peer", label,
                    self.ingress.alive(), self.peer.alive()))
                self.stopping = True
                return
            if now > self.deadline:
                self.fatal.append("--max-seconds (%d s) reached during %s after %d of %d tunnels"
                                  % (self.a.max_seconds, label, self.done, total))
                self.stopping = True
                return

    async def _run(self, label, first, count):
        self.loop = asyncio.get_running_loop()
        self.next, self.end, self.done = first, first + count, 0
        self.stopping = False
        t0 = time.monotonic()
        mon = asyncio.ensure_future(self.monitor(label, count, t0))
        n = min(self.a.concurrency, count)
        ramp = self.a.ramp if self.a.ramp is not None else n / 250.0
        workers = [asyncio.ensure_future(self.worker(j * ramp / n)) for j in range(n)]
        await asyncio.gather(*workers)
        mon.cancel()
        await asyncio.gather(mon, return_exceptions=True)
        return time.monotonic() - t0

    def run(self, label, first, count):
        """Run tunnels first..first+count-1; returns the phase's figures."""
        self.reset_counters()
        cpu0 = {n: cpu_seconds(getattr(self, n).pid) for n in ("ingress", "peer", "origin")}
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = asyncio.run(self._run(label, first, count))
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {}
        for n, v in cpu0.items():
            v1 = cpu_seconds(getattr(self, n).pid)
            cpu[n] = None if v is None or v1 is None else round(v1 - v, 2)
        cpu["client"] = round(me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime, 2)
        ph = {"label": label, "tunnels": count, "done": self.done, "seconds": round(elapsed, 1),
              "rate_per_s": round(self.done / max(elapsed, 1e-6), 1),
              "max_open": self.max_in_flight, "kinds": self.phase, "cpu_s": cpu}
        log("%s: %d tunnels in %.1f s (%.0f/s), at most %d open; cpu s: %s" % (
            label, self.done, elapsed, ph["rate_per_s"], self.max_in_flight, cpu))
        return ph


def _mib(kib):
    return None if kib is None else round(kib / 1024.0, 1)


def tunnel_log_lines(path, skip_bytes):
    """Lines in tls_bridge.log after skip_bytes."""
    try:
        with open(path, "rb") as f:
            f.seek(skip_bytes)
            return sum(1 for _ in f)
    except OSError:
        return 0


def wait_tunnel_log(path, skip_bytes, stats0, stats1, timeout=10.0):
    """Wait until tls_bridge.log (written in batches, flushed every second)
    holds a line for each tunnel the run started (tunnels.started from
    stats0 to stats1), so that the summary and the failed tunnels' lines
    read from it are complete.  A shortfall is not fatal here: the summary
    shows the count."""
    if "tunnels.started" not in stats0 or "tunnels.started" not in stats1:
        return
    started = stats1["tunnels.started"] - stats0["tunnels.started"]
    try:
        wait_until(lambda: tunnel_log_lines(path, skip_bytes) >= started, timeout,
                   "a tls_bridge.log line for each of the run's %d tunnels" % started)
    except WaitTimeout as e:
        log(str(e))


def tunnel_log_summary(path, skip_bytes):
    """Close reasons and statuses in tls_bridge.log after skip_bytes."""
    out = {"lines": 0, "close": {}, "status": {}}
    try:
        with open(path, "rb") as f:
            f.seek(skip_bytes)
            for raw in f:
                line = raw.decode("utf-8", "replace")
                out["lines"] += 1
                m = re.search(r' close="([^"]*)"', line)
                k = m.group(1) if m else "?"
                out["close"][k] = out["close"].get(k, 0) + 1
                m = re.search(r" status=(\d+)", line)
                k = m.group(1) if m else "?"
                out["status"][k] = out["status"].get(k, 0) + 1
    except OSError as e:
        out["error"] = repr(e)
    return out


def _lines_with(path, needle):
    try:
        with open(path, "rb") as f:
            return [raw.decode("utf-8", "replace").rstrip() for raw in f
                    if needle in raw.decode("utf-8", "replace")]
    except OSError:
        return []


def _tb_log_epoch(line):
    m = re.match(r"(\d{8})\.(\d\d)h(\d\d)m(\d\d)s", line)
    if not m:
        return None
    return time.mktime(time.strptime("".join(m.groups()), "%Y%m%d%H%M%S"))


def _access_end(line):
    """End of an access log line's transaction (start + duration), epoch s."""
    parts = line.split()
    try:
        return float(parts[0]) + int(parts[1]) / 1000.0
    except (IndexError, ValueError):
        return None


def _access_field(line, name):
    m = re.search(r" %s=(-?\d+)" % name, line)
    return int(m.group(1)) if m else None


def correlate(soak, example, window=3.0):
    """The log lines of a failed tunnel: the ingress's tls_bridge.log and
    access.log lines for its client port (closest in time), and the peer's
    access lines that ended near then with the same byte count up."""
    port, t = example.get("client", "").rsplit(":", 1)[-1], example.get("epoch")
    out = {}
    if not port.isdigit() or t is None:
        return out
    tb = [l for l in _lines_with(os.path.join(soak.ingress.logdir, "tls_bridge.log"),
                                 " client=%s:%s " % (LOOP, port))
          if _tb_log_epoch(l) is not None and abs(_tb_log_epoch(l) - t) <= window + 1]
    acc = [l for l in _lines_with(os.path.join(soak.ingress.logdir, "access.log"),
                                  " %s:%s " % (LOOP, port))
           if _access_end(l) is not None and abs(_access_end(l) - t) <= window]
    out["ingress tls_bridge.log"] = tb
    out["ingress access.log"] = acc
    ups = {_access_field(l, "up") for l in acc}
    out["peer access.log (same bytes up)"] = [
        l for l in _lines_with(os.path.join(soak.peer.logdir, "access.log"), " CONNECT ")
        if _access_end(l) is not None and abs(_access_end(l) - t) <= window
        and _access_field(l, "up") in ups]
    return out


LOG_TROUBLE = re.compile(r"ERROR|WARNING|FATAL|EMERGENCY|ALERT|Segmentation|signal|assert",
                         re.I)
LOG_FATAL = re.compile(r"FATAL|EMERGENCY|ALERT|Segmentation fault|received signal|assert",
                       re.I)


def log_sizes(inst):
    sizes = {}
    for p in inst.log_paths():
        try:
            sizes[p] = os.path.getsize(p)
        except OSError:
            pass
    return sizes


def log_problems(inst, since=None, limit=12):
    """Lines of the instance's logs (traffic.out, diags.log, error.log)
    written after `since` (sizes from log_sizes) that look like trouble;
    'fatal' counts those that mean a crash or an abort."""
    found = []
    total = fatal = 0
    for p in inst.log_paths():
        if os.path.basename(p) == "tls_bridge.log":
            continue
        try:
            with open(p, "rb") as f:
                f.seek((since or {}).get(p, 0))
                for raw in f:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if LOG_TROUBLE.search(line):
                        total += 1
                        fatal += 1 if LOG_FATAL.search(line) else 0
                        if len(found) < limit:
                            found.append("%s: %s" % (os.path.basename(p), line[:300]))
        except OSError:
            pass
    return {"matching_lines": total, "fatal_lines": fatal, "first": found}


def parse_mix(text):
    mix = {"echo": 0.0, "abort": 0.0, "bulk": 0.0}
    for part in text.split(","):
        k, _, v = part.partition("=")
        k = k.strip()
        if k not in mix:
            raise argparse.ArgumentTypeError("mix: unknown kind %r (echo, abort, bulk)" % k)
        mix[k] = float(v)
    if sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("mix: all weights are 0")
    return mix


def size(text):
    m = re.fullmatch(r"(\d+)\s*([KkMm]i?[Bb]?)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError("bad size %r" % text)
    n = int(m.group(1))
    u = (m.group(2) or "").lower()[:1]
    return n << 10 if u == "k" else n << 20 if u == "m" else n


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tunnels", type=int, default=int(env_default("SOAK_TUNNELS", 100000)),
                    help="tunnels in the measured run (env SOAK_TUNNELS; default 100000)")
    ap.add_argument("--concurrency", type=int,
                    default=int(env_default("SOAK_CONCURRENCY", 2000)),
                    help="tunnels open at most at once (env SOAK_CONCURRENCY; default 2000)")
    ap.add_argument("--warmup", type=int, default=env_default("SOAK_WARMUP", None),
                    help="warm-up tunnels before the baseline (env SOAK_WARMUP; default "
                         "5 x concurrency and at least 10000, at most the run's count)")
    ap.add_argument("--checkpoints", type=int, default=None,
                    help="drain and measure the ingress this many times during the run "
                         "(default 4, or 2 below 20,000 tunnels)")
    ap.add_argument("--mix", type=parse_mix, default=parse_mix("echo=72,abort=20,bulk=8"),
                    help="weights of the kinds (default echo=72,abort=20,bulk=8)")
    ap.add_argument("--bulk-min", type=size, default=size("256K"))
    ap.add_argument("--bulk-max", type=size, default=size("4M"))
    ap.add_argument("--hold-max", type=float, default=5.0,
                    help="longest pause after each echo exchange, s (default 5)")
    ap.add_argument("--ramp", type=float, default=None,
                    help="start the concurrent clients over this many seconds "
                         "(default concurrency / 250)")
    ap.add_argument("--close-wait", type=float, default=10.0,
                    help="how long a tunnel may take to end after a FIN, s (default 10)")
    ap.add_argument("--tunnel-timeout", type=float, default=120.0,
                    help="a tunnel that has not finished by then is a failure, s")
    ap.add_argument("--max-seconds", type=float, default=1800.0,
                    help="stop starting tunnels after this long in one phase, s (a failure)")
    ap.add_argument("--drain-timeout", type=float, default=60.0)
    ap.add_argument("--fd-settle", type=float, default=30.0,
                    help="after the drain, wait up to this long for descriptors to come back")
    ap.add_argument("--fd-tolerance", type=int, default=32,
                    help="ingress descriptors allowed above the baseline at the end (default 32)")
    ap.add_argument("--rss-tolerance-mib", type=float, default=64.0,
                    help="ingress RSS growth allowed over the run, MiB (default 64)")
    ap.add_argument("--rss-late-tolerance-mib", type=float, default=16.0,
                    help="ingress RSS growth allowed from the first checkpoint to the end, "
                         "MiB (default 16)")
    ap.add_argument("--max-failures", type=int, default=0,
                    help="unexpected failures tolerated (wrong bytes never are; default 0)")
    ap.add_argument("--progress", type=float, default=10.0, help="seconds between progress lines")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plugin", default=env_default("TB_PLUGIN", harness.DEFAULT_PLUGIN))
    ap.add_argument("--plugin-args", default=env_default("SOAK_PLUGIN_ARGS", ""),
                    help="extra plugin.config arguments before the rule (env SOAK_PLUGIN_ARGS)")
    ap.add_argument("--json", default=os.path.join(REPO, "build", "soak.json"))
    a = ap.parse_args(list(argv))
    a.plugin_args = a.plugin_args.split()
    if a.warmup is None:
        a.warmup = min(max(5 * a.concurrency, 10000), max(a.tunnels, 1))
    a.warmup = int(a.warmup)
    if a.checkpoints is None:
        a.checkpoints = 4 if a.tunnels >= 20000 else 2
    if not (0 < a.bulk_min <= a.bulk_max <= origin_mod.MAX_TRANSFER):
        ap.error("need 0 < --bulk-min <= --bulk-max <= %d" % origin_mod.MAX_TRANSFER)
    if a.tunnels < 1 or a.concurrency < 1 or a.checkpoints < 1:
        ap.error("--tunnels, --concurrency and --checkpoints must be at least 1")
    return a


def check_limits(a):
    """Raise the soft descriptor limit to the hard one (children inherit it)
    and refuse a concurrency that would not fit: each open tunnel holds 2
    descriptors in each ATS (ATS keeps ~200 for itself and stops accepting
    at 1/1.1 of its throttle) and 1 in this client and in the origin."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = int((min(hard, 19000) - 500) / 1.1 / 2)
    if a.concurrency > limit:
        raise SystemExit("soak: --concurrency %d is too high for the descriptor limit %d "
                         "(at most %d)" % (a.concurrency, hard, limit))
    return hard


def main(argv):
    a = parse_args(argv)
    hard = check_limits(a)
    if not os.path.exists(a.plugin):
        raise SystemExit("soak: no plugin at %s (make build)" % a.plugin)
    t_start = time.time()
    soak = Soak(a)
    result = {"params": {k: v for k, v in vars(a).items() if k != "mix"},
              "mix": a.mix, "nofile_hard": hard, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    code = 1
    try:
        soak.start()
        result.update({"plugin_sha256": soak.plugin_sha, "git": soak.git,
                       "workspace": soak.ws.path})
        log("warm-up: %d tunnels, concurrency %d" % (a.warmup, a.concurrency))
        soak.deadline = time.monotonic() + a.max_seconds
        warm = soak.run("warm-up", 10 ** 9, a.warmup)
        base = soak.drain("baseline (after the warm-up)")
        tlog = os.path.join(soak.ingress.logdir, "tls_bridge.log")
        tlog_skip = os.path.getsize(tlog) if os.path.exists(tlog) else 0
        soak.log_marks = {"ingress": log_sizes(soak.ingress), "peer": log_sizes(soak.peer)}
        if not base["drained"]:
            soak.fatal.append("the ingress did not drain after the warm-up: %r" % base["stats"])
        soak.setup_s, soak.halfclose_s, soak.closes, soak.aborts = [], [], {}, {}
        soak.failure_examples = []
        warm_failures = sum(c[k] for c in warm["kinds"].values()
                            for k in ("failure", "mismatch", "short", "extra"))
        phases, samples = [], [base]
        per = [a.tunnels // a.checkpoints + (1 if i < a.tunnels % a.checkpoints else 0)
               for i in range(a.checkpoints)]
        first = 0
        t_run = time.monotonic()
        for k, n in enumerate(per):
            if n == 0:
                continue
            if soak.fatal:
                break
            soak.deadline = t_run + a.max_seconds
            ph = soak.run("run %d/%d" % (k + 1, a.checkpoints), first, n)
            first += n
            phases.append(ph)
            for kind, c in ph["kinds"].items():
                for key, v in c.items():
                    soak.totals[kind][key] += v
            samples.append(soak.drain("checkpoint %d/%d (%d tunnels)" % (k + 1, a.checkpoints,
                                                                         first),
                                      baseline=base["ingress"]["fds"]))
        run_s = time.monotonic() - t_run
        wait_tunnel_log(tlog, tlog_skip, base["stats"], samples[-1]["stats"])
        for ex in soak.failure_examples[:10]:
            ex["logs"] = correlate(soak, ex)
        result.update(verdict(soak, a, warm, warm_failures, base, phases, samples, run_s,
                              tunnel_log_summary(tlog, tlog_skip)))
        code = 0 if result["pass"] else 1
    except harness.StartupError as e:
        result["pass"] = False
        result["problems"] = ["start-up failed: %s" % str(e)[:4000]]
        log(str(e))
    except KeyboardInterrupt:
        result["pass"] = False
        result["problems"] = ["interrupted"]
        log("interrupted")
    finally:
        result["elapsed_s"] = round(time.time() - t_start, 1)
        if soak.ws is not None:
            for name in ("ingress", "peer"):
                inst = getattr(soak, name, None)
                if inst is not None:
                    lp = log_problems(inst, soak.log_marks.get(name))
                    result.setdefault("logs", {})[name] = lp
                    if lp["fatal_lines"] and result.get("pass"):
                        result["pass"] = False
                        result.setdefault("problems", []).append(
                            "%s logged %d lines of a crash or abort after the warm-up: %s"
                            % (name, lp["fatal_lines"], lp["first"][:3]))
            if not result.get("pass"):
                soak.ws.mark_failed()
                result["kept_workspace"] = soak.ws.path
        soak.stop()
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write("\n")
    print_summary(result, a)
    return code


def verdict(soak, a, warm, warm_failures, base, phases, samples, run_s, tlog):
    final = samples[-1]
    tot = soak.totals
    done = sum(p["done"] for p in phases)
    fails = {k: sum(c[k] for c in tot.values()) for k in ("failure", "mismatch", "short",
                                                          "extra")}
    bytes_up = sum(c["bytes_up"] for c in tot.values())
    bytes_down = sum(c["bytes_down"] for c in tot.values())
    problems = list(soak.fatal)
    if done != a.tunnels:
        problems.append("only %d of %d tunnels ran" % (done, a.tunnels))
    not_exact = fails["mismatch"] + fails["short"] + fails["extra"]
    if not_exact:
        problems.append("%d transfers were not byte-exact (%d wrong, %d short, %d extra)" % (
            not_exact, fails["mismatch"], fails["short"], fails["extra"]))
    if fails["failure"] > a.max_failures:
        problems.append("%d unexpected failures (at most %d allowed)" % (fails["failure"],
                                                                         a.max_failures))
    if warm_failures:
        problems.append("%d failures during the warm-up" % warm_failures)
    if not final["ingress_alive"] or not final["peer_alive"]:
        problems.append("an ATS instance died (ingress alive=%s, peer alive=%s)" % (
            final["ingress_alive"], final["peer_alive"]))
    if not final["drained"]:
        problems.append("tunnels.active did not come back to 0: %r" % (
            final["stats"].get("tunnels.active", final["stats"]),))
    bi, fi = base["ingress"], final["ingress"]
    fd_growth = rss_growth = None
    if bi["fds"] is not None and fi["fds"] is not None:
        fd_growth = fi["fds"] - bi["fds"]
        if fd_growth > a.fd_tolerance:
            problems.append("ingress descriptors %d after the run, %d before (tolerance +%d)"
                            % (fi["fds"], bi["fds"], a.fd_tolerance))
    else:
        problems.append("could not read the ingress's descriptors")
    if bi["rss_kib"] is not None and fi["rss_kib"] is not None:
        rss_growth = fi["rss_kib"] - bi["rss_kib"]
        if rss_growth > a.rss_tolerance_mib * 1024:
            problems.append("ingress RSS grew by %.1f MiB (tolerance %.0f MiB)" % (
                rss_growth / 1024.0, a.rss_tolerance_mib))
    else:
        problems.append("could not read the ingress's RSS")
    late_growth = None
    if len(samples) >= 3 and samples[1]["ingress"]["rss_kib"] is not None \
            and fi["rss_kib"] is not None:
        late_growth = fi["rss_kib"] - samples[1]["ingress"]["rss_kib"]
        # Judged from 20,000 tunnels on: a shorter run is still filling
        # ATS's free lists after its first part.
        if late_growth > a.rss_late_tolerance_mib * 1024 and a.tunnels >= 20000:
            problems.append("ingress RSS grew by %.1f MiB after the first checkpoint "
                            "(tolerance %.0f MiB)" % (late_growth / 1024.0,
                                                      a.rss_late_tolerance_mib))
    ost = final["origin"]
    if ost.get("sink_bad") or ost.get("bad_command"):
        problems.append("origin saw %s bad uploads and %s bad commands" % (
            ost.get("sink_bad"), ost.get("bad_command")))
    # Plugin counters over the measured run (baseline -> final).
    s0, s1 = base["stats"], final["stats"]
    metric_delta = {}
    if "error" not in s0 and "error" not in s1:
        for k, v in s1.items():
            if k.startswith("ats:") or k == "tunnels.active":
                metric_delta[k] = v
            else:
                metric_delta[k] = v - s0.get(k, 0)
    hs = soak.halfclose_s
    return {
        "pass": not problems,
        "problems": problems,
        "run": {"tunnels": done, "seconds": round(run_s, 1),
                "rate_per_s": round(done / max(run_s, 1e-6), 1),
                "max_open": max([p["max_open"] for p in phases] or [0]),
                "kinds": tot, "failures": fails, "bytes_up": bytes_up, "bytes_down": bytes_down,
                "abort_variants": soak.aborts, "closes": soak.closes,
                "setup_ms": {"p50": _ms(pct(soak.setup_s, 50)), "p99": _ms(pct(soak.setup_s, 99)),
                             "max": _ms(max(soak.setup_s) if soak.setup_s else None)},
                "end_after_client_fin_ms": {"count": len(hs), "p50": _ms(pct(hs, 50)),
                                            "p99": _ms(pct(hs, 99)),
                                            "max": _ms(max(hs) if hs else None)}},
        "warmup": warm,
        "phases": phases,
        "samples": samples,
        "ingress": {"fds_before": bi["fds"], "fds_after": fi["fds"], "fd_growth": fd_growth,
                    "fd_tolerance": a.fd_tolerance,
                    "rss_kib_before": bi["rss_kib"], "rss_kib_after": fi["rss_kib"],
                    "rss_growth_kib": rss_growth, "rss_tolerance_mib": a.rss_tolerance_mib,
                    "rss_growth_after_first_checkpoint_kib": late_growth,
                    "rss_late_tolerance_mib": a.rss_late_tolerance_mib,
                    "rss_kib_checkpoints": [s["ingress"]["rss_kib"] for s in samples],
                    "fds_checkpoints": [s["ingress"]["fds"] for s in samples]},
        "peer": {"fds_before": base["peer"]["fds"], "fds_after": final["peer"]["fds"],
                 "rss_kib_before": base["peer"]["rss_kib"],
                 "rss_kib_after": final["peer"]["rss_kib"],
                 "rss_kib_checkpoints": [s["peer"]["rss_kib"] for s in samples],
                 "fds_checkpoints": [s["peer"]["fds"] for s in samples]},
        "plugin_metrics_delta": metric_delta,
        "tunnel_log": tlog,
        "failure_examples": soak.failure_examples,
        "notes": soak.notes,
    }


def _ms(s):
    return None if s is None else round(s * 1000.0, 2)


def print_summary(r, a):
    print()
    print("=" * 72)
    print("tls_bridge soak: %s" % ("PASS" if r.get("pass") else "FAIL"))
    run = r.get("run")
    if run:
        k = run["kinds"]
        print("tunnels: %d in %.0f s (%.0f/s), at most %d open at once; warm-up %d" % (
            run["tunnels"], run["seconds"], run["rate_per_s"], run["max_open"],
            r["warmup"]["done"]))
        for kind in KINDS:
            c = k[kind]
            print("  %-10s %7d  ok %7d  failed %d  wrong/short/extra bytes %d/%d/%d" % (
                kind, c["count"], c["ok"], c["failure"], c["mismatch"], c["short"], c["extra"]))
        print("payload verified: %.2f GiB up, %.2f GiB down" % (run["bytes_up"] / 2.0 ** 30,
                                                                run["bytes_down"] / 2.0 ** 30))
        print("set-up ms p50/p99/max: %s/%s/%s; end after a client FIN ms p50/p99/max: "
              "%s/%s/%s" % (run["setup_ms"]["p50"], run["setup_ms"]["p99"],
                            run["setup_ms"]["max"], run["end_after_client_fin_ms"]["p50"],
                            run["end_after_client_fin_ms"]["p99"],
                            run["end_after_client_fin_ms"]["max"]))
        i, p = r["ingress"], r["peer"]
        print("ingress fds %s -> %s (tolerance +%d); RSS %s -> %s MiB (tolerance +%.0f MiB; "
              "+%.0f MiB after the first checkpoint); RSS at the checkpoints %s MiB" % (
                  i["fds_before"], i["fds_after"], i["fd_tolerance"],
                  _mib(i["rss_kib_before"]), _mib(i["rss_kib_after"]), i["rss_tolerance_mib"],
                  i["rss_late_tolerance_mib"], [_mib(x) for x in i["rss_kib_checkpoints"]]))
        print("peer    fds %s -> %s; RSS %s -> %s MiB" % (
            p["fds_before"], p["fds_after"], _mib(p["rss_kib_before"]),
            _mib(p["rss_kib_after"])))
        m = r.get("plugin_metrics_delta", {})
        if m:
            print("plugin metrics over the run: started %s completed %s active %s client_gone %s "
                  "error %s peer_* %s" % (
                      m.get("tunnels.started"), m.get("tunnels.completed"),
                      m.get("tunnels.active"), m.get("failures.client_gone"),
                      m.get("failures.error"),
                      sum(v for kk, v in m.items() if kk.startswith("failures.peer_"))))
    for prob in r.get("problems", []):
        print("PROBLEM: %s" % prob)
    for ex in (r.get("failure_examples") or [])[:5]:
        print("  e.g. tunnel %(tunnel)d %(kind)s (client %(client)s) %(category)s: %(error)s"
              % ex)
        for where, lines in (ex.get("logs") or {}).items():
            for line in lines[:3]:
                print("      %s: %s" % (where, line[:240]))
    print("summary: %s%s" % (a.json, ("; logs kept in " + r["kept_workspace"])
                             if r.get("kept_workspace") else ""))
    print("=" * 72)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
