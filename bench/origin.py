#!/usr/bin/python3
"""The benchmark's Python origins, one asyncio process (so that 10,000
tunnels cost one process and no threads), on 127.0.0.1:

  --echo PORT    echo every byte back; close when the client closes
  --sink PORT    'SINK <n>\\n' then n bytes: counted (not hashed, the size is
                 the check), then answers 'OK <n>\\n'
  --source PORT  'SOURCE <n>\\n': sends n bytes of a fixed pattern as fast as the
                 connection takes them (n = 0: until the --source-cap), then
                 waits for the client to close
  --stats PORT   answers one JSON line of counters and closes (bytes the
                 source has handed to the kernel: 'offered')

Started by bench/bench.py as a subprocess; stopped with SIGTERM.  The echo
and stats ports and the serving loop are tests/lib/tbtest/aio_origin.py's
(shared with the soak's origin).
"""

import argparse
import asyncio
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "lib"))
from tbtest import aio_origin  # noqa: E402
from tbtest.aio_origin import STATS  # noqa: E402

PATTERN = bytes(range(256)) * 4096  # 1 MiB
STATS.update({"sink_conns": 0, "sink_bytes": 0, "source_conns": 0, "source_open": 0,
              "source_queued": 0})
SOURCES = set()


class Sink(asyncio.BufferedProtocol):
    def __init__(self):
        self.buf = bytearray(1 << 20)
        self.head = b""
        self.want = None
        self.got = 0
        self.done = False

    def connection_made(self, transport):
        self.t = transport
        STATS["sink_conns"] += 1

    def get_buffer(self, sizehint):
        return self.buf

    def buffer_updated(self, nbytes):
        if self.want is None:
            self.head += bytes(self.buf[:nbytes])
            if b"\n" not in self.head:
                if len(self.head) > 1024:
                    self.t.close()
                return
            line, rest = self.head.split(b"\n", 1)
            parts = line.split()
            if len(parts) != 2 or parts[0] != b"SINK":
                self.t.close()
                return
            self.want = int(parts[1])
            self.head = b""
            nbytes = len(rest)
        self.got += nbytes
        STATS["sink_bytes"] += nbytes
        if not self.done and self.got >= self.want:
            self.done = True
            self.t.write(b"OK %d\n" % self.got)

    def eof_received(self):
        return False


class Source(asyncio.Protocol):
    cap = 1 << 30

    def connection_made(self, transport):
        self.t = transport
        self.t.set_write_buffer_limits(high=256 << 10, low=64 << 10)
        self.head = b""
        self.left = None
        self.paused = False
        self.queued = 0  # bytes handed to transport.write
        STATS["source_conns"] += 1
        STATS["source_open"] += 1
        SOURCES.add(self)

    def data_received(self, data):
        if self.left is not None:
            return
        self.head += data
        if b"\n" not in self.head:
            return
        parts = self.head.split(b"\n", 1)[0].split()
        if len(parts) != 2 or parts[0] != b"SOURCE":
            self.t.close()
            return
        n = int(parts[1])
        self.left = n if n > 0 else self.cap
        self.pump()

    def pump(self):
        while self.left and not self.paused and not self.t.is_closing():
            k = min(self.left, len(PATTERN))
            self.t.write(memoryview(PATTERN)[:k])
            self.left -= k
            self.queued += k
            STATS["source_queued"] += k

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        self.pump()

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        STATS["source_open"] -= 1
        SOURCES.discard(self)


def offered():
    """Bytes the sources have handed to the kernel (queued minus what still
    waits in asyncio's user-space buffers)."""
    n = 0
    for s in SOURCES:
        n += s.queued - s.t.get_write_buffer_size()
    return n


def extra_stats():
    return {"source_offered_open": offered()}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--echo", type=int, default=0)
    ap.add_argument("--sink", type=int, default=0)
    ap.add_argument("--source", type=int, default=0)
    ap.add_argument("--stats", type=int, default=0)
    ap.add_argument("--source-cap", type=int, default=1 << 30)
    args = ap.parse_args()
    aio_origin.raise_nofile(200000)
    socket.setdefaulttimeout(None)
    Source.cap = args.source_cap
    aio_origin.run([(args.echo, aio_origin.Echo), (args.sink, Sink), (args.source, Source),
                    (args.stats, lambda: aio_origin.StatsPort(extra_stats))])
