#!/usr/bin/python3
"""Where an ingress spends its CPU: perf profiles of ours and the reference.

    bench/profile.py [--rounds N] [--mib N] [--trips N] [--out DIR]

Starts the e2e deployment (peer ATS, origins) and, for each plugin in turn, an
ingress; then records `perf record -e cpu-clock -g` on the ingress's
traffic_server (hardware counters are not available on these VMs) during
  bulk:  N downloads of --mib MiB through one tunnel each, and
  trips: --trips 100-byte echo round trips through one tunnel,
and prints the share of samples per shared object (kernel, libcrypto,
traffic_server, libc, tls_bridge.so, ...) and the measured rates.  The
perf.data files stay in --out for `perf report -i FILE`.  Loopback only;
everything it starts is stopped at the end.  docs/benchmarks.md quotes its
output under "What limits the targets that are not met".
"""

import argparse
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import harness  # noqa: E402
from harness import SERVICE_HOST, open_tunnel  # noqa: E402

PLUGINS = {
    "ours": os.path.join(REPO, "build", "tls_bridge.so"),
    "reference": "/usr/lib/trafficserver/modules/tls_bridge.so",
}


def download(ing, d, nbytes):
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["source"], timeout=120) as t:
        t.sendall(b"SOURCE %d 1 hold\n" % nbytes)
        got = 0
        while got < nbytes:
            chunk = t.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    return got


def trips(ing, d, n):
    msg = b"x" * 99 + b"\n"
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["echo"], timeout=60) as t:
        for _ in range(n):
            t.sendall(msg)
            t.recv_exact(len(msg))


def shares(path):
    out = subprocess.run(["perf", "report", "-i", path, "--stdio", "--no-children", "--sort", "dso"],
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith("%"):
            rows.append((parts[1], parts[0]))
    return rows


def profile(name, so, d, args, outdir):
    plugin_args = d.rules() if name == "reference" else ["--pool", "2"] + d.rules()
    d.plugin = so  # new_ingress writes plugin.config with d.plugin
    ing = d.new_ingress(name="ingress-" + name, port=harness.free_port(), plugin_args=plugin_args,
                        debug=False)
    ing.start()
    try:
        d.wait_bridged(ing)
        results = {}
        for kind in ("bulk", "trips"):
            path = os.path.join(outdir, "%s-%s.perf" % (name, kind))
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-g",
                                     "-p", str(ing.pid), "-o", path],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            t0 = time.monotonic()
            if kind == "bulk":
                moved = sum(download(ing, d, args.mib << 20) for _ in range(args.rounds))
                rate = "%.0f MiB/s" % ((moved >> 20) / (time.monotonic() - t0))
            else:
                trips(ing, d, args.trips)
                rate = "%.0f round trips/s" % (args.trips / (time.monotonic() - t0))
            perf.send_signal(2)
            perf.wait(timeout=30)
            results[kind] = (rate, shares(path))
        return results
    finally:
        ing.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--trips", type=int, default=4000)
    ap.add_argument("--out", default="/tmp/tb-profile")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    d = harness.Deployment(PLUGINS["ours"], debug=False)
    d.start()
    try:
        for name, so in PLUGINS.items():
            for kind, (rate, rows) in profile(name, so, d, args, args.out).items():
                print("== %s, %s: %s" % (name, kind, rate))
                for dso, pct in rows[:9]:
                    print("   %7s  %s" % (pct, dso))
    finally:
        d.stop()


if __name__ == "__main__":
    main()
