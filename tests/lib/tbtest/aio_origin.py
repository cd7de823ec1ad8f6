"""The asyncio origins that run as processes of their own: one process,
thousands of connections, no threads, on 127.0.0.1.  bench/origin.py and
tests/soak/origin.py are the entry points; each adds its own protocols
(the bench's sink and source, the soak's bulk port) to what is here:

  Echo       echo every byte back; close when the client closes (after what
             is queued has been written)
  StatsPort  answer one JSON line of counters (STATS, plus what an entry
             point computes when asked) and close
  run()      serve (port, protocol) pairs until SIGTERM or SIGINT
  read_stats(port)  the client side: the counters of a running origin

Counters are process-wide in STATS (name -> int); Echo keeps echo_conns,
echo_open and echo_bytes, an entry point adds its own keys before run()."""

import asyncio
import json
import resource
import signal
import socket

HOST = "127.0.0.1"
STATS = {"echo_conns": 0, "echo_open": 0, "echo_bytes": 0}


def raise_nofile(want=None):
    """Raise the soft descriptor limit: to want (and the hard limit with it,
    where that is allowed), else to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if want is not None:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        STATS["echo_conns"] += 1
        STATS["echo_open"] += 1

    def data_received(self, data):
        STATS["echo_bytes"] += len(data)
        self.t.write(data)

    def eof_received(self):
        return False  # close (after what is queued has been written)

    def connection_lost(self, exc):
        STATS["echo_open"] -= 1


class StatsPort(asyncio.Protocol):
    """extra: a function returning more counters, computed when asked
    (StatsPort(extra) as the protocol factory: lambda: StatsPort(f))."""

    def __init__(self, extra=None):
        self.extra = extra

    def connection_made(self, transport):
        d = dict(STATS)
        if self.extra is not None:
            d.update(self.extra())
        transport.write((json.dumps(d) + "\n").encode())
        transport.close()


async def serve(listeners, host=HOST):
    """Listen on every (port, protocol factory) of listeners (port 0: left
    out), say "origin: listening" on stdout once all are, and serve until
    SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    servers = []
    for port, proto in listeners:
        if port:
            servers.append(await loop.create_server(proto, host, port, backlog=4096,
                                                    reuse_address=True))
    print("origin: listening", flush=True)
    await stop
    for s in servers:
        s.close()


def run(listeners, host=HOST):
    asyncio.run(serve(listeners, host))


def read_stats(port, host=HOST, timeout=10.0):
    """The counters a running origin's stats port answers (a dict)."""
    with socket.create_connection((host, port), timeout=timeout) as s, s.makefile("rb") as f:
        return json.loads(f.readline())
