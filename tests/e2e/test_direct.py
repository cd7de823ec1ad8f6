"""The direct engine (engine: direct; docs/configuration.md#engines) on a
real ingress and a real peer that requires client certificates: a client's
half-close crosses the TLS hop as close_notify while the service goes on
answering; each way of failing to reach the peer (its name not resolved,
TCP refused, the TLS handshake failing, the peer's certificate not
verified) has its own answer header, close reason and metric; a rule's own
TLS settings (sni, ca, client_cert) are the ones used.  Whatever TB_ENGINE
says, every ingress here names its engine itself."""

import hashlib
import socket
import time

import pytest

import harness
from harness import DEAD_PEER_HOST, PEER_HOST, SERVICE_HOST, open_tunnel, recv_until_eof
from test_tunnel_log import wait_line

pytestmark = pytest.mark.our_plugin_only

LATE_BYTES = 6 << 20  # the late answer: several megabytes
LATE_DELAY = 2.0      # seconds between the client's FIN and the answer's first byte


def late_answer_handler(conn, server):
    """Read the request until EOF (the client's half-close), wait
    LATE_DELAY, then send LATE_BYTES of seeded data and close; records
    what came and when the EOF did."""
    got = b""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        got += data
    server.record({"request": got, "eof_at": time.monotonic()})
    time.sleep(LATE_DELAY)
    for chunk in harness.random_stream(LATE_BYTES, 1414):
        conn.sendall(chunk)
    conn.shutdown(socket.SHUT_WR)


def not_tls_handler(conn, server):
    """Answers anything with plain HTTP and closes: a TLS client gets a
    record that is not TLS."""
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conn.close()


@pytest.fixture(scope="module")
def rig(deployment):
    """Its own peer (whose connect_ports include the late-answer service),
    the late-answer service, a server that does not speak TLS, and one
    ingress on the direct engine with a rule per case."""
    d = deployment
    late = harness.TcpServer(late_answer_handler, name="late-answer")
    not_tls = harness.TcpServer(not_tls_handler, name="not-tls")
    hosts = dict(d.peer_hosts())  # the peer resolves the client's target
    hosts.update({h: harness.LOOPBACK4 for h in ("gwname.test", "noverify.test", "ats.test",
                                                 "othercert.test")})
    peer = harness.make_peer(d.ws, d.certs, harness.free_port(), d.peer_connect_ports() + [late.port],
                             hosts, name="peer-direct", debug=d.debug)
    refused = harness.free_port()  # nothing listens here
    c = d.certs
    p = "%s:%d" % (PEER_HOST, peer.port)
    text = """\
engine: direct
connect_timeout: 3s
pool: {size: 0}
rules:
  - {host: 'service[.]internal', peer: '%(p)s', name: plain}
  - {host: 'nodns[.]test', peer: 'no-such-peer.test:%(port)d', name: nodns}
  - {host: 'refused[.]test', peer: '%(dead)s:%(refused)d', name: refused}
  - {host: 'nottls[.]test', peer: '%(dead)s:%(nottls)d', name: nottls}
  - {host: 'otherca[.]test', peer: '%(p)s', name: otherca, ca: '%(other_ca)s'}
  - {host: 'wrongname[.]test', peer: '%(p)s', name: wrongname, sni: wrong.test}
  - {host: 'gwname[.]test', peer: '%(p)s', name: gwname, sni: gw-a.test}
  - {host: 'noverify[.]test', peer: '%(p)s', name: noverify, ca: '%(other_ca)s', verify: false}
  - {host: 'othercert[.]test', peer: '%(p)s', name: othercert, client_cert: '%(oc)s',
     client_key: '%(ok)s'}
  - {host: 'ats[.]test', peer: '%(p)s', name: ats, engine: ats}
""" % {"p": p, "port": peer.port, "dead": DEAD_PEER_HOST, "refused": refused, "nottls": not_tls.port,
       "other_ca": c.other_ca_cert, "oc": c.other_client_cert, "ok": c.other_client_key}
    ing = d.new_ingress(name="ingress-direct", plugin_args=["--config", "tls_bridge.yaml"],
                        extra_files={"etc/tls_bridge.yaml": text},
                        connect_ports=d.ingress_connect_ports() + [peer.port, late.port, refused,
                                                                    not_tls.port],
                        extra_plugin_lines=["stats_over_http.so"])
    try:
        peer.start()
        peer.wait_listening()
        ing.start()
        ing.wait_ready(lambda: status_of(ing, SERVICE_HOST, late.port, b"") == 200, timeout=45,
                       what="a tunnel through the direct engine")
        yield d, ing, peer, late
    finally:
        ing.stop()
        peer.stop()
        late.stop()
        not_tls.stop()


