#!/usr/bin/python3
"""Run a tls_bridge demo on loopback and show how to use it.

    client --plain--> ingress ATS [tls_bridge] ==TLS, mutual certs==> peer ATS --plain--> nginx

Generates a test PKI, starts nginx serving a small page as service.internal
(a name only the peer can resolve), a peer ATS (TLS, client certs required)
and an ingress ATS running the plugin, waits until a bridged request works,
prints what runs where and a command that proves it, then waits for Ctrl-C
or SIGTERM and stops everything.

The ingress reads its rules from a YAML file (--config) and traffic_ctl
works against it (on 9.2 it runs under traffic_manager for that; 10.x's
traffic_ctl talks to traffic_server itself): edit the file and
`traffic_ctl config reload`, or ask `traffic_ctl plugin msg tls_bridge
"match HOST:PORT"`.  (With the reference plugin, which has neither, the
rules are plugin.config pairs and traffic_server runs alone.)

    scripts/run.py [--plugin PATH] [--check] [--no-debug] [--keep]

TB_ATS=PREFIX runs it on the ATS 10 installed there (tests/e2e/harness.py,
AtsInstall); the default plugin is then build/ats10/tls_bridge.so.

--check runs the proof command itself, prints the result, stops everything
and exits 0 on success, 1 on failure (2 if the set-up failed).
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "e2e"))
import harness  # noqa: E402
from tbtest import metrics  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plugin", default=harness.DEFAULT_PLUGIN,
                    help="plugin .so to load in the ingress (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="run the proof command, report, stop everything and exit")
    ap.add_argument("--no-debug", action="store_true",
                    help="do not enable the tls_bridge debug tag (saves CPU)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (configs, logs) after stopping")
    return ap.parse_args()


def demo_rules(d):
    """plugin.config arguments for the demo when the plugin cannot read YAML
    (the reference): service.internal and any *.service.test go to the peer."""
    peer = "%s:%d" % (harness.PEER_HOST, d.ports["peer"])
    return [r"service[.]internal", peer, r".*[.]service[.]test", peer]


DEMO_YAML = """\
# tls_bridge demo configuration (docs/configuration.md).  Edit, then
# `traffic_ctl config reload`; open tunnels keep the rules they started with.
unmatched: passthrough
connect_timeout: 10s
client_identity: forwarded
rules:
  - name: demo-service
    host: service[.]internal
    peer: %(peer)s
  - name: demo-wildcard
    host: .*[.]service[.]test
    peer: %(peer)s
