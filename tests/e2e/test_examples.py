"""The sample configurations in examples/ run as they are (example_deploy.py
says what is replaced: ports, paths, certificates, addresses): a peer and an
ingress with exactly those files, and the checks the samples promise:

  - a tunnel to each sample service is bridged, byte for byte both ways;
  - a CONNECT that matches no rule gets the bridge's 403, and a plain GET
    is refused too (ip_allow: CONNECT only);
  - a client outside the allowed network (127.0.0.3) is refused by the
    ingress, and by the peer;
  - the peer accepts only client certificates from the bridge CA;
  - warm connections are used under the narrow ip_allow;
  - the version answer.

And two variants that show why two sample lines are there, on ATS 9.2:

  - ip_allow without its 127.0.0.1 rule: tunnels still work (a tunnel's own
    internal transaction carries its client's address, which is allowed),
    but every warm-up is refused ("client '127.0.0.1' prohibited by
    ip-allow policy"; pool.warm_failed rises, pool.warm_used stays 0);
  - remap.config without its `map https://PEER:PORT` line: the bridge's
    CONNECT to the peer gets 404 from remap (ERR_INVALID_URL in the access
    log) and the client 502.

The ingress runs under traffic_manager: metrics and messages through
traffic_ctl."""

import hashlib
import os
import re
import socket
import ssl
import time

import pytest

import harness
from conftest import note_instances
from example_deploy import (CLIENT_ADDR, OUTSIDER_ADDR, PEER_NAME, ExampleSite,
                            open_tunnel_from, request_from, server_pid, wait_version_line)
from harness import wait_until
from tbtest import proc

pytestmark = [pytest.mark.our_plugin_only,  # the samples use the YAML file
              pytest.mark.skipif(harness.ATS.major >= 10,
                                 reason="the samples are for Debian 12's ATS 9.2 (records.config)")]

EXAMPLES = os.path.join(harness.REPO_ROOT, "examples")
PAYLOAD = 4 << 20
with open(os.path.join(harness.REPO_ROOT, "VERSION")) as _f:
    VERSION = _f.read().strip()


@pytest.fixture(scope="module")
def site_module(plugin, workspace):
    s = ExampleSite(workspace, EXAMPLES, plugin=plugin,
                    debug=os.environ.get("TB_E2E_DEBUG", "1") != "0")
    try:
        s.start()
    except BaseException:
        for inst in s.instances():
            print(inst.log_tail())
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture
def site(request, site_module):
    note_instances(request, *site_module.instances())
    return site_module


def test_bridged_byte_exact_both_ways(site):
    """From the clients' network: PAYLOAD random bytes up to db (its sha256
    comes back right) and PAYLOAD down from cache (sha256 as sent).  The
    service names resolve only at the peer, so a 200 means bridged."""
    p = site.ports
    data = b"".join(harness.random_stream(PAYLOAD, 11))
    with open_tunnel_from(CLIENT_ADDR, site.ingress.port, "db.internal", p["db"]) as t:
        assert t.status == 200, t.response
        assert site.upload(t, data) is True
    with open_tunnel_from(CLIENT_ADDR, site.ingress.port, "cache.internal", p["cache"],
                          timeout=60) as t:
        assert t.status == 200, t.response
        t.sendall(b"SOURCE %d 12 hold\n" % PAYLOAD)
        got = t.recv_exact(PAYLOAD)
    assert hashlib.sha256(got).hexdigest() == harness.random_sha256(PAYLOAD, 12)
    # The tunnel's internal transaction to the peer is logged (and checked by
    # ip_allow) with the client's address.
    site.ingress.wait_log("%s TCP_MISS/200" % CLIENT_ADDR, source="access")
    text = site.ingress.wait_log("CONNECT https://%s:%d/" % (PEER_NAME, p["peer"]),
                                 source="access")
    assert re.search(r" %s \S+ \d+ CONNECT https://%s:%d/" % (re.escape(CLIENT_ADDR),
                                                             re.escape(PEER_NAME), p["peer"]),
                     text), text


