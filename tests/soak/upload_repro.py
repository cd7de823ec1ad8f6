#!/usr/bin/python3
"""Upload reproducer (`make soak-upload`): the soak's bulk upload case alone,
many times over, with per-failure evidence from every hop.

    client (this script) --CONNECT--> ingress ATS + tls_bridge.so
        ==TLS, mutual certs==> peer ATS --> sink (this script, --serve-origin)

The case is exactly the soak's bulk_up (tests/soak/soak.py, t_bulk_up):
CONNECT service.internal:SINKPORT, read the 200, send 'SINK <n> <off>\\n' and
then block[off:off+n] (n log-uniform in --size-min..--size-max, 256 KiB-4 MiB
like the soak, off uniform in [0, 4 MiB)), without half-closing; the sink
(tests/soak/origin.py's Bulk, unchanged) checks every byte and, once it has n,
writes 'OK <n>\\n' (11 bytes for n of 7 digits) and closes its socket (FIN);
the client reads the answer line, then must see that FIN within --close-wait s.

What it adds to the soak, per upload, to name the hop that holds bytes:
  - the client's timings (connect, 200, upload handed to the kernel, first
    answer byte, answer, EOF) and what it got;
  - the sink's own record of the connection (the peer's port towards it,
    first and last upload byte, the longest pause inside the upload, bytes
    received, when it wrote the answer and whether asyncio had to buffer it,
    when the peer's FIN or the close came), kept by the sink process this
    script starts (--serve-origin mode) in origin-connections.jsonl;
  - for an upload that has no answer --stall-after s after the client handed
    its last byte to the kernel: at once, a snapshot of every loopback TCP
    socket (ss -tnie: bytes queued in each kernel at each TCP hop, and when
    each socket last sent and received), `traffic_ctl plugin msg tls_bridge
    tunnels` (each open tunnel's state and byte counts, in the ingress's
    diags.log; the ingress runs under traffic_manager unless --no-manager)
    and the sink's live record (at most --max-snapshots);
  - after the phase, for each failure: the ingress's tls_bridge.log line, the
    ingress's access-log lines (the client's transaction; the internal one
    towards the peer, matched by bytes up) and the peer's access-log line
    (matched by bytes up or a duration of a stuck tunnel), all within the
    upload's time window since client ports are reused;
  - per phase, near misses: the distribution of the longest pause inside
    each upload as the sink saw it (upload direction) and of the time from
    the sink's answer to the client's read of it (answer direction), with
    the worst 20 of each, and this process's own event-loop lag (an answer
    is timed only as well as the loop that reads it).
Each failure is one JSON object in failures.jsonl in the workspace (kept when
anything failed or a stall was snapshotted) and in the --json summary; every
upload's record goes to uploads.jsonl there too with --all-records.

Phases: --phases 'C:N,C:N,...' runs N uploads with at most C in flight, in
order, on the same instances (default '1:1000,50:20000,500:20000').
--background K runs the soak's own tunnels (soak.Soak.one: echo exchanges
with pauses, aborted set-ups and, with --background-mix
echo=72,abort=20,bulk=8, its bulk transfers too), K at a time, around each
phase, in a separate process so that its event loop does not delay this
one's.  --debug turns on the tls_bridge debug tag on the ingress (lines in
traffic_server.out; costs CPU: use it for a second pass at the rate it
allows).  --plugin-args passes plugin.config arguments (e.g. '--pool 0').
SIGINT/SIGTERM once: no new uploads, report, stop everything; twice: stop now.

Report: per phase, the count, duration, rate and failures, and the 95 %
upper bound on the failure rate (exact binomial; 0 in N gives about 3/N).
Exit status 1 if any upload failed.

Run: make soak-upload [UPLOAD_PHASES=1:1000,50:20000] [UPLOAD_ARGS='--debug']
  or tests/soak/upload_repro.py --plugin build/tls_bridge.so --phases 50:5000 \
       --background 2000 --background-mix echo=72,abort=20,bulk=8
Not part of `make test`.  It is heavy: run it under `nice -n 10` on a shared
machine (make soak-upload does).  Findings: docs/reliability.md, "Soak: the
lost upload answer".
"""

import argparse
import asyncio
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, HERE)
import origin as origin_mod  # noqa: E402

PYTHON = "/usr/bin/python3"
LOOP = "127.0.0.1"
SERVICE = "service.internal"
RST_LINGER = struct.pack("ii", 1, 0)
STATS_PREFIX = "plugin.tls_bridge."


