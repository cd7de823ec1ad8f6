#!/usr/bin/env python3
"""Smoke run of tls_bridge on ATS 10.x: half a minute, no pytest.

    TB_ATS=/opt/ats-10.2.0 python3 tests/e2e/ats10_smoke.py [--plugin build/ats10/tls_bridge.so] [--keep]
    make smoke-ats10 ATS=/opt/ats-10.2.0

The whole e2e suite runs on 10.x (`make e2e ATS=PREFIX`); this is the quick
look before it, built from the same harness (harness.AtsInstall says what
differs on 10.x).  A 10.x peer (TLS, client certificate required) and a
10.x ingress with the plugin and stats_over_http on loopback, Python
origins, then: bridged CONNECTs with byte checks both ways, every metric
through traffic_ctl (JSON-RPC to traffic_server) and stats_over_http,
`traffic_ctl plugin msg` and `config reload` reaching the plugin, the
tunnel log, debug output on stdout, no record 10.x did not take; then the
same CONNECT through 10.x's own tls_bridge.so, and through our plugin
behind 10.x's stock ip_allow.yaml (which refuses the bridge's CONNECT to a
loopback peer: why the harness writes its own).  Exit status 0 when every
check passed; the logs are kept on failure.
"""

import argparse
import hashlib
import os
import re
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import ATS, LOOPBACK4, PEER_HOST, SERVICE_HOST, open_tunnel  # noqa: E402
from tbtest import metrics  # noqa: E402
from tbtest.wait import poll  # noqa: E402

MIB = 1 << 20
# Every metric the plugin defines (src/ats/stats.c is the list).
with open(os.path.join(harness.REPO_ROOT, "src", "ats", "stats.c")) as f:
    METRICS = sorted(set(re.findall(r'"plugin\.tls_bridge\.([a-z_.]+)"', f.read())))
# What 10.2 prints at start about a records.yaml entry it does not take
# (unknown name, bad value, deprecated name); it starts anyway.
RECORD_COMPLAINTS = ("Ignoring field", "Validity Check error", "is deprecated")

results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""), flush=True)
    return ok


def echo_ok(port, echo_port, payload=b"ping\n", timeout=3.0):
    with open_tunnel(port, SERVICE_HOST, echo_port, timeout=timeout) as t:
        if t.status != 200:
            return False
        t.sendall(payload)
        return t.recv_exact(len(payload)) == payload


def upload(port, sink_port, n, seed):
    with open_tunnel(port, SERVICE_HOST, sink_port, timeout=60) as t:
        t.sendall(b"SINK %d\n" % n)
        for chunk in harness.random_stream(n, seed):
            t.sendall(chunk)
        line = t.recv_line().decode().split()
    want = harness.random_sha256(n, seed)
    return line == [want, str(n)], "sink got %s, sent %s %d" % (line, want[:16], n)


def download(port, source_port, n, seed):
    with open_tunnel(port, SERVICE_HOST, source_port, timeout=60) as t:
        t.sendall(b"SOURCE %d %d hold\n" % (n, seed))
        got = t.recv_exact(n)
    return hashlib.sha256(got).hexdigest() == harness.random_sha256(n, seed), "%d bytes" % n


def duplex(port, echo_port, n, seed):
    """Send n bytes while reading the echo at the same time."""
    with open_tunnel(port, SERVICE_HOST, echo_port, timeout=60) as t:
        th = threading.Thread(target=lambda: [t.sendall(c) for c in
                                              harness.random_stream(n, seed, chunk=256 << 10)])
        th.start()
        got = t.recv_exact(n)
        th.join()
    return hashlib.sha256(got).hexdigest() == harness.random_sha256(n, seed), "%d bytes echoed" % n


