"""Bulk transfers and closes: byte-exact payloads both ways and half-close.

Sizes: TB_E2E_BIG_MIB (default 32) per transfer, TB_E2E_REPEAT (default 3)
transfers per direction."""

import hashlib
import time

import pytest

import harness
from harness import SERVICE_HOST, open_tunnel

BIG = harness.env_int("TB_E2E_BIG_MIB", 32) << 20
REPEAT = harness.env_int("TB_E2E_REPEAT", 3)


def test_download_big_payloads_byte_exact(bridge, measure):
    """REPEAT times: the source sends BIG seeded random bytes and keeps the
    connection open ('hold', so no close is involved); the client reads
    exactly BIG bytes and their sha256 equals the source's; the source
    recorded sending BIG bytes.  Throughput is printed."""
    p = bridge.ports
    src = bridge.servers["source"]
    for i in range(REPEAT):
        seed = 1000 + i
        t0 = time.monotonic()
        with open_tunnel(p["ingress"], SERVICE_HOST, p["source"], timeout=60) as t:
            assert 200 <= t.status < 300, t.response
            t.sendall(b"SOURCE %d %d hold\n" % (BIG, seed))
            h = hashlib.sha256()
            got = 0
            while got < BIG:
                chunk = t.recv(min(1 << 20, BIG - got))
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
        dt = time.monotonic() - t0
        assert got == BIG, "transfer %d: %d of %d bytes, then EOF" % (i, got, BIG)
        assert h.hexdigest() == harness.random_sha256(BIG, seed), "transfer %d corrupted" % i
        res = [r for r in src.wait_results(i + 1, timeout=15) if r.get("end") == "sent"]
        assert len(res) == i + 1 and res[i]["bytes"] == BIG, res
        measure("download %d: %d MiB in %.2f s (%.0f MiB/s)" % (i, BIG >> 20, dt, (BIG >> 20) / dt))


def test_upload_big_payloads_byte_exact(bridge, measure):
    """REPEAT times: the client sends 'SINK <BIG>' and BIG seeded random
    bytes; the sink (which reads exactly BIG bytes, so no half-close is
    involved) replies '<sha256> <BIG>' matching what was sent, and its
    in-process record shows BIG bytes with the same sha256."""
    p = bridge.ports
    sink = bridge.servers["sink"]
    for i in range(REPEAT):
        seed = 2000 + i
        want = harness.random_sha256(BIG, seed)
        t0 = time.monotonic()
        with open_tunnel(p["ingress"], SERVICE_HOST, p["sink"], timeout=60) as t:
            assert 200 <= t.status < 300, t.response
            t.sendall(b"SINK %d\n" % BIG)
            for chunk in harness.random_stream(BIG, seed):
                t.sendall(chunk)
            reply = t.recv_line()
        dt = time.monotonic() - t0
        assert reply == ("%s %d\n" % (want, BIG)).encode(), "transfer %d: reply %r" % (i, reply)
        res = sink.wait_results(i + 1, timeout=15)
        assert res[i]["bytes"] == BIG and res[i]["sha256"] == want, res[i]
        measure("upload %d: %d MiB in %.2f s (%.0f MiB/s)" % (i, BIG >> 20, dt, (BIG >> 20) / dt))


HALF = harness.env_int("TB_E2E_HALF_MIB", 8) << 20


@pytest.mark.parametrize("mode", ["shutdown", "close"])
def test_service_close_delivers_everything_then_eof(bridge, mode):
    """Service side close ('shutdown' = the service half-closes with a FIN
    and waits; 'close' = it closes the socket), 5 tunnels each:

    checks (a) the client receives every byte (count and sha256 equal to what
    the source sent) followed by EOF within 10 s of the start (not a hang until
    an inactivity timeout);
    and (b), for 'shutdown', after the client then closes its socket the
    service sees its connection end (EOF) within 5 s: the tunnel is torn
    down end to end."""
    p = bridge.ports
    src = bridge.servers["source"]
    size = HALF
    for i in range(10):
        seed = 3000 + i
        with open_tunnel(p["ingress"], SERVICE_HOST, p["source"], timeout=15) as t:
            assert 200 <= t.status < 300, t.response
            t.sendall(b"SOURCE %d %d %s\n" % (size, seed, mode.encode()))
            n, sha, how = harness.hash_until_eof(t, timeout=10)
            assert (n, how) == (size, "eof"), \
                "tunnel %d: %d of %d bytes, ended by %s" % (i, n, size, how)
            assert sha == harness.random_sha256(size, seed)
            t_close = time.monotonic()
        res = src.wait_results(i + 1, timeout=5 if mode == "shutdown" else 1)
        if mode == "shutdown":
            assert len(res) == i + 1, "tunnel %d: the service never saw the client's close" % i
            assert res[i]["end"] == "shutdown", res[i]
            assert time.monotonic() - t_close < 5.5


def test_client_half_close_reaches_service_and_ends_promptly(bridge, measure):
    """The client sends 4 MiB (no length prefix) then shutdown(SHUT_WR).

    checks (a) the service (sink, reading until EOF) receives every byte:
    its record shows 4 MiB with the right sha256 within 10 s (whether its
    connection ended by a clean EOF or by an error is not checked: a stock
    9.2 peer turns the bridged FIN into a TLS error, see tests/e2e/README.md);
    and (b) the client's connection ends promptly: within 5 s of the
    shutdown the client reads EOF or gets a reset (it may first read the
    sink's '<sha256> <n>' reply, which must then be correct), never a hang."""
    p = bridge.ports
    sink = bridge.servers["sink"]
    size, seed = 4 << 20, 4000
    want = harness.random_sha256(size, seed)
    with open_tunnel(p["ingress"], SERVICE_HOST, p["sink"], timeout=15) as t:
        assert 200 <= t.status < 300, t.response
        for chunk in harness.random_stream(size, seed):
            t.sendall(chunk)
        t.shutdown_write()
        t0 = time.monotonic()
        data, how = harness.recv_until_eof(t, timeout=5)
        dt = time.monotonic() - t0
    res = sink.wait_results(1, timeout=10)
    measure("client FIN: sink %s, client saw %s after %.2f s, reply=%r"
            % ("end=%s bytes=%d" % (res[0]["end"], res[0]["bytes"]) if res else "saw no end",
               how, dt, data[:80]))
    assert res, "the sink never finished reading (it saw no EOF or error)"
    assert res[0]["bytes"] == size and res[0]["sha256"] == want, res[0]
    assert how in ("eof", "reset"), \
        "client connection still open %.1f s after its FIN (got %r)" % (dt, data[:100])
    if data:
        assert data == ("%s %d\n" % (want, size)).encode()
