"""End-to-end harness for tls_bridge: certificates, Traffic Server instances,
origins (nginx and small Python servers) and a CONNECT client, all on loopback.

Used by the pytest suite in this directory, by scripts/run.py, the soak
(tests/soak) and the benchmark (bench/).  Only the standard library and
tests/lib/tbtest (put on sys.path here, so importing the harness is enough;
tests take wait_until and WaitTimeout from here).  Every process it starts
is registered and stopped at teardown (fixtures) and, as a last resort, at
interpreter exit (atexit).

The topology under test:

    client --plain--> ingress ATS [tls_bridge] ==TLS, mutual certs==> peer ATS --plain--> service

What these tests rely on about Traffic Server is listed in tests/e2e/README.md;
what was learned by experiment while writing this file is in comments next to
the records concerned (see ingress_records / peer_records).
"""

import atexit
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "lib"))
from tbtest import metrics, proc  # noqa: E402
from tbtest.wait import WaitTimeout, wait_until  # noqa: E402


# --------------------------------------------------------------------------
# Which Traffic Server: the one switch, TB_ATS.


class AtsInstall:
    """The Traffic Server installation every instance here runs.

    TB_ATS unset or empty: Debian 12's packages (9.2, programs in /usr/bin,
    stock configuration in /etc/trafficserver, plugins in
    /usr/lib/trafficserver/modules).  TB_ATS=PREFIX: the install under
    PREFIX in the layout of an ATS 10 build (bin/, lib/,
    libexec/trafficserver/, etc/trafficserver/, include/), e.g.
    /opt/ats-10.2.0 (where .ci/run unpacks the upstream 10.2.0 build).

    What it selects, for the harness and for version-specific expectations
    in tests (the only place that asks for the version):
      records_name, records_text()  records.config (9.x) or records.yaml
                                    (10.x: nested keys, no "proxy.config."
                                    prefix, two records renamed)
      runroot_yaml(dir)             each instance's runroot.yaml
      traffic_server, traffic_ctl   the programs; traffic_manager only where
                                    it exists (9.x): on 10.x traffic_ctl talks
                                    JSON-RPC to traffic_server itself
      stock_config_dir, plugin_dir  copied into each instance; where
                                    "stats_over_http.so" is found
      reference_plugin              the upstream tls_bridge.so of this install
      default_plugin                build/tls_bridge.so (9.x) or
                                    build/ats<major>/tls_bridge.so
      hosts_file_late               10.x: wait for the hosts file before any
                                    request that needs a name from it
      server_header()               ATS's Server: header ("ATS/10.2.0")"""

    DEBIAN_REFERENCE = "/usr/lib/trafficserver/modules/tls_bridge.so"

    # 9.2 record names the harness uses -> their 10.x names (the rest are
    # unchanged, checked by 10.2 printing no complaint about them at start).
    RENAMED_10 = {
        "proxy.config.exec_thread.autoconfig": "proxy.config.exec_thread.autoconfig.enabled",
        "proxy.config.http.connect_attempts_max_retries_dead_server":
            "proxy.config.http.connect_attempts_max_retries_suspect_server",
    }

    def __init__(self, prefix=None):
        self.prefix = os.path.abspath(prefix) if prefix else None
        if self.prefix == "/usr":  # `make e2e ATS=/usr`: the packages
            self.prefix = None
        if self.prefix is None:
            self.bindir = "/usr/bin"
            self.sbindir = "/usr/sbin"
            self.libdir = "/usr/lib/trafficserver"
            self.plugin_dir = "/usr/lib/trafficserver/modules"
            self.stock_config_dir = "/etc/trafficserver"
            self.includedir = "/usr/include"
            layout_prefix = "/usr"
        else:
            self.bindir = self.sbindir = os.path.join(self.prefix, "bin")
            self.libdir = os.path.join(self.prefix, "lib")
            self.plugin_dir = os.path.join(self.prefix, "libexec", "trafficserver")
            self.stock_config_dir = os.path.join(self.prefix, "etc", "trafficserver")
            self.includedir = os.path.join(self.prefix, "include")
            layout_prefix = self.prefix
            if not os.path.isfile(os.path.join(self.bindir, "traffic_server")):
                raise RuntimeError("TB_ATS=%s: no bin/traffic_server there" % prefix)
        self.layout_prefix = layout_prefix
        self.traffic_server = os.path.join(self.bindir, "traffic_server")
        self.traffic_ctl = os.path.join(self.bindir, "traffic_ctl")
        manager = os.path.join(self.bindir, "traffic_manager")
        self.traffic_manager = manager if os.path.isfile(manager) else None
        self.version = self._version()
        self.major = int(self.version.split(".")[0])
        self.records_name = "records.yaml" if self.major >= 10 else "records.config"
        self.reference_plugin = os.path.join(self.plugin_dir, "tls_bridge.so")
        self.default_plugin = os.path.join(
            REPO_ROOT, "build", *([] if self.major < 10 else ["ats%d" % self.major]),
            "tls_bridge.so")
        # 10.x reads the hosts file (hostdb.host_file.path) about 1 s after
        # it starts listening, and a name looked up before that fails and
        # keeps failing: the failed DNS answer stays in HostDB's cache, which
        # is consulted before the hosts file (still failing after 60 s,
        # measured with 10.2.0; hostdb.fail.timeout does not help, the
        # record is renewed by each retry).  So on 10.x an instance is not
        # ready until its hosts file is (AtsInstance.wait_hosts_file); 9.2
        # answers from the hosts file as soon as it is read.
        self.hosts_file_late = self.major >= 10

    def _version(self):
        """"9.2.9", "10.2.0": from the API headers, else `traffic_server -V`."""
        try:
            with open(os.path.join(self.includedir, "ts", "apidefs.h")) as f:
                m = re.search(r'TS_VERSION_STRING[^"\n]*"([0-9][^"]*)"', f.read())
            if m:
                return m.group(1)
        except OSError:
            pass
        env = dict(os.environ, TS_ROOT=self.layout_prefix)
        out = subprocess.run([self.traffic_server, "-V"], capture_output=True, text=True,
                             env=env, timeout=30)
        m = re.search(r"traffic_server - ([0-9]+[.][0-9.]+)", out.stdout + out.stderr)
        if not m:
            raise RuntimeError("cannot tell the version of %s: %s" % (self.traffic_server,
                                                                      out.stderr.strip()))
        return m.group(1)

    def __str__(self):
        where = "Debian packages" if self.prefix is None else self.prefix
        return "ATS %s (%s)" % (self.version, where)

    def server_header(self):
        """The Server: header Traffic Server puts on its own answers."""
        return "ATS/%s" % self.version

    def abandoned_handshake_s(self):
        """How long the ingress may keep a connection to a peer after the
        plugin gave it up while Traffic Server still waited for the peer's
        TLS handshake: 9.x closes it with the plugin's side; 10.x keeps it
        until its own no-activity timeout (transaction_no_activity_timeout_out,
        30 s by default: docs/architecture.md, Timeouts)."""
        return 5 if self.major < 10 else 40

    def runroot_yaml(self, directory):
        """runroot.yaml for an instance whose configuration, logs, runtime
        files and cache live in directory (etc/, log/, run/, var/, cache/);
        programs, libraries, plugins and body_factory stay the install's."""
        d = directory
        return "".join("%s: %s\n" % kv for kv in [
            ("prefix", self.layout_prefix),
            ("exec_prefix", self.layout_prefix),
            ("bindir", self.bindir),
            ("sbindir", self.sbindir),
            ("sysconfdir", os.path.join(d, "etc")),
            ("datadir", os.path.join(d, "var")),
            ("includedir", self.includedir),
            ("libdir", self.libdir),
            ("libexecdir", self.plugin_dir),
            ("localstatedir", os.path.join(d, "var")),
            ("runtimedir", os.path.join(d, "run")),
            ("logdir", os.path.join(d, "log")),
            ("cachedir", os.path.join(d, "cache")),
        ])

    def records_text(self, records):
        """The records file's text from {9.2 record name: (TYPE, value)}."""
        if self.major < 10:
            return "".join("CONFIG %s %s %s\n" % (name, kind, value)
                           for name, (kind, value) in records.items())
        return records_yaml({self.RENAMED_10.get(name, name): value
                             for name, value in records.items()})


