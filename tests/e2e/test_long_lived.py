"""Long-lived tunnels on an ingress at Traffic Server's stock timeouts.

A rule that sets idle_timeout or max_lifetime (0 = never included) governs
its tunnels alone: the plugin lifts ATS's own transaction timeouts on the
client's transaction and on its internal transaction to the peer.  A rule
that leaves them unset keeps ATS's timeouts, as before.  Each test runs one
tunnel of each kind side by side on the same ingress, so the control tunnel
shows that the ATS timeout really is in force there.

The peer's own timeouts govern its side of a tunnel (docs/configuration.md
says which records to raise); these tests give the peer long ones, so what
they observe is the ingress."""

import time

import pytest

import harness
from harness import PEER_HOST, SERVICE_HOST, open_tunnel
from test_tunnel_log import read_until_closed, wait_line

try:
    from conftest import note_instances
except ImportError:  # pragma: no cover - conftest always importable under pytest
    def note_instances(request, *instances):
        pass

pytestmark = pytest.mark.our_plugin_only

HOUR = ("INT", "3600")
GOVERNED = SERVICE_HOST  # the rule with its own limits
CONTROL = "a.service.test"  # the rule without: ATS's timeouts apply


@pytest.fixture
def long_peer(request, bridge):
    """A peer of its own whose transaction timeouts are an hour."""
    d = bridge
    port = harness.free_port()
    peer = harness.make_peer(d.ws, d.certs, port, d.peer_connect_ports(), d.peer_hosts(),
                             name="peer-long", debug=d.debug, extra_records={
                                 "proxy.config.http.transaction_no_activity_timeout_in": HOUR,
                                 "proxy.config.http.transaction_no_activity_timeout_out": HOUR,
                                 "proxy.config.http.transaction_active_timeout_in": HOUR,
                                 "proxy.config.http.transaction_active_timeout_out": HOUR,
                             })
    note_instances(request, peer)
    peer.start()
    peer.wait_listening()
    yield port
    peer.stop()


def start_ingress(factory, peer_port, governed, records):
    """An ingress whose GOVERNED rule has `governed` (YAML) and whose CONTROL
    rule has nothing; records: ATS timeouts (stock values unless given)."""
    d = factory.d
    peer = "%s:%d" % (PEER_HOST, peer_port)
    text = """\
pool: {size: 0}
rules:
  - {host: '%s', peer: '%s', name: governed, %s}
  - {host: '%s', peer: '%s', name: control}
""" % (GOVERNED.replace(".", "[.]"), peer, governed, CONTROL.replace(".", "[.]"), peer)
    stock = {"proxy.config.http.transaction_no_activity_timeout_in": ("INT", "30"),
             "proxy.config.http.transaction_no_activity_timeout_out": ("INT", "30"),
             "proxy.config.http.transaction_active_timeout_in": ("INT", "900"),
             "proxy.config.http.transaction_active_timeout_out": ("INT", "0")}
    stock.update(records)
    return factory.start(name="ingress-long", plugin_args=["--config", "tls_bridge.yaml"],
                         extra_files={"etc/tls_bridge.yaml": text}, extra_records=stock,
                         connect_ports=d.ingress_connect_ports() + [peer_port],
                         extra_plugin_lines=["stats_over_http.so"])


def echoes(t, payload):
    """True when payload comes back whole; False when the tunnel is gone."""
    try:
        t.sendall(payload)
        t.sock.settimeout(10)
        return t.recv_exact(len(payload)) == payload
    except (OSError, ConnectionError, EOFError, harness.ProtocolError):
        return False


def test_quiet_tunnel_outlives_stock_no_activity_timeout(ingress_factory, long_peer):
    """idle_timeout: 0 (never): a tunnel quiet for 40 s still echoes, on an
    ingress whose transaction_no_activity_timeout_in/out are the stock 30 s;
    the control tunnel beside it, quiet as long, was cut by ATS."""
    d = ingress_factory.d
    ing = start_ingress(ingress_factory, long_peer, "idle_timeout: 0", {})
    echo = d.ports["echo"]
    with open_tunnel(ing.port, GOVERNED, echo, timeout=10) as kept, \
            open_tunnel(ing.port, CONTROL, echo, timeout=10) as control:
        assert (kept.status, control.status) == (200, 200)
        assert echoes(kept, b"before\n") and echoes(control, b"before\n")
        time.sleep(40)  # the subject of the test: 40 s of silence
        assert echoes(kept, b"after 40 s\n"), "the idle_timeout: 0 tunnel was cut"
        assert not echoes(control, b"after 40 s\n"), \
            "the control tunnel survived: ATS's 30 s timeout was not in force"
    line = wait_line(ing, lambda l: l["rule"] == "control")
    assert line["status"] == "200", line


def test_busy_tunnel_outlives_short_active_timeout(ingress_factory, long_peer):
    """max_lifetime: 0 (never): with transaction_active_timeout_in at 6 s, a
    tunnel echoing a byte every 0.5 s goes on for 12 s; the control tunnel
    doing the same is cut at about 6 s, by the bridge applying ATS's value
    (its log line says so; failures.lifetime_reached counts it)."""
    d = ingress_factory.d
    ing = start_ingress(ingress_factory, long_peer, "max_lifetime: 0",
                        {"proxy.config.http.transaction_active_timeout_in": ("INT", "6")})
    echo = d.ports["echo"]
    with open_tunnel(ing.port, GOVERNED, echo, timeout=10) as kept, \
            open_tunnel(ing.port, CONTROL, echo, timeout=10) as control:
        assert (kept.status, control.status) == (200, 200)
        t0 = time.monotonic()
        control_cut = None
        while time.monotonic() - t0 < 12:
            assert echoes(kept, b"k"), "the max_lifetime: 0 tunnel was cut after %.1f s" % (
                time.monotonic() - t0)
            if control_cut is None and not echoes(control, b"c"):
                control_cut = time.monotonic() - t0
            time.sleep(0.5)
    assert control_cut is not None, "the control tunnel outlived ATS's 6 s active timeout"
    print("control tunnel cut at ATS's active timeout after %.1f s" % control_cut)
    line = wait_line(ing, lambda l: l["rule"] == "control")
    assert line["close"] == "Traffic Server's transaction_active_timeout_in reached", line
    got = ing.wait_metrics({"failures.lifetime_reached": (1,)})
    assert got["failures.lifetime_reached"] == 1, got


def test_idle_timeout_ends_a_quiet_tunnel(ingress_factory, long_peer):
    """idle_timeout: 5s: the quiet tunnel is ended by the plugin after about
    5 s of silence (not by ATS at 30 s), with failures.idle_timeout and the
    log's close reason saying so."""
    d = ingress_factory.d
    ing = start_ingress(ingress_factory, long_peer, "idle_timeout: 5s", {})
    with open_tunnel(ing.port, GOVERNED, d.ports["echo"], timeout=10) as t:
        assert t.status == 200
        assert echoes(t, b"once\n")
        quiet = read_until_closed(t, 40)
    print("closed after %.1f s of silence" % quiet)
    assert 5 <= quiet < 25, quiet
    # (The readiness probes were tunnels of this rule too; wait_line fails,
    # listing every line, if none of the rule's lines says idle timeout.)
    line = wait_line(ing, lambda l: l["rule"] == "governed" and l["close"] == "idle timeout")
    assert line["status"] == "200", line
    got = ing.wait_metrics({"failures.idle_timeout": (1,)})
    assert got["failures.idle_timeout"] == 1, got
