"""Several peers per rule: failover, round robin, hash, health, drain and
peer names made from the match, on real instances: three peer ATS behind
one ingress (each peer a full TLS peer that requires the ingress's client
certificate), loops of real tunnels, peers stopped and started under them.

Which peer served a tunnel is read from the ingress's tunnel log (its
`peer=` field, and `tried=` for the peers tried before it), how often each
was tried from its metrics (plugin.tls_bridge.peer.<host>_<port>.*)."""

import threading
import time

import pytest

import fakepeer
import harness
from harness import PEER_HOST, SERVICE_HOST, open_tunnel
from test_tunnel_log import log_lines, wait_line

try:
    from conftest import note_instances
except ImportError:  # pragma: no cover - conftest always importable under pytest
    def note_instances(request, *instances):
        pass

pytestmark = pytest.mark.our_plugin_only

# A peer is marked down after 2 consecutive failures, for 2 s (+-10%).
HEALTH = "health: {failures: 2, down_for: 2s}"


@pytest.fixture
def trio(request, bridge):
    """Three peers of their own (peer.test on three ports)."""
    d = bridge
    peers = []
    hosts = d.peer_hosts()
    hosts["x.site-a.test"] = harness.LOOPBACK4  # test_peer_names_from_captures's service
    for k in range(3):
        p = harness.make_peer(d.ws, d.certs, harness.free_port(), d.peer_connect_ports(), hosts,
                              name="peer-%d" % k, debug=d.debug)
        note_instances(request, p)
        p.start()
        peers.append(p)
    for p in peers:
        p.wait_listening()
    # Each peer answers a CONNECT to the service before the test starts: a
    # peer ATS just started may answer the first one itself (CI saw 9.2's
    # "502 Origin Server Marked Down" 4 s after the start), and a peer's own
    # answer is relayed, not failed over (docs/configuration.md, Health).
    for p in peers:
        harness.wait_until(lambda p=p: harness.peer_connect_status(p.port, d.certs, SERVICE_HOST,
                                                               d.ports["echo"], timeout=5)[0] == 200,
                           30, "%s to answer a CONNECT to the service" % p.name, retry=(OSError,))
    yield peers
    for p in peers:
        p.stop()


def name(p):
    return "%s:%d" % (PEER_HOST, p.port)


def yaml_list(peers):
    return "[%s]" % ", ".join("'%s'" % name(p) for p in peers)


def start_ingress(factory, peers, rules, manager=False, extra="", ports=()):
    """An ingress whose YAML file has these rules (text, indented as list
    items) and reaches the trio; a last rule sends service.internal to the
    session's peer when no rule above takes it."""
    d = factory.d
    probe = "  - {host: 'service[.]internal', peer: '%s:%d', name: probe}\n" % (PEER_HOST, d.ports["peer"])
    text = "pool: {size: 1}\nconnect_timeout: 4s\n%s%s\nrules:\n%s%s" % (HEALTH, extra, rules, probe)
    # ready="direct": the ingress has loaded its hosts file before any CONNECT
    # meets the trio (one in that gap gets ATS's own "500 Cannot find
    # server" for the peer's name, which counts against the peer's health).
    return factory.start(name="ingress-peers", plugin_args=["--config", "tls_bridge.yaml"],
                         extra_files={"etc/tls_bridge.yaml": text}, manager=manager, ready="direct",
                         connect_ports=d.ingress_connect_ports() + [p.port for p in peers] + list(ports),
                         extra_plugin_lines=[] if manager else ["stats_over_http.so"])


def echo(ing, host, port, payload=b"peers\n", timeout=10):
    """One tunnel, one echo: its status (200 when the echo came back whole)."""
    with open_tunnel(ing.port, host, port, timeout=timeout) as t:
        if t.status != 200:
            return t.status
        t.sendall(payload)
        t.sock.settimeout(timeout)
        return 200 if t.recv_exact(len(payload)) == payload else -1


class Loop(threading.Thread):
    """Tunnels one after the other until stopped, or count of them; every
    status recorded: 200 (the echo came back), the status of a refused
    CONNECT, or 'cut: ...' for a tunnel that opened (200) and then ended
    before its echo came back."""

    def __init__(self, ing, host, port, count=None):
        super().__init__(daemon=True)
        self.ing, self.host, self.port, self.count = ing, host, port, count
        self.statuses = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set() and (self.count is None or len(self.statuses) < self.count):
            try:
                self.statuses.append(echo(self.ing, self.host, self.port))
            except (OSError, harness.ProtocolError) as e:
                self.statuses.append("cut: %r" % (e,))

    def failures(self):
        """Tunnels that did not open."""
        return [s for s in self.statuses if s != 200 and not str(s).startswith("cut")]

    def cuts(self):
        """Indexes of tunnels that opened and then ended early."""
        return [i for i, s in enumerate(self.statuses) if str(s).startswith("cut")]


