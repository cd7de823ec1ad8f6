"""Load generators of the benchmark: bulk transfers, sequential fresh
tunnels, many concurrent tunnels (asyncio, one process), stalled readers.
All on loopback, every wait bounded by a timeout or a deadline."""

import asyncio
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
import harness  # noqa: E402 (puts tests/lib on sys.path)
from tbtest.net import RST_LINGER, close_rst  # noqa: E402

LOOP = "127.0.0.1"

# Tunnels are ended by an abortive close (close_rst): the tunnel ends at
# once in every ingress, so tunnels that a plugin would leave half-closed do
# not pile up between measurements (how closes propagate is the e2e suite's
# business).


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# Bulk transfers (blocking sockets; one transfer at a time).


def connect_tunnel(proxy_port, host, port, timeout):
    t = harness.open_tunnel(proxy_port, host, port, timeout=timeout)
    if t.status // 100 != 2:
        close_rst(t.sock)
        raise BenchError("CONNECT %s:%d answered %d %s" % (host, port, t.status,
                                                          t.response.reason))
    return t


def download(proxy_port, host, nginx_port, path, size, timeout):
    """GET `path` (size bytes) from nginx through a fresh tunnel; returns
    seconds from the CONNECT to the last byte.  The size is the check."""
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    t = connect_tunnel(proxy_port, host, nginx_port, timeout)
    try:
        t.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            t.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = t.recv(65536)
            if not data:
                raise BenchError("EOF before the HTTP header")
            buf += data
        head, _, body = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise BenchError("nginx answered %r" % head[:80])
        got = len(body)
        mem = memoryview(bytearray(4 << 20))
        sock = t.sock
        while got < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("download timed out after %d of %d bytes" % (got, size))
            sock.settimeout(left)
            n = sock.recv_into(mem)
            if n == 0:
                raise BenchError("EOF after %d of %d bytes" % (got, size))
            got += n
        elapsed = time.monotonic() - t0
        if got != size:
            raise BenchError("got %d bytes, expected %d" % (got, size))
        return elapsed
    finally:
        close_rst(t.sock)


def upload(proxy_port, host, sink_port, size, timeout):
    """Send size bytes to the sink through a fresh tunnel; returns seconds
    from the CONNECT to the sink's 'OK <size>' (the size is the check)."""
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    t = connect_tunnel(proxy_port, host, sink_port, timeout)
    try:
        sock = t.sock
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        sock.sendall(b"SINK %d\n" % size)
        chunk = memoryview(bytes(range(256)) * 16384)  # 4 MiB
        left = size
        while left > 0:
            if time.monotonic() > deadline:
                raise BenchError("upload timed out with %d bytes left" % left)
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            k = min(left, len(chunk))
            sock.sendall(chunk[:k])
            left -= k
        reply = b""
        while not reply.endswith(b"\n"):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = t.recv(256)
            if not data:
                raise BenchError("EOF before the sink's answer (%r)" % reply)
            reply += data
        elapsed = time.monotonic() - t0
        if reply.strip() != b"OK %d" % size:
            raise BenchError("sink answered %r, expected OK %d" % (reply, size))
        return elapsed
    finally:
        close_rst(t.sock)


# --------------------------------------------------------------------------
# Fresh tunnels, one after the other.


def fresh_tunnels(proxy_port, host, echo_port, count, timeout, deadline):
    """`count` sequential new tunnels, each: connect, CONNECT, 2xx (ready),
    a 16-byte echo round trip (first byte), abortive close.  Returns
    (ready_s list, first_byte_s list, failures list); stops at `deadline`
    (monotonic)."""
    ready, fb, failures = [], [], []
    for i in range(count):
        if time.monotonic() > deadline:
            failures.append("deadline reached after %d tunnels" % i)
            break
        t0 = time.monotonic()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(timeout)
            sock.connect((LOOP, proxy_port))
            sock.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                         % (host.encode(), echo_port, host.encode(), echo_port))
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = sock.recv(4096)
                if not data:
                    raise BenchError("EOF before the CONNECT answer")
                buf += data
            t1 = time.monotonic()
            if not buf.startswith(b"HTTP/1.") or buf[9:10] != b"2":
                raise BenchError("CONNECT answered %r" % buf.split(b"\r\n", 1)[0])
            rest = buf.split(b"\r\n\r\n", 1)[1]
            msg = b"%015d\n" % i
            sock.sendall(msg)
            got = rest
            while len(got) < len(msg):
                data = sock.recv(4096)
                if not data:
                    raise BenchError("EOF before the echo")
                got += data
            t2 = time.monotonic()
            if got != msg:
                raise BenchError("echo mismatch")
            ready.append(t1 - t0)
            fb.append(t2 - t0)
        except Exception as e:
            failures.append("tunnel %d: %r" % (i, e))
        finally:
            close_rst(sock)
    return ready, fb, failures


