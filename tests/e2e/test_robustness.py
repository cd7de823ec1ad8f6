"""The ingress survives abuse: CONNECTs refused by ATS after the plugin
decided to intercept, a client that stops reading, and clients that vanish
at every stage.  Each test gets its own ingress so a crash or a leak is
attributed to it and measurements are not disturbed by other tests.

Sizes: TB_E2E_STREAM_MIB (default 1024), TB_E2E_CHURN (default 25)."""

import socket
import time

import pytest

import harness
from harness import SERVICE_HOST, open_tunnel, wait_until
from tbtest.wait import poll, wait_steady

STREAM = harness.env_int("TB_E2E_STREAM_MIB", 1024) << 20
CHURN = harness.env_int("TB_E2E_CHURN", 25)
MIB = 1024  # KiB


def test_refused_port_after_intercept(ingress_factory):
    """a.service.test matches a rule, but the 'refused' port is in no
    connect_ports list (an echo server really listens there).  20 CONNECTs
    a.service.test:<refused>: each gets 403; afterwards the ingress process
    is still alive (same pid), still bridges (a GET to service.internal
    works), and the echo server on the refused port saw nothing."""
    d = ingress_factory.d
    ing = ingress_factory.start(name="ingress-refused")
    pid = ing.pid
    for i in range(20):
        try:
            with open_tunnel(ing.port, "a.service.test", d.ports["refused"], timeout=10) as t:
                assert t.status == 403, "attempt %d: %r" % (i, t.response)
        except (OSError, harness.ProtocolError) as e:
            code = ing.wait_exit(3)
            pytest.fail("attempt %d: %r; ingress %s"
                        % (i, e, "alive" if code is None else "exited (%s)" % code))
    assert ing.alive() and ing.pid == pid, "ingress died (exit %s)" % ing.process.returncode()
    assert d.probe_bridged(ing, timeout=10), "ingress no longer bridges"
    assert d.servers["refused"].accepted == 0


def _download(port, d, nbytes, seed):
    """nbytes from the source through a tunnel, which the client then
    resets (a reset ends a tunnel at once, with our plugin and the
    reference alike); returns once the source's connection has closed too,
    so the tunnel is gone end to end."""
    src = d.servers["source"]
    before = src.open_count()  # connections an earlier test left open, if any
    t = open_tunnel(port, SERVICE_HOST, d.ports["source"], timeout=30)
    try:
        assert 200 <= t.status < 300, t.response
        t.sendall(b"SOURCE %d %d hold\n" % (nbytes, seed))
        t.recv_exact(nbytes)
    finally:
        t.close(rst=True)
    wait_until(lambda: src.open_count() <= before, 10, "the source's connection to close")


def test_stalled_reader_memory_is_bounded(ingress_factory, measure):
    """A client opens a tunnel to the source, asks for a STREAM-byte (1 GiB)
    stream, reads the first 1 MiB (so the stream is known to flow) and then
    stops reading.  Ingress RSS is sampled for 5 s against a baseline taken
    after a warm-up 32 MiB transfer: the growth must stay below 64 MiB (the
    plugin must stop reading from the peer while the client does not
    drain).  The ingress is alive afterwards.  The measured growth and how
    far the source got are printed."""
    d = ingress_factory.d
    src = d.servers["source"]
    ing = ingress_factory.start(name="ingress-backpressure")
    _download(ing.port, d, 32 << 20, 7)
    base = ing.rss_kib()
    peer_base = d.peer.rss_kib()
    t = open_tunnel(ing.port, SERVICE_HOST, d.ports["source"], timeout=30, rcvbuf=64 * 1024)
    try:
        assert 200 <= t.status < 300, t.response
        t.sendall(b"SOURCE %d 77 close\n" % STREAM)
        t.recv_exact(1 << 20)
        sent0 = src.sent
        peak = base
        peer_peak = peer_base
        t_end = time.monotonic() + 5.0
        while time.monotonic() < t_end:  # the subject: 5 s of a stalled client, sampled
            peak = max(peak, ing.rss_kib())
            peer_peak = max(peer_peak, d.peer.rss_kib())
            time.sleep(0.2)
        sent = src.sent
    finally:
        t.close(rst=True)
    growth = peak - base
    measure("stalled reader: ingress RSS %d -> %d KiB (growth %.1f MiB); peer growth %.1f MiB; "
          "source sent %.1f MiB in all, %.1f MiB while the client was stalled"
          % (base, peak, growth / MIB, (peer_peak - peer_base) / MIB, sent / 2.0 ** 20,
             (sent - sent0) / 2.0 ** 20))
    assert ing.alive()
    assert growth < 64 * MIB, "ingress RSS grew by %.1f MiB in 5 s" % (growth / MIB)


