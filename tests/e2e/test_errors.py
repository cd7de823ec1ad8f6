"""Failures on the way to the service: the peer down, the peer refusing, the
service missing behind the peer, TLS between ingress and peer failing, and a
peer that never answers."""

import pytest

import harness
from harness import SERVICE_HOST, DEAD_PEER_HOST, open_tunnel


def test_peer_down_gives_502_naming_the_peer(bridge):
    """Rule .*[.]deadpeer[.]test -> deadpeer.test:<port> where nothing
    listens.  CONNECT x.deadpeer.test:<echo port>: the client has the 502
    response header within 2 s; the response is complete (its whole
    Content-Length arrives: no client left waiting for a body); and the
    peer's "deadpeer.test:<port>" appears in the body or, since ATS 9.2
    forwards no body with a CONNECT's non-2xx answer from an intercept, in an
    X-TLS-Bridge-Error header."""
    p = bridge.ports
    with open_tunnel(p["ingress"], "x.deadpeer.test", p["echo"], timeout=10) as t:
        resp = t.response
    assert resp.status == 502, resp
    assert t.header_elapsed < 2.0, "502 took %.2f s" % t.header_elapsed
    name = "%s:%d" % (DEAD_PEER_HOST, p["dead_peer"])
    assert resp.body_complete, "502 body incomplete: got %d bytes of Content-Length %s: %r" \
        % (len(resp.body), resp.header("Content-Length"), resp.body)
    detail = resp.header("X-TLS-Bridge-Error") or ""
    assert name.encode() in resp.body or name in detail, \
        "neither the body nor X-TLS-Bridge-Error names the peer %s: %r" % (name, resp)


def test_peer_refusal_is_relayed(bridge):
    """The 'forbidden' port is in the ingress connect_ports but not in the
    peer's, and an echo server really listens there.  Asked directly (TLS with
    the ingress client cert), the peer answers 403 to CONNECT
    service.internal:<forbidden>; through the bridge the client gets the same
    status code, and the echo server saw no connection."""
    p = bridge.ports
    direct, _ = harness.peer_connect_status(p["peer"], bridge.certs, SERVICE_HOST, p["forbidden"])
    assert direct == 403
    with open_tunnel(p["ingress"], SERVICE_HOST, p["forbidden"], timeout=10) as t:
        assert t.status == direct, t.response
    assert bridge.servers["forbidden"].accepted == 0


def test_unknown_service_behind_peer_is_relayed(bridge):
    """unknown.service.test matches a rule but is in no hosts file: the peer
    answers a 5xx (asked directly: 500 'Cannot find server').  Through the
    bridge the client gets a non-2xx with the same status code as the peer's."""
    p = bridge.ports
    direct, reason = harness.peer_connect_status(p["peer"], bridge.certs, "unknown.service.test",
                                                 p["echo"])
    assert direct >= 500, (direct, reason)
    with open_tunnel(p["ingress"], "unknown.service.test", p["echo"], timeout=10) as t:
        assert not 200 <= t.status < 300, t.response
        assert t.status == direct, t.response


def test_service_port_down_behind_peer_ends_promptly(bridge, measure):
    """down.internal resolves at the peer, but nothing listens on the port.
    A stock 9.2 peer answers such a CONNECT with 200 and then closes
    (it reports success when the connect is started, apache/trafficserver
    issue #7677).  5 tunnels: each client sees either a non-2xx status, or a
    2xx after which (having sent a request) its connection reaches EOF or a
    reset within 5 s, with no data: checks the failure never leaves a tunnel
    hanging."""
    p = bridge.ports
    for i in range(5):
        with open_tunnel(p["ingress"], "down.internal", p["dead_service"], timeout=10) as t:
            if not 200 <= t.status < 300:
                continue
            try:
                t.sendall(b"GET / HTTP/1.1\r\nHost: down.internal\r\n\r\n")
            except OSError:
                continue
            data, how = harness.recv_until_eof(t, timeout=5)
        measure("dead service, tunnel %d: %d then %s" % (i, t.status, how))
        assert how in ("eof", "reset"), "tunnel %d to a dead service still open after 5 s" % i
        assert data == b""


def _tls_failure_case(ingress_factory, measure, **kw):
    ing = ingress_factory.start(ready="direct", **kw)
    with open_tunnel(ing.port, SERVICE_HOST, ingress_factory.d.ports["nginx_http"],
                     timeout=15) as t:
        measure("%s: %d after %.2f s" % (kw["name"], t.status, t.header_elapsed))
        return t.response, t.header_elapsed


def test_peer_rejects_wrong_client_cert(ingress_factory, measure):
    """An ingress presenting a client cert from a different CA (which the
    peer does not trust): CONNECT service.internal gets 502 within 5 s."""
    c = ingress_factory.d.certs
    resp, elapsed = _tls_failure_case(ingress_factory, measure, name="ingress-wrongcert",
                                      client_cert=c.other_client_cert,
                                      client_key=c.other_client_key)
    assert resp.status == 502, resp
    assert elapsed < 5.0, "502 took %.2f s" % elapsed


def test_peer_requires_a_client_cert(ingress_factory, measure):
    """An ingress configured with no client certificate at all
    (proxy.config.ssl.client.cert.filename NULL): the peer, which requires
    one (certification_level 2), refuses; CONNECT service.internal gets 502
    within 5 s."""
    resp, elapsed = _tls_failure_case(
        ingress_factory, measure, name="ingress-nocert",
        extra_records={"proxy.config.ssl.client.cert.filename": ("STRING", "NULL"),
                       "proxy.config.ssl.client.private_key.filename": ("STRING", "NULL")})
    assert resp.status == 502, resp
    assert elapsed < 5.0, "502 took %.2f s" % elapsed


def test_ingress_does_not_trust_peer_cert(ingress_factory, measure):
    """An ingress whose CA file is the other CA (so the peer's certificate
    fails verification, policy ENFORCED): CONNECT service.internal gets 502
    within 5 s."""
    d = ingress_factory.d
    resp, elapsed = _tls_failure_case(ingress_factory, measure, name="ingress-untrusting",
                                      ca_cert=d.certs.other_ca_cert)
    assert resp.status == 502, resp
    assert elapsed < 5.0, "502 took %.2f s" % elapsed


@pytest.mark.our_plugin_only
def test_connect_timeout_when_peer_never_answers(ingress_factory):
    """The peer is a TCP server that accepts and never says a word (TLS
    never completes).  With --connect-timeout 2 the client gets a 5xx
    (502 or 504) between 1.5 and 6 s after sending CONNECT."""
    d = ingress_factory.d
    hole = harness.TcpServer(harness.blackhole_handler, name="blackhole")
    try:
        args = ["--connect-timeout", "2",
                r"service[.]internal", "%s:%d" % (harness.PEER_HOST, hole.port)]
        ing = ingress_factory.start(name="ingress-timeout", ready="direct", plugin_args=args,
                                    connect_ports=d.ingress_connect_ports() + [hole.port])
        with open_tunnel(ing.port, SERVICE_HOST, d.ports["nginx_http"], timeout=20) as t:
            elapsed = t.header_elapsed
            resp = t.response
        assert resp.status in (502, 504), resp
        assert 1.5 <= elapsed <= 6.0, "answer after %.2f s" % elapsed
        assert hole.accepted >= 1, "the blackhole peer was never contacted"
    finally:
        hole.stop()
