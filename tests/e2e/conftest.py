"""pytest wiring for the tls_bridge end-to-end suite.

The plugin under test is TB_PLUGIN (absolute path to a .so; default
build/tls_bridge.so, or build/ats10/tls_bridge.so on ATS 10); the Traffic
Server it runs in is TB_ATS (unset: Debian's 9.2 packages; a prefix such as
/opt/ats-10.2.0: that install; harness.AtsInstall).  Run:

    TB_PLUGIN=/abs/path/tls_bridge.so /usr/bin/python3 -m pytest tests/e2e
    TB_ATS=/opt/ats-10.2.0 TB_PLUGIN=/abs/path/ats10/tls_bridge.so /usr/bin/python3 -m pytest tests/e2e

Environment knobs (for heavier local runs): TB_E2E_BIG_MIB (payload size,
default 32), TB_E2E_REPEAT (repetitions, default 3), TB_E2E_STREAM_MIB
(backpressure stream, default 1024), TB_E2E_CHURN (vanishing clients per kind,
default 25), TB_E2E_DEBUG (0 turns ATS debug output off), TB_E2E_KEEP=1
(keep the temp dir), TB_E2E_TMPDIR (where it goes), TB_E2E_LOG_LINES (lines of
each log shown for a failing test, default 60).
"""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def plugin_under_test():
    return os.path.abspath(os.environ.get("TB_PLUGIN") or harness.DEFAULT_PLUGIN)


def plugin_is_reference(path=None):
    """True when the plugin under test is an upstream reference build, 9.2's
    or the selected ATS's (it cannot parse our extra options)."""
    return harness.is_reference(path or plugin_under_test())


def _sigterm(signum, frame):
    # Turn SIGTERM (e.g. from `timeout`) into a normal interruption so fixture
    # teardown and the harness's atexit hook stop every process we started.
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config):
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm)
    # The our_plugin_only marker is declared in pytest.ini next to this file.


def pytest_report_header(config):
    p = plugin_under_test()
    return "tls_bridge e2e: %s; TB_PLUGIN=%s%s" % (harness.ATS, p, " (reference)"
                                                   if plugin_is_reference(p) else "")


def pytest_collection_modifyitems(config, items):
    if not plugin_is_reference():
        return
    skip = pytest.mark.skip(reason="uses a configuration the reference plugin cannot parse")
    for item in items:
        if "our_plugin_only" in item.keywords:
            item.add_marker(skip)


# --------------------------------------------------------------------------
# Log dumps for failing tests: every fixture that hands a test an ATS or nginx
# instance records it on the test item; a failing test gets their log tails
# appended to its report.


def note_instances(request, *instances):
    lst = request.node.__dict__.setdefault("_tb_instances", [])
    for inst in instances:
        if inst is not None and inst not in lst:
            lst.append(inst)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    lines = harness.env_int("TB_E2E_LOG_LINES", 60)
    for inst in item.__dict__.get("_tb_instances", []):
        try:
            text = inst.log_tail(lines)
        except Exception as e:  # pragma: no cover
            text = "(cannot read logs: %r)" % (e,)
        report.sections.append(("logs: %s" % inst.name, text))
    ws = item.config.__dict__.get("_tb_workspace")
    if ws is not None:
        ws.mark_failed()
        report.sections.append(("workspace", "kept for inspection: %s" % ws.path))


# --------------------------------------------------------------------------
# Measurements (throughput, RSS growth, fd counts...) that tests report:
# printed in the terminal summary whether the test passed or not.

_measurements = []


@pytest.fixture
def measure(request):
    def record(text):
        _measurements.append("%s: %s" % (request.node.nodeid.split("::", 1)[-1], text))
        print(text)
    return record


def pytest_terminal_summary(terminalreporter):
    if _measurements:
        terminalreporter.section("tls_bridge measurements")
        for line in _measurements:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------
# Fixtures.


@pytest.fixture(scope="session")
def plugin():
    path = plugin_under_test()
    if not os.path.isfile(path):
        pytest.exit("TB_PLUGIN=%s does not exist (build it with `make build`, or point "
                    "TB_PLUGIN at %s)" % (path, harness.REFERENCE_PLUGIN), returncode=4)
    api = harness.plugin_api_major(path)
    if api is not None and (api >= 10) != (harness.ATS.major >= 10):
        pytest.exit("TB_PLUGIN=%s is built for ATS %d's API, but the suite runs %s "
                    "(TB_ATS): it would not load" % (path, api, harness.ATS), returncode=4)
    return path


@pytest.fixture(scope="session")
def debug_enabled():
    return os.environ.get("TB_E2E_DEBUG", "1") != "0"


@pytest.fixture(scope="session")
def workspace(request):
    ws = harness.Workspace()
    request.config._tb_workspace = ws
    yield ws
    # Removed at exit by its atexit hook unless a test failed or TB_E2E_KEEP=1.


@pytest.fixture(scope="session")
def deployment(plugin, workspace, debug_enabled):
    """Session-wide: certs, nginx + Python origins, a peer ATS and an ingress
    ATS running the plugin under test with the standard rules."""
    d = harness.Deployment(plugin, workspace, debug=debug_enabled)
    try:
        d.start()
    except BaseException:
        for inst in d.instances():
            sys.stderr.write(inst.log_tail() + "\n")
        d.stop()
        raise
    yield d
    d.stop()


@pytest.fixture
def bridge(request, deployment):
    """The session deployment, checked before each test: if an earlier test
    crashed the shared ingress or peer, it is restarted (and said so) so one
    crash does not fail every later test.  Origin results are reset."""
    for inst in (deployment.peer, deployment.ingress):
        if not inst.alive():
            sys.stderr.write("\n[e2e] %s was dead (exit %s) before %s; restarting\n"
                             % (inst.name, inst.process.returncode(), request.node.nodeid))
            inst.restart()
            if inst is deployment.peer:
                inst.wait_listening()
            else:
                deployment.wait_bridged(inst)
    for srv in deployment.servers.values():
        srv.reset()
    note_instances(request, deployment.ingress, deployment.peer, deployment.nginx)
    return deployment


class IngressFactory:
    """Per-test ingress instances with special configuration; all stopped
    at the end of the test."""

    def __init__(self, request, deployment):
        self.request = request
        self.d = deployment
        self.made = []

    def new(self, name="ingress-t", **kw):
        inst = self.d.new_ingress(name=name, **kw)
        self.made.append(inst)
        note_instances(self.request, inst)
        return inst

    def start(self, name="ingress-t", ready="bridged", **kw):
        """Create and start; ready: 'bridged' (a real bridged request
        works), 'direct' (a non-bridged CONNECT works: hosts file loaded),
        'listening', or None (do not wait)."""
        inst = self.new(name=name, **kw)
        inst.start()
        if ready == "bridged":
            self.d.wait_bridged(inst)
        elif ready == "direct":
            self.d.wait_direct(inst)
        elif ready == "listening":
            inst.wait_listening()
        return inst

    def stop_all(self):
        for inst in self.made:
            inst.stop()


@pytest.fixture
def ingress_factory(request, bridge):
    f = IngressFactory(request, bridge)
    yield f
    f.stop_all()
