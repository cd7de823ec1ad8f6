#!/usr/bin/env python3
"""Smoke run of tls_bridge on ATS 10.x: the proof for issue 10 until the
harness runs its suite on 10.x.

    python3 tests/e2e/ats10_smoke.py [--plugin build/ats10/tls_bridge.so]
                                     [--prefix /opt/ats-10.2.0] [--keep]

A 10.x peer (TLS, client certificate required) and a 10.x ingress with the
plugin (and stats_over_http) on loopback, Python origins, then: bridged
CONNECTs with byte checks both ways, metrics through traffic_ctl and
stats_over_http, `traffic_ctl plugin msg` and `config reload` reaching the
plugin, the tunnel log, debug output; then the same CONNECT through 10.x's
own tls_bridge.so, and through our plugin with 10.x's stock ip_allow.yaml.
Records come from harness.py's 9.2 dictionaries through ats10.records_yaml.
Exit status 0 when every check passed; the logs are kept on failure.
"""

import argparse
import hashlib
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.request

# Every metric the plugin defines (src/ats/stats.c is the list).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "ats", "stats.c")) as f:
    METRICS = sorted(set(re.findall(r'"(plugin\.tls_bridge\.[a-z_.]+)"', f.read())))

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ats10  # noqa: E402
import harness  # noqa: E402
from harness import LOOPBACK4, PEER_HOST, SERVICE_HOST, open_tunnel  # noqa: E402

MIB = 1 << 20
results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""), flush=True)
    return ok


def start(inst, port):
    inst.start()
    if not harness.wait_for_port(port, timeout=30, proc_alive=inst.alive):
        raise RuntimeError("%s did not listen on %d\n%s" % (inst.name, port, inst.log("traffic_server.out")[-3000:]))
    # 10.2 loads the hosts file about 1 s after it starts listening, and a
    # name looked up before that keeps failing long after (see ats10.py).
    time.sleep(ats10.HOSTS_FILE_DELAY)


def echo_ok(port, target_port, payload=b"ping\n", timeout=3.0):
    with open_tunnel(port, SERVICE_HOST, target_port, timeout=timeout) as t:
        if t.status != 200:
            return False
        t.sendall(payload)
        return t.recv_exact(len(payload)) == payload


