"""What differs when the e2e harness runs Traffic Server 10.x rather than 9.2.

Only the standard library; independent of harness.py (which it does not
import), so the harness can take these pieces over as they are.  Each fact
here was checked against ATS 10.2.0 (/opt/ats-10.2.0, see
/work/shared/ats/BUILD.md) by tests/e2e/ats10_smoke.py:

- records.yaml (records_yaml) replaces records.config, which 10.x refuses
  to start with: nested keys under `records:`, no `proxy.config.` prefix.
  A few records the harness sets were renamed (RENAMED).
- The stock 10.x ip_allow.yaml denies outbound CONNECT to loopback and
  private addresses, which would stop the bridge's own CONNECT to a peer on
  127.0.0.1; ip_allow_yaml writes a file without that rule.
- Each instance runs from its own runroot.yaml (runroot_yaml); the prefix
  stays the install's (body_factory is looked up under it).
- There is no traffic_manager: Instance runs traffic_server itself, stops it
  with SIGTERM to its pid, and traffic_ctl talks JSON-RPC to it over
  <runtimedir>/jsonrpc20.sock (`traffic_ctl --run-root=FILE ...`).
- Debug output (diags.output.debug 'E', the default) goes to stderr, which
  Instance captures in traffic_server.out; TSNote/TSError go to diags.log
  (TSError to error.log too); the plugin's text log to <logdir>/tls_bridge.log.
"""

import os
import shutil
import signal
import subprocess
import time

PREFIX = os.environ.get("TB_ATS10_PREFIX", "/opt/ats-10.2.0")

# 10.2 loads hostdb.host_file.path about 1 s after it starts listening, and a
# name looked up before that fails and keeps failing (still after 60 s,
# measured): wait this long after the port listens before any request that
# needs a name from the hosts file (probing sooner poisons the name).
HOSTS_FILE_DELAY = 2.5

# 9.2 record names the harness uses -> their 10.x names (others are unchanged).
RENAMED = {
    "proxy.config.exec_thread.autoconfig": "proxy.config.exec_thread.autoconfig.enabled",
    "proxy.config.http.connect_attempts_max_retries_dead_server":
        "proxy.config.http.connect_attempts_max_retries_suspect_server",
}

# What 10.2 prints (to stderr, at start) about a records.yaml entry it does
# not take: unknown name, bad value, deprecated name.  It starts anyway.
RECORD_COMPLAINTS = ("Ignoring field", "Validity Check error", "is deprecated")


def yaml_scalar(value):
    """A YAML scalar for a record value: None -> NULL (ATS's "no value",
    e.g. dns.resolv_conf), numbers bare, anything else a quoted string."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return "'%s'" % str(value).replace("'", "''")


def records_yaml(records):
    """records.yaml text from {name: value}; name with or without the
    "proxy.config." prefix, 9.2 spellings in RENAMED translated, value as
    for yaml_scalar or a 9.2-style (TYPE, text) pair as harness.base_records
    makes them.  A name that is both a value and a parent is an error."""
    tree = {}
    for name, value in records.items():
        name = RENAMED.get(name, name)
        if name.startswith("proxy.config."):
            name = name[len("proxy.config."):]
        if isinstance(value, tuple):  # ("INT", "1"), ("STRING", "NULL")
            kind, text = value
            value = int(text) if kind == "INT" else (None if text == "NULL" else text)
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError("record %s: a parent of it has a value" % name)
        if isinstance(node.get(parts[-1]), dict):
            raise ValueError("record %s: it is a parent of other records" % name)
        node[parts[-1]] = value

    lines = ["records:"]

    def emit(node, depth):
        for key in sorted(node):
            value = node[key]
            if isinstance(value, dict):
                lines.append("%s%s:" % ("  " * depth, key))
                emit(value, depth + 1)
            else:
                lines.append("%s%s: %s" % ("  " * depth, key, yaml_scalar(value)))

    emit(tree, 1)
    return "\n".join(lines) + "\n"


def ip_allow_yaml(in_addrs=("127.0.0.1", "::1"), out_allow=("127.0.0.0/8",), out_deny=()):
    """ip_allow.yaml: clients from in_addrs, any method; outbound, any method
    (CONNECT included) to out_allow, then everything denied to out_deny
    (e.g. "::/0" for an ingress that must reach [::1] only through a peer).
    Unlike 10.x's stock file, nothing here denies CONNECT to loopback."""
    def rule(apply, addrs, action):
        return ("  - apply: %s\n    ip_addrs: [%s]\n    action: %s\n    methods: ALL\n"
                % (apply, ", ".join('"%s"' % a for a in addrs), action))
    text = "ip_allow:\n" + rule("in", in_addrs, "allow")
    if out_allow:
        text += rule("out", out_allow, "allow")
    if out_deny:
        text += rule("out", out_deny, "deny")
    return text


