"""Happy paths through the bridge: plain HTTP, TLS to the service, a name only
the peer can resolve, server-speaks-first, IPv6."""

import hashlib
import socket
import subprocess

import pytest

import harness
from harness import SERVICE_HOST, open_tunnel, http_get_through


def curl_via(ingress_port, url, *extra, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-p", "-x",
                           "http://127.0.0.1:%d" % ingress_port] + list(extra) + [url],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 5)


def test_plain_http_with_curl(bridge):
    """curl -p -x (CONNECT) to service.internal through the bridge: the 4 MiB
    file nginx serves arrives byte-exact (sha256 equal) and the small page is
    equal, curl exits 0."""
    p = bridge.ports
    r = curl_via(p["ingress"], "http://%s:%d/blob.bin" % (SERVICE_HOST, p["nginx_http"]))
    assert r.returncode == 0, r.stderr.decode()
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(bridge.blob).hexdigest()
    r = curl_via(p["ingress"], "http://%s:%d/index.html" % (SERVICE_HOST, p["nginx_http"]))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == bridge.page


def test_plain_http_with_raw_client(bridge):
    """Raw CONNECT service.internal:<nginx> gets 2xx, then a GET over the
    tunnel returns 200 with exactly the page's bytes."""
    p = bridge.ports
    with open_tunnel(p["ingress"], SERVICE_HOST, p["nginx_http"]) as t:
        assert 200 <= t.status < 300, t.response
        status, body = http_get_through(t, SERVICE_HOST, "/index.html")
    assert status == 200
    assert body == bridge.page


def test_tls_to_service_verified(bridge):
    """CONNECT service.internal:<nginx TLS port>; no tunnel bytes arrive before
    the client speaks; a Python TLS handshake over the tunnel verifies the
    service certificate against the test CA with server_hostname
    service.internal; a GET returns the page."""
    p = bridge.ports
    with open_tunnel(p["ingress"], SERVICE_HOST, p["nginx_https"]) as t:
        assert 200 <= t.status < 300, t.response
        assert t.pending == b"", "bytes before the TLS client hello: %r" % t.pending
        ctx = bridge.certs.client_context()
        with ctx.wrap_socket(t.sock, server_hostname=SERVICE_HOST) as s:
            sans = [v for k, v in s.getpeercert()["subjectAltName"] if k == "DNS"]
            assert SERVICE_HOST in sans
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: service.internal\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    status, body = harness.parse_http_response(data)
    assert status == 200
    assert body == bridge.page


def test_tls_to_service_with_curl(bridge):
    """curl --cacert <test CA> -p -x ... https://service.internal:<port>/:
    curl's own verification of the service cert succeeds through the tunnel
    and the page is returned."""
    p = bridge.ports
    r = curl_via(p["ingress"], "https://%s:%d/index.html" % (SERVICE_HOST, p["nginx_https"]),
                 "--cacert", bridge.certs.ca_cert)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == bridge.page


def test_service_name_resolves_only_at_peer(bridge):
    """service.internal is absent from the ingress hosts file; the ingress
    itself cannot reach it (a plain forward-proxy GET, which the plugin does
    not intercept, gets a 5xx), yet CONNECT service.internal through the
    bridge works: so the name was resolved at the peer."""
    p = bridge.ports
    with open(bridge.ingress.dir + "/hosts") as f:
        assert SERVICE_HOST not in f.read()
    with socket.create_connection(("127.0.0.1", p["ingress"]), timeout=15) as s:
        url = "http://%s:%d/index.html" % (SERVICE_HOST, p["nginx_http"])
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                   % (url, SERVICE_HOST, p["nginx_http"])).encode())
        resp, _ = harness.read_response(s, harness.time.monotonic() + 15)
    assert resp.status >= 500, "the ingress resolved %s by itself: %r" % (SERVICE_HOST, resp)
    with open_tunnel(p["ingress"], SERVICE_HOST, p["nginx_http"]) as t:
        assert 200 <= t.status < 300, t.response
        status, body = http_get_through(t, SERVICE_HOST, "/index.html")
    assert (status, body) == (200, bridge.page)


def test_server_speaks_first_banner(bridge, measure):
    """The banner server writes a banner as soon as it accepts.  10 tunnels;
    in each the client sends CONNECT and waits 0.2 s before reading, so the
    banner is often in the same read as the 2xx (how often is printed: the
    peer's 200 and the banner may also reach the ingress in one read, which
    is the case that must not lose bytes).  Asserts for every tunnel: 2xx,
    the bytes after the response header are exactly the banner (none lost,
    none extra, within 5 s), and the tunnel then echoes."""
    p = bridge.ports
    together = 0
    for i in range(10):
        with open_tunnel(p["ingress"], SERVICE_HOST, p["banner"], settle=0.2, timeout=5) as t:
            assert 200 <= t.status < 300, t.response
            same_read = len(t.pending)
            try:
                got = t.recv_exact(len(harness.BANNER))
            except (socket.timeout, harness.ProtocolError) as e:
                pytest.fail("tunnel %d: banner lost: %d bytes came with the response header, "
                            "then %r" % (i, same_read, e))
            assert got == harness.BANNER, "tunnel %d" % i
            t.sendall(b"after-banner\n")
            assert t.recv_exact(13) == b"after-banner\n", "tunnel %d" % i
        together += same_read == len(harness.BANNER)
    measure("banner arrived with the response header in %d of 10 tunnels" % together)


@pytest.fixture
def ipv6(bridge):
    if not bridge.ipv6:
        pytest.skip("[::1] is not usable on this host")
    return bridge


def test_ipv6_service_by_name(ipv6):
    """v6.internal resolves (at the peer only) to ::1, where only the IPv6
    echo server listens: CONNECT v6.internal:<port> gets 2xx, data echoes, and
    the [::1] echo server (not the 127.0.0.1 one) accepted the connection."""
    d = ipv6
    p = d.ports
    with open_tunnel(p["ingress"], "v6.internal", p["echo"]) as t:
        assert 200 <= t.status < 300, t.response
        t.sendall(b"hello over ipv6\n")
        assert t.recv_exact(16) == b"hello over ipv6\n"
    assert d.servers["echo6"].accepted == 1, "the [::1] echo server saw nothing"
    assert d.servers["echo"].accepted == 0


def test_ipv6_literal_client_over_ipv6(ipv6):
    """The ingress's ip_allow.yaml forbids its own outbound connections to
    ::1 (checked: CONNECT v6direct.test, a name only the ingress resolves to
    ::1 and that no rule matches, does not get a 2xx).  The client then
    connects to the ingress on [::1] and sends CONNECT [::1]:<port>; a rule
    matches the literal, the tunnel works (2xx, echo) and the [::1] echo
    server accepted it: so it went through the peer."""
    d = ipv6
    p = d.ports
    with open_tunnel(p["ingress"], "v6direct.test", p["echo"], proxy_host="::1",
                     timeout=10) as t:
        assert not 200 <= t.status < 300, "the ingress reached [::1] by itself: %r" % t.response
    assert d.servers["echo6"].accepted == 0
    with open_tunnel(p["ingress"], "::1", p["echo"], proxy_host="::1") as t:
        assert 200 <= t.status < 300, t.response
        t.sendall(b"literal v6\n")
        assert t.recv_exact(11) == b"literal v6\n"
    assert d.servers["echo6"].accepted == 1