def _vanish(port, how, target):
    """One client that goes away during set-up, in one of several ways."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode()
    try:
        if how == "connect-close":
            pass
        elif how == "half-request":
            s.sendall(req[:len(req) // 2])
        elif how == "request-close":
            s.sendall(req)
        elif how == "request-rst":
            s.sendall(req)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        elif how == "after-200":
            s.sendall(req)
            harness.read_response(s, time.monotonic() + 10)
    finally:
        s.close()


def _vanish_mid_stream(port, d, rst, seed):
    t = open_tunnel(port, SERVICE_HOST, d.ports["source"], timeout=30)
    try:
        assert 200 <= t.status < 300, t.response
        t.sendall(b"SOURCE %d %d hold\n" % (32 << 20, seed))
        t.recv_exact(1 << 20)
    finally:
        t.close(rst=rst)


def _churn(ing, d, rounds):
    target = "%s:%d" % (SERVICE_HOST, d.ports["nginx_http"])
    for how in ("connect-close", "half-request", "request-close", "request-rst", "after-200"):
        for _ in range(rounds):
            _vanish(ing.port, how, target)
    for i in range(max(2, rounds // 4)):
        _vanish_mid_stream(ing.port, d, rst=bool(i % 2), seed=500 + i)


def test_vanishing_clients_release_resources(ingress_factory, measure):
    """Warm-up (a bridged GET, a 32 MiB transfer, 2 rounds of churn), then a
    baseline of the ingress fd count and RSS.  Then CHURN clients of each
    kind vanish: connect+close, half a CONNECT then close, a whole CONNECT
    then close at once, the same with RST (SO_LINGER 0), close right after
    the 2xx; and CHURN/4 clients close during a 32 MiB download (alternately
    FIN and RST).  Checks: within 10 s the fd count is back to at most
    baseline + 4, RSS grew by less than 32 MiB, and the ingress is alive and
    still bridges."""
    d = ingress_factory.d
    ing = ingress_factory.start(name="ingress-churn")
    _download(ing.port, d, 32 << 20, 9)
    _churn(ing, d, 2)
    # The baseline at rest: once the warm-up's connections are closed (a
    # tunnel may end about a second after one side closed).
    fd_base = wait_steady(ing.fd_count, window=2.0, timeout=15.0)
    rss_base = ing.rss_kib()
    _churn(ing, d, CHURN)
    fds = poll(ing.fd_count, lambda n: n <= fd_base + 4, 10.0, interval=0.25)
    rss = ing.rss_kib()
    measure("vanishing clients: fds %d -> %d, RSS %d -> %d KiB" % (fd_base, fds, rss_base, rss))
    assert ing.alive(), "ingress died (exit %s)" % ing.process.returncode()
    assert fds <= fd_base + 4, "fd count %d, baseline %d: connections leaked" % (fds, fd_base)
    limit = (96 if harness.UNDER_ASAN else 32) * MIB  # see harness.UNDER_ASAN
    assert rss - rss_base < limit, "RSS grew by %.1f MiB" % ((rss - rss_base) / MIB)
    assert d.probe_bridged(ing, timeout=10)