def yaml_scalar(kind, text):
    """A records.yaml scalar for a records.config (TYPE, text) value: INT
    bare, FLOAT bare, NULL bare (YAML's null: ATS's "no value", e.g. for
    dns.resolv_conf), any other STRING single-quoted."""
    if kind in ("INT", "FLOAT") or text == "NULL":
        return str(text)
    return "'%s'" % str(text).replace("'", "''")


def records_yaml(records):
    """records.yaml from {name: (TYPE, text)}: "proxy.config.a.b.c" becomes
    records: {a: {b: {c: value}}}.  A name that is both a value and the
    parent of another record cannot be written: ValueError."""
    tree = {}
    for name, (kind, text) in records.items():
        parts = name[len("proxy.config."):].split(".") if name.startswith("proxy.config.") \
            else name.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError("record %s: a parent of it has a value" % name)
        if isinstance(node.get(parts[-1]), dict):
            raise ValueError("record %s: it is the parent of other records" % name)
        node[parts[-1]] = yaml_scalar(kind, text)
    lines = ["records:"]

    def emit(node, depth):
        for key in sorted(node):
            if isinstance(node[key], dict):
                lines.append("%s%s:" % ("  " * depth, key))
                emit(node[key], depth + 1)
            else:
                lines.append("%s%s: %s" % ("  " * depth, key, node[key]))
    emit(tree, 1)
    return "\n".join(lines) + "\n"


ATS = AtsInstall(os.environ.get("TB_ATS") or None)
REFERENCE_PLUGIN = ATS.reference_plugin
DEFAULT_PLUGIN = ATS.default_plugin
# make e2e-asan preloads AddressSanitizer into traffic_server.  Freed memory
# then waits in ASan's quarantine (256 MiB by default) before reuse, so RSS
# grows with every allocation and a bound on RSS growth must be looser.
UNDER_ASAN = "asan" in os.environ.get("TB_ATS_LD_PRELOAD", "")


def is_reference(path):
    """True when path is the upstream tls_bridge.so: this install's, or the
    Debian 9.2 package's.  TB_PLUGIN_IS_REFERENCE=0|1 overrides."""
    flag = os.environ.get("TB_PLUGIN_IS_REFERENCE")
    if flag in ("0", "1"):
        return flag == "1"
    for ref in (ATS.reference_plugin, AtsInstall.DEBIAN_REFERENCE):
        try:
            if os.path.samefile(path, ref):
                return True
        except OSError:
            if os.path.realpath(path) == os.path.realpath(ref):
                return True
    return False


def plugin_api_major(path):
    """The Traffic Server API a plugin .so was built for, from the symbols
    it imports: 10 when TSPluginRegister is the C++ (mangled) one of ATS 10's
    ts.h, 9 when it is the C one; None when neither is found."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"16TSPluginRegisterPK" in data:
        return 10
    if b"\0TSPluginRegister\0" in data:
        return 9
    return None


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
LOOPBACK4 = "127.0.0.1"
LOOPBACK6 = "::1"


def env_int(name, default):
    """Integer from the environment, for sizes a heavier local run may raise."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


# --------------------------------------------------------------------------
# Process registry: everything started here is stopped at exit.

_registry = []
_registry_lock = threading.Lock()


def _register(obj):
    with _registry_lock:
        _registry.append(obj)


def stop_all():
    """Stop every registered process/server that is still running."""
    with _registry_lock:
        objs = list(reversed(_registry))
    for obj in objs:
        try:
            obj.stop()
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(stop_all)


def registered_log_owners():
    """Registered objects that have logs (ATS instances, nginx), oldest first."""
    with _registry_lock:
        return [o for o in _registry if hasattr(o, "log_tail")]


# --------------------------------------------------------------------------
# Workspace: one temp dir per run; removed at exit unless asked to keep it.


class Workspace:
    """A temp directory holding every instance's files for one run.

    Removed at exit unless keep=True, TB_E2E_KEEP=1, or mark_failed() was
    called (so the logs of a failing run stay for inspection)."""

    def __init__(self, prefix="tb-e2e-", keep=None):
        base = os.environ.get("TB_E2E_TMPDIR") or None
        if base:
            os.makedirs(base, exist_ok=True)
        self.path = tempfile.mkdtemp(prefix=prefix, dir=base)
        # The dirs are read by nginx workers and ATS threads running as root
        # here, but keep them traversable in case a worker switches user.
        os.chmod(self.path, 0o755)
        self.keep = keep if keep is not None else os.environ.get("TB_E2E_KEEP") == "1"
        self.failed = False
        atexit.register(self.cleanup)

    def mkdir(self, name):
        path = tempfile.mkdtemp(prefix=name + "-", dir=self.path)
        os.chmod(path, 0o755)
        return path

    def mark_failed(self):
        self.failed = True

    def cleanup(self):
        if self.keep or self.failed:
            return
        shutil.rmtree(self.path, ignore_errors=True)


# --------------------------------------------------------------------------
# Ports and addresses (loopback only).


def free_ports(n, host=LOOPBACK4):
    """n distinct free TCP ports on host: bind port 0, read it, close.

    All n sockets stay bound until all are chosen so the kernel hands out n
    different ports; there is an unavoidable race with other programs
    between closing and the real bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(host=LOOPBACK4):
    return free_ports(1, host)[0]


def ipv6_loopback_available():
    """True when a TCP socket can listen and connect on [::1]."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK6, 0))
            s.listen(1)
            with socket.create_connection((LOOPBACK6, s.getsockname()[1]), timeout=2):
                pass
        return True
    except OSError:
        return False


def wait_for_port(port, host=LOOPBACK4, timeout=15.0, proc_alive=None):
    """Wait until host:port accepts a TCP connection; False on timeout or
    when proc_alive() says the owning process died."""
    def accepts():
        with socket.create_connection((host, port), timeout=1):
            return True
    try:
        return wait_until(accepts, timeout, "%s to accept" % hostport(host, port),
                          interval=0.05, retry=(OSError,),
                          stop_if=lambda: proc_alive is not None and not proc_alive())
    except WaitTimeout:
        return False


def hostport(host, port):
    """"host:port", with an IPv6 literal in brackets."""
    if ":" in host and not host.startswith("["):
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


# --------------------------------------------------------------------------
# Certificates, made with the openssl CLI at test time.


class Certs:
    """Test PKI in dir:

    ca            the test CA (trusted by both ATS and the Python client)
    peer          peer server cert, SAN DNS:peer.test, IP:127.0.0.1, DNS:localhost, and the
                  gw-a.test / gw-b.test names test_peers.py's peer templates make
    ingress       ingress client cert (clientAuth), signed by ca
    service       service cert, SAN DNS:service.internal, DNS:localhost, IP:127.0.0.1
    other_ca      a second, unrelated CA
    other_client  a client cert signed by other_ca (the "wrong client cert")

    Each name has <name>_cert and <name>_key attributes (absolute paths).
    make_client() adds client certificates with identities of one's choice
    (a peer-role policy, tests/e2e/test_authz.py)."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self._make_ca("ca", "tls_bridge test CA")
        self._make_leaf("peer", "ca", "peer.test", "serverAuth",
                        "DNS:peer.test,IP:127.0.0.1,DNS:localhost,DNS:gw-a.test,DNS:gw-b.test")
        self._make_leaf("ingress", "ca", "ingress.test", "clientAuth", "DNS:ingress.test")
        self._make_leaf("service", "ca", "service.internal", "serverAuth",
                        "DNS:service.internal,DNS:localhost,IP:127.0.0.1")
        self._make_ca("other_ca", "tls_bridge unrelated CA")
        self._make_leaf("other_client", "other_ca", "ingress.test", "clientAuth",
                        "DNS:ingress.test")

    def _path(self, name, ext):
        return os.path.join(self.dir, "%s.%s" % (name, ext))

    def _run(self, *args):
        res = subprocess.run([OPENSSL] + list(args), cwd=self.dir,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if res.returncode != 0:
            raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), res.stdout))

    def _key(self, name):
        # EC P-256 keys: quick to generate and accepted by ATS, nginx and Python.
        self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", self._path(name, "key"))

    def _make_ca(self, name, cn):
        self._key(name)
        self._run("req", "-x509", "-new", "-key", self._path(name, "key"), "-sha256",
                  "-days", "3", "-subj", "/CN=" + cn,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                  "-addext", "subjectKeyIdentifier=hash",
                  "-out", self._path(name, "crt"))
        setattr(self, name + "_cert", self._path(name, "crt"))
        setattr(self, name + "_key", self._path(name, "key"))

    def _make_leaf(self, name, ca, cn, usage, san):
        """san None: no subjectAltName extension (the CN is the only name)."""
        self._key(name)
        csr = self._path(name, "csr")
        self._run("req", "-new", "-key", self._path(name, "key"), "-subj", "/CN=" + cn,
                  "-out", csr)
        ext = self._path(name, "ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=%s\n"
                    "%s"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n"
                    % (usage, "subjectAltName=%s\n" % san if san else ""))
        self._run("x509", "-req", "-in", csr, "-CA", self._path(ca, "crt"),
                  "-CAkey", self._path(ca, "key"), "-set_serial",
                  str(random.SystemRandom().randrange(1, 2 ** 63)), "-days", "3",
                  "-sha256", "-extfile", ext, "-out", self._path(name, "crt"))
        setattr(self, name + "_cert", self._path(name, "crt"))
        setattr(self, name + "_key", self._path(name, "key"))

    def make_client(self, name, san=None, cn=None, ca="ca"):
        """A client certificate (clientAuth) named name, signed by ca (the
        test CA by default), with the subjectAltName san as openssl's
        configuration writes it ("DNS:branch-1.corp.test",
        "URI:spiffe://corp.test/ingress/branch-2", both comma-separated;
        None: none) and the subject CN cn (default: name).  Sets
        <name>_cert and <name>_key like the others; returns (cert, key)."""
        self._make_leaf(name, ca, cn or name, "clientAuth", san)
        return getattr(self, name + "_cert"), getattr(self, name + "_key")

    def client_context(self, ca=None):
        """A Python TLS client context trusting the test CA (or ca)."""
        ctx = ssl.create_default_context(cafile=ca or self.ca_cert)
        return ctx


# --------------------------------------------------------------------------
# Managed subprocesses.


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tail_file(path, lines=80, max_bytes=256 * 1024):
    """The last `lines` lines of path (reading at most max_bytes)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