def status_of(ing, host, port, request=b"ping"):
    with open_tunnel(ing.port, host, port, timeout=10) as t:
        if t.status == 200:
            t.sendall(request)
            t.shutdown_write()
            recv_until_eof(t, timeout=15)
        return t.status


def line_for(ing, host, client=None):
    """The tunnel log line for host (and the client's port, when given:
    the readiness probes may have left lines of their own)."""
    return wait_line(ing, lambda l: l["target"].startswith(host + ":") and
                     (client is None or l["client"].endswith(":%d" % client)))


def test_half_close_crosses_the_tls_hop(rig, request):
    """The client sends a request and half-closes; the service, once it
    has seen that EOF, waits 2 s and then sends 6 MiB: every byte reaches
    the client, then the EOF, and the tunnel ends as both directions
    done (no 1 s bound after the first FIN on this engine)."""
    d, ing, peer, late = rig
    before = len(late.results)
    t0 = time.monotonic()
    with open_tunnel(ing.port, SERVICE_HOST, late.port, timeout=30) as t:
        client = t.sock.getsockname()[1]
        assert t.status == 200, t.response
        t.sendall(b"GET the late answer\n")
        t.shutdown_write()
        data, how = recv_until_eof(t, timeout=30)
    elapsed = time.monotonic() - t0
    late.wait_results(before + 1)
    rec = late.results[before]
    assert rec["request"] == b"GET the late answer\n", rec
    assert how == "eof", how
    assert len(data) == LATE_BYTES, len(data)
    assert hashlib.sha256(data).hexdigest() == harness.random_sha256(LATE_BYTES, 1414)
    assert elapsed >= LATE_DELAY, elapsed  # the answer started after the service's wait
    line = line_for(ing, SERVICE_HOST, client)
    assert (line["rule"], line["close"], line["down"]) == \
        ("plain", "both directions done", str(LATE_BYTES)), line


@pytest.mark.parametrize("host,close,metric,words", [
    ("nodns.test", "refused: peer name not resolved", "failures.peer_dns", "no-such-peer.test"),
    ("refused.test", "refused: could not connect to peer", "failures.peer_connect", "cannot connect"),
    ("nottls.test", "refused: TLS with peer failed", "failures.peer_tls", "wrong version number"),
    ("otherca.test", "refused: peer certificate not verified", "failures.peer_verify",
     "certificate not accepted: self-signed certificate in certificate chain"),
    ("wrongname.test", "refused: peer certificate not verified", "failures.peer_verify",
     "certificate not accepted: hostname mismatch"),
])
def test_each_failure_has_its_header_close_reason_and_metric(rig, host, close, metric, words):
    """502 with an X-TLS-Bridge-Error naming the cause (OpenSSL's reason
    for TLS), a tunnel log line with the cause's close reason, and its
    metric counted."""
    d, ing, peer, late = rig
    before = ing.wait_metrics({metric: 0}).get(metric, 0)
    with open_tunnel(ing.port, host, late.port, timeout=20) as t:
        assert t.status == 502, t.response
        err = t.response.header("X-TLS-Bridge-Error") or ""
        assert words in err, err
    line = line_for(ing, host)
    assert (line["status"], line["up"], line["down"], line["close"]) == ("502", "0", "0", close), line
    ing.wait_metrics({metric: before + 1})


@pytest.mark.parametrize("host", ["gwname.test", "noverify.test", "ats.test"])
def test_rule_tls_settings_that_work(rig, host):
    """sni: another name the peer's certificate holds; verify: false with a
    CA that did not sign it; a rule on the ats engine beside direct ones."""
    d, ing, peer, late = rig
    assert status_of(ing, host, late.port) == 200
    close = line_for(ing, host)["close"]
    if host == "ats.test":  # the client's FIN does not cross the ats engine's hop (9.2)
        assert close in ("both directions done", "other direction still open 1 s after one side closed")
    else:
        assert close == "both directions done"


def test_rule_client_certificate_is_the_one_presented(rig):
    """A rule's client_cert signed by a CA the peer does not trust: the
    peer refuses the connection, so the tunnel fails (the default
    certificate would have worked)."""
    d, ing, peer, late = rig
    assert status_of(ing, "othercert.test", late.port) == 502
    line = line_for(ing, "othercert.test")
    assert line["close"] in ("refused: TLS with peer failed", "refused: peer closed before answering"), line
