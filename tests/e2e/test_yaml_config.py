"""The YAML configuration (--config PATH) on a real ingress: rules with
ports and port ranges, the unmatched policy, per-rule connect/idle/lifetime
settings over the file's defaults, and the client-identity policies as the
peer ATS sees them (its access log records the Client-ip, X-Forwarded-For and
Forwarded headers of each CONNECT it receives)."""

import re
import time

import pytest

import harness
from harness import PEER_HOST, SERVICE_HOST, open_tunnel, wait_until
from test_tunnel_log import read_until_closed, wait_line

pytestmark = pytest.mark.our_plugin_only


def start_yaml_ingress(factory, name, text, **kw):
    return factory.start(name=name, plugin_args=["--config", "tls_bridge.yaml"],
                         extra_files={"etc/tls_bridge.yaml": text}, **kw)


def echo_ok(ing, host, port, payload=b"yaml rules\n"):
    with open_tunnel(ing.port, host, port, timeout=10) as t:
        if t.status != 200:
            return t.status
        t.sendall(payload)
        assert t.recv_exact(len(payload)) == payload
        return 200


def test_ports_ranges_and_unmatched_deny(ingress_factory):
    """service.internal is bridged on the echo port (a single port) and on
    the nginx port (a one-port range); on any other port it matches no rule
    and `unmatched: deny` answers 403 without contacting anyone."""
    d = ingress_factory.d
    p = d.ports
    text = """\
unmatched: deny
pool: {size: 0}
rules:
  - host: service[.]internal
    peer: %s:%d
    ports: [%d, "%d-%d"]
    name: svc
""" % (PEER_HOST, p["peer"], p["echo"], p["nginx_http"], p["nginx_http"])
    ing = start_yaml_ingress(ingress_factory, "ingress-yaml-ports", text,
                             extra_plugin_lines=["stats_over_http.so"])
    assert echo_ok(ing, SERVICE_HOST, p["echo"]) == 200
    with open_tunnel(ing.port, SERVICE_HOST, p["source"], timeout=10) as t:
        assert t.status == 403, t.response
    with open_tunnel(ing.port, "direct.test", p["echo"], timeout=10) as t:
        assert t.status == 403, t.response
    # (The readiness probes were bridged CONNECTs: none is unmatched.)
    got = ing.wait_metrics({"connects.denied": (2,)})
    assert (got["connects.denied"], got["connects.unmatched"]) == (2, 2), got


def peer_identity(d, target, timeout=15.0):
    """(Client-ip, X-Forwarded-For, Forwarded) of the peer's access-log line
    for CONNECT target ('-' where the header was absent)."""
    pat = re.compile(r" %s/? .* cip=(.*) xff=(.*) fwd=(.*)$" % re.escape(target))

    def identity():
        for line in d.peer.access_log().splitlines():
            m = pat.search(line)
            if m:
                return tuple(v.strip() for v in m.groups())
        return None
    return wait_until(identity, timeout, "the peer's access-log line for CONNECT %s" % target,
                      interval=0.3)


def test_client_identity_policies_as_seen_by_the_peer(ingress_factory):
    """Three rules to the same peer, one per policy; every client sends
    forged identity headers.  keep: Traffic Server's own behaviour (it adds
    the client address); strip: the peer learns nothing about the client;
    forwarded: one `Forwarded: for=127.0.0.1` and nothing the client made up."""
    d = ingress_factory.d
    p = d.ports
    peer = "%s:%d" % (PEER_HOST, p["peer"])
    text = """\
client_identity: strip
rules:
  - {host: 'keep[.]service[.]test', peer: '%s', client_identity: keep}
  - {host: 'strip[.]service[.]test', peer: '%s'}
  - {host: 'fwd[.]service[.]test', peer: '%s', client_identity: forwarded}
  - {host: 'service[.]internal', peer: '%s'}
""" % (peer, peer, peer, peer)
    ing = start_yaml_ingress(ingress_factory, "ingress-yaml-identity", text)
    forged = ("X-Forwarded-For: 6.6.6.6", "Client-ip: 6.6.6.6", "Forwarded: for=6.6.6.6")
    seen = {}
    for policy in ("keep", "strip", "fwd"):
        host = "%s.service.test" % policy
        with open_tunnel(ing.port, host, p["echo"], timeout=10, extra_headers=forged) as t:
            assert t.status == 200, (policy, t.response)
            t.sendall(b"x")
            assert t.recv_exact(1) == b"x"
        seen[policy] = peer_identity(d, "%s:%d" % (host, p["echo"]))
    cip, xff, fwd = seen["strip"]
    assert (cip, xff, fwd) == ("-", "-", "-"), seen
    cip, xff, fwd = seen["fwd"]
    assert (cip, xff) == ("-", "-"), seen
    assert fwd == "for=127.0.0.1", seen
    cip, xff, fwd = seen["keep"]
    # Whatever ATS does by default; with the stock records it adds the
    # client address to X-Forwarded-For after the client's own value.
    assert "6.6.6.6" in (cip + xff + fwd), seen
    assert seen["keep"] != seen["strip"], seen


