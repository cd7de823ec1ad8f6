"""The per-tunnel log (tls_bridge.log) and the idle and lifetime limits
(--idle-timeout, --max-lifetime), on a real ingress."""

import os
import re
import socket
import time

import pytest

import harness
from harness import SERVICE_HOST, DEAD_PEER_HOST, WaitTimeout, open_tunnel, wait_until

LINE = re.compile(r'id=(?P<id>\d+) client=(?P<client>\S+) target=(?P<target>\S+) rule="(?P<rule>[^"]*)" '
                  r'peer=(?P<peer>\S+) status=(?P<status>\d+) up=(?P<up>\d+) down=(?P<down>\d+) '
                  r'setup_ms=(?P<setup>\d+) duration_ms=(?P<duration>\d+) close="(?P<close>[^"]*)"'
                  r'(?: tried="(?P<tried>[^"]*)")?')


def log_lines(ingress):
    path = os.path.join(ingress.logdir, "tls_bridge.log")
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [m.groupdict() for m in map(LINE.search, f) if m]


def wait_line(ingress, pred, timeout=15.0):
    """The first log line matching pred; ATS writes text logs in batches."""
    def first_match():
        return next((line for line in log_lines(ingress) if pred(line)), None)
    try:
        return wait_until(first_match, timeout, "a matching tls_bridge.log line", interval=0.3)
    except WaitTimeout as e:
        pytest.fail("%s; lines: %r" % (e, log_lines(ingress)))


def read_until_closed(t, timeout):
    """Seconds until the tunnel's socket reports EOF or a reset."""
    t0 = time.monotonic()
    t.sock.settimeout(timeout)
    try:
        while t.sock.recv(65536):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    return time.monotonic() - t0


@pytest.fixture
def limited(ingress_factory):
    d = ingress_factory.d
    args = ["--pool", "0", "--idle-timeout", "2", "--max-lifetime", "6"] + d.rules()
    return d, ingress_factory.start(name="ingress-limits", plugin_args=args)


@pytest.mark.our_plugin_only
def test_log_line_for_a_normal_tunnel(limited):
    """One bridged echo of 3000 bytes: a tls_bridge.log line for the
    tunnel's target with the client address, rule origin, peer, status 200,
    up >= 3000 and down >= 3000 bytes, setup_ms <= duration_ms, and a close
    reason that is a normal end (not an error or a limit)."""
    d, ing = limited
    payload = b"L" * 2999 + b"\n"
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["echo"], timeout=10) as t:
        assert 200 <= t.status < 300, t.response
        t.sendall(payload)
        assert t.recv_exact(len(payload)) == payload
    target = "%s:%d" % (SERVICE_HOST, d.ports["echo"])
    line = wait_line(ing, lambda l: l["target"] == target)
    assert line["client"].startswith("127.0.0.1:"), line
    assert line["rule"] == "plugin.config argument 7", line  # after the 6 option words
    assert line["peer"] == "%s:%d" % (harness.PEER_HOST, d.ports["peer"]), line
    assert line["status"] == "200", line
    assert int(line["up"]) >= len(payload) and int(line["down"]) >= len(payload), line
    assert int(line["setup"]) <= int(line["duration"]), line
    assert line["close"] in ("both directions done", "other direction still open 1 s after one side closed"), line


@pytest.mark.our_plugin_only
def test_log_line_for_an_ipv6_client(bridge):
    """A client that reaches the ingress on [::1] and tunnels to [::1]:<echo>:
    its log line writes both addresses in brackets (client=[::1]:PORT,
    target=[::1]:PORT), so the port cannot be read as part of the address."""
    d = bridge
    if not d.ipv6:
        pytest.skip("[::1] is not usable on this host")
    with open_tunnel(d.ports["ingress"], "::1", d.ports["echo"], proxy_host="::1") as t:
        assert 200 <= t.status < 300, t.response
        client_port = t.sock.getsockname()[1]
        t.sendall(b"v6 log\n")
        assert t.recv_exact(7) == b"v6 log\n"
    line = wait_line(d.ingress, lambda l: l["client"] == "[::1]:%d" % client_port)
    assert line["target"] == "[::1]:%d" % d.ports["echo"], line
    assert line["status"] == "200", line


@pytest.mark.our_plugin_only
def test_log_line_for_a_refusal(limited):
    """A CONNECT to the dead peer: the client gets 502 and the log line has
    status=502, up=0, down=0 and a close reason starting "refused: peer"
    (test_failure_log.py has one test per cause)."""
    d, ing = limited
    with open_tunnel(ing.port, "y." + DEAD_PEER_HOST, d.ports["echo"], timeout=10) as t:
        assert t.status == 502, t.response
    line = wait_line(ing, lambda l: l["target"].startswith("y." + DEAD_PEER_HOST))
    assert (line["status"], line["up"], line["down"]) == ("502", "0", "0"), line
    assert line["close"].startswith("refused: peer "), line


@pytest.mark.our_plugin_only
def test_idle_timeout_ends_a_quiet_tunnel(limited):
    """--idle-timeout 2: a tunnel where nothing moves after one echo is
    closed by the bridge between 2 and 6 s later (the check runs on a timer
    that backs off to 2 s), and its log line says close="idle timeout"."""
    d, ing = limited
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["echo"], timeout=10) as t:
        assert 200 <= t.status < 300, t.response
        t.sendall(b"idle\n")
        assert t.recv_exact(5) == b"idle\n"
        waited = read_until_closed(t, timeout=15)
    print("idle tunnel closed after %.2f s" % waited)
    assert 1.5 <= waited <= 6.0, "closed after %.2f s" % waited
    wait_line(ing, lambda l: l["close"] == "idle timeout")


@pytest.mark.our_plugin_only
def test_max_lifetime_ends_a_busy_tunnel(limited):
    """--max-lifetime 6 (idle timeout 2): a tunnel that echoes every 0.5 s,
    so it is never idle, is closed by the bridge between 5.5 and 9 s after
    it started, and its log line says close="maximum lifetime reached"."""
    d, ing = limited
    t0 = time.monotonic()
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["echo"], timeout=10) as t:
        assert 200 <= t.status < 300, t.response
        ended = None
        while time.monotonic() - t0 < 15:
            try:
                t.sendall(b"busy\n")
                if t.recv_exact(5) != b"busy\n":
                    break
            except (OSError, harness.ProtocolError):
                break
            time.sleep(0.5)  # the subject: busy, but at a pace (never idle for 2 s)
        ended = time.monotonic() - t0
    print("busy tunnel ended after %.2f s" % ended)
    assert 5.5 <= ended <= 9.0, "ended after %.2f s" % ended
    wait_line(ing, lambda l: l["close"] == "maximum lifetime reached")
