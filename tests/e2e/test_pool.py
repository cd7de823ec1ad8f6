"""Warm connections (--pool): tunnels take an already open TLS connection to
the peer, and a pooled connection that went stale never fails a client.

These use options the reference does not have (our_plugin_only)."""

import time

import pytest

import harness
from harness import SERVICE_HOST, open_tunnel


def _echo_once(ingress, d, payload, timeout=10):
    with open_tunnel(ingress.port, SERVICE_HOST, d.ports["echo"], timeout=timeout) as t:
        assert 200 <= t.status < 300, t.response
        t.sendall(payload)
        return t.recv_exact(len(payload))


def _own_peer(ingress_factory, name, extra_records=None):
    """A peer instance of this test's own (so restarting it or giving it
    short timeouts does not disturb other tests)."""
    d = ingress_factory.d
    port = harness.free_port()
    peer = harness.make_peer(d.ws, d.certs, port, d.peer_connect_ports(), d.peer_hosts(),
                             name=name, debug=d.debug, extra_records=extra_records)
    ingress_factory.made.append(peer)
    peer.start()
    peer.wait_listening()
    return peer


def _pool_ingress(ingress_factory, peer, name, pool_args):
    d = ingress_factory.d
    args = pool_args + [r"service[.]internal", "%s:%d" % (harness.PEER_HOST, peer.port)]
    return ingress_factory.start(name=name, plugin_args=args,
                                 connect_ports=d.ingress_connect_ports() + [peer.port])


@pytest.mark.our_plugin_only
def test_warm_connection_is_used(ingress_factory):
    """--pool 2: after a first tunnel has put the peer in use, later tunnels
    are set up over warm connections (the ingress's debug log says so for at
    least 3 of the 6 tunnels), and each of them echoes correctly."""
    d = ingress_factory.d
    peer = _own_peer(ingress_factory, "peer-pool")
    ing = _pool_ingress(ingress_factory, peer, "ingress-pool", ["--pool", "2"])
    assert _echo_once(ing, d, b"first\n") == b"first\n"
    for i in range(5):
        time.sleep(0.3)  # let the pool refill
        msg = b"warm %d\n" % i
        assert _echo_once(ing, d, msg) == msg
    warm = ing.logs().count("over a warm connection")
    print("tunnels set up over a warm connection: %d of 6" % warm)
    assert warm >= 3, "only %d of 6 tunnels used a warm connection" % warm


@pytest.mark.our_plugin_only
def test_stale_warm_connections_never_fail_a_client(ingress_factory):
    """The peer closes idle connections after 1 s
    (proxy.config.http.accept_no_activity_timeout 1) while the ingress keeps
    warm ones for up to 60 s (--pool 4 --pool-max-age 60), so pooled
    connections keep going stale.  12 tunnels, 1.3 s apart: every one is
    set up and echoes correctly."""
    d = ingress_factory.d
    peer = _own_peer(ingress_factory, "peer-stale", extra_records={
        "proxy.config.http.accept_no_activity_timeout": ("INT", "1"),
        "proxy.config.http.keep_alive_no_activity_timeout_in": ("INT", "1"),
    })
    ing = _pool_ingress(ingress_factory, peer, "ingress-stale",
                        ["--pool", "4", "--pool-max-age", "60"])
    for i in range(12):
        msg = b"stale %d\n" % i
        assert _echo_once(ing, d, msg) == msg, "tunnel %d" % i
        time.sleep(1.3)
    logs = ing.logs()
    print("stale warm connections resent on a new one: %d; warm connections seen closing: %d"
          % (logs.count("was stale"), logs.count("peer side closed")))


@pytest.mark.our_plugin_only
def test_peer_restart_tunnels_work_again(ingress_factory):
    """With warm connections in the pool, the peer is restarted (same port):
    every pooled connection dies.  Once the peer listens again, 5 tunnels in
    a row are set up and echo correctly (none fails on a dead pooled
    connection), and the ingress process is the same one."""
    d = ingress_factory.d
    peer = _own_peer(ingress_factory, "peer-restart")
    ing = _pool_ingress(ingress_factory, peer, "ingress-restart", ["--pool", "3"])
    pid = ing.pid
    assert _echo_once(ing, d, b"before\n") == b"before\n"
    time.sleep(0.5)
    peer.restart()
    peer.wait_listening()
    time.sleep(1.0)  # the restarted peer loads its configuration
    for i in range(5):
        msg = b"after %d\n" % i
        assert _echo_once(ing, d, msg, timeout=15) == msg, "tunnel %d after the restart" % i
    assert ing.alive() and ing.pid == pid