class ManagedProcess:
    """A subprocess in its own session (setsid), stopped by its pid:
    SIGTERM, then SIGKILL after `grace` seconds, then waited for."""

    def __init__(self, name, argv, cwd, stdout_path, env=None):
        self.name = name
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.stdout_path = stdout_path
        self.proc = None
        self.started_at = None
        self.stopped_at = None

    def start(self):
        out = open(self.stdout_path, "ab")
        try:
            # start_new_session=True is setsid(2) in the child: the process
            # leads its own session and process group, so signals aimed at the
            # test runner's group (Ctrl-C) do not hit it and we stop it ourselves.
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        finally:
            out.close()
        self.started_at = time.time()
        self.stopped_at = None
        _register(self)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def returncode(self):
        return None if self.proc is None else self.proc.poll()

    def wait_exit(self, timeout):
        """Return the exit code if the process exits within timeout, else None."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace=5.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        # Children left in the process group (none expected for
        # traffic_server; nginx workers exit with their master), by group id.
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.stopped_at is None:
            self.stopped_at = time.time()


# --------------------------------------------------------------------------
# Traffic Server instances.


def base_records(workdir, port_spec, debug=True, debug_tags="tls_bridge"):
    """Records every instance here needs (see tests/e2e/README.md).

    An ordered dict name -> (TYPE, value), with 9.2's names; callers update
    it, and ATS.records_text() writes it as the selected install wants."""
    return {
        # Keep the current user (root in the sandbox) instead of switching to
        # the 'trafficserver' user, which could not read our temp dirs.
        "proxy.config.admin.user_id": ("STRING", "#-1"),
        # Small thread counts keep a 2-core machine usable.
        "proxy.config.exec_thread.autoconfig": ("INT", "0"),
        "proxy.config.exec_thread.limit": ("INT", "2"),
        "proxy.config.accept_threads": ("INT", "1"),
        "proxy.config.task_threads": ("INT", "1"),
        "proxy.config.cache.threads_per_disk": ("INT", "1"),
        # No cache (storage.config is empty: "Cache Disabled", harmless).
        "proxy.config.http.cache.http": ("INT", "0"),
        # Listen on loopback only (ip-in=...), never on a wildcard address.
        "proxy.config.http.server_ports": ("STRING", port_spec),
        # Access logs are silently dropped unless max_space > headroom.
        "proxy.config.log.max_space_mb_for_logs": ("INT", "200"),
        "proxy.config.log.max_space_mb_headroom": ("INT", "50"),
        "proxy.config.log.periodic_tasks_interval": ("INT", "1"),
        # Flush access-log buffers after 1 s (default 5) so tests that look
        # for (or for the absence of) a log line wait less.
        "proxy.config.log.max_secs_per_buffer": ("INT", "1"),
        # Name resolution from our own hosts file only.
        "proxy.config.hostdb.host_file.path": ("STRING", os.path.join(workdir, "hosts")),
        "proxy.config.dns.resolv_conf": ("STRING", "NULL"),
        # With no name servers, a name missing from the hosts file should fail
        # fast rather than after the 20 s default.
        "proxy.config.dns.lookup_timeout": ("INT", "2"),
        "proxy.config.dns.retries": ("INT", "0"),
        # Forward proxy: no remap rule needed for CONNECT or absolute URLs.
        "proxy.config.url_remap.remap_required": ("INT", "0"),
        "proxy.config.reverse_proxy.enabled": ("INT", "0"),
        # Fail fast on a dead origin (connection refused): one attempt only.
        "proxy.config.http.connect_attempts_max_retries": ("INT", "0"),
        "proxy.config.http.connect_attempts_max_retries_dead_server": ("INT", "0"),
        "proxy.config.http.connect_attempts_rr_retries": ("INT", "0"),
        "proxy.config.http.connect_attempts_timeout": ("INT", "10"),
        # Do not remember dead origins across tests for long.
        "proxy.config.http.down_server.cache_time": ("INT", "1"),
        # Below the 20000 fd limit here (silences a start-up warning).
        "proxy.config.net.connections_throttle": ("INT", "10000"),
        # Debug output, on stdout ("O": 9.2's TSDebug, 10.x's Dbg), which
        # lands in traffic_server.out.  It costs CPU, so it can be turned
        # off (debug=False) for heavier runs.
        "proxy.config.diags.debug.enabled": ("INT", "1" if debug else "0"),
        "proxy.config.diags.debug.tags": ("STRING", debug_tags),
        "proxy.config.diags.output.debug": ("STRING", "O"),
    }


class AtsInstance:
    """One traffic_server of the selected install (ATS) with its own runroot
    under a temp dir.

    Layout of self.dir:
      runroot.yaml        sysconfdir/logdir/runtimedir/localstatedir/cachedir -> here
      etc/                the install's stock configuration copied, then ours
                          written over it (records.config or records.yaml)
      log/                diags.log, error.log, access log (squid.log),
                          tls_bridge.log
      run/                10.x: jsonrpc20.sock, which traffic_ctl talks to
      hosts               the instance's hosts file
      traffic_server.out  stdout/stderr of traffic_server (debug lines land here)

    manager=True: traffic_ctl must reach the instance (config reload,
    plugin msg, metric match).  9.x runs traffic_server under
    traffic_manager for that; 10.x has no manager and traffic_ctl talks to
    traffic_server itself, so there it changes nothing."""

    # Names in every hosts file for AtsInstance.wait_hosts_file (one fresh
    # name per try: a name asked for too early stays unresolved on 10.x).
    HOSTS_PROBES = 300

    def __init__(self, name, workspace, port, *, tls_port=False, records=None,
                 plugin_lines=(), remap_lines=(), ssl_multicert_lines=(), hosts=None,
                 extra_files=None, debug=True, ipv6_port=None, out_ipv6=True, manager=False,
                 client_certs=None):
        self.manager = manager
        # Under traffic_manager: only where traffic_ctl needs it (9.x).
        self.under_manager = manager and ATS.traffic_manager is not None
        self.name = name
        self.out_ipv6 = out_ipv6
        self.port = port
        self.tls_port = tls_port
        # A TLS listener that requires a client certificate: the test PKI
        # (Certs) whose ingress certificate a probe presents.
        self.client_certs = client_certs
        self._probes_used = 0
        self.dir = workspace.mkdir(name)
        self.etc = os.path.join(self.dir, "etc")
        self.logdir = os.path.join(self.dir, "log")
        self.stdout_path = os.path.join(self.dir, "traffic_server.out")
        spec = "%d:%sip-in=%s" % (port, "ssl:" if tls_port else "", LOOPBACK4)
        if ipv6_port:
            spec += " %d:ipv6:%sip-in=[%s]" % (ipv6_port, "ssl:" if tls_port else "", LOOPBACK6)
        self.records = base_records(self.dir, spec, debug=debug)
        self.records.update(records or {})
        self.plugin_lines = list(plugin_lines)
        self.remap_lines = list(remap_lines)
        self.ssl_multicert_lines = list(ssl_multicert_lines)
        self.hosts = dict(hosts or {})
        self.hosts.setdefault("localhost", LOOPBACK4)
        self.extra_files = dict(extra_files or {})
        self.process = None
        self._write_config()

    # -- configuration files
    def _write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _write_config(self):
        shutil.copytree(ATS.stock_config_dir, self.etc, dirs_exist_ok=True)
        for sub in ("log", "run", "var", "cache"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self._write("runroot.yaml", ATS.runroot_yaml(self.dir))
        self._write("etc/" + ATS.records_name, ATS.records_text(self.records))
        self._write("etc/plugin.config", "".join(l + "\n" for l in self.plugin_lines))
        self._write("etc/remap.config", "".join(l + "\n" for l in self.remap_lines))
        self._write("etc/ssl_multicert.config",
                    "".join(l + "\n" for l in self.ssl_multicert_lines))
        self._write("etc/storage.config", "")
        self._write("etc/ip_allow.yaml", ip_allow_yaml(self.out_ipv6))
        self._write("etc/logging.yaml", LOGGING_YAML)
        self._write("etc/sni.yaml", "sni: []\n")
        probes = range(self.HOSTS_PROBES if ATS.hosts_file_late else 0)
        self._write("hosts", "".join("%s %s\n" % (addr, name)
                                     for name, addr in self.hosts.items()) +
                    "".join("%s %s\n" % (LOOPBACK4, self._probe_name(i)) for i in probes))
        for rel, text in self.extra_files.items():
            self._write(rel, text)

    # -- life cycle
    def env(self):
        env = dict(os.environ)
        env["TS_RUNROOT"] = os.path.join(self.dir, "runroot.yaml")
        return env

    def ctl(self, *args, timeout=20.0, check=True):
        """Run traffic_ctl against this instance (on 9.x it needs
        manager=True); returns its stdout."""
        r = subprocess.run([ATS.traffic_ctl] + list(args), env=self.env(), capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("traffic_ctl %s: exit %d: %s %s"
                               % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def metrics(self):
        """The plugin's metrics now, {short name: int} (tbtest.metrics):
        through stats_over_http when it is in plugin.config, else through
        traffic_ctl (on 9.x only under traffic_manager: manager=True)."""
        if any(l.split()[0].endswith("stats_over_http.so") for l in self.plugin_lines if l):
            return metrics.from_stats_over_http(self.port)
        if self.under_manager or ATS.traffic_manager is None:
            return metrics.from_traffic_ctl(lambda *args: self.ctl(*args, check=False))
        raise ValueError("%s: no way to read metrics: load stats_over_http.so "
                         "(extra_plugin_lines) or run it under traffic_manager" % self.name)

    def wait_metrics(self, want, timeout=15.0):
        """Poll metrics() until they satisfy want ({name: at least n} or
        {name: (exactly n,)}); the last reading, for the caller to assert on
        (tbtest.metrics.wait_metrics)."""
        return metrics.wait_metrics(self.metrics, want, timeout)

    def wait_log(self, needle, timeout=20.0, source="logs"):
        """Poll the instance's logs (source "logs": all of them, as logs();
        "access": the access log) until needle appears; returns their text.
        WaitTimeout, with the logs' tails, if it never does."""
        read = self.access_log if source == "access" else self.logs

        def text_with_needle():
            text = read()
            return text if needle in text else None
        try:
            return wait_until(text_with_needle, timeout,
                              "%r in %s's %s" % (needle, self.name, source))
        except WaitTimeout as e:
            raise WaitTimeout("%s\n%s" % (e, self.log_tail(40))) from None

    def start(self):
        env = self.env()
        # make e2e-asan: load the sanitizer runtimes into traffic_server only
        # (an ASan-built plugin needs them loaded first); leak checking at
        # exit is off because ATS does not free everything when it stops.
        preload = os.environ.get("TB_ATS_LD_PRELOAD")
        if preload:
            env["LD_PRELOAD"] = preload
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        argv = [ATS.traffic_manager] if self.under_manager else [ATS.traffic_server]
        self.process = ManagedProcess(self.name, argv, self.dir, self.stdout_path, env=env)
        self.process.log_tail = self.log_tail  # so the registry lists us for log dumps
        self.process.owner = self
        self.process.start()
        return self

    def stop(self):
        if self.process:
            self.process.stop()

    def restart(self):
        self.stop()
        self.start()

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def alive(self):
        return self.process is not None and self.process.alive()

    def wait_exit(self, timeout):
        return self.process.wait_exit(timeout)

    def server_pid(self):
        """traffic_server's pid: the process itself, or traffic_manager's
        child under the manager (None while there is none)."""
        if not self.under_manager:
            return self.pid
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open("/proc/%s/comm" % entry) as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(fields[1]) == self.pid and comm.startswith("traffic_server"):
                return int(entry)
        return None

    def fd_count(self):
        return proc.fd_count(self.server_pid())

    def rss_kib(self):
        return proc.rss_kib(self.server_pid())

    def wait_listening(self, timeout=20.0):
        """Wait until the instance accepts connections and, on 10.x, until
        it has read its hosts file (wait_hosts_file)."""
        if not wait_for_port(self.port, timeout=timeout, proc_alive=self.alive):
            raise StartupError("%s did not start listening on %d within %.0f s (alive=%s)\n%s"
                               % (self.name, self.port, timeout, self.alive(), self.log_tail()))
        if ATS.hosts_file_late:
            self.wait_hosts_file()

    @staticmethod
    def _probe_name(i):
        return "tb-hosts-probe-%d.test" % i

    def resolves(self, name, timeout=5.0):
        """True when the instance resolves name: a forward-proxy GET
        http://name:<a port where nothing listens>/ gets anything but
        Traffic Server's "500 Cannot find server" (a resolved name gets a
        502).  On a TLS listener (a peer) the GET is made over TLS with the
        test PKI's ingress certificate, for an https:// URL (an http:// one
        gets "400 Invalid HTTP Request" there, resolved or not)."""
        dead = free_port()
        raw = socket.create_connection((LOOPBACK4, self.port), timeout=timeout)
        sock = raw
        try:
            if self.tls_port:
                ctx = ssl.create_default_context(cafile=self.client_certs.ca_cert)
                ctx.load_cert_chain(self.client_certs.ingress_cert, self.client_certs.ingress_key)
                sock = ctx.wrap_socket(raw, server_hostname=PEER_HOST)
            sock.sendall(("GET %s://%s:%d/ HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                          % ("https" if self.tls_port else "http", name, dead, name,
                             dead)).encode())
            resp, _ = read_response(sock, time.monotonic() + timeout)
            return not (resp.status == 500 and "Cannot find server" in resp.reason)
        finally:
            sock.close()

    def wait_hosts_file(self, timeout=30.0):
        """Wait until the instance answers from its hosts file, asking each
        time for a name of it never asked for before (see
        AtsInstall.hosts_file_late: on 10.x an early miss is remembered)."""
        def fresh_name_resolves():
            if self._probes_used >= self.HOSTS_PROBES:
                raise StartupError("%s: all %d probe names of the hosts file used"
                                   % (self.name, self.HOSTS_PROBES))
            self._probes_used += 1
            return self.resolves(self._probe_name(self._probes_used - 1))
        def exited():
            return not self.alive() and "exited (%s)" % self.process.returncode()
        try:
            wait_until(fresh_name_resolves, timeout, "%s to read its hosts file" % self.name,
                       interval=0.1, retry=(OSError, ProtocolError), stop_if=exited)
        except WaitTimeout as e:
            raise StartupError("%s\n%s" % (e, self.log_tail())) from None

    def wait_ready(self, probe, timeout=45.0, what="probe"):
        """Call probe() (which should use a short timeout) until it returns
        True; raise StartupError with the logs when it never does (or the
        process exits)."""
        self.wait_listening()
        def exited():
            return not self.alive() and "exited (%s)" % self.process.returncode()
        try:
            wait_until(probe, timeout, what, retry=(Exception,), stop_if=exited)
        except WaitTimeout as e:
            raise StartupError("%s: %s\n%s" % (self.name, e, self.log_tail())) from None

    # -- logs
    def log_paths(self):
        names = ["traffic.out", "diags.log", "error.log", "squid.log", "manager.log",
                 "tls_bridge_authz.log"]
        paths = [self.stdout_path] + [os.path.join(self.logdir, n) for n in names]
        return [p for p in paths if os.path.exists(p)]

    def logs(self):
        """Everything in the instance's logs, concatenated (for assertions)."""
        out = []
        for p in self.log_paths():
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(out)

    def log_tail(self, lines=60):
        parts = ["==== %s (pid %s, dir %s, alive=%s)" % (self.name, self.pid, self.dir,
                                                         self.alive())]
        for p in self.log_paths():
            parts.append("---- %s" % p)
            parts.append(tail_file(p, lines))
        return "\n".join(parts)

    def access_log(self):
        p = os.path.join(self.logdir, "squid.log")
        try:
            with open(p) as f:
                return f.read()
        except OSError:
            return ""


