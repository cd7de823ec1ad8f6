"""The peer decides who may reach what (issue 13), on real Traffic Servers.

Two sites, one peer:

    client --> ingress-b1 [cert: SAN DNS branch-1.corp.test]                ==TLS==> peer [tls_bridge, role: peer] --> svc-a, svc-b
    client --> ingress-b2 [cert: SAN URI spiffe://corp.test/ingress/branch-2] ==TLS==>

The peer loads this plugin with a `role: peer` file whose policy lets
branch-1 reach a.svc.test on svc-a's port and branch-2 reach b.svc.test on
any port.  The services are harness.TcpServer echo servers, so "never
reached" is checked on their accept counts, not inferred.  Checked here:
each ingress reaches exactly what its entry allows; cross attempts (the
other site's service, an allowed host on another port) get 403 at the
client, are counted by cause on the peer, logged in tls_bridge_authz.log
with the identity, and open no connection to any service; a certificate the
CA signed for an identity the policy does not name is refused; a peer that
only *requests* a client certificate (certification_level 1) refuses a
CONNECT without one, and one that did not come over TLS at all; a reload
switches the policy while a tunnel is open (it continues), an invalid
policy or a change of role keeps the old one in force and is reported; and
on an ingress, a rule's `clients` list and `action: deny` refuse (403,
counted, logged) without passing the CONNECT to a later rule or to Traffic
Server.
"""

import os
import re
import socket
import ssl
import sys
import time

import pytest

import harness
from harness import LOOPBACK4, PEER_HOST, SERVICE_HOST, open_tunnel, read_response, wait_until
from conftest import note_instances
from tbtest import metrics as tbmetrics

pytestmark = pytest.mark.our_plugin_only

B1_DNS = "branch-1.corp.test"
B2_URI = "spiffe://corp.test/ingress/branch-2"


def policy_text(port_a, swap=False):
    """The peer's file: branch-1 -> a.svc.test on port_a only, branch-2 ->
    b.svc.test on any port; swap=True: branch-1 -> b.svc.test, branch-2 ->
    a.svc.test (the reload test's second policy)."""
    a = "{host: 'a[.]svc[.]test', ports: %d}" % port_a
    b = "'b[.]svc[.]test'"
    first, second = (b, a) if swap else (a, b)
    return """\
role: peer
policy:
  - name: branch-1
    identity: branch-1[.]corp[.]test
    allow: [%s]
  - name: branch-2
    identity: 'spiffe://corp[.]test/ingress/branch-2'
    allow: [%s]
    deny: [{host: 'secret[.]svc[.]test'}]
""" % (first, second)


def ingress_text(peer_port):
    return """\
unmatched: deny
pool: {size: 0}
rules:
  - {host: '.*[.]svc[.]test', peer: '%s:%d', name: to-peer}
""" % (PEER_HOST, peer_port)


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def connect_peer(port, certs, host, tport, cert=None, key=None, tls=True, timeout=10.0):
    """CONNECT host:tport straight to the peer (as an ingress would, but
    from here): over TLS with the client certificate cert/key (None: none),
    or over plain TCP (tls=False).  Returns the ConnectResponse."""
    raw = socket.create_connection((LOOPBACK4, port), timeout=timeout)
    sock = raw
    try:
        if tls:
            ctx = ssl.create_default_context(cafile=certs.ca_cert)
            if cert:
                ctx.load_cert_chain(cert, key)
            sock = ctx.wrap_socket(raw, server_hostname=PEER_HOST)
        target = harness.hostport(host, tport)
        sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        resp, _ = read_response(sock, time.monotonic() + timeout)
        return resp
    finally:
        sock.close()


def echo_through(ing, host, port, payload=b"authz\n"):
    """Status of CONNECT host:port through ingress ing; on 200, one echo."""
    with open_tunnel(ing.port, host, port, timeout=15) as t:
        if t.status == 200:
            t.sendall(payload)
            assert t.recv_exact(len(payload)) == payload
        return t.status, t.response


