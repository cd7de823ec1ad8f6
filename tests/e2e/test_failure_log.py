"""One tls_bridge.log line per failure cause, with the fields an operator
reads: the status the client got, zero bytes (nothing was tunnelled), the
rule and peer, and a close reason naming the cause (docs/operations.md has
the runbook for each)."""

import socket

import pytest

import harness
from harness import PEER_HOST, open_tunnel, wait_until
from test_tunnel_log import wait_line

pytestmark = pytest.mark.our_plugin_only


@pytest.fixture
def failing(ingress_factory):
    """An ingress whose rules lead to each kind of failing peer: (the
    deployment, the ingress, the blackhole server behind the silent and
    leaving rules)."""
    d = ingress_factory.d
    hole = harness.TcpServer(harness.blackhole_handler, name="blackhole")
    # A peer that accepts TCP and closes at once (TLS never completes).
    closer = harness.TcpServer(lambda conn, server: conn.close(), name="closer")
    nothing = harness.free_port()  # nothing listens here
    peer = "%s:%d" % (PEER_HOST, d.ports["peer"])
    text = """\
connect_timeout: 1s
pool: {size: 0}
rules:
  - {host: 'service[.]internal', peer: '%s', name: good}
  - {host: 'forbidden[.]test', peer: '%s', name: refusing}
  - {host: 'silent[.]test', peer: '%s:%d', name: silent}
  - {host: 'leaving[.]test', peer: '%s:%d', name: leaving}
  - {host: 'closing[.]test', peer: '%s:%d', name: closing}
  - {host: 'nodns[.]test', peer: 'no-such-peer.test:443', name: nodns}
  - {host: 'down[.]test', peer: '%s:%d', name: down}
""" % (peer, peer, PEER_HOST, hole.port, PEER_HOST, hole.port, PEER_HOST, closer.port, PEER_HOST,
       nothing)
    ports = d.ingress_connect_ports() + [hole.port, closer.port, nothing, 443]
    ing = ingress_factory.start(name="ingress-failures", plugin_args=["--config", "tls_bridge.yaml"],
                                extra_files={"etc/tls_bridge.yaml": text}, connect_ports=ports,
                                extra_plugin_lines=["stats_over_http.so"],
                                # Ready when a CONNECT that matches no rule works: no bridged
                                # probe (early ones fail while hostdb loads) touches the metrics.
                                ready="direct")
    yield d, ing, hole
    hole.stop()
    closer.stop()


def line_for(ing, host):
    return wait_line(ing, lambda l: l["target"].startswith(host + ":"))


# The direct engine tells apart what Traffic Server's CONNECT reports as one
# (docs/reference.md, Close reasons).
DIRECT = harness.ENGINE == "direct"


@pytest.mark.parametrize("host,status,rule,close,metric", [
    # The peer ATS answers 403 for a port outside its connect_ports.
    ("forbidden.test", 403, "refusing", "refused: peer answered non-2xx", "failures.peer_refused"),
    ("silent.test", 504, "silent", "refused: peer timeout", "failures.peer_timeout"),
    ("closing.test", 502, "closing") + (("refused: TLS with peer failed", "failures.peer_tls") if DIRECT else
                                        ("refused: peer closed before answering", "failures.peer_closed")),
    ("nodns.test", 502, "nodns") + (("refused: peer name not resolved", "failures.peer_dns") if DIRECT else
                                    ("refused: peer unreachable", "failures.peer_unreachable")),
])
def test_log_line_and_metric_name_the_failure(failing, host, status, rule, close, metric):
    """The client's answer, the log line and the failure metric (exactly 1
    on this fresh ingress, the others 0) for each cause."""
    d, ing, _ = failing
    port = d.ports["forbidden"] if host == "forbidden.test" else d.ports["echo"]
    with open_tunnel(ing.port, host, port, timeout=20) as t:
        assert t.status == status, t.response
        assert t.response.header("X-TLS-Bridge-Error") or status == 403, t.response
    line = line_for(ing, host)
    assert (line["status"], line["up"], line["down"], line["rule"], line["close"]) == \
        (str(status), "0", "0", rule, close), line
    got = ing.wait_metrics({metric: (1,), "tunnels.active": (0,)})
    failures = {k: v for k, v in got.items() if k.startswith("failures.") and v}
    assert failures == {metric: 1}, got


def test_log_line_for_a_peer_that_is_down(failing):
    """Nothing listens at the peer's port: 502, and the log says refused:
    peer unreachable or peer closed (which one depends on whether ATS tells
    the plugin that TCP failed before it reports the connection open); on
    the direct engine, could not connect to peer."""
    d, ing, _ = failing
    with open_tunnel(ing.port, "down.test", d.ports["echo"], timeout=20) as t:
        assert t.status == 502, t.response
    line = line_for(ing, "down.test")
    print("peer down: close=%r" % line["close"])
    assert line["status"] == "502" and line["rule"] == "down", line
    assert line["close"] in (("refused: could not connect to peer",) if DIRECT else
                             ("refused: peer unreachable", "refused: peer closed before answering")), line


def test_log_line_for_a_client_that_leaves_during_set_up(failing):
    """The client sends CONNECT to a silent peer's rule and leaves, once
    the ingress has connected to that peer, before any answer.  ATS 9.2
    does not pass that close on to the intercept before the response, so
    the tunnel ends at its connect timeout (1 s here) rather than at once: a
    log line for the rule appears, either as client gone or as the peer
    timeout, and nothing stays open."""
    d, ing, hole = failing
    contacted = hole.accepted
    s = socket.create_connection((harness.LOOPBACK4, ing.port), timeout=5)
    target = "leaving.test:%d" % d.ports["echo"]
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    wait_until(lambda: hole.accepted > contacted, 10, "the ingress to connect to the silent peer")
    s.close()
    line = line_for(ing, "leaving.test")
    assert line["rule"] == "leaving" and line["up"] == "0" and line["down"] == "0", line
    assert line["close"] in ("client gone during set-up", "refused: peer timeout"), line