def log(msg):
    print("[upload %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# ---------------------------------------------------------------------------
# --serve-origin: the soak's sink (origin.Bulk, unchanged) plus a record of
# every connection, and a control port that answers queries about them.

class RecordingBulk(origin_mod.Bulk):
    OPEN = {}        # (n, off) -> record, while the connection is open
    DONE = {}        # (n, off) -> record, after it closed (last 200,000)
    OUT = None       # file for one JSON line per closed connection

    def connection_made(self, transport):
        super().connection_made(transport)
        pn = transport.get_extra_info("peername")
        self.rec = {"port": pn[1] if pn else None, "t_open": time.time(), "n": None,
                    "off": None, "got": 0, "t_first": None, "t_last": None, "t_answer": None,
                    "answer": None, "answer_buffered": None, "t_eof": None, "t_lost": None,
                    "lost_exc": None, "max_gap": 0.0, "max_gap_at": None}
        self.key = None

    def buffer_updated(self, nbytes):
        before = self.got
        super().buffer_updated(nbytes)
        if self.mode == "SINK" and self.key is None:
            self.key = (self.n, self.off)
            self.rec["n"], self.rec["off"] = self.n, self.off
            RecordingBulk.OPEN[self.key] = self.rec
        if self.got != before:
            now = time.time()
            if self.rec["t_first"] is None:
                self.rec["t_first"] = now
            elif now - self.rec["t_last"] > self.rec["max_gap"]:
                # The longest pause in the upload as the sink saw it, and
                # how far it had got: a stall the nudge ended shows here.
                self.rec["max_gap"] = round(now - self.rec["t_last"], 4)
                self.rec["max_gap_at"] = before
            self.rec["t_last"] = now
            self.rec["got"] = self.got

    def _sink(self, data):
        was = self.finished
        super()._sink(data)
        if self.finished and not was:
            self.rec["t_answer"] = time.time()
            self.rec["answer"] = "BAD" if self.bad is not None else "OK"
            # Bytes asyncio could not hand to the kernel at once (0: the
            # answer is in the socket's send queue; close() then sends FIN).
            self.rec["answer_buffered"] = self.t.get_write_buffer_size()

    def eof_received(self):
        self.rec["t_eof"] = time.time()
        return super().eof_received()

    def connection_lost(self, exc):
        super().connection_lost(exc)
        self.rec["t_lost"] = time.time()
        self.rec["lost_exc"] = repr(exc) if exc else None
        if self.key is not None:
            RecordingBulk.OPEN.pop(self.key, None)
            RecordingBulk.DONE[self.key] = self.rec
            if len(RecordingBulk.DONE) > 200000:
                RecordingBulk.DONE.pop(next(iter(RecordingBulk.DONE)))
        if RecordingBulk.OUT is not None:
            RecordingBulk.OUT.write(json.dumps(self.rec) + "\n")


async def _control(reader, writer):
    """'GET <n> <off>' -> that connection's record (or null); 'OPEN' -> all
    open ones; 'STATS' -> origin.STATS."""
    try:
        line = (await reader.readline()).decode().split()
        if line[:1] == ["GET"] and len(line) == 3:
            key = (int(line[1]), int(line[2]))
            rec = RecordingBulk.OPEN.get(key) or RecordingBulk.DONE.get(key)
            out = {"open": key in RecordingBulk.OPEN, "record": rec}
        elif line[:1] == ["OPEN"]:
            out = list(RecordingBulk.OPEN.values())
        else:
            out = origin_mod.STATS
        writer.write((json.dumps(out) + "\n").encode())
        await writer.drain()
    finally:
        writer.close()


async def serve_origin(args):
    origin_mod.BLOCK = origin_mod.block(args.seed)
    RecordingBulk.OUT = open(args.record_file, "a", buffering=1 << 16)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    s1 = await loop.create_server(RecordingBulk, LOOP, args.sink_port, backlog=4096,
                                  reuse_address=True)
    s3 = await loop.create_server(origin_mod.Echo, LOOP, args.echo_port, backlog=4096,
                                  reuse_address=True)
    s2 = await asyncio.start_server(_control, LOOP, args.control_port, reuse_address=True)

    async def flusher():
        while True:
            await asyncio.sleep(1.0)
            RecordingBulk.OUT.flush()
    fl = asyncio.ensure_future(flusher())
    print("origin: listening", flush=True)
    await stop
    fl.cancel()
    s1.close()
    s2.close()
    s3.close()
    RecordingBulk.OUT.flush()


def origin_query(port, line, timeout=10.0):
    with socket.create_connection((LOOP, port), timeout=timeout) as s:
        s.sendall(line.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


# ---------------------------------------------------------------------------
# The deployment: the soak's (same records, access-log format, stats plugin).

class Repro:
    def __init__(self, a):
        self.a = a
        self.block = origin_mod.block(a.seed)
        self.failures = []
        self.stalls = 0
        self.max_lag = 0.0
        self.records_out = None

    def start(self):
        import harness
        import soak
        self.harness, self.soak = harness, soak
        a = self.a
        self.ws = harness.Workspace(prefix="tb-upload-")
        log("workspace %s" % self.ws.path)
        self.plugin = os.path.join(self.ws.path, "tls_bridge.so")
        shutil.copy2(a.plugin, self.plugin)
        p = dict(zip(("ingress", "peer", "sink", "control", "echo"), harness.free_ports(5)))
        self.ports = p
        self.certs = harness.Certs(os.path.join(self.ws.path, "certs"))
        odir = self.ws.mkdir("origin")
        self.origin_records = os.path.join(self.ws.path, "origin-connections.jsonl")
        self.origin = harness.ManagedProcess(
            "origin", [PYTHON, os.path.abspath(__file__), "--serve-origin",
                       "--sink-port", str(p["sink"]), "--control-port", str(p["control"]),
                       "--echo-port", str(p["echo"]),
                       "--seed", str(a.seed), "--record-file", self.origin_records],
            odir, os.path.join(odir, "origin.out"))
        self.origin.start()
        for port in (p["sink"], p["control"], p["echo"]):
            if not harness.wait_for_port(port, timeout=30, proc_alive=self.origin.alive):
                raise harness.StartupError("origin did not listen on %d:\n%s" % (
                    port, harness.tail_file(self.origin.stdout_path)))
        self.peer = harness.make_peer(self.ws, self.certs, p["peer"], [p["sink"], p["echo"]],
                                      {SERVICE: LOOP}, debug=False,
                                      extra_records=soak.ATS_RECORDS)
        with open(os.path.join(self.peer.etc, "logging.yaml"), "w") as f:
            f.write(soak.ACCESS_LOG)
        self.peer.start()
        self.peer.wait_listening()
        self._wait(lambda: harness.peer_connect_status(p["peer"], self.certs, SERVICE,
                                                       p["sink"], timeout=3)[0] == 200,
                   self.peer, "the peer answering 200 to a CONNECT")
        rules = [r"service[.]internal", "%s:%d" % (harness.PEER_HOST, p["peer"])]
        self.ingress = harness.make_ingress(
            self.ws, self.certs, p["ingress"], self.plugin, a.plugin_args + rules,
            [p["peer"], p["sink"], p["echo"]], {harness.PEER_HOST: LOOP}, debug=a.debug,
            extra_records=soak.ATS_RECORDS, extra_files={"etc/logging.yaml": soak.ACCESS_LOG},
            extra_plugin_lines=["stats_over_http.so"], manager=not a.no_manager)
        self.ingress.start()
        self.ingress.wait_listening(timeout=40)
        self._wait(self._probe, self.ingress, "a bridged upload")
        log("ingress pid %s on %d, peer pid %d on %d, origin pid %d; "
            "plugin %s%s" % (self.ingress.pid, p["ingress"],
                             self.peer.pid, p["peer"], self.origin.pid, a.plugin,
                             "; debug tag tls_bridge on" if a.debug else ""))
        if a.all_records:
            self.records_out = open(os.path.join(self.ws.path, "uploads.jsonl"), "w")

    def _wait(self, probe, inst, what, timeout=60.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline and inst.alive():
            try:
                if probe():
                    return
            except Exception as e:
                last = e
            time.sleep(0.3)
        raise self.harness.StartupError("%s: %s never succeeded (last %r)\n%s"
                                        % (inst.name, what, last, inst.log_tail()))

    def _probe(self):
        with self.harness.open_tunnel(self.ports["ingress"], SERVICE, self.ports["sink"],
                                      timeout=3) as t:
            if t.status != 200:
                return False
            t.sendall(b"SINK 5 0\n" + self.block[:5])
            return t.recv_line() == b"OK 5\n"

    def stop(self):
        for name in ("ingress", "peer", "origin"):
            obj = getattr(self, name, None)
            if obj is not None:
                try:
                    obj.stop()
                except Exception as e:
                    log("stopping %s: %r" % (name, e))
        self.harness.stop_all()
        if self.records_out:
            self.records_out.close()

    def read_stats(self):
        url = "http://%s:%d/_stats" % (LOOP, self.ports["ingress"])
        with urllib.request.urlopen(url, timeout=10) as r:
            g = json.load(r)["global"]
        return {k[len(STATS_PREFIX):]: int(v) for k, v in g.items()
                if k.startswith(STATS_PREFIX)}

    # --------------------------------------------------------------- uploads
    def plan(self, i):
        rng = random.Random(self.a.seed * 1000003 + i)
        a = self.a
        n = int(math.exp(rng.uniform(math.log(a.size_min), math.log(a.size_max))))
        off = rng.randrange(0, origin_mod.MAX_TRANSFER)
        return n, off

    async def one(self, i):
        n, off = self.plan(i)
        loop = asyncio.get_running_loop()
        r = {"i": i, "n": n, "off": off, "port": None, "t0": time.time()}
        t0m = time.monotonic()

        def stamp(k):
            r[k] = round(time.monotonic() - t0m, 4)

        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        reply = b""
        stage = "connect"
        stall_task = None
        try:
            await loop.sock_connect(s, (LOOP, self.ports["ingress"]))
            r["port"] = s.getsockname()[1]
            stage = "CONNECT"
            t = "%s:%d" % (SERVICE, self.ports["sink"])
            await loop.sock_sendall(s, ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                                        % (t, t)).encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = await loop.sock_recv(s, 4096)
                if not d:
                    raise RuntimeError("EOF before the CONNECT answer (%r)" % buf[:200])
                buf += d
            head, _, rest = buf.partition(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            stamp("t_200")
            if status != b"200":
                raise RuntimeError("CONNECT answered %r" % head.split(b"\r\n")[0][:100])
            if rest:
                raise RuntimeError("%d bytes before the upload" % len(rest))
            stage = "upload"
            await loop.sock_sendall(s, b"SINK %d %d\n" % (n, off))
            await loop.sock_sendall(s, memoryview(self.block)[off:off + n])
            stamp("t_sent")
            stage = "answer"
            stall_task = asyncio.ensure_future(self._stall_watch(r, n, off))
            deadline = time.monotonic() + self.a.answer_timeout
            while not reply.endswith(b"\n"):
                try:
                    d = await asyncio.wait_for(loop.sock_recv(s, 256),
                                               max(0.1, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    r["answer_end"] = "client timeout"
                    break
                except ConnectionResetError:
                    r["answer_end"] = "reset"
                    break
                if not d:
                    r["answer_end"] = "eof"
                    break
                if not reply:
                    stamp("t_answer_first")
                reply += d
            r["reply"] = reply.decode("latin-1")
            if reply != b"OK %d\n" % n:
                stamp("t_fail")
                raise RuntimeError("sink answer %r to %d bytes" % (reply, n))
            stamp("t_answer")
            stage = "FIN after the answer"
            try:
                d = await asyncio.wait_for(loop.sock_recv(s, 65536), self.a.close_wait)
            except asyncio.TimeoutError:
                raise RuntimeError("no FIN within %.0f s after the answer" % self.a.close_wait)
            if d:
                raise RuntimeError("%d bytes after the answer" % len(d))
            stamp("t_eof")
            r["ok"] = True
        except asyncio.CancelledError:
            raise
        except Exception as e:
            r["ok"] = False
            r["stage"] = stage
            r["error"] = "%s: %s" % (stage, e if isinstance(e, RuntimeError) else repr(e))
            r.setdefault("reply", reply.decode("latin-1"))
            stamp("t_end")
        finally:
            if stall_task is not None and not stall_task.done():
                if r.get("stalled"):
                    await stall_task  # a snapshot under way: let it finish
                else:
                    stall_task.cancel()
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST_LINGER)
            except OSError:
                pass
            s.close()
        return r

    async def _stall_watch(self, r, n, off):
        """No answer --stall-after s after the upload went to the kernel:
        snapshot where the bytes are while the tunnel is still stuck."""
        await asyncio.sleep(self.a.stall_after)
        self.stalls += 1
        r["stalled"] = True
        if self.stalls > self.a.max_snapshots:
            return
        snap = {"at": round(time.time(), 3)}
        loop = asyncio.get_running_loop()
        path = os.path.join(self.ws.path, "stall-%d-ss.txt" % r["i"])
        try:
            out = await loop.run_in_executor(None, lambda: subprocess.run(
                ["ss", "-tnie", "state", "all", "( sport >= :1 )"], capture_output=True,
                text=True, timeout=20).stdout)
            with open(path, "w") as f:
                f.write(out)
            snap["ss_file"] = path
            snap["ss_client"] = _ss_lines(out, r["port"])
        except Exception as e:
            snap["ss_error"] = repr(e)
        if not self.a.no_manager and self.a.dump_on_stall:
            try:
                await loop.run_in_executor(None, lambda: self.ingress.ctl(
                    "plugin", "msg", "tls_bridge", "tunnels", timeout=20, check=False))
                snap["tunnel_dump"] = "diags.log (plugin msg tls_bridge tunnels)"
            except Exception as e:
                snap["tunnel_dump"] = repr(e)
        try:
            snap["origin"] = await loop.run_in_executor(
                None, origin_query, self.ports["control"], "GET %d %d" % (n, off))
        except Exception as e:
            snap["origin"] = {"error": repr(e)}
        o = (snap["origin"] or {}).get("record") or {}
        if o.get("port") and snap.get("ss_file"):
            with open(snap["ss_file"]) as f:
                snap["ss_peer_to_origin"] = _ss_lines(f.read(), o["port"])
        r["stall"] = snap
        log("upload %d (client port %s, %d bytes at %d): no answer %.0f s after the upload; "
            "origin: %s" % (r["i"], r["port"], n, off, self.a.stall_after,
                            json.dumps(snap["origin"])[:400]))

    async def worker(self, delay):
        await asyncio.sleep(delay)
        while self.next < self.end:
            i = self.next
            self.next += 1
            self.in_flight += 1
            try:
                r = await self.one(i)
            finally:
                self.in_flight -= 1
            self.done += 1
            self.bytes += r["n"] if r.get("ok") else 0
            if r.get("ok"):
                self.answered[(r["n"], r["off"])] = (i, r["port"], r["t0"] + r["t_answer"])
            if r.get("ok") and r["t_answer"] - r["t_sent"] > self.a.late_after:
                self.late.append({k: r[k] for k in ("i", "port", "n", "off", "t_sent",
                                                    "t_answer", "stalled") if k in r})
            if self.records_out:
                self.records_out.write(json.dumps(r) + "\n")
            if not r.get("ok"):
                self.phase_failures.append(r)
                log("FAILURE upload %d (client port %s, %d bytes at %d): %s; reply %r; "
                    "timings %s" % (i, r["port"], r["n"], r["off"], r["error"], r.get("reply"),
                                    {k: v for k, v in r.items() if k.startswith("t_")}))

    def bg_start(self, k):
        """The background load in a process of its own (its event loop's
        lag must not delay this one's reads, which time the answers)."""
        self.bg_out = os.path.join(self.ws.path, "background-%d.json" % k)
        self.bg_proc = self.harness.ManagedProcess(
            "background", [PYTHON, os.path.abspath(__file__), "--run-background",
                           str(self.a.background), "--background-mix", self.a.background_mix,
                           "--seed", str(self.a.seed), "--ingress-port", str(self.ports["ingress"]),
                           "--echo-port", str(self.ports["echo"]),
                           "--sink-port", str(self.ports["sink"]), "--record-file", self.bg_out],
            self.ws.path, os.path.join(self.ws.path, "background.out"))
        self.bg_proc.start()

    def bg_stop_and_read(self):
        self.bg_proc.proc.send_signal(signal.SIGTERM)
        if self.bg_proc.wait_exit(180) is None:
            log("background load did not stop in 180 s: killing it")
        self.bg_proc.stop()
        try:
            with open(self.bg_out) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            return {"error": repr(e)}

    async def lag_monitor(self):
        """This event loop's worst lag over the phase: the answer times
        (and the stall snapshots) are only as good as it."""
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            self.max_lag = max(self.max_lag, time.monotonic() - t - 0.1)

    async def monitor(self, label, total):
        last_t, last_done = time.monotonic(), 0
        while True:
            await asyncio.sleep(self.a.progress)
            now = time.monotonic()
            rate = (self.done - last_done) / max(1e-6, now - last_t)
            last_t, last_done = now, self.done
            log("%s %d/%d %.1f/s, in flight %d, failed %d, stalls seen %d, %.2f GiB, "
                "loop lag max %.0f ms" % (
                    label, self.done, total, rate, self.in_flight, len(self.phase_failures),
                    self.stalls, self.bytes / 2.0 ** 30, self.max_lag * 1000))
            if not self.ingress.alive() or not self.peer.alive():
                log("an ATS instance died: stopping the phase")
                self.end = self.next
                return

    async def _run(self, label, first, count, conc):
        self.next, self.end, self.done, self.in_flight, self.bytes = first, first + count, 0, 0, 0
        mon = asyncio.ensure_future(self.monitor(label, count))
        n = min(conc, count)
        ramp = n / 250.0
        self.max_lag = 0.0
        lag = asyncio.ensure_future(self.lag_monitor())
        await asyncio.gather(*[self.worker(j * ramp / n) for j in range(n)])
        lag.cancel()
        mon.cancel()
        await asyncio.gather(mon, return_exceptions=True)

    def run_phase(self, k, conc, count, first):
        self.phase_failures = []
        self.late = []
        self.answered = {}
        label = "phase %d (%d in flight)" % (k, conc)
        log("%s: %d uploads" % (label, count))
        if self.a.background:
            self.bg_start(k)
            time.sleep(self.a.background / 250.0 + 2)  # its ramp
        t0 = time.monotonic()
        asyncio.run(self._run(label, first, count, conc))
        secs = time.monotonic() - t0
        done = self.done
        if self.a.background:
            res_bg = self.bg_stop_and_read()
            log("%s: background load: %s" % (label, json.dumps(res_bg)[:600]))
        res = {"concurrency": conc, "uploads": done, "seconds": round(secs, 1),
               "rate_per_s": round(done / max(secs, 1e-6), 1),
               "gib_up": round(self.bytes / 2.0 ** 30, 2),
               "failures": len(self.phase_failures), "late_answers": len(self.late),
               "late_examples": self.late[:50], "loop_lag_max_ms": round(self.max_lag * 1000)}
        if self.a.background:
            res["background"] = res_bg
        res["hiccups"] = self.hiccups()
        log("%s: %d uploads in %.0f s (%.1f/s), %.2f GiB, %d failed, %d answers later than "
            "%.1f s" % (label, done, secs, res["rate_per_s"], res["gib_up"], res["failures"],
                        len(self.late), self.a.late_after))
        self.failures.extend(self.phase_failures)
        return res

    def hiccups(self):
        """Near misses, from the sink's records of this phase's uploads
        joined with the client's: the longest pause inside each upload as
        the sink saw it (upload direction), and how long the answer took
        from the sink's write to the client's read (answer direction).  A
        stall that something (the plugin's periodic re-check, a retry in
        ATS) ended before a timeout shows up here as an outlier."""
        time.sleep(1.5)  # the sink flushes its records every second
        gaps, transits = [], []
        try:
            with open(self.origin_records) as f:
                f.seek(getattr(self, "origin_offset", 0))
                for line in f:
                    if not line.endswith("\n"):
                        break
                    self.origin_offset = getattr(self, "origin_offset", 0) + len(line.encode())
                    o = json.loads(line)
                    c = self.answered.get((o.get("n"), o.get("off")))
                    if c is None or o.get("t_answer") is None:
                        continue
                    i, port, t_ans = c
                    gaps.append((o["max_gap"], i, port, o["max_gap_at"], o["n"]))
                    transits.append((round(t_ans - o["t_answer"], 4), i, port, o["n"]))
        except OSError as e:
            return {"error": repr(e)}

        def dist(v):
            xs = sorted(x[0] for x in v)
            if not xs:
                return None
            q = lambda p: xs[min(len(xs) - 1, int(math.ceil(p * len(xs))) - 1)]
            return {"n": len(xs), "p50_ms": round(q(0.5) * 1000, 1),
                    "p99_ms": round(q(0.99) * 1000, 1), "p999_ms": round(q(0.999) * 1000, 1),
                    "max_ms": round(xs[-1] * 1000, 1),
                    "over_250ms": sum(1 for x in xs if x > 0.25),
                    "over_1s": sum(1 for x in xs if x > 1.0)}
        out = {"upload_max_gap": dist(gaps), "answer_transit": dist(transits),
               "worst_upload_gaps": [dict(zip(("gap_s", "upload", "client_port", "at_byte",
                                               "n"), g)) for g in sorted(gaps)[-20:]],
               "worst_answer_transits": [dict(zip(("transit_s", "upload", "client_port", "n"),
                                                  t)) for t in sorted(transits)[-20:]]}
        log("  sink-side pauses inside uploads: %s; answer transit sink->client: %s" % (
            out["upload_max_gap"], out["answer_transit"]))
        return out

    # ------------------------------------------------------------- evidence
    def evidence(self, r):
        """The logs' lines for one failed upload, and the origin's record.
        Client ports are reused, so every line is also matched by time: it
        ended between the upload's start and a little after its end."""
        soak = self.soak
        port = r.get("port")
        out = {}
        try:
            out["origin"] = origin_query(self.ports["control"], "GET %d %d" % (r["n"], r["off"]))
        except Exception as e:
            out["origin"] = {"error": repr(e)}
        if not port:
            return out
        lo, hi = r["t0"] - 1.0, r["t0"] + r.get("t_end", 0) + 3.0
        expected_up = r["n"] + len(b"SINK %d %d\n" % (r["n"], r["off"]))
        ing = self.ingress.logdir
        out["ingress tls_bridge.log"] = [
            l for l in soak._lines_with(os.path.join(ing, "tls_bridge.log"),
                                        " client=%s:%d " % (LOOP, port))
            if soak._tb_log_epoch(l) is not None and lo - 1 <= soak._tb_log_epoch(l) <= hi + 1]

        def near(l):
            e = soak._access_end(l)
            return e is not None and lo <= e <= hi

        def matches(l):
            # Same upload: the tunnel's bytes up (the ingress's internal
            # transaction also counts the client's CONNECT, < 600 bytes), or a
            # transaction that lasted as long as a stuck one.
            up = soak._access_field(l, "up")
            parts = l.split()
            long_ = len(parts) > 1 and parts[1].isdigit() and int(parts[1]) >= 5000
            return long_ or (up is not None and expected_up <= up <= expected_up + 600)

        acc = [l for l in soak._lines_with(os.path.join(ing, "access.log"), " CONNECT ") if near(l)]
        out["ingress access.log (client transaction)"] = [
            l for l in acc if " %s:%d " % (LOOP, port) in l and "https://" not in l]
        out["ingress access.log (internal transaction to the peer)"] = [
            l for l in acc if "https://" in l and matches(l)]
        out["peer access.log"] = [
            l for l in soak._lines_with(os.path.join(self.peer.logdir, "access.log"), " CONNECT ")
            if near(l) and matches(l)]
        if self.a.debug:
            ids = set()
            for l in out["ingress tls_bridge.log"]:
                m = re.search(r"\bid=(\d+)", l)
                if m:
                    ids.add(m.group(1))
            dbg = []
            for tid in ids:
                dbg += soak._lines_with(self.ingress.stdout_path, "[%s] " % tid)[:200]
            out["ingress debug (tls_bridge tag)"] = dbg
        return out


def run_background(a):
    """--run-background K: K of the soak's tunnels at a time (soak.Soak.one,
    --background-mix) until SIGTERM; then the tunnels in flight finish and
    the counters go to --record-file as JSON."""
    import soak
    bg = soak.Soak(soak.parse_args(["--mix", a.background_mix, "--seed", str(a.seed)]))
    bg.ports = {"ingress": a.ingress_port, "echo": a.echo_port, "bulk": a.sink_port}
    bg.reset_counters()
    state = {"stop": False, "next": 0}

    def stop(signum, frame):
        state["stop"] = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    async def worker(delay):
        await asyncio.sleep(delay)
        while not state["stop"]:
            state["next"] += 1
            await bg.one(state["next"])

    async def run():
        bg.loop = asyncio.get_running_loop()
        k = a.run_background
        await asyncio.gather(*[worker(j / 250.0) for j in range(k)])
    asyncio.run(run())
    out = {kind: c for kind, c in bg.phase.items() if c["count"]}
    out["failure_examples"] = bg.failure_examples[:20]
    with open(a.record_file, "w") as f:
        json.dump(out, f)
    return 0


def _ss_lines(text, port):
    """The ss lines (with their info line) of sockets with this port at either end."""
    out = []
    lines = text.splitlines()
    pat = re.compile(r":%d\s" % port)
    for k, l in enumerate(lines):
        if pat.search(l + " "):
            out.append(l.strip())
            if k + 1 < len(lines) and lines[k + 1].startswith(("\t", " ")):
                out.append(lines[k + 1].strip()[:300])
    return out


def size(text):
    m = re.fullmatch(r"(\d+)\s*([KkMm]i?[Bb]?)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError("bad size %r" % text)
    n = int(m.group(1))
    u = (m.group(2) or "").lower()[:1]
    return n << 10 if u == "k" else n << 20 if u == "m" else n


def phases(text):
    out = []
    for part in text.split(","):
        c, _, n = part.partition(":")
        out.append((int(c), int(n)))
    return out


def bound95(failures, n):
    """One-sided 95 % upper bound on a rate after `failures` in n (exact
    binomial, Clopper-Pearson; 0 in n gives ~3/n)."""
    if n <= 0:
        return None
    if failures >= n:
        return 1.0
    lo, hi = failures / n, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        # P(X <= failures) at rate mid
        p, term = 0.0, (1 - mid) ** n
        for k in range(failures + 1):
            if k:
                term *= (n - k + 1) / k * mid / (1 - mid)
            p += term
        if p > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve-origin", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sink-port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--control-port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--record-file", help=argparse.SUPPRESS)
    ap.add_argument("--echo-port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--run-background", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--ingress-port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--background", type=int, default=0,
                    help="also keep this many of the soak's tunnels going during each "
                         "phase (soak.Soak.one, mix --background-mix; default 0)")
    ap.add_argument("--background-mix", default="echo=72,abort=20,bulk=0",
                    help="the background's mix (soak --mix; default echo=72,abort=20,bulk=0: "
                         "the soak's without its bulk transfers; echo=72,abort=20,bulk=8 is "
                         "the soak's own)")
    ap.add_argument("--plugin", default=os.environ.get("TB_PLUGIN") or
                    os.path.join(REPO, "build", "tls_bridge.so"))
    ap.add_argument("--plugin-args", default="", help="plugin.config arguments before the rule")
    ap.add_argument("--phases", type=phases, default=phases("1:1000,50:20000,500:20000"),
                    help="C:N,... N uploads with at most C in flight, in order "
                         "(default 1:1000,50:20000,500:20000)")
    ap.add_argument("--size-min", type=size, default=size("256K"))
    ap.add_argument("--size-max", type=size, default=size("4M"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--debug", action="store_true",
                    help="debug tag tls_bridge on the ingress (traffic_server.out)")
    ap.add_argument("--no-manager", action="store_true",
                    help="ingress without traffic_manager (no tunnel dump on a stall)")
    ap.add_argument("--dump-on-stall", type=int, default=1,
                    help="plugin msg tls_bridge tunnels on a stall (default 1)")
    ap.add_argument("--stall-after", type=float, default=8.0,
                    help="snapshot an upload still unanswered this long after it was sent, s")
    ap.add_argument("--answer-timeout", type=float, default=120.0,
                    help="give up waiting for the answer after this, s (ATS's own 30 s "
                         "no-activity timeout normally ends a stuck tunnel first)")
    ap.add_argument("--max-snapshots", type=int, default=20,
                    help="stall snapshots at most (each runs ss and traffic_ctl; default 20)")
    ap.add_argument("--late-after", type=float, default=2.0,
                    help="count answers that came this long after the upload was sent, s")
    ap.add_argument("--close-wait", type=float, default=10.0,
                    help="the service's FIN must follow the answer within this, s (as the soak)")
    ap.add_argument("--all-records", action="store_true",
                    help="every upload's record in uploads.jsonl (workspace kept)")
    ap.add_argument("--progress", type=float, default=30.0)
    ap.add_argument("--json", default=os.path.join(REPO, "build", "soak-upload.json"))
    a = ap.parse_args(argv)
    if a.serve_origin:
        origin_mod.raise_nofile()
        asyncio.run(serve_origin(a))
        return 0
    if a.run_background:
        origin_mod.raise_nofile()
        return run_background(a)
    a.plugin_args = a.plugin_args.split()
    if not os.path.exists(a.plugin):
        raise SystemExit("upload_repro: no plugin at %s (make build)" % a.plugin)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rep = Repro(a)

    def on_signal(signum, frame):
        # First SIGINT/SIGTERM: start nothing new, let the uploads in flight
        # finish, report and stop every process; second: stop at once.
        if getattr(rep, "stopping", False):
            raise KeyboardInterrupt
        rep.stopping = True
        log("signal %d: finishing the uploads in flight (again to stop at once)" % signum)
        rep.end = getattr(rep, "next", 0)
        rep.skip_phases = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    result = {"params": {k: v for k, v in vars(a).items() if not k.startswith(("sink", "control",
                                                                             "record", "serve"))},
              "started": time.strftime("%Y-%m-%d %H:%M:%S"), "phases": []}
    code = 1
    try:
        rep.start()
        result["workspace"] = rep.ws.path
        first = 0
        for k, (conc, count) in enumerate(a.phases):
            if getattr(rep, "skip_phases", False):
                break
            result["phases"].append(rep.run_phase(k + 1, conc, count, first))
            first += count
            if not rep.ingress.alive() or not rep.peer.alive():
                break
        time.sleep(3.0)  # tls_bridge.log and access logs flush every second
        for r in rep.failures[:50]:
            r["evidence"] = rep.evidence(r)
        try:
            result["ingress_stats"] = rep.read_stats()
        except Exception as e:
            result["ingress_stats"] = {"error": repr(e)}
        try:
            result["origin_stats"] = origin_query(rep.ports["control"], "STATS")
        except Exception as e:
            result["origin_stats"] = {"error": repr(e)}
        result["ingress_alive"], result["peer_alive"] = rep.ingress.alive(), rep.peer.alive()
        total = sum(p["uploads"] for p in result["phases"])
        nfail = len(rep.failures)
        result.update({"uploads": total, "failed": nfail, "stalls_seen": rep.stalls,
                       "failure_rate_bound95": bound95(nfail, total),
                       "failures": rep.failures[:50]})
        for p in result["phases"]:
            p["failure_rate_bound95"] = bound95(p["failures"], p["uploads"])
        code = 0 if nfail == 0 and result["ingress_alive"] and result["peer_alive"] else 1
    except KeyboardInterrupt:
        result["interrupted"] = True
    finally:
        if getattr(rep, "ws", None) is not None:
            if code != 0 or a.all_records or rep.failures or rep.stalls:
                rep.ws.mark_failed()
                result["kept_workspace"] = rep.ws.path
            with open(os.path.join(rep.ws.path, "failures.jsonl"), "w") as f:
                for r in rep.failures:
                    f.write(json.dumps(r) + "\n")
            rep.stop()
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write("\n")
    print("=" * 72)
    for p in result["phases"]:
        print("%4d in flight: %6d uploads in %6.0f s (%5.1f/s, %.2f GiB), %d failed; "
              "95%% bound on the failure rate %.2g" % (
                  p["concurrency"], p["uploads"], p["seconds"], p["rate_per_s"], p["gib_up"],
                  p["failures"], p["failure_rate_bound95"] or 0))
    if "uploads" in result:
        print("total %d uploads, %d failed (95%% bound %.2g), %d stall snapshots" % (
            result["uploads"], result["failed"], result["failure_rate_bound95"] or 0,
            result["stalls_seen"]))
    for r in rep.failures[:5]:
        print("  upload %d port %s: %s" % (r["i"], r["port"], r["error"]))
        for where, lines in (r.get("evidence") or {}).items():
            if isinstance(lines, list):
                for l in lines[:4]:
                    print("      %s: %s" % (where, str(l)[:240]))
            else:
                print("      %s: %s" % (where, json.dumps(lines)[:400]))
    print("summary: %s%s" % (a.json, ("; workspace kept: " + result["kept_workspace"])
                             if result.get("kept_workspace") else ""))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