class Site:
    """The topology of this file (built once per module)."""

    def __init__(self, plugin, ws, debug):
        self.plugin = plugin
        self.ws = ws
        self.certs = harness.Certs(ws.mkdir("authz-certs"))
        self.certs.make_client("branch1", san="DNS:" + B1_DNS, cn="branch-1 gateway")
        self.certs.make_client("branch2", san="URI:" + B2_URI, cn="branch-2 gateway")
        self.certs.make_client("stranger", san="DNS:stranger.corp.test")
        self.svc_a = harness.TcpServer(harness.echo_handler, name="svc-a")
        self.svc_b = harness.TcpServer(harness.echo_handler, name="svc-b")
        self.peer_port = harness.free_port()
        self.peer = harness.make_peer(
            ws, self.certs, self.peer_port, [self.svc_a.port, self.svc_b.port], self.peer_hosts(),
            name="peer-authz", debug=debug, manager=True,
            plugin_lines=["%s --config tls_bridge.yaml" % plugin],
            extra_files={"etc/tls_bridge.yaml": policy_text(self.svc_a.port)})
        self.ingresses = {}

    @staticmethod
    def peer_hosts():
        return {name: LOOPBACK4 for name in ("a.svc.test", "b.svc.test", "secret.svc.test")}

    def connect_ports(self):
        return [self.peer_port, self.svc_a.port, self.svc_b.port]

    def start(self, debug):
        self.peer.start()
        self.peer.wait_listening()
        for name, cert in (("b1", "branch1"), ("b2", "branch2")):
            ing = harness.make_ingress(
                self.ws, self.certs, harness.free_port(), self.plugin, ["--config", "tls_bridge.yaml"],
                self.connect_ports(), {PEER_HOST: LOOPBACK4}, name="ingress-" + name, debug=debug,
                client_cert=getattr(self.certs, cert + "_cert"),
                client_key=getattr(self.certs, cert + "_key"),
                extra_plugin_lines=["stats_over_http.so"],
                extra_files={"etc/tls_bridge.yaml": ingress_text(self.peer_port)})
            ing.start()
            self.ingresses[name] = ing
        # Ready when each site's own service answers through the peer.
        for name, host, port in (("b1", "a.svc.test", self.svc_a.port), ("b2", "b.svc.test", self.svc_b.port)):
            ing = self.ingresses[name]
            ing.wait_ready(lambda: echo_through(ing, host, port)[0] == 200,
                           what="CONNECT %s:%d through %s" % (host, port, ing.name))

    def stop(self):
        for obj in list(self.ingresses.values()) + [self.peer, self.svc_a, self.svc_b]:
            obj.stop()

    def authz_log(self):
        try:
            with open(os.path.join(self.peer.logdir, "tls_bridge_authz.log")) as f:
                return f.read()
        except OSError:
            return ""

    def wait_authz_line(self, *needles, timeout=20.0):
        """The first authz log line holding every needle."""
        def line():
            for l in self.authz_log().splitlines():
                if all(n in l for n in needles):
                    return l
            return None
        return wait_until(line, timeout, "an authz log line with %r" % (needles,), interval=0.3)

    def peer_metrics(self, want, timeout=25.0):
        """The peer's plugin metrics once they satisfy want (traffic_ctl: 9.2's
        traffic_manager has them only some 10 s after the start)."""
        return self.peer.wait_metrics(want, timeout=timeout)


@pytest.fixture(scope="module")
def site(plugin, workspace, debug_enabled, request):
    s = Site(plugin, workspace, debug_enabled)
    try:
        s.start(debug_enabled)
    except BaseException:
        for inst in [s.peer] + list(s.ingresses.values()):
            sys.stderr.write(inst.log_tail() + "\n")
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture
def authz(site, request):
    note_instances(request, site.peer, *site.ingresses.values())
    return site


def test_each_site_reaches_what_its_entry_allows(authz):
    s = authz
    b1, b2 = s.ingresses["b1"], s.ingresses["b2"]
    a_before, b_before = s.svc_a.accepted, s.svc_b.accepted
    assert echo_through(b1, "a.svc.test", s.svc_a.port)[0] == 200
    assert echo_through(b2, "b.svc.test", s.svc_b.port)[0] == 200
    assert echo_through(b2, "b.svc.test", s.svc_a.port)[0] == 200  # b.svc.test: any port
    assert s.svc_a.wait_for(lambda: s.svc_a.accepted >= a_before + 2, 10)
    assert s.svc_b.wait_for(lambda: s.svc_b.accepted >= b_before + 1, 10)
    line = s.wait_authz_line("target=a.svc.test:%d" % s.svc_a.port, "decision=allowed")
    assert 'identity="dns:%s"' % B1_DNS in line, line
    assert 'entry="1 branch-1"' in line and "cause=allowed" in line, line
    assert re.search(r"client=127\.0\.0\.1:\d+ ", line), line
    line = s.wait_authz_line("target=b.svc.test:%d" % s.svc_b.port, "decision=allowed")
    assert 'identity="uri:%s"' % B2_URI in line and 'entry="2 branch-2"' in line, line
    got = s.peer_metrics({"authz.allowed": 3})
    assert got["authz.allowed"] >= 3, got


