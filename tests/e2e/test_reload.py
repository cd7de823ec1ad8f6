"""Live reload and introspection through traffic_ctl (manager=True: on 9.2
the ingress runs under traffic_manager, which 9.2's traffic_ctl talks to;
10.x's traffic_ctl talks JSON-RPC to traffic_server itself): rules added,
changed and removed by `traffic_ctl config reload` and `traffic_ctl plugin
msg tls_bridge reload` while a tunnel opened before stays intact; an
invalid file leaves the running rules in force; the reload metrics; and
the `match`, `tunnels` and `version` messages."""

import os
import re
import time

import pytest

import harness
from harness import DEAD_PEER_HOST, PEER_HOST, SERVICE_HOST, open_tunnel
from tbtest.metrics import CTL_PATTERN
from tbtest.wait import wait_until
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


def status_of(ing, host, port):
    with open_tunnel(ing.port, host, port, timeout=10) as t:
        return t.status


def echo(t, payload):
    t.sendall(payload)
    assert t.recv_exact(len(payload)) == payload


def metric(ing, name, expected, timeout=25.0):
    """The plugin metric `name` (short: "reloads.done") once it shows
    expected, else its last value: read with traffic_ctl (9.2's
    traffic_manager has a plugin's metrics only some 10 s after the start,
    hence the longer wait)."""
    return ing.wait_metrics({name: (expected,)}, timeout=timeout).get(name)


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
        ing.wait_log("configuration 2 in force")
        echo(t1, payload)  # the old tunnel is intact
        assert status_of(ing, SERVICE_HOST, echo_port) == 403  # removed: unmatched, denied
        assert status_of(ing, "a.service.test", echo_port) == 200  # added

        # Change the rule's peer to one that is down, by plugin message.
        dead = "%s:%d" % (DEAD_PEER_HOST, d.ports["dead_peer"])
        write_config(ing, config_text([(r"a[.]service[.]test", dead, "changed")]))
        ing.ctl("plugin", "msg", "tls_bridge", "reload")
        ing.wait_log("configuration 3 in force")
        assert status_of(ing, "a.service.test", echo_port) == 502
        echo(t1, payload)
        assert metric(ing, "reloads.done", 2) == 2
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
    text = ing.wait_log("reload (traffic_ctl plugin msg) failed, configuration 1 stays in force")
    assert "%s:4:5: unknown key 'colour' in rule 1" % path in text
    ing.ctl("config", "reload")
    ing.wait_log("reload (traffic_ctl config reload) failed")
    assert status_of(ing, SERVICE_HOST, echo_port) == 200  # the old rules still bridge
    assert metric(ing, "reloads.failed", 2) == 2
    assert metric(ing, "reloads.done", 0) == 0
    listed = ing.ctl("metric", "match", CTL_PATTERN)
    for name in ("tunnels.active", "failures.peer_timeout", "connects.denied", "reloads.failed"):
        assert "plugin.tls_bridge." + name in listed, listed
    # Fixed, the next reload goes through.
    write_config(ing, config_text([(r"service[.]internal", peer, "fixed")]))
    ing.ctl("plugin", "msg", "tls_bridge", "reload")
    ing.wait_log("configuration 2 in force")
    assert metric(ing, "reloads.done", 1) == 1


def list_until_one_tunnel(ing, attempts=20):
    """Send `tunnels` until the listing counts one open tunnel; the logs'
    text. The fixture's readiness probe is a tunnel of its own, and it may
    still be closing when the test's tunnel opens (then the count is 2)."""
    count_line = re.compile(r"\] (\d+) open tunnels?$", re.M)

    def counts():  # per log file: the listing's counts so far, oldest first
        out = {}
        for p in ing.log_paths():
            try:
                with open(p, "rb") as f:
                    out[p] = count_line.findall(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return out
    for _ in range(attempts):
        before = counts()
        ing.ctl("plugin", "msg", "tls_bridge", "tunnels")

        def new_count():
            now = counts()
            fresh = [c[len(before.get(p, [])):] for p, c in now.items() if len(c) > len(before.get(p, []))]
            return fresh[0][-1] if fresh else None
        if wait_until(new_count, 20.0, "a new tunnel count in %s's logs" % ing.name) == "1":
            return ing.logs()
        time.sleep(0.25)
    raise AssertionError("the listing never counted exactly one open tunnel:\n%s" % ing.log_tail(40))


def test_match_and_tunnels_messages(managed):
    d, ing, peer = managed
    echo_port = d.ports["echo"]
    ing.ctl("plugin", "msg", "tls_bridge", "match %s:%d" % (SERVICE_HOST, echo_port))
    ing.wait_log('match %s:%d: rule 1 "first" (host \'service[.]internal\', ports any, '
                   'configuration 1) -> peer %s' % (SERVICE_HOST, echo_port, peer))
    ing.ctl("plugin", "msg", "tls_bridge", "match nowhere.test:443")
    ing.wait_log("match nowhere.test:443: no rule (configuration 1): denied (403)")
    ing.ctl("plugin", "msg", "tls_bridge", "match")
    ing.wait_log("match: expected HOST:PORT")
    ing.ctl("plugin", "msg", "tls_bridge", "bogus")
    ing.wait_log("unknown message 'bogus': expected reload, match HOST:PORT, tunnels, peers, drain PEER, undrain PEER or version")
    ing.ctl("plugin", "msg", "tls_bridge", "version")
    with open(os.path.join(harness.REPO_ROOT, "VERSION")) as f:
        version = f.read().strip()
    ing.wait_log("tls_bridge %s, built against ATS " % version)
    with open_tunnel(ing.port, SERVICE_HOST, echo_port, timeout=10) as t:
        assert t.status == 200
        echo(t, b"hello\n")
        text = list_until_one_tunnel(ing)
        assert re.search(r"tunnel id=\d+ target=%s:%d peer=%s rule=\"first\" configuration=1 "
                         r"state=tunnel age_ms=\d+ up=\d+ down=\d+" % (re.escape(SERVICE_HOST), echo_port,
                                                                     re.escape(peer)), text), text
