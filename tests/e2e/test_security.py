"""Malformed CONNECT targets never reach the peer as anything but a
well-formed request: ATS rejects them, or the bridge forwards ATS's
rebuilt request."""

import pytest

import harness
from harness import open_tunnel

BAD_TARGETS = {
    "crlf_in_target": b"CONNECT a.service.test\r\nX-Injected-Crlf: 1:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    "space_in_host": b"CONNECT a b.service.test:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    "nul_in_host": b"CONNECT a\x00nul.service.test:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    "port_too_big": b"CONNECT a.service.test:99999 HTTP/1.1\r\nHost: x\r\n\r\n",
    "port_not_digits": b"CONNECT a.service.test:44x HTTP/1.1\r\nHost: x\r\n\r\n",
    "tab_in_host": b"CONNECT a\tt.service.test:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    "overlong_host": b"CONNECT " + b"a" * 300 + b".service.test:443 HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_malformed_connect_target(bridge, case):
    """The client gets no tunnel (a non-2xx answer, or the connection
    closed); the ingress is still alive and still bridges; and the peer's
    access log never shows the injected header name, a raw space, tab or NUL
    in a CONNECT target."""
    d = bridge
    try:
        with open_tunnel(d.ports["ingress"], "ignored", 1, timeout=10, request=BAD_TARGETS[case]) as t:
            assert not 200 <= t.status < 300, "%s was tunnelled: %r" % (case, t.response)
            print("%s: %d %s" % (case, t.status, t.response.reason))
    except (harness.ProtocolError, ConnectionResetError):
        pass  # closed without an answer: also no tunnel
    assert d.ingress.alive(), "ingress died"
    assert d.probe_bridged(d.ingress, timeout=10), "ingress no longer bridges"
    log = d.peer.access_log()
    for bad in ("X-Injected-Crlf", "a b.service", "a\tt.service", "a\x00nul"):
        assert bad not in log, "peer saw %r: %s" % (bad, log[-2000:])
