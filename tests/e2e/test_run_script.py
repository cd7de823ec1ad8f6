"""scripts/run.py, the demo runner, proves itself with --check."""

import os
import subprocess
import sys

import harness


def test_run_script_check(plugin):
    """`scripts/run.py --check --plugin <plugin under test>` exits 0 within
    120 s, prints 'check: OK', and leaves no traffic_server or nginx it
    started running (their pids, printed in its summary, are gone)."""
    script = os.path.join(harness.REPO_ROOT, "scripts", "run.py")
    r = subprocess.run([sys.executable, script, "--check", "--plugin", plugin],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out
    assert "check: OK" in out, out
    pids = []
    for line in out.splitlines():
        if "(pid " in line:
            pids.append(int(line.split("(pid ", 1)[1].split(")", 1)[0]))
    assert len(pids) == 3, out
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().split()[2] == "Z", "pid %d still running" % pid
