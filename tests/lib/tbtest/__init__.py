"""Test code shared by the e2e suite (tests/e2e), the soak (tests/soak) and
the benchmark (bench/).  Only the standard library.

    wait        wait_until(pred, timeout, what): poll a condition with a
                deadline, fail with a message naming what was awaited;
                poll(read, ok, timeout): the last reading, for the caller
                to assert on; wait_steady(read, window, timeout): a count
                at rest
    metrics     read plugin.tls_bridge.* (stats_over_http's /_stats, or
                traffic_ctl under traffic_manager); wait for values
    aio_origin  the asyncio origins that run as processes of their own
                (bench/origin.py, tests/soak/origin.py): echo, the counters
                port, the serving loop; read_stats(), the counters' client
    proc        /proc readings of a process: descriptors, RSS, CPU time
    net         close_rst(): an abortive close (RST)

How it is found: each entry point puts tests/lib on sys.path.
tests/e2e/harness.py does it for everything that imports the harness (the
e2e suite, scripts/run.py, bench/, tests/soak/soak.py); the origin scripts,
which run without the harness, do it themselves.
"""
