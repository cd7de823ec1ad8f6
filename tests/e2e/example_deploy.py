"""The sample configurations (examples/) deployed on loopback: a peer and an
ingress Traffic Server that run with exactly those files, only what any site
changes replaced:

  ports       4443 (the peer), 5432 and 6379 (the services): free ports
  paths       /etc/trafficserver/tls_bridge: the test's certificate directory;
              tls_bridge_ng.so: the plugin under test, when one is given
              (the installed package's own files keep the name)
  addresses   10.1.0.0/16 (clients): 127.0.0.2; 192.0.2.10 (the peer),
              192.0.2.1 (the ingress), 10.20.0.0/16 (services): 127.0.0.1

Every one of them must occur in the samples (a sample that drops or renames
a value fails here instead of being tested half).  The certificates carry
the sample names (peer.example.net, the bridge CA, the peers' CA), and the
hosts files resolve peer.example.net at the ingress and the services only at
the peer, so a 200 for `CONNECT db.internal:...` proves the tunnel went
through the peer.

Records: each instance starts from Debian's stock records.config, then the
harness's test-infrastructure records (base_records: user, threads, logs,
hosts file, the ingress's loopback listener, quick connect retries) except
the two that are policy (remap_required, reverse_proxy.enabled), then the
sample fragment.  The peer listens where its sample says (4443:ssl: every
address) on a free port; it accepts only the test's certificates.

"Networks" on loopback: clients connect from 127.0.0.2 (the allowed one) or
127.0.0.3 (outside it).  127.0.0.1 is where the bridge's own warm
connections come from (see examples/ingress/ip_allow.yaml).

Used by test_examples.py (this tree's examples/ and built plugin) and
test_package.py (the files the Debian package installed, and its plugin)."""

import gzip
import hashlib
import os
import re
import socket
import time

import harness
from harness import wait_until

CERT_DIR = "/etc/trafficserver/tls_bridge"
PEER_NAME = "peer.example.net"
SAMPLE_PLUGIN = "tls_bridge_ng.so"
CLIENT_ADDR = "127.0.0.2"    # inside the clients' network
OUTSIDER_ADDR = "127.0.0.3"  # outside it
INGRESS_FILES = ("records.config", "plugin.config", "tls_bridge.yaml", "remap.config",
                 "ip_allow.yaml")
PEER_FILES = ("records.config", "ssl_multicert.config", "remap.config", "ip_allow.yaml")
# base_records' entries that are policy, not test infrastructure: the
# stock values (and the samples') apply instead.
POLICY_RECORDS = ("proxy.config.url_remap.remap_required", "proxy.config.reverse_proxy.enabled")
STOCK_RECORDS = os.path.join(harness.ATS.stock_config_dir, "records.config")


def read_sample(examples_dir, rel):
    """A sample file's text (a .gz copy, as a package may install, too)."""
    path = os.path.join(examples_dir, rel)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rt") as f:
            return f.read()
    with open(path) as f:
        return f.read()