# --------------------------------------------------------------------------
# Many concurrent tunnels (asyncio).


async def _open_one(i, proxy_port, host, echo_port, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(LOOP, proxy_port), timeout)
    try:
        req = b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), echo_port,
                                                                  host.encode(), echo_port)
        writer.write(req)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        if not head.startswith(b"HTTP/1.") or head[9:10] != b"2":
            raise BenchError("CONNECT answered %r" % head.split(b"\r\n", 1)[0])
        msg = b"a%014d\n" % i
        writer.write(msg)
        got = await asyncio.wait_for(reader.readexactly(len(msg)), timeout)
        if got != msg:
            raise BenchError("echo mismatch")
        return reader, writer
    except BaseException:
        _abort(writer)
        raise


def _abort(writer):
    try:
        s = writer.get_extra_info("socket")
        if s is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST_LINGER)
    except OSError:
        pass
    writer.transport.abort()


async def _concurrent(n, proxy_port, host, echo_port, in_flight, timeout, phase_timeout,
                      on_all_open):
    sem = asyncio.Semaphore(in_flight)
    conns = [None] * n
    errors = []
    t_start = time.monotonic()
    last_open = [t_start]

    async def opener(i):
        async with sem:
            try:
                conns[i] = await _open_one(i, proxy_port, host, echo_port, timeout)
                last_open[0] = time.monotonic()
            except Exception as e:
                errors.append(repr(e))

    tasks = [asyncio.ensure_future(opener(i)) for i in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=phase_timeout)
    for t in pending:
        t.cancel()
    if pending:
        errors.append("%d tunnels still opening after %.0f s" % (len(pending), phase_timeout))
        await asyncio.gather(*pending, return_exceptions=True)
    opened = sum(1 for c in conns if c is not None)
    open_time = last_open[0] - t_start
    try:
        sample = on_all_open(opened)  # the ingress's memory with everything open
    except Exception as e:  # e.g. the ingress died: still close every tunnel below
        sample = {"error": repr(e)}

    # Second exchange on every tunnel at once: all of them still work
    # while all are open.
    async def again(i):
        reader, writer = conns[i]
        msg = b"b%014d\n" % i
        writer.write(msg)
        got = await asyncio.wait_for(reader.readexactly(len(msg)), timeout)
        return got == msg

    idx = [i for i in range(n) if conns[i] is not None]
    res = await asyncio.gather(*[again(i) for i in idx], return_exceptions=True)
    ok = 0
    for r in res:
        if r is True:
            ok += 1
        elif isinstance(r, BaseException):
            errors.append(repr(r))
    for c in conns:
        if c is not None:
            _abort(c[1])
    await asyncio.sleep(0)
    return {"requested": n, "opened": opened, "ok": ok, "open_time_s": open_time,
            "errors": errors[:5], "error_count": len(errors), "sample": sample}


def concurrent_tunnels(n, proxy_port, host, echo_port, on_all_open, in_flight=256,
                       timeout=60.0, phase_timeout=300.0):
    """Open n tunnels (at most in_flight being set up at a time), each doing
    an echo exchange, and hold them all open; call on_all_open(opened) then
    (its result is returned as 'sample'); a second echo on all of them at
    once; abortive close.  'ok' counts tunnels whose both exchanges worked."""
    return asyncio.run(_concurrent(n, proxy_port, host, echo_port, in_flight, timeout,
                                   phase_timeout, on_all_open))


# --------------------------------------------------------------------------
# Stalled readers.


def stalled_readers(proxy_port, host, source_port, count, timeout):
    """`count` tunnels to the source, each asking for an endless stream and
    then never reading (small receive buffer).  Returns the sockets."""
    socks = []
    try:
        for _ in range(count):
            t = harness.open_tunnel(proxy_port, host, source_port, timeout=timeout,
                                    rcvbuf=64 << 10)
            if t.status // 100 != 2:
                close_rst(t.sock)
                raise BenchError("CONNECT to the source answered %d" % t.status)
            t.sendall(b"SOURCE 0\n")
            socks.append(t.sock)
    except BaseException:
        for s in socks:
            close_rst(s)
        raise
    return socks
