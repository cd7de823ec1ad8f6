"""Metrics (plugin.tls_bridge.*) move as the matching events happen, read
through stats_over_http on the ingress (AtsInstance.metrics(), with
tests/lib/tbtest/metrics.py)."""

import pytest

import harness

import time

from harness import DEAD_PEER_HOST, PEER_HOST, SERVICE_HOST, open_tunnel
from tbtest.metrics import PREFIX


@pytest.mark.our_plugin_only
def test_metrics_move_with_events(ingress_factory):
    """With stats_over_http loaded on the ingress (started with only
    non-bridged readiness probes, so no tunnel has run yet): every metric
    exists; one bridged echo brings tunnels.started and tunnels.completed to
    exactly 1 and each byte counter to at least what was echoed; a CONNECT
    to a dead peer brings tunnels.started to 2 and the peer failure metrics
    (peer_closed, peer_unreachable; the direct engine's own ones) to exactly 1 in all; a CONNECT that matches no rule
    raises connects.unmatched by exactly 1; tunnels.active ends at 0.
    ATS publishes these sums periodically, so each check polls (up to 15 s)."""
    d = ingress_factory.d
    ing = ingress_factory.start(name="ingress-metrics", ready="direct",
                                extra_plugin_lines=["stats_over_http.so"],
                                plugin_args=["--pool", "0"] + d.rules())
    got = ing.metrics()
    for name in ("tunnels.active", "tunnels.started", "tunnels.completed", "failures.peer_closed",
                 "failures.peer_unreachable", "failures.peer_refused", "failures.peer_timeout",
                 "failures.client_gone", "connects.unmatched", "bytes.client_to_peer",
                 "bytes.peer_to_client", "pool.warm_used"):
        assert name in got, "metric %s%s missing: %r" % (PREFIX, name, sorted(got))

    payload = b"m" * 5000 + b"\n"
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["echo"], timeout=10) as t:
        assert 200 <= t.status < 300, t.response
        t.sendall(payload)
        assert t.recv_exact(len(payload)) == payload
    got = ing.wait_metrics({"tunnels.started": (1,), "tunnels.completed": (1,)})
    assert (got["tunnels.started"], got["tunnels.completed"]) == (1, 1), got
    assert got["bytes.client_to_peer"] >= len(payload), got
    assert got["bytes.peer_to_client"] >= len(payload), got
    unmatched0 = got["connects.unmatched"]  # the readiness probes, published by now

    with open_tunnel(ing.port, "x." + DEAD_PEER_HOST, d.ports["echo"], timeout=10) as t:
        assert t.status == 502, t.response
    got = ing.wait_metrics({"tunnels.started": (2,)})
    assert got["tunnels.started"] == 2, got
    assert sum(got.get(k, 0) for k in harness.PEER_FAILURE_METRICS) == 1, got

    with open_tunnel(ing.port, "direct.test", d.ports["echo"], timeout=10) as t:
        assert 200 <= t.status < 300, t.response
    got = ing.wait_metrics({"connects.unmatched": (unmatched0 + 1,), "tunnels.active": (0,)})
    assert got["connects.unmatched"] == unmatched0 + 1, got
    assert got["tunnels.active"] == 0, got


@pytest.mark.our_plugin_only
def test_fail_closed_refusals_and_failed_warmups_are_counted(ingress_factory):
    """A CONNECT whose matching hits PCRE2's match limit (a rule `(x+)+`
    against 60 x's) is refused with 502 and counted in connects.match_failed,
    never passed through; with --pool 2, warm-ups to a dead peer (in use
    after one CONNECT to it) fail (ATS answers 200 on TCP and the
    connection closes before any use) and are counted in pool.warm_failed,
    with a back-off: a handful, not thousands."""
    d = ingress_factory.d
    ing = ingress_factory.start(name="ingress-failclosed", ready="direct",
                                extra_plugin_lines=["stats_over_http.so"],
                                plugin_args=["--pool", "2", "(x+)+", "%s:%d" % (PEER_HOST, d.ports["peer"])]
                                + d.rules())
    with open_tunnel(ing.port, "x" * 60 + ".test", d.ports["echo"], timeout=20) as t:
        assert t.status == 502, t.response
    got = ing.wait_metrics({"connects.match_failed": (1,)})
    assert got["connects.match_failed"] == 1, got
    assert got["tunnels.started"] == 0, got  # refused before any tunnel, never passed through

    with open_tunnel(ing.port, "x." + DEAD_PEER_HOST, d.ports["echo"], timeout=10) as t:
        assert t.status == 502, t.response
    got = ing.wait_metrics({"pool.warm_failed": 1})
    assert got["pool.warm_failed"] >= 1, got
    time.sleep(3)  # the subject: what the pool does while the dead peer is "in use"
    got = ing.wait_metrics({"pool.warm_failed": 1})
    # 2 per event thread, then backing off 0.1 s doubling: well under 100.
    assert got["pool.warm_failed"] < 100, got
    assert got["connects.identity_failed"] == 0, got