"""


class Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def main():
    args = parse_args()
    plugin = os.path.abspath(args.plugin)
    if not os.path.isfile(plugin):
        print("run.py: plugin %s not found (build it with `make build`, or pass --plugin)"
              % plugin, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)

    ws = harness.Workspace(prefix="tb-run-", keep=args.keep)
    if harness.is_reference(plugin):
        d = harness.Deployment(plugin, ws, debug=not args.no_debug, python_origins=False,
                               rules=demo_rules)
    else:
        d = harness.Deployment(plugin, ws, debug=not args.no_debug, python_origins=False,
                               rules=lambda d: ["--config", "tls_bridge.yaml"])
        d.ingress_kw = {"manager": True, "extra_files": {"etc/tls_bridge.yaml": DEMO_YAML % {
            "peer": "%s:%d" % (harness.PEER_HOST, d.ports["peer"])}}}
    try:
        try:
            print("starting nginx, peer and ingress under %s ..." % ws.path, flush=True)
            d.start()
        except harness.StartupError as e:
            ws.mark_failed()
            print("run.py: set-up failed: %s" % e, file=sys.stderr)
            return 2
        p = d.ports
        url = "http://%s:%d/" % (harness.SERVICE_HOST, p["nginx_http"])
        argv = ["curl", "-sS", "--max-time", "10", "-p", "-x",
                "http://127.0.0.1:%d" % p["ingress"], url]
        print_summary(d, plugin, argv)
        if args.check:
            return check(d, argv, ws)
        print("\nrunning; Ctrl-C (or SIGTERM to pid %d) stops everything." % os.getpid(),
              flush=True)
        while True:
            time.sleep(3600)
    except Stop as e:
        print("\n%s: stopping ..." % e, flush=True)
        return 0
    finally:
        # Ignore further signals while we stop what we started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        d.stop()
        print("stopped.%s" % (" files kept in %s" % ws.path if (ws.keep or ws.failed) else ""),
              flush=True)


def print_summary(d, plugin, argv):
    p = d.ports
    rows = [
        ("plugin", plugin),
        ("ingress ATS", "127.0.0.1:%d  (pid %d) plain HTTP proxy, runs tls_bridge%s"
         % (p["ingress"], d.ingress.pid,
            ", under traffic_manager" if d.ingress.under_manager else "")),
        ("peer ATS", "%s:%d = 127.0.0.1:%d  (pid %d) TLS, requires a client cert"
         % (harness.PEER_HOST, p["peer"], p["peer"], d.peer.pid)),
        ("service", "%s:%d  nginx (pid %d), name known only to the peer"
         % (harness.SERVICE_HOST, p["nginx_http"], d.nginx.process.pid)),
        ("service TLS", "%s:%d  (cert for service.internal, CA %s)"
         % (harness.SERVICE_HOST, p["nginx_https"], d.certs.ca_cert)),
        ("rules", os.path.join(d.ingress.etc, "tls_bridge.yaml") if d.ingress.manager
         else " ".join(d.rules())),
        ("ingress config", d.ingress.etc),
        ("peer config", d.peer.etc),
        ("certificates", d.certs.dir),
    ]
    print()
    for k, v in rows:
        print("  %-15s %s" % (k, v))
    print("\n  logs:")
    for inst in (d.ingress, d.peer):
        print("    %-8s %s  (debug lines)" % (inst.name, inst.stdout_path))
        print("    %-8s %s" % ("", os.path.join(inst.logdir, "diags.log")))
        print("    %-8s %s  (access log)" % ("", os.path.join(inst.logdir, "squid.log")))
    print("    %-8s %s  (one line per tunnel)" % ("", os.path.join(d.ingress.logdir, "tls_bridge.log")))
    print("\n  try it:\n    %s" % " ".join(shlex.quote(a) for a in argv))
    print("  over TLS to the service:\n    curl -sS -p -x http://127.0.0.1:%d --cacert %s "
          "https://%s:%d/" % (p["ingress"], d.certs.ca_cert, harness.SERVICE_HOST,
                              p["nginx_https"]), flush=True)
    if d.ingress.manager:
        ctl = "TS_RUNROOT=%s %s" % (os.path.join(d.ingress.dir, "runroot.yaml"),
                                    harness.ATS.traffic_ctl)
        print("  operate it (output in diags.log):")
        print("    %s plugin msg tls_bridge 'match %s:%d'" % (ctl, harness.SERVICE_HOST,
                                                              p["nginx_http"]))
        print("    %s plugin msg tls_bridge tunnels" % ctl)
        print("    %s config reload      # after editing the rules file" % ctl)
        print("    %s metric match '%s'" % (ctl, metrics.CTL_PATTERN), flush=True)


def check(d, argv, ws):
    print("\ncheck: %s" % " ".join(shlex.quote(a) for a in argv), flush=True)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    print(out.rstrip() or "(no output)")
    if r.returncode == 0 and r.stdout == d.page:
        print("check: OK (the page came through the bridge)", flush=True)
        return 0
    ws.mark_failed()
    print("check: FAILED (curl exit %d) %s" % (r.returncode, r.stderr.decode().strip()),
          flush=True)
    print(d.ingress.log_tail(40))
    print(d.peer.log_tail(20))
    return 1


if __name__ == "__main__":
    sys.exit(main())