def parse_records(text):
    """records.config text -> {name: (TYPE, value)}; comments and blank lines
    skipped, anything else must be a CONFIG line."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 3)
        if len(parts) != 4 or parts[0] != "CONFIG":
            raise ValueError("records.config line %d is not 'CONFIG name TYPE value': %r"
                             % (n, line))
        out[parts[1]] = (parts[2], parts[3])
    return out


def instance_records(fragment):
    """Stock records, the harness's infrastructure, then the sample fragment
    (see the module's docstring)."""
    with open(STOCK_RECORDS) as f:
        stock = parse_records(f.read())
    infra = set(harness.base_records("/nonexistent", "0")) - set(POLICY_RECORDS)
    records = {k: v for k, v in stock.items() if k not in infra}
    records.update(parse_records(fragment))
    return records


class ExampleCerts(harness.Certs):
    """The certificates the samples name, in one directory:

    bridge-ca.crt          the bridge CA (the peer trusts it for clients)
    ingress.crt/.key       the ingress's client certificate, by the bridge CA
    peer-ca.crt            the CA of the peers' certificates (the ingress trusts it)
    peer.crt/.key          the peer's certificate, DNS:peer.example.net, by the peers' CA
    stranger.crt/.key      a client certificate by the peers' CA: not the bridge CA"""

    def __init__(self, directory):  # pylint: disable=super-init-not-called
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self._make_ca("bridge-ca", "tls_bridge example bridge CA")
        self._make_ca("peer-ca", "tls_bridge example peer CA")
        self._make_leaf("ingress", "bridge-ca", "ingress.example.net", "clientAuth",
                        "DNS:ingress.example.net")
        self._make_leaf("peer", "peer-ca", PEER_NAME, "serverAuth", "DNS:" + PEER_NAME)
        self._make_leaf("stranger", "peer-ca", "ingress.example.net", "clientAuth",
                        "DNS:ingress.example.net")

    def file(self, name):
        return os.path.join(self.dir, name)


class Substitutions:
    """Exact replacements of sample values, each counted: unused() names
    those that matched nowhere."""

    def __init__(self):
        self.rules = []
        self.hits = {}

    def add(self, label, pattern, repl):
        self.rules.append((label, re.compile(pattern), repl))
        self.hits.setdefault(label, 0)

    def number(self, old, new):
        """A port: the digits alone, not inside another number or address."""
        self.add(old, r"(?<![\d.])%s(?!\d)" % re.escape(old), new)

    def address(self, old, new):
        self.add(old, r"(?<![\d.])%s(?![\d/])" % re.escape(old), new)

    def literal(self, old, new):
        self.add(old, re.escape(old), new)

    def apply(self, text):
        for label, pattern, repl in self.rules:
            text, n = pattern.subn(lambda m, r=repl: r, text)
            self.hits[label] += n
        return text

    def unused(self):
        return sorted(label for label, n in self.hits.items() if n == 0)


def open_tunnel_from(source, proxy_port, host, port, timeout=15.0):
    """harness.open_tunnel from a given source address (127.0.0.x)."""
    t0 = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sock.connect((harness.LOOPBACK4, proxy_port))
        target = harness.hostport(host, port)
        sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        resp, rest = harness.read_response(sock, t0 + timeout)
    except BaseException:
        sock.close()
        raise
    return harness.Tunnel(sock, resp, rest, time.monotonic() - t0, resp.header_time - t0)


def request_from(source, proxy_port, request, timeout=10.0):
    """Send raw bytes from source to the proxy; everything it answers until
    it closes (b"" when it closes at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect((harness.LOOPBACK4, proxy_port))
        try:
            s.sendall(request)
        except OSError:
            return b""
        out = b""
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                return out
            if not data:
                return out
            out += data


class ExampleSite:
    """The sample deployment: services, a peer, an ingress (under
    traffic_manager, so traffic_ctl reaches it).

    examples_dir: the samples' directory; plugin: the plugin to put in place
    of tls_bridge_ng.so in plugin.config, or None to keep the sample's line
    (the installed package)."""

    def __init__(self, workspace, examples_dir, plugin=None, debug=False):
        self.ws = workspace
        self.examples_dir = examples_dir
        self.debug = debug
        self.ports = dict(zip(("ingress", "peer", "db", "cache"), harness.free_ports(4)))
        self.certs = ExampleCerts(os.path.join(workspace.path, "example-certs"))
        p = self.ports
        subs = Substitutions()
        subs.number("4443", str(p["peer"]))
        subs.number("5432", str(p["db"]))
        subs.number("6379", str(p["cache"]))
        subs.literal(CERT_DIR, self.certs.dir)
        subs.address("10.1.0.0/16", CLIENT_ADDR)
        subs.address("192.0.2.10", harness.LOOPBACK4)
        subs.address("192.0.2.1", harness.LOOPBACK4)
        subs.address("10.20.0.0/16", harness.LOOPBACK4)
        if plugin is not None:
            subs.literal(SAMPLE_PLUGIN, plugin)
        self.files = {
            "ingress": {n: subs.apply(read_sample(examples_dir, "ingress/" + n))
                        for n in INGRESS_FILES},
            "peer": {n: subs.apply(read_sample(examples_dir, "peer/" + n)) for n in PEER_FILES},
        }
        if subs.unused():
            raise AssertionError("sample values not found in %s: %s"
                                 % (examples_dir, ", ".join(subs.unused())))
        self.db = self.cache = self.peer = self.ingress = None
        self.extra = []

    # -- instances
    def start_services(self):
        # db: reads what the client sends, answers its sha256; cache: sends
        # seeded random bytes (harness origins).
        self.db = harness.TcpServer(harness.sink_handler, port=self.ports["db"], name="db")
        self.cache = harness.TcpServer(harness.source_handler, port=self.ports["cache"],
                                       name="cache")

    def start_peer(self):
        f = self.files["peer"]
        self.peer = harness.AtsInstance(
            "peer-example", self.ws, self.ports["peer"], tls_port=True,
            records=instance_records(f["records.config"]),
            hosts={"db.internal": harness.LOOPBACK4, "cache.internal": harness.LOOPBACK4},
            extra_files={"etc/" + n: f[n] for n in PEER_FILES if n != "records.config"},
            debug=self.debug)
        self.peer.start()
        self.peer.wait_listening()
        return self.peer

    def new_ingress(self, name="ingress-example", replace=None):
        """An ingress with the sample files (not started); replace: {file
        name: text} for a variant, which gets a port of its own."""
        f = dict(self.files["ingress"])
        f.update(replace or {})
        main = replace is None and self.ingress is None
        inst = harness.AtsInstance(
            name, self.ws, self.ports["ingress"] if main else harness.free_port(),
            records=instance_records(f["records.config"]),
            hosts={PEER_NAME: harness.LOOPBACK4},
            extra_files={"etc/" + n: f[n] for n in INGRESS_FILES if n != "records.config"},
            debug=self.debug, manager=True)
        if main:
            self.ingress = inst
        else:
            self.extra.append(inst)
        return inst

    def start_ingress(self, inst):
        """Start inst; ready when a bridged exchange works from the clients'
        network."""
        inst.start()
        inst.wait_ready(lambda: self.probe(inst), timeout=60,
                        what="a bridged request from %s" % CLIENT_ADDR)
        return inst

    def start(self):
        self.start_services()
        self.start_peer()
        self.start_ingress(self.new_ingress())
        return self

    def stop(self):
        for obj in self.extra + [self.ingress, self.peer, self.db, self.cache]:
            if obj is not None:
                obj.stop()

    def instances(self):
        return [o for o in self.extra + [self.ingress, self.peer] if o is not None]

    # -- traffic
    def probe(self, inst, timeout=3.0):
        """One bridged exchange from the clients' network: 5 bytes to db,
        whose sha256 comes back."""
        with open_tunnel_from(CLIENT_ADDR, inst.port, "db.internal", self.ports["db"],
                              timeout=timeout) as t:
            if t.status != 200:
                return False
            return self.upload(t, b"probe") is True

    @staticmethod
    def upload(tunnel, data):
        """Send data to db (sized sink); True when its digest comes back right."""
        tunnel.sendall(b"SINK %d\n" % len(data) + data)
        reply = tunnel.recv_line()
        want = "%s %d\n" % (hashlib.sha256(data).hexdigest(), len(data))
        return True if reply == want.encode() else reply


def server_pid(inst):
    """traffic_server's pid under inst's traffic_manager, found by its command
    line: its main thread renames itself [TS_MAIN], so
    AtsInstance.server_pid(), which looks for the name traffic_server, finds
    nothing for a managed instance on 9.2."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv0 = f.read().split(b"\0", 1)[0]
        except (OSError, IndexError, ValueError):
            continue
        if ppid == inst.pid and os.path.basename(argv0) == b"traffic_server":
            return int(entry)
    return None


def wait_version_line(inst, timeout=20.0):
    """Ask the ingress its version (traffic_ctl plugin msg tls_bridge version)
    and return the diags.log line with the answer."""
    inst.ctl("plugin", "msg", "tls_bridge", "version")
    pattern = re.compile(r"\[tls_bridge\] tls_bridge (\S+), built against ATS (\S+), "
                         r"running in Traffic Server (\S+)")

    def found():
        return pattern.search(inst.logs())
    return wait_until(found, timeout, "the answer to `plugin msg tls_bridge version`")
