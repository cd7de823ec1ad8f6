#!/usr/bin/python3
"""Set-up latency at the peer with the peer role's policy (issue 13): many
CONNECTs through ingress -> peer, timed from the client's connect to the
ingress until the 200, for three peers side by side in the same run:

    none         the peer without this plugin (Traffic Server alone: the baseline)
    policy-1     this plugin in the peer role, a policy of one entry
    policy-1000  a policy of 1,000 entries, the client's entry the last one: 750
                 literal identities (found through the index) and 250 regex ones
                 (branch-N-gw-[0-9]+[.]corp[.]test), which the lookup runs one by
                 one before it may take the last literal entry: the worst place
                 for the client's entry

    client --> ingress-X [tls_bridge, client cert SAN DNS:branch-1.corp.test] ==TLS==> peer-X --> echo

Each configuration has its own ingress and peer (same records, same plugin
on the ingress, same origin).  The CONNECTs run in rounds, the three
configurations alternating inside each round (each round starting with the
next one), so that a drift of the machine hits all three alike; each round's median of one configuration is
divided by the same round's median of `none`, and the ratio reported is
the median of those per-round ratios (with their spread).  Debug output is
off everywhere; warm connections (the ingress's pool) are on, so most
CONNECTs reuse a TLS connection already open and the time is mostly the
CONNECT's handling at both ends, the peer's decision included.

    make bench-authz [ATS=/opt/ats-10.2.0] [AUTHZ_BENCH_ARGS="--rounds 20"]
    nice -n 10 /usr/bin/python3 bench/authz_latency.py [--rounds 20] [--per-round 100] [--json FILE]
    TB_ATS=/opt/ats-10.2.0 nice -n 10 /usr/bin/python3 bench/authz_latency.py   # on ATS 10.2

`make bench` runs it at these defaults, `make bench-quick` with
--rounds 5 --per-round 50.  Prints a table, writes a JSON summary (default
build/bench-authz.json, or build/ats10/... for 10.x) and rewrites the section
of docs/benchmarks.md between <!-- bench:authz:begin --> and
<!-- bench:authz:end --> (<!-- bench:authz-ats10:... --> on 10.x; --doc ''
leaves the page alone).  Not a test (nothing asserts a timing) and not part
of `make test`.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, HERE)
import harness  # noqa: E402 (puts tests/lib on sys.path)
import stats  # noqa: E402

CONFIGS = ("none", "policy-1", "policy-1000")
IDENTITY = "branch-1.corp.test"
SERVICE = "svc.test"


def policy(n, port):
    """A peer-role file of n entries whose last one is the client's."""
    lines = ["role: peer", "policy:"]
    for i in range(n - 1):
        if i % 4 == 3:
            ident = "'branch-%d-gw-[0-9]+[.]corp[.]test'" % i
        else:
            ident = "'site-%d[.]corp[.]test'" % i
        lines.append("  - {identity: %s, allow: [{host: 'svc-%d[.]test', ports: %d}]}" % (ident, i, port))
    lines.append("  - {name: branch-1, identity: 'branch-1[.]corp[.]test', allow: [{host: 'svc[.]test', "
                 "ports: %d}]}" % port)
    return "\n".join(lines) + "\n"


