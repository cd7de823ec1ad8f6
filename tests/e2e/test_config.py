"""Bad configurations fail closed: traffic_server must not keep running with
a half-configured bridge, and its logs must name the problem.

All cases start at once (module fixture) so the suite waits ~15 s once,
not once per case, when a plugin does not fail closed."""

import os
import sys
import time

import pytest

from conftest import note_instances
from harness import PEER_HOST

# The cases live in tests/config_cases.py, shared with tls_bridge_check's
# tests (tests/check/), which check the whole message for every one of them.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
from config_cases import cases as shared_cases  # noqa: E402

EXIT_WITHIN = 15.0


def _cases(peer):
    """name -> (plugin args, extra files, offending text the logs must show):
    the shared table's e2e cases, their files under the instance's etc/."""
    host, port = peer.rsplit(":", 1)
    return {c.name: (c.args, {"etc/" + rel: text for rel, text in c.files.items()}, c.text)
            for c in shared_cases("etc", host, int(port)) if c.e2e}


@pytest.fixture(scope="module")
def bad_config_instances(deployment):
    d = deployment
    peer = "%s:%d" % (PEER_HOST, d.ports["peer"])
    started = {}
    for name, (args, files, text) in _cases(peer).items():
        # with_engine=False: each case's arguments exactly as written (the
        # messages name arguments by number).
        inst = d.new_ingress(name="ingress-bad-" + name, plugin_args=args, extra_files=files,
                             with_engine=False)
        inst.start()
        started[name] = (inst, text, time.monotonic())
    yield started
    for inst, _, _ in started.values():
        inst.stop()


@pytest.mark.parametrize("case", list(_cases("peer.test:1")))
def test_bad_config_fails_closed(request, bad_config_instances, case, measure):
    """traffic_server with this plugin.config exits within 15 s of being
    started, and one line of its logs contains both 'tls_bridge' and the
    offending text (the bad argument, the file name, or file:line)."""
    inst, text, t0 = bad_config_instances[case]
    note_instances(request, inst)
    code = inst.wait_exit(max(0.1, EXIT_WITHIN - (time.monotonic() - t0)))
    lines = [l for l in inst.logs().splitlines() if "tls_bridge" in l and text in l]
    measure("%s: %s after %.1f s; %s" % (case, "exit %s" % code if code is not None else
                                          "still running", time.monotonic() - t0,
                                          lines[0].strip() if lines else "no matching log line"))
    assert code is not None, "traffic_server still running %.0f s after start with a bad " \
                             "configuration (%s)" % (EXIT_WITHIN, case)
    assert lines, "no log line mentions both tls_bridge and %r" % text