def test_per_rule_connect_timeout(ingress_factory):
    """Two rules to a peer that accepts and never answers: the one with
    `connect_timeout: 1s` answers 504 naming 1000 ms, the other one names
    the file's default (3 s)."""
    d = ingress_factory.d
    hole = harness.TcpServer(harness.blackhole_handler, name="blackhole")
    try:
        peer = "%s:%d" % (PEER_HOST, hole.port)
        text = """\
connect_timeout: 3
pool: {size: 0}
rules:
  - {host: 'fast[.]test', peer: '%s', connect_timeout: 1s}
  - {host: 'slow[.]test', peer: '%s'}
  - {host: 'service[.]internal', peer: '%s:%d'}
""" % (peer, peer, PEER_HOST, d.ports["peer"])
        ing = start_yaml_ingress(ingress_factory, "ingress-yaml-timeout", text,
                                 connect_ports=d.ingress_connect_ports() + [hole.port])
        for host, ms in (("fast.test", 1000), ("slow.test", 3000)):
            with open_tunnel(ing.port, host, d.ports["echo"], timeout=20) as t:
                assert t.status == 504, t.response
                err = t.response.header("X-TLS-Bridge-Error") or ""
                assert "within %d ms" % ms in err, err
    finally:
        hole.stop()


def test_per_rule_idle_timeout_and_lifetime(ingress_factory):
    """idle_timeout and max_lifetime per rule: the 'idle' rule's quiet tunnel
    is closed (log: idle timeout), the 'short' rule's busy tunnel ends at its
    lifetime (log: lifetime), and a tunnel under the default rule (no
    limits) is still open and working after both."""
    d = ingress_factory.d
    p = d.ports
    peer = "%s:%d" % (PEER_HOST, p["peer"])
    text = """\
rules:
  - {host: 'a[.]service[.]test', peer: '%s', idle_timeout: 1s, name: idle}
  - {host: 'keep[.]service[.]test', peer: '%s', max_lifetime: 2s, name: short}
  - {host: 'service[.]internal', peer: '%s', name: default}
""" % (peer, peer, peer)
    ing = start_yaml_ingress(ingress_factory, "ingress-yaml-limits", text,
                             extra_plugin_lines=["stats_over_http.so"])
    with open_tunnel(ing.port, SERVICE_HOST, p["echo"], timeout=10) as keep, \
            open_tunnel(ing.port, "a.service.test", p["echo"], timeout=10) as idle, \
            open_tunnel(ing.port, "keep.service.test", p["echo"], timeout=10) as short:
        for t in (keep, idle, short):
            assert t.status == 200, t.response
        # The short-lived tunnel stays busy: it must end by lifetime, not idleness.
        deadline = time.monotonic() + 10
        ended = False
        while time.monotonic() < deadline and not ended:
            try:
                short.sendall(b"y")
                short.sock.settimeout(1.0)
                ended = short.sock.recv(1) == b""
            except (OSError, ConnectionError):
                ended = True
            time.sleep(0.2)  # the subject: busy, but at a pace (a byte every 0.2-1.2 s)
        assert ended, "the 2 s lifetime never ended a busy tunnel"
        read_until_closed(idle, 10)
        keep.sendall(b"still here\n")
        assert keep.recv_exact(11) == b"still here\n"
    line = wait_line(ing, lambda l: l["rule"] == "idle")
    assert line["close"] == "idle timeout", line
    line = wait_line(ing, lambda l: l["rule"] == "short")
    assert line["close"] == "maximum lifetime reached", line
    got = ing.wait_metrics({"failures.idle_timeout": (1,), "failures.lifetime_reached": (1,)})
    assert (got["failures.idle_timeout"], got["failures.lifetime_reached"]) == (1, 1), got