class Pair:
    """One configuration: a peer and the ingress that bridges to it."""

    def __init__(self, name, ws, certs, plugin, echo_port, pool):
        self.name = name
        peer_port, ingress_port = harness.free_ports(2)
        lines, files = [], {}
        if name != "none":
            n = int(name.split("-")[1])
            lines = ["%s --config tls_bridge.yaml" % plugin]
            files = {"etc/tls_bridge.yaml": policy(n, echo_port)}
        self.peer = harness.make_peer(ws, certs, peer_port, [echo_port], {SERVICE: harness.LOOPBACK4},
                                      name="peer-" + name, debug=False, plugin_lines=lines, extra_files=files)
        # svc-0.test: bridged too, and the client's entry does not allow it
        # (the check that the policy really decides).
        text = ("pool: {size: %d}\nrules:\n  - {host: 'svc[.]test', peer: '%s:%d'}\n"
                "  - {host: 'svc-0[.]test', peer: '%s:%d'}\n"
                % (pool, harness.PEER_HOST, peer_port, harness.PEER_HOST, peer_port))
        self.ingress = harness.make_ingress(
            ws, certs, ingress_port, plugin, ["--config", "tls_bridge.yaml"], [peer_port, echo_port],
            {harness.PEER_HOST: harness.LOOPBACK4}, name="ingress-" + name, debug=False,
            client_cert=certs.branch1_cert, client_key=certs.branch1_key,
            extra_files={"etc/tls_bridge.yaml": text})
        self.echo_port = echo_port

    def start(self):
        self.peer.start()
        self.peer.wait_listening()
        self.ingress.start()
        self.ingress.wait_ready(lambda: self.connect() is not None, what="a CONNECT through " + self.name)

    def connect(self, timeout=10.0):
        """One CONNECT: seconds from the connect to the 200, or None."""
        with harness.open_tunnel(self.ingress.port, SERVICE, self.echo_port, timeout=timeout) as t:
            return t.header_elapsed if t.status == 200 else None

    def stop(self):
        self.ingress.stop()
        self.peer.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--per-round", type=int, default=100, help="CONNECTs per configuration per round")
    ap.add_argument("--warmup", type=int, default=50, help="CONNECTs per configuration before timing")
    ap.add_argument("--pool", type=int, default=2, help="the ingresses' warm connections per thread")
    ap.add_argument("--plugin", default=os.environ.get("TB_PLUGIN") or harness.DEFAULT_PLUGIN)
    ap.add_argument("--json", default=None)
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "benchmarks.md"),
                    help="the page whose marked section gets the table ('' for none)")
    args = ap.parse_args()
    out = args.json or os.path.join(REPO, "build", *([] if harness.ATS.major < 10 else ["ats%d" % harness.ATS.major]),
                                    "bench-authz.json")

    ws = harness.Workspace(prefix="tb-bench-authz-")
    certs = harness.Certs(ws.mkdir("certs"))
    certs.make_client("branch1", san="DNS:" + IDENTITY)
    echo = harness.TcpServer(harness.echo_handler, name="echo", backlog=1024)
    pairs = [Pair(name, ws, certs, args.plugin, echo.port, args.pool) for name in CONFIGS]
    started = time.time()
    try:
        for p in pairs:
            p.start()
        # The policy really decides: a target outside the client's entry is refused.
        with harness.open_tunnel(pairs[2].ingress.port, "svc-0.test", echo.port, timeout=10) as t:
            assert t.status == 403, t.response
        for p in pairs:
            for _ in range(args.warmup):
                p.connect()
        samples = {p.name: [] for p in pairs}
        per_round = {p.name: [] for p in pairs}
        failed = {p.name: 0 for p in pairs}
        for r in range(args.rounds):
            # Each round starts with another configuration: no one of them
            # always comes right after the same other.
            for p in pairs[r % len(pairs):] + pairs[:r % len(pairs)]:
                got = []
                for _ in range(args.per_round):
                    s = p.connect()
                    if s is None:
                        failed[p.name] += 1
                    else:
                        got.append(s * 1000.0)
                samples[p.name] += got
                per_round[p.name].append(stats.median(got))
            sys.stderr.write("round %d/%d\n" % (r + 1, args.rounds))
    finally:
        for p in pairs:
            p.stop()
        echo.stop()
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "ats": str(harness.ATS),
        "machine": "%s, %d CPUs" % (platform.platform(), os.cpu_count() or 0),
        "rounds": args.rounds,
        "per_round": args.per_round,
        "pool": args.pool,
        "seconds": round(time.time() - started, 1),
        "configs": {},
    }
    for name in CONFIGS:
        xs = samples[name]
        ratio = stats.ratio_summary(per_round[name], per_round["none"])
        result["configs"][name] = {
            "n": len(xs),
            "failed": failed[name],
            "median_ms": stats.median(xs),
            "p99_ms": stats.percentile(xs, 99),
            "ratio_median_vs_none": ratio,
        }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print("%s, %s; %d rounds x %d CONNECTs per configuration, pool %d"
          % (result["ats"], result["machine"], args.rounds, args.per_round, args.pool))
    print("%-12s %8s %10s %10s %28s" % ("config", "n", "median ms", "p99 ms", "median ratio vs none (range)"))
    for name in CONFIGS:
        c = result["configs"][name]
        r = c["ratio_median_vs_none"] or {"median": float("nan"), "min": float("nan"), "max": float("nan")}
        print("%-12s %8d %10.3f %10.3f %12.3f (%.3f-%.3f)" % (name, c["n"], c["median_ms"], c["p99_ms"],
                                                              r["median"], r["min"], r["max"]))
    print("written: %s" % out)
    if args.doc:
        write_doc(args.doc, result)
        print("rewritten: %s (%s)" % (args.doc, markers()[0]))


def markers():
    var = "authz" if harness.ATS.major < 10 else "authz-ats%d" % harness.ATS.major
    return "<!-- bench:%s:begin -->" % var, "<!-- bench:%s:end -->" % var


def section(result):
    """The marked section of docs/benchmarks.md for one run."""
    command = os.environ.get("BENCH_COMMAND") or "bench/authz_latency.py " + " ".join(sys.argv[1:])
    lines = [
        "Run %s on %s (%s): `%s`, %d rounds of %d CONNECTs per configuration, ingress pool %d, "
        "%.0f s." % (result["when"], result["ats"], result["machine"], command.strip(), result["rounds"],
                     result["per_round"], result["pool"], result["seconds"]),
        "",
        "| peer | CONNECTs | failed | median ms | p99 ms | median of per-round ratios to `none` (range) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in CONFIGS:
        c = result["configs"][name]
        r = c["ratio_median_vs_none"] or {"median": float("nan"), "min": float("nan"), "max": float("nan")}
        lines.append("| `%s` | %d | %d | %.3f | %.3f | %.3f (%.3f-%.3f) |"
                     % (name, c["n"], c["failed"], c["median_ms"], c["p99_ms"], r["median"], r["min"], r["max"]))
    return "\n".join(lines) + "\n"


def write_doc(path, result):
    begin, end = markers()
    with open(path) as f:
        text = f.read()
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        sys.exit("%s: no %s ... %s section" % (path, begin, end))
    text = text[:i + len(begin)] + "\n" + section(result) + text[j:]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