class StartupError(RuntimeError):
    pass


def ip_allow_yaml(out_ipv6=True, in_addrs='[127.0.0.1, "::1"]'):
    """Loopback only, inbound (in_addrs: the YAML list of client addresses
    allowed in; the bench widens it to 127.0.0.0/8 for Squid's source
    address).  out_ipv6=False denies outbound connections
    to ::1 (for the ingress: a service on [::1] is then reachable only
    through the peer).  Found by experiment: an 'out' allow list alone does
    not deny anything else; an explicit 'deny' rule is needed."""
    out = ""
    if not out_ipv6:
        out = """\
  - apply: out
    ip_addrs: "::/0"
    action: deny
    methods: ALL
"""
    return """\
ip_allow:
  - apply: in
    ip_addrs: %s
    action: allow
    methods: ALL
  - apply: out
    ip_addrs: 127.0.0.0/8
    action: allow
    methods: ALL
%s""" % (in_addrs, out)


LOGGING_YAML = """\
# One ASCII access log, squid format plus the CONNECT target, so a test can
# see whether an instance saw a request at all, and the client identity
# headers the request came with (what a peer learns about the client).
logging:
  formats:
    - name: tb
      format: '%<cqtq> %<ttms> %<chi> %<crc>/%<pssc> %<psql> %<cqhm> %<cquc> %<phr>/%<shn> %<sssc> cip=%<{Client-ip}cqh> xff=%<{X-Forwarded-For}cqh> fwd=%<{Forwarded}cqh>'
  logs:
    - filename: squid
      format: tb
      mode: ascii
"""