def test_unmatched_connect_is_denied(site):
    """unmatched: deny: a host no rule names, and a rule's host on another
    rule's port, get 403 from the bridge; a plain GET gets Traffic Server's
    403 (ip_allow: CONNECT only)."""
    p = site.ports
    for host, port in (("elsewhere.internal", p["db"]), ("db.internal", p["cache"])):
        with open_tunnel_from(CLIENT_ADDR, site.ingress.port, host, port) as t:
            assert t.status == 403, (host, port, t.response)
    answer = request_from(CLIENT_ADDR, site.ingress.port,
                          b"GET http://%s:%d/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                          % (PEER_NAME.encode(), p["peer"], PEER_NAME.encode()))
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]


def test_client_outside_the_network_is_refused(site):
    """127.0.0.3 is outside the allowed network: the ingress closes its
    connection without an answer and says why in diags.log; the peer refuses
    it too, even with a valid client certificate."""
    p = site.ports
    answer = request_from(OUTSIDER_ADDR, site.ingress.port,
                          b"CONNECT db.internal:%d HTTP/1.1\r\nHost: db.internal\r\n\r\n"
                          % p["db"])
    assert answer == b"", answer[:200]
    site.ingress.wait_log("client '%s' prohibited by ip-allow policy" % OUTSIDER_ADDR)
    status = peer_connect(site, OUTSIDER_ADDR, site.certs.file("ingress.crt"),
                          site.certs.file("ingress.key"))
    assert status is None, status
    site.peer.wait_log("client '%s' prohibited by ip-allow policy" % OUTSIDER_ADDR)


def peer_connect(site, source, cert, key):
    """Straight to the peer over TLS from source with a client certificate
    (or none): its status for CONNECT db.internal, or None when the
    handshake fails or the peer closes without an answer."""
    ctx = ssl.create_default_context(cafile=site.certs.file("peer-ca.crt"))
    if cert:
        ctx.load_cert_chain(cert, key)
    try:
        with socket.socket() as raw:
            raw.settimeout(10)
            raw.bind((source, 0))
            raw.connect((harness.LOOPBACK4, site.ports["peer"]))
            with ctx.wrap_socket(raw, server_hostname=PEER_NAME) as s:
                s.sendall(b"CONNECT db.internal:%d HTTP/1.1\r\nHost: db.internal\r\n\r\n"
                          % site.ports["db"])
                resp, _ = harness.read_response(s, time.monotonic() + 10)
                return resp.status
    except (ssl.SSLError, ConnectionError, harness.ProtocolError, OSError):
        return None


def test_peer_accepts_only_the_bridge_ca(site):
    """The peer: the ingress's certificate (bridge CA) opens it; one from
    another CA (here the peers' own CA) or none does not."""
    c = site.certs
    assert peer_connect(site, harness.LOOPBACK4, c.file("ingress.crt"), c.file("ingress.key")) == 200
    assert peer_connect(site, harness.LOOPBACK4, c.file("stranger.crt"),
                        c.file("stranger.key")) is None
    assert peer_connect(site, harness.LOOPBACK4, None, None) is None


def warm_tunnels(site, inst, n=4):
    """n tunnels, each after the ingress holds 2 connections to the peer
    with no tunnel open (a warm pool); each echoes through db."""
    for i in range(n):
        wait_until(lambda: proc.tcp_established(server_pid(inst), site.ports["peer"]) >= 2,
                   15, "the ingress to hold 2 warm connections to the peer")
        with open_tunnel_from(CLIENT_ADDR, inst.port, "db.internal", site.ports["db"]) as t:
            assert t.status == 200, t.response
            assert site.upload(t, b"warm %d" % i) is True


def published(inst):
    """The metrics once traffic_manager has them (some 10 s after the
    start).  Warm-ups tried while the ingress had not loaded its hosts file
    yet (the readiness probe's; "500 Cannot find server") count as failed:
    later checks compare with this reading."""
    return inst.wait_metrics({"tunnels.started": 1}, timeout=30)