def test_cross_attempts_are_refused_counted_logged_and_reach_no_service(authz):
    s = authz
    b1, b2 = s.ingresses["b1"], s.ingresses["b2"]
    before = s.peer_metrics({"authz.allowed": 1})
    a_before, b_before = s.svc_a.accepted, s.svc_b.accepted
    attempts = [
        (b1, "b.svc.test", s.svc_b.port),   # the other site's service
        (b1, "a.svc.test", s.svc_b.port),   # its own host, a port its entry does not list
        (b2, "a.svc.test", s.svc_a.port),   # the other site's service
        (b2, "secret.svc.test", s.svc_b.port),  # denied by branch-2's deny list
    ]
    for ing, host, port in attempts:
        status, resp = echo_through(ing, host, port)
        assert status == 403, (ing.name, host, port, resp)
        # the ingress says the peer refused (the client learns no more from it)
        assert "refused CONNECT %s:%d" % (host, port) in (resp.header("X-TLS-Bridge-Error") or ""), resp
    want = {"authz.target_not_allowed": before.get("authz.target_not_allowed", 0) + len(attempts)}
    got = s.peer_metrics(want)
    assert got.get("authz.target_not_allowed", 0) == want["authz.target_not_allowed"], got
    assert got.get("authz.allowed") == before.get("authz.allowed"), got
    for ing, host, port in attempts:
        line = s.wait_authz_line("target=%s:%d" % (host, port), "decision=refused")
        assert "cause=target_not_allowed" in line, line
        who = "dns:" + B1_DNS if ing is b1 else "uri:" + B2_URI
        assert 'identity="%s"' % who in line, line
    line = s.wait_authz_line("target=secret.svc.test:%d" % s.svc_b.port)
    assert "deny target 1 (host 'secret[.]svc[.]test', ports any)" in line, line
    # Never reached: no service saw a connection.
    time.sleep(0.5)  # the subject: a connection that should not come (none is in flight to wait for)
    assert (s.svc_a.accepted, s.svc_b.accepted) == (a_before, b_before)

    # Straight to the peer, the refusal names the identity and the target.
    resp = connect_peer(s.peer_port, s.certs, "b.svc.test", s.svc_b.port, s.certs.branch1_cert,
                        s.certs.branch1_key)
    assert resp.status == 403, resp
    err = resp.header("X-TLS-Bridge-Error") or ""
    assert "dns:%s" % B1_DNS in err and "b.svc.test:%d" % s.svc_b.port in err, resp
    assert "target_not_allowed" in err and "entry" not in err, resp  # the policy stays in the peer's log
    assert s.svc_b.accepted == b_before


def test_unknown_identity_is_refused(authz):
    s = authz
    before = s.peer_metrics({"authz.allowed": 1}).get("authz.unknown_identity", 0)
    a_before = s.svc_a.accepted
    resp = connect_peer(s.peer_port, s.certs, "a.svc.test", s.svc_a.port, s.certs.stranger_cert,
                        s.certs.stranger_key)
    assert resp.status == 403, resp
    assert "dns:stranger.corp.test" in (resp.header("X-TLS-Bridge-Error") or ""), resp
    assert s.peer_metrics({"authz.unknown_identity": before + 1})["authz.unknown_identity"] == before + 1
    line = s.wait_authz_line("identity=\"dns:stranger.corp.test", "decision=refused")
    assert "cause=unknown_identity" in line and 'entry="-"' in line, line
    assert s.svc_a.accepted == a_before
    # The ingress's own certificate (ingress.test) is signed by the same CA and
    # named by no entry either: the CA alone no longer decides.
    resp = connect_peer(s.peer_port, s.certs, "a.svc.test", s.svc_a.port, s.certs.ingress_cert,
                        s.certs.ingress_key)
    assert resp.status == 403, resp