def served_by(ing, rule):
    """{peer: tunnels of rule it served (status 200)} from the tunnel log."""
    out = {}
    for l in log_lines(ing):
        if l["rule"] == rule and l["status"] == "200":
            out[l["peer"]] = out.get(l["peer"], 0) + 1
    return out


def wait_served(ing, rule, count, timeout=20.0):
    harness.wait_until(lambda: sum(served_by(ing, rule).values()) >= count, timeout,
                       "%d tunnels of rule %s in the tunnel log" % (count, rule))
    return served_by(ing, rule)


def served_lines(ing, rule):
    """The rule's lines with status 200, in the order the tunnels started."""
    lines = [l for l in log_lines(ing) if l["rule"] == rule and l["status"] == "200"]
    return sorted(lines, key=lambda l: int(l["id"]))


def next_line(ing, n0, timeout=15.0):
    """The line of the tunnel after the first n0 logged (tunnels one at a
    time: the log keeps their order)."""
    harness.wait_until(lambda: len(log_lines(ing)) > n0, timeout, "line %d of the tunnel log" % (n0 + 1))
    return sorted(log_lines(ing), key=lambda l: int(l["id"]))[n0]


@pytest.mark.parametrize("balance", ["failover", "round_robin"])
def test_a_peer_stopped_under_load_fails_no_client(ingress_factory, trio, balance):
    """At least 300 tunnels, one after the other, through a rule with three
    peers; the first peer is stopped after 60 and started again after 180.
    Every CONNECT gets its tunnel (an attempt at the stopped peer is retried
    on the next one, or the peer is already marked down by its warm-ups);
    the only tunnel that may end early is one open through the first peer
    at the moment it is stopped (its bytes cannot move to another peer).
    The peer is marked down (diags.log), the others serve while it is down,
    and after it is back it is marked up and serves again (failover: all of
    the rule's tunnels, round robin: its share).

    The target is the service's IP address: a peer ATS that has just
    started answers CONNECTs to a name with its own 500 until it has loaded
    its hosts file, and such an answer is the peer's, relayed, not a
    failure to fail over from (docs/configuration.md, Health)."""
    d = ingress_factory.d
    rules = "  - {host: '127[.]0[.]0[.]1', peers: %s, balance: %s, name: svc}\n" % (yaml_list(trio), balance)
    ing = start_ingress(ingress_factory, trio, rules)
    base = 0
    loop = Loop(ing, harness.LOOPBACK4, d.ports["echo"])
    loop.start()
    try:
        harness.wait_until(lambda: len(loop.statuses) >= 60, 120, "60 tunnels")
        trio[0].stop()
        stopped_at = len(loop.statuses)
        harness.wait_until(lambda: len(loop.statuses) >= stopped_at + 120, 120, "120 tunnels more")
        ing.wait_log("peer %s is down" % name(trio[0]))
        # Before the start: the peer may serve again before wait_listening
        # returns (on 10.x it also waits for the peer's hosts file).
        restart_at = len(loop.statuses)
        trio[0].start()
        # Counted from the start: the peer serves as soon as it listens, and
        # on 10.x wait_listening also waits for its hosts file (a second or
        # more of tunnels, some through the restarted peer, that "while it
        # was down" below must not include).
        back_at = len(loop.statuses)
        trio[0].wait_listening()
        ing.wait_log("peer %s is up again" % name(trio[0]), timeout=30)
        harness.wait_until(lambda: len(loop.statuses) >= max(300, back_at + 60), 120, "300 tunnels in all")
        harness.wait_until(lambda: name(trio[0]) in [l["peer"] for l in served_lines(ing, "svc")[base + back_at:]],
                           30, "the restarted peer serving again")
    finally:
        loop.halt.set()
        loop.join(60)
    assert not loop.is_alive(), "the loop did not finish"
    assert loop.failures() == [], loop.failures()[:10]
    assert all(stopped_at - 2 <= i <= stopped_at + 2 for i in loop.cuts()) and len(loop.cuts()) <= 1, \
        (stopped_at, [(i, loop.statuses[i]) for i in loop.cuts()])
    wait_served(ing, "svc", base + len(loop.statuses) - len(loop.cuts()))
    lines = served_lines(ing, "svc")[base:]
    failed_over = [l for l in lines if name(trio[0]) in (l["tried"] or "") and l["peer"] != name(trio[0])]
    print("%s: %d tunnels; stopped after %d, restarted after %d; served: %s; %d failed over, cut: %s" % (
        balance, len(loop.statuses), stopped_at, back_at, served_by(ing, "svc"), len(failed_over),
        [loop.statuses[i] for i in loop.cuts()]))
    # While the first peer was down, the others served.
    during = lines[stopped_at + 5:restart_at]
    assert during and all(l["peer"] != name(trio[0]) for l in during), [l["peer"] for l in during][:20]
    if balance == "round_robin":
        counts = served_by(ing, "svc")
        assert all(counts.get(name(p), 0) >= 30 for p in trio), counts
    got = ing.metrics()
    key = "peer.%s_%d." % (PEER_HOST, trio[0].port)
    assert got.get(key + "attempts", 0) > 0, sorted(k for k in got if k.startswith("peer."))
    assert got.get(key + "state") == 0, got  # up again


