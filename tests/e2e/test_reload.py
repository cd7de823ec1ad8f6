"""Live reload and introspection on an ingress run under traffic_manager
(in 9.2 traffic_ctl talks to traffic_manager): rules added, changed and
removed by `traffic_ctl config reload` and `traffic_ctl plugin msg
tls_bridge reload` while a tunnel opened before stays intact; an invalid
file leaves the running rules in force; the reload metrics; and the
`match` and `tunnels` messages."""

import os
import re
import time

import pytest

import harness
from harness import DEAD_PEER_HOST, PEER_HOST, SERVICE_HOST, open_tunnel
from test_tunnel_log import wait_line

pytestmark = pytest.mark.our_plugin_only


def config_text(rules, head="unmatched: deny\npool: {size: 0}\n"):
    lines = [head + "rules:"]
    for host, peer, name in rules:
        lines.append("  - {host: '%s', peer: '%s', name: %s}" % (host, peer, name))
    return "\n".join(lines) + "\n"


def write_config(ing, text):
    path = os.path.join(ing.etc, "tls_bridge.yaml")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


@pytest.fixture
def managed(ingress_factory):
    d = ingress_factory.d
    peer = "%s:%d" % (PEER_HOST, d.ports["peer"])
    text = config_text([(r"service[.]internal", peer, "first")])
    ing = ingress_factory.start(name="ingress-managed", manager=True,
                                plugin_args=["--config", "tls_bridge.yaml"],
                                extra_files={"etc/tls_bridge.yaml": text})
    return d, ing, peer


def wait_logs(ing, needle, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = ing.logs()
        if needle in text:
            return text
        time.sleep(0.2)
    pytest.fail("%r never appeared in %s's logs:\n%s" % (needle, ing.name, ing.log_tail(40)))


def status_of(ing, host, port):
    with open_tunnel(ing.port, host, port, timeout=10) as t:
        return t.status


def echo(t, payload):
    t.sendall(payload)
    assert t.recv_exact(len(payload)) == payload


def metric(ing, name, expected, timeout=25.0):
    """Poll `traffic_ctl metric get name` until it shows expected: traffic_server
    hands its metrics to traffic_manager periodically (a plugin's first appear
    some 10 s after start).  Returns the last value seen."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        out = ing.ctl("metric", "get", name, check=False)
        m = re.search(r"^%s (\d+)$" % re.escape(name), out, re.M)
        value = int(m.group(1)) if m else None
        if value == expected:
            break
        time.sleep(0.5)
    return value


def test_reload_adds_changes_and_removes_rules_while_a_tunnel_stays_open(managed):
    d, ing, peer = managed
    echo_port = d.ports["echo"]
    payload = bytes(range(256)) * 256
    with open_tunnel(ing.port, SERVICE_HOST, echo_port, timeout=10) as t1:
        assert t1.status == 200, t1.response
        echo(t1, payload)

        # Remove service.internal's rule, add one for a.service.test.
        write_config(ing, config_text([(r"a[.]service[.]test", peer, "second")]))
        ing.ctl("config", "reload")
        wait_logs(ing, "configuration 2 in force")
        echo(t1, payload)  # the old tunnel is intact
        assert status_of(ing, SERVICE_HOST, echo_port) == 403  # removed: unmatched, denied
        assert status_of(ing, "a.service.test", echo_port) == 200  # added

        # Change the rule's peer to one that is down, by plugin message.
        dead = "%s:%d" % (DEAD_PEER_HOST, d.ports["dead_peer"])
        write_config(ing, config_text([(r"a[.]service[.]test", dead, "changed")]))
        ing.ctl("plugin", "msg", "tls_bridge", "reload")
        wait_logs(ing, "configuration 3 in force")
        assert status_of(ing, "a.service.test", echo_port) == 502
        echo(t1, payload)
        assert metric(ing, "plugin.tls_bridge.reloads.done", 2) == 2
    # The first tunnel kept the rule it started with to the end.
    line = wait_line(ing, lambda l: l["target"] == "%s:%d" % (SERVICE_HOST, echo_port)
                     and l["status"] == "200")
    assert line["rule"] == "first", line
    assert int(line["up"]) >= 3 * len(payload) and int(line["down"]) >= 3 * len(payload), line


def test_invalid_reload_keeps_the_running_rules(managed):
    d, ing, peer = managed
    echo_port = d.ports["echo"]
    path = write_config(ing, "rules:\n  - host: a[.]b\n    peer: x\n    colour: red\n")
    ing.ctl("plugin", "msg", "tls_bridge", "reload")
    text = wait_logs(ing, "reload (traffic_ctl plugin msg) failed, configuration 1 stays in force")
    assert "%s:4:5: unknown key 'colour' in rule 1" % path in text
    ing.ctl("config", "reload")
    wait_logs(ing, "reload (traffic_ctl config reload) failed")
    assert status_of(ing, SERVICE_HOST, echo_port) == 200  # the old rules still bridge
    assert metric(ing, "plugin.tls_bridge.reloads.failed", 2) == 2
    assert metric(ing, "plugin.tls_bridge.reloads.done", 0) == 0
    listed = ing.ctl("metric", "match", "tls_bridge")
    for name in ("tunnels.active", "failures.peer_timeout", "connects.denied", "reloads.failed"):
        assert "plugin.tls_bridge." + name in listed, listed
    # Fixed, the next reload goes through.
    write_config(ing, config_text([(r"service[.]internal", peer, "fixed")]))
    ing.ctl("plugin", "msg", "tls_bridge", "reload")
    wait_logs(ing, "configuration 2 in force")
    assert metric(ing, "plugin.tls_bridge.reloads.done", 1) == 1


def test_match_and_tunnels_messages(managed):
    d, ing, peer = managed
    echo_port = d.ports["echo"]
    ing.ctl("plugin", "msg", "tls_bridge", "match %s:%d" % (SERVICE_HOST, echo_port))
    wait_logs(ing, 'match %s:%d: rule 1 "first" (host \'service[.]internal\', ports any, '
                   'configuration 1) -> peer %s' % (SERVICE_HOST, echo_port, peer))
    ing.ctl("plugin", "msg", "tls_bridge", "match nowhere.test:443")
    wait_logs(ing, "match nowhere.test:443: no rule (configuration 1): denied (403)")
    ing.ctl("plugin", "msg", "tls_bridge", "match")
    wait_logs(ing, "match: expected HOST:PORT")
    ing.ctl("plugin", "msg", "tls_bridge", "bogus")
    wait_logs(ing, "unknown message 'bogus': expected reload, match HOST:PORT or tunnels")
    with open_tunnel(ing.port, SERVICE_HOST, echo_port, timeout=10) as t:
        assert t.status == 200
        echo(t, b"hello\n")
        ing.ctl("plugin", "msg", "tls_bridge", "tunnels")
        text = wait_logs(ing, "1 open tunnel")
        assert re.search(r"tunnel id=\d+ target=%s:%d peer=%s rule=\"first\" configuration=1 "
                         r"state=tunnel age_ms=\d+ up=\d+ down=\d+" % (re.escape(SERVICE_HOST), echo_port,
                                                                     re.escape(peer)), text), text