# Names in the hosts files.  The ingress knows the peer and a few names that
# must be handled by ATS itself (not bridged); service names resolve only at
# the peer.
PEER_HOST = "peer.test"
DEAD_PEER_HOST = "deadpeer.test"
SERVICE_HOST = "service.internal"


def peer_records(certs, connect_ports):
    """Records for the TLS peer ATS (on top of base_records).

    certification_level 2 + CA.cert.* makes the peer require a client
    certificate signed by the test CA."""
    return {
        "proxy.config.ssl.server.cert.path": ("STRING", certs.dir),
        "proxy.config.ssl.server.private_key.path": ("STRING", certs.dir),
        "proxy.config.ssl.client.certification_level": ("INT", "2"),
        "proxy.config.ssl.CA.cert.path": ("STRING", certs.dir),
        "proxy.config.ssl.CA.cert.filename": ("STRING", os.path.basename(certs.ca_cert)),
        "proxy.config.http.connect_ports": ("STRING", " ".join(str(p) for p in connect_ports)),
    }


def ingress_records(certs, connect_ports, client_cert=None, client_key=None, ca_cert=None,
                    verify="ENFORCED"):
    """Records for the ingress ATS running the plugin (on top of base_records).

    Outbound TLS (the internal CONNECT to the peer) uses proxy.config.ssl.client.*:
    verify the peer against the test CA, present the ingress client cert."""
    client_cert = client_cert or certs.ingress_cert
    client_key = client_key or certs.ingress_key
    ca_cert = ca_cert or certs.ca_cert
    return {
        "proxy.config.http.connect_ports": ("STRING", " ".join(str(p) for p in connect_ports)),
        "proxy.config.ssl.client.verify.server.policy": ("STRING", verify),
        "proxy.config.ssl.client.verify.server.properties": ("STRING", "ALL"),
        "proxy.config.ssl.client.CA.cert.path": ("STRING", os.path.dirname(ca_cert)),
        "proxy.config.ssl.client.CA.cert.filename": ("STRING", os.path.basename(ca_cert)),
        "proxy.config.ssl.client.cert.path": ("STRING", os.path.dirname(client_cert)),
        "proxy.config.ssl.client.cert.filename": ("STRING", os.path.basename(client_cert)),
        "proxy.config.ssl.client.private_key.path": ("STRING", os.path.dirname(client_key)),
        "proxy.config.ssl.client.private_key.filename": ("STRING", os.path.basename(client_key)),
    }


def make_peer(workspace, certs, port, connect_ports, hosts, name="peer", debug=True,
              extra_records=None, plugin_lines=(), extra_files=None, manager=False):
    """plugin_lines: the peer's plugin.config (e.g. this plugin in the peer
    role: "<plugin> --config tls_bridge.yaml" with the file in extra_files);
    manager: traffic_ctl must reach it (AtsInstance)."""
    records = peer_records(certs, connect_ports)
    records.update(extra_records or {})
    return AtsInstance(name, workspace, port, tls_port=True, records=records, hosts=hosts,
                       ssl_multicert_lines=["dest_ip=* ssl_cert_name=%s ssl_key_name=%s"
                                            % (certs.peer_cert, certs.peer_key)],
                       debug=debug, client_certs=certs, plugin_lines=plugin_lines,
                       extra_files=extra_files, manager=manager)


# Which engine our plugin's ingresses use (issue 14): TB_ENGINE unset or
# "ats" leaves the configurations as the tests write them; "direct" makes
# every ingress of ours use the direct engine (`make e2e ENGINE=direct`).
ENGINE = os.environ.get("TB_ENGINE") or "ats"
if ENGINE not in ("ats", "direct"):
    raise RuntimeError("TB_ENGINE=%s: expected ats or direct" % ENGINE)


# The failure metrics and close reasons of a peer that could not be reached
# (docs/reference.md): both engines' and the direct engine's own.
PEER_FAILURE_METRICS = ("failures.peer_closed", "failures.peer_unreachable", "failures.peer_dns",
                        "failures.peer_connect", "failures.peer_tls", "failures.peer_verify")
DIRECT_PEER_CLOSES = ("refused: peer name not resolved", "refused: could not connect to peer",
                      "refused: TLS with peer failed", "refused: peer certificate not verified")


def engine_yaml(text):
    """A YAML configuration with TB_ENGINE's engine as its default, unless it
    names an engine itself (a test of the engines chooses its own).  The key
    goes last, so the line numbers that errors name stay as the test wrote
    them."""
    if ENGINE == "ats" or re.search(r"^engine:", text, re.M):
        return text
    return "%s\nengine: %s\n" % (text.rstrip("\n"), ENGINE)


def engine_args(plugin, plugin_args, extra_files):
    """plugin.config arguments and extra files with TB_ENGINE applied: for
    our plugin, `--engine` after the arguments, or the engine in the YAML
    file that `--config NAME` names (it must be among extra_files; files a
    test writes later go through engine_yaml)."""
    args = list(plugin_args)
    if ENGINE == "ats" or is_reference(plugin):
        return args, extra_files
    if "--config" not in args:  # last: the arguments' numbers in messages stay as written
        return args + ["--engine", ENGINE], extra_files
    files = dict(extra_files or {})
    key = "etc/" + args[args.index("--config") + 1]
    if key in files:
        text = files[key]
        files[key] = engine_yaml(text.decode() if isinstance(text, bytes) else text)
    return args, files


def make_ingress(workspace, certs, port, plugin, plugin_args, connect_ports, hosts,
                 name="ingress", debug=True, extra_records=None, extra_files=None,
                 client_cert=None, client_key=None, ca_cert=None, ipv6_port=None,
                 extra_plugin_lines=(), manager=False, with_engine=True):
    """extra_plugin_lines: plugin.config lines loaded before the bridge
    (e.g. "stats_over_http.so").  with_engine=False: TB_ENGINE leaves the
    arguments as given (a test of how they are read)."""
    records = ingress_records(certs, connect_ports, client_cert, client_key, ca_cert)
    records.update(extra_records or {})
    if with_engine:
        plugin_args, extra_files = engine_args(plugin, plugin_args, extra_files)
    line = " ".join([plugin] + list(plugin_args))
    # out_ipv6=False: the ingress may not connect to ::1 itself, so a
    # working tunnel to a service on [::1] proves it went through the peer.
    return AtsInstance(name, workspace, port, records=records, hosts=hosts,
                       plugin_lines=list(extra_plugin_lines) + [line], extra_files=extra_files,
                       debug=debug, ipv6_port=ipv6_port, out_ipv6=False, manager=manager)