def test_every_peer_down_gives_one_answer_with_every_cause(ingress_factory, trio):
    """With all three peers stopped, every CONNECT gets one prompt 502 (each
    peer refuses at once), never a hang; once every peer is marked down (a
    few failures each), a CONNECT tries them all anyway and its
    X-TLS-Bridge-Error names all three, and so does the tunnel log's
    tried= field."""
    d = ingress_factory.d
    rules = "  - {host: 'service[.]internal', peers: %s, name: svc}\n" % yaml_list(trio)
    ing = start_ingress(ingress_factory, trio, rules)
    for p in trio:
        p.stop()
    for attempt in range(6):
        t0 = time.monotonic()
        with open_tunnel(ing.port, SERVICE_HOST, d.ports["echo"], timeout=20) as t:
            secs = time.monotonic() - t0
            err = t.response.header("X-TLS-Bridge-Error") or ""
            print("all down, CONNECT %d: %d after %.2f s: %s" % (attempt, t.status, secs, err))
            assert t.status == 502, t.response
            assert secs < 4, secs
        if all(name(p) in err for p in trio):
            break
    assert all(name(p) in err for p in trio), err
    assert err.startswith("tls_bridge: no peer answered the CONNECT"), err
    line = wait_line(ing, lambda l: l["rule"] == "svc" and l["status"] == "502" and
                     all(name(p) in (l["tried"] or "") for p in trio))
    print(line)


def test_hash_keeps_a_target_on_one_peer(ingress_factory, trio):
    """balance: hash: 20 tunnels to one target all go to one peer, and six
    targets spread over more than one peer."""
    d = ingress_factory.d
    rules = "  - {host: '.*[.]service[.]test', peers: %s, balance: hash, name: hashed}\n" % yaml_list(trio)
    ing = start_ingress(ingress_factory, trio, rules)
    for _ in range(20):
        assert echo(ing, "a.service.test", d.ports["echo"]) == 200
    first = wait_served(ing, "hashed", 20)
    assert len(first) == 1, first
    hosts = ["keep.service.test", "strip.service.test", "fwd.service.test", "a.service.test"]
    ports = [d.ports["echo"], d.ports["nginx_http"]]
    seen = set()
    for h in hosts:
        for port in ports:
            n0 = len(log_lines(ing))
            with open_tunnel(ing.port, h, port, timeout=10) as t:
                assert t.status == 200, (h, port, t.response)
            seen.add(next_line(ing, n0)["peer"])
    print("peers used by 8 targets: %s; by a.service.test: %s" % (sorted(seen), first))
    assert len(seen) > 1, seen


def test_drain_moves_new_tunnels_and_keeps_open_ones(ingress_factory, trio):
    """`drain PEER` on the first peer of a failover rule: new tunnels go to
    the second peer, a tunnel open through the first one goes on
    byte-exact, `peers` lists it as draining; `undrain` brings new tunnels
    back to it."""
    d = ingress_factory.d
    rules = "  - {host: 'service[.]internal', peers: %s, name: svc}\n" % yaml_list(trio)
    ing = start_ingress(ingress_factory, trio, rules, manager=True)
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["echo"], timeout=10) as held:
        assert held.status == 200
        ing.ctl("plugin", "msg", "tls_bridge", "drain " + name(trio[0]))
        ing.wait_log("peer %s draining" % name(trio[0]))
        for _ in range(5):
            assert echo(ing, SERVICE_HOST, d.ports["echo"]) == 200
        payload = bytes(range(256)) * 4096  # 1 MiB through the drained peer's tunnel
        held.sendall(payload)
        held.sock.settimeout(20)
        assert held.recv_exact(len(payload)) == payload
        ing.ctl("plugin", "msg", "tls_bridge", "peers")
        ing.wait_log("peer %s: 1 open tunnel; up, draining" % name(trio[0]))
    served = wait_served(ing, "svc", 6)
    assert served.get(name(trio[1]), 0) >= 5 and served.get(name(trio[0]), 0) <= 1, served
    ing.ctl("plugin", "msg", "tls_bridge", "undrain " + name(trio[0]))
    ing.wait_log("peer %s no longer draining" % name(trio[0]))
    before = served_by(ing, "svc").get(name(trio[0]), 0)
    for _ in range(3):
        assert echo(ing, SERVICE_HOST, d.ports["echo"]) == 200
    harness.wait_until(lambda: served_by(ing, "svc").get(name(trio[0]), 0) >= before + 3, 20,
                       "the undrained peer serving again")


