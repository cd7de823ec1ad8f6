"""Bad configurations fail closed: traffic_server must not keep running with
a half-configured bridge, and its logs must name the problem.

All cases start at once (module fixture) so the suite waits ~15 s once,
not once per case, when a plugin does not fail closed."""

import time

import pytest

from conftest import note_instances
from harness import PEER_HOST

EXIT_WITHIN = 15.0


def _cases(peer):
    """name -> (plugin args, extra files, offending text the logs must show)."""
    return {
        "odd_argument_count": (
            [r"service[.]internal", peer, r"lonely[.]regex"], {}, r"lonely[.]regex"),
        "bad_regex": (
            [r"(unclosed[.]test", peer], {}, r"(unclosed[.]test"),
        "bad_peer_port": (
            [r"service[.]internal", "%s:99999" % PEER_HOST], {}, "99999"),
        "unreadable_file": (
            ["--file", "/nonexistent/tb-rules.conf"], {}, "/nonexistent/tb-rules.conf"),
        "bad_regex_line_in_file": (
            ["--file", "bad_rules.conf"],
            {"etc/bad_rules.conf": "# line 1 is a comment\nservice[.]internal %s\n"
                                   "(broken[.]test %s\n" % (peer, peer)},
            "bad_rules.conf:3"),
        "missing_peer_line_in_file": (
            ["--file", "bad_rules2.conf"],
            {"etc/bad_rules2.conf": "\nlonely[.]regex\n"},
            "bad_rules2.conf:2"),
    }


@pytest.fixture(scope="module")
def bad_config_instances(deployment):
    d = deployment
    peer = "%s:%d" % (PEER_HOST, d.ports["peer"])
    started = {}
    for name, (args, files, text) in _cases(peer).items():
        inst = d.new_ingress(name="ingress-bad-" + name, plugin_args=args, extra_files=files)
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