def test_warm_connections_work_under_the_narrow_ip_allow(site):
    """The sample's pool (2 per peer and thread) with its ip_allow: tunnels
    set up over warm connections, no warm-up refused."""
    before = published(site.ingress)
    warm_tunnels(site, site.ingress)
    used = before.get("pool.warm_used", 0) + 2
    got = site.ingress.wait_metrics({"pool.warm_used": used}, timeout=30)
    assert got.get("pool.warm_used", 0) >= used, (before, got)
    assert got.get("pool.warm_failed", 0) == before.get("pool.warm_failed", 0), (before, got)
    assert "client '127.0.0.1' prohibited" not in site.ingress.logs()


def test_version_is_logged_and_answered(site):
    """The start-up line and `traffic_ctl plugin msg tls_bridge version` name
    the VERSION file's version and the ATS versions."""
    text = site.ingress.wait_log("[tls_bridge] tls_bridge %s: 2 rules loaded" % VERSION)
    assert "unmatched CONNECTs denied" in text
    m = wait_version_line(site.ingress)
    assert m.group(1) == VERSION
    assert re.fullmatch(r"9\.2\.\d+", m.group(2)) and re.fullmatch(r"9\.2\.\d+", m.group(3)), \
        m.group(0)


def drop_rule(text, first_line):
    """The ip_allow text without the list item that begins with the line
    before first_line ("- apply: in") and contains first_line."""
    lines = text.splitlines(keepends=True)
    i = next(k for k, l in enumerate(lines) if l.strip() == first_line)
    start = i - 1
    assert lines[start].strip() == "- apply: in", lines[start]
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith("- ") \
            and not lines[end].lstrip().startswith("#"):
        end += 1
    return "".join(lines[:start] + lines[end:])


def test_without_the_loopback_rule_warm_ups_are_refused(site, request):
    """The sample's ip_allow minus its 127.0.0.1 rule: tunnels from the
    clients' network still work, without warm connections; every warm-up
    is refused as coming from 127.0.0.1."""
    text = site.files["ingress"]["ip_allow.yaml"]
    narrow = drop_rule(text, "ip_addrs: 127.0.0.1")
    assert "ip_addrs: 127.0.0.1" in text and "ip_addrs: 127.0.0.1" not in narrow
    inst = site.new_ingress("ingress-no-loopback", replace={"ip_allow.yaml": narrow})
    note_instances(request, inst)
    try:
        site.start_ingress(inst)
        before = published(inst)
        for i in range(3):
            with open_tunnel_from(CLIENT_ADDR, inst.port, "db.internal", site.ports["db"]) as t:
                assert t.status == 200, t.response
                assert site.upload(t, b"cold %d" % i) is True
        inst.wait_log("client '127.0.0.1' prohibited by ip-allow policy")
        failed = before.get("pool.warm_failed", 0) + 1
        got = inst.wait_metrics({"pool.warm_failed": failed,
                                 "tunnels.completed": before.get("tunnels.completed", 0) + 3},
                                timeout=30)
        assert got.get("pool.warm_failed", 0) >= failed, (before, got)
        assert got.get("pool.warm_used", 0) == 0, got
    finally:
        inst.stop()


def test_without_the_peer_map_rule_the_bridge_gets_404(site, request):
    """The sample's remap.config without its map line (remap_required 1):
    the bridge's CONNECT https://PEER:PORT is refused by remap and the client
    gets 502."""
    text = site.files["ingress"]["remap.config"]
    empty = "".join(l for l in text.splitlines(keepends=True) if not l.startswith("map "))
    assert empty != text
    inst = site.new_ingress("ingress-no-map", replace={"remap.config": empty})
    note_instances(request, inst)
    try:
        inst.start()
        inst.wait_listening()
        # Ready when the ingress answers at all (hosts file loaded: a 502,
        # not a DNS wait); then the status the sample's map line avoids.
        def status():
            with open_tunnel_from(CLIENT_ADDR, inst.port, "db.internal", site.ports["db"],
                                  timeout=5) as t:
                return t.status
        assert wait_until(status, 45, "an answer from the ingress", retry=(Exception,)) == 502
        inst.wait_log("ERR_INVALID_URL/404", source="access")
        assert re.search(r"ERR_INVALID_URL/404 \d+ CONNECT https://%s:%d/"
                         % (re.escape(PEER_NAME), site.ports["peer"]), inst.access_log())
    finally:
        inst.stop()