def wait_bridged(inst, port, echo_port, timeout=45.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline and inst.alive():
        try:
            if echo_ok(port, echo_port):
                return True
        except Exception as e:  # retried: the hosts file may not be loaded yet
            last = e
        time.sleep(0.3)
    print("  (last error: %r)" % (last,))
    return False


def upload(port, sink_port, n, seed):
    data_sha = harness.random_sha256(n, seed)
    with open_tunnel(port, SERVICE_HOST, sink_port, timeout=60) as t:
        t.sendall(b"SINK %d\n" % n)
        for chunk in harness.random_stream(n, seed):
            t.sendall(chunk)
        line = t.recv_line().decode().split()
    return line == [data_sha, str(n)], "sink got %s, sent %s %d" % (line, data_sha[:16], n)


def download(port, source_port, n, seed):
    with open_tunnel(port, SERVICE_HOST, source_port, timeout=60) as t:
        t.sendall(b"SOURCE %d %d hold\n" % (n, seed))
        h = hashlib.sha256()
        got = 0
        while got < n:
            data = t.recv(min(MIB, n - got))
            if not data:
                break
            h.update(data)
            got += len(data)
    want = harness.random_sha256(n, seed)
    return got == n and h.hexdigest() == want, "%d of %d bytes, sha256 %s" % (
        got, n, "matches" if h.hexdigest() == want else "differs")


def duplex(port, echo_port, n, seed):
    """Send n bytes while reading the echo at the same time."""
    with open_tunnel(port, SERVICE_HOST, echo_port, timeout=60) as t:
        def send():
            for chunk in harness.random_stream(n, seed, chunk=256 << 10):
                t.sendall(chunk)
        th = threading.Thread(target=send)
        th.start()
        h = hashlib.sha256()
        got = 0
        while got < n:
            data = t.recv(min(MIB, n - got))
            if not data:
                break
            h.update(data)
            got += len(data)
        th.join()
    return got == n and h.hexdigest() == harness.random_sha256(n, seed), "%d of %d bytes echoed" % (got, n)


def peer_accepts_anonymous(peer_port):
    """True if the peer completes a CONNECT over TLS without a client cert."""
    ctx = ssl.create_default_context(cafile=CERTS.ca_cert)
    try:
        with socket.create_connection((LOOPBACK4, peer_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=PEER_HOST) as s:
                s.sendall(b"CONNECT x:1 HTTP/1.1\r\n\r\n")
                return s.recv(100).startswith(b"HTTP/")
    except (OSError, ssl.SSLError):
        return False


def wait_metrics(inst, want, timeout=20.0):
    """Poll traffic_ctl metric match until each metric in want is >= its value."""
    deadline = time.monotonic() + timeout
    while True:
        got = {k: int(v) for k, v in inst.metrics(r"^plugin\.tls_bridge\.").items()}
        if all(got.get(k, -1) >= v for k, v in want.items()) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def main():
    ws = harness.Workspace(prefix="tb-ats10-", keep=ARGS.keep)
    global CERTS
    certs = CERTS = harness.Certs(os.path.join(ws.path, "certs"))
    names = ["ingress", "peer", "ref", "stock", "echo", "sink", "source"]
    ports = dict(zip(names, harness.free_ports(len(names))))
    servers = [harness.TcpServer(harness.echo_handler, port=ports["echo"], name="echo"),
               harness.TcpServer(harness.sink_handler, port=ports["sink"], name="sink"),
               harness.TcpServer(harness.source_handler, port=ports["source"], name="source")]
    service_ports = [ports["echo"], ports["sink"], ports["source"]]
    peer_arg = "%s:%d" % (PEER_HOST, ports["peer"])
    instances = []

    def ingress_records(inst_dir, port):
        r = harness.base_records(inst_dir, "%d:ip-in=%s" % (port, LOOPBACK4))
        r.update(harness.ingress_records(certs, [ports["peer"]] + service_ports))
        return r

    try:
        peer_dir = ws.mkdir("peer")
        records = harness.base_records(peer_dir, "%d:ssl:ip-in=%s" % (ports["peer"], LOOPBACK4))
        records.update(harness.peer_records(certs, service_ports))
        peer = ats10.Instance(peer_dir, prefix=ARGS.prefix)
        peer.name = "peer"
        peer.write_config(records, hosts={SERVICE_HOST: LOOPBACK4},
                          ssl_multicert_lines=["dest_ip=* ssl_cert_name=%s ssl_key_name=%s"
                                               % (certs.peer_cert, certs.peer_key)])
        instances.append(peer)
        start(peer, ports["peer"])

        status, _ = harness.peer_connect_status(ports["peer"], certs, SERVICE_HOST, ports["echo"])
        check("peer answers a TLS CONNECT made with the ingress's client certificate", status == 200,
              "status %s" % status)
        check("peer refuses a TLS client without a certificate", not peer_accepts_anonymous(ports["peer"]))

        ing_dir = ws.mkdir("ingress")
        ing = ats10.Instance(ing_dir, prefix=ARGS.prefix)
        ing.name = "ingress"
        ing.write_config(ingress_records(ing_dir, ports["ingress"]),
                         hosts={PEER_HOST: LOOPBACK4, "direct.test": LOOPBACK4},
                         plugin_lines=["stats_over_http.so",
                                       "%s service[.]internal %s" % (ARGS.plugin, peer_arg)])
        instances.append(ing)
        start(ing, ports["ingress"])
        print("records.yaml of the ingress:\n" + open(os.path.join(ing.etc, "records.yaml")).read())

        p = ports["ingress"]
        if not check("bridged CONNECT (echo) through our plugin on 10.x",
                     wait_bridged(ing, p, ports["echo"])):
            raise RuntimeError("ingress never bridged")
        check("plugin loaded and configured (diags.log)", "rule loaded" in ing.log("diags.log") or
              "rules loaded" in ing.log("diags.log"),
              " | ".join([l for l in ing.log("diags.log").splitlines() if "tls_bridge" in l][:2]))
        check("upload 8 MiB, sha256 at the service", *upload(p, ports["sink"], 8 * MIB, 11))
        check("download 8 MiB, sha256 at the client", *download(p, ports["source"], 8 * MIB, 12))
        check("full duplex 4 MiB echo", *duplex(p, ports["echo"], 4 * MIB, 13))

        got = wait_metrics(ing, {"plugin.tls_bridge.tunnels.started": 4,
                                 "plugin.tls_bridge.tunnels.completed": 4,
                                 "plugin.tls_bridge.bytes.client_to_peer": 12 * MIB,
                                 "plugin.tls_bridge.bytes.peer_to_client": 12 * MIB})
        check("traffic_ctl metric match plugin.tls_bridge",
              got.get("plugin.tls_bridge.tunnels.started", 0) >= 4 and
              got.get("plugin.tls_bridge.bytes.client_to_peer", 0) >= 12 * MIB and
              got.get("plugin.tls_bridge.bytes.peer_to_client", 0) >= 12 * MIB and
              sorted(got) == METRICS, "%d metrics (%d in stats.c): %s" % (
                  len(got), len(METRICS), json.dumps(got, sort_keys=True)))
        with urllib.request.urlopen("http://%s:%d/_stats" % (LOOPBACK4, p), timeout=5) as r:
            stats = json.load(r)["global"]
        ours = {k: v for k, v in stats.items() if k.startswith("plugin.tls_bridge.")}
        check("stats_over_http /_stats", int(ours.get("plugin.tls_bridge.tunnels.started", 0)) >= 4,
              "%d plugin.tls_bridge.* entries, tunnels.started=%s" % (
                  len(ours), ours.get("plugin.tls_bridge.tunnels.started")))

        # A tunnel held open while the plugin lists its tunnels.
        with open_tunnel(p, SERVICE_HOST, ports["echo"], timeout=10) as held:
            held.sendall(b"hold\n")
            held.recv_exact(5)
            off = len(ing.log("diags.log"))
            r = ing.ctl("plugin", "msg", TB_TAG, "tunnels")
            text = ing.wait_log("diags.log", "open tunnel", after=off)
            check("traffic_ctl plugin msg tls_bridge tunnels", r.returncode == 0 and text and
                  "tunnel id=" in text, "rc %d; diags: %s" % (r.returncode, (text or "").strip()[-400:]))
        off = len(ing.log("diags.log"))
        r = ing.ctl("plugin", "msg", TB_TAG, "match service.internal:443")
        text = ing.wait_log("diags.log", "match service.internal:443", after=off)
        check("traffic_ctl plugin msg tls_bridge match", r.returncode == 0 and text and "rule 1" in text,
              (text or "").strip()[-300:])
        off = len(ing.log("diags.log"))
        r = ing.ctl("plugin", "msg", TB_TAG, "version")
        text = ing.wait_log("diags.log", "running in Traffic Server", after=off)
        check("traffic_ctl plugin msg tls_bridge version", r.returncode == 0 and text and
              "built against ATS 10." in text and "running in Traffic Server 10." in text,
              (text or "").strip()[-300:])
        off = len(ing.log("diags.log"))
        r = ing.ctl("config", "reload")
        text = ing.wait_log("diags.log", "reload (traffic_ctl config reload)", after=off)
        check("traffic_ctl config reload reaches the plugin", r.returncode == 0 and text and
              "configuration 2 in force" in text, "rc %d %s; diags: %s" % (
                  r.returncode, r.stdout.strip(), (text or "").strip()[-300:]))
        off = len(ing.log("diags.log"))
        r = ing.ctl("plugin", "msg", TB_TAG, "reload")
        text = ing.wait_log("diags.log", "configuration 3 in force", after=off)
        check("traffic_ctl plugin msg tls_bridge reload", r.returncode == 0 and text,
              (text or "").strip()[-300:])
        check("bridging after the reloads", echo_ok(p, ports["echo"]))
        got = wait_metrics(ing, {"plugin.tls_bridge.reloads.done": 2})
        check("reloads.done metric", got.get("plugin.tls_bridge.reloads.done") == 2,
              "reloads.done=%s" % got.get("plugin.tls_bridge.reloads.done"))

        deadline = time.monotonic() + 20  # the log is flushed about once a second
        while True:
            lines = [l for l in ing.log("tls_bridge.log").splitlines() if " id=" in l]
            if len(lines) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        check("tunnel log %s/tls_bridge.log" % ing.logdir, len(lines) >= 5,
              "%d lines; first: %s" % (len(lines), lines[0] if lines else "-"))
        out = ing.log("traffic_server.out")
        dbg = [l for l in out.splitlines() if "(tls_bridge)" in l or "<ts_api10.cc" in l or
               "matches rule" in l]
        check("debug output (tb_debug via DbgCtl) in traffic_server.out (stderr)", dbg,
              "%d lines; e.g. %s" % (len(dbg), dbg[0][:200] if dbg else "-"))
        unknown = [l for inst in (ing, peer) for name in ("diags.log", "traffic_server.out")
                   for l in inst.log(name).splitlines()
                   if any(w in l for w in ats10.RECORD_COMPLAINTS)]
        check("no invalid, unknown or deprecated records", not unknown, "; ".join(unknown)[:600])
        errs = [l for l in ing.log("error.log").splitlines() if "tls_bridge" in l]
        check("no tls_bridge lines in error.log", not errs, "; ".join(errs)[:400])
        check("ingress still running", ing.alive())
        rc = ing.stop()
        check("ingress stops on SIGTERM", rc is not None, "exit status %s" % rc)

        # 10.x's own tls_bridge.so, loaded the same way.
        ref_dir = ws.mkdir("ref")
        ref = ats10.Instance(ref_dir, prefix=ARGS.prefix)
        ref.name = "ref"
        ref.write_config(ingress_records(ref_dir, ports["ref"]), hosts={PEER_HOST: LOOPBACK4},
                         plugin_lines=["tls_bridge.so service[.]internal %s" % peer_arg])
        instances.append(ref)
        start(ref, ports["ref"])
        check("reference tls_bridge.so (10.2) bridges the same CONNECT",
              wait_bridged(ref, ports["ref"], ports["echo"]))
        check("reference: full duplex 1 MiB echo", *duplex(ports["ref"], ports["echo"], MIB, 14))
        ref.stop()

        # Our plugin behind 10.x's stock ip_allow.yaml (deny CONNECT to loopback).
        st_dir = ws.mkdir("stock")
        st = ats10.Instance(st_dir, prefix=ARGS.prefix)
        st.name = "stock"
        stock_ip_allow = open(os.path.join(ARGS.prefix, "etc/trafficserver/ip_allow.yaml")).read()
        st.write_config(ingress_records(st_dir, ports["stock"]), hosts={PEER_HOST: LOOPBACK4},
                        plugin_lines=["%s service[.]internal %s" % (ARGS.plugin, peer_arg)],
                        ip_allow=stock_ip_allow)
        instances.append(st)
        start(st, ports["stock"])
        time.sleep(3)  # hosts file
        status = None
        try:
            with open_tunnel(ports["stock"], SERVICE_HOST, ports["echo"], timeout=10) as t:
                status = t.status
        except Exception as e:
            status = repr(e)
        why = [l for l in st.log("traffic_server.out").splitlines() if "refuse" in l]
        check("stock ip_allow.yaml: the bridge's CONNECT to a loopback peer is refused (informative)",
              status != 200, "client got %s; debug: %s; tls_bridge.log: %s" % (
                  status, why[0][why[0].find("(tls_bridge)"):] if why else "-",
                  (st.wait_log("tls_bridge.log", "id=", timeout=10) or "").strip()[-300:]))
        st.stop()
    except Exception as e:
        check("no exception", False, repr(e))
    finally:
        for inst in instances:
            inst.stop()
        for s in servers:
            s.stop()
        failed = [r for r in results if not r[1]]
        if failed:
            ws.mark_failed()
            for inst in instances:
                for name in ("traffic_server.out", "diags.log", "error.log"):
                    print("---- %s %s\n%s" % (inst.name, name, inst.log(name)[-4000:]))
        print("%d checks, %d failed; files in %s%s" % (
            len(results), len(failed), ws.path, " (kept)" if failed or ARGS.keep else " (removed)"))
    return 1 if any(not r[1] for r in results) else 0


TB_TAG = "tls_bridge"
CERTS = None  # harness.Certs of the run

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plugin", default=os.path.join(harness.REPO_ROOT, "build", "ats10", "tls_bridge.so"))
    ap.add_argument("--prefix", default=ats10.PREFIX)
    ap.add_argument("--keep", action="store_true")
    ARGS = ap.parse_args()
    ARGS.plugin = os.path.abspath(ARGS.plugin)
    sys.exit(main())