def log_text(inst, name):
    path = inst.stdout_path if name == "traffic_server.out" else os.path.join(inst.logdir, name)
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def main(args):
    if ATS.major < 10:
        print("ats10_smoke: runs on ATS 10.x only; TB_ATS selects it (now: %s)" % ATS)
        return 2
    ws = harness.Workspace(prefix="tb-ats10-", keep=args.keep)
    certs = harness.Certs(os.path.join(ws.path, "certs"))
    names = ["ingress", "peer", "ref", "stock", "echo", "sink", "source"]
    ports = dict(zip(names, harness.free_ports(len(names))))
    servers = [harness.TcpServer(h, port=ports[n], name=n) for n, h in
               (("echo", harness.echo_handler), ("sink", harness.sink_handler),
                ("source", harness.source_handler))]
    services = [ports["echo"], ports["sink"], ports["source"]]
    peer_arg = "%s:%d" % (PEER_HOST, ports["peer"])
    hosts = {PEER_HOST: LOOPBACK4, "direct.test": LOOPBACK4}

    def ingress(name, plugin, **kw):
        inst = harness.make_ingress(ws, certs, ports[name], plugin, [r"service[.]internal", peer_arg],
                                    [ports["peer"]] + services, hosts, name=name, **kw)
        inst.start()
        inst.wait_listening()
        return inst

    instances = []
    try:
        peer = harness.make_peer(ws, certs, ports["peer"], services, {SERVICE_HOST: LOOPBACK4})
        instances.append(peer)
        peer.start()
        peer.wait_listening()
        status, _ = harness.peer_connect_status(ports["peer"], certs, SERVICE_HOST, ports["echo"])
        check("peer answers a TLS CONNECT made with the ingress's client certificate",
              status == 200, "status %s" % status)

        ing = ingress("ingress", args.plugin, extra_plugin_lines=["stats_over_http.so"])
        instances.append(ing)
        p = ing.port
        if not check("bridged CONNECT (echo) through our plugin on %s" % ATS, echo_ok(p, ports["echo"])):
            raise RuntimeError("ingress does not bridge")
        check("upload 8 MiB, sha256 at the service", *upload(p, ports["sink"], 8 * MIB, 11))
        check("download 8 MiB, sha256 at the client", *download(p, ports["source"], 8 * MIB, 12))
        check("full duplex 4 MiB echo", *duplex(p, ports["echo"], 4 * MIB, 13))

        want = {"tunnels.started": 4, "bytes.client_to_peer": 12 * MIB,
                "bytes.peer_to_client": 12 * MIB}
        got = metrics.wait_metrics(
            lambda: metrics.from_traffic_ctl(lambda *a: ing.ctl(*a, check=False)), want)
        check("traffic_ctl metric match %s: every metric" % metrics.CTL_PATTERN,
              metrics.satisfied(got, want) and sorted(k for k in got if not k.startswith("peer.")) == METRICS,
              "%d metrics (%d in stats.c)" % (len(got), len(METRICS)))
        got = ing.wait_metrics(want)
        check("stats_over_http /_stats", metrics.satisfied(got, want), "tunnels.started=%s"
              % got.get("tunnels.started"))

        with open_tunnel(p, SERVICE_HOST, ports["echo"], timeout=10) as held:
            held.sendall(b"hold\n")
            held.recv_exact(5)
            ing.ctl("plugin", "msg", "tls_bridge", "tunnels")
            text = ing.wait_log(" open tunnel")
            check("traffic_ctl plugin msg tls_bridge tunnels", "tunnel id=" in text)
        ing.ctl("plugin", "msg", "tls_bridge", "match service.internal:443")
        ing.wait_log("match service.internal:443: rule 1")
        check("traffic_ctl plugin msg tls_bridge match", True)
        ing.ctl("plugin", "msg", "tls_bridge", "version")
        text = ing.wait_log("running in Traffic Server")
        check("traffic_ctl plugin msg tls_bridge version",
              "built against ATS 10." in text and "running in Traffic Server 10." in text)
        ing.ctl("config", "reload")
        ing.wait_log("reload (traffic_ctl config reload): configuration 2 in force")
        check("traffic_ctl config reload reaches the plugin", True)
        ing.ctl("plugin", "msg", "tls_bridge", "reload")
        ing.wait_log("configuration 3 in force")
        check("traffic_ctl plugin msg tls_bridge reload", True)
        check("bridging after the reloads", echo_ok(p, ports["echo"]))

        def tunnel_lines():
            return [l for l in log_text(ing, "tls_bridge.log").splitlines() if " id=" in l]
        lines = poll(tunnel_lines, lambda lines: len(lines) >= 5, 20)
        check("tunnel log %s/tls_bridge.log" % ing.logdir, len(lines) >= 5, "%d lines" % len(lines))
        dbg = [l for l in log_text(ing, "traffic_server.out").splitlines() if "(tls_bridge)" in l]
        check("debug output (Dbg) in traffic_server.out", dbg, "%d lines" % len(dbg))
        unknown = [l for inst in (ing, peer) for name in ("diags.log", "traffic_server.out")
                   for l in log_text(inst, name).splitlines()
                   if any(w in l for w in RECORD_COMPLAINTS)]
        check("no invalid, unknown or deprecated records", not unknown, "; ".join(unknown)[:600])
        check("ingress still running", ing.alive())
        ing.stop()
        check("ingress stops on SIGTERM", ing.process.returncode() is not None,
              "exit status %s" % ing.process.returncode())

        ref = ingress("ref", ATS.reference_plugin)
        instances.append(ref)
        check("reference tls_bridge.so (%s) bridges the same CONNECT" % ATS.version,
              echo_ok(ref.port, ports["echo"]))
        check("reference: full duplex 1 MiB echo", *duplex(ref.port, ports["echo"], MIB, 14))
        ref.stop()

        with open(os.path.join(ATS.stock_config_dir, "ip_allow.yaml")) as f:
            stock = f.read()
        st = ingress("stock", args.plugin, extra_files={"etc/ip_allow.yaml": stock})
        instances.append(st)
        with open_tunnel(st.port, SERVICE_HOST, ports["echo"], timeout=10) as t:
            status, why = t.status, t.response.header("X-TLS-Bridge-Error")
        check("stock ip_allow.yaml: the bridge's CONNECT to a loopback peer is refused",
              status == 502, "client got %s; X-TLS-Bridge-Error: %s" % (status, why))
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
                print(inst.log_tail(40))
        print("%d checks, %d failed; files in %s%s" % (
            len(results), len(failed), ws.path, " (kept)" if failed or args.keep else " (removed)"))
    return 1 if any(not r[1] for r in results) else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plugin", default=ATS.default_plugin)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.plugin = os.path.abspath(args.plugin)
    sys.exit(main(args))
