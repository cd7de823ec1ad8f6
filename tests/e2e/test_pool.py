"""Warm connections (--pool): tunnels take an already open TLS connection to
the peer, and a pooled connection that went stale never fails a client.

What the pool did is read from the plugin's metrics (pool.warm_used,
pool.stale_retried; stats_over_http on each ingress here), not from its
debug log.  Each ingress is declared ready by a CONNECT that matches no rule
(ready="direct") and each own peer by a CONNECT asked of it directly, so no
readiness probe touches the pool or the metrics: they start at 0.

These use options the reference does not have (our_plugin_only)."""

import time

import pytest

import fakepeer
import harness
from harness import SERVICE_HOST, open_tunnel, wait_until
from tbtest import proc


def _echo_once(ingress, d, payload, timeout=10, rst=False):
    """One tunnel to the echo server through ingress; returns what came
    back.  rst: end it with a reset, which ends the tunnel at once (after a
    FIN it may stay open about a second)."""
    t = open_tunnel(ingress.port, SERVICE_HOST, d.ports["echo"], timeout=timeout)
    try:
        assert 200 <= t.status < 300, t.response
        t.sendall(payload)
        return t.recv_exact(len(payload))
    finally:
        t.close(rst=rst)


def _own_peer(ingress_factory, name, extra_records=None):
    """A peer instance of this test's own (so restarting it or giving it
    short timeouts does not disturb other tests), ready when it answers a
    CONNECT to the service."""
    d = ingress_factory.d
    port = harness.free_port()
    peer = harness.make_peer(d.ws, d.certs, port, d.peer_connect_ports(), d.peer_hosts(),
                             name=name, debug=d.debug, extra_records=extra_records)
    ingress_factory.made.append(peer)
    peer.start()
    _wait_peer_answers(d, peer)
    return peer


def _wait_peer_answers(d, peer):
    peer.wait_ready(lambda: harness.peer_connect_status(peer.port, d.certs, SERVICE_HOST,
                                                        d.ports["echo"], timeout=3)[0] == 200,
                    what="the peer answering 200 to CONNECT %s" % SERVICE_HOST)


def _pool_ingress(ingress_factory, peer, name, pool_args):
    d = ingress_factory.d
    args = pool_args + [r"service[.]internal", "%s:%d" % (harness.PEER_HOST, peer.port)]
    return ingress_factory.start(name=name, plugin_args=args, ready="direct",
                                 extra_plugin_lines=["stats_over_http.so"],
                                 connect_ports=d.ingress_connect_ports() + [peer.port])


@pytest.mark.our_plugin_only
def test_warm_connection_is_used(ingress_factory):
    """--pool 2: after a first tunnel has put the peer in use, later tunnels
    are set up over warm connections.  Before each of them the test waits
    until the ingress holds at least 2 connections to the peer with no
    tunnel open (a pool refilled; the pool is per event thread, so a tunnel
    may still land on a thread whose pool is empty).  Each tunnel echoes
    correctly, and the metrics show 6 tunnels started and completed and
    pool.warm_used at least 3."""
    d = ingress_factory.d
    peer = _own_peer(ingress_factory, "peer-pool")
    ing = _pool_ingress(ingress_factory, peer, "ingress-pool", ["--pool", "2"])
    assert _echo_once(ing, d, b"first\n", rst=True) == b"first\n"
    for i in range(5):
        wait_until(lambda: proc.tcp_established(ing.server_pid(), peer.port) >= 2, 10,
                   "the ingress to hold 2 warm connections to the peer")
        msg = b"warm %d\n" % i
        assert _echo_once(ing, d, msg, rst=True) == msg
    got = ing.wait_metrics({"tunnels.started": (6,), "tunnels.completed": (6,),
                            "tunnels.active": (0,)})
    print("tunnels set up over a warm connection: %s of 6" % got.get("pool.warm_used"))
    assert (got["tunnels.started"], got["tunnels.completed"]) == (6, 6), got
    assert got["pool.warm_used"] >= 3, "only %d of 6 tunnels used a warm connection: %r" \
        % (got["pool.warm_used"], got)


STALE_AFTER = 0.5  # s: the fake peer's idle limit (close_if_idle)