# --------------------------------------------------------------------------
# nginx origin.


class Nginx:
    """nginx-light in its own prefix, `daemon off`, one worker, serving
    `files` (name -> bytes) over plain HTTP on http_port and over TLS with the
    service cert on https_port, both on 127.0.0.1 (and [::1] when ipv6)."""

    def __init__(self, workspace, certs, http_port, https_port, files, ipv6=False):
        self.name = "nginx"
        self.http_port = http_port
        self.https_port = https_port
        self.dir = workspace.mkdir("nginx")
        self.root = os.path.join(self.dir, "html")
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.dir, "logs"))
        for fname, data in files.items():
            with open(os.path.join(self.root, fname), "wb") as f:
                f.write(data)
        listen = ["listen %s:%d;" % (LOOPBACK4, http_port),
                  "listen %s:%d ssl;" % (LOOPBACK4, https_port)]
        if ipv6:
            listen += ["listen [%s]:%d;" % (LOOPBACK6, http_port),
                       "listen [%s]:%d ssl;" % (LOOPBACK6, https_port)]
        d = self.dir
        conf = """\
# Generated by tests/e2e/harness.py
user root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/logs/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type application/octet-stream;
    keepalive_timeout 5;
    server {{
        {listen}
        server_name service.internal localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
    }}
}}
""".format(d=d, listen="\n        ".join(listen), cert=certs.service_cert,
           key=certs.service_key, root=self.root)
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.stdout_path = os.path.join(self.dir, "nginx.out")
        self.process = ManagedProcess("nginx", [NGINX, "-p", self.dir, "-c", self.conf],
                                      self.dir, self.stdout_path)
        self.process.log_tail = self.log_tail
        self.process.owner = self

    def start(self, timeout=10.0):
        self.process.start()
        for port in (self.http_port, self.https_port):
            if not wait_for_port(port, timeout=timeout, proc_alive=self.process.alive):
                raise StartupError("nginx did not listen on %d\n%s" % (port, self.log_tail()))
        return self

    def stop(self):
        self.process.stop()

    def alive(self):
        return self.process.alive()

    def log_tail(self, lines=40):
        parts = ["==== nginx (pid %s, dir %s)" % (self.process.pid, self.dir)]
        for p in (self.stdout_path, os.path.join(self.dir, "logs", "error.log"),
                  os.path.join(self.dir, "logs", "access.log")):
            if os.path.exists(p):
                parts += ["---- " + p, tail_file(p, lines)]
        return "\n".join(parts)


# --------------------------------------------------------------------------
# Small Python origins.  Each connection runs in its own thread; every
# server records what happened (bytes, sha256, how the connection ended) so a
# test can check it in-process.


