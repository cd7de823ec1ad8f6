#!/usr/bin/python3
"""The soak test's origins: one asyncio process (thousands of connections,
no threads) on 127.0.0.1, started by tests/soak/soak.py behind the peer ATS.

  --echo PORT    echo every byte back; close when the client closes
  --bulk PORT    one of, on the first line:
                   'SOURCE <n> <off>\\n'  send block[off:off+n], then close (FIN)
                   'SINK <n> <off>\\n'    read n bytes, compare them with
                                         block[off:off+n], answer
                                         'OK <n>\\n' or 'BAD <n> <first bad offset>\\n',
                                         then close
  --stats PORT   answer one JSON line of counters and close

block is BLOCK_SIZE bytes of seeded pseudo-random data (--seed), made the
same way by the client (soak.block()), so both ends know every byte that
must arrive.  Stopped with SIGTERM.  The echo and stats ports and the
serving loop are tests/lib/tbtest/aio_origin.py's (shared with the
benchmark's origin).
"""

import argparse
import asyncio
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lib"))
from tbtest import aio_origin  # noqa: E402
from tbtest.aio_origin import STATS  # noqa: E402

BLOCK_SIZE = 8 << 20
MAX_TRANSFER = 4 << 20  # n + off <= BLOCK_SIZE for every n <= this and off < this


def block(seed):
    """The shared payload: BLOCK_SIZE bytes from random.Random(seed)."""
    return random.Random(seed).randbytes(BLOCK_SIZE)


def first_mismatch(data, expected, base=0):
    """Offset (from base) of the first byte where data differs from expected."""
    n = min(len(data), len(expected))
    lo = 0
    # Narrow down by halves, then step.
    while n - lo > 64:
        mid = (lo + n) // 2
        if bytes(data[lo:mid]) == bytes(expected[lo:mid]):
            lo = mid
        else:
            n = mid
    for i in range(lo, n):
        if data[i] != expected[i]:
            return base + i
    return base + n


STATS.update({"bulk_conns": 0, "bulk_open": 0, "source_done": 0, "source_bytes": 0,
              "sink_ok": 0, "sink_bad": 0, "sink_short": 0, "sink_bytes": 0, "bad_command": 0})
BLOCK = b""


class Bulk(asyncio.BufferedProtocol):
    def __init__(self):
        self.buf = bytearray(256 << 10)
        self.mv = memoryview(self.buf)
        self.head = b""
        self.mode = None
        self.n = self.off = self.got = 0
        self.bad = None
        self.paused = False
        self.finished = False

    def connection_made(self, transport):
        self.t = transport
        self.t.set_write_buffer_limits(high=256 << 10, low=64 << 10)
        STATS["bulk_conns"] += 1
        STATS["bulk_open"] += 1

    def connection_lost(self, exc):
        STATS["bulk_open"] -= 1
        if self.mode == "SINK" and not self.finished:
            STATS["sink_short"] += 1

    def get_buffer(self, sizehint):
        return self.buf

    def buffer_updated(self, nbytes):
        if self.mode is None:
            self.head += bytes(self.mv[:nbytes])
            if b"\n" not in self.head:
                if len(self.head) > 256:
                    self._bad_command()
                return
            line, rest = self.head.split(b"\n", 1)
            parts = line.split()
            try:
                mode, n, off = parts[0].decode(), int(parts[1]), int(parts[2])
            except (IndexError, ValueError, UnicodeDecodeError):
                self._bad_command()
                return
            if mode not in ("SOURCE", "SINK") or not (0 <= n <= MAX_TRANSFER) \
                    or not (0 <= off < MAX_TRANSFER):
                self._bad_command()
                return
            self.mode, self.n, self.off = mode, n, off
            if mode == "SOURCE":
                self.left = n
                self.pos = off
                self.pump()
                return
            self._sink(rest)
            return
        if self.mode == "SINK":
            self._sink(self.mv[:nbytes])
        # SOURCE: the client sends nothing more; ignore anything it does.

    def _bad_command(self):
        STATS["bad_command"] += 1
        self.t.close()

    def _sink(self, data):
        if self.finished or not data:
            return
        k = min(len(data), self.n - self.got)
        pos = self.off + self.got
        if self.bad is None and not BLOCK.startswith(data[:k], pos):
            self.bad = first_mismatch(data[:k], memoryview(BLOCK)[pos:pos + k], self.got)
        self.got += k
        STATS["sink_bytes"] += k
        if len(data) > k and self.bad is None:
            self.bad = self.got  # more bytes than announced
        if self.got >= self.n:
            self.finished = True
            if self.bad is None:
                STATS["sink_ok"] += 1
                self.t.write(b"OK %d\n" % self.got)
            else:
                STATS["sink_bad"] += 1
                self.t.write(b"BAD %d %d\n" % (self.got, self.bad))
            self.t.close()

    def pump(self):
        while self.left and not self.paused and not self.t.is_closing():
            k = min(self.left, 256 << 10)
            self.t.write(memoryview(BLOCK)[self.pos:self.pos + k])
            self.pos += k
            self.left -= k
            STATS["source_bytes"] += k
        if not self.left and not self.finished:
            self.finished = True
            STATS["source_done"] += 1
            self.t.close()  # FIN once everything queued has been written

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        if self.mode == "SOURCE":
            self.pump()

    def eof_received(self):
        return False


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--echo", type=int, required=True)
    ap.add_argument("--bulk", type=int, required=True)
    ap.add_argument("--stats", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    args = ap.parse_args()
    aio_origin.raise_nofile()
    BLOCK = block(args.seed)
    aio_origin.run([(args.echo, aio_origin.Echo), (args.bulk, Bulk),
                    (args.stats, aio_origin.StatsPort)])