@pytest.mark.our_plugin_only
def test_stale_warm_connections_never_fail_a_client(ingress_factory):
    """A peer whose idle timeout closes a pooled connection just as the
    client's CONNECT arrives on it: the fake peer (fakepeer.py) closes,
    without an answer, every connection whose CONNECT comes more than
    STALE_AFTER s after its TLS handshake, and answers and echoes on the
    others.  --pool 2; 6 tunnels, each after the warm connections had sat
    idle past STALE_AFTER.  Every tunnel is set up and echoes; the metrics
    show that each warm connection claimed was stale and its CONNECT resent
    on a new one (pool.stale_retried equal to pool.warm_used, at least 1:
    after the first tunnel on each of the 2 event threads, every tunnel
    takes a warm one), with no failure counted; the fake peer closed that
    many connections as stale."""
    d = ingress_factory.d
    fake = fakepeer.FakePeer(d.certs, name="fakepeer-stale")
    try:
        fake.set_mode(fakepeer.OK, close_if_idle=STALE_AFTER)
        ing = _pool_ingress(ingress_factory, fake, "ingress-stale", ["--pool", "2"])
        for i in range(6):
            if i:
                wait_until(lambda: fake.warm_count() >= 2, 10,
                           "2 warm connections at the fake peer")
                # The subject of the test: idle past the peer's limit, so
                # the warm connections are stale when the next tunnel comes.
                time.sleep(STALE_AFTER + 0.2)
            msg = b"stale %d\n" % i
            assert _echo_once(ing, d, msg, rst=True) == msg, "tunnel %d" % i
        got = ing.wait_metrics({"tunnels.started": (6,), "tunnels.active": (0,)})
        stale = [c for c in fake.conns if (c.end or "").startswith("stale")]
        print("of 6 tunnels: %s over a warm connection, %s resent after a stale one"
              % (got.get("pool.warm_used"), got.get("pool.stale_retried")))
        assert got["tunnels.started"] == 6, got
        assert got["pool.stale_retried"] >= 1, "no stale warm connection was retried: %r" % got
        assert got["pool.stale_retried"] == got["pool.warm_used"] == len(stale), (got, stale)
        assert not {k: v for k, v in got.items() if k.startswith("failures.") and v}, got
    finally:
        fake.stop()


@pytest.mark.our_plugin_only
def test_peer_closing_idle_warm_connections_never_fails_a_client(ingress_factory):
    """A real peer closes idle connections after 1 s
    (proxy.config.http.accept_no_activity_timeout 1) while the ingress keeps
    warm ones for up to 60 s (--pool 4 --pool-max-age 60), so pooled
    connections keep being closed under it.  12 tunnels, 1.3 s apart: every
    one is set up and echoes correctly.  (The ingress notices such a close
    within its 250 ms nudge and replaces the connection, so a claim rarely
    meets a stale one here: the counts are printed;
    test_stale_warm_connections_never_fail_a_client forces that case.)"""
    d = ingress_factory.d
    peer = _own_peer(ingress_factory, "peer-idle", extra_records={
        "proxy.config.http.accept_no_activity_timeout": ("INT", "1"),
        "proxy.config.http.keep_alive_no_activity_timeout_in": ("INT", "1"),
    })
    ing = _pool_ingress(ingress_factory, peer, "ingress-idle",
                        ["--pool", "4", "--pool-max-age", "60"])
    for i in range(12):
        msg = b"idle %d\n" % i
        assert _echo_once(ing, d, msg) == msg, "tunnel %d" % i
        # The subject of the test: idle past the peer's 1 s timeout, so the
        # warm connections opened for this tunnel are closed before the next.
        time.sleep(1.3)
    got = ing.wait_metrics({"tunnels.started": (12,), "tunnels.active": (0,)})
    print("of 12 tunnels: %s over a warm connection, %s resent after a stale one"
          % (got.get("pool.warm_used"), got.get("pool.stale_retried")))
    assert got["tunnels.started"] == 12, got
    assert not {k: v for k, v in got.items() if k.startswith("failures.") and v}, got


@pytest.mark.our_plugin_only
def test_peer_restart_tunnels_work_again(ingress_factory):
    """With warm connections in the pool, the peer is restarted (same port):
    every pooled connection dies.  Once the peer answers a CONNECT again, 5
    tunnels in a row are set up and echo correctly (none fails on a dead
    pooled connection), and the ingress process is the same one."""
    d = ingress_factory.d
    peer = _own_peer(ingress_factory, "peer-restart")
    ing = _pool_ingress(ingress_factory, peer, "ingress-restart", ["--pool", "3"])
    pid = ing.pid
    assert _echo_once(ing, d, b"before\n") == b"before\n"
    wait_until(lambda: proc.tcp_established(ing.server_pid(), peer.port) >= 3, 10,
               "the ingress to hold 3 warm connections to the peer")
    peer.restart()
    _wait_peer_answers(d, peer)
    for i in range(5):
        msg = b"after %d\n" % i
        assert _echo_once(ing, d, msg, timeout=15) == msg, "tunnel %d after the restart" % i
    assert ing.alive() and ing.pid == pid