class TcpServer:
    """A threaded TCP server on host:port (port 0 = any free port).

    handler(conn, server) runs in a thread per connection.  results holds
    whatever handlers record(); wait_results(n) waits for n of them.

    A subclass (fakepeer.FakePeer) changes what happens per connection:
    on_accept(conn) runs under self.cond as a connection is accepted and
    what it returns goes to serve(conn, state), which runs in the
    connection's thread; track(sock) lets stop() shut down a socket made
    from conn (a TLS wrapper) too.  self.cond guards the server's records;
    wait_for(pred) waits on it."""

    def __init__(self, handler=None, host=LOOPBACK4, port=0, name="server", backlog=256):
        self.name = name
        self.handler = handler
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(backlog)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.open = 0  # connections accepted whose serve() has not returned
        self.sent = 0  # bytes sent by handlers that count them (source), all connections
        self.results = []
        self.cond = threading.Condition()
        self.socks = set()  # open connections' sockets, shut down by stop()
        self.threads = []
        self.closed = False
        self.thread = threading.Thread(target=self._accept_loop, name=name, daemon=True)
        self.thread.start()
        _register(self)

    def _accept_loop(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                if self.closed:
                    conn.close()
                    return
                self.accepted += 1
                self.open += 1
                self.socks.add(conn)
                state = self.on_accept(conn)
            t = threading.Thread(target=self._run, args=(conn, state), daemon=True,
                                 name="%s-conn" % self.name)
            self.threads.append(t)
            t.start()

    def on_accept(self, conn):
        """Per-connection state for serve(); called under self.cond."""
        return None

    def serve(self, conn, state):
        """One connection, in its own thread: the handler."""
        try:
            self.handler(conn, self)
        except Exception as e:
            self.record({"error": repr(e)})

    def _run(self, conn, state):
        try:
            self.serve(conn, state)
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self.cond:
                self.socks.discard(conn)
                self.open -= 1
                self.cond.notify_all()

    def open_count(self):
        """Connections accepted and not yet ended (closed by us)."""
        with self.cond:
            return self.open

    def track(self, sock):
        with self.cond:
            self.socks.add(sock)

    def untrack(self, sock):
        with self.cond:
            self.socks.discard(sock)

    def record(self, result):
        with self.cond:
            self.results.append(result)
            self.cond.notify_all()

    def reset(self):
        with self.cond:
            self.results = []
            self.accepted = 0
            self.sent = 0

    def wait_for(self, pred, timeout):
        """Wait until pred() (called under self.cond) is true, at most
        timeout seconds (less if the server stops); returns pred's last
        value.  Woken by notify_all on self.cond, and every 0.1 s anyway."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = pred()
                left = deadline - time.monotonic()
                if value or self.closed or left <= 0:
                    return value
                self.cond.wait(min(left, 0.1))

    def wait_results(self, n=1, timeout=30.0):
        """The first n recorded results, waiting up to timeout (may return fewer)."""
        self.wait_for(lambda: len(self.results) >= n, timeout)
        with self.cond:
            return list(self.results)

    def stop(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.cond:
            socks = list(self.socks)
            self.cond.notify_all()
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=2)

    close = stop


def _recv_line(conn, limit=4096):
    """Read one \\n-terminated line byte by byte (no over-read)."""
    buf = b""
    while not buf.endswith(b"\n"):
        b = conn.recv(1)
        if not b:
            break
        buf += b
        if len(buf) > limit:
            break
    return buf


def echo_handler(conn, server):
    """Echo everything back; on EOF half-close our side too."""
    n = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        n += len(data)
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    server.record({"bytes": n})


def banner_handler_factory(banner):
    def handler(conn, server):
        """Send the banner at once (server speaks first), then echo."""
        conn.sendall(banner)
        echo_handler(conn, server)
    return handler


def sink_handler(conn, server):
    """Sink: read until EOF, then reply '<sha256 hex> <bytes>\\n' and close.

    Sized mode: if the client starts with 'SINK <n>\\n' the sink reads exactly
    n bytes and replies without waiting for EOF (uploads that must not depend
    on a half-close crossing the TLS hop).  Records bytes, sha256 and how the
    stream ended ('eof', 'sized', or the error)."""
    h = hashlib.sha256()
    n = 0
    end = "eof"
    expect = None
    first = conn.recv(65536, socket.MSG_PEEK)
    if first.startswith(b"SINK "):
        line = _recv_line(conn)
        expect = int(line.split()[1])
        end = "sized"
    try:
        while expect is None or n < expect:
            want = 1 << 20 if expect is None else min(1 << 20, expect - n)
            data = conn.recv(want)
            if not data:
                if expect is not None:
                    end = "eof-early"
                break
            h.update(data)
            n += len(data)
    except OSError as e:
        end = "error: %r" % (e,)
    digest = h.hexdigest()
    server.record({"bytes": n, "sha256": digest, "end": end, "time": time.monotonic()})
    try:
        conn.sendall(("%s %d\n" % (digest, n)).encode())
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def random_stream(nbytes, seed, chunk=1 << 20):
    """Yield nbytes of seeded pseudo-random data in chunks (deterministic)."""
    rng = random.Random(seed)
    left = nbytes
    while left > 0:
        k = min(chunk, left)
        yield rng.randbytes(k)
        left -= k


def random_sha256(nbytes, seed):
    h = hashlib.sha256()
    for c in random_stream(nbytes, seed):
        h.update(c)
    return h.hexdigest()


def source_handler(conn, server):
    """Source: the client sends 'SOURCE <nbytes> <seed> <mode>\\n'; we send
    nbytes of seeded random data, then, by mode:
      close     close at once (FIN);
      shutdown  half-close (SHUT_WR), then wait for the client's EOF;
      hold      keep the connection open until the client's EOF (no FIN
                from us while the client reads: pure payload tests).
    Records bytes sent, sha256 and how it ended: 'close'; 'shutdown' once the
    client's EOF came; for hold, 'sent' as soon as everything is sent (and a
    second record only if an error follows)."""
    line = _recv_line(conn).decode("ascii", "replace").split()
    if len(line) != 4 or line[0] != "SOURCE":
        server.record({"error": "bad command %r" % (line,)})
        return
    nbytes, seed, mode = int(line[1]), int(line[2]), line[3]
    h = hashlib.sha256()
    sent = 0
    end = mode
    try:
        for chunk in random_stream(nbytes, seed, chunk=256 << 10):
            conn.sendall(chunk)
            h.update(chunk)
            sent += len(chunk)
            server.sent += len(chunk)  # progress, read by tests (GIL makes += safe enough)
        if mode == "hold":
            # Recorded now: the test checks the payload, not the close.
            server.record({"bytes": sent, "sha256": h.hexdigest(), "end": "sent"})
        if mode == "shutdown":
            conn.shutdown(socket.SHUT_WR)
        if mode in ("shutdown", "hold"):
            conn.settimeout(60)
            while conn.recv(65536):
                pass
    except OSError as e:
        end = "error: %r" % (e,)
    if mode != "hold" or end != mode:
        server.record({"bytes": sent, "sha256": h.hexdigest(), "end": end})


def blackhole_handler(conn, server):
    """Accept and read, never answer (a peer that hangs during TLS set-up)."""
    conn.settimeout(120)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    server.record({"end": "closed"})


# --------------------------------------------------------------------------
# The CONNECT client.


def header_value(headers, name):
    """The first value of header `name` (case-insensitive) in a list of
    (name, value), or None."""
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


class ConnectResponse:
    def __init__(self, status, reason, headers, body, raw):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.raw = raw
        self.body_complete = True
        self.header_time = None  # time.monotonic() when the header was complete

    def header(self, name):
        return header_value(self.headers, name)

    def __repr__(self):
        return "<%d %s %r body=%r>" % (self.status, self.reason, self.headers, self.body[:200])


class ProtocolError(RuntimeError):
    pass


class Tunnel:
    """A client connection after the CONNECT exchange.  `pending` holds any
    tunnel bytes that arrived in the same reads as the response header; recv()
    returns them first."""

    def __init__(self, sock, response, pending, elapsed, header_elapsed):
        self.sock = sock
        self.response = response
        self.pending = pending
        self.elapsed = elapsed  # seconds from connect to the end of the response (body incl.)
        self.header_elapsed = header_elapsed  # seconds from connect to the full header

    @property
    def status(self):
        return self.response.status

    def recv(self, n=65536):
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            return data
        return self.sock.recv(n)

    def recv_exact(self, n):
        out = bytearray()
        while len(out) < n:
            data = self.recv(min(1 << 20, n - len(out)))
            if not data:
                raise ProtocolError("EOF after %d of %d bytes" % (len(out), n))
            out += data
        return bytes(out)

    def recv_line(self, limit=65536):
        out = bytearray()
        while not out.endswith(b"\n") and len(out) < limit:
            data = self.recv(1) if not self.pending else self.recv(1)
            if not data:
                break
            out += data
        return bytes(out)

    def sendall(self, data):
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self, rst=False):
        if rst:
            # SO_LINGER {on, 0}: close() sends a RST instead of a FIN.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        except OSError:
            pass


def read_response(sock, deadline, body_timeout=3.0):
    """Read an HTTP/1.x response header (and body for non-2xx with
    Content-Length, or until EOF for non-2xx without one).  Returns
    (ConnectResponse, leftover bytes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no complete response header (got %r)" % buf[:200])
        sock.settimeout(left)
        data = sock.recv(65536)
        if not data:
            raise ProtocolError("EOF before a complete response header (got %r)" % buf[:500])
        buf += data
        if len(buf) > 256 * 1024:
            raise ProtocolError("response header too long")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ProtocolError("bad status line %r" % lines[0])
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            headers.append((k.strip(), v.strip()))
    resp = ConnectResponse(status, reason, headers, b"", head + b"\r\n\r\n")
    resp.header_time = time.monotonic()
    if 200 <= status < 300:
        return resp, rest
    # The body of an error answer: by Content-Length, else until EOF.  Bounded
    # by body_timeout (a proxy that sends the header and stalls must not turn
    # a status check into a timeout); resp.body_complete says if it all came.
    clen = resp.header("Content-Length")
    want = int(clen) if clen is not None else None
    body = rest
    end = min(deadline, time.monotonic() + body_timeout)
    complete = False
    while True:
        if want is not None and len(body) >= want:
            complete = True
            break
        left = end - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not data:
            complete = want is None
            break
        body += data
    if want is not None:
        resp.body, rest = body[:want], body[want:]
    else:
        resp.body, rest = body, b""
    resp.body_complete = complete
    return resp, rest


def open_tunnel(proxy_port, host, port, timeout=15.0, proxy_host=LOOPBACK4, extra_headers=(),
                request=None, settle=0.0, rcvbuf=None):
    """Connect to the proxy, send `CONNECT host:port HTTP/1.1` and read the
    answer.  Returns a Tunnel (whatever the status); the socket is left in
    blocking mode with `timeout`.  settle: seconds to wait after sending
    before the first read (so that bytes following the response header are
    likely to be in the same read).  rcvbuf: SO_RCVBUF to set before
    connecting (a small one makes a non-reading client stall sooner)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    family = socket.AF_INET6 if ":" in proxy_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect((proxy_host, proxy_port))
    except BaseException:
        sock.close()
        raise
    try:
        target = hostport(host, port)
        if request is None:
            request = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (target, target)
            for h in extra_headers:
                request += h + "\r\n"
            request += "\r\n"
        sock.sendall(request.encode() if isinstance(request, str) else request)
        if settle:
            time.sleep(settle)
        resp, rest = read_response(sock, deadline)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(timeout)
    return Tunnel(sock, resp, rest, time.monotonic() - t0, resp.header_time - t0)


def recv_until_eof(tunnel, timeout=30.0, limit=None):
    """Read until EOF; returns (data, how) where how is 'eof', 'reset' or
    'timeout'."""
    out = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(out), "timeout"
        tunnel.sock.settimeout(left)
        try:
            data = tunnel.recv(1 << 20)
        except socket.timeout:
            return bytes(out), "timeout"
        except ConnectionResetError:
            return bytes(out), "reset"
        if not data:
            return bytes(out), "eof"
        out += data
        if limit is not None and len(out) > limit:
            return bytes(out), "limit"


def hash_until_eof(tunnel, timeout=60.0):
    """Read until EOF, hashing; returns (nbytes, sha256 hex, how)."""
    h = hashlib.sha256()
    n = 0
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return n, h.hexdigest(), "timeout"
        tunnel.sock.settimeout(left)
        try:
            data = tunnel.recv(1 << 20)
        except socket.timeout:
            return n, h.hexdigest(), "timeout"
        except ConnectionResetError:
            return n, h.hexdigest(), "reset"
        if not data:
            return n, h.hexdigest(), "eof"
        h.update(data)
        n += len(data)


def http_get_through(tunnel, host, path="/", timeout=15.0):
    """Send a GET over an open tunnel (plain HTTP) and return (status, body).
    The body is read by Content-Length (nginx sends one), so this does not
    depend on how the tunnel handles the server's close; without one, until
    EOF."""
    tunnel.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                    % (path, host)).encode())
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        tunnel.sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = tunnel.recv(65536)
        if not data:
            return parse_http_response(buf)
        buf += data
    head, _, body = buf.partition(b"\r\n\r\n")
    clen = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
    if clen is None:
        rest, _ = recv_until_eof(tunnel, timeout=max(0.01, deadline - time.monotonic()))
        body += rest
    else:
        while len(body) < clen:
            tunnel.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = tunnel.recv(min(1 << 20, clen - len(body)))
            if not data:
                break
            body += data
    return parse_http_response(head + b"\r\n\r\n" + body)


def parse_http_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


# --------------------------------------------------------------------------
# The standard deployment: one peer, one ingress, origins.


class Deployment:
    """Certificates, a peer ATS, an ingress ATS with the plugin and the
    origins, as used by the session fixtures and scripts/run.py.

    Ports are chosen up front because both ATS instances' connect_ports
    must list them."""

    def __init__(self, plugin, workspace=None, debug=True, python_origins=True, ipv6=None,
                 rules=None, ingress_kw=None):
        self.plugin = plugin
        self.ingress_kw = dict(ingress_kw or {})  # more make_ingress arguments (manager, extra_files)
        self.custom_rules = rules  # callable(deployment) -> plugin args, or None
        self.ws = workspace or Workspace()
        self.debug = debug
        self.certs = Certs(os.path.join(self.ws.path, "certs"))
        self.ipv6 = ipv6_loopback_available() if ipv6 is None else ipv6
        names = ["ingress", "peer", "dead_peer", "nginx_http", "nginx_https", "echo",
                 "sink", "source", "banner", "forbidden", "dead_service", "refused"]
        self.ports = dict(zip(names, free_ports(len(names))))
        self.python_origins = python_origins
        self.servers = {}
        self.nginx = None
        self.peer = None
        self.ingress = None
        self.page = b"<html><body>hello from service.internal via tls_bridge</body></html>\n"
        self.blob = b"".join(random_stream(4 << 20, 4242))
        self.files = {"index.html": self.page, "blob.bin": self.blob}

    # Port sets.  'refused' is in neither connect_ports list; 'forbidden' is
    # allowed by the ingress but not by the peer (the peer answers 403).
    def service_ports(self):
        p = self.ports
        return [p[k] for k in ("nginx_http", "nginx_https", "echo", "sink", "source",
                               "banner", "dead_service")]

    def ingress_connect_ports(self):
        p = self.ports
        return [p["peer"], p["dead_peer"], p["forbidden"]] + self.service_ports()

    def peer_connect_ports(self):
        return self.service_ports()

    def ingress_hosts(self):
        # Not service.internal: that name resolves only at the peer.
        hosts = {PEER_HOST: LOOPBACK4, DEAD_PEER_HOST: LOOPBACK4,
                 "direct.test": LOOPBACK4, "a.service.test.evil.test": LOOPBACK4}
        if self.ipv6:
            hosts["v6direct.test"] = LOOPBACK6
        return hosts

    def peer_hosts(self):
        # A bridged CONNECT keeps the client's spelling of the host, so the
        # spellings test_rules uses are listed: "a.service.test." (9.2's
        # hostdb lowercases names but keeps a trailing dot) and
        # "A.Service.TEST." (10.x's hosts file matches names exactly, case
        # included).
        hosts = {SERVICE_HOST: LOOPBACK4, "a.service.test": LOOPBACK4,
                 "a.service.test.": LOOPBACK4, "A.Service.TEST.": LOOPBACK4,
                 "down.internal": LOOPBACK4}
        for policy in ("keep", "strip", "fwd"):  # test_yaml_config's identity rules
            hosts["%s.service.test" % policy] = LOOPBACK4
        if self.ipv6:
            hosts["v6.internal"] = LOOPBACK6
        return hosts

    def rules(self):
        """plugin.config arguments for the standard ingress."""
        if self.custom_rules is not None:
            return self.custom_rules(self)
        peer = "%s:%d" % (PEER_HOST, self.ports["peer"])
        return [
            r"service[.]internal", peer,
            r".*[.]service[.]test", peer,
            r"down[.]internal", peer,
            r"v6[.]internal", peer,
            r"\[?::1\]?", peer,
            r".*[.]deadpeer[.]test", "%s:%d" % (DEAD_PEER_HOST, self.ports["dead_peer"]),
        ]

    def start_origins(self):
        p = self.ports
        self.nginx = Nginx(self.ws, self.certs, p["nginx_http"], p["nginx_https"], self.files,
                           ipv6=self.ipv6).start()
        if self.python_origins:
            self.servers["echo"] = TcpServer(echo_handler, port=p["echo"], name="echo")
            self.servers["sink"] = TcpServer(sink_handler, port=p["sink"], name="sink")
            self.servers["source"] = TcpServer(source_handler, port=p["source"], name="source")
            self.servers["banner"] = TcpServer(banner_handler_factory(BANNER),
                                               port=p["banner"], name="banner")
            # Something really listens on the ports the proxies must refuse,
            # so a wrong "yes" would visibly succeed.
            self.servers["forbidden"] = TcpServer(echo_handler, port=p["forbidden"],
                                                  name="forbidden-echo")
            self.servers["refused"] = TcpServer(echo_handler, port=p["refused"],
                                                name="refused-echo")
            if self.ipv6:
                self.servers["echo6"] = TcpServer(echo_handler, host=LOOPBACK6, port=p["echo"],
                                                  name="echo6")

    def start_peer(self):
        self.peer = make_peer(self.ws, self.certs, self.ports["peer"], self.peer_connect_ports(),
                              self.peer_hosts(), debug=self.debug)
        self.peer.start()
        self.peer.wait_listening()
        return self.peer

    def new_ingress(self, name="ingress", port=None, plugin_args=None, **kw):
        """An ingress instance (not started) with the standard records; kw go
        to make_ingress (extra_records, client_cert, ca_cert, ...)."""
        kw.setdefault("debug", self.debug)
        hosts = kw.pop("hosts", None) or self.ingress_hosts()
        connect_ports = kw.pop("connect_ports", None) or self.ingress_connect_ports()
        return make_ingress(self.ws, self.certs, port or free_port(), self.plugin,
                            self.rules() if plugin_args is None else plugin_args,
                            connect_ports, hosts, name=name, **kw)

    def start_ingress(self):
        self.ingress = self.new_ingress(port=self.ports["ingress"],
                                        ipv6_port=self.ports["ingress"] if self.ipv6 else None,
                                        **self.ingress_kw)
        self.ingress.start()
        self.wait_bridged(self.ingress)
        return self.ingress

    def probe_bridged(self, ingress, timeout=2.0):
        """One real bridged request: GET the page from nginx as service.internal."""
        with open_tunnel(ingress.port, SERVICE_HOST, self.ports["nginx_http"],
                         timeout=timeout) as t:
            if t.status != 200:
                return False
            status, body = http_get_through(t, SERVICE_HOST, "/index.html", timeout=timeout)
            return status == 200 and body == self.page

    def probe_direct(self, ingress, timeout=2.0):
        """One request ATS handles itself (no rule matches): CONNECT to the
        echo server by a name only the ingress hosts file knows.  Proves the
        hosts file is loaded without needing the peer."""
        with open_tunnel(ingress.port, "direct.test", self.ports["echo"], timeout=timeout) as t:
            if t.status != 200:
                return False
            t.sendall(b"ping\n")
            return t.recv_exact(5) == b"ping\n"

    def wait_bridged(self, ingress, timeout=45.0):
        ingress.wait_ready(lambda: self.probe_bridged(ingress), timeout=timeout,
                           what="a bridged request (CONNECT %s)" % SERVICE_HOST)

    def wait_direct(self, ingress, timeout=45.0):
        ingress.wait_ready(lambda: self.probe_direct(ingress), timeout=timeout,
                           what="a direct (non-bridged) request")

    def start(self):
        self.start_origins()
        self.start_peer()
        self.start_ingress()
        return self

    def stop(self):
        for obj in [self.ingress, self.peer, self.nginx] + list(self.servers.values()):
            if obj is not None:
                obj.stop()

    def instances(self):
        return [o for o in (self.ingress, self.peer, self.nginx) if o is not None]


BANNER = b"BANNER tls_bridge server-speaks-first 0123456789abcdef\r\n"


def peer_connect_status(peer_port, certs, host, port, timeout=10.0):
    """Ask the peer directly what it answers to `CONNECT host:port`, over TLS
    with the ingress client certificate (what the bridge would get).
    Returns (status, reason)."""
    ctx = ssl.create_default_context(cafile=certs.ca_cert)
    ctx.load_cert_chain(certs.ingress_cert, certs.ingress_key)
    with socket.create_connection((LOOPBACK4, peer_port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=PEER_HOST) as s:
            target = hostport(host, port)
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
            resp, _ = read_response(s, time.monotonic() + timeout)
            return resp.status, resp.reason
