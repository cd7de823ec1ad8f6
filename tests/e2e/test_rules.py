"""Which CONNECTs are bridged: non-matching hosts, anchoring, case and the
trailing dot, and rules read from a --file.

How a test tells "bridged" from "handled by the ingress itself": host names
are split between the two hosts files.  service.internal and a.service.test
resolve only at the peer, so a working tunnel to them went through the
peer; direct.test and a.service.test.evil.test resolve only at the ingress,
so a working tunnel to them did not."""

import uuid

import pytest

import harness
from harness import PEER_HOST, SERVICE_HOST, open_tunnel


def echo_roundtrip(port, host, echo_port, payload=b"ping through tls_bridge\n"):
    with open_tunnel(port, host, echo_port, timeout=10) as t:
        assert 200 <= t.status < 300, "CONNECT %s: %r" % (host, t.response)
        t.sendall(payload)
        assert t.recv_exact(len(payload)) == payload


def peer_never_saw(d, needle):
    """True if the peer's access log has no line containing needle.  To make
    "absent" meaningful despite buffered logging, first send a bridged CONNECT
    with a unique name (the peer answers 500, it resolves nothing) and wait
    until that one is logged: anything earlier has been logged by then."""
    marker = "m%s.service.test" % uuid.uuid4().hex[:12]
    with open_tunnel(d.ingress.port, marker, d.ports["echo"], timeout=10):
        pass
    d.peer.wait_log(marker, timeout=15, source="access")
    return needle not in d.peer.access_log()


def hosts_of(instance):
    with open(instance.dir + "/hosts") as f:
        return f.read().split()


def test_no_rule_match_is_handled_by_ats(bridge):
    """CONNECT direct.test:<echo> (no rule matches; direct.test is only in
    the ingress hosts file): 2xx and the echo works, the echo server saw one
    connection, and the peer's access log never shows direct.test."""
    d = bridge
    assert "direct.test" in hosts_of(d.ingress) and "direct.test" not in hosts_of(d.peer)
    echo_roundtrip(d.ports["ingress"], "direct.test", d.ports["echo"])
    assert d.servers["echo"].accepted == 1
    assert peer_never_saw(d, "direct.test"), "a non-matching CONNECT reached the peer"


@pytest.mark.parametrize("host", ["a.service.test", "A.Service.TEST."])
def test_rule_matches_whole_name_any_case(bridge, host):
    """Rule `.*[.]service[.]test`: CONNECT <host>:<echo> is bridged (the name
    resolves only at the peer) and echoes.  'A.Service.TEST.' checks that
    matching ignores case and one trailing dot."""
    d = bridge
    assert host.lower().rstrip(".") not in hosts_of(d.ingress)
    echo_roundtrip(d.ports["ingress"], host, d.ports["echo"])


def test_rule_is_anchored_at_the_end(bridge):
    """Rule `.*[.]service[.]test` must not match a.service.test.evil.test.
    That name is only in the ingress hosts file: the CONNECT works (2xx,
    echo) only if ATS handles it itself, and the peer's access log never
    shows it."""
    d = bridge
    host = "a.service.test.evil.test"
    assert host in hosts_of(d.ingress) and host not in hosts_of(d.peer)
    echo_roundtrip(d.ports["ingress"], host, d.ports["echo"])
    assert peer_never_saw(d, "evil.test"), "a.service.test.evil.test was bridged to the peer"


def test_rules_from_file(ingress_factory):
    """plugin.config `--file tb_rules.conf` (relative: resolved against the
    ATS config dir, not the process cwd; the file exists only in etc/): a file
    with comments, an indented comment, blank lines and two rules.  Both
    rules bridge (service.internal serves the page; a.service.test echoes) and
    direct.test, matched by no rule, is still handled by ATS."""
    d = ingress_factory.d
    peer = "%s:%d" % (PEER_HOST, d.ports["peer"])
    rules = ("# tls_bridge rules for the e2e suite\n"
             "\n"
             "   # an indented comment\n"
             "service[.]internal %s\n"
             "\n"
             "# another comment\n"
             ".*[.]service[.]test %s\n" % (peer, peer))
    ing = ingress_factory.start(name="ingress-file", plugin_args=["--file", "tb_rules.conf"],
                                extra_files={"etc/tb_rules.conf": rules})
    with open_tunnel(ing.port, SERVICE_HOST, d.ports["nginx_http"]) as t:
        assert 200 <= t.status < 300, t.response
        status, body = harness.http_get_through(t, SERVICE_HOST, "/index.html")
    assert (status, body) == (200, d.page)
    echo_roundtrip(ing.port, "a.service.test", d.ports["echo"])
    echo_roundtrip(ing.port, "direct.test", d.ports["echo"])


@pytest.mark.our_plugin_only
def test_unmatched_deny(ingress_factory):
    """--unmatched deny: a CONNECT that matches no rule gets 403 from the
    ingress and the target (an echo server the ingress could reach) sees no
    connection; a matching CONNECT is still bridged."""
    d = ingress_factory.d
    ing = ingress_factory.start(name="ingress-deny", plugin_args=["--unmatched", "deny"] + d.rules())
    before = d.servers["echo"].accepted
    with open_tunnel(ing.port, "direct.test", d.ports["echo"], timeout=10) as t:
        assert t.status == 403, t.response
    assert d.servers["echo"].accepted == before, "the unmatched CONNECT reached its target"
    assert d.probe_bridged(ing, timeout=10)