def runroot_yaml(directory, prefix=PREFIX):
    """runroot.yaml for an instance whose config, logs, runtime files and
    cache live in directory (etc/, log/, run/, var/, cache/); programs,
    plugins and body_factory stay the install's."""
    d = directory
    return "".join("%s: %s\n" % kv for kv in [
        ("prefix", prefix),
        ("exec_prefix", prefix),
        ("bindir", os.path.join(prefix, "bin")),
        ("sbindir", os.path.join(prefix, "bin")),
        ("sysconfdir", os.path.join(d, "etc")),
        ("datadir", os.path.join(d, "var")),
        ("includedir", os.path.join(prefix, "include")),
        ("libdir", os.path.join(prefix, "lib")),
        ("libexecdir", os.path.join(prefix, "libexec", "trafficserver")),
        ("localstatedir", os.path.join(d, "var")),
        ("runtimedir", os.path.join(d, "run")),
        ("logdir", os.path.join(d, "log")),
        ("cachedir", os.path.join(d, "cache")),
    ])


class Instance:
    """One traffic_server 10.x with its own runroot in directory.

    write_config() copies the install's etc/trafficserver and writes ours
    over it; start() runs traffic_server in its own session with stdout and
    stderr in traffic_server.out; stop() sends SIGTERM to that pid (SIGKILL
    after grace); ctl() runs traffic_ctl against it."""

    def __init__(self, directory, prefix=PREFIX):
        self.dir = directory
        self.prefix = prefix
        self.etc = os.path.join(directory, "etc")
        self.logdir = os.path.join(directory, "log")
        self.runroot = os.path.join(directory, "runroot.yaml")
        self.stdout_path = os.path.join(directory, "traffic_server.out")
        self.proc = None

    def _write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_config(self, records, plugin_lines=(), remap_lines=(), ssl_multicert_lines=(),
                     hosts=None, ip_allow=None, extra_files=None):
        """records: as for records_yaml; hosts: {name: address} for the
        hosts file (hostdb.host_file.path is set to it, resolv_conf to NULL)."""
        shutil.copytree(os.path.join(self.prefix, "etc", "trafficserver"), self.etc,
                        dirs_exist_ok=True)
        for sub in ("log", "run", "var", "cache"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self._write("runroot.yaml", runroot_yaml(self.dir, self.prefix))
        records = dict(records)
        if hosts is not None:
            records["hostdb.host_file.path"] = self._write(
                "hosts", "".join("%s %s\n" % (a, n) for n, a in hosts.items()))
            records["dns.resolv_conf"] = None
        self._write("etc/records.yaml", records_yaml(records))
        self._write("etc/plugin.config", "".join(l + "\n" for l in plugin_lines))
        self._write("etc/remap.config", "".join(l + "\n" for l in remap_lines))
        self._write("etc/ssl_multicert.config", "".join(l + "\n" for l in ssl_multicert_lines))
        self._write("etc/storage.config", "")  # no cache: "Cache Disabled", harmless
        self._write("etc/ip_allow.yaml", ip_allow if ip_allow is not None else ip_allow_yaml())
        for rel, text in (extra_files or {}).items():
            self._write(rel, text)

    def start(self, env=None):
        argv = [os.path.join(self.prefix, "bin", "traffic_server"), "--run-root=" + self.runroot]
        with open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(argv, cwd=self.dir, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=10.0):
        """SIGTERM, SIGKILL after grace; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def ctl(self, *args, timeout=20.0):
        """traffic_ctl against this instance; returns the CompletedProcess."""
        return subprocess.run([os.path.join(self.prefix, "bin", "traffic_ctl"),
                               "--run-root=" + self.runroot] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def metrics(self, pattern):
        """{name: value} from `traffic_ctl metric match pattern` (a regex:
        "plugin.tls_bridge" also matches ATS's own per-tag counters
        proxy.process.plugin.tls_bridge.*; use r"^plugin\.tls_bridge\.")."""
        r = self.ctl("metric", "match", pattern)
        out = {}
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = parts[1]
        return out

    def log(self, name):
        """A log's text so far: "diags.log", "error.log", "tls_bridge.log", ...
        or "traffic_server.out" (stdout and stderr: debug output)."""
        path = self.stdout_path if name == "traffic_server.out" else os.path.join(self.logdir, name)
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, name, needle, timeout=15.0, after=0):
        """Poll log `name` until needle appears past offset after; the text
        from after on, or None."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log(name)[after:]
            if needle in text:
                return text
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)