def test_no_certificate_or_no_tls_is_refused(authz, workspace, plugin, debug_enabled, request):
    """A peer that requests but does not require a client certificate
    (certification_level 1), with a plain listener as well: a CONNECT over
    TLS without a certificate, and one over plain TCP, are both refused by
    the plugin (no_certificate); one with a certificate still decides by
    the policy."""
    s = authz
    tls_port, plain_port = harness.free_ports(2)
    peer = harness.make_peer(
        workspace, s.certs, tls_port, [s.svc_a.port, s.svc_b.port], s.peer_hosts(), name="peer-optional",
        debug=debug_enabled,
        extra_records={
            "proxy.config.ssl.client.certification_level": ("INT", "1"),
            "proxy.config.http.server_ports": (
                "STRING", "%d:ssl:ip-in=%s %d:ip-in=%s" % (tls_port, LOOPBACK4, plain_port, LOOPBACK4)),
        },
        plugin_lines=["stats_over_http.so", "%s --config tls_bridge.yaml" % plugin],
        extra_files={"etc/tls_bridge.yaml": policy_text(s.svc_a.port)})
    note_instances(request, peer)
    try:
        peer.start()
        peer.wait_listening()
        a_before, b_before = s.svc_a.accepted, s.svc_b.accepted
        resp = connect_peer(tls_port, s.certs, "a.svc.test", s.svc_a.port)
        assert resp.status == 403, resp
        assert "no client certificate" in (resp.header("X-TLS-Bridge-Error") or ""), resp
        resp = connect_peer(plain_port, s.certs, "a.svc.test", s.svc_a.port, tls=False)
        assert resp.status == 403, resp
        assert "not over TLS" in (resp.header("X-TLS-Bridge-Error") or ""), resp
        assert (s.svc_a.accepted, s.svc_b.accepted) == (a_before, b_before)
        got = tbmetrics.wait_metrics(lambda: tbmetrics.from_stats_over_http(plain_port),
                                     {"authz.no_certificate": (2,)}, timeout=15)
        assert got.get("authz.no_certificate") == 2, got
        # With its certificate, branch-1 is decided by the policy as ever.
        resp = connect_peer(tls_port, s.certs, "a.svc.test", s.svc_a.port, s.certs.branch1_cert,
                            s.certs.branch1_key)
        assert resp.status == 200, resp
        path = os.path.join(peer.logdir, "tls_bridge_authz.log")

        def logged():
            try:
                with open(path) as f:
                    text = f.read()
            except OSError:
                return None
            return text if text.count("cause=no_certificate") == 2 and "decision=allowed" in text else None
        text = wait_until(logged, 20, "three decisions in %s" % path, interval=0.3)
        assert 'reason="not over TLS"' in text and 'reason="no client certificate"' in text, text
    finally:
        peer.stop()


def test_reload_switches_the_policy_with_tunnels_open(authz):
    s = authz
    b1 = s.ingresses["b1"]
    path = os.path.join(s.peer.etc, "tls_bridge.yaml")
    done = s.peer_metrics({"authz.allowed": 1}).get("reloads.done", 0)
    failed = s.peer_metrics({"authz.allowed": 1}).get("reloads.failed", 0)
    payload = b"still open\n"
    try:
        with open_tunnel(b1.port, "a.svc.test", s.svc_a.port, timeout=15) as t:
            assert t.status == 200, t.response
            t.sendall(payload)
            assert t.recv_exact(len(payload)) == payload

            # Swap the sites' services.
            write_file(path, policy_text(s.svc_a.port, swap=True))
            s.peer.ctl("config", "reload")
            s.peer.wait_log("configuration %d in force, role peer, 2 policy entries" % (done + 2))
            t.sendall(payload)  # the open tunnel continues
            assert t.recv_exact(len(payload)) == payload
            assert echo_through(b1, "a.svc.test", s.svc_a.port)[0] == 403
            assert echo_through(b1, "b.svc.test", s.svc_b.port)[0] == 200

            # An invalid policy: reported, the swapped one stays in force.
            write_file(path, policy_text(s.svc_a.port).replace("branch-1[.]corp[.]test", "branch-1[.corp"))
            s.peer.ctl("plugin", "msg", "tls_bridge", "reload")
            text = s.peer.wait_log("reload (traffic_ctl plugin msg) failed, configuration %d stays in force"
                                   % (done + 2))
            assert "%s:4:15: bad regex 'branch-1[.corp'" % path in text, text
            assert echo_through(b1, "a.svc.test", s.svc_a.port)[0] == 403
            assert echo_through(b1, "b.svc.test", s.svc_b.port)[0] == 200

            # A change of role is refused the same way.
            write_file(path, ingress_text(s.peer_port))
            s.peer.ctl("plugin", "msg", "tls_bridge", "reload")
            s.peer.wait_log("the configuration is now role ingress, but Traffic Server started with role peer")
            assert echo_through(b1, "b.svc.test", s.svc_b.port)[0] == 200
            t.sendall(payload)
            assert t.recv_exact(len(payload)) == payload
        got = s.peer_metrics({"reloads.done": (done + 1,), "reloads.failed": (failed + 2,)})
        assert (got.get("reloads.done"), got.get("reloads.failed")) == (done + 1, failed + 2), got
    finally:
        write_file(path, policy_text(s.svc_a.port))
        s.peer.ctl("plugin", "msg", "tls_bridge", "reload")
    wait_until(lambda: echo_through(b1, "a.svc.test", s.svc_a.port)[0] == 200, 20,
               "the first policy back in force")