def test_peer_names_from_captures(ingress_factory, trio):
    """peer 'gw-$2.test:PORT' for host '(.*)[.]site-(a|b)[.]test': site-a
    reaches gw-a.test (the first peer, by the ingress's hosts file), site-b
    reaches gw-b.test (nothing listens at its address: 502 naming it); a
    capture that makes an invalid name (over 253 characters) is refused with
    502 naming the rule, and nothing is tried."""
    d = ingress_factory.d
    port = trio[0].port
    rules = ("  - {host: '(.*)[.]site-(a|b)[.]test', peer: 'gw-$2.test:%d', name: sites}\n"
             "  - {host: '(.*)[.]long[.]test', peer: '$1.$1.gw.test:%d', name: long}\n" % (port, port))
    hosts = d.ingress_hosts()
    hosts.update({"gw-a.test": harness.LOOPBACK4, "gw-b.test": "127.0.0.9"})
    d_hosts = dict(hosts)
    ing = ingress_factory.start(name="ingress-captures", plugin_args=["--config", "tls_bridge.yaml"],
                                extra_files={"etc/tls_bridge.yaml": "pool: {size: 0}\nrules:\n" + rules},
                                hosts=d_hosts, connect_ports=d.ingress_connect_ports() + [port],
                                extra_plugin_lines=["stats_over_http.so"], ready="direct")
    # x.site-a.test resolves at the trio's peers only: an echo proves it went through gw-a.test.
    with open_tunnel(ing.port, "x.site-a.test", d.ports["echo"], timeout=10) as t:
        assert t.status == 200, t.response
        t.sendall(b"site a\n")
        assert t.recv_exact(7) == b"site a\n"
    line = wait_line(ing, lambda l: l["rule"] == "sites" and l["status"] == "200")
    assert line["peer"] == "gw-a.test:%d" % port, line
    with open_tunnel(ing.port, "x.site-b.test", d.ports["echo"], timeout=10) as t:
        assert t.status == 502, t.response
        assert "gw-b.test:%d" % port in (t.response.header("X-TLS-Bridge-Error") or ""), t.response
    line = wait_line(ing, lambda l: l["rule"] == "sites" and l["status"] == "502")
    assert line["peer"] == "gw-b.test:%d" % port, line
    label = ".".join(["a" * 60] * 3)  # twice that, and more, is over 253 characters
    with open_tunnel(ing.port, "%s.long.test" % label, d.ports["echo"], timeout=10) as t:
        assert t.status == 502, t.response
        err = t.response.header("X-TLS-Bridge-Error") or ""
        assert 'rule "long"' in err and "no valid peer" in err, err
    line = wait_line(ing, lambda l: l["rule"] == "long")
    assert (line["status"], line["close"], line["peer"], line["tried"]) == \
        ("502", "refused: no valid peer", "-", "-"), line
    got = ing.wait_metrics({"failures.no_peer": (1,)})
    assert got["failures.no_peer"] == 1, got


def test_a_stalling_peer_is_marked_down_with_the_pool_on(ingress_factory, trio):
    """A first peer that accepts TCP and never answers TLS, warm connections
    on: ATS reports the warm connections to it open on TCP alone, and they
    must not count for it (they did, resetting its failures, and it was
    never marked down: every tunnel paid its share of connect_timeout).
    Its tunnels' timeouts mark it down (failures: 2), and the next tunnel
    goes to the live peer without trying it."""
    d = ingress_factory.d
    stall = fakepeer.FakePeer(d.certs, mode=fakepeer.TLS_STALL, hold_timeout=30.0, name="stall")
    try:
        first = "%s:%d" % (harness.LOOPBACK4, stall.port)
        rules = ("  - {host: '127[.]0[.]0[.]1', peers: ['%s', '%s'], connect_timeout: 2s, name: svc}\n"
                 % (first, name(trio[0])))
        ing = start_ingress(ingress_factory, trio, rules, ports=[stall.port])
        done = 0
        while done < 6 and "peer %s is down" % first not in ing.logs():
            assert echo(ing, harness.LOOPBACK4, d.ports["echo"]) == 200
            done += 1
        ing.wait_log("peer %s is down" % first, timeout=5)
        assert echo(ing, harness.LOOPBACK4, d.ports["echo"]) == 200
        wait_served(ing, "svc", done + 1)
        line = served_lines(ing, "svc")[-1]
        assert line["peer"] == name(trio[0]) and first not in (line["tried"] or ""), line
    finally:
        stall.stop()