def test_match_message_on_the_peer(authz):
    s = authz
    s.peer.ctl("plugin", "msg", "tls_bridge", "match %s a.svc.test:%d" % (B1_DNS, s.svc_a.port))
    s.peer.wait_log("authz name:%s -> a.svc.test:%d" % (B1_DNS, s.svc_a.port))
    text = s.peer.wait_log("allow target 1 (host 'a[.]svc[.]test', ports %d)" % s.svc_a.port)
    assert "policy entry 1 \"branch-1\"" in text


# ---- the ingress: clients lists and deny rules ----------------------------


def test_client_acls_and_deny_rules_on_the_ingress(ingress_factory):
    """A rule whose clients do not include the client (127.0.0.1) refuses
    with 403 and is counted, and the CONNECT never reaches the catch-all
    rule after it; a deny rule refuses a host the catch-all would bridge; a
    rule that lists the client bridges as usual."""
    d = ingress_factory.d
    peer = "%s:%d" % (PEER_HOST, d.ports["peer"])
    text = """\
pool: {size: 0}
rules:
  - {host: 'keep[.]service[.]test', action: deny, name: no-keep}
  - {host: 'a[.]service[.]test', peer: '%s', clients: [10.9.0.0/16, '2001:db8::/32'], name: acl-elsewhere}
  - {host: 'service[.]internal', peer: '%s', clients: [127.0.0.0/8, '::1'], name: acl-local}
  - {host: '.*[.]service[.]test', peer: '%s', name: catch-all}
""" % (peer, peer, peer)
    ing = ingress_factory.start(name="ingress-acl", plugin_args=["--config", "tls_bridge.yaml"],
                                extra_files={"etc/tls_bridge.yaml": text},
                                extra_plugin_lines=["stats_over_http.so"])
    echo = d.servers["echo"]
    port = d.ports["echo"]
    before = echo.accepted
    for host, words in (("a.service.test", "client 127.0.0.1 may not CONNECT to a.service.test:%d" % port),
                        ("keep.service.test", "CONNECT keep.service.test:%d is refused here" % port)):
        with open_tunnel(ing.port, host, port, timeout=10) as t:
            assert t.status == 403, t.response
            assert words in (t.response.header("X-TLS-Bridge-Error") or ""), t.response
    with open_tunnel(ing.port, SERVICE_HOST, port, timeout=10) as t:
        assert t.status == 200, t.response
        t.sendall(b"acl\n")
        assert t.recv_exact(4) == b"acl\n"
    got = ing.wait_metrics({"connects.client_denied": (1,), "connects.rule_denied": (1,)})
    assert (got["connects.client_denied"], got["connects.rule_denied"]) == (1, 1), got
    assert echo.wait_for(lambda: echo.accepted >= before + 1, 10)
    time.sleep(0.5)  # the subject: no further connection may come
    assert echo.accepted == before + 1  # only the allowed tunnel reached the service
    # The refusals are in the tunnel log, with the rule that refused.
    log = os.path.join(ing.logdir, "tls_bridge.log")

    def lines():
        try:
            with open(log) as f:
                text = f.read()
        except OSError:
            return None
        if 'rule="acl-elsewhere"' in text and 'rule="no-keep"' in text:
            return text
        return None
    text = wait_until(lines, 20, "the refusals in the tunnel log", interval=0.3)
    assert re.search(r'target=a\.service\.test:%d rule="acl-elsewhere" peer=- status=403 .*'
                     r'close="refused: client not in the rule\'s clients"' % port, text), text
    assert re.search(r'target=keep\.service\.test:%d rule="no-keep" peer=- status=403 .*'
                     r'close="refused: deny rule"' % port, text), text
